import ClawAdminAPI
import ClawShared
import ClawTopCore
import Testing

/// Issue 25 point 7: strings from the network (node ids, reasons, event details, errors) are
/// shown escaped on screen and in every text report, never passed to the terminal.
@Suite struct TerminalSafetyTests {
    static let osc = "demo\u{1B}]0;owned\u{07}"
    static let reason = "\u{1B}[31mred\u{0} nul\r cr\nstatus OK forged"

    /// No cell, and no character of a report but its own line breaks, is a control character.
    static func hasControl(_ text: String, keepingNewlines: Bool = false) -> Bool {
        text.unicodeScalars.contains { s in (s.value < 0x20 && !(keepingNewlines && s == "\n")) || (0x7F..<0xA0).contains(s.value) }
    }

    static func hostile() -> AppState {
        var state = Truth.state(nodes: 2, width: 200, height: 60) { n, snap, doc in
            if n == 0 { snap.node.id = osc }
            snap.providers[0].circuit.reason = reason
            Truth.drain("premium", &snap, &doc)
        }
        let events = [Event(sequence: 1, time: 990, node: osc, kind: .operatorAction, subject: "provider:premium", detail: reason)]
        let node = state.fleet.nodes[0]
        Reducer.reduce(&state, .pollBatch(PollBatch(nodes: [NodePoll(index: 0, snapshot: node.snapshot, raw: nil, events: events, error: nil,
                                                                      operatorState: node.operatorState, audit: [])], at: 999)))
        return state
    }

    @Test func escapesReadAsWhatTheyAre() {
        #expect(TerminalText.safe(Self.osc) == "demo\\e]0;owned\\x07")
        #expect(TerminalText.safe(Self.reason) == "\\e[31mred\\x00 nul\\r cr\\nstatus OK forged")
        #expect(TerminalText.safe("a\u{7F}b\u{9B}c\u{202E}d\te") == "a\\x7fb\\x9bc\\u{202E}d\\te")
        #expect(TerminalText.safe("premium ✔ café") == "premium ✔ café")
        #expect(TerminalText.safeLines("one\u{1B}\ntwo\r\n") == "one\\e\ntwo\\r\n")
        var b = ScreenBuffer(width: 30, height: 1)
        #expect(b.put("x\u{1B}[1my", x: 0, y: 0) == 7)
        #expect(b.line(0).hasPrefix("x\\e[1my"))
    }

    @Test func theScreenShowsHostileNamesReasonsAndDetailsEscaped() {
        var state = Self.hostile()
        for pane in Pane.allCases {
            Reducer.reduce(&state, .selectPane(pane))
            let screen = View.render(state)
            #expect(!Self.hasControl(screen.lines.joined()), "\(pane): \(screen.text)")
        }
        Reducer.reduce(&state, .selectPane(.overview))
        let overview = View.render(state).text
        #expect(overview.contains("demo\\e]0;owned\\x07"), "\(overview)")
        Reducer.reduce(&state, .selectPane(.events))
        #expect(View.render(state).text.contains("\\e[31mred\\x00 nul\\r cr\\nstatus OK forged"))
        state.detail = "premium"
        let detail = View.render(state)
        #expect(!Self.hasControl(detail.lines.joined()) && detail.text.contains("\\e[31mred"), "\(detail.text)")
    }

    @Test func textReportsKeepTheirOwnLinesAndEscapeTheRest() {
        let state = Self.hostile()
        let once = SnapshotReport.text(state.fleet, now: 1000)
        #expect(!Self.hasControl(once, keepingNewlines: true), "\(once)")
        #expect(once.contains("demo\\e]0;owned\\x07"), "\(once)")
        #expect(!once.contains("\nstatus OK forged"))
        let audit = [AuditEntry(sequence: 1, time: 950, actor: "ops\u{1B}[2J", action: "provider.drain", target: "provider:premium", before: .null, after: .null,
                                reason: Self.reason, revision: 2)]
        let events = [Event(sequence: 1, time: 990, node: Self.osc, kind: .operatorAction, subject: "provider:premium", detail: Self.reason)]
        let timeline = Timeline.build(nodes: [.init(name: Self.osc, events: events, audit: audit), .init(name: "x\u{0}", events: [], audit: [], error: "bad\u{1B}[0m")],
                                      alerts: [], since: 0)
        for (name, text) in [("text", timeline.text), ("markdown", timeline.markdown)] {
            #expect(!Self.hasControl(text, keepingNewlines: true), "\(name): \(text)")
            #expect(text.contains("\\e[31mred\\x00 nul\\r cr\\nstatus OK forged"), "\(name): \(text)")
            #expect(!text.contains("\nstatus OK forged"), "\(name)")
        }
        // JSON stays JSON: the encoder escapes, the text is as the node sent it.
        #expect(timeline.json["entries"]?.arrayValue?.contains { $0["text"]?.stringValue?.contains(Self.reason) == true } == true)
    }
}
