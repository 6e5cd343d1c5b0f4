import ClawAdminAPI
import Foundation

/// Pane 3: routes, tier by tier, with wanted and actual shares.
extension View {
    static func bar(_ value: Int, max: Int, width: Int, ascii: Bool) -> String {
        guard max > 0, width > 0 else { return "" }
        let filled = Int((Double(value) / Double(max) * Double(width)).rounded())
        return String(repeating: ascii ? "#" : "█", count: filled) + String(repeating: ascii ? "." : "░", count: width - filled)
    }

    static func routes(_ state: AppState, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int)) {
        let lines = Selectors.routeLines(state)
        var columns = [
            Column(title: "ROUTE", width: 12, right: false, priority: 0),
            Column(title: "STRATEGY", width: 17, right: false, priority: 2),
            Column(title: "TIER", width: 4, right: true, priority: 1),
            Column(title: "PROVIDER", width: 14, right: false, priority: 0),
            Column(title: "WEIGHT", width: 7, right: true, priority: 5),
            Column(title: "EFFECTIVE", width: 18, right: false, priority: 3),
            Column(title: "SCORE", width: 8, right: true, priority: 4),
            Column(title: "WANT", width: 6, right: true, priority: 2),
            Column(title: "GOT 1M", width: 7, right: true, priority: 1),
            Column(title: "BY API 1M", width: 36, right: false, priority: 6),
        ]
        let budgets = Dictionary(state.fleet.budgets().map { ($0.route, $0) }, uniquingKeysWith: { a, _ in a })
        if !budgets.isEmpty { columns.insert(Column(title: "BUDGET $/H", width: 34, right: false, priority: 3), at: 3) }
        let byEndpoint = state.fleet.requestsByEndpoint()
        var firstLine = Set<String>()
        // The share each provider should get: by weight, its effective weight over its tier's (the
        // first tier with weight serves); with another strategy, its share of the strategy's choices
        // in the last minute. What it got comes from the node's count of the last minute.
        var tierTotals: [String: Int] = [:]
        for line in lines { tierTotals["\(line.alias)/\(line.tier)", default: 0] += line.entry.effectiveWeight }
        let maxWeight = lines.map { max($0.entry.configuredWeight, $0.entry.effectiveWeight) }.max() ?? 1
        let rows: [[(String, Role)]] = lines.map { line in
            let entry = line.entry
            let total = tierTotals["\(line.alias)/\(line.tier)"] ?? 0
            let byWeight = line.strategy == nil || line.strategy == "weighted"
            var want = byWeight ? (line.tier == 0 && total > 0 ? Double(entry.effectiveWeight) / Double(total) : nil) : entry.wantedShare
            // For a minute after an action: what its preview predicted, marked with *.
            let expected = state.expected[line.alias].flatMap { state.now < $0.until ? $0.shares : nil }
            if let expected { want = expected[entry.provider] ?? 0 }
            let got = entry.actualShare
            let skewed = want.map { w in abs(w - (got ?? 0)) > 0.15 } ?? ((got ?? 0) > 0.15)
            let first = !firstLine.contains(line.alias)
            var cells: [(String, Role)] = [
                (line.alias + (line.panic ? " PANIC" : ""), line.panic ? .crit : .normal), (line.strategy ?? "weighted", byWeight ? .dim : .normal),
                (String(line.tier), .normal), (entry.provider, .normal),
                (String(entry.configuredWeight), .dim),
                (bar(entry.effectiveWeight, max: maxWeight, width: 12, ascii: state.ascii) + " " + String(entry.effectiveWeight),
                 entry.effectiveWeight == 0 ? .warn : .bar),
                (line.score.map(Self.score) ?? "-", .dim),
                (want.map { Format.percent($0) + (expected != nil ? "*" : "") } ?? "-", expected != nil ? .normal : .dim),
                (got.map { Format.percent($0) } ?? "-", skewed && got != nil ? .warn : .normal),
                // The route's requests by the API called, on its first line.
                (firstLine.insert(line.alias).inserted ? Fleet.endpointText(byEndpoint[line.alias]) : "", .dim),
            ]
            if !budgets.isEmpty {
                cells.insert(first ? budgets[line.alias].map { budgetCell($0, width: 10, ascii: state.ascii) } ?? ("-", .dim) : ("", .dim), at: 3)
            }
            return cells
        }
        // The table takes the rows it needs; under it what `*` means, then the selected route.
        let want = budgets.isEmpty ? 7 : 8  // the BUDGET column, when there, comes before it
        let predicted = rows.contains { $0[want].0.hasSuffix("*") }
        let index = state.selected(.routes)
        let bottom = tableBottom(area, rows: rows.count, room: 5)
        table(&b, (area.top, bottom - (predicted && bottom == area.bottom ? 1 : 0)), columns: columns, rows: rows, selected: index, ascii: state.ascii)
        var y = bottom
        if predicted {
            if bottom == area.bottom { y -= 1 } else { y += 1 }
            b.put(predictedNote, x: 0, y: y, role: .dim, maxWidth: b.width)
            y += 1
        }
        guard bottom < area.bottom, lines.indices.contains(index),
              let route = state.fleet.nodes.compactMap(\.snapshot).first?.routes.first(where: { $0.alias == lines[index].alias }) else { return }
        y += 1
        b.put("route \(route.alias): detail", x: 0, y: y, role: .title, maxWidth: b.width)
        y += 1
        var text: [(String, Role)] = []
        let m = route.stats.oneMinute
        text.append(("strategy \(route.strategy ?? "weighted")  \(Format.rate(m.requestsPerSecond)) req/s  err \(Format.percent(m.errorRatio))  p99 \(Format.seconds(m.latencyP99Seconds))  "
                     + "\(Format.dollars(m.costPerHourDollars))/h" + (route.panic ? "  PANIC: no available provider" : ""), route.panic ? .crit : .normal))
        for (tier, entries) in route.tiers.enumerated() {
            text.append(("tier \(tier): " + entries.map { "\($0.provider) \($0.effectiveWeight)\($0.effectiveWeight != $0.configuredWeight ? " (configured \($0.configuredWeight))" : "")" }.joined(separator: ", "), .normal))
        }
        if let decision = route.decision {
            text.append(("latest decision: tier \(decision.tier), " + decision.candidates.map { c in "\(c.provider)" + (c.score.map { " " + Self.score($0) } ?? "") }.joined(separator: ", "), .dim))
        }
        // What every node says of it, when they do not agree.
        let panics = state.fleet.nodes.compactMap(\.snapshot).filter { s in s.routes.contains { $0.alias == route.alias && $0.panic } }.map(\.node.id)
        if !panics.isEmpty { text.append(("in panic on " + panics.joined(separator: ", "), .crit)) }
        for (line, role) in text where y < area.bottom {
            b.put(line, x: 0, y: y, role: role, maxWidth: b.width)
            y += 1
        }
        let members = Set(route.tiers.joined().map(\.provider))
        let about = { (line: Selectors.EventLine) in Self.concerns(line, route.alias) || members.contains { Self.concerns(line, $0) } }
        let events = min(10, max(1, Selectors.eventLines(state).filter(about).count)) + 2
        y += 1
        y += trendChart(state, &b, Rect(x: 0, y: y, width: b.width, height: area.bottom - y), key: "route:" + route.alias, title: "\(route.alias) requests/s", needs: events)
        eventList(state, &b, Rect(x: 0, y: y, width: b.width, height: area.bottom - y), title: "EVENTS about \(route.alias) and its providers", about: about)
    }

    /// A route's budget as a bar of its cost against it, the figures, and the guard when in force:
    /// `██████░░░░ $12.0/$20.0` (`OVER shift` once past it and guarded).
    static func budgetCell(_ budget: Fleet.RouteBudgetView, width: Int, ascii: Bool) -> (String, Role) {
        let used = min(1, budget.used)
        let filled = Int((used * Double(width)).rounded())
        let bar = String(repeating: ascii ? "#" : "█", count: filled) + String(repeating: ascii ? "." : "░", count: width - filled)
        var text = "\(bar) \(Format.dollars(budget.costPerHour))/\(Format.dollars(budget.perHour))"
        if let guarded = budget.guardInForce { text += " OVER \(guarded.action.rawValue)" }
        let role: Role = budget.guardInForce != nil || budget.used > 1 ? .crit : budget.used >= 0.9 ? .warn : .bar
        return (text, role)
    }

    /// What `*` after a share means, under the Routes table, in the footer and in `?`.
    static let predictedNote = "* WANT predicted by your last action's preview (for a minute after it); GOT 1M is what the nodes counted"

    /// A strategy's score in four significant digits (lower wins).
    static func score(_ value: Double) -> String {
        value >= 1000 ? String(format: "%.0f", value) : String(format: "%.4g", value)
    }
}
