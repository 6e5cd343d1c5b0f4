import NIOCore

/// A task executor (SE-0417) that runs jobs on one NIO event loop: a request handler that prefers
/// its connection's loop resumes there after every await, instead of hopping to Swift's default
/// pool and back (two thread wake-ups per await). Unlike `EventLoopExecutor.install()` it works in
/// a `--static-swift-stdlib` build.
public final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    public let eventLoop: any EventLoop

    public init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        eventLoop.execute { job.runSynchronously(on: executor) }
    }

    /// Run `body` preferring `loop` (as is when nil).
    public static func on<T>(_ loop: (any EventLoop)?, isolation: isolated (any Actor)? = #isolation, _ body: () async -> T) async -> T {
        guard let loop else { return await body() }
        return await withTaskExecutorPreference(EventLoopTaskExecutor(loop), isolation: isolation, operation: body)
    }
}
