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
            rows[index].rps = rps
            rows[index].errorRatio = f.errorRatio ?? 0
            rows[index].p50 = f.p50
            rows[index].p95 = f.p95
            rows[index].p99 = f.p99
            rows[index].costPerHour = f.costPerHour ?? 0
        }
    }

    /// A provider across the nodes that report it.
    public struct ProviderRow: Sendable, Equatable {
        public var id: String
        /// The worst state any node reports.
        public var state: String
        public var circuit: String
        public var weight: Int
        public var configuredWeight: Int
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
    }

    static let stateRank = ["healthy": 0, "degraded": 1, "probing": 2, "failed-over": 3, "drained": 3, "ejected": 4]
    static let circuitRank = ["closed": 0, "probing": 1, "open": 2]

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
                    rows[p.id] = ProviderRow(id: p.id, state: p.state.rawValue, circuit: p.circuit.state.rawValue,
                                             weight: p.weights.first?.effectiveWeight ?? 0, configuredWeight: p.weights.first?.configuredWeight ?? 0)
                }
                var row = rows[p.id]!
                if (Self.stateRank[p.state.rawValue] ?? 0) > (Self.stateRank[row.state] ?? 0) { row.state = p.state.rawValue }
                if (Self.circuitRank[p.circuit.state.rawValue] ?? 0) > (Self.circuitRank[row.circuit] ?? 0) { row.circuit = p.circuit.state.rawValue }
                let m = p.stats.oneMinute
                row.rps += m.requestsPerSecond
                row.costPerHour += m.costPerHourDollars
                row.costToday += p.costTodayDollars
                row.inFlight += p.inFlight
                row.maxInFlight += p.maxInFlight
                row.clientErrors += m.clientErrors
                row.p50 = Self.maxOptional(row.p50, m.latencyP50Seconds)
                row.p95 = Self.maxOptional(row.p95, m.latencyP95Seconds)
                row.p99 = Self.maxOptional(row.p99, m.latencyP99Seconds)
                row.ttft = Self.maxOptional(row.ttft, m.ttftP50Seconds)
                row.nodes += 1
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
        public var p99: Double?
        public var costPerHour = 0.0
        /// The oldest data among reachable nodes, in seconds.
        public var dataAge: Double?
        public var revisionDrift = false
        /// The fleet store, when the nodes use one: nil with file stores, else whether every node reaches it.
        public var storeReachable: Bool?
    }

    public func summary(now: Double) -> Summary {
        var s = Summary()
        s.nodesTotal = nodes.count
        var requests = 0
        var errors = 0
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
        }
        let rows = providerRows(now: now)
        s.providersTotal = rows.count
        s.providersHealthy = rows.filter { $0.state == "healthy" }.count
        s.costPerHour = rows.reduce(0) { $0 + $1.costPerHour }
        s.errorRatio = requests > 0 ? Double(errors) / Double(requests) : 0
        // With a fleet store, a node behind it; with file stores, a node whose state differs.
        s.revisionDrift = usesStore ? revisions.count > 1 : drift() != nil
        let stores = nodes.compactMap { $0.snapshot?.node.store }.filter { $0.kind == .etcd }
        s.storeReachable = stores.isEmpty ? nil : stores.allSatisfy(\.reachable)
        if let figures = monitor.shownFigures, let rps = figures.rps {
            s.rps = rps
            s.errorRatio = figures.errorRatio ?? 0
            s.p99 = figures.p99
        }
        return s
    }

    /// Monitoring-plugin status: 0 ok, 1 degraded, 2 critical, 3 unknown/unreachable.
    public func status(now: Double) -> (code: Int32, word: String, reasons: [String]) {
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
        for snapshot in snapshots {
            for route in snapshot.routes {
                // Every provider with weight ejected: nothing left to serve the route, traffic or not.
                let weighted = route.tiers.joined().filter { $0.effectiveWeight > 0 }.map(\.provider)
                let ejected = Set(snapshot.providers.filter { $0.state == .ejected }.map(\.id))
                if route.panic || (!weighted.isEmpty && weighted.allSatisfy(ejected.contains)) {
                    critical = true
                    reasons.append("route \(route.alias) on \(snapshot.node.id) has no available provider\(route.panic ? " (panic routing)" : "")")
                }
            }
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
        for snapshot in snapshots where snapshot.node.store.kind == .etcd && !snapshot.node.store.reachable {
            degraded = true
            reasons.append("node \(snapshot.node.id) cannot reach the fleet store\(snapshot.node.store.error.map { ": \($0)" } ?? "") (it serves its last state; writes are refused)")
        }
        for row in providerRows(now: now) where row.state != "healthy" && row.state != "drained" {
            degraded = true
            reasons.append("provider \(row.id) is \(row.state)")
        }
        if critical { return (2, "critical", unknown + reasons) }
        if !unknown.isEmpty { return (3, "unknown", unknown) }
        if degraded { return (1, "degraded", reasons) }
        return (0, "ok", reasons)
    }
}
