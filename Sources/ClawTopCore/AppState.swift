/// The panes of the console, in Tab order; digits 0-8 jump to them.
public enum Pane: Int, Sendable, CaseIterable {
    case overview, providers, nodes, routes, cost, events, alerts, clients, requests

    public var title: String {
        switch self {
        case .overview: "Overview"
        case .providers: "Providers"
        case .nodes: "Nodes"
        case .routes: "Routes"
        case .cost: "Cost"
        case .events: "Events"
        case .alerts: "Alerts"
        case .clients: "Clients"
        case .requests: "Requests"
        }
    }
}

/// A key as the driver read it.
public enum KeyEvent: Sendable, Hashable {
    case character(Character)
    case up, down, left, right, pageUp, pageDown, home, end
    case tab, backTab, enter, escape, backspace
    /// Ctrl and a letter (`.control("u")` is Ctrl-U): readline's line editing on the `:` line.
    case control(Character)
    /// Ctrl-C: cancels the `:` or `/` line being typed, quits everywhere else.
    case interrupt
}

/// What the console does next; keys become actions through the key map.
public enum Action: Sendable, Equatable {
    case quit
    case toggleHelp
    case nextPane, previousPane
    case selectPane(Pane)
    case moveSelection(Int)
    case cycleSort
    /// `S`: the same sort column, the other way round.
    case reverseSort
    case togglePause
    case escape
    case resize(width: Int, height: Int)
    /// The runtime built the state: the wall clock at the start, before the first poll.
    case started(now: Double)
    /// The screen opened: the theme it loaded, what it says about the terminal (a missing terminfo
    /// entry), and with `--wall` the wallboard's settings.
    case screenOpened(theme: String, note: String?, wall: WallSettings?)
    /// The wall clock, each turn of the screen's loop: ages and the wall's cycle follow it.
    case tick(now: Double)
    /// One poll of the whole fleet (and of Prometheus and Alertmanager): one action, one merge.
    case pollBatch(PollBatch)
    /// The runtime loaded the theme an effect asked for, or could not.
    case themeLoaded(String)
    case themeFailed(String)
    /// Sparkline history per provider from Prometheus range queries, oldest first (at start).
    case monitorHistory(latency: [String: [Double]], cost: [String: [Double]], fleet: FleetHistory? = nil)
    /// Action keys on the selected row.
    case drainSelected, undrainSelected, weightPrompt, weightStep(Int), failoverPrompt, restoreSelected
    /// `b` / `B` on the Clients pane.
    case blockSelected, unblockSelected
    /// `z` on an alert: the command line with a silence for just that alert.
    case silencePrompt
    case openCommandLine
    case openFilter
    case openDetail
    case cycleTheme
    /// Prometheus's answer about when each alert fired and resolved (nil runs: the error says why).
    case alertHistory(runs: [PromQL.AlertRun]?, error: String?)
    /// The per-node results of a sent plan.
    case actionResults(subject: String, summary: String, results: [NodeResult], at: Double)
}

/// One node's answer in a poll: its snapshot, or the error, or `incompatible` when the answer did not decode.
public struct NodePoll: Sendable, Equatable {
    public var index: Int
    public var snapshot: Snapshot?
    public var raw: JSONValueBox?
    public var events: [Event]
    public var error: String?
    public var incompatible: DecodeFailure?
    /// `GET /admin/v1/state`: the operator changes in force (nil: not read, or a node without it).
    public var operatorState: StateDocument?
    /// Audit entries after the last one seen: who changed what, when and why.
    public var audit: [AuditEntry]
    /// The node's request records after the last one seen (`GET /admin/v1/requests`).
    public var requests: [RequestRecord] = []

    public init(index: Int, snapshot: Snapshot?, raw: JSONValueBox?, events: [Event], error: String?, incompatible: DecodeFailure? = nil,
                operatorState: StateDocument? = nil, audit: [AuditEntry] = [], requests: [RequestRecord] = []) {
        self.requests = requests
        self.index = index
        self.snapshot = snapshot
        self.raw = raw
        self.events = events
        self.error = error
        self.incompatible = incompatible
        self.operatorState = operatorState
        self.audit = audit
    }
}

/// Everything one poll brought back, merged into the state at once.
public struct PollBatch: Sendable, Equatable {
    public var nodes: [NodePoll]
    public var monitor: MonitorPoll?
    /// Wall-clock seconds of the poll.
    public var at: Double

    public init(nodes: [NodePoll], monitor: MonitorPoll? = nil, at: Double) {
        self.nodes = nodes
        self.monitor = monitor
        self.at = at
    }
}

extension Action {
    /// A batch of one node's answer (tests and `--once` build polls this way too).
    public static func polled(index: Int, snapshot: Snapshot?, raw: JSONValueBox?, events: [Event], error: String?,
                              incompatible: DecodeFailure? = nil, at: Double) -> Action {
        .pollBatch(PollBatch(nodes: [NodePoll(index: index, snapshot: snapshot, raw: raw, events: events, error: error, incompatible: incompatible)],
                             at: at))
    }

    /// A batch of only Prometheus's and Alertmanager's answers.
    public static func monitorPolled(_ poll: MonitorPoll) -> Action {
        .pollBatch(PollBatch(nodes: [], monitor: poll, at: poll.at))
    }
}

public struct NodeResult: Sendable, Equatable {
    public var node: String
    public var ok: Bool
    public var message: String
    /// The operator state revision the write made, when the node said.
    public var revision: Int?

    public init(node: String, ok: Bool, message: String, revision: Int? = nil) {
        self.node = node
        self.ok = ok
        self.message = message
        self.revision = revision
    }
}

/// The confirmation dialog of a dangerous action; its default focus is Cancel, and the reason is
/// one key away (`r` or Tab).
public struct Confirmation: Sendable, Equatable {
    public enum Focus: Sendable, Equatable {
        case reason, typedName, cancel, confirm
        /// A text field: every printable key typed there is text, never a command.
        public var isText: Bool { self == .reason || self == .typedName }
    }
    public var plan: ActionPlan
    public var reason = ""
    public var focus: Focus = .cancel
    /// What the action will do (shares, spend, warnings), when it moves traffic.
    public var preview: Preview?
    /// What the operator typed where the preview asks for a route or node name.
    public var typed = ""

    public init(plan: ActionPlan, preview: Preview? = nil) {
        self.plan = plan
        self.preview = preview
    }

    /// The Tab order from Cancel: the reason first, the name field only when the preview asks for one.
    var order: [Focus] { preview?.guardName != nil ? [.cancel, .reason, .typedName, .confirm] : [.cancel, .reason, .confirm] }
}

public enum Mode: Sendable, Equatable {
    case normal
    case commandLine(String)
    case filter(String)
    case confirm(Confirmation)
}

/// A drill on the screen: the fault, when it was sent and ended, and each poll's look at the fleet.
public struct DrillRun: Sendable, Equatable {
    public var fault: FaultCommand
    /// The objective it is judged against (`rto=`; 60 s unless given).
    public var rto: Double
    public var injectedAt: Double
    public var endedAt: Double?
    public var samples: [DrillReport.Sample]

    public init(fault: FaultCommand, rto: Double, injectedAt: Double, samples: [DrillReport.Sample]) {
        self.fault = fault
        self.rto = rto
        self.injectedAt = injectedAt
        self.samples = samples
    }
}

/// Wraps the raw snapshot JSON so actions stay Equatable without comparing whole documents.
public struct JSONValueBox: Sendable, Equatable {
    public let value: JSONValue
    public init(_ value: JSONValue) { self.value = value }
    public static func == (a: JSONValueBox, b: JSONValueBox) -> Bool { true }
}

import ClawAdminAPI
import ClawShared

public enum ProviderSort: String, Sendable, CaseIterable {
    case name, state, rps, errors, p99, cost
}

/// Everything the screen shows, changed only by the reducer.
public struct AppState: Sendable, Equatable {
    public var fleet: Fleet
    public var pane: Pane = .providers
    public var selection: [Pane: Int] = [:]
    public var sort: ProviderSort = .name
    /// `S` turned the sort round: names Z to A, figures smallest first.
    public var sortReversed = false
    public var paused = false
    public var showHelp = false
    /// The help overlay's page: 0 the keys, 1 the `:` commands with their arguments (Tab turns it).
    public var helpPage = 0
    public var readOnly = false
    public var ascii = false
    public var quit = false
    public var width = 80
    public var height = 24
    /// Wall-clock seconds, set by the driver each frame.
    public var now = 0.0
    public var mode: Mode = .normal
    public var history: [String] = []
    public var historyIndex: Int?
    /// Where the `:` line's cursor is, in characters from its start (nil: at the end).
    public var commandCursor: Int?
    /// The last result or error, shown above the footer.
    public var message: StatusMessage?
    /// Plans confirmed and waiting for the driver to send.
    /// Subjects with an action sent and not yet confirmed by a poll.
    public var pending: [String: PendingWrite] = [:]
    public var theme = "dark"
    /// Rows whose name contains this (set with `/`).
    public var filter = ""
    /// The provider whose detail view is open (Enter), if any.
    public var detail: String?
    /// Every node's events merged into lines at the last poll (`Selectors.eventLines`), with what
    /// they were made from: a frame filters them and does not merge again.
    public var mergedEvents = MergedEvents()
    /// The event line shown whole over the Events pane (Enter there): its key, so that it stays
    /// the same event while newer ones arrive.
    public var eventDetail: String?
    /// The request whose detail is open (Enter on the Requests pane): its node and sequence.
    public var requestDetail: RequestKey?
    /// Per provider, the fleet p50 latency and cost per hour of each poll, oldest first.
    public var latencyHistory: [String: [Double]] = [:]
    public var costHistory: [String: [Double]] = [:]
    public static let historyLength = 120
    /// Per node, route and client (`node:demo-1`, `route:chat`, `client:web-app`), requests per
    /// second at each poll, oldest first: the graphs under the Nodes, Routes and Clients tables.
    public var trends: [String: [Double]] = [:]
    /// The fleet's figures at each poll, oldest first: the overview's graphs.
    public var fleetHistory = FleetHistory()
    /// Whether the operator picked a pane; until then the size picks it (the overview where it fits).
    public var paneChosen = false
    /// `:timeline`: the incident timeline over the screen.
    public var showTimeline = false
    /// `:drill` under way: the fault, when it went in, and the looks at the fleet since.
    public var drill: DrillRun?
    /// The last drill's report over the screen (Esc closes it).
    public var drillReport: DrillReport?
    /// `--wall`: the read-only wallboard.
    public var wall: WallSettings?
    /// After an action with a preview, for a minute: route -> provider -> the share it should get,
    /// shown beside the actual share in the Routes pane.
    public var expected: [String: ExpectedShares] = [:]

    public init(fleet: Fleet, readOnly: Bool = false, ascii: Bool = false) {
        self.fleet = fleet
        self.readOnly = readOnly
        self.ascii = ascii
    }

    public func selected(_ pane: Pane) -> Int { selection[pane] ?? 0 }
}

/// The last result or error, shown above the footer, in its colour.
public struct StatusMessage: Sendable, Equatable {
    public var text: String
    public var role: Role

    public init(_ text: String, _ role: Role) {
        self.text = text
        self.role = role
    }
}

/// Every node's events merged into lines, with what they were made from (each node's last sequence).
public struct MergedEvents: Sendable, Equatable {
    public var lines: [Selectors.EventLine] = []
    public var source: [Int] = []

    public init(lines: [Selectors.EventLine] = [], source: [Int] = []) {
        self.lines = lines
        self.source = source
    }
}

/// A route's shares as an action's preview predicted them, shown until `until` (wall-clock seconds).
public struct ExpectedShares: Sendable, Equatable {
    public var shares: [String: Double]
    public var until: Double

    public init(shares: [String: Double], until: Double) {
        self.shares = shares
        self.until = until
    }
}

/// An action sent and not yet seen in effect everywhere.
public struct PendingWrite: Sendable, Equatable {
    public var summary: String
    /// When the results came (nil: sent, no answer yet).
    public var resultsAt: Double?
    /// Node name -> the revision it must report before the action counts as applied there: the
    /// revision each node's answer gave, or, with a fleet store, the one write's revision for
    /// every node.
    public var wanted: [String: Int] = [:]
    /// The nodes that answer but have not reached their revision yet (at the last poll).
    public var waiting: [String] = []
    /// The per-node results as they came, and the nodes whose write timed out (an unknown outcome,
    /// not a failure) with the revision they were at: a later poll past it says it was applied.
    public var results: [NodeResult] = []
    public var timedOut: [String: Int] = [:]

    public init(summary: String, resultsAt: Double? = nil, wanted: [String: Int] = [:]) {
        self.summary = summary
        self.resultsAt = resultsAt
        self.wanted = wanted
    }
}

/// The fleet's requests/s, error ratio, p99 and spend per hour, one point per poll, with the
/// providers' own fault ratio (what failover hides from the clients) and when each point was taken.
public struct FleetHistory: Sendable, Equatable {
    public var rps: [Double] = []
    public var errorRatio: [Double] = []
    public var p99: [Double] = []
    public var costPerHour: [Double] = []
    /// Upstream attempts that failed by the provider's fault, over all attempts.
    public var providerFaults: [Double] = []
    /// Wall-clock seconds of each point (empty when a source did not say).
    public var times: [Double] = []
    public static let length = 600

    public init() {}

    public init(rps: [Double], errorRatio: [Double], p99: [Double], costPerHour: [Double], providerFaults: [Double] = [], times: [Double] = []) {
        self.rps = rps
        self.errorRatio = errorRatio
        self.p99 = p99
        self.costPerHour = costPerHour
        self.providerFaults = providerFaults
        self.times = times
    }

    /// `earlier` (Prometheus's past) before what this console polled itself. Every series keeps
    /// one value per point (a series the past lacks is 0 there), and so do the times.
    public mutating func prepend(_ earlier: FleetHistory) {
        let count = earlier.rps.count
        func join(_ a: [Double], _ b: [Double]) -> [Double] {
            let padded = a.count >= count ? Array(a.suffix(count)) : [Double](repeating: 0, count: count - a.count) + a
            return Array((padded + b).suffix(Self.length))
        }
        alignTimes(now: earlier.times.last.map { $0 + spacing } ?? times.last ?? 0)
        let before = earlier.times.count == count ? earlier.times : Self.times(count, before: times.first ?? 0, step: spacing)
        rps = join(earlier.rps, rps)
        errorRatio = join(earlier.errorRatio, errorRatio)
        p99 = join(earlier.p99, p99)
        costPerHour = join(earlier.costPerHour, costPerHour)
        providerFaults = join(earlier.providerFaults, providerFaults)
        times = join(before, times)
    }

    public mutating func append(_ s: Fleet.Summary, at time: Double) {
        func push(_ list: inout [Double], _ value: Double) {
            list.append(value)
            if list.count > Self.length { list.removeFirst(list.count - Self.length) }
        }
        alignTimes(now: time)
        push(&rps, s.rps)
        push(&errorRatio, s.errorRatio)
        push(&p99, s.p99 ?? 0)
        push(&costPerHour, s.costPerHour)
        push(&providerFaults, s.providerFaultRatio)
        push(&times, time)
    }

    /// The usual time between points (2 s, the default refresh, until there are two).
    var spacing: Double {
        guard times.count >= 2 else { return 2 }
        return max(0.1, (times.last! - times.first!) / Double(times.count - 1))
    }

    /// `count` times `step` apart, the last one `step` before `before`.
    static func times(_ count: Int, before: Double, step: Double) -> [Double] {
        (0..<count).map { before - Double(count - $0) * step }
    }

    /// One time per point: points no source gave a time get one, `spacing` apart before the
    /// first known (or before `now`); provider faults a source did not give are 0.
    mutating func alignTimes(now: Double) {
        if times.count > rps.count { times = Array(times.suffix(rps.count)) }
        if times.count < rps.count { times = Self.times(rps.count - times.count, before: times.first ?? now, step: spacing) + times }
        if providerFaults.count > rps.count { providerFaults = Array(providerFaults.suffix(rps.count)) }
        if providerFaults.count < rps.count { providerFaults = [Double](repeating: 0, count: rps.count - providerFaults.count) + providerFaults }
    }
}

/// The wallboard's settings.
public struct WallSettings: Sendable, Equatable {
    /// Seconds on each view while cycling between the overview and unhealthy providers.
    public var cycle: Double
    /// Data older than this (seconds) makes the whole screen say STALE.
    public var staleAfter: Double

    public init(cycle: Double = 15, staleAfter: Double = 10) {
        self.cycle = cycle
        self.staleAfter = staleAfter
    }
}

/// One request record on one node: which node's ring it is in, and its sequence there.
public struct RequestKey: Sendable, Equatable, Hashable {
    public var node: Int
    public var sequence: Int

    public init(node: Int, sequence: Int) {
        self.node = node
        self.sequence = sequence
    }
}
