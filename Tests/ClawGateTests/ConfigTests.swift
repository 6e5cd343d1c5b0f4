import Foundation
import ClawGateKit
import Testing

@Suite struct ConfigTests {
    static let good = """
        node_id: n1
        listen: 127.0.0.1:8080
        providers:
          - id: fast
            base_url: http://127.0.0.1:9001/v1
            api_key_env: FAST_KEY
            region: us-east
            price: {input_per_1m: 0.5, output_per_1m: 1.5}
            timeouts: {connect: 1, first_byte: 5, total: 60}
          - id: local
            base_url: http://127.0.0.1:9002/v1
        routes:
          - alias: chat
            tiers:
              - providers:
                  - {provider: fast, model: gpt-4o-mini, weight: 70}
              - [{provider: local, model: llama, weight: 30}]
        breaker: {consecutive_failures: 4, cooldown: 2, max_cooldown: 30}
        health_check: {interval: 3, timeout: 1, path: /models}
        retry: {max_attempts: 2, budget_ratio: 0.1}
        """

    @Test func parsesAGoodFile() throws {
        let config = try GatewayConfig.parse(yaml: Self.good)
        #expect(config.nodeID == "n1")
        #expect(config.listenPort == 8080)
        #expect(config.providers.map(\.id) == ["fast", "local"])
        #expect(config.providers[0].price.outputPer1M == 1.5)
        #expect(config.providers[0].timeouts.firstByte == 5)
        #expect(config.routes[0].tiers.count == 2)
        #expect(config.routes[0].tiers[0][0] == GatewayConfig.Target(provider: "fast", model: "gpt-4o-mini", weight: 70))
        #expect(config.breaker.consecutiveFailures == 4)
        #expect(config.retry.maxAttempts == 2)
        #expect(config.healthCheck.interval == 3)
    }

    @Test func reportsEveryProblemWithItsKeyPath() {
        let bad = """
            listen: nowhere
            colour: blue
            providers:
              - id: fast
                base_url: ftp://x
              - id: fast
                base_url: http://127.0.0.1:1/v1
                price: {input_per_1m: -1}
                timeouts: {first_byte: 10, total: 5}
            routes:
              - alias: chat
                tiers:
                  - [{provider: ghost, weight: 10}, {provider: fast, weight: 2000}]
                  - [{provider: fast, weight: 0}]
            breaker: {consecutive_failures: zero}
            """
        do {
            _ = try GatewayConfig.parse(yaml: bad, file: "bad.yaml")
            Issue.record("a bad file was accepted")
        } catch {
            let paths = error.problems.map(\.path)
            #expect(paths.contains("listen"))
            #expect(paths.contains("colour"))
            #expect(paths.contains("providers[0].base_url"))
            #expect(paths.contains("providers[1].id"))  // duplicate
            #expect(paths.contains("providers[1].price.input_per_1m"))
            #expect(paths.contains("providers[1].timeouts.total"))
            #expect(paths.contains("routes[0].tiers[0][0].provider"))
            #expect(paths.contains("routes[0].tiers[0][1].weight"))
            #expect(paths.contains("routes[0].tiers[1]"))  // all zero
            #expect(paths.contains("breaker.consecutive_failures"))
            #expect(error.description.contains("bad.yaml: routes[0].tiers[0][0].provider: unknown provider 'ghost'"))
        }
    }

    @Test func providerKindsTakeTheirOwnKeys() throws {
        let yaml = """
            providers:
              - {id: o, base_url: http://127.0.0.1:1/v1}
              - {id: a, kind: anthropic, base_url: http://127.0.0.1:2, max_tokens_default: 2048, drop_unsupported: true}
              - {id: g, kind: gemini, base_url: http://127.0.0.1:3}
              - {id: z, kind: azure_openai, base_url: http://127.0.0.1:4, api_version: 2024-10-21}
            routes:
              - alias: chat
                tiers: [[{provider: o, model: m, weight: 1}], [{provider: a, model: m, weight: 1}, {provider: g, model: m, weight: 1}, {provider: z, model: m, weight: 1}]]
            """
        let config = try GatewayConfig.parse(yaml: yaml)
        #expect(config.providers.map(\.kind) == [.openai, .anthropic, .gemini, .azureOpenAI])
        #expect(config.providers[1].maxTokensDefault == 2048 && config.providers[1].dropUnsupported)
        #expect(config.providers[3].apiVersion == "2024-10-21")
        #expect(config.providers[3].endpoint.chatURL(model: "dep 1", streaming: true)
            == "http://127.0.0.1:4/openai/deployments/dep%201/chat/completions?api-version=2024-10-21")
        #expect(config.providers[2].endpoint.chatURL(model: "gemini-x", streaming: true)
            == "http://127.0.0.1:3/v1beta/models/gemini-x:streamGenerateContent?alt=sse")
        #expect(config.providers[1].endpoint.headers(apiKey: "k").map(\.0) == ["x-api-key", "anthropic-version"])
    }

    @Test func aKeyOfAnotherKindOrAnUnknownKindIsRefusedWithItsPath() {
        let yaml = """
            providers:
              - {id: a, kind: anthropic, base_url: http://127.0.0.1:2, api_version: x, max_tokens_default: 0}
              - {id: g, kind: palm, base_url: http://127.0.0.1:3}
              - {id: z, kind: azure_openai, base_url: http://127.0.0.1:4}
              - {id: o, base_url: http://127.0.0.1:1/v1, drop_unsupported: true, colour: red}
            routes:
              - alias: chat
                tiers: [[{provider: a, model: m, weight: 1}]]
            """
        do {
            _ = try GatewayConfig.parse(yaml: yaml)
            Issue.record("accepted")
        } catch {
            let paths = error.problems.map(\.path)
            #expect(paths.contains("providers[0].api_version"))
            #expect(paths.contains("providers[0].max_tokens_default"))
            #expect(paths.contains("providers[1].kind"))
            #expect(paths.contains("providers[2].api_version"))  // required for azure
            #expect(paths.contains("providers[3].drop_unsupported"))
            #expect(paths.contains("providers[3].colour"))
            #expect(error.description.contains("providers[0].api_version: only for kind azure_openai (this provider is kind anthropic)"))
            #expect(error.description.contains("must be one of openai, anthropic, gemini, azure_openai, got 'palm'"))
            #expect(paths.filter { $0 == "providers[3].drop_unsupported" }.count == 1)
        }
    }

    @Test func listenerLimitsAndTheAdminListenerAreReadAndBadValuesRefusedWithTheirPaths() throws {
        let config = try GatewayConfig.parse(yaml: Self.good + "\nlimits: {max_connections: 500, header_timeout: 2.5, idle_timeout: 30}\nadmin: {listen: 127.0.0.1:9100}\n")
        #expect(config.limits.maxConnections == 500 && config.limits.headerTimeout == 2.5 && config.limits.idleTimeout == 30)
        #expect(config.adminListen == ("127.0.0.1", 9100))
        // Unset: loopback on the client port + 1, safe clocks.
        let plain = try GatewayConfig.parse(yaml: Self.good.replacingOccurrences(of: "listen: 127.0.0.1:8080", with: "listen: 0.0.0.0:8080"))
        #expect(plain.adminListen == ("127.0.0.1", 8081))
        #expect(plain.limits.headerTimeout == 10 && plain.limits.idleTimeout == 60 && plain.limits.maxConnections == nil)
        do {
            _ = try GatewayConfig.parse(yaml: Self.good + "\nlimits: {max_connections: 0, header_timeout: -1, idle_timeout: soon}\nadmin: {listen: 127.0.0.1:8080}\n")
            Issue.record("accepted")
        } catch {
            let paths = error.problems.map(\.path)
            #expect(paths.contains("limits.max_connections") && paths.contains("limits.header_timeout") && paths.contains("limits.idle_timeout"))
            #expect(error.description.contains("admin.listen: must differ from listen"))
        }
        do {
            _ = try GatewayConfig.parse(yaml: Self.good + "\nadmin: {listen: nowhere}\n")
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("admin.listen: must be HOST:PORT"))
        }
    }

    @Test func refusesTextThatIsNotAMapping() {
        #expect(throws: ConfigError.self) { try GatewayConfig.parse(yaml: "- just\n- a list\n") }
        #expect(throws: ConfigError.self) { try GatewayConfig.parse(yaml: "providers: [\n") }
        #expect(throws: ConfigError.self) { try GatewayConfig.parse(yaml: "") }
    }
}

@Suite struct StoreConfigTests {
    @Test func theStoreIsAFileByDefaultOrEtcdWhenGiven() throws {
        #expect(try GatewayConfig.parse(yaml: ConfigTests.good).store == .file)
        let etcd = try GatewayConfig.parse(yaml: ConfigTests.good + "\nstore: {kind: etcd, endpoints: [http://10.0.0.1:2379, http://10.0.0.2:2379], fleet: prod}\n")
        #expect(etcd.store == .etcd(endpoints: ["http://10.0.0.1:2379", "http://10.0.0.2:2379"], fleet: "prod", timeout: 2))
    }

    @Test func aBadStoreIsRefusedNamingTheKey() {
        func problems(_ store: String) -> [String] {
            do {
                _ = try GatewayConfig.parse(yaml: ConfigTests.good + "\nstore: \(store)\n")
                return []
            } catch {
                return error.problems.map(\.description)
            }
        }
        #expect(problems("{kind: etcd, fleet: prod}").contains { $0.hasPrefix("store.endpoints: required") })
        #expect(problems("{kind: etcd, endpoints: [nope], fleet: prod}").contains { $0.hasPrefix("store.endpoints[0]:") })
        #expect(problems("{kind: etcd, endpoints: [http://a:1]}").contains { $0.hasPrefix("store.fleet: required") })
        #expect(problems("{kind: zookeeper}").contains { $0.hasPrefix("store.kind: must be file or etcd") })
        #expect(problems("{kind: file, fleet: x}").contains { $0.hasPrefix("store.fleet: only with kind: etcd") })
    }
}

@Suite struct StoreStartConfigTests {
    @Test func withoutCacheIsServeOrRefuse() throws {
        let base = ConfigTests.good + "\nstore: {kind: etcd, endpoints: [http://127.0.0.1:2379], fleet: f"
        #expect(try GatewayConfig.parse(yaml: base + "}\n").refuseStartWithoutStore == false)
        #expect(try GatewayConfig.parse(yaml: base + ", without_cache: refuse}\n").refuseStartWithoutStore == true)
        #expect(throws: ConfigError.self) { try GatewayConfig.parse(yaml: base + ", without_cache: maybe}\n") }
    }

    @Test func watchSilenceIsABoundInSeconds() throws {
        let base = ConfigTests.good + "\nstore: {kind: etcd, endpoints: [http://127.0.0.1:2379], fleet: f"
        #expect(try GatewayConfig.parse(yaml: base + "}\n").storeWatchSilence == 30)
        #expect(try GatewayConfig.parse(yaml: base + ", watch_silence: 5}\n").storeWatchSilence == 5)
        for bad in ["0", "-1", "soon", "100000"] {
            #expect(throws: ConfigError.self) { try GatewayConfig.parse(yaml: base + ", watch_silence: \(bad)}\n") }
        }
        #expect(throws: ConfigError.self) { try GatewayConfig.parse(yaml: ConfigTests.good + "\nstore: {kind: file, watch_silence: 5}\n") }
    }
}

@Suite struct RoutingConfigTests {
    func problems(_ yaml: String) -> [String] {
        do {
            _ = try GatewayConfig.parse(yaml: yaml)
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }

    @Test func strategiesSlowStartAndTheHeadDeadlineFloor() throws {
        let base = try GatewayConfig.parse(yaml: ConfigTests.good)
        #expect(base.routes[0].strategy == .weighted && base.slowStart == 0 && base.providers[0].timeouts.firstByteFloor == 1)
        #expect(base.providers[0].priced && !base.providers[1].priced, "a price given, or not")
        let yaml = ConfigTests.good.replacingOccurrences(of: "  - alias: chat\n", with: "  - alias: chat\n    strategy: latency\n")
            .replacingOccurrences(of: "first_byte: 5,", with: "first_byte: 5, first_byte_floor: 0.5,") + "\nrouting: {slow_start: 30}\n"
        let config = try GatewayConfig.parse(yaml: yaml)
        #expect(config.routes[0].strategy == .latency && config.slowStart == 30 && config.providers[0].timeouts.firstByteFloor == 0.5)
        let bad = ConfigTests.good.replacingOccurrences(of: "  - alias: chat\n", with: "  - alias: chat\n    strategy: fastest\n")
        #expect(problems(bad).contains { $0.hasPrefix("routes[0].strategy: must be one of weighted, least_outstanding, latency, cost") }, "\(problems(bad))")
        #expect(problems(ConfigTests.good + "\nrouting: {slow_start: -1}\n").contains { $0.hasPrefix("routing.slow_start") })
        #expect(problems(ConfigTests.good + "\nrouting: {warmup: 3}\n").contains { $0.hasPrefix("routing.warmup") })
        #expect(base.healthCheck.kind == .models)
        let chat = ConfigTests.good.replacingOccurrences(of: "health_check: {interval: 3,", with: "health_check: {kind: chat, interval: 3,")
        #expect(try GatewayConfig.parse(yaml: chat).healthCheck.kind == .chat)
        let deep = ConfigTests.good.replacingOccurrences(of: "health_check: {interval: 3,", with: "health_check: {kind: deep, interval: 3,")
        #expect(problems(deep).contains { $0.hasPrefix("health_check.kind: must be models or chat") })
    }
}

@Suite struct ClientConfigTests {
    func problems(_ yaml: String) -> [String] {
        do {
            _ = try GatewayConfig.parse(yaml: yaml)
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }

    @Test func clientsHaveOneKeySourceKnownRoutesAndLimits() throws {
        let good = ConfigTests.good + """

            clients:
              - {name: web, key_env: WEB_KEY, routes: [chat], limits: {rpm: 600, tpm: 100000, spend_per_day: 25, concurrency: 20}}
              - {name: batch, key_file: /etc/clawgate/batch.key}
            """
        let config = try GatewayConfig.parse(yaml: good)
        #expect(config.clients?.count == 2 && config.clients?[0].limits == .init(rpm: 600, tpm: 100_000, spendPerDay: 25, concurrency: 20))
        #expect(config.clients?[1].routes == nil && config.clients?[1].keyFile == "/etc/clawgate/batch.key")
        #expect(try GatewayConfig.parse(yaml: ConfigTests.good).clients == nil, "no clients: open")
        let bad = problems(ConfigTests.good + """

            clients:
              - {name: web, routes: [nope], limits: {rpm: 0}}
              - {name: web, key_env: A, key_file: /x}
            """)
        #expect(bad.contains { $0.hasPrefix("clients[0]: give exactly one of key_env") }, "\(bad)")
        #expect(bad.contains { $0.hasPrefix("clients[0].routes[0]: unknown route 'nope'") })
        #expect(bad.contains { $0.hasPrefix("clients[0].limits.rpm") })
        #expect(bad.contains { $0.hasPrefix("clients[1].name: duplicate client 'web'") })
    }

    @Test func aShortKeyOrAnOpenKeyFileIsRefused() throws {
        #expect(throws: ConfigError.self) { try ClientAuth.load([.init(name: "x", keyEnv: "K")], environment: ["K": "short"]) }
        #expect(throws: ConfigError.self) { try ClientAuth.load([.init(name: "x", keyEnv: "K")], environment: [:]) }
        let file = NSTemporaryDirectory() + "client-key-\(UUID().uuidString)"
        try "sk-0123456789abcdef-file".write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o644)
        #expect(throws: ConfigError.self) { try ClientAuth.load([.init(name: "x", keyFile: file)]) }
        chmod(file, 0o600)
        let auth = try ClientAuth.load([.init(name: "x", keyFile: file)])
        #expect(auth.authenticate("Bearer sk-0123456789abcdef-file") == 0 && auth.authenticate("Bearer sk-0123456789abcdef-fil") == nil)
        try? FileManager.default.removeItem(atPath: file)
    }
}

/// Names the admin API addresses in a path and the console prints (issue 25, point 6).
@Suite struct NameConfigTests {
    @Test func idsAliasesClientNamesAndTheNodeIDTakeASafeSetOnly() {
        let yaml = """
            node_id: "node 1\\u001b[31m"
            providers:
              - {id: "a/b", base_url: http://127.0.0.1:1/v1}
              - {id: "ok-1.x_y", base_url: http://127.0.0.1:2/v1}
            routes:
              - alias: "chat:v2"
                tiers: [[{provider: ok-1.x_y, model: m, weight: 1}]]
            clients:
              - {name: "web app", key_env: K}
            """
        do {
            _ = try GatewayConfig.parse(yaml: yaml)
            Issue.record("accepted")
        } catch {
            let paths = error.problems.map(\.path)
            #expect(paths.contains("node_id") && paths.contains("providers[0].id") && paths.contains("routes[0].alias") && paths.contains("clients[0].name"))
            #expect(!paths.contains("providers[1].id"))
            #expect(!error.description.contains("\u{1b}"), "the bad name is shown escaped, not sent to the terminal")
            #expect(error.description.contains("use letters, digits and . _ - only"))
        }
    }

    @Test func listenersTakeTLSAndTheStoreTakesTLSAndAUser() throws {
        let config = try GatewayConfig.parse(yaml: ConfigTests.good + """

            tls: {cert_file: /etc/clawgate/data.pem, key_file: /etc/clawgate/data.key}
            admin:
              tls: {cert_file: /etc/clawgate/admin.pem, key_file: /etc/clawgate/admin.key, client_ca_file: /etc/clawgate/ops-ca.pem}
              tokens:
                - {name: alice, role: operator, sha256: \(String(repeating: "AB", count: 32))}
            store:
              kind: etcd
              endpoints: [https://10.0.0.1:2379]
              fleet: prod
              tls: {ca_file: /etc/clawgate/etcd-ca.pem, cert_file: /etc/clawgate/etcd.pem, key_file: /etc/clawgate/etcd.key}
              username: clawgate
              password_env: ETCD_PASSWORD
            """)
        #expect(config.tls == .init(certFile: "/etc/clawgate/data.pem", keyFile: "/etc/clawgate/data.key"))
        #expect(config.admin.tls?.clientCAFile == "/etc/clawgate/ops-ca.pem")
        #expect(config.admin.tokens.first?.sha256 == String(repeating: "ab", count: 32))
        #expect(config.storeAccess == .init(caFile: "/etc/clawgate/etcd-ca.pem", certFile: "/etc/clawgate/etcd.pem", keyFile: "/etc/clawgate/etcd.key",
                                            username: "clawgate", passwordEnv: "ETCD_PASSWORD"))
        // Plain HTTP stays the default.
        let plain = try GatewayConfig.parse(yaml: ConfigTests.good)
        #expect(plain.tls == nil && plain.admin.tls == nil && plain.storeAccess == .init())
    }

    @Test func badTLSTokenHashesAndStoreUsersAreRefusedNamingTheKey() {
        func paths(_ extra: String) -> [String] {
            do throws(ConfigError) {
                _ = try GatewayConfig.parse(yaml: ConfigTests.good + "\n" + extra)
                return []
            } catch {
                return error.problems.map { "\($0.path): \($0.reason)" }
            }
        }
        #expect(paths("tls: {cert_file: /a.pem}").contains { $0.hasPrefix("tls.key_file: required") })
        #expect(paths("tls: {cert_file: /a.pem, key_file: /a.key, ca: /x}").contains { $0.hasPrefix("tls.ca: unknown key") })
        #expect(paths("admin: {tls: {key_file: /a.key}}").contains { $0.hasPrefix("admin.tls.cert_file: required") })
        let short = paths("admin: {tokens: [{name: a, role: operator, sha256: abc}]}")
        #expect(short.contains { $0.hasPrefix("admin.tokens[0].sha256: must be the token's SHA-256 as 64 hex digits") }, "\(short)")
        #expect(paths("admin: {tokens: [{name: a, role: operator, sha256: \(String(repeating: "zz", count: 32))}]}").contains { $0.hasPrefix("admin.tokens[0].sha256") })
        #expect(paths("admin: {tokens: [{name: a, role: operator, env: A_TOKEN, sha256: \(String(repeating: "ab", count: 32))}]}")
            .contains { $0.hasPrefix("admin.tokens[0]: give exactly one of env") })
        let store = "store: {kind: etcd, endpoints: [http://127.0.0.1:2379], fleet: f, "
        #expect(paths(store + "tls: {ca_file: /ca.pem}}").contains { $0.hasPrefix("store.endpoints[0]: must be https:// with store.tls") })
        #expect(paths(store + "tls: {cert_file: /c.pem}}").contains { $0.hasPrefix("store.tls: give cert_file and key_file together") })
        #expect(paths(store + "username: u}").contains { $0.hasPrefix("store.password_env: etcd's user needs both") })
        #expect(paths(store + "username: u, password_env: 'not a name'}").contains { $0.hasPrefix("store.password_env: must be an environment variable name") })
        #expect(paths("store: {kind: file, username: u}").contains { $0.hasPrefix("store.username: only with kind: etcd") })
    }
}
