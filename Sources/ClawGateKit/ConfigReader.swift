import ClawAdminAPI
import ClawShared
import Foundation

/// Walks the YAML tree of a gateway config, collecting every problem instead of stopping at the first.
struct ConfigReader {
    var problems: [ConfigProblem] = []

    mutating func problem(_ path: String, _ reason: String) {
        problems.append(ConfigProblem(path: path, reason: reason))
    }

    /// The fields of a mapping; reports unknown keys.
    mutating func mapping(_ value: JSONValue?, _ path: String, known: [String]) -> [String: JSONValue]? {
        guard let value else { return nil }
        guard let fields = value.objectValue else {
            problem(path, "must be a mapping, got \(value.kindName)")
            return nil
        }
        for key in fields.keys.sorted() where !known.contains(key) {
            problem(join(path, key), "unknown key; known keys here: \(known.joined(separator: ", "))")
        }
        return fields
    }

    func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    mutating func string(_ fields: [String: JSONValue], _ key: String, _ path: String, required: Bool = false) -> String? {
        guard let value = fields[key] else {
            if required { problem(join(path, key), "required") }
            return nil
        }
        guard let s = value.stringValue, !s.isEmpty else {
            problem(join(path, key), "must be a non-empty string, got \(value.stringValue == "" ? "an empty string" : value.kindName)")
            return nil
        }
        return s
    }

    mutating func number(_ fields: [String: JSONValue], _ key: String, _ path: String, min: Double, max: Double) -> Double? {
        guard let value = fields[key] else { return nil }
        guard let d = value.doubleValue, d.isFinite else {
            problem(join(path, key), "must be a number, got \(value.kindName)")
            return nil
        }
        guard d >= min, d <= max else {
            problem(join(path, key), "must be between \(show(min)) and \(show(max)), got \(show(d))")
            return nil
        }
        return d
    }

    mutating func integer(_ fields: [String: JSONValue], _ key: String, _ path: String, min: Int, max: Int, required: Bool = false) -> Int? {
        guard let value = fields[key] else {
            if required { problem(join(path, key), "required") }
            return nil
        }
        guard let i = value.intValue else {
            problem(join(path, key), "must be a whole number, got \(value.kindName == "a number" ? show(value.doubleValue ?? 0) : value.kindName)")
            return nil
        }
        guard i >= min, i <= max else {
            problem(join(path, key), "must be between \(min) and \(max), got \(i)")
            return nil
        }
        return i
    }

    mutating func bool(_ fields: [String: JSONValue], _ key: String, _ path: String) -> Bool? {
        guard let value = fields[key] else { return nil }
        guard let b = value.boolValue else {
            problem(join(path, key), "must be true or false, got \(value.kindName)")
            return nil
        }
        return b
    }

    func show(_ d: Double) -> String { d.rounded() == d && abs(d) < 1e15 ? String(Int(d)) : String(d) }

    /// A name the admin API can address in a path and a terminal can show as it is: letters, digits
    /// and `. _ -`, at most 64 (provider ids, route aliases, client names, node_id, the fleet).
    static func validID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 64 && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
    }

    static let idRule = "use letters, digits and . _ - only, at most 64"

    mutating func gateway(_ root: JSONValue) -> GatewayConfig {
        var config = GatewayConfig()
        guard let top = mapping(root, "", known: ["node_id", "listen", "providers", "routes", "retry", "breaker", "health_check", "admin", "limits", "store", "routing", "clients", "tls", "access_log", "telemetry"]) else {
            problem("", "the file must be a YAML mapping")
            return config
        }
        if let id = string(top, "node_id", "") {
            if !Self.validID(id) { problem("node_id", Self.idRule + ", got \(String(reflecting: id))") }
            config.nodeID = id
        } else {
            config.nodeID = ProcessInfo.processInfo.hostName
        }
        if let listen = string(top, "listen", "") {
            if let (host, port) = Self.hostPort(listen) {
                config.listenHost = host
                config.listenPort = port
            } else {
                problem("listen", "must be HOST:PORT with a port 0..65535, got '\(listen)'")
            }
        }
        config.tls = listenerTLS(top["tls"], "tls")
        providers(top["providers"], into: &config)
        routes(top["routes"], into: &config)
        if let fields = mapping(top["retry"], "retry", known: ["max_attempts", "budget_ratio", "min_retries_per_second", "window"]) {
            config.retry.maxAttempts = integer(fields, "max_attempts", "retry", min: 1, max: 10) ?? config.retry.maxAttempts
            config.retry.budgetRatio = number(fields, "budget_ratio", "retry", min: 0, max: 10) ?? config.retry.budgetRatio
            config.retry.minRetriesPerSecond = number(fields, "min_retries_per_second", "retry", min: 0, max: 100_000) ?? config.retry.minRetriesPerSecond
            config.retry.window = number(fields, "window", "retry", min: 1, max: 3600) ?? config.retry.window
        }
        if let fields = mapping(top["breaker"], "breaker", known: ["consecutive_failures", "cooldown", "max_cooldown"]) {
            config.breaker.consecutiveFailures = integer(fields, "consecutive_failures", "breaker", min: 1, max: 1000) ?? config.breaker.consecutiveFailures
            config.breaker.cooldown = number(fields, "cooldown", "breaker", min: 0.01, max: 86400) ?? config.breaker.cooldown
            config.breaker.maxCooldown = number(fields, "max_cooldown", "breaker", min: 0.01, max: 86400) ?? config.breaker.maxCooldown
            if config.breaker.maxCooldown < config.breaker.cooldown {
                problem("breaker.max_cooldown", "must be at least breaker.cooldown (\(show(config.breaker.cooldown)))")
            }
        }
        if let fields = mapping(top["health_check"], "health_check",
                                known: ["enabled", "interval", "timeout", "path", "unhealthy_threshold", "healthy_threshold", "kind"]) {
            if let kind = string(fields, "kind", "health_check") {
                if let parsed = GatewayConfig.HealthCheck.Kind(rawValue: kind) {
                    config.healthCheck.kind = parsed
                } else {
                    problem("health_check.kind", "must be models or chat, got '\(kind)'")
                }
            }
            config.healthCheck.enabled = bool(fields, "enabled", "health_check") ?? config.healthCheck.enabled
            config.healthCheck.interval = number(fields, "interval", "health_check", min: 0.05, max: 3600) ?? config.healthCheck.interval
            config.healthCheck.timeout = number(fields, "timeout", "health_check", min: 0.01, max: 600) ?? config.healthCheck.timeout
            if let path = string(fields, "path", "health_check") {  // relative to base_url
                if path.hasPrefix("/") { config.healthCheck.path = path } else { problem("health_check.path", "must start with '/'") }
            }
            config.healthCheck.unhealthyThreshold = integer(fields, "unhealthy_threshold", "health_check", min: 1, max: 100) ?? config.healthCheck.unhealthyThreshold
            config.healthCheck.healthyThreshold = integer(fields, "healthy_threshold", "health_check", min: 1, max: 100) ?? config.healthCheck.healthyThreshold
        }
        if let value = top["clients"] {
            clients(value, into: &config)
        }
        if let fields = mapping(top["routing"], "routing", known: ["slow_start", "budget_interval"]) {
            config.slowStart = number(fields, "slow_start", "routing", min: 0, max: 3600) ?? 0
            config.budgetInterval = number(fields, "budget_interval", "routing", min: 0.1, max: 300) ?? config.budgetInterval
        }
        if let fields = mapping(top["limits"], "limits", known: ["max_in_flight", "max_in_flight_per_provider", "max_connections",
                                                                 "header_timeout", "idle_timeout", "body_timeout"]) {
            config.limits.maxInFlight = integer(fields, "max_in_flight", "limits", min: 1, max: 1_000_000)
            config.limits.maxInFlightPerProvider = integer(fields, "max_in_flight_per_provider", "limits", min: 1, max: 1_000_000)
            config.limits.maxConnections = integer(fields, "max_connections", "limits", min: 1, max: 1_000_000)
            config.limits.headerTimeout = number(fields, "header_timeout", "limits", min: 0.1, max: 3600) ?? config.limits.headerTimeout
            config.limits.idleTimeout = number(fields, "idle_timeout", "limits", min: 0.1, max: 86400) ?? config.limits.idleTimeout
            config.limits.bodyTimeout = number(fields, "body_timeout", "limits", min: 0.1, max: 3600) ?? config.limits.bodyTimeout
        }
        if let fields = mapping(top["store"], "store", known: ["kind", "endpoints", "fleet", "timeout", "without_cache", "watch_silence",
                                                               "tls", "username", "password_env"]) {
            switch string(fields, "without_cache", "store") {
            case nil, "serve": break
            case "refuse": config.refuseStartWithoutStore = true
            case let other?: problem("store.without_cache", "must be serve or refuse, got '\(other)'")
            }
            switch string(fields, "kind", "store", required: true) {
            case "file":
                for key in ["endpoints", "fleet", "timeout", "without_cache", "watch_silence", "tls", "username", "password_env"] where fields[key] != nil {
                    problem("store.\(key)", "only with kind: etcd")
                }
            case "etcd":
                var endpoints: [String] = []
                if let list = fields["endpoints"]?.arrayValue, !list.isEmpty {
                    for (index, item) in list.enumerated() {
                        if let url = item.stringValue, let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host?.isEmpty == false {
                            endpoints.append(url)
                        } else {
                            problem("store.endpoints[\(index)]", "must be an http:// or https:// URL of an etcd member")
                        }
                    }
                } else {
                    problem("store.endpoints", "required: a list of etcd client URLs, e.g. [http://127.0.0.1:2379]")
                }
                let fleet = string(fields, "fleet", "store", required: true) ?? ""
                if !fleet.isEmpty, !Self.validID(fleet) { problem("store.fleet", Self.idRule) }
                let timeout = number(fields, "timeout", "store", min: 0.1, max: 60) ?? 2
                config.storeWatchSilence = number(fields, "watch_silence", "store", min: 0.5, max: 3600) ?? 30
                config.storeAccess = storeAccess(fields, endpoints: endpoints)
                config.store = .etcd(endpoints: endpoints, fleet: fleet, timeout: timeout)
            case let other?:
                problem("store.kind", "must be file or etcd, got '\(other)'")
            case nil:
                break
            }
        }
        if let value = top["access_log"] {
            if let fields = mapping(value, "access_log", known: ["path"]) {
                switch string(fields, "path", "access_log", required: true) {
                case "stdout"?: config.accessLog = .stdout
                case let path? where !path.isEmpty: config.accessLog = .file(path)
                case _?: problem("access_log.path", "must be a file to append to, or stdout")
                case nil: break
                }
            }
        }
        if let fields = mapping(top["telemetry"], "telemetry", known: ["endpoint", "traces_endpoint", "service_name", "resource_attributes",
                                                                       "sampler", "sampler_arg", "queue_size", "batch_delay", "export_timeout"]) {
            telemetry(fields, into: &config)
        }
        if let fields = mapping(top["admin"], "admin", known: ["listen", "tokens", "state_dir", "tls"]) {
            config.admin.stateDir = string(fields, "state_dir", "admin")
            config.admin.tls = listenerTLS(fields["tls"], "admin.tls")
            if let listen = string(fields, "listen", "admin") {
                if let (host, port) = Self.hostPort(listen) {
                    config.admin.listenHost = host
                    config.admin.listenPort = port
                } else {
                    problem("admin.listen", "must be HOST:PORT with a port 0..65535, got '\(listen)'")
                }
            }
            if let value = fields["tokens"] {
                if let list = value.arrayValue {
                    var names = Set<String>()
                    for (index, item) in list.enumerated() {
                        let path = "admin.tokens[\(index)]"
                        guard let t = mapping(item, path, known: ["name", "role", "env", "file", "sha256"]) else { continue }
                        let name = string(t, "name", path, required: true) ?? ""
                        if !name.isEmpty, !names.insert(name).inserted { problem(join(path, "name"), "duplicate token name '\(name)'") }
                        let roleText = string(t, "role", path, required: true) ?? ""
                        let role = AdminAuth.Role(rawValue: roleText)
                        if role == nil, !roleText.isEmpty { problem(join(path, "role"), "must be viewer or operator, got '\(roleText)'") }
                        let env = string(t, "env", path)
                        let file = string(t, "file", path)
                        var sha256 = string(t, "sha256", path)
                        if [env, file, sha256].compactMap({ $0 }).count != 1 {
                            problem(path, "give exactly one of env (a variable name), file (mode 0600) or sha256 (the token's SHA-256 in hex)")
                        }
                        if let hex = sha256 {
                            let digits = hex.lowercased()
                            if digits.count == 64, digits.allSatisfy({ $0.isHexDigit }) {
                                sha256 = digits
                            } else {
                                problem(join(path, "sha256"), "must be the token's SHA-256 as 64 hex digits (printf %s \"$TOKEN\" | sha256sum), got \(hex.count) characters")
                                sha256 = nil
                            }
                        }
                        if let env, !env.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) {
                            problem(join(path, "env"), "must be an environment variable name, not the token itself")
                        }
                        if let role, !name.isEmpty {
                            config.admin.tokens.append(.init(name: name, role: role, env: env, file: file, sha256: sha256))
                        }
                    }
                } else {
                    problem("admin.tokens", "must be a list of {name, role, env | file | sha256}")
                }
            }
        }
        if config.admin.listenPort == nil, config.listenPort == 65535 {
            problem("admin.listen", "required when listen's port is 65535 (the admin listener's default port is listen's + 1)")
        }
        if let port = config.admin.listenPort, port != 0, port == config.listenPort, config.admin.listenHost == config.listenHost {
            problem("admin.listen", "must differ from listen (\(config.listen)): the admin API has its own listener")
        }
        return config
    }

    /// `tls: {cert_file, key_file, client_ca_file}` of a listener; the files are read at start (and
    /// on SIGHUP), where a file that does not load is refused naming this key path.
    mutating func listenerTLS(_ value: JSONValue?, _ path: String) -> GatewayConfig.ListenerTLS? {
        guard let fields = mapping(value, path, known: ["cert_file", "key_file", "client_ca_file"]) else { return nil }
        let cert = string(fields, "cert_file", path, required: true)
        let key = string(fields, "key_file", path, required: true)
        let ca = string(fields, "client_ca_file", path)
        guard let cert, let key else { return nil }
        return .init(certFile: cert, keyFile: key, clientCAFile: ca)
    }

    /// `store.tls: {ca_file, cert_file, key_file}`, `store.username` and `store.password_env`.
    mutating func storeAccess(_ fields: [String: JSONValue], endpoints: [String]) -> GatewayConfig.StoreAccess {
        var access = GatewayConfig.StoreAccess()
        if let tls = mapping(fields["tls"], "store.tls", known: ["ca_file", "cert_file", "key_file"]) {
            access.caFile = string(tls, "ca_file", "store.tls")
            access.certFile = string(tls, "cert_file", "store.tls")
            access.keyFile = string(tls, "key_file", "store.tls")
            if (access.certFile == nil) != (access.keyFile == nil) {
                problem("store.tls", "give cert_file and key_file together (a client certificate and its key), or neither")
            }
            if access.caFile == nil, access.certFile == nil, access.keyFile == nil { problem("store.tls", "give ca_file, or cert_file and key_file, or all three") }
            for (index, url) in endpoints.enumerated() where url.hasPrefix("http://") {
                problem("store.endpoints[\(index)]", "must be https:// with store.tls, got '\(url)'")
            }
        }
        access.username = string(fields, "username", "store")
        if let env = string(fields, "password_env", "store") {
            if env.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) {
                access.passwordEnv = env
            } else {
                problem("store.password_env", "must be an environment variable name (letters, digits, _), not the password itself")
            }
        }
        if (access.username == nil) != (fields["password_env"] == nil) {
            problem(access.username == nil ? "store.username" : "store.password_env", "etcd's user needs both store.username and store.password_env")
        }
        return access
    }

    /// `telemetry:` (the OTLP/HTTP span exporter; the `OTEL_*` variables go over it at start).
    mutating func telemetry(_ fields: [String: JSONValue], into config: inout GatewayConfig) {
        let base = string(fields, "endpoint", "telemetry")
        let traces = string(fields, "traces_endpoint", "telemetry")
        for (key, url) in [("endpoint", base), ("traces_endpoint", traces)] {
            if let url, !(url.hasPrefix("http://") || url.hasPrefix("https://")) || URL(string: url)?.host == nil {
                problem("telemetry.\(key)", "must be an http:// or https:// URL of an OTLP/HTTP collector, got '\(url)'")
            }
        }
        if base != nil, traces != nil { problem("telemetry", "give endpoint (the collector's base URL) or traces_endpoint (its /v1/traces URL), not both") }
        guard let endpoint = traces ?? base.map(GatewayConfig.Telemetry.tracesURL(base:)) else {
            problem("telemetry.endpoint", "required: the OTLP/HTTP collector's URL, e.g. http://127.0.0.1:4318")
            return
        }
        var settings = GatewayConfig.Telemetry(endpoint: endpoint)
        settings.serviceName = string(fields, "service_name", "telemetry") ?? settings.serviceName
        if let value = fields["resource_attributes"] {
            if let map = value.objectValue {
                for (key, item) in map {
                    if let text = item.stringValue { settings.resourceAttributes[key] = text } else { problem("telemetry.resource_attributes.\(key)", "must be a string") }
                }
            } else {
                problem("telemetry.resource_attributes", "must be a mapping of names to strings")
            }
        }
        let argument = number(fields, "sampler_arg", "telemetry", min: 0, max: 1)
        if let name = string(fields, "sampler", "telemetry") {
            if let sampler = GatewayConfig.Telemetry.sampler(name, argument: argument.map { String($0) }) {
                settings.sampler = sampler
            } else {
                problem("telemetry.sampler", "must be always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio, got '\(name)'")
            }
        }
        settings.queueSize = integer(fields, "queue_size", "telemetry", min: 1, max: 1_000_000) ?? settings.queueSize
        settings.batchDelay = number(fields, "batch_delay", "telemetry", min: 0.01, max: 600) ?? settings.batchDelay
        settings.exportTimeout = number(fields, "export_timeout", "telemetry", min: 0.1, max: 600) ?? settings.exportTimeout
        config.telemetry = settings
    }

    static func hostPort(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        return (host, port)
    }

    mutating func providers(_ value: JSONValue?, into config: inout GatewayConfig) {
        guard let value else {
            problem("providers", "required: a list of providers")
            return
        }
        guard let list = value.arrayValue else {
            problem("providers", "must be a list, got \(value.kindName)")
            return
        }
        if list.isEmpty { problem("providers", "must list at least one provider") }
        var seen = Set<String>()
        for (index, item) in list.enumerated() {
            let path = "providers[\(index)]"
            let common = ["id", "base_url", "api_key_env", "region", "price", "timeouts", "kind"]
            var kind = ProviderKind.openai
            if let object = item.objectValue, let value = object["kind"] {
                if let name = value.stringValue, let parsed = ProviderKind(rawValue: name) {
                    kind = parsed
                } else {
                    problem(join(path, "kind"), "must be one of \(ProviderKind.allCases.map(\.rawValue).joined(separator: ", ")), got \(value.stringValue.map { "'\($0)'" } ?? value.kindName)")
                }
            }
            if let object = item.objectValue {
                // A key another kind takes is named as such, so `api_version` on an anthropic provider says why.
                for key in object.keys.sorted() where !common.contains(key) && !kind.ownKeys.contains(key) {
                    let owners = ProviderKind.allCases.filter { $0.ownKeys.contains(key) }.map(\.rawValue)
                    if !owners.isEmpty {
                        problem(join(path, key), "only for kind \(owners.joined(separator: " or ")) (this provider is kind \(kind.rawValue))")
                    }
                }
            }
            let othersKeys = Set(ProviderKind.allCases.flatMap(\.ownKeys)).subtracting(kind.ownKeys)
            let checked = item.objectValue.map { JSONValue.object($0.filter { !othersKeys.contains($0.key) }) } ?? item
            guard let fields = mapping(checked, path, known: common + kind.ownKeys) else { continue }
            let id = string(fields, "id", path, required: true) ?? ""
            if !id.isEmpty {
                if !Self.validID(id) { problem(join(path, "id"), Self.idRule + ", got \(String(reflecting: id))") }
                if !seen.insert(id).inserted { problem(join(path, "id"), "duplicate provider id '\(id)'") }
            }
            var provider = GatewayConfig.Provider(id: id, baseURL: "")
            if let url = string(fields, "base_url", path, required: true) {
                if let parsed = URL(string: url), let scheme = parsed.scheme, ["http", "https"].contains(scheme), parsed.host?.isEmpty == false {
                    provider.baseURL = url.hasSuffix("/") ? String(url.dropLast()) : url
                } else {
                    problem(join(path, "base_url"), "must be an http:// or https:// URL with a host, got '\(url)'")
                }
            }
            if let env = string(fields, "api_key_env", path) {
                if env.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) {
                    provider.apiKeyEnv = env
                } else {
                    problem(join(path, "api_key_env"), "must be an environment variable name (letters, digits, _), not the key itself")
                }
            }
            provider.kind = kind
            if kind.ownKeys.contains("api_version") {
                if let version = string(fields, "api_version", path, required: true) {
                    if version.isEmpty || !version.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }) {
                        problem(join(path, "api_version"), "must be an Azure OpenAI API version such as 2024-10-21, got '\(version)'")
                    } else {
                        provider.apiVersion = version
                    }
                }
            }
            if kind.ownKeys.contains("max_tokens_default") {
                provider.maxTokensDefault = integer(fields, "max_tokens_default", path, min: 1, max: 1_000_000)
            }
            if kind.ownKeys.contains("drop_unsupported"), let value = fields["drop_unsupported"] {
                if let flag = value.boolValue { provider.dropUnsupported = flag } else { problem(join(path, "drop_unsupported"), "must be true or false") }
            }
            provider.region = string(fields, "region", path) ?? ""
            if let price = mapping(fields["price"], join(path, "price"), known: ["input_per_1m", "output_per_1m", "embedding_per_1m"]) {
                provider.priced = true
                provider.price.inputPer1M = number(price, "input_per_1m", join(path, "price"), min: 0, max: 100_000) ?? 0
                provider.price.embeddingPer1M = number(price, "embedding_per_1m", join(path, "price"), min: 0, max: 100_000)
                provider.price.outputPer1M = number(price, "output_per_1m", join(path, "price"), min: 0, max: 100_000) ?? 0
            }
            if let timeouts = mapping(fields["timeouts"], join(path, "timeouts"), known: ["connect", "first_byte", "first_byte_floor", "total"]) {
                let at = join(path, "timeouts")
                provider.timeouts.connect = number(timeouts, "connect", at, min: 0.001, max: 600) ?? provider.timeouts.connect
                provider.timeouts.firstByte = number(timeouts, "first_byte", at, min: 0.001, max: 3600) ?? provider.timeouts.firstByte
                provider.timeouts.firstByteFloor = number(timeouts, "first_byte_floor", at, min: 0.001, max: 3600) ?? provider.timeouts.firstByteFloor
                provider.timeouts.total = number(timeouts, "total", at, min: 0.001, max: 86400) ?? provider.timeouts.total
                if provider.timeouts.total < provider.timeouts.firstByte {
                    problem(join(at, "total"), "must be at least first_byte (\(show(provider.timeouts.firstByte)))")
                }
            }
            config.providers.append(provider)
        }
    }

    /// `clients:`: a list of {name, key_env | key_file, routes, limits}.
    mutating func clients(_ value: JSONValue, into config: inout GatewayConfig) {
        guard let list = value.arrayValue else {
            problem("clients", "must be a list of {name, key_env or key_file, routes, limits}")
            return
        }
        var names = Set<String>()
        var clients: [GatewayConfig.Client] = []
        for (index, item) in list.enumerated() {
            let path = "clients[\(index)]"
            guard let fields = mapping(item, path, known: ["name", "key_env", "key_file", "routes", "limits"]) else { continue }
            let name = string(fields, "name", path, required: true) ?? ""
            if !name.isEmpty, !Self.validID(name) { problem(join(path, "name"), Self.idRule + ", got \(String(reflecting: name))") }
            if !name.isEmpty, !names.insert(name).inserted { problem(join(path, "name"), "duplicate client '\(name)'") }
            var client = GatewayConfig.Client(name: name, keyEnv: string(fields, "key_env", path), keyFile: string(fields, "key_file", path))
            if (client.keyEnv == nil) == (client.keyFile == nil) { problem(path, "give exactly one of key_env (an env var's name) or key_file (a file of mode 0600)") }
            if let routes = fields["routes"] {
                if let aliases = routes.arrayValue?.compactMap(\.stringValue), aliases.count == routes.arrayValue?.count {
                    let known = Set(config.routes.map(\.alias))
                    for (i, alias) in aliases.enumerated() where !known.contains(alias) {
                        problem(join(path, "routes[\(i)]"), "unknown route '\(alias)'; defined: \(known.sorted().joined(separator: ", "))")
                    }
                    client.routes = aliases
                } else {
                    problem(join(path, "routes"), "must be a list of route aliases")
                }
            }
            if let limits = mapping(fields["limits"], join(path, "limits"), known: ["rpm", "tpm", "spend_per_day", "concurrency"]) {
                let at = join(path, "limits")
                client.limits = .init(rpm: integer(limits, "rpm", at, min: 1, max: 10_000_000), tpm: integer(limits, "tpm", at, min: 1, max: 1_000_000_000),
                                      spendPerDay: number(limits, "spend_per_day", at, min: 0, max: 10_000_000),
                                      concurrency: integer(limits, "concurrency", at, min: 1, max: 1_000_000))
            }
            clients.append(client)
        }
        config.clients = clients
    }

    mutating func routes(_ value: JSONValue?, into config: inout GatewayConfig) {
        guard let value else {
            problem("routes", "required: a list of routes")
            return
        }
        guard let list = value.arrayValue else {
            problem("routes", "must be a list, got \(value.kindName)")
            return
        }
        if list.isEmpty { problem("routes", "must list at least one route") }
        let providerIDs = Set(config.providers.map(\.id))
        var seen = Set<String>()
        for (index, item) in list.enumerated() {
            let path = "routes[\(index)]"
            guard let fields = mapping(item, path, known: ["alias", "tiers", "strategy", "budget"]) else { continue }
            let alias = string(fields, "alias", path, required: true) ?? ""
            if !alias.isEmpty, !Self.validID(alias) { problem(join(path, "alias"), Self.idRule + ", got \(String(reflecting: alias))") }
            if !alias.isEmpty, !seen.insert(alias).inserted { problem(join(path, "alias"), "duplicate route alias '\(alias)'") }
            var route = GatewayConfig.Route(alias: alias, tiers: [])
            if let name = string(fields, "strategy", path) {
                if let strategy = RoutingStrategy(rawValue: name) {
                    route.strategy = strategy
                } else {
                    problem(join(path, "strategy"), "must be one of \(RoutingStrategy.names), got '\(name)'")
                }
            }
            if fields["budget"] != nil, let budget = mapping(fields["budget"], join(path, "budget"), known: ["per_hour", "action"]) {
                let at = join(path, "budget")
                let perHour = number(budget, "per_hour", at, min: 0, max: 10_000_000)
                if budget["per_hour"] == nil { problem(join(at, "per_hour"), "required: dollars per hour (the route's cost over the last 5 minutes is held to it)") }
                if let perHour, perHour <= 0 { problem(join(at, "per_hour"), "must be above 0 (leave the budget out for none)") }
                var action = BudgetAction.shift
                if let name = string(budget, "action", at) {
                    if let a = BudgetAction(rawValue: name) { action = a } else { problem(join(at, "action"), "must be shift or refuse, got '\(name)'") }
                }
                if let perHour, perHour > 0 { route.budget = RouteBudget(perHour: perHour, action: action) }
            }
            guard let tiersValue = fields["tiers"] else {
                problem(join(path, "tiers"), "required: a list of tiers, each a list of {provider, model, weight}")
                continue
            }
            guard let tiers = tiersValue.arrayValue, !tiers.isEmpty else {
                problem(join(path, "tiers"), "must be a non-empty list of tiers")
                continue
            }
            for (tierIndex, tierValue) in tiers.enumerated() {
                let tierPath = "\(path).tiers[\(tierIndex)]"
                // A tier is a list of targets, or a mapping with `providers:` holding that list.
                var targetsValue = tierValue
                if tierValue.objectValue != nil {
                    guard let tierFields = mapping(tierValue, tierPath, known: ["providers"]), let inner = tierFields["providers"] else {
                        problem(join(tierPath, "providers"), "required")
                        continue
                    }
                    targetsValue = inner
                }
                let targetsPath = tierValue.objectValue != nil ? join(tierPath, "providers") : tierPath
                guard let targets = targetsValue.arrayValue, !targets.isEmpty else {
                    problem(targetsPath, "must be a non-empty list of {provider, model, weight}")
                    continue
                }
                var tier: [GatewayConfig.Target] = []
                var tierProviders = Set<String>()
                for (targetIndex, targetValue) in targets.enumerated() {
                    let at = "\(targetsPath)[\(targetIndex)]"
                    guard let t = mapping(targetValue, at, known: ["provider", "model", "weight"]) else { continue }
                    let provider = string(t, "provider", at, required: true) ?? ""
                    if !provider.isEmpty, !providerIDs.contains(provider) {
                        problem(join(at, "provider"), "unknown provider '\(provider)'; defined: \(providerIDs.sorted().joined(separator: ", "))")
                    }
                    if !provider.isEmpty, !tierProviders.insert(provider).inserted {
                        problem(join(at, "provider"), "provider '\(provider)' appears twice in this tier")
                    }
                    let model = string(t, "model", at) ?? alias
                    let weight = integer(t, "weight", at, min: 0, max: 1000) ?? 100
                    tier.append(.init(provider: provider, model: model, weight: weight))
                }
                if !tier.isEmpty, tier.allSatisfy({ $0.weight == 0 }) {
                    problem(targetsPath, "every weight in this tier is 0; give at least one provider a weight above 0")
                }
                route.tiers.append(tier)
            }
            config.routes.append(route)
        }
    }
}
