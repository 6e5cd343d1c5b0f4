import CNCursesW
import ClawTopCore
import Foundation

/// Which terminal type to drive, decided before anything starts (the demo's children included).
public struct TerminalChoice: Sendable, Equatable {
    /// The terminfo entry to use.
    public var term: String
    /// `TERM` when it had no terminfo entry here and `term` is the fallback; nil when it had one.
    public var missing: String?

    public init(term: String, missing: String?) {
        self.term = term
        self.missing = missing
    }

    /// One line for the footer and for stderr at exit, when a fallback is in use.
    public var note: String? {
        missing.map { "TERM=\($0) has no terminfo entry on this machine; using \(term)" }
    }

    /// Terminal types tried, in order, when `TERM` has no entry: most newer terminals speak xterm.
    public static let fallbacks = ["xterm-256color", "xterm", "vt100"]

    /// The terminal to use, or why there is none (the actual reason, and what to do instead).
    public static func choose(environment: [String: String] = ProcessInfo.processInfo.environment,
                              stdinIsTTY: Bool = isatty(STDIN_FILENO) != 0, stdoutIsTTY: Bool = isatty(STDOUT_FILENO) != 0,
                              hasEntry: (String) -> Bool = { claw_has_terminfo($0) != 0 }) -> Result<TerminalChoice, TerminalError> {
        guard stdoutIsTTY else { return .failure(TerminalError("stdout is not a terminal; use --once for scripts")) }
        guard stdinIsTTY else { return .failure(TerminalError("stdin is not a terminal, so keys cannot be read; use --once for scripts")) }
        guard let term = environment["TERM"], !term.isEmpty else {
            return .failure(TerminalError("TERM is not set, so the terminal type is unknown; set it (e.g. TERM=xterm-256color) or use --once"))
        }
        guard term != "dumb" else { return .failure(TerminalError("TERM=dumb cannot draw a screen; use --once for scripts")) }
        if hasEntry(term) { return .success(TerminalChoice(term: term, missing: nil)) }
        for fallback in fallbacks where hasEntry(fallback) { return .success(TerminalChoice(term: fallback, missing: term)) }
        return .failure(TerminalError("TERM=\(term) has no terminfo entry here, nor has any of \(fallbacks.joined(separator: ", ")); install ncurses-term or use --once"))
    }
}

public struct TerminalError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The only code that talks to ncurses: it reads keys and writes the cells that changed.
public final class Terminal {
    private var previous: ScreenBuffer?
    private let colors: Bool

    /// Start curses on the chosen terminal type; `color` false (or NO_COLOR set) keeps to
    /// attributes only. Unlike `initscr`, a failure is an error here, never an exit.
    public init(_ choice: TerminalChoice, color: Bool) throws(TerminalError) {
        setlocale(LC_ALL, "")
        guard claw_newterm(choice.term) != 0 else { throw TerminalError("cannot start the terminal \(choice.term)") }
        cbreak()
        noecho()
        nonl()
        keypad(claw_stdscr(), true)
        set_escdelay(25)
        curs_set(0)
        _ = claw_ctrl_c_as_key()
        colors = color && has_colors() && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        if colors {
            start_color()
            use_default_colors()
        }
        apply(Theme.builtIn)
    }

    deinit { close() }

    private var closed = false

    public func close() {
        guard !closed else { return }
        closed = true
        endwin()
    }

    private var styles: [Role: (attr_t, Int16)] = [:]

    /// Put a theme in effect, lowered to the colours this terminal has (256 -> 8 -> none).
    public func apply(_ theme: Theme) {
        styles = [:]
        var next: Int16 = 1
        let count = Int(claw_colors())
        for role in Role.allCases {
            let style = theme.style(role)
            var attrs: attr_t = 0
            if style.bold { attrs |= claw_a_bold() }
            if style.dim { attrs |= claw_a_dim() }
            if style.underline { attrs |= claw_a_underline() }
            if style.reverse { attrs |= claw_a_reverse() }
            var pair: Int16 = 0
            if colors, Int32(next) < claw_color_pairs() {
                init_pair(next, Int16(style.foreground.lowered(to: count)), Int16(style.background.lowered(to: count)))
                pair = next
                next += 1
            } else if style.background != .terminalDefault, !style.reverse {
                attrs |= claw_a_reverse()  // without colour, a coloured bar becomes reverse video
            }
            styles[role] = (attrs, pair)
        }
        previous = nil  // repaint everything in the new colours
    }

    public var size: (width: Int, height: Int) { (Int(claw_cols()), Int(claw_lines())) }

    /// Ask the tty for its size and resize curses if it changed; true when it did. A SIGWINCH that
    /// the kernel delivered to one of the poller's threads never reaches ncurses' own check.
    public func checkSize() -> Bool {
        var rows: Int32 = 0
        var cols: Int32 = 0
        guard claw_tty_size(&rows, &cols) == 0, rows != claw_lines() || cols != claw_cols() else { return false }
        resizeterm(rows, cols)
        return true
    }

    private func attributes(_ role: Role) -> (attr_t, Int16) { styles[role] ?? (0, 0) }

    /// Write the cells that differ from the last frame, then refresh once.
    public func draw(_ buffer: ScreenBuffer) {
        let full = previous == nil || previous!.width != buffer.width || previous!.height != buffer.height
        if full { erase() }
        for y in 0..<buffer.height {
            for x in 0..<buffer.width {
                let cell = buffer[x, y]
                if !full, previous![x, y] == cell { continue }
                // The bottom-right cell of the screen scrolls some terminals; leave it.
                if y == buffer.height - 1, x == buffer.width - 1 { continue }
                let (attrs, pair) = attributes(cell.role)
                let scalar = cell.character.unicodeScalars.first.map { wchar_t(bitPattern: $0.value) } ?? 32
                _ = claw_put_cell(Int32(y), Int32(x), scalar, attrs, pair)
            }
        }
        previous = buffer
        refresh()
    }

    /// Wait up to `milliseconds` for a key; nil on timeout. A resize comes back as `.resize`.
    public func readKey(milliseconds: Int32) -> TerminalInput? {
        timeout(milliseconds)
        var key: wint_t = 0
        let result = claw_get_key(&key)
        if result == claw_err() { return nil }
        if result == KEY_CODE_YES {
            switch Int32(key) {
            case claw_key_resize(): return .resize
            case KEY_UP: return .key(.up)
            case KEY_DOWN: return .key(.down)
            case KEY_LEFT: return .key(.left)
            case KEY_RIGHT: return .key(.right)
            case KEY_NPAGE: return .key(.pageDown)
            case KEY_PPAGE: return .key(.pageUp)
            case KEY_HOME: return .key(.home)
            case KEY_END: return .key(.end)
            case KEY_BTAB: return .key(.backTab)
            case KEY_ENTER: return .key(.enter)
            case KEY_BACKSPACE: return .key(.backspace)
            default: return nil
            }
        }
        switch key {
        case 3: return .key(.interrupt)
        case 9: return .key(.tab)
        case 10, 13: return .key(.enter)
        case 27: return .key(.escape)
        case 127, 8: return .key(.backspace)
        // Ctrl-A, E, K, U, W (readline's line editing); Ctrl-H, I, J, M are taken above.
        case 1, 5, 11, 21, 23: return .key(.control(Character(Unicode.Scalar(UInt8(key) + 96))))
        default:
            // Other control characters are no text.
            guard key >= 32, key != 127, let scalar = Unicode.Scalar(UInt32(key)) else { return nil }
            return .key(.character(Character(scalar)))
        }
    }
}

public enum TerminalInput: Equatable {
    case key(KeyEvent)
    case resize
}
