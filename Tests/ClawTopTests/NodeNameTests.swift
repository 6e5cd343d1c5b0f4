import ClawAdminAPI
import ClawTopCore
import Testing

/// Nodes are named by node id wherever the console names them, once it has read them.
@Suite struct NodeNameTests {
    @Test func alertsStatusAndErrorsNameNodesByIdNotAddress() {
        // demo-2 (http://127.0.0.1:9101) was read, then stopped answering.
        var state = WarRoom.state(.incident, width: 160, height: 50)
        Reducer.reduce(&state, .monitorPolled(MonitorPoll(alerts: [
            AlertInfo(name: "ClawgateCircuitOpen", severity: "critical", summary: "Circuit of fast is open on 127.0.0.1:9101", since: 10_100,
                      labels: ["instance": "127.0.0.1:9101", "provider": "fast"], silenced: false, fingerprint: "c"),
        ], at: 10_119)))
        let reasons = state.fleet.status(now: state.now).reasons
        #expect(reasons.contains { $0.hasPrefix("node demo-2 is unreachable") }, "\(reasons)")
        #expect(reasons.contains("alert ClawgateCircuitOpen{instance=demo-2,provider=fast} (critical) is firing: Circuit of fast is open on demo-2"), "\(reasons)")
        Reducer.reduce(&state, .selectPane(.alerts))
        let alerts = View.render(state).text
        #expect(alerts.contains("Circuit of fast is open on demo-2") && !alerts.contains("127.0.0.1:9101"), "\(alerts)")
        Reducer.reduce(&state, .selectPane(.nodes))
        Reducer.reduce(&state, .moveSelection(1))
        let nodes = View.render(state).text
        #expect(nodes.contains("demo-2: connection refused") && !nodes.contains("http://127.0.0.1:9101: "), "\(nodes)")
        // `z` still silences the alert as Alertmanager knows it.
        #expect(state.fleet.monitor.alerts[0].selector == "ClawgateCircuitOpen{instance=127.0.0.1:9101,provider=fast}")
    }
}
