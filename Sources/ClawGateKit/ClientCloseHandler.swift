import NIOCore

/// Closes a client connection whose client closed its side (Hummingbird allows half-closure, so a
/// client's FIN alone leaves the channel active). A request whose client left is then seen as gone
/// (`Channel.isActive`) and cancels its upstream attempt, as nginx does with a client abort. A
/// client that shuts down its writing side and waits for the answer gets none: no SDK does that.
final class ClientCloseHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }
}
