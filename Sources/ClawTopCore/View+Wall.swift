import ClawAdminAPI
import Foundation

/// `clawtop --wall`: the incident war-room's screen. Read-only, readable across a room, and loud
/// when its own data is old, so a frozen wall never looks healthy.
extension View {
    /// What the wall shows in its cycle: the overview, then each provider that is not healthy.
    public static func wallViews(_ state: AppState) -> [String?] {
        [nil] + state.fleet.rows.filter { ![.healthy, .drained].contains($0.state) }.map(\.id)
    }

    /// Seconds since any node last answered (nil: none ever did).
    public static func freshestAge(_ state: AppState) -> Double? {
        state.fleet.nodes.compactMap { $0.age(now: state.now) }.min()
    }

    static func renderWall(_ state: AppState, _ settings: WallSettings) -> ScreenBuffer {
        var b = ScreenBuffer(width: state.width, height: state.height)
        b.cutMark = state.ascii ? "~" : "…"
        guard state.width >= minimumWidth, state.height >= minimumHeight else {
            let lines = ["Terminal too small:", "need \(minimumWidth)x\(minimumHeight),", "have \(state.width)x\(state.height).", "q quits."]
            for (y, line) in lines.enumerated() { b.put(line, x: 0, y: y, role: .warn) }
            return b
        }
        let time = clock(state.now) + " UTC"
        header(state, &b, reserve: time.count + 2)
        b.put(time, x: max(0, b.width - time.count - 1), y: 0, role: .headerValue)
        let age = freshestAge(state)
        let stale = age.map { $0 > settings.staleAfter } ?? true
        let status = state.fleet.status(now: state.now)
        let word = stale ? "stale" : status.word
        // The status word in block letters where there is room, with the clock beside it.
        var y = 2
        let (label, role) = statusWord(word, ascii: state.ascii)
        let bigText = word.uppercased()
        let scale = state.width >= 200 && state.height >= 50 ? 2 : 1
        if state.height >= 20, BigFont.width(bigText, scale: scale) <= state.width {
            BigFont.draw(bigText, into: &b, x: 1, y: y, scale: scale, role: role, ascii: state.ascii)
            let clockText = String(clock(state.now).prefix(5))
            let clockWidth = BigFont.width(clockText, scale: scale)
            if BigFont.width(bigText, scale: scale) + clockWidth + 6 <= state.width {
                BigFont.draw(clockText, into: &b, x: state.width - clockWidth - 1, y: y, scale: scale, role: .dim, ascii: state.ascii)
            }
            y += BigFont.height * scale + 1
        } else {
            b.put(label, x: 0, y: y, role: role)
            y += 2
        }
        if stale {
            let since = age.map { "no node has answered for \(Format.duration($0))" } ?? "no node has answered yet"
            b.put("\(label): \(since); what is shown below is that old", x: 0, y: y, role: .crit)
            y += 1
            for node in state.fleet.nodes where y < b.height - 2 {
                b.put("  \(node.name): \(node.error ?? "no answer")", x: 0, y: y, role: .crit, maxWidth: b.width)
                y += 1
            }
            // Every row says it, so that no corner of a frozen wall looks healthy.
            for row in (y + 1)..<max(y + 1, b.height - 1) where row % 3 == 0 {
                let text = "STALE \(age.map { Format.duration($0) } ?? "")  "
                b.put(String(repeating: text, count: b.width / text.count + 1), x: 0, y: row, role: .crit, maxWidth: b.width)
            }
            wallFooter(state, settings, &b, showing: nil, views: 1)
            return b
        }
        // The word in plain text too, with why (what a screen reader or a capture reads).
        let why = status.reasons.first.map { "  " + $0 } ?? "  every node serving, every provider healthy"
        b.put(label + why, x: 0, y: y, role: role, maxWidth: b.width)
        y += 1
        // A drill first, in its own colour: what is failing is failing on purpose, and until when.
        for line in drills(state).prefix(3) {
            b.fill(row: y, role: .warn)
            b.put(" " + line, x: 0, y: y, role: .warn, maxWidth: b.width)
            y += 1
        }
        // The incident banner: what is wrong and for how long.
        for line in incidents(state).prefix(max(1, (b.height - y) / 4)) {
            b.fill(row: y, role: .crit)
            b.put(" " + line, x: 0, y: y, role: .crit, maxWidth: b.width)
            y += 1
        }
        y += 1
        let views = wallViews(state)
        let index = settings.cycle > 0 ? Int((state.now / settings.cycle).rounded(.down)) % views.count : 0
        let area = (top: y, bottom: b.height - 1)
        if area.bottom - area.top >= 4 {
            if let id = views[index] { detail(state, id, &b, area) } else { overview(state, &b, area) }
        }
        wallFooter(state, settings, &b, showing: views[index], views: views.count)
        return b
    }

    static func wallFooter(_ state: AppState, _ settings: WallSettings, _ b: inout ScreenBuffer, showing: String?, views: Int) {
        let y = b.height - 1
        b.fill(row: y, role: .footer)
        var text = " wall (read-only)  q quit  p pause  t theme"
        if views > 1 { text += "  cycling every \(Format.duration(settings.cycle)): \(showing.map { "provider \($0)" } ?? "overview") of \(views)" }
        if state.paused { text += "  PAUSED" }
        b.put(text, x: 0, y: y, role: .footer)
    }

    /// The drills in force, one line each: "DRILL provider fast: outage on every attempt on 3 of 3
    /// nodes, 1m12s left (set by ops: DR test)".
    public static func drills(_ state: AppState) -> [String] {
        state.fleet.rows.compactMap { row in
            guard let fault = row.fault else { return nil }
            return "DRILL provider \(row.id): \(fault.summary)\(fault.ratio < 1 ? " of attempts" : " on every attempt") on \(row.faultNodes) of \(row.nodes) node\(row.nodes == 1 ? "" : "s"), "
                + "\(Format.duration(max(0, fault.until - state.now))) left" + (fault.actor.map { " (set by \($0)\(fault.reason.map { ": \($0)" } ?? ""))" } ?? "")
        }
    }

    /// What is wrong, in words, with how long it has been so: for the wall's banner, the worst
    /// first (a provider out on every node or a route in panic, then critical alerts, nodes that do
    /// not answer, providers out on some nodes, other alerts, then what is merely degraded).
    public static func incidents(_ state: AppState) -> [String] {
        var lines: [(rank: Int, text: String)] = []
        let now = state.now
        let answering = state.fleet.nodes.compactMap(\.snapshot)
        for row in state.fleet.rows where ![.healthy, .drained].contains(row.state) {
            let out = answering.compactMap { s in s.providers.first { $0.id == row.id } }.filter { $0.state == .ejected || $0.state == .probing }
            if !out.isEmpty {
                let since = out.map(\.circuit.since).filter { $0 > 0 }.min()
                lines.append((out.count == answering.count ? 0 : 3,
                              "provider \(row.id) ejected on \(out.count) of \(answering.count) node\(answering.count == 1 ? "" : "s")"
                                + (since.map { " for \(Format.duration(max(0, now - $0)))" } ?? "")))
            } else {
                lines.append((5, "provider \(row.id) \(row.state)"))
            }
        }
        for alert in state.fleet.monitor.firing {
            lines.append((alert.severity == "critical" ? 1 : 4,
                          "alert \(state.fleet.naming(alert.selector)) firing (\(alert.severity)) for \(Format.duration(max(0, now - alert.since)))"))
        }
        for node in state.fleet.nodes {
            let health = node.health(now: now, staleAfter: state.fleet.staleAfter)
            if ["unreachable", "stale", "incompatible"].contains(health) {
                lines.append((2, "node \(node.name) \(health)" + (node.age(now: now).map { " for \(Format.duration($0))" } ?? "")))
            } else if let s = node.snapshot, s.node.state != .serving {
                lines.append((5, "node \(node.name) \(s.node.state.rawValue)"))
            }
        }
        for s in answering {
            for route in s.routes where route.panic { lines.append((0, "route \(route.alias) on \(s.node.id) has no available provider (panic)")) }
        }
        // Stable: within a rank, the order above.
        return lines.enumerated().sorted { ($0.element.rank, $0.offset) < ($1.element.rank, $1.offset) }.map(\.element.text)
    }
}

/// Block letters five cells high for the wall's status word and clock.
enum BigFont {
    static let height = 5
    static let glyphs: [Character: [String]] = [
        "A": [" ### ", "#   #", "#####", "#   #", "#   #"],
        "C": [" ####", "#    ", "#    ", "#    ", " ####"],
        "D": ["#### ", "#   #", "#   #", "#   #", "#### "],
        "E": ["#####", "#    ", "#### ", "#    ", "#####"],
        "G": [" ####", "#    ", "#  ##", "#   #", " ####"],
        "I": ["#####", "  #  ", "  #  ", "  #  ", "#####"],
        "K": ["#   #", "#  # ", "###  ", "#  # ", "#   #"],
        "L": ["#    ", "#    ", "#    ", "#    ", "#####"],
        "N": ["#   #", "##  #", "# # #", "#  ##", "#   #"],
        "O": [" ### ", "#   #", "#   #", "#   #", " ### "],
        "R": ["#### ", "#   #", "#### ", "#  # ", "#   #"],
        "S": [" ####", "#    ", " ### ", "    #", "#### "],
        "T": ["#####", "  #  ", "  #  ", "  #  ", "  #  "],
        "U": ["#   #", "#   #", "#   #", "#   #", " ### "],
        "W": ["#   #", "#   #", "# # #", "## ##", "#   #"],
        "0": [" ### ", "#  ##", "# # #", "##  #", " ### "],
        "1": ["  #  ", " ##  ", "  #  ", "  #  ", " ### "],
        "2": [" ### ", "#   #", "  ## ", " #   ", "#####"],
        "3": ["#### ", "    #", " ### ", "    #", "#### "],
        "4": ["#   #", "#   #", "#####", "    #", "    #"],
        "5": ["#####", "#    ", "#### ", "    #", "#### "],
        "6": [" ### ", "#    ", "#### ", "#   #", " ### "],
        "7": ["#####", "    #", "   # ", "  #  ", "  #  "],
        "8": [" ### ", "#   #", " ### ", "#   #", " ### "],
        "9": [" ### ", "#   #", " ####", "    #", " ### "],
        ":": ["     ", "  #  ", "     ", "  #  ", "     "],
        " ": ["     ", "     ", "     ", "     ", "     "],
    ]

    static func width(_ text: String, scale: Int) -> Int { text.count * 6 * scale - scale }

    static func draw(_ text: String, into b: inout ScreenBuffer, x: Int, y: Int, scale: Int, role: Role, ascii: Bool) {
        let ink = ascii ? "#" : "█"
        for (i, character) in text.enumerated() {
            guard let rows = glyphs[character] else { continue }
            for (row, pattern) in rows.enumerated() {
                for (column, cell) in pattern.enumerated() where cell == "#" {
                    for dy in 0..<scale {
                        b.put(String(repeating: ink, count: scale), x: x + (i * 6 + column) * scale, y: y + row * scale + dy, role: role)
                    }
                }
            }
        }
    }
}
