import ClawShared

/// A write body's field that is not as the API takes it: the field's path and what is wrong, as
/// the 400 answer names them (`weights.fast: must be a whole number 0..1000`).
public struct BodyFieldError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var message: String

    public init(_ field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

/// The keys of a write body, by name: every body is read as JSON values and checked field by
/// field, so that each refusal names its field and says what the field takes.
struct BodyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension KeyedDecodingContainer where Key == BodyKey {
    /// The value of a field that is there (null included); nil when it is left out.
    func raw(_ name: String) throws -> JSONValue? {
        // Spelled out: `JSONValue` takes a nil literal too (as `.null`), which a left-out field is not.
        guard contains(BodyKey(stringValue: name)) else { return Optional<JSONValue>.none }
        return try decode(JSONValue.self, forKey: BodyKey(stringValue: name))
    }

    /// `reason`: a string or left out (its length is checked with the body's other keys).
    func reason() throws -> String? { try raw("reason")?.stringValue }

    /// A whole number, or nil when left out or null.
    func whole(_ name: String) throws -> Int? {
        guard let value = try raw(name), value != .null else { return nil }
        guard let n = value.intValue else { throw BodyFieldError(name, "must be a whole number") }
        return n
    }
}

extension ReasonBody {
    public init(from decoder: any Decoder) throws {
        self.init(reason: try decoder.container(keyedBy: BodyKey.self).reason())
    }
}

extension FailoverBody {
    /// `to`: a list of provider ids, each once (left out: the tier's others, then the next tier).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: BodyKey.self)
        var targets: [String]?
        if let value = try c.raw("to") {
            guard let list = value.arrayValue else { throw BodyFieldError("to", "must be a list of provider ids") }
            targets = []
            for (index, item) in list.enumerated() {
                guard let id = item.stringValue else { throw BodyFieldError("to[\(index)]", "must be a provider id") }
                if !targets!.contains(id) { targets!.append(id) }
            }
        }
        self.init(to: targets, reason: try c.reason())
    }
}

extension WeightsBody {
    /// `weights`: provider id -> whole number (the range is checked against the route).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: BodyKey.self)
        guard let object = try c.raw("weights")?.objectValue, !object.isEmpty else {
            throw BodyFieldError("weights", "required: an object of provider id -> weight 0..1000")
        }
        var weights: [String: Int] = [:]
        for (id, value) in object {
            guard let weight = value.intValue else { throw BodyFieldError("weights.\(id)", "must be a whole number 0..1000") }
            weights[id] = weight
        }
        self.init(weights: weights, reason: try c.reason())
    }
}

extension StrategyBody {
    /// `strategy`: one of the routing strategies.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: BodyKey.self)
        let names = routingStrategies.joined(separator: ", ")
        guard let name = try c.raw("strategy")?.stringValue else { throw BodyFieldError("strategy", "required: one of \(names)") }
        guard routingStrategies.contains(name) else { throw BodyFieldError("strategy", "must be one of \(names), got '\(name)'") }
        self.init(strategy: name, reason: try c.reason())
    }
}

extension BudgetBody {
    /// `per_hour` (dollars per hour, 0: off) and `action` (shift or refuse; left out: the
    /// configured budget's, else shift).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: BodyKey.self)
        guard let value = try c.raw("per_hour"), value != .null else { throw BodyFieldError("per_hour", "required: dollars per hour (0 turns the budget off)") }
        guard let perHour = value.doubleValue, perHour.isFinite, (0...10_000_000).contains(perHour) else {
            throw BodyFieldError("per_hour", "must be dollars per hour 0..10000000 (0 turns the budget off)")
        }
        var action: String?
        if let value = try c.raw("action"), value != .null {
            guard let name = value.stringValue, BudgetAction(rawValue: name) != nil else { throw BodyFieldError("action", "must be shift or refuse") }
            action = name
        }
        self.init(perHour: perHour, action: action, reason: try c.reason())
    }
}

extension ClientLimitsBody {
    /// `limits`: {rpm, tpm, spend_per_day, concurrency}, each optional; at least one.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: BodyKey.self)
        guard let object = try c.raw("limits")?.objectValue, !object.isEmpty else {
            throw BodyFieldError("limits", "required: an object with rpm, tpm, spend_per_day or concurrency")
        }
        for key in object.keys.sorted() where !["rpm", "tpm", "spend_per_day", "concurrency"].contains(key) {
            throw BodyFieldError("limits.\(key)", "unknown limit; known: rpm, tpm, spend_per_day, concurrency")
        }
        func whole(_ key: String) throws -> Int? {
            guard let value = object[key] else { return nil }
            guard let n = value.intValue, (1...1_000_000_000).contains(n) else { throw BodyFieldError("limits.\(key)", "must be a whole number 1..1000000000") }
            return n
        }
        var spend: Double?
        if let value = object["spend_per_day"] {
            guard let d = value.doubleValue, d >= 0, d <= 10_000_000 else { throw BodyFieldError("limits.spend_per_day", "must be dollars 0..10000000") }
            spend = d
        }
        self.init(limits: .init(rpm: try whole("rpm"), tpm: try whole("tpm"), spendPerDay: spend, concurrency: try whole("concurrency")),
                  reason: try c.reason())
    }
}

extension FaultBody {
    /// `kind`, `ratio` (a number), `duration` (seconds, or a text like `2m`), `status` and
    /// `extra_ms` (whole numbers), each named when wrong; their ranges are the command's to check.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: BodyKey.self)
        let kinds = FaultKind.allCases.map(\.rawValue).joined(separator: ", ")
        guard let name = try c.raw("kind")?.stringValue else { throw BodyFieldError("kind", "required: one of \(kinds)") }
        guard FaultKind(rawValue: name) != nil else { throw BodyFieldError("kind", "must be one of \(kinds), got '\(name)'") }
        var ratio: Double?
        if let value = try c.raw("ratio"), value != .null {
            guard let r = value.doubleValue else { throw BodyFieldError("ratio", "must be a number 0..1") }
            ratio = r
        }
        let duration: Double
        switch try c.raw("duration") {
        case nil, .null?:
            throw BodyFieldError("duration", "required: seconds (at most 3600), or a text like 90s, 2m, 1h")
        case .string(let text)?:
            guard let seconds = DurationText.seconds(text) else { throw BodyFieldError("duration", "'\(text)' is not a duration like 90s, 2m, 1h or 1m30s") }
            duration = seconds
        case let value?:
            guard let seconds = value.doubleValue else { throw BodyFieldError("duration", "must be seconds (a number) or a text like 2m") }
            duration = seconds
        }
        let status = try c.whole("status")
        self.init(kind: name, ratio: ratio, status: status, extraMs: try c.whole("extra_ms"), duration: duration, reason: try c.reason())
    }
}

extension StateBody {
    /// `state`: an operator state document, as `GET /state` gives it.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: BodyKey.self)
        guard let value = try c.raw("state"), value.objectValue != nil else {
            throw BodyFieldError("state", "required: an operator state, as GET /admin/v1/state answers it")
        }
        let document: StateDocument
        do {
            document = try AdminAPI.decode(StateDocument.self, from: value.bytes())
        } catch {
            throw BodyFieldError(error.field.isEmpty ? "state" : "state.\(error.field)", error.reason)
        }
        guard document.revision >= 0 else { throw BodyFieldError("state.revision", "must be a whole number >= 0") }
        self.init(state: document, reason: try c.reason())
    }
}
