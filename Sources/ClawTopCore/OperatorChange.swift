import ClawAdminAPI
import ClawShared

/// An operator change in force on the fleet (a provider drain, a failover, a weight or strategy
/// override, a client block or limit, a node drain): what, on which nodes, and from the audit log
/// who made it, when and why. The status lists every one, so a change left in force at handover is
/// never invisible.
public struct OperatorChange: Sendable, Equatable {
    /// `drain`, `failover`, `weights`, `strategy`, `block`, `limits`, `node_drain`, `fault` (a drill's),
    /// `budget` (an operator's) or `budget_guard` (a node's own, past a budget).
    public var kind: String
    /// What it acts on, as the audit names it: `provider:ID`, `tier:ALIAS/N`, `route:ALIAS`, `client:NAME`, `node:ID`.
    public var target: String
    /// In words: "provider premium drained", "route chat weights primary=10".
    public var what: String
    /// The nodes (names) that have it in force, out of `of` that answered.
    public var nodes: [String]
    public var of: Int
    /// From the latest matching audit entry (or the failover's own record): who, when, why.
    public var actor: String?
    public var time: Double?
    public var reason: String?

    /// One line for the status and `--once`: "provider premium drained on 3/3 nodes by ops at
    /// 2025-01-01T12:00:00Z (4m ago): slow answers".
    public func text(now: Double) -> String {
        var out = what
        if of > 1 || nodes.count < of { out += " on \(nodes.count)/\(of) nodes" }
        if let actor { out += " by \(actor)" }
        if let time { out += " at \(Format.iso8601(time)) (\(Format.duration(max(0, now - time))) ago)" }
        if actor == nil, time == nil { out += " (who and when: not in the audit log read)" }
        out += ": " + (reason.flatMap { $0.isEmpty ? nil : $0 } ?? "no reason given")
        return out
    }

    public func json(now: Double) -> JSONValue {
        [
            "kind": .string(kind), "target": .string(target), "what": .string(what),
            "nodes": .array(nodes.map { .string($0) }), "nodes_answering": JSONValue(of),
            "actor": actor.map { .string($0) } ?? .null, "time": time.map { .string(Format.iso8601($0)) } ?? .null,
            "reason": reason.map { .string($0) } ?? .null,
        ]
    }

    /// Every change in force on the nodes that answer, merged: the same change on several nodes is
    /// one entry naming them. The state document is the source where the node gives it; else the
    /// snapshot (drains, failovers, weight overrides, blocks, the node's own drain).
    public static func inForce(_ fleet: Fleet, now: Double) -> [OperatorChange] {
        let live = fleet.nodes.filter { $0.error == nil && $0.incompatible == nil && $0.snapshot != nil }
        var order: [String] = []
        var found: [String: OperatorChange] = [:]
        var failoverRecords: [String: Failover] = [:]
        var faultRecords: [String: InjectedFault] = [:]
        func add(_ kind: String, _ target: String, _ what: String, node: String) {
            let key = kind + "|" + target + "|" + what
            if found[key] == nil {
                order.append(key)
                found[key] = OperatorChange(kind: kind, target: target, what: what, nodes: [], of: live.count)
            }
            if !found[key]!.nodes.contains(node) { found[key]!.nodes.append(node) }
        }
        for node in live {
            let snapshot = node.snapshot!
            let name = node.name
            let doc = node.operatorState
            let drained = doc?.drainedProviders ?? snapshot.providers.filter(\.drained).map(\.id)
            for id in drained.sorted() { add("drain", "provider:\(id)", "provider \(id) drained", node: name) }
            for f in doc?.failovers ?? snapshot.failovers {
                let target = f.provider.map { "provider:\($0)" } ?? f.route.map { "tier:\($0)/\(f.tier ?? 0)" } ?? f.subject
                let subject = f.provider.map { "provider \($0)" } ?? f.route.map { "route \($0) tier \(f.tier ?? 0)" } ?? f.subject
                let to = f.to.isEmpty ? "the rest of its tier, then the next tier" : f.to.joined(separator: ", ")
                add("failover", target, "\(subject) failed over to \(to)", node: name)
                failoverRecords[target] = f
            }
            var weights = doc?.weights ?? [:]
            if doc == nil {
                for p in snapshot.providers {
                    for w in p.weights { if let value = w.overrideWeight { weights[w.route, default: [:]][p.id] = value } }
                }
            }
            for (route, map) in weights.sorted(by: { $0.key < $1.key }) where !map.isEmpty {
                add("weights", "route:\(route)", "route \(route) weights " + map.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "),
                    node: name)
            }
            for (route, strategy) in (doc?.strategies ?? [:]).sorted(by: { $0.key < $1.key }) {
                add("strategy", "route:\(route)", "route \(route) chooses by \(strategy)", node: name)
            }
            let blocked = doc?.blockedClients ?? (snapshot.clients ?? []).filter(\.blocked).map(\.name)
            for client in blocked.sorted() { add("block", "client:\(client)", "client \(client) blocked", node: name) }
            for (client, limits) in (doc?.clientLimits ?? [:]).sorted(by: { $0.key < $1.key }) {
                var parts: [String] = []
                if let v = limits.rpm { parts.append("rpm=\(v)") }
                if let v = limits.tpm { parts.append("tpm=\(v)") }
                if let v = limits.spendPerDay { parts.append("spend_per_day=\(v)") }
                if let v = limits.concurrency { parts.append("concurrency=\(v)") }
                guard !parts.isEmpty else { continue }
                add("limits", "client:\(client)", "client \(client) limits " + parts.joined(separator: " "), node: name)
            }
            // A drill's fault in force: from the snapshot, which gives only those not yet ended.
            for p in snapshot.providers {
                guard let fault = p.fault, fault.active(now: now) else { continue }
                add("fault", "provider:\(p.id)", "provider \(p.id) drill fault \(fault.summary)", node: name)
                faultRecords["provider:\(p.id)"] = fault
            }
            // Budgets an operator set, and budget guards in force (the nodes' own, automatic).
            for (route, budget) in (doc?.budgets ?? [:]).sorted(by: { $0.key < $1.key }) {
                add("budget", "route:\(route)", budget.perHour == 0 ? "route \(route) budget off"
                    : "route \(route) budget \(Format.dollars(budget.perHour))/h (\(budget.action.rawValue))", node: name)
            }
            for route in snapshot.routes {
                guard let guarded = route.budget?.guardInForce else { continue }
                let what = guarded.action == .shift ? "traffic on its cheapest serving tier" : "requests refused (429 budget_exceeded)"
                add("budget_guard", "route:\(route.alias)", "route \(route.alias) past its budget of \(Format.dollars(guarded.perHour))/h: \(what)", node: name)
            }
            if doc?.nodeDrain ?? (snapshot.node.state != .serving) {
                add("node_drain", "node:\(snapshot.node.id)", "node \(name) drained by an operator", node: name)
            }
        }
        // Who, when and why: the latest audit entry of that action on that target, on any node.
        let audit = live.flatMap(\.audit)
        let actions = ["drain": ["provider.drain"], "failover": ["provider.failover", "tier.failover"], "weights": ["route.weights"],
                       "strategy": ["route.strategy"], "block": ["client.block"], "limits": ["client.limits"], "node_drain": ["node.drain"],
                       "fault": ["provider.fault"], "budget": ["route.budget"], "budget_guard": ["route.budget_exceeded"]]
        return order.map { key in
            var change = found[key]!
            if let entry = audit.filter({ $0.target == change.target && actions[change.kind]?.contains($0.action) == true }).max(by: { $0.time < $1.time }) {
                change.actor = entry.actor
                change.time = entry.time
                change.reason = entry.reason
            } else if change.kind == "fault", let record = faultRecords[change.target] {
                change.actor = record.actor
                change.time = record.since
                change.reason = record.reason
            } else if let record = failoverRecords[change.target] {
                change.time = record.since > 0 ? record.since : nil
                change.reason = record.reason
            }
            return change
        }
    }
}
