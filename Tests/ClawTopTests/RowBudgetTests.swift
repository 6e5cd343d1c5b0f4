import Foundation
import ClawTopCore
import Testing

/// Issue 30, "use the screen": the overview grows with the terminal; the rows go to the tables
/// and lists first, the rest to the graphs.
@Suite struct RowBudgetTests {
    static func used(_ scene: WarRoom.Scene, _ width: Int, _ height: Int) -> Int {
        View.render(WarRoom.state(scene, width: width, height: height)).lines.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.count
    }

    @Test func theOverviewUsesTheRowsItIsGiven() {
        #expect(Self.used(.healthy, 120, 40) >= 36, "\(Self.used(.healthy, 120, 40)) of 40")
        #expect(Self.used(.healthy, 200, 60) >= 54, "\(Self.used(.healthy, 200, 60)) of 60")
        #expect(Self.used(.incident, 120, 40) >= 36, "\(Self.used(.incident, 120, 40)) of 40")
        #expect(Self.used(.healthy, 300, 90) >= 80, "\(Self.used(.healthy, 300, 90)) of 90")
    }

    static func used(_ scene: WarRoom.Scene, _ pane: Pane, _ width: Int, _ height: Int) -> Int {
        var state = WarRoom.state(scene, width: width, height: height)
        Reducer.reduce(&state, .selectPane(pane))
        return View.render(state).lines.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.count
    }

    /// The panes use the rows under their tables for the selected row's detail, its graph and
    /// the events: with 4 providers the Providers pane used 8 of 40 rows at 120x40.
    @Test func thePanesUseTheRowsUnderTheirTables() {
        for pane in [Pane.providers, .nodes, .routes, .cost, .clients] {
            for scene in [WarRoom.Scene.healthy, .incident] {
                for (w, h, aim) in [(120, 40, 34), (200, 60, 54)] {
                    let used = Self.used(scene, pane, w, h)
                    #expect(used >= aim, "\(pane) \(scene) at \(w)x\(h): \(used) of \(h) rows used, aim \(aim)")
                }
            }
        }
        // The Events pane: every event line, then the selected one in full; the Alerts pane: the
        // selected alert, its labels and the events about what it names.
        var events = WarRoom.state(.incident, width: 120, height: 40)
        Reducer.reduce(&events, .selectPane(.events))
        let lines = Selectors.eventLines(events).count
        #expect(Self.used(.incident, .events, 120, 40) >= 4 + lines + 8, "\(Self.used(.incident, .events, 120, 40)) rows for \(lines) event lines")
        var alerts = WarRoom.state(.incident, width: 120, height: 40)
        Reducer.reduce(&alerts, .selectPane(.alerts))
        let text = View.render(alerts).text
        #expect(text.contains("labels: provider=cheap") && text.contains("EVENTS about cheap") && text.contains("health_failed cheap"), "\(text)")
    }
}
