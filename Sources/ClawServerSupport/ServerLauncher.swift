import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The port a server bound, known once it listens, so servers can listen on port 0 in tests,
/// the demo and the benchmarks.
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

public struct ServerStartError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Applications running as one service group in the background; `stop()` shuts them down gracefully.
public final class ServerGroup: Sendable {
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    init(group: ServiceGroup, task: Task<Void, any Error>) {
        self.group = group
        self.task = task
    }

    /// Start the applications (each built with `onServerRunning` resolving its `BoundPort`) and wait
    /// until every one of them listens, or throw the first start failure.
    public static func start(_ services: [any Service], ports: [BoundPort], logger: Logger) async throws -> ServerGroup {
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        let task = Task {
            do {
                try await group.run()
                for port in ports { port.resolve(.failure(ServerStartError("server stopped before it listened"))) }
            } catch {
                for port in ports { port.resolve(.failure(error)) }
                throw error
            }
        }
        let servers = ServerGroup(group: group, task: task)
        do {
            for port in ports { _ = try await port.value() }
        } catch {
            await servers.stop()
            throw error
        }
        return servers
    }

    /// Stop every server gracefully and wait for them to finish.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    /// Wait until the servers stop by themselves (or fail).
    public func wait() async throws {
        try await task.value
    }
}
