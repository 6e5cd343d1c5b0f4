import ClawCurl
import ClawTesting
import Foundation
import Testing

/// The libcurl boundary: every outcome comes back as a result with a status or a named error.
@Suite struct CurlTests {
    @Test func aBatchReportsEachRequestsOwnOutcome() async throws {
        let sim = try await TestFleet.simulator([TestFleet.provider("p")])
        let url = try #require(sim.providerURLs["p"])
        let curl = try CurlMulti()
        let results = curl.perform([
            HTTPRequestSpec(url: url + "/v1/models"),
            HTTPRequestSpec(url: "http://127.0.0.1:1/nothing", timeout: 2),
            HTTPRequestSpec(url: "ftp://127.0.0.1/file"),
            HTTPRequestSpec(url: url + "/v1/chat/completions", method: "POST", body: Array(#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#.utf8)),
        ])
        #expect(results.count == 4)
        #expect(results[0].ok && results[0].status == 200 && !results[0].body.isEmpty)
        #expect(results[1].error == "connection refused")
        #expect(results[2].error == "bad URL")
        #expect(results[3].ok, "\(String(describing: results[3].error))")
        #expect(curl.perform([]).isEmpty)
        // Two handles in one process: the global initialisation happens once and both work.
        let second = try CurlMulti()
        #expect(second.perform([HTTPRequestSpec(url: url + "/v1/models")]).first?.ok == true)
        await sim.stop()
    }
}
