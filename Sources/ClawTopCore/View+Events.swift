import ClawAdminAPI
import Foundation

/// Pane 5: events of every node, newest first.
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

    static func events(_ state: AppState, _ b: inout ScreenBuffer, _ area: (top: Int, bottom: Int)) {
        let columns = [
            Column(title: "TIME", width: 8, right: false, priority: 0),
            Column(title: "NODE", width: 10, right: false, priority: 3),
            Column(title: "EVENT", width: 18, right: false, priority: 1),
            Column(title: "SUBJECT", width: 14, right: false, priority: 2),
            Column(title: "DETAIL", width: max(10, b.width - 55), right: false, priority: 4),
        ]
        let rows: [[(String, Role)]] = Selectors.allEvents(state).map { e in
            [(clock(e.time), .dim), (e.node, .normal), (e.kind.rawValue, role(e.kind)), (e.subject, .normal), (e.detail, .normal)]
        }
        table(&b, area, columns: columns, rows: rows, selected: state.selected(.events), ascii: state.ascii)
    }
}
