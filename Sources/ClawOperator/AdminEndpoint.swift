import ClawAdminAPI
import ClawShared

/// Who may call an endpoint: a viewer token reads, an operator token also writes.
public enum AdminRole: String, Sendable, Equatable {
    case viewer
    case `operator`
}

/// One endpoint of the admin API (`/admin/v1`): its method, its path template (`:id`, `:alias`,
/// `:tier`, `:name` stand for a part of the path), the role it needs, the wire types of its body
/// and its answer, and the body's fields besides `reason`. The gateway registers its routes from
/// this table and the console builds its calls from it; the OpenAPI document is held against it.
public struct AdminEndpoint: Sendable, CustomStringConvertible {
    public enum Method: String, Sendable, Equatable {
        case get = "GET", post = "POST", put = "PUT", delete = "DELETE"
    }

    public var method: Method
    /// Under `/admin/v1`: `/providers/:id/drain`.
    public var path: String
    public var role: AdminRole
    /// The body it decodes (nil: a read, with no body).
    public var request: (any (Codable & Sendable).Type)?
    public var answer: any (Codable & Sendable).Type
    /// The body's fields besides `reason` (always allowed in a write); any other is refused.
    public var fields: [String]

    init(_ method: Method, _ path: String, request: (any (Codable & Sendable).Type)? = nil, answer: any (Codable & Sendable).Type = Written.self,
         fields: [String] = []) {
        self.method = method
        self.path = path
        self.role = request == nil ? .viewer : .operator
        self.request = request
        self.answer = answer
        self.fields = fields
    }

    public static let prefix = "/admin/v1"

    /// `POST /providers/:id/drain`.
    public var description: String { "\(method.rawValue) \(path)" }

    /// The path with its parameters filled in, under the prefix: `/admin/v1/providers/fast/drain`.
    public func url(_ parameters: [String: String] = [:]) -> String {
        Self.prefix + path.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix(":") ? parameters[String(part.dropFirst())] ?? String(part) : String(part)
        }.joined(separator: "/")
    }

    /// The same endpoint: method and path.
    public func same(as other: AdminEndpoint) -> Bool { method == other.method && path == other.path }
}

extension AdminEndpoint {
    public static let snapshot = AdminEndpoint(.get, "/snapshot", answer: Snapshot.self)
    public static let fleet = AdminEndpoint(.get, "/fleet", answer: FleetMembers.self)
    public static let state = AdminEndpoint(.get, "/state", answer: StateDocument.self)
    public static let events = AdminEndpoint(.get, "/events", answer: EventPage.self)
    public static let audit = AdminEndpoint(.get, "/audit", answer: AuditPage.self)
    public static let requests = AdminEndpoint(.get, "/requests", answer: RequestPage.self)
    public static let drainProvider = AdminEndpoint(.post, "/providers/:id/drain", request: ReasonBody.self)
    public static let undrainProvider = AdminEndpoint(.post, "/providers/:id/undrain", request: ReasonBody.self)
    public static let failoverProvider = AdminEndpoint(.post, "/providers/:id/failover", request: FailoverBody.self, fields: ["to"])
    public static let restoreProvider = AdminEndpoint(.post, "/providers/:id/restore", request: ReasonBody.self)
    public static let setFault = AdminEndpoint(.post, "/providers/:id/fault", request: FaultBody.self,
                                               fields: ["kind", "ratio", "status", "extra_ms", "duration"])
    public static let endFault = AdminEndpoint(.delete, "/providers/:id/fault", request: ReasonBody.self)
    public static let setWeights = AdminEndpoint(.put, "/routes/:alias/weights", request: WeightsBody.self, fields: ["weights"])
    public static let setStrategy = AdminEndpoint(.put, "/routes/:alias/strategy", request: StrategyBody.self, fields: ["strategy"])
    public static let setBudget = AdminEndpoint(.put, "/routes/:alias/budget", request: BudgetBody.self, fields: ["per_hour", "action"])
    public static let failoverTier = AdminEndpoint(.post, "/routes/:alias/tiers/:tier/failover", request: FailoverBody.self, fields: ["to"])
    public static let restoreTier = AdminEndpoint(.post, "/routes/:alias/tiers/:tier/restore", request: ReasonBody.self)
    public static let drainNode = AdminEndpoint(.post, "/node/drain", request: ReasonBody.self)
    public static let undrainNode = AdminEndpoint(.post, "/node/undrain", request: ReasonBody.self)
    public static let blockClient = AdminEndpoint(.post, "/clients/:name/block", request: ReasonBody.self)
    public static let unblockClient = AdminEndpoint(.post, "/clients/:name/unblock", request: ReasonBody.self)
    public static let setClientLimits = AdminEndpoint(.put, "/clients/:name/limits", request: ClientLimitsBody.self, fields: ["limits"])
    public static let replaceState = AdminEndpoint(.put, "/state", request: StateBody.self, fields: ["state"])
    public static let acknowledgeStore = AdminEndpoint(.post, "/store/acknowledge", request: ReasonBody.self)

    /// Every endpoint, reads first.
    public static let all: [AdminEndpoint] = [
        snapshot, fleet, state, events, audit, requests,
        drainProvider, undrainProvider, failoverProvider, restoreProvider, setFault, endFault,
        setWeights, setStrategy, setBudget, failoverTier, restoreTier,
        drainNode, undrainNode, blockClient, unblockClient, setClientLimits, replaceState, acknowledgeStore,
    ]
}

/// One call of the admin API as a client sends it: the endpoint, the path filled in, the body.
public struct AdminRequest: Sendable, Equatable {
    public var endpoint: AdminEndpoint
    public var path: String
    public var body: JSONValue

    public var method: String { endpoint.method.rawValue }

    public init(_ endpoint: AdminEndpoint, _ parameters: [String: String] = [:], body: some Encodable) {
        self.endpoint = endpoint
        self.path = endpoint.url(parameters)
        self.body = (try? JSONValue.parse(bytes: AdminAPI.encode(body))) ?? [:]
    }

    public static func == (a: AdminRequest, b: AdminRequest) -> Bool { a.endpoint.same(as: b.endpoint) && a.path == b.path && a.body == b.body }
}

extension OperatorCommand {
    /// The admin call that asks a node for this command, with `reason` for the audit (nil for the
    /// node's own writes: fault expiry and the budget guard).
    public func request(reason: String?) -> AdminRequest? {
        switch self {
        case .drainProvider(let id): AdminRequest(.drainProvider, ["id": id], body: ReasonBody(reason: reason))
        case .undrainProvider(let id): AdminRequest(.undrainProvider, ["id": id], body: ReasonBody(reason: reason))
        case .failoverProvider(let id, let to): AdminRequest(.failoverProvider, ["id": id], body: FailoverBody(to: to.isEmpty ? nil : to, reason: reason))
        case .restoreProvider(let id): AdminRequest(.restoreProvider, ["id": id], body: ReasonBody(reason: reason))
        case .setWeights(let route, let weights): AdminRequest(.setWeights, ["alias": route], body: WeightsBody(weights: weights, reason: reason))
        case .setStrategy(let route, let strategy): AdminRequest(.setStrategy, ["alias": route], body: StrategyBody(strategy: strategy.rawValue, reason: reason))
        case .blockClient(let name): AdminRequest(.blockClient, ["name": name], body: ReasonBody(reason: reason))
        case .unblockClient(let name): AdminRequest(.unblockClient, ["name": name], body: ReasonBody(reason: reason))
        case .setClientLimits(let name, let limits): AdminRequest(.setClientLimits, ["name": name], body: ClientLimitsBody(limits: limits.wire, reason: reason))
        case .failoverTier(let route, let tier, let to):
            AdminRequest(.failoverTier, ["alias": route, "tier": String(tier)], body: FailoverBody(to: to.isEmpty ? nil : to, reason: reason))
        case .restoreTier(let route, let tier): AdminRequest(.restoreTier, ["alias": route, "tier": String(tier)], body: ReasonBody(reason: reason))
        case .drainNode: AdminRequest(.drainNode, body: ReasonBody(reason: reason))
        case .undrainNode: AdminRequest(.undrainNode, body: ReasonBody(reason: reason))
        case .replaceState(let document): AdminRequest(.replaceState, body: StateBody(state: document, reason: reason))
        case .acknowledgeStore: AdminRequest(.acknowledgeStore, body: ReasonBody(reason: reason))
        case .setFault(let id, let spec):
            // A ratio of 1 (every attempt) is the API's default: left out, as the operator did.
            AdminRequest(.setFault, ["id": id], body: FaultBody(kind: spec.kind.rawValue, ratio: spec.ratio == 1 ? nil : spec.ratio, status: spec.status,
                                                                extraMs: spec.extraMs, duration: spec.duration, reason: reason))
        case .endFault(let id): AdminRequest(.endFault, ["id": id], body: ReasonBody(reason: reason))
        case .setBudget(let route, let perHour, let action):
            AdminRequest(.setBudget, ["alias": route], body: BudgetBody(perHour: perHour, action: action?.rawValue, reason: reason))
        case .expireFault, .tripBudget, .liftBudget: nil
        }
    }
}
