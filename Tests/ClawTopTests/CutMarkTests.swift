import ClawAdminAPI
import ClawTopCore
import Testing

/// Issue 30, "nothing cut without a mark": text that does not fit ends in `…` (`~` with --ascii).
@Suite struct CutMarkTests {
    @Test func textCutAtItsWidthEndsInAMark() {
        var b = ScreenBuffer(width: 12, height: 2)
        b.put("abcdefghijklmnop", x: 0, y: 0, maxWidth: 8)
        #expect(b.line(0) == "abcdefg…    ")
        b.put("fits", x: 0, y: 1, maxWidth: 4)
        #expect(b.line(1).hasPrefix("fits "))
        b.cutMark = "~"
        b.put("abcdefghijklmnop", x: 2, y: 1, maxWidth: 20)
        #expect(b.line(1) == "fiabcdefghi~")
    }

    @Test func theStatusLineTheMessageAndNodeChipsMarkWhatTheyCut() {
        var state = Truth.state(width: 80, height: 24) { _, snap, doc in Truth.drain("premium", &snap, &doc) }
        Reducer.reduce(&state, .selectPane(.overview))
        let status = View.render(state).lines.first { $0.contains("DEGRADED") } ?? ""
        #expect(status.hasSuffix("…"), "\(status)")
        state.message = StatusMessage(String(repeating: "result ", count: 20), .warn)
        #expect(View.render(state).line(22).hasSuffix("…"))
        state.ascii = true
        #expect(View.render(state).line(22).hasSuffix("~"))
    }
}
