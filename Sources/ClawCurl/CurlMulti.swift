import CCurl
import Foundation

/// One HTTP request for the poller.
public struct HTTPRequestSpec: Sendable {
    public var url: String
    public var method: String
    public var headers: [String]
    public var body: [UInt8]?
    /// Whole-request timeout in seconds.
    public var timeout: Double

    public init(url: String, method: String = "GET", headers: [String] = [], body: [UInt8]? = nil, timeout: Double = 2) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// What came back: a status and body, or an error message saying what went wrong.
public struct HTTPResult: Sendable {
    public var status: Int
    public var body: [UInt8]
    public var error: String?
    public var elapsed: Double

    public var ok: Bool { error == nil && (200..<300).contains(status) }
}

/// Receives the body bytes of one transfer.
private final class Sink {
    var bytes: [UInt8] = []
    let limit = 16 << 20
}

private let writeCallback: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = { data, size, count, user in
    guard let data, let user else { return 0 }
    let sink = Unmanaged<Sink>.fromOpaque(user).takeUnretainedValue()
    let n = size * count
    if sink.bytes.count + n > sink.limit { return 0 }  // stops the transfer: too large
    data.withMemoryRebound(to: UInt8.self, capacity: n) { sink.bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: n)) }
    return n
}

/// All of a batch's requests at once through one libcurl multi handle, which keeps connections
/// open between batches. Not thread-safe: one poller thread owns it.
public final class CurlMulti: @unchecked Sendable {
    private let multi: UnsafeMutableRawPointer

    public init() {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        multi = curl_multi_init()!
        _ = claw_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, 64)
    }

    deinit {
        curl_multi_cleanup(multi)
    }

    /// Perform every request concurrently; returns once all finished or timed out, in order.
    public func perform(_ requests: [HTTPRequestSpec]) -> [HTTPResult] {
        var handles: [UnsafeMutableRawPointer?] = []
        var sinks: [Sink] = []
        var headerLists: [UnsafeMutablePointer<curl_slist>?] = []
        var bodies: [UnsafeMutablePointer<UInt8>?] = []
        let start = Date()
        for request in requests {
            let easy = curl_easy_init()
            let sink = Sink()
            sinks.append(sink)
            handles.append(easy)
            guard let easy else {
                headerLists.append(nil)
                bodies.append(nil)
                continue
            }
            _ = claw_curl_setopt_string(easy, CURLOPT_URL, request.url)
            _ = claw_curl_setopt_long(easy, CURLOPT_TIMEOUT_MS, Int(request.timeout * 1000))
            _ = claw_curl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(min(request.timeout, 2) * 1000))
            _ = claw_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
            _ = claw_curl_setopt_long(easy, CURLOPT_TCP_NODELAY, 1)
            _ = claw_curl_setopt_long(easy, CURLOPT_PROTOCOLS, Int(CURLPROTO_HTTP | CURLPROTO_HTTPS))
            _ = claw_curl_setopt_write(easy, writeCallback)
            _ = claw_curl_setopt_ptr(easy, CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque())
            var list: UnsafeMutablePointer<curl_slist>?
            for header in request.headers { list = curl_slist_append(list, header) }
            if request.body != nil { list = curl_slist_append(list, "Content-Type: application/json") }
            headerLists.append(list)
            if let list { _ = claw_curl_setopt_ptr(easy, CURLOPT_HTTPHEADER, list) }
            if request.method != "GET" { _ = claw_curl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method) }
            if let body = request.body {
                let copy = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, body.count))
                copy.initialize(from: body, count: body.count)
                bodies.append(copy)
                _ = claw_curl_setopt_long(easy, CURLOPT_POSTFIELDSIZE, body.count)
                _ = claw_curl_setopt_ptr(easy, CURLOPT_POSTFIELDS, copy)
            } else {
                bodies.append(nil)
                if request.method == "POST" || request.method == "PUT" {
                    _ = claw_curl_setopt_long(easy, CURLOPT_POSTFIELDSIZE, 0)
                    _ = claw_curl_setopt_string(easy, CURLOPT_POSTFIELDS, "")
                }
            }
            curl_multi_add_handle(multi, easy)
        }
        var results = requests.map { _ in HTTPResult(status: 0, body: [], error: "not sent", elapsed: 0) }
        var running: Int32 = 0
        repeat {
            curl_multi_perform(multi, &running)
            var queued: Int32 = 0
            while let message = curl_multi_info_read(multi, &queued) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                      let index = handles.firstIndex(where: { $0 == easy }) else { continue }
                let code = message.pointee.data.result
                var status = 0
                _ = claw_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
                let elapsed = Date().timeIntervalSince(start)
                if code == CURLE_OK {
                    results[index] = HTTPResult(status: status, body: sinks[index].bytes, error: nil, elapsed: elapsed)
                } else {
                    results[index] = HTTPResult(status: status, body: [], error: Self.describe(code), elapsed: elapsed)
                }
            }
            if running > 0 { curl_multi_poll(multi, nil, 0, 100, nil) }
        } while running > 0
        for (index, easy) in handles.enumerated() {
            if let easy {
                curl_multi_remove_handle(multi, easy)
                curl_easy_cleanup(easy)
            }
            if let list = headerLists[index] { curl_slist_free_all(list) }
            bodies[index]?.deallocate()
        }
        return results
    }

    static func describe(_ code: CURLcode) -> String {
        switch code {
        case CURLE_COULDNT_CONNECT: return "connection refused"
        case CURLE_OPERATION_TIMEDOUT: return "timed out"
        case CURLE_COULDNT_RESOLVE_HOST: return "cannot resolve host"
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: return "bad URL"
        case CURLE_GOT_NOTHING: return "empty reply"
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR: return "connection reset"
        case CURLE_WRITE_ERROR: return "answer too large"
        default: return String(cString: curl_easy_strerror(code))
        }
    }
}
