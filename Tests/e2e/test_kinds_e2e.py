"""The official openai client calls clawgate over each provider kind (openai, anthropic, gemini,
azure_openai served by clawsim in each format): text, streams with usage, tool calls streamed and
whole; and a route whose anthropic tier answers 529 fails over to gemini with no client error."""
import json
import os
import tempfile
import urllib.request

import openai
import pytest

from conftest import Proc, binary

KINDS = ["openai", "anthropic", "gemini", "azure_openai"]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                          "required": ["city"]}}}]


@pytest.fixture(scope="module")
def kinds_fleet():
    flags = "latency_ms=1,latency_p99_ms=2,tokens_per_second=500,completion_tokens=6"
    sim = Proc([binary("clawsim")] + sum((["--provider", f"{k.replace('_', '-')},format={k},{flags}"] for k in KINDS), [])
               + ["--provider", f"claude529,format=anthropic,overloaded_rate=1,{flags}",
                  "--provider", f"gem-backup,format=gemini,{flags}"])
    urls = sim.info["providers"]
    lines = []
    for pid, url in sorted(urls.items()):
        kind = {"openai": "openai", "anthropic": "anthropic", "gemini": "gemini", "azure-openai": "azure_openai",
                "claude529": "anthropic", "gem-backup": "gemini"}[pid]
        base = url + "/v1" if kind == "openai" else url
        extra = ", api_version: 2024-10-21" if kind == "azure_openai" else ""
        lines.append(f"  - {{id: {pid}, kind: {kind}, base_url: '{base}', api_key_env: E2E_UPSTREAM_KEY{extra},"
                     f" price: {{input_per_1m: 1.0, output_per_1m: 2.0}}}}")
    routes = "\n".join(f"  - alias: via-{k}\n    tiers: [[{{provider: {k.replace('_', '-')}, model: sim-model, weight: 1}}]]" for k in KINDS)
    yaml = f"""node_id: kinds-node
listen: 127.0.0.1:0
providers:
{chr(10).join(lines)}
routes:
{routes}
  - alias: failover
    tiers:
      - [{{provider: claude529, model: claude-x, weight: 1}}]
      - [{{provider: gem-backup, model: gemini-x, weight: 1}}]
  - alias: failover-openai
    tiers:
      - [{{provider: claude529, model: claude-x, weight: 1}}]
      - [{{provider: openai, model: gpt-x, weight: 1}}]
breaker: {{consecutive_failures: 3, cooldown: 1, max_cooldown: 5}}
health_check: {{interval: 0.5, timeout: 1}}
"""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(yaml)
        path = f.name
    gate = Proc([binary("clawgate"), "--config", path], env={**os.environ, "E2E_UPSTREAM_KEY": "sk-upstream-e2e"})
    yield {"url": gate.info["url"], "control": sim.info["control"]}
    gate.stop()
    sim.stop()
    os.unlink(path)


def client(fleet):
    return openai.OpenAI(base_url=fleet["url"] + "/v1", api_key="unused", max_retries=0)


@pytest.mark.parametrize("kind", KINDS)
def test_openai_client_text_and_stream_over_each_kind(kinds_fleet, kind):
    c = client(kinds_fleet)
    answer = c.chat.completions.create(model=f"via-{kind}", messages=[{"role": "system", "content": "Be brief."},
                                                                     {"role": "user", "content": "Say hello"}])
    text = answer.choices[0].message.content
    assert text and answer.choices[0].finish_reason == "stop"
    assert answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens == 6
    stream = c.chat.completions.create(model=f"via-{kind}", messages=[{"role": "user", "content": "Say hello"}], stream=True,
                                       stream_options={"include_usage": True})
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            finish = choice.finish_reason or finish
    assert "".join(pieces) == text
    assert finish == "stop" and usage and usage.completion_tokens == 6


@pytest.mark.parametrize("kind", KINDS)
def test_openai_client_streams_tool_calls_over_each_kind(kinds_fleet, kind):
    c = client(kinds_fleet)
    urllib.request.urlopen(urllib.request.Request(
        f"{kinds_fleet['control']}/sim/providers/{kind.replace('_', '-')}", data=json.dumps({"parallel_tool_calls": True}).encode(),
        headers={"content-type": "application/json"}), timeout=5).read()
    calls = {}
    finish = None
    for chunk in c.chat.completions.create(model=f"via-{kind}", tools=TOOLS, stream=True,
                                            messages=[{"role": "user", "content": "Use the tool for Paris"}]):
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for call in choice.delta.tool_calls or []:
                entry = calls.setdefault(call.index, {"id": None, "name": None, "arguments": ""})
                entry["id"] = call.id or entry["id"]
                if call.function and call.function.name:
                    entry["name"] = call.function.name
                if call.function and call.function.arguments:
                    entry["arguments"] += call.function.arguments
    assert sorted(calls) == [0, 1] and finish == "tool_calls", calls
    assert len({v["id"] for v in calls.values()}) == 2
    for v in calls.values():
        assert v["name"] == "get_weather" and "city" in json.loads(v["arguments"])
    # The whole answer, then the next turn answering both calls.
    whole = c.chat.completions.create(model=f"via-{kind}", tools=TOOLS, messages=[{"role": "user", "content": "Use the tool for Rome"}])
    message = whole.choices[0].message
    assert whole.choices[0].finish_reason == "tool_calls" and len(message.tool_calls) == 2
    follow = c.chat.completions.create(model=f"via-{kind}", tools=TOOLS, messages=[
        {"role": "user", "content": "Use the tool for Rome"},
        {"role": "assistant", "content": None, "tool_calls": [t.model_dump() for t in message.tool_calls]},
        *[{"role": "tool", "tool_call_id": t.id, "content": "sunny"} for t in message.tool_calls],
    ])
    assert follow.choices[0].finish_reason == "stop" and follow.choices[0].message.content


def test_an_overloaded_anthropic_tier_fails_over_to_gemini_with_no_client_errors(kinds_fleet):
    c = client(kinds_fleet)
    for i in range(10):
        if i % 2:
            text = "".join(ch.choices[0].delta.content or "" for ch in c.chat.completions.create(
                model="failover", messages=[{"role": "user", "content": f"hi {i}"}], stream=True) if ch.choices)
        else:
            raw = c.chat.completions.with_raw_response.create(model="failover", messages=[{"role": "user", "content": f"hi {i}"}])
            assert raw.headers["x-clawgate-provider"] == "gem-backup"
            text = raw.parse().choices[0].message.content
        assert "gem-backup" in text


def test_a_provider_refusal_reaches_the_client_as_an_openai_error(kinds_fleet):
    c = client(kinds_fleet)
    with pytest.raises(openai.BadRequestError) as refused:
        c.chat.completions.create(model="via-anthropic", messages=[{"role": "user", "content": "hi"}], logprobs=True)
    assert refused.value.body["param"] == "logprobs" and refused.value.body["code"] == "unsupported_parameter"
    with pytest.raises(openai.BadRequestError) as image:
        c.chat.completions.create(model="via-gemini", messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}])
    assert image.value.body["param"] == "messages[0].content[0].image_url"


@pytest.mark.parametrize("kind", ["openai", "gemini", "azure_openai"])
def test_openai_client_embeddings_over_each_kind_that_has_them(kinds_fleet, kind):
    c = client(kinds_fleet)
    one = c.embeddings.create(model=f"via-{kind}", input="hello gateway")  # the SDK asks for base64 and decodes it
    assert len(one.data) == 1 and len(one.data[0].embedding) > 0 and all(isinstance(x, float) for x in one.data[0].embedding)
    many = c.embeddings.create(model=f"via-{kind}", input=["a", "b", "c"], dimensions=16, encoding_format="float")
    assert [d.index for d in many.data] == [0, 1, 2] and all(len(d.embedding) == 16 for d in many.data)
    assert many.usage.prompt_tokens > 0


def test_embeddings_refused_where_the_route_cannot_embed(kinds_fleet):
    with pytest.raises(openai.BadRequestError) as refused:
        client(kinds_fleet).embeddings.create(model="via-anthropic", input="x")
    assert refused.value.body["code"] == "unsupported_endpoint"


@pytest.mark.parametrize("kind", ["openai", "azure_openai"])
def test_openai_client_responses_over_openai_kinds(kinds_fleet, kind):
    c = client(kinds_fleet)
    r = c.responses.create(model=f"via-{kind}", input="Say hello")
    assert r.status == "completed" and r.output_text and r.usage.output_tokens == 6
    events = [e.type for e in c.responses.create(model=f"via-{kind}", input="Say hello", stream=True)]
    assert events[0] == "response.created" and events[-1] == "response.completed" and "response.output_text.delta" in events
    with pytest.raises(openai.BadRequestError):
        c.responses.create(model="via-gemini", input="x")
