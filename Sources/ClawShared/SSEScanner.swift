/// Splits a byte stream of server-sent events into whole events, so a proxy can forward each event
/// as soon as its blank line arrives and look inside the ones it cares about.
public struct SSEScanner: Sendable {
    private var pending: [UInt8] = []
    /// Where the search for the next event's end resumes (bytes before it hold no "\n\n"), so a
    /// long event fed in many small reads is scanned once, not once per read.
    private var searched = 0

    public init() {}

    /// Feed bytes; returns the complete events (each including its terminating blank line).
    public mutating func feed(_ bytes: some Collection<UInt8>) -> [[UInt8]] {
        pending.append(contentsOf: bytes)
        var events: [[UInt8]] = []
        var start = 0
        var index = max(0, searched - 2)
        let count = pending.count
        while index < count {
            if pending[index] == 0x0A {
                // "\n\n" or "\n\r\n" ends an event.
                if index + 1 < count, pending[index + 1] == 0x0A {
                    events.append(Array(pending[start...index + 1]))
                    index += 2
                    start = index
                    continue
                }
                if index + 2 < count, pending[index + 1] == 0x0D, pending[index + 2] == 0x0A {
                    events.append(Array(pending[start...index + 2]))
                    index += 3
                    start = index
                    continue
                }
            }
            index += 1
        }
        if start > 0 { pending.removeFirst(start) }
        searched = pending.count
        return events
    }

    /// Bytes held for an event not yet ended (a proxy bounds this).
    public var pendingCount: Int { pending.count }

    /// Bytes that never ended in a blank line (an upstream that stopped mid-event).
    public var remainder: [UInt8] { pending }

    /// The concatenated `data:` payload of one event, or nil when it has none.
    public static func data(of event: [UInt8]) -> [UInt8]? {
        var result: [UInt8] = []
        var found = false
        var lineStart = 0
        for i in 0...event.count {
            if i == event.count || event[i] == 0x0A {
                var line = event[lineStart..<i]
                if line.last == 0x0D { line = line.dropLast() }
                if line.starts(with: [0x64, 0x61, 0x74, 0x61, 0x3A]) {  // "data:"
                    var payload = line.dropFirst(5)
                    if payload.first == 0x20 { payload = payload.dropFirst() }
                    if found { result.append(0x0A) }
                    result.append(contentsOf: payload)
                    found = true
                }
                lineStart = i + 1
            }
        }
        return found ? result : nil
    }
}
