import ClawTerminal
import Testing

/// Which terminal type the console drives, decided before anything starts.
@Suite struct TerminalChoiceTests {
    func choose(_ term: String?, known: Set<String>, stdin: Bool = true, stdout: Bool = true) -> Result<TerminalChoice, TerminalError> {
        TerminalChoice.choose(environment: term.map { ["TERM": $0] } ?? [:], stdinIsTTY: stdin, stdoutIsTTY: stdout,
                              hasEntry: { known.contains($0) })
    }

    @Test func aKnownTermIsUsedAsItIs() throws {
        #expect(try choose("screen-256color", known: ["screen-256color", "xterm"]).get() == TerminalChoice(term: "screen-256color", missing: nil))
        #expect(try choose("screen-256color", known: ["screen-256color"]).get().note == nil)
    }

    @Test func anUnknownTermFallsBackToTheClosestThatExistsAndSaysSo() throws {
        let choice = try choose("xterm-kitty", known: ["xterm", "vt100"]).get()
        #expect(choice == TerminalChoice(term: "xterm", missing: "xterm-kitty"))
        #expect(choice.note == "TERM=xterm-kitty has no terminfo entry on this machine; using xterm")
        #expect(try choose("xterm-ghostty", known: ["xterm-256color", "xterm"]).get().term == "xterm-256color")
        #expect(try choose("alacritty", known: ["vt100"]).get().term == "vt100")
    }

    @Test func refusalsNameTheActualReason() {
        func reason(_ r: Result<TerminalChoice, TerminalError>) -> String { if case .failure(let e) = r { e.description } else { "chosen" } }
        #expect(reason(choose("xterm", known: ["xterm"], stdout: false)).hasPrefix("stdout is not a terminal"))
        #expect(reason(choose("xterm", known: ["xterm"], stdin: false)).hasPrefix("stdin is not a terminal"))
        #expect(reason(choose(nil, known: ["xterm"])).hasPrefix("TERM is not set"))
        #expect(reason(choose("", known: ["xterm"])).hasPrefix("TERM is not set"))
        #expect(reason(choose("dumb", known: ["dumb", "xterm"])).hasPrefix("TERM=dumb cannot draw a screen"))
        #expect(reason(choose("odd", known: [])).contains("no terminfo entry here"))
    }

    @Test func theRealDatabaseKnowsXtermAndNotANameThatDoesNotExist() throws {
        #expect(try TerminalChoice.choose(environment: ["TERM": "xterm-unknown"], stdinIsTTY: true, stdoutIsTTY: true).get().missing == "xterm-unknown")
    }
}
