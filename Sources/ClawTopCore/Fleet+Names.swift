import Foundation

/// Nodes by name: once a node has been read, its node id; before that, its URL. Prometheus knows
/// the same nodes by the `instance` label it scraped them at (`host:port`).
extension Fleet {
    /// `host:port` of every node's URL -> the node's name.
    public var instanceNames: [String: String] {
        var out: [String: String] = [:]
        for node in nodes {
            guard let instance = Self.instance(of: node.url), node.name != node.url else { continue }
            out[instance] = node.name
        }
        return out
    }

    /// `http://127.0.0.1:9100/` -> `127.0.0.1:9100` (the default port filled in, as Prometheus does).
    public static func instance(of url: String) -> String? {
        guard let components = URLComponents(string: url), let host = components.host else { return nil }
        let port = components.port ?? (components.scheme == "https" ? 443 : 80)
        return "\(host):\(port)"
    }

    /// Text with every known node's `host:port` (and URL) replaced by its name: alert summaries
    /// and labels, and errors, name nodes as the rest of the screen does.
    public func naming(_ text: String) -> String {
        var out = text
        for node in nodes where node.name != node.url {
            out = out.replacingOccurrences(of: node.url, with: node.name)
        }
        for (instance, name) in instanceNames.sorted(by: { $0.key.count > $1.key.count }) {
            out = out.replacingOccurrences(of: instance, with: name)
        }
        return out
    }
}
