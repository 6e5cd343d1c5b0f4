import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Waits for SIGINT, SIGTERM or SIGHUP (a dropped SSH session), so servers stop cleanly.
public enum ShutdownSignals {
    private final class Sources: @unchecked Sendable {
        var list: [any DispatchSourceSignal] = []
    }

    /// Returns the signal that arrived.
    @discardableResult
    public static func wait(_ signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]) async -> Int32 {
        let queue = DispatchQueue(label: "claw.signals")
        let fired = Mutex<Bool>(false)
        let sources = Sources()
        let received: Int32 = await withCheckedContinuation { continuation in
            queue.sync {
                for number in signals {
                    signal(number, SIG_IGN)
                    let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                    source.setEventHandler {
                        let first = fired.withLock { done in
                            defer { done = true }
                            return !done
                        }
                        if first { continuation.resume(returning: number) }
                    }
                    source.resume()
                    sources.list.append(source)
                }
            }
        }
        queue.sync { sources.list.forEach { $0.cancel() } }
        return received
    }
}
