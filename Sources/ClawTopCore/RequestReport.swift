import ClawAdminAPI
import ClawShared
import Foundation

/// `clawtop --requests`: the Requests pane for scripts, every node's recent requests merged by
/// time (newest first), as text or JSON (`clawtop.requests.v1`).
public struct RequestReport: Sendable {
    public var rows: [Selectors.RequestRow]
    /// Nodes that could not be read, and why.
    public var unread: [(node: String, error: String)]
    public var since: Double

    /// The rows since `since` (wall clock), of `client` only when given.
    public static func build(_ state: AppState, since: Double, client: String?) -> RequestReport {
        var rows = Selectors.requestRows(state).filter { $0.record.time >= since }
        if let client { rows = rows.filter { $0.record.client == client } }
        let unread = state.fleet.nodes.compactMap { node -> (String, String)? in
            if let failure = node.incompatible { return (node.name, "its answer does not decode at \(failure.field): \(failure.reason)") }
            return node.snapshot == nil ? (node.name, node.error ?? "no answer") : nil
        }
        return RequestReport(rows: rows, unread: unread, since: since)
    }

    public var text: String {
        var lines = ["TIME      NODE        CLIENT        ROUTE       STATUS  SERVED      LATENCY   COST      REQUEST ID / TRACE ID / ATTEMPTS"]
        for row in rows {
            let r = row.record
            func pad(_ s: String, _ n: Int) -> String { Format.pad(s, n) }
            lines.append([pad(View.clock(r.time), 9), pad(row.node, 11), pad(r.client ?? "-", 13), pad(r.route, 11), pad(String(r.status), 7),
                          pad(r.served ?? "-", 11), pad(Format.seconds(r.latencySeconds), 9), pad(Format.dollars(r.costDollars), 9),
                          "\(r.requestID) \(r.traceID)"].joined(separator: ""))
            for (i, a) in r.attempts.enumerated() {
                lines.append("    attempt \(i + 1): \(a.provider) \(a.model) status \(a.status.map(String.init) ?? "-") \(a.outcome) in \(Format.seconds(a.seconds))\(a.decision.map { " (\($0))" } ?? "")")
            }
        }
        if rows.isEmpty { lines.append("(no requests in this period)") }
        for (node, error) in unread { lines.append("NOT READ: \(node): \(error)") }
        return lines.joined(separator: "\n") + "\n"
    }

    public var json: JSONValue {
        let requests: [JSONValue] = rows.map { row in
            var value = (try? JSONValue.parse(bytes: Array(AdminAPI.encode(row.record)))) ?? .null
            if case .object(var fields) = value {
                fields["node"] = .string(row.node)
                value = .object(fields)
            }
            return value
        }
        return ["schema": "clawtop.requests.v1", "since": JSONValue(since), "requests": .array(requests),
                "unread": .array(unread.map { ["node": .string($0.node), "error": .string($0.error)] })]
    }
}
