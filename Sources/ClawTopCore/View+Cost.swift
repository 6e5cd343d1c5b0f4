import ClawAdminAPI
import Foundation

/// Pane 4: cost per hour and today.
extension View {
    static func cost(_ state: AppState, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int)) {
        let rows = Selectors.sortedProviders(state)
        let total = rows.reduce(0) { $0 + $1.costPerHour }
        let columns = [
            Column(title: "PROVIDER", width: 14, right: false, priority: 0),
            Column(title: "$/HOUR", width: 9, right: true, priority: 1),
            Column(title: "TODAY", width: 9, right: true, priority: 2),
            Column(title: "SHARE", width: 28, right: false, priority: 3),
        ]
        let table: [[(String, Role)]] = rows.map { p in
            let share = total > 0 ? p.costPerHour / total : 0
            return [(p.id, .normal), (Format.dollars(p.costPerHour), .normal), (Format.dollars(p.costToday), .normal),
                    (bar(Int(share * 1000), max: 1000, width: 20, ascii: state.ascii) + " " + Format.percent(share), .bar)]
        }
        View.table(&b, (area.top, area.bottom - 1), columns: columns, rows: table, selected: state.selected(.cost), ascii: state.ascii)
        let today = rows.reduce(0) { $0 + $1.costToday }
        b.put("fleet: \(Format.dollars(total))/h now, \(Format.dollars(today)) today (since 00:00 UTC)", x: 0, y: area.bottom - 1, role: .title)
    }
}
