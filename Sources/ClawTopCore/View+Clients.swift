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
        table(&b, area, columns: columns, rows: lines, selected: state.selected(.clients), ascii: state.ascii)
    }
}
