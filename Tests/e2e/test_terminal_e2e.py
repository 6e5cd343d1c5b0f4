"""The console on any terminal, and a demo that never leaves a process behind (issue 19)."""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import binary
from test_admin_e2e import OPERATOR
from test_clawtop_e2e import Tmux, nodes  # noqa: F401 (the fixture)


def descendants(pid):
    """Every process whose parent chain leads to `pid`, read from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
                parents[int(entry)] = int(stat[stat.rindex(")") + 2:].split()[1])
            except (OSError, ValueError):
                pass
    found, frontier = set(), {pid}
    while frontier:
        children = {p for p, parent in parents.items() if parent in frontier} - found
        found |= children
        frontier = children
    return found


def alive(pids):
    left = set()
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                if f.read().split(") ")[1][0] != "Z":
                    left.add(p)
        except OSError:
            pass
    return left


def wait_gone(pids, seconds=2.0):
    deadline = time.time() + seconds
    while alive(pids) and time.time() < deadline:
        time.sleep(0.05)
    return alive(pids)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by .ci/run")
def test_a_term_without_terminfo_falls_back_renders_and_quits(nodes):  # noqa: F811
    sim, urls = nodes
    t = Tmux(f"env TERM=xterm-unknown CLAWTOP_TOKEN={OPERATOR} {binary('clawtop')} --refresh 0.5 --node {urls[0]}; "
             f"echo exit=$?; sleep 30", width=120, height=30)
    try:
        screen = t.wait_for("TERM=xterm-unknown has no terminfo entry on this machine; using xterm-256color")
        assert "PROVIDER" in screen and "primary" in t.wait_for("primary")
        t.keys("q")
        after = t.wait_for("exit=0")
        assert "clawtop: TERM=xterm-unknown has no terminfo entry on this machine; using xterm-256color" in after
    finally:
        t.kill()


def test_no_terminal_is_refused_with_the_actual_reason_and_starts_nothing():
    env = {k: v for k, v in os.environ.items() if k != "TERM"}
    for term, reason in [("xterm-256color", "stdout is not a terminal"), ("dumb", "stdout is not a terminal")]:
        p = subprocess.Popen([binary("clawtop"), "--demo", "--no-monitors"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env={**env, "TERM": term})
        out, err = p.communicate(timeout=30)
        assert p.returncode == 2 and reason in err and "--once" in err, err
        # The demo never started: it would have made its folder, named after the console's pid.
        assert not [d for d in os.listdir("/tmp") if d.startswith(f"clawtop-demo-{p.pid}-")]


@pytest.mark.parametrize("monitors", [False, True])
def test_kill_9_of_a_headless_demo_leaves_no_process(monitors):
    if monitors and (shutil.which("prometheus") is None or shutil.which("prometheus-alertmanager") is None):
        pytest.skip("Prometheus and Alertmanager are installed by .ci/run")
    args = [binary("clawtop"), "--demo", "--headless"] + ([] if monitors else ["--no-monitors"])
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        info = json.loads(p.stdout.readline())
        assert (info["prometheus"] is not None) == monitors
        children = descendants(p.pid)
        assert len(children) >= (6 if monitors else 4), children  # clawsim, 3 nodes (Prometheus, Alertmanager)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=5)
        assert wait_gone(children) == set(), f"left behind: {alive(children)}"
    finally:
        if p.poll() is None:
            p.kill()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by .ci/run")
def test_kill_9_of_the_console_on_screen_leaves_no_process_and_the_next_demo_clears_its_folder():
    t = Tmux(f"env TERM=xterm-256color {binary('clawtop')} --demo --no-monitors; sleep 30", width=120, height=30)
    try:
        t.wait_for("nodes 3/3", timeout=30)
        console = int(subprocess.run(["tmux", "display-message", "-p", "-t", t.name, "#{pane_pid}"], capture_output=True, text=True).stdout)
        pid = next(p for p in descendants(console) if open(f"/proc/{p}/comm").read().strip() == "clawtop")
        children = descendants(pid)
        assert len(children) >= 4, children
        folder = [d for d in os.listdir("/tmp") if d.startswith(f"clawtop-demo-{pid}-")]
        assert len(folder) == 1
        os.kill(pid, signal.SIGKILL)
        assert wait_gone(children) == set(), f"left behind: {alive(children)}"
        # SIGKILL left the folder; the next demo removes it.
        assert os.path.isdir("/tmp/" + folder[0])
        r = subprocess.run([binary("clawtop"), "--demo", "--once", "--format", "json"], capture_output=True, text=True, timeout=60)
        assert r.returncode in (0, 1, 2, 3), r.stderr
        assert not os.path.isdir("/tmp/" + folder[0])
    finally:
        t.kill()
