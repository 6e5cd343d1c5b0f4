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
        table(&b, area, columns: columns, rows: rows, selected: state.selected(.nodes), ascii: state.ascii)
        // The error of the selected node, where it failed.
        let index = state.selected(.nodes)
        let shown = Selectors.filteredNodes(state)
        if shown.indices.contains(index), let error = shown[index].incompatible.map({ "snapshot does not decode at \($0)" }) ?? shown[index].error {
            b.put("\(shown[index].name): \(error)", x: 0, y: area.bottom - 1, role: .crit)
        }
    }
}
