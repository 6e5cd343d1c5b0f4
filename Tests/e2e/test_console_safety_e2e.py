"""Issue 25 point 7: what nodes send is data, never terminal control. A real clawgate node holds an
operator reason full of escape sequences (set through the admin API's drain); clawtop's text
reports and its screen show it escaped, and its JSON keeps it as it was."""
import json
import shutil
import subprocess

import pytest

from conftest import binary
from test_admin_e2e import OPERATOR, call
from test_clawtop_e2e import Tmux, clawtop, nodes  # noqa: F401 (the fixture)

# Colour, an OSC title, a bell, NUL, CR and a newline that would forge a line of the report.
HOSTILE = "\x1b[31mred\x1b]0;owned\x07 nul\x00 cr\r nl\nstatus OK forged"
CONTROL = [b"\x1b", b"\x00", b"\r", b"\x07"]


def assert_safe(output: bytes, what: str):
    for c in CONTROL:
        assert c not in output, f"{what} holds a raw {c!r}: {output[:2000]!r}"
    assert b"\\e[31mred\\e]0;owned\\x07 nul\\x00 cr\\r nl\\nstatus OK forged" in output, f"{what}: {output[:3000]!r}"
    assert b"\nstatus OK forged" not in output, what


def raw(*args):
    env = {"CLAWTOP_TOKEN": OPERATOR, "PATH": "/usr/bin:/bin"}
    return subprocess.run([binary("clawtop"), *args], capture_output=True, timeout=30, env=env)


def test_an_operator_reason_with_escape_sequences_is_printed_escaped(nodes):  # noqa: F811
    sim, urls = nodes
    for url in urls:
        status, body = call(url + "/admin/v1/providers/primary/drain", "POST", {"reason": HOSTILE})
        assert status == 200, body
    fleet = ",".join(urls)
    once = raw("--once", "--node", fleet)
    assert once.returncode == 0, once.stdout + once.stderr
    assert_safe(once.stdout, "--once")
    for fmt in ("text", "markdown"):
        timeline = raw("--timeline", "--format", fmt, "--since", "30m", "--node", fleet)
        assert timeline.returncode == 0, timeline.stdout + timeline.stderr
        assert_safe(timeline.stdout, f"--timeline --format {fmt}")
    # JSON stays JSON: the encoder escapes, and the reason reads back exactly as the node holds it.
    report = json.loads(raw("--once", "--format", "json", "--node", fleet).stdout)
    assert report["operator_changes"][0]["reason"] == HOSTILE, report["operator_changes"]
    assert any(c["reason"] == HOSTILE for c in report["operator_changes"])


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by .ci/run")
def test_the_screen_shows_the_reason_escaped_and_the_title_stays(nodes):  # noqa: F811
    sim, urls = nodes
    for url in urls:
        assert call(url + "/admin/v1/providers/primary/drain", "POST", {"reason": HOSTILE})[0] == 200
    cmd = f"env TERM=xterm-256color CLAWTOP_TOKEN={OPERATOR} {binary('clawtop')} --refresh 0.5 --node {','.join(urls)}"
    t = Tmux(cmd, 200, 40)
    try:
        screen = t.wait_for("\\e[31mred", timeout=15)
        assert "\\e]0;owned\\x07" in screen, screen
        # tmux keeps the pane title the program set: an OSC that got through would have renamed it.
        title = subprocess.run(["tmux", "display-message", "-p", "-t", t.name, "#{pane_title}"], capture_output=True, text=True).stdout
        assert "owned" not in title, title
    finally:
        t.kill()
