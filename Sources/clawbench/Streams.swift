import ArgumentParser
import AsyncHTTPClient
import ClawShared
import ClawTesting
import Foundation
import NIOCore

/// Many concurrent streams straight to clawsim and through one clawgate node, in one run.
struct Streams: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streams",
        abstract: "N concurrent streaming requests straight to clawsim and through one clawgate node, in one run.",
        discussion: "Prints succeeded and failed, time to first token p50/p99 for both and the difference, the node's CPU per streamed chunk, and its peak RSS and RSS per stream. 10,000 streams need about 25,000 open files for each process: run it under `ulimit -n 65536`."
    )

    @Option(help: "Folder with the clawsim and clawgate binaries (build them with -c release).")
    var bin: String = ".build/release"

    @Option(help: "Concurrent streams.")
    var concurrency: Int = 1000

    @Option(help: "Tokens per stream.")
    var tokens: Int = 60

    @Option(help: "Tokens per second of each stream.")
    var rate: Double = 20

    @Flag(help: "Print one JSON object instead of text (for tests).")
    var json = false

    @Flag(help: "Only through clawgate, not straight to clawsim too (the e2e test of a debug build).")
    var throughOnly = false

    struct Run {
        var succeeded = 0
        var failed: [String: Int] = [:]
        var ttft: [Double] = []
        var seconds = 0.0
        var failedCount: Int { failed.values.reduce(0, +) }

        func percentile(_ q: Double) -> Double {
            let sorted = ttft.sorted()
            guard !sorted.isEmpty else { return .nan }
            return sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
        }

        var asJSON: JSONValue {
            ["succeeded": JSONValue(succeeded), "failed": JSONValue(failedCount),
             "failures": .object(failed.mapValues { JSONValue($0) }),
             "ttft_p50_seconds": .number(percentile(0.5)), "ttft_p99_seconds": .number(percentile(0.99)), "seconds": .number(seconds)]
        }
    }

    enum One { case ok(ttft: Double), failed(String) }

    /// One stream: every event must arrive (role, each token, finish, [DONE]).
    static func stream(_ client: HTTPClient, url: String, body: ByteBuffer, events: Int) async -> One {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(body)
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            let response = try await client.execute(request, timeout: .seconds(120))
            guard response.status == .ok else {
                _ = try? await response.body.collect(upTo: 1 << 20)
                return .failed("status_\(response.status.code)")
            }
            var ttft: Double?
            var seen = 0
            var last: UInt8 = 0
            var tail: [UInt8] = []
            for try await chunk in response.body {
                if ttft == nil { ttft = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
                for byte in chunk.readableBytesView {
                    if byte == 0x0A, last == 0x0A { seen += 1 }
                    last = byte
                }
                tail = Array((tail + chunk.readableBytesView).suffix(14))
            }
            guard seen == events, tail == Array("data: [DONE]\n\n".utf8) else { return .failed("incomplete (\(seen) of \(events) events)") }
            return .ok(ttft: ttft ?? 0)
        } catch {
            return .failed("\(type(of: error)): \(error)".prefix(80).description)
        }
    }

    func load(_ client: HTTPClient, url: String, body: ByteBuffer) async -> Run {
        let start = Date()
        var run = Run()
        let events = tokens + 3
        await withTaskGroup(of: One.self) { group in
            for _ in 0..<concurrency { group.addTask { await Self.stream(client, url: url, body: body, events: events) } }
            for await one in group {
                switch one {
                case .ok(let ttft):
                    run.succeeded += 1
                    run.ttft.append(ttft)
                case .failed(let why):
                    run.failed[why, default: 0] += 1
                }
            }
        }
        run.seconds = Date().timeIntervalSince(start)
        return run
    }

    /// Resident set size of a process in KiB (`VmRSS`, or `VmHWM` for its peak).
    static func rss(_ pid: Int32, field: String = "VmRSS") -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
        }
        return 0
    }

    /// CPU seconds (user and system) a process has used.
    static func cpuSeconds(_ pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, utime field 14 and stime field 15.
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func run() async throws {
        let spec = "s,latency_ms=0,latency_p99_ms=0,tokens_per_second=\(rate),completion_tokens=\(tokens)"
        let fleet = try BenchFleet(bin: bin, provider: spec, timeouts: "{first_byte: 120, total: 600}")
        defer { fleet.stop() }
        let (sim, gate, providerURL, gateURL) = (fleet.sim, fleet.gate, fleet.providerURL, fleet.gateURL)

        // A patient client, as SDKs are (the OpenAI SDK waits 10 minutes): at thousands of streams on
        // 2 cores, connecting can take seconds, and that should show in TTFT, not as a failure.
        let client = TestClient(connections: concurrency + 16, connectTimeout: 120, readTimeout: 120)
        defer { Task { await client.shutdown() } }
        let body = ByteBuffer(string: #"{"model":"chat","stream":true,"messages":[{"role":"user","content":"Stream a little, please."}]}"#)
        // Warm both paths.
        for url in [providerURL, gateURL] {
            for _ in 0..<4 { _ = await Self.stream(client.http, url: url + "/v1/chat/completions", body: body, events: tokens + 3) }
        }
        let idle = Self.rss(gate.process.processIdentifier)
        let simPID = sim.process.processIdentifier
        let simCPU0 = Self.cpuSeconds(simPID)
        let direct = throughOnly ? Run() : await load(client.http, url: providerURL + "/v1/chat/completions", body: body)
        let simCPUDirect = Self.cpuSeconds(simPID) - simCPU0
        let gateCPU0 = Self.cpuSeconds(gate.process.processIdentifier)
        let simCPU1 = Self.cpuSeconds(simPID)
        let peak = Peak()
        let pid = gate.process.processIdentifier
        let sampler = Task {
            while !Task.isCancelled {
                peak.note(Self.rss(pid))
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        let through = await load(client.http, url: gateURL + "/v1/chat/completions", body: body)
        sampler.cancel()
        let gateCPU = Self.cpuSeconds(pid) - gateCPU0
        let simCPUThrough = Self.cpuSeconds(simPID) - simCPU1
        let peakKB = max(peak.value, Self.rss(gate.process.processIdentifier, field: "VmHWM"))
        let perStream = Double(peakKB - idle) / Double(concurrency)
        // The events each client got (role, tokens, finish, [DONE]): the chunks the node forwarded.
        let chunks = Double(through.succeeded * (tokens + 3))
        let perChunk = chunks > 0 ? gateCPU / chunks : .nan
        if json {
            let out: JSONValue = [
                "concurrency": JSONValue(concurrency), "direct": direct.asJSON, "gateway": through.asJSON,
                "node_rss_idle_kb": JSONValue(idle), "node_rss_peak_kb": JSONValue(peakKB), "node_rss_per_stream_kb": .number(perStream),
                "node_cpu_seconds": .number(gateCPU), "node_cpu_us_per_chunk": .number(perChunk * 1e6), "clawsim_cpu_seconds_direct": .number(simCPUDirect),
                "clawsim_cpu_seconds_through": .number(simCPUThrough),
            ]
            print(String(decoding: out.encoded(sorted: true), as: UTF8.self))
            return
        }
        func ms(_ s: Double) -> String { String(format: "%.1f ms", s * 1000) }
        print("streams: \(concurrency) concurrent, \(tokens) tokens at \(rate)/s each, 2 cores shared by load, gateway and provider")
        for (name, r) in [("direct to clawsim", direct), ("through clawgate", through)] {
            let failures = r.failed.isEmpty ? "" : " \(r.failed)"
            print("\(name.padding(toLength: 18, withPad: " ", startingAt: 0)) succeeded \(r.succeeded) failed \(r.failedCount)\(failures) | TTFT p50 \(ms(r.percentile(0.5))) p99 \(ms(r.percentile(0.99))) | all done in \(String(format: "%.1f", r.seconds)) s")
        }
        print("added TTFT: p50 \(ms(through.percentile(0.5) - direct.percentile(0.5))), p99 \(ms(through.percentile(0.99) - direct.percentile(0.99)))")
        print("CPU seconds: clawsim \(String(format: "%.2f", simCPUDirect)) direct, \(String(format: "%.2f", simCPUThrough)) through; clawgate \(String(format: "%.2f", gateCPU)) (\(String(format: "%.0f", gateCPU / Double(concurrency) * 1e6)) µs per stream, \(String(format: "%.1f", perChunk * 1e6)) µs per streamed chunk of \(Int(chunks)))")
        print("node RSS: idle \(idle / 1024) MiB, peak \(peakKB / 1024) MiB, \(String(format: "%.1f", perStream)) KiB per stream")
    }
}

/// The highest value seen by the RSS sampler.
final class Peak: @unchecked Sendable {
    private let lock = NSLock()
    private var highest = 0
    func note(_ value: Int) { lock.lock(); highest = max(highest, value); lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return highest }
}
