"""The admin API through the real binary: persistence across SIGKILL, token handling, conformance."""
import json
import time
import os
import signal
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import ROOT, Proc, binary, data_url

OPERATOR = "operator-token-e2e-0123456789"
VIEWER = "viewer-token-e2e-0123456789"


def admin_yaml(sim_urls, state_dir, token_file=None):
    providers = "\n".join(f"  - {{id: {pid}, base_url: '{url}/v1'}}" for pid, url in sorted(sim_urls.items()))
    viewer = f"    - {{name: wall, role: viewer, file: {token_file}}}" if token_file else "    - {name: wall, role: viewer, env: E2E_VIEWER}"
    return f"""node_id: admin-e2e
listen: 127.0.0.1:0
providers:
{providers}
routes:
  - alias: chat
    tiers:
      - [{{provider: primary, weight: 50}}, {{provider: secondary, weight: 50}}]
      - [{{provider: backup, weight: 100}}]
health_check: {{enabled: false}}
admin:
  state_dir: {state_dir}
  tokens:
    - {{name: ops, role: operator, env: E2E_OPERATOR}}
{viewer}
"""


def call(url, method="GET", body=None, token=OPERATOR, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


@pytest.fixture
def sim():
    s = Proc([binary("clawsim"), "--provider", "primary,latency_ms=1", "--provider", "secondary,latency_ms=1",
              "--provider", "backup,latency_ms=1"])
    yield s
    s.stop()


def start_gate(config_path, extra_env=None):
    env = dict(os.environ, E2E_OPERATOR=OPERATOR, E2E_VIEWER=VIEWER, **(extra_env or {}))
    return Proc([binary("clawgate"), "--config", str(config_path)], env=env)


def chat(url, n):
    url = data_url(url)  # a node's admin URL or its client port
    served = {}
    for _ in range(n):
        req = urllib.request.Request(url + "/v1/chat/completions", method="POST",
                                     data=json.dumps({"model": "chat", "messages": [{"role": "user", "content": "x"}]}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            p = resp.headers["x-clawgate-provider"]
            served[p] = served.get(p, 0) + 1
    return served


def test_operator_state_survives_sigkill(sim, tmp_path):
    state_dir = tmp_path / "state"
    config = tmp_path / "gw.yaml"
    config.write_text(admin_yaml(sim.info["providers"], state_dir))
    gate = start_gate(config)
    admin = gate.info["admin"]
    status, body = call(admin + "/admin/v1/providers/primary/drain", "POST", {"reason": "e2e"})
    assert status == 200 and body["revision"] == 1
    status, body = call(admin + "/admin/v1/routes/chat/weights", "PUT", {"weights": {"secondary": 700}})
    assert status == 200 and body["revision"] == 2
    # Killed right after the write returned: no chance to flush anything more.
    gate.proc.send_signal(signal.SIGKILL)
    gate.proc.wait()
    assert oct(os.stat(state_dir).st_mode & 0o777) == "0o700"
    gate = start_gate(config)
    try:
        url, admin = gate.info["url"], gate.info["admin"]
        status, state = call(admin + "/admin/v1/state", token=VIEWER)
        assert status == 200
        assert state["revision"] == 2 and state["drained_providers"] == ["primary"]
        assert state["weights"] == {"chat": {"secondary": 700}}
        assert chat(url, 30).get("primary", 0) == 0
        status, audit = call(admin + "/admin/v1/audit", token=VIEWER)
        assert [e["action"] for e in audit["entries"]] == ["provider.drain", "route.weights"]
        assert audit["entries"][0]["actor"] == "ops" and audit["entries"][0]["reason"] == "e2e"
        # The audit log on disk is JSON lines, one per write, and holds no token.
        lines = (state_dir / "audit.jsonl").read_text().splitlines()
        assert len(lines) == 2 and all(json.loads(l)["actor"] == "ops" for l in lines)
        assert OPERATOR not in (state_dir / "audit.jsonl").read_text()
    finally:
        gate.stop()


def test_sigkill_during_50_writes_leaves_every_revision_in_force_audited(sim, tmp_path):
    """Issue 25, point 8: writes race a SIGKILL five times (50 writes in all); after each restart
    the revision in force has its audit record, and the audit file is whole JSON lines."""
    import random
    import threading
    state_dir = tmp_path / "state"
    config = tmp_path / "gw.yaml"
    config.write_text(admin_yaml(sim.info["providers"], state_dir))
    rng = random.Random(25)
    acknowledged = []
    for round_ in range(5):
        gate = start_gate(config)
        admin = gate.info["admin"]
        # Whatever this start says is in force must be audited (the last round's kill included).
        state = call(admin + "/admin/v1/state", token=VIEWER)[1]
        revisions = {e["revision"] for e in call(admin + "/admin/v1/audit?limit=1000", token=VIEWER)[1]["entries"]}
        assert state["revision"] == 0 or state["revision"] in revisions, (round_, state["revision"], sorted(revisions))
        assert all(r in revisions for r in acknowledged), "an acknowledged write lost its audit record"

        def burst(base=round_ * 10):
            for i in range(10):
                try:
                    status, body = call(admin + "/admin/v1/routes/chat/weights", "PUT", {"weights": {"secondary": base + i + 1}})
                    if status == 200:
                        acknowledged.append(body["revision"])
                except Exception:
                    return
        writer = threading.Thread(target=burst)
        writer.start()
        time.sleep(rng.uniform(0.005, 0.08))
        gate.proc.send_signal(signal.SIGKILL)
        gate.proc.wait()
        writer.join()
    gate = start_gate(config)
    try:
        admin = gate.info["admin"]
        state = call(admin + "/admin/v1/state", token=VIEWER)[1]
        entries = call(admin + "/admin/v1/audit?limit=1000", token=VIEWER)[1]["entries"]
        assert state["revision"] in {e["revision"] for e in entries} and state["revision"] >= max(acknowledged, default=0)
        assert len(acknowledged) >= 5, f"the kills came before any write: {acknowledged}"
        for line in (state_dir / "audit.jsonl").read_text().splitlines():
            json.loads(line)
        # Revisions never repeat in the audit.
        revisions = [e["revision"] for e in entries]
        assert len(revisions) == len(set(revisions)), revisions
    finally:
        gate.stop()


def test_tokens_never_leak_and_bad_token_sources_refuse_start(sim, tmp_path):
    token_file = tmp_path / "viewer.token"
    token_file.write_text(VIEWER + "\n")
    os.chmod(token_file, 0o644)
    config = tmp_path / "gw.yaml"
    config.write_text(admin_yaml(sim.info["providers"], tmp_path / "state", token_file))
    r = subprocess.run([binary("clawgate"), "--config", str(config)], capture_output=True, text=True, timeout=20,
                       env=dict(os.environ, E2E_OPERATOR=OPERATOR))
    assert r.returncode == 2 and "admin.tokens[1].file" in r.stderr and "chmod 600" in r.stderr
    os.chmod(token_file, 0o600)
    gate = start_gate(config)
    try:
        url = gate.info["admin"]
        assert call(url + "/admin/v1/snapshot", token=VIEWER)[0] == 200
        status, body = call(url + "/admin/v1/node/drain", "POST", token=VIEWER)
        assert status == 403 and VIEWER not in json.dumps(body)
        assert call(url + "/admin/v1/snapshot", token="wrong-token-but-long-enough")[0] == 401
    finally:
        gate.stop()
    out = gate.proc.stderr.read()
    assert OPERATOR not in out and VIEWER not in out
    r = subprocess.run([binary("clawgate"), "--config", str(config)], capture_output=True, text=True, timeout=20,
                       env={k: v for k, v in os.environ.items() if k != "E2E_OPERATOR"})
    assert r.returncode == 2 and "E2E_OPERATOR is not set" in r.stderr


def test_damaged_state_file_refuses_start(sim, tmp_path):
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / "state.json").write_text("{not json")
    config = tmp_path / "gw.yaml"
    config.write_text(admin_yaml(sim.info["providers"], state_dir))
    r = subprocess.run([binary("clawgate"), "--config", str(config)], capture_output=True, text=True, timeout=20,
                       env=dict(os.environ, E2E_OPERATOR=OPERATOR, E2E_VIEWER=VIEWER))
    assert r.returncode == 2 and "state.json is not valid JSON" in r.stderr


def test_schemathesis_conformance(sim, tmp_path):
    config = tmp_path / "gw.yaml"
    config.write_text(admin_yaml(sim.info["providers"], tmp_path / "state"))
    gate = start_gate(config)
    try:
        r = subprocess.run(
            ["schemathesis", "--config-file", os.path.join(ROOT, "Tests/e2e/schemathesis.toml"), "run",
             os.path.join(ROOT, "Sources/ClawGateKit/openapi.yaml"), "--url", gate.info["admin"],
             "-H", f"Authorization: Bearer {OPERATOR}", "--checks", "all", "--max-examples", "40", "--seed", "1"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path)  # its cache stays out of the repository
        assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
        assert "failures" not in r.stdout.splitlines()[-1] or " 0 failures" in r.stdout.splitlines()[-1]
    finally:
        gate.stop()
