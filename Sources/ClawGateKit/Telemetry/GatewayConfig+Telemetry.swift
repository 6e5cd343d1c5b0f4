import Foundation

extension GatewayConfig {
    /// Where and how spans are exported (`telemetry:` and the standard `OTEL_*` variables, which
    /// take precedence). No endpoint in either: no exporter runs.
    public struct Telemetry: Sendable, Equatable {
        public enum Sampler: Sendable, Equatable {
            case always, never, ratio(Double), parentAlways, parentNever, parentRatio(Double)
        }

        /// The OTLP/HTTP traces URL spans are POSTed to (`.../v1/traces`).
        public var endpoint: String
        public var serviceName = "clawgate"
        public var resourceAttributes: [String: String] = [:]
        /// Default: the client's sampled flag, else every trace (`parentbased_always_on`).
        public var sampler = Sampler.parentAlways
        /// Spans kept for export at most; past it, new spans are dropped and counted.
        public var queueSize = TraceExport.defaultQueueSize
        /// Seconds between batches.
        public var batchDelay = 1.0
        /// Seconds a batch may take to export before it is given up (and its spans counted dropped).
        public var exportTimeout = 5.0

        public init(endpoint: String) { self.endpoint = endpoint }

        /// The traces URL for an OTLP base endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`'s rule).
        static func tracesURL(base: String) -> String {
            base.hasSuffix("/") ? base + "v1/traces" : base + "/v1/traces"
        }

        /// Parse a sampler as `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` give it; nil when unknown.
        public static func sampler(_ name: String, argument: String?) -> Sampler? {
            let ratio = argument.flatMap(Double.init).map { min(1, max(0, $0)) } ?? 1
            switch name {
            case "always_on": return .always
            case "always_off": return .never
            case "traceidratio": return .ratio(ratio)
            case "parentbased_always_on": return .parentAlways
            case "parentbased_always_off": return .parentNever
            case "parentbased_traceidratio": return .parentRatio(ratio)
            default: return nil
            }
        }

        /// `key=value,key=value` as `OTEL_RESOURCE_ATTRIBUTES` gives them.
        static func attributes(_ text: String) -> [String: String] {
            var out: [String: String] = [:]
            for pair in text.split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2, !parts[0].isEmpty { out[parts[0]] = parts[1].removingPercentEncoding ?? parts[1] }
            }
            return out
        }

        /// The settings in force: the config's with the environment's `OTEL_*` over them; nil when
        /// neither names an endpoint, or `OTEL_SDK_DISABLED=true` / `OTEL_TRACES_EXPORTER=none`.
        public static func resolve(_ configured: Telemetry?, environment env: [String: String]) -> Telemetry? {
            if env["OTEL_SDK_DISABLED"]?.lowercased() == "true" || env["OTEL_TRACES_EXPORTER"]?.lowercased() == "none" { return nil }
            var settings = configured
            if let traces = env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"], !traces.isEmpty {
                settings = settings ?? Telemetry(endpoint: traces)
                settings!.endpoint = traces
            } else if let base = env["OTEL_EXPORTER_OTLP_ENDPOINT"], !base.isEmpty {
                settings = settings ?? Telemetry(endpoint: tracesURL(base: base))
                settings!.endpoint = tracesURL(base: base)
            }
            guard var settings else { return nil }
            if let name = env["OTEL_SERVICE_NAME"], !name.isEmpty { settings.serviceName = name }
            if let text = env["OTEL_RESOURCE_ATTRIBUTES"] { settings.resourceAttributes.merge(attributes(text)) { $1 } }
            if let name = env["OTEL_TRACES_SAMPLER"], let sampler = sampler(name, argument: env["OTEL_TRACES_SAMPLER_ARG"]) { settings.sampler = sampler }
            if let size = env["OTEL_BSP_MAX_QUEUE_SIZE"].flatMap(Int.init), size > 0 { settings.queueSize = size }
            if let delay = env["OTEL_BSP_SCHEDULE_DELAY"].flatMap(Double.init), delay > 0 { settings.batchDelay = delay / 1000 }
            return settings
        }
    }
}
