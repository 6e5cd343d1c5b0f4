import ClawAdminAPI
import Foundation

/// Pane 8: every node's recent requests, newest first; Enter shows one request's attempts.
extension View {
    /// A request's attempts in a few words: "bad status_503 > good ok".
    static func attemptTrail(_ r: RequestRecord) -> String {
        r.attempts.map { "\($0.provider) \(Self.outcomeWord($0.outcome))" }.joined(separator: " > ")
    }

    /// An attempt's outcome without the advice in brackets (the detail view gives it whole).
    static func outcomeWord(_ outcome: String) -> String {
        String(outcome.prefix { $0 != " " })
    }

    static func requestRole(_ r: RequestRecord) -> Role {
        if r.status >= 500 || r.fault == "provider" { return .crit }
        if r.status >= 400 || r.attempts.count > 1 { return .warn }
        return .normal
    }

    static func requests(_ state: AppState, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int)) {
        let columns = [
            Column(title: "TIME", width: 8, right: false, priority: 0),
            Column(title: "NODE", width: 10, right: false, priority: 3),
            Column(title: "CLIENT", width: 12, right: false, priority: 2),
            Column(title: "ROUTE", width: 10, right: false, priority: 0),
            Column(title: "STATUS", width: 6, right: true, priority: 0),
            Column(title: "SERVED", width: 10, right: false, priority: 1),
            Column(title: "ATTEMPTS", width: max(16, b.width - 83), right: false, priority: 1),
            Column(title: "LATENCY", width: 8, right: true, priority: 0),
            Column(title: "COST", width: 9, right: true, priority: 2),
        ]
        let rows: [[(String, Role)]] = Selectors.requestRows(state).map { row in
            let r = row.record
            let role = requestRole(r)
            return [
                (clock(r.time), .dim), (row.node, .normal), (r.client ?? "-", .normal), (r.route.isEmpty ? "-" : r.route, r.route.isEmpty ? .dim : .normal),
                (String(r.status), role), (r.served ?? "-", .normal), ("\(r.attempts.count): \(attemptTrail(r))", role),
                (Format.seconds(r.latencySeconds), .normal), (Format.dollars(r.costDollars), .normal),
            ]
        }
        table(&b, area, columns: columns, rows: rows, selected: state.selected(.requests), ascii: state.ascii)
    }

    /// One request: who called what, how it ended, each attempt (provider, status, why, time, how
    /// it was picked) and the trace id to paste into a tracing UI.
    static func requestDetail(_ state: AppState, _ key: RequestKey, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int)) {
        guard let row = Selectors.request(state, key) else {
            b.put("That request is no longer held by this console (Esc back)", x: 0, y: area.top, role: .dim)
            return
        }
        let r = row.record
        var y = area.top
        func line(_ text: String, _ role: Role = .normal) {
            guard y < area.bottom else { return }
            b.put(text, x: 0, y: y, role: role, maxWidth: b.width)
            y += 1
        }
        line("Request \(r.requestID.isEmpty ? "#\(r.sequence)" : r.requestID) on \(row.node) at \(clock(r.time)) UTC  (Esc back)", .title)
        let via = r.stream ? "streamed" : "whole answer"
        line("\(r.endpoint) on \(r.route.isEmpty ? "no route (refused before one was known)" : "route \(r.route)"), \(via); client \(r.client ?? "none (client keys off)")")
        let served = r.served.map { "served by \($0)" } ?? "served by none"
        let ttft = r.ttftSeconds.map { ", first token after \(Format.seconds($0))" } ?? ""
        line("status \(r.status) \(r.outcome) (fault \(r.fault)), \(served) after \(r.attempts.count) attempt(s) in \(Format.seconds(r.latencySeconds))\(ttft)",
             requestRole(r))
        line("tokens \(r.tokensIn) in, \(r.tokensOut) out; cost \(Format.dollars(r.costDollars))")
        line("trace id \(r.traceID.isEmpty ? "-" : r.traceID)  (span \(r.spanID.isEmpty ? "-" : r.spanID)\(r.parentSpanID.map { ", parent \($0)" } ?? ""))", .ok)
        y += 1
        let columns = [
            Column(title: "#", width: 2, right: true, priority: 0),
            Column(title: "PROVIDER", width: 12, right: false, priority: 0),
            Column(title: "MODEL", width: 14, right: false, priority: 3),
            Column(title: "TIER", width: 4, right: true, priority: 3),
            Column(title: "STATUS", width: 6, right: true, priority: 0),
            Column(title: "TIME", width: 8, right: true, priority: 1),
            Column(title: "OUTCOME", width: 32, right: false, priority: 0),
            Column(title: "DECISION", width: max(12, b.width - 90), right: false, priority: 2),
        ]
        let attempts: [[(String, Role)]] = r.attempts.enumerated().map { i, a in
            let role: Role = a.fault == "none" ? .ok : a.fault == "client" ? .warn : .crit
            return [(String(i + 1), .dim), (a.provider, .normal), (a.model, .normal), (String(a.tier), .normal),
                    (a.status.map(String.init) ?? "-", role), (Format.seconds(a.seconds), .normal), (a.outcome, role), (a.decision ?? "-", .dim)]
        }
        guard y < area.bottom else { return }
        table(&b, (top: y, bottom: area.bottom), columns: columns, rows: attempts, selected: -1, ascii: state.ascii)
    }
}
