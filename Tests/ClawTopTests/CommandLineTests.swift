import ClawAdminAPI
import ClawShared
import ClawTopCore
import Testing

/// Issue 30, "discoverable": the `:` line completes with Tab, edits like readline, walks its
/// history, suggests the nearest command for a typo; `?` lists the commands with their arguments.
@Suite struct CommandLineTests {
    static func typing(_ keys: [KeyEvent], into state: inout AppState) {
        for key in keys { Reducer.handle(&state, key) }
    }

    static func text(_ s: String) -> [KeyEvent] { s.map { .character($0) } }

    static func line(_ state: AppState) -> String? {
        if case .commandLine(let text) = state.mode { return text }
        return nil
    }

    @Test func tabCompletesCommandsWordsAndTheFleetsNames() {
        var state = Truth.state()
        Reducer.handle(&state, .character(":"))
        Self.typing(Self.text("dra") + [.tab] + Self.text("pro") + [.tab] + Self.text("pr") + [.tab], into: &state)
        #expect(Self.line(state) == "drain provider premium ")
        // `dr` is drain or drill: as far as they agree, with both named.
        #expect(Completion.complete("dr", fleet: state.fleet) == (text: "dr", choices: ["drain", "drill"]))
        // Several matches: as far as they agree, and the choices in the message line.
        state.mode = .commandLine("")
        state.commandCursor = nil
        Self.typing(Self.text("drain node ") + [.tab], into: &state)
        #expect(Self.line(state) == "drain node demo-")
        #expect(state.message?.text == "demo-1  demo-2  demo-3")
        #expect(Completion.complete("weight ", fleet: state.fleet).choices == ["reasoning", "chat"])
        #expect(Completion.complete("weight chat f", fleet: state.fleet).text == "weight chat fast=")
        #expect(Completion.complete("block b", fleet: state.fleet).text == "block batch ")
        #expect(Completion.complete("failover premium t", fleet: state.fleet).text == "failover premium to ")
        #expect(Completion.complete("strategy chat l", fleet: state.fleet).choices == ["least_outstanding", "latency"])
        #expect(Completion.complete("zz", fleet: state.fleet).text == "zz")
    }

    @Test func readlineKeysEditTheLine() {
        var state = Truth.state()
        Reducer.handle(&state, .character(":"))
        Self.typing(Self.text("drain provider fast"), into: &state)
        Reducer.handle(&state, .control("w"))
        #expect(Self.line(state) == "drain provider ")
        Reducer.handle(&state, .control("a"))
        Self.typing(Self.text("un"), into: &state)
        #expect(Self.line(state) == "undrain provider ")
        Reducer.handle(&state, .control("e"))
        Self.typing(Self.text("cheap"), into: &state)
        #expect(Self.line(state) == "undrain provider cheap")
        Self.typing([.left, .left, .backspace], into: &state)
        #expect(Self.line(state) == "undrain provider chap")
        Reducer.handle(&state, .control("u"))
        #expect(Self.line(state) == "ap")
        Reducer.handle(&state, .control("k"))
        #expect(Self.line(state) == "")
        Self.typing(Self.text("drain provider fast"), into: &state)
        Reducer.handle(&state, .control("u"))
        #expect(Self.line(state) == "")
        // The line on screen: no ^ inserted, the cursor where it is.
        Self.typing(Self.text("timeline"), into: &state)
        Reducer.handle(&state, .control("a"))
        let footer = View.render(state).line(state.height - 1)
        #expect(footer.hasPrefix(":timeline") && !footer.contains("^"), "\(footer)")
    }

    @Test func upAndDownWalkTheHistory() {
        var state = Truth.state()
        for command in ["theme dark", "theme light"] {
            Reducer.handle(&state, .character(":"))
            Self.typing(Self.text(command) + [.enter], into: &state)
        }
        Reducer.handle(&state, .character(":"))
        Reducer.handle(&state, .up)
        #expect(Self.line(state) == "theme light")
        Reducer.handle(&state, .up)
        #expect(Self.line(state) == "theme dark")
        Reducer.handle(&state, .down)
        Reducer.handle(&state, .down)
        #expect(Self.line(state) == "")
    }

    @Test func aTypoGetsTheNearestCommand() {
        #expect(Command.parse("dran provider fast").failureText?.contains("did you mean 'drain'?") == true)
        #expect(Command.parse("timelin").failureText?.contains("did you mean 'timeline'?") == true)
        #expect(Command.parse("failovr x").failureText?.contains("did you mean 'failover'?") == true)
        #expect(Command.parse("explode").failureText?.contains("unknown command 'explode'; try:") == true)
    }

    @Test func helpListsTheCommandsWithTheirArguments() {
        var state = Truth.state(width: 80, height: 24)
        let pane = state.pane
        Reducer.reduce(&state, .toggleHelp)
        #expect(View.render(state).text.contains("Tab: the : commands"))
        Reducer.handle(&state, .tab)
        let page = View.render(state).text
        for (verb, arguments) in Completion.commands {
            #expect(page.contains(":" + verb), "\(verb)")
            #expect(arguments.isEmpty || page.contains(String(arguments.prefix(40))), "\(verb) \(arguments)")
        }
        #expect(page.contains(":drain       provider ID | node ID"))  // the verbs as wide as :acknowledge
        Reducer.handle(&state, .tab)
        #expect(View.render(state).text.contains("Keys (Esc or ? closes)"))
        #expect(state.pane == pane)  // Tab turned the page, not the pane
        state.readOnly = true
        Reducer.handle(&state, .tab)
        let readOnly = View.render(state).text
        #expect(!readOnly.contains(":drain") && readOnly.contains(":timeline"))
    }
}
