"""clawtop with the real Prometheus and Alertmanager from Debian, scraping a real clawgate fleet.

One fleet for the module: clawsim (providers `quick`, 10 % errors, and `steady`), two clawgate nodes
with admin tokens, steady client traffic, Prometheus scraping every second with `clawgate rules`
loaded (`--pending-for 3`: each `for:` shortened to 3 s, the expressions as shipped), and Alertmanager. The tests
run in order: the figures agree (after a full minute of traffic), an outage fires a real alert
that the console shows and silences, and Prometheus stopped mid-run gives the fallback.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import pytest

from conftest import Proc, binary, data_url, free_port, gateway_yaml
from test_admin_e2e import OPERATOR, call
from test_clawtop_e2e import Tmux, clawtop

PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = pytest.mark.skipif(not (PROMETHEUS and ALERTMANAGER and shutil.which("tmux")),
                                reason="prometheus, prometheus-alertmanager and tmux are installed by .ci/run")

# clawgate's Prometheus buckets (GatewayMetrics.latencyBuckets).
BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]



def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


def wait_ready(url, proc, log, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited: {open(log).read()[-2000:]}")
        try:
            urllib.request.urlopen(url + "/-/ready", timeout=1)
            return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{url} not ready: {open(log).read()[-2000:]}")


class Traffic:
    """Two clients per node, one request every ~0.1 s each, until stopped."""

    def __init__(self, urls):
        self.stop = threading.Event()
        body = json.dumps({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}).encode()

        def worker(url):
            while not self.stop.is_set():
                req = urllib.request.Request(data_url(url) + "/v1/chat/completions", data=body, headers={"Content-Type": "application/json"})
                try:
                    urllib.request.urlopen(req, timeout=10).read()
                except Exception:
                    pass
                self.stop.wait(0.1)

        self.threads = [threading.Thread(target=worker, args=(u,), daemon=True) for u in urls for _ in range(2)]
        for t in self.threads:
            t.start()


@pytest.fixture(scope="module")
def stack():
    tmp = tempfile.mkdtemp(prefix="claw-monitor-")
    sim = Proc([binary("clawsim"), "--provider", "quick,latency_ms=60,latency_p99_ms=120,error_rate=0.1",
                "--provider", "steady,latency_ms=300,latency_p99_ms=450"])
    gates = []
    for n in range(2):
        path = os.path.join(tmp, f"node{n}.yaml")
        admin = f"admin:\n  state_dir: {tmp}/state{n}\n  tokens:\n    - {{name: ops, role: operator, env: E2E_OPERATOR}}\n"
        with open(path, "w") as f:
            f.write(gateway_yaml(sim.info["providers"], admin).replace("e2e-node", f"mon-{n}"))
        gates.append(Proc([binary("clawgate"), "--config", path], env=dict(os.environ, E2E_OPERATOR=OPERATOR)))
    urls = [g.info["admin"] for g in gates]
    traffic = Traffic(urls)
    started = time.time()

    rules = subprocess.run([binary("clawgate"), "rules", "--pending-for", "3"], capture_output=True, text=True, check=True).stdout
    with open(os.path.join(tmp, "rules.yml"), "w") as f:
        f.write(rules)
    prom_port, am_port = free_port(), free_port()
    targets = ", ".join(f"'{u.split('//')[1]}'" for u in urls)
    with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
        f.write(f"""global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [{tmp}/rules.yml]
alerting: {{alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]}}]}}
scrape_configs:
  - job_name: clawgate
    static_configs: [{{targets: [{targets}]}}]
""")
    with open(os.path.join(tmp, "alertmanager.yml"), "w") as f:
        f.write("route: {receiver: nowhere, group_wait: 1s, group_interval: 1s, repeat_interval: 1h}\nreceivers: [{name: nowhere}]\n")
    am_log = os.path.join(tmp, "alertmanager.log")
    am = subprocess.Popen([ALERTMANAGER, f"--config.file={tmp}/alertmanager.yml", f"--storage.path={tmp}/am",
                           f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
                          stdout=open(am_log, "w"), stderr=subprocess.STDOUT)
    prom_log = os.path.join(tmp, "prometheus.log")
    prom = subprocess.Popen([PROMETHEUS, f"--config.file={tmp}/prometheus.yml", f"--storage.tsdb.path={tmp}/prom",
                             f"--web.listen-address=127.0.0.1:{prom_port}"],
                            stdout=open(prom_log, "w"), stderr=subprocess.STDOUT)
    prom_url, am_url = f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{am_port}"
    try:
        wait_ready(am_url, am, am_log)
        wait_ready(prom_url, prom, prom_log)
        yield {"sim": sim, "urls": urls, "prom": prom, "prom_url": prom_url, "am_url": am_url, "started": started, "tmp": tmp}
    finally:
        traffic.stop.set()
        for p in (prom, am):
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=10)
        for g in gates:
            g.stop()
        sim.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def monitor_args(stack, prometheus=True, alertmanager=True):
    args = ["--node", ",".join(stack["urls"])]
    if prometheus:
        args += ["--prometheus", stack["prom_url"]]
    if alertmanager:
        args += ["--alertmanager", stack["am_url"]]
    return args


def same_bucket(a, b):
    """Whether two latencies fall in the same Prometheus bucket (10 % slack at its edges)."""
    for low, high in zip([0] + BUCKETS, BUCKETS + [float("inf")]):
        if low < b <= high:
            return low * 0.9 <= a <= high * 1.1
    return False


def test_promql_figures_agree_with_the_gateways_own_stats(stack):
    # Both sides count over one minute: wait until the traffic has filled a whole one.
    time.sleep(max(0, stack["started"] + 68 - time.time()))
    snapshots = [call(u + "/admin/v1/snapshot")[1] for u in stack["urls"]]
    once = clawtop("--once", "--format", "json", *monitor_args(stack, alertmanager=False))
    assert once.returncode in (0, 1), once.stderr
    report = json.loads(once.stdout)
    assert report["figures_source"] == "prometheus" and report["prometheus"]["ok"] is True, report.get("prometheus")
    console = {p["id"]: p for p in report["providers"]}
    for pid in ("quick", "steady"):
        mine = [p for s in snapshots for p in s["providers"] if p["id"] == pid]
        stats = [p["stats"]["1m"] for p in mine]
        requests = sum(s["requests"] for s in stats)
        node_rps = sum(s["requests_per_second"] for s in stats)
        node_errors = sum(s["errors"] for s in stats) / requests
        node_cost = sum(s["cost_per_hour_dollars"] for s in stats)
        node_p50 = max(s["latency_p50_seconds"] for s in stats)
        prom = console[pid]
        detail = f"{pid}: console {prom} vs nodes rps {node_rps:.2f} err {node_errors:.3f} $/h {node_cost:.4f} p50 {node_p50:.3f}"
        print(detail)
        assert requests > 200, detail
        # Stated tolerances: rates and cost within 15 % (Prometheus extrapolates a rate over its
        # samples, the node counts whole seconds); error ratio within 4 points; latency quantiles
        # in the same Prometheus bucket (Prometheus interpolates linearly inside a bucket).
        assert abs(prom["requests_per_second"] - node_rps) <= 0.15 * node_rps, detail
        assert abs(prom["error_ratio"] - node_errors) <= 0.04, detail
        assert abs(prom["cost_per_hour_dollars"] - node_cost) <= 0.15 * node_cost, detail
        assert same_bucket(prom["latency_p50_seconds"], node_p50), detail
    assert console["quick"]["error_ratio"] > 0.05 and console["steady"]["error_ratio"] < 0.02
    node_fleet_rps = sum(r["stats"]["1m"]["requests_per_second"] for s in snapshots for r in s["routes"])
    assert abs(report["fleet"]["requests_per_second"] - node_fleet_rps) <= 0.15 * node_fleet_rps


def test_an_outage_fires_a_real_alert_the_console_shows_and_silences(stack):
    control = stack["sim"].info["control"]
    req = urllib.request.Request(control + "/sim/providers/steady", data=json.dumps({"outage": True}).encode(), method="POST")
    urllib.request.urlopen(req, timeout=5).read()
    try:
        deadline = time.time() + 60
        firing = []
        while time.time() < deadline and not firing:
            firing = [a for a in get(stack["am_url"] + "/api/v2/alerts")
                      if a["labels"]["alertname"] == "ClawgateProviderDown" and a["labels"].get("provider") == "steady"]
            time.sleep(0.5)
        assert firing, "Alertmanager never received ClawgateProviderDown for steady"

        once = clawtop("--once", "--format", "json", *monitor_args(stack))
        report = json.loads(once.stdout)
        assert once.returncode == 2, once.stdout  # a critical alert is firing
        names = [(a["name"], a["labels"].get("provider"), a["severity"], a["state"]) for a in report["alertmanager"]["alerts"]]
        assert ("ClawgateProviderDown", "steady", "critical", "firing") in names
        assert any("ClawgateProviderDown{provider=steady} (critical) is firing" in r for r in report["reasons"])
        text = clawtop("--once", *monitor_args(stack))
        assert "ALERTS from " + stack["am_url"] in text.stdout and "ClawgateProviderDown{provider=steady}" in text.stdout

        t = Tmux(f"env TERM=xterm-256color USER=oncall CLAWTOP_TOKEN={OPERATOR} {binary('clawtop')} --refresh 0.5 "
                 + " ".join(monitor_args(stack)), 120, 30)
        try:
            screen = t.wait_for(" alerts ")
            t.keys("6")
            screen = t.wait_for("ClawgateProviderDown")
            assert "critical" in screen and "Provider steady is out of rotation on every node" in screen
            # z on the selected (critical, so first) alert puts its silence on the command line.
            t.keys("z")
            t.wait_for(":silence ClawgateProviderDown{provider=steady} 1h")
            t.keys("BSpace", "BSpace", "BSpace")
            t.keys("30m vendor outage")
            t.keys("Enter")
            t.wait_for("Silence ClawgateProviderDown{provider=steady} for 30m")
            t.wait_for("Sent to: Alertmanager")
            t.keys("y", "Enter")
            t.wait_for("vendor outage: alertmanager ok")
            t.wait_for("1 silenced or inhibited")
        finally:
            t.kill()
        silences = [s for s in get(stack["am_url"] + "/api/v2/silences") if s["status"]["state"] == "active"]
        assert len(silences) == 1, silences
        s = silences[0]
        assert s["comment"] == "vendor outage" and s["createdBy"] == "clawtop (oncall)"
        assert {(m["name"], m["value"]) for m in s["matchers"]} == {("alertname", "ClawgateProviderDown"), ("provider", "steady")}
        assert 29 * 60 <= (time.mktime(time.strptime(s["endsAt"][:19], "%Y-%m-%dT%H:%M:%S"))
                           - time.mktime(time.strptime(s["startsAt"][:19], "%Y-%m-%dT%H:%M:%S"))) <= 31 * 60
        # Silenced, it no longer makes the fleet critical; --exec silences too, and a typo is refused.
        once = clawtop("--once", "--format", "json", *monitor_args(stack))
        assert once.returncode != 2, once.stdout
        bad = clawtop("--exec", "silence ClawgateProviderDwn 1h typo", "--yes", *monitor_args(stack))
        assert bad.returncode == 1 and "no alert matches ClawgateProviderDwn" in bad.stderr
        # Issue 30: the silence can be removed. Tab completes the silenced alert's name; the
        # dialog's confirm expires the silence in Alertmanager, and the alert is critical again.
        t = Tmux(f"env TERM=xterm-256color CLAWTOP_TOKEN={OPERATOR} {binary('clawtop')} --refresh 0.5 "
                 + " ".join(monitor_args(stack)), 120, 30)
        try:
            t.keys("6")
            t.wait_for("ClawgateProviderDown")
            t.keys("G")  # silenced alerts come last
            t.wait_for(f"silenced by {s['id']}; :unsilence ClawgateProviderDown{{provider=steady}} removes it")
            t.keys(":")
            subprocess.run(["tmux", "send-keys", "-t", t.name, "-l", "unsil"], check=True)
            t.keys("Tab", "Tab")
            t.wait_for(":unsilence ClawgateProviderDown{provider=steady} ")
            t.keys("Enter")
            t.wait_for("Remove the silence of ClawgateProviderDown{provider=steady} in Alertmanager (1 alert notify again)")
            t.keys("y")
            t.wait_for("alertmanager ok")
            t.wait_for("0 silenced or inhibited")
        finally:
            t.kill()
        expired = [x for x in get(stack["am_url"] + "/api/v2/silences") if x["id"] == s["id"]]
        assert expired and expired[0]["status"]["state"] == "expired", expired
        assert clawtop("--once", "--format", "json", *monitor_args(stack)).returncode == 2
        # Nothing left to remove: refused, naming what is silenced (nothing).
        again = clawtop("--exec", "unsilence ClawgateProviderDown{provider=steady}", "--yes", *monitor_args(stack))
        assert again.returncode == 1 and "no silenced alert matches ClawgateProviderDown{provider=steady}; none is silenced" in again.stderr, again.stderr
    finally:
        req = urllib.request.Request(control + "/sim/providers/steady", data=json.dumps({"outage": False}).encode(), method="POST")
        urllib.request.urlopen(req, timeout=5).read()
    # Once it resolves, the timeline tells both when it fired and when it resolved (from
    # Prometheus's ALERTS series: Alertmanager's API lists active alerts only).
    query = urllib.parse.quote('ALERTS{alertstate="firing",alertname="ClawgateProviderDown",provider="steady"}')
    deadline = time.time() + 60
    while time.time() < deadline and get(stack["prom_url"] + "/api/v1/query?query=" + query)["data"]["result"]:
        time.sleep(0.5)
    time.sleep(2)  # a range's last step past the resolution
    timeline = clawtop("--timeline", "--since", "10m", *monitor_args(stack))
    assert "alert ClawgateProviderDown{provider=steady} firing (critical)" in timeline.stdout, timeline.stdout
    assert "alert ClawgateProviderDown{provider=steady} resolved" in timeline.stdout, timeline.stdout
    assert "first alert: 20" in timeline.stdout and "time to detect:" in timeline.stdout, timeline.stdout


def test_prometheus_stopped_mid_run_falls_back_to_the_nodes_and_says_so(stack):
    t = Tmux(f"env TERM=xterm-256color CLAWTOP_TOKEN={OPERATOR} {binary('clawtop')} --refresh 0.5 "
             + " ".join(monitor_args(stack)), 160, 30)
    try:
        t.wait_for("src prom")
        t.wait_for("quick")
        # The detail view's latency history is full at once (back-filled from query_range): as a
        # sparkline on its own line (120 refreshes), or, where the pane has room, as a graph whose
        # bottom row fills its half of the width.
        t.keys("Enter")
        marks = "▁▂▃▄▅▆▇█_=*#"  # Unicode, or ASCII where the locale has none

        def filled(screen):
            lines = screen.splitlines()
            at = next((k for k, l in enumerate(lines) if l.startswith("latency p50")), None)
            if at is None:
                return False
            spark = sum(lines[at].count(c) for c in marks)
            if spark >= 20:
                return spark >= 100
            rows = []
            for line in lines[at + 1:]:
                if "now" in line:
                    break
                rows.append(line)
            bottom = rows[-1][:len(rows[-1]) // 2] if rows else ""
            return sum(bottom.count(c) for c in marks) >= 70
        deadline = time.time() + 5
        while time.time() < deadline and not filled(t.screen()):
            time.sleep(0.2)
        assert filled(t.screen()), t.screen()
        t.keys("Escape")
        stack["prom"].send_signal(signal.SIGTERM)
        stack["prom"].wait(timeout=20)
        screen = t.wait_for("prom down: node stats")
        assert "src prom" not in screen
        assert "quick" in screen and "steady" in screen  # the rows stay, from the nodes' own stats
        t.keys("6")
        t.wait_for(f"prometheus {stack['prom_url']}: connection refused; node stats shown")
        assert t.alive()
        t.keys("q")
    finally:
        t.kill()
    once = clawtop("--once", "--format", "json", *monitor_args(stack))
    report = json.loads(once.stdout)
    assert report["figures_source"] == "nodes" and report["prometheus"]["ok"] is False
    assert report["prometheus"]["error"] == "connection refused"
    # The figures now come from the nodes' own stats: the steady traffic shows in them.
    assert report["providers"] and all(p["requests_per_second"] >= 0 for p in report["providers"])
    assert any(p["requests_per_second"] > 0 for p in report["providers"]), report["providers"]
    assert once.returncode in (0, 1, 2), once.stderr  # Prometheus down is a note, not an unknown fleet


def test_monitor_urls_are_checked(stack, tmp_path):
    bad = clawtop("--once", "--node", stack["urls"][0], "--prometheus", "ftp://example")
    assert bad.returncode == 2 and "--prometheus: 'ftp://example' is not an http:// or https:// URL" in bad.stderr
    config = tmp_path / "clawtop" / "config.yaml"
    config.parent.mkdir()
    config.write_text(f"nodes: [{stack['urls'][0]}]\nalertmanager: {stack['am_url']}\n")
    env_args = {"XDG_CONFIG_HOME": str(tmp_path)}
    env = {k: v for k, v in os.environ.items() if k not in ("TERM",)}
    env.update(env_args, CLAWTOP_TOKEN=OPERATOR)
    r = subprocess.run([binary("clawtop"), "--once", "--format", "json"], capture_output=True, text=True, env=env, timeout=30)
    assert json.loads(r.stdout)["alertmanager"]["url"] == stack["am_url"]
    config.write_text("alertmanager: localhost:9093\n")
    r = subprocess.run([binary("clawtop"), "--once"], capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 2 and "alertmanager: must be an http:// or https:// URL" in r.stderr
