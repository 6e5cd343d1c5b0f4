import ArgumentParser
import ClawShared
import ClawServerSupport
import ClawSimKit
import Foundation

/// clawsim: simulated LLM providers (OpenAI, Anthropic, Gemini, Azure OpenAI wire formats) for the
/// demo, the tests and the benchmarks.

@main
struct ClawSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clawsim",
        abstract: "Serve simulated LLM providers on loopback ports.",
        discussion: """
        Each provider listens on its own port and speaks one format (format=openai, the default, \
        anthropic, gemini or azure_openai): OpenAI answers /v1/chat/completions and /v1/models, \
        Anthropic /v1/messages, Gemini /v1beta/models/MODEL:generateContent, Azure \
        /openai/deployments/NAME/chat/completions?api-version=... .
        The first line printed is JSON with the control URL and each provider's URL.
        Change behaviour while running: POST /sim/providers/ID with a JSON object, e.g.
          curl -d '{"outage": true}' http://127.0.0.1:PORT/sim/providers/fast
        Behaviour keys: \(SimBehaviour.keys.joined(separator: ", ")); and format.
        """
    )

    @Option(name: .long, help: "YAML file describing the providers.")
    var config: String?

    @Option(name: .long, help: "A provider: ID[:PORT][,key=value...], e.g. fast:9001,latency_ms=5,error_rate=0.1 or claude:9003,format=anthropic (repeatable).")
    var provider: [String] = []

    @Option(name: .long, help: "Port of the control endpoint (0 picks a free one).")
    var controlPort: Int?

    @Option(name: .long, help: "Address to listen on.")
    var host: String?

    @Option(name: .long, help: "Seed for the simulated behaviour.")
    var seed: UInt64?

    func run() async throws {
        EventLoopExecutor.install()
        var simConfig = SimConfig()
        do {
            if let path = config {
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw SimConfigError(problems: ["\(path): cannot read the file"])
                }
                simConfig = try SimConfig.load(yaml: text, file: path)
            }
            for spec in provider { simConfig.providers.append(try SimConfig.provider(fromFlag: spec)) }
        } catch let error as SimConfigError {
            FileHandle.standardError.write(Data(("clawsim: " + error.problems.joined(separator: "\nclawsim: ") + "\n").utf8))
            throw ExitCode(2)
        }
        if let controlPort { simConfig.controlPort = controlPort }
        if let host { simConfig.host = host }
        if let seed { simConfig.seed = seed }
        if simConfig.providers.isEmpty {
            simConfig.providers = [SimConfig.Provider(id: "sim")]
        }
        let ids = simConfig.providers.map(\.id)
        if Set(ids).count != ids.count {
            FileHandle.standardError.write(Data("clawsim: provider ids must be unique: \(ids.joined(separator: ", "))\n".utf8))
            throw ExitCode(2)
        }
        let signals = ShutdownSignals()
        let simulator: Simulator
        do {
            simulator = try await Simulator.start(simConfig)
        } catch {
            FileHandle.standardError.write(Data("clawsim: cannot start: \(error)\n".utf8))
            throw ExitCode(1)
        }
        FileHandle.standardOutput.write(Data((simulator.announcement + "\n").utf8))
        await signals.wait()
        await simulator.stop()
    }
}


