#!/usr/bin/env python3
"""Console soak (prints figures; not a test): a clawtop attached in tmux to three clawgate nodes,
polling fast, while one node is restarted on the same port again and again (new events, new
sequence numbers, connection errors in between). Prints the console's RSS after the warm-up and
at the end: event lists, histories and polls are bounded, so it should not grow.

Usage: python3 Tests/bench/console_soak.py [--bin .build/release] [--warmup 60] [--restarts 300]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

parser = argparse.ArgumentParser()
parser.add_argument("--bin", default=".build/release")
parser.add_argument("--warmup", type=float, default=60)
parser.add_argument("--restarts", type=int, default=300)
parser.add_argument("--refresh", type=float, default=0.2)
args = parser.parse_args()
BIN = os.path.abspath(args.bin)
TOKEN = "soak-operator-token-0123456789"


def start(cmd, env=None):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    line = p.stdout.readline()
    if not line:
        sys.exit(f"{cmd[0]} did not start")
    return p, json.loads(line)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


if shutil.which("tmux") is None:
    sys.exit("tmux is needed")
tmp = tempfile.mkdtemp(prefix="clawtop-soak-")
sim, info = start([f"{BIN}/clawsim", "--provider", "fast,latency_ms=5,error_rate=0.2", "--provider", "slow,latency_ms=50"])
env = dict(os.environ, SOAK_TOKEN=TOKEN)
configs, gates = [], []
for n in range(3):
    cfg = os.path.join(tmp, f"node{n}.yaml")
    with open(cfg, "w") as f:
        f.write(f"""node_id: soak-{n}
listen: 127.0.0.1:{48100 + n * 2}
providers:
""" + "".join(f"  - {{id: {k}, base_url: '{v}/v1'}}\n" for k, v in info["providers"].items()) + f"""routes:
  - alias: chat
    tiers: [[{{provider: fast, weight: 50}}, {{provider: slow, weight: 50}}]]
breaker: {{consecutive_failures: 2, cooldown: 0.2, max_cooldown: 1}}
admin:
  state_dir: {tmp}/state{n}
  tokens: [{{name: soak, role: operator, env: SOAK_TOKEN}}]
""")
    configs.append(cfg)
    gates.append(start([f"{BIN}/clawgate", "--config", cfg], env=env)[0])
urls = ",".join(f"http://127.0.0.1:{48101 + n * 2}" for n in range(3))  # the admin listeners (listen port + 1)
name = "soak-" + uuid.uuid4().hex[:6]
subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "160", "-y", "50",
                f"env TERM=xterm-256color CLAWTOP_TOKEN={TOKEN} {BIN}/clawtop --refresh {args.refresh} --node {urls}"], check=True)
time.sleep(1)
console = int(subprocess.run(["pgrep", "-n", "-f", f"{BIN}/clawtop --refresh"], capture_output=True, text=True).stdout.split()[0])


def traffic(seconds):
    """Requests to every node (errors make circuit events), for `seconds`."""
    import urllib.request
    end = time.time() + seconds
    while time.time() < end:
        for n in range(3):
            try:
                urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{48100 + n * 2}/v1/chat/completions",
                                                              data=b'{"model":"chat","messages":[{"role":"user","content":"x"}]}',
                                                              headers={"content-type": "application/json"}), timeout=2).read()
            except Exception:
                pass


try:
    traffic(args.warmup)
    after_warmup = rss_kb(console)
    started = time.time()
    samples = []
    for i in range(args.restarts):
        gates[0].terminate()
        gates[0].wait()
        gates[0] = start([f"{BIN}/clawgate", "--config", configs[0]], env=env)[0]
        traffic(0.3)
        if i % 50 == 49:
            samples.append(rss_kb(console))
    end = rss_kb(console)
    print(f"console soak: 3 nodes, refresh {args.refresh} s, traffic with errors; node 1 restarted {args.restarts} times in "
          f"{time.time() - started:.0f} s")
    print(f"clawtop RSS: {after_warmup / 1024:.1f} MiB after {args.warmup:.0f} s warm-up, {end / 1024:.1f} MiB at the end "
          f"({(end - after_warmup) / 1024:+.1f} MiB); every 50 restarts: {', '.join(f'{s / 1024:.1f}' for s in samples)} MiB")
finally:
    subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
    for g in gates:
        g.terminate()
    sim.terminate()
