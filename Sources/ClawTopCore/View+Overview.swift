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
        // Graphs: one at 80 columns, all four from 116; taller on taller screens.
        if rows >= 14 {
            let count = b.width >= 116 ? 4 : min(4, max(1, b.width / 45))
            let least = rows >= 70 ? 12 : rows >= 50 ? 9 : rows >= 30 ? 7 : 5
            // The screen is a budget of rows: what the tables and lists below need first, the rest
            // to the graphs (at least `least`; below 36 rows the graphs keep that height).
            let height = rows >= 36 ? max(least, area.bottom - y - 1 - belowNeeds(state, width: b.width)) : least
            // The row under the graphs is their time axis.
            graphs(state, &b, Rect(x: 0, y: y, width: b.width, height: height + 1), count: count)
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
        let events = min(10, max(1, Selectors.eventLines(state).count))
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

    /// One series of a graph: a value per column, drawn in eighths of a cell (`solid`) or as whole
    /// shaded cells (the series behind, so both read without colour).
    struct Plot {
        var values: [Double]
        var role: Role
        var solid = true
    }

    /// The columns between graphs: the scale of one never touches the title of the next.
    static let graphGap = 2
    /// What the graphs show when the console has polled that long: the last five minutes.
    static let graphWindow = 300.0

    static func graphs(_ state: AppState, _ b: inout ScreenBuffer, _ rect: Rect, count: Int) {
        let h = state.fleetHistory
        let width = (rect.width - graphGap * (count - 1)) / count
        let (ranges, span) = graphColumns(count: h.rps.count, times: h.times, now: state.now, width: width)
        func mean(_ list: [Double]) -> [Double] { ranges.map { r in list.count >= r.upperBound ? list[r].reduce(0, +) / Double(r.count) : 0 } }
        func peak(_ list: [Double]) -> [Double] { ranges.map { r in list.count >= r.upperBound ? list[r].max() ?? 0 : 0 } }
        let axis = span.map { "-" + ago($0) } ?? ""
        // Requests and spend are averaged over a column's polls; errors and latency keep their
        // worst, so one bad poll still shows.
        let faults = h.providerFaults.last ?? 0
        // The title gives the latest poll's figure, as the header does.
        let all: [(String, Double?, [Plot], (Double) -> String, legend: (String, Role)?)] = [
            ("requests/s", h.rps.last, [Plot(values: mean(h.rps), role: .bar)], { Format.rate($0) }, nil),
            ("errors", h.errorRatio.last, [Plot(values: peak(h.providerFaults), role: .warn, solid: false), Plot(values: peak(h.errorRatio), role: .crit)],
             { Format.percent($0) }, ("\(state.ascii ? ":" : "░") provider faults \(Format.percent(faults))", faults > 0 ? .warn : .dim)),
            ("p99", h.p99.last, [Plot(values: peak(h.p99), role: .bar)], { Format.seconds($0) }, nil),
            ("spend/h", h.costPerHour.last, [Plot(values: mean(h.costPerHour), role: .bar)], { Format.dollars($0) }, nil),
        ]
        for (i, graph) in all.prefix(count).enumerated() {
            chart(&b, Rect(x: rect.x + i * (width + graphGap), y: rect.y, width: width, height: rect.height), title: graph.0, now: graph.1,
                  plots: graph.2, format: graph.3, ascii: state.ascii, axis: axis, legend: graph.legend)
        }
    }

    /// Which polls each column of a graph `width` wide takes, oldest first: about the last five
    /// minutes (at least `width` polls when there are), several polls a column when they do not
    /// fit; and how far back the first column goes (nil when the polls' times are not known).
    public static func graphColumns(count n: Int, times: [Double], now: Double, width: Int) -> (ranges: [Range<Int>], span: Double?) {
        guard n > 0, width > 0 else { return ([], nil) }
        let timed = times.count == n
        let recent = timed ? times.reversed().prefix { $0 >= now - graphWindow }.count : 0
        // As many polls a column as fill the width with (about) the last five minutes.
        let per = max(1, max(recent, min(n, width)) / width)
        let take = min(n, per * width)
        var ranges: [Range<Int>] = []
        var end = n
        while end > n - take, ranges.count < width {
            let start = max(n - take, end - per)
            ranges.insert(start..<end, at: 0)
            end = start
        }
        return (ranges, timed ? max(0, now - times[ranges[0].lowerBound]) : nil)
    }

    /// A graph of one series polled with the fleet's figures (a provider's latency or spend):
    /// the same columns and time axis as the overview's graphs; `peak` keeps a column's worst poll.
    static func seriesChart(_ state: AppState, _ b: inout ScreenBuffer, _ rect: Rect, title: String, values: [Double], peak: Bool,
                            format: (Double) -> String) {
        // A provider's points were taken at the fleet's latest polls.
        let times = state.fleetHistory.times.count >= values.count ? Array(state.fleetHistory.times.suffix(values.count)) : []
        let (ranges, span) = graphColumns(count: values.count, times: times, now: state.now, width: rect.width)
        let columns = ranges.map { r in peak ? values[r].max() ?? 0 : values[r].reduce(0, +) / Double(r.count) }
        chart(&b, rect, title: title, now: values.last, plots: [Plot(values: columns, role: .bar)], format: format, ascii: state.ascii,
              axis: span.map { "-" + ago($0) } ?? "")
    }

    /// The graph of a node's, route's or client's requests per second (`trends[key]`) in the
    /// rows of `rect` that `needs` rows after it leave, when that is at least 5; the rows used.
    @discardableResult
    static func trendChart(_ state: AppState, _ b: inout ScreenBuffer, _ rect: Rect, key: String, title: String, needs: Int) -> Int {
        let height = rect.height - needs - 1
        guard height >= 5, let values = state.trends[key] else { return 0 }
        seriesChart(state, &b, Rect(x: rect.x, y: rect.y, width: rect.width, height: height), title: title, values: values, peak: false,
                    format: { Format.rate($0) })
        return height + 1
    }

    /// How long ago, as an axis reads it: `54s`, `5m`, `1h20m`.
    public static func ago(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 90 { return "\(s)s" }
        if s < 3600 { return "\(Int((Double(s) / 60).rounded()))m" }
        return "\(s / 3600)h\(s % 3600 / 60 == 0 ? "" : "\(s % 3600 / 60)m")"
    }

    /// The top of a graph's scale: the highest value shown, but no more than half again the 90th
    /// percentile (and never below the newest value), rounded up to two significant digits
    /// (`4.4s`, `180`). A spike (a start-up burst) does not fix the scale for the minutes it
    /// stays in view: it is drawn to the top.
    public static func scaleTop(_ values: [Double]) -> Double {
        guard let highest = values.max() else { return 0 }
        let sorted = values.sorted()
        let robust = sorted[Int(Double(sorted.count - 1) * 0.9)] * 1.5
        return roundUp(max(min(highest, robust), values.last ?? 0, 0))
    }

    /// `value` rounded up to two significant digits: 174 -> 180, 4.37 -> 4.4, 0.043 -> 0.043.
    public static func roundUp(_ value: Double) -> Double {
        guard value > 0, value.isFinite else { return 0 }
        let unit = pow(10, (log10(value)).rounded(.down) - 1)
        return (value / unit * 0.999_999).rounded(.up) * unit
    }

    /// A column chart in block cells, from zero to a robust maximum (the scale in the title row's
    /// right end, as people write it: `0..1.0s`), the newest value at the right edge; the last row
    /// is the time axis (`-5m` ... `now`), with the legend of a second series between.
    static func chart(_ b: inout ScreenBuffer, _ rect: Rect, title: String, now: Double?, plots: [Plot], format: (Double) -> String,
                      ascii: Bool, axis: String, legend: (String, Role)? = nil) {
        guard rect.width >= 10, rect.height >= 3 else { return }
        let head = "\(title) \(now.map(format) ?? "-")"
        b.put(head, x: rect.x, y: rect.y, role: .title, maxWidth: rect.width)
        let top = scaleTop(plots.flatMap(\.values))
        let scale = top > 0 ? "0..\(format(top))" : ""
        if !scale.isEmpty, head.count + 2 + scale.count <= rect.width {
            b.put(scale, x: rect.x + rect.width - scale.count, y: rect.y, role: .dim)
        }
        let plotRows = rect.height - 2
        let bottom = rect.bottom - 2
        let partial: [Character] = ascii ? [".", ".", ".", ":", ":", ":", ":"] : ["▁", "▂", "▃", "▄", "▅", "▆", "▇"]
        let columns = plots.map(\.values.count).max() ?? 0
        let offset = rect.width - columns
        for i in 0..<columns {
            var drawn = false
            for plot in plots where i < plot.values.count {
                let value = plot.values[i]
                // At least one eighth (one cell for a shaded series) for any value above zero, so a small one still shows.
                var eighths = top > 0 ? Int((min(value, top) / top * Double(plotRows * 8)).rounded()) : 0
                if value > 0, eighths == 0 { eighths = 1 }
                if !plot.solid { eighths = (eighths + 7) / 8 * 8 }
                for row in 0..<plotRows {
                    let level = eighths - row * 8
                    guard level > 0 else { break }
                    let character: Character = !plot.solid ? (ascii ? ":" : "░") : level >= 8 ? (ascii ? "#" : "█") : partial[level - 1]
                    b.put(String(character), x: rect.x + offset + i, y: bottom - row, role: plot.role)
                    drawn = true
                }
            }
            if !drawn { b.put(ascii ? "_" : "▁", x: rect.x + offset + i, y: bottom, role: .dim) }
        }
        if columns == 0 { b.put("(no polls yet)", x: rect.x, y: rect.y + 1, role: .dim) }
        // The time axis, and between its ends the second series' legend where it fits.
        let y = rect.bottom - 1
        if !axis.isEmpty, axis.count + 5 <= rect.width {
            b.put(axis, x: rect.x, y: y, role: .dim)
            b.put("now", x: rect.x + rect.width - 3, y: y, role: .dim)
        }
        if let (text, role) = legend {
            let room = rect.width - (axis.isEmpty ? 0 : axis.count + 5) - 2
            let shown = text.count <= room ? text : text.replacingOccurrences(of: "provider faults", with: "faults")
            if shown.count <= room { b.put(shown, x: rect.x + (axis.isEmpty ? 0 : axis.count + 1) + max(0, (room - shown.count) / 2), y: y, role: role) }
        }
    }

    // MARK: Providers, nodes, alerts, events

    static func stateGlyph(_ state: ProviderState, ascii: Bool) -> String {
        switch state {
        case .healthy: ascii ? "+" : "●"
        case .degraded, .probing, .other: ascii ? "!" : "▲"
        case .drained, .failedOver: ascii ? "-" : "○"
        case .ejected: ascii ? "x" : "✖"
        }
    }

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
        // The same event on several nodes is one line, as on the Events pane.
        let events = Selectors.eventLines(state)
        if events.isEmpty { b.put("(none yet)", x: rect.x, y: y, role: .dim) }
        for line in events.prefix(rect.bottom - y) {
            let role: Role = [.circuitOpened, .healthFailed, .panicStarted].contains(line.kind) ? .crit
                : [.circuitProbing, .nodeDraining, .failoverStarted].contains(line.kind) ? .warn : .normal
            b.put(eventSummary(line), x: rect.x, y: y, role: role, maxWidth: rect.width)
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
