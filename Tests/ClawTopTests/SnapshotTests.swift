import ClawAdminAPI
import ClawShared
import ClawTopCore
import Foundation
import Testing

/// Rendered screens against files in `Snapshots/` (the text, then a map of the roles). A changed
/// screen fails with the first line that differs; `CLAW_RECORD_SNAPSHOTS=1 swift test` records
/// them again, on request only.
func assertSnapshot(_ screen: ScreenBuffer, named name: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let roles = (0..<screen.height).map { y in
        String((0..<screen.width).map { x in Character(Role.allCases.firstIndex(of: screen[x, y].role).map { String(UnicodeScalar(UInt8(97 + $0))) } ?? "?") })
    }
    let text = screen.lines.joined(separator: "\n") + "\n--- roles (a = \(Role.allCases[0]), ...)\n" + roles.joined(separator: "\n") + "\n"
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")
    let file = folder.appendingPathComponent(name + ".txt")
    if ProcessInfo.processInfo.environment["CLAW_RECORD_SNAPSHOTS"] == "1" {
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try? text.write(to: file, atomically: true, encoding: .utf8)
        return
    }
    guard let recorded = try? String(contentsOf: file, encoding: .utf8) else {
        Issue.record("no snapshot \(file.path); record it with CLAW_RECORD_SNAPSHOTS=1", sourceLocation: sourceLocation)
        return
    }
    guard recorded != text else { return }
    let got = text.split(separator: "\n", omittingEmptySubsequences: false)
    let want = recorded.split(separator: "\n", omittingEmptySubsequences: false)
    let index = (0..<min(got.count, want.count)).first { got[$0] != want[$0] } ?? min(got.count, want.count)
    Issue.record("screen \(name) differs at line \(index + 1):\n got: \(index < got.count ? String(got[index]) : "(end)")\nwant: \(index < want.count ? String(want[index]) : "(end)")",
                 sourceLocation: sourceLocation)
}

@Suite struct SnapshotTests {
    @Test func providersAt80x24() { assertSnapshot(View.render(sampleState(width: 80, height: 24)), named: "providers-80x24") }

    @Test func everyPaneAt120x30() {
        var state = sampleState(width: 120, height: 30)
        for pane in Pane.allCases {
            Reducer.reduce(&state, .selectPane(pane))
            assertSnapshot(View.render(state), named: "pane-\(pane.title.lowercased())-120x30")
        }
    }

    @Test func helpAndDialogAt80x24() {
        var state = sampleState(width: 80, height: 24)
        Reducer.reduce(&state, .toggleHelp)
        assertSnapshot(View.render(state), named: "help-80x24")
        Reducer.reduce(&state, .toggleHelp)
        Reducer.handle(&state, .character("d"))
        assertSnapshot(View.render(state), named: "confirm-drain-80x24")
    }

    @Test func tinyScreens() {
        assertSnapshot(View.render(sampleState(width: 20, height: 5)), named: "tiny-20x5")
    }
}
