/// An operator command that is wrong in itself: a field that is not valid (the admin API answers
/// 400 and names the field), a name the configuration does not know (404), or a change that
/// conflicts with what is in force (409). The message says what was wrong and what to do.
public struct OperatorError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case invalid
        case notFound
        case conflict
    }

    public var kind: Kind
    public var code: String
    public var message: String
    /// The request field to fix, for `invalid`.
    public var field: String?

    public init(kind: Kind, code: String, message: String, field: String? = nil) {
        self.kind = kind
        self.code = code
        self.message = message
        self.field = field
    }

    public static func invalid(_ field: String, _ message: String) -> OperatorError {
        OperatorError(kind: .invalid, code: "invalid_request", message: "\(field): \(message)", field: field)
    }

    public static func notFound(_ message: String) -> OperatorError {
        OperatorError(kind: .notFound, code: "not_found", message: message)
    }

    public static func conflict(_ code: String, _ message: String) -> OperatorError {
        OperatorError(kind: .conflict, code: code, message: message)
    }

    public var description: String { message }
}
