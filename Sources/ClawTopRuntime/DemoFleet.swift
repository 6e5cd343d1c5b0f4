import ClawCurl
import ClawShared
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `clawtop --demo`: a real local fleet (clawsim providers, three clawgate nodes, light traffic and
/// scripted incidents) on loopback, started from the binaries next to clawtop and stopped with it;
/// when Prometheus and Alertmanager are installed, those too, scraping the nodes with `clawgate rules`.
final class DemoFleet: @unchecked Sendable {
    struct Started {
        /// The nodes' admin listeners: what clawtop polls and Prometheus scrapes.
        var nodes: [String]
        /// The nodes' client ports, where the demo's traffic goes.
        var dataURLs: [String] = []
        var control: String
        var operatorToken: String
        var viewerToken: String
        var prometheus: String?
        var alertmanager: String?
        /// The etcd members' client URLs, when the nodes share a fleet store.
        var etcd: [String] = []
        /// The demo's callers and their keys (the nodes require one).
        var clients: [(name: String, key: String)] = []
    }

    /// The demo's three callers: name, the routes each may use, and its limits (YAML).
    static let clients: [(name: String, routes: [String], limits: String)] = [
        ("web-app", ["chat", "reasoning", "batch"], "{rpm: 600, concurrency: 20}"),
        ("batch-jobs", ["batch", "chat"], "{rpm: 120, spend_per_day: 5}"),
        ("support-bot", ["chat", "reasoning"], "{rpm: 300, concurrency: 4}"),
    ]
    private let runaway = Mutex(false)

    private var children: [Process] = []
    private let directory: String
    private let stopFlag = Mutex(false)
    private var threads: [Thread] = []
    let incidentPeriod: Double
    let monitors: Bool
    let fleetStore: Bool

    init(incidentPeriod: Double, monitors: Bool, fleetStore: Bool = true) {
        self.incidentPeriod = incidentPeriod
        self.monitors = monitors
        self.fleetStore = fleetStore
        directory = NSTemporaryDirectory() + "clawtop-demo-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// The demo's providers speak mixed kinds, so failover across formats shows on screen.
    static let providers: [(id: String, kind: String, flags: String)] = [
        ("fast", "openai", "latency_ms=150,latency_p99_ms=400,tokens_per_second=80,completion_tokens=24"),
        ("premium", "anthropic", "latency_ms=600,latency_p99_ms=1500,tokens_per_second=40,completion_tokens=48"),
        ("cheap", "gemini", "latency_ms=300,latency_p99_ms=900,tokens_per_second=60,completion_tokens=24"),
        ("local", "openai", "latency_ms=1200,latency_p99_ms=3000,tokens_per_second=20,completion_tokens=16"),
    ]

    /// Where clawsim and clawgate are: next to this binary.
    static func binary(_ name: String) throws -> String {
        let own = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let path = URL(fileURLWithPath: own).deletingLastPathComponent().appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw DemoError("the demo needs \(name) next to clawtop (\(path)); build all products with `swift build`")
        }
        return path
    }

    /// util-linux's `setpriv`, which sets the parent-death signal and then runs the program in its place.
    static let setpriv: String? = ["/usr/bin/setpriv", "/bin/setpriv"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Start a child with its stderr (and stdout, unless `stdout` is given) in a log in the demo's folder.
    /// The child is killed by the kernel when the console dies, however it dies (SIGKILL included):
    /// `setpriv --pdeathsig KILL` sets `PR_SET_PDEATHSIG` in the child before it execs the program.
    /// Children are started from the main thread, which lives as long as the console.
    private func launch(_ path: String, _ args: [String], env: [String: String] = [:], stdout: Pipe? = nil) throws {
        let process = Process()
        if let setpriv = Self.setpriv {
            process.executableURL = URL(fileURLWithPath: setpriv)
            process.arguments = ["--pdeathsig", "KILL", "--", path] + args
        } else {
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = args
        }
        process.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        let log = directory + "/\(URL(fileURLWithPath: path).lastPathComponent)-\(children.count).log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = FileHandle(forWritingAtPath: log) ?? FileHandle.nullDevice
        process.standardOutput = stdout ?? handle
        process.standardError = handle
        try process.run()
        children.append(process)
    }

    /// Start clawsim or clawgate and read the JSON line it announces itself with.
    private func spawn(_ path: String, _ args: [String], env: [String: String] = [:]) throws -> JSONValue {
        let out = Pipe()
        try launch(path, args, env: env, stdout: out)
        var line = Data()
        while true {
            let byte = out.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        guard let json = try? JSONValue.parse(bytes: line) else {
            throw DemoError("\(URL(fileURLWithPath: path).lastPathComponent) did not start; see \(directory)")
        }
        return json
    }

    static func token() -> String {
        (0..<24).map { _ in String("abcdefghijkmnpqrstuvwxyz23456789".randomElement()!) }.joined()
    }

    /// Folders of earlier demos whose console is gone (killed before it could clean up).
    static func removeStaleFolders() {
        let temp = NSTemporaryDirectory()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temp)) ?? [] where name.hasPrefix("clawtop-demo-") {
            let parts = name.split(separator: "-")
            guard parts.count >= 3, let pid = Int32(parts[2]), pid != getpid() else { continue }
            if kill(pid, 0) != 0, errno == ESRCH { try? FileManager.default.removeItem(atPath: temp + name) }
        }
    }

    func start() throws -> Started {
        Self.removeStaleFolders()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let sim = try spawn(try Self.binary("clawsim"), Self.providers.flatMap { ["--provider", "\($0.id),format=\($0.kind),\($0.flags)"] } + ["--seed", "7"])
        guard let control = sim["control"]?.stringValue, let urls = sim["providers"]?.objectValue else { throw DemoError("clawsim said nothing useful") }
        let prices = ["fast": (0.15, 0.60), "premium": (2.50, 10.00), "cheap": (0.05, 0.20), "local": (0.0, 0.0)]
        let operatorToken = Self.token()
        let viewerToken = Self.token()
        let keys = Self.clients.map { (name: $0.name, key: "sk-demo-" + Self.token()) }
        let clientYAML = "clients:\n" + Self.clients.enumerated().map { i, c in
            "  - {name: \(c.name), key_env: CLAWTOP_DEMO_KEY_\(i), routes: [\(c.routes.joined(separator: ", "))], limits: \(c.limits)}"
        }.joined(separator: "\n")
        // Where etcd is installed the nodes share one operator state in a 3-member etcd cluster.
        let etcd = fleetStore ? try Self.onPath("etcd").map(startEtcd) ?? [] : []
        let store = etcd.isEmpty ? "" : "store: {kind: etcd, endpoints: [\(etcd.joined(separator: ", "))], fleet: demo, timeout: 2}"
        var nodes: [String] = []
        var dataURLs: [String] = []
        for n in 1...3 {
            let providers = Self.providers.map { p in
                "  - {id: \(p.id), kind: \(p.kind), base_url: \"\(urls[p.id]!.stringValue!)\(p.kind == "openai" ? "/v1" : "")\", api_key_env: CLAWTOP_DEMO_UPSTREAM_KEY, region: local, price: {input_per_1m: \(prices[p.id]!.0), output_per_1m: \(prices[p.id]!.1)}, timeouts: {connect: 1, first_byte: 8, total: 60}}"
            }.joined(separator: "\n")
            let yaml = """
                node_id: demo-\(n)
                listen: 127.0.0.1:0
                providers:
                \(providers)
                routes:
                  - alias: chat
                    tiers:
                      - [{provider: fast, model: fast-chat, weight: 70}, {provider: cheap, model: cheap-chat, weight: 30}]
                      - [{provider: premium, model: premium-chat, weight: 100}]
                      - [{provider: local, model: local-llama, weight: 100}]
                  - alias: reasoning
                    tiers:
                      - [{provider: premium, model: premium-reason, weight: 100}]
                      - [{provider: fast, model: fast-chat, weight: 100}]
                  - alias: batch
                    tiers:
                      - [{provider: cheap, model: cheap-chat, weight: 80}, {provider: local, model: local-llama, weight: 20}]
                      - [{provider: fast, model: fast-chat, weight: 100}]
                breaker: {consecutive_failures: 3, cooldown: 5, max_cooldown: 60}
                health_check: {interval: 2, timeout: 1}
                \(clientYAML)
                \(store)
                admin:
                  state_dir: \(directory)/state-\(n)
                  tokens:
                    - {name: demo-operator, role: operator, env: CLAWTOP_DEMO_OPERATOR}
                    - {name: demo-viewer, role: viewer, env: CLAWTOP_DEMO_VIEWER}

                """
            let path = directory + "/node-\(n).yaml"
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            var env = ["CLAWTOP_DEMO_OPERATOR": operatorToken, "CLAWTOP_DEMO_VIEWER": viewerToken, "CLAWTOP_DEMO_UPSTREAM_KEY": "sk-demo-upstream"]
            for (i, k) in keys.enumerated() { env["CLAWTOP_DEMO_KEY_\(i)"] = k.key }
            let node = try spawn(try Self.binary("clawgate"), ["--config", path], env: env)
            guard let url = node["url"]?.stringValue, let admin = node["admin"]?.stringValue else {
                throw DemoError("clawgate did not start; see \(directory)")
            }
            dataURLs.append(url)
            nodes.append(admin)
        }
        startTraffic(dataURLs, keys: keys.map(\.key))
        startIncidents(control)
        startRunaway(dataURLs, key: keys[1].key)
        var started = Started(nodes: nodes, dataURLs: dataURLs, control: control, operatorToken: operatorToken, viewerToken: viewerToken, etcd: etcd)
        started.clients = keys
        if monitors, let prometheus = Self.onPath("prometheus"),
           let alertmanager = Self.onPath("prometheus-alertmanager") ?? Self.onPath("alertmanager") {
            do {
                (started.prometheus, started.alertmanager) = try startMonitors(prometheus: prometheus, alertmanager: alertmanager, nodes: nodes)
            } catch {
                // The fleet is still worth watching: the console uses the nodes' own figures.
                FileHandle.standardError.write(Data("clawtop: the demo runs without Prometheus and Alertmanager: \(error)\n".utf8))
            }
        }
        return started
    }

    /// A 3-member etcd cluster on free loopback ports; the members' client URLs once all are healthy.
    private func startEtcd(_ binary: String) throws -> [String] {
        let members = try (1...3).map { (name: "etcd-\($0)", client: try LoopbackPort.free(), peer: try LoopbackPort.free()) }
        let cluster = members.map { "\($0.name)=http://127.0.0.1:\($0.peer)" }.joined(separator: ",")
        for m in members {
            try launch(binary, ["--name", m.name, "--data-dir", "\(directory)/\(m.name)",
                                "--listen-client-urls", "http://127.0.0.1:\(m.client)", "--advertise-client-urls", "http://127.0.0.1:\(m.client)",
                                "--listen-peer-urls", "http://127.0.0.1:\(m.peer)", "--initial-advertise-peer-urls", "http://127.0.0.1:\(m.peer)",
                                "--initial-cluster", cluster, "--heartbeat-interval", "20", "--election-timeout", "200"])
        }
        let urls = members.map { "http://127.0.0.1:\($0.client)" }
        if try waitReady(urls.map { $0 + "/health" }, seconds: 15, children: 3, accept: { String(decoding: $0.body, as: UTF8.self).contains("true") }) {
            return urls
        }
        throw DemoError("etcd did not become healthy; see the logs in \(directory)")
    }

    /// Poll `urls` until every one answers (and `accept`s the answer), the time is up, or one of the
    /// last `children` started has died; whether all became ready.
    private func waitReady(_ urls: [String], seconds: Double, children count: Int, accept: (HTTPResult) -> Bool = { _ in true }) throws -> Bool {
        let curl = try CurlMulti()
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if curl.perform(urls.map { HTTPRequestSpec(url: $0) }).allSatisfy({ $0.ok && accept($0) }) { return true }
            if children.suffix(count).contains(where: { !$0.isRunning }) { return false }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    /// An executable of this name on PATH.
    static func onPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Prometheus scraping the nodes every 2 s with `clawgate rules` (each alert's `for:` shortened to
    /// fit the incident period), and Alertmanager; their URLs once both answer `/-/ready`.
    private func startMonitors(prometheus: String, alertmanager: String, nodes: [String]) throws -> (String, String) {
        let rules = Process()
        rules.executableURL = URL(fileURLWithPath: try Self.binary("clawgate"))
        let pending = max(2, min(15, incidentPeriod / 8))
        rules.arguments = ["rules", "--pending-for", String(pending)]
        let out = Pipe()
        rules.standardOutput = out
        try rules.run()
        let yaml = out.fileHandleForReading.readDataToEndOfFile()
        rules.waitUntilExit()
        guard rules.terminationStatus == 0 else { throw DemoError("`clawgate rules` failed") }
        try yaml.write(to: URL(fileURLWithPath: directory + "/rules.yml"))
        let (promPort, amPort) = (try LoopbackPort.free(), try LoopbackPort.free())
        let targets = nodes.map { "'\($0.replacingOccurrences(of: "http://", with: ""))'" }.joined(separator: ", ")
        try """
            global: {scrape_interval: 2s, evaluation_interval: 2s}
            rule_files: ['\(directory)/rules.yml']
            alerting: {alertmanagers: [{static_configs: [{targets: ['127.0.0.1:\(amPort)']}]}]}
            scrape_configs:
              - job_name: clawgate
                static_configs: [{targets: [\(targets)]}]

            """.write(toFile: directory + "/prometheus.yml", atomically: true, encoding: .utf8)
        try """
            route: {receiver: nowhere, group_wait: 1s, group_interval: 5s, repeat_interval: 1h}
            receivers: [{name: nowhere}]

            """.write(toFile: directory + "/alertmanager.yml", atomically: true, encoding: .utf8)
        try launch(alertmanager, ["--config.file=\(directory)/alertmanager.yml", "--storage.path=\(directory)/alertmanager",
                                  "--web.listen-address=127.0.0.1:\(amPort)", "--cluster.listen-address="])
        try launch(prometheus, ["--config.file=\(directory)/prometheus.yml", "--storage.tsdb.path=\(directory)/prometheus",
                                "--storage.tsdb.retention.time=1d", "--web.listen-address=127.0.0.1:\(promPort)"])
        let urls = ("http://127.0.0.1:\(promPort)", "http://127.0.0.1:\(amPort)")
        if try waitReady([urls.0 + "/-/ready", urls.1 + "/-/ready"], seconds: 20, children: 2) { return urls }
        for child in children.suffix(2) where child.isRunning { child.terminate() }
        throw DemoError("Prometheus or Alertmanager did not become ready; see the logs in \(directory)")
    }

    var stopping: Bool { stopFlag.withLock { $0 } }

    /// A few requests per second, mixed routes, a third of them streaming: four senders, each
    /// sending one request at a time as one of the demo's clients, on the routes it may use (a
    /// slow provider slows its client, as with real users).
    private func startTraffic(_ nodes: [String], keys: [String]) {
        for sender in 0..<4 {
        let client = sender % Self.clients.count
        let thread = Thread { [self] in
            guard let curl = try? CurlMulti() else { return }  // no traffic rather than a crash
            var counter = sender
            let routes = Self.clients[client].routes
            while !stopping {
                counter += 1
                let route = routes[counter % routes.count]
                let stream = counter % 3 == 0
                let body: JSONValue = ["model": .string(route), "stream": .bool(stream),
                                       "messages": [["role": "user", "content": "Summarise the incident timeline for the on-call engineer."]]]
                let url = nodes[counter % nodes.count] + "/v1/chat/completions"
                _ = curl.perform([HTTPRequestSpec(url: url, method: "POST", headers: ["Authorization: Bearer \(keys[client])"], body: body.bytes(), timeout: 30)])
                for _ in 0..<4 where !stopping { Thread.sleep(forTimeInterval: 0.05) }
            }
        }
        thread.start()
        threads.append(thread)
        }
    }

    /// While the runaway incident lasts, batch-jobs sends 8 requests at once, again and again: a
    /// retry loop gone wrong, which its rpm limit stops and the Clients pane shows.
    private func startRunaway(_ nodes: [String], key: String) {
        let thread = Thread { [self] in
            guard let curl = try? CurlMulti() else { return }
            while !stopping {
                guard runaway.withLock({ $0 }) else {
                    Thread.sleep(forTimeInterval: 0.1)
                    continue
                }
                let body: JSONValue = ["model": "batch", "messages": [["role": "user", "content": "retry"]]]
                _ = curl.perform((0..<8).map { i in
                    HTTPRequestSpec(url: nodes[i % nodes.count] + "/v1/chat/completions", method: "POST", headers: ["Authorization: Bearer \(key)"],
                                    body: body.bytes(), timeout: 30)
                })
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        thread.start()
        threads.append(thread)
    }

    /// Every period a provider slows down, errors, goes down or gets rate limited, or a client runs
    /// away, then recovers half a period later.
    static let incidents: [(provider: String, patch: JSONValue, restore: JSONValue, what: String)] = [
        ("cheap", ["error_rate": 1], ["error_rate": 0], "cheap fails every request"),
        ("fast", ["latency_ms": 2500, "latency_p99_ms": 5000], ["latency_ms": 150, "latency_p99_ms": 400], "fast slows down"),
        ("premium", ["outage": true], ["outage": false], "premium goes down"),
        ("premium", ["midstream_error_rate": 0.9, "overloaded_rate": 0.5], ["midstream_error_rate": 0, "overloaded_rate": 0],
         "premium (anthropic) is overloaded: overloaded_error, also inside 200 streams"),
        ("fast", ["rate_limit_rate": 0.8], ["rate_limit_rate": 0], "fast is rate limited"),
        ("runaway", [:], [:], "the client batch-jobs runs away (a retry loop)"),
    ]

    private func startIncidents(_ control: String) {
        let period = incidentPeriod
        let thread = Thread { [self] in
            guard let curl = try? CurlMulti() else { return }  // no incidents rather than a crash
            var index = 0
            func sleep(_ seconds: Double) {
                var waited = 0.0
                while waited < seconds, !stopping {
                    Thread.sleep(forTimeInterval: 0.05)
                    waited += 0.05
                }
            }
            sleep(period / 2)
            while !stopping {
                let incident = Self.incidents[index % Self.incidents.count]
                index += 1
                if incident.provider == "runaway" {
                    runaway.withLock { $0 = true }
                    sleep(period / 2)
                    runaway.withLock { $0 = false }
                    sleep(period / 2)
                    continue
                }
                _ = curl.perform([HTTPRequestSpec(url: control + "/sim/providers/" + incident.provider, method: "POST", body: incident.patch.bytes())])
                sleep(period / 2)
                _ = curl.perform([HTTPRequestSpec(url: control + "/sim/providers/" + incident.provider, method: "POST", body: incident.restore.bytes())])
                sleep(period / 2)
            }
        }
        thread.start()
        threads.append(thread)
    }

    /// How long the demo's children get to stop on SIGTERM, all at once, before the console says
    /// which are still stopping and ends them: the shell prompt comes back within half a second.
    static let stopGrace = 0.4

    /// Stop the traffic, the incidents and every child (SIGTERM to all at once, SIGKILL to those
    /// still running after `stopGrace`, named on stderr); remove the demo's folder. What a killed
    /// child still has to do (an fsync it is blocked in) and the folder's removal finish in the
    /// background, in a small process of their own that ends when they are done: the prompt does
    /// not wait for the disk, and nothing is left behind.
    func stop() {
        stopFlag.withLock { $0 = true }
        for child in children where child.isRunning { child.terminate() }
        let deadline = Date().addingTimeInterval(Self.stopGrace)
        while children.contains(where: \.isRunning), Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        let left = children.filter(\.isRunning)
        defer { children = [] }
        guard !left.isEmpty else {
            for child in children { child.waitUntilExit() }
            try? FileManager.default.removeItem(atPath: directory)
            return
        }
        let names = left.map { "\(Self.name(of: $0)) (pid \($0.processIdentifier))" }.joined(separator: ", ")
        FileHandle.standardError.write(Data("clawtop: still stopping after \(Self.stopGrace) s: \(names); ending them now\n".utf8))
        for child in left { kill(child.processIdentifier, SIGKILL) }
        let pids = left.map { String($0.processIdentifier) }.joined(separator: " ")
        let finish = Process()
        finish.executableURL = URL(fileURLWithPath: "/bin/sh")
        // Waits (at most 30 s) for the killed children to be gone, then removes the folder.
        finish.arguments = ["-c", "n=0; for p in \(pids); do while kill -0 $p 2>/dev/null && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done; done; rm -rf '\(directory)'"]
        finish.standardInput = FileHandle.nullDevice
        finish.standardOutput = FileHandle.nullDevice
        finish.standardError = FileHandle.nullDevice
        if (try? finish.run()) == nil {
            for child in left { child.waitUntilExit() }
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// The program a child runs (through setpriv or not): `clawgate`, `prometheus`, `etcd`.
    static func name(of process: Process) -> String {
        let args = process.arguments ?? []
        let program = args.firstIndex(of: "--").map { $0 + 1 < args.count ? args[$0 + 1] : "" } ?? process.executableURL?.path ?? "?"
        return URL(fileURLWithPath: program).lastPathComponent
    }
}

struct DemoError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
