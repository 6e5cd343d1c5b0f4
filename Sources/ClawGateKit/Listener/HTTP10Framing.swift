import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// HTTP/1.0 answered as HTTP/1.0. Hummingbird works in version-less HTTP types and answers every
/// request as HTTP/1.1, so a streamed answer to an HTTP/1.0 client came back chunked (which 1.0
/// does not know) on a connection that stayed open. Sitting between NIO's HTTP codec and the
/// version-less one, this answers a 1.0 request with a 1.0 head: an answer without a length is
/// delimited by closing the connection, and the connection closes after the answer unless the
/// client asked for keep-alive and the answer has a length.
final class HTTP10Framing: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// The version and keep-alive wish of the request being answered (pipelined requests are
    /// answered in order, so a queue).
    private var requests: [(version: HTTPVersion, keepAlive: Bool)] = []
    private var closeAfterEnd = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) { requests.append((head.version, head.isKeepAlive)) }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status.code >= 200:
            let request = requests.isEmpty ? (version: HTTPVersion.http1_1, keepAlive: true) : requests.removeFirst()
            guard request.version == .http1_0 else { return context.write(data, promise: promise) }
            head.version = .http1_0
            if head.headers.contains(name: "content-length"), request.keepAlive {
                head.headers.replaceOrAdd(name: "connection", value: "keep-alive")
            } else {
                head.headers.remove(name: "transfer-encoding")
                head.headers.replaceOrAdd(name: "connection", value: "close")
                closeAfterEnd = true
            }
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end where closeAfterEnd:
            closeAfterEnd = false
            let written = promise ?? context.eventLoop.makePromise()
            context.writeAndFlush(data, promise: written)
            written.futureResult.whenComplete { _ in context.close(promise: nil) }
        default:
            context.write(data, promise: promise)
        }
    }
}
