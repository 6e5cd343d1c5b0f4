"""Start the real clawsim and clawgate binaries on loopback ports for end-to-end checks."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

# Each test run has its own tmux server (its socket under a fresh TMUX_TMPDIR): a run beside
# another one on the same machine cannot lose its sessions when the other's last one ends.
os.environ["TMUX_TMPDIR"] = tempfile.mkdtemp(prefix="claw-tmux-")
os.environ.pop("TMUX", None)


@pytest.fixture(scope="session", autouse=True)
def tmux_server():
    """One idle session for the whole run keeps the tmux server up: without it the server exits when
    a test kills its last session, and a next test's `new-session` that reaches the exiting server
    fails with "server exited unexpectedly" (CI saw it once in 129 tests)."""
    if shutil.which("tmux") is None:
        yield
        return
    subprocess.run(["tmux", "new-session", "-d", "-s", "claw-e2e-keepalive", "sleep 86400"], check=True)
    yield
    subprocess.run(["tmux", "kill-server"], capture_output=True)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("CLAW_BIN", os.path.join(ROOT, ".build", "debug"))


def binary(name):
    path = os.path.join(BIN, name)
    if not os.path.exists(path):
        raise RuntimeError(f"{path} is missing: run `swift build` first")
    return path


# clawgate's admin listener -> its client port, so a test that holds a node's admin URL (what
# clawtop is given) can also send it traffic.
DATA_URL = {}


def data_url(url):
    """The client port of the node whose admin listener (or client port) is `url`."""
    return DATA_URL.get(url, url)


class Proc:
    """A started program whose first stdout line is its JSON announcement."""

    def __init__(self, args, env=None):
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read()
            raise RuntimeError(f"{args[0]} did not start: {err}")
        self.info = json.loads(line)
        if "admin" in self.info:
            # A port the kernel hands out again may still name an earlier node's admin listener:
            # this node's own URLs replace whatever the map held for them.
            DATA_URL.pop(self.info["url"], None)
            DATA_URL[self.info["admin"]] = self.info["url"]

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if "admin" in self.info and DATA_URL.get(self.info["admin"]) == self.info["url"]:
            del DATA_URL[self.info["admin"]]
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def gateway_yaml(sim_urls, extra=""):
    providers = "\n".join(
        f"  - {{id: {pid}, base_url: '{url}/v1', price: {{input_per_1m: 1.0, output_per_1m: 2.0}}}}"
        for pid, url in sorted(sim_urls.items())
    )
    tiers = " ".join(f"{{provider: {pid}, model: sim-model, weight: 50}}," for pid in sorted(sim_urls))
    return f"""node_id: e2e-node
listen: 127.0.0.1:0
providers:
{providers}
routes:
  - alias: chat
    tiers:
      - [{tiers.rstrip(',')}]
breaker: {{consecutive_failures: 3, cooldown: 1, max_cooldown: 5}}
health_check: {{interval: 0.5, timeout: 1}}
{extra}
"""


@pytest.fixture
def fleet():
    sim = Proc([binary("clawsim"), "--provider", "fast,latency_ms=1,latency_p99_ms=2,tokens_per_second=200",
                "--provider", "other,latency_ms=2,latency_p99_ms=4,tokens_per_second=200"])
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(gateway_yaml(sim.info["providers"]))
        path = f.name
    gate = Proc([binary("clawgate"), "--config", path])
    yield {"sim": sim, "gate": gate, "url": gate.info["url"], "admin": gate.info["admin"], "control": sim.info["control"], "config": path}
    gate.stop()
    sim.stop()
    os.unlink(path)


def free_port():
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
