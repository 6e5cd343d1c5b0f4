#!/usr/bin/env python3
"""Console benchmark (prints figures; not a test).

1. `--once` wall time against a 3-node fleet (and, when Debian's prometheus and
   prometheus-alertmanager are installed, with --prometheus and --alertmanager in the same run).
2. clawtop attached to the demo fleet (`clawtop --demo --headless`: three clawgate nodes behind
   clawsim, traffic and scripted incidents) beside htop, both in the same tmux session at the same
   size (120x40 and 200x60), at their default refresh (clawtop 2 s, htop 1.5 s): bytes written to
   the terminal per second, CPU share and RSS of each; and where clawtop's RSS goes (its mappings
   from /proc/PID/smaps, largest first).
3. The time from `q` to the shell prompt, for a plain attached console and for `clawtop --demo`.

Debian's htop is installed with apt-get when it is missing (as root).

Usage: python3 Tests/bench/console_bench.py [--bin .build-release/release] [--seconds 60] [--quits 5]
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
parser.add_argument("--bin", default=".build-release/release")
parser.add_argument("--seconds", type=float, default=60, help="how long each side-by-side measurement runs")
parser.add_argument("--quits", type=int, default=5, help="how many times q is timed for each kind of console")
parser.add_argument("--skip-once", action="store_true", help="skip the --once timing")
parser.add_argument("--skip-side", action="store_true", help="skip clawtop beside htop")
args = parser.parse_args()
BIN = os.path.abspath(args.bin)
TOKEN = "bench-operator-token-0123456789"
TICK = os.sysconf("SC_CLK_TCK")
tmp = tempfile.mkdtemp(prefix="clawtop-bench-")
cleanup = []


def start(cmd, env=None):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = p.stdout.readline()
    if not line:
        sys.exit(f"{cmd[0]} did not start: {p.stderr.read()}")
    cleanup.append(p)
    return p, json.loads(line)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid):
    line = [l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0]
    return int(line.split()[1]) / 1024


def smaps(pid, top=8):
    """clawtop's resident memory by mapping (heap, anonymous, the binary, each library), largest first."""
    sizes, name = {}, None
    for line in open(f"/proc/{pid}/smaps"):
        parts = line.split()
        if len(parts) >= 5 and "-" in parts[0] and ":" not in parts[0]:
            name = parts[5] if len(parts) >= 6 else "[anonymous]"
            name = os.path.basename(name) if name.startswith("/") else name
        elif parts and parts[0] == "Rss:":
            sizes[name] = sizes.get(name, 0) + int(parts[1])
    return sorted(sizes.items(), key=lambda kv: -kv[1])[:top]


def tmux(*a, check=True):
    # A session started right after the last one ended can meet the server on its way out: again.
    for attempt in range(5):
        r = subprocess.run(["tmux", *a], capture_output=True, text=True)
        if r.returncode == 0 or not check or a[0] != "new-session":
            break
        time.sleep(0.2)
    if check and r.returncode != 0:
        sys.exit(f"tmux {' '.join(a[:3])}: {r.stderr.strip()}")
    return r


def pane_pid(target):
    return int(tmux("display-message", "-p", "-t", target, "#{pane_pid}").stdout.strip())


def child_pid(shell_pid, name, timeout=10):
    """The `name` process under a tmux pane's shell (the pane runs `sh -c`)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = subprocess.run(["pgrep", "-P", str(shell_pid), "-x", name], capture_output=True, text=True).stdout.split()
        if out:
            return int(out[0])
        if os.path.exists(f"/proc/{shell_pid}/comm") and open(f"/proc/{shell_pid}/comm").read().strip() == name:
            return shell_pid
        time.sleep(0.05)
    sys.exit(f"no {name} under pid {shell_pid}")


def ensure_htop():
    if shutil.which("htop"):
        return shutil.which("htop")
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("htop is missing: installing Debian's htop with apt-get")
        subprocess.run(["apt-get", "install", "-y", "-q", "htop"], check=False, capture_output=True)
    return shutil.which("htop")


def once_timing():
    """--once against a fleet of its own, as before: median and max over 20 runs."""
    sim_proc, info = start([f"{BIN}/clawsim", "--provider", "fast,latency_ms=5", "--provider", "slow,latency_ms=50",
                            "--provider", "cheap,latency_ms=20", "--provider", "local,latency_ms=80"])
    gates = []
    for n in range(3):
        cfg = os.path.join(tmp, f"node{n}.yaml")
        p = info["providers"]
        with open(cfg, "w") as f:
            f.write(f"node_id: bench-{n}\nlisten: 127.0.0.1:0\nproviders:\n"
                    + "".join(f"  - {{id: {k}, base_url: '{v}/v1', price: {{input_per_1m: 1, output_per_1m: 3}}}}\n" for k, v in p.items())
                    + "routes:\n  - alias: chat\n    tiers: [[{provider: fast, weight: 60}, {provider: cheap, weight: 40}], "
                    + "[{provider: slow, weight: 100}], [{provider: local, weight: 1}]]\n"
                    + f"admin:\n  state_dir: {tmp}/state{n}\n  tokens: [{{name: bench, role: operator, env: BENCH_TOKEN}}]\n")
        gates.append(start([f"{BIN}/clawgate", "--config", cfg], env=dict(os.environ, BENCH_TOKEN=TOKEN)))
    urls = ",".join(g[1]["admin"] for g in gates)
    env = dict(os.environ, CLAWTOP_TOKEN=TOKEN)
    extra = []
    prom_bin, am_bin = shutil.which("prometheus"), shutil.which("prometheus-alertmanager")
    if prom_bin and am_bin:
        prom_port, am_port = free_port(), free_port()
        targets = ", ".join(f"'{g[1]['admin'].split('//')[1]}'" for g in gates)
        with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
            f.write(f"global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: clawgate\n    static_configs: [{{targets: [{targets}]}}]\n")
        with open(os.path.join(tmp, "alertmanager.yml"), "w") as f:
            f.write("route: {receiver: nowhere}\nreceivers: [{name: nowhere}]\n")
        log = open(os.path.join(tmp, "monitors.log"), "w")
        cleanup.append(subprocess.Popen([am_bin, f"--config.file={tmp}/alertmanager.yml", f"--storage.path={tmp}/am",
                                         f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="], stdout=log, stderr=log))
        cleanup.append(subprocess.Popen([prom_bin, f"--config.file={tmp}/prometheus.yml", f"--storage.tsdb.path={tmp}/prom",
                                         f"--web.listen-address=127.0.0.1:{prom_port}"], stdout=log, stderr=log))
        time.sleep(5)
        extra = [f"--prometheus=http://127.0.0.1:{prom_port}", f"--alertmanager=http://127.0.0.1:{am_port}"]

    def run(more, runs=20):
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            r = subprocess.run([f"{BIN}/clawtop", "--once", "--format", "json", "--node", urls, *more], capture_output=True, env=env)
            times.append(time.perf_counter() - t0)
            assert r.returncode == 0, r.stdout + r.stderr
        return statistics.median(times) * 1000, max(times) * 1000

    plain = run([])
    print(f"clawtop --once (3 nodes, json): median {plain[0]:.1f} ms, max {plain[1]:.1f} ms over 20 runs")
    if extra:
        both = run(extra)
        print(f"clawtop --once (3 nodes, json, --prometheus --alertmanager): median {both[0]:.1f} ms, max {both[1]:.1f} ms "
              f"over 20 runs ({both[0] / plain[0]:.2f}x the plain run)")


def demo_fleet():
    """`clawtop --demo --headless`: the nodes' admin URLs and the operator token."""
    p, info = start([f"{BIN}/clawtop", "--demo", "--headless", "--incident-period", "60"])
    time.sleep(5)  # traffic on every node, a few polls' worth of events
    return [n["admin"] for n in info["nodes"]], info["operator_token"], info


def side_by_side(width, height, nodes, token, htop):
    """clawtop and htop in two windows of one tmux session at width x height, measured together."""
    name = "bench-" + uuid.uuid4().hex[:6]
    top = f"env TERM=xterm-256color CLAWTOP_TOKEN={token} {BIN}/clawtop --node {','.join(nodes)}"
    tmux("new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), top)
    tmux("set-option", "-t", name, "window-size", "manual")
    tmux("resize-window", "-t", f"{name}:0", "-x", str(width), "-y", str(height), check=False)
    procs = {"clawtop": child_pid(pane_pid(f"{name}:0"), "clawtop")}
    if htop:
        tmux("new-window", "-d", "-t", name, f"env TERM=xterm-256color {htop}")
        tmux("resize-window", "-t", f"{name}:1", "-x", str(width), "-y", str(height), check=False)
        procs["htop"] = child_pid(pane_pid(f"{name}:1"), "htop")
    time.sleep(4)  # the first full paint and a poll
    outs = {}
    for i, prog in enumerate(procs):
        outs[prog] = os.path.join(tmp, f"{prog}-{width}x{height}.bytes")
        tmux("pipe-pane", "-o", "-t", f"{name}:{i}", f"cat >> {outs[prog]}")
    c0 = {p: cpu_seconds(pid) for p, pid in procs.items()}
    t0 = time.time()
    time.sleep(args.seconds)
    t1 = time.time()
    c1 = {p: cpu_seconds(pid) for p, pid in procs.items()}
    for i, _ in enumerate(procs):
        tmux("pipe-pane", "-t", f"{name}:{i}")
    figures = {}
    for prog, pid in procs.items():
        written = os.path.getsize(outs[prog]) if os.path.exists(outs[prog]) else 0
        figures[prog] = (100 * (c1[prog] - c0[prog]) / (t1 - t0), rss_mb(pid), written / (t1 - t0))
    where = smaps(procs["clawtop"])
    tmux("kill-session", "-t", name, check=False)
    return figures, where, t1 - t0


def time_quit(command, ready, runs):
    """Seconds from sending `q` to the shell running the next command, `runs` times."""
    times = []
    for _ in range(runs):
        name = "quit-" + uuid.uuid4().hex[:6]
        marker = os.path.join(tmp, name + ".end")
        tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "40",
             f"sh -c '{command}; date +%s.%N > {marker}; sleep 30'")
        deadline = time.time() + 60
        while time.time() < deadline and ready not in tmux("capture-pane", "-p", "-t", name).stdout:
            time.sleep(0.1)
        time.sleep(2)
        t0 = time.time()
        tmux("send-keys", "-t", name, "q")
        while not os.path.exists(marker) or not open(marker).read().strip():
            if time.time() - t0 > 30:
                break
            time.sleep(0.005)
        if os.path.exists(marker) and open(marker).read().strip():
            times.append(float(open(marker).read()) - t0)
        tmux("kill-session", "-t", name, check=False)
    return times


try:
    if not args.skip_once:
        once_timing()
    htop = ensure_htop()
    nodes, token, info = demo_fleet()
    print(f"demo fleet: {len(nodes)} nodes; htop: {htop or 'not installed, clawtop alone'}")
    for width, height in [] if args.skip_side else [(120, 40), (200, 60)]:
        figures, where, seconds = side_by_side(width, height, nodes, token, htop)
        for prog, (cpu, rss, bps) in figures.items():
            print(f"{width}x{height} {prog:8s} CPU {cpu:5.2f} %  RSS {rss:5.1f} MB  {bps:7.0f} bytes/s to the terminal  (over {seconds:.0f} s)")
        if "htop" in figures:
            c, h = figures["clawtop"], figures["htop"]
            print(f"{width}x{height} clawtop / htop: CPU {c[0] / max(h[0], 0.001):.2f}x, RSS {c[1] / h[1]:.2f}x, bytes/s {c[2] / max(h[2], 1):.2f}x")
        print(f"{width}x{height} clawtop RSS by mapping (KB): " + ", ".join(f"{n} {kb}" for n, kb in where))
    env = f"env TERM=xterm-256color CLAWTOP_TOKEN={token}"
    attached = time_quit(f"{env} {BIN}/clawtop --node {','.join(nodes)}", "nodes 3/3", args.quits)
    if attached:
        print(f"q to the prompt, attached to 3 nodes: median {statistics.median(attached) * 1000:.0f} ms, max {max(attached) * 1000:.0f} ms "
              f"over {len(attached)} runs")
    demo = time_quit(f"env TERM=xterm-256color {BIN}/clawtop --demo", "premium", max(1, args.quits // 2 + 1))
    if demo:
        print(f"q to the prompt, --demo (its fleet stopped): median {statistics.median(demo) * 1000:.0f} ms, max {max(demo) * 1000:.0f} ms "
              f"over {len(demo)} runs")
finally:
    for p in reversed(cleanup):
        if p.poll() is None:
            p.terminate()
    for p in cleanup:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    shutil.rmtree(tmp, ignore_errors=True)
