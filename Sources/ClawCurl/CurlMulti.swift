import CCurl
import Foundation

/// TLS files for `https://` nodes: the CA their certificates chain to (instead of the system's
/// bundle), and a client certificate and key for nodes that ask for one (mutual TLS).
public struct ClientTLS: Sendable, Equatable {
    /// PEM; `CURLOPT_CAINFO`.
    public var caFile: String?
    /// PEM; `CURLOPT_SSLCERT`.
    public var certFile: String?
    /// PEM; `CURLOPT_SSLKEY`.
    public var keyFile: String?

    public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
    }
}

/// One HTTP request for the poller.
public struct HTTPRequestSpec: Sendable {
    public var url: String
    public var method: String
    public var headers: [String]
    public var body: [UInt8]?
    /// Whole-request timeout in seconds.
    public var timeout: Double
    /// For an `https://` URL: the files to trust and to show (nil: the system's bundle, no client certificate).
    public var tls: ClientTLS?

    public init(url: String, method: String = "GET", headers: [String] = [], body: [UInt8]? = nil, timeout: Double = 2, tls: ClientTLS? = nil) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.tls = tls
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

/// A libcurl call that failed: which call, and libcurl's own words for its code.
public struct CurlError: Error, Sendable, CustomStringConvertible {
    private enum Kind: Sendable {
        case global(CURLcode)
        case easy(CURLcode)
        case multi(CURLMcode)
        case noHandle
    }

    private let kind: Kind
    /// The libcurl function or option that failed.
    public let call: String

    static func global(_ code: CURLcode) -> CurlError { CurlError(kind: .global(code), call: "curl_global_init") }
    static func easy(_ code: CURLcode, _ call: String) -> CurlError { CurlError(kind: .easy(code), call: call) }
    static func multi(_ code: CURLMcode, _ call: String) -> CurlError { CurlError(kind: .multi(code), call: call) }
    static func noHandle(_ call: String) -> CurlError { CurlError(kind: .noHandle, call: call) }

    public var description: String {
        switch kind {
        case .global(let code), .easy(let code): "libcurl \(call) failed: \(String(cString: curl_easy_strerror(code)))"
        case .multi(let code): "libcurl \(call) failed: \(String(cString: curl_multi_strerror(code)))"
        case .noHandle: "libcurl \(call) returned no handle (out of memory?)"
        }
    }
}

/// Turns libcurl's return codes into thrown errors: the only place they are looked at.
enum Curl {
    /// `curl_global_init`, once per process (it is not thread-safe, and every multi needs it).
    static let globalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

    static func check(_ code: CURLcode, _ call: String) throws(CurlError) {
        guard code == CURLE_OK else { throw .easy(code, call) }
    }

    static func check(_ code: CURLMcode, _ call: String) throws(CurlError) {
        guard code == CURLM_OK else { throw .multi(code, call) }
    }
}

/// All of a batch's requests at once through one libcurl multi handle, which keeps connections
/// open between batches. Not thread-safe: one poller thread owns it.
public final class CurlMulti: @unchecked Sendable {
    private let multi: UnsafeMutableRawPointer

    public init() throws(CurlError) {
        guard Curl.globalInit == CURLE_OK else { throw .global(Curl.globalInit) }
        guard let multi = curl_multi_init() else { throw .noHandle("curl_multi_init") }
        self.multi = multi
        try Curl.check(claw_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, 64), "CURLMOPT_MAXCONNECTS")
    }

    deinit {
        curl_multi_cleanup(multi)
    }

    /// Set up one transfer; a refused option is an error for this request alone.
    private func configure(_ easy: UnsafeMutableRawPointer, _ request: HTTPRequestSpec, sink: Sink, errors: UnsafeMutablePointer<CChar>,
                           headers: inout UnsafeMutablePointer<curl_slist>?, body: inout UnsafeMutablePointer<UInt8>?) throws(CurlError) {
        try Curl.check(claw_curl_setopt_ptr(easy, CURLOPT_ERRORBUFFER, errors), "CURLOPT_ERRORBUFFER")
        try Curl.check(claw_curl_setopt_string(easy, CURLOPT_URL, request.url), "CURLOPT_URL")
        try Curl.check(claw_curl_setopt_long(easy, CURLOPT_TIMEOUT_MS, Int(request.timeout * 1000)), "CURLOPT_TIMEOUT_MS")
        try Curl.check(claw_curl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(min(request.timeout, 2) * 1000)), "CURLOPT_CONNECTTIMEOUT_MS")
        try Curl.check(claw_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1), "CURLOPT_NOSIGNAL")
        try Curl.check(claw_curl_setopt_long(easy, CURLOPT_TCP_NODELAY, 1), "CURLOPT_TCP_NODELAY")
        try Curl.check(claw_curl_setopt_long(easy, CURLOPT_PROTOCOLS, Int(CURLPROTO_HTTP | CURLPROTO_HTTPS)), "CURLOPT_PROTOCOLS")
        try Curl.check(claw_curl_setopt_write(easy, writeCallback), "CURLOPT_WRITEFUNCTION")
        try Curl.check(claw_curl_setopt_ptr(easy, CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque()), "CURLOPT_WRITEDATA")
        if let tls = request.tls {
            if let file = tls.caFile { try Curl.check(claw_curl_setopt_string(easy, CURLOPT_CAINFO, file), "CURLOPT_CAINFO") }
            if let file = tls.certFile { try Curl.check(claw_curl_setopt_string(easy, CURLOPT_SSLCERT, file), "CURLOPT_SSLCERT") }
            if let file = tls.keyFile { try Curl.check(claw_curl_setopt_string(easy, CURLOPT_SSLKEY, file), "CURLOPT_SSLKEY") }
        }
        for header in request.headers {
            guard let appended = curl_slist_append(headers, header) else { throw .noHandle("curl_slist_append") }
            headers = appended
        }
        if request.body != nil {
            guard let appended = curl_slist_append(headers, "Content-Type: application/json") else { throw .noHandle("curl_slist_append") }
            headers = appended
        }
        if let headers { try Curl.check(claw_curl_setopt_ptr(easy, CURLOPT_HTTPHEADER, headers), "CURLOPT_HTTPHEADER") }
        if request.method != "GET" { try Curl.check(claw_curl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method), "CURLOPT_CUSTOMREQUEST") }
        if let bytes = request.body {
            let copy = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, bytes.count))
            copy.initialize(from: bytes, count: bytes.count)
            body = copy
            try Curl.check(claw_curl_setopt_long(easy, CURLOPT_POSTFIELDSIZE, bytes.count), "CURLOPT_POSTFIELDSIZE")
            try Curl.check(claw_curl_setopt_ptr(easy, CURLOPT_POSTFIELDS, copy), "CURLOPT_POSTFIELDS")
        } else if request.method == "POST" || request.method == "PUT" {
            try Curl.check(claw_curl_setopt_long(easy, CURLOPT_POSTFIELDSIZE, 0), "CURLOPT_POSTFIELDSIZE")
            try Curl.check(claw_curl_setopt_string(easy, CURLOPT_POSTFIELDS, ""), "CURLOPT_POSTFIELDS")
        }
        try Curl.check(curl_multi_add_handle(multi, easy), "curl_multi_add_handle")
    }

    /// Perform every request concurrently; returns once all finished or timed out, in order. A
    /// request libcurl refused to set up, or a multi handle that failed mid-batch, gives that
    /// request an error naming the libcurl call; it never hangs the batch.
    public func perform(_ requests: [HTTPRequestSpec]) -> [HTTPResult] {
        var handles: [UnsafeMutableRawPointer?] = []
        var sinks: [Sink] = []
        var headerLists: [UnsafeMutablePointer<curl_slist>?] = []
        var bodies: [UnsafeMutablePointer<UInt8>?] = []
        var added: [Bool] = []
        // libcurl's own words for a failure, which say more than its code (a TLS alert's name).
        let errorBuffers = requests.map { _ in
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
            buffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
            return buffer
        }
        defer { for buffer in errorBuffers { buffer.deallocate() } }
        let start = Date()
        var results = requests.map { _ in HTTPResult(status: 0, body: [], error: "not sent", elapsed: 0) }
        for (index, request) in requests.enumerated() {
            let sink = Sink()
            sinks.append(sink)
            var headers: UnsafeMutablePointer<curl_slist>?
            var body: UnsafeMutablePointer<UInt8>?
            let easy = curl_easy_init()
            handles.append(easy)
            do throws(CurlError) {
                guard let easy else { throw .noHandle("curl_easy_init") }
                try configure(easy, request, sink: sink, errors: errorBuffers[index], headers: &headers, body: &body)
                added.append(true)
            } catch {
                added.append(false)
                results[index].error = error.description
            }
            headerLists.append(headers)
            bodies.append(body)
        }
        var running: Int32 = 0
        loop: repeat {
            do throws(CurlError) {
                try Curl.check(curl_multi_perform(multi, &running), "curl_multi_perform")
                var queued: Int32 = 0
                while let message = curl_multi_info_read(multi, &queued) {
                    guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                          let index = handles.firstIndex(where: { $0 == easy }) else { continue }
                    let code = message.pointee.data.result
                    var status = 0
                    let elapsed = Date().timeIntervalSince(start)
                    do throws(CurlError) {
                        try Curl.check(claw_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status), "CURLINFO_RESPONSE_CODE")
                        if code == CURLE_OK {
                            results[index] = HTTPResult(status: status, body: sinks[index].bytes, error: nil, elapsed: elapsed)
                        } else {
                            results[index] = HTTPResult(status: status, body: [], error: Self.describe(code, detail: String(cString: errorBuffers[index])),
                                                        elapsed: elapsed)
                        }
                    } catch {
                        results[index] = HTTPResult(status: 0, body: [], error: error.description, elapsed: elapsed)
                    }
                }
                if running > 0 { try Curl.check(curl_multi_poll(multi, nil, 0, 100, nil), "curl_multi_poll") }
            } catch {
                // The multi handle is broken: every unfinished request says so.
                for index in results.indices where results[index].error == "not sent" && added[index] {
                    results[index].error = error.description
                }
                break loop
            }
        } while running > 0
        for (index, easy) in handles.enumerated() {
            if let easy {
                if added[index] { curl_multi_remove_handle(multi, easy) }
                curl_easy_cleanup(easy)
            }
            if let list = headerLists[index] { curl_slist_free_all(list) }
            bodies[index]?.deallocate()
        }
        return results
    }

    static func describe(_ code: CURLcode, detail: String = "") -> String {
        // With TLS 1.3 the server's refusal of a missing client certificate comes as an alert on
        // the first read, which libcurl reports as a receive error.
        if detail.contains("alert certificate required") {
            return "TLS: the node asks for a client certificate: give --cert and --key (\(detail))"
        }
        switch code {
        case CURLE_COULDNT_CONNECT: return "connection refused"
        case CURLE_OPERATION_TIMEDOUT: return "timed out"
        case CURLE_COULDNT_RESOLVE_HOST: return "cannot resolve host"
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: return "bad URL"
        case CURLE_GOT_NOTHING: return "empty reply"
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR: return "connection reset"
        case CURLE_WRITE_ERROR: return "answer too large"
        case CURLE_PEER_FAILED_VERIFICATION: return "TLS: the node's certificate is not trusted (give the CA that signed it with --cacert)"
        case CURLE_SSL_CACERT_BADFILE: return "TLS: cannot read the --cacert file"
        case CURLE_SSL_CERTPROBLEM: return "TLS: cannot use the --cert file (or its --key)"
        case CURLE_SSL_CONNECT_ERROR: return "TLS handshake failed (a node that asks for a client certificate needs --cert and --key)"
        default: return String(cString: curl_easy_strerror(code))
        }
    }
}
