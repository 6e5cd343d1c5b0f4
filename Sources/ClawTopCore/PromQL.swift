import ClawShared

/// The console's questions to Prometheus (`--prometheus`), and how its answers are read.
///
/// Per provider the figures are over upstream attempts, as a node's own provider stats are
/// (`clawgate_upstream_attempts_total`, `clawgate_upstream_attempt_duration_seconds`); fleet-wide
/// ones are over client requests, as the header's node figures are. The window is a minute, the
/// same as the nodes' `1m` stats, so the two sources can be compared.
public enum PromQL {
    public static let window = "1m"

    public enum Figure: String, Sendable, CaseIterable {
        case rps, errorRatio, p50, p95, p99, cost
        case fleetRPS, fleetErrorRatio, fleetP99
        /// The providers' faults over every upstream attempt: what failover hides from the clients.
        case fleetProviderFaults
        /// Client requests per second per node, so that the node lines add up to the header's figure.
        case nodeRPS

        public var expression: String {
            let w = PromQL.window
            let attempts = "sum by (provider) (rate(clawgate_upstream_attempts_total[\(w)]))"
            let failed = #"sum by (provider) (rate(clawgate_upstream_attempts_total{fault=~"provider|drill"}[\#(w)]))"#
            let requests = "sum(rate(clawgate_requests_total[\(w)]))"
            let failedRequests = #"sum(rate(clawgate_requests_total{fault=~"provider|drill"}[\#(w)]))"#
            func quantile(_ q: String) -> String {
                "histogram_quantile(\(q), sum by (provider, le) (rate(clawgate_upstream_attempt_duration_seconds_bucket[\(w)])))"
            }
            return switch self {
            case .rps: attempts
            // `or` gives 0 failures for providers whose attempts all succeeded (no failed series).
            case .errorRatio: "(\(failed) or \(attempts) * 0) / \(attempts)"
            case .p50: quantile("0.5")
            case .p95: quantile("0.95")
            case .p99: quantile("0.99")
            case .cost: "sum by (provider) (rate(clawgate_cost_dollars_total[\(w)])) * 3600"
            case .fleetRPS: requests
            case .fleetErrorRatio: "(\(failedRequests) or \(requests) * 0) / \(requests)"
            case .fleetProviderFaults: "(sum(\(failed)) or sum(\(attempts)) * 0) / sum(\(attempts))"
            case .nodeRPS: "sum by (instance) (rate(clawgate_requests_total[\(w)]))"
            case .fleetP99: "histogram_quantile(0.99, sum by (le) (rate(clawgate_request_duration_seconds_bucket[\(w)])))"
            }
        }
    }

    /// One series of an instant vector: its labels and value (nil for NaN and infinities, which
    /// Prometheus gives for a quantile with no observations in the window).
    public struct Sample: Sendable, Equatable {
        public var labels: [String: String]
        public var value: Double?

        public init(labels: [String: String], value: Double?) {
            self.labels = labels
            self.value = value
        }
    }

    /// One series of a range query: its labels and (time, value) points.
    public struct Series: Sendable, Equatable {
        public var labels: [String: String]
        public var points: [(time: Double, value: Double?)]

        public static func == (a: Series, b: Series) -> Bool {
            a.labels == b.labels && a.points.map(\.time) == b.points.map(\.time) && a.points.map(\.value) == b.points.map(\.value)
        }
    }

    /// Read an `/api/v1/query` answer; the error says what was wrong with it.
    public static func vector(_ json: JSONValue) -> Result<[Sample], CommandError> {
        switch data(json, type: "vector") {
        case .failure(let e): return .failure(e)
        case .success(let result):
            var samples: [Sample] = []
            for item in result {
                guard let pair = item["value"]?.arrayValue, pair.count == 2 else { return .failure(.init("a vector sample has no [time, value]")) }
                samples.append(Sample(labels: labels(item["metric"]), value: number(pair[1])))
            }
            return .success(samples)
        }
    }

    /// Read an `/api/v1/query_range` answer.
    public static func matrix(_ json: JSONValue) -> Result<[Series], CommandError> {
        switch data(json, type: "matrix") {
        case .failure(let e): return .failure(e)
        case .success(let result):
            var series: [Series] = []
            for item in result {
                guard let values = item["values"]?.arrayValue else { return .failure(.init("a matrix series has no values")) }
                var points: [(Double, Double?)] = []
                for pair in values {
                    guard let p = pair.arrayValue, p.count == 2, let t = p[0].doubleValue else { return .failure(.init("a matrix point is not [time, value]")) }
                    points.append((t, number(p[1])))
                }
                series.append(Series(labels: labels(item["metric"]), points: points))
            }
            return .success(series)
        }
    }

    static func data(_ json: JSONValue, type: String) -> Result<[JSONValue], CommandError> {
        guard let status = json["status"]?.stringValue else { return .failure(.init("not a Prometheus API answer (no status)")) }
        guard status == "success" else {
            let error = json["error"]?.stringValue ?? "no error text"
            return .failure(.init("Prometheus said \(json["errorType"]?.stringValue ?? status): \(error)"))
        }
        guard json["data"]?["resultType"]?.stringValue == type, let result = json["data"]?["result"]?.arrayValue else {
            return .failure(.init("Prometheus answered something other than a \(type)"))
        }
        return .success(result)
    }

    /// A label set as Prometheus and Alertmanager send it (an object of strings); other values are skipped.
    static func labels(_ json: JSONValue?) -> [String: String] {
        (json?.objectValue ?? [:]).compactMapValues(\.stringValue)
    }

    /// Prometheus sends sample values as strings ("0.25", "NaN", "+Inf").
    static func number(_ json: JSONValue) -> Double? {
        let value = json.stringValue.flatMap(Double.init) ?? json.doubleValue
        guard let value, value.isFinite else { return nil }
        return value
    }

    /// Turn the answers to every figure into per-provider and fleet figures.
    public static func figures(_ answers: [Figure: [Sample]], at: Double) -> PrometheusFigures {
        var figures = PrometheusFigures(at: at)
        func perProvider(_ figure: Figure, _ set: (inout PrometheusFigures.Provider, Double?) -> Void) {
            for sample in answers[figure] ?? [] {
                guard let id = sample.labels["provider"], id != "none" else { continue }
                set(&figures.providers[id, default: .init()], sample.value)
            }
        }
        perProvider(.rps) { $0.rps = $1 }
        perProvider(.errorRatio) { $0.errorRatio = $1 }
        perProvider(.p50) { $0.p50 = $1 }
        perProvider(.p95) { $0.p95 = $1 }
        perProvider(.p99) { $0.p99 = $1 }
        perProvider(.cost) { $0.costPerHour = $1 }
        figures.rps = answers[.fleetRPS]?.first?.value
        for sample in answers[.nodeRPS] ?? [] {
            guard let instance = sample.labels["instance"], let value = sample.value else { continue }
            figures.nodes[instance] = value
        }
        figures.errorRatio = answers[.fleetErrorRatio]?.first?.value
        figures.p99 = answers[.fleetP99]?.first?.value
        figures.providerFaultRatio = answers[.fleetProviderFaults]?.first?.value
        figures.costPerHour = figures.providers.values.compactMap(\.costPerHour).reduce(0, +)
        return figures
    }

    /// One fleet-wide series from a range answer (no provider label): `count` slots of `step`
    /// seconds ending at `end`, oldest first, 0 where Prometheus has no point.
    public static func fleetHistory(_ series: [Series], end: Double, step: Double, count: Int) -> [Double] {
        var values = [Double](repeating: 0, count: count)
        let start = end - Double(count - 1) * step
        for point in series.first?.points ?? [] {
            let slot = Int(((point.time - start) / step).rounded())
            if values.indices.contains(slot) { values[slot] = point.value ?? 0 }
        }
        return values
    }

    /// Sparkline history per provider from range answers: `count` slots of `step` seconds ending
    /// at `end`, oldest first, 0 where Prometheus has no point (as a poll with no data records).
    public static func history(_ series: [Series], end: Double, step: Double, count: Int) -> [String: [Double]] {
        var out: [String: [Double]] = [:]
        let start = end - Double(count - 1) * step
        for s in series {
            guard let id = s.labels["provider"], id != "none" else { continue }
            var values = [Double](repeating: 0, count: count)
            for point in s.points {
                let slot = Int(((point.time - start) / step).rounded())
                if values.indices.contains(slot) { values[slot] = point.value ?? 0 }
            }
            out[id] = values
        }
        return out
    }

    /// One stretch of time an alert was firing, from Prometheus's `ALERTS` series: what gives the
    /// timeline alerts that have resolved (Alertmanager's API lists the active ones only).
    public struct AlertRun: Sendable, Equatable {
        public var name: String
        public var severity: String
        /// The labels that tell it from others of its name, as in `AlertInfo.selector`.
        public var selector: String
        public var start: Double
        /// When it stopped firing (nil: it fires at the end of the range).
        public var end: Double?

        public init(name: String, severity: String, selector: String, start: Double, end: Double?) {
            self.name = name
            self.severity = severity
            self.selector = selector
            self.start = start
            self.end = end
        }
    }

    /// The query for `alertRuns`.
    public static let firingAlerts = #"ALERTS{alertstate="firing"}"#

    /// Runs of consecutive points (a gap of more than one and a half steps ends a run) in each
    /// series of a range answer of `ALERTS{alertstate="firing"}` ending at `end`: a series that
    /// still fires has a point within the last step (Prometheus marks a resolved one stale).
    public static func alertRuns(_ series: [Series], step: Double, end: Double) -> [AlertRun] {
        var runs: [AlertRun] = []
        for s in series {
            let name = s.labels["alertname"] ?? "alert"
            let keep = s.labels.filter { !["__name__", "alertname", "alertstate", "severity", "job"].contains($0.key) }.sorted { $0.key < $1.key }
            let selector = AlertInfo.selector(name, keep.map { ($0.key, $0.value) })
            let times = s.points.filter { $0.value != nil }.map(\.time).sorted()
            guard var start = times.first else { continue }
            var last = start
            for t in times.dropFirst() {
                if t - last > 1.5 * step {
                    runs.append(AlertRun(name: name, severity: s.labels["severity"] ?? "", selector: selector, start: start, end: last + step))
                    start = t
                }
                last = t
            }
            runs.append(AlertRun(name: name, severity: s.labels["severity"] ?? "", selector: selector, start: start,
                                 end: end - last > 1.5 * step ? last + step : nil))
        }
        return runs.sorted { ($0.start, $0.selector) < ($1.start, $1.selector) }
    }
}
