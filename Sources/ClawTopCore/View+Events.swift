import ClawAdminAPI
import Foundation

/// Pane 5: events of every node, newest first, the same event on several nodes as one line.
extension View {
    /// Bad news in red, good news in green; every kind is decided here (the switch is exhaustive).
    static func role(_ kind: EventKind) -> Role {
        switch kind {
        case .circuitOpened, .healthFailed, .panicStarted: .crit
        case .circuitClosed, .healthRecovered, .failoverRestored, .panicEnded, .nodeServing, .faultEnded: .ok
        case .faultStarted, .budgetExceeded: .warn
        case .budgetLifted: .ok
        case .circuitProbing, .operatorAction, .failoverStarted, .nodeDraining, .nodeDrained: .normal
        }
    }

    /// Who did it: the operator of an action (from the audit), else the gateway itself.
    static func actorText(_ line: Selectors.EventLine) -> String {
        line.actor ?? (line.kind == .operatorAction ? "-" : "clawgate")
    }

    static func events(_ state: AppState, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int)) {
        let lines = Selectors.eventLines(state)
        let columns = [
            Column(title: "TIME", width: 8, right: false, priority: 0),
            Column(title: "NODES", width: 10, right: false, priority: 3),
            Column(title: "EVENT", width: 17, right: false, priority: 1),
            Column(title: "SUBJECT", width: 16, right: false, priority: 2),
            Column(title: "ACTOR", width: 10, right: false, priority: 5),
            Column(title: "REASON", width: 24, right: false, priority: 6),
            Column(title: "DETAIL", width: max(10, b.width - 92), right: false, priority: 4),
        ]
        let rows: [[(String, Role)]] = lines.map { e in
            [(clock(e.time), .dim), (Selectors.nodesText(e), e.nodes.count > 1 ? .normal : .dim), (e.kind.rawValue, role(e.kind)), (e.subject, .normal),
             (actorText(e), e.actor == nil ? .dim : .normal), (e.reason ?? "-", e.reason == nil ? .dim : .normal), (e.detail, .normal)]
        }
        // The table takes the rows it needs; the rows left under it show the selected event in full.
        let index = state.selected(.events)
        let free = area.bottom - area.top - rows.count - 1
        let bottom = free >= 6 && lines.indices.contains(index) ? area.top + rows.count + 1 : area.bottom
        table(&b, (area.top, bottom), columns: columns, rows: rows, selected: index, ascii: state.ascii)
        if bottom < area.bottom {
            var y = bottom + 1
            let line = lines[index]
            b.put("SELECTED EVENT (Enter opens it)", x: 0, y: y, role: .title)
            y += 1
            for (text, role) in eventText(state, line, width: b.width) where y < area.bottom {
                b.put(text, x: 0, y: y, role: role, maxWidth: b.width)
                y += 1
            }
            // The rows still free: what its subject is doing now, and the other events about it
            // (the table above has the rest).
            subjectDetail(state, line.subject, &b, (y + 1, area.bottom), except: line.key)
        }
    }

    /// The whole event: when, what, who and why, and each node's report of it, wrapped to `width`.
    static func eventText(_ state: AppState, _ line: Selectors.EventLine, width: Int) -> [(String, Role)] {
        var out: [(String, Role)] = []
        func add(_ label: String, _ value: String, _ role: Role = .normal) {
            for (i, part) in wrap(value, width: max(10, width - 12)).enumerated() { out.append(((i == 0 ? Format.pad(label, 11) : String(repeating: " ", count: 11)) + " " + part, role)) }
        }
        add("time", "\(Format.iso8601(line.time)) (\(clock(line.time)) UTC)", .dim)
        add("event", line.kind.rawValue, role(line.kind))
        add("subject", line.subject)
        if let revision = line.revision { add("revision", String(revision)) }
        add("actor", actorText(line))
        add("reason", line.reason ?? "-")
        if let audit = line.audit {
            add("change", "\(audit.action) \(audit.target): \(String(decoding: audit.before.bytes(sorted: true), as: UTF8.self)) -> \(String(decoding: audit.after.bytes(sorted: true), as: UTF8.self))")
        }
        add("nodes", "\(line.nodes.count) of \(state.fleet.nodes.count)")
        for e in line.events {
            add("  " + e.node, "\(clock(e.time)) #\(e.sequence) \(e.kind.rawValue) \(e.subject): \(e.detail)"
                + (e.requestID.map { " (request \($0))" } ?? ""))
        }
        return out
    }

    /// Words to lines of at most `width` characters (a word longer than that is cut into pieces).
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: false) {
            var word = Substring(word)
            while word.count > width {
                if !line.isEmpty { lines.append(line); line = "" }
                lines.append(String(word.prefix(width)))
                word = word.dropFirst(width)
            }
            if line.isEmpty { line = String(word) } else if line.count + 1 + word.count <= width { line += " " + word } else { lines.append(line); line = String(word) }
        }
        if !line.isEmpty || lines.isEmpty { lines.append(line) }
        return lines
    }

    /// Enter on the Events pane: the whole event over the screen; Esc closes it.
    static func eventOverlay(_ state: AppState, _ key: String, _ b: inout ScreenBuffer) {
        guard let line = Selectors.eventLines(state).first(where: { $0.key == key }) else { return }
        let width = min(b.width - 4, 110)
        let text = eventText(state, line, width: width - 4)
        let height = min(b.height - 4, text.count + 4)
        let left = (b.width - width) / 2
        let top = max(2, (b.height - height) / 2)
        for y in top..<(top + height) { b.put(String(repeating: " ", count: width), x: left, y: y, role: .selected) }
        b.put(" Event (Esc closes) ", x: left + 1, y: top, role: .selected, maxWidth: width - 2)
        for (i, (text, _)) in text.enumerated() where top + 2 + i < top + height - 1 {
            b.put(text, x: left + 2, y: top + 2 + i, role: .selected, maxWidth: width - 4)
        }
    }

    /// One event line as the overview and the panes' free rows list it.
    static func eventSummary(_ line: Selectors.EventLine) -> String {
        var text = "\(clock(line.time)) \(Selectors.nodesText(line)) \(line.kind.rawValue) \(line.subject) \(line.detail)"
        if let actor = line.actor { text += " by \(actor)" }
        if let reason = line.reason { text += ": \(reason)" }
        return text
    }

    /// Whether an event line is about `name` (a provider, node, route or client): its subject,
    /// bare or as `provider:NAME`, or a node that reported it.
    static func concerns(_ line: Selectors.EventLine, _ name: String) -> Bool {
        line.subject == name || line.subject.hasSuffix(":" + name) || line.nodes.contains(name)
    }

    /// The latest events in `rect` under `title`: those `about` picks first, then, in the rows
    /// left, the fleet's others; the rows used.
    @discardableResult
    static func eventList(_ state: AppState, _ b: inout ScreenBuffer, _ rect: Rect, title: String, others showOthers: Bool = true,
                          about: (Selectors.EventLine) -> Bool = { _ in true }) -> Int {
        guard rect.height >= 2 else { return 0 }
        let all = Selectors.eventLines(state)
        let mine = all.filter(about)
        var y = rect.y
        b.put(title, x: rect.x, y: y, role: .title, maxWidth: rect.width)
        y += 1
        if mine.isEmpty { b.put("(none yet)", x: rect.x, y: y, role: .dim); y += 1 }
        for line in mine where y < rect.bottom {
            b.put(eventSummary(line), x: rect.x, y: y, role: role(line.kind), maxWidth: rect.width)
            y += 1
        }
        let others = all.filter { !about($0) }
        if showOthers, !others.isEmpty, mine.count < all.count, rect.bottom - y >= 3 {
            y += 1
            b.put("OTHER EVENTS", x: rect.x, y: y, role: .title)
            y += 1
            for line in others where y < rect.bottom {
                b.put(eventSummary(line), x: rect.x, y: y, role: role(line.kind), maxWidth: rect.width)
                y += 1
            }
        }
        return y - rect.y
    }
}
