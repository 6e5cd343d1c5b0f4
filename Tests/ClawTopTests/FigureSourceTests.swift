import ClawAdminAPI
import ClawShared
import ClawTopCore
import Testing

/// Issue 24, "figures disagree": one source per figure on one screen, named in the header; node
/// lines, provider rows and previews from the same figures; a provider that stopped receiving
/// traffic never shows the last minute's rate as current.
@Suite struct FigureSourceTests {
    /// Truth's fleet with costs per node (premium $0.66/h, backup $0.10/h, fast $0.20/h, cheap
    /// $0.10/h) and route rates (reasoning 1 req/s, chat 2 req/s on each node).
    static func costed(width: Int = 120, height: Int = 40, change: @escaping (Int, inout Snapshot, inout StateDocument) -> Void = { _, _, _ in }) -> AppState {
        Truth.state(width: width, height: height) { n, snap, doc in
            let costs = ["premium": 0.66, "backup": 0.1, "fast": 0.2, "cheap": 0.1]
            for i in snap.providers.indices { snap.providers[i].stats.oneMinute.costPerHourDollars = costs[snap.providers[i].id]! }
            snap.routes[0].stats.oneMinute.requestsPerSecond = 1
            snap.routes[1].stats.oneMinute.requestsPerSecond = 2
            change(n, &snap, &doc)
        }
    }

    static func row(_ state: AppState, _ id: String) -> Fleet.ProviderRow { state.fleet.rows.first { $0.id == id }! }

    @Test func aProviderDrainedEverywhereShowsZeroWithTheLastMinuteAsHistory() {
        var state = Self.costed { _, snap, doc in Truth.drain("premium", &snap, &doc) }
        let premium = Self.row(state, "premium")
        #expect(premium.rps == 0 && premium.costPerHour == 0 && premium.servingNodes == 0)
        #expect(abs(premium.idleRPS - 3) < 1e-9 && abs(premium.idleCostPerHour - 1.98) < 1e-9)
        // The header's spend is the rows' spend: premium's last minute is not in it.
        #expect(abs(state.fleet.summary(now: 1000).costPerHour - 1.2) < 1e-9)
        Reducer.reduce(&state, .selectPane(.providers))
        let screen = View.render(state)
        let line = screen.lines.first { $0.contains("premium") } ?? ""
        #expect(line.contains("0 (3.0/1m)") && line.contains("$0.00") && !line.contains("$1.98"), "\(line)")
        // The detail view gives the history of both, and says they are not current.
        var detail = state
        detail.detail = "premium"
        let text = View.render(detail).text
        #expect(text.contains("0 (3.0/1m) req/s") && text.contains("0 ($1.98/1m)/h") && text.contains("not serving on 3/3 nodes"), "\(text)")
        #expect(screen.line(0).contains("$/h $1.20"), "\(screen.line(0))")
        // The overview's provider table says the same.
        Reducer.reduce(&state, .selectPane(.overview))
        let overview = View.render(state).lines.first { $0.hasPrefix("premium") } ?? ""
        #expect(overview.contains("0 (3.0/1m)"), "\(overview)")
    }

    @Test func aProviderEjectedOnOneNodeCountsOnlyTheNodesThatServeIt() {
        let state = Self.costed { n, snap, _ in
            if n == 1 { snap.providers[0].state = .ejected; snap.providers[0].circuit.state = .open }
        }
        let premium = Self.row(state, "premium")
        #expect(premium.rps == 2 && premium.servingNodes == 2 && premium.idleRPS == 1)
        #expect(abs(premium.costPerHour - 1.32) < 1e-9)
    }

    @Test func prometheusRatesOfAProviderNoNodeServesAreHistoryToo() {
        var state = Self.costed { _, snap, doc in Truth.drain("premium", &snap, &doc) }
        state.fleet.monitor = Monitor(prometheusURL: "http://127.0.0.1:9090")
        var f = PrometheusFigures(at: 1000)
        var premium = PrometheusFigures.Provider()
        premium.rps = 1.1
        premium.costPerHour = 1.98
        f.providers["premium"] = premium
        var fast = PrometheusFigures.Provider()
        fast.rps = 2.5
        fast.costPerHour = 0.6
        f.providers["fast"] = fast
        f.rps = 4.7
        state.fleet.monitor.figures = f
        state.fleet.refresh()
        let row = Self.row(state, "premium")
        #expect(row.rps == 0 && row.idleRPS == 1.1 && row.costPerHour == 0 && row.idleCostPerHour == 1.98)
        #expect(Self.row(state, "fast").rps == 2.5)
        Reducer.reduce(&state, .selectPane(.providers))
        let screen = View.render(state)
        #expect(screen.line(0).contains("src prom 1m"), "\(screen.line(0))")
        #expect(screen.lines.first { $0.contains("premium") }?.contains("0 (1.1/1m)") == true)
    }

    @Test func theHeaderNamesTheSourceAndItsWindowAtEverySize() {
        let wide = View.render(Self.costed())
        #expect(wide.line(0).contains("src nodes 1m"), "\(wide.line(0))")
        // At 80 columns the header has no room left: the tab row says it.
        let narrow = View.render(Self.costed(width: 80, height: 24))
        #expect(narrow.line(0).contains("src nodes 1m") || narrow.line(1).contains("src nodes 1m"), "\(narrow.lines.prefix(2))")
    }

    @Test func nodeLinesTakeTheHeadersSourceOrSayTheirsDiffers() throws {
        var state = Self.costed()
        state.fleet.monitor = Monitor(prometheusURL: "http://127.0.0.1:9090")
        let samples = try PromQL.vector(["status": "success", "data": ["resultType": "vector", "result": [
            ["metric": ["instance": "127.0.0.1:9200"], "value": [1000, "0.6"]],
            ["metric": ["instance": "127.0.0.1:9201"], "value": [1000, "0.7"]],
        ]]]).get()
        var f = PromQL.figures([.nodeRPS: samples], at: 1000)
        #expect(f.nodes == ["127.0.0.1:9200": 0.6, "127.0.0.1:9201": 0.7])
        f.rps = 1.3
        state.fleet.monitor.figures = f
        state.fleet.refresh()
        let screen = View.render(state)
        #expect(screen.line(0).contains("rps 1.3"), "\(screen.line(0))")
        let lines = screen.lines
        #expect(lines.first { $0.contains("demo-1") && $0.contains(" rps") }?.contains("0.6 rps") == true, "\(screen.text)")
        #expect(lines.first { $0.contains("demo-2") && $0.contains(" rps") }?.contains("0.7 rps") == true)
        // demo-3 has no series in Prometheus: its own figure, labelled as such.
        #expect(lines.first { $0.contains("demo-3") && $0.contains(" rps") }?.contains("3.0 rps (node 1m)") == true, "\(screen.text)")
        #expect(Fleet.instance(of: "https://10.0.0.1:8443/base") == "10.0.0.1:8443")
    }

    @Test func thePreviewsSpendStartsFromTheHeadersFigure() throws {
        let state = Self.costed()
        let header = state.fleet.summary(now: 1000).costPerHour
        #expect(abs(header - 3.18) < 1e-9)
        let p = try #require(Preview.of(.drainProvider("fast"), fleet: state.fleet, now: 1000))
        // Route chat's 6 req/s move from fast ($0.60/h for half) to cheap: -$0.30/h on the fleet's figure.
        #expect(abs(p.spendBefore! - header) < 1e-9)
        #expect(abs(p.spendAfter! - 2.88) < 1e-9)
        #expect(p.lines.contains("fleet spend $3.18/h -> $2.88/h (-$0.30/h)"), "\(p.lines)")
        #expect(View.render(state).line(0).contains("$/h $3.18"))
    }
}
