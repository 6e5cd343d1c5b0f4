import Foundation

/// What an injected fault does to the attempts it hits, inside the gateway and before any upstream
/// call: `outage` is a connect failure, `hang` waits out the first-byte deadline and times out,
/// `error` answers a status, `latency` adds a delay before the attempt goes out.
public enum FaultKind: String, Codable, Sendable, CaseIterable {
    case outage, hang, error, latency
}

/// A fault an operator injected on a provider for a drill: for a share of the attempts on it,
/// until an absolute time (so every node, and a restarted one, agrees when it ends).
public struct InjectedFault: Codable, Sendable, Equatable {
    public var provider: String
    public var kind: FaultKind
    /// The share of attempts it hits, 0..1.
    public var ratio: Double
    /// The status an `error` fault answers (408, 429 or 5xx).
    public var status: Int?
    /// The delay a `latency` fault adds, in milliseconds.
    public var extraMs: Int?
    /// Wall-clock seconds since 1970: when it was set, and when it ends by itself.
    public var since: Double
    public var until: Double
    public var reason: String?
    /// The token that set it.
    public var actor: String?

    enum CodingKeys: String, CodingKey {
        case provider, kind, ratio, status, since, until, reason, actor
        case extraMs = "extra_ms"
    }

    public init(provider: String, kind: FaultKind, ratio: Double = 1, status: Int? = nil, extraMs: Int? = nil, since: Double, until: Double,
                reason: String? = nil, actor: String? = nil) {
        self.provider = provider
        self.kind = kind
        self.ratio = ratio
        self.status = status
        self.extraMs = extraMs
        self.since = since
        self.until = until
        self.reason = reason
        self.actor = actor
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(provider, forKey: .provider)
        try c.encode(kind, forKey: .kind)
        try c.encode(ratio, forKey: .ratio)
        try c.encodeNullable(status, forKey: .status)
        try c.encodeNullable(extraMs, forKey: .extraMs)
        try c.encode(since, forKey: .since)
        try c.encode(until, forKey: .until)
        try c.encodeNullable(reason, forKey: .reason)
        try c.encodeNullable(actor, forKey: .actor)
    }

    /// In force at `now` (wall-clock seconds): not yet at its end.
    public func active(now: Double) -> Bool { now < until }

    /// What it does, in a few words: "outage", "error 503", "latency +300ms", "hang", with the share
    /// when it is not every attempt ("error 503 on 50%").
    public var summary: String {
        var text = kind.rawValue
        switch kind {
        case .error: text += " \(status ?? 503)"
        case .latency: text += " +\(extraMs ?? 0)ms"
        case .outage, .hang: break
        }
        if ratio < 1 { text += " on \(Self.percent(ratio))" }
        return text
    }

    /// `50%`, `12.5%`, `100%`.
    public static func percent(_ ratio: Double) -> String {
        let p = (ratio * 1000).rounded() / 10
        return p == p.rounded() ? "\(Int(p))%" : "\(p)%"
    }
}

/// `POST /providers/ID/fault`: the fault to inject and for how long.
public struct FaultBody: Codable, Sendable, Equatable {
    public var kind: String
    public var ratio: Double?
    public var status: Int?
    public var extraMs: Int?
    /// Seconds (at most 3600). The API also takes a text like `90s`, `2m`, `1h`, `1m30s`.
    public var duration: Double
    public var reason: String?

    enum CodingKeys: String, CodingKey {
        case kind, ratio, status, duration, reason
        case extraMs = "extra_ms"
    }

    public init(kind: String, ratio: Double? = nil, status: Int? = nil, extraMs: Int? = nil, duration: Double, reason: String? = nil) {
        self.kind = kind
        self.ratio = ratio
        self.status = status
        self.extraMs = extraMs
        self.duration = duration
        self.reason = reason
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encodeNullable(ratio, forKey: .ratio)
        try c.encodeNullable(status, forKey: .status)
        try c.encodeNullable(extraMs, forKey: .extraMs)
        try c.encode(duration, forKey: .duration)
        try c.encodeNullable(reason, forKey: .reason)
    }
}

/// Durations as operators write them: `90` or `90s`, `2m`, `1h`, `1h30m`, `1m30s`, `500ms`.
public enum DurationText {
    /// Seconds, or nil when the text is not a duration.
    public static func seconds(_ text: String) -> Double? {
        let text = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard !text.isEmpty else { return nil }
        if let plain = Double(text), plain.isFinite { return plain }
        var total = 0.0
        var number = ""
        var index = text.startIndex
        var any = false
        while index < text.endIndex {
            let c = text[index]
            if c.isASCII, c.isNumber || c == "." {
                number.append(c)
                index = text.index(after: index)
                continue
            }
            guard let value = Double(number) else { return nil }
            let rest = text[index...]
            let unit: Double
            if rest.hasPrefix("ms") {
                unit = 0.001
                index = text.index(index, offsetBy: 2)
            } else {
                switch c {
                case "h": unit = 3600
                case "m": unit = 60
                case "s": unit = 1
                case "d": unit = 86400
                default: return nil
                }
                index = text.index(after: index)
            }
            total += value * unit
            number = ""
            any = true
        }
        guard number.isEmpty, any else { return nil }
        return total
    }
}
