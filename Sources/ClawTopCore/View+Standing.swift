import ClawAdminAPI

/// What a provider, node or route that an event or an alert names is doing now, node by node:
/// what the Events and Alerts panes show in the rows their tables leave free.
extension View {
    /// `provider:cheap`, `route:batch`, `node:demo-1` or a bare name -> the bare name.
    static func bareName(_ subject: String) -> String {
        guard let colon = subject.firstIndex(of: ":") else { return subject }
        return String(subject[subject.index(after: colon)...])
    }

    /// One line per node that reports it: a provider's state, circuit and rate there (and why its
    /// circuit opened), a route's weights by tier there; for a node, its health. Empty when no
    /// node knows the name (the fleet itself, a client).
    static func standing(_ state: AppState, _ subject: String) -> [(String, Role)] {
        let name = bareName(subject)
        if !subject.hasPrefix("route:"), !subject.hasPrefix("provider:"), let node = state.fleet.nodes.first(where: { $0.name == name }) {
            let health = node.health(now: state.now, staleAfter: state.fleet.staleAfter)
            var text = Format.pad(node.name, 12, ascii: state.ascii) + " " + health
            if let s = node.snapshot { text += ", revision \(s.node.revision), \(s.node.inFlight) in flight" }
            if let age = node.age(now: state.now), health != "serving" { text += ", data \(Format.duration(age)) old" }
            if let error = node.error { text += ": " + state.fleet.naming(error) }
            return [(text, stateRole(health))]
        }
        var out: [(String, Role)] = []
        for node in state.fleet.nodes {
            guard let s = node.snapshot else { continue }
            let label = Format.pad(node.name, 12, ascii: state.ascii) + " "
            if subject.hasPrefix("client:") {
                if let c = s.clients?.first(where: { $0.name == name }) {
                    out.append((label + (c.blocked ? "BLOCKED" : "active ") + "  \(c.requests1m) req/min  \(Format.dollars(c.spendPerHourDollars))/h  in flight \(c.inFlight)  refused \(c.refused)",
                                c.blocked ? .crit : .normal))
                }
                continue
            }
            if !subject.hasPrefix("route:"), let p = s.providers.first(where: { $0.id == name }) {
                var text = label + Format.pad(p.state.rawValue, 11) + " circuit " + Format.pad(p.circuit.state.rawValue, 8) + " "
                    + "\(Format.rate(p.stats.oneMinute.requestsPerSecond)) req/s  err \(Format.percent(p.stats.oneMinute.errorRatio))"
                if let reason = p.circuit.reason, p.circuit.state != .closed { text += "  " + reason }
                out.append((text, stateRole(p.state)))
            } else if !subject.hasPrefix("provider:"), let route = s.routes.first(where: { $0.alias == name }) {
                let tiers = route.tiers.enumerated().map { tier, targets in
                    (tier > 0 ? "tier \(tier): " : "") + targets.map { "\($0.provider) \($0.effectiveWeight)" }.joined(separator: " ")
                }
                out.append((label + "route \(route.alias): " + tiers.joined(separator: " | ") + (route.panic ? " (panic: no provider available)" : ""),
                            route.panic ? .crit : .normal))
            }
        }
        return out
    }

    /// `standing` under its title, from `y` while there are rows left above `bottom`; the row after the last.
    @discardableResult
    static func standingBlock(_ state: AppState, _ subject: String, _ b: inout ScreenBuffer, y start: Int, bottom: Int) -> Int {
        let lines = standing(state, subject)
        guard !lines.isEmpty, start + 1 < bottom else { return start }
        var y = start
        b.put("\(bareName(subject)) NOW, on every node that reports it", x: 0, y: y, role: .title, maxWidth: b.width)
        y += 1
        for (text, role) in lines where y < bottom {
            b.put(text, x: 0, y: y, role: role, maxWidth: b.width)
            y += 1
        }
        return y
    }

    /// What an event's subject or an alert's label names, in the rows under the selected row's
    /// text: a provider's whole detail (figures, graphs, its breaker on every node, its events);
    /// for a route, node or client, what each node says of it now, its requests/s graph and its
    /// events (but `except`, the event already shown above).
    static func subjectDetail(_ state: AppState, _ subject: String, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int), except key: String? = nil) {
        guard area.bottom - area.top >= 2 else { return }
        let name = bareName(subject)
        let typed = ["route:", "node:", "client:"].contains { subject.hasPrefix($0) }
        if !typed, state.fleet.rows.contains(where: { $0.id == name }) {
            providerDetail(state, name, &b, area, title: "provider \(name) now")
            return
        }
        var y = standingBlock(state, subject, &b, y: area.top, bottom: area.bottom)
        let about = { (line: Selectors.EventLine) in line.key != key && Self.concerns(line, name) }
        let events = min(10, max(1, Selectors.eventLines(state).filter(about).count)) + 2
        let trend = subject.hasPrefix("route:") || subject.hasPrefix("client:") ? subject
            : state.fleet.nodes.contains(where: { $0.name == name }) ? "node:" + name : nil
        if let trend, y + 1 < area.bottom {
            y += trendChart(state, &b, Rect(x: 0, y: y + 1, width: b.width, height: area.bottom - y - 1), key: trend, title: "\(name) requests/s", needs: events)
        }
        eventList(state, &b, Rect(x: 0, y: y + 1, width: b.width, height: area.bottom - y - 1), title: "EVENTS about \(name)", others: false, about: about)
    }
}
