import ClawShared

/// `:silence ALERT[{label=value,...}] DURATION REASON`: an Alertmanager silence for the alerts of
/// that name (and those labels), from now for the duration, with the reason as its comment.
public struct Silence: Sendable, Equatable {
    public var name: String
    public var matchers: [Matcher]
    public var duration: Double
    /// The duration as typed (`30m`, `2h`), for the dialog and the history.
    public var durationText: String
    public var reason: String

    public struct Matcher: Sendable, Equatable {
        public var label: String
        public var value: String

        public init(label: String, value: String) {
            self.label = label
            self.value = value
        }
    }

    public static let usage = "usage: silence ALERT[{label=value,...}] DURATION REASON  (e.g. silence ClawgateProviderDown{provider=premium} 2h vendor outage)"
    public static let longest = 30.0 * 86400

    public var selector: String { AlertInfo.selector(name, matchers.map { ($0.label, $0.value) }) }

    static func isName(_ s: Substring, colons: Bool) -> Bool {
        guard let first = s.first, first.isASCII, first.isLetter || first == "_" || (colons && first == ":") else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || (colons && $0 == ":")) }
    }

    /// `Name{label=value,...}` (or just `Name`) as `silence` and `unsilence` take it; the error,
    /// begun with `verb`, says which part is wrong.
    static func parseAlert(_ alert: String, verb: String) -> Result<(name: String, matchers: [Matcher]), CommandError> {
        var name = Substring(alert)
        var matchers: [Matcher] = []
        if let open = alert.firstIndex(of: "{") {
            guard alert.hasSuffix("}") else { return .failure(.init("\(verb): '\(alert)' has '{' without a closing '}'")) }
            name = alert[..<open]
            let inside = alert[alert.index(after: open)..<alert.index(before: alert.endIndex)]
            for pair in inside.split(separator: ",", omittingEmptySubsequences: false) {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, isName(parts[0], colons: false) else {
                    return .failure(.init("\(verb): '\(pair)' is not label=value"))
                }
                var value = parts[1]
                if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = value.dropFirst().dropLast() }
                guard !value.isEmpty else { return .failure(.init("\(verb): label \(parts[0]) has an empty value")) }
                matchers.append(Matcher(label: String(parts[0]), value: String(value)))
            }
        }
        guard isName(name, colons: true) else { return .failure(.init("\(verb): '\(name)' is not an alert name")) }
        return .success((String(name), matchers))
    }

    /// Parse the words after `silence`; the error says which part is wrong.
    public static func parse(_ words: [String]) -> Result<Silence, CommandError> {
        guard words.count >= 3 else { return .failure(.init(usage)) }
        let name: String
        let matchers: [Matcher]
        switch parseAlert(words[0], verb: "silence") {
        case .failure(let error): return .failure(error)
        case .success(let parsed): (name, matchers) = parsed
        }
        guard let duration = Format.parseDuration(words[1]) else {
            return .failure(.init("silence: '\(words[1])' is not a duration; use s, m, h or d, e.g. 30m, 2h, 1h30m"))
        }
        guard duration >= 60, duration <= longest else { return .failure(.init("silence: the duration must be 1m..30d, not \(words[1])")) }
        return .success(Silence(name: name, matchers: matchers, duration: duration, durationText: words[1],
                                reason: words.dropFirst(2).joined(separator: " ")))
    }

    /// Whether the silence would cover this alert.
    public func matches(_ alert: AlertInfo) -> Bool {
        alert.name == name && matchers.allSatisfy { alert.labels[$0.label] == $0.value }
    }

    /// One POST to Alertmanager, for alerts it lists now (a silence for nothing is a typo).
    func plan(_ command: Command, monitor: Monitor, reason: String?, now: Double) -> Result<ActionPlan, CommandError> {
        guard monitor.alertmanagerURL != nil else { return .failure(.init("silence needs Alertmanager: start clawtop with --alertmanager URL")) }
        let covered = monitor.alerts.filter(matches)
        guard !covered.isEmpty else {
            let known = Set(monitor.alerts.map(\.selector)).sorted()
            return .failure(.init("no alert matches \(selector); \(known.isEmpty ? "none is firing" : "firing: " + known.joined(separator: ", "))"))
        }
        var comment = self.reason
        if let reason, !reason.isEmpty { comment += "; " + reason }
        let allMatchers: [JSONValue] = ([Matcher(label: "alertname", value: name)] + matchers).map {
            ["name": .string($0.label), "value": .string($0.value), "isRegex": false, "isEqual": true]
        }
        let body: JSONValue = [
            "matchers": .array(allMatchers), "startsAt": .string(Format.iso8601(now)), "endsAt": .string(Format.iso8601(now + duration)),
            "createdBy": .string(monitor.actor), "comment": .string(comment),
        ]
        let count = "\(covered.count) alert\(covered.count == 1 ? "" : "s") now"
        return .success(ActionPlan(command: command, calls: [AdminCall(target: .alertmanager, method: "POST", path: "/api/v2/silences", body: body)],
                                   summary: "Silence \(selector) for \(durationText) (\(count)) in Alertmanager: \(comment)"))
    }
}

/// `:unsilence ALERT[{label=value,...}]`: expire, in Alertmanager, the silences that cover the
/// alerts of that name (and those labels), so that they notify again.
public struct Unsilence: Sendable, Equatable {
    public var name: String
    public var matchers: [Silence.Matcher]

    public static let usage = "usage: unsilence ALERT[{label=value,...}]  (e.g. unsilence ClawgateProviderDown{provider=premium})"

    public var selector: String { AlertInfo.selector(name, matchers.map { ($0.label, $0.value) }) }

    public static func parse(_ words: [String]) -> Result<Unsilence, CommandError> {
        guard words.count == 1 else { return .failure(.init(usage)) }
        return Silence.parseAlert(words[0], verb: "unsilence").map { Unsilence(name: $0.name, matchers: $0.matchers) }
    }

    public func matches(_ alert: AlertInfo) -> Bool {
        alert.name == name && matchers.allSatisfy { alert.labels[$0.label] == $0.value }
    }

    /// One DELETE per silence that covers a matching alert now (Alertmanager expires it; it stays
    /// in its list as expired). Refused when no listed alert that matches is silenced.
    func plan(_ command: Command, monitor: Monitor) -> Result<ActionPlan, CommandError> {
        guard monitor.alertmanagerURL != nil else { return .failure(.init("unsilence needs Alertmanager: start clawtop with --alertmanager URL")) }
        let covered = monitor.alerts.filter { matches($0) && $0.silenced }
        var ids: [String] = []
        for id in covered.flatMap(\.silencedBy) where !ids.contains(id) { ids.append(id) }
        guard !ids.isEmpty else {
            let silenced = Set(monitor.alerts.filter { !$0.silencedBy.isEmpty }.map(\.selector)).sorted()
            if !covered.isEmpty { return .failure(.init("\(selector) is inhibited, not silenced: there is no silence to remove")) }
            return .failure(.init("no silenced alert matches \(selector); \(silenced.isEmpty ? "none is silenced" : "silenced: " + silenced.joined(separator: ", "))"))
        }
        let calls = ids.map { AdminCall(target: .alertmanager, method: "DELETE", path: "/api/v2/silence/\($0)", body: .null) }
        let count = "\(covered.count) alert\(covered.count == 1 ? "" : "s") notify again"
        return .success(ActionPlan(command: command, calls: calls,
                                   summary: "Remove \(ids.count == 1 ? "the silence" : "\(ids.count) silences") of \(selector) in Alertmanager (\(count))"))
    }
}
