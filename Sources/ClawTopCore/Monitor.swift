import ClawShared

/// Fleet figures from Prometheus, when `--prometheus` is given and answered.
public struct PrometheusFigures: Sendable, Equatable {
    public struct Provider: Sendable, Equatable {
        public var rps: Double?
        public var errorRatio: Double?
        public var p50: Double?
        public var p95: Double?
        public var p99: Double?
        public var costPerHour: Double?

        public init() {}
    }

    public var providers: [String: Provider] = [:]
    /// Client requests per second by scrape target (`instance`, the node's `host:port`).
    public var nodes: [String: Double] = [:]
    public var rps: Double?
    public var errorRatio: Double?
    /// Upstream attempts that failed by the provider's fault, over all attempts (fleet-wide).
    public var providerFaultRatio: Double?
    public var p99: Double?
    public var costPerHour = 0.0
    /// Wall-clock seconds of the answer.
    public var at: Double

    public init(at: Double) { self.at = at }
}

/// One alert as Alertmanager lists it.
public struct AlertInfo: Sendable, Equatable {
    public var name: String
    public var severity: String
    public var summary: String
    /// Wall-clock seconds the alert started firing.
    public var since: Double
    public var labels: [String: String]
    /// Silenced or inhibited: shown, but not counted as firing.
    public var silenced: Bool
    public var fingerprint: String
    /// The ids of the silences that cover it (Alertmanager's `status.silencedBy`): what `:unsilence` expires.
    public var silencedBy: [String]

    public init(name: String, severity: String, summary: String, since: Double, labels: [String: String], silenced: Bool, fingerprint: String,
                silencedBy: [String] = []) {
        self.name = name
        self.severity = severity
        self.summary = summary
        self.since = since
        self.labels = labels
        self.silenced = silenced
        self.fingerprint = fingerprint
        self.silencedBy = silencedBy
    }

    static let severityRank = ["critical": 0, "error": 1, "warning": 2, "info": 3]

    /// The labels that tell this alert from others of its name (not the name, severity or the
    /// scrape job), as `Name{k=v,...}`: what `z` puts on the command line to silence just it.
    public var selector: String {
        let keep = labels.filter { !["alertname", "severity", "job"].contains($0.key) }.sorted { $0.key < $1.key }
        return Self.selector(name, keep.map { ($0.key, $0.value) })
    }

    /// `Name{k=v,...}` (just `Name` without labels): how the Alerts pane shows an alert and
    /// `:silence` names one, so what `z` writes parses back to the same alert.
    static func selector(_ name: String, _ labels: [(String, String)]) -> String {
        labels.isEmpty ? name : name + "{" + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "}"
    }

    /// Read Alertmanager's `GET /api/v2/alerts` answer; nil when it is not one.
    public static func list(_ json: JSONValue) -> [AlertInfo]? {
        guard let items = json.arrayValue else { return nil }
        var alerts: [AlertInfo] = []
        for item in items {
            let labels = PromQL.labels(item["labels"])
            guard let name = labels["alertname"] else { continue }
            let state = item["status"]?["state"]?.stringValue ?? "active"
            alerts.append(AlertInfo(
                name: name, severity: labels["severity"] ?? "none",
                summary: item["annotations"]?["summary"]?.stringValue ?? item["annotations"]?["description"]?.stringValue ?? "",
                since: item["startsAt"]?.stringValue.flatMap(Format.parseISO8601) ?? 0, labels: labels,
                silenced: state != "active", fingerprint: item["fingerprint"]?.stringValue ?? "",
                silencedBy: (item["status"]?["silencedBy"]?.arrayValue ?? []).compactMap(\.stringValue)))
        }
        return alerts.sorted {
            ($0.silenced ? 1 : 0, severityRank[$0.severity] ?? 9, $0.since, $0.selector)
                < ($1.silenced ? 1 : 0, severityRank[$1.severity] ?? 9, $1.since, $1.selector)
        }
    }
}

/// What the console knows from Prometheus and Alertmanager; empty when neither is given.
public struct Monitor: Sendable, Equatable {
    public var prometheusURL: String?
    public var alertmanagerURL: String?
    /// The last answer's figures; nil when the last query failed, so the nodes' stats show.
    public var figures: PrometheusFigures?
    public var prometheusError: String?
    public var alerts: [AlertInfo] = []
    public var alertmanagerError: String?
    /// When Alertmanager last answered.
    public var alertsAt: Double?
    /// Who silences: Alertmanager's `createdBy`.
    public var actor = "clawtop"
    /// When each alert fired and resolved over the last hour, from Prometheus's `ALERTS` series
    /// (asked for while `:timeline` shows); nil until it answered.
    public var alertHistory: [PromQL.AlertRun]?
    public var alertHistoryError: String?
    /// When the console last asked Prometheus for `alertHistory`.
    public var alertHistoryAskedAt: Double?
    /// The alerts as this console saw them come and go in Alertmanager's list: the timeline's
    /// resolved alerts without Prometheus (Alertmanager lists the active ones only).
    public var seenAlerts: [PromQL.AlertRun] = []

    public init(prometheusURL: String? = nil, alertmanagerURL: String? = nil) {
        self.prometheusURL = prometheusURL
        self.alertmanagerURL = alertmanagerURL
    }

    /// Note Alertmanager's list: a new alert starts a run, one no longer listed ended by now.
    public mutating func note(_ alerts: [AlertInfo], at: Double) {
        let listed = Set(alerts.map(\.selector))
        for i in seenAlerts.indices where seenAlerts[i].end == nil && !listed.contains(seenAlerts[i].selector) { seenAlerts[i].end = at }
        for alert in alerts where !seenAlerts.contains(where: { $0.selector == alert.selector && $0.end == nil }) {
            seenAlerts.append(PromQL.AlertRun(name: alert.name, severity: alert.severity, selector: alert.selector, start: alert.since, end: nil))
        }
        if seenAlerts.count > 500 { seenAlerts.removeFirst(seenAlerts.count - 500) }
    }

    /// The alert runs the timeline shows: Prometheus's history when it answered, else those seen.
    public var timelineRuns: [PromQL.AlertRun] { alertHistory ?? seenAlerts }

    /// Whether to ask Prometheus for the alert history again (at most every 10 s).
    public func wantsAlertHistory(now: Double) -> Bool {
        prometheusURL != nil && (alertHistoryAskedAt.map { now - $0 >= 10 } ?? true)
    }

    /// Firing alerts that no silence or inhibition covers.
    public var firing: [AlertInfo] { alerts.filter { !$0.silenced } }

    /// The figures that replace the nodes' own: the last answer, when Prometheus is given.
    public var shownFigures: PrometheusFigures? { prometheusURL == nil ? nil : figures }

    /// Whether the figures on screen come from Prometheus.
    public var usingPrometheus: Bool { shownFigures != nil }
}

/// One poll's answers from Prometheus and Alertmanager (each nil when not given).
public struct MonitorPoll: Sendable, Equatable {
    public var figures: PrometheusFigures?
    public var prometheusError: String?
    public var alerts: [AlertInfo]?
    public var alertmanagerError: String?
    public var at: Double

    public init(figures: PrometheusFigures? = nil, prometheusError: String? = nil, alerts: [AlertInfo]? = nil,
                alertmanagerError: String? = nil, at: Double) {
        self.figures = figures
        self.prometheusError = prometheusError
        self.alerts = alerts
        self.alertmanagerError = alertmanagerError
        self.at = at
    }
}
