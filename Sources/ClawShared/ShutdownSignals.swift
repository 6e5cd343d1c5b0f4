import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The write end of the self-pipe the signal handler writes to (async-signal-safe).
nonisolated(unsafe) private var signalPipeWrite: Int32 = -1

/// Catches SIGINT, SIGTERM and SIGHUP (a dropped SSH session) so servers stop cleanly. Create it
/// before announcing readiness, so a signal sent right after the announcement is not lost.
///
/// A plain handler writes the signal number to a pipe that a thread reads: unlike a dispatch signal
/// source, this works whichever of the process's threads the kernel delivers the signal to.
public final class ShutdownSignals: Sendable {
    private let state = Mutex<(received: Int32?, waiter: CheckedContinuation<Int32, Never>?)>((nil, nil))

    public init(_ signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        signalPipeWrite = fds[1]
        let readEnd = fds[0]
        for number in signals {
            signal(number) { received in
                var byte = UInt8(truncatingIfNeeded: received)
                _ = write(signalPipeWrite, &byte, 1)
            }
        }
        Thread.detachNewThread { [self] in
            var byte: UInt8 = 0
            while read(readEnd, &byte, 1) != 1 {}
            self.deliver(Int32(byte))
        }
    }

    private func deliver(_ number: Int32) {
        let waiter = state.withLock { state -> CheckedContinuation<Int32, Never>? in
            guard state.received == nil else { return nil }
            state.received = number
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: number)
    }

    /// The signal that arrived, if one did (for loops that poll instead of waiting).
    public var received: Int32? { state.withLock { $0.received } }

    /// Wait for the first signal; returns its number.
    @discardableResult
    public func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Int32? in
                if let received = state.received { return received }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
