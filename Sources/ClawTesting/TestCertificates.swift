import Foundation
import NIOSSL

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
            throw TestCertificatesError(description: "openssl \(arguments.prefix(2).joined(separator: " ")) failed: \(String(decoding: said, as: UTF8.self))")
        }
    }
}


/// `openssl` refused to make a certificate.
public struct TestCertificatesError: Error, CustomStringConvertible {
    public let description: String
}
