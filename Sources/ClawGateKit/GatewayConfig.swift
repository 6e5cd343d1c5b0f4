import ClawAdminAPI
import ClawShared
import Foundation
import Yams

/// The gateway's YAML configuration, validated: every problem carries its key path.
public struct GatewayConfig: Sendable, Equatable {
    public struct Price: Sendable, Equatable {
        /// Dollars per one million input (prompt) tokens.
        public var inputPer1M: Double = 0
        /// Dollars per one million output (completion) tokens.
        public var outputPer1M: Double = 0
        /// Dollars per one million embedded tokens (`embedding_per_1m`); unset: the input price.
        public var embeddingPer1M: Double?

        public init(inputPer1M: Double = 0, outputPer1M: Double = 0) {
            self.inputPer1M = inputPer1M
            self.outputPer1M = outputPer1M
        }
    }

    public struct Timeouts: Sendable, Equatable {
        public var connect: Double = 2
        /// Until the response head, and also the longest silence between chunks of a stream. The
        /// head's deadline adapts to the provider's recent time to first byte (5 × its peak EWMA)
        /// between `firstByteFloor` and this.
        public var firstByte: Double = 30
        /// The adaptive head deadline's floor (`first_byte_floor`).
        public var firstByteFloor: Double = 1
        public var total: Double = 300

        public init(connect: Double = 2, firstByte: Double = 30, total: Double = 300, firstByteFloor: Double = 1) {
            self.connect = connect
            self.firstByte = firstByte
            self.total = total
            self.firstByteFloor = firstByteFloor
        }
    }

    public struct Provider: Sendable, Equatable {
        public var id: String
        public var baseURL: String
        public var apiKeyEnv: String?
        public var region: String = ""
        public var price = Price()
        /// Whether the config gives a price (the `cost` strategy never assumes an unpriced provider is cheap).
        public var priced = false
        public var timeouts = Timeouts()
        /// The wire format it speaks (`kind:`); `base_url` is what that provider's own SDK takes.
        public var kind = ProviderKind.openai
        /// azure_openai: the `api-version` query every request carries.
        public var apiVersion: String?
        /// anthropic: `max_tokens` sent when the client set neither `max_tokens` nor `max_completion_tokens`.
        public var maxTokensDefault: Int?
        /// A parameter the provider cannot honour is dropped instead of refused with a 400.
        public var dropUnsupported = false

        /// Where its requests go and which headers carry the key.
        public var endpoint: ProviderEndpoint { ProviderEndpoint(kind: kind, baseURL: baseURL, apiVersion: apiVersion) }

        public init(id: String, baseURL: String, apiKeyEnv: String? = nil, region: String = "", price: Price = Price(), timeouts: Timeouts = Timeouts(),
                    kind: ProviderKind = .openai) {
            self.kind = kind
            self.id = id
            self.baseURL = baseURL
            self.apiKeyEnv = apiKeyEnv
            self.region = region
            self.price = price
            self.timeouts = timeouts
        }
    }

    /// A tier's provider and a route: the operator core's, so that commands and routing are
    /// checked and worked out by the same code in the gateway and the console.
    public typealias Target = OperatorConfig.Target
    public typealias Route = OperatorConfig.Route

    public struct Retry: Sendable, Equatable {
        /// Upstream attempts per client request, the first included.
        public var maxAttempts = 3
        /// Retries may add at most this share of extra upstream requests over the window...
        public var budgetRatio = 0.2
        /// ...but this many retries per second are always allowed, so a quiet gateway can still retry.
        public var minRetriesPerSecond = 2.0
        public var window = 10.0

        public init(maxAttempts: Int = 3, budgetRatio: Double = 0.2, minRetriesPerSecond: Double = 2, window: Double = 10) {
            self.maxAttempts = maxAttempts
            self.budgetRatio = budgetRatio
            self.minRetriesPerSecond = minRetriesPerSecond
            self.window = window
        }
    }

    public struct Breaker: Sendable, Equatable {
        /// Consecutive failures that open the circuit.
        public var consecutiveFailures = 5
        /// First cooldown in seconds; doubled with each further ejection up to `maxCooldown`.
        public var cooldown = 5.0
        public var maxCooldown = 120.0

        public init(consecutiveFailures: Int = 5, cooldown: Double = 5, maxCooldown: Double = 120) {
            self.consecutiveFailures = consecutiveFailures
            self.cooldown = cooldown
            self.maxCooldown = maxCooldown
        }
    }

    public struct HealthCheck: Sendable, Equatable {
        public var enabled = true
        public var interval = 5.0
        public var timeout = 2.0
        /// Appended to the provider's base_url (which ends in /v1 for OpenAI-style providers).
        public var path = "/models"
        /// Consecutive failed probes that take a provider out of rotation.
        public var unhealthyThreshold = 2
        /// Consecutive good probes that bring it back.
        public var healthyThreshold = 1
        /// `models`: GET `path` (free, but blind to a provider whose chat hangs or resets while its
        /// model list answers); `chat`: a one-token chat completion to the provider's model, which
        /// sees what clients see, at the price of one tiny request per probe.
        public var kind = Kind.models

        public enum Kind: String, Sendable, Equatable {
            case models, chat
        }

        public init() {}
    }

    /// Where an admin token comes from: an environment variable, a file of mode 0600, or (the
    /// token itself kept elsewhere) its SHA-256 in hex, which is no secret and may sit in the YAML.
    public struct TokenSource: Sendable, Equatable {
        public var name: String
        public var role: AdminAuth.Role
        public var env: String?
        public var file: String?
        /// `sha256:` 64 hex digits, the SHA-256 of the token's bytes (`printf %s "$TOKEN" | sha256sum`).
        public var sha256: String?

        public init(name: String, role: AdminAuth.Role, env: String? = nil, file: String? = nil, sha256: String? = nil) {
            self.name = name
            self.role = role
            self.env = env
            self.file = file
            self.sha256 = sha256
        }
    }

    /// A listener's TLS (`tls:` for the client port, `admin.tls:` for the admin listener): its
    /// certificate chain and key (PEM files, read again on SIGHUP), and with `clientCAFile` the CA a
    /// client's certificate must chain to: mutual TLS, a client without one is refused.
    public struct ListenerTLS: Sendable, Equatable {
        public var certFile: String
        public var keyFile: String
        public var clientCAFile: String?

        public init(certFile: String, keyFile: String, clientCAFile: String? = nil) {
            self.certFile = certFile
            self.keyFile = keyFile
            self.clientCAFile = clientCAFile
        }
    }

    /// How a node reaches etcd beyond its URLs: TLS (`store.tls`: the CA that signed etcd's
    /// certificate, and a client certificate and key for etcd's `--client-cert-auth`) and etcd's
    /// own user and password (`store.username`, `store.password_env`).
    public struct StoreAccess: Sendable, Equatable {
        /// PEM of the CA etcd's certificate chains to; nil: the system's trust roots.
        public var caFile: String?
        public var certFile: String?
        public var keyFile: String?
        public var username: String?
        /// The environment variable holding the password (never the password itself).
        public var passwordEnv: String?

        public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil, username: String? = nil, passwordEnv: String? = nil) {
            self.caFile = caFile
            self.certFile = certFile
            self.keyFile = keyFile
            self.username = username
            self.passwordEnv = passwordEnv
        }

        /// Whether `store.tls` was given.
        public var tls: Bool { caFile != nil || certFile != nil }
    }

    public struct Admin: Sendable, Equatable {
        /// `admin.listen` as HOST and PORT; nil: 127.0.0.1 on the client port + 1 (port 0 when that is 0).
        public var listenHost: String?
        public var listenPort: Int?
        public var tokens: [TokenSource] = []
        /// Holds `state.json` (operator state) and `audit.jsonl`; nil keeps them in memory only.
        public var stateDir: String?
        /// `admin.tls`: the admin listener speaks HTTPS (and with a client CA, asks for client certificates).
        public var tls: ListenerTLS?

        public init(tokens: [TokenSource] = [], stateDir: String? = nil) {
            self.tokens = tokens
            self.stateDir = stateDir
        }
    }

    /// How much this node takes on at once. Unset values are derived from the open-file limit at start.
    public struct Limits: Sendable, Equatable {
        /// Client requests served at once; the next one gets 429 `max_in_flight`.
        public var maxInFlight: Int?
        /// Upstream requests per provider at once; a full provider is skipped, and when every
        /// candidate is full the client gets 429 `max_in_flight_per_provider`.
        public var maxInFlightPerProvider: Int?
        /// Connections the client port holds open at once; the next is answered 503 and closed.
        public var maxConnections: Int?
        /// Seconds a request head may take to arrive from its first byte; then 408 and the
        /// connection closes.
        public var headerTimeout: Double = 10
        /// Seconds a connection may wait for a request's first byte (a new one, or keep-alive
        /// between requests); then it is closed.
        public var idleTimeout: Double = 60
        /// Seconds a request body may take to arrive, from the end of its head; then 408 and the
        /// connection closes (a client trickling its body cannot hold the socket).
        public var bodyTimeout: Double = 60

        public init(maxInFlight: Int? = nil, maxInFlightPerProvider: Int? = nil, maxConnections: Int? = nil,
                    headerTimeout: Double = 10, idleTimeout: Double = 60, bodyTimeout: Double = 60) {
            self.bodyTimeout = bodyTimeout
            self.maxInFlight = maxInFlight
            self.maxInFlightPerProvider = maxInFlightPerProvider
            self.maxConnections = maxConnections
            self.headerTimeout = headerTimeout
            self.idleTimeout = idleTimeout
        }
    }

    /// Where operator state lives: each node's own file (one node), or the fleet's one copy in etcd.
    public enum Store: Sendable, Equatable {
        case file
        /// `fleet` names the fleet's keys (`/clawgate/FLEET/...`); `timeout` bounds each call.
        case etcd(endpoints: [String], fleet: String, timeout: Double)
    }

    public var nodeID: String
    public var listenHost = "127.0.0.1"
    public var listenPort = 8080
    /// `tls:`: the client port speaks HTTPS (and with a client CA, asks for client certificates).
    public var tls: ListenerTLS?
    public var providers: [Provider] = []
    public var routes: [Route] = []
    public var retry = Retry()
    public var breaker = Breaker()
    public var healthCheck = HealthCheck()
    public var admin = Admin()
    public var limits = Limits()
    public var store = Store.file
    /// `clients:` who may call the gateway, each with a key and limits; nil: open to anyone.
    public var clients: [Client]?
    /// The JSON access log (`access_log: {path: FILE | stdout}`); nil: off.
    public var accessLog: AccessLog.Target?
    /// Span export (`telemetry:`); the `OTEL_*` variables can also turn it on.
    public var telemetry: Telemetry?

    /// A caller of the gateway: its key comes from an env var or a 0600 file (only a hash is kept).
    public struct Client: Sendable, Equatable {
        public var name: String
        public var keyEnv: String?
        public var keyFile: String?
        /// The routes it may use (nil: every route).
        public var routes: [String]?
        public var limits = ClientLimits()

        public init(name: String, keyEnv: String? = nil, keyFile: String? = nil, routes: [String]? = nil, limits: ClientLimits = ClientLimits()) {
            self.name = name
            self.keyEnv = keyEnv
            self.keyFile = keyFile
            self.routes = routes
            self.limits = limits
        }
    }

    /// A client's limits; nil: none.
    public typealias ClientLimits = OperatorConfig.ClientLimits

    /// routing.slow_start: seconds over which a provider back in rotation (undrained, restored, its
    /// circuit closed, healthy again) ramps up from 10 % to its full weight; 0: off.
    public var slowStart = 0.0
    /// routing.budget_interval: seconds between evaluations of the routes' budgets.
    public var budgetInterval = 5.0
    /// store.watch_silence: a watch that says nothing for this long is closed and the state read
    /// again (a frozen member keeps its connection open and sends nothing).
    public var storeWatchSilence = 30.0
    /// store.tls, store.username and store.password_env (kind etcd).
    public var storeAccess = StoreAccess()
    /// With `kind: etcd`, a node that starts while etcd does not answer and has no cached state:
    /// false (`without_cache: serve`, the default) starts with the configured routing; true
    /// (`refuse`) refuses to start.
    public var refuseStartWithoutStore = false

    public init(nodeID: String = "", providers: [Provider] = [], routes: [Route] = []) {
        self.nodeID = nodeID
        self.providers = providers
        self.routes = routes
    }

    public var listen: String { "\(listenHost):\(listenPort)" }

    /// What operator commands are checked against and routing is worked out from.
    public var operatorConfig: OperatorConfig {
        OperatorConfig(nodeID: nodeID,
                       providers: providers.map { .init(id: $0.id, pricePer1M: $0.priced ? $0.price.inputPer1M + $0.price.outputPer1M : nil) },
                       routes: routes, clients: clients?.map(\.name))
    }

    /// Where the admin listener binds: `admin.listen`, or loopback on the client port + 1 (a free
    /// port when the client port is 0), so the admin API is never reachable from outside by default.
    public var adminListen: (host: String, port: Int) {
        (admin.listenHost ?? "127.0.0.1", admin.listenPort ?? (listenPort == 0 ? 0 : listenPort + 1))
    }

    /// Parse `HOST:PORT` (IPv6 hosts in brackets).
    public static func hostPort(_ text: String) -> (String, Int)? { ConfigReader.hostPort(text) }

    /// A commented example that matches the clawsim command of README.md.
    public static let example = """
        # clawgate example: `clawsim --provider fast:9001 --provider backup:9002` serves both providers.
        node_id: example-node
        listen: 127.0.0.1:8080
        providers:
          - id: fast
            base_url: http://127.0.0.1:9001/v1     # OpenAI base URL; /chat/completions is appended
            api_key_env: FAST_API_KEY              # env var holding the key (unset: no key is sent)
            region: local
            price: {input_per_1m: 0.15, output_per_1m: 0.60}
            timeouts: {connect: 1, first_byte: 10, total: 120}
          - id: backup
            base_url: http://127.0.0.1:9002/v1
            region: local
            price: {input_per_1m: 2.50, output_per_1m: 10.00}
        routes:
          - alias: chat
            tiers:
              - [{provider: fast, model: fast-model, weight: 100}]
              - [{provider: backup, model: backup-model, weight: 100}]
            # Past $20/h (the last 5 minutes, over the fleet): the cheapest serving tier takes it (or refuse: 429).
            budget: {per_hour: 20, action: shift}
        retry: {max_attempts: 3, budget_ratio: 0.2, min_retries_per_second: 2, window: 10}
        breaker: {consecutive_failures: 5, cooldown: 5, max_cooldown: 120}
        health_check: {interval: 5, timeout: 2, path: /models}
        # Unset: derived from the open-file limit (each stream holds two sockets). More gets 429.
        limits: {max_in_flight: 5000, max_in_flight_per_provider: 5000, header_timeout: 10, idle_timeout: 60, body_timeout: 60}
        # /admin/... and /metrics: loopback only (the default is 127.0.0.1 on listen's port + 1).
        admin: {listen: 127.0.0.1:8081}
        # HTTPS, per listener (SIGHUP reads the files again); client_ca_file asks for client certificates:
        # tls: {cert_file: /etc/clawgate/tls.pem, key_file: /etc/clawgate/tls.key}
        # admin: {listen: 0.0.0.0:8081, tls: {cert_file: /etc/clawgate/admin.pem, key_file: /etc/clawgate/admin.key, client_ca_file: /etc/clawgate/ops-ca.pem}}

        """

    public static func load(file path: String) throws(ConfigError) -> GatewayConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, problems: [.init(path: "", reason: "cannot read the file")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, problems: [.init(path: "", reason: "the file is not UTF-8 text")])
        }
        return try parse(yaml: text, file: path)
    }

    public static func parse(yaml text: String, file: String = "config") throws(ConfigError) -> GatewayConfig {
        let root: JSONValue
        do {
            root = try YAMLDecoder().decode(JSONValue.self, from: text)
        } catch let error as YamlError {
            throw ConfigError(file: file, problems: [.init(path: "", reason: "not valid YAML: \(error)")])
        } catch {
            throw ConfigError(file: file, problems: [.init(path: "", reason: "not valid YAML: \(error)")])
        }
        var reader = ConfigReader()
        let config = reader.gateway(root)
        if !reader.problems.isEmpty { throw ConfigError(file: file, problems: reader.problems) }
        return config
    }
}

public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { path.isEmpty ? reason : "\(path): \(reason)" }
}

public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var problems: [ConfigProblem]
    public var description: String { problems.map { "\(file): \($0)" }.joined(separator: "\n") }
}
