import ClawAdminAPI
import Foundation

/// Pane 2: nodes.
extension View {
    static func nodes(_ state: AppState, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int)) {
        let columns = [
            Column(title: "NODE", width: 22, right: false, priority: 0),
            Column(title: "STATE", width: 12, right: false, priority: 1),
            Column(title: "INFLIGHT", width: 11, right: true, priority: 4),
            Column(title: "RPS", width: 6, right: true, priority: 3),
            Column(title: "REV", width: 9, right: true, priority: 2),
            Column(title: "VERSION", width: 8, right: false, priority: 6),
            Column(title: "UPTIME", width: 8, right: true, priority: 5),
            Column(title: "AGE", width: 6, right: true, priority: 2),
        ]
        let revisions = state.fleet.nodes.compactMap { $0.snapshot?.node.revision }
        let highest = revisions.max() ?? 0
        // With file stores, the nodes whose operator state differs from the others' (marked *).
        let drifted = Set((state.fleet.drift()?.drifted ?? []).map { state.fleet.nodes[$0].url })
        let rows: [[(String, Role)]] = Selectors.filteredNodes(state).map { node in
            let health = node.health(now: state.now, staleAfter: state.fleet.staleAfter)
            let s = node.snapshot?.node
            let drift = drifted.contains(node.url)
            // With a fleet store, how far behind the store's newest revision the node is.
            let lag = s.map { highest - $0.revision } ?? 0
            let rps = node.snapshot?.routes.reduce(0) { $0 + $1.stats.oneMinute.requestsPerSecond } ?? 0
            return [
                (marked(node.name, state, "node:\(s?.id ?? node.url)"), .normal), (health, stateRole(health)), s.map { saturation($0.inFlight, $0.maxInFlight) } ?? ("-", .normal),
                (s == nil ? "-" : Format.rate(rps), .normal), (s.map { lag > 0 && $0.store.kind == .etcd ? "\($0.revision) (-\(lag))" : "\($0.revision)\(drift ? "*" : "")" } ?? "-", drift || lag > 0 ? .warn : .normal),
                (s?.version ?? "-", .normal), (s.map { Format.duration($0.uptimeSeconds) } ?? "-", .normal),
                (node.age(now: state.now).map { Format.duration($0) } ?? "-", .normal),
            ]
        }
        // The table takes the rows it needs; the rows under it show the selected node.
        let index = state.selected(.nodes)
        let shown = Selectors.filteredNodes(state)
        let bottom = tableBottom(area, rows: rows.count, room: 6)
        table(&b, (area.top, bottom), columns: columns, rows: rows, selected: index, ascii: state.ascii)
        guard shown.indices.contains(index) else { return }
        let node = shown[index]
        let error = node.incompatible.map { "snapshot does not decode at \($0)" } ?? node.error
        guard bottom < area.bottom else {
            // No room for the detail: the error of the selected node, where it failed.
            if let error { b.put("\(node.name): \(error)", x: 0, y: area.bottom - 1, role: .crit, maxWidth: b.width) }
            return
        }
        var lines: [(String, Role)] = []
        if let error { lines.append(("\(node.name): \(error)", .crit)) }
        if let s = node.snapshot {
            let n = s.node
            lines.append(("\(n.id)  \(node.url)  version \(n.version.isEmpty ? "-" : n.version)  up \(Format.duration(n.uptimeSeconds))  \(n.state.rawValue)\(n.ready ? "" : " (not ready)")",
                          stateRole(node.health(now: state.now, staleAfter: state.fleet.staleAfter))))
            let store = n.store.kind == .etcd ? "fleet store (etcd) \(n.store.reachable ? "reachable" : "unreachable: \(n.store.error ?? "no answer")")" : "file store"
            lines.append(("revision \(n.revision)  \(store)  in flight \(n.inFlight)/\(Format.count(n.maxInFlight))  refused \(n.refusedMaxInFlight) at the node's limit, \(n.refusedMaxInFlightPerProvider) at a provider's",
                          n.store.reachable ? .normal : .warn))
            let routes = s.routes.map { "\($0.alias) \(Format.rate($0.stats.oneMinute.requestsPerSecond))/s" + ($0.panic ? " PANIC" : "") }
            if !routes.isEmpty { lines.append(("routes: " + routes.joined(separator: "  "), s.routes.contains { $0.panic } ? .crit : .normal)) }
            let providers = s.providers.map { "\(stateGlyph($0.state, ascii: state.ascii)) \($0.id) \($0.state.rawValue)" }
            if !providers.isEmpty { lines.append(("providers here: " + providers.joined(separator: "  "), .normal)) }
        } else if error == nil {
            lines.append(("\(node.url): no answer yet", .dim))
        }
        var y = bottom + 1
        b.put("\(node.name): detail", x: 0, y: y, role: .title, maxWidth: b.width)
        y += 1
        for (text, role) in lines where y < area.bottom {
            b.put(text, x: 0, y: y, role: role, maxWidth: b.width)
            y += 1
        }
        // Its requests over time in the rows the events (up to 10) leave.
        let events = min(10, max(1, Selectors.eventLines(state).filter { $0.nodes.contains(node.name) }.count)) + 2
        y += 1
        y += trendChart(state, &b, Rect(x: 0, y: y, width: b.width, height: area.bottom - y), key: "node:" + node.name, title: "\(node.name) requests/s", needs: events)
        eventList(state, &b, Rect(x: 0, y: y, width: b.width, height: area.bottom - y), title: "EVENTS on \(node.name)") { $0.nodes.contains(node.name) }
    }
}
