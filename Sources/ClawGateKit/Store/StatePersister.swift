import Logging
import NIOPosix
import Synchronization

/// The node's one writer of operator state to disk: every fsync of the file store (a write's audit
/// record and state) and of the fleet store's local cache runs here, on one thread of its own, one
/// at a time. So no event loop waits for a disk, no lock is held across an fsync, and two writes
/// never reach the file out of order.
final class StatePersister: Sendable {
    private let thread: NIOThreadPool
    /// The fleet state waiting to be cached (only the latest of several is written), and whether
    /// the thread is on it.
    private let waiting = Mutex<(state: OperatorState?, writing: Bool)>((nil, false))

    init() {
        thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
    }

    /// Run `body` on the persister's thread after everything handed to it before; throws when the
    /// node is shutting down and it did not run.
    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async throws -> T {
        try await thread.runIfActive(body)
    }

    /// Cache a fleet state in effect here, when the thread gets to it: the store is the fleet's
    /// truth, the file only lets a node start while the store is down. Returns at once.
    func cache(_ state: OperatorState, in store: StateStore, logger: Logger) {
        let start = waiting.withLock { waiting -> Bool in
            waiting.state = state
            if waiting.writing { return false }
            waiting.writing = true
            return true
        }
        guard start else { return }
        thread.submit { _ in
            while let next = self.waiting.withLock({ waiting -> OperatorState? in
                let next = waiting.state
                waiting.state = nil
                if next == nil { waiting.writing = false }
                return next
            }) {
                do {
                    try store.save(next)
                } catch {
                    logger.error("cannot cache the fleet state locally", metadata: ["error": .string("\(error)")])
                }
            }
        }
    }

    /// Finish what was handed over, then stop the thread.
    func shutdown() async {
        try? await thread.shutdownGracefully()
    }
}
