import ClawAdminAPI
import Foundation

/// State and screen size in, cells out. Nothing here touches a terminal.
public enum View {
    public static let minimumWidth = 40
    public static let minimumHeight = 10

    public static func render(_ state: AppState) -> ScreenBuffer {
        var buffer = ScreenBuffer(width: state.width, height: state.height)
        guard state.width >= minimumWidth, state.height >= minimumHeight else {
            let lines = ["Terminal too small:", "need \(minimumWidth)x\(minimumHeight),", "have \(state.width)x\(state.height).", "q quits."]
            for (y, line) in lines.enumerated() { buffer.put(line, x: 0, y: y, role: .warn) }
            return buffer
        }
        header(state, &buffer)
        tabs(state, &buffer)
        let area = (top: 2, bottom: state.height - 2)
        if let id = state.detail {
            detail(state, id, &buffer, area)
        } else {
        switch state.pane {
        case .providers: providers(state, &buffer, area)
        case .nodes: nodes(state, &buffer, area)
        case .routes: routes(state, &buffer, area)
        case .cost: cost(state, &buffer, area)
        case .events: events(state, &buffer, area)
        case .alerts: alerts(state, &buffer, area)
        }
        }
        footer(state, &buffer)
        if let message = state.message {
            buffer.put(message.text, x: 0, y: state.height - 2, role: message.role)
        }
        if case .confirm(let dialog) = state.mode { confirm(dialog, &buffer) }
        if state.showHelp { help(state, &buffer) }
        return buffer
    }

    // MARK: Header, tabs, footer

    static func header(_ state: AppState, _ b: inout ScreenBuffer) {
        let s = state.fleet.summary(now: state.now)
        b.fill(row: 0, role: .header)
        let monitor = state.fleet.monitor
        var flags: [(String, Role)] = []
        // Prometheus given but not answering: the figures are the nodes' own, and the header says so.
        if monitor.prometheusURL != nil, monitor.figures == nil, monitor.prometheusError != nil { flags.append(("prom down: node stats", .warn)) }
        if state.paused { flags.append(("PAUSED", .lock)) }
        if state.readOnly { flags.append((state.ascii ? "[RO]" : "🔒RO", .lock)) }
        let flagWidth = flags.reduce(0) { $0 + $1.0.count + 1 } + (flags.isEmpty ? 0 : 1)
        // The flags always show; the figures take the room that is left, in order of importance.
        let room = b.width - flagWidth
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
        items += [
            ("prov", "\(s.providersHealthy)/\(s.providersTotal)", s.providersHealthy == s.providersTotal ? .headerValue : .warn),
            ("rps", Format.rate(s.rps), .headerValue),
            ("err", Format.percent(s.errorRatio), s.errorRatio > 0.05 ? .crit : s.errorRatio > 0.01 ? .warn : .headerValue),
            ("p99", Format.seconds(s.p99), .headerValue),
            ("$/h", Format.dollars(s.costPerHour), .headerValue),
            ("age", s.dataAge.map { Format.duration($0) } ?? "-", (s.dataAge ?? 0) > state.fleet.staleAfter ? .warn : .headerValue),
        ]
        if monitor.usingPrometheus { items.append(("src", "prom", .headerValue)) }
        for (label, value, role) in items {
            guard x + label.count + value.count + 3 <= room else { break }
            x = b.put("  \(label) ", x: x, y: 0, role: .header)
            x = b.put(value, x: x, y: 0, role: role)
        }
        var fx = max(0, b.width - flagWidth + 1)
        for (text, role) in flags {
            fx = b.put(text, x: fx, y: 0, role: role) + 1
        }
    }

    static func tabs(_ state: AppState, _ b: inout ScreenBuffer) {
        var x = 0
        for pane in Pane.allCases {
            let text = " \(pane.rawValue + 1) \(pane.title) "
            x = b.put(text, x: x, y: 1, role: pane == state.pane ? .tabActive : .tab)
        }
        var info = state.pane == .providers ? "sort: \(state.sort.rawValue)" : ""
        if !state.filter.isEmpty { info = "filter: \(state.filter)  " + info }
        if !info.isEmpty { b.put(info, x: max(x + 1, b.width - info.count - 1), y: 1, role: .dim) }
    }

    static func footer(_ state: AppState, _ b: inout ScreenBuffer) {
        let y = b.height - 1
        b.fill(row: y, role: .footer)
        if case .commandLine(let text) = state.mode {
            let x = b.put(":" + text, x: 0, y: y, role: .footer)
            b.put(state.ascii ? "_" : "▏", x: x, y: y, role: .footer)
            return
        }
        if case .filter(let text) = state.mode {
            let x = b.put("/" + text, x: 0, y: y, role: .footer)
            b.put(state.ascii ? "_" : "▏", x: x, y: y, role: .footer)
            return
        }
        let keys = KeyMap.visible(readOnly: state.readOnly).filter { ["?", "q", "Tab", "j/k", ":", "d", "w", "f", "s"].contains($0.label) }
        var x = 0
        for binding in keys {
            x = b.put(" \(binding.label)", x: x, y: y, role: .footer)
            x = b.put(" \(binding.help) ", x: x, y: y, role: .footer)
        }
    }

    static func help(_ state: AppState, _ b: inout ScreenBuffer) {
        let rows = KeyMap.visible(readOnly: state.readOnly)
        // Two columns when one does not fit the height (80x24 has room for 17 lines).
        let columns = rows.count + 3 > b.height - 4 && b.width >= 70 ? 2 : 1
        let perColumn = (rows.count + columns - 1) / columns
        let width = min(b.width - 4, 44 * columns)
        let height = min(b.height - 4, perColumn + 3)
        let left = (b.width - width) / 2
        let top = (b.height - height) / 2
        for y in top..<(top + height) {
            b.put(String(repeating: " ", count: width), x: left, y: y, role: .selected)
        }
        b.put(" Keys (Esc or ? closes) ", x: left + 1, y: top, role: .selected)
        let columnWidth = width / columns
        for (i, binding) in rows.enumerated() {
            let y = top + 2 + i % perColumn
            guard y < top + height else { continue }
            b.put(Format.pad(binding.label, 8) + binding.help, x: left + 2 + (i / perColumn) * columnWidth, y: y, role: .selected,
                  maxWidth: columnWidth - 3)
        }
    }

    static func confirm(_ dialog: Confirmation, _ b: inout ScreenBuffer) {
        let width = min(b.width - 2, max(50, dialog.plan.summary.count + 4))
        let height = 9
        let left = max(0, (b.width - width) / 2)
        let top = max(0, (b.height - height) / 2)
        for y in top..<min(b.height, top + height) {
            b.put(String(repeating: " ", count: width), x: left, y: y, role: .selected)
        }
        b.put(" Confirm ", x: left + 1, y: top, role: .title)
        // The summary on up to two lines, broken at a space.
        let room = max(1, width - 4)
        var first = dialog.plan.summary
        var second = ""
        if first.count > room {
            let head = first.prefix(room)
            let cut = head.lastIndex(of: " ").map { head.distance(from: head.startIndex, to: $0) } ?? room
            second = String(first.dropFirst(cut)).trimmingCharacters(in: .whitespaces)
            first = String(first.prefix(cut))
        }
        b.put(first, x: left + 2, y: top + 2, role: .selected, maxWidth: room)
        b.put(second, x: left + 2, y: top + 3, role: .selected, maxWidth: room)
        let nodes = dialog.plan.calls.filter { $0.node != nil }.count
        let target = nodes > 0 ? "Nodes: \(nodes)" : "Sent to: Alertmanager"
        b.put(target, x: left + 2, y: top + 4, role: .selected, maxWidth: room)
        let reasonRole: Role = dialog.focus == .reason ? .tabActive : .selected
        b.put("Reason: " + dialog.reason + (dialog.focus == .reason ? "_" : ""), x: left + 2, y: top + 5, role: reasonRole, maxWidth: room)
        let cancel = dialog.focus == .cancel ? "[ Cancel ]" : "  Cancel  "
        let ok = dialog.focus == .confirm ? "[ Confirm ]" : "  Confirm  "
        b.put(cancel, x: left + 2, y: top + 7, role: dialog.focus == .cancel ? .tabActive : .selected)
        b.put(ok, x: left + 16, y: top + 7, role: dialog.focus == .confirm ? .crit : .selected)
        b.put("Tab moves, Enter chooses, Esc cancels", x: left + 30, y: top + 7, role: .selected, maxWidth: max(0, width - 32))
    }

    static func marked(_ name: String, _ state: AppState, _ subject: String) -> String {
        state.pending[subject] != nil ? name + (state.ascii ? " ~" : " ⧗") : name
    }

    // MARK: Tables

    struct Column {
        var title: String
        var width: Int
        var right: Bool
        /// Lower goes first when the screen is narrow.
        var priority: Int
    }

    /// The columns that fit in `width`, in their order.
    static func fit(_ columns: [Column], width: Int) -> [Int] {
        var chosen = Set<Int>()
        var used = 0
        for (index, column) in columns.enumerated().sorted(by: { $0.element.priority < $1.element.priority }) {
            if used + column.width + 1 <= width {
                chosen.insert(index)
                used += column.width + 1
            }
        }
        return columns.indices.filter { chosen.contains($0) }
    }

    static func table(_ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int), columns: [Column], rows: [[(String, Role)]],
                      selected: Int, ascii: Bool) {
        let visible = fit(columns, width: b.width)
        var x = 0
        for index in visible {
            x = b.put(Format.pad(columns[index].title, columns[index].width, right: columns[index].right), x: x, y: area.top, role: .title) + 1
        }
        let capacity = area.bottom - area.top - 1
        guard capacity > 0 else { return }
        let first = max(0, min(selected - capacity + 1, rows.count - capacity))
        for (offset, row) in rows.dropFirst(first).prefix(capacity).enumerated() {
            let y = area.top + 1 + offset
            let isSelected = first + offset == selected
            var x = 0
            for index in visible {
                let (text, role) = row[index]
                x = b.put(Format.pad(text, columns[index].width, right: columns[index].right, ascii: ascii), x: x, y: y,
                          role: isSelected ? .selected : role) + 1
            }
            if isSelected { b.fill(row: y, role: .selected) }
        }
        if rows.isEmpty { b.put("(nothing yet)", x: 0, y: area.top + 1, role: .dim) }
    }

    static func stateRole(_ word: String) -> Role {
        switch word {
        case "healthy", "serving", "closed": .ok
        case "degraded", "probing", "draining", "stale", "drained", "failed-over": .warn
        default: .crit
        }
    }

    static func providers(_ state: AppState, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int)) {
        let columns = [
            Column(title: "PROVIDER", width: 14, right: false, priority: 0),
            Column(title: "STATE", width: 11, right: false, priority: 1),
            Column(title: "CIRCUIT", width: 9, right: false, priority: 5),
            Column(title: "WEIGHT", width: 6, right: true, priority: 4),
            Column(title: "RPS", width: 6, right: true, priority: 2),
            Column(title: "ERR%", width: 6, right: true, priority: 3),
            Column(title: "P50", width: 6, right: true, priority: 6),
            Column(title: "P95", width: 6, right: true, priority: 8),
            Column(title: "P99", width: 6, right: true, priority: 3),
            Column(title: "TTFT", width: 6, right: true, priority: 9),
            Column(title: "$/H", width: 7, right: true, priority: 7),
            Column(title: "INFLIGHT", width: 11, right: true, priority: 10),
        ]
        let rows: [[(String, Role)]] = Selectors.sortedProviders(state).map { p in
            [
                (marked(p.id, state, "provider:\(p.id)"), .normal), (p.state, stateRole(p.state)), (p.circuit, stateRole(p.circuit)), (String(p.weight), .normal),
                (Format.rate(p.rps), .normal), (Format.percent(p.errorRatio), p.errorRatio > 0.05 ? .crit : .normal),
                (Format.seconds(p.p50), .normal), (Format.seconds(p.p95), .normal), (Format.seconds(p.p99), .normal),
                (Format.seconds(p.ttft), .normal), (Format.dollars(p.costPerHour), .normal),
                saturation(p.inFlight, p.maxInFlight),
            ]
        }
        table(&b, area, columns: columns, rows: rows, selected: state.selected(.providers), ascii: state.ascii)
    }

    /// In flight against its limit ("12/5000"), warn from 90 %: past the limit the node answers 429.
    static func saturation(_ inFlight: Int, _ limit: Int) -> (String, Role) {
        guard limit > 0 else { return (String(inFlight), .normal) }
        let full = Double(inFlight) >= 0.9 * Double(limit)
        return ("\(inFlight)/\(Format.count(limit))", full ? .warn : .normal)
    }

    static func nodes(_ state: AppState, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int)) {
        let columns = [
            Column(title: "NODE", width: 22, right: false, priority: 0),
            Column(title: "STATE", width: 12, right: false, priority: 1),
            Column(title: "INFLIGHT", width: 11, right: true, priority: 4),
            Column(title: "RPS", width: 6, right: true, priority: 3),
            Column(title: "REV", width: 5, right: true, priority: 2),
            Column(title: "VERSION", width: 8, right: false, priority: 6),
            Column(title: "UPTIME", width: 8, right: true, priority: 5),
            Column(title: "AGE", width: 6, right: true, priority: 2),
        ]
        let revisions = state.fleet.nodes.compactMap { $0.snapshot?.node.revision }
        let common = Dictionary(grouping: revisions, by: { $0 }).max { $0.value.count < $1.value.count }?.key
        let rows: [[(String, Role)]] = Selectors.filteredNodes(state).map { node in
            let health = node.health(now: state.now, staleAfter: state.fleet.staleAfter)
            let s = node.snapshot?.node
            let drift = s.map { $0.revision != common } ?? false
            let rps = node.snapshot?.routes.reduce(0) { $0 + $1.stats.oneMinute.requestsPerSecond } ?? 0
            return [
                (marked(node.name, state, "node:\(s?.id ?? node.url)"), .normal), (health, stateRole(health)), s.map { saturation($0.inFlight, $0.maxInFlight) } ?? ("-", .normal),
                (s == nil ? "-" : Format.rate(rps), .normal), (s.map { "\($0.revision)\(drift ? "*" : "")" } ?? "-", drift ? .warn : .normal),
                (s?.version ?? "-", .normal), (s.map { Format.duration($0.uptimeSeconds) } ?? "-", .normal),
                (node.age(now: state.now).map { Format.duration($0) } ?? "-", .normal),
            ]
        }
        table(&b, area, columns: columns, rows: rows, selected: state.selected(.nodes), ascii: state.ascii)
        // The error of the selected node, where it failed.
        let index = state.selected(.nodes)
        let shown = Selectors.filteredNodes(state)
        if shown.indices.contains(index), let error = shown[index].incompatible.map({ "snapshot does not decode at \($0)" }) ?? shown[index].error {
            b.put("\(shown[index].url): \(error)", x: 0, y: area.bottom - 1, role: .crit)
        }
    }

    static func bar(_ value: Int, max: Int, width: Int, ascii: Bool) -> String {
        guard max > 0, width > 0 else { return "" }
        let filled = Int((Double(value) / Double(max) * Double(width)).rounded())
        return String(repeating: ascii ? "#" : "█", count: filled) + String(repeating: ascii ? "." : "░", count: width - filled)
    }

    static func routes(_ state: AppState, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int)) {
        let lines = Selectors.routeLines(state)
        let columns = [
            Column(title: "ROUTE", width: 12, right: false, priority: 0),
            Column(title: "TIER", width: 4, right: true, priority: 1),
            Column(title: "PROVIDER", width: 14, right: false, priority: 0),
            Column(title: "WEIGHT", width: 7, right: true, priority: 2),
            Column(title: "EFFECTIVE", width: 18, right: false, priority: 3),
            Column(title: "WANT", width: 5, right: true, priority: 4),
            Column(title: "GOT 1M", width: 7, right: true, priority: 1),
        ]
        // The share each provider should get: its effective weight over its tier's (the first tier
        // with weight serves); what it got comes from the node's count of the last minute.
        var tierTotals: [String: Int] = [:]
        for (alias, tier, entry, _) in lines { tierTotals["\(alias)/\(tier)", default: 0] += entry.effectiveWeight }
        let maxWeight = lines.map { max($0.2.configuredWeight, $0.2.effectiveWeight) }.max() ?? 1
        let rows: [[(String, Role)]] = lines.map { alias, tier, entry, panic in
            let total = tierTotals["\(alias)/\(tier)"] ?? 0
            let want = tier == 0 && total > 0 ? Double(entry.effectiveWeight) / Double(total) : nil
            let got = entry.actualShare
            let skewed = want.map { w in abs(w - (got ?? 0)) > 0.15 } ?? ((got ?? 0) > 0.15)
            return [
                (alias + (panic ? " PANIC" : ""), panic ? .crit : .normal), (String(tier), .normal), (entry.provider, .normal),
                (String(entry.configuredWeight), .dim),
                (bar(entry.effectiveWeight, max: maxWeight, width: 12, ascii: state.ascii) + " " + String(entry.effectiveWeight),
                 entry.effectiveWeight == 0 ? .warn : .bar),
                (want.map { Format.percent($0) } ?? "-", .dim),
                (got.map { Format.percent($0) } ?? "-", skewed && got != nil ? .warn : .normal),
            ]
        }
        table(&b, area, columns: columns, rows: rows, selected: state.selected(.routes), ascii: state.ascii)
    }

    static func cost(_ state: AppState, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int)) {
        let rows = Selectors.sortedProviders(state)
        let total = rows.reduce(0) { $0 + $1.costPerHour }
        let columns = [
            Column(title: "PROVIDER", width: 14, right: false, priority: 0),
            Column(title: "$/HOUR", width: 9, right: true, priority: 1),
            Column(title: "TODAY", width: 9, right: true, priority: 2),
            Column(title: "SHARE", width: 28, right: false, priority: 3),
        ]
        let table: [[(String, Role)]] = rows.map { p in
            let share = total > 0 ? p.costPerHour / total : 0
            return [(p.id, .normal), (Format.dollars(p.costPerHour), .normal), (Format.dollars(p.costToday), .normal),
                    (bar(Int(share * 1000), max: 1000, width: 20, ascii: state.ascii) + " " + Format.percent(share), .bar)]
        }
        View.table(&b, (area.top, area.bottom - 1), columns: columns, rows: table, selected: state.selected(.cost), ascii: state.ascii)
        let today = rows.reduce(0) { $0 + $1.costToday }
        b.put("fleet: \(Format.dollars(total))/h now, \(Format.dollars(today)) today (since 00:00 UTC)", x: 0, y: area.bottom - 1, role: .title)
    }

    /// A wall-clock time as HH:mm:ss UTC, for the events pane and the detail view.
    static func clock(_ time: Double) -> String {
        let s = ((Int(time.rounded(.down)) % 86400) + 86400) % 86400
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(two(s / 3600)):\(two(s / 60 % 60)):\(two(s % 60))"
    }

    /// A sparkline of the last `width` values, in Unicode blocks or ASCII.
    public static func sparkline(_ values: [Double], width: Int, ascii: Bool) -> String {
        let shown = Array(values.suffix(width))
        guard let top = shown.max(), top > 0 else { return String(repeating: ascii ? "_" : "▁", count: shown.count) }
        let levels: [Character] = ascii ? Array("_.-=*#") : Array("▁▂▃▄▅▆▇█")
        return String(shown.map { levels[min(levels.count - 1, Int($0 / top * Double(levels.count - 1) + 0.5))] })
    }

    /// Enter on a provider: its breaker on every node, its recent history as sparklines.
    static func detail(_ state: AppState, _ id: String, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int)) {
        var y = area.top
        b.put("Provider \(id)  (Esc back)", x: 0, y: y, role: .title)
        y += 1
        if let row = state.fleet.rows.first(where: { $0.id == id }) {
            b.put("state \(row.state)  circuit \(row.circuit)  \(Format.rate(row.rps)) req/s  err \(Format.percent(row.errorRatio))  p50 \(Format.seconds(row.p50))  p99 \(Format.seconds(row.p99))  \(Format.dollars(row.costPerHour))/h",
                  x: 0, y: y, role: stateRole(row.state))
        }
        y += 2
        let width = max(10, b.width - 16)
        b.put("latency p50", x: 0, y: y, role: .dim)
        b.put(sparkline(state.latencyHistory[id] ?? [], width: width, ascii: state.ascii), x: 14, y: y, role: .bar)
        y += 1
        b.put("cost $/h", x: 0, y: y, role: .dim)
        b.put(sparkline(state.costHistory[id] ?? [], width: width, ascii: state.ascii), x: 14, y: y, role: .bar)
        y += 2
        b.put(Format.pad("NODE", 14) + " " + Format.pad("CIRCUIT", 9) + " " + Format.pad("FAILS", 5, right: true) + " "
              + Format.pad("EJECT", 5, right: true) + "  " + "WHY / UNTIL", x: 0, y: y, role: .title)
        y += 1
        for node in state.fleet.nodes where y < area.bottom {
            guard let p = node.snapshot?.providers.first(where: { $0.id == id }) else { continue }
            let c = p.circuit
            var why = c.reason ?? ""
            if let until = c.openUntil { why += "  until \(clock(until))" }
            b.put(Format.pad(node.name, 14, ascii: state.ascii) + " " + Format.pad(c.state.rawValue, 9) + " " + Format.pad(String(c.consecutiveFailures), 5, right: true)
                  + " " + Format.pad(String(c.ejections), 5, right: true) + "  " + why, x: 0, y: y, role: stateRole(c.state.rawValue))
            y += 1
        }
        let failures = state.fleet.nodes.flatMap { node in
            (node.snapshot?.providers.first { $0.id == id }?.circuit.recentFailures ?? []).map { (node.name, $0.time, $0.reason) }
        }.sorted { $0.1 > $1.1 }
        if !failures.isEmpty, y + 2 < area.bottom {
            y += 1
            b.put("Recent failures", x: 0, y: y, role: .title)
            y += 1
            for (node, time, reason) in failures where y < area.bottom {
                b.put("\(clock(time))  \(Format.pad(node, 12, ascii: state.ascii))  \(reason)",
                      x: 0, y: y, role: .warn)
                y += 1
            }
        }
    }

    /// Alertmanager's alerts (silenced ones last, dimmed), and where the monitor figures come from.
    static func alerts(_ state: AppState, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int)) {
        let monitor = state.fleet.monitor
        var statusLines: [(String, Role)] = []
        if let url = monitor.prometheusURL {
            if monitor.figures != nil {
                statusLines.append(("prometheus \(url): figures from PromQL over the last \(PromQL.window)", .dim))
            } else {
                statusLines.append(("prometheus \(url): \(monitor.prometheusError ?? "no answer yet"); node stats shown", .warn))
            }
        }
        if let url = monitor.alertmanagerURL {
            if let error = monitor.alertmanagerError {
                let age = monitor.alertsAt.map { "; list from \(Format.duration(max(0, state.now - $0))) ago" } ?? ""
                statusLines.append(("alertmanager \(url): \(error)\(age)", .crit))
            } else {
                let silenced = monitor.alerts.count - monitor.firing.count
                statusLines.append(("alertmanager \(url): \(monitor.firing.count) firing, \(silenced) silenced or inhibited", .dim))
            }
        } else {
            statusLines.append(("no Alertmanager: start clawtop with --alertmanager URL to list alerts here", .dim))
        }
        let columns = [
            Column(title: "SEVERITY", width: 8, right: false, priority: 1),
            Column(title: "ALERT", width: 30, right: false, priority: 0),
            Column(title: "STATE", width: 8, right: false, priority: 4),
            Column(title: "SINCE", width: 6, right: true, priority: 2),
            Column(title: "SUMMARY", width: max(10, b.width - 57), right: false, priority: 3),
        ]
        let shown = Selectors.filteredAlerts(state)
        let rows: [[(String, Role)]] = shown.map { a in
            let role: Role = a.silenced ? .dim : a.severity == "critical" ? .crit : a.severity == "warning" ? .warn : .normal
            return [(a.severity, role), (marked(a.selector, state, "alert:\(a.name)"), a.silenced ? .dim : .normal),
                    (a.silenced ? "silenced" : "firing", role), (a.since > 0 ? Format.duration(max(0, state.now - a.since)) : "-", .normal),
                    (a.summary, a.silenced ? .dim : .normal)]
        }
        // The selected alert in full (its labels and summary do not fit a narrow table).
        let index = state.selected(.alerts)
        if shown.indices.contains(index) {
            let a = shown[index]
            statusLines.insert(("\(a.selector): \(a.summary)\(a.since > 0 ? "  (since \(clock(a.since)) UTC)" : "")", .title), at: 0)
        }
        let bottom = max(area.top + 1, area.bottom - statusLines.count)
        table(&b, (area.top, bottom), columns: columns, rows: rows, selected: index, ascii: state.ascii)
        for (offset, line) in statusLines.enumerated() where bottom + offset < area.bottom {
            b.put(line.0, x: 0, y: bottom + offset, role: line.1)
        }
    }

    /// Bad news in red, good news in green; every kind is decided here (the switch is exhaustive).
    static func role(_ kind: EventKind) -> Role {
        switch kind {
        case .circuitOpened, .healthFailed, .panicStarted: .crit
        case .circuitClosed, .healthRecovered, .failoverRestored, .panicEnded, .nodeServing: .ok
        case .circuitProbing, .operatorAction, .failoverStarted, .nodeDraining, .nodeDrained: .normal
        }
    }

    static func events(_ state: AppState, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int)) {
        let columns = [
            Column(title: "TIME", width: 8, right: false, priority: 0),
            Column(title: "NODE", width: 10, right: false, priority: 3),
            Column(title: "EVENT", width: 18, right: false, priority: 1),
            Column(title: "SUBJECT", width: 14, right: false, priority: 2),
            Column(title: "DETAIL", width: max(10, b.width - 54), right: false, priority: 4),
        ]
        let rows: [[(String, Role)]] = Selectors.allEvents(state).map { e in
            [(clock(e.time), .dim), (e.node, .normal), (e.kind.rawValue, role(e.kind)), (e.subject, .normal), (e.detail, .normal)]
        }
        table(&b, area, columns: columns, rows: rows, selected: state.selected(.events), ascii: state.ascii)
    }
}
