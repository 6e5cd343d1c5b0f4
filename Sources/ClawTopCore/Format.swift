import Foundation

/// Short, fixed-width figures for tables.
public enum Format {
    public static func seconds(_ value: Double?) -> String {
        guard let value else { return "-" }
        if value < 0.001 { return String(format: "%.0fus", value * 1_000_000) }
        if value < 1 { return String(format: "%.0fms", value * 1000) }
        if value < 100 { return String(format: "%.1fs", value) }
        return String(format: "%.0fs", value)
    }

    public static func rate(_ value: Double) -> String {
        if value >= 1000 { return String(format: "%.1fk", value / 1000) }
        if value >= 100 { return String(format: "%.0f", value) }
        return String(format: "%.1f", value)
    }

    public static func percent(_ ratio: Double) -> String {
        String(format: ratio >= 0.1 ? "%.0f%%" : "%.1f%%", ratio * 100)
    }

    public static func dollars(_ value: Double) -> String {
        if value >= 1000 { return String(format: "$%.0f", value) }
        if value >= 10 { return String(format: "$%.1f", value) }
        return String(format: "$%.2f", value)
    }

    public static func duration(_ seconds: Double) -> String {
        let s = Int(seconds)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(s % 60)s" }
        if s < 86400 { return "\(s / 3600)h\(s % 3600 / 60)m" }
        return "\(s / 86400)d\(s % 86400 / 3600)h"
    }

    /// Left- or right-align text in a column of `width`, cutting with an ellipsis mark.
    public static func pad(_ text: String, _ width: Int, right: Bool = false, ascii: Bool = false) -> String {
        guard width > 0 else { return "" }
        if text.count > width {
            return String(text.prefix(max(0, width - 1))) + (ascii ? "~" : "…")
        }
        let space = String(repeating: " ", count: width - text.count)
        return right ? space + text : text + space
    }
}
