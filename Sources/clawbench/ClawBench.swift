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
    init(bin: String, provider: String, timeouts: String = "{connect: 2, first_byte: 30, total: 300}", count: Int = 1,
         strategy: String = "weighted", clientKey: String? = nil) throws {
        let id = String(provider.prefix { $0 != "," && $0 != ":" })
        let ids = (1...max(1, count)).map { $0 == 1 ? id : "\(id)\($0)" }
        let rest = provider.dropFirst(id.count)
        sim = try Child(bin + "/clawsim", ids.flatMap { ["--provider", $0 + rest] })
        let announced = sim.info
        let urls = ids.compactMap { announced["providers"]?[$0]?.stringValue }
        guard urls.count == ids.count else {
            sim.stop()
            throw ValidationError("clawsim did not announce its ports")
        }
        providerURL = urls[0]
        let providers = zip(ids, urls).map { "  - {id: \($0), base_url: \"\($1)/v1\", price: {input_per_1m: 1, output_per_1m: 2}, timeouts: \(timeouts)}" }
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
            """
        configPath = NSTemporaryDirectory() + "clawbench-\(getpid())-\(id)\(clientKey == nil ? "" : "-keys").yaml"
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        do {
            gate = try Child(bin + "/clawgate", ["--config", configPath], env: clientKey.map { ["CLAWBENCH_KEY": $0] } ?? [:])
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

    func load(_ client: HTTPClient, url: String, body: ByteBuffer, concurrency: Int, seconds: Double, key: String? = nil) async -> Figures {
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
            if pane == "overview" { state.fleetHistory.append(state.fleet.summary(now: state.now)) }
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
