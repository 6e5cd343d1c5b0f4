import ArgumentParser
import ClawShared
import ClawTerminal
import ClawTopCore
import Foundation
import Synchronization

@main
struct ClawTop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clawtop",
        abstract: "The live operations console for a fleet of clawgate nodes.",
        discussion: """
        Keys: ? help, q quit, Tab/Shift-Tab or 1-6 panes, j/k or arrows move, s sort, p pause, z silence, Esc back.
        --once exit codes: 0 ok, 1 degraded, 2 critical, 3 unknown/unreachable.
        """
    )

    @Option(name: .long, help: "A clawgate node's URL (repeatable, or comma-separated).")
    var node: [String] = []

    @Option(name: .long, help: "Prometheus server URL: fleet figures from PromQL, sparkline history from range queries.")
    var prometheus: String?

    @Option(name: .long, help: "Alertmanager URL: the Alerts pane, a count in the header, and :silence.")
    var alertmanager: String?

    @Option(name: .long, help: "File holding the admin token (else CLAWTOP_TOKEN).")
    var tokenFile: String?

    @Option(name: .long, help: "Seconds between polls (default 2).")
    var refresh: Double?

    @Flag(name: .long, help: "Poll once, print, and exit with the fleet's status.")
    var once = false

    @Option(name: .long, help: "With --once: text or json.")
    var format: String = "text"

    @Flag(name: .long, help: "Leave the action keys unbound.")
    var readOnly = false

    @Flag(name: .long, help: "ASCII only, no Unicode blocks or symbols.")
    var ascii = false

    @Option(name: .long, help: "Theme: dark (default), light, high-contrast, mono, or a path to a .theme file.")
    var theme: String?

    @Option(name: .long, help: "Run one command of the ':' language against the fleet and exit (needs --yes).")
    var exec: String?

    @Flag(name: .long, help: "With --exec: confirm the action (there is no dialog).")
    var yes = false

    @Flag(name: .long, help: "Start a real local fleet (clawsim, three clawgate nodes, traffic, incidents) and watch it.")
    var demo = false

    @Flag(name: .long, help: "With --demo: no screen; print the fleet's URLs and tokens as JSON and run until SIGINT/SIGTERM.")
    var headless = false

    @Option(name: .long, help: "With --demo: seconds between scripted incidents (each lasts half of it).")
    var incidentPeriod: Double = 120

    @Flag(name: .long, help: "With --demo: do not start Prometheus and Alertmanager, even when they are installed.")
    var noMonitors = false

    func validate() throws {
        if let refresh, refresh < 0.2 || refresh > 3600 { throw ValidationError("--refresh must be between 0.2 and 3600 seconds") }
        guard ["text", "json"].contains(format) else { throw ValidationError("--format must be text or json") }
        guard incidentPeriod >= 2, incidentPeriod <= 86400 else { throw ValidationError("--incident-period must be 2..86400 seconds") }
        if headless, !demo { throw ValidationError("--headless goes with --demo") }
        if noMonitors, !demo { throw ValidationError("--no-monitors goes with --demo") }
    }

    /// An http(s) URL without a trailing slash, or a clear error naming the option.
    func checkedURL(_ text: String, _ option: String) throws -> String {
        guard let url = ConsoleConfig.httpURL(text) else { throw fail("\(option): '\(text)' is not an http:// or https:// URL", 2) }
        return url
    }

    func fail(_ message: String, _ code: Int32) -> ExitCode {
        FileHandle.standardError.write(Data("clawtop: \(message)\n".utf8))
        return ExitCode(code)
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let file: ConsoleConfig
        do {
            file = try ConsoleConfig.load(path: ConsoleConfig.path(environment: environment))
        } catch {
            throw fail(error.description, 2)
        }
        let refresh = self.refresh ?? file.refresh ?? 2
        let theme = self.theme ?? file.theme ?? "dark"
        var tokenFile = self.tokenFile ?? file.tokenFile
        var nodes = self.node.isEmpty ? file.nodes : self.node
        let signals = ShutdownSignals()
        var demoFleet: DemoFleet?
        defer { demoFleet?.stop() }
        var demoToken: String?
        var demoMonitors: (prometheus: String?, alertmanager: String?)?
        if demo {
            // A one-shot snapshot has no use for a Prometheus with no history yet.
            let fleet = DemoFleet(incidentPeriod: incidentPeriod, monitors: !noMonitors && !once)
            demoFleet = fleet
            let started: DemoFleet.Started
            do {
                started = try fleet.start()
            } catch {
                throw fail("the demo could not start: \(error)", 1)
            }
            if headless {
                let line: JSONValue = [
                    "nodes": .array(started.nodes.map { ["url": .string($0), "admin": .string($0 + "/admin/v1")] }),
                    "clawsim_control": .string(started.control),
                    "operator_token": .string(started.operatorToken), "viewer_token": .string(started.viewerToken),
                    "prometheus": started.prometheus.map { .string($0) } ?? .null,
                    "alertmanager": started.alertmanager.map { .string($0) } ?? .null,
                ]
                FileHandle.standardOutput.write(Data(line.bytes(sorted: true) + [0x0A]))
                while signals.received == nil { Thread.sleep(forTimeInterval: 0.1) }
                return
            }
            nodes = started.nodes
            tokenFile = nil
            demoToken = started.operatorToken
            demoMonitors = (started.prometheus, started.alertmanager)
        }
        let urls = try nodes.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
            .filter { !$0.isEmpty }
            .map { try checkedURL($0, "--node") }
        guard !urls.isEmpty else { throw fail("give at least one --node URL", 2) }
        // The demo's own Prometheus and Alertmanager (or none): another one does not scrape its nodes.
        // The file's URLs are checked as it is read.
        let prometheusURL = try demoMonitors.map { $0.prometheus } ?? prometheus.map { try checkedURL($0, "--prometheus") } ?? file.prometheus
        let alertmanagerURL = try demoMonitors.map { $0.alertmanager } ?? alertmanager.map { try checkedURL($0, "--alertmanager") } ?? file.alertmanager
        var token = demoToken ?? ProcessInfo.processInfo.environment["CLAWTOP_TOKEN"]
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else { throw fail("cannot read --token-file \(tokenFile)", 2) }
            token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let poller: Poller
        do {
            poller = try Poller(urls: urls, token: token, timeout: min(max(refresh, 1), 5), prometheus: prometheusURL, alertmanager: alertmanagerURL)
        } catch {
            throw fail("clawtop: cannot start HTTP polling: \(error)", 3)
        }
        var fleet = Fleet(urls: urls, staleAfter: max(refresh * 3, 6))
        fleet.monitor = Monitor(prometheusURL: prometheusURL, alertmanagerURL: alertmanagerURL)
        fleet.monitor.actor = "clawtop (\(environment["USER"] ?? environment["LOGNAME"] ?? "unknown user"))"
        var state = AppState(fleet: fleet, readOnly: readOnly, ascii: ascii)
        if let exec {
            try runExec(exec, poller: poller, state: &state, token: token, urls: urls)
        }
        if once {
            // A demo fleet that just started needs a moment of traffic before there is much to show.
            if demo { Thread.sleep(forTimeInterval: 3) }
            for action in poller.poll(cursors: urls.map { _ in 0 }) { Reducer.reduce(&state, action) }
            let now = Date().timeIntervalSince1970
            if format == "json" {
                var bytes = SnapshotReport.json(state.fleet, now: now).bytes(sorted: true)
                bytes.append(0x0A)
                FileHandle.standardOutput.write(Data(bytes))
            } else {
                FileHandle.standardOutput.write(Data(SnapshotReport.text(state.fleet, now: now).utf8))
            }
            throw ExitCode(state.fleet.status(now: now).code)
        }
        try interactive(state: state, poller: poller, token: token, refresh: refresh, theme: theme, signals: signals)
    }

    /// `--exec`: one command, no screen; per-node results on stdout; non-zero when any node refused.
    func runExec(_ line: String, poller: Poller, state: inout AppState, token: String?, urls: [String]) throws {
        let command: Command
        switch Command.parse(line) {
        case .failure(let error): throw fail(error.description, 2)
        case .success(let c): command = c
        }
        guard command.changesFleet else { throw fail("--exec '\(line)' does not change the fleet", 2) }
        guard !readOnly else { throw fail("--read-only: actions are disabled", 2) }
        guard yes else { throw fail("--exec changes the fleet: add --yes to confirm '\(command.text)'", 2) }
        for action in poller.poll(cursors: urls.map { _ in 0 }) { Reducer.reduce(&state, action) }
        let plan: ActionPlan
        switch command.plan(fleet: state.fleet, reason: ProcessInfo.processInfo.environment["CLAWTOP_REASON"], now: Date().timeIntervalSince1970) {
        case .failure(let error): throw fail(error.description, 1)
        case .success(let p): plan = p
        }
        let results = ActionSender.send(plan, urls: urls, names: state.fleet.nodes.map(\.name),
                                        alertmanager: state.fleet.monitor.alertmanagerURL, token: token)
        print(plan.summary)
        for result in results { print("  \(result.node): \(result.ok ? "ok" : result.message)") }
        // A silence goes to Alertmanager alone; a fleet action to every node that answered.
        let toNodes = plan.calls.contains { $0.node != nil }
        for node in state.fleet.nodes where node.snapshot == nil && toNodes {
            print("  \(node.url): not sent (\(node.error ?? "unreachable"))")
        }
        let failed = results.contains { !$0.ok } || (toNodes && state.fleet.nodes.contains { $0.snapshot == nil })
        throw ExitCode(failed ? 1 : 0)
    }

    func interactive(state initial: AppState, poller: Poller, token: String?, refresh: Double, theme: String, signals: ShutdownSignals) throws {
        guard isatty(STDOUT_FILENO) != 0, ProcessInfo.processInfo.environment["TERM"].map({ !$0.isEmpty && $0 != "dumb" }) ?? false else {
            throw fail("the console needs a terminal (TERM set, stdout a tty); use --once for scripts", 2)
        }
        let startTheme: Theme
        do {
            startTheme = try Theme.load(theme)
        } catch {
            throw fail(error.description, 2)
        }
        let inbox = Mutex<[Action]>([])
        let control = Mutex<(paused: Bool, stop: Bool, cursors: [Int])>((false, false, initial.fleet.nodes.map { _ in 0 }))
        let pollThread = Thread {
            var wantHistory = poller.monitor.prometheus != nil
            while true {
                let (paused, stop, cursors) = control.withLock { ($0.paused, $0.stop, $0.cursors) }
                if stop { return }
                if !paused {
                    let actions = poller.poll(cursors: cursors)
                    inbox.withLock { $0.append(contentsOf: actions) }
                }
                // Right after the first poll (which a slow Prometheus must not delay), Prometheus's
                // past goes before it, so the sparklines are full when the screen opens.
                if wantHistory {
                    wantHistory = false
                    if let history = poller.history(step: refresh, count: AppState.historyLength) {
                        inbox.withLock { $0.append(history) }
                    }
                }
                var waited = 0.0
                while waited < refresh, !control.withLock({ $0.stop }) {
                    Thread.sleep(forTimeInterval: 0.05)
                    waited += 0.05
                }
            }
        }
        pollThread.start()
        let terminal = Terminal(color: true)
        defer {
            control.withLock { $0.stop = true }
            terminal.close()
        }
        terminal.apply(startTheme)
        var state = initial
        state.theme = startTheme.name
        var themeInUse = startTheme.name
        let size = terminal.size
        Reducer.reduce(&state, .resize(width: size.width, height: size.height))
        var dirty = true
        while !state.quit, signals.received == nil {
            let pending = inbox.withLock { list -> [Action] in defer { list = [] }; return list }
            for action in pending { Reducer.reduce(&state, action) }
            if !pending.isEmpty {
                control.withLock { $0.cursors = state.fleet.nodes.map(\.eventCursor) }
                dirty = true
            }
            if state.theme != themeInUse {
                do {
                    terminal.apply(try Theme.load(state.theme))
                } catch {
                    state.message = (error.description, .crit)
                    state.theme = themeInUse
                }
                themeInUse = state.theme
                dirty = true
            }
            let now = Date().timeIntervalSince1970
            if Int(now) != Int(state.now) { dirty = true }  // ages tick each second
            state.now = now
            if dirty {
                terminal.draw(View.render(state))
                dirty = false
            }
            if terminal.checkSize() {
                let size = terminal.size
                Reducer.reduce(&state, .resize(width: size.width, height: size.height))
                dirty = true
                continue
            }
            switch terminal.readKey(milliseconds: 100) {
            case .resize:
                let size = terminal.size
                Reducer.reduce(&state, .resize(width: size.width, height: size.height))
                dirty = true
            case .key(let key):
                Reducer.handle(&state, key)
                control.withLock { $0.paused = state.paused }
                for plan in state.outbox {
                    let urls = state.fleet.nodes.map(\.url)
                    let names = state.fleet.nodes.map(\.name)
                    let alertmanager = state.fleet.monitor.alertmanagerURL
                    Thread.detachNewThread {
                        let results = ActionSender.send(plan, urls: urls, names: names, alertmanager: alertmanager, token: token)
                        inbox.withLock {
                            $0.append(.actionResults(subject: plan.command.subject, summary: plan.summary, results: results,
                                                     at: Date().timeIntervalSince1970))
                        }
                    }
                }
                state.outbox = []
                dirty = true
            case nil:
                break
            }
        }
    }
}
