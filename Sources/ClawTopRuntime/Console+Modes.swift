import ClawShared
import ClawTopCore
import Foundation

/// The modes that print and exit: `--demo --headless`, `--once`, `--timeline`, `--requests`, `--exec`.
extension Console {
    /// `--demo --headless`: the demo's URLs and tokens as one JSON line, then wait for SIGINT/SIGTERM.
    func runHeadless(_ started: DemoFleet.Started, _ setup: Setup) {
        let line: JSONValue = [
            "nodes": .array(zip(started.dataURLs, started.nodes).map { ["url": .string($0), "admin": .string($1)] }),
            "clawsim_control": .string(started.control),
            "operator_token": .string(started.operatorToken), "viewer_token": .string(started.viewerToken),
            "prometheus": started.prometheus.map { .string($0) } ?? .null,
            "alertmanager": started.alertmanager.map { .string($0) } ?? .null,
            "etcd": .array(started.etcd.map { .string($0) }),
            "clients": .array(started.clients.map { ["name": .string($0.name), "key": .string($0.key)] }),
        ]
        printJSON(line)
        while setup.signals.received == nil { Thread.sleep(forTimeInterval: 0.1) }
    }

    /// `--once`: one poll (two when the nodes' revisions differ: a write may be on its way), the
    /// snapshot as text or JSON, and the fleet's status as the exit code.
    func runOnce(_ session: inout Session) throws {
        // A demo fleet that just started needs a moment of traffic before there is much to show.
        if options.demo { Thread.sleep(forTimeInterval: 3) }
        pollAll(&session)
        // Nodes at different revisions may only be a write on its way: look again a little
        // later, and report what is still behind then.
        if session.state.fleet.summary(now: Date().timeIntervalSince1970).revisionDrift {
            Thread.sleep(forTimeInterval: 2)
            pollAll(&session)
        }
        let now = Date().timeIntervalSince1970
        let fleet = session.state.fleet
        if options.format == "json" { printJSON(SnapshotReport.json(fleet, now: now)) } else { printText(SnapshotReport.text(fleet, now: now)) }
        throw ConsoleExit(fleet.status(now: now).code)
    }

    /// `--timeline`: every node's events and audit, and the alerts, merged since `--since`; exit 1
    /// when a node could not be read (it is named in the output).
    func runTimeline(_ session: inout Session) throws {
        let names = session.urls.map { url in session.state.fleet.nodes.first { $0.url == url }?.name ?? url }
        let since = Date().timeIntervalSince1970 - options.timelineSince
        let timeline = session.poller.fleetTimeline(names: names, since: since).timeline
        switch options.format {
        case "json": printJSON(timeline.json)
        case "markdown": printText(timeline.markdown)
        default: printText(timeline.text)
        }
        throw ConsoleExit(timeline.unread.isEmpty ? 0 : 1)
    }

    /// `--requests`: every node's recent requests (of `--client` only, when given), newest first;
    /// exit 1 when a node could not be read.
    func runRequests(_ session: inout Session) throws {
        pollAll(&session)
        let report = RequestReport.build(session.state, since: Date().timeIntervalSince1970 - options.timelineSince, client: options.client)
        if options.format == "json" { printJSON(report.json) } else { printText(report.text) }
        throw ConsoleExit(report.unread.isEmpty ? 0 : 1)
    }

    /// `--exec`: one command, no screen; per-node results on stdout; non-zero when any node refused.
    func runExec(_ line: String, _ session: inout Session) throws {
        let command: Command
        switch Command.parse(line) {
        case .failure(let error): throw fail(error.description, 2)
        case .success(let c): command = c
        }
        guard command.changesFleet else { throw fail("--exec '\(line)' does not change the fleet", 2) }
        guard !options.readOnly else { throw fail("--read-only: actions are disabled", 2) }
        guard options.yes || options.dryRun else { throw fail("--exec changes the fleet: add --yes to confirm '\(command.text)' (or --dry-run to see its effect)", 2) }
        pollAll(&session)
        let fleet = session.state.fleet
        let plan: ActionPlan
        switch command.plan(fleet: fleet, reason: ProcessInfo.processInfo.environment["CLAWTOP_REASON"], now: Date().timeIntervalSince1970) {
        case .failure(let error): throw fail(error.description, 1)
        case .success(let p): plan = p
        }
        // The effect first, as the dialog shows it; with --dry-run, nothing more.
        let preview = Preview.of(command, fleet: fleet, now: Date().timeIntervalSince1970)
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
        let results = ActionSender.send(plan, urls: session.urls, names: fleet.nodes.map(\.name),
                                        alertmanager: fleet.monitor.alertmanagerURL, token: session.token, tls: session.poller.tls)
        say(plan.summary)
        for result in results { say("  \(result.node): \(result.ok ? "ok" : result.message)") }
        // A silence goes to Alertmanager alone; a fleet action to every node that answered.
        let toNodes = plan.calls.contains { $0.node != nil }
        for name in plan.unreachable where toNodes {
            let node = fleet.nodes.first { $0.name == name }
            say("  \(name): not sent, will not apply it now (\(node?.error ?? "unreachable"))")
        }
        let failed = results.contains { !$0.ok } || (toNodes && !plan.unreachable.isEmpty)
        throw ConsoleExit(failed ? 1 : 0)
    }
}
