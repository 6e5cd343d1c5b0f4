import ClawAdminAPI
import ClawShared
import Foundation

/// The incident's timeline for the post-mortem: every node's events, the operators' actions with
/// actor and reason, and the alerts, in time order, the same event on several nodes as one line;
/// with the times to detect, mitigate and recover.
public struct Timeline: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// Something went wrong (a circuit opened, health failed, a route panicked, a node drained).
        case sign
        /// Something came back.
        case recovery
        case alert
        case action
        case note
    }

    public struct Entry: Sendable, Equatable {
        public var time: Double
        public var kind: Kind
        public var text: String
        /// The nodes that reported it (1 for an alert or an action).
        public var nodes: Int
    }

    public struct Summary: Sendable, Equatable {
        public var firstSign: Double?
        public var firstAlert: Double?
        public var firstAction: Double?
        public var healthyAgain: Double?
        public var timeToDetect: Double? { firstAlert.flatMap { a in firstSign.map { a - $0 } } }
        public var timeToMitigate: Double? { firstAction.flatMap { a in firstSign.map { a - $0 } } }
        public var timeToRecover: Double? { healthyAgain.flatMap { a in firstSign.map { a - $0 } } }
    }

    public var entries: [Entry]
    public var summary: Summary
    /// Nodes that could not be read, with why: named in the output, never silently left out.
    public var unread: [String]

    /// Same kind and subject on several nodes within this many seconds: one line.
    public static let window = 5.0

    public struct NodeInput: Sendable {
        public var name: String
        public var events: [Event]
        public var audit: [AuditEntry]
        public var error: String?

        public init(name: String, events: [Event], audit: [AuditEntry], error: String? = nil) {
            self.name = name
            self.events = events
            self.audit = audit
            self.error = error
        }
    }

    /// Merge what the nodes and Alertmanager said since `since` (wall-clock seconds).
    /// `alertRuns`: when each alert fired and resolved, from Prometheus when given.
    public static func build(nodes: [NodeInput], alerts: [AlertInfo], since: Double, alertmanagerError: String? = nil,
                             alertRuns: [PromQL.AlertRun] = [], prometheusError: String? = nil) -> Timeline {
        let answering = nodes.filter { $0.error == nil }
        var entries: [Entry] = []
        // Events: grouped by kind and subject within the window, across nodes.
        let events = answering.flatMap(\.events).filter { $0.time >= since && $0.kind != .operatorAction && $0.kind != .failoverStarted && $0.kind != .failoverRestored }
            .sorted { ($0.time, $0.node) < ($1.time, $1.node) }
        var used = Set<Int>()
        for (i, event) in events.enumerated() where !used.contains(i) {
            var group = [event]
            used.insert(i)
            for (j, other) in events.enumerated().dropFirst(i + 1) where !used.contains(j) {
                guard other.time - event.time <= window else { break }
                if other.kind == event.kind, other.subject == event.subject, !group.contains(where: { $0.node == other.node }) {
                    group.append(other)
                    used.insert(j)
                }
            }
            let nodesText = answering.count > 1 || group.count > 1 ? " on \(group.count) of \(answering.count) node\(answering.count == 1 ? "" : "s")" : ""
            let spread = (group.map(\.time).max() ?? 0) - event.time
            let within = group.count > 1 ? String(format: ", within %.1f s", spread) : ""
            entries.append(Entry(time: event.time, kind: kind(event.kind), text: "\(phrase(event))\(nodesText)\(within) (\(event.detail))", nodes: group.count))
        }
        // Operator actions: the fleet store gives every node the same audit; each write once. A node
        // whose audit was not read (the live console) tells its actions by its events.
        var seen = Set<String>()
        for node in answering where node.audit.isEmpty {
            for e in node.events where e.kind == .operatorAction && e.time >= since {
                guard seen.insert("event|\(e.subject)|\(e.detail)|\(Int(e.time / window))").inserted else { continue }
                entries.append(Entry(time: e.time, kind: .action, text: "\(e.detail) (\(e.subject))", nodes: 1))
            }
        }
        for entry in answering.flatMap(\.audit).filter({ $0.time >= since }).sorted(by: { $0.time < $1.time }) {
            // One console action fans out to every file-store node: the same action, target, actor
            // and reason within the window is one line.
            let key = "\(entry.action)|\(entry.target)|\(entry.actor)|\(entry.reason ?? "")|\(Int(entry.time / window))"
            guard seen.insert(key).inserted else { continue }
            entries.append(Entry(time: entry.time, kind: .action,
                                 text: "\(entry.actor): \(entry.action) \(entry.target)" + (entry.reason.map { " (reason: \($0))" } ?? ""), nodes: 1))
        }
        for run in alertRuns where run.start >= since || (run.end ?? .infinity) >= since {
            if run.start >= since {
                entries.append(Entry(time: run.start, kind: .alert, text: "alert \(run.selector) firing (\(run.severity))", nodes: 1))
            }
            if let end = run.end {
                entries.append(Entry(time: end, kind: .recovery, text: "alert \(run.selector) resolved", nodes: 1))
            }
        }
        // Alertmanager's firing alerts, unless Prometheus already told this one.
        for alert in alerts where alert.since >= since && !alertRuns.contains(where: { $0.selector == alert.selector && $0.end == nil }) {
            entries.append(Entry(time: alert.since, kind: .alert, text: "alert \(alert.selector) firing (\(alert.severity))\(alert.summary.isEmpty ? "" : ": \(alert.summary)")", nodes: 1))
        }
        entries.sort { ($0.time, $0.text) < ($1.time, $1.text) }
        var summary = Summary()
        summary.firstSign = entries.first { $0.kind == .sign || $0.kind == .alert }?.time
        summary.firstAlert = entries.first { $0.kind == .alert }?.time
        if let first = summary.firstSign { summary.firstAction = entries.first { $0.kind == .action && $0.time >= first }?.time }
        // Healthy again: every subject that went bad has come back since, and no alert is firing.
        if summary.firstSign != nil, alerts.filter({ !$0.silenced }).isEmpty, !alertRuns.contains(where: { $0.end == nil }) {
            var open: [String: Double] = [:]
            var lastRecovery: Double?
            for event in events {
                switch kind(event.kind) {
                case .sign: open["\(event.subject)|\(event.node)"] = event.time
                case .recovery:
                    open["\(event.subject)|\(event.node)"] = nil
                    lastRecovery = event.time
                default: break
                }
            }
            let lastResolve = alertRuns.compactMap(\.end).max()
            if open.isEmpty { summary.healthyAgain = [lastRecovery, lastResolve].compactMap { $0 }.max() }
        }
        var unread = nodes.filter { $0.error != nil }.map { "\($0.name): \($0.error!)" }
        if let alertmanagerError { unread.append("alertmanager: \(alertmanagerError)") }
        if let prometheusError { unread.append("prometheus: \(prometheusError)") }
        return Timeline(entries: entries, summary: summary, unread: unread)
    }

    static func kind(_ kind: EventKind) -> Kind {
        switch kind {
        case .circuitOpened, .healthFailed, .panicStarted, .nodeDraining, .nodeDrained: .sign
        case .circuitClosed, .healthRecovered, .panicEnded, .nodeServing: .recovery
        case .circuitProbing: .note
        default: .note
        }
    }

    static func phrase(_ e: Event) -> String {
        switch e.kind {
        case .circuitOpened: "circuit opened for \(e.subject)"
        case .circuitProbing: "circuit probing \(e.subject)"
        case .circuitClosed: "circuit closed for \(e.subject)"
        case .healthFailed: "health checks failed for \(e.subject)"
        case .healthRecovered: "health recovered for \(e.subject)"
        case .panicStarted: "route \(e.subject) in panic"
        case .panicEnded: "route \(e.subject) out of panic"
        case .nodeDraining: "node \(e.subject) draining"
        case .nodeDrained: "node \(e.subject) drained"
        case .nodeServing: "node \(e.subject) serving again"
        default: "\(e.kind.rawValue) \(e.subject)"
        }
    }

    // MARK: Output

    static func stamp(_ time: Double) -> String { Format.iso8601(time) }

    static func duration(_ value: Double?) -> String { value.map { Format.duration(max(0, $0)) } ?? "-" }

    var summaryLines: [(String, String)] {
        [
            ("first sign", summary.firstSign.map(Self.stamp) ?? "none"),
            ("first alert", summary.firstAlert.map(Self.stamp) ?? "none"),
            ("first operator action", summary.firstAction.map(Self.stamp) ?? "none"),
            ("healthy again", summary.healthyAgain.map(Self.stamp) ?? "not yet"),
            ("time to detect", Self.duration(summary.timeToDetect)),
            ("time to mitigate", Self.duration(summary.timeToMitigate)),
            ("time to recover", Self.duration(summary.timeToRecover)),
        ]
    }

    public var text: String {
        var out = entries.map { "\(Self.stamp($0.time))  \($0.kind.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \($0.text)" }
        if entries.isEmpty { out.append("nothing happened in this period") }
        out.append("")
        out += summaryLines.map { "\($0.0): \($0.1)" }
        out += unread.map { "NOT READ: \($0)" }
        return out.joined(separator: "\n") + "\n"
    }

    public var markdown: String {
        var out = ["# Incident timeline", "", "| time (UTC) | kind | what |", "| --- | --- | --- |"]
        out += entries.map { "| \(Self.stamp($0.time)) | \($0.kind.rawValue) | \($0.text.replacingOccurrences(of: "|", with: "\\\\|")) |" }
        out += ["", "## Summary", ""] + summaryLines.map { "- **\($0.0)**: \($0.1)" }
        if !unread.isEmpty { out += ["", "## Not read", ""] + unread.map { "- \($0)" } }
        return out.joined(separator: "\n") + "\n"
    }

    public var json: JSONValue {
        func time(_ t: Double?) -> JSONValue { t.map { JSONValue($0) } ?? .null }
        return [
            "schema": "clawtop.timeline.v1",
            "entries": .array(entries.map { ["time": JSONValue($0.time), "iso": .string(Self.stamp($0.time)), "kind": .string($0.kind.rawValue),
                                             "text": .string($0.text), "nodes": JSONValue($0.nodes)] }),
            "summary": [
                "first_sign": time(summary.firstSign), "first_alert": time(summary.firstAlert), "first_action": time(summary.firstAction),
                "healthy_again": time(summary.healthyAgain), "time_to_detect_seconds": time(summary.timeToDetect),
                "time_to_mitigate_seconds": time(summary.timeToMitigate), "time_to_recover_seconds": time(summary.timeToRecover),
            ],
            "unread": .array(unread.map { .string($0) }),
        ]
    }
}
