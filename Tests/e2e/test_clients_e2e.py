"""Client keys with the real binaries and the official openai client: who may call, the limits,
and a key that never shows up anywhere the gateway writes."""
import os
import subprocess

import openai
import pytest

from conftest import binary
from test_admin_e2e import OPERATOR, VIEWER, admin_yaml, call, sim  # noqa: F401 (sim: fixture)

KEY = "sk-web-e2e-0123456789abcdef"


@pytest.fixture
def gate(sim, tmp_path):  # noqa: F811
    config = tmp_path / "gw.yaml"
    config.write_text(admin_yaml(sim.info["providers"], tmp_path / "state")
                      + "clients:\n  - {name: web, key_env: E2E_WEB_KEY, routes: [chat], limits: {rpm: 5}}\n")
    log = open(tmp_path / "gate.log", "w")
    env = dict(os.environ, E2E_OPERATOR=OPERATOR, E2E_VIEWER=VIEWER, E2E_WEB_KEY=KEY)
    p = subprocess.Popen([binary("clawgate"), "--config", str(config)], stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    import json
    info = json.loads(p.stdout.readline())
    yield info["url"], tmp_path / "gate.log", p, info["admin"]
    p.terminate()
    p.wait(timeout=10)
    log.close()


def client(url, key):
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=10)


def test_the_openai_client_with_a_valid_key_a_wrong_one_none_and_past_the_limit(gate):
    url, log_path, _, admin = gate
    answer = client(url, KEY).chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content
    with pytest.raises(openai.AuthenticationError) as refused:
        client(url, "sk-wrong-0123456789abcdef").chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    assert refused.value.status_code == 401 and refused.value.code == "invalid_api_key"
    # No key at all (the openai client insists on one, so a plain request).
    status, body = call(url + "/v1/chat/completions", "POST", {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}, token=None)
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    for _ in range(4):
        client(url, KEY).chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.RateLimitError) as limited:
        client(url, KEY).chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    assert limited.value.code == "client_rpm" and 1 <= int(limited.value.response.headers["retry-after"]) <= 60
    snap = call(admin + "/admin/v1/snapshot", token=VIEWER)[1]
    assert all(p["state"] == "healthy" for p in snap["providers"]), "a client's limit is not the provider's fault"
    web = next(c for c in snap["clients"] if c["name"] == "web")
    assert snap["client_auth"] == "on" and web["served"] == 5 and web["refused"] == 1


def test_the_key_never_appears_in_logs_metrics_snapshot_or_audit(gate):
    url, log_path, _, admin = gate
    client(url, KEY).chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.AuthenticationError):
        client(url, KEY + "x").chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    call(admin + "/admin/v1/providers/backup/drain", "POST", {"reason": "e2e"})
    import urllib.request
    texts = [urllib.request.urlopen(admin + "/metrics", timeout=5).read().decode(),
             str(call(admin + "/admin/v1/snapshot", token=VIEWER)[1]), str(call(admin + "/admin/v1/audit", token=VIEWER)[1]),
             str(call(admin + "/admin/v1/requests", token=VIEWER)[1]), open(log_path).read()]
    for text in texts:
        assert KEY not in text and KEY[:-4] not in text


def test_sync_carries_client_blocks_and_limits(sim, tmp_path):  # noqa: F811
    """`:sync NODE` replaces the other nodes' whole operator state with the node's own: a client
    blocked and a limit set on every node survive it (they were lost when the copy was built from the
    snapshot), and the drain that only the source had reaches the target."""
    from test_admin_e2e import start_gate
    from test_clawtop_e2e import clawtop
    gates = []
    try:
        for i in range(2):
            config = tmp_path / f"gw{i}.yaml"
            config.write_text(admin_yaml(sim.info["providers"], tmp_path / f"state{i}").replace("node_id: admin-e2e", f"node_id: node-{i}")
                              + "clients:\n  - {name: web, key_env: E2E_WEB_KEY, routes: [chat]}\n"
                              + "  - {name: batch, key_env: E2E_BATCH_KEY, routes: [chat]}\n")
            gates.append(start_gate(config, {"E2E_WEB_KEY": KEY, "E2E_BATCH_KEY": KEY[::-1]}))
        admins = [g.info["admin"] for g in gates]
        for admin in admins:
            assert call(admin + "/admin/v1/clients/batch/block", "POST", {"reason": "e2e"})[0] == 200
            assert call(admin + "/admin/v1/clients/web/limits", "PUT", {"limits": {"rpm": 7}, "reason": "e2e"})[0] == 200
        assert call(admins[0] + "/admin/v1/providers/backup/drain", "POST", {"reason": "e2e"})[0] == 200
        done = clawtop("--exec", "sync node-0", "--yes", "--node", ",".join(admins))
        assert done.returncode == 0, done.stdout + done.stderr
        state = call(admins[1] + "/admin/v1/state", token=VIEWER)[1]
        assert state["drained_providers"] == ["backup"], state
        assert state["blocked_clients"] == ["batch"], state
        assert state["client_limits"]["web"]["rpm"] == 7, state
        refused = openai.OpenAI(base_url=gates[1].info["url"] + "/v1", api_key=KEY[::-1], max_retries=0, timeout=10)
        with pytest.raises(openai.PermissionDeniedError):
            refused.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    finally:
        for g in gates:
            g.stop()
