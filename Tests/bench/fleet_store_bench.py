#!/usr/bin/env python3
"""Fleet-store benchmark (prints figures; not a test). Three clawgate nodes over a 3-member etcd on
loopback: the time from an admin write's answer to the last node applying it (p50, p99 over N
writes), then client traffic through the nodes while the etcd leader is SIGKILLed during writes
(errors, added latency; every acknowledged write applied on every node), and while two members of
three are stopped (writes refused fast, traffic going on).

Usage: python3 Tests/bench/fleet_store_bench.py [--bin .build/release] [--writes 200]
"""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

parser = argparse.ArgumentParser()
parser.add_argument("--bin", default=".build/release")
parser.add_argument("--writes", type=int, default=200)
args = parser.parse_args()
BIN = os.path.abspath(args.bin)
TOKEN = "fleet-bench-operator-token-0123"
tmp = tempfile.mkdtemp(prefix="fleet-bench-")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url, method="GET", body=None, timeout=5):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


members = [("m%d" % i, free_port(), free_port()) for i in range(3)]
cluster = ",".join(f"{n}=http://127.0.0.1:{peer}" for n, _, peer in members)
etcds = {}
for name, client, peer in members:
    etcds[name] = subprocess.Popen(["etcd", "--name", name, "--data-dir", f"{tmp}/{name}", "--listen-client-urls", f"http://127.0.0.1:{client}",
                                    "--advertise-client-urls", f"http://127.0.0.1:{client}", "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                                    "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}", "--initial-cluster", cluster,
                                    "--heartbeat-interval", "10", "--election-timeout", "100"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
endpoints = [f"http://127.0.0.1:{c}" for _, c, _ in members]
for e in endpoints:
    for _ in range(200):
        try:
            if b"true" in urllib.request.urlopen(e + "/health", timeout=1).read():
                break
        except Exception:
            time.sleep(0.05)


def start(cmd, env=None):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    return p, json.loads(p.stdout.readline())


sim, info = start([f"{BIN}/clawsim", "--provider", "a,latency_ms=2", "--provider", "b,latency_ms=2"])
nodes = []
for n in range(3):
    cfg = f"{tmp}/node{n}.yaml"
    with open(cfg, "w") as f:
        f.write(f"""node_id: node-{n + 1}
listen: 127.0.0.1:0
providers:
""" + "".join(f"  - {{id: {k}, base_url: '{v}/v1'}}\n" for k, v in info["providers"].items()) + f"""routes:
  - alias: chat
    tiers: [[{{provider: a, weight: 50}}, {{provider: b, weight: 50}}]]
health_check: {{enabled: false}}
store: {{kind: etcd, endpoints: [{", ".join(endpoints)}], fleet: bench, timeout: 2}}
admin:
  state_dir: {tmp}/state{n}
  tokens: [{{name: ops, role: operator, env: BENCH_TOKEN}}]
""")
    nodes.append(start([f"{BIN}/clawgate", "--config", cfg], env=dict(os.environ, BENCH_TOKEN=TOKEN)))
urls = [n[1]["admin"] for n in nodes]  # admin listeners
data_urls = [n[1]["url"] for n in nodes]  # client ports


def revision(url):
    return http(url + "/admin/v1/state")[1]["revision"]


try:
    # 1. Write to applied on every node.
    lags = []
    for i in range(args.writes):
        verb = "drain" if i % 2 == 0 else "undrain"
        status, written = http(urls[i % 3] + f"/admin/v1/providers/a/{verb}", "POST", {})
        t0 = time.perf_counter()
        assert status == 200, written
        want = written["revision"]
        while min(revision(u) for u in urls) < want:
            pass
        lags.append(time.perf_counter() - t0)
    lags.sort()
    print(f"fleet store: 3 nodes, 3 etcd members on loopback; {args.writes} writes through the nodes in turn")
    print(f"write answered -> last node applied: p50 {statistics.median(lags) * 1000:.1f} ms, "
          f"p99 {lags[int(len(lags) * 0.99) - 1] * 1000:.1f} ms, max {lags[-1] * 1000:.1f} ms (includes the HTTP polls that observe it)")

    # 2. Traffic while the leader is killed during writes.
    def leader():
        for name, client, _ in members:
            if etcds[name].poll() is None:
                try:
                    req = urllib.request.Request(f"http://127.0.0.1:{client}/v3/maintenance/status", data=b"{}", method="POST")
                    s = json.loads(urllib.request.urlopen(req, timeout=2).read())
                    if s.get("leader") == s["header"]["member_id"]:
                        return name
                except Exception:
                    pass
        return None

    stop = threading.Event()
    results = []

    def traffic():
        body = json.dumps({"model": "chat", "messages": [{"role": "user", "content": "x"}]}).encode()
        while not stop.is_set():
            for u in data_urls:
                t0 = time.perf_counter()
                try:
                    with urllib.request.urlopen(urllib.request.Request(u + "/v1/chat/completions", data=body,
                                                                       headers={"Content-Type": "application/json"}), timeout=5) as r:
                        r.read()
                        results.append((time.perf_counter() - t0, r.status == 200))
                except Exception:
                    results.append((time.perf_counter() - t0, False))

    def phase(seconds):
        results.clear()
        stop.clear()
        t = threading.Thread(target=traffic)
        t.start()
        time.sleep(seconds)
        stop.set()
        t.join()
        ok = [d for d, good in results if good]
        return len(results), len(results) - len(ok), statistics.median(ok) * 1000 if ok else float("nan")

    n, errors, p50 = phase(3)
    print(f"traffic, store healthy: {n} requests, {errors} errors, p50 {p50:.2f} ms")
    acknowledged = []
    refusals = []
    killed = leader()

    def writes_during_kill():
        for i in range(40):
            status, w = http(urls[i % 3] + f"/admin/v1/routes/chat/weights", "PUT", {"weights": {"a": 10 + i}}, timeout=10)
            if status == 200:
                acknowledged.append((w["revision"], 10 + i))
            else:
                refusals.append(w.get("error", {}).get("code", status) if isinstance(w, dict) else status)
            time.sleep(0.05)

    writer = threading.Thread(target=writes_during_kill)
    writer.start()
    time.sleep(0.3)
    etcds[killed].send_signal(signal.SIGKILL)
    n, errors, p50 = phase(3)
    writer.join()
    time.sleep(1)
    final = [http(u + "/admin/v1/state")[1] for u in urls]
    last_ack = max(acknowledged)[0] if acknowledged else 0
    applied_everywhere = all(s["revision"] >= last_ack for s in final) and len({json.dumps(s, sort_keys=True) for s in final}) == 1
    print(f"traffic while the etcd leader ({killed}) is SIGKILLed during 40 writes: {n} requests, {errors} errors, p50 {p50:.2f} ms; "
          f"{len(acknowledged)} writes acknowledged ({len(refusals)} refused: {sorted(set(map(str, refusals)))}), the last acknowledged revision {last_ack} applied on every node: {applied_everywhere}")

    # 3. Two members of three down: writes refused fast, traffic goes on.
    for name in list(etcds):
        if name != leader() and etcds[name].poll() is None:
            etcds[name].send_signal(signal.SIGSTOP)
            break
    t0 = time.perf_counter()
    status, err = http(urls[0] + "/admin/v1/providers/b/drain", "POST", {}, timeout=15)
    refused = time.perf_counter() - t0
    t0 = time.perf_counter()
    again, _ = http(urls[0] + "/admin/v1/providers/b/drain", "POST", {}, timeout=15)
    refused_again = time.perf_counter() - t0
    n, errors, p50 = phase(3)
    print(f"two members of three down: a write answered {status} {err.get('error', {}).get('code') if isinstance(err, dict) else ''} "
          f"in {refused * 1000:.0f} ms, the next {again} in {refused_again * 1000:.0f} ms; traffic: {n} requests, {errors} errors, p50 {p50:.2f} ms")
finally:
    for p, _ in nodes:
        p.terminate()
    sim.terminate()
    for p in etcds.values():
        if p.poll() is None:
            p.send_signal(signal.SIGCONT)
            p.terminate()
