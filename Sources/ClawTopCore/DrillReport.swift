import ClawAdminAPI
import ClawShared
import Foundation

/// What a drill showed (`clawtop --drill`, `:drill`): a fault injected on purpose, the fleet watched
/// while it was in force and after it ended, and the figures of a recovery drill against the
/// recovery time objective. Pure: the looks at the fleet, the nodes' events and the incident
/// timeline come in; the report, in text, markdown or JSON, comes out.
public struct DrillReport: Sendable, Equatable {
    /// One look at the fleet, as the drill's loop polled it.
    public struct Sample: Sendable, Equatable {
        public var time: Double
        public var nodes: [NodeSample]
        /// The fleet's spend per hour then (the header's figure).
        public var costPerHour: Double
        /// Alerts firing then that name the provider: selector -> since.
        public var alerts: [String: Double] = [:]

        /// The provider back in rotation on every node that answered.
        public var recovered: Bool { !nodes.isEmpty && nodes.allSatisfy(\.inRotation) }

        public init(time: Double, nodes: [NodeSample], costPerHour: Double, alerts: [String: Double] = [:]) {
            self.time = time
            self.nodes = nodes
            self.costPerHour = costPerHour
            self.alerts = alerts
        }
    }

    /// What one answering node said about the drilled provider and its routes.
    public struct NodeSample: Sendable, Equatable {
        public var node: String
        public var state: ProviderState
        public var circuit: CircuitState
        public var faulted: Bool
        /// Since the node started: attempts on the provider; on every provider of its routes; the
        /// routes' client requests and those that failed for the client (nil: an older node).
        public var attempts: Int?
        public var routeAttempts: Int?
        public var requests: Int?
        public var errors: Int?
        /// The highest p99 of its routes over the node's last minute.
        public var p99: Double?
        /// Attempts on the provider, and on every provider of its routes, over the node's last minute.
        public var attempts1m = 0
        public var routeAttempts1m = 0

        /// Back in rotation on this node: no fault, its circuit closed, not ejected (degraded, with the
        /// drill's errors still in its last minute, counts: it takes traffic again).
        public var inRotation: Bool { !faulted && circuit == .closed && (state == .healthy || state == .degraded) }

        public init(node: String, state: ProviderState, circuit: CircuitState, faulted: Bool, attempts: Int?, routeAttempts: Int?, requests: Int?, errors: Int?,
                    p99: Double?, attempts1m: Int = 0, routeAttempts1m: Int = 0) {
            self.attempts1m = attempts1m
            self.routeAttempts1m = routeAttempts1m
            self.node = node
            self.state = state
            self.circuit = circuit
            self.faulted = faulted
            self.attempts = attempts
            self.routeAttempts = routeAttempts
            self.requests = requests
            self.errors = errors
            self.p99 = p99
        }
    }

    /// The provider as the fleet shows it now: one sample.
    public static func sample(_ fleet: Fleet, provider: String, at time: Double) -> Sample {
        var nodes: [NodeSample] = []
        for node in fleet.nodes where node.error == nil && node.incompatible == nil {
            guard let s = node.snapshot, let p = s.providers.first(where: { $0.id == provider }) else { continue }
            let routes = s.routes.filter { route in route.tiers.joined().contains { $0.provider == provider } }
            let members = Set(routes.flatMap { $0.tiers.joined().map(\.provider) })
            let attempts = s.providers.filter { members.contains($0.id) }.map(\.attemptsTotal)
            func sum(_ values: [Int?]) -> Int? { values.contains(nil) ? nil : values.reduce(0) { $0 + $1! } }
            nodes.append(NodeSample(node: node.name, state: p.state, circuit: p.circuit.state, faulted: p.fault != nil,
                                    attempts: p.attemptsTotal, routeAttempts: sum(attempts), requests: sum(routes.map(\.requestsTotal)),
                                    errors: sum(routes.map(\.errorsTotal)), p99: routes.compactMap(\.stats.oneMinute.latencyP99Seconds).max(),
                                    attempts1m: p.stats.oneMinute.requests,
                                    routeAttempts1m: s.providers.filter { members.contains($0.id) }.reduce(0) { $0 + $1.stats.oneMinute.requests }))
        }
        var alerts: [String: Double] = [:]
        for alert in fleet.monitor.firing where alert.labels["provider"] == provider { alerts[alert.selector] = alert.since }
        return Sample(time: time, nodes: nodes, costPerHour: fleet.summary(now: time).costPerHour, alerts: alerts)
    }

    public var spec: FaultCommand
    public var rto: Double
    /// When the fault was written, and when it ended (nil: it was never in force).
    public var injectedAt: Double?
    public var endedAt: Double?
    /// Node -> seconds from the injection until the provider was out of rotation there (its circuit
    /// opened or its health checks failed); nil: not on that node.
    public var detection: [(node: String, seconds: Double?)] = []
    /// Until the provider was out on every node that answered (the last node's detection).
    public var timeToDetect: Double?
    public var timeToAlert: Double?
    public var firstAlert: String?
    /// Until the provider's share of its routes' attempts fell under 1 % and stayed there while the
    /// fault was in force. `shareBefore`: its share over the minute before the fault.
    public var timeToMitigate: Double?
    public var shareBefore: Double?
    public var shareDuring: Double?
    public var requests = 0
    public var errors = 0
    public var p99During: Double?
    public var costBefore: Double?
    public var costDuring: Double?
    /// From the fault's end until the provider was back in rotation on every node.
    public var timeToRecover: Double?
    public var passed: Bool
    public var verdict: String
    public var notes: [String]
    public var timeline: Timeline
    /// Nodes or monitors that could not be read: the report is partial.
    public var unread: [String]

    public static func == (a: DrillReport, b: DrillReport) -> Bool { a.json == b.json }

    /// The share under which the provider counts as out of the traffic.
    public static let mitigatedShare = 0.01

    public static func build(spec: FaultCommand, rto: Double, injectedAt: Double?, endedAt: Double?, samples: [Sample], events: [Event],
                             timeline: Timeline, notes: [String] = []) -> DrillReport {
        var report = DrillReport(spec: spec, rto: rto, injectedAt: injectedAt, endedAt: endedAt, passed: false, verdict: "", notes: notes,
                                 timeline: timeline, unread: timeline.unread)
        guard let injectedAt else {
            report.verdict = "FAIL: the fault was never in force, so nothing was drilled"
            return report
        }
        let provider = spec.provider
        let end = endedAt ?? samples.last?.time ?? injectedAt
        let names = Self.unique((samples.first?.nodes ?? []).map(\.node) + samples.flatMap { $0.nodes.map(\.node) })
        // Detection: each node's first sign after the injection.
        for name in names {
            let first = events.filter { $0.node == name && $0.subject == provider && $0.time >= injectedAt
                && ($0.kind == .circuitOpened || $0.kind == .healthFailed) }.map(\.time).min()
            report.detection.append((name, first.map { $0 - injectedAt }))
        }
        if !report.detection.isEmpty, report.detection.allSatisfy({ $0.seconds != nil }) { report.timeToDetect = report.detection.compactMap(\.seconds).max() }
        // The first alert about the provider: from the timeline (Prometheus's history) or as polled.
        var alerts: [(String, Double)] = timeline.entries.filter { $0.kind == .alert && $0.subject == provider && $0.time >= injectedAt - Timeline.window }
            .map { ($0.text, $0.time) }
        for sample in samples { for (selector, since) in sample.alerts where since >= injectedAt - Timeline.window { alerts.append(("alert \(selector)", since)) } }
        if let first = alerts.min(by: { $0.1 < $1.1 }) {
            report.timeToAlert = max(0, first.1 - injectedAt)
            report.firstAlert = first.0
        }
        // Shares of the attempts between looks, summed over the nodes (a node restarted in between counts from 0).
        func delta(_ a: Sample, _ b: Sample, _ key: (NodeSample) -> Int?) -> Int? {
            var total = 0
            var any = false
            for node in b.nodes {
                guard let later = key(node), let earlier = a.nodes.first(where: { $0.node == node.node }).flatMap(key) else { continue }
                total += later >= earlier ? later - earlier : later
                any = true
            }
            return any ? total : nil
        }
        func share(_ a: Sample, _ b: Sample) -> Double? {
            guard let route = delta(a, b, \.routeAttempts), route > 0, let mine = delta(a, b, \.attempts) else { return nil }
            return Double(mine) / Double(route)
        }
        let before = samples.filter { $0.time < injectedAt }
        let during = samples.filter { $0.time >= injectedAt && $0.time <= end }
        let after = samples.filter { $0.time > end }
        if let base = before.last {
            let routeAttempts = base.nodes.reduce(0) { $0 + $1.routeAttempts1m }
            if routeAttempts > 0 { report.shareBefore = Double(base.nodes.reduce(0) { $0 + $1.attempts1m }) / Double(routeAttempts) }
        }
        if let base = before.last {
            // The first look from which the share stayed under 1 % until the fault ended (a quiet
            // half-second alone is not mitigation).
            if let last = during.last {
                for sample in [base] + during where sample.time < last.time {
                    if let s = share(sample, last), s < Self.mitigatedShare {
                        report.timeToMitigate = max(0, sample.time - injectedAt)
                        break
                    }
                }
                report.shareDuring = share(base, last)
            }
            let closing = after.first ?? during.last
            if let closing {
                report.requests = delta(base, closing, \.requests) ?? 0
                report.errors = delta(base, closing, \.errors) ?? 0
            }
            report.costBefore = base.costPerHour
        }
        report.p99During = during.compactMap { $0.nodes.compactMap(\.p99).max() }.max()
        report.costDuring = during.last?.costPerHour
        if let endedAt {
            let back = after.first { sample in sample.recovered }
            report.timeToRecover = back.map { max(0, $0.time - endedAt) }
        }
        // The verdict: mitigated within the objective.
        let objective = "the RTO of \(Self.span(rto))"
        if let mitigate = report.timeToMitigate {
            report.passed = mitigate <= rto
            report.verdict = report.passed ? "PASS: mitigated in \(Timeline.duration(mitigate)), within \(objective)"
                                           : "FAIL: mitigated in \(Timeline.duration(mitigate)), more than \(objective)"
        } else if report.requests == 0, during.count >= 1 {
            report.verdict = "FAIL: no traffic reached \(provider)'s routes during the drill, so its failover was not seen"
        } else {
            report.verdict = "FAIL: \(provider)'s share of its routes' attempts never fell under 1 % while the fault was in force (\(objective) not met)"
        }
        return report
    }

    static func unique(_ list: [String]) -> [String] {
        var seen = Set<String>()
        return list.filter { seen.insert($0).inserted }
    }

    // MARK: Output

    static func seconds(_ value: Double?) -> String { value.map { Timeline.duration($0) } ?? "-" }

    /// The timeline's durations, with milliseconds below a second (an RTO of `1ms`).
    static func span(_ value: Double) -> String { value > 0 && value < 1 ? "\(Int((value * 1000).rounded()))ms" : Timeline.duration(value) }

    /// The phases, as `(label, value)` lines, in the timeline's words and formats.
    public var phases: [(String, String)] {
        let percent = { (v: Double?) in v.map { Format.percent($0) } ?? "-" }
        var detected = detection.map { "\($0.node) \($0.seconds.map { "after \(Timeline.duration($0))" } ?? "never")" }.joined(separator: ", ")
        if detected.isEmpty { detected = "no node answered" }
        let errorRatio = requests > 0 ? " (\(Format.percent(Double(errors) / Double(requests))))" : ""
        return [
            ("fault injected", injectedAt.map(Format.iso8601) ?? "never"),
            ("fault ended", endedAt.map(Format.iso8601) ?? "not seen"),
            ("time to detect", "\(Self.seconds(timeToDetect)) (out of rotation, circuit open or health checks failing: \(detected))"),
            ("first alert", timeToAlert.map { "\(Timeline.duration($0)) (\(firstAlert ?? ""))" } ?? "none seen"),
            ("time to mitigate", "\(Self.seconds(timeToMitigate)) (\(spec.provider)'s share of its routes' attempts: \(percent(shareBefore)) the minute before, \(percent(shareDuring)) during; under 1 % from then on)"),
            ("client-visible errors", "\(errors) of \(requests) requests\(errorRatio)"),
            ("latency p99 during", p99During.map { Format.seconds($0) } ?? "-"),
            ("cost per hour", "\(costBefore.map(Format.dollars) ?? "-")/h before, \(costDuring.map(Format.dollars) ?? "-")/h during"),
            ("time to recover", timeToRecover.map { "\(Timeline.duration($0)) after the fault ended (back in rotation, its circuit closed, on every node)" }
                ?? (endedAt == nil ? "-" : "not within the watch after the fault ended")),
            ("result", verdict),
        ]
    }

    var title: String { "drill: \(spec.text) (RTO \(Self.span(rto)))" }

    public var text: String {
        var out = [TerminalText.safe(title)]
        out += phases.map { "  \($0.0): \(TerminalText.safe($0.1))" }
        out += notes.map { "  note: \(TerminalText.safe($0))" }
        out.append("")
        out.append("timeline:")
        out += timeline.text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }
        return out.joined(separator: "\n").trimmingCharacters(in: .newlines) + "\n"
    }

    public var markdown: String {
        var out = ["# Drill: \(TerminalText.safe(spec.text))", "", "RTO \(Self.span(rto)). **\(verdict.hasPrefix("PASS") ? "PASS" : "FAIL")**", ""]
        out += phases.map { "- **\($0.0)**: \(TerminalText.safe($0.1))" }
        out += notes.map { "- note: \(TerminalText.safe($0))" }
        out += ["", timeline.markdown.replacingOccurrences(of: "# Incident timeline", with: "## Timeline")
            .replacingOccurrences(of: "\n## Incidents", with: "\n### Incidents").replacingOccurrences(of: "\n### Incident ", with: "\n#### Incident ")]
        return out.joined(separator: "\n")
    }

    public var json: JSONValue {
        func number(_ d: Double?) -> JSONValue { d.map { .number($0) } ?? .null }
        return [
            "schema": "clawtop.drill.v1",
            "drill": ["spec": .string(spec.text), "provider": .string(spec.provider), "kind": .string(spec.kind.rawValue),
                      "ratio": .number(spec.ratio ?? 1), "duration_seconds": .number(spec.duration)],
            "rto_seconds": .number(rto),
            "result": .string(passed ? "pass" : "fail"),
            "verdict": .string(verdict),
            "injected_at": number(injectedAt), "ended_at": number(endedAt),
            "phases": [
                "detect": ["seconds": number(timeToDetect),
                           "out_of_rotation": .object(Dictionary(detection.map { ($0.node, number($0.seconds)) }, uniquingKeysWith: { a, _ in a })),
                           "alert_seconds": number(timeToAlert), "first_alert": firstAlert.map { .string($0) } ?? .null],
                "mitigate": ["seconds": number(timeToMitigate), "share_before": number(shareBefore), "share_during": number(shareDuring),
                             "threshold": .number(Self.mitigatedShare)],
                "recover": ["seconds": number(timeToRecover)],
            ],
            "clients": ["requests": JSONValue(requests), "errors": JSONValue(errors), "latency_p99_seconds": number(p99During)],
            "cost": ["before_per_hour_dollars": number(costBefore), "during_per_hour_dollars": number(costDuring)],
            "notes": .array(notes.map { .string($0) }),
            "timeline": timeline.json,
            "unread": .array(unread.map { .string($0) }),
        ]
    }
}
