"""Issue 30 in the real binary: `q` gives the shell back at once, and the `:` line completes names
from the demo fleet with Tab and takes readline's Ctrl-U; the `/` line completes with Tab too."""
import shutil
import subprocess
import time

import pytest

from conftest import binary
from test_clawtop_e2e import Tmux

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by .ci/run")


def send_text(t, text):
    subprocess.run(["tmux", "send-keys", "-t", t.name, "-l", text], check=True)


def last_line(t):
    lines = t.screen().splitlines()
    return lines[-1] if lines else ""


def demo():
    return Tmux(f"env TERM=xterm-256color {binary('clawtop')} --demo --no-monitors; echo SHELL-BACK; sleep 30", width=120, height=40)


@needs_tmux
def test_q_gives_the_shell_back_within_a_second():
    t = demo()
    try:
        t.wait_for("premium", timeout=40)
        time.sleep(1)
        start = time.time()
        t.keys("q")
        t.wait_for("SHELL-BACK", timeout=10)
        took = time.time() - start
        # The aim is 0.5 s (the children get that long, all at once); loosely timed here.
        assert took < 1.0, f"q took {took:.2f} s to give the shell back"
    finally:
        t.kill()


@needs_tmux
def test_tab_completes_a_drain_of_premium_and_ctrl_u_clears_the_line():
    t = demo()
    try:
        t.wait_for("premium", timeout=40)
        t.keys(":")
        t.wait_for("▏")
        send_text(t, "dra")  # `dr` is drain or drill
        t.keys("Tab")
        send_text(t, "pro")
        t.keys("Tab")
        send_text(t, "pr")
        t.keys("Tab")
        t.wait_for(":drain provider premium")
        t.keys("C-u")
        deadline = time.time() + 5
        while time.time() < deadline and not last_line(t).startswith(":▏"):
            time.sleep(0.05)
        assert last_line(t).startswith(":▏"), t.screen()
        assert "drain provider" not in last_line(t) and "^" not in last_line(t), last_line(t)
        # A typo gets the nearest command.
        send_text(t, "dran provider fast")
        t.keys("Enter")
        t.wait_for("did you mean 'drain'?")
        # The / filter line completes names with Tab too.
        t.keys("Escape", "1", "/")
        send_text(t, "pre")
        t.keys("Tab")
        t.wait_for("/premium▏")
    finally:
        t.kill()
