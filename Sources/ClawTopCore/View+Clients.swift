import ClawAdminAPI
import Foundation

/// Pane 7: the gateway's callers (client keys), the biggest spender per hour first.
extension View {
    static func clients(_ state: AppState, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int)) {
        let rows = Selectors.clientRows(state)
        let snapshots = state.fleet.nodes.compactMap(\.snapshot)
        if rows.isEmpty {
            let open = snapshots.contains { $0.clientAuth == "off" }
            b.put(open ? "client_auth off: no clients: configured, so anyone who reaches the nodes can call them" : "no clients reported yet",
                  x: 0, y: area.top, role: open ? .warn : .dim)
            return
        }
        let columns = [
            Column(title: "CLIENT", width: 16, right: false, priority: 0),
            Column(title: "STATE", width: 9, right: false, priority: 0),
            Column(title: "RPS", width: 6, right: true, priority: 1),
            Column(title: "TOK/MIN", width: 8, right: true, priority: 3),
            Column(title: "$/H", width: 8, right: true, priority: 1),
            Column(title: "TODAY", width: 8, right: true, priority: 2),
            Column(title: "INFLIGHT", width: 8, right: true, priority: 4),
            Column(title: "REFUSED", width: 7, right: true, priority: 2),
            Column(title: "NEAREST LIMIT", width: 18, right: false, priority: 2),
            Column(title: "LIMITS", width: 40, right: false, priority: 5),
        ]
        let lines: [[(String, Role)]] = rows.map { row in
            let l = row.limits
            var limits: [String] = []
            if let v = l.rpm { limits.append("rpm \(v)") }
            if let v = l.tpm { limits.append("tpm \(v)") }
            if let v = l.spendPerDay { limits.append("\(Format.dollars(v))/day") }
            if let v = l.concurrency { limits.append("conc \(v)") }
            let near = row.nearest.map { "\(Format.percent($0.share)) of \($0.limit)" } ?? "-"
            let nearRole: Role = (row.nearest?.share ?? 0) >= 1 ? .crit : (row.nearest?.share ?? 0) >= 0.8 ? .warn : .normal
            return [
                (marked(row.name, state, "client:\(row.name)"), .normal),
                (row.blocked ? "BLOCKED" : "active", row.blocked ? .crit : .ok),
                (Format.rate(row.rps), .normal), (Format.count(row.tokens1m), .normal), (Format.dollars(row.spendPerHour), .normal),
                (Format.dollars(row.spendToday), .normal),
                (String(row.inFlight), .normal), (String(row.refused), row.refused > 0 ? .warn : .normal),
                (near, nearRole), (limits.isEmpty ? "none" : limits.joined(separator: ", "), .dim),
            ]
        }
        // The table takes the rows it needs; under it the selected client on each node.
        let index = state.selected(.clients)
        let bottom = tableBottom(area, rows: lines.count, room: 5)
        table(&b, (area.top, bottom), columns: columns, rows: lines, selected: index, ascii: state.ascii)
        guard bottom < area.bottom, rows.indices.contains(index) else { return }
        let name = rows[index].name
        var y = bottom + 1
        b.put("\(name) on each node", x: 0, y: y, role: .title, maxWidth: b.width)
        y += 1
        for node in state.fleet.nodes where y < area.bottom {
            guard let c = node.snapshot?.clients?.first(where: { $0.name == name }) else { continue }
            let text = "\(Format.pad(node.name, 14, ascii: state.ascii)) \(c.blocked ? "BLOCKED" : "active ")  \(c.requests1m) req/min  \(Format.count(c.tokens1m)) tok/min  "
                + "\(Format.dollars(c.spendPerHourDollars))/h  \(Format.dollars(c.spendTodayDollars)) today  in flight \(c.inFlight)  refused \(c.refused)"
                + ((c.routes ?? []).isEmpty ? "" : "  routes \((c.routes ?? []).joined(separator: ","))")
            b.put(text, x: 0, y: y, role: c.blocked ? .crit : .normal, maxWidth: b.width)
            y += 1
        }
        let events = min(10, max(1, Selectors.eventLines(state).filter { Self.concerns($0, name) }.count)) + 2
        y += 1
        y += trendChart(state, &b, Rect(x: 0, y: y, width: b.width, height: area.bottom - y), key: "client:" + name, title: "\(name) requests/s", needs: events)
        eventList(state, &b, Rect(x: 0, y: y, width: b.width, height: area.bottom - y), title: "EVENTS about \(name)") { Self.concerns($0, name) }
    }
}
