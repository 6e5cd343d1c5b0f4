import ClawCurl
import ClawTerminal
import ClawTopCore
import Foundation
import Synchronization

/// What the screen's loop, its poll thread and the threads that send actions share: the actions
/// waiting for the reducer, and what the poll thread is told (pause, stop, where to read from).
final class ScreenChannels: Sendable {
    let inbox = Mutex<[Action]>([])
    let control: Mutex<(paused: Bool, stop: Bool, cursors: [Int], audit: [Int])>

    init(nodes: Int) {
        control = Mutex((false, false, [Int](repeating: 0, count: nodes), [Int](repeating: 0, count: nodes)))
    }

    func post(_ action: Action) { inbox.withLock { $0.append(action) } }

    /// Every action waiting, oldest first, and none left.
    func take() -> [Action] { inbox.withLock { list in defer { list = [] }; return list } }
}

/// The interactive modes: the screen and the wallboard.
extension Console {
    /// The screen (and `--wall`): a poll thread beside the input loop; keys, polls, results and
    /// ticks go through the reducer, and its effects run in `perform`.
    func runScreen(_ session: inout Session, _ setup: Setup, wall: WallSettings?) throws {
        guard let choice = setup.terminal else { return }
        let startTheme: Theme
        do {
            startTheme = try ThemeLoader.load(setup.theme)
        } catch {
            throw fail(error.description, 2)
        }
        ResidentMemory.adviseRandomAccess()
        let channels = ScreenChannels(nodes: session.state.fleet.nodes.count)
        let polling = pollThread(session.poller, refresh: setup.refresh, channels)
        let terminal: Terminal
        do {
            terminal = try Terminal(choice, color: true)
        } catch {
            throw fail("the console needs a terminal: \(error.description)", 2)
        }
        polling.start()
        defer {
            channels.control.withLock { $0.stop = true }
            terminal.close()
        }
        terminal.apply(startTheme)
        var state = session.state
        // Stale once no node has answered for three refreshes (and at least 5 s).
        let wallSettings = wall.map { WallSettings(cycle: $0.cycle, staleAfter: max(5, 3 * setup.refresh)) }
        Reducer.reduce(&state, .screenOpened(theme: startTheme.name, note: choice.note, wall: wallSettings))
        func run(_ effects: [Effect]) { perform(effects, &state, session, terminal, channels) }
        let size = terminal.size
        run(Reducer.reduce(&state, .resize(width: size.width, height: size.height)))
        var dirty = true
        // Start-up's code (option parsing, config, the first polls and frames) is let go once.
        var startupCode = (began: Date().timeIntervalSince1970, released: false)
        while !state.quit, setup.signals.received == nil {
            let pending = channels.take()
            for action in pending { run(Reducer.reduce(&state, action)) }
            if !pending.isEmpty { dirty = true }
            let now = Date().timeIntervalSince1970
            if Int(now) != Int(state.now) { dirty = true }  // ages tick each second
            run(Reducer.reduce(&state, .tick(now: now)))
            if dirty {
                terminal.draw(View.render(state))
                dirty = false
            }
            if !startupCode.released, now - startupCode.began >= ResidentMemory.releaseAfter {
                ResidentMemory.releaseStartupCode()
                startupCode.released = true
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
        session.state = state
        // Said again at exit, where it stays on screen after the console's own screen is gone.
        if let note = choice.note { throw ConsoleExit(0, note) }
    }

    /// The poll thread: every `refresh` seconds one batch of the whole fleet (unless paused) from
    /// the cursors it was last told; right after the first, Prometheus's past, so the sparklines are
    /// full when the screen opens (a slow Prometheus does not delay the first poll).
    func pollThread(_ poller: Poller, refresh: Double, _ channels: ScreenChannels) -> Thread {
        Thread {
            var wantHistory = poller.monitor.prometheus != nil
            while true {
                let (paused, stop, cursors, audit) = channels.control.withLock { ($0.paused, $0.stop, $0.cursors, $0.audit) }
                if stop { return }
                if !paused { channels.post(poller.poll(cursors: cursors, auditCursors: audit)) }
                if wantHistory {
                    wantHistory = false
                    if let history = poller.history(step: refresh, count: AppState.historyLength) { channels.post(history) }
                }
                var waited = 0.0
                while waited < refresh, !channels.control.withLock({ $0.stop }) {
                    Thread.sleep(forTimeInterval: 0.05)
                    waited += 0.05
                }
            }
        }
    }

    /// The reducer's effects, run here: the only place the screen does I/O for it. Sends and
    /// Prometheus's alert history run on threads of their own and come back as actions.
    func perform(_ effects: [Effect], _ state: inout AppState, _ session: Session, _ terminal: Terminal, _ channels: ScreenChannels) {
        let (poller, token) = (session.poller, session.token)
        for effect in effects {
            switch effect {
            case .send(let plan):
                let urls = state.fleet.nodes.map(\.url)
                let names = state.fleet.nodes.map(\.name)
                let alertmanager = state.fleet.monitor.alertmanagerURL
                Thread.detachNewThread {
                    let results = ActionSender.send(plan, urls: urls, names: names, alertmanager: alertmanager, token: token, tls: poller.tls)
                    channels.post(.actionResults(subject: plan.command.subject, summary: plan.summary, results: results, at: Date().timeIntervalSince1970))
                }
            case .loadTheme(let name):
                do {
                    let theme = try ThemeLoader.load(name)
                    terminal.apply(theme)
                    perform(Reducer.reduce(&state, .themeLoaded(theme.name)), &state, session, terminal, channels)
                } catch {
                    perform(Reducer.reduce(&state, .themeFailed(error.description)), &state, session, terminal, channels)
                }
            case .setPolling(let paused):
                channels.control.withLock { $0.paused = paused }
            case .eventCursors(let cursors):
                channels.control.withLock { $0.cursors = cursors }
            case .auditCursors(let cursors):
                channels.control.withLock { $0.audit = cursors }
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
                    channels.post(action)
                }
            }
        }
    }
}
