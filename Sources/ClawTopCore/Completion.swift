import ClawAdminAPI

/// The `:` line's Tab completion and its nearest-command suggestion: the words the command
/// language takes next, from the fleet's own names (providers, nodes, routes, clients, alerts).
public enum Completion {
    /// Each command with its arguments, as `?` lists them.
    public static let commands: [(verb: String, arguments: String)] = [
        ("drain", "provider ID | node ID"), ("undrain", "provider ID | node ID"),
        ("weight", "ROUTE PROVIDER=N ..."), ("strategy", "ROUTE " + routingStrategies.joined(separator: "|")),
        ("failover", "PROVIDER [to PROVIDER ...]"), ("restore", "PROVIDER"), ("sync", "NODE"), ("acknowledge", ""),
        ("block", "CLIENT"), ("unblock", "CLIENT"), ("limit", "CLIENT rpm=N tpm=N spend_per_day=D concurrency=N"),
        ("fault", "KIND provider ID DURATION [ratio=R] [status=N] [extra_ms=N]"), ("unfault", "provider ID"),
        ("drill", "KIND provider ID DURATION [ratio=R] [status=N] [extra_ms=N] [rto=30s]"), ("budget", "ROUTE off|DOLLARS [shift|refuse]"),
        ("silence", "ALERT[{label=value,...}] DURATION REASON"), ("unsilence", "ALERT[{label=value,...}]"), ("theme", "NAME"), ("timeline", ""), ("quit", ""),
    ]

    public static let themes = ["dark", "light", "high-contrast", "mono"]

    /// The words that may come after `before` (the words already typed, the verb first).
    public static func candidates(after before: [String], fleet: Fleet) -> [String] {
        let providers = fleet.rows.map(\.id)
        let nodes = fleet.nodes.map(\.name)
        let routes = unique(fleet.nodes.compactMap(\.snapshot).flatMap { $0.routes.map(\.alias) })
        let clients = unique(fleet.nodes.compactMap(\.snapshot).flatMap { ($0.clients ?? []).map(\.name) })
        guard let verb = before.first else { return commands.map(\.verb) }
        switch (verb, before.count) {
        case ("drain", 1), ("undrain", 1): return ["provider", "node"]
        case ("drain", 2), ("undrain", 2): return before[1] == "provider" ? providers : before[1] == "node" ? nodes : []
        case ("weight", 1), ("strategy", 1): return routes
        case ("weight", _): return providers.map { $0 + "=" }
        case ("strategy", 2): return routingStrategies
        case ("failover", 1), ("restore", 1): return providers
        case ("failover", 2): return ["to"]
        case ("failover", _): return before[2] == "to" ? providers.filter { !before.contains($0) } : []
        case ("sync", 1): return nodes
        case ("block", 1), ("unblock", 1), ("limit", 1): return clients
        case ("limit", _): return ["rpm=", "tpm=", "spend_per_day=", "concurrency="]
        case ("budget", 1): return routes
        case ("budget", 2): return ["off"]
        case ("budget", 3): return BudgetAction.allCases.map(\.rawValue)
        case ("fault", 1), ("drill", 1): return FaultKind.allCases.map(\.rawValue)
        case ("fault", 2), ("drill", 2), ("unfault", 1): return ["provider"]
        case ("fault", 3), ("drill", 3): return providers
        case ("unfault", 2):
            let faulted = fleet.rows.filter { $0.fault != nil }.map(\.id)
            return faulted.isEmpty ? providers : faulted
        case ("fault", 4), ("drill", 4): return ["30s", "1m", "2m", "5m"]
        case ("fault", _), ("drill", _):
            switch before[1] {
            case "error": return ["ratio=", "status="]
            case "latency": return ["extra_ms=", "ratio="]
            default: return ["ratio="] + (verb == "drill" ? ["rto="] : [])
            }
        case ("silence", 1): return fleet.monitor.alerts.map(\.selector)
        case ("unsilence", 1): return fleet.monitor.alerts.filter { !$0.silencedBy.isEmpty }.map(\.selector)
        case ("theme", 1): return themes
        default: return []
        }
    }

    /// Complete the last word of `text`: the one match and a space, or as far as every match
    /// agrees; `choices` lists them when there are several.
    public static func complete(_ text: String, fleet: Fleet) -> (text: String, choices: [String]) {
        var words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let current = text.isEmpty || text.hasSuffix(" ") ? "" : words.removeLast()
        let matches = unique(candidates(after: words, fleet: fleet).filter { $0.hasPrefix(current) })
        guard !matches.isEmpty else { return (text, []) }
        let head = words.isEmpty ? "" : words.joined(separator: " ") + " "
        if matches.count == 1 {
            let word = matches[0]
            return (head + word + (word.hasSuffix("=") ? "" : " "), [])
        }
        var common = matches[0]
        for m in matches.dropFirst() {
            while !m.hasPrefix(common) { common.removeLast() }
        }
        return (head + (common.count > current.count ? common : current), matches)
    }

    /// The `/` line's Tab: the names the pane in view filters by (providers, nodes, event
    /// subjects, alerts, clients) that start with what is typed (in any case), completed as far
    /// as they agree; `choices` lists them when there are several.
    public static func completeFilter(_ text: String, state: AppState) -> (text: String, choices: [String]) {
        let fleet = state.fleet
        let names: [String] = switch state.pane {
        case .overview, .providers, .cost: fleet.rows.map(\.id)
        case .nodes: fleet.nodes.map(\.name)
        case .routes: unique(fleet.nodes.compactMap(\.snapshot).flatMap { $0.routes.map(\.alias) })
        case .events: fleet.nodes.map(\.name) + unique(fleet.nodes.flatMap(\.events).map(\.subject)).sorted()
        case .alerts: unique(fleet.monitor.alerts.map(\.name))
        case .clients: unique(fleet.nodes.compactMap(\.snapshot).flatMap { ($0.clients ?? []).map(\.name) })
        case .requests: unique(fleet.nodes.flatMap(\.requests).flatMap { [$0.client, $0.route].compactMap { $0 } }).sorted()
        }
        let matches = unique(names.filter { $0.lowercased().hasPrefix(text.lowercased()) })
        guard let first = matches.first else { return (text, []) }
        if matches.count == 1 { return (first, []) }
        var common = Array(first.lowercased())
        for m in matches.dropFirst() {
            let other = Array(m.lowercased())
            var n = 0
            while n < common.count, n < other.count, common[n] == other[n] { n += 1 }
            common = Array(common.prefix(n))
        }
        return (common.count > text.count ? String(first.prefix(common.count)) : text, matches)
    }

    /// The command nearest a mistyped verb (at most two edits away), for "did you mean".
    public static func nearest(_ verb: String) -> String? {
        let verbs = commands.map(\.verb)
        if let prefixed = verbs.first(where: { $0.hasPrefix(verb) }), verb.count >= 2 { return prefixed }
        let scored = verbs.map { ($0, distance(verb, $0)) }.min { $0.1 < $1.1 }
        return scored.flatMap { $0.1 <= 2 ? $0.0 : nil }
    }

    /// Levenshtein distance.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in 1...max(1, b.count) where !b.isEmpty {
                let old = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = old
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }

    static func unique(_ list: [String]) -> [String] {
        var seen = Set<String>()
        return list.filter { seen.insert($0).inserted }
    }
}
