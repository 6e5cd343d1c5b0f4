import NIOCore
import NIOPosix

public enum EventLoopExecutor {
    /// Run Swift concurrency on NIO's event loops, so a request's handler and its I/O share a thread
    /// instead of hopping between pools (it halved the gateway's added latency in a dynamically
    /// linked build). Call once, first thing. Returns false where the runtime's hook cannot be found:
    /// a `--static-swift-stdlib` build keeps it private, and runs on the default pool instead
    /// (measured: about the same added latency, more requests/s, see README).
    @discardableResult
    public static func install() -> Bool {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
