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
        table(&b, area, columns: columns, rows: rows, selected: state.selected(.routes), ascii: state.ascii)
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

    /// A strategy's score in four significant digits (lower wins).
    static func score(_ value: Double) -> String {
        value >= 1000 ? String(format: "%.0f", value) : String(format: "%.4g", value)
    }
}
