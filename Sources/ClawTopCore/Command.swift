import ClawAdminAPI
import ClawShared

/// The `:` command language, shared by the command line, the action keys and `--exec`.
public enum Command: Sendable, Equatable {
    case drainProvider(String)
    case undrainProvider(String)
    case drainNode(String)
    case undrainNode(String)
    case weight(route: String, weights: [(String, Int)])
    case strategy(route: String, name: String)
    case blockClient(String)
    case unblockClient(String)
    /// `limit CLIENT rpm=N tpm=N spend_per_day=D concurrency=N`: the given limits replace those in force.
    case limit(client: String, limits: [(String, Double)])
    case failover(String, to: [String])
    case restore(String)
    /// Copy one node's drains, weights and failovers to the other nodes (file stores).
    case sync(String)
    /// With a fleet store: acknowledge the state's revisions written straight into etcd.
    case acknowledge
    case silence(Silence)
    /// Expire the silences that cover an alert (Alertmanager).
    case unsilence(Unsilence)
    case theme(String)
    /// Inject a fault on a provider for a drill (ends by itself).
    case fault(FaultCommand)
    /// End a provider's fault now.
    case unfault(String)
    /// A drill: the fault injected, the fleet watched, the fault ended and the report shown.
    case drill(FaultCommand)
    /// `budget ROUTE off|DOLLARS [shift|refuse]`: the route's budget in place of the configured one.
    case budget(route: String, perHour: Double, action: BudgetAction?)
    /// The incident timeline over the screen (Esc closes it).
    case timeline
    case quit

    public static func == (a: Command, b: Command) -> Bool { a.text == b.text }

    public static let usage = "drain provider ID | undrain provider ID | drain node ID | undrain node ID | weight ALIAS p1=70 p2=30 | strategy ALIAS weighted|least_outstanding|latency|cost | failover ID [to ID...] | restore ID | sync NODE | acknowledge | block CLIENT | unblock CLIENT | limit CLIENT rpm=N tpm=N spend_per_day=D concurrency=N | fault KIND provider ID DURATION [ratio=R status=N extra_ms=N] | unfault provider ID | drill KIND provider ID DURATION | budget ROUTE off|DOLLARS [shift|refuse] | silence ALERT[{label=value,...}] DURATION REASON | unsilence ALERT[{label=value,...}] | theme NAME | timeline | q"

    /// Parse a command line (with or without the leading ':'); the error says what is wrong.
    public static func parse(_ line: String) -> Result<Command, CommandError> {
        var text = line.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix(":") { text.removeFirst() }
        let words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let verb = words.first else { return .failure(.init("empty command; try: \(usage)")) }
        func id(_ index: Int, _ what: String) -> Result<String, CommandError> {
            guard words.count > index else { return .failure(.init("\(verb): missing \(what)")) }
            return .success(words[index])
        }
        switch verb {
        case "q", "quit":
            return .success(.quit)
        case "timeline":
            return .success(.timeline)
        case "drain", "undrain":
            guard words.count == 3, ["provider", "node"].contains(words[1]) else {
                return .failure(.init("usage: \(verb) provider ID | \(verb) node ID"))
            }
            let drain = verb == "drain"
            if words[1] == "provider" { return .success(drain ? .drainProvider(words[2]) : .undrainProvider(words[2])) }
            return .success(drain ? .drainNode(words[2]) : .undrainNode(words[2]))
        case "weight":
            guard words.count >= 3 else { return .failure(.init("usage: weight ALIAS provider=WEIGHT ...")) }
            var weights: [(String, Int)] = []
            for pair in words.dropFirst(2) {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else { return .failure(.init("weight: '\(pair)' is not provider=WEIGHT")) }
                guard let value = Int(parts[1]), (0...1000).contains(value) else {
                    return .failure(.init("weight: '\(parts[1])' for \(parts[0]) is not a whole number 0..1000"))
                }
                weights.append((parts[0], value))
            }
            return .success(.weight(route: words[1], weights: weights))
        case "strategy":
            guard words.count == 3 else { return .failure(.init("usage: strategy ALIAS \(routingStrategies.joined(separator: "|"))")) }
            guard routingStrategies.contains(words[2]) else {
                return .failure(.init("strategy: '\(words[2])' is not one of \(routingStrategies.joined(separator: ", "))"))
            }
            return .success(.strategy(route: words[1], name: words[2]))
        case "failover":
            switch id(1, "provider id") {
            case .failure(let e): return .failure(e)
            case .success(let provider):
                if words.count == 2 { return .success(.failover(provider, to: [])) }
                guard words[2] == "to", words.count > 3 else { return .failure(.init("usage: failover ID [to ID...]")) }
                return .success(.failover(provider, to: Array(words.dropFirst(3))))
            }
        case "restore":
            guard words.count == 2 else { return .failure(.init("usage: restore ID")) }
            return .success(.restore(words[1]))
        case "block", "unblock":
            guard words.count == 2 else { return .failure(.init("usage: \(verb) CLIENT")) }
            return .success(verb == "block" ? .blockClient(words[1]) : .unblockClient(words[1]))
        case "limit":
            guard words.count >= 3 else { return .failure(.init("usage: limit CLIENT rpm=N tpm=N spend_per_day=D concurrency=N")) }
            var limits: [(String, Double)] = []
            for pair in words.dropFirst(2) {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, ["rpm", "tpm", "spend_per_day", "concurrency"].contains(parts[0]) else {
                    return .failure(.init("limit: '\(pair)' is not rpm=N, tpm=N, spend_per_day=D or concurrency=N"))
                }
                guard let value = Double(parts[1]), value >= 0, parts[0] == "spend_per_day" || (value >= 1 && value == value.rounded()) else {
                    return .failure(.init("limit: '\(parts[1])' for \(parts[0]) is not \(parts[0] == "spend_per_day" ? "dollars >= 0" : "a whole number >= 1")"))
                }
                limits.append((parts[0], value))
            }
            return .success(.limit(client: words[1], limits: limits))
        case "fault", "drill":
            return FaultCommand.parse(Array(words.dropFirst()), verb: verb).map { verb == "fault" ? .fault($0) : .drill($0) }
        case "budget":
            guard words.count == 3 || words.count == 4 else { return .failure(.init("usage: budget ROUTE off|DOLLARS [shift|refuse] (dollars per hour)")) }
            let amount = words[2].hasPrefix("$") ? String(words[2].dropFirst()) : words[2]
            let perHour: Double
            if amount == "off" {
                perHour = 0
            } else {
                guard let d = Double(amount), d.isFinite, d > 0, d <= 10_000_000 else {
                    return .failure(.init("budget: '\(words[2])' is not dollars per hour above 0 (or off)"))
                }
                perHour = d
            }
            var action: BudgetAction?
            if words.count == 4 {
                guard let a = BudgetAction(rawValue: words[3]) else { return .failure(.init("budget: '\(words[3])' is not shift or refuse")) }
                action = a
            }
            return .success(.budget(route: words[1], perHour: perHour, action: action))
        case "unfault":
            let rest = words.dropFirst().filter { $0 != "provider" }
            guard rest.count == 1 else { return .failure(.init("usage: unfault provider ID (ends the provider's fault now)")) }
            return .success(.unfault(rest[0]))
        case "sync":
            guard words.count == 2 else { return .failure(.init("usage: sync NODE (copies that node's operator state to the others)")) }
            return .success(.sync(words[1]))
        case "acknowledge":
            guard words.count == 1 else { return .failure(.init("usage: acknowledge (the fleet state's revisions written straight into etcd)")) }
            return .success(.acknowledge)
        case "silence":
            return Silence.parse(Array(words.dropFirst())).map { .silence($0) }
        case "unsilence":
            return Unsilence.parse(Array(words.dropFirst())).map { .unsilence($0) }
        case "theme":
            guard words.count == 2 else { return .failure(.init("usage: theme NAME")) }
            return .success(.theme(words[1]))
        default:
            if let near = Completion.nearest(verb) { return .failure(.init("unknown command '\(verb)'; did you mean '\(near)'? (? lists the commands)")) }
            return .failure(.init("unknown command '\(verb)'; try: \(usage)"))
        }
    }

    public var text: String {
        switch self {
        case .drainProvider(let id): "drain provider \(id)"
        case .undrainProvider(let id): "undrain provider \(id)"
        case .drainNode(let id): "drain node \(id)"
        case .undrainNode(let id): "undrain node \(id)"
        case .weight(let route, let weights): "weight \(route) " + weights.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        case .strategy(let route, let name): "strategy \(route) \(name)"
        case .blockClient(let name): "block \(name)"
        case .unblockClient(let name): "unblock \(name)"
        case .limit(let name, let limits): "limit \(name) " + limits.map { "\($0.0)=\($0.0 == "spend_per_day" ? String($0.1) : String(Int($0.1)))" }.joined(separator: " ")
        case .failover(let id, let to): to.isEmpty ? "failover \(id)" : "failover \(id) to \(to.joined(separator: " "))"
        case .restore(let id): "restore \(id)"
        case .sync(let node): "sync \(node)"
        case .acknowledge: "acknowledge"
        case .fault(let fault): "fault \(fault.text)"
        case .unfault(let id): "unfault provider \(id)"
        case .drill(let fault): "drill \(fault.text)"
        case .budget(let route, let perHour, let action):
            "budget \(route) \(perHour == 0 ? "off" : Self.amount(perHour))" + (action.map { " \($0.rawValue)" } ?? "")
        case .silence(let silence): "silence \(silence.selector) \(silence.durationText) \(silence.reason)"
        case .unsilence(let unsilence): "unsilence \(unsilence.selector)"
        case .theme(let name): "theme \(name)"
        case .timeline: "timeline"
        case .quit: "q"
        }
    }

    /// `limit`'s pairs as the limits they set (a limit not given stays as it is).
    static func clientLimits(_ pairs: [(String, Double)]) -> OperatorConfig.ClientLimits {
        var limits = OperatorConfig.ClientLimits()
        for (key, value) in pairs {
            switch key {
            case "rpm": limits.rpm = Int(value)
            case "tpm": limits.tpm = Int(value)
            case "concurrency": limits.concurrency = Int(value)
            default: limits.spendPerDay = value
            }
        }
        return limits
    }

    /// `20`, `12.5`: dollars as the command line writes them.
    static func amount(_ value: Double) -> String { value == value.rounded() ? String(Int(value)) : String(value) }

    /// A drill (the report follows the fault), rather than a bare fault.
    public var isDrill: Bool { if case .drill = self { true } else { false } }

    /// Whether it changes the fleet (and so needs a confirmation, and is refused read-only).
    public var changesFleet: Bool {
        switch self {
        case .theme, .quit, .timeline: false
        default: true
        }
    }

    /// The subject a pending mark goes on: a provider or a node.
    public var subject: String {
        switch self {
        case .drainProvider(let id), .undrainProvider(let id), .failover(let id, _), .restore(let id), .unfault(let id): "provider:\(id)"
        case .fault(let f), .drill(let f): "provider:\(f.provider)"
        case .drainNode(let id), .undrainNode(let id): "node:\(id)"
        case .weight(let route, _), .strategy(let route, _), .budget(let route, _, _): "route:\(route)"
        case .blockClient(let name), .unblockClient(let name), .limit(let name, _): "client:\(name)"
        case .sync, .acknowledge: "fleet"
        case .silence(let silence): "alert:\(silence.name)"
        case .unsilence(let unsilence): "alert:\(unsilence.name)"
        case .theme, .quit, .timeline: ""
        }
    }
}

public struct CommandError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Where a call goes: a node's admin API (by index), or Alertmanager's API.
public enum CallTarget: Sendable, Equatable {
    case node(Int)
    case alertmanager
}

/// One call to one node (or to Alertmanager, for a silence).
public struct AdminCall: Sendable, Equatable {
    public var target: CallTarget
    public var method: String
    public var path: String
    public var body: JSONValue

    /// The node's index, for a call to a node.
    public var node: Int? { if case .node(let index) = target { index } else { nil } }

    public init(target: CallTarget, method: String, path: String, body: JSONValue) {
        self.target = target
        self.method = method
        self.path = path
        self.body = body
    }

    /// An admin call of the shared endpoint table, to a node.
    public init(node: Int, _ request: AdminRequest) {
        self.init(target: .node(node), method: request.method, path: request.path, body: request.body)
    }
}

/// What a command will do: which calls on which nodes, and in words for the dialog.
public struct ActionPlan: Sendable, Equatable {
    public var command: Command
    public var calls: [AdminCall]
    public var summary: String
    /// The nodes that will apply it (with a fleet store, every node that answers, though one write is sent).
    public var appliers: [String] = []
    /// Nodes that do not answer now: nothing is sent to them, and they will not apply it now.
    public var unreachable: [String] = []

    /// Who applies it, in one line for the dialog: one node count, and the nodes left out by name.
    public var nodesLine: String {
        guard calls.contains(where: { $0.node != nil }) else { return "Sent to: Alertmanager" }
        var line = "Applied by \(appliers.count) node\(appliers.count == 1 ? "" : "s") (\(appliers.joined(separator: ", ")))"
        if calls.count == 1, appliers.count > 1 { line += " from 1 write to the fleet store" }
        if !unreachable.isEmpty { line += "; \(unreachable.joined(separator: ", ")) unreachable: will not apply it now" }
        return line
    }
}

extension Command {
    /// Turn a command into admin calls against the fleet, checking names against what the nodes
    /// report; `now` (wall-clock seconds) is when a silence starts.
    public func plan(fleet: Fleet, reason: String?, now: Double) -> Result<ActionPlan, CommandError> {
        if case .silence(let silence) = self { return silence.plan(self, monitor: fleet.monitor, reason: reason, now: now) }
        if case .unsilence(let unsilence) = self { return unsilence.plan(self, monitor: fleet.monitor) }
        // Only nodes that answer now: a write to one that does not would wait out its timeout, and
        // the dialog says which nodes will not apply it.
        let reachable = fleet.nodes.indices.filter { fleet.nodes[$0].snapshot != nil && fleet.nodes[$0].error == nil }
        guard !reachable.isEmpty else {
            return .failure(.init(fleet.nodes.contains { $0.snapshot != nil } ? "no node answers now; nothing to act on" : "no node has answered yet; nothing to act on"))
        }
        let unreachable = fleet.nodes.indices.filter { !reachable.contains($0) }.map { fleet.nodes[$0].name }
        let providers = Set(fleet.nodes.compactMap(\.snapshot).flatMap { $0.providers.map(\.id) })
        let routes = Set(fleet.nodes.compactMap(\.snapshot).flatMap { $0.routes.map(\.alias) })
        let why = reason.flatMap { $0.isEmpty ? nil : $0 }
        // With a fleet store, one write through one node that reaches it; every node applies it.
        let viaStore = fleet.storeWriter(among: reachable)
        let storeFleet = fleet.usesStore
        if storeFleet, viaStore == nil {
            return .failure(.init("no node reaches the fleet store now; operator state cannot change until it is back"))
        }
        /// The command's call (from the shared endpoint table), once through the store or to every node.
        func everyNode(_ command: OperatorCommand) -> [AdminCall] {
            guard let request = command.request(reason: why) else { return [] }
            if let viaStore { return [AdminCall(node: viaStore, request)] }
            return reachable.map { AdminCall(node: $0, request) }
        }
        func provider(_ id: String) -> CommandError? {
            providers.contains(id) ? nil : CommandError("no provider '\(id)'; known: \(providers.sorted().joined(separator: ", "))")
        }
        // The nodes left out are named once, in `nodesLine`.
        let count = viaStore.map { "the fleet (1 write to the fleet store through \(fleet.nodes[$0].name); \(reachable.count) node\(reachable.count == 1 ? "" : "s") apply it)" }
            ?? "\(reachable.count) node\(reachable.count == 1 ? "" : "s")"
        let planned: Result<ActionPlan, CommandError> = { () -> Result<ActionPlan, CommandError> in
        switch self {
        case .drainProvider(let id), .undrainProvider(let id):
            if let e = provider(id) { return .failure(e) }
            let verb = { if case .drainProvider = self { return "drain" } else { return "undrain" } }()
            return .success(ActionPlan(command: self, calls: everyNode(verb == "drain" ? .drainProvider(id) : .undrainProvider(id)),
                                       summary: "\(verb.capitalized) provider \(id) on \(count)"))
        case .drainNode(let name), .undrainNode(let name):
            guard let index = fleet.nodes.firstIndex(where: { $0.snapshot?.node.id == name || $0.url == name }) else {
                return .failure(.init("no node '\(name)'; known: \(fleet.nodes.map(\.name).joined(separator: ", "))"))
            }
            let verb = { if case .drainNode = self { return "drain" } else { return "undrain" } }()
            let request = (verb == "drain" ? OperatorCommand.drainNode : .undrainNode).request(reason: why)!
            return .success(ActionPlan(command: self, calls: [AdminCall(node: index, request)],
                                       summary: "\(verb.capitalized) node \(fleet.nodes[index].name) (1 node)", appliers: [fleet.nodes[index].name]))
        case .weight(let route, let weights):
            guard routes.contains(route) else { return .failure(.init("no route '\(route)'; known: \(routes.sorted().joined(separator: ", "))")) }
            for (id, _) in weights { if let e = provider(id) { return .failure(e) } }
            let map = Dictionary(weights.map { ($0.0, $0.1) }, uniquingKeysWith: { $1 })
            return .success(ActionPlan(command: self, calls: everyNode(.setWeights(route: route, weights: map)),
                                       summary: "Set weights of route \(route): \(weights.map { "\($0.0)=\($0.1)" }.joined(separator: " ")) on \(count)"))
        case .strategy(let route, let name):
            guard routes.contains(route) else { return .failure(.init("no route '\(route)'; known: \(routes.sorted().joined(separator: ", "))")) }
            guard let strategy = RoutingStrategy(rawValue: name) else { return .failure(.init("strategy: '\(name)' is not one of \(RoutingStrategy.names)")) }
            return .success(ActionPlan(command: self, calls: everyNode(.setStrategy(route: route, strategy: strategy)),
                                       summary: "Route \(route) chooses by \(name) on \(count)"))
        case .failover(let id, let to):
            if let e = provider(id) { return .failure(e) }
            for target in to { if let e = provider(target) { return .failure(e) } }
            return .success(ActionPlan(command: self, calls: everyNode(.failoverProvider(id, to: to)),
                                       summary: "Fail over provider \(id) to \(to.isEmpty ? "its tier's others, then the next tier" : to.joined(separator: ", ")) on \(count)"))
        case .restore(let id):
            if let e = provider(id) { return .failure(e) }
            return .success(ActionPlan(command: self, calls: everyNode(.restoreProvider(id)),
                                       summary: "Restore provider \(id) to the configured routing on \(count)"))
        case .fault(let f), .drill(let f):
            if let e = provider(f.provider) { return .failure(e) }
            let active = fleet.nodes.compactMap(\.snapshot).compactMap { $0.providers.first { $0.id == f.provider }?.fault }.first
            if let active, active.active(now: now) {
                return .failure(.init("provider \(f.provider) already has a fault in force (\(active.summary), until \(Format.iso8601(active.until))); `unfault provider \(f.provider)` first"))
            }
            return .success(ActionPlan(command: self, calls: everyNode(.setFault(provider: f.provider, spec: f.spec)),
                                       summary: "\(isDrill ? "Drill" : "Inject a fault"): provider \(f.provider) \(f.summary) for \(Format.duration(f.duration)), ending by itself, on \(count)"))
        case .budget(let route, let perHour, let action):
            guard routes.contains(route) else { return .failure(.init("no route '\(route)'; known: \(routes.sorted().joined(separator: ", "))")) }
            let what = perHour == 0 ? "turn the budget of route \(route) off" : "hold route \(route) to $\(Self.amount(perHour))/h" + (action.map { " (\($0.rawValue))" } ?? "")
            return .success(ActionPlan(command: self, calls: everyNode(.setBudget(route: route, perHour: perHour, action: action)),
                                       summary: what.prefix(1).uppercased() + what.dropFirst() + " on \(count)"))
        case .unfault(let id):
            if let e = provider(id) { return .failure(e) }
            return .success(ActionPlan(command: self, calls: everyNode(.endFault(id)),
                                       summary: "End the fault on provider \(id) now on \(count)"))
        case .blockClient(let name), .unblockClient(let name), .limit(let name, _):
            let clients = Set(fleet.nodes.compactMap(\.snapshot).flatMap { $0.clients ?? [] }.map(\.name))
            guard clients.contains(name) else {
                return .failure(.init(clients.isEmpty ? "no node has clients configured (client_auth off)" : "no client '\(name)'; known: \(clients.sorted().joined(separator: ", "))"))
            }
            switch self {
            case .blockClient:
                return .success(ActionPlan(command: self, calls: everyNode(.blockClient(name)),
                                           summary: "Block client \(name): its requests are refused with 403 on \(count)"))
            case .unblockClient:
                return .success(ActionPlan(command: self, calls: everyNode(.unblockClient(name)),
                                           summary: "Unblock client \(name) on \(count)"))
            case .limit(_, let limits):
                return .success(ActionPlan(command: self, calls: everyNode(.setClientLimits(client: name, limits: Self.clientLimits(limits))),
                                           summary: "Set limits of client \(name): \(text.dropFirst("limit \(name) ".count)) on \(count)"))
            default:
                return .failure(.init("unreachable"))
            }
        case .sync(let name):
            if storeFleet { return .failure(.init("the fleet store keeps one copy of the operator state and every node applies it: nothing to sync")) }
            guard let source = fleet.nodes.firstIndex(where: { $0.snapshot?.node.id == name || $0.url == name || $0.name == name }),
                  let snapshot = fleet.nodes[source].snapshot else {
                return .failure(.init("no node '\(name)' has answered; known: \(fleet.nodes.map(\.name).joined(separator: ", "))"))
            }
            let targets = reachable.filter { $0 != source }
            guard !targets.isEmpty else { return .failure(.init("no other node answers: nothing to copy \(name)'s state to")) }
            // The whole state as the node keeps it (`GET /admin/v1/state`): `PUT /admin/v1/state`
            // replaces every part, client blocks and limits included, so a copy built from the
            // snapshot alone would unblock the target's blocked clients.
            guard var document = fleet.nodes[source].operatorState else {
                return .failure(.init("\(fleet.nodes[source].name)'s operator state (GET /admin/v1/state) has not been read yet: nothing copied"))
            }
            document.nodeDrain = false
            let request = OperatorCommand.replaceState(document).request(reason: why)!
            return .success(ActionPlan(command: self,
                                       calls: targets.map { AdminCall(node: $0, request) },
                                       summary: "Copy \(fleet.nodes[source].name)'s operator state (\(OperatorContent(snapshot).summary(with: document))) to "
                                           + targets.map { fleet.nodes[$0].name }.joined(separator: ", ") + "; node drains stay as they are",
                                       appliers: targets.map { fleet.nodes[$0].name }))
        case .acknowledge:
            guard storeFleet else { return .failure(.init("acknowledge is for a fleet store (etcd): these nodes keep their own state files")) }
            let flagged = Set(fleet.nodes.compactMap(\.snapshot).flatMap(\.node.store.unaudited)).sorted()
            guard !flagged.isEmpty else { return .failure(.init("no revision of the fleet state is flagged as written straight into etcd: nothing to acknowledge")) }
            return .success(ActionPlan(command: self, calls: everyNode(.acknowledgeStore),
                                       summary: "Acknowledge the fleet state's revision\(flagged.count == 1 ? "" : "s") \(flagged.map(String.init).joined(separator: ", ")) written straight into etcd (in effect as they are) on \(count)"))
        case .theme, .quit, .silence, .unsilence, .timeline:
            return .failure(.init("'\(text)' does not change the fleet"))
        }
        }()
        return planned.map { plan in
            var plan = plan
            // A node drain names its one node; every other write is applied by all that answer.
            if case .drainNode = self { return plan } else if case .undrainNode = self { return plan }
            if plan.appliers.isEmpty { plan.appliers = reachable.map { fleet.nodes[$0].name } }
            plan.unreachable = unreachable
            return plan
        }
    }
}
