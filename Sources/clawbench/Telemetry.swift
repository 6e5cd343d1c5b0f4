import ArgumentParser
import AsyncHTTPClient
import ClawServerSupport
import ClawTesting
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// An OTLP/HTTP traces sink on loopback: answers every export with an empty success, counts bytes.
final class OTLPSink: Sendable {
    let url: String
    private let servers: ServerGroup

    private init(url: String, servers: ServerGroup) {
        self.url = url
        self.servers = servers
    }

    static func start() async throws -> (OTLPSink, @Sendable () -> (Int, Int)) {
        let counts = Mutex((0, 0))
        let router = Router()
        router.post("/v1/traces") { request, _ -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 64 << 20)
            counts.withLock { $0 = ($0.0 + 1, $0.1 + body.readableBytes) }
            return Response(status: .ok, headers: [.contentType: "application/x-protobuf"], body: .init(byteBuffer: ByteBuffer()))
        }
        let port = BoundPort()
        var logger = Logger(label: "otlp-sink")
        logger.logLevel = .error
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: port.onServerRunning, logger: logger)
        let servers = try await ServerGroup.start([app], ports: [port], logger: logger)
        let sink = OTLPSink(url: "http://127.0.0.1:\(try await port.value())", servers: servers)
        return (sink, { counts.withLock { $0 } })
    }

    func stop() async { await servers.stop() }
}

extension GatewayOverhead {
    /// The plain node against one exporting every span and one writing the access log, sequential
    /// load in interleaved rounds (drift on a noisy machine hits all three alike): added p50 of each.
    func compareTelemetry(client: TestClient, plain: BenchFleet, body: ByteBuffer) async throws {
        let spec = "zero,latency_ms=0,latency_p99_ms=0,tokens_per_second=0,completion_tokens=16"
        let (sink, counts) = try await OTLPSink.start()
        let traced = try BenchFleet(bin: bin, provider: spec, count: providers, strategy: strategy,
                                    env: ["OTEL_EXPORTER_OTLP_ENDPOINT": sink.url, "OTEL_TRACES_SAMPLER": "always_on"], name: "-traced")
        defer { traced.stop() }
        let logPath = NSTemporaryDirectory() + "clawbench-\(getpid())-access.log"
        let logged = try BenchFleet(bin: bin, provider: spec, count: providers, strategy: strategy, extra: "access_log: {path: \(logPath)}", name: "-logged")
        defer {
            logged.stop()
            try? FileManager.default.removeItem(atPath: logPath)
        }
        let nodes = [("tracing off", plain.gateURL), ("tracing 100 %", traced.gateURL), ("access log on", logged.gateURL)]
        for (_, url) in nodes { _ = await load(client.http, url: url + "/v1/chat/completions", body: body, concurrency: 4, seconds: 1) }
        var samples: [String: [Double]] = [:]
        var rps: [String: Double] = [:]
        for _ in 0..<3 {
            for (name, url) in nodes {
                let l = await load(client.http, url: url + "/v1/chat/completions", body: body, concurrency: 1, seconds: seconds / 3)
                samples[name, default: []] += l.latencies
                if l.errors > 0 { print("  \(name): \(l.errors) errors") }
            }
        }
        for (name, url) in nodes {
            let t = await load(client.http, url: url + "/v1/chat/completions", body: body, concurrency: concurrency, seconds: seconds / 2)
            rps[name] = t.rps
        }
        func p50(_ name: String) -> Double {
            var f = Figures()
            f.latencies = samples[name] ?? []
            return f.percentile(0.5)
        }
        let base = p50("tracing off")
        for (name, _) in nodes {
            print(String(format: "%@ sequential p50 %.3f ms (%+.1f µs against tracing off) | concurrency %d: %.0f req/s", name.padding(toLength: 14, withPad: " ", startingAt: 0),
                         p50(name) * 1000, (p50(name) - base) * 1e6, concurrency, rps[name] ?? 0))
        }
        try? await Task.sleep(for: .seconds(2))  // the last batch
        let (exports, bytes) = counts()
        print("spans exported: \(exports) batches, \(bytes / 1024) KiB of OTLP protobuf (aim: tracing +20 µs p50 at most, access log +10 µs)")
        await sink.stop()
    }
}
