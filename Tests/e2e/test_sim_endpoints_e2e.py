"""clawsim's embeddings and Responses API against the official SDKs: the openai client calls an
openai provider directly (embeddings as base64 and floats, responses JSON and streamed, errors),
openai.AzureOpenAI an azure_openai one, google-genai's embed_content a gemini one. Each must parse."""
import json
import math
import urllib.request

import openai
import pytest
from google import genai
from google.genai import types as genai_types

from conftest import Proc, binary


@pytest.fixture(scope="module")
def sim():
    fast = "latency_ms=1,latency_p99_ms=2,tokens_per_second=500,completion_tokens=6"
    p = Proc([binary("clawsim"),
              "--provider", f"oa,format=openai,{fast}",
              "--provider", f"az,format=azure_openai,{fast}",
              "--provider", f"gem,format=gemini,{fast}"])
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
        control(sim, provider, {"rate_limit_rate": 0, "midstream_error_rate": 0, "overloaded_rate": 0})


def last_info(sim, provider):
    with urllib.request.urlopen(f"{sim['control']}/sim/providers/{provider}/last-request-info", timeout=5) as answer:
        return json.loads(answer.read())


def last_body(sim, provider):
    with urllib.request.urlopen(f"{sim['control']}/sim/providers/{provider}/last-request", timeout=5) as answer:
        return json.loads(answer.read())


def norm(vector):
    return math.sqrt(sum(v * v for v in vector))


def oa(sim):
    return openai.OpenAI(base_url=sim["providers"]["oa"] + "/v1", api_key="sk-sim", max_retries=0, timeout=10)


# OpenAI embeddings

def test_openai_embeddings_string_and_list(sim):
    client = oa(sim)
    one = client.embeddings.create(model="text-embedding-sim", input="hello world")
    # The client asks for base64 by default and decodes it.
    assert last_body(sim, "oa")["encoding_format"] == "base64"
    assert one.object == "list" and one.model == "text-embedding-sim"
    assert len(one.data) == 1 and one.data[0].index == 0 and one.data[0].object == "embedding"
    assert len(one.data[0].embedding) == 8 and abs(norm(one.data[0].embedding) - 1) < 1e-5
    assert one.usage.prompt_tokens == 2 and one.usage.total_tokens == 2

    floats = client.embeddings.create(model="text-embedding-sim", input=["hello world", "another text"],
                                      encoding_format="float", dimensions=16)
    assert last_body(sim, "oa")["encoding_format"] == "float"
    assert [d.index for d in floats.data] == [0, 1]
    assert all(len(d.embedding) == 16 and abs(norm(d.embedding) - 1) < 1e-5 for d in floats.data)
    assert floats.data[0].embedding != floats.data[1].embedding

    decoded = client.embeddings.create(model="text-embedding-sim", input=["hello world"], dimensions=16)
    assert decoded.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)

    tokens = client.embeddings.create(model="text-embedding-sim", input=[[1, 2, 3], [4]], encoding_format="float")
    assert len(tokens.data) == 2 and tokens.usage.prompt_tokens == 4


def test_openai_embeddings_refuse_bad_fields(sim):
    client = oa(sim)
    with pytest.raises(openai.BadRequestError) as bad:
        client.embeddings.create(model="text-embedding-sim", input="hi", dimensions=0)
    assert bad.value.status_code == 400
    assert bad.value.body["param"] == "dimensions" and "dimensions" in bad.value.body["message"]
    with pytest.raises(openai.BadRequestError) as empty:
        client.embeddings.create(model="text-embedding-sim", input=[])
    assert empty.value.body["param"] == "input"


# OpenAI Responses

def test_openai_responses_create(sim):
    client = oa(sim)
    response = client.responses.create(model="gpt-sim", input="Say hello to the simulated world", instructions="be brief")
    assert response.object == "response" and response.status == "completed"
    assert response.id.startswith("resp_") and response.model == "gpt-sim"
    assert response.output[0].type == "message" and response.output[0].role == "assistant"
    assert response.output_text.endswith("oa.")
    assert response.usage.input_tokens == 10 and response.usage.output_tokens == 6 and response.usage.total_tokens == 16
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.usage.output_tokens_details.reasoning_tokens == 0
    assert last_info(sim, "oa")["path"] == "/v1/responses"

    listed = client.responses.create(model="gpt-sim", max_output_tokens=16,
                                     input=[{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}])
    assert listed.status == "completed" and listed.output_text.endswith("oa.")


def test_openai_responses_stream(sim):
    client = oa(sim)
    events = list(client.responses.create(model="gpt-sim", input="hi", stream=True))
    types = [e.type for e in events]
    assert types[:4] == ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]
    assert types[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]
    assert types.count("response.output_text.delta") == 6
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text.endswith("oa.")
    assert events[-1].response.output_text == text
    assert events[-1].response.usage.output_tokens == 6

    if not hasattr(client.responses, "stream"):
        pytest.skip("this openai client has no responses.stream helper")
    with client.responses.stream(model="gpt-sim", input="hi") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text and final.output_text.endswith("oa.")
    assert final.usage.total_tokens == final.usage.input_tokens + 6


def test_openai_responses_tools(sim):
    client = oa(sim)
    tools = [{"type": "function", "name": "weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
    response = client.responses.create(model="gpt-sim", input="use the tool", tools=tools)
    call = response.output[0]
    assert call.type == "function_call" and call.name == "weather" and json.loads(call.arguments) == {"city": "sim"}
    done = client.responses.create(model="gpt-sim", tools=tools, input=[
        {"role": "user", "content": "use the tool"},
        {"type": "function_call", "call_id": call.call_id, "name": "weather", "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
    ])
    assert done.output_text.endswith("oa.")


def test_openai_responses_errors(sim, behaviour):
    client = oa(sim)
    with pytest.raises(openai.BadRequestError) as bad:
        client.responses.create(model="gpt-sim", input="hi", max_output_tokens=4)
    assert bad.value.body["param"] == "max_output_tokens"

    behaviour("oa", rate_limit_rate=1, retry_after_seconds=3)
    with pytest.raises(openai.RateLimitError) as limited:
        client.responses.create(model="gpt-sim", input="hi")
    assert limited.value.response.headers["retry-after"] == "3"
    with pytest.raises(openai.RateLimitError):
        client.embeddings.create(model="text-embedding-sim", input="hi")

    behaviour("oa", rate_limit_rate=0, midstream_error_rate=1)
    events = list(client.responses.create(model="gpt-sim", input="hi", stream=True))
    assert [e.type for e in events] == ["error", "response.failed"]
    assert events[0].code == "overloaded" and "overloaded" in events[0].message
    assert events[1].response.status == "failed" and events[1].response.error.code == "server_error"


# Azure OpenAI

def test_azure_openai_embeddings_and_responses(sim):
    client = openai.AzureOpenAI(azure_endpoint=sim["providers"]["az"], api_key="az-key", api_version="2024-10-21",
                                max_retries=0, timeout=10)
    embedded = client.embeddings.create(model="emb-dep", input=["hello world", "again"])
    info = last_info(sim, "az")
    assert info["path"] == "/openai/deployments/emb-dep/embeddings" and info["query"] == "api-version=2024-10-21"
    assert info["headers"]["api-key"] == "az-key"
    assert len(embedded.data) == 2 and len(embedded.data[0].embedding) == 8

    response = client.responses.create(model="gpt-dep", input="hi")
    info = last_info(sim, "az")
    assert info["path"] == "/openai/responses" and info["query"] == "api-version=2024-10-21"
    assert response.status == "completed" and response.output_text.endswith("az.")
    streamed = list(client.responses.create(model="gpt-dep", input="hi", stream=True))
    assert streamed[-1].type == "response.completed"

    # Azure's v1 surface takes the plain OpenAI client and no api-version.
    v1 = openai.OpenAI(base_url=sim["providers"]["az"] + "/openai/v1/", api_key="az-key", max_retries=0, timeout=10)
    assert v1.responses.create(model="gpt-dep", input="hi").output_text.endswith("az.")
    assert last_info(sim, "az")["path"] == "/openai/v1/responses"


# Gemini

def gemini(sim):
    return genai.Client(api_key="sim-key", http_options=genai_types.HttpOptions(
        base_url=sim["providers"]["gem"], api_version="v1beta", retry_options=genai_types.HttpRetryOptions(attempts=1)))


def test_gemini_embed_content(sim):
    client = gemini(sim)
    result = client.models.embed_content(model="gemini-embedding-001", contents=["hello world", "another text"])
    info = last_info(sim, "gem")
    assert info["path"] == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert len(result.embeddings) == 2
    assert all(len(e.values) == 8 and abs(norm(e.values) - 1) < 1e-5 for e in result.embeddings)

    sized = client.models.embed_content(model="gemini-embedding-001", contents="hello world",
                                        config=genai_types.EmbedContentConfig(output_dimensionality=16, task_type="RETRIEVAL_QUERY"))
    assert len(sized.embeddings) == 1 and len(sized.embeddings[0].values) == 16
    sent = last_body(sim, "gem")["requests"][0]
    assert sent["outputDimensionality"] == 16 and sent["taskType"] == "RETRIEVAL_QUERY"

    # The same text embeds to the same vector as the openai provider's.
    openai_vector = oa(sim).embeddings.create(model="m", input="hello world", encoding_format="float").data[0].embedding
    assert result.embeddings[0].values == pytest.approx(openai_vector, abs=1e-6)
