"""End-to-end: the node's sockets cannot be held by slow or silent clients (issue 25)."""
import json
import os
import select
import socket
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from conftest import Proc, binary, gateway_yaml

CHAT = b'{"model": "chat", "messages": [{"role": "user", "content": "hi"}]}'


def get(url, timeout=5, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def post(url, body, timeout=10, headers=None):
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json", **(headers or {})}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def metric(text, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(name + "{"):
            got = ",".join(sorted(line[line.index("{") + 1:line.index("}")].split(",")))
            if got == want:
                return float(line.rsplit(" ", 1)[1])
    return None


def start_node(sim, extra, nofile=None, token=None):
    """clawgate as a subprocess, under `prlimit --nofile` when given (soft and hard, so the node
    cannot raise it)."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(gateway_yaml(sim.info["providers"], extra))
        path = f.name
    args = [binary("clawgate"), "--config", path]
    if nofile:
        args = ["prlimit", f"--nofile={nofile}:{nofile}", "--"] + args
    env = dict(os.environ)
    if token:
        env["E2E_OPERATOR_TOKEN"] = token
    gate = Proc(args, env=env)
    return gate, path


@pytest.fixture
def sim():
    s = Proc([binary("clawsim"), "--provider", "fast,latency_ms=1,latency_p99_ms=2,tokens_per_second=500"])
    yield s
    s.stop()


def host_port(url):
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def closed_within(sock, seconds):
    """Wait for the peer to close; returns (closed, bytes it sent first)."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + seconds
    got = b""
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True, got
        if not chunk:
            return True, got
        got += chunk
    return False, got


def test_slowloris_connections_are_closed_after_the_header_timeout_and_chat_keeps_answering(sim):
    gate, path = start_node(sim, "limits: {header_timeout: 1.5, idle_timeout: 3}")
    try:
        addr = host_port(gate.info["url"])
        slow = [socket.create_connection(addr) for _ in range(50)]
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 64
        started = time.monotonic()
        for index in range(8):  # a byte each 0.3 s: each one alone would reset an idle clock
            for s in slow:
                try:
                    s.sendall(request[index:index + 1])
                except OSError:
                    pass  # already closed by the node
            # chat and /healthz answer while the slow clients hold their sockets
            assert post(gate.info["url"] + "/v1/chat/completions", CHAT)[0] == 200
            assert get(gate.info["url"] + "/healthz")[0] == 200
            time.sleep(0.3)
        for s in slow:
            closed, answer = closed_within(s, 3)
            assert closed, "a slowloris connection was still open 4 s after it started"
            assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer  # bytes sent after the close may reset it
        assert time.monotonic() - started < 5
        metrics = get(gate.info["admin"] + "/metrics")[1].decode()
        assert metric(metrics, "clawgate_connections_timed_out_total", listener="data", kind="header") >= 50
        # a keep-alive connection with nothing to say is closed after idle_timeout
        idle = socket.create_connection(addr)
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        closed, answer = closed_within(idle, 5)
        assert closed and answer.startswith(b"HTTP/1.1 200"), answer
        assert b"408" not in answer
    finally:
        gate.stop()
        os.unlink(path)


def test_silent_connections_under_a_low_file_limit_are_refused_over_the_cap_then_closed_when_idle(sim):
    # 600 descriptors: max_in_flight (600-256)/2 = 172, and 600-256-172 = 172 client connections.
    gate, path = start_node(sim, "limits: {header_timeout: 1, idle_timeout: 2}", nofile=600)
    try:
        addr = host_port(gate.info["url"])
        metrics = get(gate.info["admin"] + "/metrics")[1].decode()
        assert metric(metrics, "clawgate_max_connections", listener="data") == 172
        silent = [socket.create_connection(addr) for _ in range(400)]
        time.sleep(0.5)
        answered, _, _ = select.select(silent, [], [], 0)  # the refused ones: a 503, then the close
        refused = 0
        for s in answered:
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                data = b""
            assert data == b"" or data.startswith(b"HTTP/1.1 503"), data
            refused += 1
        assert refused == 400 - 172, refused
        # the admin listener answers while the client port is full
        assert get(gate.info["admin"] + "/healthz")[0] == 200
        assert get(gate.info["admin"] + "/readyz")[0] == 200
        assert metric(get(gate.info["admin"] + "/metrics")[1].decode(), "clawgate_connections_open", listener="data") == 172
        # after the idle timeout every silent socket is closed and the node answers again
        time.sleep(2.5)
        for s in silent:
            assert closed_within(s, 1)[0]
            s.close()
        assert get(gate.info["url"] + "/healthz")[0] == 200
        assert post(gate.info["url"] + "/v1/chat/completions", CHAT)[0] == 200
        metrics = get(gate.info["admin"] + "/metrics")[1].decode()
        assert metric(metrics, "clawgate_connections_refused_total", listener="data") == 400 - 172
        assert metric(metrics, "clawgate_connections_timed_out_total", listener="data", kind="idle") >= 172
        assert gate.proc.poll() is None
    finally:
        gate.stop()
        os.unlink(path)


def test_the_admin_api_and_metrics_live_on_their_own_listener(sim):
    gate, path = start_node(sim, "")
    try:
        data, admin = gate.info["url"], gate.info["admin"]
        assert host_port(admin)[0] == "127.0.0.1" and admin != data
        for path_ in ("/metrics", "/admin/v1/snapshot", "/admin/v1/state"):
            assert get(data + path_)[0] == 404, path_
        assert get(admin + "/metrics")[0] == 200
        assert get(admin + "/admin/v1/snapshot")[0] == 401  # no token: the admin API is there
        for probe in ("/healthz", "/readyz"):
            assert get(data + probe)[0] == 200 and get(admin + probe)[0] == 200
        assert get(admin + "/v1/models")[0] == 404
    finally:
        gate.stop()
        os.unlink(path)


OPERATOR_TOKEN = "front-door-operator-0123456789"


def raw_exchange(url, data, timeout=3):
    """Send raw bytes, read what comes back until the peer closes or goes quiet."""
    sock = socket.create_connection(host_port(url))
    try:
        sock.sendall(data)
        return closed_within(sock, timeout)[1]
    finally:
        sock.close()


def test_minor_errors_are_each_clear_and_json(sim, tmp_path):
    """Issue 25, point 13: each of these got a wrong or empty answer."""
    extra = ("admin:\n  state_dir: " + str(tmp_path / "state") + "\n  tokens:\n"
             "    - {name: ops, role: operator, env: E2E_OPERATOR_TOKEN}\n")
    gate, path = start_node(sim, extra, token=OPERATOR_TOKEN)
    auth = {"authorization": "Bearer " + OPERATOR_TOKEN}
    try:
        data, admin = gate.info["url"], gate.info["admin"]
        # A bad chunk size is a bad body (400), not "larger than 8 MiB" (413).
        answer = raw_exchange(data, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                    b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400"), answer
        assert json.loads(body)["error"]["code"] == "bad_body" and b"chunk size" in body, body
        # A too-large admin body gets the JSON error shape, with or without a content length.
        big = json.dumps({"reason": "x" * 100_000}).encode()
        status, body = post(admin + "/admin/v1/providers/fast/drain", big, headers=auth)
        assert status == 413 and json.loads(body)["error"]["code"] == "body_too_large", body
        chunked = (b"POST /admin/v1/providers/fast/drain HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + OPERATOR_TOKEN.encode()
                   + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                   + b"".join(b"%x\r\n%s\r\n" % (len(big[i:i + 8192]), big[i:i + 8192]) for i in range(0, len(big), 8192)) + b"0\r\n\r\n")
        head, _, body = raw_exchange(admin, chunked).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413") and json.loads(body)["error"]["code"] == "body_too_large", head + body
        # A deeply nested body says so.
        status, body = post(admin + "/admin/v1/providers/fast/drain", b"[" * 5000 + b"]" * 5000, headers=auth)
        assert status == 400 and "nested too deeply" in json.loads(body)["error"]["message"], body
        # HEAD on a read answers its headers and no body.
        request = urllib.request.Request(admin + "/admin/v1/snapshot", method="HEAD", headers=auth)
        with urllib.request.urlopen(request, timeout=5) as r:
            assert r.status == 200 and int(r.headers["content-length"]) > 100 and r.headers["etag"] and r.read() == b""
        # Nothing was drained by any of it.
        status, body = get(admin + "/admin/v1/state", headers=auth)
        assert status == 200 and json.loads(body)["drained_providers"] == []
    finally:
        gate.stop()
        os.unlink(path)


def test_an_empty_id_in_the_config_is_named_as_empty(tmp_path):
    config = tmp_path / "gw.yaml"
    config.write_text("node_id: x\nlisten: 127.0.0.1:0\nproviders:\n  - {id: '', base_url: 'http://127.0.0.1:1/v1'}\n"
                      "routes:\n  - alias: chat\n    tiers: [[{provider: a, weight: 1}]]\n")
    import subprocess
    done = subprocess.run([binary("clawgate"), "--config", str(config)], capture_output=True, text=True, timeout=20)
    assert done.returncode != 0 and "providers[0].id: must be a non-empty string, got an empty string" in done.stderr, done.stderr


def test_http_1_0_gets_a_close_delimited_stream_and_a_closed_connection(sim):
    gate, path = start_node(sim, "")
    try:
        data = gate.info["url"]
        body = b'{"model": "chat", "stream": true, "messages": [{"role": "user", "content": "hi"}]}'
        ask = b"POST /v1/chat/completions HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        sock = socket.create_connection(host_port(data))
        sock.sendall(ask % (len(body), body))
        closed, answer = closed_within(sock, 5)
        sock.close()
        head, _, stream = answer.partition(b"\r\n\r\n")
        assert closed, "the connection delimits the body, so it must close"
        assert head.startswith(b"HTTP/1.0 200") and b"transfer-encoding" not in head.lower() and b"connection: close" in head.lower(), head
        assert stream.startswith(b"data: {") and stream.endswith(b"data: [DONE]\n\n"), stream[-80:]
        # A plain answer keeps its length; the connection closes unless the client asked to keep it.
        plain = CHAT
        sock = socket.create_connection(host_port(data))
        sock.sendall(ask % (len(plain), plain))
        closed, answer = closed_within(sock, 5)
        sock.close()
        assert closed and answer.startswith(b"HTTP/1.0 200") and b"content-length" in answer.lower(), answer[:300]
        sock = socket.create_connection(host_port(data))
        sock.sendall((ask.replace(b"Host: x\r\n", b"Host: x\r\nConnection: keep-alive\r\n")) % (len(plain), plain))
        closed, answer = closed_within(sock, 1.5)
        sock.close()
        assert not closed and b"connection: keep-alive" in answer.lower(), answer[:300]
        # HTTP/1.1 is as before: chunked, kept open.
        sock = socket.create_connection(host_port(data))
        sock.sendall((ask % (len(body), body)).replace(b"HTTP/1.0", b"HTTP/1.1"))
        closed, answer = closed_within(sock, 1.5)
        sock.close()
        assert not closed and answer.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in answer.lower(), answer[:300]
    finally:
        gate.stop()
        os.unlink(path)


def test_a_body_trickled_a_byte_at_a_time_is_cut_at_the_body_timeout(sim):
    gate, path = start_node(sim, "limits: {header_timeout: 1, body_timeout: 1.5, idle_timeout: 30}")
    try:
        addr = host_port(gate.info["url"])
        slow = [socket.create_connection(addr) for _ in range(20)]
        head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(CHAT)
        for s in slow:
            s.sendall(head)
        started = time.monotonic()
        for index in range(10):  # a byte each 0.3 s: 3 s for 10 bytes, past the 1.5 s allowed
            for s in slow:
                try:
                    s.sendall(CHAT[index:index + 1])
                except OSError:
                    pass
            time.sleep(0.3)
        for s in slow:
            closed, answer = closed_within(s, 3)
            assert closed, "a connection trickling its body was still open"
            assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer
        assert time.monotonic() - started < 6
        metrics = get(gate.info["admin"] + "/metrics")[1].decode()
        assert metric(metrics, "clawgate_connections_timed_out_total", listener="data", kind="body") >= 20
        # A body that arrives in time, even slowly, is answered.
        ok = socket.create_connection(addr)
        ok.sendall(head)
        for index in range(0, len(CHAT), len(CHAT) // 3 + 1):
            ok.sendall(CHAT[index:index + len(CHAT) // 3 + 1])
            time.sleep(0.3)
        ok.settimeout(5)
        assert ok.recv(100).startswith(b"HTTP/1.1 200")
        ok.close()
    finally:
        gate.stop()
        os.unlink(path)
