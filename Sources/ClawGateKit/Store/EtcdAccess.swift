import Foundation
import NIOSSL

/// What a node needs to be let into etcd, read once at start: TLS (the CA etcd's certificate chains
/// to, and a client certificate for `--client-cert-auth`) and etcd's user and password. The
/// password comes from an environment variable, never from the YAML.
public struct EtcdAccess: Sendable {
    /// nil: plain HTTP, or https:// with the system's trust roots.
    public var tls: TLSConfiguration?
    public var username: String?
    var password: String?

    public init(tls: TLSConfiguration? = nil, username: String? = nil, password: String? = nil) {
        self.tls = tls
        self.username = username
        self.password = password
    }

    /// Load `store.tls`, `store.username` and `store.password_env`; every problem names its key.
    public static func load(_ access: GatewayConfig.StoreAccess, environment: [String: String]) throws(ConfigError) -> EtcdAccess {
        var problems: [ConfigProblem] = []
        var result = EtcdAccess()
        if access.tls {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.minimumTLSVersion = .tlsv12
            if let caFile = access.caFile {
                do {
                    let roots = try NIOSSLCertificate.fromPEMFile(caFile)
                    if roots.isEmpty { problems.append(.init(path: "store.tls.ca_file", reason: "\(caFile) holds no PEM certificate")) }
                    tls.trustRoots = .certificates(roots)
                } catch {
                    problems.append(.init(path: "store.tls.ca_file", reason: "cannot load \(caFile) as PEM certificates: \(error)"))
                }
            }
            if let certFile = access.certFile, let keyFile = access.keyFile {
                do {
                    tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certFile).map { .certificate($0) }
                    if tls.certificateChain.isEmpty { problems.append(.init(path: "store.tls.cert_file", reason: "\(certFile) holds no PEM certificate")) }
                } catch {
                    problems.append(.init(path: "store.tls.cert_file", reason: "cannot load \(certFile) as PEM certificates: \(error)"))
                }
                do {
                    tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
                } catch {
                    problems.append(.init(path: "store.tls.key_file", reason: "cannot load \(keyFile) as a PEM private key (unencrypted): \(error)"))
                }
            }
            if problems.isEmpty {
                // The pair is checked now, not at the first call to etcd.
                do {
                    _ = try NIOSSLContext(configuration: tls)
                } catch {
                    problems.append(.init(path: "store.tls", reason: "the key does not go with the certificate, or they make no TLS context: \(error)"))
                }
            }
            result.tls = tls
        }
        if let username = access.username, let env = access.passwordEnv {
            if let password = environment[env], !password.isEmpty {
                result.username = username
                result.password = password
            } else {
                problems.append(.init(path: "store.password_env", reason: "environment variable \(env) is not set or empty"))
            }
        }
        if !problems.isEmpty { throw ConfigError(file: "fleet store", problems: problems) }
        return result
    }
}
