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
VIEWER = "viewer-token-tracing-e2e-0123456789"


def gate_yaml(sim_urls, extra=""):
    return f"""node_id: trace-node
listen: 127.0.0.1:0
admin: {{listen: '127.0.0.1:0', tokens: [{{name: wall, role: viewer, env: E2E_VIEWER}}]}}
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
    env = dict(os.environ, E2E_CLIENT_KEY=CLIENT_KEY, E2E_PROVIDER_KEY=PROVIDER_KEY, E2E_VIEWER=VIEWER)
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
                           env=dict(os.environ, E2E_CLIENT_KEY=CLIENT_KEY, E2E_PROVIDER_KEY=PROVIDER_KEY, E2E_VIEWER=VIEWER))
        assert r.returncode == 2 and "access_log.path: cannot open '/nonexistent-dir/access.log'" in r.stderr
    finally:
        sim.stop()


# --- OpenTelemetry spans, received by a real OTLP/HTTP receiver -------------------------------

import gzip  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import threading  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2  # noqa: E402
from opentelemetry.proto.trace.v1 import trace_pb2  # noqa: E402


class Receiver:
    """An OTLP/HTTP traces receiver: decodes every ExportTraceServiceRequest it is sent."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                request = trace_service_pb2.ExportTraceServiceRequest()
                request.ParseFromString(body)
                with outer.lock:
                    outer.requests.append((self.path, self.headers.get("content-type"), request))
                answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def spans(self):
        """(resource attributes, span) for every span received."""
        out = []
        with self.lock:
            for _, _, request in self.requests:
                for rs in request.resource_spans:
                    resource = {a.key: a.value.string_value for a in rs.resource.attributes}
                    for ss in rs.scope_spans:
                        for span in ss.spans:
                            out.append((resource, span))
        return out

    def wait_for(self, predicate, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = predicate(self.spans())
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"spans never arrived; got {[(s.name, s.kind) for _, s in self.spans()]}")


def attrs(span):
    out = {}
    for a in span.attributes:
        v = a.value
        kind = v.WhichOneof("value")
        out[a.key] = list(x.string_value for x in v.array_value.values) if kind == "array_value" else getattr(v, kind)
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_traced(tmp_path, endpoint):
    sim = Proc([binary("clawsim"), "--provider", "bad,answer_status=503", "--provider", "good,latency_ms=1,latency_p99_ms=2"])
    config = tmp_path / "gw.yaml"
    config.write_text(gate_yaml(sim.info["providers"]))
    env = dict(os.environ, E2E_CLIENT_KEY=CLIENT_KEY, E2E_PROVIDER_KEY=PROVIDER_KEY, E2E_VIEWER=VIEWER, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
               OTEL_SERVICE_NAME="clawgate-e2e", OTEL_TRACES_SAMPLER="always_on", OTEL_BSP_SCHEDULE_DELAY="200",
               OTEL_RESOURCE_ATTRIBUTES="deployment.environment=e2e")
    gate = Proc([binary("clawgate"), "--config", str(config)], env=env)
    return sim, gate


def test_spans_reach_a_real_otlp_receiver_as_a_tree_with_the_genai_attributes(tmp_path):
    receiver = Receiver()
    sim, gate = start_traced(tmp_path, f"http://127.0.0.1:{receiver.port}")
    try:
        headers = chat(gate.info["url"], "span-1")
        assert headers["x-clawgate-provider"] == "good"
        control = sim.info["control"]
        seen = json.load(urllib.request.urlopen(control + "/sim/providers/good/last-request-info", timeout=5))["headers"]

        def tree(spans):
            mine = [s for _, s in spans if s.trace_id.hex() == TRACE]
            servers = [s for s in mine if s.kind == trace_pb2.Span.SPAN_KIND_SERVER]
            clients = [s for s in mine if s.kind == trace_pb2.Span.SPAN_KIND_CLIENT]
            return (servers, clients) if len(servers) == 1 and len(clients) == 2 else None

        servers, clients = receiver.wait_for(tree)
        server = servers[0]
        # One server span whose parent is the client's span; one client span per attempt under it.
        assert server.name == "chat chat" and server.parent_span_id.hex() == "00f067aa0ba902b7"
        assert all(c.parent_span_id == server.span_id for c in clients)
        clients.sort(key=lambda c: attrs(c)["clawgate.attempt"])
        bad, good = clients
        # The provider saw the client's trace id, with the gateway's attempt span as its parent.
        assert seen["traceparent"] == f"00-{TRACE}-{good.span_id.hex()}-01"
        a = attrs(server)
        assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.request.model"] == "chat" and a["gen_ai.provider.name"] == "openai"
        assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0 and a["clawgate.cost_dollars"] > 0
        assert a["clawgate.route"] == "chat" and a["clawgate.client"] == "support-bot" and a["clawgate.request_id"] == "span-1"
        assert a["clawgate.attempts"] == 2 and a["clawgate.fault"] == "none" and a["http.response.status_code"] == 200
        b, g = attrs(bad), attrs(good)
        assert bad.name == "chat sim-model" and b["gen_ai.request.model"] == "sim-model" and b["clawgate.attempt"] == 1
        assert b["error.type"] == "status_503" and b["clawgate.fault"] == "provider" and b["http.response.status_code"] == 503
        assert bad.status.code == trace_pb2.Status.STATUS_CODE_ERROR
        assert b["server.address"] == "127.0.0.1" and b["server.port"] == int(sim.info["providers"]["bad"].rsplit(":", 1)[1])
        assert g["clawgate.attempt"] == 2 and "error.type" not in g and g["gen_ai.response.model"] == "sim-model"
        assert g["gen_ai.response.id"].startswith("chatcmpl") and g["gen_ai.response.finish_reasons"] == ["stop"]
        assert g["gen_ai.usage.output_tokens"] > 0 and g["clawgate.fault"] == "none" and "clawgate.ttft_seconds" in g
        resource = next(r for r, s in receiver.spans() if s.span_id == server.span_id)
        assert resource["service.name"] == "clawgate-e2e" and resource["deployment.environment"] == "e2e"
        # No message content and no key in anything exported.
        raw = b"".join(r.SerializeToString() for _, _, r in receiver.requests)
        for secret in (b"private question", CLIENT_KEY.encode(), PROVIDER_KEY.encode()):
            assert secret not in raw
        assert all(path == "/v1/traces" for path, _, _ in receiver.requests)

        # A stream: its server span ends with the stream, and carries what the stream said.
        chat(gate.info["url"], "span-2", stream=True)
        streamed = receiver.wait_for(lambda spans: [s for _, s in spans if s.kind == trace_pb2.Span.SPAN_KIND_SERVER
                                                    and attrs(s).get("clawgate.request_id") == "span-2"])
        assert attrs(streamed[0])["clawgate.stream"] is True and attrs(streamed[0])["gen_ai.usage.output_tokens"] > 0
    finally:
        gate.stop()
        sim.stop()
        receiver.stop()


def latencies(url, n):
    out = []
    for i in range(n):
        start = time.perf_counter()
        chat(url, f"lat-{i}")
        out.append(time.perf_counter() - start)
    return out


def test_with_the_receiver_stopped_requests_keep_their_latency_and_dropped_spans_are_counted(tmp_path):
    receiver = Receiver()
    sim, gate = start_traced(tmp_path, f"http://127.0.0.1:{receiver.port}")
    try:
        up = statistics.median(latencies(gate.info["url"], 40))
        receiver.wait_for(lambda spans: len(spans) >= 40)
        receiver.stop()
        down = statistics.median(latencies(gate.info["url"], 40))
        assert down < up * 2 + 0.005, f"median {down * 1000:.1f} ms with the collector down against {up * 1000:.1f} ms up"
        deadline = time.time() + 20
        dropped = 0
        while time.time() < deadline and dropped == 0:
            metrics = urllib.request.urlopen(gate.info["admin"] + "/metrics", timeout=5).read().decode()
            dropped = float(next(l.split()[-1] for l in metrics.splitlines() if l.startswith("clawgate_spans_dropped_total")))
            time.sleep(0.2)
        assert dropped > 0, "spans that could not be exported were not counted"
    finally:
        gate.stop()
        sim.stop()


# --- The console: the Requests pane in tmux, and clawtop --requests --------------------------

import shutil  # noqa: E402

import pytest  # noqa: E402

from test_clawtop_e2e import Tmux  # noqa: E402


def clawtop(*args):
    env = {k: v for k, v in os.environ.items() if k != "TERM"}
    env["CLAWTOP_TOKEN"] = VIEWER
    return subprocess.run([binary("clawtop"), *args], capture_output=True, text=True, timeout=30, env=env)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by .ci/run")
def test_the_requests_pane_shows_a_failed_over_request_and_enter_names_both_providers(tmp_path):
    sim, gate = start(tmp_path, "")
    t = None
    try:
        chat(gate.info["url"], "pane-0312")
        t = Tmux(f"env TERM=xterm-256color CLAWTOP_TOKEN={VIEWER} {binary('clawtop')} --refresh 0.5 --node {gate.info['admin']}",
                 width=140, height=30)
        t.wait_for("bad")
        t.keys("8")
        screen = t.wait_for("support-bot")
        row = next(line for line in screen.splitlines() if "support-bot" in line)
        assert "200" in row and "good" in row and "2: bad status_503 > good ok" in row, screen
        t.keys("/")
        t.keys(*"pane-0312")
        t.keys("Enter")
        t.keys("Enter")
        screen = t.wait_for("Request pane-0312")
        attempts = [line for line in screen.splitlines() if "sim-model" in line]
        assert len(attempts) == 2 and "bad" in attempts[0] and "503" in attempts[0] and "good" in attempts[1], screen
        assert f"trace id {TRACE}" in screen and "served by good after 2 attempt(s)" in screen
        t.keys("Escape")
        t.wait_for("ATTEMPTS")
        t.keys("q")
    finally:
        if t:
            t.kill()
        gate.stop()
        sim.stop()


def test_clawtop_requests_prints_the_same_for_scripts(tmp_path):
    sim, gate = start(tmp_path, "")
    try:
        chat(gate.info["url"], "script-1")
        chat(gate.info["url"], "script-2", stream=True)
        r = clawtop("--requests", "--since", "10m", "--client", "support-bot", "--format", "json", "--node", gate.info["admin"])
        assert r.returncode == 0, r.stdout + r.stderr
        report = json.loads(r.stdout)
        assert report["schema"] == "clawtop.requests.v1" and report["unread"] == []
        assert [q["request_id"] for q in report["requests"]] == ["script-2", "script-1"]
        first = report["requests"][1]
        assert first["node"] == "trace-node" and first["trace_id"] == TRACE and first["status"] == 200
        assert [a["provider"] for a in first["attempts"]] == ["bad", "good"]
        assert clawtop("--requests", "--client", "nobody", "--format", "json", "--node", gate.info["admin"]).stdout.count("request_id") == 0
        text = clawtop("--requests", "--node", gate.info["admin"])
        assert text.returncode == 0 and "script-1" in text.stdout and "attempt 1: bad sim-model status 503" in text.stdout
        assert clawtop("--requests", "--since", "soon", "--node", gate.info["admin"]).returncode != 0
        dead = clawtop("--requests", "--node", "http://127.0.0.1:9")
        assert dead.returncode == 1 and "NOT READ" in dead.stdout
    finally:
        gate.stop()
        sim.stop()
