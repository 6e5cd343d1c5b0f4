"""The fleet store with the real binaries and a real etcd (Debian's etcd-server): issue 14's story.
A node that was stopped while an operator drained a provider applies the drain when it resumes."""
import json
import re
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import pytest

from conftest import binary, free_port
from test_admin_e2e import OPERATOR, VIEWER, admin_yaml, call, start_gate
from test_clawtop_e2e import OPERATOR as _OP, Tmux, clawtop  # noqa: F401

pytestmark = pytest.mark.skipif(shutil.which("etcd") is None, reason="etcd-server is installed by .ci/run")



@pytest.fixture
def etcd(tmp_path):
    client, peer = free_port(), free_port()
    url = f"http://127.0.0.1:{client}"
    p = subprocess.Popen(["etcd", "--name", "e", "--data-dir", str(tmp_path / "etcd"), "--listen-client-urls", url,
                          "--advertise-client-urls", url, "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                          "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}", "--initial-cluster", f"e=http://127.0.0.1:{peer}",
                          "--heartbeat-interval", "10", "--election-timeout", "100"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            if b"true" in urllib.request.urlopen(url + "/health", timeout=1).read():
                break
        except Exception:
            time.sleep(0.05)
    yield url
    p.terminate()
    p.wait(timeout=10)


@pytest.fixture
def fleet(etcd, tmp_path, sim):  # noqa: F811 (sim from test_admin_e2e via conftest import below)
    gates = []
    for n in range(3):
        config = tmp_path / f"node{n}.yaml"
        config.write_text(admin_yaml(sim.info["providers"], tmp_path / f"state{n}").replace("admin-e2e", f"node-{n + 1}")
                          + f"store: {{kind: etcd, endpoints: [{etcd}], fleet: e2e, timeout: 1}}\n")
        gates.append(start_gate(config))
    yield [g.info["admin"] for g in gates], gates
    for g in gates:
        if g.proc.poll() is None:
            g.proc.send_signal(signal.SIGCONT)
        g.stop()


from test_admin_e2e import sim  # noqa: E402,F401 (the fixture)


def drained(url, provider="primary"):
    status, snap = call(url + "/admin/v1/snapshot", token=VIEWER)
    return next(p for p in snap["providers"] if p["id"] == provider)["drained"]


def test_a_node_stopped_during_a_drain_applies_it_when_it_resumes(fleet):
    urls, gates = fleet
    gates[1].proc.send_signal(signal.SIGSTOP)
    try:
        r = clawtop("--exec", "drain provider primary", "--yes", "--node", ",".join(urls))
        # One write through a node that reaches the store; node-2 (stopped) cannot answer the poll.
        assert "1 write to the fleet store" in r.stdout, r.stdout + r.stderr
        assert drained(urls[0]) and drained(urls[2])
    finally:
        gates[1].proc.send_signal(signal.SIGCONT)
    start = time.time()
    while not drained(urls[1]) and time.time() - start < 2:
        time.sleep(0.02)
    assert drained(urls[1]), "node-2 did not apply the drain within 2 s of SIGCONT"
    # Every node now agrees: --once is not degraded by drift (a drained provider is not a fault).
    once = clawtop("--once", "--format", "json", "--node", ",".join(urls))
    assert not any("revision" in reason for reason in json.loads(once.stdout)["reasons"]), once.stdout
    status, members = call(urls[0] + "/admin/v1/fleet", token=VIEWER)
    assert status == 200 and members["store"]["kind"] == "etcd" and members["revision"] == 1
    assert sorted(m["id"] for m in members["members"]) == ["node-1", "node-2", "node-3"]
    # Given one node, the console finds the others through the store's member list.
    found = clawtop("--once", "--format", "json", "--node", urls[2])
    report = json.loads(found.stdout)
    assert sorted(n["url"] for n in report["nodes"]) == sorted(urls), report["nodes"]
    assert report["fleet"]["store_reachable"] is True


def test_a_node_started_while_the_store_is_down_serves_its_cache_and_refuses_writes(etcd, tmp_path, sim):  # noqa: F811
    config = tmp_path / "late.yaml"
    config.write_text(admin_yaml(sim.info["providers"], tmp_path / "late").replace("admin-e2e", "late")
                      + f"store: {{kind: etcd, endpoints: [{etcd}], fleet: e2e2, timeout: 1}}\n")
    first = start_gate(config)
    status, _ = call(first.info["admin"] + "/admin/v1/providers/primary/drain", method="POST")
    assert status == 200
    first.stop()
    dead = f"http://127.0.0.1:{free_port()}"
    config.write_text(config.read_text().replace(etcd, dead))
    cached = start_gate(config)
    try:
        status, snap = call(cached.info["admin"] + "/admin/v1/snapshot", token=VIEWER)
        assert snap["node"]["store"]["kind"] == "etcd" and snap["node"]["store"]["reachable"] is False
        assert next(p for p in snap["providers"] if p["id"] == "primary")["drained"], "the cached state serves"
        status, err = call(cached.info["admin"] + "/admin/v1/providers/primary/undrain", method="POST")
        assert status == 503 and err["error"]["code"] == "store_unavailable"
    finally:
        cached.stop()


def test_state_export_and_import_for_both_stores(etcd, tmp_path, sim):  # noqa: F811
    for kind in ("etcd", "file"):
        config = tmp_path / f"{kind}.yaml"
        store = f"store: {{kind: etcd, endpoints: [{etcd}], fleet: backup, timeout: 1}}\n" if kind == "etcd" else ""
        config.write_text(admin_yaml(sim.info["providers"], tmp_path / f"state-{kind}").replace("admin-e2e", kind) + store)
        gate = start_gate(config)
        assert call(gate.info["admin"] + "/admin/v1/providers/primary/drain", method="POST")[0] == 200
        if kind == "file":
            gate.stop()  # a file store's node reads its state at start
        out = subprocess.run([binary("clawgate"), "state", "export", "--config", str(config)], capture_output=True, text=True, check=True)
        saved = json.loads(out.stdout)
        assert saved["drained_providers"] == ["primary"] and saved["revision"] == 1, saved
        if kind == "etcd":
            assert call(gate.info["admin"] + "/admin/v1/providers/primary/undrain", method="POST")[0] == 200
        backup = tmp_path / f"{kind}.json"
        backup.write_text(out.stdout)
        stale = subprocess.run([binary("clawgate"), "state", "import", str(backup), "--config", str(config), "--if-match", "0"],
                               capture_output=True, text=True)
        assert stale.returncode == 1 and "stale" in stale.stderr, stale.stderr
        ok = subprocess.run([binary("clawgate"), "state", "import", str(backup), "--config", str(config)], capture_output=True, text=True)
        want = 3 if kind == "etcd" else 2
        assert ok.returncode == 0 and f"imported as revision {want}" in ok.stdout, ok.stdout + ok.stderr
        if kind == "file":
            gate = start_gate(config)
        deadline = time.time() + 2
        while time.time() < deadline and not call(gate.info["admin"] + "/admin/v1/state", token=VIEWER)[1]["drained_providers"]:
            time.sleep(0.05)
        state = call(gate.info["admin"] + "/admin/v1/state", token=VIEWER)[1]
        assert state["drained_providers"] == ["primary"] and state["revision"] == want, state
        audit = call(gate.info["admin"] + "/admin/v1/audit", token=VIEWER)[1]["entries"]
        assert audit[-1]["action"] == "state.import" and audit[-1]["actor"].startswith("clawgate state import"), audit[-1]
        gate.stop()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by .ci/run")
def test_console_writes_once_and_names_the_node_that_has_not_applied_it(fleet, tmp_path, sim):  # noqa: F811
    urls, gates = fleet
    # A fourth node of the same fleet that cannot reach the store: it answers, but never applies.
    config = tmp_path / "cut.yaml"
    config.write_text(admin_yaml(sim.info["providers"], tmp_path / "cut").replace("admin-e2e", "node-4")
                      + f"store: {{kind: etcd, endpoints: [http://127.0.0.1:{free_port()}], fleet: e2e, timeout: 0.3}}\n")
    cut = start_gate(config)
    everyone = urls + [cut.info["admin"]]
    t = Tmux(f"env TERM=xterm-256color CLAWTOP_TOKEN={OPERATOR} {binary('clawtop')} --refresh 0.5 --node {','.join(everyone)}", 140, 30)
    try:
        screen = t.wait_for("primary")
        assert "store down" in screen.splitlines()[0], screen
        t.keys(":", "drain provider primary", "Enter")
        t.wait_for("1 write to the fleet store through node-1; 4 nodes apply it")
        t.keys("Right", "Enter")
        screen = t.wait_for("waiting for node-4 (at 0, wants 1) to apply: Drain provider primary")
        assert all(drained(u) for u in urls) and not drained(cut.info["admin"])
        primary = next(line for line in screen.splitlines() if "primary" in line)
        assert "⧗" in primary, screen
        # --once: degraded, naming the node behind and the store it cannot reach.
        once = clawtop("--once", "--format", "json", "--node", ",".join(everyone))
        reasons = json.loads(once.stdout)["reasons"]
        assert once.returncode == 1, once.stdout
        assert "node node-4 is at revision 0, the highest is 1 (behind the fleet store)" in reasons, reasons
        assert any(r.startswith("node node-4 cannot reach the fleet store") for r in reasons), reasons
        # The node goes away: no node that answers is behind, and the mark clears.
        cut.stop()
        deadline = time.time() + 10
        while time.time() < deadline and "⧗" in next(line for line in t.screen().splitlines() if "primary" in line):
            time.sleep(0.1)
        assert "⧗" not in next(line for line in t.screen().splitlines() if "primary" in line), t.screen()
        t.keys("q")
    finally:
        t.kill()
        cut.stop()


def test_a_wiped_store_is_reported_then_import_moves_past_the_nodes_and_writes_work(etcd, tmp_path, sim):  # noqa: F811
    """Issue 25, point 9: after a wipe the import wrote revision 1, below the nodes' 3, so every
    write kept failing with store_wiped; and the empty store looked fine in the snapshot."""
    import base64
    config = tmp_path / "wipe.yaml"
    config.write_text(admin_yaml(sim.info["providers"], tmp_path / "state-wipe").replace("admin-e2e", "wiped")
                      + f"store: {{kind: etcd, endpoints: [{etcd}], fleet: wipe, timeout: 1}}\n")
    gate = start_gate(config)
    admin = gate.info["admin"]
    try:
        for verb in ("drain", "undrain", "drain"):
            assert call(admin + f"/admin/v1/providers/primary/{verb}", method="POST")[0] == 200
        saved = subprocess.run([binary("clawgate"), "state", "export", "--config", str(config)], capture_output=True, text=True, check=True).stdout
        assert json.loads(saved)["revision"] == 3
        # The wipe: every key of the fleet gone (state, audit, members).
        prefix = b"/clawgate/wipe/"
        body = {"key": base64.b64encode(prefix).decode(), "range_end": base64.b64encode(prefix[:-1] + b"0").decode()}
        urllib.request.urlopen(urllib.request.Request(etcd + "/v3/kv/deleterange", data=json.dumps(body).encode(), method="POST"), timeout=5).read()
        deadline = time.time() + 5
        store = {}
        while time.time() < deadline:
            store = call(admin + "/admin/v1/snapshot", token=VIEWER)[1]["node"]["store"]
            if store.get("error"):
                break
            time.sleep(0.05)
        assert store["reachable"] is True and "holds no operator state" in (store["error"] or ""), store
        events = call(admin + "/admin/v1/events", token=VIEWER)[1]["events"]
        assert sum("holds no operator state" in e["detail"] for e in events) == 1, events
        once = clawtop("--once", "--node", admin, token=VIEWER)
        assert once.returncode == 1 and "holds no operator state" in once.stdout, once.stdout
        # A write cannot build on the empty store...
        status, err = call(admin + "/admin/v1/providers/secondary/drain", method="POST")
        assert status == 409 and err["error"]["code"] == "store_wiped", err
        # ...the import moves the store past the node's revision, and the node takes it.
        backup = tmp_path / "saved.json"
        backup.write_text(saved)
        done = subprocess.run([binary("clawgate"), "state", "import", str(backup), "--config", str(config)], capture_output=True, text=True)
        assert done.returncode == 0 and "imported as revision 4" in done.stdout, done.stdout + done.stderr
        deadline = time.time() + 3
        while time.time() < deadline and call(admin + "/admin/v1/state", token=VIEWER)[1]["revision"] != 4:
            time.sleep(0.05)
        state = call(admin + "/admin/v1/state", token=VIEWER)[1]
        assert state["revision"] == 4 and state["drained_providers"] == ["primary"], state
        assert call(admin + "/admin/v1/snapshot", token=VIEWER)[1]["node"]["store"]["error"] is None
        status, written = call(admin + "/admin/v1/providers/secondary/drain", method="POST")
        assert status == 200 and written["revision"] == 5, written
    finally:
        gate.stop()


def test_a_fleet_store_write_is_one_event_line_with_who_and_why(fleet):
    """Issue 30: one write through the fleet store was four lines on the Events pane, three of
    them `applied revision N from the fleet store`; it is one line with the node count, the
    operator and the reason, and Enter shows it whole."""
    urls, gates = fleet
    env = dict(os.environ, CLAWTOP_TOKEN=OPERATOR, CLAWTOP_REASON="e2e merge check")
    r = subprocess.run([binary("clawtop"), "--exec", "drain provider primary", "--yes", "--node", ",".join(urls)],
                       capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    deadline = time.time() + 10
    while time.time() < deadline and not all(drained(u) for u in urls):
        time.sleep(0.1)
    t = Tmux(f"env TERM=xterm-256color CLAWTOP_TOKEN={OPERATOR} {binary('clawtop')} --refresh 0.5 --node {','.join(urls)}", 160, 30)
    try:
        t.wait_for("primary")
        t.keys("5")
        screen = t.wait_for("e2e merge check")
        rows = [line for line in screen.splitlines() if re.match(r"\d\d:\d\d:\d\d ", line)]  # the table's rows
        lines = [line for line in rows if "operator_action" in line]
        assert len(lines) == 1, screen
        assert "3 nodes" in lines[0] and "provider:primary" in lines[0] and "ops" in lines[0] and "provider.drain (revision" in lines[0], lines[0]
        assert not any("applied revision" in line for line in rows), screen
        t.keys("Enter")
        screen = t.wait_for("Event (Esc closes)")
        assert all(f"node-{n}" in screen for n in (1, 2, 3)) and "applied revision" in screen, screen  # each node's own report
        t.keys("Escape")
        deadline = time.time() + 5
        while time.time() < deadline and "Event (Esc closes)" in t.screen():
            time.sleep(0.1)
        assert "Event (Esc closes)" not in t.screen()
        t.keys("q")
    finally:
        t.kill()
