import AsyncHTTPClient
import Foundation
import NIOCore
import ServiceLifecycle

/// Active health checks: every interval, probe each provider at once with its own timeout.
struct HealthChecker: Service {
    let gateway: Gateway

    func run() async throws {
        let settings = gateway.config.healthCheck
        guard settings.enabled else {
            // A service that returns ends the whole group; a disabled checker waits for shutdown instead.
            try? await gracefulShutdown()
            return
        }
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await probeAll()
                try await Task.sleep(for: .seconds(settings.interval))
            }
        }
    }

    func probeAll() async {
        await withTaskGroup(of: Void.self) { group in
            for index in gateway.config.providers.indices {
                group.addTask { await probe(index) }
            }
        }
    }

    func probe(_ provider: Int) async {
        let settings = gateway.config.healthCheck
        let request = gateway.upstreamRequest(provider: provider, path: settings.path, method: .GET, body: nil)
        var ok = false
        var error: String?
        do {
            let response = try await gateway.clients[provider].execute(request, deadline: .now() + .nanoseconds(Int64(settings.timeout * 1e9)))
            _ = try? await response.body.collect(upTo: 1 << 20)
            ok = (200..<300).contains(Int(response.status.code))
            if !ok { error = "status_\(response.status.code)" }
        } catch let failure {
            error = Gateway.classify(failure).label
        }
        gateway.state.recordProbe(provider: provider, ok: ok, error: error, now: gateway.clock())
    }
}
