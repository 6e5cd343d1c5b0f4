import NIOCore
import Synchronization

/// What one listener lets a client hold: how many connections at once, how long a request head may
/// take to arrive, and how long a keep-alive connection may sit idle between requests. A socket
/// that breaks these is closed, so no client can pin the node's file descriptors.
public final class ListenerLimits: Sendable {
    /// `data` (the client port) or `admin` (the admin listener): the `listener` label in `/metrics`.
    public let listener: String
    public let maxConnections: Int
    /// Seconds from a request's first byte to the end of its head.
    public let headerTimeout: Double
    /// Seconds a connection may wait for a request's first byte: after it opened, or after an answer.
    public let idleTimeout: Double
    /// Seconds from the end of a request head to the end of its body.
    public let bodyTimeout: Double
    let metrics: GatewayMetrics
    /// Connections open now (refused ones are not counted).
    let open = Atomic<Int>(0)

    public init(listener: String, maxConnections: Int, headerTimeout: Double, idleTimeout: Double, bodyTimeout: Double = 60, metrics: GatewayMetrics) {
        self.bodyTimeout = bodyTimeout
        self.listener = listener
        self.maxConnections = maxConnections
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.metrics = metrics
    }

    public var openConnections: Int { open.load(ordering: .relaxed) }

    /// Take a slot for a new connection; false when the listener is full (the refusal is counted).
    func admit() -> Bool {
        let now = open.wrappingAdd(1, ordering: .relaxed).newValue
        guard now <= maxConnections else {
            open.wrappingSubtract(1, ordering: .relaxed)
            metrics.connectionRefused(listener: listener)
            return false
        }
        return true
    }

    func release() {
        open.wrappingSubtract(1, ordering: .relaxed)
    }

    static func amount(_ seconds: Double) -> TimeAmount {
        .nanoseconds(Int64(seconds * 1e9))
    }
}
