import Foundation
import ClawGateKit
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// A CA and certificates made by the `openssl` command in a temporary folder, for TLS tests and
/// the benchmark: a server certificate for 127.0.0.1 and localhost, and client certificates with
/// the subjects asked for. Real files, as an operator would give them.
public struct TestCertificates: Sendable {
    public let directory: String
    /// The CA's certificate (PEM).
    public let ca: String

    public struct Pair: Sendable {
        public let cert: String
        public let key: String
    }

    /// Make a new CA in a new folder.
    public static func make(name: String = "clawgate test CA") throws -> TestCertificates {
        let directory = NSTemporaryDirectory() + "clawgate-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let certs = TestCertificates(directory: directory, ca: directory + "/ca.pem")
        try certs.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                           "-keyout", directory + "/ca.key", "-out", certs.ca, "-days", "2", "-subj", "/CN=\(name)"])
        return certs
    }

    /// A certificate signed by this CA: `subject` like `/O=ops/CN=alice`; a server certificate
    /// names 127.0.0.1 and localhost. `file` names the files (`file.pem`, `file.key`).
    public func issue(_ file: String, subject: String, server: Bool = false, days: Int = 2) throws -> Pair {
        let pair = Pair(cert: "\(directory)/\(file).pem", key: "\(directory)/\(file).key")
        let extensions = "\(directory)/\(file).ext"
        let usage = server ? "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n" : "extendedKeyUsage=clientAuth\n"
        try usage.write(toFile: extensions, atomically: true, encoding: .utf8)
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", pair.key,
                     "-out", "\(directory)/\(file).csr", "-subj", subject])
        try openssl(["x509", "-req", "-in", "\(directory)/\(file).csr", "-CA", ca, "-CAkey", "\(directory)/ca.key", "-CAcreateserial",
                     "-out", pair.cert, "-days", String(days), "-extfile", extensions])
        return pair
    }

    /// A client TLS configuration that trusts this CA, showing `client` when given.
    public func clientConfiguration(client: Pair? = nil) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca))
        if let client {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(client.cert).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: client.key, format: .pem))
        }
        return tls
    }

    public func remove() { try? FileManager.default.removeItem(atPath: directory) }

    func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let said = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw EtcdServerError("openssl \(arguments.prefix(2).joined(separator: " ")) failed: \(String(decoding: said, as: UTF8.self))")
        }
    }
}

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
            guard let peer else { throw EtcdServerError("the server showed no certificate") }
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
            done.fail(EtcdServerError("the connection closed before the TLS handshake ended"))
            context.fireChannelInactive()
        }
    }
}
