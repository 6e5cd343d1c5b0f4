"""End-to-end: the data plane under real traffic, with the real binaries (issue 12)."""
import json
import os
import resource
import subprocess
import tempfile
import urllib.error
import urllib.request

from conftest import Proc, binary, gateway_yaml


def post(url, body, timeout=10):
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_five_thousand_concurrent_streams_through_one_node_all_complete():
    # clawbench opens 5,000 streams at once against clawsim through one clawgate node (both
    # started by it) and checks every stream got every event; a debug build on 2 cores is slow,
    # so the streams are short and the client patient.
    r = subprocess.run([binary("clawbench"), "streams", "--bin", os.path.dirname(binary("clawgate")), "--concurrency", "5000",
                        "--tokens", "5", "--rate", "5", "--through-only", "--json"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    figures = json.loads(r.stdout.strip().splitlines()[-1])
    gateway = figures["gateway"]
    assert gateway["failed"] == 0 and gateway["succeeded"] == 5000, gateway["failures"]
    assert figures["node_rss_peak_kb"] > figures["node_rss_idle_kb"]


def test_the_provider_receives_the_clients_bytes(fleet):
    sent = (b'{\n  "messages": [{"role": "user", "content": "caf\\u00e9 \xf0\x9f\xa6\x80 \\"q\\""}],\n'
            b'  "seed": 9007199254740993, "max_tokens": 12345678901234567, "temperature": 0.70, "x": 1E+2,\n'
            b'  "model": "chat", "vendor_extension": {"b": [true, null], "a": -0.0}\n}')
    status, answer = post(fleet["url"] + "/v1/chat/completions", sent)
    assert status == 200, answer
    served = json.loads(answer)["model"]  # clawsim echoes the model it was asked for
    assert served == "sim-model"
    received = []
    for provider in ("fast", "other"):
        try:
            with urllib.request.urlopen(f"{fleet['control']}/sim/providers/{provider}/last-request", timeout=5) as r:
                received.append(r.read())
        except urllib.error.HTTPError as e:
            assert e.code == 404  # the provider that was not chosen has had no request
    assert received == [sent.replace(b'"model": "chat"', b'"model": "sim-model"')]


def test_a_body_that_is_not_valid_utf8_is_refused_and_not_forwarded(fleet):
    before = json.load(urllib.request.urlopen(fleet["control"] + "/sim/providers", timeout=5))
    status, answer = post(fleet["url"] + "/v1/chat/completions",
                          b'{"model": "chat", "messages": [{"role": "user", "content": "\xc3\x28"}]}')
    assert status == 400 and json.loads(answer)["error"]["code"] == "invalid_json"
    assert "UTF-8" in json.loads(answer)["error"]["message"]
    after = json.load(urllib.request.urlopen(fleet["control"] + "/sim/providers", timeout=5))
    assert [p["requests"] for p in before["providers"]] == [p["requests"] for p in after["providers"]]


def test_a_limit_the_open_file_limit_cannot_hold_refuses_the_start(tmp_path):
    sim = Proc([binary("clawsim"), "--provider", "p"])
    try:
        config = tmp_path / "gate.yaml"
        config.write_text(gateway_yaml(sim.info["providers"], "limits: {max_in_flight: 5000}"))

        def low_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))

        r = subprocess.run([binary("clawgate"), "--config", str(config)], capture_output=True, text=True, timeout=30,
                           preexec_fn=low_limit)
        assert r.returncode == 2, r.stderr
        assert "limits.max_in_flight is 5000" in r.stderr and "ulimit -n 10256" in r.stderr, r.stderr
        # Unset, the limit is derived from what the process can hold, and the node starts.
        config.write_text(gateway_yaml(sim.info["providers"]))
        gate = subprocess.Popen([binary("clawgate"), "--config", str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, preexec_fn=low_limit)
        try:
            url = json.loads(gate.stdout.readline())["admin"]
            metrics = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
            assert "clawgate_max_in_flight 384" in metrics, [l for l in metrics.splitlines() if "max_in_flight" in l]
        finally:
            gate.terminate()
            gate.wait(timeout=10)
    finally:
        sim.stop()
