import ClawAdminAPI
import Foundation

/// Pane 1: providers, merged across nodes; Enter opens the detail.
extension View {
    static func providers(_ state: AppState, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int)) {
        let sorted = Selectors.sortedProviders(state)
        let names = sorted.map { providerName($0, state) }
        let columns = [
            Column(title: "PROVIDER", width: figureWidth(14, names), right: false, priority: 0),
            Column(title: "STATE", width: 11, right: false, priority: 1),
            Column(title: "CIRCUIT", width: 9, right: false, priority: 5),
            Column(title: "WEIGHT", width: 6, right: true, priority: 4),
            Column(title: "RPS", width: figureWidth(6, sorted.map(rpsText)), right: true, priority: 2),
            Column(title: "ERR%", width: 6, right: true, priority: 3),
            Column(title: "P50", width: 6, right: true, priority: 7),
            Column(title: "P95", width: 6, right: true, priority: 8),
            Column(title: "P99", width: 6, right: true, priority: 3),
            Column(title: "TTFT", width: 6, right: true, priority: 9),
            Column(title: "$/H", width: 7, right: true, priority: 6),
            Column(title: "INFLIGHT", width: 11, right: true, priority: 10),
            Column(title: "KIND", width: 9, right: false, priority: 11),
        ]
        let rows: [[(String, Role)]] = zip(sorted, names).map { p, name in
            [
                (name, p.fault != nil ? .warn : .normal), (p.stateText, stateRole(p.state)), (p.circuitText, stateRole(p.circuit)), (String(p.weight), .normal),
                (rpsText(p), p.servingNodes == 0 ? .dim : .normal), (Format.percent(p.errorRatio), p.errorRatio > 0.05 ? .crit : .normal),
                (Format.seconds(p.p50), .normal), (Format.seconds(p.p95), .normal), (Format.seconds(p.p99), .normal),
                (Format.seconds(p.ttft), .normal), (Format.dollars(p.costPerHour), p.servingNodes == 0 ? .dim : .normal),
                saturation(p.inFlight, p.maxInFlight), (Self.kindLabel(p.kind), .dim),
            ]
        }
        table(&b, area, columns: markSort(columns, state), rows: rows, selected: state.selected(.providers), ascii: state.ascii)
    }

    /// A provider's name on its row: the pending mark, and `DRILL` while a drill's fault is in force
    /// on it (on some nodes: `DRILL 1/3`).
    static func providerName(_ row: Fleet.ProviderRow, _ state: AppState) -> String {
        let name = marked(row.id, state, "provider:\(row.id)")
        guard row.fault != nil else { return name }
        return name + (row.faultNodes < row.nodes ? " DRILL \(row.faultNodes)/\(row.nodes)" : " DRILL")
    }

    /// A provider's requests per second as the tables show it: once no node sends it traffic, 0
    /// with the last minute's rate beside it as history (`0 (1.1/1m)`), never that rate as current.
    static func rpsText(_ row: Fleet.ProviderRow) -> String {
        row.servingNodes == 0 && row.idleRPS > 0 ? "0 (\(Format.rate(row.idleRPS))/1m)" : Format.rate(row.rps)
    }

    /// Spend per hour, the same way: `0 ($1.98/1m)` for a provider that no longer receives traffic
    /// (the detail view; the tables show the current $0.00 and keep the history in the RPS column).
    static func costText(_ row: Fleet.ProviderRow) -> String {
        row.servingNodes == 0 && row.idleCostPerHour > 0 ? "0 (\(Format.dollars(row.idleCostPerHour))/1m)" : Format.dollars(row.costPerHour)
    }

    /// A figure column as wide as its widest cell, at least `width`.
    static func figureWidth(_ width: Int, _ cells: [String]) -> Int { max(width, cells.map(\.count).max() ?? 0) }

    /// A provider kind as the Providers pane shows it.
    static func kindLabel(_ kind: String?) -> String {
        switch kind {
        case "azure_openai": "azure"
        case let k?: k
        case nil: "-"
        }
    }

    /// In flight against its limit ("12/5000"), warn from 90 %: past the limit the node answers 429.
    static func saturation(_ inFlight: Int, _ limit: Int) -> (String, Role) {
        guard limit > 0 else { return (String(inFlight), .normal) }
        let full = Double(inFlight) >= 0.9 * Double(limit)
        return ("\(inFlight)/\(Format.count(limit))", full ? .warn : .normal)
    }


    /// Enter on a provider: its breaker on every node, its recent history as sparklines.
    static func detail(_ state: AppState, _ id: String, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int)) {
        var y = area.top
        let kind = state.fleet.rows.first(where: { $0.id == id })?.kind.map { "  kind \($0)" } ?? ""
        b.put("Provider \(id)\(kind)  (Esc back)", x: 0, y: y, role: .title)
        y += 1
        if let row = state.fleet.rows.first(where: { $0.id == id }), let fault = row.fault {
            b.put("DRILL: \(fault.summary) until \(clock(fault.until)) UTC (\(Format.duration(max(0, fault.until - state.now))) left) on \(row.faultNodes)/\(row.nodes) nodes"
                  + (fault.actor.map { ", set by \($0)" } ?? "") + (fault.reason.map { ": \($0)" } ?? ""), x: 0, y: y, role: .warn, maxWidth: b.width)
            y += 1
        }
        if let row = state.fleet.rows.first(where: { $0.id == id }) {
            b.put("state \(row.stateText)  circuit \(row.circuitText)  \(rpsText(row)) req/s  err \(Format.percent(row.errorRatio))  p50 \(Format.seconds(row.p50))  p99 \(Format.seconds(row.p99))  \(costText(row))/h",
                  x: 0, y: y, role: stateRole(row.state), maxWidth: b.width)
            if row.idleRPS > 0 || row.idleCostPerHour > 0 {
                y += 1
                let idle = row.nodes - row.servingNodes
                b.put("not serving on \(idle)/\(row.nodes) nodes: \(Format.rate(row.idleRPS)) req/s, \(Format.dollars(row.idleCostPerHour))/h over the last minute there, not counted as current",
                      x: 0, y: y, role: .dim, maxWidth: b.width)
            }
        }
        y += 2
        let width = max(10, b.width - 16)
        b.put("latency p50", x: 0, y: y, role: .dim)
        b.put(sparkline(state.latencyHistory[id] ?? [], width: width, ascii: state.ascii), x: 14, y: y, role: .bar)
        y += 1
        b.put("cost $/h", x: 0, y: y, role: .dim)
        b.put(sparkline(state.costHistory[id] ?? [], width: width, ascii: state.ascii), x: 14, y: y, role: .bar)
        y += 2
        b.put(Format.pad("NODE", 14) + " " + Format.pad("STATE", 11) + " " + Format.pad("CIRCUIT", 9) + " " + Format.pad("FAILS", 5, right: true) + " "
              + Format.pad("EJECT", 5, right: true) + "  " + "WHY / UNTIL", x: 0, y: y, role: .title)
        y += 1
        for node in state.fleet.nodes where y < area.bottom {
            guard let p = node.snapshot?.providers.first(where: { $0.id == id }) else { continue }
            let c = p.circuit
            var why = c.reason ?? ""
            if let until = c.openUntil { why += "  until \(clock(until))" }
            b.put(Format.pad(node.name, 14, ascii: state.ascii) + " " + Format.pad(p.state.rawValue, 11) + " " + Format.pad(c.state.rawValue, 9) + " " + Format.pad(String(c.consecutiveFailures), 5, right: true)
                  + " " + Format.pad(String(c.ejections), 5, right: true) + "  " + why, x: 0, y: y, role: stateRole(c.state.rawValue))
            y += 1
        }
        let failures = state.fleet.nodes.flatMap { node in
            (node.snapshot?.providers.first { $0.id == id }?.circuit.recentFailures ?? []).map { (node.name, $0.time, $0.reason) }
        }.sorted { $0.1 > $1.1 }
        if !failures.isEmpty, y + 2 < area.bottom {
            y += 1
            b.put("Recent failures", x: 0, y: y, role: .title)
            y += 1
            for (node, time, reason) in failures where y < area.bottom {
                b.put("\(clock(time))  \(Format.pad(node, 12, ascii: state.ascii))  \(reason)",
                      x: 0, y: y, role: .warn)
                y += 1
            }
        }
    }
}
