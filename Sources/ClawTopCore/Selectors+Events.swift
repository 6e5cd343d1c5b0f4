import ClawAdminAPI
import Foundation

/// The events as the Events pane and the overview list them: the same event on several nodes is
/// one line with the nodes that reported it, and a write through the fleet store (the writer's
/// `operator_action` and every other node's `applied revision N from the fleet store`) is one line
/// with who made it and why, from the nodes' audit logs.
extension Selectors {
    public struct EventLine: Sendable, Equatable {
        /// When the first node reported it.
        public var time: Double
        public var kind: EventKind
        public var subject: String
        public var detail: String
        /// The events merged into this line, in time order: one per node (a write through the
        /// fleet store: each node's applying it, and the writer's own record of it).
        public var events: [Event]
        /// The operator who made the change, and their reason (operator actions with an audit record).
        public var actor: String?
        public var reason: String?
        /// The operator state revision the change made, when known.
        public var revision: Int?
        /// The audit record behind it, when one was read.
        public var audit: AuditEntry?
        /// What picks this line again after the list moved on: the first event's node and sequence.
        public var key: String

        /// The nodes that reported it, each once, in time order.
        public var nodes: [String] {
            var seen = Set<String>()
            return events.map(\.node).filter { seen.insert($0).inserted }
        }
    }

    /// Same kind and subject on several nodes within this many seconds: one line (as in the timeline).
    static let eventWindow = Timeline.window
    /// How long after a write through the fleet store the other nodes' "applied" events still join it.
    static let storeWindow = 60.0

    /// `applied revision 4 from the fleet store` -> 4.
    static func appliedRevision(_ e: Event) -> Int? {
        guard e.kind == .operatorAction, e.detail.hasPrefix("applied revision "), e.detail.hasSuffix(" from the fleet store") else { return nil }
        return Int(e.detail.dropFirst("applied revision ".count).prefix { $0.isNumber })
    }

    /// What the merged lines were made from: per node, how many events and audit records, and
    /// the last of each (both only grow between polls).
    static func eventSource(_ fleet: Fleet) -> [Int] {
        fleet.nodes.flatMap { [$0.events.count, $0.events.last?.sequence ?? -1, $0.audit.count, $0.audit.last?.sequence ?? -1] }
    }

    /// Every node's events merged into lines, newest first, filtered by `/`. The merge is made
    /// once per poll (the reducer keeps it in `mergedEvents`); a frame only filters it.
    public static func eventLines(_ state: AppState) -> [EventLine] {
        var lines = state.mergedEvents.source == eventSource(state.fleet) ? state.mergedEvents.lines : mergeEvents(state.fleet)
        if !state.filter.isEmpty {
            lines = lines.filter { line in
                ([line.kind.rawValue, line.subject, line.detail, line.actor ?? "", line.reason ?? ""] + line.nodes).contains {
                    $0.localizedCaseInsensitiveContains(state.filter)
                }
            }
        }
        return lines
    }

    /// The merge itself, newest first.
    static func mergeEvents(_ fleet: Fleet) -> [EventLine] {
        let nodes = fleet.nodes
        let events = nodes.flatMap(\.events).sorted { ($0.time, $0.node, $0.sequence) < ($1.time, $1.node, $1.sequence) }
        // The audit records of every node, once each (with a fleet store every node has the same ones).
        var byRevision: [Int: AuditEntry] = [:]
        var byTarget: [String: [AuditEntry]] = [:]
        for node in nodes {
            for entry in node.audit where byRevision[entry.revision] == nil {
                byRevision[entry.revision] = entry
                byTarget[entry.target, default: []].append(entry)
            }
        }
        /// The audit record of a writer's own event: `provider.drain by alice: slow answers` about `provider:premium`.
        func record(_ e: Event) -> AuditEntry? {
            guard e.kind == .operatorAction, let candidates = byTarget[e.subject] else { return nil }
            return candidates.first { abs($0.time - e.time) <= eventWindow && e.detail.hasPrefix("\($0.action) by \($0.actor)") }
        }
        // What joins events into one line: a revision for writes, else kind and subject.
        let keys: [String] = events.map { e in
            if let revision = appliedRevision(e) ?? record(e)?.revision { return "revision|\(revision)" }
            if e.kind == .operatorAction { return "action|\(e.subject)|\(e.detail)" }
            return "\(e.kind.rawValue)|\(e.subject)"
        }
        var lines: [EventLine] = []
        var used = [Bool](repeating: false, count: events.count)
        for i in events.indices where !used[i] {
            used[i] = true
            var group = [events[i]]
            let window = keys[i].hasPrefix("revision|") ? storeWindow : eventWindow
            for j in (i + 1)..<events.count where !used[j] {
                guard events[j].time - events[i].time <= window else { break }
                // A node reports a write once or twice (a writer may see its own write come back
                // through the store): all of it is the one write. Other events once per node.
                if keys[j] == keys[i], window == storeWindow || !group.contains(where: { $0.node == events[j].node }) {
                    group.append(events[j])
                    used[j] = true
                }
            }
            var line = EventLine(time: events[i].time, kind: events[i].kind, subject: events[i].subject, detail: events[i].detail, events: group,
                                 key: "\(events[i].node)#\(events[i].sequence)")
            if keys[i].hasPrefix("revision|"), let revision = Int(keys[i].dropFirst("revision|".count)) {
                line.revision = revision
                if let entry = byRevision[revision] {
                    // The write itself, as its audit record says it: what, on what, by whom and why.
                    line.audit = entry
                    line.actor = entry.actor
                    line.reason = entry.reason
                    line.subject = entry.target
                    line.detail = "\(entry.action) (revision \(revision))"
                } else if let writer = group.first(where: { appliedRevision($0) == nil }) {
                    line.subject = writer.subject
                    line.detail = writer.detail
                }
            }
            lines.append(line)
        }
        return lines.reversed()
    }

    /// The merged lines and what they were made from, for `AppState.mergedEvents`.
    public static func merged(_ fleet: Fleet) -> MergedEvents { MergedEvents(lines: mergeEvents(fleet), source: eventSource(fleet)) }

    /// Where the line happened: the node, or how many reported it (`3 nodes`).
    public static func nodesText(_ line: EventLine) -> String {
        line.nodes.count == 1 ? line.nodes[0] : "\(line.nodes.count) nodes"
    }
}
