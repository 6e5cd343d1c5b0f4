import ClawAdminAPI

/// The fleet as the console sees it: every node's status, merged into per-provider rows and a summary.
public struct Fleet: Sendable, Equatable {
    public var nodes: [NodeStatus]
    /// A node whose last poll failed is `stale` while its data is younger than this, then `unreachable`.
    public var staleAfter: Double

    /// The merged provider rows, recomputed when a poll lands (not every frame).
    public private(set) var rows: [ProviderRow] = []
    /// With file stores, the nodes that drifted (see `drift()`), also recomputed when a poll lands.
    private(set) var driftFound: Drift?

    /// Prometheus and Alertmanager, when given.
    public var monitor = Monitor()

    public init(urls: [String], staleAfter: Double = 6) {
        nodes = urls.map(NodeStatus.init(url:))
        self.staleAfter = staleAfter
    }

    /// Merge the nodes' providers again; call after changing `nodes` or `monitor`. Prometheus's
    /// figures replace the nodes' own for every provider it has series for.
    public mutating func refresh() {
        rows = mergeProviders()
        driftFound = findDrift()
        guard let figures = monitor.shownFigures else { return }
        for index in rows.indices {
            guard let f = figures.providers[rows[index].id], let rps = f.rps else { continue }
            rows[index].errorRatio = f.errorRatio ?? 0
            rows[index].p50 = f.p50
            rows[index].p95 = f.p95
            rows[index].p99 = f.p99
            // Prometheus's rate over the last minute of a provider no node sends traffic to any
            // more is what it was, not what it is (Prometheus cannot tell the nodes apart here).
            if rows[index].servingNodes == 0 {
                (rows[index].rps, rows[index].idleRPS) = (0, rps)
                (rows[index].costPerHour, rows[index].idleCostPerHour) = (0, f.costPerHour ?? 0)
            } else {
                (rows[index].rps, rows[index].idleRPS) = (rps, 0)
                (rows[index].costPerHour, rows[index].idleCostPerHour) = (f.costPerHour ?? 0, 0)
            }
        }
    }

    /// Whether a provider in this state receives traffic on its node: not drained, ejected or
    /// failed over there. Its last minute's rate on a node where it does not is history.
    public static func receivesTraffic(_ state: ProviderState) -> Bool { ![.drained, .ejected, .failedOver].contains(state) }

    /// A node's requests per second and where the figure comes from: Prometheus's rate for the
    /// node's scrape target when the header's figures come from Prometheus and it has that
    /// series, else the node's own last minute (`fromNode` true: label it where Prometheus is the source).
    public func nodeRPS(_ node: NodeStatus) -> (rps: Double, fromNode: Bool)? {
        if let figures = monitor.shownFigures, let rps = figures.nodes[Self.instance(of: node.url)] { return (rps, false) }
        guard let s = node.snapshot else { return nil }
        return (s.routes.reduce(0) { $0 + $1.stats.oneMinute.requestsPerSecond }, true)
    }

    /// `http://127.0.0.1:8080/` -> `127.0.0.1:8080`: Prometheus's `instance` label for a node scraped at its URL.
    public static func instance(of url: String) -> String {
        var rest = Substring(url)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        return String(rest.prefix { $0 != "/" })
    }

    /// A provider across the nodes that report it.
    public struct ProviderRow: Sendable, Equatable {
        public var id: String
        /// The worst state any node reports.
        public var state: ProviderState
        public var circuit: CircuitState
        public var weight: Int
        public var configuredWeight: Int
        /// Its weight in every route and tier that has it (the first node's report): `weight` is the first of them.
        public var weights: [ProviderWeight] = []
        public var rps = 0.0
        public var errorRatio = 0.0
        public var p50: Double?
        public var p95: Double?
        public var p99: Double?
        public var ttft: Double?
        public var costPerHour = 0.0
        public var costToday = 0.0
        public var inFlight = 0
        /// The sum of the nodes' limits for this provider (0: not reported).
        public var maxInFlight = 0
        /// Answers over the last minute that were the clients' fault, summed over the nodes.
        public var clientErrors = 0
        public var nodes = 0
        /// How many nodes report each state and each circuit state: one node's open circuit is
        /// not the fleet's.
        public var stateNodes: [ProviderState: Int] = [:]
        public var circuitNodes: [CircuitState: Int] = [:]
        /// The wire format it speaks (openai, anthropic, gemini, azure_openai); nil from older nodes.
        public var kind: String?
        /// How many nodes send it traffic (it is not drained, ejected or failed over there): `rps`
        /// and `costPerHour` are summed over those nodes only.
        public var servingNodes = 0
        /// The last minute's requests per second and spend per hour on the nodes that no longer
        /// send it traffic: what it was, shown as `0 (1.1/1m)`, never as a current rate.
        public var idleRPS = 0.0
        public var idleCostPerHour = 0.0
        /// A drill's fault in force on it (as the first node that reports one has it), and on how many nodes.
        public var fault: InjectedFault?
        public var faultNodes = 0

        /// The worst state, with how many nodes are in it when not all are: "ejected 1/3".
        public var stateText: String { Self.counted(state.rawValue, stateNodes[state] ?? 0, nodes) }
        public var circuitText: String { Self.counted(circuit.rawValue, circuitNodes[circuit] ?? 0, nodes) }

        static func counted(_ word: String, _ count: Int, _ nodes: Int) -> String {
            count < nodes ? "\(word) \(count)/\(nodes)" : word
        }
    }

    /// What a route is left with on one node, when that is a problem: nothing (critical), only a
    /// tier after its first (degraded), or one provider where it has several (degraded).
    public enum RouteHealth: Sendable, Equatable {
        case none
        case belowFirstTier(Int, why: String)
        case single(String)
    }

    /// A provider is available to a route when its effective weight there is above zero (not
    /// drained, failed over or set to 0) and its circuit is not open.
    public static func routeHealth(_ route: Route, providers: [Provider]) -> RouteHealth? {
        let states = Dictionary(providers.map { ($0.id, $0.state) }, uniquingKeysWith: { a, _ in a })
        func available(_ t: Route.Target) -> Bool { t.effectiveWeight > 0 && states[t.provider] != .ejected }
        let configured = route.tiers.map { $0.filter { $0.configuredWeight > 0 } }
        let count = configured.joined().count
        guard count > 0 else { return nil }
        if route.panic { return RouteHealth.none }
        guard let serving = route.tiers.firstIndex(where: { $0.contains(where: available) }) else { return RouteHealth.none }
        let first = configured.firstIndex { !$0.isEmpty } ?? 0
        if serving > first {
            let why = configured[first].map { t in
                "\(t.provider) \(states[t.provider].map { $0 == .healthy || $0 == .degraded ? "weight 0" : $0.rawValue } ?? "unknown")"
            }.joined(separator: ", ")
            return .belowFirstTier(serving, why: why)
        }
        let left = route.tiers.joined().filter(available).map(\.provider)
        if count > 1, Set(left).count == 1 { return .single(left[0]) }
        return nil
    }


    /// Nodes whose data is current (not stale or unreachable).
    public func liveSnapshots(now: Double) -> [Snapshot] {
        nodes.compactMap { $0.error == nil ? $0.snapshot : nil }
    }

    public func providerRows(now: Double) -> [ProviderRow] { rows }

    func mergeProviders() -> [ProviderRow] {
        var rows: [String: ProviderRow] = [:]
        var order: [String] = []
        var requests: [String: (Int, Int)] = [:]
        for snapshot in nodes.compactMap(\.snapshot) {
            for p in snapshot.providers {
                if rows[p.id] == nil {
                    order.append(p.id)
                    rows[p.id] = ProviderRow(id: p.id, state: p.state, circuit: p.circuit.state,
                                             weight: p.weights.first?.effectiveWeight ?? 0, configuredWeight: p.weights.first?.configuredWeight ?? 0,
                                             weights: p.weights)
                }
                var row = rows[p.id]!
                if row.kind == nil { row.kind = p.kind }
                if let fault = p.fault {
                    if row.fault == nil { row.fault = fault }
                    row.faultNodes += 1
                }
                if p.state.severity > row.state.severity { row.state = p.state }
                if p.circuit.state.severity > row.circuit.severity { row.circuit = p.circuit.state }
                let m = p.stats.oneMinute
                if Self.receivesTraffic(p.state) {
                    row.servingNodes += 1
                    row.rps += m.requestsPerSecond
                    row.costPerHour += m.costPerHourDollars
                } else {
                    row.idleRPS += m.requestsPerSecond
                    row.idleCostPerHour += m.costPerHourDollars
                }
                row.costToday += p.costTodayDollars
                row.inFlight += p.inFlight
                row.maxInFlight += p.maxInFlight
                row.clientErrors += m.clientErrors
                row.p50 = Self.maxOptional(row.p50, m.latencyP50Seconds)
                row.p95 = Self.maxOptional(row.p95, m.latencyP95Seconds)
                row.p99 = Self.maxOptional(row.p99, m.latencyP99Seconds)
                row.ttft = Self.maxOptional(row.ttft, m.ttftP50Seconds)
                row.nodes += 1
                row.stateNodes[p.state, default: 0] += 1
                row.circuitNodes[p.circuit.state, default: 0] += 1
                let (r, e) = requests[p.id] ?? (0, 0)
                requests[p.id] = (r + m.requests, e + m.errors)
                rows[p.id] = row
            }
        }
        return order.map { id in
            var row = rows[id]!
            let (r, e) = requests[id]!
            row.errorRatio = r > 0 ? Double(e) / Double(r) : 0
            return row
        }
    }

    static func maxOptional(_ a: Double?, _ b: Double?) -> Double? {
        switch (a, b) {
        case (nil, let x), (let x, nil): x
        case (let x?, let y?): max(x, y)
        }
    }

    public struct Summary: Sendable, Equatable {
        public var nodesServing = 0
        public var nodesTotal = 0
        public var providersHealthy = 0
        public var providersTotal = 0
        public var rps = 0.0
        public var errorRatio = 0.0
        /// Upstream attempts that failed by the provider's fault over all attempts: errors the
        /// providers gave, those that failover hid from the clients included.
        public var providerFaultRatio = 0.0
        public var p99: Double?
        public var costPerHour = 0.0
        /// The oldest data among reachable nodes, in seconds.
        public var dataAge: Double?
        public var revisionDrift = false
        /// The fleet store, when the nodes use one: nil with file stores, else whether every node reaches it.
        public var storeReachable: Bool?

        public init() {}
    }

    public func summary(now: Double) -> Summary {
        var s = Summary()
        s.nodesTotal = nodes.count
        var requests = 0
        var errors = 0
        var attempts = 0
        var faults = 0
        var revisions = Set<Int>()
        for node in nodes {
            if node.health(now: now, staleAfter: staleAfter) == "serving" { s.nodesServing += 1 }
            if let age = node.age(now: now) { s.dataAge = max(s.dataAge ?? 0, age) }
            guard let snapshot = node.snapshot else { continue }
            revisions.insert(snapshot.node.revision)
            for route in snapshot.routes {
                let m = route.stats.oneMinute
                s.rps += m.requestsPerSecond
                requests += m.requests
                errors += m.errors
                s.p99 = Self.maxOptional(s.p99, m.latencyP99Seconds)
            }
            for provider in snapshot.providers {
                attempts += provider.stats.oneMinute.requests
                faults += provider.stats.oneMinute.errors
            }
        }
        let rows = providerRows(now: now)
        s.providersTotal = rows.count
        s.providersHealthy = rows.filter { $0.state == .healthy }.count
        s.costPerHour = rows.reduce(0) { $0 + $1.costPerHour }
        s.errorRatio = requests > 0 ? Double(errors) / Double(requests) : 0
        s.providerFaultRatio = attempts > 0 ? Double(faults) / Double(attempts) : 0
        // With a fleet store, a node behind it; with file stores, a node whose state differs.
        s.revisionDrift = usesStore ? revisions.count > 1 : drift() != nil
        let stores = nodes.compactMap { $0.snapshot?.node.store }.filter { $0.kind == .etcd }
        s.storeReachable = stores.isEmpty ? nil : stores.allSatisfy(\.reachable)
        if let figures = monitor.shownFigures, let rps = figures.rps {
            s.rps = rps
            s.errorRatio = figures.errorRatio ?? 0
            s.p99 = figures.p99
            if let ratio = figures.providerFaultRatio { s.providerFaultRatio = ratio }
        }
        return s
    }

    /// Monitoring-plugin status: 0 ok, 1 degraded, 2 critical, 3 unknown/unreachable. `reasons`
    /// are the problems, then one line per operator change in force (`changes`, the same in words):
    /// a change alone leaves the fleet OK; what it does to a route (served below its first tier,
    /// one provider left) makes it DEGRADED, and no provider left CRITICAL.
    public func status(now: Double) -> (code: Int32, word: String, reasons: [String], changes: [OperatorChange]) {
        let changes = OperatorChange.inForce(self, now: now)
        let notes = changes.map { "in force: " + $0.text(now: now) }
        let (code, word, reasons) = problems(now: now)
        return (code, word, reasons + notes, changes)
    }

    func problems(now: Double) -> (code: Int32, word: String, reasons: [String]) {
        var reasons: [String] = []
        // A node or Alertmanager that does not answer makes the status unknown, unless what does
        // answer is critical: a critical fleet with a node down is still critical.
        var unknown: [String] = []
        let unreachable = nodes.filter { ["unreachable", "stale", "incompatible"].contains($0.health(now: now, staleAfter: staleAfter)) }
        unknown += unreachable.map { node in
            let why = node.incompatible.map { "its snapshot does not decode at \($0)" } ?? node.error ?? ""
            return "node \(node.name) is \(node.health(now: now, staleAfter: staleAfter))\(why.isEmpty ? "" : ": \(why)")"
        }
        if monitor.alertmanagerURL != nil, let error = monitor.alertmanagerError {
            unknown.append("alertmanager \(monitor.alertmanagerURL!): \(error)")
        }
        // Only what answered counts; an unreachable node's last snapshot is old news.
        let snapshots = nodes.filter { node in !unreachable.contains { $0.url == node.url } }.compactMap(\.snapshot)
        var critical = false
        var degraded = false
        // Critical alerts make the fleet critical, warnings (and errors) degraded; info does not count.
        for alert in monitor.firing where ["critical", "error", "warning"].contains(alert.severity) {
            if alert.severity == "critical" { critical = true } else { degraded = true }
            reasons.append("alert \(naming(alert.selector)) (\(alert.severity)) is firing\(alert.summary.isEmpty ? "" : ": \(naming(alert.summary))")")
        }
        if !snapshots.isEmpty, snapshots.allSatisfy({ $0.node.state != .serving }) {
            critical = true
            reasons.append("no node is serving")
        }
        // What the routes are left with, the same finding on several nodes said once, naming them.
        var routeFindings: [(text: String, critical: Bool, nodes: [String])] = []
        func found(_ text: String, critical: Bool, node: String) {
            if let i = routeFindings.firstIndex(where: { $0.text == text }) { routeFindings[i].nodes.append(node) } else { routeFindings.append((text, critical, [node])) }
        }
        for snapshot in snapshots {
            for route in snapshot.routes {
                switch Self.routeHealth(route, providers: snapshot.providers) {
                case .none?: found("route \(route.alias) has no available provider\(route.panic ? " (panic routing)" : "")", critical: true, node: snapshot.node.id)
                case .belowFirstTier(let tier, let why)?:
                    found("route \(route.alias) is served by its backup tier \(tier) (its first tier: \(why))", critical: false, node: snapshot.node.id)
                case .single(let provider)?:
                    found("route \(route.alias) is left with a single available provider (\(provider))", critical: false, node: snapshot.node.id)
                case nil: break
                }
            }
        }
        for finding in routeFindings {
            if finding.critical { critical = true } else { degraded = true }
            let on = snapshots.count > 1 ? " on \(finding.nodes.count)/\(snapshots.count) nodes (\(finding.nodes.joined(separator: ", ")))" : " on \(finding.nodes[0])"
            reasons.append(finding.text + on)
        }
        for snapshot in snapshots {
            if snapshot.node.state != .serving {
                degraded = true
                reasons.append("node \(snapshot.node.id) is \(snapshot.node.state.rawValue)")
            }
        }
        // Operator state the nodes do not agree on: a node behind the fleet store, or, with file
        // stores, a node whose drains, weights or failovers differ from the others'.
        if usesStore {
            let highest = snapshots.map(\.node.revision).max() ?? 0
            for snapshot in snapshots where snapshot.node.revision < highest {
                degraded = true
                reasons.append("node \(snapshot.node.id) is at revision \(snapshot.node.revision), the highest is \(highest) (behind the fleet store)")
            }
        } else if let (reference, drifted) = drift() {
            degraded = true
            let ref = nodes[reference]
            for index in drifted {
                let node = nodes[index]
                reasons.append("node \(node.name) drifted: its operator state (revision \(node.snapshot!.node.revision): \(OperatorContent(node.snapshot!).summary)) "
                               + "differs from \(ref.name)'s (revision \(ref.snapshot!.node.revision): \(OperatorContent(ref.snapshot!).summary)); "
                               + "`:sync \(ref.name)` copies \(ref.name)'s to the others")
            }
        }
        for snapshot in snapshots where snapshot.node.store.kind == .etcd {
            if !snapshot.node.store.reachable {
                degraded = true
                reasons.append("node \(snapshot.node.id) cannot reach the fleet store\(snapshot.node.store.error.map { ": \($0)" } ?? "") (it serves its last state; writes are refused)")
            } else if let error = snapshot.node.store.error {
                // It answers, but something is wrong with what it holds (wiped, say).
                degraded = true
                reasons.append("node \(snapshot.node.id): \(error)")
            }
        }
        // The fleet's state changed in etcd without any node's admin API: in effect, but no audit
        // record says who or why, until an operator acknowledges it. Said once for the fleet.
        let unaudited = Set(snapshots.filter { $0.node.store.kind == .etcd }.flatMap(\.node.store.unaudited)).sorted()
        if !unaudited.isEmpty {
            degraded = true
            let which = unaudited.count == 1 ? "revision \(unaudited[0]) was" : "revisions \(unaudited.map(String.init).joined(separator: ", ")) were"
            reasons.append("the fleet state's \(which) written straight into etcd, not through a node's admin API (no audit record says who or why); "
                           + "it is in effect: acknowledge it with `:acknowledge` (POST /admin/v1/store/acknowledge)")
        }
        // Drained and failed-over are operator changes, listed as such; what they do to a route is
        // judged above. A provider in trouble on any node is degraded, with how many nodes say so.
        for row in providerRows(now: now) where ![.healthy, .drained, .failedOver].contains(row.state) {
            degraded = true
            let count = row.stateNodes[row.state] ?? 0
            reasons.append("provider \(row.id) is \(row.state.rawValue)\(count < row.nodes ? " on \(count)/\(row.nodes) nodes" : "")")
        }
        if critical { return (2, "critical", unknown + reasons) }
        if !unknown.isEmpty { return (3, "unknown", unknown) }
        if degraded { return (1, "degraded", reasons) }
        return (0, "ok", reasons)
    }
}

extension ProviderState {
    /// How bad it is, for the worst state across nodes: a word from a newer gateway counts as
    /// trouble (it is shown, and ranks above probing) but not as the worst.
    public var severity: Int {
        switch self {
        case .healthy: 0
        case .degraded: 1
        case .probing: 2
        case .other: 3
        case .failedOver, .drained: 4
        case .ejected: 5
        }
    }
}

extension CircuitState {
    /// How bad it is, for the worst circuit across nodes; an unknown word ranks between probing and open.
    public var severity: Int {
        switch self {
        case .closed: 0
        case .probing: 1
        case .other: 2
        case .open: 3
        }
    }
}
