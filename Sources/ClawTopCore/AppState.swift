/// The panes of the console, in Tab order; digits 1-5 jump to them.
public enum Pane: Int, Sendable, CaseIterable {
    case providers, nodes, routes, cost, events

    public var title: String {
        switch self {
        case .providers: "Providers"
        case .nodes: "Nodes"
        case .routes: "Routes"
        case .cost: "Cost"
        case .events: "Events"
        }
    }
}

/// A key as the driver read it.
public enum KeyEvent: Sendable, Equatable {
    case character(Character)
    case up, down, left, right, pageUp, pageDown, home, end
    case tab, backTab, enter, escape, backspace
}

/// What the console does next; keys become actions through the key map.
public enum Action: Sendable, Equatable {
    case quit
    case toggleHelp
    case nextPane, previousPane
    case selectPane(Pane)
    case moveSelection(Int)
    case cycleSort
    case togglePause
    case escape
    case resize(width: Int, height: Int)
    case polled(index: Int, snapshot: NodeSnapshot?, raw: JSONValueBox?, events: [EventInfo], error: String?, at: Double)
}

/// Wraps the raw snapshot JSON so actions stay Equatable without comparing whole documents.
public struct JSONValueBox: Sendable, Equatable {
    public let value: JSONValue
    public init(_ value: JSONValue) { self.value = value }
    public static func == (a: JSONValueBox, b: JSONValueBox) -> Bool { true }
}

import ClawShared

public enum ProviderSort: String, Sendable, CaseIterable {
    case name, state, rps, errors, p99, cost
}

/// Everything the screen shows, changed only by the reducer.
public struct AppState: Sendable, Equatable {
    public var fleet: Fleet
    public var pane: Pane = .providers
    public var selection: [Pane: Int] = [:]
    public var sort: ProviderSort = .name
    public var paused = false
    public var showHelp = false
    public var readOnly = false
    public var ascii = false
    public var quit = false
    public var width = 80
    public var height = 24
    /// Wall-clock seconds, set by the driver each frame.
    public var now = 0.0

    public init(fleet: Fleet, readOnly: Bool = false, ascii: Bool = false) {
        self.fleet = fleet
        self.readOnly = readOnly
        self.ascii = ascii
    }

    public func selected(_ pane: Pane) -> Int { selection[pane] ?? 0 }
}
