import Foundation

/// Colours by role, read from a theme file; the driver lowers them to what the terminal has.
public struct Theme: Sendable, Equatable {
    public enum Color: Sendable, Equatable {
        case terminalDefault
        /// 0-15: the basic and bright colours; 16-255 the 256-colour palette.
        case index(Int)
        case rgb(Int, Int, Int)
    }

    public struct Style: Sendable, Equatable {
        public var foreground: Color = .terminalDefault
        public var background: Color = .terminalDefault
        public var bold = false
        public var dim = false
        public var reverse = false
        public var underline = false

        public init() {}
    }

    public var name: String
    public var styles: [Role: Style]

    public init(name: String, styles: [Role: Style]) {
        self.name = name
        self.styles = styles
    }

    public func style(_ role: Role) -> Style { styles[role] ?? styles[.normal] ?? Style() }

    static let names = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"]

    static func color(_ word: String) -> Color? {
        let w = word.lowercased()
        if w == "default" { return .terminalDefault }
        if let i = names.firstIndex(of: w) { return .index(i) }
        if w.hasPrefix("bright-"), let i = names.firstIndex(of: String(w.dropFirst(7))) { return .index(i + 8) }
        if let n = Int(w), (0...255).contains(n) { return .index(n) }
        if w.hasPrefix("#"), w.count == 7, let v = Int(w.dropFirst(), radix: 16) { return .rgb(v >> 16 & 0xFF, v >> 8 & 0xFF, v & 0xFF) }
        return nil
    }

    /// Parse a theme file; a mistake names the file and the line.
    public static func parse(_ text: String, name: String, file: String) throws(ThemeError) -> Theme {
        var styles: [Role: Style] = [:]
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            // A line is a comment when it starts with '#'; '#' later on a line is a colour.
            let content = raw.trimmingCharacters(in: .whitespaces)
            guard !content.isEmpty, !content.hasPrefix("#") else { continue }
            let parts = content.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { throw ThemeError(file: file, line: number + 1, message: "expected 'role = colour ...'") }
            guard let role = Role(rawValue: parts[0]) else {
                throw ThemeError(file: file, line: number + 1, message: "unknown role '\(parts[0])'; roles: \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            var style = Style()
            var words = parts[1].split(separator: " ").map(String.init)
            guard !words.isEmpty else { throw ThemeError(file: file, line: number + 1, message: "no colour for \(role.rawValue)") }
            guard let fg = color(words.removeFirst()) else {
                throw ThemeError(file: file, line: number + 1, message: "'\(parts[1].split(separator: " ")[0])' is not a colour (a name, 0-255 or #rrggbb)")
            }
            style.foreground = fg
            while !words.isEmpty {
                let word = words.removeFirst()
                switch word {
                case "on":
                    guard !words.isEmpty, let bg = color(words.removeFirst()) else {
                        throw ThemeError(file: file, line: number + 1, message: "'on' needs a background colour")
                    }
                    style.background = bg
                case "bold": style.bold = true
                case "dim": style.dim = true
                case "reverse": style.reverse = true
                case "underline": style.underline = true
                default: throw ThemeError(file: file, line: number + 1, message: "unknown word '\(word)'")
                }
            }
            styles[role] = style
        }
        return Theme(name: name, styles: styles)
    }

    public static let shipped = ["dark", "light", "high-contrast", "mono"]

    /// Used when no theme file can be found (an installed binary without the themes folder).
    public static let builtIn: Theme = {
        func s(_ fg: Color, _ bg: Color = .terminalDefault, bold: Bool = false, reverse: Bool = false) -> Style {
            var style = Style()
            style.foreground = fg
            style.background = bg
            style.bold = bold
            style.reverse = reverse
            return style
        }
        return Theme(name: "dark", styles: [
            .normal: s(.terminalDefault), .header: s(.index(7), .index(4)), .headerValue: s(.index(3), .index(4), bold: true),
            .title: s(.index(6), bold: true), .tabActive: s(.index(0), .index(6), bold: true), .tab: s(.terminalDefault),
            .border: s(.index(4)), .selected: s(.index(0), .index(7)), .ok: s(.index(2)), .warn: s(.index(3)),
            .crit: s(.index(1), bold: true), .dim: s(.index(8)), .footer: s(.index(0), .index(6)),
            .lock: s(.index(7), .index(1), bold: true), .bar: s(.index(2)),
        ])
    }()
}

public struct ThemeError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public var description: String { line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)" }

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }
}

extension Theme.Color {
    /// The nearest colour a terminal with `colors` colours can show (256-colour cube, or the basic 8/16).
    public func lowered(to colors: Int) -> Int {
        switch self {
        case .terminalDefault: return -1
        case .index(let i):
            if colors >= 256 || i < colors { return i }
            return i >= 8 && i < 16 ? i - 8 : Self.basic(Self.rgbOf(i))
        case .rgb(let r, let g, let b):
            if colors >= 256 {
                func level(_ v: Int) -> Int { v < 48 ? 0 : v < 115 ? 1 : (v - 35) / 40 }
                return 16 + 36 * level(r) + 6 * level(g) + level(b)
            }
            return Self.basic((r, g, b))
        }
    }

    static func rgbOf(_ index: Int) -> (Int, Int, Int) {
        if index >= 16, index < 232 {
            let i = index - 16
            let steps = [0, 95, 135, 175, 215, 255]
            return (steps[i / 36], steps[i / 6 % 6], steps[i % 6])
        }
        let v = 8 + (index - 232) * 10
        return (v, v, v)
    }

    /// The nearest of the eight basic colours.
    static func basic(_ rgb: (Int, Int, Int)) -> Int {
        let palette = [(0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229)]
        var best = 0
        var bestDistance = Int.max
        for (i, p) in palette.enumerated() {
            let d = (p.0 - rgb.0) * (p.0 - rgb.0) + (p.1 - rgb.1) * (p.1 - rgb.1) + (p.2 - rgb.2) * (p.2 - rgb.2)
            if d < bestDistance { bestDistance = d; best = i }
        }
        return best
    }
}
