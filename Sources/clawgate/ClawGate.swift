import ArgumentParser
import ClawGateKit
import ClawShared
import ClawServerSupport
import Foundation
import Synchronization

/// clawgate: the OpenAI-compatible HA gateway node.

@main
struct ClawGate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clawgate",
        abstract: "OpenAI-compatible gateway with weighted routing, failover, circuit breaking and cost accounting.",
        subcommands: [Serve.self, CheckConfig.self, ExampleConfig.self, Rules.self, State.self],
        defaultSubcommand: Serve.self
    )
}

func fail(_ message: String, code: Int32) -> ExitCode {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    return ExitCode(code)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a gateway node (the default command).",
        discussion: "The first line on stdout is JSON with the node id, its URL and its admin listener's URL (`admin`). SIGINT and SIGTERM stop the node gracefully; SIGHUP reloads the listeners' TLS certificates (open connections keep theirs)."
    )

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String

    @Option(name: .long, help: "Listen on HOST:PORT instead of the file's `listen` (port 0 picks a free one).")
    var listen: String?

    @Option(name: .long, help: "The admin listener on HOST:PORT instead of the file's `admin.listen` (default: 127.0.0.1, the listen port + 1).")
    var adminListen: String?

    @Option(name: .long, help: "Node id instead of the file's `node_id`.")
    var nodeId: String?

    func run() async throws {
        EventLoopExecutor.install()
        var gatewayConfig: GatewayConfig
        do {
            gatewayConfig = try GatewayConfig.load(file: config)
        } catch {
            throw fail("clawgate: refusing to start, the configuration has problems:\n" + error.description, code: 2)
        }
        if let listen {
            guard let (host, port) = GatewayConfig.hostPort(listen) else {
                throw fail("clawgate: --listen must be HOST:PORT with a port 0..65535, got '\(listen)'", code: 2)
            }
            gatewayConfig.listenHost = host
            gatewayConfig.listenPort = port
        }
        if let adminListen {
            guard let (host, port) = GatewayConfig.hostPort(adminListen) else {
                throw fail("clawgate: --admin-listen must be HOST:PORT with a port 0..65535, got '\(adminListen)'", code: 2)
            }
            gatewayConfig.admin.listenHost = host
            gatewayConfig.admin.listenPort = port
        }
        if gatewayConfig.admin.listenPort == nil, gatewayConfig.listenPort == 65535 {
            throw fail("clawgate: the admin listener's default port is the listen port + 1: with port 65535 give --admin-listen", code: 2)
        }
        if let nodeId { gatewayConfig.nodeID = nodeId }
        // SIGINT and SIGTERM stop the node; SIGHUP reloads its TLS certificates and reopens an access
        // log in a file (logrotate's postrotate).
        let signals = ShutdownSignals([SIGINT, SIGTERM])
        let reload = ReloadSignal()
        let server: GatewayServer
        do {
            server = try await GatewayServer.start(config: gatewayConfig)
        } catch let error as ConfigError {
            throw fail("clawgate: refusing to start:\n" + error.description, code: 2)
        } catch let error as StoreStartError {
            throw fail("clawgate: refusing to start: \(error.description)", code: 2)
        } catch let error as AccessLogError {
            throw fail("clawgate: refusing to start: \(error.description)", code: 2)
        } catch let error as LimitsError {
            throw fail("clawgate: refusing to start: \(error.description)", code: 2)
        } catch let error as StateStoreError {
            throw fail("clawgate: refusing to start: \(error.description)", code: 2)
        } catch {
            throw fail("clawgate: cannot listen on \(gatewayConfig.listen) (admin listener \(gatewayConfig.adminListen.host):\(gatewayConfig.adminListen.port)): \(error)", code: 1)
        }
        let line: JSONValue = ["node_id": .string(gatewayConfig.nodeID), "url": .string(server.url), "admin": .string(server.adminURL),
                               "version": .string(Gateway.version)]
        // Before the announcement: a SIGHUP sent right after it reloads.
        reload.onSignal {
            let accessLog = server.gateway.accessLog
            accessLog?.reopen()
            if server.reloadTLS().isEmpty, accessLog == nil {
                server.gateway.logger.info("SIGHUP: no listener has TLS (tls:, admin.tls:) and there is no access log, so there is nothing to reload")
            }
        }
        FileHandle.standardOutput.write(line.encoded(sorted: true) + Data("\n".utf8))
        await signals.wait()
        await server.stop()
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a configuration file; print each problem with its key path and exit non-zero if any."
    )

    @Argument(help: "The YAML configuration file.")
    var file: String

    func run() async throws {
        do {
            let config = try GatewayConfig.load(file: file)
            print("\(file): ok (\(config.providers.count) providers, \(config.routes.count) routes, listen \(config.listen))")
        } catch {
            throw fail(error.description, code: 1)
        }
    }
}

struct ExampleConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "example-config",
        abstract: "Print an example configuration (two providers on ports 9001 and 9002, a primary and a backup tier)."
    )

    func run() {
        print(GatewayConfig.example, terminator: "")
    }
}

struct Rules: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print Prometheus recording and alerting rules for the gateway (provider down, error ratio, p99, circuit open, cost, node not ready, node saturated)."
    )

    @Option(help: "Alert when a provider's failed-attempt ratio over 5 m is above this.")
    var errorRatio: Double = 0.05

    @Option(help: "Alert when a provider's p99 latency over 5 m is above this many seconds.")
    var p99Seconds: Double = 5

    @Option(help: "Alert when the fleet's cost is above this many dollars per hour.")
    var budgetPerHour: Double = 50

    @Option(help: "Seconds every alert must hold before it fires, instead of each alert's own (for demos and tests).")
    var pendingFor: Double?

    func validate() throws {
        guard errorRatio > 0, errorRatio <= 1 else { throw ValidationError("--error-ratio must be in (0, 1]") }
        guard p99Seconds > 0, p99Seconds.isFinite else { throw ValidationError("--p99-seconds must be above 0") }
        guard budgetPerHour >= 0, budgetPerHour.isFinite else { throw ValidationError("--budget-per-hour must be 0 or more") }
        if let pendingFor, !(0...86400).contains(pendingFor) { throw ValidationError("--pending-for must be 0..86400 seconds") }
    }

    func run() {
        print(AlertRules.yaml(.init(errorRatio: errorRatio, p99Seconds: p99Seconds, budgetPerHour: budgetPerHour, pendingFor: pendingFor)), terminator: "")
    }
}

struct State: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Save or restore the operator state (file or fleet store), for a drill or a move.",
        subcommands: [Export.self, Import.self]
    )

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the operator state as JSON, with its revision.")

        @Option(name: .long, help: "The node's YAML configuration file (its store, or its state folder).")
        var config: String

        func run() async throws {
            let gatewayConfig: GatewayConfig
            do { gatewayConfig = try GatewayConfig.load(file: config) } catch { throw fail("clawgate: " + error.description, code: 2) }
            do {
                let json = try await StateBackup.export(gatewayConfig)
                FileHandle.standardOutput.write(json.encoded(sorted: true) + Data("\n".utf8))
            } catch {
                throw fail("clawgate: cannot export: \(error.description)", code: 1)
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put a saved operator state in effect as the next revision (audited).",
            discussion: "With a file store, stop the node first and start it after: it reads its state file at start. Exit 1 on a stale --if-match."
        )

        @Argument(help: "A file written by `clawgate state export`.")
        var file: String

        @Option(name: .long, help: "The node's YAML configuration file (its store, or its state folder).")
        var config: String

        @Option(name: .long, help: "Refuse unless the state is at this revision now.")
        var ifMatch: Int?

        func run() async throws {
            let gatewayConfig: GatewayConfig
            do { gatewayConfig = try GatewayConfig.load(file: config) } catch { throw fail("clawgate: " + error.description, code: 2) }
            guard let data = FileManager.default.contents(atPath: file), let json = try? JSONValue.parse(bytes: data) else {
                throw fail("clawgate: \(file) is not readable JSON", code: 2)
            }
            let user = ProcessInfo.processInfo.environment["USER"] ?? "unknown user"
            do {
                let revision = try await StateBackup.import(json, into: gatewayConfig, ifMatch: ifMatch, actor: "clawgate state import (\(user))")
                print("imported as revision \(revision)")
            } catch {
                throw fail("clawgate: cannot import: \(error.description)", code: error.stale ? 1 : 2)
            }
        }
    }
}
