import ClawAdminAPI

/// The fleet-wide part of a node's operator state, as its snapshot shows it: what nodes with file
/// stores must agree on, and what `:sync` copies. A node's own drain stays its own; a failover's
/// time and reason are left out (each node stamps its own).
public struct OperatorContent: Sendable, Equatable {
    public var drained: [String]
    /// route -> provider -> operator weight override.
    public var weights: [String: [String: Int]]
    /// failover subject -> where its traffic goes.
    public var failovers: [String: [String]]
    /// route -> routing strategy in force (as the node reports it).
    public var strategies: [String: String]

    public init(_ snapshot: Snapshot) {
        drained = snapshot.providers.filter(\.drained).map(\.id).sorted()
        var weights: [String: [String: Int]] = [:]
        for provider in snapshot.providers {
            for weight in provider.weights {
                if let value = weight.overrideWeight { weights[weight.route, default: [:]][provider.id] = value }
            }
        }
        self.weights = weights
        failovers = Dictionary(snapshot.failovers.map { ($0.subject, $0.to) }, uniquingKeysWith: { $1 })
        strategies = Dictionary(snapshot.routes.compactMap { r in r.strategy.map { (r.alias, $0) } }, uniquingKeysWith: { $1 })
    }

    public static func == (a: OperatorContent, b: OperatorContent) -> Bool {
        a.drained == b.drained && a.weights == b.weights && a.failovers == b.failovers && a.strategies == b.strategies
    }

    /// In words, for a reason line or a dialog: "drained cheap; weights chat: fast=80; failover provider:x -> y".
    public var summary: String {
        var parts: [String] = []
        parts.append(drained.isEmpty ? "nothing drained" : "drained " + drained.joined(separator: ", "))
        for (route, map) in weights.sorted(by: { $0.key < $1.key }) {
            parts.append("weights \(route): " + map.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        }
        for (subject, to) in failovers.sorted(by: { $0.key < $1.key }) {
            parts.append("failover \(subject) -> \(to.isEmpty ? "the rest of the tier" : to.joined(separator: ", "))")
        }
        for (route, strategy) in strategies.sorted(by: { $0.key < $1.key }) where strategy != "weighted" {
            parts.append("route \(route) by \(strategy)")
        }
        return parts.joined(separator: "; ")
    }

    /// `summary` and the client blocks and limits of `document` (the node's whole state).
    func summary(with document: StateDocument) -> String {
        var parts = [summary]
        if !document.blockedClients.isEmpty { parts.append("blocked " + document.blockedClients.sorted().joined(separator: ", ")) }
        for (client, limits) in document.clientLimits.sorted(by: { $0.key < $1.key }) {
            let given = [limits.rpm.map { "rpm=\($0)" }, limits.tpm.map { "tpm=\($0)" },
                         limits.spendPerDay.map { "spend_per_day=\($0)" }, limits.concurrency.map { "concurrency=\($0)" }].compactMap { $0 }
            parts.append("limits \(client): " + (given.isEmpty ? "as configured" : given.joined(separator: " ")))
        }
        return parts.joined(separator: "; ")
    }
}

extension Fleet {
    /// Whether the nodes keep their operator state in a fleet store (then they cannot drift, only
    /// lag behind it): any node that ever answered says so. The one place this is decided: plans
    /// (one write through the store, no `:sync`, `:acknowledge`), pending marks and drift ask here.
    public var usesStore: Bool { nodes.contains { $0.snapshot?.node.store.kind == .etcd } }

    /// With a fleet store, the node to write through: the first that answers now and reaches the
    /// store (nil: none does, so operator state cannot change now; or no store).
    public func storeWriter(among reachable: [Int]) -> Int? {
        guard usesStore else { return nil }
        return reachable.first { nodes[$0].snapshot?.node.store.kind == .etcd && nodes[$0].snapshot?.node.store.reachable == true }
    }

    /// With file stores: the nodes whose operator state differs from the most common one (on a tie,
    /// the one of the node with the highest revision), and the node that holds that reference.
    /// Worked out when a poll lands (`refresh`), not every frame.
    public func drift() -> (reference: Int, drifted: [Int])? {
        driftFound.map { ($0.reference, $0.drifted) }
    }

    struct Drift: Sendable, Equatable {
        var reference: Int
        var drifted: [Int]
    }

    func findDrift() -> Drift? {
        guard !usesStore else { return nil }
        let answering = nodes.indices.filter { nodes[$0].snapshot != nil && nodes[$0].incompatible == nil }
        guard answering.count > 1 else { return nil }
        var groups: [(content: OperatorContent, members: [Int])] = []
        for index in answering {
            let content = OperatorContent(nodes[index].snapshot!)
            if let g = groups.firstIndex(where: { $0.content == content }) { groups[g].members.append(index) } else { groups.append((content, [index])) }
        }
        guard groups.count > 1 else { return nil }
        func highest(_ members: [Int]) -> Int { members.map { nodes[$0].snapshot!.node.revision }.max() ?? 0 }
        let reference = groups.max { a, b in
            a.members.count != b.members.count ? a.members.count < b.members.count : highest(a.members) < highest(b.members)
        }!
        let holder = reference.members.max { nodes[$0].snapshot!.node.revision < nodes[$1].snapshot!.node.revision }!
        return Drift(reference: holder, drifted: answering.filter { !reference.members.contains($0) })
    }
}
