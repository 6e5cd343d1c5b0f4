import ClawAdminAPI
import ClawCurl
import ClawShared
import ClawTopCore
import Foundation

/// Polls every node's admin API at once (snapshot, and events since the last one seen), and
/// Prometheus and Alertmanager when given, in the same batch.
final class Poller: @unchecked Sendable {
    let urls: [String]
    let token: String?
    let timeout: Double
    /// `--cacert`, `--cert`, `--key`: for the nodes only (Prometheus and Alertmanager keep the system's trust).
    let tls: ClientTLS?
    let monitor: MonitorPoller
    private let curl: CurlMulti
    /// Per node, the last request record read and the start time of the node that numbered it (a
    /// restarted node numbers from 1 again). Only the poll loop touches these.
    private var requestCursors: [Int]
    private var startedAt: [Double?]

    init(urls: [String], token: String?, timeout: Double, prometheus: String? = nil, alertmanager: String? = nil, tls: ClientTLS? = nil) throws(CurlError) {
        curl = try CurlMulti()
        self.urls = urls
        self.token = token
        self.timeout = timeout
        self.tls = tls
        requestCursors = urls.map { _ in 0 }
        startedAt = urls.map { _ in nil }
        monitor = MonitorPoller(prometheus: prometheus, alertmanager: alertmanager, timeout: timeout)
    }

    /// Prometheus's recent past for the sparklines (nil without Prometheus or when it fails).
    func history(step: Double, count: Int) -> Action? {
        monitor.history(step: step, count: count, curl: curl)
    }

    /// One poll of the whole fleet (and of Prometheus and Alertmanager), as one batch;
    /// `cursors` are the last event sequence seen per node.
    /// `auditCursors`: the last audit sequence seen per node (who changed what, for the status).
    func poll(cursors: [Int], auditCursors: [Int]? = nil) -> Action {
        let headers = token.map { ["Authorization: Bearer \($0)"] } ?? []
        var requests: [HTTPRequestSpec] = []
        for (index, url) in urls.enumerated() {
            requests.append(HTTPRequestSpec(url: url + "/admin/v1/snapshot", headers: headers, timeout: timeout, tls: tls))
            requests.append(HTTPRequestSpec(url: url + "/admin/v1/events?since=\(cursors[index])&limit=200", headers: headers, timeout: timeout, tls: tls))
            requests.append(HTTPRequestSpec(url: url + "/admin/v1/state", headers: headers, timeout: timeout, tls: tls))
            requests.append(HTTPRequestSpec(url: url + "/admin/v1/audit?since=\(auditCursors?[index] ?? 0)&limit=1000", headers: headers, timeout: timeout, tls: tls))
            requests.append(HTTPRequestSpec(url: url + "/admin/v1/requests?since=\(requestCursors[index])&limit=1000", headers: headers, timeout: timeout, tls: tls))
        }
        let nodeRequests = requests.count
        requests += monitor.requests
        let results = curl.perform(requests)
        let now = Date().timeIntervalSince1970
        let monitorPoll = monitor.requests.isEmpty ? nil : monitor.read(results[nodeRequests...], at: now)
        let nodes = urls.indices.map { index -> NodePoll in
            let snapshot = results[index * 5]
            let events = results[index * 5 + 1]
            // The state and the audit only add who changed what: a node without them still counts.
            let state = results[index * 5 + 2].ok ? try? AdminAPI.decode(StateDocument.self, from: results[index * 5 + 2].body) : nil
            let audit = results[index * 5 + 3].ok ? (try? AdminAPI.decode(AuditPage.self, from: results[index * 5 + 3].body))?.items ?? [] : []
            // The request records: a node without them (older) still counts, with none.
            let page = results[index * 5 + 4].ok ? try? AdminAPI.decode(RequestPage.self, from: results[index * 5 + 4].body) : nil
            guard snapshot.ok else { return NodePoll(index: index, snapshot: nil, raw: nil, events: [], error: Self.explain(snapshot)) }
            let raw = (try? JSONValue.parse(bytes: snapshot.body)).map(JSONValueBox.init)
            let parsed: Snapshot
            do throws(DecodeFailure) {
                parsed = try AdminAPI.decode(Snapshot.self, from: snapshot.body)
            } catch {
                return NodePoll(index: index, snapshot: nil, raw: raw, events: [], error: nil, incompatible: error)
            }
            var list: [Event] = []
            if events.ok {
                do throws(DecodeFailure) {
                    list = try AdminAPI.decode(EventPage.self, from: events.body).items
                } catch {
                    let failure = DecodeFailure(field: "events " + error.field, reason: error.reason)
                    return NodePoll(index: index, snapshot: nil, raw: raw, events: [], error: nil, incompatible: failure)
                }
            }
            var records = page?.items ?? []
            if startedAt[index] != parsed.node.startedAt {
                // A node seen for the first time keeps what it sent; one that restarted is read from the start next time.
                if startedAt[index] != nil { records = [] }
                requestCursors[index] = startedAt[index] == nil ? (page?.nextSince ?? 0) : 0
                startedAt[index] = parsed.node.startedAt
            } else if let page {
                requestCursors[index] = page.nextSince
            }
            return NodePoll(index: index, snapshot: parsed, raw: raw, events: list, error: nil, operatorState: state, audit: audit, requests: records)
        }
        return .pollBatch(PollBatch(nodes: nodes, monitor: monitorPoll, at: now))
    }

    /// When each alert fired and resolved, from Prometheus (nil without it).
    func alertHistory(since: Double) -> Result<[PromQL.AlertRun], CommandError>? {
        monitor.alertHistory(since: since, curl: curl)
    }

    /// What the timeline needs: every node's events and audit (up to 1000 each), and Alertmanager's
    /// alerts when given. A node that cannot be read comes back with its error.
    func timeline(names: [String]) -> (nodes: [Timeline.NodeInput], alerts: [AlertInfo], alertmanagerError: String?) {
        let headers = token.map { ["Authorization: Bearer \($0)"] } ?? []
        var requests: [HTTPRequestSpec] = []
        for url in urls {
            requests.append(HTTPRequestSpec(url: url + "/admin/v1/events?since=0&limit=1000", headers: headers, timeout: timeout, tls: tls))
            requests.append(HTTPRequestSpec(url: url + "/admin/v1/audit?since=0&limit=1000", headers: headers, timeout: timeout, tls: tls))
        }
        let nodeRequests = requests.count
        requests += monitor.requests
        let results = curl.perform(requests)
        let monitorPoll = monitor.requests.isEmpty ? nil : monitor.read(results[nodeRequests...], at: Date().timeIntervalSince1970)
        let nodes = urls.indices.map { i -> Timeline.NodeInput in
            let (events, audit) = (results[i * 2], results[i * 2 + 1])
            guard events.ok else { return .init(name: names[i], events: [], audit: [], error: Self.explain(events)) }
            guard audit.ok else { return .init(name: names[i], events: [], audit: [], error: "audit: " + Self.explain(audit)) }
            do throws(DecodeFailure) {
                return .init(name: names[i], events: try AdminAPI.decode(EventPage.self, from: events.body).items,
                             audit: try AdminAPI.decode(AuditPage.self, from: audit.body).items)
            } catch {
                return .init(name: names[i], events: [], audit: [], error: "its answer does not decode at \(error.field): \(error.reason)")
            }
        }
        return (nodes, monitorPoll?.alerts ?? [], monitorPoll?.alertmanagerError)
    }

    /// The incident timeline since `since`, as `--timeline` and a drill's report build it: the
    /// nodes' events and audit, Alertmanager's alerts and Prometheus's alert history when given.
    func fleetTimeline(names: [String], since: Double) -> (timeline: Timeline, nodes: [Timeline.NodeInput]) {
        let (inputs, alerts, amError) = timeline(names: names)
        // The nodes by the id their events carry, for alerts that name them by `host:port`.
        var instances: [String: String] = [:]
        for (url, input) in zip(urls, inputs) {
            if let id = input.events.first?.node, let instance = Fleet.instance(of: url) { instances[instance] = id }
        }
        var runs: [PromQL.AlertRun] = []
        var promError: String?
        switch alertHistory(since: since) {
        case .success(let list)?: runs = list
        case .failure(let error)?: promError = error.description
        case nil: break
        }
        let timeline = Timeline.build(nodes: inputs, alerts: alerts, since: since, alertmanagerError: amError, alertRuns: runs, prometheusError: promError,
                                      instances: instances)
        return (timeline, inputs)
    }

    static func explain(_ result: HTTPResult) -> String {
        if let error = result.error { return error }
        switch result.status {
        case 401: return "401 unauthorized: set CLAWTOP_TOKEN or --token-file to a valid token"
        case 403: return "403 forbidden for this token"
        case 404: return "404: no clawgate admin API at this URL"
        default: return "HTTP \(result.status)"
        }
    }
}

/// Sends a confirmed plan's calls to their nodes (or Alertmanager), all at once, and says how each went.
enum ActionSender {
    static func send(_ plan: ActionPlan, urls: [String], names: [String], alertmanager: String?, token: String?,
                     timeout: Double = 5, tls: ClientTLS? = nil) -> [NodeResult] {
        // The admin token goes to the nodes only, never to Alertmanager.
        let headers = token.map { ["Authorization: Bearer \($0)"] } ?? []
        let requests = plan.calls.map { call in
            switch call.target {
            case .node(let index):
                HTTPRequestSpec(url: urls[index] + call.path, method: call.method, headers: headers, body: call.body.bytes(), timeout: timeout, tls: tls)
            case .alertmanager:
                HTTPRequestSpec(url: (alertmanager ?? "") + call.path, method: call.method, body: call.body == .null ? nil : call.body.bytes(), timeout: timeout)
            }
        }
        let results: [HTTPResult]
        do throws(CurlError) {
            results = try CurlMulti().perform(requests)
        } catch {
            return plan.calls.map { NodeResult(node: $0.node.map { names[$0] } ?? "alertmanager", ok: false, message: error.description) }
        }
        return zip(plan.calls, results).map { call, result in
            let name = call.node.map { names[$0] } ?? "alertmanager"
            if result.ok {
                return NodeResult(node: name, ok: true, message: "ok", revision: (try? AdminAPI.decode(Written.self, from: result.body))?.revision)
            }
            var message = call.node == nil ? result.error ?? "HTTP \(result.status)" : Poller.explain(result)
            if let json = try? JSONValue.parse(bytes: result.body) {
                if let text = json["error"]?["message"]?.stringValue {
                    message = "\(result.status) \(text)"
                } else if let text = json.stringValue ?? json["error"]?.stringValue {
                    message = "\(result.status) \(text)"  // Alertmanager's errors are a JSON string
                }
            } else if call.node == nil, !result.body.isEmpty {
                message = "\(result.status) \(String(decoding: result.body.prefix(200), as: UTF8.self))"
            }
            return NodeResult(node: name, ok: false, message: message)
        }
    }
}
