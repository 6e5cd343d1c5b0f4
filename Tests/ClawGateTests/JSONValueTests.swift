import ClawShared
import Foundation
import Testing

@Suite struct JSONValueTests {
    @Test func parsesAndWritesWhatFoundationAgreesWith() throws {
        let text = #"{"a": [1, -2.5, 3e2, true, false, null], "s": "q\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", "o": {}, "l": []}"#
        let value = try JSONValue.parse(Array(text.utf8))
        #expect(value["a"] == [1, -2.5, 300, true, false, nil])
        #expect(value["s"]?.stringValue == "q\"\\/\u{08}\u{0C}\n\r\té😀")
        #expect(value["o"] == .object([:]) && value["l"] == .array([]))
        // What we write, Foundation reads back to the same value.
        let written = value.encoded(sorted: true)
        let roundTrip = try JSONSerialization.jsonObject(with: written) as? [String: Any]
        #expect((roundTrip?["s"] as? String) == "q\"\\/\u{08}\u{0C}\n\r\té😀")
        #expect(try JSONValue.parse(written) == value)
        #expect(String(decoding: JSONValue(["b": 1, "a": 0.25]).encoded(sorted: true), as: UTF8.self) == #"{"a":0.25,"b":1}"#)
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"\\x\"", "\"\\ud800\"", "tru", "[1] x", "\"a\nb\""])
    func refusesBadJSON(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(bytes: Array(text.utf8)) }
    }

    @Test func refusesDeepNestingWithoutCrashing() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(bytes: Array(deep.utf8)) }
    }
}

extension JSONValue {
    init(_ o: [String: JSONValue]) { self = .object(o) }
}
