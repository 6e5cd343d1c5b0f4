import ClawShared
import ClawServerSupport
import Foundation
import Hummingbird
import Logging
import NIOCore

/// A clawgate node listening on its socket: the routes, the health checker, and a way to stop.
public final class GatewayServer: Sendable {
    public let gateway: Gateway
    /// The client port: `/v1/...`, `/healthz`, `/readyz`.
    public let url: String
    /// The admin listener: `/admin/...`, `/metrics`, `/healthz`, `/readyz`.
    public let adminURL: String
    private let servers: ServerGroup

    init(gateway: Gateway, url: String, adminURL: String, servers: ServerGroup) {
        self.gateway = gateway
        self.url = url
        self.adminURL = adminURL
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
        let adminPort = BoundPort()
        let admin = config.adminListen
        let adminApp = Application(
            router: gateway.adminRouter(),
            server: GuardedHTTP1Channel.builder(limits: gateway.adminListener, tls: gateway.adminTLS),
            configuration: .init(address: .hostname(admin.host, port: admin.port), serverName: "clawgate/\(Gateway.version)"),
            onServerRunning: adminPort.onServerRunning,
            logger: logger
        )
        let app = Application(
            router: gateway.router(),
            server: GuardedHTTP1Channel.builder(limits: gateway.dataListener, tls: gateway.dataTLS),
            configuration: .init(address: .hostname(config.listenHost, port: config.listenPort), serverName: "clawgate/\(Gateway.version)",
                                 backlog: 4096),
            services: [HealthChecker(gateway: gateway), FleetSync(gateway: gateway), FleetMembership(gateway: gateway),
                       ClientSpendSync(gateway: gateway), FaultExpiry(gateway: gateway), BudgetGuardService(gateway: gateway),
                       AccessLogWriter(gateway: gateway)] + (gateway.traceExport.map { [$0.service] } ?? []),
            onServerRunning: port.onServerRunning,
            logger: logger
        )
        let servers: ServerGroup
        do {
            servers = try await ServerGroup.start([app, adminApp], ports: [port, adminPort], logger: logger)
        } catch {
            await gateway.shutdown()
            throw error
        }
        func bracketed(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }
        let url = "\(config.tls == nil ? "http" : "https")://\(bracketed(config.listenHost)):\(try await port.value())"
        let adminURL = "\(config.admin.tls == nil ? "http" : "https")://\(bracketed(admin.host)):\(try await adminPort.value())"
        // The fleet's member list is read by clawtop, which talks to admin listeners.
        gateway.advertisedURL.withLock { $0 = adminURL }
        return GatewayServer(gateway: gateway, url: url, adminURL: adminURL, servers: servers)
    }

    /// Read every listener's TLS files again (SIGHUP): new connections get the new certificate,
    /// open ones keep theirs. A listener whose files do not load keeps its context in force; the
    /// error names the key path. Nothing to do without TLS.
    public func reloadTLS() -> [TLSReload] {
        gateway.reloadTLS()
    }

    public func stop() async {
        await servers.stop()
        await gateway.shutdown()
    }

    public func wait() async throws {
        try await servers.wait()
    }
}
