@testable import ClawGateKit
import ClawShared
import ClawSimKit
import ClawTesting
import Foundation
import NIOCore
import Testing

/// A stream's bytes reach the client unchanged however the upstream's reads are split: the
/// pass-through forwards whole events as they came and reads only what accounting needs; the
/// translated kinds say the same whether their provider's events came whole or a byte at a time.
@Suite(.serialized) struct StreamSplitTests {
    /// An OpenAI stream as clawsim sends it with usage asked for, a comment and an `\r\n` ending among its events.
    static let stream: [UInt8] = Array((
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
        + ": a comment\n\n"
        + "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hé \\\"quoted\\\" 🦀\"},\"finish_reason\":null}]}\n\r\n"
        + "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"usage: not a key\"},\"finish_reason\":null}]}\n\n"
        + "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
        + "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10}}\n\n"
        + "data: [DONE]\n\n"
    ).utf8)

    static let usageEvent = Array("data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10}}\n\n".utf8)

    /// Feed `bytes` in pieces of `size` bytes; the bytes out and the scanner at the end.
    static func feed(_ bytes: [UInt8], pieces size: Int, clientWantsUsage: Bool) -> ([UInt8], OpenAIPassScanner) {
        var scanner = OpenAIPassScanner(clientWantsUsage: clientWantsUsage)
        var out: [UInt8] = []
        var at = 0
        while at < bytes.count {
            let piece = ByteBuffer(bytes: bytes[at..<min(bytes.count, at + size)])
            out += Array(scanner.feed(piece).readableBytesView)
            at += size
        }
        return (out, scanner)
    }

    @Test func thePassThroughForwardsTheSameBytesForEverySplitAndCountsTheSame() {
        let whole = Self.feed(Self.stream, pieces: Self.stream.count, clientWantsUsage: true)
        #expect(whole.0 == Self.stream)
        #expect(whole.1.complete && whole.1.broken == nil && whole.1.tokensIn == 7 && whole.1.tokensOut == 3)
        #expect(whole.1.contentBytes == Array("Hé \\\"quoted\\\" 🦀".utf8).count + "usage: not a key".utf8.count)
        for size in [1, 2, 3, 7, 64] {
            let split = Self.feed(Self.stream, pieces: size, clientWantsUsage: true)
            #expect(split.0 == Self.stream, "pieces of \(size)")
            #expect(split.1.tokensIn == 7 && split.1.tokensOut == 3 && split.1.complete && split.1.contentBytes == whole.1.contentBytes,
                    "pieces of \(size)")
            #expect(split.1.pendingCount == 0)
        }
    }

    @Test func theUsageChunkTheGatewayAskedForIsCutOutWhateverTheSplit() {
        var expected = Self.stream
        let at = (0...(expected.count - Self.usageEvent.count)).first { Array(expected[$0..<$0 + Self.usageEvent.count]) == Self.usageEvent }!
        expected.removeSubrange(at..<at + Self.usageEvent.count)
        for size in [1, 5, Self.stream.count] {
            let (out, scanner) = Self.feed(Self.stream, pieces: size, clientWantsUsage: false)
            #expect(out == expected, "pieces of \(size)")
            #expect(scanner.tokensOut == 3, "pieces of \(size)")
        }
    }

    @Test func dataThatIsNotAJSONObjectBreaksTheStreamAfterWhatCameBefore() {
        let good = Array("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n".utf8)
        let bad = Array("data: ".utf8) + [0x00, 0xFF, 0xFE] + Array("not json\n\n".utf8)
        for size in [1, 1000] {
            let (out, scanner) = Self.feed(good + bad + good, pieces: size, clientWantsUsage: true)
            #expect(out == good, "pieces of \(size)")
            #expect(scanner.broken == "a data: line that is not a JSON object")
        }
    }

    /// Ids and times differ between two answers; everything else must not.
    static func normalized(_ text: String) -> String {
        var s = text
        for (pattern, with) in [(#""id":"[^"]*""#, #""id":"ID""#), (#""created":[0-9]+"#, #""created":0"#), (#"chatcmpl-[A-Za-z0-9-]+"#, "chatcmpl-ID"),
                                (#"msg_[A-Za-z0-9]+"#, "msg_ID"), (#""responseId":"[^"]*""#, #""responseId":"ID""#)] {
            s = s.replacingOccurrences(of: pattern, with: with, options: .regularExpression)
        }
        return s
    }

    @Test func anOpenAIStreamSplitAtEveryByteReachesTheClientAsTheProviderSentIt() async throws {
        try await TestFleet.withFleet([TestFleet.provider("p", ["write_bytes": 1, "completion_tokens": 24])], routes: ["chat": [[("p", 100)]]]) { sim, gate, client in
            let body = Data(#"{"model":"MODEL","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Split me"}]}"#.utf8)
            let direct = try await client.request("POST", sim.providerURLs["p"]! + "/v1/chat/completions",
                                                  body: Data(String(decoding: body, as: UTF8.self).replacingOccurrences(of: "MODEL", with: "sim-model").utf8))
            let through = try await client.request("POST", gate.url + "/v1/chat/completions",
                                                   body: Data(String(decoding: body, as: UTF8.self).replacingOccurrences(of: "MODEL", with: "chat").utf8))
            #expect(direct.status == 200 && through.status == 200, "\(through.text.prefix(300))")
            // clawsim really sent it a byte per chunk.
            #expect(direct.chunkTimes.count > 1000, "\(direct.chunkTimes.count) chunks")
            #expect(through.text.hasSuffix("data: [DONE]\n\n"))
            #expect(Self.normalized(through.text) == Self.normalized(direct.text))
            try await Task.sleep(for: .milliseconds(50))
            let stats = gate.gateway.state.snapshot(now: Gateway.monotonic()).providers[0].window1m
            #expect(stats.requests == 1 && stats.tokensOut == 24 && stats.errors == 0)
        }
    }

    @Test(arguments: [ProviderKind.anthropic, .gemini])
    func aTranslatedStreamSaysTheSameWhetherItsProviderSentItWholeOrAByteAtATime(kind: ProviderKind) async throws {
        try await TestFleet.withFleet([TestFleet.provider("p", ["format": .string(kind.rawValue), "completion_tokens": 12])], routes: ["chat": [[("p", 100)]]],
                                      configure: { TestFleet.speak(["p": kind], in: &$0) }) { sim, gate, client in
            let chat = Data(#"{"model":"chat","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Split me"}]}"#.utf8)
            let messages = Data(#"{"model":"chat","stream":true,"max_tokens":64,"messages":[{"role":"user","content":"Split me"}]}"#.utf8)
            var answers: [[String]] = []
            for split in [0, 1] {
                _ = try await client.setBehaviour(sim, "p", ["write_bytes": .number(Double(split))])
                let a = try await client.request("POST", gate.url + "/v1/chat/completions", body: chat)
                let m = try await client.request("POST", gate.url + "/v1/messages", body: messages)
                #expect(a.status == 200 && m.status == 200, "\(kind), write_bytes \(split): \(a.text.prefix(200)) \(m.text.prefix(200))")
                #expect(a.text.hasSuffix("data: [DONE]\n\n"), "\(kind), write_bytes \(split)")
                #expect(m.text.contains("event: message_stop"), "\(kind), write_bytes \(split)")
                answers.append([Self.normalized(a.text), Self.normalized(m.text)])
            }
            #expect(answers[0][0] == answers[1][0], "\(kind): chat")
            #expect(answers[0][1] == answers[1][1], "\(kind): messages")
            try await Task.sleep(for: .milliseconds(50))
            let stats = gate.gateway.state.snapshot(now: Gateway.monotonic()).providers[0].window1m
            #expect(stats.requests == 4 && stats.tokensOut == 4 * 12 && stats.errors == 0)
        }
    }
}
