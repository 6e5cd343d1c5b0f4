import AsyncHTTPClient
import ClawGateKit
import ClawShared
import ClawSimKit
import Foundation
import Logging
import NIOCore
import NIOSSL
import Synchronization

/// Starts real clawsim providers and clawgate nodes on loopback port 0 for tests and benchmarks.
public enum TestFleet {
    /// A simulator with the given providers (defaults: fast, no streaming delay).
    public static func simulator(_ providers: [SimConfig.Provider], seed: UInt64 = 42) async throws -> Simulator {
        try await Simulator.start(SimConfig(seed: seed, providers: providers))
    }

    /// A provider whose behaviour is set from a few keys, e.g. `["latency_ms": 1, "error_rate": 0.1]`;
    /// the key `format` (e.g. `"format": "anthropic"`) picks its wire format.
    public static func provider(_ id: String, _ patch: [String: JSONValue] = [:]) -> SimConfig.Provider {
        var behaviour = SimBehaviour()
        var base: [String: JSONValue] = ["latency_ms": 1, "latency_p99_ms": 2, "tokens_per_second": 0]
        for (key, value) in patch { base[key] = value }
        let format = try! base.removeValue(forKey: "format").map { (value) throws(SimBehaviourError) in try SimFormat.parse(value, at: "format") }
        try! behaviour.apply(base)
        return SimConfig.Provider(id: id, behaviour: behaviour, format: format ?? .openai)
    }

    /// A gateway config over the simulator's providers with routes given as tiers of (provider, weight).
    public static func config(
        simulator: Simulator,
        routes: [String: [[(String, Int)]]],
        prices: [String: (Double, Double)] = [:],
        firstByteTimeout: Double = 2,
        breaker: GatewayConfig.Breaker = .init(consecutiveFailures: 3, cooldown: 0.5, maxCooldown: 4),
        retry: GatewayConfig.Retry = .init(maxAttempts: 3, budgetRatio: 1, minRetriesPerSecond: 100, window: 10),
        healthCheck: GatewayConfig.HealthCheck? = nil
    ) -> GatewayConfig {
        var config = GatewayConfig(nodeID: "test-node")
        config.listenPort = 0
        config.providers = simulator.providers.map { p in
            var provider = GatewayConfig.Provider(id: p.id, baseURL: simulator.providerURLs[p.id]! + "/v1")
            if let price = prices[p.id] {
                provider.price = .init(inputPer1M: price.0, outputPer1M: price.1)
                provider.priced = true
            }
            provider.timeouts = .init(connect: 1, firstByte: firstByteTimeout, total: 30)
            return provider
        }
        config.routes = routes.keys.sorted().map { alias in
            GatewayConfig.Route(alias: alias, tiers: routes[alias]!.map { tier in
                tier.map { GatewayConfig.Target(provider: $0.0, model: "sim-model", weight: $0.1) }
            })
        }
        config.admin.stateDir = NSTemporaryDirectory() + "clawgate-test-\(UUID().uuidString)"
        config.admin.tokens = [
            .init(name: "ops", role: .operator, env: "CLAW_TEST_OPERATOR_TOKEN"),
            .init(name: "wall", role: .viewer, env: "CLAW_TEST_VIEWER_TOKEN"),
        ]
        config.breaker = breaker
        config.retry = retry
        config.healthCheck = healthCheck ?? {
            var h = GatewayConfig.HealthCheck()
            h.enabled = false
            return h
        }()
        return config
    }

    public static let operatorToken = "operator-token-0123456789"
    /// Client keys a test's `clients:` can name with `key_env: CLAW_TEST_ALICE_KEY` / `CLAW_TEST_BOB_KEY`.
    public static let aliceKey = "sk-alice-0123456789abcdef"
    public static let bobKey = "sk-bob-0123456789abcdef"
    public static let viewerToken = "viewer-token-0123456789"
    /// The providers' own key, for a config whose providers say `api_key_env: CLAW_TEST_UPSTREAM_KEY`.
    public static let upstreamKey = "sk-upstream-0123456789"

    /// Make the config's providers of the given kinds speak them: the base URL each kind's SDK takes
    /// (clawsim serves every format at its root), the key clawsim's formats require, Azure's version.
    public static func speak(_ kinds: [String: ProviderKind], in config: inout GatewayConfig) {
        for i in config.providers.indices {
            guard let kind = kinds[config.providers[i].id] else { continue }
            var provider = config.providers[i]
            provider.kind = kind
            if kind != .openai, provider.baseURL.hasSuffix("/v1") { provider.baseURL = String(provider.baseURL.dropLast(3)) }
            provider.apiKeyEnv = "CLAW_TEST_UPSTREAM_KEY"
            if kind == .azureOpenAI { provider.apiVersion = "2024-10-21" }
            config.providers[i] = provider
        }
    }

    /// `environment`: variables beside the test tokens and keys (a store's password, say).
    public static func gateway(_ config: GatewayConfig, seed: UInt64 = 7, clock: ManualClock? = nil,
                               environment: [String: String] = [:]) async throws -> GatewayServer {
        var logger = Logger(label: "clawgate-test")
        logger.logLevel = .warning
        let variables: [String: String] = [
            "CLAW_TEST_OPERATOR_TOKEN": operatorToken, "CLAW_TEST_VIEWER_TOKEN": viewerToken,
            "CLAW_TEST_ALICE_KEY": aliceKey, "CLAW_TEST_BOB_KEY": bobKey, "CLAW_TEST_UPSTREAM_KEY": upstreamKey,
        ]
        return try await GatewayServer.start(config: config, logger: logger, seed: seed, clock: clock?.read ?? Gateway.monotonic,
                                             environment: variables.merging(environment) { $1 })
    }
}

/// What a test client got back.
public struct TestResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: Data
    /// For streams: the seconds since the request at which each body chunk arrived.
    public var chunkTimes: [Double] = []

    public var json: JSONValue? { try? JSONValue.parse(body) }
    public var text: String { String(decoding: body, as: UTF8.self) }
    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// A small HTTP client for tests and benchmarks.
public final class TestClient: Sendable {
    public let http: HTTPClient

    /// `connectTimeout` also bounds the wait for a connection of the pool.
    /// `tls`: what to trust and which client certificate to show for `https://` URLs.
    public init(connections: Int = 64, connectTimeout: Double = 2, readTimeout: Double = 30, tls: TLSConfiguration? = nil) {
        var configuration = HTTPClient.Configuration()
        configuration.tlsConfiguration = tls
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        configuration.timeout = .init(connect: .milliseconds(Int64(connectTimeout * 1000)), read: .milliseconds(Int64(readTimeout * 1000)))
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func shutdown() async { try? await http.shutdown() }

    public func request(_ method: String, _ url: String, body: Data? = nil, headers: [String: String] = [:]) async throws -> TestResponse {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        for (k, v) in headers { request.headers.add(name: k, value: v) }
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let start = Date()
        let response = try await http.execute(request, timeout: .seconds(30))
        var data = Data()
        var times: [Double] = []
        for try await chunk in response.body {
            times.append(Date().timeIntervalSince(start))
            data.append(contentsOf: chunk.readableBytesView)
        }
        var fields: [String: String] = [:]
        for header in response.headers { fields[header.name.lowercased()] = header.value }
        return TestResponse(status: Int(response.status.code), headers: fields, body: data, chunkTimes: times)
    }

    public func chat(_ baseURL: String, model: String, stream: Bool = false, includeUsage: Bool = false, prompt: String = "Say hello") async throws -> TestResponse {
        var body: JSONValue = ["model": .string(model), "messages": [["role": "user", "content": .string(prompt)]]]
        if stream, case .object(var o) = body {
            o["stream"] = true
            if includeUsage { o["stream_options"] = ["include_usage": true] }
            body = .object(o)
        }
        return try await request("POST", baseURL + "/v1/chat/completions", body: body.encoded())
    }

    /// Change a simulated provider through the simulator's control endpoint, as the demo does.
    public func setBehaviour(_ simulator: Simulator, _ provider: String, _ patch: JSONValue) async throws -> TestResponse {
        try await request("POST", simulator.controlURL + "/sim/providers/" + provider, body: patch.encoded())
    }
}

/// A clock that moves only when a test moves it: cooldowns and windows without sleeping.
public final class ManualClock: Sendable {
    private let seconds: Mutex<Double>

    public init(start: Double = 1000) { seconds = Mutex(start) }

    public var now: Double { seconds.withLock { $0 } }

    public func advance(by delta: Double) { seconds.withLock { $0 += delta } }

    /// For `GatewayServer.start(clock:)`.
    public var read: @Sendable () -> Double { { self.now } }
}

extension TestFleet {
    /// Run `body` against a simulator with `providers` and one gateway over them, then stop both
    /// (also when `body` throws, which is then rethrown). `configure` adjusts the gateway's config.
    public static func withFleet(
        _ providers: [SimConfig.Provider],
        routes: [String: [[(String, Int)]]],
        prices: [String: (Double, Double)] = [:],
        firstByteTimeout: Double = 2,
        healthCheck: GatewayConfig.HealthCheck? = nil,
        retry: GatewayConfig.Retry = .init(maxAttempts: 3, budgetRatio: 1, minRetriesPerSecond: 100, window: 10),
        clock: ManualClock? = nil,
        connections: Int = 64,
        configure: (inout GatewayConfig) -> Void = { _ in },
        _ body: (Simulator, GatewayServer, TestClient) async throws -> Void
    ) async throws {
        let sim = try await simulator(providers)
        var config = config(simulator: sim, routes: routes, prices: prices, firstByteTimeout: firstByteTimeout, retry: retry, healthCheck: healthCheck)
        configure(&config)
        let gate: GatewayServer
        do {
            gate = try await gateway(config, clock: clock)
        } catch {
            await sim.stop()
            throw error
        }
        let client = TestClient(connections: connections)
        var failure: (any Error)?
        do { try await body(sim, gate, client) } catch { failure = error }
        await client.shutdown()
        await gate.stop()
        await sim.stop()
        if let dir = config.admin.stateDir { try? FileManager.default.removeItem(atPath: dir) }
        if let failure { throw failure }
    }
}
