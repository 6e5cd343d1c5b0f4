"""TLS with the real binaries and certificates made by openssl: mutual TLS on both listeners, clawtop
with --cacert/--cert/--key, the audit naming the certificate, SIGHUP serving a new certificate while a
stream goes on, and the fleet store over TLS with etcd's users, where a write straight into etcd is
flagged until acknowledged (issue 25, point 5)."""
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import Proc, binary, data_url, free_port
from test_admin_e2e import OPERATOR, VIEWER, admin_yaml, sim, start_gate  # noqa: F401 (sim is a fixture)


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def issue(d, name, subject, server=False):
    ext = d / f"{name}.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n" if server
                   else "extendedKeyUsage=clientAuth\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(d / f"{name}.key"),
            "-out", str(d / f"{name}.csr"), "-subj", subject)
    openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"), "-CAcreateserial",
            "-out", str(d / f"{name}.pem"), "-days", "2", "-extfile", str(ext))
    return str(d / f"{name}.pem"), str(d / f"{name}.key")


@pytest.fixture
def certs(tmp_path):
    d = tmp_path / "certs"
    d.mkdir()
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(d / "ca.key"),
            "-out", str(d / "ca.pem"), "-days", "2", "-subj", "/CN=e2e CA")
    return {"dir": d, "ca": str(d / "ca.pem"), "server": issue(d, "server", "/CN=first", server=True),
            "second": issue(d, "second", "/CN=second", server=True), "alice": issue(d, "alice", "/O=ops/CN=alice"),
            # etcd 3.4 refuses a gateway request whose client certificate has a CN while auth is on.
            "gate": issue(d, "gate", "/O=clawgate"), "etcd": issue(d, "etcd", "/CN=etcd", server=True)}


def context(certs, client=None):
    ctx = ssl.create_default_context(cafile=certs["ca"])
    if client:
        ctx.load_cert_chain(*certs[client])
    return ctx


def get(url, ctx, token=OPERATOR):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=5, context=ctx) as resp:
        return resp.status, json.loads(resp.read())


def clawtop(*args):
    env = {k: v for k, v in os.environ.items() if k not in ("TERM", "CLAWTOP_TOKEN")}
    env["CLAWTOP_TOKEN"] = OPERATOR
    return subprocess.run([binary("clawtop"), *args], capture_output=True, text=True, timeout=30, env=env)


def served_subject(port, certs):
    """The certificate a new connection to 127.0.0.1:PORT gets, as `CN=...`."""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as raw:
        with context(certs).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return ",".join(f"{k}={v}" for rdn in tls.getpeercert()["subject"] for k, v in
                            [(("CN" if a == "commonName" else a), b) for a, b in rdn])


def tls_gateway(sim, tmp_path, certs, mutual_admin=True, mutual_data=True):
    data_ca = f", client_ca_file: {certs['ca']}" if mutual_data else ""
    admin_ca = f", client_ca_file: {certs['ca']}" if mutual_admin else ""
    cert, key = certs["server"]
    text = admin_yaml(sim.info["providers"], tmp_path / "state").replace(
        "admin:\n", f"admin:\n  tls: {{cert_file: {cert}, key_file: {key}{admin_ca}}}\n")
    config = tmp_path / "tls.yaml"
    config.write_text(text + f"tls: {{cert_file: {cert}, key_file: {key}{data_ca}}}\n")
    return start_gate(config)


def test_mutual_tls_refuses_a_client_without_a_certificate_and_clawtop_reads_the_fleet_with_one(tmp_path, sim, certs):  # noqa: F811
    gate = tls_gateway(sim, tmp_path, certs)
    admin = gate.info["admin"]
    try:
        assert admin.startswith("https://") and gate.info["url"].startswith("https://")
        assert get(admin + "/admin/v1/snapshot", context(certs, "alice"))[0] == 200
        body = json.dumps({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}).encode()
        req = urllib.request.Request(data_url(admin) + "/v1/chat/completions", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5, context=context(certs, "alice")) as resp:
            assert resp.status == 200 and json.loads(resp.read())["choices"]
        # No client certificate: the TLS layer refuses (with TLS 1.3 on the first read), nothing is answered.
        for url in (admin + "/admin/v1/snapshot", data_url(admin) + "/healthz"):
            with pytest.raises((ssl.SSLError, ConnectionError, urllib.error.URLError)):
                get(url, context(certs))
        # clawtop with the CA and alice's certificate reads the fleet; without the certificate it says what is missing.
        tls = ("--cacert", certs["ca"], "--cert", certs["alice"][0], "--key", certs["alice"][1])
        once = clawtop("--once", "--format", "json", "--node", admin, *tls)
        report = json.loads(once.stdout)
        assert once.returncode == 0, once.stdout + once.stderr
        assert report["nodes"][0]["state"] == "serving" and report["nodes"][0]["snapshot"]["node"]["id"] == "admin-e2e"
        bare = clawtop("--once", "--format", "json", "--node", admin, "--cacert", certs["ca"])
        assert bare.returncode == 3 and "give --cert and --key" in json.loads(bare.stdout)["nodes"][0]["error"], bare.stdout
        untrusted = clawtop("--once", "--format", "json", "--node", admin)
        assert untrusted.returncode == 3 and "--cacert" in json.loads(untrusted.stdout)["nodes"][0]["error"], untrusted.stdout
        lone = clawtop("--once", "--node", admin, "--cert", certs["alice"][0])
        assert lone.returncode == 2 and "--cert and --key go together" in lone.stderr, lone.stderr
        # An action through clawtop: the audit names the certificate and the address it came from.
        done = clawtop("--exec", "drain provider backup", "--yes", "--node", admin, *tls)
        assert done.returncode == 0, done.stdout + done.stderr
        entry = get(admin + "/admin/v1/audit", context(certs, "alice"))[1]["entries"][-1]
        assert entry["certificate"] == "CN=alice,O=ops" and entry["address"].startswith("127.0.0.1:"), entry
        assert entry["action"] == "provider.drain" and entry["actor"] == "ops"
    finally:
        gate.stop()


def test_sighup_serves_the_new_certificate_to_new_connections_while_a_stream_goes_on(tmp_path, certs):
    slow = Proc([binary("clawsim"), "--provider", "primary,latency_ms=1,tokens_per_second=10,completion_tokens=30",
                 "--provider", "secondary,latency_ms=1", "--provider", "backup,latency_ms=1"])
    gate = tls_gateway(slow, tmp_path, certs, mutual_admin=False, mutual_data=False)
    port = int(gate.info["url"].rsplit(":", 1)[1])
    try:
        assert served_subject(port, certs) == "CN=first"
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=context(certs), timeout=10)
        body = {"model": "chat", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        # Only the slow provider in tier 0 streams slowly; ask until it serves (the tier is weighted 50/50).
        for _ in range(20):
            conn.request("POST", "/v1/chat/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            if resp.getheader("x-clawgate-provider") == "primary":
                break
            resp.read()
        assert resp.status == 200 and resp.getheader("x-clawgate-provider") == "primary"
        first = resp.readline()
        assert first.startswith(b"data: {")
        # The operator puts the new certificate in place and sends SIGHUP.
        shutil.copy(certs["second"][0], certs["server"][0])
        shutil.copy(certs["second"][1], certs["server"][1])
        gate.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 3
        while served_subject(port, certs) != "CN=second" and time.time() < deadline:
            time.sleep(0.05)
        assert served_subject(port, certs) == "CN=second"
        # The stream opened before the reload ends whole, on its old certificate.
        rest = resp.read().decode()
        events = [line for line in (first.decode() + rest).splitlines() if line.startswith("data: {")]
        assert len(events) >= 30 and rest.rstrip().endswith("data: [DONE]"), rest[-300:]
        assert gate.proc.poll() is None, "SIGHUP must not stop the node"
        # A reload whose files do not load keeps the certificate in force.
        with open(certs["server"][0], "w") as f:
            f.write("not a certificate\n")
        gate.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert served_subject(port, certs) == "CN=second" and gate.proc.poll() is None
        with urllib.request.urlopen(gate.info["admin"] + "/metrics", timeout=5, context=context(certs)) as m:
            metrics = m.read().decode()
        assert 'clawgate_tls_reloads_total{listener="data",outcome="ok"} 1' in metrics
        assert 'clawgate_tls_reloads_total{listener="data",outcome="failed"} 1' in metrics
    finally:
        gate.stop()
        slow.stop()
    assert "tls.cert_file: cannot load" in gate.proc.stderr.read()


def etcd_call(url, path, body, ctx, token=None):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", token)
    with urllib.request.urlopen(req, timeout=5, context=ctx) as resp:
        return json.loads(resp.read())


def b64(text):
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def secure_etcd(tmp_path, certs):
    if shutil.which("etcd") is None:
        pytest.skip("etcd-server is installed by .ci/run")
    client, peer = free_port(), free_port()
    url = f"https://127.0.0.1:{client}"
    p = subprocess.Popen(["etcd", "--name", "e", "--data-dir", str(tmp_path / "etcd"), "--listen-client-urls", url, "--advertise-client-urls", url,
                          "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                          "--initial-cluster", f"e=http://127.0.0.1:{peer}", "--heartbeat-interval", "10", "--election-timeout", "100",
                          "--cert-file", certs["etcd"][0], "--key-file", certs["etcd"][1], "--trusted-ca-file", certs["ca"], "--client-cert-auth"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctx = context(certs, "gate")
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=1, context=ctx) as r:
                if b"true" in r.read():
                    break
        except Exception:
            time.sleep(0.05)
    for path, body in [("/v3/auth/user/add", {"name": "root", "password": "root-pw-e2e"}), ("/v3/auth/role/add", {"name": "root"}),
                       ("/v3/auth/user/grant", {"user": "root", "role": "root"}),
                       ("/v3/auth/user/add", {"name": "clawgate", "password": "gate-pw-e2e"}), ("/v3/auth/role/add", {"name": "clawgate"}),
                       ("/v3/auth/role/grant", {"name": "clawgate", "perm": {"permType": "READWRITE", "key": b64("/clawgate/"), "range_end": b64("/clawgate0")}}),
                       ("/v3/auth/user/grant", {"user": "clawgate", "role": "clawgate"}), ("/v3/auth/enable", {})]:
        etcd_call(url, path, body, ctx)
    yield url, ctx
    p.terminate()
    p.wait(timeout=10)


def test_the_fleet_store_over_tls_with_a_user_and_a_write_straight_into_etcd_flagged_until_acknowledged(tmp_path, sim, certs, secure_etcd):  # noqa: F811
    url, ctx = secure_etcd
    cert, key = certs["gate"]
    gates = []
    for n in range(2):
        config = tmp_path / f"node{n}.yaml"
        config.write_text(admin_yaml(sim.info["providers"], tmp_path / f"state{n}").replace("admin-e2e", f"node-{n + 1}")
                          + f"store: {{kind: etcd, endpoints: [{url}], fleet: sec, timeout: 2, username: clawgate, password_env: E2E_ETCD_PW,\n"
                          + f"        tls: {{ca_file: {certs['ca']}, cert_file: {cert}, key_file: {key}}}}}\n")
        gates.append(start_gate(config, extra_env={"E2E_ETCD_PW": "gate-pw-e2e"}))
    urls = ",".join(g.info["admin"] for g in gates)
    try:
        done = clawtop("--exec", "weight chat primary=60", "--yes", "--node", urls)
        assert done.returncode == 0 and "1 write to the fleet store" in done.stdout, done.stdout + done.stderr
        once = clawtop("--once", "--format", "json", "--node", urls)
        assert once.returncode == 0 and json.loads(once.stdout)["fleet"]["store_reachable"] is True, once.stdout
        # Someone changes the weights with etcd's root user, as etcdctl put would: no node's admin API.
        root = etcd_call(url, "/v3/auth/authenticate", {"name": "root", "password": "root-pw-e2e"}, ctx)["token"]
        kv = etcd_call(url, "/v3/kv/range", {"key": b64("/clawgate/sec/state")}, ctx, root)["kvs"][0]
        state = json.loads(base64.b64decode(kv["value"]))
        state["weights"] = {"chat": {"primary": 90}}
        etcd_call(url, "/v3/kv/put", {"key": b64("/clawgate/sec/state"), "value": b64(json.dumps(state))}, ctx, root)
        deadline = time.time() + 5
        while time.time() < deadline:
            once = clawtop("--once", "--format", "json", "--node", urls)
            if once.returncode == 1:
                break
            time.sleep(0.2)
        reasons = json.loads(once.stdout)["reasons"]
        assert once.returncode == 1, once.stdout
        assert any("revision 2 was written straight into etcd" in r for r in reasons), reasons
        snap = [json.loads(urllib.request.urlopen(urllib.request.Request(g.info["admin"] + "/admin/v1/snapshot",
                                                                         headers={"Authorization": f"Bearer {VIEWER}"}), timeout=5).read())
                for g in gates]
        assert all(s["node"]["store"]["unaudited"] == [2] for s in snap), [s["node"]["store"] for s in snap]
        route = next(r for r in snap[1]["routes"] if r["alias"] == "chat")
        assert next(t for t in route["tiers"][0] if t["provider"] == "primary")["effective_weight"] == 90, "the change is in effect"
        # The operator acknowledges it: one audited write; the fleet is OK again.
        ack = clawtop("--exec", "acknowledge", "--yes", "--node", urls)
        assert ack.returncode == 0 and "Acknowledge the fleet state's revision 2" in ack.stdout, ack.stdout + ack.stderr
        deadline = time.time() + 5
        while time.time() < deadline and clawtop("--once", "--node", urls).returncode != 0:
            time.sleep(0.2)
        final = clawtop("--once", "--format", "json", "--node", urls)
        assert final.returncode == 0, final.stdout
        again = clawtop("--exec", "acknowledge", "--yes", "--node", urls)
        assert again.returncode == 1 and "nothing to acknowledge" in again.stderr, again.stdout + again.stderr
        # clawgate state export reaches the store the same way (TLS, etcd's user).
        env = dict(os.environ, E2E_ETCD_PW="gate-pw-e2e")
        export = subprocess.run([binary("clawgate"), "state", "export", "--config", str(tmp_path / "node0.yaml")],
                                capture_output=True, text=True, env=env, timeout=20)
        assert export.returncode == 0 and json.loads(export.stdout)["weights"] == {"chat": {"primary": 90}}, export.stdout + export.stderr
        assert json.loads(export.stdout)["store_acknowledged"] == 2
    finally:
        for g in gates:
            g.stop()
