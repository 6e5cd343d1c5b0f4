import ClawAdminAPI

/// The lists the screen shows and the keys act on, derived from the state: the view draws them
/// and the reducer selects in them, so the two always agree on what row N is.
public enum Selectors {
    public static func filteredNodes(_ state: AppState) -> [NodeStatus] {
        guard !state.filter.isEmpty else { return state.fleet.nodes }
        return state.fleet.nodes.filter { $0.name.localizedCaseInsensitiveContains(state.filter) || $0.url.contains(state.filter) }
    }

    public static func sortedProviders(_ state: AppState) -> [Fleet.ProviderRow] {
        var rows = state.fleet.providerRows(now: state.now)
        if !state.filter.isEmpty { rows = rows.filter { $0.id.localizedCaseInsensitiveContains(state.filter) } }
        let sorted: [Fleet.ProviderRow] = switch state.sort {
        case .name: rows.sorted { $0.id < $1.id }
        case .state: rows.sorted { ($0.state.severity, $0.id) > ($1.state.severity, $1.id) }
        case .rps: rows.sorted { $0.rps > $1.rps }
        case .errors: rows.sorted { $0.errorRatio > $1.errorRatio }
        case .p99: rows.sorted { ($0.p99 ?? 0) > ($1.p99 ?? 0) }
        case .cost: rows.sorted { $0.costPerHour > $1.costPerHour }
        }
        return state.sortReversed ? sorted.reversed() : sorted
    }

    /// The title of the column a sort orders by, in the provider tables.
    public static func sortTitle(_ sort: ProviderSort) -> [String] {
        switch sort {
        case .name: ["PROVIDER"]
        case .state: ["STATE"]
        case .rps: ["RPS"]
        case .errors: ["ERR%", "ERR"]
        case .p99: ["P99"]
        case .cost: ["$/H"]
        }
    }

    /// One line per route tier entry: "alias  tier  provider  bar weight".
    /// One provider of one tier of a route, as the Routes pane shows it.
    public struct RouteLine: Sendable, Equatable {
        public var alias: String
        public var tier: Int
        public var entry: Route.Target
        public var panic: Bool
        /// The route's strategy (nil: a node older than strategies).
        public var strategy: String?
        /// The provider's score in the route's latest decision, when the strategy scores.
        public var score: Double?
    }

    public static func routeLines(_ state: AppState) -> [RouteLine] {
        guard let snapshot = state.fleet.nodes.compactMap(\.snapshot).first else { return [] }
        var lines: [RouteLine] = []
        for route in snapshot.routes {
            for (tier, entries) in route.tiers.enumerated() {
                for entry in entries {
                    let score = route.decision.flatMap { d in d.tier == tier ? d.candidates.first { $0.provider == entry.provider }?.score : nil }
                    lines.append(RouteLine(alias: route.alias, tier: tier, entry: entry, panic: route.panic, strategy: route.strategy, score: score))
                }
            }
        }
        return lines
    }

    public static func filteredAlerts(_ state: AppState) -> [AlertInfo] {
        let alerts = state.fleet.monitor.alerts
        guard !state.filter.isEmpty else { return alerts }
        return alerts.filter { "\($0.selector) \($0.severity) \($0.summary)".localizedCaseInsensitiveContains(state.filter) }
    }


    /// A client across the nodes that report it: use summed, limits and how close (the node
    /// nearest a limit), blocked if any node says so.
    public struct ClientRow: Sendable, Equatable {
        public var name: String
        public var blocked: Bool
        public var requests1m: Int
        public var tokens1m: Int
        public var spendPerHour: Double
        public var spendToday: Double
        public var inFlight: Int
        public var refused: Int
        public var limits: ClientStatus.Limits
        /// The highest share of a limit any node is at (0..1+), and which limit.
        public var nearest: (share: Double, limit: String)?

        public static func == (a: ClientRow, b: ClientRow) -> Bool { a.name == b.name && a.requests1m == b.requests1m && a.blocked == b.blocked }
        public var rps: Double { Double(requests1m) / 60 }
    }

    /// Clients sorted by spend per hour (the last minute's rate), then requests per second, then spend today.
    public static func clientRows(_ state: AppState) -> [ClientRow] {
        var rows: [String: ClientRow] = [:]
        for snapshot in state.fleet.nodes.compactMap(\.snapshot) {
            for c in snapshot.clients ?? [] {
                var row = rows[c.name] ?? ClientRow(name: c.name, blocked: false, requests1m: 0, tokens1m: 0, spendPerHour: 0, spendToday: 0, inFlight: 0, refused: 0, limits: c.limits)
                row.blocked = row.blocked || c.blocked
                row.requests1m += c.requests1m
                row.tokens1m += c.tokens1m
                row.spendToday += c.spendTodayDollars
                row.spendPerHour += c.spendPerHourDollars
                row.inFlight += c.inFlight
                row.refused += c.refused
                for (name, used, limit) in [("rpm", Double(c.requests1m), c.limits.rpm.map(Double.init)), ("tpm", Double(c.tokens1m), c.limits.tpm.map(Double.init)),
                                            ("spend/day", c.spendTodayDollars, c.limits.spendPerDay), ("concurrency", Double(c.inFlight), c.limits.concurrency.map(Double.init))] {
                    guard let limit, limit > 0 else { continue }
                    if used / limit > (row.nearest?.share ?? -1) { row.nearest = (used / limit, name) }
                }
                rows[c.name] = row
            }
        }
        var list = Array(rows.values)
        if !state.filter.isEmpty { list = list.filter { $0.name.localizedCaseInsensitiveContains(state.filter) } }
        return list.sorted { ($0.spendPerHour, $0.requests1m, $0.spendToday, $1.name) > ($1.spendPerHour, $1.requests1m, $1.spendToday, $0.name) }
    }

    /// One request of one node, as the Requests pane lists it.
    public struct RequestRow: Sendable, Equatable {
        public var key: RequestKey
        public var node: String
        public var record: RequestRecord
    }

    /// Every node's recent requests, newest first, merged by time; `/` keeps those whose client,
    /// route, status, outcome, request id or trace id contains the filter.
    public static func requestRows(_ state: AppState) -> [RequestRow] {
        var rows: [RequestRow] = []
        for (index, node) in state.fleet.nodes.enumerated() {
            for record in node.requests {
                rows.append(RequestRow(key: RequestKey(node: index, sequence: record.sequence), node: node.name, record: record))
            }
        }
        if !state.filter.isEmpty {
            rows = rows.filter { row in
                let r = row.record
                return [r.client ?? "", r.route, String(r.status), r.outcome, r.requestID, r.traceID, row.node, r.served ?? ""]
                    .contains { $0.localizedCaseInsensitiveContains(state.filter) }
            }
        }
        return rows.sorted { ($0.record.time, $0.key.node, $0.key.sequence) > ($1.record.time, $1.key.node, $1.key.sequence) }
    }

    /// The request a key names, if the console still holds it.
    public static func request(_ state: AppState, _ key: RequestKey) -> RequestRow? {
        guard state.fleet.nodes.indices.contains(key.node) else { return nil }
        let node = state.fleet.nodes[key.node]
        return node.requests.first { $0.sequence == key.sequence }.map { RequestRow(key: key, node: node.name, record: $0) }
    }
}
