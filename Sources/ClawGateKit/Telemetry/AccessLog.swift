import ClawShared
import Foundation
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The JSON access log (`access_log: {path: FILE | stdout}`): one line per client request, with
/// its ids, route, outcome, every attempt and its figures; never a key or message content. Lines
/// are put in a buffer on the request path and written by `AccessLogWriter` off it, so a slow
/// disk never slows a request; past `maxPending` unwritten bytes, lines are dropped and counted.
public final class AccessLog: Sendable {
    public enum Target: Sendable, Equatable {
        case stdout
        case file(String)
    }

    public let target: Target
    private let pending = Mutex<[UInt8]>([])
    /// The file's descriptor, touched by the writer only (and at start).
    private let fd: Mutex<Int32>
    private let reopenWanted = Atomic<Bool>(false)
    /// Lines dropped because the writer fell too far behind.
    public let dropped = Atomic<Int>(0)
    /// Unwritten bytes kept at most.
    static let maxPending = 8 << 20
    /// How often the writer writes what accumulated.
    static let flushInterval = Duration.milliseconds(100)

    /// Opens the file (appending, created with mode 0640); a file that cannot be opened is a clear error.
    public init(target: Target) throws(AccessLogError) {
        self.target = target
        switch target {
        case .stdout: fd = Mutex(STDOUT_FILENO)
        case .file(let path): fd = Mutex(try Self.open(path))
        }
    }

    static func open(_ path: String) throws(AccessLogError) -> Int32 {
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            throw AccessLogError(description: "access_log.path: cannot open '\(path)' for appending: \(String(cString: strerror(errno)))")
        }
        return fd
    }

    /// Queue one request's line.
    func append(_ ledger: RequestLedger) {
        var line = [UInt8]()
        line.reserveCapacity(512)
        Self.encode(ledger, into: &line)
        let kept = pending.withLock { buffer -> Bool in
            guard buffer.count + line.count <= Self.maxPending else { return false }
            buffer += line
            return true
        }
        if !kept { dropped.add(1, ordering: .relaxed) }
    }

    /// Reopen the file before the next write (SIGHUP: logrotate moved it away).
    public func reopen() { reopenWanted.store(true, ordering: .relaxed) }

    /// Write what accumulated (the writer calls this; a test may too). Returns an error to report, if any.
    @discardableResult
    public func flush() -> String? {
        var problem: String?
        if reopenWanted.exchange(false, ordering: .relaxed), case .file(let path) = target {
            do {
                let new = try Self.open(path)
                fd.withLock { fd in
                    _ = Glibc.close(fd)
                    fd = new
                }
            } catch {
                problem = error.description + " (still writing to the file opened before)"
            }
        }
        let bytes = pending.withLock { buffer -> [UInt8] in
            defer { buffer.removeAll(keepingCapacity: true) }
            return buffer
        }
        guard !bytes.isEmpty else { return problem }
        let fd = fd.withLock { $0 }
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    problem = "access_log: write failed: \(String(cString: strerror(errno)))"
                    return
                }
                offset += n
            }
        }
        return problem
    }

    func close() {
        if case .file = target { fd.withLock { _ = Glibc.close($0) } }
    }

    // MARK: The line

    /// `{"time", "request_id", "trace_id", "span_id", "client", "route", "endpoint", "stream", "status",
    /// "outcome", "fault", "served_by", "attempts": [{"provider", "model", "status", "outcome", "fault",
    /// "ms"}], "ttft_ms", "total_ms", "tokens_in", "tokens_out", "cost_dollars"}` and a newline.
    public static func encode(_ l: RequestLedger, into out: inout [UInt8]) {
        out += #"{"time":""#.utf8
        timestamp(l.startedAt, into: &out)
        out += #"","request_id":"#.utf8
        string(l.trace.requestID, into: &out)
        out += #","trace_id":""#.utf8
        out += l.trace.traceID.utf8
        out += #"","span_id":""#.utf8
        out += l.trace.spanID.utf8
        out += #"","client":"#.utf8
        optional(l.client, into: &out)
        out += #","route":"#.utf8
        optional(l.route, into: &out)
        out += #","endpoint":"#.utf8
        string(l.endpoint, into: &out)
        out += #","stream":"#.utf8
        out += (l.streaming ? "true" : "false").utf8
        out += #","status":"#.utf8
        out += String(l.status).utf8
        out += #","outcome":"#.utf8
        string(l.outcome, into: &out)
        out += #","fault":"#.utf8
        string(l.fault, into: &out)
        out += #","served_by":"#.utf8
        optional(l.served, into: &out)
        out += #","attempts":["#.utf8
        for (i, a) in l.attempts.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += #"{"provider":"#.utf8
            string(a.provider, into: &out)
            out += #","model":"#.utf8
            string(a.model, into: &out)
            out += #","status":"#.utf8
            out += (a.status.map(String.init) ?? "null").utf8
            out += #","outcome":"#.utf8
            string(a.outcome, into: &out)
            out += #","fault":"#.utf8
            string(a.fault, into: &out)
            out += #","ms":"#.utf8
            milliseconds(a.seconds, into: &out)
            out.append(UInt8(ascii: "}"))
        }
        out += #"],"ttft_ms":"#.utf8
        if let ttft = l.ttft { milliseconds(ttft, into: &out) } else { out += "null".utf8 }
        out += #","total_ms":"#.utf8
        milliseconds(l.seconds, into: &out)
        out += #","tokens_in":"#.utf8
        out += String(l.tokensIn).utf8
        out += #","tokens_out":"#.utf8
        out += String(l.tokensOut).utf8
        out += #","cost_dollars":"#.utf8
        out += (l.cost == 0 ? "0" : String(format: "%.8g", l.cost)).utf8
        out += "}\n".utf8
    }

    static func optional(_ text: String?, into out: inout [UInt8]) {
        if let text { string(text, into: &out) } else { out += "null".utf8 }
    }

    /// Milliseconds with three decimals (microseconds).
    static func milliseconds(_ seconds: Double, into out: inout [UInt8]) {
        let micros = Int((max(0, seconds) * 1_000_000).rounded())
        out += String(micros / 1000).utf8
        out.append(UInt8(ascii: "."))
        let frac = micros % 1000
        if frac < 100 { out.append(UInt8(ascii: "0")) }
        if frac < 10 { out.append(UInt8(ascii: "0")) }
        out += String(frac).utf8
    }

    /// A JSON string; control characters, quotes and backslashes escaped (the rest as UTF-8).
    static func string(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += #"\""#.utf8
            case UInt8(ascii: "\\"): out += #"\\"#.utf8
            case 0..<0x20, 0x7F:
                let hex = Array("0123456789abcdef".utf8)
                out += #"\u00"#.utf8
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// RFC 3339 UTC with milliseconds: 2025-05-01T03:12:09.123Z.
    static func timestamp(_ epoch: Double, into out: inout [UInt8]) {
        let millis = Int64((epoch * 1000).rounded(.down))
        var days = millis / 86_400_000
        var rest = millis % 86_400_000
        if rest < 0 { rest += 86_400_000; days -= 1 }
        let date = CivilDate(daysSince1970: Int(days))
        let (year, month, day) = (Int64(date.year), Int64(date.month), Int64(date.day))
        func digits(_ value: Int64, _ width: Int) {
            var text = Array(String(value).utf8)
            while text.count < width { text.insert(UInt8(ascii: "0"), at: 0) }
            out += text
        }
        digits(year, 4); out.append(UInt8(ascii: "-"))
        digits(month, 2); out.append(UInt8(ascii: "-"))
        digits(day, 2); out.append(UInt8(ascii: "T"))
        digits(rest / 3_600_000, 2); out.append(UInt8(ascii: ":"))
        digits(rest / 60_000 % 60, 2); out.append(UInt8(ascii: ":"))
        digits(rest / 1000 % 60, 2); out.append(UInt8(ascii: "."))
        digits(rest % 1000, 3); out.append(UInt8(ascii: "Z"))
    }
}

/// An access log that cannot be opened.
public struct AccessLogError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// Writes the access log's lines every 100 ms, off the request path, and once more at shutdown.
struct AccessLogWriter: Service {
    let gateway: Gateway

    func run() async throws {
        guard let log = gateway.accessLog else {
            try? await gracefulShutdown()
            return
        }
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: AccessLog.flushInterval)
                if let problem = log.flush() { gateway.logger.warning("\(problem)") }
            }
        }
        if let problem = log.flush() { gateway.logger.warning("\(problem)") }
        log.close()
    }
}
