import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Bearer tokens of the admin API, each with a name (the audit actor) and a role. Tokens come from
/// environment variables or from files readable by the owner only, never from the YAML itself; or
/// the YAML gives a token's SHA-256 (`sha256:`), which is no secret. As with client keys, only the
/// SHA-256 of each token is kept, and an offered token is hashed and compared in constant time.
public struct AdminAuth: Sendable {
    public enum Role: String, Sendable {
        case viewer
        case `operator`
    }

    public struct Token: Sendable {
        public var name: String
        public var role: Role
        /// The SHA-256 of the token.
        var digest: [UInt8]

        init(name: String, role: Role, digest: [UInt8]) {
            self.name = name
            self.role = role
            self.digest = digest
        }

        /// A token known in the clear (tests, the demo): only its hash is kept.
        public init(name: String, role: Role, secret: String) {
            self.init(name: name, role: role, digest: ClientAuth.digest(secret.utf8))
        }
    }

    public let tokens: [Token]

    public init(tokens: [Token]) { self.tokens = tokens }

    /// Load the configured tokens; every problem names the token entry and what to fix.
    public static func load(_ sources: [GatewayConfig.TokenSource], environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ConfigError) -> AdminAuth
    {
        var tokens: [Token] = []
        var problems: [ConfigProblem] = []
        for (index, source) in sources.enumerated() {
            let path = "admin.tokens[\(index)]"
            if let hex = source.sha256 {
                guard let digest = Self.bytes(hex: hex), digest.count == 32 else {
                    problems.append(.init(path: "\(path).sha256", reason: "must be 64 hex digits"))
                    continue
                }
                tokens.append(Token(name: source.name, role: source.role, digest: digest))
                continue
            }
            let secret = Self.readSecret(env: source.env, file: source.file, envField: "\(path).env", fileField: "\(path).file",
                                         environment: environment, problems: &problems)
            if let secret {
                if secret.utf8.count < 16 {
                    problems.append(.init(path: path, reason: "the token of '\(source.name)' is shorter than 16 characters"))
                } else {
                    tokens.append(Token(name: source.name, role: source.role, secret: secret))
                }
            }
        }
        if !problems.isEmpty { throw ConfigError(file: "admin tokens", problems: problems) }
        return AdminAuth(tokens: tokens)
    }

    /// A secret from an environment variable or from a file only its owner may read (mode 0600),
    /// trimmed; nil with the problem recorded, naming the field, when it cannot be had.
    static func readSecret(env: String?, file: String?, envField: String, fileField: String, environment: [String: String],
                           problems: inout [ConfigProblem]) -> String? {
        if let env {
            if let value = environment[env], !value.isEmpty { return value }
            problems.append(.init(path: envField, reason: "environment variable \(env) is not set or empty"))
        } else if let file {
            var info = stat()
            if stat(file, &info) != 0 {
                problems.append(.init(path: fileField, reason: "cannot read \(file)"))
            } else if info.st_mode & 0o077 != 0 {
                problems.append(.init(path: fileField, reason: "\(file) is readable by others (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it"))
            } else if let text = try? String(contentsOfFile: file, encoding: .utf8) {
                let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                if !trimmed.isEmpty { return trimmed }
                problems.append(.init(path: fileField, reason: "\(file) is empty"))
            } else {
                problems.append(.init(path: fileField, reason: "cannot read \(file)"))
            }
        }
        return nil
    }

    /// The token named by an `Authorization: Bearer ...` header, compared in constant time against
    /// every configured token so timing tells nothing about which one (or how much) matched.
    public func authenticate(_ header: String?) -> Token? {
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return nil }
        let offered = ClientAuth.digest(header.dropFirst(7).utf8)
        var found: Token?
        for token in tokens where Self.constantTimeEqual(offered, token.digest) {
            found = token
        }
        return found
    }

    /// Bytes from hex digits; nil if any is not one.
    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let pair = UInt8(String(decoding: digits[i...i + 1], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(pair)
        }
        return bytes
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt64(a.count ^ b.count)
        let n = max(a.count, b.count)
        for i in 0..<n {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            difference |= UInt64(x ^ y)
        }
        return difference == 0
    }
}
