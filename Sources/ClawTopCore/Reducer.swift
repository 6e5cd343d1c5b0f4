/// The only place state changes: an action in, the new state out.
public enum Reducer {
    public static func reduce(_ state: inout AppState, _ action: Action) {
        switch action {
        case .quit:
            state.quit = true
        case .toggleHelp:
            state.showHelp.toggle()
        case .escape:
            state.showHelp = false
        case .nextPane:
            state.pane = Pane(rawValue: (state.pane.rawValue + 1) % Pane.allCases.count)!
        case .previousPane:
            state.pane = Pane(rawValue: (state.pane.rawValue + Pane.allCases.count - 1) % Pane.allCases.count)!
        case .selectPane(let pane):
            state.pane = pane
        case .moveSelection(let delta):
            let count = rowCount(state, state.pane)
            let current = state.selected(state.pane)
            state.selection[state.pane] = count == 0 ? 0 : min(max(0, current + delta), count - 1)
        case .cycleSort:
            let all = ProviderSort.allCases
            state.sort = all[(all.firstIndex(of: state.sort)! + 1) % all.count]
        case .togglePause:
            state.paused.toggle()
        case .resize(let width, let height):
            state.width = max(0, width)
            state.height = max(0, height)
        case .polled(let index, let snapshot, let raw, let events, let error, let at):
            guard state.fleet.nodes.indices.contains(index) else { return }
            var node = state.fleet.nodes[index]
            if let snapshot {
                node.snapshot = snapshot
                node.raw = raw?.value
                node.lastSuccess = at
                node.error = nil
            } else {
                node.error = error ?? "no answer"
            }
            if !events.isEmpty {
                node.events = Array((node.events + events).suffix(500))
                node.eventCursor = events.last!.sequence
            }
            state.fleet.nodes[index] = node
        }
        // Keep selections inside their lists as data changes.
        for pane in Pane.allCases {
            let count = rowCount(state, pane)
            if state.selected(pane) >= count { state.selection[pane] = max(0, count - 1) }
        }
    }

    static func rowCount(_ state: AppState, _ pane: Pane) -> Int {
        switch pane {
        case .providers, .cost: state.fleet.providerRows(now: state.now).count
        case .nodes: state.fleet.nodes.count
        case .routes: View.routeLines(state).count
        case .events: View.allEvents(state).count
        }
    }
}
