import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The write end of the reload signal's self-pipe (async-signal-safe).
nonisolated(unsafe) private var reloadPipeWrite: Int32 = -1

/// SIGHUP as a request to reload, as nginx and HAProxy take it: every arrival, not only the first,
/// runs the handler set with `onSignal` on a thread of its own. Create it before the server
/// starts, so a SIGHUP during the start neither stops the process nor is lost; one that arrives
/// before a handler is set is ignored. One per process.
public final class ReloadSignal: Sendable {
    private let handler = Mutex<(@Sendable () -> Void)?>(nil)

    public init(_ number: Int32 = SIGHUP) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        reloadPipeWrite = fds[1]
        let readEnd = fds[0]
        signal(number) { _ in
            var byte: UInt8 = 1
            _ = write(reloadPipeWrite, &byte, 1)
        }
        Thread.detachNewThread { [self] in
            var byte: UInt8 = 0
            while true {
                guard read(readEnd, &byte, 1) == 1 else { continue }
                self.handler.withLock { $0 }?()
            }
        }
    }

    /// What each signal does from now on.
    public func onSignal(_ body: @escaping @Sendable () -> Void) {
        handler.withLock { $0 = body }
    }
}
