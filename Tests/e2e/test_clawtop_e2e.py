"""clawtop, the real binary, against real clawsim + clawgate nodes: --once and the screen in tmux."""
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
import uuid

import pytest
import signal

from conftest import Proc, binary
from test_admin_e2e import OPERATOR, VIEWER, admin_yaml, call, chat, start_gate


@pytest.fixture
def nodes(tmp_path):
    sim = Proc([binary("clawsim"), "--provider", "primary,latency_ms=2", "--provider", "secondary,latency_ms=4",
                "--provider", "backup,latency_ms=8"])
    gates = []
    for n in range(2):
        config = tmp_path / f"node{n}.yaml"
        config.write_text(admin_yaml(sim.info["providers"], tmp_path / f"state{n}").replace("admin-e2e", f"node-{n}"))
        gates.append(start_gate(config))
    for g in gates:
        chat(g.info["url"], 10)
    yield sim, [g.info["admin"] for g in gates]
    for g in gates:
        g.stop()
    sim.stop()


def clawtop(*args, token=OPERATOR):
    env = {k: v for k, v in os.environ.items() if k not in ("TERM", "CLAWTOP_TOKEN")}
    if token:
        env["CLAWTOP_TOKEN"] = token
    return subprocess.run([binary("clawtop"), *args], capture_output=True, text=True, timeout=30, env=env)


def test_once_text_and_json_exit_codes(nodes):
    sim, urls = nodes
    ok = clawtop("--once", "--node", ",".join(urls))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("status OK") and "node-0" in ok.stdout and "primary" in ok.stdout
    # One node down: unknown/unreachable, exit 3, and the JSON says which.
    dead = "http://127.0.0.1:9"
    r = clawtop("--once", "--format", "json", "--node", urls[0], "--node", urls[1], "--node", dead)
    assert r.returncode == 3
    report = json.loads(r.stdout)
    assert report["schema"] == "clawtop.snapshot.v2" and report["status"] == "unknown" and report["exit_code"] == 3
    by_url = {n["url"]: n for n in report["nodes"]}
    assert by_url[dead]["state"] == "unreachable" and "refused" in by_url[dead]["error"]
    assert by_url[urls[0]]["state"] == "serving" and by_url[urls[0]]["data_age_seconds"] < 5
    assert by_url[urls[0]]["snapshot"]["node"]["id"] == "node-0"
    assert {p["id"] for p in report["providers"]} == {"primary", "secondary", "backup"}
    assert report["fleet"]["nodes_total"] == 3 and report["fleet"]["nodes_serving"] == 2
    # A failover that leaves its tier with secondary is listed but OK (0); with the first tier
    # empty the route runs on its backup tier: degraded (1); every node drained is critical (2).
    for url in urls:
        call(url + "/admin/v1/providers/primary/failover", "POST", {})
    noted = clawtop("--once", "--node", ",".join(urls))
    assert noted.returncode == 0 and "in force: provider primary failed over" in noted.stdout, noted.stdout
    for url in urls:
        call(url + "/admin/v1/providers/secondary/drain", "POST", {})
    assert clawtop("--once", "--node", ",".join(urls)).returncode == 1
    for url in urls:
        call(url + "/admin/v1/node/drain", "POST")
    crit = clawtop("--once", "--node", ",".join(urls))
    assert crit.returncode == 2 and "no node is serving" in crit.stdout


def test_once_errors_are_clear(nodes):
    sim, urls = nodes
    bad = clawtop("--once", "--node", "ftp://x")
    assert bad.returncode == 2 and "not an http:// or https:// URL" in bad.stderr
    denied = clawtop("--once", "--node", urls[0], token="not-a-valid-token-at-all")
    assert denied.returncode == 3 and "401 unauthorized" in denied.stdout
    garbage = clawtop("--once", "--node", sim.info["control"])
    assert garbage.returncode == 3 and "404" in garbage.stdout
    none = clawtop("--once")
    assert none.returncode == 2 and "--node" in none.stderr
    notty = clawtop("--node", urls[0])
    assert notty.returncode == 2 and "--once" in notty.stderr


class Tmux:
    def __init__(self, command, width=80, height=24):
        self.name = "clawtop-" + uuid.uuid4().hex[:8]
        for attempt in range(3):
            r = subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height), command],
                               capture_output=True, text=True)
            if r.returncode == 0:
                break
            time.sleep(0.2)  # a tmux server that was exiting as we reached it ("server exited unexpectedly")
        else:
            raise RuntimeError(f"tmux new-session failed 3 times: {r.stderr.strip()}")

    def screen(self):
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True).stdout

    def keys(self, *keys):
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def wait_for(self, text, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = self.screen()
            if text in s:
                return s
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not on screen:\n{self.screen()}")

    def alive(self):
        return subprocess.run(["tmux", "has-session", "-t", self.name], capture_output=True).returncode == 0

    def kill(self):
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by .ci/run")
def test_console_in_tmux_shows_the_fleet_resizes_and_quits(nodes):
    sim, urls = nodes
    t = Tmux(f"env TERM=xterm-256color CLAWTOP_TOKEN={OPERATOR} {binary('clawtop')} --refresh 0.5 --node {','.join(urls)}")
    try:
        screen = t.wait_for("primary")
        assert "nodes 2/2" in screen and "secondary" in screen and "backup" in screen
        t.keys("2")
        # The tab names the pane in view: the Providers pane's detail lists the nodes too, so
        # waiting for a node's name alone can read the screen before the key was handled.
        screen = t.wait_for("2 Nodes")
        assert "node-0" in screen and "node-1" in screen and "serving" in screen
        # A provider drained through the admin API shows up on the next poll.
        call(urls[0] + "/admin/v1/providers/backup/drain", "POST")
        t.keys("1")
        t.wait_for("drained")
        subprocess.run(["tmux", "resize-window", "-t", t.name, "-x", "120", "-y", "40"], check=True)
        screen = t.wait_for("TTFT")
        assert len(screen.splitlines()[1]) > 80  # "sort: name" moved to the right edge
        subprocess.run(["tmux", "resize-window", "-t", t.name, "-x", "30", "-y", "8"], check=True)
        t.wait_for("need 40x10")
        t.keys("q")
        deadline = time.time() + 5
        while t.alive() and time.time() < deadline:
            time.sleep(0.1)
        assert not t.alive(), "q did not quit"
    finally:
        t.kill()


def provider_state(url, provider):
    status, snap = call(url + "/admin/v1/snapshot", token=VIEWER)
    return next(p for p in snap["providers"] if p["id"] == provider)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by .ci/run")
def test_actions_by_keys_and_command_line_reach_every_node(nodes):
    sim, urls = nodes
    t = Tmux(f"env TERM=xterm-256color CLAWTOP_TOKEN={OPERATOR} {binary('clawtop')} --refresh 0.5 --node {','.join(urls)}", 100, 30)
    try:
        t.wait_for("primary")
        # Rows sort by name: backup, primary, secondary. Select primary, press d, give a reason, confirm.
        t.keys("j", "d")
        t.wait_for("Drain provider primary on 2 nodes")
        t.keys("r", "m", "a", "i", "n", "t", "Enter", "Enter")  # r: the reason; Enter: on to Confirm; Enter: send
        t.wait_for("Drain provider primary on 2 nodes: node-0 ok, node-1 ok")
        for url in urls:
            assert provider_state(url, "primary")["state"] == "drained"
        status, audit = call(urls[1] + "/admin/v1/audit", token=VIEWER)
        assert audit["entries"][-1]["reason"] == "maint" and audit["entries"][-1]["actor"] == "ops"
        # Escape in the dialog changes nothing.
        t.keys("u")
        t.wait_for("Undrain provider primary")
        t.keys("Escape")
        time.sleep(0.5)
        assert provider_state(urls[0], "primary")["state"] == "drained"
        # :weight from the command line.
        t.keys(":", "weight chat secondary=900", "Enter")
        t.wait_for("Set weights of route chat")
        t.keys("Right", "Enter")
        t.wait_for("secondary=900 on 2 nodes: node-0 ok, node-1 ok")
        for url in urls:
            weights = provider_state(url, "secondary")["weights"]
            assert weights[0]["effective_weight"] == 900
        t.keys("q")
    finally:
        t.kill()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by .ci/run")
def test_strategy_changed_by_keys_reaches_every_node_and_is_audited(nodes):
    sim, urls = nodes
    t = Tmux(f"env TERM=xterm-256color CLAWTOP_TOKEN={OPERATOR} {binary('clawtop')} --refresh 0.5 --node {','.join(urls)}", 120, 30)
    try:
        t.wait_for("primary")
        t.keys("3")
        assert "weighted" in t.wait_for("STRATEGY")
        t.keys(":", "strategy chat latency", "Enter")
        t.wait_for("Route chat chooses by latency on 2 nodes")
        t.keys("Right", "Enter")
        t.wait_for("Route chat chooses by latency on 2 nodes: node-0 ok, node-1 ok")
        for url in urls:
            chat(url, 5)
        deadline = time.time() + 10
        row = ""
        while time.time() < deadline and "latency" not in row:
            time.sleep(0.1)
            row = next((line for line in t.screen().splitlines() if line.startswith("chat") and "primary" in line), "")
        assert "latency" in row, t.screen()
        for url in urls:
            snap = call(url + "/admin/v1/snapshot", token=VIEWER)[1]
            assert snap["routes"][0]["strategy"] == "latency"
            entry = call(url + "/admin/v1/audit", token=VIEWER)[1]["entries"][-1]
            assert entry["action"] == "route.strategy" and entry["actor"] == "ops" and entry["after"] == {"strategy": "latency"}
        t.keys("q")
    finally:
        t.kill()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by .ci/run")
def test_read_only_refuses_actions(nodes):
    sim, urls = nodes
    t = Tmux(f"env TERM=xterm-256color CLAWTOP_TOKEN={OPERATOR} {binary('clawtop')} --read-only --node {urls[0]}", 100, 30)
    try:
        screen = t.wait_for("primary")
        assert "RO" in screen.splitlines()[0]
        t.keys("j", "d")
        time.sleep(0.5)
        assert "Confirm" not in t.screen()
        t.keys(":", "drain provider primary", "Enter")
        t.wait_for("read-only")
        assert provider_state(urls[0], "primary")["state"] == "healthy"
    finally:
        t.kill()


def test_exec_runs_one_command_per_node(nodes):
    sim, urls = nodes
    no = clawtop("--exec", "drain provider backup", "--node", ",".join(urls))
    assert no.returncode == 2 and "--yes" in no.stderr
    ok = clawtop("--exec", "drain provider backup", "--yes", "--node", ",".join(urls))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "node-0: ok" in ok.stdout and "node-1: ok" in ok.stdout
    assert all(provider_state(u, "backup")["state"] == "drained" for u in urls)
    refused = clawtop("--exec", "weight chat primary=0 secondary=0", "--yes", "--node", ",".join(urls))
    assert refused.returncode == 1 and "every weight 0" in refused.stdout
    viewer = clawtop("--exec", "restore primary", "--yes", "--node", urls[0], token=VIEWER)
    assert viewer.returncode == 1 and "403" in viewer.stdout
    partial = clawtop("--exec", "undrain provider backup", "--yes", "--node", urls[0], "--node", "http://127.0.0.1:9")
    assert partial.returncode == 1 and "not sent" in partial.stdout
    unknown = clawtop("--exec", "drain provider ghost", "--yes", "--node", urls[0])
    assert unknown.returncode == 1 and "no provider 'ghost'" in unknown.stderr


def test_a_drifted_file_store_node_is_reported_and_sync_copies_a_state(nodes):
    sim, urls = nodes
    # node-1 alone gets a weight override (as a node restarted from an old file would differ).
    status, _ = call(urls[1] + "/admin/v1/routes/chat/weights", method="PUT", body={"weights": {"primary": 10}})
    assert status == 200
    once = clawtop("--once", "--format", "json", "--node", ",".join(urls))
    report = json.loads(once.stdout)
    assert once.returncode == 1 and report["fleet"]["revision_drift"] is True, once.stdout
    drift = [r for r in report["reasons"] if "drifted" in r]
    assert len(drift) == 1 and "weights chat: primary=10" in drift[0] and "`:sync" in drift[0], report["reasons"]
    # Copy node-1's state to node-0: one write, to node-0 only, and the nodes agree again.
    r = clawtop("--exec", "sync node-1", "--yes", "--node", ",".join(urls))
    assert r.returncode == 0 and "Copy node-1's operator state (nothing drained; weights chat: primary=10) to node-0" in r.stdout, r.stdout + r.stderr
    assert "node-0: ok" in r.stdout and "node-1:" not in r.stdout.split("\n", 1)[1], r.stdout
    states = [call(u + "/admin/v1/state", token=VIEWER)[1] for u in urls]
    assert all(s["weights"] == {"chat": {"primary": 10}} for s in states), states
    again = json.loads(clawtop("--once", "--format", "json", "--node", ",".join(urls)).stdout)
    assert again["fleet"]["revision_drift"] is False and not [r for r in again["reasons"] if "drifted" in r], again["reasons"]
    audit = call(urls[0] + "/admin/v1/audit", token=VIEWER)[1]["entries"]
    assert audit[-1]["action"] == "state.replace" and audit[-1]["actor"] == "ops", audit[-1]


def test_bad_theme_file_is_named_with_its_line(nodes, tmp_path):
    sim, urls = nodes
    bad = tmp_path / "bad.theme"
    bad.write_text("header = white on blue\nok = not-a-colour\n")
    env = dict(os.environ, TERM="xterm-256color", CLAWTOP_TOKEN=OPERATOR)
    t = Tmux(f"env TERM=xterm-256color {binary('clawtop')} --theme {bad} --node {urls[0]}; echo exit=$?; sleep 5")
    try:
        screen = t.wait_for("exit=2")
        assert f"{bad}:2: 'not-a-colour' is not a colour" in screen.replace("\n", "")
    finally:
        t.kill()
    t = Tmux(f"env TERM=xterm-256color CLAWTOP_TOKEN={OPERATOR} {binary('clawtop')} --theme high-contrast --node {urls[0]}")
    try:
        t.wait_for("primary")
        t.keys("t")
        t.wait_for("theme mono")
        t.keys(":", "theme nope", "Enter")
        t.wait_for("nope.theme: unknown theme")
    finally:
        t.kill()


def test_config_file_gives_the_fleet_and_flags_override(nodes, tmp_path):
    sim, urls = nodes
    (tmp_path / "clawtop").mkdir()
    token = tmp_path / "token"
    token.write_text(VIEWER + "\n")
    (tmp_path / "clawtop" / "config.yaml").write_text(f"nodes: [{urls[0]}, {urls[1]}]\ntoken_file: {token}\nrefresh: 1\n")
    env = {k: v for k, v in os.environ.items() if k not in ("TERM", "CLAWTOP_TOKEN")}
    env["XDG_CONFIG_HOME"] = str(tmp_path)
    r = subprocess.run([binary("clawtop"), "--once", "--format", "json"], capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert [n["url"] for n in json.loads(r.stdout)["nodes"]] == urls
    r = subprocess.run([binary("clawtop"), "--once", "--format", "json", "--node", urls[1]], capture_output=True, text=True, env=env, timeout=30)
    assert [n["url"] for n in json.loads(r.stdout)["nodes"]] == [urls[1]]
    (tmp_path / "clawtop" / "config.yaml").write_text("gateway: [x]\n")
    r = subprocess.run([binary("clawtop"), "--once"], capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 2 and "config.yaml: gateway: unknown key" in r.stderr


def children_of(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def alive(pids):
    return [p for p in pids if os.path.exists(f"/proc/{p}") and "zombie" not in open(f"/proc/{p}/status").read().lower()]


MONITORS = bool(shutil.which("prometheus") and (shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")))
# Where etcd is installed (.ci/run installs it) the demo's nodes share a 3-member etcd cluster.
ETCD = 3 if shutil.which("etcd") else 0


def test_demo_headless_gives_urls_and_tokens_and_stops_everything_on_sighup():
    p = subprocess.Popen([binary("clawtop"), "--demo", "--headless", "--incident-period", "10"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        info = json.loads(p.stdout.readline())
        assert len(info["nodes"]) == 3 and info["operator_token"] and info["viewer_token"]
        kids = children_of(p.pid)
        # clawsim and three clawgate nodes, Prometheus and Alertmanager, and three etcd members where
        # installed (.ci/run installs them).
        assert len(kids) == 4 + 2 * MONITORS + ETCD
        assert len(info["etcd"]) == ETCD
        if ETCD:
            status, fleet = call(info["nodes"][0]["admin"] + "/admin/v1/fleet", token=info["viewer_token"])
            assert fleet["store"]["kind"] == "etcd" and len(fleet["members"]) == 3, fleet
        assert (info["prometheus"] is not None) == MONITORS and (info["alertmanager"] is not None) == MONITORS
        url = info["nodes"][0]["admin"]
        for g in info["nodes"]:
            assert urllib.request.urlopen(g["url"] + "/readyz", timeout=5).status == 200
        status, snap = call(url + "/admin/v1/snapshot", token=info["viewer_token"])
        assert status == 200 and {pr["id"] for pr in snap["providers"]} == {"fast", "premium", "cheap", "local"}
        assert call(url + "/admin/v1/node/drain", "POST", token=info["viewer_token"])[0] == 403
        # A scripted incident shows in the events within its (shortened) period.
        deadline = time.time() + 30
        kinds = set()
        while time.time() < deadline and not kinds & {"circuit_opened", "health_failed"}:
            time.sleep(0.5)
            for g in info["nodes"]:
                status, ev = call(g["admin"] + "/admin/v1/events", token=info["viewer_token"])
                kinds |= {e["kind"] for e in ev["events"]}
        assert kinds & {"circuit_opened", "health_failed"}, kinds
        if MONITORS:
            # Prometheus scrapes every node, and an incident reaches Alertmanager as a real alert.
            deadline = time.time() + 15
            while True:
                up = json.load(urllib.request.urlopen(info["prometheus"] + "/api/v1/query?query=up", timeout=5))["data"]["result"]
                if len(up) == len(info["nodes"]) and all(r["value"][1] == "1" for r in up) or time.time() > deadline:
                    break
                time.sleep(0.5)
            assert sorted(r["metric"]["instance"] for r in up) == sorted(g["admin"].split("//")[1] for g in info["nodes"])
            assert all(r["value"][1] == "1" for r in up), up
            deadline = time.time() + 45
            alerts = []
            while time.time() < deadline and not alerts:
                alerts = json.load(urllib.request.urlopen(info["alertmanager"] + "/api/v2/alerts", timeout=5))
                time.sleep(1)
            assert alerts and all(a["labels"]["alertname"].startswith("Clawgate") for a in alerts), alerts
        p.send_signal(signal.SIGHUP)
        assert p.wait(timeout=15) == 0
        assert alive(kids) == []
    finally:
        if p.poll() is None:
            p.kill()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by .ci/run")
def test_demo_on_screen_and_q_leaves_no_child():
    t = Tmux(f"env TERM=xterm-256color {binary('clawtop')} --demo --incident-period 30", 100, 30)
    try:
        screen = t.wait_for("premium", timeout=20)
        assert "nodes 3/3" in screen and "fast" in screen and "cheap" in screen and "local" in screen
        clawtop_pid = int(subprocess.run(["pgrep", "-n", "-f", "clawtop --demo --incident-period 30"], capture_output=True, text=True).stdout.split()[0])
        kids = children_of(clawtop_pid)
        assert len(kids) == 4 + 2 * MONITORS + ETCD
        if MONITORS:
            t.wait_for("src prom", timeout=20)  # the figures come from the demo's own Prometheus
        t.keys("q")
        deadline = time.time() + 10
        while t.alive() and time.time() < deadline:
            time.sleep(0.1)
        assert not t.alive()
        time.sleep(0.5)
        assert alive(kids) == []
    finally:
        t.kill()


def test_demo_once():
    r = subprocess.run([binary("clawtop"), "--demo", "--once", "--format", "json"], capture_output=True, text=True, timeout=60)
    report = json.loads(r.stdout)
    assert report["figures_source"] == "nodes"  # a one-shot snapshot starts no Prometheus
    assert report["fleet"]["nodes_total"] == 3 and report["fleet"]["nodes_serving"] == 3
    assert {pr["id"] for pr in report["providers"]} == {"fast", "premium", "cheap", "local"}
    assert r.returncode in (0, 1)


def test_demo_no_monitors_starts_only_the_fleet():
    p = subprocess.Popen([binary("clawtop"), "--demo", "--headless", "--no-monitors"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        info = json.loads(p.stdout.readline())
        assert info["prometheus"] is None and info["alertmanager"] is None
        assert len(children_of(p.pid)) == 4 + ETCD
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=15) == 0
    finally:
        if p.poll() is None:
            p.kill()
    bad = subprocess.run([binary("clawtop"), "--no-monitors", "--once"], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 64 and "--no-monitors goes with --demo" in bad.stderr


def test_exec_previews_the_effect_dry_runs_and_guards_an_empty_route(nodes):
    sim, urls = nodes
    fleet = ",".join(urls)
    dry = clawtop("--exec", "drain provider primary", "--dry-run", "--node", fleet)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "route chat: primary 50% -> 0.0%, secondary 50% -> 100%" in dry.stdout and "nothing was changed" in dry.stdout, dry.stdout
    assert provider_state(urls[0], "primary")["state"] != "drained"
    # The prediction holds under traffic: primary from 50 to 1/6 of tier 0.
    weighted = clawtop("--exec", "weight chat primary=10", "--yes", "--node", fleet)
    assert weighted.returncode == 0 and "primary 50% -> 17%" in weighted.stdout and "secondary 50% -> 83%" in weighted.stdout, weighted.stdout
    served = chat(urls[0], 300)
    share = served.get("primary", 0) / 300
    assert abs(share - 1 / 6) < 0.07, f"predicted 16.7 %, got {share:.1%} ({served})"
    # Down to the last tier: a warning; emptying the route: refused without the typed name.
    clawtop("--exec", "drain provider primary", "--yes", "--node", fleet)
    lower = clawtop("--exec", "drain provider secondary", "--yes", "--node", fleet)
    assert lower.returncode == 0 and "warning: route chat moves to tier 1" in lower.stdout, lower.stdout
    refused = clawtop("--exec", "drain provider backup", "--yes", "--node", fleet)
    assert refused.returncode == 1 and "--confirm chat" in refused.stderr and "route chat would have no available provider" in refused.stderr, refused.stdout + refused.stderr
    assert provider_state(urls[0], "backup")["state"] != "drained"
    forced = clawtop("--exec", "drain provider backup", "--yes", "--confirm", "chat", "--node", fleet)
    assert forced.returncode == 0 and provider_state(urls[0], "backup")["state"] == "drained", forced.stdout + forced.stderr


def test_timeline_merges_the_nodes_and_names_one_that_cannot_be_read(nodes):
    sim, urls = nodes
    fleet = ",".join(urls)
    call(urls[0] + "/admin/v1/providers/backup/drain", "POST", {"reason": "timeline e2e"})
    call(urls[1] + "/admin/v1/providers/backup/drain", "POST", {"reason": "timeline e2e"})
    text = clawtop("--timeline", "--node", fleet)
    assert text.returncode == 0, text.stdout + text.stderr
    # The same action on both nodes (one console action fans out to every file-store node): one line.
    assert text.stdout.count("ops: provider.drain provider:backup (reason: timeline e2e)") == 1, text.stdout
    # The summary is per incident: a drain with nothing wrong is no incident.
    assert ("first operator action:" in text.stdout and "time to recover:" in text.stdout) or "no incident in this period" in text.stdout, text.stdout
    md = clawtop("--timeline", "--format", "markdown", "--since", "30m", "--node", fleet)
    assert md.returncode == 0 and md.stdout.startswith("# Incident timeline") and "| action |" in md.stdout, md.stdout
    js = clawtop("--timeline", "--format", "json", "--node", fleet + ",http://127.0.0.1:9")
    report = json.loads(js.stdout)
    assert js.returncode == 1 and report["schema"] == "clawtop.timeline.v2", js.stdout
    assert any(u.startswith("http://127.0.0.1:9: ") for u in report["unread"]), report["unread"]
    bad = clawtop("--timeline", "--since", "yesterday", "--node", fleet)
    assert bad.returncode == 64 and "--since 'yesterday' is not a duration" in bad.stderr, bad.stderr


def chat_served(urls, route):
    """Requests of `route` served per provider, summed over the nodes' cumulative /metrics counters."""
    totals = {}
    for url in urls:
        for line in urllib.request.urlopen(url + "/metrics", timeout=5).read().decode().splitlines():
            if line.startswith("clawgate_requests_total{") and f'route="{route}"' in line and 'outcome="ok"' in line:
                provider = line.split('provider="')[1].split('"')[0]
                totals[provider] = totals.get(provider, 0) + float(line.rsplit(" ", 1)[1])
    return totals


def test_a_drain_under_the_demos_traffic_moves_the_shares_the_preview_predicted():
    p = subprocess.Popen([binary("clawtop"), "--demo", "--headless", "--no-monitors", "--file-store", "--incident-period", "3600"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        info = json.loads(p.stdout.readline())
        urls = [n["admin"] for n in info["nodes"]]
        time.sleep(3)  # traffic under way
        r = clawtop("--exec", "drain provider cheap", "--yes", "--node", ",".join(urls), token=info["operator_token"])
        assert r.returncode == 0, r.stdout + r.stderr
        # Route chat weighs fast 70 / cheap 30: the preview says where cheap's share goes.
        line = next(l for l in r.stdout.splitlines() if "route chat:" in l)
        predicted = {m[0]: float(m[2]) / 100 for m in re.findall(r"([\w.-]+) ([\d.]+)% -> ([\d.]+)%", line)}
        assert predicted["cheap"] == 0 and abs(predicted["fast"] - 1) < 1e-9, line
        before = chat_served(urls, "chat")
        time.sleep(20)
        after = chat_served(urls, "chat")
        moved = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        total = sum(moved.values())
        assert total >= 10, f"too little traffic on chat to compare: {moved}"
        for provider, share in predicted.items():
            actual = moved.get(provider, 0) / total
            assert abs(actual - share) <= 0.05, f"{provider}: predicted {share:.0%}, got {actual:.0%} of {total:.0f} ({moved})"
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by .ci/run")
def test_the_demos_clients_call_with_their_keys_and_the_console_blocks_one_by_keys():
    import openai
    p = subprocess.Popen([binary("clawtop"), "--demo", "--headless", "--no-monitors", "--file-store", "--incident-period", "3600"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    t = None
    try:
        info = json.loads(p.stdout.readline())
        keys = {c["name"]: c["key"] for c in info["clients"]}
        assert sorted(keys) == ["batch-jobs", "support-bot", "web-app"], info["clients"]
        urls = [n["url"] for n in info["nodes"]]
        admins = [n["admin"] for n in info["nodes"]]
        web = openai.OpenAI(base_url=urls[0] + "/v1", api_key=keys["web-app"], max_retries=0, timeout=10)
        assert web.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}]).choices
        t = Tmux(f"env TERM=xterm-256color CLAWTOP_TOKEN={info['operator_token']} {binary('clawtop')} --refresh 0.5 --node {','.join(admins)}", 120, 30)
        t.keys("7")
        screen = t.wait_for("web-app")
        names = [line.split()[0] for line in screen.splitlines()[3:] if line.split() and line.split()[0] in keys]
        t.keys(*(["j"] * names.index("web-app")))
        t.keys("b")
        t.wait_for("Block client web-app")
        t.keys("y", "Enter")
        t.wait_for("Block client web-app: its requests are refused with 403 on 3 nodes: ")
        blocked_at = time.time()
        for url in urls:
            client = openai.OpenAI(base_url=url + "/v1", api_key=keys["web-app"], max_retries=0, timeout=10)
            with pytest.raises(openai.PermissionDeniedError) as refused:
                client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
            assert refused.value.code == "client_blocked"
        assert time.time() - blocked_at < 1.0, "a node still served the blocked client a second after the block"
        t.wait_for("BLOCKED")
        # The others still call.
        bot = openai.OpenAI(base_url=urls[1] + "/v1", api_key=keys["support-bot"], max_retries=0, timeout=10)
        assert bot.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}]).choices
    finally:
        if t:
            t.kill()
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
