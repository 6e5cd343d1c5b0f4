import ClawAdminAPI
import Foundation

/// A fault to inject for a drill, as the `:fault` and `:drill` commands and `--drill` write it:
/// `KIND provider ID DURATION [ratio=R] [status=N] [extra_ms=N]` (`outage provider fast 2m`).
/// Checked here as the nodes check it, so a typo is said before anything is sent.
public struct FaultCommand: Sendable, Equatable {
    public var kind: FaultKind
    public var provider: String
    public var duration: Double
    /// As the operator wrote it (`2m`), for the command's text.
    public var durationText: String
    public var ratio: Double?
    public var status: Int?
    public var extraMs: Int?
    /// `:drill`'s objective (`rto=30s`); `--drill` takes it as `--rto`.
    public var rto: Double?
    public var rtoText: String?

    public init(kind: FaultKind, provider: String, duration: Double, durationText: String? = nil, ratio: Double? = nil, status: Int? = nil,
                extraMs: Int? = nil) {
        self.kind = kind
        self.provider = provider
        self.duration = duration
        self.durationText = durationText ?? "\(Int(duration))s"
        self.ratio = ratio
        self.status = status
        self.extraMs = extraMs
    }

    public static let usage = "KIND provider ID DURATION [ratio=R] [status=N] [extra_ms=N] (KIND: outage, hang, error, latency; DURATION at most 1h, like 2m)"

    /// Parse the words after the verb; `verb` names the command in errors.
    public static func parse(_ words: [String], verb: String) -> Result<FaultCommand, CommandError> {
        func fail(_ why: String) -> Result<FaultCommand, CommandError> { .failure(.init("\(verb): \(why); usage: \(verb) \(usage)")) }
        var rest = words
        guard let kindWord = rest.first else { return fail("missing the kind") }
        guard let kind = FaultKind(rawValue: kindWord) else {
            return fail("'\(kindWord)' is not a kind of fault (\(FaultKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        rest.removeFirst()
        if rest.first == "provider" { rest.removeFirst() }
        guard let provider = rest.first, !provider.contains("=") else { return fail("missing the provider") }
        rest.removeFirst()
        guard let durationWord = rest.first, !durationWord.contains("=") else { return fail("missing the duration") }
        rest.removeFirst()
        guard let duration = DurationText.seconds(durationWord) else { return fail("'\(durationWord)' is not a duration like 90s, 2m or 1h") }
        guard duration >= 1 else { return fail("the duration must be at least 1s") }
        guard duration <= 3600 else { return fail("the duration must be at most 1h (a drill ends within the hour)") }
        var command = FaultCommand(kind: kind, provider: provider, duration: duration, durationText: durationWord)
        for option in rest {
            let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return fail("'\(option)' is not ratio=R, status=N or extra_ms=N") }
            switch parts[0] {
            case "ratio":
                guard let r = Double(parts[1]), (0...1).contains(r) else { return fail("ratio '\(parts[1])' is not a share 0..1") }
                command.ratio = r
            case "status":
                guard kind == .error else { return fail("status is for kind error only") }
                guard let s = Int(parts[1]), s == 408 || s == 429 || (500...599).contains(s) else {
                    return fail("status '\(parts[1])' is not 408, 429 or 500..599 (a provider's failure the gateway retries elsewhere)")
                }
                command.status = s
            case "extra_ms":
                guard kind == .latency else { return fail("extra_ms is for kind latency only") }
                guard let ms = Int(parts[1]), (1...600_000).contains(ms) else { return fail("extra_ms '\(parts[1])' is not 1..600000") }
                command.extraMs = ms
            case "rto" where verb == "drill":
                guard let seconds = DurationText.seconds(parts[1]), seconds > 0 else { return fail("rto '\(parts[1])' is not a duration like 30s or 500ms") }
                command.rto = seconds
                command.rtoText = parts[1]
            default:
                return fail("'\(parts[0])' is not ratio, status or extra_ms\(verb == "drill" ? " or rto" : "")")
            }
        }
        if kind == .latency, command.extraMs == nil { return fail("kind latency needs extra_ms=N (the milliseconds to add)") }
        return .success(command)
    }

    /// `outage provider fast 2m ratio=0.5`.
    public var text: String {
        var out = "\(kind.rawValue) provider \(provider) \(durationText)"
        if let ratio { out += " ratio=\(ratio)" }
        if let status { out += " status=\(status)" }
        if let extraMs { out += " extra_ms=\(extraMs)" }
        if let rtoText { out += " rto=\(rtoText)" }
        return out
    }

    /// What it does, in the words of the nodes' own `summary` (`error 503 on 50%`).
    public var summary: String {
        InjectedFault(provider: provider, kind: kind, ratio: ratio ?? 1, status: kind == .error ? status ?? 503 : nil, extraMs: extraMs, since: 0, until: 0).summary
    }

    /// The admin API's body.
    /// The fault as the operator core's command takes it (a ratio not given: every attempt).
    public var spec: OperatorCommand.FaultSpec {
        OperatorCommand.FaultSpec(kind: kind, ratio: ratio ?? 1, status: status, extraMs: extraMs, duration: duration)
    }

    /// Whether every attempt it hits fails (the breaker then takes the provider out, as a drain would).
    public var takesProviderOut: Bool { kind != .latency && (ratio ?? 1) >= 1 }
}
