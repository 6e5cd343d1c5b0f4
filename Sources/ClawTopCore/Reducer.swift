import ClawAdminAPI
/// What the runtime does for the reducer: I/O it asked for, whose results come back as actions.
public enum Effect: Sendable, Equatable {
    /// Send a confirmed plan's calls; the results come back as `.actionResults`.
    case send(ActionPlan)
    /// Load a theme by name or path; it comes back as `.themeLoaded` or `.themeFailed`.
    case loadTheme(String)
    /// Stop or resume polling.
    case setPolling(paused: Bool)
    /// The event sequence each node has been read up to, for the next poll.
    case eventCursors([Int])
    /// The audit sequence each node has been read up to, for the next poll.
    case auditCursors([Int])
    /// Ask Prometheus when each alert fired and resolved since then; it comes back as `.alertHistory`.
    case loadAlertHistory(since: Double)
}

/// The only place state changes: an action in, the new state out, and the effects to run.
/// It calls no view code; the lists it selects in come from `Selectors`, as the view's do.
public enum Reducer {
    @discardableResult
    public static func reduce(_ state: inout AppState, _ action: Action) -> [Effect] {
        var effects: [Effect] = []
        apply(&state, action, &effects)
        return effects
    }

    static func apply(_ state: inout AppState, _ action: Action, _ effects: inout [Effect]) {
        switch action {
        case .quit:
            state.quit = true
        case .toggleHelp:
            state.showHelp.toggle()
            state.helpPage = 0
        case .escape:
            if state.drillReport != nil {
                state.drillReport = nil
            } else if state.showTimeline {
                state.showTimeline = false
            } else if state.eventDetail != nil {
                state.eventDetail = nil
            } else if state.showHelp || state.message != nil || state.detail != nil || state.requestDetail != nil {
                state.showHelp = false
                state.message = nil
                state.detail = nil
                state.requestDetail = nil
            } else {
                state.filter = ""
            }
            state.mode = .normal
        case .openFilter:
            state.mode = .filter(state.filter)
        case .openDetail:
            if state.pane == .events {
                let lines = Selectors.eventLines(state)
                let index = state.selected(.events)
                if lines.indices.contains(index) { state.eventDetail = lines[index].key }
            } else if state.pane == .requests {
                let rows = Selectors.requestRows(state)
                let index = state.selected(.requests)
                if rows.indices.contains(index) { state.requestDetail = rows[index].key }
            } else if let id = selectedProvider(state) {
                state.detail = id
            }
        case .cycleTheme:
            let all = Theme.shipped
            effects.append(.loadTheme(all[((all.firstIndex(of: state.theme) ?? -1) + 1) % all.count]))
        case .themeLoaded(let name):
            state.theme = name
            state.message = StatusMessage("theme \(name)", .dim)
        case .themeFailed(let error):
            state.message = StatusMessage(error, .crit)
        case .openCommandLine:
            state.mode = .commandLine("")
            state.historyIndex = nil
            state.commandCursor = nil
        case .drainSelected, .undrainSelected:
            let drain = action == .drainSelected
            if state.pane == .nodes {
                guard let node = selectedNode(state) else { return fail(&state, "no node selected") }
                propose(&state, drain ? .drainNode(node) : .undrainNode(node), &effects)
            } else {
                guard let id = selectedProvider(state) else { return fail(&state, "select a provider (pane 1) or a node (pane 2)") }
                propose(&state, drain ? .drainProvider(id) : .undrainProvider(id), &effects)
            }
        case .blockSelected, .unblockSelected:
            guard state.pane == .clients else { return fail(&state, "b blocks a client: select one in the Clients pane (7)") }
            let rows = Selectors.clientRows(state)
            let index = state.selected(.clients)
            guard rows.indices.contains(index) else { return fail(&state, "no client selected") }
            propose(&state, action == .blockSelected ? .blockClient(rows[index].name) : .unblockClient(rows[index].name), &effects)
        case .restoreSelected:
            guard let id = selectedProvider(state) else { return fail(&state, "select a provider first") }
            propose(&state, .restore(id), &effects)
        case .failoverPrompt:
            guard let id = selectedProvider(state) else { return fail(&state, "select a provider first") }
            // As it stands it works: the tier's others take the traffic, then the next tier;
            // " to ID..." names the receivers instead.
            state.mode = .commandLine("failover \(id)")
            state.historyIndex = nil
        case .weightPrompt:
            guard let id = selectedProvider(state), let route = firstRoute(state, id) else { return fail(&state, "select a provider that serves a route") }
            state.mode = .commandLine("weight \(route.route) \(id)=")
        case .silencePrompt:
            guard state.pane == .alerts else { return fail(&state, "z silences an alert: select one in the Alerts pane (6)") }
            let alerts = Selectors.filteredAlerts(state)
            let index = state.selected(.alerts)
            guard alerts.indices.contains(index) else { return fail(&state, "no alert selected") }
            state.mode = .commandLine("silence \(alerts[index].selector) 1h ")
            state.historyIndex = nil
        case .weightStep(let step):
            guard let id = selectedProvider(state), let route = firstRoute(state, id) else { return fail(&state, "select a provider that serves a route") }
            let next = min(1000, max(0, route.effectiveWeight + step))
            propose(&state, .weight(route: route.route, weights: [(id, next)]), &effects)
        case .actionResults(let subject, let summary, let results, let at):
            let failed = results.filter { !$0.ok }
            state.message = StatusMessage(resultText(summary, results, applied: []), failed.isEmpty ? .ok : .crit)
            // A write that timed out may still be applied when the node resumes: watch its revision.
            var timedOut: [String: Int] = [:]
            for result in failed where result.message.contains("timed out") {
                if let revision = state.fleet.nodes.first(where: { $0.name == result.node })?.snapshot?.node.revision { timedOut[result.node] = revision }
            }
            // The pending mark stays until a poll after the results shows the change on every node
            // (or goes at once on failure).
            if failed.count == results.count, timedOut.isEmpty {
                state.pending[subject] = nil
            } else {
                var pending = PendingWrite(summary: summary, resultsAt: at)
                pending.results = results
                pending.timedOut = timedOut
                if state.fleet.usesStore, let revision = results.compactMap(\.revision).max() {
                    for node in state.fleet.nodes { pending.wanted[node.name] = revision }
                } else {
                    for result in results where result.ok { if let revision = result.revision { pending.wanted[result.node] = revision } }
                }
                state.pending[subject] = pending
            }
        case .nextPane:
            state.paneChosen = true
            state.pane = Pane(rawValue: (state.pane.rawValue + 1) % Pane.allCases.count)!
        case .previousPane:
            state.paneChosen = true
            state.pane = Pane(rawValue: (state.pane.rawValue + Pane.allCases.count - 1) % Pane.allCases.count)!
        case .selectPane(let pane):
            state.pane = pane
            state.paneChosen = true
        case .moveSelection(let delta):
            let count = rowCount(state, state.pane)
            let current = state.selected(state.pane)
            state.selection[state.pane] = count == 0 ? 0 : min(max(0, current + delta), count - 1)
        case .cycleSort:
            let all = ProviderSort.allCases
            state.sort = all[(all.firstIndex(of: state.sort)! + 1) % all.count]
            state.sortReversed = false
        case .reverseSort:
            state.sortReversed.toggle()
        case .togglePause:
            state.paused.toggle()
            effects.append(.setPolling(paused: state.paused))
        case .resize(let width, let height):
            state.width = max(0, width)
            state.height = max(0, height)
            // Until the operator picks a pane, the size picks it: the overview where there is room.
            if !state.paneChosen {
                state.pane = state.wall != nil || (width >= 120 && height >= 36) ? .overview : .providers
            }
        case .started(let now), .tick(let now):
            state.now = now
        case .screenOpened(let theme, let note, let wall):
            state.theme = theme
            if let note { state.message = StatusMessage(note, .warn) }
            if let wall {
                state.wall = wall
                state.readOnly = true
            }
        case .monitorHistory(let latency, let cost, let fleet):
            // Prometheus's past, before what this console has polled itself.
            if let fleet { state.fleetHistory.prepend(fleet) }
            for (id, values) in latency { state.latencyHistory[id] = Array((values + (state.latencyHistory[id] ?? [])).suffix(AppState.historyLength)) }
            for (id, values) in cost { state.costHistory[id] = Array((values + (state.costHistory[id] ?? [])).suffix(AppState.historyLength)) }
        case .pollBatch(let batch):
            if let poll = batch.monitor { applyMonitor(&state, poll) }
            for node in batch.nodes { applyNode(&state, node, at: batch.at) }
            merge(&state, at: batch.at)
            if !batch.nodes.isEmpty {
                effects.append(.eventCursors(state.fleet.nodes.map(\.eventCursor)))
                effects.append(.auditCursors(state.fleet.nodes.map(\.auditCursor)))
            }
            if state.showTimeline { askAlertHistory(&state, &effects) }
            advanceDrill(&state, at: batch.at, &effects)
        case .alertHistory(let runs, let error):
            if let runs { state.fleet.monitor.alertHistory = runs }
            state.fleet.monitor.alertHistoryError = error
        }
    }

    static func applyMonitor(_ state: inout AppState, _ poll: MonitorPoll) {
        if state.fleet.monitor.prometheusURL != nil {
            state.fleet.monitor.figures = poll.figures
            state.fleet.monitor.prometheusError = poll.figures == nil ? (poll.prometheusError ?? "no answer") : nil
        }
        if state.fleet.monitor.alertmanagerURL != nil {
            if let alerts = poll.alerts {
                state.fleet.monitor.alerts = alerts
                state.fleet.monitor.note(alerts, at: poll.at)
                state.fleet.monitor.alertmanagerError = nil
                state.fleet.monitor.alertsAt = poll.at
            } else {
                // The last list stays on screen, marked with the error and its age.
                state.fleet.monitor.alertmanagerError = poll.alertmanagerError ?? "no answer"
            }
        }
    }

    static func applyNode(_ state: inout AppState, _ poll: NodePoll, at: Double) {
        guard state.fleet.nodes.indices.contains(poll.index) else { return }
        var node = state.fleet.nodes[poll.index]
        if let incompatible = poll.incompatible {
            // Never keep showing old good news from a node whose answers no longer make sense.
            node.incompatible = incompatible
            node.snapshot = nil
            node.raw = poll.raw?.value
            node.error = nil
        } else if let snapshot = poll.snapshot {
            // A node that restarted numbers its events from 1 again: read them from the start.
            if let before = node.snapshot, before.node.startedAt != snapshot.node.startedAt {
                node.eventCursor = 0
                node.auditCursor = 0
                node.audit = []
                node.requests = []
            }
            node.operatorState = poll.operatorState
            node.snapshot = snapshot
            node.raw = poll.raw?.value
            node.lastSuccess = at
            node.error = nil
            node.incompatible = nil
        } else {
            node.error = poll.error ?? "no answer"
        }
        if !poll.events.isEmpty {
            node.events = Array((node.events + poll.events).suffix(500))
            node.eventCursor = poll.events.last!.sequence
        }
        if !poll.requests.isEmpty {
            node.requests = Array((node.requests + poll.requests).suffix(NodeStatus.keptRequests))
        }
        if let last = poll.audit.last {
            node.audit = Array((node.audit + poll.audit).suffix(1000))
            node.auditCursor = last.sequence
        }
        state.fleet.nodes[poll.index] = node
    }

    /// After a poll: the merged rows, histories, pending marks and selections, brought up to date once.
    static func merge(_ state: inout AppState, at: Double) {
        state.fleet.refresh()
        state.mergedEvents = Selectors.merged(state.fleet)
        state.fleetHistory.append(state.fleet.summary(now: at), at: at)
        // Requests per second per node (0 while it does not answer), route and client.
        var trends: [String: Double] = [:]
        for node in state.fleet.nodes {
            trends["node:" + node.name] = node.error == nil ? state.fleet.nodeRPS(node)?.rps ?? 0 : 0
            guard node.error == nil, let s = node.snapshot else { continue }
            for route in s.routes { trends["route:" + route.alias, default: 0] += route.stats.oneMinute.requestsPerSecond }
            for client in s.clients ?? [] { trends["client:" + client.name, default: 0] += Double(client.requests1m) / 60 }
        }
        // One point per poll for each: one no node reports this time is 0.
        for key in state.trends.keys where trends[key] == nil { trends[key] = 0 }
        for (key, value) in trends {
            state.trends[key, default: []].append(value)
            if state.trends[key]!.count > AppState.historyLength { state.trends[key]!.removeFirst() }
        }
        for row in state.fleet.rows {
            state.latencyHistory[row.id, default: []].append(row.p50 ?? 0)
            state.costHistory[row.id, default: []].append(row.costPerHour)
            if state.latencyHistory[row.id]!.count > AppState.historyLength { state.latencyHistory[row.id]!.removeFirst() }
            if state.costHistory[row.id]!.count > AppState.historyLength { state.costHistory[row.id]!.removeFirst() }
        }
        // A poll newer than a pending action's results confirms it once every node that answers has
        // reached the revision it wants; until then the footer names the nodes still behind.
        for (subject, pending) in state.pending {
            guard let resultsAt = pending.resultsAt, at > resultsAt else { continue }
            if !pending.timedOut.isEmpty {
                // A node whose write timed out and that has moved past its revision since applied it.
                let applied = state.fleet.nodes.filter { node in
                    guard node.error == nil, let before = pending.timedOut[node.name], let revision = node.snapshot?.node.revision else { return false }
                    return revision > before
                }.map(\.name)
                var left = pending
                for name in applied { left.timedOut[name] = nil }
                if !applied.isEmpty {
                    let done = pending.results.filter { !$0.ok && !applied.contains($0.node) }.isEmpty
                    state.message = StatusMessage(resultText(pending.summary, pending.results, applied: Set(applied)), done ? .ok : .crit)
                    left.results = pending.results.map { r in applied.contains(r.node) ? NodeResult(node: r.node, ok: true, message: "applied (after timing out)") : r }
                }
                // Not waited for past five minutes: it stays as reported.
                if at - resultsAt > 300 { left.timedOut = [:] }
                state.pending[subject] = left
                if !left.timedOut.isEmpty { continue }
                if left.results.allSatisfy({ !$0.ok }) {
                    state.pending[subject] = nil
                    continue
                }
            }
            let waiting = state.fleet.nodes.filter { node in
                guard node.error == nil, let revision = node.snapshot?.node.revision, let wanted = pending.wanted[node.name] else { return false }
                return revision < wanted
            }
            if waiting.isEmpty {
                state.pending[subject] = nil
                continue
            }
            state.pending[subject]?.waiting = waiting.map(\.name)
            let names = waiting.map { "\($0.name) (at \($0.snapshot!.node.revision), wants \(pending.wanted[$0.name]!))" }
            // The nodes first: the summary may be cut at the screen's edge.
            state.message = StatusMessage("waiting for \(names.joined(separator: ", ")) to apply: \(pending.summary)", .warn)
        }
        // Keep selections inside their lists as the data changes.
        for pane in Pane.allCases {
            let count = rowCount(state, pane)
            if state.selected(pane) >= count { state.selection[pane] = max(0, count - 1) }
        }
    }

    /// `Drain provider x on 3 nodes: demo-1 ok, demo-2 timed out`; a node in `applied` reads
    /// `demo-2 applied (after timing out)`.
    static func resultText(_ summary: String, _ results: [NodeResult], applied: Set<String>) -> String {
        "\(summary): " + results.map { r in
            "\(r.node) \(r.ok ? r.message == "ok" ? "ok" : r.message : applied.contains(r.node) ? "applied (after timing out)" : r.message)"
        }.joined(separator: ", ")
    }

    /// The timeline's resolved alerts come from Prometheus when it is given: ask again while it shows.
    static func askAlertHistory(_ state: inout AppState, _ effects: inout [Effect]) {
        guard state.fleet.monitor.wantsAlertHistory(now: state.now) else { return }
        state.fleet.monitor.alertHistoryAskedAt = state.now
        effects.append(.loadAlertHistory(since: state.now - 3600))
    }

    static func fail(_ state: inout AppState, _ text: String) {
        state.message = StatusMessage(text, .crit)
    }

    /// Plan a command and open its confirmation dialog (or say why it cannot be done).
    @discardableResult
    public static func propose(_ state: inout AppState, _ command: Command) -> [Effect] {
        var effects: [Effect] = []
        propose(&state, command, &effects)
        return effects
    }

    static func propose(_ state: inout AppState, _ command: Command, _ effects: inout [Effect]) {
        guard !state.readOnly || !command.changesFleet else {
            state.mode = .normal
            return fail(&state, "read-only console (--read-only): '\(command.text)' would change the fleet and is not sent; only theme, timeline and q run here")
        }
        switch command {
        case .quit:
            state.quit = true
        case .theme(let name):
            state.mode = .normal
            effects.append(.loadTheme(name))
        case .timeline:
            state.mode = .normal
            state.showTimeline = true
            askAlertHistory(&state, &effects)
        default:
            switch command.plan(fleet: state.fleet, reason: nil, now: state.now) {
            case .failure(let error):
                state.mode = .normal
                fail(&state, error.description)
            case .success(let plan):
                state.mode = .confirm(Confirmation(plan: plan, preview: Preview.of(command, fleet: state.fleet, now: state.now)))
            }
        }
    }

    /// Keys go to the dialog or the command line when one is open, else through the key map.
    @discardableResult
    public static func handle(_ state: inout AppState, _ key: KeyEvent) -> [Effect] {
        var effects: [Effect] = []
        handle(&state, key, &effects)
        return effects
    }

    /// The `:` line: typing at the cursor, readline's Ctrl-A/E (start, end), Ctrl-U (clear to the
    /// start), Ctrl-W (the word before the cursor), Ctrl-K (to the end), Left/Right, Up/Down
    /// through the history, Tab to complete names; Enter runs it, Esc and Ctrl-C cancel it.
    static func editCommandLine(_ state: inout AppState, _ text: String, _ key: KeyEvent, _ effects: inout [Effect]) {
        var chars = Array(text)
        var cursor = min(chars.count, max(0, state.commandCursor ?? chars.count))
        func set(_ new: [Character], _ at: Int) {
            state.mode = .commandLine(String(new))
            state.commandCursor = at >= new.count ? nil : max(0, at)
        }
        switch key {
        case .escape, .interrupt:
            state.mode = .normal
            state.commandCursor = nil
        case .enter:
            let line = text.trimmingCharacters(in: .whitespaces)
            state.mode = .normal
            state.commandCursor = nil
            guard !line.isEmpty else { return }
            if state.history.last != line { state.history.append(line) }
            if state.history.count > 100 { state.history.removeFirst() }
            switch Command.parse(line) {
            case .failure(let error): fail(&state, error.description)
            case .success(let command): propose(&state, command, &effects)
            }
        case .backspace:
            if chars.isEmpty { state.mode = .normal; state.commandCursor = nil; return }
            guard cursor > 0 else { return }
            chars.remove(at: cursor - 1)
            set(chars, cursor - 1)
        case .left: state.commandCursor = max(0, cursor - 1)
        case .right: state.commandCursor = cursor + 1 >= chars.count ? nil : cursor + 1
        case .home, .control("a"): state.commandCursor = 0
        case .end, .control("e"): state.commandCursor = nil
        case .control("u"): set(Array(chars[cursor...]), 0)
        case .control("k"): set(Array(chars[..<cursor]), cursor)
        case .control("w"):
            var start = cursor
            while start > 0, chars[start - 1] == " " { start -= 1 }
            while start > 0, chars[start - 1] != " " { start -= 1 }
            set(Array(chars[..<start] + chars[cursor...]), start)
        case .tab:
            let head = String(chars[..<cursor])
            let (done, choices) = Completion.complete(head, fleet: state.fleet)
            set(Array(done) + chars[cursor...], done.count)
            if choices.count > 1 { state.message = StatusMessage(TerminalText.safe(choices.joined(separator: "  ")), .dim) }
        case .up, .down:
            guard !state.history.isEmpty else { return }
            var index = state.historyIndex ?? state.history.count
            index = key == .up ? max(0, index - 1) : min(state.history.count, index + 1)
            state.historyIndex = index
            set(Array(index < state.history.count ? state.history[index] : ""), .max)
        case .character(let c):
            guard chars.count < 200 else { return }
            chars.insert(c, at: cursor)
            set(chars, cursor + 1)
        default: break
        }
    }

    static func handle(_ state: inout AppState, _ key: KeyEvent, _ effects: inout [Effect]) {
        // The wallboard is read-only whatever the token: quit, pause and theme, nothing else.
        if state.wall != nil {
            if let action = KeyMap.wallKeys[key] { apply(&state, action, &effects) }
            return
        }
        switch state.mode {
        case .normal:
            // Tab turns the help's page between the keys and the `:` commands.
            if state.showHelp, key == .tab || key == .backTab {
                state.helpPage = 1 - state.helpPage
                return
            }
            if let action = KeyMap.action(for: key, readOnly: state.readOnly) { apply(&state, action, &effects) }
        case .commandLine(let text):
            editCommandLine(&state, text, key, &effects)
        case .filter(var text):
            switch key {
            case .escape, .interrupt:
                state.filter = ""
                state.mode = .normal
            case .enter:
                state.filter = text
                state.mode = .normal
            case .tab:
                let (done, choices) = Completion.completeFilter(text, state: state)
                text = done
                state.filter = text
                state.mode = .filter(text)
                if choices.count > 1 { state.message = StatusMessage(TerminalText.safe(choices.joined(separator: "  ")), .dim) }
            case .backspace:
                if !text.isEmpty { text.removeLast() }
                state.filter = text
                state.mode = .filter(text)
            case .character(let c):
                if text.count < 64 { text.append(c) }
                state.filter = text
                state.mode = .filter(text)
            default: break
            }
            for pane in Pane.allCases { state.selection[pane] = 0 }
        case .confirm(let dialog):
            handleDialog(&state, dialog, key, &effects)
        }
    }

    /// Keys in a confirmation dialog. In a text field (the reason, the typed name) every printable
    /// key is text and nothing else: Enter moves on to the next field, Esc cancels. On the buttons,
    /// `y` confirms, `n` or Esc cancels, `r` goes to the reason; other letters do nothing.
    static func handleDialog(_ state: inout AppState, _ initial: Confirmation, _ key: KeyEvent, _ effects: inout [Effect]) {
        var dialog = initial
        // Ctrl-C quits from a dialog as from everywhere but a line being typed; nothing is sent.
        if key == .interrupt { state.quit = true; return }
        func move(_ step: Int) {
            let order = dialog.order
            dialog.focus = order[((order.firstIndex(of: dialog.focus) ?? 0) + step + order.count) % order.count]
            state.mode = .confirm(dialog)
        }
        func cancel() {
            state.mode = .normal
            state.message = StatusMessage("cancelled", .dim)
        }
        func confirm() {
            if let name = dialog.preview?.guardName, dialog.typed != name {
                // Leaving a route with nothing, or the fleet without a serving node, needs the name typed.
                dialog.focus = .typedName
                state.mode = .confirm(dialog)
                state.message = StatusMessage("type '\(name)' to confirm: \(dialog.preview?.guardReason ?? "")", .crit)
                return
            }
            // Planned again as sent: with the reason, and a silence starting now, not when the dialog opened.
            var plan = dialog.plan
            if case .success(let again) = plan.command.plan(fleet: state.fleet, reason: dialog.reason, now: state.now) {
                plan = again
            }
            effects.append(.send(plan))
            if case .drill(let fault) = plan.command {
                // The look before the fault: what the report's deltas start from.
                state.drill = DrillRun(fault: fault, rto: fault.rto ?? Self.drillRTO, injectedAt: state.now,
                                       samples: [DrillReport.sample(state.fleet, provider: fault.provider, at: state.now - 0.001)])
                state.drillReport = nil
            }
            state.pending[plan.command.subject] = PendingWrite(summary: plan.summary)
            for change in dialog.preview?.routes ?? [] {
                state.expected[change.route] = ExpectedShares(shares: Dictionary(uniqueKeysWithValues: change.shares.map { ($0.provider, $0.after) }), until: state.now + 60)
            }
            state.message = StatusMessage("\(plan.summary): sent", .warn)
            state.mode = .normal
        }
        if dialog.focus.isText {
            switch key {
            case .escape: cancel()
            case .tab, .down: move(1)
            case .backTab, .up: move(-1)
            case .enter: move(1)
            case .backspace:
                if dialog.focus == .reason, !dialog.reason.isEmpty { dialog.reason.removeLast() }
                if dialog.focus == .typedName, !dialog.typed.isEmpty { dialog.typed.removeLast() }
                state.mode = .confirm(dialog)
            case .character(let c):
                if dialog.focus == .reason, dialog.reason.count < 200 { dialog.reason.append(c) }
                if dialog.focus == .typedName, dialog.typed.count < 100 { dialog.typed.append(c) }
                state.mode = .confirm(dialog)
            default: break
            }
            return
        }
        switch key {
        case .escape, .character("n"), .character("N"): cancel()
        case .tab, .down: move(1)
        case .backTab, .up: move(-1)
        case .left, .right:
            // Between the two buttons, as in a button row.
            dialog.focus = dialog.focus == .cancel ? .confirm : .cancel
            state.mode = .confirm(dialog)
        case .character("r"), .character("R"):
            dialog.focus = .reason
            state.mode = .confirm(dialog)
        case .character("y"), .character("Y"): confirm()
        case .enter:
            if dialog.focus == .confirm { confirm() } else { cancel() }
        default: break
        }
    }

    static func selectedProvider(_ state: AppState) -> String? {
        guard state.pane == .providers || state.pane == .cost || state.pane == .overview else { return nil }
        let rows = Selectors.sortedProviders(state)
        let index = state.selected(state.pane)
        return rows.indices.contains(index) ? rows[index].id : nil
    }

    static func selectedNode(_ state: AppState) -> String? {
        let nodes = Selectors.filteredNodes(state)
        let index = state.selected(.nodes)
        guard nodes.indices.contains(index) else { return nil }
        return nodes[index].snapshot?.node.id ?? nodes[index].url
    }

    static func firstRoute(_ state: AppState, _ provider: String) -> ProviderWeight? {
        state.fleet.nodes.compactMap(\.snapshot).first?.providers.first { $0.id == provider }?.weights.first
    }

    static func rowCount(_ state: AppState, _ pane: Pane) -> Int {
        switch pane {
        case .overview, .providers, .cost: Selectors.sortedProviders(state).count
        case .nodes: Selectors.filteredNodes(state).count
        case .routes: Selectors.routeLines(state).count
        case .events: Selectors.eventLines(state).count
        case .alerts: Selectors.filteredAlerts(state).count
        case .clients: Selectors.clientRows(state).count
        case .requests: Selectors.requestRows(state).count
        }
    }
}

extension Reducer {
    /// `:drill`'s objective when it names none.
    static let drillRTO = 60.0
    /// How long a drill on the screen watches the recovery after the fault ended.
    static let drillRecoveryWatch = 120.0

    /// A drill on the screen, at each poll: a look at the fleet; at the fault's end, the write that
    /// ends it; once the provider is back in rotation on every node (or the watch is over), the report
    /// over the screen, built from the nodes' events and audit as the timeline is.
    static func advanceDrill(_ state: inout AppState, at: Double, _ effects: inout [Effect]) {
        guard var run = state.drill else { return }
        let provider = run.fault.provider
        run.samples.append(DrillReport.sample(state.fleet, provider: provider, at: at))
        if run.samples.count > 2000 { run.samples.removeFirst(run.samples.count - 2000) }
        if run.endedAt == nil, at >= run.injectedAt + run.fault.duration {
            if case .success(let stop) = Command.unfault(provider).plan(fleet: state.fleet, reason: "drill over: \(run.fault.text)", now: at) {
                effects.append(.send(stop))
            }
            run.endedAt = at
            state.message = StatusMessage("drill: the fault on \(provider) ended; watching the recovery", .warn)
        }
        if let ended = run.endedAt, let last = run.samples.last, last.time > ended {
            if last.recovered || at >= ended + drillRecoveryWatch {
                let inputs = state.fleet.nodes.map { Timeline.NodeInput(name: $0.name, events: $0.events, audit: $0.audit, error: nil) }
                let monitor = state.fleet.monitor
                let timeline = Timeline.build(nodes: inputs, alerts: monitor.firing, since: run.injectedAt - 1, alertRuns: monitor.timelineRuns,
                                              prometheusError: monitor.alertHistoryError, instances: state.fleet.instanceNames)
                let report = DrillReport.build(spec: run.fault, rto: run.rto, injectedAt: run.injectedAt, endedAt: ended, samples: run.samples,
                                               events: inputs.flatMap(\.events), timeline: timeline)
                state.drillReport = report
                state.drill = nil
                state.message = StatusMessage("drill on \(provider): \(report.verdict)", report.passed ? .ok : .crit)
                return
            }
        }
        state.drill = run
    }
}
