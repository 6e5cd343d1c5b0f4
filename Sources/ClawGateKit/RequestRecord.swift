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

/// A client request that needed a retry or failed, kept so an operator can ask why.
public struct RequestRecord: Sendable, Equatable {
    public var sequence: Int
    public var time: Double
    public var route: String
    public var attempts: [AttemptRecord]
    public var outcome: String
    public var served: String?
    public var latency: Double
}
