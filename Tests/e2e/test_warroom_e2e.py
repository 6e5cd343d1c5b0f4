"""The war-room screens with the real binaries in tmux: the overview at 120x40 and the read-only
wallboard, through an outage, every node dying, and the nodes coming back."""
import shutil
import time
import urllib.request

import pytest

from conftest import binary, free_port
from test_admin_e2e import OPERATOR, VIEWER, admin_yaml, call, chat, sim, start_gate  # noqa: F401 (sim: fixture)
from test_clawtop_e2e import Tmux

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by .ci/run")



@pytest.fixture
def fleet(sim, tmp_path):  # noqa: F811
    """Two nodes on fixed ports (so they can come back where the console looks), health checks every 0.5 s."""
    configs = []
    for n in range(2):
        config = tmp_path / f"node{n}.yaml"
        config.write_text(admin_yaml(sim.info["providers"], tmp_path / f"state{n}")
                          .replace("admin-e2e", f"room-{n + 1}").replace("listen: 127.0.0.1:0", f"listen: 127.0.0.1:{free_port()}")
                          .replace("admin:\n", f"admin:\n  listen: 127.0.0.1:{free_port()}\n")
                          .replace("health_check: {enabled: false}", "health_check: {interval: 0.5, timeout: 0.5, unhealthy_threshold: 1}"))
        configs.append(config)
    gates = [start_gate(c) for c in configs]
    state = {"gates": gates}
    yield sim, configs, state
    for g in state["gates"]:
        g.stop()


def row(screen, prefix):
    return next((line for line in screen.splitlines() if line.startswith(prefix)), "")


def test_the_overview_shows_providers_nodes_and_events_together(fleet):
    sim, configs, state = fleet
    urls = [g.info["admin"] for g in state["gates"]]
    for url in urls:
        chat(url, 5)
    call(urls[0] + "/admin/v1/providers/backup/drain", "POST", {"reason": "e2e"})
    t = Tmux(f"env TERM=xterm-256color CLAWTOP_TOKEN={OPERATOR} {binary('clawtop')} --refresh 0.5 --node {','.join(urls)}", 120, 40)
    try:
        screen = t.wait_for("operator_action")
        for part in ["0 Overview", "requests/s", "errors", "PROVIDER", "primary", "secondary", "NODES (2/2 serving)", "room-1", "room-2", "EVENTS"]:
            assert part in screen, f"{part} missing:\n{screen}"
        t.keys("q")
    finally:
        t.kill()


def test_the_wall_is_read_only_goes_critical_in_an_outage_stale_when_nodes_die_and_recovers(fleet):
    sim, configs, state = fleet
    urls = [g.info["admin"] for g in state["gates"]]
    t = Tmux(f"env TERM=xterm-256color CLAWTOP_TOKEN={OPERATOR} {binary('clawtop')} --wall --refresh 0.5 --node {','.join(urls)}", 120, 40)
    try:
        screen = t.wait_for("primary")
        assert "█" in screen and "wall (read-only)" in screen, screen
        # Action keys do nothing, even with an operator token.
        t.keys("d")
        t.keys(":")
        t.keys("w")
        time.sleep(1)
        screen = t.screen()
        assert "Drain provider" not in screen and "Set weights" not in screen and ":" not in screen.splitlines()[-1], screen
        assert not any(p["drained"] for p in call(urls[0] + "/admin/v1/snapshot", token=VIEWER)[1]["providers"])
        # A clawsim outage: every provider answers 503; the health probes eject them, the route panics.
        control = sim.info["control"]
        for provider in ["primary", "secondary", "backup"]:
            req = urllib.request.Request(f"{control}/sim/providers/{provider}", data=b'{"outage": true}', method="POST")
            urllib.request.urlopen(req, timeout=5).read()
        deadline = time.time() + 10
        while time.time() < deadline:
            snap = call(urls[0] + "/admin/v1/snapshot", token=VIEWER)[1]
            if all(p["state"] == "ejected" for p in snap["providers"]):
                break
            time.sleep(0.1)
        reported = time.time()
        screen = t.wait_for("CRITICAL", timeout=3)
        assert time.time() - reported < 1.5, "CRITICAL came later than one refresh after the nodes reported it"
        assert "provider primary ejected on 2 of 2 nodes" in screen, screen
        # Every node killed: the whole screen says STALE.
        for g in state["gates"]:
            g.stop()
        screen = t.wait_for("STALE: no node has answered for", timeout=15)
        assert "CRITICAL" not in screen, "the last known status is not claimed as the current one:\n" + screen
        assert screen.count("STALE") >= 3, screen
        # The nodes come back (and the providers with them): STALE clears by itself.
        for provider in ["primary", "secondary", "backup"]:
            req = urllib.request.Request(f"{control}/sim/providers/{provider}", data=b'{"outage": false}', method="POST")
            urllib.request.urlopen(req, timeout=5).read()
        state["gates"] = [start_gate(c) for c in configs]
        deadline = time.time() + 15
        while time.time() < deadline and "STALE" in t.screen():
            time.sleep(0.2)
        assert "STALE" not in t.screen(), t.screen()
        t.keys("q")
    finally:
        t.kill()
