import ClawShared
import ClawTopCore
import Foundation
import Yams

/// `$XDG_CONFIG_HOME/clawtop/config.yaml` (else `~/.config/clawtop/config.yaml`): defaults that flags override.
struct ConsoleConfig {
    var nodes: [String] = []
    var tokenFile: String?
    var refresh: Double?
    var theme: String?
    var prometheus: String?
    var alertmanager: String?
    /// `cacert`, `cert`, `key`: TLS files for `https://` nodes, as `--cacert`, `--cert`, `--key`.
    var caFile: String?
    var certFile: String?
    var keyFile: String?

    static func path(environment: [String: String]) -> String {
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ((environment["HOME"] ?? "") + "/.config")
        return base + "/clawtop/config.yaml"
    }

    /// An http(s) URL with a host, without a trailing slash; nil if it is not one. The one check for
    /// URLs from flags and from this file.
    static func httpURL(_ text: String) -> String? {
        let url = text.hasSuffix("/") ? String(text.dropLast()) : text
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host?.isEmpty == false else { return nil }
        return url
    }

    /// Read the file if it exists; every problem names the file and the key.
    static func load(path: String) throws(CommandError) -> ConsoleConfig {
        var config = ConsoleConfig()
        guard FileManager.default.fileExists(atPath: path) else { return config }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CommandError("\(path): cannot read the file") }
        let root: JSONValue
        do {
            root = try YAMLDecoder().decode(JSONValue.self, from: text)
        } catch {
            throw CommandError("\(path): not valid YAML: \(error)")
        }
        if root == .null { return config }
        guard let fields = root.objectValue else { throw CommandError("\(path): the top level must be a mapping") }
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            switch key {
            case "nodes":
                guard let list = value.arrayValue?.compactMap(\.stringValue), list.count == value.arrayValue?.count else {
                    throw CommandError("\(path): \(key): must be a list of URLs")
                }
                config.nodes = list
            case "token_file":
                guard let s = value.stringValue else { throw CommandError("\(path): token_file: must be a path") }
                config.tokenFile = s
            case "refresh":
                guard let d = value.doubleValue, d >= 0.2, d <= 3600 else { throw CommandError("\(path): refresh: must be 0.2..3600 seconds") }
                config.refresh = d
            case "theme":
                guard let s = value.stringValue else { throw CommandError("\(path): theme: must be a name or a path") }
                config.theme = s
            case "cacert", "cert", "key":
                guard let s = value.stringValue, !s.isEmpty else { throw CommandError("\(path): \(key): must be a path to a PEM file") }
                switch key {
                case "cacert": config.caFile = s
                case "cert": config.certFile = s
                default: config.keyFile = s
                }
            case "prometheus", "alertmanager":
                guard let url = value.stringValue.flatMap(httpURL) else {
                    throw CommandError("\(path): \(key): must be an http:// or https:// URL")
                }
                if key == "prometheus" { config.prometheus = url } else { config.alertmanager = url }
            default:
                throw CommandError("\(path): \(key): unknown key; known: nodes, token_file, refresh, theme, prometheus, alertmanager, cacert, cert, key")
            }
        }
        return config
    }
}
