import AsyncHTTPClient
import ClawAdminAPI
import ClawShared
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import ClawServerSupport
import NIOPosix

/// One clawgate node: configuration, state, upstream clients and metrics. The HTTP routes and the
/// health checker call into it; `GatewayServer` wires it to a listening socket.
public final class Gateway: Sendable {
    public static let version = "0.1.0"

    public let config: GatewayConfig
    public let state: GatewayState
    public let metrics: GatewayMetrics
    public let logger: Logger
    let clients: [HTTPClient]
    let apiKeys: [String?]
    /// Each provider's host:port (`server.address` of its attempts).
    let serverAddresses: [String]
    /// The JSON access log, when `access_log:` is configured.
    public let accessLog: AccessLog?
    /// The span exporter, when `telemetry:` or `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT` names a collector.
    public let traceExport: TraceExport?
    /// Seconds on the node's clock (monotonic; a test may pass its own and move it).
    public let clock: @Sendable () -> Double
    public let startedAt: Double
    public let startedAtWall: Double
    let auth: AdminAuth
    /// Who may call `/v1/...` (open when no `clients:` are configured).
    let clientAuth: ClientAuth
    /// The open-file limit in force when the node started.
    public let openFileLimit: Int
    /// This node's own copy of the operator state: the state itself with `store: {kind: file}`,
    /// the cache of the fleet store's last applied state with `kind: etcd`.
    let store: StateStore
    /// The fleet's state in etcd, when configured.
    let fleetStore: FleetStore?
    /// The URL this node listens on, once it does (for the fleet store's member list).
    let advertisedURL = Mutex<String?>(nil)
    /// The client port's connection cap and clocks.
    public let dataListener: ListenerLimits
    /// The admin listener's: the same clocks, and a small cap taken from the reserved descriptors.
    public let adminListener: ListenerLimits
    /// Connections the admin listener holds at once (from the descriptors kept in reserve).
    public static let adminMaxConnections = 64
    /// The client port's TLS (`tls:`), nil for plain HTTP.
    public let dataTLS: ServerTLS?
    /// The admin listener's TLS (`admin.tls:`), nil for plain HTTP.
    public let adminTLS: ServerTLS?

    /// Where the operator state lives and whether this node reaches it now.
    public var storeStatus: StoreStatus {
        guard let fleetStore else { return StoreStatus(kind: .file, reachable: true) }
        let health = fleetStore.health.withLock { $0 }
        let emptied = health.emptied && health.reachable
            ? "the fleet store holds no operator state, but this node applied revision \(state.operatorState.revision): wiped? Restore it with clawgate state import"
            : nil
        return StoreStatus(kind: .etcd, reachable: health.reachable, error: health.lastError ?? emptied, unaudited: health.unaudited)
    }
    /// The audit log in memory (its next sequence and the last entries); writes are put in order
    /// by the persister, which holds this only to read and update it, never across a disk write.
    let writes: Mutex<AuditLog>
    /// The one writer of operator state and audit to disk, off the event loops.
    let persister = StatePersister()
    /// The budget guard's figures between evaluations.
    let budgetWatch = Mutex(BudgetWatch())

    struct AuditLog: Sendable {
        var entries: [AuditEntry]
        var nextSequence: Int

        /// Audit entries a node keeps in memory (and reads back from its file at start).
        static let kept = 1000

        mutating func keep(_ entry: AuditEntry) {
            entries.append(entry)
            if entries.count > Self.kept { entries.removeFirst(entries.count - Self.kept) }
        }
    }

    /// Seconds on a monotonic clock.
    public static let monotonic: @Sendable () -> Double = {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Build a node: loads admin tokens and the saved operator state, and refuses what is wrong.
    public convenience init(config: GatewayConfig, logger: Logger = Logger(label: "clawgate"), seed: UInt64? = nil,
                            clock: @escaping @Sendable () -> Double = Gateway.monotonic,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let auth = try AdminAuth.load(config.admin.tokens, environment: environment)
        let clientAuth = try ClientAuth.load(config.clients, environment: environment)
        let dataTLS = try config.tls.map { files throws(ConfigError) in try ServerTLS(listener: "data", files: files, path: "tls") }
        let adminTLS = try config.admin.tls.map { files throws(ConfigError) in try ServerTLS(listener: "admin", files: files, path: "admin.tls") }
        let etcdAccess = try EtcdAccess.load(config.storeAccess, environment: environment)
        let store = StateStore(directory: config.admin.stateDir ?? StateStore.defaultDirectory(nodeID: config.nodeID, environment: environment))
        try store.prepare()
        var operatorState = try store.load() ?? OperatorState()
        let (lastAudit, unreadable) = store.loadAuditReporting(limit: AuditLog.kept)
        if unreadable > 0 {
            logger.warning("audit.jsonl holds lines that cannot be read (a record cut short by a crash); they are left out",
                           metadata: ["lines": .stringConvertible(unreadable)])
        }
        // A state file lost or older than the audit (a crash between the record and the save): the
        // revisions go on from the audit's last, so no two records share a revision.
        if case .file = config.store, let last = lastAudit.last?.revision, last > operatorState.revision {
            logger.warning("the saved operator state is older than the audit; revisions continue from the audit's",
                           metadata: ["state_revision": .stringConvertible(operatorState.revision), "audit_revision": .stringConvertible(last)])
            operatorState.revision = last
        }
        for dropped in operatorState.prune(config: config) {
            logger.warning("saved operator state no longer matches the configuration; dropped", metadata: ["what": .string(dropped)])
        }
        let openFiles = OpenFileLimit.raiseToHard()
        let limits = try Self.resolveLimits(config.limits, openFiles: openFiles)
        if config.admin.tokens.isEmpty {
            logger.warning("no admin tokens configured: every /admin request will be refused with 401")
        }
        if config.clients == nil {
            logger.warning("client_auth off: no clients configured, so anyone who reaches this port can spend the providers' keys")
        }
        for tls in [dataTLS, adminTLS].compactMap({ $0 }) {
            let loaded = tls.loaded
            logger.info("TLS on", metadata: ["listener": .string(tls.listener), "subject": .string(loaded.subject),
                                             "not_after": .string(Date(timeIntervalSince1970: loaded.notAfter).ISO8601Format()),
                                             "client_certificates": .string(loaded.mutual ? "required" : "not asked")])
        }
        let accessLog = try config.accessLog.map { (target) throws(AccessLogError) in try AccessLog(target: target) }
        let traceExport = try TraceExport.make(config.telemetry, environment: environment, logger: logger)
        if let traceExport {
            logger.info("exporting spans over OTLP/HTTP", metadata: ["endpoint": .string(traceExport.settings.endpoint),
                                                                     "service": .string(traceExport.settings.serviceName)])
        }
        self.init(config: config, logger: logger, seed: seed, auth: auth, store: store, operatorState: operatorState, limits: limits,
                  openFileLimit: openFiles, clock: clock, clientAuth: clientAuth, environment: environment, dataTLS: dataTLS, adminTLS: adminTLS,
                  etcdAccess: etcdAccess, accessLog: accessLog, traceExport: traceExport)
    }

    /// Each request in flight holds two sockets (the client's and the provider's); this many file
    /// descriptors are kept for everything else (listeners, state files, health checks).
    static let reservedFiles = 256

    /// The limits in force: the configured ones, checked against the open-file limit, or derived
    /// from it. A configured limit the process cannot hold is refused with what to do about it.
    /// Every open client connection holds one descriptor and every request in flight one more (its
    /// provider's socket), so `max_connections` + `max_in_flight` + the reserve fit in the limit:
    /// a flood of idle sockets is refused before the process runs out of descriptors.
    static func resolveLimits(_ limits: GatewayConfig.Limits, openFiles: Int) throws(LimitsError) -> GatewayState.Limits {
        let affordable = max(0, (openFiles - reservedFiles) / 2)
        if let wanted = limits.maxInFlight, wanted > affordable {
            throw LimitsError(description: """
                limits.max_in_flight is \(wanted), but the open-file limit is \(openFiles) and each request in flight needs 2 \
                (client and provider socket) besides \(reservedFiles) kept for the rest: at most \(affordable) fit. Raise the limit \
                (`ulimit -n \(wanted * 2 + reservedFiles)` in the shell that starts clawgate, or LimitNOFILE= in its systemd unit) \
                or lower limits.max_in_flight.
                """)
        }
        guard affordable >= 1 else {
            throw LimitsError(description: "the open-file limit is \(openFiles), too low to serve anything: raise it with `ulimit -n 4096`.")
        }
        let maxInFlight = limits.maxInFlight ?? min(10_000, affordable)
        let connectionsAffordable = openFiles - reservedFiles - maxInFlight
        if let wanted = limits.maxConnections, wanted > connectionsAffordable {
            throw LimitsError(description: """
                limits.max_connections is \(wanted), but the open-file limit is \(openFiles): with limits.max_in_flight \(maxInFlight) \
                (one provider socket each) and \(reservedFiles) kept for the rest, at most \(connectionsAffordable) connections fit. \
                Raise the limit (`ulimit -n \(wanted + maxInFlight + reservedFiles)`, or LimitNOFILE= in the systemd unit) or lower \
                limits.max_connections.
                """)
        }
        let maxConnections = limits.maxConnections ?? min(20_000, connectionsAffordable)
        return GatewayState.Limits(maxInFlight: maxInFlight, maxInFlightPerProvider: limits.maxInFlightPerProvider ?? maxInFlight,
                                   maxConnections: maxConnections)
    }

    init(config: GatewayConfig, logger: Logger, seed: UInt64?, auth: AdminAuth, store: StateStore, operatorState: OperatorState,
         limits: GatewayState.Limits = GatewayState.Limits(), openFileLimit: Int = 0,
         clock: @escaping @Sendable () -> Double = Gateway.monotonic, clientAuth: ClientAuth = ClientAuth(clients: nil),
         environment: [String: String] = ProcessInfo.processInfo.environment, dataTLS: ServerTLS? = nil, adminTLS: ServerTLS? = nil,
         etcdAccess: EtcdAccess = EtcdAccess(), accessLog: AccessLog? = nil, traceExport: TraceExport? = nil) {
        self.clientAuth = clientAuth
        self.dataTLS = dataTLS
        self.adminTLS = adminTLS
        self.accessLog = accessLog
        self.traceExport = traceExport
        self.openFileLimit = openFileLimit
        let metrics = GatewayMetrics()
        self.metrics = metrics
        self.dataListener = ListenerLimits(listener: "data", maxConnections: limits.maxConnections, headerTimeout: config.limits.headerTimeout,
                                           idleTimeout: config.limits.idleTimeout, bodyTimeout: config.limits.bodyTimeout, metrics: metrics)
        self.adminListener = ListenerLimits(listener: "admin", maxConnections: Self.adminMaxConnections, headerTimeout: config.limits.headerTimeout,
                                            idleTimeout: config.limits.idleTimeout, bodyTimeout: config.limits.bodyTimeout, metrics: metrics)
        self.config = config
        self.logger = logger
        self.clock = clock
        self.auth = auth
        self.store = store
        if case .etcd(let endpoints, let fleet, let timeout) = config.store {
            fleetStore = FleetStore(endpoints: endpoints, fleet: fleet, timeout: timeout, access: etcdAccess)
        } else {
            fleetStore = nil
        }
        let audit = store.loadAudit(limit: AuditLog.kept)
        self.writes = Mutex(AuditLog(entries: audit, nextSequence: (audit.last?.sequence ?? 0) + 1))
        let now = clock()
        self.startedAt = now
        self.startedAtWall = Date().timeIntervalSince1970
        self.state = GatewayState(config: config, now: now, seed: seed ?? UInt64.random(in: 0...UInt64.max), operatorState: operatorState,
                                  limits: limits)
        self.clients = config.providers.map { provider in
            var configuration = HTTPClient.Configuration()
            configuration.timeout = .init(
                connect: .nanoseconds(Int64(provider.timeouts.connect * 1e9)),
                read: .nanoseconds(Int64(provider.timeouts.firstByte * 1e9))
            )
            // One connection per request in flight: the node's own limit, not the pool's, decides
            // when to refuse, and it answers 429 instead of leaving requests queued to time out.
            configuration.connectionPool = .init(idleTimeout: .seconds(60),
                                                 concurrentHTTP1ConnectionsPerHostSoftLimit: limits.maxInFlightPerProvider)
            configuration.decompression = .disabled
            // A refused connection (a provider's process gone) fails at once and the request moves
            // on to another provider, instead of the pool retrying it until the connect timeout.
            configuration.connectionPool.retryConnectionEstablishment = false
            return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        }
        self.serverAddresses = config.providers.map { provider in
            guard let url = URL(string: provider.baseURL), let host = url.host else { return provider.baseURL }
            return url.port.map { "\(host):\($0)" } ?? host
        }
        self.apiKeys = config.providers.map { provider in
            provider.apiKeyEnv.flatMap { environment[$0] }
        }
        for provider in config.providers {
            if let env = provider.apiKeyEnv, environment[env] == nil {
                logger.warning("environment variable for the provider's API key is not set; sending no key",
                               metadata: ["provider": .string(provider.id), "env": .string(env)])
            }
        }
    }

    public func shutdown() async {
        for client in clients { try? await client.shutdown() }
        await fleetStore?.client.shutdown()
        await persister.shutdown()
    }

    func cost(provider: Int, tokensIn: Int, tokensOut: Int, embeddings: Bool = false) -> Double {
        let price = config.providers[provider].price
        if embeddings { return Double(tokensIn) * (price.embeddingPer1M ?? price.inputPer1M) / 1_000_000 }
        return (Double(tokensIn) * price.inputPer1M + Double(tokensOut) * price.outputPer1M) / 1_000_000
    }

    /// A request to `url` on a provider, with the headers of its kind carrying the gateway's key
    /// (never the client's) and, for a client's request, its trace context (`traceparent` naming
    /// the attempt's span, the client's `tracestate`) and request id.
    func upstreamRequest(provider: Int, url: String, method: HTTPMethod, body: ByteBuffer?, trace: UpstreamTrace? = nil) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(body)
        }
        request.headers.add(name: "accept", value: "application/json, text/event-stream")
        for (name, value) in config.providers[provider].endpoint.headers(apiKey: apiKeys[provider]) {
            request.headers.add(name: name, value: value)
        }
        if let trace {
            request.headers.add(name: "traceparent", value: trace.traceParent)
            if let state = trace.traceState { request.headers.add(name: "tracestate", value: state) }
            request.headers.add(name: "x-request-id", value: trace.requestID)
        }
        return request
    }

    /// Map an error of the upstream client to the outcome words used everywhere, by its type.
    static func classify(_ error: any Error) -> AttemptOutcome {
        switch error {
        case let e as HTTPClientError:
            switch e {
            case .connectTimeout: return .connectError
            case .readTimeout, .deadlineExceeded, .cancelled: return .timeout
            case .remoteConnectionClosed: return .reset
            default: return .badResponse("HTTP client: \(e.shortDescription)")
            }
        case is NIOConnectionError:
            return .connectError
        case let e as ChannelError:
            switch e {
            case .connectTimeout: return .connectError
            default: return .reset
            }
        case let e as IOError:
            switch e.errnoCode {
            case ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EADDRNOTAVAIL: return .connectError
            case ETIMEDOUT: return .timeout
            default: return .reset
            }
        case is CancellationError:
            return .timeout
        case is HTTPParserError, is NIOHTTPDecoderError:
            return .badResponse("not valid HTTP")
        default:
            return .badResponse("\(type(of: error))")
        }
    }
}

extension HTTPClientError {
    /// A label-safe short form (the description names the whole struct).
    var shortDescription: String {
        String(describing: self).replacingOccurrences(of: "HTTPClientError.", with: "")
    }
}

/// A configured limit this process cannot hold.
public struct LimitsError: Error, CustomStringConvertible, Sendable {
    public let description: String
}
