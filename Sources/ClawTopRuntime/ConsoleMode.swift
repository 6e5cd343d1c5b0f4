import ClawTopCore

/// What one run of `clawtop` does, picked once from the flags: each mode is one small function of
/// `Console` (`runScreen`, `runOnce`, `runExec`, ...). `--demo` is not a mode: it is where the
/// nodes come from, and goes with the screen, `--once`, `--exec`, `--drill` and `--headless`.
public enum ConsoleMode: Sendable, Equatable {
    /// The interactive screen.
    case screen
    /// `--wall`: the same screen as a read-only wallboard.
    case wall(WallSettings)
    /// `--once`: poll, print the snapshot (text or JSON), exit with the fleet's status.
    case once
    /// `--exec LINE`: one command of the `:` language, no screen.
    case exec(String)
    /// `--timeline`: print the incident timeline and exit.
    case timeline
    /// `--requests`: print every node's recent requests and exit.
    case requests
    /// `--drill SPEC`: inject the fault, watch, end it, report.
    case drill(String)
    /// `--demo --headless`: start the demo fleet, print its URLs and tokens, run until a signal.
    case headless

    /// The mode the flags select. The argument parser refuses the combinations that make no sense;
    /// where two are still given, the first of this order wins (as it always has): `--headless`,
    /// `--exec`, `--drill`, `--requests`, `--timeline`, `--once`, `--wall`, the screen.
    public init(_ options: ConsoleOptions) {
        if options.headless {
            self = .headless
        } else if let line = options.exec {
            self = .exec(line)
        } else if let spec = options.drill {
            self = .drill(spec)
        } else if options.requests {
            self = .requests
        } else if options.timeline {
            self = .timeline
        } else if options.once {
            self = .once
        } else if let wall = options.wall {
            self = .wall(wall)
        } else {
            self = .screen
        }
    }

    /// Whether it draws on the terminal: the terminal is checked before anything starts.
    public var drawsScreen: Bool {
        switch self {
        case .screen, .wall: true
        case .once, .exec, .timeline, .requests, .drill, .headless: false
        }
    }

    /// The wallboard's settings, in the wall mode.
    public var wall: WallSettings? {
        if case .wall(let settings) = self { settings } else { nil }
    }
}
