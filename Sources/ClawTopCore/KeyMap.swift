/// Keys and the help that the overlay and the footer show, from one table.
public struct KeyBinding: Sendable {
    public var keys: [KeyEvent]
    public var label: String
    public var help: String
    public var action: Action
}

public enum KeyMap {
    public static let bindings: [KeyBinding] = [
        .init(keys: [.character("?")], label: "?", help: "help", action: .toggleHelp),
        .init(keys: [.character("q")], label: "q", help: "quit", action: .quit),
        .init(keys: [.tab], label: "Tab", help: "next pane", action: .nextPane),
        .init(keys: [.backTab], label: "S-Tab", help: "previous pane", action: .previousPane),
        .init(keys: [.down, .character("j")], label: "j/k", help: "move", action: .moveSelection(1)),
        .init(keys: [.up, .character("k")], label: "", help: "", action: .moveSelection(-1)),
        .init(keys: [.pageDown], label: "PgDn", help: "page down", action: .moveSelection(10)),
        .init(keys: [.pageUp], label: "PgUp", help: "page up", action: .moveSelection(-10)),
        .init(keys: [.character("s")], label: "s", help: "sort providers", action: .cycleSort),
        .init(keys: [.character("p")], label: "p", help: "pause polling", action: .togglePause),
        .init(keys: [.escape], label: "Esc", help: "back", action: .escape),
    ] + Pane.allCases.map { pane in
        .init(keys: [.character(Character(String(pane.rawValue + 1)))], label: String(pane.rawValue + 1),
              help: pane.title, action: .selectPane(pane))
    }

    public static func action(for key: KeyEvent) -> Action? {
        bindings.first { $0.keys.contains(key) }?.action
    }
}
