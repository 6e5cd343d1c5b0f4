import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The write end of SIGHUP's self-pipe (async-signal-safe).
nonisolated(unsafe) private var hangupPipeWrite: Int32 = -1

/// Runs `action` on every SIGHUP, on a thread of its own: the daemon convention for "reopen your
/// log files" that logrotate's `postrotate kill -HUP` relies on. Create it before announcing
/// readiness, instead of letting `ShutdownSignals` take SIGHUP.
public final class HangupSignal: Sendable {
    public init(_ action: @escaping @Sendable () -> Void) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        hangupPipeWrite = fds[1]
        let readEnd = fds[0]
        signal(SIGHUP) { _ in
            var byte: UInt8 = 1
            _ = write(hangupPipeWrite, &byte, 1)
        }
        Thread.detachNewThread {
            var byte: UInt8 = 0
            while true {
                if read(readEnd, &byte, 1) == 1 { action() }
            }
        }
    }
}
