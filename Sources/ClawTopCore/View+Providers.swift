import ClawAdminAPI
import Foundation

/// Pane 1: providers, merged across nodes; Enter opens the detail.
extension View {
    static func providers(_ state: AppState, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int)) {
        let sorted = Selectors.sortedProviders(state)
        let weights = sorted.map(weightsText)
        let names = sorted.map { providerName($0, state) }
        let columns = [
            Column(title: "PROVIDER", width: figureWidth(14, names), right: false, priority: 0),
            Column(title: "STATE", width: 11, right: false, priority: 1),
            Column(title: "CIRCUIT", width: 9, right: false, priority: 5),
            // Each route's weight, named: one route's alone would hide what the others give it.
            Column(title: "WEIGHTS", width: min(24, figureWidth(7, weights)), right: false, priority: 4),
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
        let rows: [[(String, Role)]] = zip(sorted, zip(names, weights)).map { p, text in
            [
                (text.0, p.fault != nil ? .warn : .normal), (p.stateText, stateRole(p.state)), (p.circuitText, stateRole(p.circuit)), (text.1, .normal),
                (rpsText(p), p.servingNodes == 0 ? .dim : .normal), (Format.percent(p.errorRatio), p.errorRatio > 0.05 ? .crit : .normal),
                (Format.seconds(p.p50), .normal), (Format.seconds(p.p95), .normal), (Format.seconds(p.p99), .normal),
                (Format.seconds(p.ttft), .normal), (Format.dollars(p.costPerHour), p.servingNodes == 0 ? .dim : .normal),
                saturation(p.inFlight, p.maxInFlight), (Self.kindLabel(p.kind), .dim),
            ]
        }
        // The table takes the rows it needs; the rows under it show the selected provider's detail.
        let index = state.selected(.providers)
        let bottom = tableBottom(area, rows: rows.count, room: 8)
        table(&b, (area.top, bottom), columns: markSort(columns, state), rows: rows, selected: index, ascii: state.ascii)
        guard bottom < area.bottom, sorted.indices.contains(index) else { return }
        let id = sorted[index].id
        providerDetail(state, id, &b, (bottom + 1, area.bottom), title: "\(id): detail (Enter shows it alone)")
    }

    /// Where a table that needs `rows` rows ends when the rows under it hold a detail: its own
    /// rows when at least `room` are left under it, else the whole area.
    static func tableBottom(_ area: (top: Int, bottom: Int), rows: Int, room: Int) -> Int {
        // An empty table keeps a row for its "(nothing yet)".
        let rows = max(1, rows)
        return area.bottom - area.top - rows - 1 - 1 >= room ? area.top + rows + 1 : area.bottom
    }

    /// A provider's weight in each route that has it: `chat 30 batch 80` (`reasoning/1 50` for tier 1).
    static func weightsText(_ row: Fleet.ProviderRow) -> String {
        row.weights.isEmpty ? String(row.weight) : row.weights.map { "\($0.route)\($0.tier > 0 ? "/\($0.tier)" : "") \($0.effectiveWeight)" }.joined(separator: " ")
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
        let kind = state.fleet.rows.first(where: { $0.id == id })?.kind.map { "  kind \($0)" } ?? ""
        // The wall has no Esc: it cycles by itself.
        providerDetail(state, id, &b, area, title: "Provider \(id)\(kind)" + (state.wall == nil ? "  (Esc back)" : ""))
    }

    /// A sparkline with its scale after it: `▁▃▅█  0..1.2s`.
    public static func scaledSparkline(_ values: [Double], width: Int, format: (Double) -> String, ascii: Bool) -> String {
        let shown = Array(values.suffix(width))
        let top = shown.max() ?? 0
        return sparkline(shown, width: width, ascii: ascii) + (top > 0 ? "  0..\(format(top))" : "")
    }

    /// A provider's figures, sparklines, breaker on every node and recent failures, then the
    /// events about it, in `area` under `title`.
    static func providerDetail(_ state: AppState, _ id: String, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int), title: String) {
        var y = area.top
        b.put(title, x: 0, y: y, role: .title, maxWidth: b.width)
        y += 1
        if let row = state.fleet.rows.first(where: { $0.id == id }), let fault = row.fault {
            b.put("DRILL: \(fault.summary) until \(clock(fault.until)) UTC (\(Format.duration(max(0, fault.until - state.now))) left) on \(row.faultNodes)/\(row.nodes) nodes"
                  + (fault.actor.map { ", set by \($0)" } ?? "") + (fault.reason.map { ": \($0)" } ?? ""), x: 0, y: y, role: .warn, maxWidth: b.width)
            y += 1
        }
        if let row = state.fleet.rows.first(where: { $0.id == id }) {
            b.put("state \(row.stateText)  circuit \(row.circuitText)  \(rpsText(row)) req/s  err \(Format.percent(row.errorRatio))  p50 \(Format.seconds(row.p50))  p99 \(Format.seconds(row.p99))  \(costText(row))/h  weights \(weightsText(row))",
                  x: 0, y: y, role: stateRole(row.state), maxWidth: b.width)
            if row.idleRPS > 0 || row.idleCostPerHour > 0 {
                y += 1
                let idle = row.nodes - row.servingNodes
                b.put("not serving on \(idle)/\(row.nodes) nodes: \(Format.rate(row.idleRPS)) req/s, \(Format.dollars(row.idleCostPerHour))/h over the last minute there, not counted as current",
                      x: 0, y: y, role: .dim, maxWidth: b.width)
            }
        }
        y += 2
        // The graphs get the rows that the breaker table, the recent failures and the events
        // about it (up to 10) do not need.
        let failureCount = state.fleet.nodes.reduce(0) { $0 + ($1.snapshot?.providers.first { $0.id == id }?.circuit.recentFailures.count ?? 0) }
        let eventRows = min(10, max(1, Selectors.eventLines(state).filter { Self.concerns($0, id) }.count)) + 2
        let needs = state.fleet.nodes.count + 1 + (failureCount > 0 ? min(failureCount, 5) + 2 : 0) + eventRows + 1
        let chartHeight = area.bottom - y - needs - 1
        if chartHeight >= 5 {
            // Room for graphs: latency and spend side by side, on the overview's time axis.
            let width = (b.width - graphGap) / 2
            seriesChart(state, &b, Rect(x: 0, y: y, width: width, height: chartHeight), title: "latency p50", values: state.latencyHistory[id] ?? [],
                        peak: true, format: { Format.seconds($0) })
            seriesChart(state, &b, Rect(x: width + graphGap, y: y, width: width, height: chartHeight), title: "spend/h", values: state.costHistory[id] ?? [],
                        peak: false, format: { Format.dollars($0) })
            y += chartHeight + 1
        } else {
            // Else sparklines, each with its scale, from zero to the highest value shown.
            let width = max(10, b.width - 30)
            if y < area.bottom {
                b.put("latency p50", x: 0, y: y, role: .dim)
                b.put(scaledSparkline(state.latencyHistory[id] ?? [], width: width, format: { Format.seconds($0) }, ascii: state.ascii), x: 14, y: y, role: .bar, maxWidth: b.width - 14)
                y += 1
            }
            if y < area.bottom {
                b.put("cost $/h", x: 0, y: y, role: .dim)
                b.put(scaledSparkline(state.costHistory[id] ?? [], width: width, format: { Format.dollars($0) }, ascii: state.ascii), x: 14, y: y, role: .bar, maxWidth: b.width - 14)
                y += 2
            }
        }
        // Its breaker and figures on every node: one node's open circuit is not the fleet's.
        if y < area.bottom {
            b.put(Format.pad("NODE", 14) + " " + Format.pad("STATE", 11) + " " + Format.pad("CIRCUIT", 9) + " " + Format.pad("FAILS", 5, right: true) + " "
                  + Format.pad("EJECT", 5, right: true) + " " + Format.pad("RPS", 6, right: true) + " " + Format.pad("ERR", 6, right: true) + " "
                  + Format.pad("P99", 6, right: true) + "  " + "WHY / UNTIL", x: 0, y: y, role: .title, maxWidth: b.width)
            y += 1
        }
        for node in state.fleet.nodes where y < area.bottom {
            guard let p = node.snapshot?.providers.first(where: { $0.id == id }) else { continue }
            let c = p.circuit
            let m = p.stats.oneMinute
            var why = c.reason ?? ""
            if let until = c.openUntil { why += "  until \(clock(until))" }
            b.put(Format.pad(node.name, 14, ascii: state.ascii) + " " + Format.pad(p.state.rawValue, 11) + " " + Format.pad(c.state.rawValue, 9) + " " + Format.pad(String(c.consecutiveFailures), 5, right: true)
                  + " " + Format.pad(String(c.ejections), 5, right: true) + " " + Format.pad(Format.rate(m.requestsPerSecond), 6, right: true)
                  + " " + Format.pad(Format.percent(m.errorRatio), 6, right: true) + " " + Format.pad(Format.seconds(m.latencyP99Seconds), 6, right: true)
                  + "  " + why, x: 0, y: y, role: stateRole(c.state), maxWidth: b.width)
            y += 1
        }
        let failures = state.fleet.nodes.flatMap { node in
            (node.snapshot?.providers.first { $0.id == id }?.circuit.recentFailures ?? []).map { (node.name, $0.time, $0.reason) }
        }.sorted { $0.1 > $1.1 }
        if !failures.isEmpty, y + 2 < area.bottom {
            y += 1
            b.put("Recent failures", x: 0, y: y, role: .title)
            y += 1
            for (node, time, reason) in failures.prefix(max(1, (area.bottom - y) / 2)) where y < area.bottom {
                b.put("\(clock(time))  \(Format.pad(node, 12, ascii: state.ascii))  \(reason)",
                      x: 0, y: y, role: .warn, maxWidth: b.width)
                y += 1
            }
        }
        // The rest: what happened to it, newest first.
        eventList(state, &b, Rect(x: 0, y: y + 1, width: b.width, height: area.bottom - y - 1), title: "EVENTS about \(id)") { Self.concerns($0, id) }
    }
}
