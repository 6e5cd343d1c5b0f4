import ClawCurl
import ClawShared
import ClawTopCore
import Foundation

/// Asks Prometheus (PromQL over the nodes' metrics) and Alertmanager (the alerts) for what the
/// console shows beside the nodes' own figures. Its requests ride in the node poll's batch.
struct MonitorPoller: Sendable {
    let prometheus: String?
    let alertmanager: String?
    let timeout: Double
    /// Prometheus's figures in `PromQL.Figure.allCases` order, then Alertmanager's alerts; the
    /// same every poll, so built once.
    let requests: [HTTPRequestSpec]

    init(prometheus: String?, alertmanager: String?, timeout: Double) {
        self.prometheus = prometheus
        self.alertmanager = alertmanager
        self.timeout = timeout
        var list: [HTTPRequestSpec] = []
        if let prometheus {
            list += PromQL.Figure.allCases.map {
                HTTPRequestSpec(url: prometheus + "/api/v1/query?query=" + Self.encode($0.expression), timeout: timeout)
            }
        }
        if let alertmanager {
            list.append(HTTPRequestSpec(url: alertmanager + "/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=false",
                                        timeout: timeout))
        }
        requests = list
    }

    static let queryCharacters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")

    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: queryCharacters) ?? text
    }

    /// Read the answers to `requests`, in the same order.
    func read(_ results: ArraySlice<HTTPResult>, at: Double) -> MonitorPoll {
        var poll = MonitorPoll(at: at)
        var next = results.startIndex
        if prometheus != nil {
            var answers: [PromQL.Figure: [PromQL.Sample]] = [:]
            for figure in PromQL.Figure.allCases {
                let result = results[next]
                next += 1
                guard poll.prometheusError == nil else { continue }
                switch Self.json(result).flatMap(PromQL.vector) {
                case .failure(let error): poll.prometheusError = error.description
                case .success(let samples): answers[figure] = samples
                }
            }
            if poll.prometheusError == nil { poll.figures = PromQL.figures(answers, at: at) }
        }
        if alertmanager != nil {
            let result = results[next]
            switch Self.json(result) {
            case .failure(let error): poll.alertmanagerError = error.description
            case .success(let json):
                if let alerts = AlertInfo.list(json) {
                    poll.alerts = alerts
                } else {
                    poll.alertmanagerError = "answered something that is not an Alertmanager alert list"
                }
            }
        }
        return poll
    }

    /// The body as JSON, or what went wrong (with Prometheus's or Alertmanager's own error text).
    static func json(_ result: HTTPResult) -> Result<JSONValue, CommandError> {
        if let error = result.error { return .failure(.init(error)) }
        let json = try? JSONValue.parse(bytes: result.body)
        guard (200..<300).contains(result.status) else {
            let said = json?["error"]?.stringValue ?? json?.stringValue
            return .failure(.init("HTTP \(result.status)\(said.map { ": \($0)" } ?? "")"))
        }
        guard let json else { return .failure(.init("answered something that is not JSON")) }
        return .success(json)
    }

    /// Sparkline history from range queries: per provider p50 latency and cost per hour over
    /// the last `count` steps, so the detail view's graphs are full when the screen opens.
    func history(step: Double, count: Int, curl: CurlMulti) -> Action? {
        guard let prometheus else { return nil }
        let end = (Date().timeIntervalSince1970 / step).rounded(.down) * step
        let start = end - Double(count - 1) * step
        // Per provider for the sparklines; fleet-wide for the overview's graphs (its spend per hour
        // is the providers' summed, as the live figures are).
        let figures: [PromQL.Figure] = [.p50, .cost, .fleetRPS, .fleetErrorRatio, .fleetP99, .fleetProviderFaults]
        let requests = figures.map { figure in
            HTTPRequestSpec(url: prometheus + "/api/v1/query_range?query=" + Self.encode(figure.expression)
                + "&start=\(start)&end=\(end)&step=\(step)", timeout: max(timeout, 5))
        }
        let results = curl.perform(requests)
        var matrices: [[PromQL.Series]] = []
        for result in results {
            guard case .success(let json) = Self.json(result), case .success(let series) = PromQL.matrix(json) else { return nil }
            matrices.append(series)
        }
        func fleet(_ i: Int) -> [Double] { PromQL.fleetHistory(matrices[i], end: end, step: step, count: count) }
        let cost = PromQL.history(matrices[1], end: end, step: step, count: count)
        let fleetCost = cost.values.reduce([Double](repeating: 0, count: count)) { zip($0, $1).map(+) }
        return .monitorHistory(latency: PromQL.history(matrices[0], end: end, step: step, count: count), cost: cost,
                               fleet: FleetHistory(rps: fleet(2), errorRatio: fleet(3), p99: fleet(4), costPerHour: fleetCost, providerFaults: fleet(5),
                                                   times: (0..<count).map { start + Double($0) * step }))
    }

    /// When each alert fired and resolved since `since`, from Prometheus's `ALERTS` series (nil
    /// without Prometheus); the error when it does not answer.
    func alertHistory(since: Double, curl: CurlMulti) -> Result<[PromQL.AlertRun], CommandError>? {
        guard let prometheus else { return nil }
        let end = Date().timeIntervalSince1970
        let step = max(1, ((end - since) / 1000).rounded(.up))
        let request = HTTPRequestSpec(url: prometheus + "/api/v1/query_range?query=" + Self.encode(PromQL.firingAlerts)
            + "&start=\(since)&end=\(end)&step=\(step)", timeout: max(timeout, 5))
        guard let result = curl.perform([request]).first else { return .failure(CommandError("no answer")) }
        switch Self.json(result).flatMap(PromQL.matrix) {
        case .failure(let error): return .failure(CommandError(error.description))
        case .success(let series): return .success(PromQL.alertRuns(series, step: step, end: end))
        }
    }
}
