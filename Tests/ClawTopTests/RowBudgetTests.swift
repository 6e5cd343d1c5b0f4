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
        // The Events pane: every event line, then the selected one in full, then what its subject
        // is doing now (a route's weights on each node and its graph, a provider's whole detail);
        // with one event (healthy) the rows under it are used all the same. (Its sections have a
        // blank row between them, one more than the panes with one detail block.)
        for scene in [WarRoom.Scene.healthy, .incident] {
            for (w, h, aim) in [(120, 40, 34), (200, 60, 52)] {
                let used = Self.used(scene, .events, w, h)
                #expect(used >= aim, "events \(scene) at \(w)x\(h): \(used) of \(h) rows used, aim \(aim)")
            }
        }
        var events = WarRoom.state(.healthy, width: 120, height: 40)
        Reducer.reduce(&events, .selectPane(.events))
        let eventText = View.render(events).text
        #expect(eventText.contains("batch NOW") && eventText.contains("demo-2       route batch: cheap 80 local 20") && eventText.contains("batch requests/s"), "\(eventText)")
        // The Alerts pane, one alert firing: the alert whole (fields, every label), then the
        // provider it names as the Providers pane's detail has it (its breaker on every node), and
        // the events about it (sections a blank row apart, as above).
        for (w, h, aim) in [(120, 40, 32), (200, 60, 52)] {
            let used = Self.used(.incident, .alerts, w, h)
            #expect(used >= aim, "alerts at \(w)x\(h): \(used) of \(h) rows used, aim \(aim)")
        }
        var alerts = WarRoom.state(.incident, width: 120, height: 40)
        Reducer.reduce(&alerts, .selectPane(.alerts))
        let text = View.render(alerts).text
        for part in ["SELECTED ALERT", "severity    critical", "summary     cheap is down on 3 nodes", "labels      provider=cheap", "provider cheap now",
                     "demo-2         ejected     open", "EVENTS about cheap", "health_failed cheap"] {
            #expect(text.contains(part), "\(part) missing: \(text)")
        }
    }
}
