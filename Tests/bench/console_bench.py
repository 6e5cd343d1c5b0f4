#!/usr/bin/env python3
"""Console benchmark (prints figures; not a test): --once wall time against a 3-node fleet (and, when
Debian's prometheus and prometheus-alertmanager are installed, with --prometheus and --alertmanager
in the same run), and an idle clawtop at the default refresh in tmux: CPU share, RSS, bytes written
to the terminal per refresh.

Usage: python3 Tests/bench/console_bench.py [--bin .build/release] [--idle-seconds 60]
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

parser = argparse.ArgumentParser()
parser.add_argument("--bin", default=".build/release")
parser.add_argument("--idle-seconds", type=float, default=60)
args = parser.parse_args()
BIN = os.path.abspath(args.bin)
TOKEN = "bench-operator-token-0123456789"
TICK = os.sysconf("SC_CLK_TCK")


def start(cmd, env=None):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = p.stdout.readline()
    if not line:
        sys.exit(f"{cmd[0]} did not start: {p.stderr.read()}")
    return p, json.loads(line)


tmp = tempfile.mkdtemp(prefix="clawtop-bench-")
sim_proc, info = start([f"{BIN}/clawsim", "--provider", "fast,latency_ms=5", "--provider", "slow,latency_ms=50",
                   "--provider", "cheap,latency_ms=20", "--provider", "local,latency_ms=80"])
gates = []
for n in range(3):
    cfg = os.path.join(tmp, f"node{n}.yaml")
    p = info["providers"]
    with open(cfg, "w") as f:
        f.write(f"""node_id: bench-{n}
listen: 127.0.0.1:0
providers:
""" + "".join(f"  - {{id: {k}, base_url: '{v}/v1', price: {{input_per_1m: 1, output_per_1m: 3}}}}\n" for k, v in p.items()) + f"""routes:
  - alias: chat
    tiers: [[{{provider: fast, weight: 60}}, {{provider: cheap, weight: 40}}], [{{provider: slow, weight: 100}}], [{{provider: local, weight: 1}}]]
admin:
  state_dir: {tmp}/state{n}
  tokens: [{{name: bench, role: operator, env: BENCH_TOKEN}}]
""")
    gates.append(start([f"{BIN}/clawgate", "--config", cfg], env=dict(os.environ, BENCH_TOKEN=TOKEN)))
urls = ",".join(g[1]["admin"] for g in gates)  # clawtop polls admin listeners
env = dict(os.environ, CLAWTOP_TOKEN=TOKEN)
monitors = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_monitors():
    """Prometheus scraping the three nodes every second, and Alertmanager; their URLs, or None."""
    prom_bin, am_bin = shutil.which("prometheus"), shutil.which("prometheus-alertmanager")
    if not (prom_bin and am_bin):
        return None
    prom_port, am_port = free_port(), free_port()
    targets = ", ".join(f"'{g[1]['admin'].split('//')[1]}'" for g in gates)
    with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
        f.write(f"global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: clawgate\n    static_configs: [{{targets: [{targets}]}}]\n")
    with open(os.path.join(tmp, "alertmanager.yml"), "w") as f:
        f.write("route: {receiver: nowhere}\nreceivers: [{name: nowhere}]\n")
    log = open(os.path.join(tmp, "monitors.log"), "w")
    monitors.append(subprocess.Popen([am_bin, f"--config.file={tmp}/alertmanager.yml", f"--storage.path={tmp}/am",
                                      f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="], stdout=log, stderr=log))
    monitors.append(subprocess.Popen([prom_bin, f"--config.file={tmp}/prometheus.yml", f"--storage.tsdb.path={tmp}/prom",
                                      f"--web.listen-address=127.0.0.1:{prom_port}"], stdout=log, stderr=log))
    time.sleep(5)  # ready, and a few scrapes in
    return [f"--prometheus=http://127.0.0.1:{prom_port}", f"--alertmanager=http://127.0.0.1:{am_port}"]


def time_once(extra, runs=20):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = subprocess.run([f"{BIN}/clawtop", "--once", "--format", "json", "--node", urls, *extra], capture_output=True, env=env)
        times.append(time.perf_counter() - t0)
        assert r.returncode == 0, r.stdout + r.stderr
        if extra:
            report = json.loads(r.stdout)
            assert report["prometheus"]["ok"] and report["alertmanager"]["ok"], report
    return statistics.median(times) * 1000, max(times) * 1000


try:
    extra = start_monitors()
    plain = time_once([])
    print(f"clawtop --once (3 nodes, json): median {plain[0]:.1f} ms, max {plain[1]:.1f} ms over 20 runs")
    if extra:
        both = time_once(extra)
        print(f"clawtop --once (3 nodes, json, --prometheus --alertmanager): median {both[0]:.1f} ms, max {both[1]:.1f} ms "
              f"over 20 runs ({both[0] / plain[0]:.2f}x the plain run)")

    name = "bench-" + uuid.uuid4().hex[:6]
    out = os.path.join(tmp, "pane.bytes")
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "120", "-y", "40",
                    f"env TERM=xterm-256color CLAWTOP_TOKEN={TOKEN} {BIN}/clawtop --node {urls}"], check=True)
    time.sleep(3)  # first full paint and a poll
    pid = int(subprocess.run(["pgrep", "-n", "-f", f"{BIN}/clawtop --node"], capture_output=True, text=True).stdout.split()[0])

    def cpu():
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    subprocess.run(["tmux", "pipe-pane", "-o", "-t", name, f"cat >> {out}"], check=True)
    c0, t0 = cpu(), time.time()
    time.sleep(args.idle_seconds)
    c1, t1 = cpu(), time.time()
    subprocess.run(["tmux", "pipe-pane", "-t", name], check=True)
    rss = [l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1]
    written = os.path.getsize(out) if os.path.exists(out) else 0
    refreshes = (t1 - t0) / 2.0
    print(f"idle clawtop, default refresh 2 s, 3 nodes, 120x40: CPU {100 * (c1 - c0) / (t1 - t0):.2f} % over {t1 - t0:.0f} s, "
          f"RSS {int(rss) / 1024:.1f} MB, {written / refreshes:.0f} bytes to the terminal per refresh")
    subprocess.run(["tmux", "kill-session", "-t", name])
finally:
    for m in monitors:
        m.terminate()
    for g in gates:
        g[0].terminate()
    sim_proc.terminate()
