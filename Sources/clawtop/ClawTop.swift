import ArgumentParser
import ClawTopCore
import ClawTopRuntime
import Foundation

@main
struct ClawTop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clawtop",
        abstract: "The live operations console for a fleet of clawgate nodes.",
        discussion: """
        Keys: ? help, q quit, Tab/Shift-Tab or 0-8 panes (0 Overview, 1 Providers, 2 Nodes, 3 Routes, 4 Cost, 5 Events, 6 Alerts, 7 Clients, 8 Requests), j/k or arrows move, s sort, p pause, z silence, Esc back.
        The : line: Tab completes commands and provider, node, route, client and alert names; Ctrl-A/Ctrl-E start/end, Ctrl-U/Ctrl-W/Ctrl-K delete, Up/Down history. ? then Tab lists the commands.
        --once exit codes: 0 ok, 1 degraded, 2 critical, 3 unknown/unreachable.
        --drill exit codes: 0 PASS, 1 FAIL, 2 not run (bad spec or option, no --yes), 3 the fleet could not be read.
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

    @Option(name: .long, help: "PEM file of the CA that signed the https:// nodes' certificates (instead of the system's bundle).")
    var cacert: String?

    @Option(name: .long, help: "PEM client certificate for https:// nodes that ask for one (mutual TLS); with --key.")
    var cert: String?

    @Option(name: .long, help: "PEM private key of --cert.")
    var key: String?

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

    @Flag(name: .long, help: "With --exec or --drill: confirm the action (there is no dialog).")
    var yes = false

    @Option(name: .long, help: "A drill: inject the fault ('outage provider fast 2m'; KIND provider ID DURATION [ratio=R status=N extra_ms=N]), watch, end it, report; needs --rto and --yes.")
    var drill: String?

    @Option(name: .long, help: "With --drill: the recovery time objective it is judged against, e.g. 30s (exit 0 PASS, 1 FAIL, 3 fleet not read).")
    var rto: String?

    @Flag(name: .long, help: "With --exec: print the plan and its effect (shares, spend, warnings) and change nothing.")
    var dryRun = false

    @Option(name: .long, help: "With --exec: the route or node name an action that empties a route or drains the last node asks for.")
    var confirm: String?

    @Flag(name: .long, help: "Start a real local fleet (clawsim, three clawgate nodes, traffic, incidents) and watch it.")
    var demo = false

    @Flag(name: .long, help: "With --demo: no screen; print the fleet's URLs and tokens as JSON and run until SIGINT/SIGTERM.")
    var headless = false

    @Option(name: .long, help: "With --demo: seconds between scripted incidents (each lasts half of it).")
    var incidentPeriod: Double = 120

    @Flag(name: .long, help: "With --demo: do not start Prometheus and Alertmanager, even when they are installed.")
    var noMonitors = false

    @Flag(name: .long, help: "With --demo: each node keeps its own state file; no etcd cluster even when etcd is installed.")
    var fileStore = false

    @Flag(name: .long, help: "Print the incident timeline (events of every node, operator actions, alerts, merged) and exit.")
    var timeline = false

    @Option(name: .long, help: "With --timeline or --requests: how far back, e.g. 30m, 2h, 1d (default 1h).")
    var since: String?

    @Flag(name: .long, help: "Print every node's recent requests (the Requests pane), merged by time, newest first, and exit.")
    var requests = false

    @Option(name: .long, help: "With --requests: only this client's requests.")
    var client: String?

    @Flag(name: .long, help: "The wallboard: read-only, a large status word, the incident banner, loud STALE; q, p and t only.")
    var wall = false

    @Option(name: .long, help: "With --wall: seconds on the overview and on each unhealthy provider (default 15; 0 stays on the overview).")
    var cycle: Double = 15

    func validate() throws {
        if let refresh, refresh < 0.2 || refresh > 3600 { throw ValidationError("--refresh must be between 0.2 and 3600 seconds") }
        guard ["text", "json", "markdown"].contains(format) else { throw ValidationError("--format must be text, json or markdown") }
        if format == "markdown", !timeline, drill == nil { throw ValidationError("--format markdown goes with --timeline or --drill") }
        if rto != nil, drill == nil { throw ValidationError("--rto goes with --drill") }
        if let rto, Format.parseDrillDuration(rto).map({ $0 > 0 }) != true {
            throw ValidationError("--rto '\(rto)' is not a duration: e.g. 30s, 2m, 500ms")
        }
        if drill != nil, once || exec != nil || wall || timeline || headless || requests {
            throw ValidationError("--drill runs one drill and exits; it does not go with --once, --exec, --wall, --timeline, --requests or --headless")
        }
        if since != nil, !timeline, !requests { throw ValidationError("--since goes with --timeline or --requests") }
        if client != nil, !requests { throw ValidationError("--client goes with --requests") }
        if requests, format == "markdown" { throw ValidationError("--requests prints text or json") }
        if requests, timeline || once || exec != nil || wall || demo {
            throw ValidationError("--requests prints and exits; it does not go with --timeline, --once, --exec, --wall or --demo")
        }
        if let since, Format.parseDuration(since) == nil {
            throw ValidationError("--since '\(since)' is not a duration: use a number with s, m, h or d, e.g. 30m, 2h, 1h30m, 1d")
        }
        if timeline, once || exec != nil || wall || demo { throw ValidationError("--timeline prints and exits; it does not go with --once, --exec, --wall or --demo") }
        guard incidentPeriod >= 2, incidentPeriod <= 86400 else { throw ValidationError("--incident-period must be 2..86400 seconds") }
        if headless, !demo { throw ValidationError("--headless goes with --demo") }
        if noMonitors, !demo { throw ValidationError("--no-monitors goes with --demo") }
        if fileStore, !demo { throw ValidationError("--file-store goes with --demo") }
        if dryRun || confirm != nil, exec == nil, drill == nil { throw ValidationError("--dry-run and --confirm go with --exec or --drill") }
        guard cycle == 0 || (cycle >= 1 && cycle <= 3600) else { throw ValidationError("--cycle must be 0 or 1..3600 seconds") }
        if wall, once || exec != nil { throw ValidationError("--wall is a screen; it does not go with --once or --exec") }
    }

    func run() throws {
        var o = ConsoleOptions()
        o.nodes = node
        o.prometheus = prometheus
        o.alertmanager = alertmanager
        o.tokenFile = tokenFile
        o.caFile = cacert
        o.certFile = cert
        o.keyFile = key
        o.refresh = refresh
        o.once = once
        o.format = format
        o.readOnly = readOnly
        o.ascii = ascii
        o.theme = theme
        o.exec = exec
        o.yes = yes
        o.demo = demo
        o.headless = headless
        o.incidentPeriod = incidentPeriod
        o.noMonitors = noMonitors
        o.fileStore = fileStore
        o.dryRun = dryRun
        o.timeline = timeline
        o.requests = requests
        o.client = client
        if let since, let seconds = Format.parseDuration(since) { o.timelineSince = seconds }
        o.confirmName = confirm
        o.drill = drill
        o.rto = rto.flatMap(Format.parseDrillDuration)
        o.wall = wall ? WallSettings(cycle: cycle, staleAfter: 0) : nil
        let end = Console.run(o)
        // An error may quote what a node sent: its own lines kept, nothing a terminal obeys.
        if let message = end.message { FileHandle.standardError.write(Data("clawtop: \(TerminalText.safeLines(message))\n".utf8)) }
        if end.code != 0 { throw ExitCode(end.code) }
    }
}
