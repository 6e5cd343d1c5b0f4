import ClawAdminAPI
import Foundation

/// Pane 0: the whole fleet at a glance, laid out for the size of the terminal every frame.
extension View {
    /// A rectangle of the screen.
    struct Rect {
        var x: Int
        var y: Int
        var width: Int
        var height: Int
        var bottom: Int { y + height }
    }

    /// The overview's parts in order of importance: the status line, graphs, providers, then (beside
    /// them where the screen is wide, below where it is tall) nodes, firing alerts and events.
    static func overview(_ state: AppState, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int)) {
        let rows = area.bottom - area.top
        var y = area.top
        // The status and every operator change in force, one per row, as the height allows.
        y += statusLine(state, &b, y: y, rows: rows >= 36 ? 5 : rows >= 24 ? 3 : rows >= 14 ? 2 : 1)
        // Each route's budget as a bar of its cost against it, on one line, when any has one.
        if rows >= 14, !state.fleet.budgets().isEmpty { y += budgetLine(state, &b, y: y) }
        // Graphs: one at 80 columns, up to four side by side; taller on taller screens.
        if rows >= 14 {
            let count = min(4, max(1, b.width / 45))
            let least = rows >= 70 ? 12 : rows >= 50 ? 9 : rows >= 30 ? 7 : 5
            // The screen is a budget of rows: what the tables and lists below need first, the rest
            // to the graphs (at least `least`; below 36 rows the graphs keep that height).
            let height = rows >= 36 ? max(least, area.bottom - y - 1 - belowNeeds(state, width: b.width)) : least
            graphs(state, &b, Rect(x: 0, y: y, width: b.width, height: height), count: count)
            y += height + 1
        }
        let rest = Rect(x: 0, y: y, width: b.width, height: area.bottom - y)
        guard rest.height > 1 else { return }
        if b.width >= 120 {
            // Two columns: providers on the left, the fleet's nodes, alerts and events on the right.
            let leftWidth = b.width * 11 / 20
            providersCompact(state, &b, Rect(x: 0, y: rest.y, width: leftWidth - 1, height: rest.height))
            sidePanels(state, &b, Rect(x: leftWidth + 1, y: rest.y, width: b.width - leftWidth - 1, height: rest.height))
        } else {
            let providerRows = min(rest.height, Selectors.sortedProviders(state).count + 1)
            providersCompact(state, &b, Rect(x: 0, y: rest.y, width: rest.width, height: max(2, providerRows)))
            let below = Rect(x: 0, y: rest.y + providerRows + 1, width: rest.width, height: rest.bottom - rest.y - providerRows - 1)
            if below.height >= 3 { sidePanels(state, &b, below) }
        }
    }

    /// `budgets $/h: chat ███░░ $12.0/$20.0  batch ...`: one line.
    @discardableResult
    static func budgetLine(_ state: AppState, _ b: inout ScreenBuffer, y: Int) -> Int {
        var x = b.put("budgets $/h:", x: 0, y: y, role: .dim)
        for budget in state.fleet.budgets() {
            let (text, role) = budgetCell(budget, width: 8, ascii: state.ascii)
            let item = "  \(budget.route) "
            guard x + item.count + text.count <= b.width else {
                b.put(String(b.cutMark), x: b.width - 1, y: y, role: .dim)
                break
            }
            x = b.put(item, x: x, y: y, role: .normal)
            x = b.put(text, x: x, y: y, role: role)
        }
        return 1
    }

    /// The rows the providers, nodes, alerts and events want under the graphs: beside each other
    /// from 120 columns, one under the other below that; events up to 10.
    static func belowNeeds(_ state: AppState, width: Int) -> Int {
        let providers = Selectors.sortedProviders(state).count + 1
        let firing = state.fleet.monitor.firing.count
        let events = min(10, max(1, Selectors.allEvents(state).count))
        let side = state.fleet.nodes.count + 1 + (firing > 0 ? 2 + firing : 0) + 2 + events
        return width >= 120 ? max(providers, side) : providers + 1 + side
    }

    /// The fleet's word, with a glyph so that it reads without colour, and why.
    static func statusWord(_ word: String, ascii: Bool) -> (String, Role) {
        switch word {
        case "ok": (ascii ? "[OK]" : "✔ OK", .ok)
        case "degraded": (ascii ? "[!] DEGRADED" : "▲ DEGRADED", .warn)
        case "critical": (ascii ? "[X] CRITICAL" : "✖ CRITICAL", .crit)
        case "stale": (ascii ? "[?] STALE" : "◌ STALE", .crit)
        default: (ascii ? "[?] UNKNOWN" : "? UNKNOWN", .crit)
        }
    }

    /// The status word and the problems on the first row, then the operator changes in force one
    /// per row (up to `rows` in all); the rows used.
    @discardableResult
    static func statusLine(_ state: AppState, _ b: inout ScreenBuffer, y: Int, rows: Int = 1) -> Int {
        let status = state.fleet.status(now: state.now)
        let (text, role) = statusWord(status.word, ascii: state.ascii)
        let x = b.put(text, x: 0, y: y, role: role)
        let problems = Array(status.reasons.dropLast(status.changes.count))
        let notes = status.changes.map { $0.text(now: state.now) }
        let count = notes.count == 1 ? "1 operator change in force" : "\(notes.count) operator changes in force"
        var summary: String
        if problems.isEmpty, notes.isEmpty {
            summary = "every node serving, every provider healthy"
        } else if problems.isEmpty {
            summary = rows > 1 ? count + ":" : "in force: " + notes.joined(separator: "; ")
        } else {
            summary = problems.joined(separator: "; ") + (notes.isEmpty ? "" : "; \(count)")
        }
        b.put("  " + summary, x: x, y: y, role: status.code == 0 ? (notes.isEmpty ? .dim : .warn) : role, maxWidth: b.width - x)
        guard rows > 1, !notes.isEmpty else { return 1 }
        // When they do not all fit, the last row says how many more; `--once` lists them all.
        let room = rows - 1
        let shown = notes.count > room ? room - 1 : notes.count
        var line = y + 1
        for note in notes.prefix(shown) {
            b.put("  \(state.ascii ? "*" : "⚑") " + note, x: 0, y: line, role: .warn, maxWidth: b.width)
            line += 1
        }
        if shown < notes.count {
            b.put("  ... and \(notes.count - shown) more (clawtop --once lists them all)", x: 0, y: line, role: .warn, maxWidth: b.width)
            line += 1
        }
        return line - y
    }

    // MARK: Graphs

    static func graphs(_ state: AppState, _ b: inout ScreenBuffer, _ rect: Rect, count: Int) {
        let h = state.fleetHistory
        let all: [(String, [Double], (Double) -> String)] = [
            ("requests/s", h.rps, { Format.rate($0) }),
            ("errors", h.errorRatio, { Format.percent($0) }),
            ("p99", h.p99, { Format.seconds($0) }),
            ("spend/h", h.costPerHour, { Format.dollars($0) }),
        ]
        let width = (rect.width - (count - 1)) / count
        for (i, graph) in all.prefix(count).enumerated() {
            chart(&b, Rect(x: rect.x + i * (width + 1), y: rect.y, width: width, height: rect.height), title: graph.0, values: graph.1,
                  format: graph.2, ascii: state.ascii)
        }
    }

    /// A column chart of the last `width` values in block cells (eighths), scaled from its lowest to
    /// its highest value (from zero when those are close), with the scale in the title.
    static func chart(_ b: inout ScreenBuffer, _ rect: Rect, title: String, values: [Double], format: (Double) -> String, ascii: Bool) {
        guard rect.width >= 10, rect.height >= 2 else { return }
        let shown = Array(values.suffix(rect.width))
        let top = max(shown.max() ?? 0, 0)
        var bottom = max(shown.min() ?? 0, 0)
        // A nearly flat series starts at zero, so that it reads as steady, not as noise.
        if top - bottom < top * 0.1 { bottom = 0 }
        let now = shown.last.map(format) ?? "-"
        b.put("\(title) \(now)", x: rect.x, y: rect.y, role: .title, maxWidth: rect.width)
        let scale = top > 0 ? "\(format(bottom))..\(format(top))" : ""
        if title.count + now.count + scale.count + 3 <= rect.width {
            b.put(scale, x: rect.x + rect.width - scale.count, y: rect.y, role: .dim)
        }
        let plotRows = rect.height - 1
        let partial: [Character] = ascii ? [".", ".", ".", ":", ":", ":", ":"] : ["▁", "▂", "▃", "▄", "▅", "▆", "▇"]
        let full: Character = ascii ? "#" : "█"
        // Right-aligned: the newest value at the right edge.
        let offset = rect.width - shown.count
        for (i, value) in shown.enumerated() {
            let span = top - bottom
            // At least one eighth for any value above the bottom, so a small one still shows.
            var eighths = span > 0 ? Int(((value - bottom) / span * Double(plotRows * 8)).rounded()) : 0
            if value > bottom, eighths == 0 { eighths = 1 }
            for row in 0..<plotRows {
                let y = rect.bottom - 1 - row
                let level = eighths - row * 8
                let character: Character = level >= 8 ? full : level > 0 ? partial[level - 1] : (row == 0 ? (ascii ? "_" : "▁") : " ")
                guard character != " " else { continue }
                b.put(String(character), x: rect.x + offset + i, y: y, role: row == 0 && level <= 0 ? .dim : .bar)
            }
        }
        if shown.isEmpty { b.put("(no polls yet)", x: rect.x, y: rect.y + 1, role: .dim) }
    }

    // MARK: Providers, nodes, alerts, events

    static func stateGlyph(_ word: String, ascii: Bool) -> String {
        switch word {
        case "healthy", "serving": ascii ? "+" : "●"
        case "degraded", "draining", "probing": ascii ? "!" : "▲"
        case "drained", "failed-over": ascii ? "-" : "○"
        default: ascii ? "x" : "✖"
        }
    }

    static func providersCompact(_ state: AppState, _ b: inout ScreenBuffer, _ rect: Rect) {
        let rows = Selectors.sortedProviders(state)
        let rpsWidth = figureWidth(6, rows.map(rpsText))
        // The spend column stays narrow: the current figure ($0.00 for a provider no node sends
        // traffic to); the RPS column carries the last minute's rate as history.
        let costWidth = 7
        let names = rows.map { providerName($0, state) }
        let nameWidth = figureWidth(14, names)
        let trend = max(8, min(30, rect.width - 72 - (rpsWidth - 6) - (costWidth - 7) - (nameWidth - 14)))
        let columns = [
            Column(title: "PROVIDER", width: nameWidth, right: false, priority: 0),
            Column(title: "STATE", width: 13, right: false, priority: 0),
            Column(title: "RPS", width: rpsWidth, right: true, priority: 1),
            Column(title: "ERR", width: 6, right: true, priority: 1),
            Column(title: "P99", width: 7, right: true, priority: 2),
            Column(title: "$/H", width: costWidth, right: true, priority: 3),
            Column(title: "LATENCY", width: trend, right: false, priority: 4),
            Column(title: "NODES", width: 5, right: true, priority: 5),
        ]
        let table: [[(String, Role)]] = zip(rows, names).map { row, name in
            [
                (name, row.fault != nil ? .warn : .normal),
                ("\(stateGlyph(row.state, ascii: state.ascii)) \(row.stateText)", stateRole(row.state)),
                (rpsText(row), row.servingNodes == 0 ? .dim : .normal),
                (Format.percent(row.errorRatio), row.errorRatio > 0.05 ? .crit : row.errorRatio > 0.01 ? .warn : .normal),
                (Format.seconds(row.p99), .normal),
                (Format.dollars(row.costPerHour), row.servingNodes == 0 ? .dim : .normal),
                (sparkline(state.latencyHistory[row.id] ?? [], width: trend, ascii: state.ascii), .bar),
                (String(row.nodes), .dim),
            ]
        }
        self.table(&b, (rect.y, rect.bottom), columns: markSort(columns, state), rows: table, selected: state.selected(.overview), ascii: state.ascii,
                   left: rect.x, width: rect.width)
    }

    /// Nodes, then firing alerts, then the latest events, each as room allows.
    static func sidePanels(_ state: AppState, _ b: inout ScreenBuffer, _ rect: Rect) {
        var y = rect.y
        let nodes = state.fleet.nodes
        // On a tall screen the nodes' lines first (the events' heading and one event kept), chips
        // when they do not fit; below 36 rows half the room, as it always was.
        let nodeRoom = max(2, min(nodes.count + 1, b.height >= 36 ? max(rect.height / 2, rect.height - 3) : rect.height / 2))
        y = nodeLines(state, &b, Rect(x: rect.x, y: y, width: rect.width, height: nodeRoom))
        let firing = state.fleet.monitor.firing
        if !firing.isEmpty, rect.bottom - y >= 3 {
            y += 1
            b.put("ALERTS FIRING (\(firing.count))", x: rect.x, y: y, role: .title)
            y += 1
            for alert in firing.prefix(max(1, (rect.bottom - y) / 2)) where y < rect.bottom {
                let role: Role = alert.severity == "critical" ? .crit : .warn
                b.put("\(state.ascii ? "!" : "▲") \(state.fleet.naming(alert.selector)) (\(alert.severity)) \(state.fleet.naming(alert.summary))", x: rect.x, y: y, role: role, maxWidth: rect.width)
                y += 1
            }
        }
        guard rect.bottom - y >= 3 else { return }
        y += 1
        b.put("EVENTS", x: rect.x, y: y, role: .title)
        y += 1
        let events = Selectors.allEvents(state)
        if events.isEmpty { b.put("(none yet)", x: rect.x, y: y, role: .dim) }
        for event in events.prefix(rect.bottom - y) {
            let role: Role = [.circuitOpened, .healthFailed, .panicStarted].contains(event.kind) ? .crit
                : [.circuitProbing, .nodeDraining, .failoverStarted].contains(event.kind) ? .warn : .normal
            b.put("\(clock(event.time)) \(event.node) \(event.kind.rawValue) \(event.subject) \(event.detail)", x: rect.x, y: y, role: role, maxWidth: rect.width)
            y += 1
        }
    }

    /// One line per node, or compact chips when they do not fit; the row after the last one drawn.
    static func nodeLines(_ state: AppState, _ b: inout ScreenBuffer, _ rect: Rect) -> Int {
        let nodes = state.fleet.nodes
        let titleEnd = b.put("NODES (\(nodes.filter { $0.health(now: state.now, staleAfter: state.fleet.staleAfter) == "serving" }.count)/\(nodes.count) serving)",
                             x: rect.x, y: rect.y, role: .title)
        // The fleet's requests by the API called, when any came.
        var totals: [String: Int] = [:]
        for counts in state.fleet.requestsByEndpoint().values { for (e, n) in counts { totals[e, default: 0] += n } }
        if totals.values.contains(where: { $0 > 0 }), titleEnd + 4 < rect.x + rect.width {
            b.put("  by API 1m: " + Fleet.endpointText(totals), x: titleEnd, y: rect.y, role: .dim, maxWidth: rect.x + rect.width - titleEnd)
        }
        var y = rect.y + 1
        if nodes.count <= rect.height - 1 {
            for node in nodes {
                let health = node.health(now: state.now, staleAfter: state.fleet.staleAfter)
                let s = node.snapshot
                var line = "\(stateGlyph(health, ascii: state.ascii)) \(Format.pad(node.name, 16)) \(Format.pad(health, 11))"
                // The same source as the header's rps: Prometheus's figure for this node when the
                // header's come from Prometheus, else the node's own (labelled when they differ).
                if let s, let (rps, fromNode) = state.fleet.nodeRPS(node) {
                    line += " \(Format.rate(rps)) rps" + (fromNode && state.fleet.monitor.usingPrometheus ? " (node 1m)" : "") + "  rev \(s.node.revision)"
                }
                if let age = node.age(now: state.now) { line += "  age \(Format.duration(age))" }
                b.put(line, x: rect.x, y: y, role: stateRole(health), maxWidth: rect.width)
                y += 1
            }
            return y
        }
        // Many nodes: chips, glyph and name, as many lines as the room allows.
        var x = rect.x
        for node in nodes {
            let health = node.health(now: state.now, staleAfter: state.fleet.staleAfter)
            let chip = "\(stateGlyph(health, ascii: state.ascii)) \(node.name) "
            if x + chip.count > rect.x + rect.width {
                y += 1
                x = rect.x
                if y >= rect.bottom { break }
            }
            x = b.put(chip, x: x, y: y, role: stateRole(health), maxWidth: rect.x + rect.width - x)
        }
        return min(y + 1, rect.bottom)
    }
}
