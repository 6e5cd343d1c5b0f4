"""Drills with the real binaries: a fault injected from clawtop's command line in tmux shows as DRILL
on the row and in the header and ends early on :unfault; --once says it and keeps its exit code."""
import json
import shutil
import time

import pytest

from conftest import binary
from test_admin_e2e import OPERATOR, VIEWER, call, chat
from test_clawtop_e2e import Tmux, clawtop, nodes  # noqa: F401  (nodes is a fixture)

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by .ci/run")


def fault_of(url, provider):
    status, snap = call(url + "/admin/v1/snapshot", token=VIEWER)
    return next(p for p in snap["providers"] if p["id"] == provider)["fault"]


@needs_tmux
def test_a_fault_from_the_command_line_is_drill_on_screen_in_once_and_ends_on_unfault(nodes):  # noqa: F811
    sim, urls = nodes
    before = clawtop("--once", "--node", ",".join(urls))
    assert before.returncode == 0, before.stdout + before.stderr
    t = Tmux(f"env TERM=xterm-256color CLAWTOP_TOKEN={OPERATOR} {binary('clawtop')} --refresh 0.5 --node {','.join(urls)}", 120, 40)
    try:
        t.wait_for("primary")
        t.keys("1")  # the Providers pane
        t.keys(":", "fault outage provider primary 45s", "Enter")
        screen = t.wait_for("Inject a fault: provider primary outage for 45s")
        assert "nothing is sent to primary" in screen and "ends by itself at" in screen, screen
        t.keys("Right", "Enter")  # Cancel is the default: Right to Confirm, Enter sends
        t.wait_for("ending by itself, on 2 nodes: node-0 ok, node-1 ok")
        t.wait_for("in force 1 ")
        screen = t.wait_for("primary DRILL")
        assert "DRILL primary" in screen.splitlines()[0], screen
        for url in urls:
            fault = fault_of(url, "primary")
            assert fault["kind"] == "outage" and fault["actor"] == "ops" and 40 < fault["until"] - fault["since"] <= 45
        # --once says it, and the fault alone changes no exit code.
        once = clawtop("--once", "--node", ",".join(urls))
        assert once.returncode == before.returncode, once.stdout
        assert "DRILL provider primary: outage until" in once.stdout and "on 2/2 nodes, set by ops" in once.stdout, once.stdout
        report = json.loads(clawtop("--once", "--format", "json", "--node", ",".join(urls)).stdout)
        primary = next(p for p in report["providers"] if p["id"] == "primary")
        assert primary["fault"]["kind"] == "outage" and primary["fault"]["nodes"] == 2, primary
        assert any(c["kind"] == "fault" for c in report["operator_changes"]), report["operator_changes"]
        # Client traffic meanwhile: served, never by primary.
        served = chat(urls[0], 10)
        assert "primary" not in served and sum(served.values()) == 10, served
        t.keys(":", "unfault provider primary", "Enter")
        t.wait_for("End the fault on provider primary now")
        t.keys("Right", "Enter")
        deadline = time.time() + 10
        while time.time() < deadline and "DRILL" in t.screen():
            time.sleep(0.2)
        assert "DRILL" not in t.screen(), t.screen()
        for url in urls:
            assert fault_of(url, "primary") is None
        status, audit = call(urls[1] + "/admin/v1/audit", token=VIEWER)
        assert [e["action"] for e in audit["entries"]][-2:] == ["provider.fault", "provider.unfault"]
        t.keys("q")
    finally:
        t.kill()



@pytest.fixture
def demo():
    """The demo fleet, headless and without scripted incidents during the test: its nodes and operator token."""
    import subprocess
    p = subprocess.Popen([binary("clawtop"), "--demo", "--headless", "--no-monitors", "--incident-period", "7200"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        info = json.loads(p.stdout.readline())
        time.sleep(5)  # a few seconds of its traffic
        yield [n["admin"] for n in info["nodes"]], info["operator_token"]
    finally:
        p.terminate()
        try:
            p.wait(timeout=15)
        except Exception:
            p.kill()


def drill(nodes, token, *args):
    """clawtop --drill against `nodes`: the fault's time, then the recovery watch (up to 120 s)."""
    import os
    import subprocess
    env = {k: v for k, v in os.environ.items() if k not in ("TERM", "CLAWTOP_TOKEN")}
    env["CLAWTOP_TOKEN"] = token
    return subprocess.run([binary("clawtop"), "--node", ",".join(nodes), *args], capture_output=True, text=True, timeout=200, env=env)


def test_drill_against_the_demo_passes_with_a_generous_rto_and_fails_with_1ms(demo):
    nodes, token = demo
    passed = drill(nodes, token, "--drill", "outage provider fast 8s", "--rto", "60s", "--yes", "--format", "json")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    report = json.loads(passed.stdout)
    assert report["schema"] == "clawtop.drill.v1" and report["result"] == "pass", report["verdict"]
    phases = report["phases"]
    assert set(phases) == {"detect", "mitigate", "recover"}
    assert set(phases["detect"]["out_of_rotation"]) == {"demo-1", "demo-2", "demo-3"}
    assert all(s is not None and 0 <= s < 20 for s in phases["detect"]["out_of_rotation"].values()), phases
    assert phases["mitigate"]["seconds"] is not None and phases["mitigate"]["seconds"] <= 60
    assert phases["mitigate"]["share_before"] > 0.05, "fast carried traffic before the drill"
    assert report["clients"]["requests"] > 0 and report["clients"]["errors"] == 0, report["clients"]
    assert report["cost"]["before_per_hour_dollars"] is not None
    assert phases["recover"]["seconds"] is not None, "fast was healthy on every node again within the watch"
    assert any(i["drill"] for i in report["timeline"]["incidents"]), report["timeline"]["incidents"]
    assert "Drill: provider fast outage for 8s" in passed.stderr  # the plan and its preview, on stderr
    # The same fault against a 1 ms objective fails, in text.
    failed = drill(nodes, token, "--drill", "error provider cheap 5s status=503", "--rto", "1ms", "--yes")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "result: FAIL: mitigated in" in failed.stdout and "more than the RTO of 1ms" in failed.stdout, failed.stdout
    assert "time to detect:" in failed.stdout and "timeline:" in failed.stdout and "drill fault started on cheap on 3 of 3 nodes" in failed.stdout
    # The fleet's own timeline holds both, as drills.
    timeline = clawtop("--timeline", "--node", ",".join(nodes), token=token)
    assert "(drill)" in timeline.stdout and "drill fault ended on fast" in timeline.stdout, timeline.stdout
    status, audit = call(nodes[0] + "/admin/v1/audit", token=token)
    actions = [(e["action"], e["target"]) for e in audit["entries"]]
    assert ("provider.fault", "provider:fast") in actions and ("provider.fault", "provider:cheap") in actions, actions
    # Each fault ended: the drill's own end, or the node's expiry when that came first.
    for provider in ("fast", "cheap"):
        assert {("provider.unfault", f"provider:{provider}"), ("provider.fault_expired", f"provider:{provider}")} & set(actions), actions


def test_drill_refuses_what_it_cannot_run_and_says_when_the_fleet_cannot_be_read(nodes):  # noqa: F811
    sim, urls = nodes
    assert clawtop("--drill", "outage provider primary 5s", "--rto", "30s", "--node", ",".join(urls)).returncode == 2  # no --yes
    bad = clawtop("--drill", "flood provider primary 5s", "--rto", "30s", "--yes", "--node", ",".join(urls))
    assert bad.returncode == 2 and "'flood' is not a kind of fault" in bad.stderr, bad.stderr
    missing = clawtop("--drill", "outage provider primary 5s", "--yes", "--node", ",".join(urls))
    assert missing.returncode == 2 and "--drill needs --rto" in missing.stderr
    assert clawtop("--rto", "30s", "--once", "--node", urls[0]).returncode == 64
    unknown = clawtop("--drill", "outage provider nope 5s", "--rto", "30s", "--yes", "--node", ",".join(urls))
    assert unknown.returncode == 2 and "no provider 'nope'" in unknown.stderr
    gone = clawtop("--drill", "outage provider primary 5s", "--rto", "30s", "--yes", "--node", "http://127.0.0.1:9")
    assert gone.returncode == 3 and "could not be read" in gone.stderr, gone.stderr
    dry = clawtop("--drill", "outage provider primary 5s", "--rto", "30s", "--dry-run", "--node", ",".join(urls))
    assert dry.returncode == 0 and "nothing was changed" in dry.stderr
    for url in urls:
        assert fault_of(url, "primary") is None, "nothing was injected"


@pytest.mark.skipif(shutil.which("prometheus") is None or (shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")) is None,
                    reason="Debian's prometheus and prometheus-alertmanager are installed by .ci/run")
def test_a_drill_of_the_demo_with_prometheus_times_its_first_alert():
    import subprocess
    # The demo's own Prometheus and Alertmanager (each alert's for: 15 s with this incident period).
    r = subprocess.run([binary("clawtop"), "--demo", "--incident-period", "7200", "--drill", "outage provider fast 25s", "--rto", "60s",
                        "--yes", "--format", "json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    detect = report["phases"]["detect"]
    assert detect["alert_seconds"] is not None and 0 < detect["alert_seconds"] < 25, detect
    assert "provider=fast" in detect["first_alert"], detect
    assert any(e["kind"] == "alert" and e["subject"] == "fast" for e in report["timeline"]["entries"]), report["timeline"]["entries"]
