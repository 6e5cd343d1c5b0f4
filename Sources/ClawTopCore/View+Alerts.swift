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
        // The selected alert in one line (its labels and summary do not fit a narrow table).
        let index = state.selected(.alerts)
        var selected: AlertInfo?
        var selectedLines: [(String, Role)] = []
        if shown.indices.contains(index) {
            let a = shown[index]
            selected = a
            selectedLines.append(("\(state.fleet.naming(a.selector)): \(state.fleet.naming(a.summary))\(a.since > 0 ? "  (since \(clock(a.since)) UTC)" : "")", .title))
            if !a.silencedBy.isEmpty {
                selectedLines.append(("silenced by \(a.silencedBy.joined(separator: ", ")); :unsilence \(a.selector) removes it", .dim))
            }
        }
        // The table takes the rows it needs; under it the selected alert whole, what the nodes
        // say now about what it names, and the events about that.
        let roomy = tableBottom(area, rows: rows.count, room: selectedLines.count + statusLines.count + 2) < area.bottom
        if !roomy { statusLines = selectedLines + statusLines }
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
        y += 1
        b.put("SELECTED ALERT" + (state.readOnly ? "" : " (z silences it)"), x: 0, y: y, role: .title, maxWidth: b.width)
        y += 1
        for (text, role) in alertText(state, alert, width: b.width) where y < area.bottom {
            b.put(text, x: 0, y: y, role: role, maxWidth: b.width)
            y += 1
        }
        // What it names (the first of provider, route, node, client), as that pane's detail has it.
        let named = [("provider", ""), ("route", "route:"), ("node", "node:"), ("instance", "node:"), ("client", "client:")].first { alert.labels[$0.0] != nil }
        if let (label, prefix) = named {
            subjectDetail(state, prefix + state.fleet.naming(alert.labels[label]!), &b, (y + 1, area.bottom))
        } else {
            eventList(state, &b, Rect(x: 0, y: y + 1, width: b.width, height: area.bottom - y - 1), title: "EVENTS")
        }
    }

    /// The whole alert, wrapped to `width`: its name, severity, state and since when, the whole
    /// summary, every label (nodes by name), and the silences that cover it.
    static func alertText(_ state: AppState, _ alert: AlertInfo, width: Int) -> [(String, Role)] {
        var out: [(String, Role)] = []
        func add(_ label: String, _ value: String, _ role: Role = .normal) {
            for (i, part) in wrap(value, width: max(10, width - 12)).enumerated() { out.append(((i == 0 ? Format.pad(label, 11) : String(repeating: " ", count: 11)) + " " + part, role)) }
        }
        let role: Role = alert.silenced ? .dim : alert.severity == "critical" ? .crit : alert.severity == "warning" ? .warn : .normal
        add("alert", alert.name, role)
        add("severity", alert.severity, role)
        let since = alert.since > 0 ? " since \(Format.iso8601(alert.since)) (\(Format.duration(max(0, state.now - alert.since))))" : ""
        add("state", (alert.silenced ? "silenced" : "firing") + since)
        add("summary", alert.summary.isEmpty ? "-" : state.fleet.naming(alert.summary))
        for (i, label) in alert.labels.sorted(by: { $0.key < $1.key }).enumerated() {
            add(i == 0 ? "labels" : "", "\(label.key)=\(state.fleet.naming(label.value))", .dim)
        }
        if !alert.silencedBy.isEmpty { add("silenced by", "\(alert.silencedBy.joined(separator: ", ")); :unsilence \(alert.selector) removes it", .dim) }
        return out
    }
}
