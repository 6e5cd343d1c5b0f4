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
        /// A drill's fault started or ended (on purpose: what follows it is a drill, not an outage).
        case drill
        case note
    }

    public struct Entry: Sendable, Equatable {
        public var time: Double
        public var kind: Kind
        public var text: String
        /// The nodes that reported it (1 for an alert or an action).
        public var nodes: Int
        /// What it is about (a provider, route or node; nil: the fleet): what ties it to an incident.
        public var subject: String?
        /// When the last node of its group reported it.
        var end: Double = 0
        /// What it opens (a sign, a firing alert) or closes (a recovery, a resolved alert): one key per
        /// node and kind of trouble (`circuit|cheap|demo-1`, `alert|Name{labels}`).
        var keys: [String] = []

        public init(time: Double, kind: Kind, text: String, nodes: Int, subject: String? = nil) {
            self.time = time
            self.kind = kind
            self.text = text
            self.nodes = nodes
            self.subject = subject
        }
    }

    /// One incident: signs and alerts about the same subjects, from the first sign until every one
    /// came back (and no alert of it fires), with the first action taken after its first sign.
    public struct Incident: Sendable, Equatable {
        /// The providers, routes or nodes it was about, in the order they went bad.
        public var subjects: [String]
        public var firstSign: Double
        public var firstAlert: Double?
        public var firstAction: Double?
        public var healthyAgain: Double?
        /// It began while a drill's fault was in force on one of its subjects: a drill, not an outage.
        public var drill = false
        public var timeToDetect: Double? { firstAlert.map { $0 - firstSign } }
        public var timeToMitigate: Double? { firstAction.map { $0 - firstSign } }
        public var timeToRecover: Double? { healthyAgain.map { $0 - firstSign } }
        /// What is still bad (keys as in `Entry`), and when it last changed.
        var open: Set<String> = []
        var lastChange: Double

        public init(subjects: [String], firstSign: Double, firstAlert: Double? = nil, firstAction: Double? = nil, healthyAgain: Double? = nil) {
            self.subjects = subjects
            self.firstSign = firstSign
            self.firstAlert = firstAlert
            self.firstAction = firstAction
            self.healthyAgain = healthyAgain
            lastChange = firstSign
        }

        public static func == (a: Incident, b: Incident) -> Bool {
            a.subjects == b.subjects && a.firstSign == b.firstSign && a.firstAlert == b.firstAlert && a.firstAction == b.firstAction
                && a.healthyAgain == b.healthyAgain && a.drill == b.drill
        }
    }

    public var entries: [Entry]
    /// The incidents in the period, oldest first, each with its own times to detect, mitigate and recover.
    public var incidents: [Incident]
    /// Nodes that could not be read, with why: named in the output, never silently left out.
    public var unread: [String]

    /// Same kind and subject on several nodes within this many seconds: one line.
    public static let window = 5.0
    /// An incident is over once everything in it came back and stayed quiet this long (seconds):
    /// a sign after that, even about the same subject, starts a new incident.
    public static let quietGap = 120.0

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
    /// `alertRuns`: when each alert fired and resolved, from Prometheus when given (or as the
    /// console saw them come and go). `instances`: `host:port` -> node name, so an alert's
    /// `instance` label names the node as the rest of the console does.
    public static func build(nodes: [NodeInput], alerts: [AlertInfo], since: Double, alertmanagerError: String? = nil,
                             alertRuns: [PromQL.AlertRun] = [], prometheusError: String? = nil,
                             instances: [String: String] = [:]) -> Timeline {
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
            let within = group.count > 1 ? ", within \(duration(spread))" : ""
            var entry = Entry(time: event.time, kind: kind(event.kind), text: "\(phrase(event))\(nodesText)\(within) (\(event.detail))", nodes: group.count,
                              subject: event.subject)
            if let family = family(event.kind) { entry.keys = group.map { "\(family)|\(event.subject)|\($0.node)" } }
            if event.kind == .faultStarted { entry.keys = ["drill-start"] }
            if event.kind == .faultEnded { entry.keys = ["drill-end"] }
            entry.end = event.time + spread
            entries.append(entry)
        }
        // Operator actions: the fleet store gives every node the same audit; each write once. A node
        // whose audit was not read (the live console) tells its actions by its events.
        var seen = Set<String>()
        for node in answering where node.audit.isEmpty {
            for e in node.events where e.kind == .operatorAction && e.time >= since {
                guard seen.insert("event|\(e.subject)|\(e.detail)|\(Int(e.time / window))").inserted else { continue }
                entries.append(Entry(time: e.time, kind: .action, text: "\(e.detail) (\(e.subject))", nodes: 1, subject: target(e.subject)))
            }
        }
        for entry in answering.flatMap(\.audit).filter({ $0.time >= since }).sorted(by: { $0.time < $1.time }) {
            // One console action fans out to every file-store node: the same action, target, actor
            // and reason within the window is one line.
            let key = "\(entry.action)|\(entry.target)|\(entry.actor)|\(entry.reason ?? "")|\(Int(entry.time / window))"
            guard seen.insert(key).inserted else { continue }
            entries.append(Entry(time: entry.time, kind: .action,
                                 text: "\(entry.actor): \(entry.action) \(entry.target)" + (entry.reason.map { " (reason: \($0))" } ?? ""), nodes: 1,
                                 subject: target(entry.target)))
        }
        for run in alertRuns where run.start >= since || (run.end ?? .infinity) >= since {
            let labels = Self.labels(run.selector)
            let shown = Self.named(run.selector, instances)
            if run.start >= since {
                var firing = Entry(time: run.start, kind: .alert, text: "alert \(shown) firing (\(run.severity))", nodes: 1, subject: alertSubject(labels, instances))
                firing.keys = ["alert|\(run.selector)|\(run.start)"]
                entries.append(firing)
            }
            if let end = run.end {
                var resolved = Entry(time: end, kind: .recovery, text: "alert \(shown) resolved", nodes: 1, subject: alertSubject(labels, instances))
                resolved.keys = ["alert|\(run.selector)|\(run.start)"]
                entries.append(resolved)
            }
        }
        // Alertmanager's firing alerts, unless Prometheus already told this one.
        for alert in alerts where alert.since >= since && !alertRuns.contains(where: { $0.selector == alert.selector && $0.end == nil }) {
            var firing = Entry(time: alert.since, kind: .alert,
                               text: "alert \(named(alert.selector, instances)) firing (\(alert.severity))\(alert.summary.isEmpty ? "" : ": \(named(alert.summary, instances))")",
                               nodes: 1, subject: alertSubject(alert.labels, instances))
            firing.keys = ["alert|\(alert.selector)|am"]
            entries.append(firing)
        }
        entries.sort { ($0.time, $0.text) < ($1.time, $1.text) }
        var unread = nodes.filter { $0.error != nil }.map { "\($0.name): \($0.error!)" }
        if let alertmanagerError { unread.append("alertmanager: \(alertmanagerError)") }
        if let prometheusError { unread.append("prometheus: \(prometheusError)") }
        return Timeline(entries: entries, incidents: incidents(entries), unread: unread)
    }

    /// Signs and alerts in time order, cut into incidents: one about a subject already in an
    /// incident that is still bad (or came back less than `quietGap` ago) joins it; one about
    /// another subject starts its own (an alert naming no provider, route or node joins the
    /// latest incident still bad). A recovery closes what it names; an incident with nothing left
    /// bad is healthy again. Each action goes to the incident it followed: the one about its
    /// subject, else the latest one still bad when it was taken.
    static func incidents(_ entries: [Entry]) -> [Incident] {
        var list: [Incident] = []
        for entry in entries {
            switch entry.kind {
            case .sign, .alert:
                let joins = list.lastIndex { incident in
                    let recent = !incident.open.isEmpty || entry.time - incident.lastChange <= quietGap
                    if let subject = entry.subject { return recent && incident.subjects.contains(subject) }
                    return !incident.open.isEmpty
                }
                var incident = joins.map { list[$0] } ?? Incident(subjects: [], firstSign: entry.time)
                if let subject = entry.subject, !incident.subjects.contains(subject) { incident.subjects.append(subject) }
                if entry.kind == .alert, incident.firstAlert == nil { incident.firstAlert = entry.time }
                incident.open.formUnion(entry.keys)
                incident.healthyAgain = nil
                incident.lastChange = entry.time
                if let joins { list[joins] = incident } else { list.append(incident) }
            case .recovery:
                guard let index = list.lastIndex(where: { !$0.open.isDisjoint(with: entry.keys) }) else { continue }
                list[index].open.subtract(entry.keys)
                let end = max(entry.time, entry.end)
                list[index].lastChange = end
                if list[index].open.isEmpty { list[index].healthyAgain = end }
            case .action, .drill, .note:
                continue
            }
        }
        // An incident that began while a drill's fault was in force on one of its subjects is a drill.
        for index in list.indices {
            let start = list[index].firstSign
            for subject in list[index].subjects {
                let starts = entries.filter { $0.kind == .drill && $0.subject == subject && $0.keys == ["drill-start"] && $0.time <= start + window }
                guard let began = starts.last?.time else { continue }
                let ended = entries.first { $0.kind == .drill && $0.subject == subject && $0.keys == ["drill-end"] && $0.time >= began }?.end
                if (ended ?? .infinity) >= start - window { list[index].drill = true }
            }
        }
        for action in entries where action.kind == .action {
            // Still bad when the action was taken: started before it, not yet healthy again.
            let candidates = list.indices.filter { list[$0].firstSign <= action.time && (list[$0].healthyAgain ?? .infinity) >= action.time }
            let index = candidates.last { i in action.subject.map { list[i].subjects.contains($0) } ?? false } ?? candidates.last
            if let index, list[index].firstAction == nil { list[index].firstAction = action.time }
        }
        return list
    }

    /// The kind of trouble an event opens or closes (nil: neither).
    static func family(_ kind: EventKind) -> String? {
        switch kind {
        case .circuitOpened, .circuitClosed: "circuit"
        case .healthFailed, .healthRecovered: "health"
        case .panicStarted, .panicEnded: "panic"
        case .nodeDraining, .nodeDrained, .nodeServing: "node"
        default: nil
        }
    }

    /// `provider:cheap` -> `cheap`; `fleet` (the fleet store's write) -> nil.
    static func target(_ text: String) -> String? {
        if text == "fleet" || text.isEmpty { return nil }
        guard let colon = text.firstIndex(of: ":") else { return text }
        let rest = String(text[text.index(after: colon)...])
        // `tier:ALIAS/INDEX` is about the route.
        return rest.split(separator: "/").first.map(String.init) ?? rest
    }

    /// The subject an alert is about: its provider, route or client, else its node.
    static func alertSubject(_ labels: [String: String], _ instances: [String: String]) -> String? {
        if let subject = labels["provider"] ?? labels["route"] ?? labels["client"] ?? labels["node"] { return subject }
        return labels["instance"].map { instances[$0] ?? $0 }
    }

    /// The labels of `Name{k=v,...}`.
    static func labels(_ selector: String) -> [String: String] {
        guard let open = selector.firstIndex(of: "{"), selector.hasSuffix("}") else { return [:] }
        var out: [String: String] = [:]
        for pair in selector[selector.index(after: open)..<selector.index(before: selector.endIndex)].split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { out[String(parts[0])] = String(parts[1]) }
        }
        return out
    }

    /// Text with every node's `host:port` replaced by its name.
    static func named(_ text: String, _ instances: [String: String]) -> String {
        instances.keys.sorted { $0.count > $1.count }.reduce(text) { $0.replacingOccurrences(of: $1, with: instances[$1]!) }
    }

    static func kind(_ kind: EventKind) -> Kind {
        switch kind {
        case .circuitOpened, .healthFailed, .panicStarted, .nodeDraining, .nodeDrained: .sign
        case .circuitClosed, .healthRecovered, .panicEnded, .nodeServing: .recovery
        case .circuitProbing: .note
        case .faultStarted, .faultEnded: .drill
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
        case .faultStarted: "drill fault started on \(e.subject)"
        case .faultEnded: "drill fault ended on \(e.subject)"
        default: "\(e.kind.rawValue) \(e.subject)"
        }
    }

    // MARK: Output

    static func stamp(_ time: Double) -> String { Format.iso8601(time) }

    /// Durations in one format everywhere: a tenth of a second below 10 s (`1.2s`), then `45s`, `1m0s`, `2h5m`.
    public static func duration(_ value: Double) -> String {
        let v = max(0, value)
        return v < 10 ? String(format: "%.1fs", v) : Format.duration(v)
    }

    static func duration(_ value: Double?) -> String { value.map { duration($0) } ?? "-" }

    /// Each incident's title and its figures, times written by `stamp` (the entries' own format).
    public func incidentSummaries(stamp: (Double) -> String) -> [(title: String, lines: [(String, String)])] {
        incidents.enumerated().map { i, incident in
            (title: "incident \(i + 1): \(incident.subjects.isEmpty ? "the fleet" : incident.subjects.joined(separator: ", "))\(incident.drill ? " (drill)" : "")",
             lines: [
                ("first sign", stamp(incident.firstSign)),
                ("first alert", incident.firstAlert.map(stamp) ?? "none"),
                ("first operator action", incident.firstAction.map(stamp) ?? "none"),
                ("healthy again", incident.healthyAgain.map(stamp) ?? "not yet"),
                ("time to detect", Self.duration(incident.timeToDetect)),
                ("time to mitigate", Self.duration(incident.timeToMitigate)),
                ("time to recover", Self.duration(incident.timeToRecover)),
             ])
        }
    }

    /// The incidents as text lines, for the file output and the screen.
    public func summaryText(stamp: (Double) -> String) -> [String] {
        let summaries = incidentSummaries(stamp: stamp)
        if summaries.isEmpty { return ["no incident in this period"] }
        return summaries.flatMap { [$0.title] + $0.lines.map { "  \($0.0): \($0.1)" } }
    }

    public var text: String {
        // Reasons, details and names come from the nodes: one line each, nothing a terminal obeys.
        var out = entries.map { "\(Self.stamp($0.time))  \($0.kind.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(TerminalText.safe($0.text))" }
        if entries.isEmpty { out.append("nothing happened in this period") }
        out.append("")
        out += summaryText(stamp: Self.stamp).map(TerminalText.safe)
        out += unread.map { "NOT READ: \(TerminalText.safe($0))" }
        return out.joined(separator: "\n") + "\n"
    }

    public var markdown: String {
        var out = ["# Incident timeline", "", "| time (UTC) | kind | what |", "| --- | --- | --- |"]
        out += entries.map { "| \(Self.stamp($0.time)) | \($0.kind.rawValue) | \(TerminalText.safe($0.text).replacingOccurrences(of: "|", with: "\\\\|")) |" }
        out += ["", "## Incidents", ""]
        let summaries = incidentSummaries(stamp: Self.stamp)
        if summaries.isEmpty { out.append("No incident in this period.") }
        for (i, summary) in summaries.enumerated() {
            if i > 0 { out.append("") }
            let title = TerminalText.safe(summary.title)
            out += ["### \(title.prefix(1).uppercased() + title.dropFirst())", ""] + summary.lines.map { "- **\($0.0)**: \(TerminalText.safe($0.1))" }
        }
        if !unread.isEmpty { out += ["", "## Not read", ""] + unread.map { "- \(TerminalText.safe($0))" } }
        return out.joined(separator: "\n") + "\n"
    }

    public var json: JSONValue {
        func time(_ t: Double?) -> JSONValue { t.map { JSONValue($0) } ?? .null }
        return [
            "schema": "clawtop.timeline.v2",
            "entries": .array(entries.map { ["time": JSONValue($0.time), "iso": .string(Self.stamp($0.time)), "kind": .string($0.kind.rawValue),
                                             "text": .string($0.text), "nodes": JSONValue($0.nodes), "subject": $0.subject.map { .string($0) } ?? .null] }),
            "incidents": .array(incidents.map { incident in
                [
                    "subjects": .array(incident.subjects.map { .string($0) }),
                    "first_sign": JSONValue(incident.firstSign), "first_alert": time(incident.firstAlert), "first_action": time(incident.firstAction),
                    "healthy_again": time(incident.healthyAgain), "time_to_detect_seconds": time(incident.timeToDetect),
                    "time_to_mitigate_seconds": time(incident.timeToMitigate), "time_to_recover_seconds": time(incident.timeToRecover),
                    "drill": .bool(incident.drill),
                ]
            }),
            "unread": .array(unread.map { .string($0) }),
        ]
    }
}
