import ClawShared
import Foundation
import Yams

/// The simulator's setup: which providers, on which ports, behaving how.
public struct SimConfig: Sendable {
    public struct Provider: Sendable {
        public var id: String
        public var port: Int
        public var models: [String]
        public var behaviour: SimBehaviour
        /// The wire format this provider speaks (`format` in YAML, flags and the control API).
        public var format: SimFormat

        public init(id: String, port: Int = 0, models: [String] = [], behaviour: SimBehaviour = SimBehaviour(), format: SimFormat = .openai) {
            self.id = id
            self.port = port
            self.models = models
            self.behaviour = behaviour
            self.format = format
        }
    }

    public var host: String = "127.0.0.1"
    public var controlPort: Int = 0
    public var seed: UInt64 = 1
    public var providers: [Provider] = []

    public init(host: String = "127.0.0.1", controlPort: Int = 0, seed: UInt64 = 1, providers: [Provider] = []) {
        self.host = host
        self.controlPort = controlPort
        self.seed = seed
        self.providers = providers
    }

    /// Read a YAML file; every problem is reported with its key path.
    public static func load(yaml text: String, file: String = "config") throws(SimConfigError) -> SimConfig {
        let root: JSONValue
        do {
            root = try YAMLDecoder().decode(JSONValue.self, from: text)
        } catch {
            throw SimConfigError(problems: ["\(file): not valid YAML: \(error)"])
        }
        guard let top = root.objectValue else { throw SimConfigError(problems: ["\(file): the top level must be a mapping"]) }
        var config = SimConfig()
        var problems: [String] = []
        for (key, value) in top.sorted(by: { $0.key < $1.key }) {
            switch key {
            case "host":
                if let s = value.stringValue { config.host = s } else { problems.append("host: must be a string") }
            case "control_port":
                if let p = value.intValue, (0...65535).contains(p) { config.controlPort = p } else { problems.append("control_port: must be a port number 0..65535") }
            case "seed":
                if let s = value.intValue, s >= 0 { config.seed = UInt64(s) } else { problems.append("seed: must be a whole number >= 0") }
            case "providers":
                guard let list = value.arrayValue else { problems.append("providers: must be a list"); continue }
                for (index, item) in list.enumerated() {
                    let at = "providers[\(index)]"
                    guard var fields = item.objectValue else { problems.append("\(at): must be a mapping"); continue }
                    guard let id = fields.removeValue(forKey: "id")?.stringValue, Self.validID(id) else {
                        problems.append("\(at).id: required, letters, digits, '-', '_' or '.'"); continue
                    }
                    var provider = Provider(id: id)
                    if let port = fields.removeValue(forKey: "port") {
                        if let p = port.intValue, (0...65535).contains(p) { provider.port = p } else { problems.append("\(at).port: must be a port number 0..65535") }
                    }
                    if let models = fields.removeValue(forKey: "models") {
                        if let list = models.arrayValue?.compactMap(\.stringValue), list.count == models.arrayValue?.count {
                            provider.models = list
                        } else {
                            problems.append("\(at).models: must be a list of strings")
                        }
                    }
                    if let format = fields.removeValue(forKey: "format") {
                        do { provider.format = try SimFormat.parse(format, at: "\(at).format") } catch { problems.append(error.description) }
                    }
                    do {
                        try provider.behaviour.apply(fields, path: at)
                    } catch {
                        problems.append(error.description)
                    }
                    if config.providers.contains(where: { $0.id == id }) { problems.append("\(at).id: duplicate provider id '\(id)'") }
                    config.providers.append(provider)
                }
            default:
                problems.append("\(key): unknown key; known: host, control_port, seed, providers")
            }
        }
        if config.providers.isEmpty && problems.isEmpty { problems.append("providers: at least one provider is needed") }
        if !problems.isEmpty { throw SimConfigError(problems: problems.map { "\(file): \($0)" }) }
        return config
    }

    /// Parse a `--provider` flag: `ID[:PORT][,key=value...]`, e.g. `fast:9001,latency_ms=5,error_rate=0.1`
    /// or `claude:9003,format=anthropic`.
    public static func provider(fromFlag spec: String) throws(SimConfigError) -> Provider {
        let parts = spec.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let head = parts[0].split(separator: ":", maxSplits: 1).map(String.init)
        guard let id = head.first, validID(id) else { throw SimConfigError(problems: ["--provider \(spec): the id must be letters, digits, '-', '_' or '.'"]) }
        var provider = Provider(id: id)
        if head.count == 2 {
            guard let port = Int(head[1]), (0...65535).contains(port) else { throw SimConfigError(problems: ["--provider \(spec): port must be 0..65535"]) }
            provider.port = port
        }
        var patch: [String: JSONValue] = [:]
        for part in parts.dropFirst() {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { throw SimConfigError(problems: ["--provider \(spec): '\(part)' is not key=value"]) }
            if kv[0] == "models" {
                provider.models = kv[1].split(separator: "+").map(String.init)
                continue
            }
            if kv[0] == "format" {
                do {
                    provider.format = try SimFormat.parse(.string(kv[1]), at: "--provider \(id) format")
                } catch {
                    throw SimConfigError(problems: [error.description])
                }
                continue
            }
            if let b = ["true": true, "false": false][kv[1]] { patch[kv[0]] = .bool(b) } else { patch[kv[0]] = .string(kv[1]) }
        }
        do {
            try provider.behaviour.apply(patch, path: "--provider \(id)")
        } catch {
            throw SimConfigError(problems: [error.description])
        }
        return provider
    }

    static func validID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 64 && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
    }
}

public struct SimConfigError: Error, CustomStringConvertible {
    public let problems: [String]
    public var description: String { problems.joined(separator: "\n") }
    public init(problems: [String]) { self.problems = problems }
}
