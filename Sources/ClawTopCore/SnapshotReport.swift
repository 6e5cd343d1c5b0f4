import ClawAdminAPI
import ClawShared
import Foundation

/// `clawtop --once`: the fleet as a text table or as JSON (schema `clawtop.snapshot.v2`).
public enum SnapshotReport {
    public static let schema = "clawtop.snapshot.v2"

    public static func json(_ fleet: Fleet, now: Double) -> JSONValue {
        let s = fleet.summary(now: now)
        let status = fleet.status(now: now)
        func number(_ d: Double?) -> JSONValue { d.map { .number($0) } ?? .null }
        let providers: [JSONValue] = fleet.providerRows(now: now).map { p in
            [
                "id": .string(p.id), "kind": p.kind.map { .string($0) } ?? .null, "state": .string(p.state.rawValue), "circuit": .string(p.circuit.rawValue), "weight": JSONValue(p.weight),
                "requests_per_second": .number(p.rps), "error_ratio": .number(p.errorRatio), "latency_p50_seconds": number(p.p50),
                "latency_p95_seconds": number(p.p95), "latency_p99_seconds": number(p.p99), "ttft_p50_seconds": number(p.ttft),
                "cost_per_hour_dollars": .number(p.costPerHour), "cost_today_dollars": .number(p.costToday),
                "in_flight": JSONValue(p.inFlight), "max_in_flight": JSONValue(p.maxInFlight),
                "client_errors_1m": JSONValue(p.clientErrors), "nodes": JSONValue(p.nodes),
                "state_nodes": .object(Dictionary(uniqueKeysWithValues: p.stateNodes.map { ($0.key.rawValue, JSONValue($0.value)) })),
                "circuit_nodes": .object(Dictionary(uniqueKeysWithValues: p.circuitNodes.map { ($0.key.rawValue, JSONValue($0.value)) })),
                // A drill's fault in force (the admin API's own encoding, with on how many nodes), or null.
                "fault": p.fault.map { fault -> JSONValue in
                    guard case .object(var o) = (try? JSONValue.parse(bytes: AdminAPI.encode(fault))) ?? .null else { return .null }
                    o["nodes"] = JSONValue(p.faultNodes)
                    o["seconds_left"] = .number(max(0, fault.until - now))
                    return .object(o)
                } ?? .null,
            ]
        }
        let nodes: [JSONValue] = fleet.nodes.map { node in
            [
                "url": .string(node.url), "state": .string(node.health(now: now, staleAfter: fleet.staleAfter)),
                "data_age_seconds": number(node.age(now: now)), "error": node.error.map { .string($0) } ?? .null,
                "snapshot": node.raw ?? .null,
                "incompatible": node.incompatible.map { ["field": .string($0.field), "reason": .string($0.reason)] } ?? .null,
                // The admin API's own encoding of events, as the node sent them.
                "events": .array(node.events.map { (try? JSONValue.parse(bytes: AdminAPI.encode($0))) ?? .null }),
            ]
        }
        var report: [String: JSONValue] = [
            "schema": .string(schema), "generated_at": .number(now), "status": .string(status.word),
            "exit_code": JSONValue(Int(status.code)), "reasons": .array(status.reasons.map { .string($0) }),
            "operator_changes": .array(status.changes.map { $0.json(now: now) }),
            "fleet": [
                "nodes_serving": JSONValue(s.nodesServing), "nodes_total": JSONValue(s.nodesTotal),
                "providers_healthy": JSONValue(s.providersHealthy), "providers_total": JSONValue(s.providersTotal),
                "requests_per_second": .number(s.rps), "error_ratio": .number(s.errorRatio), "latency_p99_seconds": number(s.p99),
                "cost_per_hour_dollars": .number(s.costPerHour), "data_age_seconds": number(s.dataAge),
                "revision_drift": .bool(s.revisionDrift),
                "store_reachable": s.storeReachable.map { .bool($0) } ?? .null,
            ],
            "providers": .array(providers),
            "routes": .array(Self.routeAliases(fleet).map { alias in
                let counts = fleet.requestsByEndpoint()[alias] ?? [:]
                let budget = fleet.budgets().first { $0.route == alias }
                return ["alias": .string(alias), "requests_by_endpoint_1m": .object(counts.mapValues { JSONValue($0) }),
                        "budget": budget.map { b -> JSONValue in
                            ["per_hour": .number(b.perHour), "action": .string(b.action.rawValue), "cost_per_hour": .number(b.costPerHour),
                             "source": .string(b.source), "guard_nodes": JSONValue(b.guardNodes), "nodes": JSONValue(b.nodes),
                             "guard": b.guardInForce.flatMap { try? JSONValue.parse(bytes: AdminAPI.encode($0)) } ?? .null]
                        } ?? .null]
            }),
            "nodes": .array(nodes),
            "figures_source": .string(fleet.monitor.usingPrometheus ? "prometheus" : "nodes"),
        ]
        let monitor = fleet.monitor
        if let url = monitor.prometheusURL {
            var section: [String: JSONValue] = ["url": .string(url), "ok": .bool(monitor.figures != nil), "window": .string(PromQL.window),
                                      "error": monitor.prometheusError.map { .string($0) } ?? .null]
            if let f = monitor.figures {
                section["fleet"] = ["requests_per_second": number(f.rps), "error_ratio": number(f.errorRatio),
                                    "latency_p99_seconds": number(f.p99), "cost_per_hour_dollars": .number(f.costPerHour)]
                section["providers"] = .object(f.providers.mapValues { p in
                    ["requests_per_second": number(p.rps), "error_ratio": number(p.errorRatio), "latency_p50_seconds": number(p.p50),
                     "latency_p95_seconds": number(p.p95), "latency_p99_seconds": number(p.p99), "cost_per_hour_dollars": number(p.costPerHour)]
                })
            }
            report["prometheus"] = .object(section)
        }
        if let url = monitor.alertmanagerURL {
            report["alertmanager"] = [
                "url": .string(url), "ok": .bool(monitor.alertmanagerError == nil), "error": monitor.alertmanagerError.map { .string($0) } ?? .null,
                "firing": JSONValue(monitor.firing.count),
                "alerts": .array(monitor.alerts.map { a in
                    ["name": .string(a.name), "severity": .string(a.severity), "summary": .string(a.summary),
                     "since": a.since > 0 ? .string(Format.iso8601(a.since)) : .null, "state": .string(a.silenced ? "silenced" : "firing"),
                     "labels": .object(a.labels.mapValues { .string($0) }), "fingerprint": .string(a.fingerprint)]
                }),
            ]
        }
        return .object(report)
    }

    /// The routes `--once` lists: those with requests by endpoint, and those with a budget.
    static func routeAliases(_ fleet: Fleet) -> [String] {
        Set(fleet.requestsByEndpoint().keys).union(fleet.budgets().map(\.route)).sorted()
    }

    public static func text(_ fleet: Fleet, now: Double) -> String {
        let s = fleet.summary(now: now)
        let status = fleet.status(now: now)
        var out = "status \(status.word.uppercased()): nodes \(s.nodesServing)/\(s.nodesTotal) serving, providers \(s.providersHealthy)/\(s.providersTotal) healthy, "
        out += "\(Format.rate(s.rps)) req/s, err \(Format.percent(s.errorRatio)), p99 \(Format.seconds(s.p99)), \(Format.dollars(s.costPerHour))/h\n"
        // Names, reasons and errors come from the network: each on its one line, nothing a terminal obeys.
        let safe = TerminalText.safe
        for reason in status.reasons { out += "  - \(safe(reason))\n" }
        let monitor = fleet.monitor
        for b in fleet.budgets() {
            out += "budget route \(safe(b.route)): \(Format.dollars(b.costPerHour))/h of \(Format.dollars(b.perHour))/h (\(b.action.rawValue), \(b.source))"
            if let guarded = b.guardInForce { out += " OVER since \(Format.iso8601(guarded.since)) on \(b.guardNodes)/\(b.nodes) nodes" }
            out += "\n"
        }
        // A drill in force: said on its own lines, whatever the status (it changes no exit code).
        for p in fleet.providerRows(now: now).sorted(by: { $0.id < $1.id }) {
            guard let fault = p.fault else { continue }
            out += "DRILL provider \(safe(p.id)): \(fault.summary) until \(Format.iso8601(fault.until)) (\(Format.duration(max(0, fault.until - now))) left) "
            out += "on \(p.faultNodes)/\(p.nodes) nodes" + (fault.actor.map { ", set by \(safe($0))" } ?? "") + (fault.reason.map { ": \(safe($0))" } ?? "") + "\n"
        }
        if let url = monitor.prometheusURL {
            out += monitor.figures != nil ? "figures: PromQL from \(url) over the last \(PromQL.window)\n"
                : "figures: the nodes' own stats (prometheus \(url): \(safe(monitor.prometheusError ?? "no answer")))\n"
        }
        out += "\n" + Format.pad("NODE", 28) + " " + Format.pad("STATE", 11) + " " + Format.pad("REV", 5, right: true) + " " + Format.pad("AGE", 6, right: true) + "  ERROR\n"
        for node in fleet.nodes {
            out += Format.pad(node.name, 28, ascii: true) + " " + Format.pad(node.health(now: now, staleAfter: fleet.staleAfter), 11) + " "
            out += Format.pad(node.snapshot.map { String($0.node.revision) } ?? "-", 5, right: true) + " "
            out += Format.pad(node.age(now: now).map { Format.duration($0) } ?? "-", 6, right: true) + "  " + safe(node.error ?? "") + "\n"
        }
        let widths = [16, 15, 10, 6, 7, 6, 7, 7, 8]
        out += "\n" + ["PROVIDER", "STATE", "CIRCUIT", "WEIGHT", "RPS", "ERR%", "P50", "P99", "$/H"].enumerated().map { i, t in
            Format.pad(t, widths[i], right: i >= 3)
        }.joined(separator: " ") + "\n"
        for p in fleet.providerRows(now: now).sorted(by: { $0.id < $1.id }) {
            let cells = [p.fault != nil ? p.id + " DRILL" : p.id, p.stateText, p.circuitText, String(p.weight), Format.rate(p.rps), Format.percent(p.errorRatio),
                         Format.seconds(p.p50), Format.seconds(p.p99), Format.dollars(p.costPerHour)]
            out += cells.enumerated().map { i, t in Format.pad(t, widths[i], right: i >= 3, ascii: true) }
                .joined(separator: " ") + "\n"
        }
        if let url = monitor.alertmanagerURL {
            out += "\nALERTS from \(url): "
            out += monitor.alertmanagerError.map { "unknown (\(safe($0)))\n" } ?? "\(monitor.firing.count) firing\n"
            for a in monitor.alerts {
                out += Format.pad(a.severity, 9) + " " + Format.pad(fleet.naming(a.selector), 48, ascii: true) + " " + Format.pad(a.silenced ? "silenced" : "firing", 8)
                out += " " + Format.pad(a.since > 0 ? Format.duration(max(0, now - a.since)) : "-", 7, right: true) + "  " + safe(fleet.naming(a.summary)) + "\n"
            }
        }
        return out
    }
}
