import ClawCurl
import ClawTerminal
import ClawTopCore
import Foundation
import Synchronization

/// The interactive modes: the screen and the wallboard.
extension Console {
    /// The screen (and `--wall`): a poll thread beside the input loop; keys, polls, results and
    /// ticks go through the reducer, and its effects run here.
    func runScreen(_ session: inout Session, _ setup: Setup, wall: WallSettings?) throws {
        guard let choice = setup.terminal else { return }
        let (poller, token, refresh, signals) = (session.poller, session.token, setup.refresh, setup.signals)
        let initial = session.state
        let startTheme: Theme
        do {
            startTheme = try ThemeLoader.load(setup.theme)
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
        // Stale once no node has answered for three refreshes (and at least 5 s).
        let wallSettings = wall.map { WallSettings(cycle: $0.cycle, staleAfter: max(5, 3 * refresh)) }
        Reducer.reduce(&state, .screenOpened(theme: startTheme.name, note: choice.note, wall: wallSettings))

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
            run(Reducer.reduce(&state, .tick(now: now)))
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
        session.state = state
        // Said again at exit, where it stays on screen after the console's own screen is gone.
        if let note = choice.note { throw ConsoleExit(0, note) }
    }
}
