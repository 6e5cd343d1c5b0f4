import Foundation

/// Something that changed on a node: a circuit, a health probe, a failover, an operator action.
public struct GatewayEvent: Sendable, Equatable {
    public var sequence: Int
    /// Wall-clock time, seconds since 1970.
    public var time: Double
    public var node: String
    public var kind: String
    public var subject: String
    public var detail: String
}

/// A bounded ring of events with increasing sequence numbers.
public struct EventRing: Sendable {
    public let capacity: Int
    public private(set) var events: [GatewayEvent] = []
    public private(set) var nextSequence = 1

    public init(capacity: Int = 1000) { self.capacity = capacity }

    public mutating func append(time: Double, node: String, kind: String, subject: String, detail: String) {
        events.append(GatewayEvent(sequence: nextSequence, time: time, node: node, kind: kind, subject: subject, detail: detail))
        nextSequence += 1
        if events.count > capacity { events.removeFirst(events.count - capacity) }
    }

    /// Events after `sequence`, and whether some asked-for events have already left the ring.
    public func since(_ sequence: Int) -> (events: [GatewayEvent], truncated: Bool) {
        let oldest = events.first?.sequence ?? nextSequence
        return (events.filter { $0.sequence > sequence }, sequence + 1 < oldest)
    }
}
