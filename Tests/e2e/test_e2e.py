"""End-to-end: the real binaries, the official openai client, promtool, and the CLI's exit codes."""
import json
import re
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import openai
import pytest

from conftest import Proc, binary, gateway_yaml


def client(url):
    return openai.OpenAI(base_url=url + "/v1", api_key="not-needed", max_retries=0, timeout=10)


def test_openai_client_non_streaming(fleet):
    answer = client(fleet["url"]).chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "Say hello"}]
    )
    assert answer.choices[0].message.role == "assistant"
    assert answer.choices[0].message.content.strip().endswith((".",))
    assert answer.usage.prompt_tokens >= 1 and answer.usage.completion_tokens == 16
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


def test_openai_client_streaming_with_usage(fleet):
    stream = client(fleet["url"]).chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "Say hello"}], stream=True,
        stream_options={"include_usage": True},
    )
    text = ""
    usage = None
    chunks = 0
    for chunk in stream:
        chunks += 1
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        if chunk.usage:
            usage = chunk.usage
    assert chunks >= 16
    assert text.endswith(".") and len(text.split()) == 16
    assert usage is not None and usage.completion_tokens == 16


def test_openai_client_sees_a_clear_error_for_an_unknown_model(fleet):
    with pytest.raises(openai.NotFoundError) as info:
        client(fleet["url"]).chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert "does not exist" in str(info.value)


def test_models_list_through_the_client(fleet):
    assert [m.id for m in client(fleet["url"]).models.list()] == ["chat"]


def test_metrics_pass_promtool(fleet):
    c = client(fleet["url"])
    for stream in (False, True):
        resp = c.chat.completions.create(model="chat", messages=[{"role": "user", "content": "x"}], stream=stream)
        if stream:
            list(resp)
    text = urllib.request.urlopen(fleet["admin"] + "/metrics", timeout=5).read()
    assert b"clawgate_requests_total" in text and b"clawgate_cost_dollars_total" in text
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus) must be installed; .ci/run installs it"
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_outage_through_the_control_endpoint_gives_no_client_errors(fleet):
    req = urllib.request.Request(fleet["control"] + "/sim/providers/fast", data=json.dumps({"outage": True}).encode(),
                                 method="POST", headers={"content-type": "application/json"})
    body = json.loads(urllib.request.urlopen(req, timeout=5).read())
    assert body["behaviour"]["outage"] is True
    c = client(fleet["url"])
    served = []
    for _ in range(30):
        raw = c.chat.completions.with_raw_response.create(model="chat", messages=[{"role": "user", "content": "x"}])
        assert raw.parse().choices[0].message.content  # every request answered, none an error
        served.append(raw.headers["x-clawgate-provider"])
    # The broken provider served nothing, and the breaker and health checks took it out of rotation:
    # without them about half of the 30 requests would try it first.
    assert served == ["other"] * 30, served
    sims = json.loads(urllib.request.urlopen(fleet["control"] + "/sim/providers/fast", timeout=5).read())
    assert sims["requests"] < 10, sims
    metrics = urllib.request.urlopen(fleet["admin"] + "/metrics", timeout=5).read().decode()
    assert re.search(r'clawgate_provider_up\{provider="fast"\} 0', metrics), [l for l in metrics.splitlines() if "provider_up" in l]
    assert re.search(r'clawgate_provider_up\{provider="other"\} 1', metrics)


def test_check_config_reports_problems_with_key_paths(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("providers:\n  - {id: a, base_url: 'nope'}\nroutes:\n  - alias: chat\n    tiers: [[{provider: b, weight: 5000}]]\n")
    result = subprocess.run([binary("clawgate"), "check-config", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    assert f"{bad}: providers[0].base_url:" in result.stderr
    assert f"{bad}: routes[0].tiers[0][0].provider: unknown provider 'b'" in result.stderr
    assert f"{bad}: routes[0].tiers[0][0].weight: must be between 0 and 1000" in result.stderr
    # Starting with the same file is refused the same way, before listening.
    start = subprocess.run([binary("clawgate"), "--config", str(bad)], capture_output=True, text=True, timeout=20)
    assert start.returncode != 0 and "routes[0].tiers[0][0].provider" in start.stderr
    good = tmp_path / "good.yaml"
    good.write_text(gateway_yaml({"a": "http://127.0.0.1:9"}))
    ok = subprocess.run([binary("clawgate"), "check-config", str(good)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    example = tmp_path / "example.yaml"
    example.write_text(subprocess.run([binary("clawgate"), "example-config"], capture_output=True, text=True, check=True).stdout)
    ok = subprocess.run([binary("clawgate"), "check-config", str(example)], capture_output=True, text=True)
    assert ok.returncode == 0 and "2 providers, 1 routes" in ok.stdout, ok.stderr
    missing = subprocess.run([binary("clawgate"), "check-config", str(tmp_path / "missing.yaml")], capture_output=True, text=True)
    assert missing.returncode != 0 and "cannot read the file" in missing.stderr


def test_clawsim_rejects_bad_flags_and_files(tmp_path):
    r = subprocess.run([binary("clawsim"), "--provider", "x,error_rate=2"], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "error_rate: must be between 0 and 1" in r.stderr
    f = tmp_path / "sim.yaml"
    f.write_text("providers:\n  - {id: a, latency_ms: fast}\n")
    r = subprocess.run([binary("clawsim"), "--config", str(f)], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "providers[0].latency_ms: must be a number" in r.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_servers_stop_cleanly_on_signals(sig, tmp_path):
    sim = Proc([binary("clawsim"), "--provider", "a"])
    config = tmp_path / "gw.yaml"
    config.write_text(gateway_yaml(sim.info["providers"]))
    gate = Proc([binary("clawgate"), "--config", str(config)])
    if sig == signal.SIGHUP:
        # SIGHUP asks clawgate to reload its TLS certificates (none here): it keeps serving, and
        # says there was nothing to reload; SIGTERM stops it.
        gate.proc.send_signal(sig)
        time.sleep(0.5)
        assert urllib.request.urlopen(gate.info["url"] + "/healthz", timeout=2).status == 200
        assert gate.proc.poll() is None
        assert gate.stop(signal.SIGTERM) == 0
        assert "nothing to reload" in gate.proc.stderr.read()
    else:
        assert gate.stop(sig) == 0
    assert sim.stop(sig) == 0
    # The ports are free again.
    with pytest.raises(OSError):
        urllib.request.urlopen(gate.info["url"] + "/healthz", timeout=2)


def test_rules_pass_promtool_and_fire_as_meant(tmp_path):
    rules = tmp_path / "rules.yml"
    r = subprocess.run([binary("clawgate"), "rules", "--budget-per-hour", "10"], capture_output=True, text=True, check=True)
    rules.write_text(r.stdout)
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus) must be installed; .ci/run installs it"
    check = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True)
    assert check.returncode == 0 and "SUCCESS: 12 rules found" in check.stdout, check.stdout + check.stderr
    # promtool's own rule unit tests: a provider out everywhere fires ProviderDown; out on one node does not;
    # spending 36 dollars an hour over a 10 dollar budget fires CostOverBudget; a provider answering
    # every request 400 (the clients' fault) does not fire ErrorRatioHigh, one failing half of them does, and
    # so does one failing half of them in a drill (fault="drill": the alert must fire, the label tells it apart).
    (tmp_path / "test.yml").write_text(f"""rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'clawgate_provider_up{{instance="n1", provider="a"}}'
        values: '0x10'
      - series: 'clawgate_provider_up{{instance="n2", provider="a"}}'
        values: '0x10'
      - series: 'clawgate_provider_up{{instance="n1", provider="b"}}'
        values: '0x10'
      - series: 'clawgate_provider_up{{instance="n2", provider="b"}}'
        values: '1x10'
      - series: 'clawgate_cost_dollars_total{{instance="n1", provider="a", route="chat"}}'
        values: '0+0.6x30'
      - series: 'clawgate_upstream_attempts_total{{instance="n1", provider="picky", route="chat", outcome="status_400", fault="client"}}'
        values: '0+600x30'
      - series: 'clawgate_upstream_attempts_total{{instance="n1", provider="flaky", route="chat", outcome="ok", fault="none"}}'
        values: '0+300x30'
      - series: 'clawgate_upstream_attempts_total{{instance="n1", provider="flaky", route="chat", outcome="status_503", fault="provider"}}'
        values: '0+300x30'
      - series: 'clawgate_route_over_budget{{instance="n1", route="chat", action="shift"}}'
        values: '0 0 1x10'
      - series: 'clawgate_route_over_budget{{instance="n2", route="chat", action="shift"}}'
        values: '0x12'
      - series: 'clawgate_upstream_attempts_total{{instance="n1", provider="drilled", route="chat", outcome="ok", fault="none"}}'
        values: '0+300x30'
      - series: 'clawgate_upstream_attempts_total{{instance="n1", provider="drilled", route="chat", outcome="connect_error", fault="drill"}}'
        values: '0+300x30'
    alert_rule_test:
      - eval_time: 5m
        alertname: ClawgateProviderDown
        exp_alerts:
          - exp_labels: {{severity: critical, provider: a}}
            exp_annotations: {{summary: "Provider a is out of rotation on every node"}}
      - eval_time: 20m
        alertname: ClawgateCostOverBudget
        exp_alerts:
          - exp_labels: {{severity: warning}}
            exp_annotations: {{summary: "Fleet cost is 36.00 dollars per hour (budget 10)"}}
      - eval_time: 5m
        alertname: ClawgateRouteOverBudget
        exp_alerts:
          - exp_labels: {{severity: warning, route: chat, action: shift}}
            exp_annotations: {{summary: "Route chat spends past its budget; its guard acts (shift)"}}
      - eval_time: 20m
        alertname: ClawgateProviderErrorRatioHigh
        exp_alerts:
          - exp_labels: {{severity: warning, provider: drilled}}
            exp_annotations: {{summary: "Provider drilled fails 50% of attempts"}}
          - exp_labels: {{severity: warning, provider: flaky}}
            exp_annotations: {{summary: "Provider flaky fails 50% of attempts"}}
""")
    unit = subprocess.run([promtool, "test", "rules", str(tmp_path / "test.yml")], capture_output=True, text=True)
    assert unit.returncode == 0, unit.stdout + unit.stderr
    bad = subprocess.run([binary("clawgate"), "rules", "--error-ratio", "2"], capture_output=True, text=True)
    assert bad.returncode != 0 and "--error-ratio must be in (0, 1]" in bad.stderr
    # --pending-for replaces every alert's `for:` (the demo and the monitor tests use it); still valid rules.
    r = subprocess.run([binary("clawgate"), "rules", "--pending-for", "2.5"], capture_output=True, text=True, check=True)
    assert r.stdout.count("for: 2500ms") == 8 and "for: 5m" not in r.stdout
    rules.write_text(r.stdout)
    check = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    bad = subprocess.run([binary("clawgate"), "rules", "--pending-for=-1"], capture_output=True, text=True)
    assert bad.returncode != 0 and "--pending-for must be 0..86400 seconds" in bad.stderr
