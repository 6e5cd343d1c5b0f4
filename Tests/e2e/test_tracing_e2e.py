"""Following one request with the real binaries: the JSON access log (a failover's line holds both
attempts, no key in it, reopened on SIGHUP for logrotate) and the request's ids at the provider."""
import json
import os
import signal
import subprocess
import time
import urllib.request

import openai

from conftest import Proc, binary

CLIENT_KEY = "sk-support-bot-e2e-0123456789"
PROVIDER_KEY = "sk-provider-secret-e2e-9876543210"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def gate_yaml(sim_urls, extra=""):
    return f"""node_id: trace-node
listen: 127.0.0.1:0
admin: {{listen: '127.0.0.1:0'}}
providers:
  - {{id: bad, base_url: '{sim_urls["bad"]}/v1', api_key_env: E2E_PROVIDER_KEY, price: {{input_per_1m: 1.0, output_per_1m: 2.0}}}}
  - {{id: good, base_url: '{sim_urls["good"]}/v1', api_key_env: E2E_PROVIDER_KEY, price: {{input_per_1m: 1.0, output_per_1m: 2.0}}}}
routes:
  - alias: chat
    tiers:
      - [{{provider: bad, model: sim-model, weight: 1000}}, {{provider: good, model: sim-model, weight: 1}}]
retry: {{max_attempts: 3, budget_ratio: 1, min_retries_per_second: 100}}
breaker: {{consecutive_failures: 1000, cooldown: 1, max_cooldown: 5}}
health_check: {{enabled: false}}
clients:
  - {{name: support-bot, key_env: E2E_CLIENT_KEY}}
{extra}
"""


def start(tmp_path, extra):
    sim = Proc([binary("clawsim"), "--provider", "bad,answer_status=503", "--provider", "good,latency_ms=1,latency_p99_ms=2"])
    config = tmp_path / "gw.yaml"
    config.write_text(gate_yaml(sim.info["providers"], extra))
    env = dict(os.environ, E2E_CLIENT_KEY=CLIENT_KEY, E2E_PROVIDER_KEY=PROVIDER_KEY)
    gate = Proc([binary("clawgate"), "--config", str(config)], env=env)
    return sim, gate


def chat(url, request_id, stream=False):
    c = openai.OpenAI(base_url=url + "/v1", api_key=CLIENT_KEY, max_retries=0, timeout=10)
    headers = {"x-request-id": request_id, "traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"}
    raw = c.chat.completions.with_raw_response.create(model="chat", messages=[{"role": "user", "content": "the private question"}],
                                                      stream=stream, extra_headers=headers)
    answer = raw.parse()
    if stream:
        for _ in answer:
            pass
    return raw.headers


def read_lines(path, want, timeout=5):
    deadline = time.time() + timeout
    while True:
        lines = [json.loads(l) for l in open(path).read().splitlines()] if os.path.exists(path) else []
        if len(lines) >= want or time.time() > deadline:
            return lines
        time.sleep(0.05)


def test_a_failovers_access_log_line_holds_both_attempts_no_key_and_sighup_reopens_the_file(tmp_path):
    log = tmp_path / "access.log"
    sim, gate = start(tmp_path, f"access_log: {{path: '{log}'}}")
    try:
        headers = chat(gate.info["url"], "support-0312")
        assert headers["x-request-id"] == "support-0312" and headers["x-clawgate-provider"] == "good"
        chat(gate.info["url"], "support-0313", stream=True)
        lines = read_lines(log, 2)
        assert [l["request_id"] for l in lines] == ["support-0312", "support-0313"]
        first = lines[0]
        assert first["trace_id"] == TRACE and first["client"] == "support-bot" and first["route"] == "chat"
        assert first["status"] == 200 and first["served_by"] == "good" and first["stream"] is False and lines[1]["stream"] is True
        assert [(a["provider"], a["status"], a["outcome"], a["fault"]) for a in first["attempts"]] == \
            [("bad", 503, "status_503", "provider"), ("good", 200, "ok", "none")]
        assert all(a["ms"] >= 0 for a in first["attempts"]) and first["total_ms"] >= first["attempts"][0]["ms"]
        assert first["tokens_in"] > 0 and first["tokens_out"] > 0 and first["cost_dollars"] > 0
        text = open(log).read()
        for secret in (CLIENT_KEY, PROVIDER_KEY, "private question"):
            assert secret not in text
        # The provider saw the client's trace and the request id.
        control = sim.info["control"]
        seen = json.load(urllib.request.urlopen(control + "/sim/providers/good/last-request-info", timeout=5))["headers"]
        assert seen["traceparent"].split("-")[1] == TRACE and seen["x-request-id"] == "support-0313"

        # logrotate: the file is moved away, SIGHUP, and the next line goes to a new file; the node keeps serving.
        os.rename(log, str(log) + ".1")
        gate.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        assert gate.proc.poll() is None, "SIGHUP stopped a node that has an access log file"
        chat(gate.info["url"], "support-0314")
        assert [l["request_id"] for l in read_lines(log, 1)] == ["support-0314"]
        assert len(read_lines(str(log) + ".1", 2)) == 2
        metrics = urllib.request.urlopen(gate.info["admin"] + "/metrics", timeout=5).read().decode()
        assert "clawgate_access_log_dropped_total 0" in metrics
    finally:
        assert gate.stop() == 0
        sim.stop()


def test_access_log_to_stdout_and_sighup_still_stops_a_node_without_a_log_file(tmp_path):
    sim, gate = start(tmp_path, "access_log: {path: stdout}")
    try:
        chat(gate.info["url"], "to-stdout")
        deadline = time.time() + 5
        line = None
        while time.time() < deadline and line is None:
            text = gate.proc.stdout.readline()
            if text:
                line = json.loads(text)
        assert line["request_id"] == "to-stdout" and len(line["attempts"]) == 2
    finally:
        assert gate.stop(signal.SIGHUP) == 0
        sim.stop()


def test_an_access_log_that_cannot_be_opened_refuses_the_start(tmp_path):
    sim = Proc([binary("clawsim"), "--provider", "bad", "--provider", "good"])
    try:
        config = tmp_path / "gw.yaml"
        config.write_text(gate_yaml(sim.info["providers"], "access_log: {path: /nonexistent-dir/access.log}"))
        r = subprocess.run([binary("clawgate"), "--config", str(config)], capture_output=True, text=True, timeout=20,
                           env=dict(os.environ, E2E_CLIENT_KEY=CLIENT_KEY, E2E_PROVIDER_KEY=PROVIDER_KEY))
        assert r.returncode == 2 and "access_log.path: cannot open '/nonexistent-dir/access.log'" in r.stderr
    finally:
        sim.stop()
