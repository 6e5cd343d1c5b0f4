/// `GET /admin/v1/snapshot`: everything about one node in one answer.
public struct Snapshot: Codable, Sendable, Equatable {
    public var node: Node
    public var providers: [Provider]
    public var routes: [Route]
    public var failovers: [Failover]
    /// `on` with `clients:` configured, `off` when anyone may call (nil: a node older than client keys).
    public var clientAuth: String?
    /// Each configured client's use and limits on this node.
    public var clients: [ClientStatus]?

    enum CodingKeys: String, CodingKey {
        case node, providers, routes, failovers, clients
        case clientAuth = "client_auth"
    }

    public init(node: Node, providers: [Provider], routes: [Route], failovers: [Failover], clientAuth: String? = nil, clients: [ClientStatus]? = nil) {
        self.node = node
        self.providers = providers
        self.routes = routes
        self.failovers = failovers
        self.clientAuth = clientAuth
        self.clients = clients
    }
}

/// A caller of the gateway (`clients:`) as one node sees it. Its key never appears here.
public struct ClientStatus: Codable, Sendable, Equatable {
    public struct Limits: Codable, Sendable, Equatable {
        public var rpm: Int?
        public var tpm: Int?
        public var spendPerDay: Double?
        public var concurrency: Int?

        enum CodingKeys: String, CodingKey {
            case rpm, tpm, concurrency
            case spendPerDay = "spend_per_day"
        }

        public init(rpm: Int? = nil, tpm: Int? = nil, spendPerDay: Double? = nil, concurrency: Int? = nil) {
            self.rpm = rpm
            self.tpm = tpm
            self.spendPerDay = spendPerDay
            self.concurrency = concurrency
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encodeNullable(rpm, forKey: .rpm)
            try c.encodeNullable(tpm, forKey: .tpm)
            try c.encodeNullable(spendPerDay, forKey: .spendPerDay)
            try c.encodeNullable(concurrency, forKey: .concurrency)
        }
    }

    public var name: String
    public var routes: [String]?
    /// Blocked by an operator: every request refused with 403.
    public var blocked: Bool
    /// In force: the configured limits with what operators changed.
    public var limits: Limits
    public var inFlight: Int
    /// Admitted requests, and tokens, in the last minute.
    public var requests1m: Int
    public var tokens1m: Int
    /// The last minute's spend as a rate per hour.
    public var spendPerHourDollars: Double
    public var spendTodayDollars: Double
    /// Admitted requests since start that ended well, or not; requests refused at its limits.
    public var served: Int
    public var errors: Int
    public var refused: Int

    enum CodingKeys: String, CodingKey {
        case name, routes, limits, served, errors, refused, blocked
        case inFlight = "in_flight", requests1m = "requests_1m", tokens1m = "tokens_1m", spendTodayDollars = "spend_today_dollars"
        case spendPerHourDollars = "spend_per_hour_dollars"
    }

    public init(name: String, routes: [String]? = nil, blocked: Bool = false, limits: Limits = Limits(), inFlight: Int = 0, requests1m: Int = 0, tokens1m: Int = 0,
                spendPerHourDollars: Double = 0, spendTodayDollars: Double = 0, served: Int = 0, errors: Int = 0, refused: Int = 0) {
        self.name = name
        self.routes = routes
        self.blocked = blocked
        self.limits = limits
        self.inFlight = inFlight
        self.requests1m = requests1m
        self.tokens1m = tokens1m
        self.spendPerHourDollars = spendPerHourDollars
        self.spendTodayDollars = spendTodayDollars
        self.served = served
        self.errors = errors
        self.refused = refused
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encodeNullable(routes, forKey: .routes)
        try c.encode(blocked, forKey: .blocked)
        try c.encode(limits, forKey: .limits)
        try c.encode(inFlight, forKey: .inFlight)
        try c.encode(requests1m, forKey: .requests1m)
        try c.encode(tokens1m, forKey: .tokens1m)
        try c.encode(spendPerHourDollars, forKey: .spendPerHourDollars)
        try c.encode(spendTodayDollars, forKey: .spendTodayDollars)
        try c.encode(served, forKey: .served)
        try c.encode(errors, forKey: .errors)
        try c.encode(refused, forKey: .refused)
    }
}

/// A node's own words for itself (the console adds `unreachable`, `stale` and `incompatible`).
public enum NodeState: String, Codable, Sendable, CaseIterable {
    case serving, draining, drained
}

public struct Node: Codable, Sendable, Equatable {
    public var id: String
    public var version: String
    public var state: NodeState
    public var ready: Bool
    public var revision: Int
    public var inFlight: Int
    /// limits.max_in_flight: more client requests at once get 429.
    public var maxInFlight: Int
    public var refusedMaxInFlight: Int
    public var refusedMaxInFlightPerProvider: Int
    public var startedAt: Double
    public var uptimeSeconds: Double
    public var persistent: Bool
    /// Where the operator state lives, and whether this node can reach it.
    public var store: StoreStatus

    enum CodingKeys: String, CodingKey {
        case id, version, state, ready, revision, persistent, store
        case inFlight = "in_flight", maxInFlight = "max_in_flight", refusedMaxInFlight = "refused_max_in_flight"
        case refusedMaxInFlightPerProvider = "refused_max_in_flight_per_provider", startedAt = "started_at", uptimeSeconds = "uptime_seconds"
    }

    public init(id: String, version: String = "", state: NodeState = .serving, ready: Bool = true, revision: Int = 0, inFlight: Int = 0,
                maxInFlight: Int = 0, refusedMaxInFlight: Int = 0, refusedMaxInFlightPerProvider: Int = 0, startedAt: Double = 0,
                uptimeSeconds: Double = 0, persistent: Bool = false, store: StoreStatus = StoreStatus()) {
        self.id = id
        self.version = version
        self.state = state
        self.ready = ready
        self.revision = revision
        self.inFlight = inFlight
        self.maxInFlight = maxInFlight
        self.refusedMaxInFlight = refusedMaxInFlight
        self.refusedMaxInFlightPerProvider = refusedMaxInFlightPerProvider
        self.startedAt = startedAt
        self.uptimeSeconds = uptimeSeconds
        self.persistent = persistent
        self.store = store
    }
}

/// `file`: the node's own copy; `etcd`: the fleet's one copy, which the node may not reach now.
public enum StoreKind: String, Codable, Sendable, CaseIterable {
    case file, etcd
}

public struct StoreStatus: Codable, Sendable, Equatable {
    public var kind: StoreKind
    /// False while the fleet store does not answer: the node serves the last state it applied.
    public var reachable: Bool
    public var error: String?
    /// Revisions of the fleet state written straight into etcd, not through a node's admin API
    /// (no audit record beside them): in effect, and flagged until an operator acknowledges them
    /// (`POST /admin/v1/store/acknowledge`).
    public var unaudited: [Int]

    public init(kind: StoreKind = .file, reachable: Bool = true, error: String? = nil, unaudited: [Int] = []) {
        self.kind = kind
        self.reachable = reachable
        self.error = error
        self.unaudited = unaudited
    }

    enum CodingKeys: String, CodingKey {
        case kind, reachable, error, unaudited
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(StoreKind.self, forKey: .kind)
        reachable = try c.decode(Bool.self, forKey: .reachable)
        error = try c.decodeIfPresent(String.self, forKey: .error)
        // Absent from nodes older than the check.
        unaudited = try c.decodeIfPresent([Int].self, forKey: .unaudited) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(reachable, forKey: .reachable)
        try c.encodeNullable(error, forKey: .error)
        try c.encode(unaudited, forKey: .unaudited)
    }
}

/// `GET /admin/v1/fleet`: the nodes registered in the fleet store (this node alone with a file store).
public struct FleetMembers: Codable, Sendable, Equatable {
    public struct Member: Codable, Sendable, Equatable {
        public var id: String
        public var url: String
        public var version: String
        /// The operator state revision the node has applied.
        public var appliedRevision: Int
        /// Seconds since the node last said so.
        public var ageSeconds: Double

        enum CodingKeys: String, CodingKey {
            case id, url, version
            case appliedRevision = "applied_revision", ageSeconds = "age_seconds"
        }

        public init(id: String, url: String, version: String, appliedRevision: Int, ageSeconds: Double) {
            self.id = id
            self.url = url
            self.version = version
            self.appliedRevision = appliedRevision
            self.ageSeconds = ageSeconds
        }
    }

    public var store: StoreStatus
    /// The fleet state's revision in the store (this node's with a file store).
    public var revision: Int
    public var members: [Member]

    public init(store: StoreStatus, revision: Int, members: [Member]) {
        self.store = store
        self.revision = revision
        self.members = members
    }
}

/// A word of the API's vocabulary that a newer gateway may add to: a word this build does not know
/// decodes as `other` and is kept and shown as it came (one new word must not fail a whole node's
/// poll); `allCases` are the words it knows, what the OpenAPI document lists.
public protocol OpenVocabulary: Sendable, Hashable, CaseIterable, RawRepresentable, Codable, CustomStringConvertible
where RawValue == String, AllCases == [Self] {
    static func other(_ word: String) -> Self
}

extension OpenVocabulary {
    /// The known word, or `other` with the word as it came: never nil.
    public init(word: String) {
        self = Self.allCases.first { $0.rawValue == word } ?? .other(word)
    }

    public init(rawValue: String) { self.init(word: rawValue) }

    /// The word, as the API and the screen say it.
    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws { self.init(word: try decoder.singleValueContainer().decode(String.self)) }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// One word per provider state, the same in the API, on screen and in README.
public enum ProviderState: OpenVocabulary {
    case healthy, degraded, ejected, probing, drained, failedOver
    case other(String)

    public static let allCases: [ProviderState] = [.healthy, .degraded, .ejected, .probing, .drained, .failedOver]

    public var rawValue: String {
        switch self {
        case .healthy: "healthy"
        case .degraded: "degraded"
        case .ejected: "ejected"
        case .probing: "probing"
        case .drained: "drained"
        case .failedOver: "failed-over"
        case .other(let word): word
        }
    }
}

/// The circuit breaker's state: `probing` is the one request let through after a cooldown.
public enum CircuitState: OpenVocabulary {
    case closed, open, probing
    case other(String)

    public static let allCases: [CircuitState] = [.closed, .open, .probing]

    public var rawValue: String {
        switch self {
        case .closed: "closed"
        case .open: "open"
        case .probing: "probing"
        case .other(let word): word
        }
    }
}

public struct Provider: Codable, Sendable, Equatable {
    public var id: String
    /// The wire format it speaks: openai, anthropic, gemini, azure_openai (absent from older nodes).
    public var kind: String?
    public var region: String
    public var state: ProviderState
    public var inFlight: Int
    /// limits.max_in_flight_per_provider: a provider at it is skipped.
    public var maxInFlight: Int
    public var drained: Bool
    public var failedOver: Bool
    public var circuit: Circuit
    public var health: Health
    public var price: Price
    /// Cost of this provider's requests since midnight UTC.
    public var costTodayDollars: Double
    public var weights: [ProviderWeight]
    public var stats: Stats
    /// What the routing strategies know of it (absent from nodes older than strategies).
    public var routing: ProviderRouting?
    /// The fault injected on it for a drill, in force now (null: none; absent from nodes older than drills).
    public var fault: InjectedFault?
    /// Attempts sent to it (a drill's injected ones included) since the node started (nil: older nodes).
    public var attemptsTotal: Int?

    enum CodingKeys: String, CodingKey {
        case id, kind, region, state, drained, circuit, health, price, weights, stats, routing, fault
        case attemptsTotal = "attempts_total"
        case inFlight = "in_flight", maxInFlight = "max_in_flight", failedOver = "failed_over", costTodayDollars = "cost_today_dollars"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encodeIfPresent(kind, forKey: .kind)
        try c.encode(region, forKey: .region)
        try c.encode(state, forKey: .state)
        try c.encode(inFlight, forKey: .inFlight)
        try c.encode(maxInFlight, forKey: .maxInFlight)
        try c.encode(drained, forKey: .drained)
        try c.encode(failedOver, forKey: .failedOver)
        try c.encode(circuit, forKey: .circuit)
        try c.encode(health, forKey: .health)
        try c.encode(price, forKey: .price)
        try c.encode(costTodayDollars, forKey: .costTodayDollars)
        try c.encode(weights, forKey: .weights)
        try c.encode(stats, forKey: .stats)
        try c.encodeIfPresent(routing, forKey: .routing)
        try c.encodeNullable(fault, forKey: .fault)
        try c.encodeIfPresent(attemptsTotal, forKey: .attemptsTotal)
    }

    public init(id: String, region: String = "", state: ProviderState = .healthy, inFlight: Int = 0, maxInFlight: Int = 0,
                drained: Bool = false, failedOver: Bool = false, circuit: Circuit = Circuit(), health: Health = Health(),
                price: Price = Price(), costTodayDollars: Double = 0, weights: [ProviderWeight] = [], stats: Stats = Stats(),
                routing: ProviderRouting? = nil, kind: String? = nil, fault: InjectedFault? = nil, attemptsTotal: Int? = nil) {
        self.fault = fault
        self.attemptsTotal = attemptsTotal
        self.routing = routing
        self.kind = kind
        self.id = id
        self.region = region
        self.state = state
        self.inFlight = inFlight
        self.maxInFlight = maxInFlight
        self.drained = drained
        self.failedOver = failedOver
        self.circuit = circuit
        self.health = health
        self.price = price
        self.costTodayDollars = costTodayDollars
        self.weights = weights
        self.stats = stats
    }
}

public struct Circuit: Codable, Sendable, Equatable {
    public struct Failure: Codable, Sendable, Equatable {
        public var time: Double
        /// What went wrong, and for a refusal of the gateway's own settings, what to check.
        public var reason: String

        public init(time: Double, reason: String) {
            self.time = time
            self.reason = reason
        }
    }

    public var state: CircuitState
    public var since: Double
    public var openUntil: Double?
    public var reason: String?
    public var consecutiveFailures: Int
    /// Times the circuit opened since the node started.
    public var ejections: Int
    public var recentFailures: [Failure]

    enum CodingKeys: String, CodingKey {
        case state, since, reason, ejections
        case openUntil = "open_until", consecutiveFailures = "consecutive_failures", recentFailures = "recent_failures"
    }

    public init(state: CircuitState = .closed, since: Double = 0, openUntil: Double? = nil, reason: String? = nil,
                consecutiveFailures: Int = 0, ejections: Int = 0, recentFailures: [Failure] = []) {
        self.state = state
        self.since = since
        self.openUntil = openUntil
        self.reason = reason
        self.consecutiveFailures = consecutiveFailures
        self.ejections = ejections
        self.recentFailures = recentFailures
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(state, forKey: .state)
        try c.encode(since, forKey: .since)
        try c.encodeNullable(openUntil, forKey: .openUntil)
        try c.encodeNullable(reason, forKey: .reason)
        try c.encode(consecutiveFailures, forKey: .consecutiveFailures)
        try c.encode(ejections, forKey: .ejections)
        try c.encode(recentFailures, forKey: .recentFailures)
    }
}

public struct Health: Codable, Sendable, Equatable {
    public var healthy: Bool
    public var consecutiveFailures: Int
    public var lastError: String?
    public var lastProbe: Double?

    enum CodingKeys: String, CodingKey {
        case healthy
        case consecutiveFailures = "consecutive_failures", lastError = "last_error", lastProbe = "last_probe"
    }

    public init(healthy: Bool = true, consecutiveFailures: Int = 0, lastError: String? = nil, lastProbe: Double? = nil) {
        self.healthy = healthy
        self.consecutiveFailures = consecutiveFailures
        self.lastError = lastError
        self.lastProbe = lastProbe
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(healthy, forKey: .healthy)
        try c.encode(consecutiveFailures, forKey: .consecutiveFailures)
        try c.encodeNullable(lastError, forKey: .lastError)
        try c.encodeNullable(lastProbe, forKey: .lastProbe)
    }
}

public struct Price: Codable, Sendable, Equatable {
    public var inputPer1M: Double
    public var outputPer1M: Double

    enum CodingKeys: String, CodingKey {
        case inputPer1M = "input_per_1m", outputPer1M = "output_per_1m"
    }

    public init(inputPer1M: Double = 0, outputPer1M: Double = 0) {
        self.inputPer1M = inputPer1M
        self.outputPer1M = outputPer1M
    }
}

/// The provider's weight in one tier of one route: from the configuration, the operator's
/// override, and what is in effect (drains and failovers applied).
public struct ProviderWeight: Codable, Sendable, Equatable {
    public var route: String
    public var tier: Int
    public var configuredWeight: Int
    public var overrideWeight: Int?
    public var effectiveWeight: Int

    enum CodingKeys: String, CodingKey {
        case route, tier
        case configuredWeight = "configured_weight", overrideWeight = "override_weight", effectiveWeight = "effective_weight"
    }

    public init(route: String, tier: Int, configuredWeight: Int, overrideWeight: Int? = nil, effectiveWeight: Int) {
        self.route = route
        self.tier = tier
        self.configuredWeight = configuredWeight
        self.overrideWeight = overrideWeight
        self.effectiveWeight = effectiveWeight
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(route, forKey: .route)
        try c.encode(tier, forKey: .tier)
        try c.encode(configuredWeight, forKey: .configuredWeight)
        try c.encodeNullable(overrideWeight, forKey: .overrideWeight)
        try c.encode(effectiveWeight, forKey: .effectiveWeight)
    }
}

/// Figures over a window of the last minute or five.
public struct Window: Codable, Sendable, Equatable {
    public var windowSeconds: Double
    public var requests: Int
    /// The provider's faults only.
    public var errors: Int
    /// Answers that were the client's fault (400, 413, 422, ...): passed to the client, not errors.
    public var clientErrors: Int
    public var requestsPerSecond: Double
    /// errors / requests, 0..1.
    public var errorRatio: Double
    public var latencyP50Seconds: Double?
    public var latencyP95Seconds: Double?
    public var latencyP99Seconds: Double?
    public var ttftP50Seconds: Double?
    public var ttftP95Seconds: Double?
    public var tokensIn: Int
    public var tokensOut: Int
    public var costDollars: Double
    public var costPerHourDollars: Double

    enum CodingKeys: String, CodingKey {
        case requests, errors
        case windowSeconds = "window_seconds", clientErrors = "client_errors", requestsPerSecond = "requests_per_second"
        case errorRatio = "error_ratio", latencyP50Seconds = "latency_p50_seconds", latencyP95Seconds = "latency_p95_seconds"
        case latencyP99Seconds = "latency_p99_seconds", ttftP50Seconds = "ttft_p50_seconds", ttftP95Seconds = "ttft_p95_seconds"
        case tokensIn = "tokens_in", tokensOut = "tokens_out", costDollars = "cost_dollars", costPerHourDollars = "cost_per_hour_dollars"
    }

    public init(windowSeconds: Double = 60, requests: Int = 0, errors: Int = 0, clientErrors: Int = 0, requestsPerSecond: Double = 0,
                errorRatio: Double = 0, latencyP50Seconds: Double? = nil, latencyP95Seconds: Double? = nil, latencyP99Seconds: Double? = nil,
                ttftP50Seconds: Double? = nil, ttftP95Seconds: Double? = nil, tokensIn: Int = 0, tokensOut: Int = 0, costDollars: Double = 0,
                costPerHourDollars: Double = 0) {
        self.windowSeconds = windowSeconds
        self.requests = requests
        self.errors = errors
        self.clientErrors = clientErrors
        self.requestsPerSecond = requestsPerSecond
        self.errorRatio = errorRatio
        self.latencyP50Seconds = latencyP50Seconds
        self.latencyP95Seconds = latencyP95Seconds
        self.latencyP99Seconds = latencyP99Seconds
        self.ttftP50Seconds = ttftP50Seconds
        self.ttftP95Seconds = ttftP95Seconds
        self.tokensIn = tokensIn
        self.tokensOut = tokensOut
        self.costDollars = costDollars
        self.costPerHourDollars = costPerHourDollars
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(windowSeconds, forKey: .windowSeconds)
        try c.encode(requests, forKey: .requests)
        try c.encode(errors, forKey: .errors)
        try c.encode(clientErrors, forKey: .clientErrors)
        try c.encode(requestsPerSecond, forKey: .requestsPerSecond)
        try c.encode(errorRatio, forKey: .errorRatio)
        try c.encodeNullable(latencyP50Seconds, forKey: .latencyP50Seconds)
        try c.encodeNullable(latencyP95Seconds, forKey: .latencyP95Seconds)
        try c.encodeNullable(latencyP99Seconds, forKey: .latencyP99Seconds)
        try c.encodeNullable(ttftP50Seconds, forKey: .ttftP50Seconds)
        try c.encodeNullable(ttftP95Seconds, forKey: .ttftP95Seconds)
        try c.encode(tokensIn, forKey: .tokensIn)
        try c.encode(tokensOut, forKey: .tokensOut)
        try c.encode(costDollars, forKey: .costDollars)
        try c.encode(costPerHourDollars, forKey: .costPerHourDollars)
    }
}

public struct Stats: Codable, Sendable, Equatable {
    public var oneMinute: Window
    public var fiveMinutes: Window

    enum CodingKeys: String, CodingKey {
        case oneMinute = "1m", fiveMinutes = "5m"
    }

    public init(oneMinute: Window = Window(windowSeconds: 60), fiveMinutes: Window = Window(windowSeconds: 300)) {
        self.oneMinute = oneMinute
        self.fiveMinutes = fiveMinutes
    }
}

public struct Route: Codable, Sendable, Equatable {
    public struct Target: Codable, Sendable, Equatable {
        public var provider: String
        public var model: String
        public var configuredWeight: Int
        public var effectiveWeight: Int
        /// Requests of this route the provider served in the last minute.
        public var served1m: Int
        /// Its share of the route's requests in the last minute (nil: none).
        public var actualShare: Double?
        /// Its share of the strategy's choices in the last minute: what the strategy wanted, before
        /// failures and retries (nil: no choice yet, or a node older than strategies).
        public var wantedShare: Double?

        enum CodingKeys: String, CodingKey {
            case provider, model
            case configuredWeight = "configured_weight", effectiveWeight = "effective_weight", served1m = "served_1m", actualShare = "actual_share"
            case wantedShare = "wanted_share"
        }

        public init(provider: String, model: String, configuredWeight: Int, effectiveWeight: Int, served1m: Int = 0, actualShare: Double? = nil,
                    wantedShare: Double? = nil) {
            self.wantedShare = wantedShare
            self.provider = provider
            self.model = model
            self.configuredWeight = configuredWeight
            self.effectiveWeight = effectiveWeight
            self.served1m = served1m
            self.actualShare = actualShare
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(provider, forKey: .provider)
            try c.encode(model, forKey: .model)
            try c.encode(configuredWeight, forKey: .configuredWeight)
            try c.encode(effectiveWeight, forKey: .effectiveWeight)
            try c.encode(served1m, forKey: .served1m)
            try c.encodeNullable(actualShare, forKey: .actualShare)
            try c.encodeNullable(wantedShare, forKey: .wantedShare)
        }
    }

    public var alias: String
    public var panic: Bool
    public var tiers: [[Target]]
    public var stats: Stats
    /// The routing strategy in force (nil: a node older than strategies, which routes by weight).
    public var strategy: String?
    /// The latest routing decision on this node (nil: none yet).
    public var decision: Decision?
    /// Requests of the route in the last minute by the API called: chat, messages, embeddings,
    /// responses (nil: a node older than these endpoints).
    public var requestsByEndpoint1m: [String: Int]?
    /// Since the node started: the route's requests, and those that failed for the client (a
    /// provider's fault or a limit of the node). Nil from nodes older than drills.
    public var requestsTotal: Int?
    public var errorsTotal: Int?
    /// The route's budget in force, its cost against it and the guard (nil: none, or an older node).
    public var budget: BudgetStatus?

    enum CodingKeys: String, CodingKey {
        case alias, panic, tiers, stats, strategy, decision
        case budget
        case requestsByEndpoint1m = "requests_by_endpoint_1m", requestsTotal = "requests_total", errorsTotal = "errors_total"
    }

    public init(alias: String, panic: Bool = false, tiers: [[Target]] = [], stats: Stats = Stats(), strategy: String? = nil, decision: Decision? = nil,
                requestsByEndpoint1m: [String: Int]? = nil, requestsTotal: Int? = nil, errorsTotal: Int? = nil, budget: BudgetStatus? = nil) {
        self.budget = budget
        self.requestsTotal = requestsTotal
        self.errorsTotal = errorsTotal
        self.requestsByEndpoint1m = requestsByEndpoint1m
        self.strategy = strategy
        self.decision = decision
        self.alias = alias
        self.panic = panic
        self.tiers = tiers
        self.stats = stats
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(alias, forKey: .alias)
        try c.encode(panic, forKey: .panic)
        try c.encode(tiers, forKey: .tiers)
        try c.encodeIfPresent(requestsByEndpoint1m, forKey: .requestsByEndpoint1m)
        try c.encodeIfPresent(requestsTotal, forKey: .requestsTotal)
        try c.encodeIfPresent(errorsTotal, forKey: .errorsTotal)
        try c.encodeNullable(budget, forKey: .budget)
        try c.encode(stats, forKey: .stats)
        try c.encodeNullable(strategy, forKey: .strategy)
        try c.encodeNullable(decision, forKey: .decision)
    }
}

/// An operator's failover in effect: a provider's or a tier's new traffic goes elsewhere.
public struct Failover: Codable, Sendable, Equatable {
    /// `provider:ID` or `tier:ALIAS/INDEX`.
    public var subject: String
    public var provider: String?
    public var route: String?
    public var tier: Int?
    public var to: [String]
    public var since: Double
    public var reason: String?

    public init(subject: String, provider: String? = nil, route: String? = nil, tier: Int? = nil, to: [String], since: Double, reason: String? = nil) {
        self.subject = subject
        self.provider = provider
        self.route = route
        self.tier = tier
        self.to = to
        self.since = since
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case subject, provider, route, tier, to, since, reason
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(subject, forKey: .subject)
        try c.encodeNullable(provider, forKey: .provider)
        try c.encodeNullable(route, forKey: .route)
        try c.encodeNullable(tier, forKey: .tier)
        try c.encode(to, forKey: .to)
        try c.encode(since, forKey: .since)
        try c.encodeNullable(reason, forKey: .reason)
    }
}
