import ClawAdminAPI
import Foundation

/// Pane 6: Alertmanager's alerts.
extension View {
    /// Alertmanager's alerts (silenced ones last, dimmed), and where the monitor figures come from.
    static func alerts(_ state: AppState, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int)) {
        let monitor = state.fleet.monitor
        var statusLines: [(String, Role)] = []
        if let url = monitor.prometheusURL {
            if monitor.figures != nil {
                statusLines.append(("prometheus \(url): figures from PromQL over the last \(PromQL.window)", .dim))
            } else {
                statusLines.append(("prometheus \(url): \(monitor.prometheusError ?? "no answer yet"); node stats shown", .warn))
            }
        }
        if let url = monitor.alertmanagerURL {
            if let error = monitor.alertmanagerError {
                let age = monitor.alertsAt.map { "; list from \(Format.duration(max(0, state.now - $0))) ago" } ?? ""
                statusLines.append(("alertmanager \(url): \(error)\(age)", .crit))
            } else {
                let silenced = monitor.alerts.count - monitor.firing.count
                statusLines.append(("alertmanager \(url): \(monitor.firing.count) firing, \(silenced) silenced or inhibited", .dim))
            }
        } else {
            statusLines.append(("no Alertmanager: start clawtop with --alertmanager URL to list alerts here", .dim))
        }
        let columns = [
            Column(title: "SEVERITY", width: 8, right: false, priority: 1),
            Column(title: "ALERT", width: 30, right: false, priority: 0),
            Column(title: "STATE", width: 8, right: false, priority: 4),
            Column(title: "SINCE", width: 6, right: true, priority: 2),
            Column(title: "SUMMARY", width: max(10, b.width - 57), right: false, priority: 3),
        ]
        let shown = Selectors.filteredAlerts(state)
        let rows: [[(String, Role)]] = shown.map { a in
            let role: Role = a.silenced ? .dim : a.severity == "critical" ? .crit : a.severity == "warning" ? .warn : .normal
            // Nodes by name: Prometheus's `instance` (host:port) is the node's id here.
            return [(a.severity, role), (marked(state.fleet.naming(a.selector), state, "alert:\(a.name)"), a.silenced ? .dim : .normal),
                    (a.silenced ? "silenced" : "firing", role), (a.since > 0 ? Format.duration(max(0, state.now - a.since)) : "-", .normal),
                    (state.fleet.naming(a.summary), a.silenced ? .dim : .normal)]
        }
        // The selected alert in full (its labels and summary do not fit a narrow table).
        let index = state.selected(.alerts)
        var selected: AlertInfo?
        if shown.indices.contains(index) {
            let a = shown[index]
            selected = a
            statusLines.insert(("\(state.fleet.naming(a.selector)): \(state.fleet.naming(a.summary))\(a.since > 0 ? "  (since \(clock(a.since)) UTC)" : "")", .title), at: 0)
            if !a.silencedBy.isEmpty {
                statusLines.insert(("silenced by \(a.silencedBy.joined(separator: ", ")); :unsilence \(a.selector) removes it", .dim), at: 1)
            }
        }
        // The table takes the rows it needs; under it the selected alert, its labels and the
        // events about what it names.
        let roomy = tableBottom(area, rows: rows.count, room: statusLines.count + 2) < area.bottom
        let bottom = roomy ? area.top + max(1, rows.count) + 1 : max(area.top + 1, area.bottom - statusLines.count)
        table(&b, (area.top, bottom), columns: columns, rows: rows, selected: index, ascii: state.ascii)
        var y = roomy ? bottom + 1 : bottom
        for line in statusLines where y < area.bottom {
            b.put(line.0, x: 0, y: y, role: line.1, maxWidth: b.width)
            y += 1
        }
        guard roomy else { return }
        guard let alert = selected else {
            eventList(state, &b, Rect(x: 0, y: y + 1, width: b.width, height: area.bottom - y - 1), title: "EVENTS")
            return
        }
        let labels = alert.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\(state.fleet.naming($0.value))" }
        b.put("labels: " + labels.joined(separator: "  "), x: 0, y: y, role: .dim, maxWidth: b.width)
        y += 1
        let names = ["provider", "route", "node", "instance", "client"].compactMap { alert.labels[$0].map { state.fleet.naming($0) } }
        eventList(state, &b, Rect(x: 0, y: y + 1, width: b.width, height: area.bottom - y - 1),
                  title: names.isEmpty ? "EVENTS" : "EVENTS about \(names.joined(separator: ", "))") { line in names.isEmpty || names.contains { Self.concerns(line, $0) } }
    }
}
