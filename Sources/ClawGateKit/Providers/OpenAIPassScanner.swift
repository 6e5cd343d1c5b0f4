import ClawShared
import NIOCore

/// An OpenAI-format stream (chat completions) forwarded as it came and read only as far as
/// accounting needs: where each event ends, `[DONE]`, a `finish_reason`, the usage chunk (the one
/// event built into a value), the content's size for metering a stream without usage, and data that
/// is not a JSON object. Whole events go on in the buffers they arrived in: a read that ends at an
/// event's end is forwarded as that same buffer (a slice, no copy); only bytes of an event not yet
/// ended are held, and only the usage chunk the gateway asked for on its own is cut out.
struct OpenAIPassScanner: Sendable {
    /// The client asked for usage itself (else the usage chunk, asked for by the gateway, is dropped).
    let clientWantsUsage: Bool
    /// Bytes of an event not yet ended.
    private var pending = ByteBuffer()
    /// Where the search for the next event's end resumes in `pending` (bytes before it hold none).
    private var searched = 0
    /// The stream said it was complete: `[DONE]` or a `finish_reason`.
    private(set) var complete = false
    /// Why the stream is broken (nothing is forwarded after it).
    private(set) var broken: String?
    private(set) var tokensIn = 0
    private(set) var tokensOut = 0
    /// Bytes of content and tool-call arguments, escaped as sent.
    private(set) var contentBytes = 0

    /// The largest event a stream may send (a provider's event past this is a broken stream).
    static let maxEventBytes = 4 << 20

    init(clientWantsUsage: Bool) { self.clientWantsUsage = clientWantsUsage }

    /// Bytes held for an event not yet ended.
    var pendingCount: Int { pending.readableBytes }

    /// Bytes that never ended in a blank line (an upstream that stopped mid-event).
    var remainder: ByteBuffer { pending }

    /// Feed what the upstream sent; returns what goes to the client now (possibly empty).
    mutating func feed(_ buffer: ByteBuffer) -> ByteBuffer {
        guard broken == nil else { return ByteBuffer() }
        var work: ByteBuffer
        if pending.readableBytes == 0 {
            work = buffer
        } else {
            pending.writeImmutableBuffer(buffer)
            work = pending
        }
        let count = work.readableBytes
        // Events that end in this buffer: [start, end) each, and the ones to cut out.
        var lastEnd = 0
        var drops: [Range<Int>] = []
        work.withUnsafeReadableBytes { raw in
            var start = 0
            var index = max(0, searched - 2)
            while index < count {
                if raw[index] == 0x0A {
                    var end = -1
                    if index + 1 < count, raw[index + 1] == 0x0A {
                        end = index + 2
                    } else if index + 2 < count, raw[index + 1] == 0x0D, raw[index + 2] == 0x0A {
                        end = index + 3
                    }
                    if end > 0 {
                        switch inspect(raw, start..<end) {
                        case .keep: break
                        case .drop: drops.append(start..<end)
                        case .broken:
                            lastEnd = start
                            return
                        }
                        start = end
                        lastEnd = end
                        index = end
                        continue
                    }
                }
                index += 1
            }
        }
        if broken != nil {
            // What came before the broken event still goes; nothing after it.
            pending = ByteBuffer()
            return Self.slice(work, 0..<lastEnd, without: drops)
        }
        if lastEnd == count {
            pending = ByteBuffer()
            searched = 0
        } else {
            pending = work.getSlice(at: work.readerIndex + lastEnd, length: count - lastEnd)!
            searched = count - lastEnd
            if searched > Self.maxEventBytes {
                broken = "an event larger than \(Self.maxEventBytes >> 20) MiB"
            }
        }
        return Self.slice(work, 0..<lastEnd, without: drops)
    }

    /// `range` of `buffer` without the ranges in `drops` (in order, inside it): a slice when none.
    static func slice(_ buffer: ByteBuffer, _ range: Range<Int>, without drops: [Range<Int>]) -> ByteBuffer {
        guard !range.isEmpty else { return ByteBuffer() }
        if drops.isEmpty { return buffer.getSlice(at: buffer.readerIndex + range.lowerBound, length: range.count)! }
        var out = ByteBuffer()
        out.reserveCapacity(range.count)
        var at = range.lowerBound
        for drop in drops {
            if drop.lowerBound > at { out.writeImmutableBuffer(buffer.getSlice(at: buffer.readerIndex + at, length: drop.lowerBound - at)!) }
            at = drop.upperBound
        }
        if range.upperBound > at { out.writeImmutableBuffer(buffer.getSlice(at: buffer.readerIndex + at, length: range.upperBound - at)!) }
        return out
    }

    enum Verdict { case keep, drop, broken }

    /// One whole event (its blank line included): what it says for accounting, and whether it goes on.
    private mutating func inspect(_ raw: UnsafeRawBufferPointer, _ event: Range<Int>) -> Verdict {
        // The data: payload; an event with several data: lines (rare) is joined as SSE says.
        var payload: Range<Int>?
        var lines = 0
        var lineStart = event.lowerBound
        var i = event.lowerBound
        while i < event.upperBound {
            if raw[i] == 0x0A {
                var lineEnd = i
                if lineEnd > lineStart, raw[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                if lineEnd - lineStart >= 5, raw[lineStart] == 0x64, raw[lineStart + 1] == 0x61, raw[lineStart + 2] == 0x74,
                   raw[lineStart + 3] == 0x61, raw[lineStart + 4] == 0x3A {  // "data:"
                    var from = lineStart + 5
                    if from < lineEnd, raw[from] == 0x20 { from += 1 }
                    payload = from..<lineEnd
                    lines += 1
                }
                lineStart = i + 1
            }
            i += 1
        }
        guard let range = payload else { return .keep }  // a comment or a field without data
        if lines > 1 {
            let joined = SSEScanner.data(of: Array(raw[event]))!
            return joined.withUnsafeBytes { inspectData($0, 0..<$0.count) }
        }
        return inspectData(raw, range)
    }

    private mutating func inspectData(_ raw: UnsafeRawBufferPointer, _ data: Range<Int>) -> Verdict {
        if Self.equals(raw, data, Self.done) {
            complete = true
            return .keep
        }
        // A JSON object, as far as its first and last bytes go (the usage chunk is checked whole).
        var first = data.lowerBound
        var last = data.upperBound - 1
        while first <= last, Self.isSpace(raw[first]) { first += 1 }
        while last >= first, Self.isSpace(raw[last]) { last -= 1 }
        guard first < last, raw[first] == UInt8(ascii: "{"), raw[last] == UInt8(ascii: "}") else {
            broken = "a data: line that is not a JSON object"
            return .broken
        }
        if let at = Self.find(raw, Self.usageKey, in: data), let next = Self.nextNonSpace(raw, after: at + Self.usageKey.count, before: data.upperBound),
           raw[next] == UInt8(ascii: "{") {
            // The usage chunk: read whole, once per stream.
            let bytes = Array(raw[data])
            guard let members = try? JSONSkimmer.topLevelObject(bytes) else {
                broken = "a data: line that is not a JSON object"
                return .broken
            }
            if let usageMember = members.first(where: { $0.key == "usage" }), bytes[usageMember.value.lowerBound] == UInt8(ascii: "{"),
               let usage = try? JSONValue.parse(bytes: bytes[usageMember.value]) {
                tokensIn = usage["prompt_tokens"]?.intValue ?? tokensIn
                tokensOut = usage["completion_tokens"]?.intValue ?? tokensOut
                // The gateway asked for usage for its own accounting; drop it if the client did not.
                let choices = members.first { $0.key == "choices" }
                if !clientWantsUsage, choices.map({ ChatRequest.firstNonSpace(bytes, after: $0.value.lowerBound) == UInt8(ascii: "]") }) ?? true {
                    return .drop
                }
            }
        }
        contentBytes += Self.stringBytes(raw, after: Self.contentKey, in: data) + Self.stringBytes(raw, after: Self.argumentsKey, in: data)
            + Self.stringBytes(raw, after: Self.deltaKey, in: data)
        if !complete, Self.find(raw, Self.finishKey, in: data) != nil { complete = true }
        return .keep
    }

    static let done = Array("[DONE]".utf8)
    static let usageKey = Array("\"usage\":".utf8)
    static let finishKey = Array("\"finish_reason\":\"".utf8)
    static let contentKey = Array("\"content\":\"".utf8)
    static let argumentsKey = Array("\"arguments\":\"".utf8)
    static let deltaKey = Array("\"delta\":\"".utf8)

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    static func nextNonSpace(_ raw: UnsafeRawBufferPointer, after: Int, before end: Int) -> Int? {
        var i = after
        while i < end, isSpace(raw[i]) { i += 1 }
        return i < end ? i : nil
    }

    static func equals(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>, _ bytes: [UInt8]) -> Bool {
        guard range.count == bytes.count else { return false }
        for k in 0..<bytes.count where raw[range.lowerBound + k] != bytes[k] { return false }
        return true
    }

    /// Where `needle` first occurs in `range` of `raw`.
    static func find(_ raw: UnsafeRawBufferPointer, _ needle: [UInt8], in range: Range<Int>, from: Int? = nil) -> Int? {
        let n = needle.count
        let head = needle[0]
        var i = from ?? range.lowerBound
        let last = range.upperBound - n
        while i <= last {
            if raw[i] == head {
                var j = 1
                while j < n, raw[i + j] == needle[j] { j += 1 }
                if j == n { return i }
            }
            i += 1
        }
        return nil
    }

    /// Bytes of every string value after `key` (which ends in its opening quote), escaped as sent.
    static func stringBytes(_ raw: UnsafeRawBufferPointer, after key: [UInt8], in range: Range<Int>) -> Int {
        var total = 0
        var from = range.lowerBound
        while let at = find(raw, key, in: range, from: from) {
            var j = at + key.count
            let start = j
            while j < range.upperBound, raw[j] != UInt8(ascii: "\"") {
                j += raw[j] == UInt8(ascii: "\\") ? 2 : 1
            }
            total += min(j, range.upperBound) - start
            from = min(j, range.upperBound)
        }
        return total
    }
}
