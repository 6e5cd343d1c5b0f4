import ClawAdminAPI
import Foundation
import ServiceLifecycle

extension InjectedFault {
    /// The delay it adds before the attempt goes out (latency), in seconds.
    var delay: Double { kind == .latency ? Double(extraMs ?? 0) / 1000 : 0 }

    /// Whether it decides the attempt's outcome by itself: every kind but a latency shorter than the
    /// deadline, after which the real attempt decides.
    func decides(deadline: Double) -> Bool { kind != .latency || delay >= deadline }
}

extension Gateway {
    /// What an injected fault does to an attempt before anything is sent, as the provider would
    /// have done it: the failure it stands for, or nil when the attempt then goes out (after a
    /// latency fault's delay). `deadline`: the attempt's first-byte deadline, which a hang waits out.
    func inject(_ fault: InjectedFault, deadline: Double) async -> AttemptOutcome? {
        switch fault.kind {
        case .outage:
            return .connectError
        case .error:
            return AttemptOutcome.classify(status: fault.status ?? 503)
        case .hang:
            try? await Task.sleep(for: .nanoseconds(Int64(max(0, deadline) * 1e9)))
            return .timeout
        case .latency:
            guard fault.delay < deadline else {
                try? await Task.sleep(for: .nanoseconds(Int64(max(0, deadline) * 1e9)))
                return .timeout
            }
            try? await Task.sleep(for: .nanoseconds(Int64(fault.delay * 1e9)))
            return nil
        }
    }

    /// The actor of the node's own writes (a fault's expiry) in the audit.
    static let automatic = AdminCaller(name: "clawgate")

    /// How often a node looks for faults whose time is over.
    static let faultCheckInterval = Duration.milliseconds(250)

    /// Faults whose time is over: their end is said in the events at once (even with no console or
    /// operator left) and the node drops them from the state with a write of its own, audited as
    /// `clawgate`. With a fleet store every node tries; the store's compare lets one write land and
    /// the others find nothing left to do. A write that fails is tried again 2 s later.
    func expireFaults(retryAt: inout [String: Double]) async {
        let over = state.refreshFaults()
        for id in retryAt.keys where !over.contains(id) { retryAt[id] = nil }
        for id in over {
            let now = state.wallClock()
            guard (retryAt[id] ?? 0) <= now else { continue }
            let fault = state.operatorState.faults[id]
            let reason = fault.map { "its time was over (set for \(GatewayState.span($0.until - $0.since))\($0.actor.map { " by \($0)" } ?? ""))" }
            do throws(AdminError) {
                _ = try await commit(.expireFault(id), caller: Self.automatic, expected: nil, reason: reason)
                retryAt[id] = nil
            } catch {
                if retryAt[id] == nil {
                    logger.warning("cannot drop an expired fault from the operator state yet (it is no longer applied); trying again",
                                   metadata: ["provider": .string(id), "error": .string(error.message)])
                }
                retryAt[id] = now + 2
            }
        }
    }
}

/// Ends faults on time: every `faultCheckInterval`, on every node, whatever else is running.
struct FaultExpiry: Service {
    let gateway: Gateway

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            var retryAt: [String: Double] = [:]
            while !Task.isCancelled {
                await gateway.expireFaults(retryAt: &retryAt)
                try await Task.sleep(for: Gateway.faultCheckInterval)
            }
        }
    }
}
