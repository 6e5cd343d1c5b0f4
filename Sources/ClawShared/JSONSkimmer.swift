/// One member of a JSON object, as byte ranges into the document it was found in.
public struct JSONMember: Sendable, Equatable {
    /// The key, unescaped.
    public var key: String
    /// The value's bytes, from its first to just past its last byte (no surrounding space).
    public var value: Range<Int>
}

/// A strict RFC 8259 scan that checks a whole document and returns the byte ranges of an object's
/// members without building any values: the gateway forwards the client's own bytes and only needs
/// to know where a few top-level fields are.
public struct JSONSkimmer: JSONCursor {
    let bytes: [UInt8]
    var i = 0
    var depth = 0
    static let maxDepth = 512
    /// The raw key ranges (between the quotes) of the objects being skimmed, innermost last: a
    /// duplicate key at any depth is refused, since a provider may read the other one.
    var keys: [Range<Int>] = []

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Check `bytes` (UTF-8 and JSON grammar) and return the members of its top-level object, in
    /// document order. A duplicate key in any object of the document is an error: a provider would
    /// read one of them and the gateway might have read or rewritten the other.
    public static func topLevelObject(_ bytes: [UInt8]) throws(JSONParseError) -> [JSONMember] {
        if let bad = firstInvalidUTF8(bytes) { throw JSONParseError(offset: bad, reason: "not valid UTF-8") }
        var skimmer = JSONSkimmer(bytes)
        skimmer.skipSpace()
        guard skimmer.i < bytes.count, bytes[skimmer.i] == UInt8(ascii: "{") else {
            throw skimmer.fail("the body must be a JSON object")
        }
        var members: [JSONMember] = []
        try skimmer.skipObject(collect: &members)
        skimmer.skipSpace()
        guard skimmer.i == bytes.count else { throw skimmer.fail("unexpected trailing characters") }
        var seen = Set<String>()
        for member in members where !seen.insert(member.key).inserted {
            throw JSONParseError(offset: member.value.lowerBound, reason: "duplicate key '\(member.key)'")
        }
        return members
    }

    /// The members of the object at `range` of an already checked document.
    public static func members(of bytes: [UInt8], objectAt range: Range<Int>) -> [JSONMember]? {
        guard range.lowerBound < bytes.count, bytes[range.lowerBound] == UInt8(ascii: "{") else { return nil }
        var skimmer = JSONSkimmer(bytes)
        skimmer.i = range.lowerBound
        var members: [JSONMember] = []
        guard (try? skimmer.skipObject(collect: &members)) != nil else { return nil }
        return members
    }

    /// The offset of the first byte that does not begin a well-formed UTF-8 character, if any
    /// (overlong forms, surrogates and code points past U+10FFFF are not well-formed).
    public static func firstInvalidUTF8(_ b: [UInt8]) -> Int? {
        var i = 0
        while i < b.count {
            let c = b[i]
            if c < 0x80 {
                i += 1
                continue
            }
            let need: Int
            var scalar: UInt32
            let lowest: UInt32
            switch c {
            case 0xC2...0xDF: need = 1; scalar = UInt32(c & 0x1F); lowest = 0x80
            case 0xE0...0xEF: need = 2; scalar = UInt32(c & 0x0F); lowest = 0x800
            case 0xF0...0xF4: need = 3; scalar = UInt32(c & 0x07); lowest = 0x10000
            default: return i
            }
            guard i + need < b.count else { return i }
            for k in 1...need {
                let next = b[i + k]
                guard next & 0xC0 == 0x80 else { return i }
                scalar = scalar << 6 | UInt32(next & 0x3F)
            }
            if scalar < lowest || scalar > 0x10FFFF || (0xD800...0xDFFF).contains(scalar) { return i }
            i += need + 1
        }
        return nil
    }

    /// Skip one value starting at `i` (no leading space).
    mutating func skipValue() throws(JSONParseError) {
        guard i < bytes.count else { throw fail("unexpected end") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            var ignored: [JSONMember]? = nil
            try skipObject(collect: &ignored)
        case UInt8(ascii: "["): try skipArray()
        case UInt8(ascii: "\""): _ = try skipString(decode: false)
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: try scanNumber()
        }
    }

    mutating func skipObject(collect members: inout [JSONMember]) throws(JSONParseError) {
        var optional: [JSONMember]? = members
        defer { members = optional ?? [] }
        try skipObject(collect: &optional)
    }

    /// Skip an object; when `members` is non-nil, record each member.
    mutating func skipObject(collect members: inout [JSONMember]?) throws(JSONParseError) {
        depth += 1
        guard depth < Self.maxDepth else { throw fail("nested too deeply") }
        i += 1
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            depth -= 1
            i += 1
            return
        }
        let base = keys.count
        defer { keys.removeSubrange(base...) }
        // Past a few keys, an object's keys are checked by hash (no quadratic work for a huge object).
        var many: Set<String>?
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a key string") }
            let keyStart = i
            let key = try skipString(decode: members != nil)
            let raw = (keyStart + 1)..<(i - 1)
            if keys.count - base < 16 {
                for k in base..<keys.count where sameKey(keys[k], raw) {
                    throw JSONParseError(offset: keyStart, reason: "duplicate key '\(decodedKey(raw))'")
                }
            } else {
                if many == nil { many = Set(keys[base...].map(decodedKey)) }
                guard many!.insert(decodedKey(raw)).inserted else {
                    throw JSONParseError(offset: keyStart, reason: "duplicate key '\(decodedKey(raw))'")
                }
            }
            keys.append(raw)
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            i += 1
            skipSpace()
            let start = i
            try skipValue()
            members?.append(JSONMember(key: key ?? "", value: start..<i))
            skipSpace()
            guard i < bytes.count else { throw fail("unexpected end in object") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; break }
            throw fail("expected ',' or '}'")
        }
        depth -= 1
    }

    /// Whether two raw keys name the same key (escapes decoded only where there are any).
    func sameKey(_ a: Range<Int>, _ b: Range<Int>) -> Bool {
        if a.count == b.count, bytes[a].elementsEqual(bytes[b]) { return true }
        guard bytes[a].contains(UInt8(ascii: "\\")) || bytes[b].contains(UInt8(ascii: "\\")) else { return false }
        return decodedKey(a) == decodedKey(b)
    }

    func decodedKey(_ raw: Range<Int>) -> String {
        guard bytes[raw].contains(UInt8(ascii: "\\")) else { return String(decoding: bytes[raw], as: UTF8.self) }
        return (try? JSONValue.parse(bytes: bytes[(raw.lowerBound - 1)..<(raw.upperBound + 1)]).stringValue) ?? String(decoding: bytes[raw], as: UTF8.self)
    }

    mutating func skipArray() throws(JSONParseError) {
        depth += 1
        guard depth < Self.maxDepth else { throw fail("nested too deeply") }
        i += 1
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
            depth -= 1
            i += 1
            return
        }
        while true {
            skipSpace()
            try skipValue()
            skipSpace()
            guard i < bytes.count else { throw fail("unexpected end in list") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; break }
            throw fail("expected ',' or ']'")
        }
        depth -= 1
    }

    /// Skip a string, checking its escapes; returns it unescaped when `decode` is set.
    mutating func skipString(decode: Bool) throws(JSONParseError) -> String? {
        let open = i
        i += 1
        var escaped = false
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                guard decode else { return nil }
                if !escaped { return String(decoding: bytes[(open + 1)..<(i - 1)], as: UTF8.self) }
                return try JSONValue.parse(bytes: bytes[open..<i]).stringValue
            }
            if c < 0x20 { throw fail("control character in string") }
            if c == UInt8(ascii: "\\") {
                escaped = true
                i += 1
                guard i < bytes.count else { break }
                switch bytes[i] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 1
                case UInt8(ascii: "u"):
                    i += 1
                    guard i + 4 <= bytes.count else { throw fail("short \\u escape") }
                    for _ in 0..<4 {
                        switch bytes[i] {
                        case 0x30...0x39, 0x41...0x46, 0x61...0x66: i += 1
                        default: throw fail("bad \\u escape")
                        }
                    }
                default:
                    throw fail("bad escape")
                }
                continue
            }
            i += 1
        }
        throw fail("unterminated string")
    }
}

/// What both JSON readers share: a position in bytes, and the grammar of space, literals and numbers.
protocol JSONCursor {
    var bytes: [UInt8] { get }
    var i: Int { get set }
}

extension JSONCursor {
    func fail(_ reason: String) -> JSONParseError { JSONParseError(offset: i, reason: reason) }

    mutating func skipSpace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x0A, 0x0D, 0x09: i += 1
            default: return
            }
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let count = word.utf8CodeUnitCount
        guard i + count <= bytes.count else { throw fail("unexpected end") }
        let p = word.utf8Start
        for k in 0..<count where bytes[i + k] != p[k] { throw fail("unknown literal") }
        i += count
    }

    /// Move past a number of RFC 8259's grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    mutating func scanNumber() throws(JSONParseError) {
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.count, (0x30...0x39).contains(bytes[i]) else { throw fail("unexpected character") }
        if bytes[i] == 0x30 {
            i += 1
        } else {
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard i < bytes.count, (0x30...0x39).contains(bytes[i]) else { throw fail("digit expected after '.'") }
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < bytes.count, (0x30...0x39).contains(bytes[i]) else { throw fail("digit expected in exponent") }
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
        }
    }
}
