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

