import ClawAdminAPI
import Foundation

/// The frame around every pane: header, tabs, footer.
extension View {
    // MARK: Header, tabs, footer

    /// `reserve`: columns kept free at the right edge (the wall's clock).
    static func header(_ state: AppState, _ b: inout ScreenBuffer, reserve: Int = 0) {
        let s = state.fleet.summary(now: state.now)
        b.fill(row: 0, role: .header)
        let monitor = state.fleet.monitor
        var flags: [(String, Role)] = []
        // Prometheus given but not answering: the figures are the nodes' own, and the header says so.
        if monitor.prometheusURL != nil, monitor.figures == nil, monitor.prometheusError != nil { flags.append(("prom down: node stats", .warn)) }
        if state.paused { flags.append(("PAUSED", .lock)) }
        // A drill in force is never out of sight: on every pane, the wall included.
        let drilled = state.fleet.rows.filter { $0.fault != nil }.map(\.id)
        if !drilled.isEmpty { flags.insert((drilled.count == 1 ? "DRILL \(drilled[0])" : "DRILL \(drilled.count)", .warn), at: 0) }
        // One cell per character: a double-width emoji would push the rest of the row off by one.
        if state.readOnly { flags.append(("[RO]", .lock)) }
        let flagWidth = flags.reduce(0) { $0 + $1.0.count + 1 } + (flags.isEmpty ? 0 : 1)
        // The flags always show; the figures take the room that is left, in order of importance.
        let room = b.width - flagWidth - reserve
        var x = b.put(" clawtop", x: 0, y: 0, role: .title, maxWidth: room)
        var items: [(String, String, Role)] = [
            ("nodes", "\(s.nodesServing)/\(s.nodesTotal)", s.nodesServing == s.nodesTotal ? .headerValue : .crit),
        ]
        if monitor.alertmanagerURL != nil {
            let firing = monitor.firing
            let role: Role = monitor.alertmanagerError != nil ? .warn
                : firing.contains { $0.severity == "critical" } ? .crit : firing.isEmpty ? .headerValue : .warn
            items.append(("alerts", monitor.alertmanagerError != nil && monitor.alertsAt == nil ? "?" : String(firing.count), role))
        }
        // Operator changes in force (drains, failovers, overrides, blocks) are never out of sight.
        let changes = OperatorChange.inForce(state.fleet, now: state.now).count
        if changes > 0 { items.append(("in force", String(changes), .warn)) }
        items += [
            ("prov", "\(s.providersHealthy)/\(s.providersTotal)", s.providersHealthy == s.providersTotal ? .headerValue : .warn),
            ("rps", Format.rate(s.rps), .headerValue),
            ("err", Format.percent(s.errorRatio), s.errorRatio > 0.05 ? .crit : s.errorRatio > 0.01 ? .warn : .headerValue),
            ("p99", Format.seconds(s.p99), .headerValue),
            ("$/h", Format.dollars(s.costPerHour), .headerValue),
            ("age", s.dataAge.map { Format.duration($0) } ?? "-", (s.dataAge ?? 0) > state.fleet.staleAfter ? .warn : .headerValue),
        ]
        // Every figure on the screen comes from this one source, over the last minute.
        items.insert(("src", sourceName(state), .headerValue), at: items.count - 1)
        // A store that is down is news and goes first; one that works is said last, where room allows.
        if let reachable = s.storeReachable {
            if reachable { items.append(("store", "ok", .headerValue)) } else { items.insert(("store", "down", .crit), at: 1) }
        }
        for (label, value, role) in items {
            guard x + label.count + value.count + 3 <= room else { break }
            x = b.put("  \(label) ", x: x, y: 0, role: .header)
            x = b.put(value, x: x, y: 0, role: role)
        }
        var fx = max(0, b.width - reserve - flagWidth + 1)
        for (text, role) in flags {
            fx = b.put(text, x: fx, y: 0, role: role) + 1
        }
    }

    /// Where the header's, rows' and previews' figures come from: `prom 1m` or `nodes 1m`.
    static func sourceName(_ state: AppState) -> String { (state.fleet.monitor.usingPrometheus ? "prom " : "nodes ") + PromQL.window }

    static func tabs(_ state: AppState, _ b: inout ScreenBuffer) {
        var x = 0
        for pane in Pane.allCases {
            // Narrow screens name only the pane in view; the others keep their digit.
            let text = b.width >= 100 || pane == state.pane ? " \(pane.rawValue) \(pane.title)" : " \(pane.rawValue)"
            x = b.put(text, x: x, y: 1, role: pane == state.pane ? .tabActive : .tab)
        }
        var info = state.pane == .providers || state.pane == .overview ? "sort: \(state.sort.rawValue)\(state.sortReversed ? " (reversed)" : "")" : ""
        // The source is always on screen: in the header where it fits, else here.
        if !b.line(0).contains(" src ") { info = "src \(sourceName(state))" + (info.isEmpty ? "" : "  ") + info }
        if !state.filter.isEmpty { info = "filter: \(state.filter)  " + info }
        if !info.isEmpty { b.put(info, x: max(x + 1, b.width - info.count - 1), y: 1, role: .dim) }
    }

    static func footer(_ state: AppState, _ b: inout ScreenBuffer) {
        let y = b.height - 1
        b.fill(row: y, role: .footer)
        if case .commandLine(let text) = state.mode {
            // The end of a long line stays in sight; the cursor is a bar at the end, else the
            // character under it is shown selected.
            let shown = Array(text)
            let cursor = min(shown.count, state.commandCursor ?? shown.count)
            let skip = max(0, cursor + 3 - b.width)
            let x = b.put(":" + String(shown.dropFirst(skip)), x: 0, y: y, role: .footer)
            if cursor >= shown.count { b.put(state.ascii ? "_" : "▏", x: x, y: y, role: .footer) } else { b.fill(row: y, role: .selected, from: cursor + 1 - skip, to: cursor + 2 - skip) }
            return
        }
        if case .filter(let text) = state.mode {
            let x = b.put("/" + text, x: 0, y: y, role: .footer)
            b.put(state.ascii ? "_" : "▏", x: x, y: y, role: .footer)
            return
        }
        let keys = KeyMap.visible(readOnly: state.readOnly).filter { ["?", "q", "Tab", "j/k", ":", "d", "w", "f", "s"].contains($0.label) }
        // Whole hints only; when some do not fit, the last column says so (`?` lists them all).
        var x = 0
        // While the Routes pane shows a predicted share, the footer says what its mark means first.
        if state.pane == .routes, state.expected.values.contains(where: { state.now < $0.until }) {
            x = b.put(" * predicted share ", x: x, y: y, role: .footer)
        }
        for binding in keys {
            let hint = " \(binding.label) \(binding.help) "
            guard x + hint.count <= b.width - 1 else {
                b.put(String(b.cutMark), x: b.width - 1, y: y, role: .footer)
                return
            }
            x = b.put(hint, x: x, y: y, role: .footer)
        }
    }


    static func marked(_ name: String, _ state: AppState, _ subject: String) -> String {
        state.pending[subject] != nil ? name + (state.ascii ? " ~" : " ⧗") : name
    }
}
