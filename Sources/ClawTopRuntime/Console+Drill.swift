import ClawAdminAPI
import ClawShared
import ClawTopCore
import Foundation

extension Console {
    /// How often the drill looks at the fleet.
    static let drillInterval = 0.5
    /// How long it waits, after the fault ended, for the provider to be back in rotation on every node.
    static let recoveryWatch = 120.0

    /// `--drill "outage provider fast 2m" --rto 30s --yes`: inject the fault through the fleet (one
    /// write through the fleet store, or one per node), watch the fleet while it is in force, end it,
    /// watch the recovery, and print the report (text, markdown or JSON). Progress goes to stderr so
    /// the report on stdout stays whole. Exits 0 on PASS, 1 on FAIL, 2 when it was not run (a bad
    /// spec or option, no --yes, a guarded fault without --confirm), 3 when the fleet could not be read.
    func runDrill(_ spec: String, _ session: inout Session) throws {
        let (poller, token, urls) = (session.poller, session.token, session.urls)
        let words = spec.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let fault: FaultCommand
        switch FaultCommand.parse(words, verb: "--drill") {
        case .failure(let error): throw fail(error.description, 2)
        case .success(let f): fault = f
        }
        guard let rto = options.rto else { throw fail("--drill needs --rto DURATION: the recovery time objective it is judged against (e.g. --rto 30s)", 2) }
        guard !options.readOnly else { throw fail("--read-only: a drill changes the fleet", 2) }
        guard options.yes || options.dryRun else {
            throw fail("--drill injects a fault into the fleet: add --yes to run '\(fault.text)' (or --dry-run to see its effect)", 2)
        }
        // A demo fleet that just started needs some traffic before its shares mean anything.
        if options.demo { Thread.sleep(forTimeInterval: 5) }
        func progress(_ line: String) { FileHandle.standardError.write(Data((TerminalText.safe(line) + "\n").utf8)) }
        let command = Command.drill(fault)
        // Read here, changed only through the reducer.
        var state: AppState { session.state }
        func look() {
            let cursors = state.fleet.nodes.map(\.eventCursor)
            Reducer.reduce(&session.state, poller.poll(cursors: cursors))
            Reducer.reduce(&session.state, .tick(now: Date().timeIntervalSince1970))
        }
        look()
        let answering = state.fleet.nodes.filter { $0.snapshot != nil && $0.error == nil }
        guard !answering.isEmpty else {
            let why = state.fleet.nodes.map { "\($0.name): \($0.error ?? "no answer")" }.joined(separator: "; ")
            throw fail("the fleet could not be read, so no drill was run: \(why)", 3)
        }
        let plan: ActionPlan
        switch command.plan(fleet: state.fleet, reason: ProcessInfo.processInfo.environment["CLAWTOP_REASON"] ?? "drill: \(fault.text)",
                            now: Date().timeIntervalSince1970) {
        case .failure(let error): throw fail(error.description, 2)
        case .success(let p): plan = p
        }
        let preview = Preview.of(command, fleet: state.fleet, now: Date().timeIntervalSince1970)
        progress(plan.summary)
        for line in preview?.lines ?? [] { progress("  \(line)") }
        if options.dryRun {
            progress("dry run: nothing was changed")
            throw ConsoleExit(0)
        }
        if let name = preview?.guardName, options.confirmName != name {
            throw fail("'\(command.text)' is refused: \(preview?.guardReason ?? ""). Add --confirm \(name) to drill it anyway.", 2)
        }
        var samples: [DrillReport.Sample] = []
        var notes: [String] = []
        func sample() { samples.append(DrillReport.sample(state.fleet, provider: fault.provider, at: Date().timeIntervalSince1970)) }
        sample()
        // Two looks before the fault: the share the provider had just then.
        Thread.sleep(forTimeInterval: Self.drillInterval)
        look()
        sample()
        let injectedAt = Date().timeIntervalSince1970
        let names = state.fleet.nodes.map(\.name)
        let results = ActionSender.send(plan, urls: urls, names: names, alertmanager: state.fleet.monitor.alertmanagerURL, token: token)
        for result in results { progress("  \(result.node): \(result.ok ? "ok" : result.message)") }
        for result in results where !result.ok { notes.append("\(result.node) refused the fault: \(result.message)") }
        for name in plan.unreachable { notes.append("\(name) did not answer and was not sent the fault") }
        let injected = results.contains(where: \.ok)
        var endedAt: Double?
        if injected {
            // While the fault is in force: look every interval.
            let end = injectedAt + fault.duration
            while Date().timeIntervalSince1970 < end {
                Thread.sleep(forTimeInterval: min(Self.drillInterval, max(0, end - Date().timeIntervalSince1970)))
                look()
                sample()
            }
            // End it (it would end by itself now anyway: this makes sure, on every node).
            switch Command.unfault(fault.provider).plan(fleet: state.fleet, reason: "drill over: \(fault.text)", now: Date().timeIntervalSince1970) {
            case .success(let stop):
                for result in ActionSender.send(stop, urls: urls, names: names, alertmanager: nil, token: token) where !result.ok {
                    notes.append("\(result.node) did not take the end of the fault (\(result.message)); it ends by itself at its time")
                }
            case .failure(let error):
                notes.append("the end of the fault was not sent (\(error.description)); it ends by itself at its time")
            }
            endedAt = Date().timeIntervalSince1970
            progress("fault ended; watching the recovery (at most \(Int(Self.recoveryWatch))s)")
            // After it: until the provider is back in rotation on every node, or the watch is over.
            let watchEnd = endedAt! + Self.recoveryWatch
            while Date().timeIntervalSince1970 < watchEnd {
                Thread.sleep(forTimeInterval: Self.drillInterval)
                look()
                sample()
                if samples.last?.recovered == true { break }
            }
        }
        // The timeline of the drill's span, as `--timeline` builds it.
        let since = injectedAt - 1
        let (timeline, inputs) = poller.fleetTimeline(names: state.fleet.nodes.map(\.name), since: since)
        let report = DrillReport.build(spec: fault, rto: rto, injectedAt: injected ? injectedAt : nil, endedAt: endedAt, samples: samples,
                                       events: inputs.flatMap(\.events), timeline: timeline, notes: notes)
        switch options.format {
        case "json":
            var bytes = report.json.bytes(sorted: true)
            bytes.append(0x0A)
            FileHandle.standardOutput.write(Data(bytes))
        case "markdown": FileHandle.standardOutput.write(Data(TerminalText.safeLines(report.markdown).utf8))
        default: FileHandle.standardOutput.write(Data(TerminalText.safeLines(report.text).utf8))
        }
        throw ConsoleExit(report.passed ? 0 : 1)
    }
}
