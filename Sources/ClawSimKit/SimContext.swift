import Hummingbird
import NIOCore

/// Request context that keeps the connection, so a simulated provider can reset it or notice the
/// client gave up on a hung request.
struct SimContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}
