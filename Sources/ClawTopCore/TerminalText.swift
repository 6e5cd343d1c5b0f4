/// Text from the network made safe for a terminal: what nodes, Prometheus and Alertmanager send
/// (ids, reasons, event details, error messages) is data, never terminal control. Control
/// characters are shown escaped (`\e`, `\n`, `\r`, `\t`, `\x00`), as are the bidirectional
/// overrides that reorder what is shown (`\u{202E}`); the rest passes as it came.
public enum TerminalText {
    /// Whether a scalar would act on a terminal (or reorder the text) instead of being shown.
    @inline(__always)
    static func acts(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        return v < 0x20 || (v >= 0x7F && v < 0xA0) || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)
    }

    /// How one scalar that acts is shown.
    static func escaped(_ scalar: Unicode.Scalar) -> String {
        switch scalar.value {
        case 0x1B: return "\\e"
        case 0x0A: return "\\n"
        case 0x0D: return "\\r"
        case 0x09: return "\\t"
        case let v where v < 0x100:
            let hex = String(v, radix: 16)
            return "\\x" + (hex.count < 2 ? "0" + hex : hex)
        case let v: return "\\u{" + String(v, radix: 16, uppercase: true) + "}"
        }
    }

    /// `text` with every control character escaped, newlines too: one line, safe to print.
    public static func safe(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: acts) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            if acts(scalar) { out += escaped(scalar) } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }

    /// A multi-line report made safe: its own line breaks kept, every other control character escaped.
    public static func safeLines(_ text: String) -> String {
        // By scalars: "\r\n" is one Character, and its \r must show.
        text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { safe(String(String.UnicodeScalarView($0))) }.joined(separator: "\n")
    }

    /// Whether a character can go into a cell as it is.
    @inline(__always)
    static func isPlain(_ character: Character) -> Bool {
        if let ascii = character.asciiValue { return ascii >= 0x20 && ascii != 0x7F }
        return !character.unicodeScalars.contains(where: acts)
    }
}
