import AsyncHTTPClient
import ClawShared
import Foundation
import NIOCore
import ServiceLifecycle

/// Active health checks: every interval, probe each provider at once with its own timeout.
struct HealthChecker: Service {
    let gateway: Gateway

    func run() async throws {
        let settings = gateway.config.healthCheck
        guard settings.enabled else {
            // A service that returns ends the whole group; a disabled checker waits for shutdown instead.
            try? await gracefulShutdown()
            return
        }
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await gateway.probeProviders()
                try await Task.sleep(for: .seconds(settings.interval))
            }
        }
    }
}

extension Gateway {
    /// One round of active health checks: every provider at once, each with its own timeout.
    /// The checker service calls it every interval; a test may call it itself instead of waiting.
    public func probeProviders() async {
        await withTaskGroup(of: Void.self) { group in
            for index in config.providers.indices {
                group.addTask { await self.probe(index) }
            }
        }
    }

    /// The model a chat probe asks `provider` for: the first route target's that names it.
    func probeModel(_ provider: Int) -> String {
        let id = config.providers[provider].id
        return config.routes.lazy.flatMap { $0.tiers.joined() }.first { $0.provider == id }?.model ?? id
    }

    func probe(_ index: Int) async {
        let settings = config.healthCheck
        let request: HTTPClientRequest
        let provider = config.providers[index]
        // A provider whose circuit the data path opened comes back only through what clients use:
        // its model list may well answer while its chat hangs or resets. So an ejected provider is
        // probed with a one-token completion, and a healthy one with the free `models` probe (no
        // completion is spent on a healthy provider).
        let kind = state.circuitIsOpen(provider: index) ? .chat : settings.kind
        switch kind {
        case .models:
            request = upstreamRequest(provider: index, url: provider.endpoint.modelsURL(openAIPath: settings.path), method: .GET, body: nil)
        case .chat:
            let body: JSONValue = ["model": .string(probeModel(index)), "max_tokens": 1,
                                   "messages": [["role": "user", "content": "health check: answer with one token"]]]
            var bytes = body.bytes()
            if let translator = ChatTranslator(provider.kind),
               let conversation = try? ChatConversation.parse(body),
               let translated = try? translator.request(conversation, model: probeModel(index), provider: provider) {
                bytes = translated
            }
            request = upstreamRequest(provider: index, url: provider.endpoint.chatURL(model: probeModel(index), streaming: false), method: .POST,
                                      body: ByteBuffer(bytes: bytes))
        }
        var ok = false
        var error: String?
        // A drill's fault hits probes as it hits requests: a provider "down" for the drill stays
        // out of rotation as a really dead one would.
        var timeout = settings.timeout
        if let fault = state.drawFault(provider: index) {
            if let outcome = await inject(fault, deadline: timeout) {
                state.recordProbe(provider: index, ok: false, error: "\(outcome.label) (drill)", now: clock())
                return
            }
            timeout -= fault.delay
        }
        do {
            let response = try await clients[index].execute(request, deadline: .now() + .nanoseconds(Int64(timeout * 1e9)))
            _ = try? await response.body.collect(upTo: 1 << 20)
            ok = (200..<300).contains(Int(response.status.code))
            if !ok { error = "status_\(response.status.code)" }
        } catch let failure {
            error = Gateway.classify(failure).label
        }
        state.recordProbe(provider: index, ok: ok, error: error, now: clock())
    }
}
