import Crypto
import Foundation

/// The gateway's callers (`clients:`): each key is read once from an env var or a 0600 file and
/// only its SHA-256 is kept; an offered key is hashed and compared in constant time with every one.
public struct ClientAuth: Sendable {
    public struct Client: Sendable {
        public var name: String
        /// nil: every route.
        public var routes: Set<String>?
        public var limits: GatewayConfig.ClientLimits
        var digest: [UInt8]
    }

    /// nil: no `clients:` configured, the gateway is open.
    public let clients: [Client]?

    public init(clients: [Client]?) { self.clients = clients }

    static func digest(_ bytes: some Sequence<UInt8>) -> [UInt8] { Array(SHA256.hash(data: Array(bytes))) }

    public static func load(_ config: [GatewayConfig.Client]?, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ConfigError) -> ClientAuth
    {
        guard let config else { return ClientAuth(clients: nil) }
        var clients: [Client] = []
        var problems: [ConfigProblem] = []
        for (index, source) in config.enumerated() {
            let path = "clients[\(index)]"
            let key = AdminAuth.readSecret(env: source.keyEnv, file: source.keyFile, envField: "\(path).key_env", fileField: "\(path).key_file",
                                           environment: environment, problems: &problems)
            if let key {
                if key.utf8.count < 16 {
                    problems.append(.init(path: path, reason: "the key of client '\(source.name)' is shorter than 16 characters"))
                } else {
                    clients.append(Client(name: source.name, routes: source.routes.map(Set.init), limits: source.limits, digest: digest(key.utf8)))
                }
            }
        }
        if !problems.isEmpty { throw ConfigError(file: "client keys", problems: problems) }
        return ClientAuth(clients: clients)
    }

    /// The index of the client whose key an `Authorization: Bearer KEY` header carries.
    public func authenticate(_ header: String?) -> Int? {
        guard let clients, let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return nil }
        let offered = Self.digest(header.dropFirst(7).utf8)
        var found: Int?
        for (index, client) in clients.enumerated() where AdminAuth.constantTimeEqual(offered, client.digest) { found = index }
        return found
    }
}
