import ClawAdminAPI
import ClawTopCore
import Foundation
import Testing

/// Issue 30, readable graphs: the scale never touches the next graph's title, units as people
/// write them, a time axis, rates from zero, a scale a start-up spike does not fix, the detail
/// sparklines with their scale, and the providers' faults beside the clients' errors.
@Suite struct GraphTests {
    /// The overview's graph title row, and where each graph's title starts on it.
    static func titles(_ screen: ScreenBuffer) -> (row: String, starts: [Int])? {
        guard let row = screen.lines.first(where: { $0.hasPrefix("requests/s ") }) else { return nil }
        let chars = Array(row)
        let starts = ["requests/s ", "errors ", "p99 ", "spend/h "].compactMap { title -> Int? in
            (0...(chars.count - title.count)).first { String(chars[$0..<($0 + title.count)]) == title }
        }
        return (row, starts)
    }

    @Test func allFourGraphsFrom120ColumnsAndNoScaleTouchesTheNextTitle() throws {
        for (w, h) in [(120, 40), (200, 60), (300, 90)] {
            for scene in [WarRoom.Scene.healthy, .incident] {
                let screen = View.render(WarRoom.state(scene, width: w, height: h))
                let (row, starts) = try #require(Self.titles(screen), "\(w)x\(h)")
                #expect(starts.count == 4, "\(w)x\(h): \(row)")
                let chars = Array(row)
                for start in starts.dropFirst() {
                    // At least two blank columns before each title after the first.
                    #expect(chars[start - 1] == " " && chars[start - 2] == " ", "\(w)x\(h) touches at \(start): \(row)")
                }
            }
        }
        // 80 columns keep one graph.
        let small = View.render(WarRoom.state(.healthy, width: 80, height: 24)).text
        #expect(small.contains("requests/s") && !small.contains("spend/h"))
    }

    @Test func unitsAsPeopleWriteThemAndRatesFromZero() throws {
        #expect(Format.seconds(0) == "0s" && Format.seconds(0.0004) == "400us" && Format.seconds(4.4) == "4.4s")
        for scene in [WarRoom.Scene.healthy, .incident] {
            let screen = View.render(WarRoom.state(scene, width: 120, height: 40))
            #expect(!screen.text.contains("0us"), "\(screen.text)")
            let (row, _) = try #require(Self.titles(screen))
            // Every scale starts at zero and carries its unit: 0..180, 0..5.0%, 0..1.2s, 0..$15.
            for scale in ["0..180", "0..1.2s", "0..$15.0"] { #expect(row.contains(scale), "\(scale) in \(row)") }
        }
        #expect(View.roundUp(4.37) == 4.4 && View.roundUp(174) == 180 && View.roundUp(0.8) == 0.8 && View.roundUp(0) == 0)
    }

    @Test func theRowUnderTheGraphsIsTheirTimeAxis() throws {
        let screen = View.render(WarRoom.state(.healthy, width: 120, height: 40))
        let lines = screen.lines
        let top = try #require(lines.firstIndex { $0.hasPrefix("requests/s ") })
        let axis = try #require(lines[top...].first { $0.hasPrefix("-") })
        // Two minutes of polls, once a second: -2m at the left, now at the right, under each graph.
        #expect(axis.hasPrefix("-2m") && axis.components(separatedBy: "now").count - 1 == 4, "\(axis)")
        #expect(View.ago(54) == "54s" && View.ago(300) == "5m" && View.ago(4800) == "1h20m")
        // Five minutes and more: several polls a column, the span said.
        var h = FleetHistory()
        for t in 0..<600 { h.append(Fleet.Summary(), at: Double(t) * 2) }
        let (ranges, span) = View.graphColumns(count: h.rps.count, times: h.times, now: 1200, width: 28)
        #expect(ranges.count == 28 && ranges.allSatisfy { $0.count == 5 } && ranges.last?.upperBound == 600)
        #expect(span.map(View.ago) == "5m", "\(String(describing: span))")
    }

    @Test func aStartUpSpikeDoesNotFixTheScale() {
        // 3 polls of 1000 req/s at start, then 100 for the rest of the five minutes.
        let values = [1000.0, 1000, 1000] + [Double](repeating: 100, count: 57)
        #expect(View.scaleTop(values) == 150, "the spike is drawn to the top of a scale of about the rest")
        #expect(View.scaleTop([100, 120, 90, 110]) == 120, "a series without a spike keeps its highest value")
        #expect(View.scaleTop([100, 100, 100, 400]) == 400, "the newest value always fits")
        // On the overview: 15 s of 1000 req/s at start, then 100 for four and a half minutes.
        var state = WarRoom.state(.healthy, width: 120, height: 40)
        state.fleetHistory.rps = [Double](repeating: 1000, count: 15) + [Double](repeating: 100, count: 265)
        state.fleetHistory.times = (0..<280).map { state.now - 280 + Double($0) }
        let row = View.render(state).lines.first { $0.hasPrefix("requests/s ") } ?? ""
        #expect(row.contains("0..150") && !row.contains("0..1000"), "\(row)")
    }

    @Test func theErrorsGraphShowsTheProvidersFaultsBesideTheClientsErrors() throws {
        // cheap fails 20 % of its attempts; failover hides most of it: 0.4 % reach the clients.
        let state = WarRoom.state(.incident, width: 120, height: 40)
        #expect(abs((state.fleetHistory.providerFaults.last ?? 0) - 0.05) < 0.001 && (state.fleetHistory.errorRatio.last ?? 1) < 0.01)
        let screen = View.render(state)
        #expect(screen.text.contains("errors 0.4%") && screen.text.contains("░ faults 5.0%"), "\(screen.text)")
        let faultCells = (0..<screen.height).flatMap { y in (0..<screen.width).map { screen[$0, y] } }.filter { $0.character == "░" && $0.role == .warn }
        #expect(faultCells.count > 20, "the faults drawn in their own shade")
        // Wider graphs name them in full.
        #expect(View.render(WarRoom.state(.incident, width: 200, height: 60)).text.contains("░ provider faults 5.0%"))
        // From Prometheus: the fleet's share of attempts that failed by the provider's fault.
        // (drills' injected faults count as the provider's, as they do on the nodes)
        #expect(PromQL.Figure.fleetProviderFaults.expression.contains(#"clawgate_upstream_attempts_total{fault=~"provider|drill"}"#))
        var figures = PrometheusFigures(at: 0)
        figures = PromQL.figures([.fleetProviderFaults: [PromQL.Sample(labels: [:], value: 0.17)]], at: 0)
        #expect(figures.providerFaultRatio == 0.17)
    }

    @Test func theDetailSparklinesCarryTheirScale() {
        #expect(View.scaledSparkline([0, 0.6, 1.2], width: 10, format: { Format.seconds($0) }, ascii: false) == "▁▅█  0..1.2s")
        // Where the detail has no room for graphs, its sparklines say their scale.
        var state = WarRoom.state(.healthy, width: 120, height: 24)
        Reducer.reduce(&state, .selectPane(.providers))
        Reducer.reduce(&state, .openDetail)
        let text = View.render(state).text
        #expect(text.contains("latency p50") && text.contains("  0..50ms") && text.contains("  0..$1.50"), "\(text)")
    }

    @Test func historiesFromPrometheusAndPollsStayAligned() {
        var h = FleetHistory()
        h.append(Fleet.Summary(), at: 100)
        h.prepend(FleetHistory(rps: [1, 2, 3], errorRatio: [], p99: [], costPerHour: []))
        #expect(h.rps == [1, 2, 3, 0] && h.providerFaults.count == 4 && h.times.count == 4 && h.errorRatio == [0, 0, 0, 0])
        #expect(h.times.last == 100 && h.times == h.times.sorted())
    }
}
