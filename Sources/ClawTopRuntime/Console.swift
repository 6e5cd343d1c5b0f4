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

    /// What every mode starts from, read before anything starts: the config file, the refresh,
    /// TLS, the theme's name, the signals, and the terminal when the mode draws on one.
    struct Setup {
        var file: ConsoleConfig
        var refresh: Double
        var tls: ClientTLS?
        var theme: String
        var signals: ShutdownSignals
        var terminal: TerminalChoice?
    }

    /// The fleet a mode works on: its nodes' URLs, the token, the poller, and the state (started
    /// through the reducer, not polled yet).
    struct Session {
        var state: AppState
        var poller: Poller
        var token: String?
        var urls: [String]
    }

    func run() throws {
        let mode = ConsoleMode(options)
        let setup = try prepare(mode)
        var demoFleet: DemoFleet?
        defer { demoFleet?.stop() }
        var demo: DemoFleet.Started?
        if options.demo {
            // A one-shot snapshot has no use for a Prometheus with no history yet.
            let fleet = DemoFleet(incidentPeriod: options.incidentPeriod, monitors: !options.noMonitors && !options.once, fleetStore: !options.fileStore)
            demoFleet = fleet
            do {
                demo = try fleet.start()
            } catch {
                throw fail("the demo could not start: \(error)", 1)
            }
        }
        if mode == .headless {
            guard let demo else { throw fail("--headless goes with --demo", 2) }
            return runHeadless(demo, setup)
        }
        var session = try connect(setup, demo: demo)
        switch mode {
        case .exec(let line): try runExec(line, &session)
        case .drill(let spec): try runDrill(spec, &session)
        case .requests: try runRequests(&session)
        case .timeline: try runTimeline(&session)
        case .once: try runOnce(&session)
        case .screen, .wall: try runScreen(&session, setup, wall: mode.wall)
        case .headless: break
        }
    }

    /// The config file, the refresh, TLS and the theme, and the terminal when the mode draws: each
    /// checked before anything starts (a demo included), so a console that cannot draw leaves no
    /// demo process behind.
    func prepare(_ mode: ConsoleMode) throws -> Setup {
        let file: ConsoleConfig
        do {
            file = try ConsoleConfig.load(path: ConsoleConfig.path(environment: ProcessInfo.processInfo.environment))
        } catch {
            throw fail(error.description, 2)
        }
        let refresh = options.refresh ?? file.refresh ?? 2
        let tls = try clientTLS(file)
        // The wall's default theme is high contrast: it is read from across a room.
        let theme = options.theme ?? file.theme ?? (mode.wall != nil ? "high-contrast" : "dark")
        let signals = ShutdownSignals()
        var terminal: TerminalChoice?
        if mode.drawsScreen {
            switch TerminalChoice.choose() {
            case .success(let choice): terminal = choice
            case .failure(let error): throw fail("the console needs a terminal: \(error.description)", 2)
            }
        }
        return Setup(file: file, refresh: refresh, tls: tls, theme: theme, signals: signals, terminal: terminal)
    }

    /// The nodes (the demo's, the flags' or the config file's, and those a fleet store lists), the
    /// token, the poller and the started state; every URL and file checked with the option it came from.
    func connect(_ setup: Setup, demo: DemoFleet.Started?) throws -> Session {
        let environment = ProcessInfo.processInfo.environment
        let nodes = demo?.nodes ?? (options.nodes.isEmpty ? setup.file.nodes : options.nodes)
        let tokenFile = demo == nil ? options.tokenFile ?? setup.file.tokenFile : nil
        var urls = try nodes.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
            .filter { !$0.isEmpty }
            .map { try checkedURL($0, "--node") }
        guard !urls.isEmpty else { throw fail("give at least one --node URL", 2) }
        // The demo's own Prometheus and Alertmanager (or none): another one does not scrape its nodes.
        // The file's URLs are checked as it is read.
        let prometheusURL = try demo.map { $0.prometheus } ?? options.prometheus.map { try checkedURL($0, "--prometheus") } ?? setup.file.prometheus
        let alertmanagerURL = try demo.map { $0.alertmanager } ?? options.alertmanager.map { try checkedURL($0, "--alertmanager") } ?? setup.file.alertmanager
        var token = demo?.operatorToken ?? environment["CLAWTOP_TOKEN"]
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else { throw fail("cannot read --token-file \(tokenFile)", 2) }
            token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        urls = Self.discover(urls, token: token, tls: setup.tls)
        let poller: Poller
        do {
            poller = try Poller(urls: urls, token: token, timeout: min(max(setup.refresh, 1), 5), prometheus: prometheusURL, alertmanager: alertmanagerURL,
                                tls: setup.tls)
        } catch {
            throw fail("cannot start HTTP polling: \(error)", 3)
        }
        var fleet = Fleet(urls: urls, staleAfter: max(setup.refresh * 3, 6))
        fleet.monitor = Monitor(prometheusURL: prometheusURL, alertmanagerURL: alertmanagerURL)
        fleet.monitor.actor = "clawtop (\(environment["USER"] ?? environment["LOGNAME"] ?? "unknown user"))"
        var state = AppState(fleet: fleet, readOnly: options.readOnly || options.wall != nil, ascii: options.ascii)
        Reducer.reduce(&state, .started(now: Date().timeIntervalSince1970))
        return Session(state: state, poller: poller, token: token, urls: urls)
    }

    /// One poll of every node, from the first event, through the reducer.
    func pollAll(_ session: inout Session) {
        Reducer.reduce(&session.state, session.poller.poll(cursors: session.urls.map { _ in 0 }))
    }

    /// Bytes on stdout, with the newline a JSON document ends in.
    func printJSON(_ value: JSONValue) {
        var bytes = value.bytes(sorted: true)
        bytes.append(0x0A)
        FileHandle.standardOutput.write(Data(bytes))
    }

    /// Text on stdout, made safe: lines from the network never drive the terminal.
    func printText(_ text: String) {
        FileHandle.standardOutput.write(Data(TerminalText.safeLines(text).utf8))
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
}
