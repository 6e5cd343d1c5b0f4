#!/usr/bin/env python3
"""War-room benchmark (prints figures; not a test). Against the demo fleet (`clawtop --demo
--headless`, no monitors), in one run and at the same size: clawtop's overview, clawtop --wall and
htop -d 20, each in its own tmux window for N seconds: bytes written to the terminal per second,
CPU share and RSS.

Usage: python3 Tests/bench/warroom_bench.py [--bin .build/release] [--seconds 60] [--size 200x60]
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

parser = argparse.ArgumentParser()
parser.add_argument("--bin", default=".build/release")
parser.add_argument("--seconds", type=float, default=60)
parser.add_argument("--size", default="200x60")
args = parser.parse_args()
BIN = os.path.abspath(args.bin)
W, H = args.size.split("x")
TICK = os.sysconf("SC_CLK_TCK")
tmp = tempfile.mkdtemp(prefix="warroom-bench-")

demo = subprocess.Popen([f"{BIN}/clawtop", "--demo", "--headless", "--no-monitors", "--file-store", "--incident-period", "30"],
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
info = json.loads(demo.stdout.readline())
urls = ",".join(n["admin"] for n in info["nodes"])
token = info["viewer_token"]
sessions = []


def window(label, command):
    name = f"wr-{label}-{uuid.uuid4().hex[:6]}"
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", W, "-y", H, command], check=True)
    sessions.append(name)
    return name


def pid_of(name):
    pane_pid = int(subprocess.run(["tmux", "display", "-p", "-t", name, "#{pane_pid}"], capture_output=True, text=True).stdout.strip())
    # The pane runs `env ... PROGRAM`; env execs, so the pane's pid is the program's.
    return pane_pid


def cpu(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss(pid):
    return int([l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1]) / 1024


try:
    time.sleep(4)  # the demo's traffic under way
    programs = {
        "clawtop overview": window("ov", f"env TERM=xterm-256color CLAWTOP_TOKEN={token} {BIN}/clawtop --node {urls}"),
        "clawtop --wall": window("wall", f"env TERM=xterm-256color CLAWTOP_TOKEN={token} {BIN}/clawtop --wall --node {urls}"),
    }
    if shutil.which("htop"):
        programs["htop -d 20"] = window("htop", "env TERM=xterm-256color htop -d 20")
    time.sleep(3)  # first full paint
    pids = {label: pid_of(name) for label, name in programs.items()}
    outs = {label: os.path.join(tmp, f"{i}.bytes") for i, label in enumerate(programs)}
    for label, name in programs.items():
        subprocess.run(["tmux", "pipe-pane", "-o", "-t", name, f"cat >> {outs[label]}"], check=True)
    c0 = {label: cpu(pid) for label, pid in pids.items()}
    t0 = time.time()
    time.sleep(args.seconds)
    c1 = {label: cpu(pid) for label, pid in pids.items()}
    t1 = time.time()
    for name in programs.values():
        subprocess.run(["tmux", "pipe-pane", "-t", name], check=True)
    print(f"war-room screens against the demo fleet (3 nodes, 4 providers, traffic and incidents) at {W}x{H} for {t1 - t0:.0f} s, same run:")
    for label in programs:
        written = os.path.getsize(outs[label]) if os.path.exists(outs[label]) else 0
        print(f"  {label:17} {written / (t1 - t0):8.0f} bytes/s to the terminal, CPU {100 * (c1[label] - c0[label]) / (t1 - t0):5.2f} %, "
              f"RSS {rss(pids[label]):6.1f} MB")
finally:
    for name in sessions:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
    demo.send_signal(signal.SIGTERM)
    demo.wait(timeout=20)
