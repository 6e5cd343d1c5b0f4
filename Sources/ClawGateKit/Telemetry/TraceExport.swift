import Foundation
import HTTPTypes
import Logging
import OTel
import ServiceLifecycle
import Synchronization
import Tracing

/// OpenTelemetry spans of client requests (one server span each) and their attempts (one client
/// span each), in the GenAI semantic conventions, exported by swift-otel's OTLP/HTTP exporter
/// through a bounded queue in batches. Export never waits on a request: a full queue or a failed
/// batch drops spans, counted in `dropped` (`clawgate_spans_dropped_total`).
public final class TraceExport: Sendable {
    let tracer: any Tracer
    let service: any Service
    let counter: SpanDropCounter
    /// Spans lost: the queue was full, or a batch could not be exported.
    public var droppedSpans: Int { counter.count.load(ordering: .relaxed) }
    public let settings: GatewayConfig.Telemetry

    /// Spans the queue holds at most before it drops new ones.
    public static let defaultQueueSize = 2048

    /// The exporter when one is configured (`telemetry:` or `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`), else nil.
    public static func make(_ configured: GatewayConfig.Telemetry?, environment: [String: String], logger: Logger) throws -> TraceExport? {
        guard let settings = GatewayConfig.Telemetry.resolve(configured, environment: environment) else { return nil }
        return try TraceExport(settings, logger: logger)
    }

    init(_ settings: GatewayConfig.Telemetry, logger: Logger) throws {
        self.settings = settings
        let counter = SpanDropCounter()
        self.counter = counter
        var config = OTel.Configuration.default
        config.logs.enabled = false
        config.metrics.enabled = false
        config.traces.enabled = true
        config.serviceName = settings.serviceName
        config.resourceAttributes = settings.resourceAttributes
        config.propagators = [.traceContext]
        config.traces.exporter = .otlp
        config.traces.otlpExporter.protocol = .httpProtobuf
        config.traces.otlpExporter.endpoint = settings.endpoint
        config.traces.otlpExporter.timeout = .milliseconds(Int64(settings.exportTimeout * 1000))
        config.traces.batchSpanProcessor.maxQueueSize = settings.queueSize
        config.traces.batchSpanProcessor.maxExportBatchSize = min(512, settings.queueSize)
        config.traces.batchSpanProcessor.scheduleDelay = .milliseconds(Int64(settings.batchDelay * 1000))
        config.traces.batchSpanProcessor.exportTimeout = .milliseconds(Int64(settings.exportTimeout * 1000))
        switch settings.sampler {
        case .always: config.traces.sampler = .alwaysOn
        case .never: config.traces.sampler = .alwaysOff
        case .ratio(let r): config.traces.sampler = .traceIDRatio(ratio: r)!
        case .parentAlways: config.traces.sampler = .parentBasedAlwaysOn
        case .parentNever: config.traces.sampler = .parentBasedAlwaysOff
        case .parentRatio(let r): config.traces.sampler = .parentBasedTraceIDRatio(ratio: r)!
        }
        // swift-otel tells of dropped spans and failed batches only in its diagnostic log: a
        // handler counts them there (and passes the warnings on to the node's log).
        var diagnostic = Logger(label: "clawgate.otel") { _ in
            SpanDropHandler(counter: counter, forward: logger)
        }
        diagnostic.logLevel = .warning
        config.diagnosticLogger = .custom(diagnostic)
        config.diagnosticLogLevel = .warning
        let backend = try OTel.makeTracingBackend(configuration: config)
        tracer = backend.factory
        service = backend.service
    }

    struct FieldsExtractor: Extractor {
        func extract(key: String, from carrier: HTTPFields) -> String? {
            HTTPField.Name(key).flatMap { carrier[$0] }
        }
    }

    struct DictionaryInjector: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
    }

    /// The `traceparent` of a span, as a provider or a record sees it.
    func traceParent(of span: any Span) -> String? {
        var carrier: [String: String] = [:]
        tracer.inject(span.context, into: &carrier, using: DictionaryInjector())
        return carrier["traceparent"]
    }

    /// A client request's server span (its parent the client's `traceparent`, if valid) and the
    /// request's trace ids, which come from the span.
    func startRequest(_ headers: HTTPFields, endpoint: String) -> (span: any Span, trace: RequestTrace) {
        var base = RequestTrace.from(headers)
        var context = ServiceContext.topLevel
        if base.parentSpanID != nil { tracer.extract(headers, into: &context, using: FieldsExtractor()) }
        let span = tracer.startSpan(endpoint, context: context, ofKind: .server)
        if let parent = traceParent(of: span), let ids = RequestTrace.clientContext(traceParent: parent, traceState: nil) {
            base.traceID = ids.traceID
            base.spanID = ids.spanID
            base.sampled = ids.sampled
        }
        return (span, base)
    }

    /// An attempt's client span, child of the request's, and the `traceparent` the provider gets.
    func startAttempt(_ name: String, parent: any Span) -> (span: any Span, spanID: String, traceParent: String?) {
        let span = tracer.startSpan(name, context: parent.context, ofKind: .client)
        let header = traceParent(of: span)
        let spanID = header.flatMap { RequestTrace.clientContext(traceParent: $0, traceState: nil)?.spanID } ?? RequestTrace.newSpanID()
        return (span, spanID, header)
    }
}

/// Counts what swift-otel's batch processor drops, from its diagnostic messages.
final class SpanDropCounter: Sendable {
    let count = Atomic<Int>(0)

    func onDrop(_ n: Int) { if n > 0 { count.add(n, ordering: .relaxed) } }
}

/// swift-otel's diagnostic log handler: counts dropped spans ("Spans were dropped ... queue was
/// full" with `dropped_count`, "Failed to export batch." with `batch_size`) and passes warnings on.
struct SpanDropHandler: LogHandler {
    let counter: SpanDropCounter
    let forward: Logger
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .warning

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        let all = metadata.merging(explicit ?? [:]) { $1 }
        func count(_ key: String) -> Int { all[key].flatMap { Int("\($0)") } ?? 0 }
        let text = message.description
        if text.hasPrefix("Spans were dropped") {
            counter.onDrop(count("dropped_count"))
        } else if text.hasPrefix("Failed to export batch") {
            counter.onDrop(count("batch_size"))
        }
        forward.log(level: level, "otel: \(text)", metadata: all, source: source, file: file, function: function, line: line)
    }
}
