import ClawShared
import Foundation

/// `clawtop --once`: the fleet as a text table or as JSON (schema `clawtop.snapshot.v1`).
public enum SnapshotReport {
    public static let schema = "clawtop.snapshot.v1"

    public static func json(_ fleet: Fleet, now: Double) -> JSONValue {
        let s = fleet.summary(now: now)
        let status = fleet.status(now: now)
        func number(_ d: Double?) -> JSONValue { d.map { .number($0) } ?? .null }
        let providers: [JSONValue] = fleet.providerRows(now: now).map { p in
            [
                "id": .string(p.id), "state": .string(p.state), "circuit": .string(p.circuit), "weight": JSONValue(p.weight),
                "requests_per_second": .number(p.rps), "error_rate": .number(p.errorRate), "latency_p50_seconds": number(p.p50),
                "latency_p95_seconds": number(p.p95), "latency_p99_seconds": number(p.p99), "ttft_p50_seconds": number(p.ttft),
                "cost_per_hour_dollars": .number(p.costPerHour), "cost_today_dollars": .number(p.costToday),
                "in_flight": JSONValue(p.inFlight), "nodes": JSONValue(p.nodes),
            ]
        }
        let nodes: [JSONValue] = fleet.nodes.map { node in
            [
                "url": .string(node.url), "state": .string(node.health(now: now, staleAfter: fleet.staleAfter)),
                "data_age_seconds": number(node.age(now: now)), "error": node.error.map { .string($0) } ?? .null,
                "snapshot": node.raw ?? .null,
                "events": .array(node.events.map { e in
                    ["sequence": JSONValue(e.sequence), "time": .number(e.time), "node": .string(e.node), "kind": .string(e.kind),
                     "subject": .string(e.subject), "detail": .string(e.detail)]
                }),
            ]
        }
        return [
            "schema": .string(schema), "generated_at": .number(now), "status": .string(status.word),
            "exit_code": JSONValue(Int(status.code)), "reasons": .array(status.reasons.map { .string($0) }),
            "fleet": [
                "nodes_serving": JSONValue(s.nodesServing), "nodes_total": JSONValue(s.nodesTotal),
                "providers_healthy": JSONValue(s.providersHealthy), "providers_total": JSONValue(s.providersTotal),
                "requests_per_second": .number(s.rps), "error_rate": .number(s.errorRate), "latency_p99_seconds": number(s.p99),
                "cost_per_hour_dollars": .number(s.costPerHour), "data_age_seconds": number(s.dataAge),
                "revision_drift": .bool(s.revisionDrift),
            ],
            "providers": .array(providers),
            "nodes": .array(nodes),
        ]
    }

    public static func text(_ fleet: Fleet, now: Double) -> String {
        let s = fleet.summary(now: now)
        let status = fleet.status(now: now)
        var out = "status \(status.word.uppercased()): nodes \(s.nodesServing)/\(s.nodesTotal) serving, providers \(s.providersHealthy)/\(s.providersTotal) healthy, "
        out += "\(Format.rate(s.rps)) req/s, err \(Format.percent(s.errorRate)), p99 \(Format.seconds(s.p99)), \(Format.dollars(s.costPerHour))/h\n"
        for reason in status.reasons { out += "  - \(reason)\n" }
        out += "\n" + Format.pad("NODE", 28) + " " + Format.pad("STATE", 11) + " " + Format.pad("REV", 5, right: true) + " " + Format.pad("AGE", 6, right: true) + "  ERROR\n"
        for node in fleet.nodes {
            out += Format.pad(node.name, 28, ascii: true) + " " + Format.pad(node.health(now: now, staleAfter: fleet.staleAfter), 11) + " "
            out += Format.pad(node.snapshot.map { String($0.revision) } ?? "-", 5, right: true) + " "
            out += Format.pad(node.age(now: now).map { Format.duration($0) } ?? "-", 6, right: true) + "  " + (node.error ?? "") + "\n"
        }
        out += "\n" + ["PROVIDER", "STATE", "CIRCUIT", "WEIGHT", "RPS", "ERR%", "P50", "P99", "$/H"].enumerated().map { i, t in
            Format.pad(t, [16, 11, 9, 6, 7, 6, 7, 7, 8][i], right: i >= 3)
        }.joined(separator: " ") + "\n"
        for p in fleet.providerRows(now: now).sorted(by: { $0.id < $1.id }) {
            let cells = [p.id, p.state, p.circuit, String(p.weight), Format.rate(p.rps), Format.percent(p.errorRate),
                         Format.seconds(p.p50), Format.seconds(p.p99), Format.dollars(p.costPerHour)]
            out += cells.enumerated().map { i, t in Format.pad(t, [16, 11, 9, 6, 7, 6, 7, 7, 8][i], right: i >= 3, ascii: true) }
                .joined(separator: " ") + "\n"
        }
        return out
    }
}
