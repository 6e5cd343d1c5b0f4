import ClawShared
import ClawServerSupport
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// A running simulator: its providers, each on its own loopback port, and a control endpoint.
public final class Simulator: Sendable {
    public let config: SimConfig
    public let providers: [SimProvider]
    public let controlURL: String
    public let providerURLs: [String: String]
    private let servers: ServerGroup

    private init(config: SimConfig, providers: [SimProvider], controlURL: String, providerURLs: [String: String], servers: ServerGroup) {
        self.config = config
        self.providers = providers
        self.controlURL = controlURL
        self.providerURLs = providerURLs
        self.servers = servers
    }

    /// Start every provider and the control endpoint; returns once all of them listen.
    public static func start(_ config: SimConfig, logger: Logger? = nil) async throws -> Simulator {
        var logger = logger ?? Logger(label: "clawsim")
        if logger.logLevel > .warning || logger.logLevel == .info { logger.logLevel = .warning }
        OpenFileLimit.raiseToHard()  // thousands of concurrent streams, one socket each
        let providers = config.providers.map { SimProvider(id: $0.id, models: $0.models, behaviour: $0.behaviour, format: $0.format, seed: config.seed) }
        let byID = Dictionary(uniqueKeysWithValues: providers.map { ($0.id, $0) })
        var services: [any Service] = []
        var ports: [BoundPort] = []
        for (index, provider) in providers.enumerated() {
            let port = BoundPort()
            let app = Application(
                router: provider.router(logger: logger),
                configuration: .init(address: .hostname(config.host, port: config.providers[index].port), serverName: "clawsim", backlog: 4096),
                onServerRunning: port.onServerRunning,
                logger: logger
            )
            services.append(app)
            ports.append(port)
        }
        let controlPort = BoundPort()
        let urls = URLBox()
        let control = Application(
            router: controlRouter(byID: byID, urls: urls),
            configuration: .init(address: .hostname(config.host, port: config.controlPort), serverName: "clawsim"),
            onServerRunning: controlPort.onServerRunning,
            logger: logger
        )
        services.append(control)
        ports.append(controlPort)
        let servers = try await ServerGroup.start(services, ports: ports, logger: logger)
        var providerURLs: [String: String] = [:]
        for (index, provider) in providers.enumerated() {
            providerURLs[provider.id] = "http://\(config.host):\(try await ports[index].value())"
        }
        urls.set(providerURLs)
        let controlURL = "http://\(config.host):\(try await controlPort.value())"
        return Simulator(config: config, providers: providers, controlURL: controlURL, providerURLs: providerURLs, servers: servers)
    }

    public func provider(_ id: String) -> SimProvider? { providers.first { $0.id == id } }

    public func stop() async {
        for provider in providers { provider.stopping() }
        await servers.stop()
    }
    public func wait() async throws { try await servers.wait() }

    /// The line `clawsim` prints first, so scripts learn the ports it chose.
    public var announcement: String {
        let value: JSONValue = [
            "control": .string(controlURL),
            "providers": .object(providerURLs.mapValues { .string($0) }),
        ]
        return String(decoding: value.encoded(sorted: true), as: UTF8.self)
    }

    static func describe(_ provider: SimProvider, url: String?) -> JSONValue {
        let counters = provider.counters
        return [
            "id": .string(provider.id),
            "url": url.map { .string($0) } ?? .null,
            "models": .array(provider.models.map { .string($0) }),
            "format": .string(provider.format.rawValue),
            "behaviour": provider.behaviour.asJSON,
            "requests": JSONValue(counters.requests),
            "outcomes": .object(counters.outcomes.mapValues { JSONValue($0) }),
        ]
    }

    static func controlRouter(byID: [String: SimProvider], urls: URLBox) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/sim/providers") { _, _ -> Response in
            let list = byID.keys.sorted().map { describe(byID[$0]!, url: urls.get()[$0]) }
            return SimProvider.json(JSONValue.object(["providers": .array(list)]).encoded(sorted: true), status: .ok)
        }
        router.get("/sim/providers/:id") { _, context -> Response in
            let id = context.parameters.get("id") ?? ""
            guard let provider = byID[id] else { return SimProvider.error(.notFound, "no provider '\(id)'", type: "not_found") }
            return SimProvider.json(describe(provider, url: urls.get()[id]).encoded(sorted: true), status: .ok)
        }
        router.post("/sim/providers/:id") { request, context -> Response in
            let id = context.parameters.get("id") ?? ""
            guard let provider = byID[id] else { return SimProvider.error(.notFound, "no provider '\(id)'", type: "not_found") }
            var request = request
            let bytes = try await request.collectBody(upTo: 1 << 20)
            guard let patch = (try? JSONValue.parse(bytes.readableBytesView))?.objectValue else {
                return SimProvider.error(.badRequest, "body must be a JSON object of behaviour fields (and format)", type: "invalid_request_error")
            }
            do {
                _ = try provider.update(patch)
            } catch {
                return SimProvider.error(.badRequest, "\(error)", type: "invalid_request_error", code: "invalid_field")
            }
            return SimProvider.json(describe(provider, url: urls.get()[id]).encoded(sorted: true), status: .ok)
        }
        router.get("/sim/providers/:id/last-request") { _, context -> Response in
            let id = context.parameters.get("id") ?? ""
            guard let provider = byID[id] else { return SimProvider.error(.notFound, "no provider '\(id)'", type: "not_found") }
            guard let body = provider.lastBody() else { return SimProvider.error(.notFound, "\(id) has had no chat request", type: "not_found") }
            // The body exactly as it arrived, byte for byte.
            return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        router.get("/sim/providers/:id/last-request-info") { _, context -> Response in
            let id = context.parameters.get("id") ?? ""
            guard let provider = byID[id] else { return SimProvider.error(.notFound, "no provider '\(id)'", type: "not_found") }
            guard let info = provider.lastRequestInfo() else { return SimProvider.error(.notFound, "\(id) has had no request", type: "not_found") }
            return SimProvider.json(info.encoded(sorted: true), status: .ok)
        }
        router.post("/sim/reset-counters") { _, _ -> Response in
            for provider in byID.values { provider.resetCounters() }
            return SimProvider.json(Data("{}".utf8), status: .ok)
        }
        return router
    }
}

/// Provider URLs, known only once the servers listen.
final class URLBox: Sendable {
    private let value = Mutex<[String: String]>([:])
    func set(_ urls: [String: String]) { value.withLock { $0 = urls } }
    func get() -> [String: String] { value.withLock { $0 } }
}
