import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOSSL

/// Hummingbird's HTTP/1 channel behind a listener's limits: a connection over `max_connections` is
/// answered 503 and closed at once, and every admitted one carries a `ConnectionClock` in front of
/// the HTTP decoder (it sees each byte) and a `RequestBoundaries` behind it (it sees heads and the
/// ends of answers). With TLS, the listener's current context wraps the connection first, so the
/// clocks see the decrypted bytes: a TLS handshake that never ends is an idle connection.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let inner: HTTP1Channel
    let limits: ListenerLimits
    let tls: ServerTLS?

    init(responder: @escaping HTTPChannelHandler.Responder, limits: ListenerLimits, tls: ServerTLS?) {
        self.inner = HTTP1Channel(responder: responder, configuration: .init(additionalChannelHandlers: [RequestBoundaries(), ClientCloseHandler()]))
        self.limits = limits
        self.tls = tls
    }

    /// The server builder for `Application(server:)`.
    static func builder(limits: ListenerLimits, tls: ServerTLS? = nil) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in GuardedHTTP1Channel(responder: responder, limits: limits, tls: tls) }
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let limits = self.limits
        do {
            if limits.admit() {
                channel.closeFuture.whenComplete { _ in limits.release() }
                // Each connection takes the context in force when it opens: a reload changes new ones only.
                if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context)) }
                try channel.pipeline.syncOperations.addHandler(ConnectionClock(limits: limits))
            } else {
                try channel.pipeline.syncOperations.addHandler(RefuseConnection(limits: limits, silent: tls != nil))
            }
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let codec = try channel.pipeline.syncOperations.handler(type: HTTP1ToHTTPServerCodec.self)
            try channel.pipeline.syncOperations.addHandler(HTTP10Framing(), position: .before(codec))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

/// Answers a connection over the listener's cap with a 503 and closes it. A TLS listener closes it
/// at once instead, with no handshake: a 503 would cost a handshake and a TLS shutdown first, and
/// holding descriptors is what the cap is there to stop.
final class RefuseConnection: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    let limits: ListenerLimits
    let silent: Bool

    init(limits: ListenerLimits, silent: Bool = false) {
        self.limits = limits
        self.silent = silent
    }

    func channelActive(context: ChannelHandlerContext) {
        if silent { return context.close(promise: nil) }
        refuse(context)
    }

    private func refuse(_ context: ChannelHandlerContext) {
        let body = #"{"error":{"code":"max_connections","message":"This listener holds its maximum of \#(limits.maxConnections) connections (limits.max_connections); try again shortly.","type":"server_error"}}"#
        let answer = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\nRetry-After: 1\r\n\r\n" + body
        let channel = context.channel
        context.writeAndFlush(NIOAny(ByteBuffer(string: answer))).whenComplete { _ in channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}  // whatever the client sends is not read
}

/// Closes a connection that holds its socket without using it: a request head that has not fully
/// arrived `header_timeout` after the request's first byte (slowloris sending its headers a byte at a
/// time) is answered 408 and closed; a connection with no request for `idle_timeout` (a silent new
/// socket, or keep-alive between requests) is closed. The header clock starts at the first byte, not
/// at the accept, so a client slow to write its request after connecting (a busy client process) is
/// not mistaken for slowloris. A request body must arrive within `body_timeout` of its head (a client
/// trickling its body is answered 408 and closed too). While a request is being answered (a long
/// stream included) no clock runs.
final class ConnectionClock: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private enum Phase { case awaitingHead, awaitingBody, answering, idle }
    private var phase = Phase.idle
    /// Request heads received whose answers have not ended (more than one when pipelined).
    private var answering = 0
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    let limits: ListenerLimits

    init(limits: ListenerLimits) { self.limits = limits }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { arm(.idle) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        if timer == nil, phase == .idle { arm(.idle) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if phase == .idle { arm(.awaitingHead) }
        context.fireChannelRead(data)
    }

    /// A request head was decoded: its body has `body_timeout` to arrive.
    func headReceived() {
        answering += 1
        arm(.awaitingBody)
    }

    /// The request's body (and the request) ended: its answer may take as long as it takes.
    func bodyReceived() {
        guard phase == .awaitingBody else { return }
        phase = .answering
        timer?.cancel()
        timer = nil
    }

    /// An answer ended: with nothing else in progress the idle clock starts.
    func answerEnded() {
        answering = max(0, answering - 1)
        if answering == 0, phase == .answering || phase == .awaitingBody { arm(.idle) }
    }

    private func arm(_ next: Phase) {
        timer?.cancel()
        phase = next
        guard let context else { return }
        let seconds = switch next {
        case .idle: limits.idleTimeout
        case .awaitingBody: limits.bodyTimeout
        default: limits.headerTimeout
        }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: ListenerLimits.amount(seconds)) { [self] in
            self.expire(next)
        }
    }

    private func expire(_ expired: Phase) {
        guard let context, phase == expired, context.channel.isActive else { return }
        timer = nil
        if expired == .awaitingHead || expired == .awaitingBody {
            limits.metrics.connectionTimedOut(listener: limits.listener, kind: expired == .awaitingHead ? "header" : "body")
            let answer = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            context.writeAndFlush(NIOAny(ByteBuffer(string: answer)), promise: nil)
        } else {
            limits.metrics.connectionTimedOut(listener: limits.listener, kind: "idle")
        }
        context.close(promise: nil)
    }
}

/// Tells the connection's `ConnectionClock` where requests begin and answers end.
final class RequestBoundaries: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var clock: ConnectionClock?

    func handlerAdded(context: ChannelHandlerContext) {
        clock = try? context.pipeline.syncOperations.handler(type: ConnectionClock.self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: clock?.headReceived()
        case .end: clock?.bodyReceived()
        case .body: break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { clock?.answerEnded() }
        context.write(data, promise: promise)
    }
}
