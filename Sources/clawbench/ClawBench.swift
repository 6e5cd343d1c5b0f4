import ArgumentParser
import ClawAdminAPI
import ClawShared
import AsyncHTTPClient
import ClawShared
import ClawTesting
import Foundation
import ClawTopCore
import NIOCore

/// clawbench: benchmarks that print figures (not tests; these machines are noisy).
@main
struct ClawBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clawbench",
        abstract: "Benchmarks for OpenClaw HA that print figures.",
        subcommands: [GatewayOverhead.self, Streams.self, ConsoleFrame.self, Chaos.self]
    )
}

/// A child process whose first stdout line is its JSON announcement.
final class Child {
    let process = Process()
    let info: JSONValue

    init(_ path: String, _ args: [String], env: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = args
        if !env.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(env) { $1 } }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while true {
            let byte = out.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        info = try JSONValue.parse(line)
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}

/// clawsim with one provider and one clawgate node with one route `chat` over it, as child processes.
final class BenchFleet {
    let sim: Child
    let gate: Child
    let providerURL: String
    let gateURL: String
    private let configPath: String

    /// `provider` is clawsim's `--provider` value; its id is what comes before the first comma.
    /// `count` providers behave alike (ids ID, ID2, ...) in one tier of a route using `strategy`.
    /// With `clientKey`, the node requires that key (`clients:` with one client, limits high
    /// enough never to refuse) and counts its use.
    /// `kind` is the provider kind of the node's providers (clawsim speaks it with `format=`).
    /// With `tls`, the node's client port speaks HTTPS with that certificate and key.
    init(bin: String, provider: String, timeouts: String = "{connect: 2, first_byte: 30, total: 300}", count: Int = 1,
         strategy: String = "weighted", clientKey: String? = nil, kind: String = "openai", tls: TestCertificates.Pair? = nil,
         extra: String = "", env extraEnv: [String: String] = [:], name: String = "") throws {
        let id = String(provider.prefix { $0 != "," && $0 != ":" })
        let ids = (1...max(1, count)).map { $0 == 1 ? id : "\(id)\($0)" }
        let rest = provider.dropFirst(id.count) + (kind == "openai" ? "" : ",format=\(kind)")
        sim = try Child(bin + "/clawsim", ids.flatMap { ["--provider", $0 + rest] })
        let announced = sim.info
        let urls = ids.compactMap { announced["providers"]?[$0]?.stringValue }
        guard urls.count == ids.count else {
            sim.stop()
            throw ValidationError("clawsim did not announce its ports")
        }
        providerURL = urls[0]
        let base = kind == "openai" ? "/v1" : ""
        let own = kind == "azure_openai" ? ", api_version: 2024-10-21" : ""
        let providers = zip(ids, urls).map {
            "  - {id: \($0), kind: \(kind), base_url: \"\($1)\(base)\", api_key_env: CLAWBENCH_UPSTREAM_KEY\(own), price: {input_per_1m: 1, output_per_1m: 2}, timeouts: \(timeouts)}"
        }
        let yaml = """
            node_id: bench
            listen: 127.0.0.1:0
            providers:
            \(providers.joined(separator: "\n"))
            routes:
              - alias: chat
                strategy: \(strategy)
                tiers: [[\(ids.map { "{provider: \($0), model: m, weight: 100}" }.joined(separator: ", "))]]
            health_check: {interval: 5}
            \(clientKey == nil ? "" : "clients: [{name: bench, key_env: CLAWBENCH_KEY, limits: {rpm: 10000000, tpm: 1000000000, concurrency: 1000000}}]")
            \(tls.map { "tls: {cert_file: \($0.cert), key_file: \($0.key)}" } ?? "")
            \(extra)
            """
        configPath = NSTemporaryDirectory() + "clawbench-\(getpid())-\(id)-\(kind)\(clientKey == nil ? "" : "-keys")\(tls == nil ? "" : "-tls")\(name).yaml"
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        do {
            var env = ["CLAWBENCH_UPSTREAM_KEY": "sk-upstream-bench"].merging(extraEnv) { $1 }
            if let clientKey { env["CLAWBENCH_KEY"] = clientKey }
            gate = try Child(bin + "/clawgate", ["--config", configPath], env: env)
        } catch {
            sim.stop()
            throw error
        }
        guard let gateURL = gate.info["url"]?.stringValue else {
            gate.stop()
            sim.stop()
            throw ValidationError("clawgate did not announce its URL")
        }
        self.gateURL = gateURL
    }

    func stop() {
        gate.stop()
        sim.stop()
        try? FileManager.default.removeItem(atPath: configPath)
    }
}

struct GatewayOverhead: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway-overhead",
        abstract: "Same load straight to a zero-latency clawsim provider and through one clawgate node, in one run."
    )

    @Option(help: "Folder with the clawsim and clawgate binaries (build them with -c release).")
    var bin: String = ".build/release"

    @Option(help: "Seconds per measurement.")
    var seconds: Double = 5

    @Option(help: "Concurrent requests for the throughput measurement.")
    var concurrency: Int = 32

    @Option(help: "Routing strategy of the route (weighted, least_outstanding, latency, cost).")
    var strategy: String = "weighted"

    @Option(help: "Zero-latency providers behind the route (the direct path goes to the first).")
    var providers: Int = 1

    @Flag(help: "Also through a second node that requires a client key (clients:), in the same run, to price key checks and per-client accounting.")
    var clients = false

    @Option(help: "Also through a node whose provider is of this kind (anthropic, gemini, azure_openai), in the same run: added p50 and CPU per streamed chunk against the openai pass-through.")
    var kind: String = "openai"

    @Option(help: "Also the same load on another endpoint, against chat in the same run: messages (an anthropic provider, bytes through) or embeddings (an openai provider).")
    var endpoint: String = "chat"

    @Flag(help: "Also through a node whose client port speaks TLS (a certificate made by openssl), in the same run: requests/s and latency against the plain port, on kept-alive connections and with a new connection (a handshake) per request.")
    var tls = false
    @Flag(help: "Also through a node exporting every span (100 % sampling, to an OTLP/HTTP sink in this process) and one writing the access log to a file, in the same run: added p50 of each against the plain node.")
    var telemetry = false

    @Flag(help: "Also through Debian's HAProxy in front of the same provider (started on a free loopback port), in the same run: added p50 at concurrency 1 and requests/s at --haproxy-concurrency of both, and clawgate's against HAProxy's.")
    var vsHaproxy = false

    @Option(help: "The HAProxy binary for --vs-haproxy.")
    var haproxy: String = "/usr/sbin/haproxy"

    @Option(help: "Concurrent requests for the requests/s of --vs-haproxy.")
    var haproxyConcurrency: Int = 16

    @Option(help: "Streams per node for the CPU-per-chunk figure (with --kind).")
    var streams: Int = 200

    @Option(help: "Tokens per stream for the CPU-per-chunk figure (with --kind).")
    var tokens: Int = 200

    struct Figures {
        var requests = 0
        var errors = 0
        var seconds = 0.0
        var latencies: [Double] = []
        var rps: Double { Double(requests) / seconds }
        func percentile(_ q: Double) -> Double {
            let sorted = latencies.sorted()
            guard !sorted.isEmpty else { return .nan }
            return sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
        }
    }

    /// `close`: a new connection for every request (`Connection: close`), so each pays its connect (and TLS handshake).
    func load(_ client: HTTPClient, url: String, body: ByteBuffer, concurrency: Int, seconds: Double, key: String? = nil, close: Bool = false) async -> Figures {
        let start = Date()
        let deadline = start.addingTimeInterval(seconds)
        var total = Figures()
        await withTaskGroup(of: Figures.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var f = Figures()
                    while Date() < deadline {
                        var request = HTTPClientRequest(url: url)
                        request.method = .POST
                        if let key { request.headers.add(name: "authorization", value: "Bearer \(key)") }
                        if close { request.headers.add(name: "connection", value: "close") }
                        request.headers.add(name: "content-type", value: "application/json")
                        request.body = .bytes(body)
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        do {
                            let response = try await client.execute(request, timeout: .seconds(10))
                            _ = try await response.body.collect(upTo: 1 << 20)
                            if response.status != .ok { f.errors += 1 }
                        } catch {
                            f.errors += 1
                        }
                        f.latencies.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                        f.requests += 1
                    }
                    return f
                }
            }
            for await f in group {
                total.requests += f.requests
                total.errors += f.errors
                total.latencies += f.latencies
            }
        }
        total.seconds = Date().timeIntervalSince(start)
        return total
    }

    func run() async throws {
        let fleet = try BenchFleet(bin: bin, provider: "zero,latency_ms=0,latency_p99_ms=0,tokens_per_second=0,completion_tokens=16",
                                   count: providers, strategy: strategy)
        defer { fleet.stop() }
        let (providerURL, gateURL) = (fleet.providerURL, fleet.gateURL)

        let client = TestClient(connections: concurrency)
        defer { Task { await client.shutdown() } }
        let body = ByteBuffer(string: #"{"model":"chat","messages":[{"role":"user","content":"Benchmark the gateway overhead, please."}]}"#)
        let targets = [("direct to clawsim", providerURL + "/v1/chat/completions"), ("through clawgate", gateURL + "/v1/chat/completions")]

        // Warm both paths (connections, caches) before measuring.
        for (_, url) in targets { _ = await load(client.http, url: url, body: body, concurrency: 4, seconds: 1) }

        print("gateway overhead: \(seconds) s per measurement, \(providers) zero-latency provider(s), strategy \(strategy), 2 cores shared by load, gateway and provider")
        var latency: [String: Figures] = [:]
        var throughput: [String: Figures] = [:]
        for (name, url) in targets {
            latency[name] = await load(client.http, url: url, body: body, concurrency: 1, seconds: seconds)
            throughput[name] = await load(client.http, url: url, body: body, concurrency: concurrency, seconds: seconds)
        }
        func ms(_ s: Double) -> String { String(format: "%.3f ms", s * 1000) }
        for (name, _) in targets {
            let l = latency[name]!
            let t = throughput[name]!
            print("\(name.padding(toLength: 18, withPad: " ", startingAt: 0)) sequential: p50 \(ms(l.percentile(0.5))) p99 \(ms(l.percentile(0.99))) (\(l.requests) req, \(l.errors) errors) | concurrency \(concurrency): \(String(format: "%.0f", t.rps)) req/s p50 \(ms(t.percentile(0.5))) p99 \(ms(t.percentile(0.99))) (\(t.errors) errors)")
        }
        let d = latency[targets[0].0]!
        let g = latency[targets[1].0]!
        print("added latency (sequential): p50 \(ms(g.percentile(0.5) - d.percentile(0.5))), p99 \(ms(g.percentile(0.99) - d.percentile(0.99)))")
        print("throughput ratio through/direct: \(String(format: "%.2f", throughput[targets[1].0]!.rps / throughput[targets[0].0]!.rps))")
        if clients {
            // The same load through a node that checks a key and accounts per client.
            let key = "sk-bench-0123456789abcdef"
            let keyed = try BenchFleet(bin: bin, provider: "zero,latency_ms=0,latency_p99_ms=0,tokens_per_second=0,completion_tokens=16",
                                       count: providers, strategy: strategy, clientKey: key)
            defer { keyed.stop() }
            let url = keyed.gateURL + "/v1/chat/completions"
            _ = await load(client.http, url: url, body: body, concurrency: 4, seconds: 1, key: key)
            let l = await load(client.http, url: url, body: body, concurrency: 1, seconds: seconds, key: key)
            let t = await load(client.http, url: url, body: body, concurrency: concurrency, seconds: seconds, key: key)
            print("\("with clients:".padding(toLength: 18, withPad: " ", startingAt: 0)) sequential: p50 \(ms(l.percentile(0.5))) p99 \(ms(l.percentile(0.99))) (\(l.requests) req, \(l.errors) errors) | concurrency \(concurrency): \(String(format: "%.0f", t.rps)) req/s (\(t.errors) errors)")
            let plain = latency[targets[1].0]!.percentile(0.5)
            print("key check + per-client accounting: p50 \(String(format: "%+.1f", (l.percentile(0.5) / plain - 1) * 100)) % latency, throughput \(String(format: "%.2f", t.rps / throughput[targets[1].0]!.rps))x the open node")
        }
        if vsHaproxy { try await compareHAProxy(client: client, fleet: fleet, body: body) }
        if tls { try await compareTLS(client: client, plain: fleet, body: body) }
        if telemetry { try await compareTelemetry(client: client, plain: fleet, body: body) }
        if kind != "openai" { try await compareKind(client: client, openai: fleet, body: body) }
        if endpoint != "chat" { try await compareEndpoint(client: client, openai: fleet, body: body) }
    }

    /// The same load through a node whose client port speaks TLS, measured right after the plain
    /// node again, so both see the same machine: kept-alive connections (the cost of encrypting),
    /// and a new connection per request (the cost of a handshake too).
    func compareTLS(client: TestClient, plain: BenchFleet, body: ByteBuffer) async throws {
        let certs = try TestCertificates.make(name: "clawbench CA")
        defer { certs.remove() }
        let server = try certs.issue("bench", subject: "/CN=clawbench", server: true)
        let secure = try BenchFleet(bin: bin, provider: "zero,latency_ms=0,latency_p99_ms=0,tokens_per_second=0,completion_tokens=16",
                                    count: providers, strategy: strategy, tls: server)
        defer { secure.stop() }
        let tlsClient = TestClient(connections: concurrency, tls: try certs.clientConfiguration())
        let paths = [("plain port", client.http, plain.gateURL + "/v1/chat/completions"), ("TLS port", tlsClient.http, secure.gateURL + "/v1/chat/completions")]
        for (_, http, url) in paths { _ = await load(http, url: url, body: body, concurrency: 4, seconds: 1) }
        func ms(_ s: Double) -> String { String(format: "%.3f ms", s * 1000) }
        var figures: [(sequential: Figures, concurrent: Figures, fresh: Figures)] = []
        for (_, http, url) in paths {
            let l = await load(http, url: url, body: body, concurrency: 1, seconds: seconds)
            let t = await load(http, url: url, body: body, concurrency: concurrency, seconds: seconds)
            let n = await load(http, url: url, body: body, concurrency: 1, seconds: seconds, close: true)
            figures.append((l, t, n))
        }
        await tlsClient.shutdown()
        for ((name, _, _), f) in zip(paths, figures) {
            print("\(name.padding(toLength: 18, withPad: " ", startingAt: 0)) sequential: p50 \(ms(f.sequential.percentile(0.5))) p99 \(ms(f.sequential.percentile(0.99))) | concurrency \(concurrency): \(String(format: "%.0f", f.concurrent.rps)) req/s p50 \(ms(f.concurrent.percentile(0.5))) p99 \(ms(f.concurrent.percentile(0.99))) (\(f.concurrent.errors) errors) | new connection each: p50 \(ms(f.fresh.percentile(0.5))) (\(f.fresh.errors) errors)")
        }
        let (p, t) = (figures[0], figures[1])
        print("TLS on the client port: sequential p50 \(ms(t.sequential.percentile(0.5) - p.sequential.percentile(0.5))) added, throughput \(String(format: "%.2f", t.concurrent.rps / p.concurrent.rps))x the plain port, a new connection per request p50 \(ms(t.fresh.percentile(0.5) - p.fresh.percentile(0.5))) added (the handshake)")
    }

    /// Added p50 of another endpoint against chat, sequential, interleaved rounds in one run.
    func compareEndpoint(client: TestClient, openai: BenchFleet, body: ByteBuffer) async throws {
        guard endpoint == "messages" || endpoint == "embeddings" else { throw ValidationError("--endpoint takes messages or embeddings") }
        let spec = "zero,latency_ms=0,latency_p99_ms=0,tokens_per_second=0,completion_tokens=16"
        let other = endpoint == "messages" ? try BenchFleet(bin: bin, provider: spec, kind: "anthropic") : openai
        defer { if endpoint == "messages" { other.stop() } }
        let otherBody = endpoint == "messages"
            ? ByteBuffer(string: #"{"model":"chat","max_tokens":16,"messages":[{"role":"user","content":"Benchmark the gateway overhead, please."}]}"#)
            : ByteBuffer(string: #"{"model":"chat","input":"Benchmark the gateway overhead, please.","encoding_format":"float"}"#)
        let targets = [("chat", openai.gateURL + "/v1/chat/completions", body), (endpoint, other.gateURL + "/v1/\(endpoint)", otherBody)]
        for (_, url, b) in targets { _ = await load(client.http, url: url, body: b, concurrency: 4, seconds: 1) }
        var samples: [String: [Double]] = [:]
        for _ in 0..<3 {
            for (name, url, b) in targets {
                let l = await load(client.http, url: url, body: b, concurrency: 1, seconds: seconds / 3)
                samples[name, default: []] += l.latencies
                if l.errors > 0 { print("  \(name): \(l.errors) errors") }
            }
        }
        func p50(_ name: String) -> Double {
            var f = Figures()
            f.latencies = samples[name] ?? []
            return f.percentile(0.5)
        }
        let (c, e) = (p50("chat"), p50(endpoint))
        print(String(format: "endpoint %@ vs chat, sequential p50 through the node: %.3f ms vs %.3f ms (%+.1f %%; aim: within 10 %%)",
                     endpoint, e * 1000, c * 1000, (e / c - 1) * 100))
    }

    /// The same load through a node whose provider speaks `kind`, against the openai pass-through
    /// node: added p50 of a whole answer, and the node's CPU per streamed chunk for each.
    func compareKind(client: TestClient, openai: BenchFleet, body: ByteBuffer) async throws {
        let spec = "zero,latency_ms=0,latency_p99_ms=0,tokens_per_second=0,completion_tokens=16"
        let translated = try BenchFleet(bin: bin, provider: spec, count: providers, strategy: strategy, kind: kind)
        defer { translated.stop() }
        let streamSpec = "s,latency_ms=0,latency_p99_ms=0,tokens_per_second=0,completion_tokens=\(tokens)"
        let streamOpenAI = try BenchFleet(bin: bin, provider: streamSpec, kind: "openai")
        defer { streamOpenAI.stop() }
        let streamKind = try BenchFleet(bin: bin, provider: streamSpec, kind: kind)
        defer { streamKind.stop() }
        func ms(_ s: Double) -> String { String(format: "%.3f ms", s * 1000) }
        func us(_ s: Double) -> String { String(format: "%.1f µs", s * 1e6) }
        let urls = [("openai", openai.gateURL), (kind, translated.gateURL)]
        for (_, url) in urls { _ = await load(client.http, url: url + "/v1/chat/completions", body: body, concurrency: 4, seconds: 1) }
        var p50: [String: Double] = [:]
        // Interleaved rounds, so drift on a noisy machine hits both alike.
        var samples: [String: [Double]] = [:]
        for _ in 0..<3 {
            for (name, url) in urls {
                let l = await load(client.http, url: url + "/v1/chat/completions", body: body, concurrency: 1, seconds: seconds / 3)
                samples[name, default: []] += l.latencies
                if l.errors > 0 { print("  \(name): \(l.errors) errors") }
            }
        }
        for (name, values) in samples {
            var f = Figures()
            f.latencies = values
            p50[name] = f.percentile(0.5)
        }
        print("kind \(kind) vs openai pass-through, whole answers, sequential: p50 \(ms(p50[kind]!)) vs \(ms(p50["openai"]!)): translation adds \(us(p50[kind]! - p50["openai"]!)) (aim: at most 50 µs)")
        let streamBody = ByteBuffer(string: #"{"model":"chat","stream":true,"messages":[{"role":"user","content":"Stream a little, please."}]}"#)
        var perChunk: [String: Double] = [:]
        for (name, fleet) in [("openai", streamOpenAI), (kind, streamKind)] {
            let url = fleet.gateURL + "/v1/chat/completions"
            for _ in 0..<4 { _ = await Streams.stream(client.http, url: url, body: streamBody, events: tokens + 3) }
            let pid = fleet.gate.process.processIdentifier
            let cpu0 = Streams.cpuSeconds(pid)
            var failed = 0
            await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<streams {
                    group.addTask {
                        if case .ok = await Streams.stream(client.http, url: url, body: streamBody, events: tokens + 3) { return true }
                        return false
                    }
                }
                for await ok in group where !ok { failed += 1 }
            }
            let cpu = Streams.cpuSeconds(pid) - cpu0
            let chunks = Double(streams * (tokens + 3))
            perChunk[name] = cpu / chunks
            print("  \(name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(streams) streams x \(tokens + 3) chunks: node CPU \(String(format: "%.2f", cpu)) s, \(us(cpu / chunks)) per chunk\(failed > 0 ? ", \(failed) failed" : "")")
        }
        print("kind \(kind) vs openai pass-through, CPU per streamed chunk: \(us(perChunk[kind]!)) vs \(us(perChunk["openai"]!)): translation adds \(us(perChunk[kind]! - perChunk["openai"]!)) (aim: at most 5 µs)")
    }
}

/// Frame cost of the console: render + diff for a synthetic fleet.
struct ConsoleFrame: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console-frame",
        abstract: "Render + diff cost of one console frame for a synthetic fleet (default 200 nodes x 30 providers)."
    )

    @Option var nodes = 200
    @Option var providers = 30
    @Option var width = 200
    @Option var height = 60
    @Option var frames = 200
    @Option(help: "providers, nodes, routes (cycled, the default) or overview.")
    var pane = "cycled"

    func run() {
        var fleet = Fleet(urls: (0..<nodes).map { "http://10.0.\($0 / 250).\($0 % 250):8080" })
        var random = SeededRandom(seed: 1)
        for n in 0..<nodes {
            var route = Route(alias: "chat", tiers: [[]])
            var providersList: [Provider] = []
            for p in 0..<providers {
                var window = Window(windowSeconds: 60, requests: 600)
                window.requestsPerSecond = 10 * random.unit()
                window.latencyP50Seconds = 0.1 * random.unit()
                window.latencyP99Seconds = 0.5 * random.unit()
                window.costPerHourDollars = random.unit()
                let info = Provider(id: "provider-\(p)", state: p % 7 == 0 ? .degraded : .healthy,
                                    weights: [.init(route: "chat", tier: 0, configuredWeight: 10, effectiveWeight: 10)],
                                    stats: Stats(oneMinute: window))
                providersList.append(info)
                route.tiers[0].append(.init(provider: info.id, model: "m", configuredWeight: 10, effectiveWeight: 10))
            }
            fleet.nodes[n].snapshot = Snapshot(node: Node(id: "node-\(n)", version: "0.1.0", uptimeSeconds: 3600),
                                               providers: providersList, routes: [route], failovers: [])
            fleet.nodes[n].lastSuccess = 1000
        }
        fleet.refresh()
        var state = AppState(fleet: fleet)
        state.width = width
        state.height = height
        state.now = 1000.5
        var previous = View.render(state)
        var changed = 0
        let start = DispatchTime.now().uptimeNanoseconds
        for frame in 0..<frames {
            state.now = 1000.5 + Double(frame)  // ages tick: a steady-state frame
            state.pane = pane == "overview" ? .overview : Pane.allCases[1 + frame % 3]
            if pane == "overview" { state.fleetHistory.append(state.fleet.summary(now: state.now), at: state.now) }
            let buffer = View.render(state)
            for i in 0..<buffer.cells.count where buffer.cells[i] != previous.cells[i] { changed += 1 }
            previous = buffer
        }
        let perFrame = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 / Double(frames)
        // The confirmation dialog's preview, computed from the state already held.
        let previewStart = DispatchTime.now().uptimeNanoseconds
        var lines = 0
        for i in 0..<frames { lines += Preview.of(.drainProvider("provider-\(i % providers)"), fleet: state.fleet, now: state.now)?.lines.count ?? 0 }
        let perPreview = Double(DispatchTime.now().uptimeNanoseconds - previewStart) / 1e6 / Double(frames)
        print("effect preview (drain one provider): \(String(format: "%.3f", perPreview)) ms per preview (\(lines / frames) lines)")
        print("console frame (\(pane)): \(nodes) nodes x \(providers) providers at \(width)x\(height): \(String(format: "%.2f", perFrame)) ms per render+diff (\(frames) frames, \(changed / frames) cells changed per frame)")
    }
}
