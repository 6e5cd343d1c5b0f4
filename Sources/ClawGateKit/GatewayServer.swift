import ClawShared
import ClawServerSupport
import Foundation
import Hummingbird
import Logging
import NIOCore

/// A clawgate node listening on its socket: the routes, the health checker, and a way to stop.
public final class GatewayServer: Sendable {
    public let gateway: Gateway
    public let url: String
    private let servers: ServerGroup

    init(gateway: Gateway, url: String, servers: ServerGroup) {
        self.gateway = gateway
        self.url = url
        self.servers = servers
    }

    /// Build and start a node; returns once it listens (port 0 picks a free port).
    public static func start(config: GatewayConfig, logger: Logger? = nil, seed: UInt64? = nil,
                             clock: @escaping @Sendable () -> Double = Gateway.monotonic,
                             environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> GatewayServer {
        var logger = logger ?? Logger(label: "clawgate")
        if let level = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) { logger.logLevel = level }
        let gateway = try Gateway(config: config, logger: logger, seed: seed, clock: clock, environment: environment)
        // With a fleet store, start from its state (a node started after a drain starts drained);
        // when it does not answer, the cached state serves and the sync catches up later.
        do {
            try await gateway.syncFromStore()
        } catch {
            await gateway.shutdown()
            throw error
        }
        let port = BoundPort()
        let app = Application(
            router: gateway.router(),
            server: .http1(configuration: .init(additionalChannelHandlers: [ClientCloseHandler()])),
            configuration: .init(address: .hostname(config.listenHost, port: config.listenPort), serverName: "clawgate/\(Gateway.version)",
                                 backlog: 4096),
            services: [HealthChecker(gateway: gateway), FleetSync(gateway: gateway), FleetMembership(gateway: gateway),
                       ClientSpendSync(gateway: gateway)],
            onServerRunning: port.onServerRunning,
            logger: logger
        )
        let servers: ServerGroup
        do {
            servers = try await ServerGroup.start([app], ports: [port], logger: logger)
        } catch {
            await gateway.shutdown()
            throw error
        }
        let host = config.listenHost.contains(":") ? "[\(config.listenHost)]" : config.listenHost
        let url = "http://\(host):\(try await port.value())"
        gateway.advertisedURL.withLock { $0 = url }
        return GatewayServer(gateway: gateway, url: url, servers: servers)
    }

    public func stop() async {
        await servers.stop()
        await gateway.shutdown()
    }

    public func wait() async throws {
        try await servers.wait()
    }
}
