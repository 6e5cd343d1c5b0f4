/// The passive circuit breaker of one provider, as a value: callers pass the time in and get the
/// transitions back, so tests drive it without a clock or I/O.
public struct CircuitBreaker: Sendable, Equatable {
    /// `probing`: the cooldown is over and one request may go through to test the provider.
    public enum State: String, Sendable {
        case closed
        case open
        case probing
    }

    public enum Transition: Sendable, Equatable {
        case opened(cooldown: Double, reason: String)
        case probing
        case closed
        /// Closed by an active health probe (with health checks on).
        case closedByProbe
    }

    public struct Failure: Sendable, Equatable {
        public var time: Double
        public var reason: String
    }

    public let settings: GatewayConfig.Breaker
    public private(set) var state: State = .closed
    public private(set) var consecutiveFailures = 0
    /// Times the circuit opened in a row (since it was last healthy for a while); grows the cooldown.
    public private(set) var ejectionStreak = 0
    /// Times the circuit opened since the node started (the snapshot's `ejections`).
    public private(set) var ejections = 0
    public private(set) var since: Double
    public private(set) var openUntil: Double?
    public private(set) var openReason: String?
    public private(set) var recentFailures: [Failure] = []
    private var probeInFlight = false
    private var lastClosedAt: Double

    public init(settings: GatewayConfig.Breaker, now: Double) {
        self.settings = settings
        self.since = now
        self.lastClosedAt = now
    }

    /// Whether a request could be sent now (without taking the probing slot).
    public func isAvailable(now: Double) -> Bool {
        switch state {
        case .closed: true
        case .open: now >= (openUntil ?? now)
        case .probing: !probeInFlight
        }
    }

    /// Take permission for one request; an open circuit whose cooldown ended lets exactly one probe through.
    public mutating func acquire(now: Double) -> (allowed: Bool, transition: Transition?) {
        switch state {
        case .closed:
            return (true, nil)
        case .open:
            guard now >= (openUntil ?? now) else { return (false, nil) }
            state = .probing
            since = now
            openUntil = nil
            probeInFlight = true
            return (true, .probing)
        case .probing:
            guard !probeInFlight else { return (false, nil) }
            probeInFlight = true
            return (true, nil)
        }
    }

    /// An active health probe passed. With health checks on, an open circuit closes this way only,
    /// once its cooldown is over: no client request is ever the probe (HAProxy's rise).
    public mutating func recordProbeSuccess(now: Double) -> Transition? {
        guard state == .open, now >= (openUntil ?? now) else { return nil }
        state = .closed
        consecutiveFailures = 0
        since = now
        lastClosedAt = now
        openUntil = nil
        openReason = nil
        return .closedByProbe
    }

    /// A request that took permission ended with no verdict (the client went away).
    public mutating func release() {
        probeInFlight = false
    }

    public mutating func recordSuccess(now: Double) -> Transition? {
        consecutiveFailures = 0
        probeInFlight = false
        if state == .closed {
            // Healthy for longer than the longest cooldown: forget earlier ejections.
            if ejectionStreak > 0, now - lastClosedAt > settings.maxCooldown { ejectionStreak = 0 }
            return nil
        }
        state = .closed
        since = now
        lastClosedAt = now
        openUntil = nil
        openReason = nil
        return .closed
    }

    public mutating func recordFailure(reason: String, now: Double) -> Transition? {
        consecutiveFailures += 1
        recentFailures.append(Failure(time: now, reason: reason))
        if recentFailures.count > 5 { recentFailures.removeFirst(recentFailures.count - 5) }
        let wasProbe = probeInFlight
        probeInFlight = false
        switch state {
        case .open:
            return nil
        case .probing where wasProbe:
            return open(now: now, reason: "probe failed: \(reason)")
        case .probing:
            return nil
        case .closed:
            guard consecutiveFailures >= settings.consecutiveFailures else { return nil }
            return open(now: now, reason: "\(consecutiveFailures) consecutive failures, last: \(reason)")
        }
    }

    /// The cooldown the next ejection would get: doubled per ejection, capped.
    public var nextCooldown: Double {
        min(settings.cooldown * Double(1 << min(ejectionStreak, 20)), settings.maxCooldown)
    }

    private mutating func open(now: Double, reason: String) -> Transition {
        let cooldown = nextCooldown
        ejectionStreak += 1
        ejections += 1
        state = .open
        since = now
        openUntil = now + cooldown
        openReason = reason
        return .opened(cooldown: cooldown, reason: reason)
    }
}
