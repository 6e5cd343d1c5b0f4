import ClawGateKit
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// Opens a TLS connection of its own and says which certificate the server showed: what a new
/// client gets now (after a reload, say), whatever connections are already open.
public enum TLSProbe {
    /// The subject of the certificate `host:port` serves to a new connection, as the audit writes
    /// subjects (`CN=...,O=...`). Throws when the handshake fails (with TLS 1.3 a server refuses a
    /// missing client certificate only after the client's side of the handshake ended).
    public static func serverSubject(host: String = "127.0.0.1", port: Int, tls: TLSConfiguration) async throws -> String {
        var tls = tls
        tls.certificateVerification = .noHostnameVerification
        let context = try NIOSSLContext(configuration: tls)
        let done = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
                    try channel.pipeline.syncOperations.addHandler(HandshakeWaiter(done: done))
                }
            }
            .connect(host: host, port: port).get()
        do {
            try await done.futureResult.get()
            let peer = try await channel.nioSSL_peerCertificate().get()
            try? await channel.close()
            guard let peer else { throw TestCertificatesError(description: "the server showed no certificate") }
            return ServerTLS.subject(of: peer)
        } catch {
            try? await channel.close()
            throw error
        }
    }

    private final class HandshakeWaiter: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let done: EventLoopPromise<Void>
        init(done: EventLoopPromise<Void>) { self.done = done }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .handshakeCompleted? = event as? TLSUserEvent { done.succeed() }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            done.fail(error)
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            done.fail(TestCertificatesError(description: "the connection closed before the TLS handshake ended"))
            context.fireChannelInactive()
        }
    }
}
