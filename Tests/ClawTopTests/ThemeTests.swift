import ClawTopCore
import ClawTopRuntime
import Foundation
import Testing

@Suite struct ThemeTests {
    @Test(arguments: Theme.shipped)
    func shippedThemesParseAndCoverEveryRole(_ name: String) throws {
        let theme = try ThemeLoader.load(name, environment: [:])
        #expect(theme.name == name)
        for role in Role.allCases { #expect(theme.styles[role] != nil, "\(name) lacks \(role)") }
    }

    @Test func aBadLineIsNamedByFileAndLine() {
        let text = "# comment\nheader = white on blue\nheadr = red\n"
        #expect(throws: ThemeError.self) { try Theme.parse(text, name: "x", file: "x.theme") }
        do {
            _ = try Theme.parse(text, name: "x", file: "x.theme")
        } catch {
            #expect(error.description.hasPrefix("x.theme:3: unknown role 'headr'"))
        }
        do {
            _ = try Theme.parse("ok = chartreuse", name: "x", file: "y.theme")
        } catch {
            #expect(error.description == "y.theme:1: 'chartreuse' is not a colour (a name, 0-255 or #rrggbb)")
        }
        #expect(throws: ThemeError.self) { try Theme.parse("ok = red on", name: "x", file: "z") }
        #expect(throws: ThemeError.self) { try ThemeLoader.load("no-such-theme", environment: [:]) }
    }

    @Test func coloursAreLoweredToWhatTheTerminalHas() {
        #expect(Theme.Color.rgb(255, 0, 0).lowered(to: 256) == 196)
        #expect(Theme.Color.rgb(255, 0, 0).lowered(to: 8) == 1)
        #expect(Theme.Color.rgb(0, 0, 0).lowered(to: 8) == 0)
        #expect(Theme.Color.index(12).lowered(to: 8) == 4)   // bright blue -> blue
        #expect(Theme.Color.index(196).lowered(to: 8) == 1)  // palette red -> red
        #expect(Theme.Color.terminalDefault.lowered(to: 256) == -1)
    }
}
