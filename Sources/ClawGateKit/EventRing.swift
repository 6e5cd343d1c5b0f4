import ClawAdminAPI

/// A bounded ring of events (the admin API's `Event`) with increasing sequence numbers.
public struct EventRing: Sendable {
    public let capacity: Int
    public private(set) var events: [Event] = []
    public private(set) var nextSequence = 1

    public init(capacity: Int = 1000) { self.capacity = capacity }

    /// An event raised while a client request is served (a circuit its failure opened, a panic its
    /// routing began) carries that request's id, so "which request tripped it" has an answer.
    public mutating func append(time: Double, node: String, kind: EventKind, subject: String, detail: String,
                                requestID: String? = nil) {
        events.append(Event(sequence: nextSequence, time: time, node: node, kind: kind, subject: subject, detail: detail,
                            requestID: requestID ?? Gateway.ledger?.trace.requestID))
        nextSequence += 1
        if events.count > capacity { events.removeFirst(events.count - capacity) }
    }

    /// Events after `sequence`, and whether some asked-for events have already left the ring.
    public func since(_ sequence: Int) -> (events: [Event], truncated: Bool) {
        let oldest = events.first?.sequence ?? nextSequence
        return (events.filter { $0.sequence > sequence }, sequence + 1 < oldest)
    }
}
