import ArgumentParser
import ClawShared
import ClawTesting
import Foundation
import NIOCore

/// Debian's HAProxy in front of a bench fleet's provider, on a free loopback port: the floor a
/// gateway's added latency and throughput are held against.
final class HAProxy {
    let process = Process()
    let url: String
    private let configPath: String

    /// `upstream`: `http://127.0.0.1:PORT` of the provider.
    init(binary: String, upstream: String) throws {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw ValidationError("--vs-haproxy needs HAProxy at \(binary) (apt-get install haproxy, or --haproxy PATH)")
        }
        guard let target = URL(string: upstream), let host = target.host, let port = target.port else {
            throw ValidationError("the provider's URL \(upstream) has no host and port")
        }
        let listen = try LoopbackPort.free()
        url = "http://127.0.0.1:\(listen)"
        // Keep-alive both sides and no logging, as one would run it in front of a provider
        // (maxconn within the open-file limit: HAProxy wants two descriptors per connection).
        let config = """
            global
              maxconn 4000
              nbthread 2
            defaults
              mode http
              option http-keep-alive
              timeout connect 5s
              timeout client 60s
              timeout server 60s
              timeout http-keep-alive 60s
            frontend bench
              bind 127.0.0.1:\(listen)
              default_backend provider
            backend provider
              http-reuse always
              server sim \(host):\(port) maxconn 4000
            """
        configPath = NSTemporaryDirectory() + "clawbench-haproxy-\(getpid()).cfg"
        try (config + "\n").write(toFile: configPath, atomically: true, encoding: .utf8)  // HAProxy wants the last line ended
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-f", configPath, "-db"]
        let logPath = configPath + ".log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = log ?? FileHandle.nullDevice
        process.standardError = log ?? FileHandle.nullDevice
        try process.run()
        // Ready when its port takes a connection.
        let deadline = Date().addingTimeInterval(10)
        while !Self.accepts(port: listen) {
            guard process.isRunning, Date() < deadline else {
                let said = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                stop()
                throw ValidationError("HAProxy (\(binary) -f \(configPath)) did not listen on 127.0.0.1:\(listen) within 10 s: \(said.suffix(600))")
            }
            usleep(20_000)
        }
    }

    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: configPath)
        try? FileManager.default.removeItem(atPath: configPath + ".log")
    }
}

extension GatewayOverhead {
    /// Straight to the provider, through HAProxy and through clawgate, interleaved in one run:
    /// sequential p50 and requests/s at `--haproxy-concurrency`, and the two ratios the issue's aims
    /// are stated in (clawgate's added p50 over HAProxy's, clawgate's requests/s over HAProxy's).
    func compareHAProxy(client: TestClient, fleet: BenchFleet, body: ByteBuffer) async throws {
        let proxy = try HAProxy(binary: haproxy, upstream: fleet.providerURL)
        defer { proxy.stop() }
        let targets = [("direct", fleet.providerURL), ("haproxy", proxy.url), ("clawgate", fleet.gateURL)].map { ($0.0, $0.1 + "/v1/chat/completions") }
        for (_, url) in targets { _ = await load(client.http, url: url, body: body, concurrency: 4, seconds: 1) }
        var sequential: [String: [Double]] = [:]
        var rps: [String: [Double]] = [:]
        var errors: [String: Int] = [:]
        // Interleaved rounds, so drift on a shared machine hits all three alike.
        for _ in 0..<3 {
            for (name, url) in targets {
                let l = await load(client.http, url: url, body: body, concurrency: 1, seconds: seconds / 3)
                let t = await load(client.http, url: url, body: body, concurrency: haproxyConcurrency, seconds: seconds / 3)
                sequential[name, default: []] += l.latencies
                rps[name, default: []].append(t.rps)
                errors[name, default: 0] += l.errors + t.errors
            }
        }
        func p50(_ name: String) -> Double {
            var f = Figures()
            f.latencies = sequential[name] ?? []
            return f.percentile(0.5)
        }
        func meanRPS(_ name: String) -> Double { (rps[name] ?? []).reduce(0, +) / Double(max(1, rps[name]?.count ?? 0)) }
        func us(_ s: Double) -> String { String(format: "%.0f µs", s * 1e6) }
        print("vs HAProxy (\(haproxy)), \(seconds) s per path in 3 interleaved rounds, concurrency 1 and \(haproxyConcurrency):")
        for (name, _) in targets {
            let added = name == "direct" ? "" : " (added \(us(p50(name) - p50("direct"))))"
            print("  \(name.padding(toLength: 9, withPad: " ", startingAt: 0)) c=1 p50 \(us(p50(name)))\(added) | c=\(haproxyConcurrency) \(String(format: "%.0f", meanRPS(name))) req/s\(errors[name, default: 0] > 0 ? " | \(errors[name]!) errors" : "")")
        }
        let addedRatio = (p50("clawgate") - p50("direct")) / (p50("haproxy") - p50("direct"))
        let rpsRatio = meanRPS("clawgate") / meanRPS("haproxy")
        print(String(format: "clawgate's added p50 is %.1f× HAProxy's (aim: at most 3×); clawgate's requests/s at c=%d are %.0f %% of HAProxy's (aim: at least 40 %%)",
                     addedRatio, haproxyConcurrency, rpsRatio * 100))
    }
}
