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

    public init(sequence: Int, time: Double, node: String, kind: EventKind, subject: String, detail: String) {
        self.sequence = sequence
        self.time = time
        self.node = node
        self.kind = kind
        self.subject = subject
        self.detail = detail
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

    public init(sequence: Int, time: Double, actor: String, action: String, target: String, before: JSONValue, after: JSONValue,
                reason: String?, revision: Int) {
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
        case sequence, time, actor, action, target, before, after, reason, revision
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
    }
}

/// A client request that needed a retry or failed, kept so an operator can ask why.
public struct RequestRecord: Codable, Sendable, Equatable {
    public struct Attempt: Codable, Sendable, Equatable {
        public var provider: String
        /// ok, timeout, connect_error, reset, status_NNN (with what to check for 401/402/403/404/405), bad_response (...), stream_cut.
        public var outcome: String

        public init(provider: String, outcome: String) {
            self.provider = provider
            self.outcome = outcome
        }
    }

    public var sequence: Int
    public var time: Double
    public var route: String
    public var attempts: [Attempt]
    /// ok (after retries), failed, max_in_flight_per_provider, or the status (a client fault passed through) or stream outcome.
    public var outcome: String
    /// The provider that answered, if any.
    public var served: String?
    public var latencySeconds: Double

    enum CodingKeys: String, CodingKey {
        case sequence, time, route, attempts, outcome, served
        case latencySeconds = "latency_seconds"
    }

    public init(sequence: Int, time: Double, route: String, attempts: [Attempt], outcome: String, served: String?, latencySeconds: Double) {
        self.sequence = sequence
        self.time = time
        self.route = route
        self.attempts = attempts
        self.outcome = outcome
        self.served = served
        self.latencySeconds = latencySeconds
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
