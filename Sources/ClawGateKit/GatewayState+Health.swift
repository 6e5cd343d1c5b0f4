import ClawAdminAPI
import ClawShared
import Foundation
import Synchronization

/// Active health probes and circuit transitions, as events.
extension GatewayState {
    /// Whether the provider's circuit is open (ejected by the data path's failures).
    public func circuitIsOpen(provider: Int) -> Bool {
        inner.withLock { $0.providers[provider].breaker.state == .open }
    }

    /// Record an active health probe.
    public func recordProbe(provider: Int, ok: Bool, error: String?, now: Double) {
        inner.withLock { state in
            let settings = config.healthCheck
            var health = state.providers[provider].health
            health.lastProbe = now
            let id = config.providers[provider].id
            if ok {
                health.consecutiveFailures = 0
                health.consecutiveSuccesses += 1
                if !health.healthy, health.consecutiveSuccesses >= settings.healthyThreshold {
                    health.healthy = true
                    health.lastError = nil
                    state.providers[provider].routing.backSince = now
                    state.events.append(time: wallClock(), node: config.nodeID, kind: .healthRecovered, subject: id,
                                        detail: "health probe succeeded \(health.consecutiveSuccesses) time(s)")
                }
            } else {
                health.consecutiveSuccesses = 0
                health.consecutiveFailures += 1
                health.lastError = error
                if health.healthy, health.consecutiveFailures >= settings.unhealthyThreshold {
                    health.healthy = false
                    state.events.append(time: wallClock(), node: config.nodeID, kind: .healthFailed, subject: id,
                                        detail: "\(health.consecutiveFailures) failed health probes, last: \(error ?? "unknown")")
                }
            }
            state.providers[provider].health = health
            // A probe that passes (and keeps the provider healthy) closes a circuit whose cooldown is over.
            if ok, health.healthy, let transition = state.providers[provider].breaker.recordProbeSuccess(now: now) {
                log(&state, provider: provider, transition, now: now)
            }
        }
    }

    func log(_ state: inout Inner, provider: Int, _ transition: CircuitBreaker.Transition, now: Double) {
        let id = config.providers[provider].id
        let (kind, detail): (EventKind, String)
        switch transition {
        case .opened(let cooldown, let reason):
            (kind, detail) = (.circuitOpened, "\(reason); cooldown \(String(format: "%.1f", cooldown)) s")
        case .probing:
            (kind, detail) = (.circuitProbing, "cooldown over; letting one probe request through")
        case .closed:
            (kind, detail) = (.circuitClosed, "request succeeded; back in rotation")
            state.providers[provider].routing.backSince = now
        case .closedByProbe:
            (kind, detail) = (.circuitClosed, "health probe succeeded after the cooldown; back in rotation")
            state.providers[provider].routing.backSince = now
        }
        state.events.append(time: wallClock(), node: config.nodeID, kind: kind, subject: id, detail: detail)
    }
}
