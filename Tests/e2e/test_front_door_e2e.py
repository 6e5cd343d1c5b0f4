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
