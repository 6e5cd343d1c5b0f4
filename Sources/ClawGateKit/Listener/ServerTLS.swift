import Foundation
import NIOCore
import NIOSSL
import Synchronization

/// One listener's TLS: the files it was configured with and the `NIOSSLContext` new connections
/// take now. A reload (SIGHUP) builds a new context from the files and swaps it in under the lock;
/// connections already open keep the context they started with, so none is dropped, and a reload
/// that fails leaves the one in force.
public final class ServerTLS: Sendable {
    /// `data` or `admin`, as in `/metrics`.
    public let listener: String
    public let files: GatewayConfig.ListenerTLS
    /// The key path of the files in the configuration (`tls`, `admin.tls`), for every error.
    let path: String
    private let state: Mutex<Loaded>

    /// A context and what its certificate says, for the logs and `/metrics`.
    public struct Loaded: Sendable {
        let context: NIOSSLContext
        /// The leaf certificate's subject, e.g. `CN=gateway.internal,O=ops`.
        public let subject: String
        /// When the leaf certificate expires (seconds since 1970).
        public let notAfter: Double
        /// Whether clients must present a certificate (mutual TLS).
        public let mutual: Bool
    }

    init(listener: String, files: GatewayConfig.ListenerTLS, path: String) throws(ConfigError) {
        self.listener = listener
        self.files = files
        self.path = path
        state = Mutex(try Self.load(files, path: path))
    }

    /// The context a new connection uses.
    var context: NIOSSLContext { state.withLock { $0.context } }

    /// What is in force now.
    public var loaded: Loaded { state.withLock { $0 } }

    /// Read the files again and put the new context in force for new connections; on a problem
    /// nothing changes and the error names the key path.
    @discardableResult
    public func reload() throws(ConfigError) -> Loaded {
        let next = try Self.load(files, path: path)
        state.withLock { $0 = next }
        return next
    }

    /// Build a server context from PEM files; every problem names its key (`tls.cert_file`, ...).
    static func load(_ files: GatewayConfig.ListenerTLS, path: String) throws(ConfigError) -> Loaded {
        var problems: [ConfigProblem] = []
        var chain: [NIOSSLCertificate] = []
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.certFile)
            if chain.isEmpty { problems.append(.init(path: "\(path).cert_file", reason: "\(files.certFile) holds no PEM certificate")) }
        } catch {
            problems.append(.init(path: "\(path).cert_file", reason: "cannot load \(files.certFile) as PEM certificates: \(error)"))
        }
        var key: NIOSSLPrivateKey?
        do {
            key = try NIOSSLPrivateKey(file: files.keyFile, format: .pem)
        } catch {
            problems.append(.init(path: "\(path).key_file", reason: "cannot load \(files.keyFile) as a PEM private key (unencrypted): \(error)"))
        }
        var roots: [NIOSSLCertificate]?
        if let caFile = files.clientCAFile {
            do {
                let list = try NIOSSLCertificate.fromPEMFile(caFile)
                if list.isEmpty { problems.append(.init(path: "\(path).client_ca_file", reason: "\(caFile) holds no PEM certificate")) }
                roots = list
            } catch {
                problems.append(.init(path: "\(path).client_ca_file", reason: "cannot load \(caFile) as PEM certificates: \(error)"))
            }
        }
        guard problems.isEmpty, let key, let leaf = chain.first else { throw ConfigError(file: "TLS files", problems: problems) }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        if let roots {
            // A client certificate is required and must chain to the CA; no name is checked (the
            // subject goes to the audit).
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = .certificates(roots)
            configuration.sendCANameList = true
        }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw ConfigError(file: "TLS files", problems: [.init(path: path, reason: "\(files.keyFile) does not go with \(files.certFile), or they do not make a TLS context: \(error)")])
        }
        return Loaded(context: context, subject: Self.subject(of: leaf), notAfter: Double(leaf.notValidAfter), mutual: roots != nil)
    }

    /// A certificate's subject as `CN=alice,O=ops` (most specific first, as RFC 4514 writes it).
    public static func subject(of certificate: NIOSSLCertificate) -> String {
        func word(_ type: SSLCertificateNameType) -> String {
            switch type {
            case .commonName: "CN"
            case .organization: "O"
            case .organizationalUnit: "OU"
            case .country: "C"
            case .state: "ST"
            case .city: "L"
            case .emailAddress: "emailAddress"
            case .userId: "UID"
            default: "?"
            }
        }
        return certificate.subjectName.reversed().map { "\(word($0.type))=\($0.value)" }.joined(separator: ",")
    }
}

