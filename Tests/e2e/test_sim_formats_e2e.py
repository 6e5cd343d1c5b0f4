"""clawsim's provider formats against the official SDKs: anthropic and google-genai call an
anthropic and a gemini provider directly, openai.AzureOpenAI an azure_openai one. Each must parse
the answers, the streams, the tool calls and the errors, so the simulator speaks the real wire."""
import json
import urllib.request

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from conftest import Proc, binary

WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "note": {"type": "string"}},
    "required": ["city", "days"],
}


@pytest.fixture(scope="module")
def sim():
    p = Proc([binary("clawsim"),
              "--provider", "claude,format=anthropic,latency_ms=1,latency_p99_ms=2,tokens_per_second=500,completion_tokens=6",
              "--provider", "gem,format=gemini,latency_ms=1,latency_p99_ms=2,tokens_per_second=500,completion_tokens=6",
              "--provider", "az,format=azure_openai,latency_ms=1,latency_p99_ms=2,tokens_per_second=500,completion_tokens=6"])
    yield p.info
    p.stop()


def control(info, provider, patch):
    request = urllib.request.Request(f"{info['control']}/sim/providers/{provider}", data=json.dumps(patch).encode(),
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())


@pytest.fixture
def behaviour(sim):
    """Set a provider's behaviour for one test and put the defaults back after it."""
    changed = []

    def set_(provider, **patch):
        changed.append(provider)
        control(sim, provider, patch)

    yield set_
    for provider in changed:
        control(sim, provider, {"answer_status": 0, "rate_limit_rate": 0, "overloaded_rate": 0, "midstream_error_rate": 0,
                                "parallel_tool_calls": False})


def last_info(sim, provider):
    with urllib.request.urlopen(f"{sim['control']}/sim/providers/{provider}/last-request-info", timeout=5) as answer:
        return json.loads(answer.read())


# Anthropic

def claude(sim):
    return anthropic.Anthropic(base_url=sim["providers"]["claude"], api_key="sk-ant-sim", max_retries=0, timeout=10)


def test_anthropic_messages_text_and_stream(sim):
    client = claude(sim)
    message = client.messages.create(model="claude-sim", max_tokens=100, system="be brief",
                                     messages=[{"role": "user", "content": "Say hello to the simulated world"}])
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text" and message.content[0].text.endswith("claude.")
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 6 and message.usage.input_tokens == 10
    info = last_info(sim, "claude")
    # The 2.x SDK sends its key as a bearer token; clawsim takes that or x-api-key.
    assert info["path"] == "/v1/messages"
    assert "sk-ant-sim" in (info["headers"].get("x-api-key"), info["headers"].get("authorization", "").removeprefix("Bearer "))
    assert "anthropic-version" in info["headers"]

    with client.messages.stream(model="claude-sim", max_tokens=3, messages=[{"role": "user", "content": "hi"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "The gateway claude."
    assert final.stop_reason == "max_tokens" and final.usage.output_tokens == 3

    count = client.messages.count_tokens(model="claude-sim", messages=[{"role": "user", "content": "12345678"}])
    assert count.input_tokens == 2
    models = client.models.list()
    assert [m.id for m in models.data] == ["sim-default"]


def test_anthropic_tool_calls(sim, behaviour):
    client = claude(sim)
    tools = [{"name": "weather", "description": "the weather", "input_schema": WEATHER}]
    message = client.messages.create(model="claude-sim", max_tokens=100, tools=tools,
                                     messages=[{"role": "user", "content": "use the tool for Paris"}])
    assert message.stop_reason == "tool_use"
    use = [b for b in message.content if b.type == "tool_use"]
    assert len(use) == 1 and use[0].name == "weather" and use[0].input == {"city": "sim", "days": 1}

    with client.messages.stream(model="claude-sim", max_tokens=100, tools=tools,
                                messages=[{"role": "user", "content": "use the tool"}]) as stream:
        final = stream.get_final_message()
    streamed = [b for b in final.content if b.type == "tool_use"]
    assert streamed[0].name == "weather" and streamed[0].input == {"city": "sim", "days": 1}
    assert final.stop_reason == "tool_use"

    # The round trip: the tool's result goes back and the answer is text.
    after = client.messages.create(model="claude-sim", max_tokens=100, tools=tools, messages=[
        {"role": "user", "content": "use the tool"},
        {"role": "assistant", "content": [b.model_dump() for b in message.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use[0].id, "content": "sunny"}]},
    ])
    assert after.stop_reason == "end_turn"

    behaviour("claude", parallel_tool_calls=True)
    two = client.messages.create(model="claude-sim", max_tokens=100, tools=tools + [{"name": "time", "input_schema": {"type": "object"}}],
                                 messages=[{"role": "user", "content": "tool"}])
    assert [b.name for b in two.content if b.type == "tool_use"] == ["weather", "time"]


def test_anthropic_errors(sim, behaviour):
    client = claude(sim)
    ask = dict(model="claude-sim", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.BadRequestError) as bad:
        client.messages.create(model="claude-sim", max_tokens=10, messages=[{"role": "assistant", "content": "hi"}])
    assert "first message must be 'user'" in str(bad.value)
    behaviour("claude", answer_status=400)
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(**ask)
    behaviour("claude", answer_status=0, rate_limit_rate=1)
    with pytest.raises(anthropic.RateLimitError) as limited:
        client.messages.create(**ask)
    assert limited.value.response.headers["retry-after"] == "1"
    assert limited.value.response.headers["anthropic-ratelimit-requests-reset"]
    behaviour("claude", rate_limit_rate=0, overloaded_rate=1)
    with pytest.raises(anthropic.OverloadedError) as overloaded:
        client.messages.create(**ask)
    assert overloaded.value.status_code == 529
    behaviour("claude", overloaded_rate=0, midstream_error_rate=1)
    with pytest.raises(anthropic.APIStatusError) as midstream:
        with client.messages.stream(**ask) as stream:
            "".join(stream.text_stream)
    assert "overloaded_error" in str(midstream.value)
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(base_url=sim["providers"]["claude"], api_key="x", max_retries=0,
                            default_headers={"Authorization": anthropic.Omit()}).messages.create(**ask)


# Gemini

def gemini(sim, api_version="v1beta"):
    return genai.Client(api_key="sim-key", http_options=genai_types.HttpOptions(
        base_url=sim["providers"]["gem"], api_version=api_version, retry_options=genai_types.HttpRetryOptions(attempts=1)))


def test_gemini_generate_text_and_stream(sim):
    client = gemini(sim)
    answer = client.models.generate_content(model="gemini-sim", contents="Say hello to the simulated world",
                                            config=genai_types.GenerateContentConfig(system_instruction="be brief", temperature=0.2))
    assert answer.text.endswith("gem.")
    assert answer.candidates[0].finish_reason == genai_types.FinishReason.STOP
    assert answer.usage_metadata.candidates_token_count == 6
    assert answer.usage_metadata.prompt_token_count == 10
    assert answer.usage_metadata.total_token_count == 16
    assert answer.model_version == "gemini-sim"
    info = last_info(sim, "gem")
    assert info["path"] == "/v1beta/models/gemini-sim:generateContent" and info["headers"]["x-goog-api-key"] == "sim-key"

    chunks = list(client.models.generate_content_stream(model="gemini-sim", contents="hi",
                                                        config=genai_types.GenerateContentConfig(max_output_tokens=3)))
    assert "".join(c.text for c in chunks) == "The gateway gem."
    assert [c.usage_metadata.candidates_token_count for c in chunks] == [1, 2, 3]
    assert chunks[-1].candidates[0].finish_reason == genai_types.FinishReason.MAX_TOKENS
    assert last_info(sim, "gem")["query"] == "alt=sse"
    assert [m.name for m in client.models.list()] == ["models/sim-default"]
    # google-genai 3.x calls v1 unless told otherwise; clawsim answers there too.
    assert gemini(sim, api_version=None).models.generate_content(model="gemini-sim", contents="hi").text.endswith("gem.")
    assert last_info(sim, "gem")["path"] == "/v1/models/gemini-sim:generateContent"


def test_gemini_function_calls(sim, behaviour):
    client = gemini(sim)
    weather = genai_types.FunctionDeclaration(name="weather", description="the weather", parameters_json_schema=WEATHER)
    config = genai_types.GenerateContentConfig(tools=[genai_types.Tool(function_declarations=[weather])],
                                               automatic_function_calling=genai_types.AutomaticFunctionCallingConfig(disable=True))
    answer = client.models.generate_content(model="gemini-sim", contents="use the tool for Paris", config=config)
    assert answer.function_calls[0].name == "weather"
    assert answer.function_calls[0].args == {"city": "sim", "days": 1}
    chunks = list(client.models.generate_content_stream(model="gemini-sim", contents="use the tool", config=config))
    calls = [call for c in chunks for call in (c.function_calls or [])]
    assert [c.name for c in calls] == ["weather"]

    # The round trip: the function's response goes back and the answer is text.
    after = client.models.generate_content(model="gemini-sim", config=config, contents=[
        genai_types.Content(role="user", parts=[genai_types.Part(text="use the tool")]),
        answer.candidates[0].content,
        genai_types.Content(role="user", parts=[genai_types.Part.from_function_response(name="weather", response={"sky": "sunny"})]),
    ])
    assert after.text.endswith("gem.")

    behaviour("gem", parallel_tool_calls=True)
    two = client.models.generate_content(model="gemini-sim", contents="tool", config=config)
    assert [c.name for c in two.function_calls] == ["weather", "weather"]


def test_gemini_errors(sim, behaviour):
    client = gemini(sim)
    behaviour("gem", answer_status=400)
    with pytest.raises(genai_errors.ClientError) as bad:
        client.models.generate_content(model="gemini-sim", contents="hi")
    assert bad.value.code == 400 and bad.value.status == "INVALID_ARGUMENT"
    behaviour("gem", answer_status=0, rate_limit_rate=1)
    with pytest.raises(genai_errors.ClientError) as limited:
        client.models.generate_content(model="gemini-sim", contents="hi")
    assert limited.value.code == 429 and limited.value.status == "RESOURCE_EXHAUSTED"
    assert limited.value.details["error"]["details"][0]["retryDelay"] == "1s"
    behaviour("gem", rate_limit_rate=0, overloaded_rate=1)
    with pytest.raises(genai_errors.ServerError) as overloaded:
        client.models.generate_content(model="gemini-sim", contents="hi")
    assert overloaded.value.code == 503 and overloaded.value.status == "UNAVAILABLE"
    behaviour("gem", overloaded_rate=0, midstream_error_rate=1)
    with pytest.raises(genai_errors.APIError) as midstream:
        list(client.models.generate_content_stream(model="gemini-sim", contents="hi"))
    assert midstream.value.code == 503
    keyless = genai.Client(api_key="x", http_options=genai_types.HttpOptions(
        base_url=sim["providers"]["gem"], api_version="v1beta", headers={"x-goog-api-key": ""},
        retry_options=genai_types.HttpRetryOptions(attempts=1)))
    with pytest.raises(genai_errors.ClientError) as denied:
        keyless.models.generate_content(model="gemini-sim", contents="hi")
    assert denied.value.code == 403


# Azure OpenAI

def test_azure_openai_chat_and_stream(sim, behaviour):
    client = openai.AzureOpenAI(azure_endpoint=sim["providers"]["az"], api_key="x", api_version="2024-10-21", max_retries=0, timeout=10)
    answer = client.chat.completions.create(model="gpt-dep", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content.endswith("az.")
    assert answer.usage.completion_tokens == 6
    info = last_info(sim, "az")
    assert info["path"] == "/openai/deployments/gpt-dep/chat/completions"
    assert info["query"] == "api-version=2024-10-21" and info["headers"]["api-key"] == "x"

    stream = client.chat.completions.create(model="gpt-dep", messages=[{"role": "user", "content": "hi"}], stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).endswith("az.")
    assert chunks[-1].usage.completion_tokens == 6

    tools = [{"type": "function", "function": {"name": "weather", "parameters": WEATHER}}]
    called = client.chat.completions.create(model="gpt-dep", tools=tools, messages=[{"role": "user", "content": "use the tool"}])
    call = called.choices[0].message.tool_calls[0]
    assert called.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "weather" and json.loads(call.function.arguments) == {"city": "sim", "days": 1}

    behaviour("az", rate_limit_rate=1)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-dep", messages=[{"role": "user", "content": "hi"}])
