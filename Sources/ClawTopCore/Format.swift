import ClawAdminAPI
import ClawShared
import Foundation

/// Short, fixed-width figures for tables.
public enum Format {
    public static func seconds(_ value: Double?) -> String {
        guard let value else { return "-" }
        // Zero is written as people write it (`0s`), never `0us`.
        if value < 0.000_000_5 { return "0s" }
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

    /// A count in at most 5 characters: 950, 9872, 12k, 1.2M.
    public static func count(_ value: Int) -> String {
        if value < 10_000 { return String(value) }
        if value < 1_000_000 { return "\(value / 1000)k" }
        return String(format: "%.1fM", Double(value) / 1_000_000)
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
    /// Control characters are escaped first, so that the column holds what is shown.
    public static func pad(_ text: String, _ width: Int, right: Bool = false, ascii: Bool = false) -> String {
        guard width > 0 else { return "" }
        let text = TerminalText.safe(text)
        if text.count > width {
            return String(text.prefix(max(0, width - 1))) + (ascii ? "~" : "…")
        }
        let space = String(repeating: " ", count: width - text.count)
        return right ? space + text : text + space
    }

    /// A duration as the drill's options take it (`30s`, `2m`, `500ms`, `1m30s`, or plain seconds).
    public static func parseDrillDuration(_ text: String) -> Double? { DurationText.seconds(text) }

    /// Parse a duration such as `90s`, `30m`, `2h`, `1h30m` or `7d` into seconds; nil if it is not one.
    public static func parseDuration(_ text: String) -> Double? {
        var total = 0.0
        var digits = ""
        var sawUnit = false
        for c in text {
            if c.isASCII, c.isNumber {
                digits.append(c)
                continue
            }
            guard let n = Double(digits), let unit = ["s": 1.0, "m": 60, "h": 3600, "d": 86400][String(c)] else { return nil }
            total += n * unit
            digits = ""
            sawUnit = true
        }
        guard digits.isEmpty, sawUnit else { return nil }
        return total
    }

    /// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// RFC 3339 time (`2026-11-25T10:00:00.123Z`, or with an offset) to wall-clock seconds.
    public static func parseISO8601(_ text: String) -> Double? {
        let b = Array(text.utf8)
        func int(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var n = 0
            for c in b[from..<(from + count)] {
                guard c >= 48, c <= 57 else { return nil }
                n = n * 10 + Int(c - 48)
            }
            return n
        }
        guard b.count >= 20, let year = int(0, 4), b[4] == 45, let month = int(5, 2), b[7] == 45, let day = int(8, 2),
              b[10] == 84 || b[10] == 116 || b[10] == 32, let hour = int(11, 2), b[13] == 58, let minute = int(14, 2), b[16] == 58,
              let second = int(17, 2), (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var i = 19
        var fraction = 0.0
        if i < b.count, b[i] == 46 {
            i += 1
            var scale = 0.1
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
        }
        guard i < b.count else { return nil }
        var offset = 0
        if b[i] == 90 || b[i] == 122 {
            i += 1
        } else if b[i] == 43 || b[i] == 45, let h = int(i + 1, 2), b.count > i + 3, b[i + 3] == 58, let m = int(i + 4, 2) {
            offset = (h * 3600 + m * 60) * (b[i] == 43 ? 1 : -1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let seconds = days(year: year, month: month, day: day) * 86400 + hour * 3600 + minute * 60 + second - offset
        return Double(seconds) + fraction
    }

    /// Wall-clock seconds as RFC 3339 UTC with milliseconds, as Alertmanager takes them.
    public static func iso8601(_ time: Double) -> String {
        let ms = Int((time * 1000).rounded())
        let total = Int((Double(ms) / 1000).rounded(.down))
        let z = total >= 0 ? total / 86400 : (total - 86399) / 86400
        let secondOfDay = total - z * 86400
        let date = CivilDate(daysSince1970: z)
        let (year, month, day) = (date.year, date.month, date.day)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let millis = ((ms % 1000) + 1000) % 1000
        let frac = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(year)-\(two(month))-\(two(day))T\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)).\(frac)Z"
    }
}
