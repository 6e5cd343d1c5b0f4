import ClawShared

/// Figures over one window, as a node's admin snapshot reports them.
public struct WindowStats: Sendable, Equatable {
    public var requests = 0
    public var errors = 0
    /// Answers that were the client's fault (not errors).
    public var clientErrors = 0
    public var requestsPerSecond = 0.0
    public var errorRate = 0.0
    public var p50: Double?
    public var p95: Double?
    public var p99: Double?
    public var ttftP50: Double?
    public var tokensIn = 0
    public var tokensOut = 0
    public var cost = 0.0
    public var costPerHour = 0.0

    public init() {}

    init(_ j: JSONValue?) {
        guard let j else { return }
        requests = j["requests"]?.intValue ?? 0
        errors = j["errors"]?.intValue ?? 0
        clientErrors = j["client_errors"]?.intValue ?? 0
        requestsPerSecond = j["requests_per_second"]?.doubleValue ?? 0
        errorRate = j["error_rate"]?.doubleValue ?? 0
        p50 = j["latency_p50_seconds"]?.doubleValue
        p95 = j["latency_p95_seconds"]?.doubleValue
        p99 = j["latency_p99_seconds"]?.doubleValue
        ttftP50 = j["ttft_p50_seconds"]?.doubleValue
        tokensIn = j["tokens_in"]?.intValue ?? 0
        tokensOut = j["tokens_out"]?.intValue ?? 0
        cost = j["cost_dollars"]?.doubleValue ?? 0
        costPerHour = j["cost_per_hour_dollars"]?.doubleValue ?? 0
    }
}

public struct ProviderInfo: Sendable, Equatable {
    public static func == (a: ProviderInfo, b: ProviderInfo) -> Bool {
        a.id == b.id && a.state == b.state && a.circuit == b.circuit && a.weights == b.weights && a.stats1m == b.stats1m
            && a.recentFailures.map(\.reason) == b.recentFailures.map(\.reason) && a.inFlight == b.inFlight
    }

    public struct Weight: Sendable, Equatable {
        public var route: String
        public var tier: Int
        public var configured: Int
        public var effective: Int

        public init(route: String, tier: Int, configured: Int, effective: Int) {
            self.route = route
            self.tier = tier
            self.configured = configured
            self.effective = effective
        }
    }

    public var id: String
    public var region = ""
    public var state = "healthy"
    public var circuit = "closed"
    public var circuitReason: String?
    public var openUntil: Double?
    public var consecutiveFailures = 0
    public var ejections = 0
    public var inFlight = 0
    /// The node's limits.max_in_flight_per_provider (0: not reported).
    public var maxInFlight = 0
    public var weights: [Weight] = []
    /// The circuit's last failures with their kinds, newest last.
    public var recentFailures: [(time: Double, reason: String)] = []
    /// Spend since midnight UTC, as the node counts it.
    public var costToday = 0.0
    public var stats1m = WindowStats()
    public var stats5m = WindowStats()

    public init(id: String) { self.id = id }
}

public struct RouteInfo: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var provider: String
        public var model: String
        public var configured: Int
        public var effective: Int
        /// Its share of the route's requests in the last minute, as the node counted them.
        public var actualShare: Double?

        public init(provider: String, model: String, configured: Int, effective: Int, actualShare: Double? = nil) {
            self.provider = provider
            self.model = model
            self.configured = configured
            self.effective = effective
            self.actualShare = actualShare
        }
    }

    public var alias: String
    public var panic = false
    public var tiers: [[Entry]] = []
    public var stats1m = WindowStats()

    public init(alias: String) { self.alias = alias }
}

public struct EventInfo: Sendable, Equatable {
    public var sequence: Int
    public var time: Double
    public var node: String
    public var kind: String
    public var subject: String
    public var detail: String

    public init(sequence: Int, time: Double, node: String, kind: String, subject: String, detail: String) {
        self.sequence = sequence
        self.time = time
        self.node = node
        self.kind = kind
        self.subject = subject
        self.detail = detail
    }
}

/// One node's admin snapshot, parsed; unknown or missing fields fall back to neutral values.
public struct NodeSnapshot: Sendable, Equatable {
    public var id = ""
    public var version = ""
    public var state = "serving"
    public var revision = 0
    public var inFlight = 0
    /// The node's limits.max_in_flight (0: not reported).
    public var maxInFlight = 0
    public var uptime = 0.0
    public var providers: [ProviderInfo] = []
    public var routes: [RouteInfo] = []
    public var failovers = 0

    public init() {}

    /// Parse an admin snapshot; nil when the answer is not one (garbage, another service).
    public init?(json: JSONValue) {
        guard let node = json["node"], let providers = json["providers"]?.arrayValue, let routes = json["routes"]?.arrayValue else { return nil }
        id = node["id"]?.stringValue ?? ""
        version = node["version"]?.stringValue ?? ""
        state = node["state"]?.stringValue ?? "serving"
        revision = node["revision"]?.intValue ?? 0
        inFlight = node["in_flight"]?.intValue ?? 0
        maxInFlight = node["max_in_flight"]?.intValue ?? 0
        uptime = node["uptime_seconds"]?.doubleValue ?? 0
        failovers = json["failovers"]?.arrayValue?.count ?? 0
        self.providers = providers.compactMap { p in
            guard let id = p["id"]?.stringValue else { return nil }
            var info = ProviderInfo(id: id)
            info.region = p["region"]?.stringValue ?? ""
            info.state = p["state"]?.stringValue ?? "healthy"
            info.circuit = p["circuit"]?["state"]?.stringValue ?? "closed"
            info.circuitReason = p["circuit"]?["reason"]?.stringValue
            info.openUntil = p["circuit"]?["open_until"]?.doubleValue
            info.consecutiveFailures = p["circuit"]?["consecutive_failures"]?.intValue ?? 0
            info.ejections = p["circuit"]?["ejections"]?.intValue ?? 0
            info.inFlight = p["in_flight"]?.intValue ?? 0
            info.maxInFlight = p["max_in_flight"]?.intValue ?? 0
            info.weights = (p["weights"]?.arrayValue ?? []).map {
                .init(route: $0["route"]?.stringValue ?? "", tier: $0["tier"]?.intValue ?? 0,
                      configured: $0["configured"]?.intValue ?? 0, effective: $0["effective"]?.intValue ?? 0)
            }
            info.recentFailures = (p["circuit"]?["recent_failures"]?.arrayValue ?? []).compactMap { f in
                guard let time = f["time"]?.doubleValue, let reason = f["reason"]?.stringValue else { return nil }
                return (time, reason)
            }
            info.costToday = p["cost_today_dollars"]?.doubleValue ?? 0
            info.stats1m = WindowStats(p["stats"]?["1m"])
            info.stats5m = WindowStats(p["stats"]?["5m"])
            return info
        }
        self.routes = routes.compactMap { r in
            guard let alias = r["alias"]?.stringValue else { return nil }
            var info = RouteInfo(alias: alias)
            info.panic = r["panic"]?.boolValue ?? false
            info.tiers = (r["tiers"]?.arrayValue ?? []).map { tier in
                (tier.arrayValue ?? []).map {
                    .init(provider: $0["provider"]?.stringValue ?? "?", model: $0["model"]?.stringValue ?? "",
                          configured: $0["configured_weight"]?.intValue ?? 0, effective: $0["effective_weight"]?.intValue ?? 0,
                          actualShare: $0["actual_share"]?.doubleValue)
                }
            }
            info.stats1m = WindowStats(r["stats"]?["1m"])
            return info
        }
    }
}

extension EventInfo {
    public init?(json: JSONValue) {
        guard let sequence = json["sequence"]?.intValue, let kind = json["kind"]?.stringValue else { return nil }
        self.init(sequence: sequence, time: json["time"]?.doubleValue ?? 0, node: json["node"]?.stringValue ?? "",
                  kind: kind, subject: json["subject"]?.stringValue ?? "", detail: json["detail"]?.stringValue ?? "")
    }
}

/// What the console knows of one node: its last good snapshot, the last error, and when.
public struct NodeStatus: Sendable, Equatable {
    public var url: String
    public var snapshot: NodeSnapshot?
    /// The snapshot as the node sent it, for `--once --format json`.
    public var raw: JSONValue?
    public var error: String?
    /// Wall-clock seconds of the last good poll.
    public var lastSuccess: Double?
    public var events: [EventInfo] = []
    public var eventCursor = 0

    public init(url: String) { self.url = url }

    /// serving, draining, drained (the node's word) when the last poll worked; when it failed,
    /// stale while the data is younger than `staleAfter`, unreachable after that or with no data.
    public func health(now: Double, staleAfter: Double) -> String {
        guard let snapshot, let last = lastSuccess else { return "unreachable" }
        guard error != nil else { return snapshot.state }
        return now - last <= staleAfter ? "stale" : "unreachable"
    }

    public func age(now: Double) -> Double? { lastSuccess.map { max(0, now - $0) } }

    public var name: String { snapshot?.id.isEmpty == false ? snapshot!.id : url }
}
