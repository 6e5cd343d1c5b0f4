"""clawtop tells the whole truth: a dialog never acts on a key meant as text, operator changes in
force are listed, a route on its backup tier is degraded, and --read-only offers no action."""
import json
import shutil
import subprocess
import time

import pytest

from conftest import binary
from test_admin_e2e import OPERATOR, VIEWER, call
from test_clawtop_e2e import Tmux, clawtop, nodes, provider_state  # noqa: F401 (the fixture)

# Every letter a-z, as text for a reason.
PANGRAM = "the quick brown fox jumps over the lazy dog"
needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by .ci/run")


def console(urls, *flags, width=100, height=30):
    return Tmux(f"env TERM=xterm-256color CLAWTOP_TOKEN={OPERATOR} {binary('clawtop')} --refresh 0.5 {' '.join(flags)} --node {','.join(urls)}",
                width, height)


def type_text(t, text):
    subprocess.run(["tmux", "send-keys", "-t", t.name, "-l", text], check=True)


@needs_tmux
def test_a_reason_with_every_letter_stays_text_and_the_drain_carries_it(nodes):  # noqa: F811
    sim, urls = nodes
    t = console(urls)
    try:
        t.wait_for("primary")
        # Rows by name: backup, primary, secondary.
        t.keys("j", "d")
        screen = t.wait_for("Drain provider primary on 2 nodes")
        assert "r/Tab reason" in screen, screen
        t.keys("r")
        t.wait_for("typing goes to Reason")
        type_text(t, PANGRAM)
        screen = t.wait_for("Reason: " + PANGRAM)
        # Still the same dialog: no letter cancelled it (n), opened another (u, d, w, f...), quit (q) or confirmed (y).
        assert "Drain provider primary on 2 nodes" in screen and "Undrain" not in screen and "cancelled" not in screen, screen
        time.sleep(1)
        assert all(provider_state(u, "primary")["state"] == "healthy" for u in urls)
        assert t.alive()
        t.keys("Enter")  # on to Confirm
        time.sleep(0.3)
        assert "Drain provider primary on 2 nodes" in t.screen() and provider_state(urls[0], "primary")["state"] == "healthy"
        t.keys("Enter")
        t.wait_for("Drain provider primary on 2 nodes: node-0 ok, node-1 ok")
        for url in urls:
            assert provider_state(url, "primary")["state"] == "drained"
            entry = call(url + "/admin/v1/audit", token=VIEWER)[1]["entries"][-1]
            assert entry["action"] == "provider.drain" and entry["reason"] == PANGRAM and entry["actor"] == "ops", entry
        # The screen says it is in force, with the reason.
        t.keys("0")
        t.wait_for("provider primary drained on 2/2 nodes by ops")
        # On the buttons letters do nothing but y, n and r: u opens an Undrain dialog, n cancels it.
        t.keys("1", "u")
        t.wait_for("Undrain provider primary")
        t.keys("d", "u", "q", "w")
        time.sleep(0.3)
        assert "Undrain provider primary" in t.screen() and t.alive()
        t.keys("n")
        t.wait_for("cancelled")
        assert provider_state(urls[0], "primary")["state"] == "drained"
    finally:
        t.kill()


@needs_tmux
def test_ctrl_c_cancels_the_command_line_and_f_prefills_a_working_failover(nodes):  # noqa: F811
    sim, urls = nodes
    t = console(urls)
    try:
        t.wait_for("primary")
        t.keys(":")
        type_text(t, "drain provider")
        t.wait_for(":drain provider")
        t.keys("C-c")
        time.sleep(0.5)
        assert t.alive(), "Ctrl-C in the : line quit the console"
        assert ":drain provider" not in t.screen()
        # f on primary: a failover that works as it stands.
        t.keys("j", "f")
        t.wait_for(":failover primary")
        t.keys("Enter")
        t.wait_for("Fail over provider primary to its tier's others")
        t.keys("Escape")
        t.keys("C-c")
        deadline = time.time() + 5
        while t.alive() and time.time() < deadline:
            time.sleep(0.1)
        assert not t.alive(), "Ctrl-C outside a line did not quit"
    finally:
        t.kill()


@needs_tmux
def test_read_only_offers_no_action_and_says_so(nodes):  # noqa: F811
    sim, urls = nodes
    t = console(urls, "--read-only")
    try:
        screen = t.wait_for("primary")
        footer = screen.splitlines()[-1]
        assert "drain" not in footer and "weight" not in footer and "fail over" not in footer, footer
        assert "read-only" in footer, footer
        t.keys("?")
        help_screen = t.wait_for("Keys (Esc or ? closes)")
        assert "drain provider" not in help_screen and "set weight" not in help_screen, help_screen
        t.keys("Escape", ":")
        type_text(t, "drain provider primary")
        t.keys("Enter")
        t.wait_for("read-only console")
        assert provider_state(urls[0], "primary")["state"] == "healthy"
    finally:
        t.kill()


def once(urls):
    r = clawtop("--once", "--format", "json", "--node", ",".join(urls))
    return r.returncode, json.loads(r.stdout)


def test_once_lists_changes_in_force_and_a_backup_tier_is_degraded(nodes):  # noqa: F811
    sim, urls = nodes
    # Neither: OK, nothing to say.
    code, report = once(urls)
    assert code == 0 and report["status"] == "ok" and report["reasons"] == [] and report["operator_changes"] == [], report["reasons"]
    # A drain in force that leaves the first tier with secondary: OK, and listed with who, when, why.
    for url in urls:
        assert call(url + "/admin/v1/providers/primary/drain", "POST", {"reason": "maint window"})[0] == 200
    code, report = once(urls)
    assert code == 0 and report["status"] == "ok", report["reasons"]
    notes = [r for r in report["reasons"] if r.startswith("in force: provider primary drained on 2/2 nodes by ops at ")]
    assert len(notes) == 1 and notes[0].endswith(": maint window"), report["reasons"]
    change = report["operator_changes"][0]
    assert change["kind"] == "drain" and change["actor"] == "ops" and change["reason"] == "maint window" and change["time"], change
    text = clawtop("--once", "--node", ",".join(urls))
    assert text.returncode == 0 and text.stdout.startswith("status OK") and "in force: provider primary drained" in text.stdout, text.stdout
    # The first tier empty: the route runs on its backup tier, DEGRADED (exit 1), and says so.
    for url in urls:
        call(url + "/admin/v1/providers/secondary/drain", "POST", {"reason": "vendor outage"})
    code, report = once(urls)
    assert code == 1 and report["status"] == "degraded", report["reasons"]
    assert any("route chat is served by its backup tier 1 (its first tier: primary drained, secondary drained) on 2/2 nodes" in r
               for r in report["reasons"]), report["reasons"]
    assert {c["target"] for c in report["operator_changes"]} == {"provider:primary", "provider:secondary"}
    # Back on the first tier with one provider, the backup drained: a single provider left, DEGRADED.
    for url in urls:
        call(url + "/admin/v1/providers/secondary/undrain", "POST", {})
        call(url + "/admin/v1/providers/backup/drain", "POST", {})
    code, report = once(urls)
    assert code == 1 and any("route chat is left with a single available provider (secondary)" in r for r in report["reasons"]), report["reasons"]
