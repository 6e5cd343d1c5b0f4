import Foundation

/// One upstream attempt of a client request.
public struct AttemptRecord: Sendable, Equatable {
    public var provider: String
    public var outcome: AttemptOutcome

    public init(provider: String, outcome: AttemptOutcome) {
        self.provider = provider
        self.outcome = outcome
    }
}

/// A client request as the node keeps it, so an operator can ask why one was slow or failed over.
public struct RequestRecord: Sendable, Equatable {
    public var sequence: Int
    /// When it started (wall clock).
    public var time: Double
    public var route: String
    public var outcome: String
    public var served: String?
    public var latency: Double
    public var trace: RequestTrace
    public var client: String?
    public var endpoint: String
    public var streaming: Bool
    public var status: Int
    public var fault: String
    public var ttft: Double?
    public var tokensIn: Int
    public var tokensOut: Int
    public var cost: Double
    public var attempts: [AttemptLedger]

    init(sequence: Int, _ l: RequestLedger) {
        self.sequence = sequence
        time = l.startedAt
        route = l.route ?? ""
        outcome = l.outcome
        served = l.served
        latency = l.seconds
        trace = l.trace
        client = l.client
        endpoint = l.endpoint
        streaming = l.streaming
        status = l.status
        fault = l.fault
        ttft = l.ttft
        tokensIn = l.tokensIn
        tokensOut = l.tokensOut
        cost = l.cost
        attempts = l.attempts
    }
}

/// The last `capacity` request records, oldest overwritten first, with increasing sequence numbers.
struct RequestRing: Sendable {
    let capacity: Int
    private var items: [RequestRecord] = []
    /// Where the oldest is once the ring is full.
    private var head = 0
    private(set) var nextSequence = 1

    init(capacity: Int) { self.capacity = capacity }

    mutating func append(_ ledger: RequestLedger) {
        let record = RequestRecord(sequence: nextSequence, ledger)
        nextSequence += 1
        if items.count < capacity {
            items.append(record)
        } else {
            items[head] = record
            head = (head + 1) % capacity
        }
    }

    /// Records after `sequence`, oldest first, and whether some asked for have left the ring.
    func since(_ sequence: Int) -> (records: [RequestRecord], truncated: Bool) {
        let oldest = nextSequence - items.count
        let wanted = max(0, min(items.count, nextSequence - 1 - sequence))
        var out: [RequestRecord] = []
        out.reserveCapacity(wanted)
        for i in (items.count - wanted)..<items.count { out.append(items[(head + i) % items.count]) }
        return (out, sequence + 1 < oldest)
    }
}
