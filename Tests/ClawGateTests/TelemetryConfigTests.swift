import ClawGateKit
import Foundation
import Testing

/// Span export's settings: `telemetry:` in the config, the standard `OTEL_*` variables over it,
/// and nothing running when neither names a collector.
@Suite struct TelemetryConfigTests {
    static let base = """
        node_id: n1
        providers:
          - {id: a, base_url: http://127.0.0.1:9001/v1}
        routes:
          - {alias: chat, tiers: [[{provider: a, model: m, weight: 1}]]}

        """

    @Test func theConfigTakesACollectorAndItsSettings() throws {
        let config = try GatewayConfig.parse(yaml: Self.base + """
            telemetry: {endpoint: 'http://127.0.0.1:4318', service_name: gw-east, sampler: parentbased_traceidratio, sampler_arg: 0.25,
                        resource_attributes: {deployment.environment: prod}, queue_size: 100, batch_delay: 0.5, export_timeout: 2}
            """)
        let t = try #require(config.telemetry)
        #expect(t.endpoint == "http://127.0.0.1:4318/v1/traces" && t.serviceName == "gw-east" && t.sampler == .parentRatio(0.25))
        #expect(t.resourceAttributes == ["deployment.environment": "prod"] && t.queueSize == 100 && t.batchDelay == 0.5 && t.exportTimeout == 2)
        let exact = try GatewayConfig.parse(yaml: Self.base + "telemetry: {traces_endpoint: 'http://c:4318/custom/traces'}")
        #expect(exact.telemetry?.endpoint == "http://c:4318/custom/traces" && exact.telemetry?.sampler == .parentAlways)
        #expect(try GatewayConfig.parse(yaml: Self.base).telemetry == nil)
    }

    @Test func badTelemetrySettingsAreRefusedWithTheirPaths() {
        for (text, path) in [("telemetry: {endpoint: 'ftp://x'}", "telemetry.endpoint"), ("telemetry: {}", "telemetry.endpoint"),
                             ("telemetry: {endpoint: 'http://a:1', sampler: sometimes}", "telemetry.sampler"),
                             ("telemetry: {endpoint: 'http://a:1', sampler_arg: 2}", "telemetry.sampler_arg"),
                             ("telemetry: {endpoint: 'http://a:1', traces_endpoint: 'http://a:1/v1/traces'}", "telemetry"),
                             ("telemetry: {endpoint: 'http://a:1', queue_size: 0}", "telemetry.queue_size"),
                             ("telemetry: {endpoint: 'http://a:1', colour: blue}", "telemetry.colour")] {
            do {
                _ = try GatewayConfig.parse(yaml: Self.base + text)
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.problems.map(\.path).contains(path), "\(text): \(error.problems)")
            }
        }
    }

    @Test func theStandardVariablesTurnExportOnAndGoOverTheConfig() {
        typealias T = GatewayConfig.Telemetry
        #expect(T.resolve(nil, environment: [:]) == nil)  // unset: no exporter runs
        let env = ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/", "OTEL_SERVICE_NAME": "edge",
                   "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1", "OTEL_RESOURCE_ATTRIBUTES": "region=eu,team=ai"]
        let t = T.resolve(nil, environment: env)
        #expect(t?.endpoint == "http://collector:4318/v1/traces" && t?.serviceName == "edge" && t?.sampler == .ratio(0.1))
        #expect(t?.resourceAttributes == ["region": "eu", "team": "ai"])
        var configured = T(endpoint: "http://config:4318/v1/traces")
        configured.serviceName = "from-config"
        let over = T.resolve(configured, environment: ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://env:4318/x"])
        #expect(over?.endpoint == "http://env:4318/x" && over?.serviceName == "from-config")
        #expect(T.resolve(configured, environment: [:])?.endpoint == "http://config:4318/v1/traces")
        #expect(T.resolve(configured, environment: ["OTEL_SDK_DISABLED": "true"]) == nil)
        #expect(T.resolve(configured, environment: ["OTEL_TRACES_EXPORTER": "none"]) == nil)
    }

    @Test func withoutACollectorNoExporterRunsAndTheDroppedCounterShowsZero() async throws {
        let config = try GatewayConfig.parse(yaml: Self.base)
        #expect(try TraceExport.make(config.telemetry, environment: [:], logger: .init(label: "t")) == nil)
    }
}
