import ClawShared
import Foundation
import Hummingbird
import Synchronization

/// What a simulated provider does with one request, drawn from its behaviour and seeded generator.
public enum SimOutcome: Sendable, Equatable {
    case outage
    case status(Int)
    case reset
    case hang
    case rateLimited(retryAfter: Int)
    case serverError(status: Int)
    case malformed(delay: Double)
    case overloaded
    case midstreamError(delay: Double)
    case ok(delay: Double, cutStream: Bool)

    var counterName: String {
        switch self {
        case .outage: "outage"
        case .status(let s): "status_\(s)"
        case .reset: "reset"
        case .hang: "hang"
        case .rateLimited: "rate_limited"
        case .serverError: "error"
        case .malformed: "malformed"
        case .overloaded: "overloaded"
        case .midstreamError: "midstream_error"
        case .ok(_, let cut): cut ? "stream_cut" : "ok"
        }
    }
}

/// One simulated provider's live state: its behaviour, its generator and what it has served.
public final class SimProvider: Sendable {
    public let id: String
    public let models: [String]

    private struct State {
        var behaviour: SimBehaviour
        var format: SimFormat
        var random: SeededRandom
        var requests = 0
        var outcomes: [String: Int] = [:]
        var nextID = 0
        /// The raw bodies of the last chat requests, newest last.
        var lastBodies: [[UInt8]] = []
        /// The head (path, query, headers) of the last request whose body was kept.
        var lastHead: HTTPRequest?
    }

    static let keptBodies = 4

    /// Keep a request body exactly as it arrived, and its head, so tests can see what a gateway
    /// forwarded; returns the format the provider speaks now, read under the same lock.
    @discardableResult
    func keep(body: [UInt8], head: HTTPRequest) -> SimFormat {
        state.withLock { state in
            state.lastBodies.append(body)
            if state.lastBodies.count > Self.keptBodies { state.lastBodies.removeFirst() }
            state.lastHead = head
            return state.format
        }
    }

    /// Path, query and headers (names lowercased) of the last request, or nil before the first.
    public func lastRequestInfo() -> JSONValue? {
        guard let head = state.withLock({ $0.lastHead }) else { return nil }
        let target = head.path ?? ""
        let split = target.firstIndex(of: "?")
        let path = split.map { String(target[..<$0]) } ?? target
        let query = split.map { String(target[target.index(after: $0)...]) } ?? ""
        var headers: [String: JSONValue] = [:]
        for field in head.headerFields {
            let name = field.name.canonicalName.lowercased()
            if case .string(let earlier) = headers[name] {
                headers[name] = .string(earlier + ", " + field.value)
            } else {
                headers[name] = .string(field.value)
            }
        }
        return ["method": .string(head.method.rawValue), "path": .string(path), "query": .string(query), "headers": .object(headers)]
    }

    /// The raw body of the last chat request (`back` 0) or of one before it.
    public func lastBody(back: Int = 0) -> [UInt8]? {
        state.withLock { state in
            let index = state.lastBodies.count - 1 - back
            return index >= 0 ? state.lastBodies[index] : nil
        }
    }

    private let state: Mutex<State>
    private let stopFlag = Mutex<Bool>(false)

    /// Hung requests end when the simulator stops, so shutdown does not wait for them.
    func stopping() { stopFlag.withLock { $0 = true } }
    var isStopping: Bool { stopFlag.withLock { $0 } }

    public init(id: String, models: [String], behaviour: SimBehaviour, format: SimFormat = .openai, seed: UInt64) {
        self.id = id
        self.models = models
        // Each provider gets its own stream derived from the seed and its name, so adding a provider
        // does not change what the others do.
        var hash: UInt64 = 1_469_598_103_934_665_603
        for byte in id.utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        self.state = Mutex(State(behaviour: behaviour, format: format, random: SeededRandom(seed: seed ^ hash)))
    }

    public var behaviour: SimBehaviour { state.withLock { $0.behaviour } }
    public var format: SimFormat { state.withLock { $0.format } }

    /// Change behaviour, and with the key `format` the wire format, while running; a bad field
    /// changes nothing.
    @discardableResult
    public func update(_ patch: [String: JSONValue]) throws(SimBehaviourError) -> SimBehaviour {
        var rest = patch
        let format = try rest.removeValue(forKey: "format").map { (value) throws(SimBehaviourError) in try SimFormat.parse(value, at: "format") }
        return try state.withLock { (state: inout State) throws(SimBehaviourError) -> SimBehaviour in
            var behaviour = state.behaviour
            try behaviour.apply(rest)
            state.behaviour = behaviour
            if let format { state.format = format }
            return state.behaviour
        }
    }

    /// Decide what happens to the next request, counting it.
    public func nextOutcome(streaming: Bool) -> (SimOutcome, SimBehaviour, Int) {
        state.withLock { state in
            state.requests += 1
            state.nextID += 1
            let b = state.behaviour
            let outcome: SimOutcome
            if b.outage {
                outcome = .outage
            } else if b.answerStatus != 0 {
                outcome = .status(b.answerStatus)
            } else if state.random.unit() < b.resetRate {
                outcome = .reset
            } else if state.random.unit() < b.hangRate {
                outcome = .hang
            } else if state.random.unit() < b.rateLimitRate {
                outcome = .rateLimited(retryAfter: b.retryAfterSeconds)
            } else if state.random.unit() < b.errorRate {
                outcome = .serverError(status: state.random.unit() < 0.5 ? 500 : 503)
            } else if b.overloadedRate > 0, state.random.unit() < b.overloadedRate {
                // The newer keys draw only when set, so seeded runs without them repeat as before.
                outcome = .overloaded
            } else {
                let delay = Self.latency(b, &state.random)
                if streaming, b.midstreamErrorRate > 0, state.random.unit() < b.midstreamErrorRate {
                    outcome = .midstreamError(delay: delay)
                } else if state.random.unit() < b.malformedRate {
                    outcome = .malformed(delay: delay)
                } else {
                    outcome = .ok(delay: delay, cutStream: streaming && state.random.unit() < b.streamCutRate)
                }
            }
            state.outcomes[outcome.counterName, default: 0] += 1
            return (outcome, b, state.nextID)
        }
    }

    /// Log-normal latency with the configured median and 99th percentile, in seconds.
    static func latency(_ b: SimBehaviour, _ random: inout SeededRandom) -> Double {
        guard b.latencyMs > 0 else { return 0 }
        let sigma = b.latencyP99Ms > b.latencyMs ? log(b.latencyP99Ms / b.latencyMs) / 2.3263 : 0
        let ms = b.latencyMs * exp(sigma * random.normal())
        return min(ms, 600_000) / 1000
    }

    public var counters: (requests: Int, outcomes: [String: Int]) {
        state.withLock { ($0.requests, $0.outcomes) }
    }

    public func resetCounters() {
        state.withLock { state in
            state.requests = 0
            state.outcomes = [:]
        }
    }
}
