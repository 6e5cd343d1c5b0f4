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
}
