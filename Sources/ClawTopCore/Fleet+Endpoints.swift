import ClawAdminAPI

extension Fleet {
    /// The client APIs a route may be called through, in the order the console shows them.
    public static let endpoints = ["chat", "messages", "embeddings", "responses"]

    /// Each route's requests in the last minute by the API called, summed over the nodes that
    /// report it (a node older than these endpoints adds nothing).
    public func requestsByEndpoint() -> [String: [String: Int]] {
        var out: [String: [String: Int]] = [:]
        for snapshot in nodes.compactMap(\.snapshot) {
            for route in snapshot.routes {
                guard let counts = route.requestsByEndpoint1m else { continue }
                for (endpoint, n) in counts { out[route.alias, default: [:]][endpoint, default: 0] += n }
            }
        }
        return out
    }

    /// "chat 12  messages 3" (endpoints with none left out; "-" when nothing came).
    public static func endpointText(_ counts: [String: Int]?) -> String {
        let parts = endpoints.compactMap { e in counts?[e].flatMap { $0 > 0 ? "\(e) \($0)" : nil } }
        return parts.isEmpty ? "-" : parts.joined(separator: "  ")
    }
}
