import ClawShared

/// What happened on a node, one word per kind (the OpenAPI document lists the same enum).
public enum EventKind: String, Codable, Sendable, CaseIterable {
    case circuitOpened = "circuit_opened"
    case circuitProbing = "circuit_probing"
    case circuitClosed = "circuit_closed"
    case healthFailed = "health_failed"
    case healthRecovered = "health_recovered"
    case panicStarted = "panic_started"
    case panicEnded = "panic_ended"
    case operatorAction = "operator_action"
    case failoverStarted = "failover_started"
    case failoverRestored = "failover_restored"
    case nodeDraining = "node_draining"
    case nodeDrained = "node_drained"
    case nodeServing = "node_serving"
    /// A fault injected for a drill is in force on this node (subject: the provider).
    case faultStarted = "fault_started"
    /// It ended: expired, or ended by an operator.
    case faultEnded = "fault_ended"
    /// A route spent past its budget and its guard acted (shift or refuse; subject: the route).
    case budgetExceeded = "budget_exceeded"
    /// Its guard lifted: the cost stayed under 90 % of the budget for 5 minutes, or an operator said so.
    case budgetLifted = "budget_lifted"
}

/// Something that changed on a node: a circuit, a health probe, a failover, an operator action.
public struct Event: Codable, Sendable, Equatable {
    public var sequence: Int
    /// Wall-clock time, seconds since 1970.
    public var time: Double
    public var node: String
    public var kind: EventKind
    public var subject: String
    public var detail: String
    /// The client request whose attempt caused it (its `X-Request-Id`): a circuit a request's
    /// failure opened, a panic a request's routing began. Nil for probes, operators and timers.
    public var requestID: String?

    public init(sequence: Int, time: Double, node: String, kind: EventKind, subject: String, detail: String, requestID: String? = nil) {
        self.sequence = sequence
        self.time = time
        self.node = node
        self.kind = kind
        self.subject = subject
        self.detail = detail
        self.requestID = requestID
    }

    enum CodingKeys: String, CodingKey {
        case sequence, time, node, kind, subject, detail
        case requestID = "request_id"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sequence = try c.decode(Int.self, forKey: .sequence)
        time = try c.decode(Double.self, forKey: .time)
        node = try c.decode(String.self, forKey: .node)
        kind = try c.decode(EventKind.self, forKey: .kind)
        subject = try c.decode(String.self, forKey: .subject)
        detail = try c.decode(String.self, forKey: .detail)
        // A node from before request ids in events sends no such key.
        requestID = try c.decodeIfPresent(String.self, forKey: .requestID)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sequence, forKey: .sequence)
        try c.encode(time, forKey: .time)
        try c.encode(node, forKey: .node)
        try c.encode(kind, forKey: .kind)
        try c.encode(subject, forKey: .subject)
        try c.encode(detail, forKey: .detail)
        try c.encodeNullable(requestID, forKey: .requestID)
    }
}

/// One audit record: who changed what, from what to what, why and when.
public struct AuditEntry: Codable, Sendable, Equatable {
    public var sequence: Int
    public var time: Double
    /// The token's name.
    public var actor: String
    public var action: String
    public var target: String
    public var before: JSONValue
    public var after: JSONValue
    public var reason: String?
    public var revision: Int
    /// The address the write came from (`IP:PORT`); nil for writes not made over the admin API.
    public var address: String?
    /// The subject of the caller's TLS client certificate (`CN=alice,O=ops`); nil without one.
    public var certificate: String?

    public init(sequence: Int, time: Double, actor: String, action: String, target: String, before: JSONValue, after: JSONValue,
                reason: String?, revision: Int, address: String? = nil, certificate: String? = nil) {
        self.address = address
        self.certificate = certificate
        self.sequence = sequence
        self.time = time
        self.actor = actor
        self.action = action
        self.target = target
        self.before = before
        self.after = after
        self.reason = reason
        self.revision = revision
    }

    enum CodingKeys: String, CodingKey {
        case sequence, time, actor, action, target, before, after, reason, revision, address, certificate
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sequence = try c.decode(Int.self, forKey: .sequence)
        time = try c.decode(Double.self, forKey: .time)
        actor = try c.decode(String.self, forKey: .actor)
        action = try c.decode(String.self, forKey: .action)
        target = try c.decode(String.self, forKey: .target)
        // `before` and `after` may be null, which JSONValue reads as .null only when the key is there.
        before = try c.decodeIfPresent(JSONValue.self, forKey: .before) ?? .null
        after = try c.decodeIfPresent(JSONValue.self, forKey: .after) ?? .null
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        revision = try c.decode(Int.self, forKey: .revision)
        // Absent from records written before they were kept.
        address = try c.decodeIfPresent(String.self, forKey: .address)
        certificate = try c.decodeIfPresent(String.self, forKey: .certificate)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sequence, forKey: .sequence)
        try c.encode(time, forKey: .time)
        try c.encode(actor, forKey: .actor)
        try c.encode(action, forKey: .action)
        try c.encode(target, forKey: .target)
        try c.encode(before, forKey: .before)
        try c.encode(after, forKey: .after)
        try c.encodeNullable(reason, forKey: .reason)
        try c.encode(revision, forKey: .revision)
        try c.encodeNullable(address, forKey: .address)
        try c.encodeNullable(certificate, forKey: .certificate)
    }
}

/// A client request as the node recorded it (the last 1,000), so an operator can ask why one
/// took long or failed over: its ids, who called what, how it ended, and every attempt.
public struct RequestRecord: Codable, Sendable, Equatable {
    public struct Attempt: Codable, Sendable, Equatable {
        public var provider: String
        /// ok, timeout, connect_error, reset, status_NNN (with what to check for 401/402/403/404/405), bad_response (...), stream_cut.
        public var outcome: String
        public var model: String
        public var tier: Int
        /// The provider's HTTP status, when it answered one.
        public var status: Int?
        public var seconds: Double
        /// none, client, provider or limit.
        public var fault: String
        /// How the route's strategy picked it ("weighted: ..."), or "panic".
        public var decision: String?
        /// The attempt's client span: the parent the provider saw in `traceparent`.
        public var spanID: String

        enum CodingKeys: String, CodingKey {
            case provider, outcome, model, tier, status, seconds, fault, decision
            case spanID = "span_id"
        }

        public init(provider: String, outcome: String, model: String = "", tier: Int = 0, status: Int? = nil, seconds: Double = 0,
                    fault: String = "none", decision: String? = nil, spanID: String = "") {
            self.provider = provider
            self.outcome = outcome
            self.model = model
            self.tier = tier
            self.status = status
            self.seconds = seconds
            self.fault = fault
            self.decision = decision
            self.spanID = spanID
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            provider = try c.decode(String.self, forKey: .provider)
            outcome = try c.decode(String.self, forKey: .outcome)
            // A node from before request tracing sends only provider and outcome.
            model = try c.decodeIfPresent(String.self, forKey: .model) ?? ""
            tier = try c.decodeIfPresent(Int.self, forKey: .tier) ?? 0
            status = try c.decodeIfPresent(Int.self, forKey: .status)
            seconds = try c.decodeIfPresent(Double.self, forKey: .seconds) ?? 0
            fault = try c.decodeIfPresent(String.self, forKey: .fault) ?? "none"
            decision = try c.decodeIfPresent(String.self, forKey: .decision)
            spanID = try c.decodeIfPresent(String.self, forKey: .spanID) ?? ""
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(provider, forKey: .provider)
            try c.encode(outcome, forKey: .outcome)
            try c.encode(model, forKey: .model)
            try c.encode(tier, forKey: .tier)
            try c.encodeNullable(status, forKey: .status)
            try c.encode(seconds, forKey: .seconds)
            try c.encode(fault, forKey: .fault)
            try c.encodeNullable(decision, forKey: .decision)
            try c.encode(spanID, forKey: .spanID)
        }
    }

    public var sequence: Int
    /// When the request started (wall clock, seconds since 1970).
    public var time: Double
    public var route: String
    public var attempts: [Attempt]
    /// ok, failed, max_in_flight_per_provider, or the status (a client fault passed through) or stream outcome.
    public var outcome: String
    /// The provider that answered, if any.
    public var served: String?
    public var latencySeconds: Double
    /// The client's `X-Request-Id`, or the one the gateway gave it.
    public var requestID: String
    /// The W3C trace it belongs to (the client's, or one the gateway started).
    public var traceID: String
    /// The gateway's server span.
    public var spanID: String
    /// The client's span, when it sent a `traceparent`.
    public var parentSpanID: String?
    /// The client (its name in `clients:`), when client keys are on.
    public var client: String?
    /// chat, messages, embeddings or responses.
    public var endpoint: String
    public var stream: Bool
    /// The HTTP status the client got.
    public var status: Int
    /// none, client, provider or limit.
    public var fault: String
    public var ttftSeconds: Double?
    public var tokensIn: Int
    public var tokensOut: Int
    public var costDollars: Double

    enum CodingKeys: String, CodingKey {
        case sequence, time, route, attempts, outcome, served, client, endpoint, stream, status, fault
        case latencySeconds = "latency_seconds"
        case requestID = "request_id"
        case traceID = "trace_id"
        case spanID = "span_id"
        case parentSpanID = "parent_span_id"
        case ttftSeconds = "ttft_seconds"
        case tokensIn = "tokens_in"
        case tokensOut = "tokens_out"
        case costDollars = "cost_dollars"
    }

    public init(sequence: Int, time: Double, route: String, attempts: [Attempt], outcome: String, served: String?, latencySeconds: Double,
                requestID: String = "", traceID: String = "", spanID: String = "", parentSpanID: String? = nil, client: String? = nil,
                endpoint: String = "chat", stream: Bool = false, status: Int = 200, fault: String = "none", ttftSeconds: Double? = nil,
                tokensIn: Int = 0, tokensOut: Int = 0, costDollars: Double = 0) {
        self.sequence = sequence
        self.time = time
        self.route = route
        self.attempts = attempts
        self.outcome = outcome
        self.served = served
        self.latencySeconds = latencySeconds
        self.requestID = requestID
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.client = client
        self.endpoint = endpoint
        self.stream = stream
        self.status = status
        self.fault = fault
        self.ttftSeconds = ttftSeconds
        self.tokensIn = tokensIn
        self.tokensOut = tokensOut
        self.costDollars = costDollars
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sequence = try c.decode(Int.self, forKey: .sequence)
        time = try c.decode(Double.self, forKey: .time)
        route = try c.decode(String.self, forKey: .route)
        attempts = try c.decode([Attempt].self, forKey: .attempts)
        outcome = try c.decode(String.self, forKey: .outcome)
        served = try c.decodeIfPresent(String.self, forKey: .served)
        latencySeconds = try c.decode(Double.self, forKey: .latencySeconds)
        // A node from before request tracing sends none of these.
        requestID = try c.decodeIfPresent(String.self, forKey: .requestID) ?? ""
        traceID = try c.decodeIfPresent(String.self, forKey: .traceID) ?? ""
        spanID = try c.decodeIfPresent(String.self, forKey: .spanID) ?? ""
        parentSpanID = try c.decodeIfPresent(String.self, forKey: .parentSpanID)
        client = try c.decodeIfPresent(String.self, forKey: .client)
        endpoint = try c.decodeIfPresent(String.self, forKey: .endpoint) ?? "chat"
        stream = try c.decodeIfPresent(Bool.self, forKey: .stream) ?? false
        status = try c.decodeIfPresent(Int.self, forKey: .status) ?? 0
        fault = try c.decodeIfPresent(String.self, forKey: .fault) ?? "none"
        ttftSeconds = try c.decodeIfPresent(Double.self, forKey: .ttftSeconds)
        tokensIn = try c.decodeIfPresent(Int.self, forKey: .tokensIn) ?? 0
        tokensOut = try c.decodeIfPresent(Int.self, forKey: .tokensOut) ?? 0
        costDollars = try c.decodeIfPresent(Double.self, forKey: .costDollars) ?? 0
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sequence, forKey: .sequence)
        try c.encode(time, forKey: .time)
        try c.encode(route, forKey: .route)
        try c.encode(attempts, forKey: .attempts)
        try c.encode(outcome, forKey: .outcome)
        try c.encodeNullable(served, forKey: .served)
        try c.encode(latencySeconds, forKey: .latencySeconds)
        try c.encode(requestID, forKey: .requestID)
        try c.encode(traceID, forKey: .traceID)
        try c.encode(spanID, forKey: .spanID)
        try c.encodeNullable(parentSpanID, forKey: .parentSpanID)
        try c.encodeNullable(client, forKey: .client)
        try c.encode(endpoint, forKey: .endpoint)
        try c.encode(stream, forKey: .stream)
        try c.encode(status, forKey: .status)
        try c.encode(fault, forKey: .fault)
        try c.encodeNullable(ttftSeconds, forKey: .ttftSeconds)
        try c.encode(tokensIn, forKey: .tokensIn)
        try c.encode(tokensOut, forKey: .tokensOut)
        try c.encode(costDollars, forKey: .costDollars)
    }
}

/// A page of a sequenced log (`/events`, `/audit`, `/requests`): items after `since`, whether the
/// node no longer holds some asked for, where to continue, and whether more are waiting.
public struct Page<Item: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    public var items: [Item]
    public var truncated: Bool
    public var nextSince: Int
    public var more: Bool

    public init(items: [Item], truncated: Bool, nextSince: Int, more: Bool) {
        self.items = items
        self.truncated = truncated
        self.nextSince = nextSince
        self.more = more
    }

    /// The key the items go under: `events`, `entries` or `requests`.
    static var itemsKey: String {
        switch Item.self {
        case is Event.Type: "events"
        case is AuditEntry.Type: "entries"
        default: "requests"
        }
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        items = try c.decode([Item].self, forKey: Key(Self.itemsKey))
        truncated = try c.decode(Bool.self, forKey: Key("truncated"))
        nextSince = try c.decode(Int.self, forKey: Key("next_since"))
        more = try c.decode(Bool.self, forKey: Key("more"))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(items, forKey: Key(Self.itemsKey))
        try c.encode(truncated, forKey: Key("truncated"))
        try c.encode(nextSince, forKey: Key("next_since"))
        try c.encode(more, forKey: Key("more"))
    }
}

public typealias EventPage = Page<Event>
public typealias AuditPage = Page<AuditEntry>
public typealias RequestPage = Page<RequestRecord>
