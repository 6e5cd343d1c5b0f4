import Hummingbird
import NIOCore
import Synchronization

/// Starts Hummingbird applications in the background and learns the port each one bound,
/// so servers can listen on port 0 in tests, the demo and the benchmarks.
public final class BoundPort: Sendable {
    private let state = Mutex<(result: Result<Int, any Error>?, waiters: [CheckedContinuation<Int, any Error>])>((nil, []))

    public init() {}

    public func resolve(_ result: Result<Int, any Error>) {
        let waiters = state.withLock { state -> [CheckedContinuation<Int, any Error>] in
            guard state.result == nil else { return [] }
            state.result = result
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(with: result) }
    }

    public func value() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let ready = state.withLock { state -> Result<Int, any Error>? in
                if let result = state.result { return result }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}

public struct ServerStartError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A set of servers running as one background task; `stop()` shuts them down gracefully.
public final class ServerGroup: Sendable {
    private let task: Task<Void, any Error>

    init(task: Task<Void, any Error>) { self.task = task }

    /// Start the given applications (each built with `onServerRunning` resolving its `BoundPort`)
    /// and wait until every one of them listens, or throw the first start failure.
    public static func start(_ runs: [@Sendable () async throws -> Void], ports: [BoundPort]) async throws -> ServerGroup {
        let task = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, run) in runs.enumerated() {
                    let port = ports[index]
                    group.addTask {
                        do {
                            try await run()
                            port.resolve(.failure(ServerStartError("server stopped before it listened")))
                        } catch {
                            port.resolve(.failure(error))
                            throw error
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let group = ServerGroup(task: task)
        do {
            for port in ports { _ = try await port.value() }
        } catch {
            task.cancel()
            throw error
        }
        return group
    }

    /// Stop every server and wait for them to finish.
    public func stop() async {
        task.cancel()
        _ = try? await task.value
    }

    /// Wait until the servers stop by themselves (or fail).
    public func wait() async throws {
        try await task.value
    }
}

extension BoundPort {
    /// An `onServerRunning` callback that resolves this port from the listening channel.
    public var onServerRunning: @Sendable (any Channel) async -> Void {
        { channel in
            if let port = channel.localAddress?.port {
                self.resolve(.success(port))
            } else {
                self.resolve(.failure(ServerStartError("listening socket has no port")))
            }
        }
    }
}
