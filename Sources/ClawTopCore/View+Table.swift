import ClawAdminAPI
import Foundation

/// Tables that fit the width (columns dropped by priority), state words in colour, and small widgets.
extension View {
    // MARK: Tables

    struct Column {
        var title: String
        var width: Int
        var right: Bool
        /// Lower goes first when the screen is narrow.
        var priority: Int
    }

    /// The columns that fit in `width`, in their order.
    static func fit(_ columns: [Column], width: Int) -> [Int] {
        var chosen = Set<Int>()
        var used = 0
        for (index, column) in columns.enumerated().sorted(by: { $0.element.priority < $1.element.priority }) {
            if used + column.width + 1 <= width {
                chosen.insert(index)
                used += column.width + 1
            }
        }
        return columns.indices.filter { chosen.contains($0) }
    }

    /// The provider tables' columns with the sort column marked: `▲` (names A to Z, figures
    /// smallest first) or `▼` (the other way), `^`/`v` with --ascii.
    static func markSort(_ columns: [Column], _ state: AppState) -> [Column] {
        let ascending = (state.sort == .name) != state.sortReversed
        let mark = state.ascii ? (ascending ? "^" : "v") : (ascending ? "▲" : "▼")
        let titles = Selectors.sortTitle(state.sort)
        return columns.map { c in
            var c = c
            if titles.contains(c.title) { c.title += mark }
            return c
        }
    }

    /// A table in the rows of `area`, from column `left` over `width` columns (the whole row by default).
    static func table(_ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int), columns: [Column], rows: [[(String, Role)]],
                      selected: Int, ascii: Bool, left: Int = 0, width: Int? = nil) {
        let room = width ?? b.width - left
        let visible = fit(columns, width: room)
        var x = left
        for index in visible {
            x = b.put(Format.pad(columns[index].title, columns[index].width, right: columns[index].right), x: x, y: area.top, role: .title) + 1
        }
        let capacity = area.bottom - area.top - 1
        guard capacity > 0 else { return }
        let first = max(0, min(selected - capacity + 1, rows.count - capacity))
        for (offset, row) in rows.dropFirst(first).prefix(capacity).enumerated() {
            let y = area.top + 1 + offset
            let isSelected = first + offset == selected
            var x = left
            for index in visible {
                let (text, role) = row[index]
                x = b.put(Format.pad(text, columns[index].width, right: columns[index].right, ascii: ascii), x: x, y: y,
                          role: isSelected ? .selected : role, maxWidth: left + room - x) + 1
            }
            if isSelected { b.fill(row: y, role: .selected, from: left, to: left + room) }
        }
        if rows.isEmpty { b.put("(nothing yet)", x: left, y: area.top + 1, role: .dim) }
    }

    static func stateRole(_ word: String) -> Role {
        switch word {
        case "healthy", "serving", "closed": .ok
        case "degraded", "probing", "draining", "stale", "drained", "failed-over": .warn
        default: .crit
        }
    }

    /// A provider state's colour; a word from a newer gateway is a warning, shown as it came.
    static func stateRole(_ state: ProviderState) -> Role {
        switch state {
        case .healthy: .ok
        case .degraded, .probing, .drained, .failedOver, .other: .warn
        case .ejected: .crit
        }
    }

    static func stateRole(_ state: CircuitState) -> Role {
        switch state {
        case .closed: .ok
        case .probing, .other: .warn
        case .open: .crit
        }
    }


    /// A wall-clock time as HH:mm:ss UTC, for the events pane and the detail view.
    static func clock(_ time: Double) -> String {
        let s = ((Int(time.rounded(.down)) % 86400) + 86400) % 86400
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(two(s / 3600)):\(two(s / 60 % 60)):\(two(s % 60))"
    }

    /// A sparkline of the last `width` values, in Unicode blocks or ASCII.
    public static func sparkline(_ values: [Double], width: Int, ascii: Bool) -> String {
        let shown = Array(values.suffix(width))
        guard let top = shown.max(), top > 0 else { return String(repeating: ascii ? "_" : "▁", count: shown.count) }
        let levels: [Character] = ascii ? Array("_.-=*#") : Array("▁▂▃▄▅▆▇█")
        return String(shown.map { levels[min(levels.count - 1, Int($0 / top * Double(levels.count - 1) + 0.5))] })
    }
}
