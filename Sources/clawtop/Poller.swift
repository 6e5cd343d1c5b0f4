import ClawCurl
import ClawShared
import ClawTopCore
import Foundation

/// Polls every node's admin API at once (snapshot, and events since the last one seen).
final class Poller: @unchecked Sendable {
    let urls: [String]
    let token: String?
    let timeout: Double
    private let curl = CurlMulti()

    init(urls: [String], token: String?, timeout: Double) {
        self.urls = urls
        self.token = token
        self.timeout = timeout
    }

    /// One poll of the whole fleet; `cursors` are the last event sequence seen per node.
    func poll(cursors: [Int]) -> [Action] {
        let headers = token.map { ["Authorization: Bearer \($0)"] } ?? []
        var requests: [HTTPRequestSpec] = []
        for (index, url) in urls.enumerated() {
            requests.append(HTTPRequestSpec(url: url + "/admin/v1/snapshot", headers: headers, timeout: timeout))
            requests.append(HTTPRequestSpec(url: url + "/admin/v1/events?since=\(cursors[index])&limit=200", headers: headers, timeout: timeout))
        }
        let results = curl.perform(requests)
        let now = Date().timeIntervalSince1970
        return urls.indices.map { index in
            let snapshot = results[index * 2]
            let events = results[index * 2 + 1]
            guard snapshot.ok else {
                return .polled(index: index, snapshot: nil, raw: nil, events: [], error: Self.explain(snapshot), at: now)
            }
            guard let json = try? JSONValue.parse(bytes: snapshot.body), let parsed = NodeSnapshot(json: json) else {
                return .polled(index: index, snapshot: nil, raw: nil, events: [],
                               error: "answered something that is not a clawgate admin snapshot", at: now)
            }
            var list: [EventInfo] = []
            if events.ok, let json = try? JSONValue.parse(bytes: events.body) {
                list = (json["events"]?.arrayValue ?? []).compactMap(EventInfo.init(json:))
            }
            return .polled(index: index, snapshot: parsed, raw: JSONValueBox(json), events: list, error: nil, at: now)
        }
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

/// Sends a confirmed plan's admin calls to their nodes, all at once, and says how each went.
enum ActionSender {
    static func send(_ plan: ActionPlan, urls: [String], names: [String], token: String?, timeout: Double = 5) -> [NodeResult] {
        let headers = token.map { ["Authorization: Bearer \($0)"] } ?? []
        let requests = plan.calls.map { call in
            HTTPRequestSpec(url: urls[call.node] + call.path, method: call.method, headers: headers, body: call.body.bytes(), timeout: timeout)
        }
        let results = CurlMulti().perform(requests)
        return zip(plan.calls, results).map { call, result in
            if result.ok { return NodeResult(node: names[call.node], ok: true, message: "ok") }
            var message = Poller.explain(result)
            if let json = try? JSONValue.parse(bytes: result.body), let text = json["error"]?["message"]?.stringValue {
                message = "\(result.status) \(text)"
            }
            return NodeResult(node: names[call.node], ok: false, message: message)
        }
    }
}
