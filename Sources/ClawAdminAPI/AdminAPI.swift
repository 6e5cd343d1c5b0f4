import ClawShared
import Foundation

/// The admin API's wire model: every request and answer of `/admin/v1`, encoded by the gateway
/// and decoded by the console, so the two cannot drift apart. Field names are the snake_case of
/// `Sources/ClawGateKit/openapi.yaml` (a test holds the two together). A field that is missing is
/// a decoding error naming it, never a default that reads as good news.
public enum AdminAPI {
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// Encode an answer (sorted keys, so answers are stable byte for byte).
    public static func encode(_ value: some Encodable) -> Data {
        // The wire types encode only strings, numbers, booleans and nulls: this cannot fail.
        (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    /// Decode an answer; the error names the field that failed (`providers[2].circuit.state`).
    public static func decode<T: Decodable>(_ type: T.Type, from data: some Collection<UInt8>) throws(DecodeFailure) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(data))
        } catch let error as DecodingError {
            throw DecodeFailure(error)
        } catch {
            throw DecodeFailure(field: "", reason: "\(error)")
        }
    }
}

/// Why an answer did not decode, and where.
public struct DecodeFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The field's path, as `providers[2].circuit.state` ("" for the whole answer).
    public var field: String
    public var reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    init(_ error: DecodingError) {
        func path(_ keys: [any CodingKey]) -> String {
            var text = ""
            for key in keys {
                if let index = key.intValue { text += "[\(index)]" } else { text += text.isEmpty ? key.stringValue : ".\(key.stringValue)" }
            }
            return text
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context.codingPath)
            self.init(field: parent.isEmpty ? key.stringValue : "\(parent).\(key.stringValue)", reason: "missing")
        case .valueNotFound(_, let context):
            self.init(field: path(context.codingPath), reason: "null where a value is required")
        case .typeMismatch(let type, let context):
            self.init(field: path(context.codingPath), reason: "not \(Self.kind(type))")
        case .dataCorrupted(let context):
            let underlying = context.underlyingError.map { " (\($0.localizedDescription))" } ?? ""
            self.init(field: path(context.codingPath), reason: context.codingPath.isEmpty ? "not JSON\(underlying)" : context.debugDescription)
        @unknown default:
            self.init(field: "", reason: "\(error)")
        }
    }

    static func kind(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Double.Type: "a number"
        case is Bool.Type: "a boolean"
        default: "the expected type"
        }
    }

    public var description: String { field.isEmpty ? reason : "\(field): \(reason)" }
}

/// Encodes optionals as `null` instead of leaving the key out: the OpenAPI document requires the key.
extension KeyedEncodingContainer {
    mutating func encodeNullable<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
}
