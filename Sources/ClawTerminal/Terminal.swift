import CNCursesW
import ClawTopCore
import Foundation

/// The only code that talks to ncurses: it reads keys and writes the cells that changed.
public final class Terminal {
    private var previous: ScreenBuffer?
    private let colors: Bool
    private var pairs: [Role: Int16] = [:]

    /// Start curses; `color` false (or NO_COLOR set) keeps to attributes only.
    public init(color: Bool) {
        setlocale(LC_ALL, "")
        initscr()
        cbreak()
        noecho()
        nonl()
        keypad(claw_stdscr(), true)
        set_escdelay(25)
        curs_set(0)
        colors = color && has_colors() && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        if colors {
            start_color()
            use_default_colors()
            setupPairs()
        }
    }

    deinit { close() }

    private var closed = false

    public func close() {
        guard !closed else { return }
        closed = true
        endwin()
    }

    private func setupPairs() {
        // Role -> (foreground, background) in the 8 basic colours; -1 is the terminal's default.
        let table: [Role: (Int16, Int16)] = [
            .header: (Int16(COLOR_WHITE), Int16(COLOR_BLUE)), .headerValue: (Int16(COLOR_YELLOW), Int16(COLOR_BLUE)),
            .title: (Int16(COLOR_CYAN), -1), .tabActive: (Int16(COLOR_BLACK), Int16(COLOR_CYAN)), .tab: (-1, -1),
            .border: (Int16(COLOR_BLUE), -1), .selected: (Int16(COLOR_BLACK), Int16(COLOR_WHITE)), .ok: (Int16(COLOR_GREEN), -1),
            .warn: (Int16(COLOR_YELLOW), -1), .crit: (Int16(COLOR_RED), -1), .dim: (Int16(COLOR_BLUE), -1),
            .footer: (Int16(COLOR_BLACK), Int16(COLOR_CYAN)), .lock: (Int16(COLOR_WHITE), Int16(COLOR_RED)), .bar: (Int16(COLOR_GREEN), -1),
        ]
        var next: Int16 = 1
        for role in Role.allCases {
            guard let (fg, bg) = table[role], Int32(next) < claw_color_pairs() else { continue }
            init_pair(next, fg, bg)
            pairs[role] = next
            next += 1
        }
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

    private func attributes(_ role: Role) -> (attr_t, Int16) {
        if colors, let pair = pairs[role] {
            let bold: attr_t = [.title, .crit, .tabActive, .lock].contains(role) ? claw_a_bold() : 0
            return (bold, pair)
        }
        switch role {
        case .selected, .tabActive, .header, .footer, .lock: return (claw_a_reverse(), 0)
        case .title, .crit: return (claw_a_bold(), 0)
        case .dim: return (claw_a_dim(), 0)
        default: return (0, 0)
        }
    }

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
        case 9: return .key(.tab)
        case 10, 13: return .key(.enter)
        case 27: return .key(.escape)
        case 127, 8: return .key(.backspace)
        default:
            guard let scalar = Unicode.Scalar(UInt32(key)) else { return nil }
            return .key(.character(Character(scalar)))
        }
    }
}

public enum TerminalInput: Equatable {
    case key(KeyEvent)
    case resize
}
