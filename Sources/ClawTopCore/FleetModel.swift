import ClawAdminAPI
import ClawShared

/// What the console knows of one node: its last good snapshot (the admin API's own type), the
/// last error, and when.
public struct NodeStatus: Sendable, Equatable {
    public var url: String
    public var snapshot: Snapshot?
    /// The snapshot as the node sent it, for `--once --format json`.
    public var raw: JSONValue?
    public var error: String?
    /// The node answered, but not in the shape this console knows: which field failed. Its rows
    /// are never shown as healthy.
    public var incompatible: DecodeFailure?
    /// Wall-clock seconds of the last good poll.
    public var lastSuccess: Double?
    public var events: [Event] = []
    public var eventCursor = 0
    /// The operator state document the node reported last (nil: not read; the snapshot then tells
    /// drains, failovers, weight overrides, blocks and the node drain).
    public var operatorState: StateDocument?
    /// The audit entries read so far (the latest 1000), and the last sequence read.
    public var audit: [AuditEntry] = []
    public var auditCursor = 0
    /// The node's recent request records (the latest `keptRequests`), oldest first.
    public var requests: [RequestRecord] = []
    public static let keptRequests = 500

    public init(url: String) { self.url = url }

    /// serving, draining, drained (the node's word) when the last poll worked; when it failed,
    /// stale while the data is younger than `staleAfter`, unreachable after that or with no data;
    /// incompatible when its answer did not decode.
    public func health(now: Double, staleAfter: Double) -> String {
        if incompatible != nil { return "incompatible" }
        guard let snapshot, let last = lastSuccess else { return "unreachable" }
        guard error != nil else { return snapshot.node.state.rawValue }
        return now - last <= staleAfter ? "stale" : "unreachable"
    }

    public func age(now: Double) -> Double? { lastSuccess.map { max(0, now - $0) } }

    public var name: String { snapshot?.node.id.isEmpty == false ? snapshot!.node.id : url }
}
