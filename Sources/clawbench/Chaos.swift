import ArgumentParser
import AsyncHTTPClient
import ClawShared
import ClawTesting
import Foundation
import NIOCore
import Synchronization

/// `clawbench chaos`: steady load through one node over two providers (each its own clawsim
/// process); one of them breaks mid-run. Prints the client errors and how long the broken provider
/// kept slowing or serving requests.
struct Chaos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos",
        abstract: "Break one of two providers under load (kill -9, hang, 503 on everything, TCP reset) and time how long it hurts."
    )

    @Option(help: "Folder with the clawsim and clawgate binaries (build them with -c release).")
    var bin: String = ".build/release"

    @Option(help: "kill, hang, 503, reset or all.")
    var mode: String = "all"

    @Option(help: "Concurrent clients.")
    var concurrency: Int = 16

    @Option(help: "Seconds of load before the break, and after it.")
    var before: Double = 3
    @Option var after: Double = 8

    @Option(help: "Routing strategy of the route.")
    var strategy: String = "weighted"

    @Flag(help: "Active health checks off (then the first request after a cooldown is the probe).")
    var noHealthChecks = false

    @Option(help: "Health probe kind: chat (a one-token completion) or models (GET /models). Unset: the shipped default.")
    var probe: String?

    @Flag(help: "The tuned settings of earlier runs (first_byte 2 s, breaker cooldown 5 s, a 1 s probe interval, a generous retry budget) instead of the shipped defaults.")
    var tuned = false

    struct Sample: Sendable {
        var start: Double
        var end: Double
        var ok: Bool
        /// Served by the victim, or an attempt failed on it first.
        var touched: Bool
    }

    func run() async throws {
        let modes = mode == "all" ? ["kill", "hang", "503", "reset"] : [mode]
        for m in modes where !["kill", "hang", "503", "reset"].contains(m) { throw ValidationError("unknown mode '\(m)'; kill, hang, 503, reset or all") }
        if let probe, !["chat", "models"].contains(probe) { throw ValidationError("unknown probe '\(probe)'; chat or models") }
        let settings = tuned ? "breaker 5 failures, first_byte 2 s, floor 1 s, health checks every 1 s" : "the shipped defaults otherwise"
        print("chaos: \(concurrency) clients through one node over providers good and victim (20 ms each, weights 50/50, strategy \(strategy), "
              + "health checks \(noHealthChecks ? "off" : "by \(probe ?? "models (the default)")"), \(settings)); victim breaks after \(before) s")
        for m in modes { try await scenario(m) }
    }

    func scenario(_ mode: String) async throws {
        let good = try Child(bin + "/clawsim", ["--provider", "good,latency_ms=20,latency_p99_ms=25,tokens_per_second=0"])
        let victim = try Child(bin + "/clawsim", ["--provider", "victim,latency_ms=20,latency_p99_ms=25,tokens_per_second=0"])
        defer {
            good.stop()
            if victim.process.isRunning { victim.stop() }
        }
        guard let goodURL = good.info["providers"]?["good"]?.stringValue, let victimURL = victim.info["providers"]?["victim"]?.stringValue,
              let control = victim.info["control"]?.stringValue else { throw ValidationError("clawsim did not announce its ports") }
        // The shipped defaults unless --tuned: what a new user's node does.
        let timeouts = tuned ? ", timeouts: {connect: 1, first_byte: 2, first_byte_floor: 1, total: 30}" : ""
        var health: [String] = []
        if noHealthChecks { health.append("enabled: false") }
        if let probe { health.append("kind: \(probe)") }
        if tuned { health.append("interval: 1, timeout: 1, unhealthy_threshold: 2, healthy_threshold: 1") }
        var yaml = """
            node_id: chaos
            listen: 127.0.0.1:0
            providers:
              - {id: good, base_url: "\(goodURL)/v1"\(timeouts)}
              - {id: victim, base_url: "\(victimURL)/v1"\(timeouts)}
            routes:
              - alias: chat
                strategy: \(strategy)
                tiers: [[{provider: good, model: m, weight: 50}, {provider: victim, model: m, weight: 50}]]

            """
        if tuned {
            yaml += "breaker: {consecutive_failures: 5, cooldown: 5, max_cooldown: 60}\n"
            yaml += "retry: {max_attempts: 3, budget_ratio: 1, min_retries_per_second: 100}\n"
        }
        if !health.isEmpty { yaml += "health_check: {\(health.joined(separator: ", "))}\n" }
        let path = NSTemporaryDirectory() + "clawbench-chaos-\(getpid()).yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let gate = try Child(bin + "/clawgate", ["--config", path])
        defer { gate.stop() }
        guard let url = gate.info["url"]?.stringValue else { throw ValidationError("clawgate did not announce its URL") }

        let client = TestClient(connections: concurrency, connectTimeout: 2, readTimeout: 30)
        let clock = ContinuousClock()
        let t0 = clock.now
        func seconds() -> Double { let d = clock.now - t0; return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
        let body = ByteBuffer(string: #"{"model":"chat","messages":[{"role":"user","content":"chaos"}]}"#)
        let samples = Samples()
        let stopAt = before + after
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<concurrency {
                    group.addTask {
                        while seconds() < stopAt {
                            var request = HTTPClientRequest(url: url + "/v1/chat/completions")
                            request.method = .POST
                            request.headers.add(name: "content-type", value: "application/json")
                            request.body = .bytes(body)
                            let start = seconds()
                            var ok = false
                            var touched = false
                            do {
                                let response = try await client.http.execute(request, timeout: .seconds(30))
                                _ = try await response.body.collect(upTo: 1 << 20)
                                ok = response.status == .ok
                                touched = response.headers.first(name: "x-clawgate-provider") == "victim"
                                    || (response.headers.first(name: "x-clawgate-failed-attempts") ?? "").contains("victim=")
                            } catch {}
                            let sample = Sample(start: start, end: seconds(), ok: ok, touched: touched)
                            samples.list.withLock { $0.append(sample) }
                        }
                    }
                }
            }
        }
        try await Task.sleep(for: .seconds(before))
        let breakAt = seconds()
        switch mode {
        case "kill": kill(victim.process.processIdentifier, SIGKILL)
        case "hang": _ = try await client.request("POST", control + "/sim/providers/victim", body: Data(#"{"hang_rate":1}"#.utf8))
        case "503": _ = try await client.request("POST", control + "/sim/providers/victim", body: Data(#"{"outage":true}"#.utf8))
        default: _ = try await client.request("POST", control + "/sim/providers/victim", body: Data(#"{"reset_rate":1}"#.utf8))
        }
        await load.value
        await client.shutdown()
        let all = samples.list.withLock { $0 }
        let afterBreak = all.filter { $0.end > breakAt }
        let errors = all.filter { !$0.ok }.count
        let hurt = afterBreak.filter(\.touched)
        let lastHurt = hurt.map(\.end).max().map { $0 - breakAt } ?? 0
        let ordinary = all.filter { $0.end <= breakAt && $0.ok }.map { $0.end - $0.start }.sorted()
        let p50 = ordinary.isEmpty ? 0 : ordinary[ordinary.count / 2]
        let slowest = afterBreak.map { $0.end - $0.start }.max() ?? 0
        print("\(mode.padding(toLength: 6, withPad: " ", startingAt: 0)) \(all.count) requests, \(errors) client errors; "
              + "\(hurt.count) requests slowed or served by the victim after the break, the last ending \(String(format: "%.2f", lastHurt)) s after it; "
              + "slowest after the break \(String(format: "%.0f", slowest * 1000)) ms (p50 before \(String(format: "%.1f", p50 * 1000)) ms)")
    }
}

/// The chaos run's samples, shared by the load tasks.
private final class Samples: Sendable {
    let list = Mutex<[Chaos.Sample]>([])
}
