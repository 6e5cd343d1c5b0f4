import ClawAdminAPI
import ClawShared
import ClawTopCore
import Foundation
import Testing

/// The drill's report from looks at a synthetic fleet: each phase timed from the injection, the
/// verdict against the RTO, and the timeline's entries marked as a drill.
@Suite struct DrillReportTests {
    static let spec = FaultCommand(kind: .outage, provider: "fast", duration: 10, durationText: "10s")
    static let t0 = 1_700_000_000.0

    /// Two nodes; every half second each sends 10 attempts over the route, 7 of them to fast until
    /// its circuit opens (node-1 at +3.0 s, node-2 at +3.5 s after the injection at +1 s), none after.
    /// The fault ends at +11 s; fast is healthy again on both at +14 s. One client error on node-1.
    func samples() -> [DrillReport.Sample] {
        var out: [DrillReport.Sample] = []
        var attempts = [0, 0]
        var total = [0, 0]
        var time = Self.t0
        while time <= Self.t0 + 16 {
            let nodes = (0..<2).map { n -> DrillReport.NodeSample in
                let out = time >= Self.t0 + (n == 0 ? 3.0 : 3.5) && time < Self.t0 + 14
                let faulted = time >= Self.t0 + 1 && time < Self.t0 + 11
                return DrillReport.NodeSample(node: "node-\(n + 1)", state: out ? .ejected : .healthy, circuit: out ? .open : .closed, faulted: faulted,
                                              attempts: attempts[n], routeAttempts: total[n], requests: total[n] / 2,
                                              errors: n == 0 && time >= Self.t0 + 2 ? 1 : 0, p99: faulted ? 0.8 : 0.2,
                                              attempts1m: 70, routeAttempts1m: 100)
            }
            out.append(DrillReport.Sample(time: time, nodes: nodes, costPerHour: time < Self.t0 + 1 ? 2.0 : 2.5))
            for n in 0..<2 {
                let out = time >= Self.t0 + (n == 0 ? 3.0 : 3.5) && time < Self.t0 + 14
                attempts[n] += out ? 0 : 7
                total[n] += 10
            }
            time += 0.5
        }
        return out
    }

    func events() -> [Event] {
        [Event(sequence: 1, time: Self.t0 + 1.1, node: "node-1", kind: .faultStarted, subject: "fast", detail: "drill: outage on every attempt for 10s"),
         Event(sequence: 1, time: Self.t0 + 1.2, node: "node-2", kind: .faultStarted, subject: "fast", detail: "drill: outage on every attempt for 10s"),
         Event(sequence: 2, time: Self.t0 + 3.0, node: "node-1", kind: .circuitOpened, subject: "fast", detail: "3 consecutive failures, last: connect_error (drill)"),
         Event(sequence: 2, time: Self.t0 + 3.5, node: "node-2", kind: .circuitOpened, subject: "fast", detail: "3 consecutive failures, last: connect_error (drill)"),
         Event(sequence: 3, time: Self.t0 + 11, node: "node-1", kind: .faultEnded, subject: "fast", detail: "outage ended by an operator after 10s"),
         Event(sequence: 3, time: Self.t0 + 11, node: "node-2", kind: .faultEnded, subject: "fast", detail: "outage ended by an operator after 10s"),
         Event(sequence: 4, time: Self.t0 + 14, node: "node-1", kind: .circuitClosed, subject: "fast", detail: "request succeeded"),
         Event(sequence: 4, time: Self.t0 + 14, node: "node-2", kind: .circuitClosed, subject: "fast", detail: "request succeeded")]
    }

    func report(rto: Double, samples: [DrillReport.Sample]? = nil, injected: Bool = true) -> DrillReport {
        let nodes = ["node-1", "node-2"].map { name in Timeline.NodeInput(name: name, events: events().filter { $0.node == name }, audit: []) }
        let timeline = Timeline.build(nodes: nodes, alerts: [], since: Self.t0)
        return DrillReport.build(spec: Self.spec, rto: rto, injectedAt: injected ? Self.t0 + 1 : nil, endedAt: injected ? Self.t0 + 11 : nil,
                                 samples: samples ?? self.samples(), events: events(), timeline: timeline)
    }

    @Test func eachPhaseIsTimedFromTheInjection() throws {
        let r = report(rto: 30)
        #expect(r.detection.map(\.node) == ["node-1", "node-2"] && r.detection.map(\.seconds) == [2.0, 2.5])
        #expect(r.timeToDetect == 2.5, "out of rotation on every node")
        #expect(r.timeToMitigate == 2.5, "the share stayed under 1 % from the look at +3.5 s: \(String(describing: r.timeToMitigate))")
        #expect(r.shareBefore == 0.7)
        #expect(r.errors == 1 && r.requests > 0)
        #expect(r.p99During == 0.8 && r.costBefore == 2.0 && r.costDuring == 2.5)
        #expect(r.timeToRecover == 3.0, "back in rotation on both at +14 s, 3 s after the end")
        #expect(r.passed && r.verdict == "PASS: mitigated in 2.5s, within the RTO of 30s")
        // The timeline underneath calls the incident a drill.
        #expect(r.timeline.incidents.count == 1 && r.timeline.incidents[0].drill)
        #expect(r.timeline.entries.contains { $0.kind == .drill && $0.text.hasPrefix("drill fault started on fast on 2 of 2 nodes") })
        #expect(r.text.contains("incident 1: fast (drill)"), "\(r.text)")
    }

    @Test func aTightObjectiveFailsAndSaysByHowMuch() {
        let r = report(rto: 0.001)
        #expect(!r.passed && r.verdict == "FAIL: mitigated in 2.5s, more than the RTO of 1ms")
        #expect(r.json["result"]?.stringValue == "fail")
    }

    @Test func noTrafficOrNoFaultIsAFailNotAPass() {
        let quiet = samples().map { sample -> DrillReport.Sample in
            var s = sample
            s.nodes = s.nodes.map { n in
                var n = n
                (n.attempts, n.routeAttempts, n.requests) = (0, 0, 0)
                return n
            }
            return s
        }
        let idle = report(rto: 30, samples: quiet)
        #expect(!idle.passed && idle.verdict.contains("no traffic reached fast's routes"), "\(idle.verdict)")
        let never = report(rto: 30, injected: false)
        #expect(!never.passed && never.verdict.contains("never in force"))
    }

    @Test func theJSONHoldsThePhasesAndTheTimeline() throws {
        let json = try JSONValue.parse(bytes: report(rto: 30).json.bytes(sorted: true))
        #expect(json["schema"]?.stringValue == "clawtop.drill.v1" && json["result"]?.stringValue == "pass")
        #expect(json["phases"]?["detect"]?["seconds"]?.doubleValue == 2.5)
        #expect(json["phases"]?["detect"]?["out_of_rotation"]?["node-2"]?.doubleValue == 2.5)
        #expect(json["phases"]?["mitigate"]?["seconds"]?.doubleValue == 2.5)
        #expect(json["phases"]?["recover"]?["seconds"]?.doubleValue == 3)
        #expect(json["clients"]?["errors"]?.intValue == 1)
        #expect(json["timeline"]?["incidents"]?.arrayValue?.first?["drill"]?.boolValue == true)
        #expect(json["drill"]?["spec"]?.stringValue == "outage provider fast 10s" && json["rto_seconds"]?.doubleValue == 30)
        let markdown = report(rto: 30).markdown
        #expect(markdown.hasPrefix("# Drill: outage provider fast 10s") && markdown.contains("**PASS**") && markdown.contains("## Timeline"))
    }
}
