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
        // The table takes the rows it needs, the fleet's figures under it, then each provider's
        // spend per hour over the console's polls, with its scale.
        let bottom = tableBottom(area, rows: table.count, room: 4)
        let fleetLine = bottom == area.bottom ? area.bottom - 1 : bottom
        View.table(&b, (area.top, fleetLine), columns: columns, rows: table, selected: state.selected(.cost), ascii: state.ascii)
        let today = rows.reduce(0) { $0 + $1.costToday }
        b.put("fleet: \(Format.dollars(total))/h now, \(Format.dollars(today)) today (since 00:00 UTC)", x: 0, y: fleetLine, role: .title)
        guard bottom < area.bottom else { return }
        var y = fleetLine + 2
        // The fleet's spend as a graph where there is room, then each provider's as a sparkline
        // with its scale, then the clients that spend.
        let clients = Selectors.clientRows(state).filter { $0.spendPerHour > 0 || $0.spendToday > 0 }
        let chartHeight = area.bottom - y - rows.count - 2 - (clients.isEmpty ? 0 : clients.count + 2)
        if chartHeight >= 5 {
            seriesChart(state, &b, Rect(x: 0, y: y, width: b.width, height: chartHeight), title: "fleet spend/h", values: state.fleetHistory.costPerHour,
                        peak: false, format: { Format.dollars($0) })
            y += chartHeight + 1
        }
        guard y < area.bottom else { return }
        b.put("SPEND $/H by provider, over the last \(state.costHistory.values.map(\.count).max() ?? 0) polls", x: 0, y: y, role: .title)
        y += 1
        for p in rows where y < area.bottom {
            b.put(Format.pad(p.id, 14, ascii: state.ascii), x: 0, y: y, role: .normal)
            b.put(scaledSparkline(state.costHistory[p.id] ?? [], width: max(10, b.width - 30), format: { Format.dollars($0) }, ascii: state.ascii),
                  x: 15, y: y, role: .bar, maxWidth: b.width - 15)
            y += 1
        }
        guard !clients.isEmpty, y + 2 < area.bottom else { return }
        y += 1
        b.put("SPEND by client (pane 7)", x: 0, y: y, role: .title)
        y += 1
        for c in clients where y < area.bottom {
            b.put(Format.pad(c.name, 14, ascii: state.ascii) + " " + Format.pad(Format.dollars(c.spendPerHour) + "/h", 9, right: true) + "  "
                  + Format.dollars(c.spendToday) + " today", x: 0, y: y, role: .normal, maxWidth: b.width)
            y += 1
        }
    }
}
