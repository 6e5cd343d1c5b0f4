/// Keys and the help that the overlay and the footer show, from one table.
public struct KeyBinding: Sendable {
    public var keys: [KeyEvent]
    public var label: String
    public var help: String
    public var action: Action
    /// Changes the fleet: unbound with --read-only.
    public var dangerous = false
}

public enum KeyMap {
    public static let bindings: [KeyBinding] = [
        .init(keys: [.character("?")], label: "?", help: "help", action: .toggleHelp),
        .init(keys: [.character("q"), .interrupt], label: "q", help: "quit", action: .quit),
        .init(keys: [.tab], label: "Tab", help: "next pane", action: .nextPane),
        .init(keys: [.backTab], label: "S-Tab", help: "previous pane", action: .previousPane),
        .init(keys: [.down, .character("j")], label: "j/k", help: "move", action: .moveSelection(1)),
        .init(keys: [.up, .character("k")], label: "", help: "", action: .moveSelection(-1)),
        .init(keys: [.pageDown], label: "PgDn", help: "page down", action: .moveSelection(10)),
        .init(keys: [.pageUp], label: "PgUp", help: "page up", action: .moveSelection(-10)),
        .init(keys: [.character("g"), .home], label: "g/Home", help: "first row", action: .moveSelection(-1_000_000)),
        .init(keys: [.character("G"), .end], label: "G/End", help: "last row", action: .moveSelection(1_000_000)),
        .init(keys: [.character("s")], label: "s", help: "sort providers", action: .cycleSort),
        .init(keys: [.character("S")], label: "S", help: "reverse the sort", action: .reverseSort),
        .init(keys: [.character("p")], label: "p", help: "pause polling", action: .togglePause),
        .init(keys: [.character("t")], label: "t", help: "next theme", action: .cycleTheme),
        .init(keys: [.escape], label: "Esc", help: "back", action: .escape),
        .init(keys: [.character(":")], label: ":", help: "command line", action: .openCommandLine),
        .init(keys: [.character("/")], label: "/", help: "filter rows", action: .openFilter),
        .init(keys: [.enter], label: "Enter", help: "details (provider, event, request)", action: .openDetail),
        .init(keys: [.character("d")], label: "d", help: "drain provider/node", action: .drainSelected, dangerous: true),
        .init(keys: [.character("u")], label: "u", help: "undrain provider/node", action: .undrainSelected, dangerous: true),
        .init(keys: [.character("w")], label: "w", help: "set weight", action: .weightPrompt, dangerous: true),
        .init(keys: [.character("+")], label: "+/-", help: "weight by 10", action: .weightStep(10), dangerous: true),
        .init(keys: [.character("-")], label: "", help: "", action: .weightStep(-10), dangerous: true),
        .init(keys: [.character("f")], label: "f", help: "fail over provider", action: .failoverPrompt, dangerous: true),
        .init(keys: [.character("F")], label: "F", help: "restore provider", action: .restoreSelected, dangerous: true),
        .init(keys: [.character("b")], label: "b", help: "block client (Clients pane)", action: .blockSelected, dangerous: true),
        .init(keys: [.character("B")], label: "B", help: "unblock client", action: .unblockSelected, dangerous: true),
        .init(keys: [.character("z")], label: "z", help: "silence alert (Alerts pane)", action: .silencePrompt, dangerous: true),
    ] + Pane.allCases.map { pane in
        .init(keys: [.character(Character(String(pane.rawValue)))], label: String(pane.rawValue),
              help: pane.title, action: .selectPane(pane))
    }

    public static func action(for key: KeyEvent, readOnly: Bool = false) -> Action? {
        bindings.first { $0.keys.contains(key) && !(readOnly && $0.dangerous) }?.action
    }

    /// The wallboard's only keys: quit, pause, theme. Nothing else acts, whatever the token.
    public static let wallKeys: [KeyEvent: Action] = [.character("q"): .quit, .interrupt: .quit, .character("p"): .togglePause, .character("t"): .cycleTheme]

    /// What the footer and the help list: with --read-only, no key that changes the fleet, and the
    /// command line says it only views.
    public static func visible(readOnly: Bool) -> [KeyBinding] {
        bindings.filter { !$0.label.isEmpty && !(readOnly && $0.dangerous) }.map { binding in
            guard readOnly, binding.action == .openCommandLine else { return binding }
            var viewOnly = binding
            viewOnly.help = "command line (read-only)"
            return viewOnly
        }
    }
}
