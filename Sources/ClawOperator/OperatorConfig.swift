import ClawAdminAPI

/// The part of a gateway's configuration that operator commands are checked against and that
/// routing is worked out from: the node's id, its providers (and whether they have a price), its
/// routes with their tiers, strategies and budgets, and its clients. The gateway derives it from
/// its YAML; the console from what a node reports in its snapshot.
public struct OperatorConfig: Sendable, Equatable {
    /// A provider as routing sees it: its id, and its price per million tokens in and out (nil:
    /// no `price:` given; the `cost` strategy and the budget guard never take it for cheap).
    public struct Provider: Sendable, Equatable {
        public var id: String
        public var pricePer1M: Double?

        public init(id: String, pricePer1M: Double? = nil) {
            self.id = id
            self.pricePer1M = pricePer1M
        }
    }

    /// One provider of a tier: the model it serves the route with, and its configured weight.
    public struct Target: Sendable, Equatable {
        public var provider: String
        public var model: String
        public var weight: Int

        public init(provider: String, model: String, weight: Int) {
            self.provider = provider
            self.model = model
            self.weight = weight
        }
    }

    public struct Route: Sendable, Equatable {
        public var alias: String
        /// Priority tiers: the first tier with an eligible provider takes the request.
        public var tiers: [[Target]]
        /// How a provider is chosen within a tier (operators may change it at runtime).
        public var strategy: RoutingStrategy
        /// `budget: {per_hour, action}`: what the route may spend, and what happens past it.
        public var budget: RouteBudget?

        public init(alias: String, tiers: [[Target]], strategy: RoutingStrategy = .weighted, budget: RouteBudget? = nil) {
            self.alias = alias
            self.tiers = tiers
            self.strategy = strategy
            self.budget = budget
        }
    }

    /// A client's limits; nil: none.
    public struct ClientLimits: Sendable, Equatable {
        /// Requests per minute.
        public var rpm: Int?
        /// Tokens (prompt and completion) per minute.
        public var tpm: Int?
        /// Dollars per UTC day.
        public var spendPerDay: Double?
        /// Requests at once.
        public var concurrency: Int?

        public init(rpm: Int? = nil, tpm: Int? = nil, spendPerDay: Double? = nil, concurrency: Int? = nil) {
            self.rpm = rpm
            self.tpm = tpm
            self.spendPerDay = spendPerDay
            self.concurrency = concurrency
        }
    }

    public var nodeID: String
    public var providers: [Provider]
    public var routes: [Route]
    /// The names of the clients that may call the gateway; nil: it is open to anyone.
    public var clients: [String]?

    public init(nodeID: String, providers: [Provider], routes: [Route], clients: [String]? = nil) {
        self.nodeID = nodeID
        self.providers = providers
        self.routes = routes
        self.clients = clients
    }
}
