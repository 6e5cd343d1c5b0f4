import ClawAdminAPI
import ClawCurl
import ClawShared
import ClawTerminal
import ClawTopCore
import Foundation
import Synchronization

/// What the `clawtop` command line asked for, already validated by the argument parser.
public struct ConsoleOptions: Sendable {
    public var nodes: [String] = []
    public var prometheus: String?
    public var alertmanager: String?
    public var tokenFile: String?
    public var refresh: Double?
    public var once = false
    public var format = "text"
    public var readOnly = false
    public var ascii = false
    public var theme: String?
    public var exec: String?
    public var yes = false
    public var demo = false
    public var headless = false
    public var incidentPeriod = 120.0
    public var noMonitors = false
    /// With --demo: each node keeps its own operator state file instead of sharing etcd.
    public var fileStore = false
    /// `--timeline`: print the incident timeline (since `timelineSince` seconds ago) and exit.
    public var timeline = false
    /// `--timeline` and `--requests`: how far back, in seconds.
    public var timelineSince = 3600.0
    /// `--requests`: print every node's recent requests (of `client` only, when given) and exit.
    public var requests = false
    public var client: String?
    /// `--exec ... --dry-run`: print the plan and its effect, change nothing.
    public var dryRun = false
    /// `--exec ... --confirm NAME`: the route or node name a guarded action asks for.
    public var confirmName: String?
    /// `--wall`: the read-only wallboard (its stale bound is set from the refresh).
    public var wall: WallSettings?
    /// `--cacert`: the CA the nodes' certificates chain to (`https://` nodes).
    public var caFile: String?
    /// `--cert` and `--key`: a client certificate for nodes that ask for one (mutual TLS).
    public var certFile: String?
    public var keyFile: String?
    /// `--drill SPEC`: inject the fault, watch, end it, report; judged against `rto` seconds.
    public var drill: String?
    public var rto: Double?

    public init() {}
}

/// How the console ends: an exit code, and what to say on stderr (nothing for a normal end).
public struct ConsoleExit: Error, Sendable {
    public var code: Int32
    public var message: String?

    init(_ code: Int32, _ message: String? = nil) {
        self.code = code
        self.message = message
    }
}

/// The console's runtime: the demo fleet, the poller, the action sender, `--once`, `--exec` and
/// the interactive loop that runs the reducer's effects. The `clawtop` executable only parses
/// arguments and calls `run`.
public struct Console {
    let options: ConsoleOptions

    public init(_ options: ConsoleOptions) { self.options = options }

    /// Run until done; the exit code and message of the end.
    public static func run(_ options: ConsoleOptions) -> ConsoleExit {
        do {
            try Console(options).run()
            return ConsoleExit(0)
        } catch let exit as ConsoleExit {
            return exit
        } catch {
            return ConsoleExit(1, "\(error)")
        }
    }

    /// An http(s) URL without a trailing slash, or a clear error naming the option.
    func checkedURL(_ text: String, _ option: String) throws -> String {
        guard let url = ConsoleConfig.httpURL(text) else { throw fail("\(option): '\(text)' is not an http:// or https:// URL", 2) }
        return url
    }

    func fail(_ message: String, _ code: Int32) -> ConsoleExit { ConsoleExit(code, message) }

    /// The given nodes and, where they share a fleet store, every member it lists: the console can
    /// start from one node's URL and find the rest. Nodes that do not answer stay as given.
    static func discover(_ given: [String], token: String?, tls: ClientTLS? = nil) -> [String] {
        guard let curl = try? CurlMulti() else { return given }
        let headers = token.map { ["Authorization: Bearer \($0)"] } ?? []
        let answers = curl.perform(given.map { HTTPRequestSpec(url: $0 + "/admin/v1/fleet", headers: headers, timeout: 2, tls: tls) })
        var urls = given
        for answer in answers where answer.ok {
            guard let fleet = try? AdminAPI.decode(FleetMembers.self, from: answer.body), fleet.store.kind == .etcd else { continue }
            for member in fleet.members.sorted(by: { $0.id < $1.id }) where !member.url.isEmpty && !urls.contains(member.url) {
                urls.append(member.url)
            }
        }
        return urls
    }

    func run() throws {
        let o = options
        let environment = ProcessInfo.processInfo.environment
        let file: ConsoleConfig
        do {
            file = try ConsoleConfig.load(path: ConsoleConfig.path(environment: environment))
        } catch {
            throw fail(error.description, 2)
        }
        let refresh = o.refresh ?? file.refresh ?? 2
        // Checked before anything starts (a demo included).
        let tls = try clientTLS(file)
        // The wall's default theme is high contrast: it is read from across a room.
        let theme = o.theme ?? file.theme ?? (o.wall != nil ? "high-contrast" : "dark")
        var tokenFile = o.tokenFile ?? file.tokenFile
        var nodes = o.nodes.isEmpty ? file.nodes : o.nodes
        let signals = ShutdownSignals()
        var demoFleet: DemoFleet?
        defer { demoFleet?.stop() }
        var demoToken: String?
        var demoMonitors: (prometheus: String?, alertmanager: String?)?
        // The terminal is checked before anything starts, so a console that cannot draw leaves no
        // demo process behind.
        var terminalChoice: TerminalChoice?
        if !o.once, !o.headless, o.exec == nil, !o.timeline, o.drill == nil, !o.requests {
            switch TerminalChoice.choose() {
            case .success(let choice): terminalChoice = choice
            case .failure(let error): throw fail("the console needs a terminal: \(error.description)", 2)
            }
        }
        if o.demo {
            // A one-shot snapshot has no use for a Prometheus with no history yet.
            let fleet = DemoFleet(incidentPeriod: o.incidentPeriod, monitors: !o.noMonitors && !o.once, fleetStore: !o.fileStore)
            demoFleet = fleet
            let started: DemoFleet.Started
            do {
                started = try fleet.start()
            } catch {
                throw fail("the demo could not start: \(error)", 1)
            }
            if o.headless {
                let line: JSONValue = [
                    "nodes": .array(zip(started.dataURLs, started.nodes).map { ["url": .string($0), "admin": .string($1)] }),
                    "clawsim_control": .string(started.control),
                    "operator_token": .string(started.operatorToken), "viewer_token": .string(started.viewerToken),
                    "prometheus": started.prometheus.map { .string($0) } ?? .null,
                    "alertmanager": started.alertmanager.map { .string($0) } ?? .null,
                    "etcd": .array(started.etcd.map { .string($0) }),
                    "clients": .array(started.clients.map { ["name": .string($0.name), "key": .string($0.key)] }),
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
        var urls = try nodes.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
            .filter { !$0.isEmpty }
            .map { try checkedURL($0, "--node") }
        guard !urls.isEmpty else { throw fail("give at least one --node URL", 2) }
        // The demo's own Prometheus and Alertmanager (or none): another one does not scrape its nodes.
        // The file's URLs are checked as it is read.
        let prometheusURL = try demoMonitors.map { $0.prometheus } ?? o.prometheus.map { try checkedURL($0, "--prometheus") } ?? file.prometheus
        let alertmanagerURL = try demoMonitors.map { $0.alertmanager } ?? o.alertmanager.map { try checkedURL($0, "--alertmanager") } ?? file.alertmanager
        var token = demoToken ?? ProcessInfo.processInfo.environment["CLAWTOP_TOKEN"]
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else { throw fail("cannot read --token-file \(tokenFile)", 2) }
            token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        urls = Self.discover(urls, token: token, tls: tls)
        let poller: Poller
        do {
            poller = try Poller(urls: urls, token: token, timeout: min(max(refresh, 1), 5), prometheus: prometheusURL, alertmanager: alertmanagerURL,
                                tls: tls)
        } catch {
            throw fail("cannot start HTTP polling: \(error)", 3)
        }
        var fleet = Fleet(urls: urls, staleAfter: max(refresh * 3, 6))
        fleet.monitor = Monitor(prometheusURL: prometheusURL, alertmanagerURL: alertmanagerURL)
        fleet.monitor.actor = "clawtop (\(environment["USER"] ?? environment["LOGNAME"] ?? "unknown user"))"
        var state = AppState(fleet: fleet, readOnly: o.readOnly || o.wall != nil, ascii: o.ascii)
        if var wall = o.wall {
            // Stale once no node has answered for three refreshes (and at least 5 s).
            wall.staleAfter = max(5, 3 * refresh)
            state.wall = wall
        }
        if let exec = o.exec {
            try runExec(exec, poller: poller, state: &state, token: token, urls: urls)
        }
        if let drill = o.drill {
            // A demo fleet that just started needs some traffic before its shares mean anything.
            if o.demo { Thread.sleep(forTimeInterval: 5) }
            try runDrill(drill, poller: poller, state: &state, token: token, urls: urls)
        }
        if o.requests {
            Reducer.reduce(&state, poller.poll(cursors: urls.map { _ in 0 }))
            let report = RequestReport.build(state, since: Date().timeIntervalSince1970 - o.timelineSince, client: o.client)
            if o.format == "json" {
                var bytes = report.json.bytes(sorted: true)
                bytes.append(0x0A)
                FileHandle.standardOutput.write(Data(bytes))
            } else {
                FileHandle.standardOutput.write(Data(TerminalText.safeLines(report.text).utf8))
            }
            throw ConsoleExit(report.unread.isEmpty ? 0 : 1)
        }
        if o.timeline {
            let names = urls.map { url in state.fleet.nodes.first { $0.url == url }?.name ?? url }
            let since = Date().timeIntervalSince1970 - o.timelineSince
            let timeline = poller.fleetTimeline(names: names, since: since).timeline
            switch o.format {
            case "json":
                var bytes = timeline.json.bytes(sorted: true)
                bytes.append(0x0A)
                FileHandle.standardOutput.write(Data(bytes))
            case "markdown": FileHandle.standardOutput.write(Data(TerminalText.safeLines(timeline.markdown).utf8))
            default: FileHandle.standardOutput.write(Data(TerminalText.safeLines(timeline.text).utf8))
            }
            // A node that could not be read is named in the output, and the exit says it is partial.
            throw ConsoleExit(timeline.unread.isEmpty ? 0 : 1)
        }
        if o.once {
            // A demo fleet that just started needs a moment of traffic before there is much to show.
            if o.demo { Thread.sleep(forTimeInterval: 3) }
            Reducer.reduce(&state, poller.poll(cursors: urls.map { _ in 0 }))
            // Nodes at different revisions may only be a write on its way: look again a little
            // later, and report what is still behind then.
            if state.fleet.summary(now: Date().timeIntervalSince1970).revisionDrift {
                Thread.sleep(forTimeInterval: 2)
                Reducer.reduce(&state, poller.poll(cursors: urls.map { _ in 0 }))
            }
            let now = Date().timeIntervalSince1970
            if o.format == "json" {
                var bytes = SnapshotReport.json(state.fleet, now: now).bytes(sorted: true)
                bytes.append(0x0A)
                FileHandle.standardOutput.write(Data(bytes))
            } else {
                FileHandle.standardOutput.write(Data(TerminalText.safeLines(SnapshotReport.text(state.fleet, now: now)).utf8))
            }
            throw ConsoleExit(state.fleet.status(now: now).code)
        }
        guard let choice = terminalChoice else { return }
        try interactive(state: state, poller: poller, token: token, refresh: refresh, theme: theme, signals: signals, choice: choice)
        // Said again at exit, where it stays on screen after the console's own screen is gone.
        if let note = choice.note { throw ConsoleExit(0, note) }
    }

    /// `--cacert`, `--cert`, `--key` (or the config file's `cacert`, `cert`, `key`): nil when none is
    /// given; a file that cannot be read, or a certificate without its key, is refused before anything starts.
    func clientTLS(_ file: ConsoleConfig) throws -> ClientTLS? {
        let given = [("--cacert", options.caFile ?? file.caFile), ("--cert", options.certFile ?? file.certFile), ("--key", options.keyFile ?? file.keyFile)]
        for (flag, path) in given {
            if let path, !FileManager.default.isReadableFile(atPath: path) { throw fail("\(flag) \(path): cannot read the file", 2) }
        }
        let (ca, cert, key) = (given[0].1, given[1].1, given[2].1)
        if (cert == nil) != (key == nil) { throw fail("--cert and --key go together: a client certificate and its private key", 2) }
        if ca == nil, cert == nil { return nil }
        return ClientTLS(caFile: ca, certFile: cert, keyFile: key)
    }

    /// One line of `--exec` output: node ids, messages and errors come from the network, shown escaped.
    func say(_ line: String) { print(TerminalText.safe(line)) }

    /// `--exec`: one command, no screen; per-node results on stdout; non-zero when any node refused.
    func runExec(_ line: String, poller: Poller, state: inout AppState, token: String?, urls: [String]) throws {
        let command: Command
        switch Command.parse(line) {
        case .failure(let error): throw fail(error.description, 2)
        case .success(let c): command = c
        }
        guard command.changesFleet else { throw fail("--exec '\(line)' does not change the fleet", 2) }
        guard !options.readOnly else { throw fail("--read-only: actions are disabled", 2) }
        guard options.yes || options.dryRun else { throw fail("--exec changes the fleet: add --yes to confirm '\(command.text)' (or --dry-run to see its effect)", 2) }
        Reducer.reduce(&state, poller.poll(cursors: urls.map { _ in 0 }))
        let plan: ActionPlan
        switch command.plan(fleet: state.fleet, reason: ProcessInfo.processInfo.environment["CLAWTOP_REASON"], now: Date().timeIntervalSince1970) {
        case .failure(let error): throw fail(error.description, 1)
        case .success(let p): plan = p
        }
        // The effect first, as the dialog shows it; with --dry-run, nothing more.
        let preview = Preview.of(command, fleet: state.fleet, now: Date().timeIntervalSince1970)
        if options.dryRun {
            say("dry run: \(plan.summary)")
            for line in preview?.lines ?? [] { say("  \(line)") }
            print("nothing was changed")
            throw ConsoleExit(0)
        }
        for line in preview?.lines ?? [] { say("  \(line)") }
        if let name = preview?.guardName, options.confirmName != name {
            throw fail("'\(command.text)' is refused: \(preview?.guardReason ?? ""). Add --confirm \(name) to do it anyway.", 1)
        }
        let results = ActionSender.send(plan, urls: urls, names: state.fleet.nodes.map(\.name),
                                        alertmanager: state.fleet.monitor.alertmanagerURL, token: token, tls: poller.tls)
        say(plan.summary)
        for result in results { say("  \(result.node): \(result.ok ? "ok" : result.message)") }
        // A silence goes to Alertmanager alone; a fleet action to every node that answered.
        let toNodes = plan.calls.contains { $0.node != nil }
        for name in plan.unreachable where toNodes {
            let node = state.fleet.nodes.first { $0.name == name }
            say("  \(name): not sent, will not apply it now (\(node?.error ?? "unreachable"))")
        }
        let failed = results.contains { !$0.ok } || (toNodes && !plan.unreachable.isEmpty)
        throw ConsoleExit(failed ? 1 : 0)
    }

    func interactive(state initial: AppState, poller: Poller, token: String?, refresh: Double, theme: String, signals: ShutdownSignals,
                     choice: TerminalChoice) throws {
        let startTheme: Theme
        do {
            startTheme = try ThemeLoader.load(theme)
        } catch {
            throw fail(error.description, 2)
        }
        let inbox = Mutex<[Action]>([])
        let control = Mutex<(paused: Bool, stop: Bool, cursors: [Int], audit: [Int])>((false, false, initial.fleet.nodes.map { _ in 0 },
                                                                                    initial.fleet.nodes.map { _ in 0 }))
        let pollThread = Thread {
            var wantHistory = poller.monitor.prometheus != nil
            while true {
                let (paused, stop, cursors, audit) = control.withLock { ($0.paused, $0.stop, $0.cursors, $0.audit) }
                if stop { return }
                if !paused {
                    let batch = poller.poll(cursors: cursors, auditCursors: audit)
                    inbox.withLock { $0.append(batch) }
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
        let terminal: Terminal
        do {
            terminal = try Terminal(choice, color: true)
        } catch {
            throw fail("the console needs a terminal: \(error.description)", 2)
        }
        pollThread.start()
        defer {
            control.withLock { $0.stop = true }
            terminal.close()
        }
        terminal.apply(startTheme)
        var state = initial
        state.theme = startTheme.name
        if let note = choice.note { state.message = StatusMessage(note, .warn) }

        /// The reducer's effects, run here: the only place the console does I/O for it.
        func run(_ effects: [Effect]) {
            for effect in effects {
                switch effect {
                case .send(let plan):
                    let urls = state.fleet.nodes.map(\.url)
                    let names = state.fleet.nodes.map(\.name)
                    let alertmanager = state.fleet.monitor.alertmanagerURL
                    Thread.detachNewThread {
                        let results = ActionSender.send(plan, urls: urls, names: names, alertmanager: alertmanager, token: token, tls: poller.tls)
                        inbox.withLock {
                            $0.append(.actionResults(subject: plan.command.subject, summary: plan.summary, results: results,
                                                     at: Date().timeIntervalSince1970))
                        }
                    }
                case .loadTheme(let name):
                    do {
                        let theme = try ThemeLoader.load(name)
                        terminal.apply(theme)
                        run(Reducer.reduce(&state, .themeLoaded(theme.name)))
                    } catch {
                        run(Reducer.reduce(&state, .themeFailed(error.description)))
                    }
                case .setPolling(let paused):
                    control.withLock { $0.paused = paused }
                case .eventCursors(let cursors):
                    control.withLock { $0.cursors = cursors }
                case .auditCursors(let cursors):
                    control.withLock { $0.audit = cursors }
                case .loadAlertHistory(let since):
                    // Its own handle: the poll thread's is busy with polls.
                    let monitor = poller.monitor
                    Thread.detachNewThread {
                        let action: Action
                        switch (try? CurlMulti()).flatMap({ monitor.alertHistory(since: since, curl: $0) }) {
                        case .success(let runs)?: action = .alertHistory(runs: runs, error: nil)
                        case .failure(let error)?: action = .alertHistory(runs: nil, error: error.description)
                        case nil: action = .alertHistory(runs: nil, error: "no answer")
                        }
                        inbox.withLock { $0.append(action) }
                    }
                }
            }
        }

        let size = terminal.size
        run(Reducer.reduce(&state, .resize(width: size.width, height: size.height)))
        var dirty = true
        while !state.quit, signals.received == nil {
            let pending = inbox.withLock { list -> [Action] in defer { list = [] }; return list }
            for action in pending { run(Reducer.reduce(&state, action)) }
            if !pending.isEmpty { dirty = true }
            let now = Date().timeIntervalSince1970
            if Int(now) != Int(state.now) { dirty = true }  // ages tick each second
            state.now = now
            if dirty {
                terminal.draw(View.render(state))
                dirty = false
            }
            if terminal.checkSize() {
                let size = terminal.size
                run(Reducer.reduce(&state, .resize(width: size.width, height: size.height)))
                dirty = true
                continue
            }
            switch terminal.readKey(milliseconds: 100) {
            case .resize:
                let size = terminal.size
                run(Reducer.reduce(&state, .resize(width: size.width, height: size.height)))
                dirty = true
            case .key(let key):
                run(Reducer.handle(&state, key))
                dirty = true
            case nil:
                break
            }
        }
    }
}
