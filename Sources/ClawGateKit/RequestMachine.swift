/// The decisions of one client request as a value: told what happened, it answers what to do next.
/// It does no I/O and reads no clock (the shape of async-http-client's `HTTPRequestStateMachine`),
/// so every path through retries, pass-through and refusals is testable without a server.
struct RequestMachine: Sendable {
    enum Action: Equatable, Sendable {
        /// Ask the node's state for a provider for attempt number `attempt` (1-based).
        case choose(attempt: Int)
        /// Send the request to this provider.
        case send(GatewayState.Choice)
        /// The request is decided; answer the client this way.
        case finish(Ending)
    }

    enum Ending: Equatable, Sendable {
        /// The provider's answer goes to the client (a whole JSON body, or a stream that starts now).
        case served(provider: Int)
        /// The provider said the request was wrong: its status and body go to the client unchanged.
        case passedThrough(provider: Int, status: Int)
        /// No provider was available at all (503).
        case noProvider
        /// Every provider left is at `max_in_flight_per_provider` (429, the provider is not blamed).
        case providersFull
        /// Every attempt failed: 429 when all were rate limited, 504 when all timed out, else 502.
        case allFailed(status: Int)
    }

    let maxAttempts: Int
    private(set) var attempts: [AttemptRecord] = []
    private(set) var tried: Set<Int> = []
    private(set) var budgetRefused = false
    /// The last `Retry-After` a rate-limiting provider gave.
    private(set) var retryAfter: String?
    private var current: GatewayState.Choice?

    /// `excluded`: providers that cannot serve this request's endpoint, never chosen.
    init(maxAttempts: Int, excluded: Set<Int> = []) {
        self.maxAttempts = maxAttempts
        self.tried = excluded
    }

    func start() -> Action { .choose(attempt: 1) }

    /// What the node's state answered to `.choose`.
    mutating func chosen(_ result: Result<GatewayState.Choice, GatewayState.NoChoice>) -> Action {
        switch result {
        case .success(let choice):
            tried.insert(choice.provider)
            current = choice
            return .send(choice)
        case .failure(.retryBudget):
            budgetRefused = true
            return .finish(failedEnding())
        case .failure(.providersFull) where attempts.isEmpty:
            return .finish(.providersFull)
        case .failure:
            return .finish(failedEnding())
        }
    }

    /// How the attempt sent by the last `.send` ended, before anything reached the client.
    mutating func attemptEnded(providerID: String, outcome: AttemptOutcome, retryAfter: String? = nil) -> Action {
        guard let choice = current else { preconditionFailure("attemptEnded without a send") }
        current = nil
        attempts.append(AttemptRecord(provider: providerID, outcome: outcome))
        if let retryAfter { self.retryAfter = retryAfter }
        switch outcome.fault {
        case .none:
            return .finish(.served(provider: choice.provider))
        case .client:
            if case .clientError(let status) = outcome { return .finish(.passedThrough(provider: choice.provider, status: status)) }
            return .finish(.served(provider: choice.provider))
        case .provider, .limit:
            guard attempts.count < maxAttempts else { return .finish(failedEnding()) }
            return .choose(attempt: attempts.count + 1)
        }
    }

    private func failedEnding() -> Ending {
        if attempts.isEmpty { return .noProvider }
        if attempts.allSatisfy({ $0.outcome == .status(429) }) { return .allFailed(status: 429) }
        if attempts.allSatisfy({ $0.outcome == .timeout }) { return .allFailed(status: 504) }
        return .allFailed(status: 502)
    }
}
