"""The official anthropic client through clawgate's /v1/messages: create and stream, text and tool
use, over an anthropic provider (the bytes pass through) and over openai, gemini and azure_openai
ones (translated); a 529 from the anthropic tier fails over to the next with no client error; the
gateway's own refusals come back in Anthropic's error shape."""
import anthropic
import pytest

from test_kinds_e2e import KINDS, kinds_fleet  # noqa: F401 (the module's fleet fixture)

TOOLS = [{"name": "get_weather", "description": "Weather of a city",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]


def client(fleet):
    return anthropic.Anthropic(base_url=fleet["url"], api_key="unused", max_retries=0)


@pytest.mark.parametrize("kind", KINDS)
def test_messages_create_and_stream_over_each_kind(kinds_fleet, kind):
    c = client(kinds_fleet)
    message = c.messages.create(model=f"via-{kind}", max_tokens=100, system="Be brief.",
                                messages=[{"role": "user", "content": "Say hello"}])
    assert message.type == "message" and message.role == "assistant"
    text = "".join(b.text for b in message.content if b.type == "text")
    assert text and message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 6 and message.usage.input_tokens >= 0
    with c.messages.stream(model=f"via-{kind}", max_tokens=100, messages=[{"role": "user", "content": "Say hello"}]) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert streamed == text
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 6


@pytest.mark.parametrize("kind", KINDS)
def test_messages_tool_use_streamed_and_whole_over_each_kind(kinds_fleet, kind):
    c = client(kinds_fleet)
    whole = c.messages.create(model=f"via-{kind}", max_tokens=100, tools=TOOLS,
                              messages=[{"role": "user", "content": "Use the tool for Paris"}])
    uses = [b for b in whole.content if b.type == "tool_use"]
    assert whole.stop_reason == "tool_use" and uses and uses[0].name == "get_weather" and "city" in uses[0].input
    with c.messages.stream(model=f"via-{kind}", max_tokens=100, tools=TOOLS,
                           messages=[{"role": "user", "content": "Use the tool for Rome"}]) as stream:
        final = stream.get_final_message()
    streamed = [b for b in final.content if b.type == "tool_use"]
    assert final.stop_reason == "tool_use" and streamed and streamed[0].name == "get_weather" and "city" in streamed[0].input
    follow = c.messages.create(model=f"via-{kind}", max_tokens=100, tools=TOOLS, messages=[
        {"role": "user", "content": "Use the tool for Paris"},
        {"role": "assistant", "content": [u.model_dump() for u in uses]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": u.id, "content": "sunny"} for u in uses]},
    ])
    assert follow.stop_reason == "end_turn" and follow.content[0].text


def test_a_529_from_the_anthropic_tier_fails_over_with_no_client_error(kinds_fleet):
    c = client(kinds_fleet)
    for i in range(8):
        if i % 2:
            with c.messages.stream(model="failover-openai", max_tokens=50, messages=[{"role": "user", "content": f"hi {i}"}]) as s:
                text = "".join(s.text_stream)
        else:
            raw = c.messages.with_raw_response.create(model="failover-openai", max_tokens=50, messages=[{"role": "user", "content": f"hi {i}"}])
            assert raw.headers["x-clawgate-provider"] == "openai"
            text = raw.parse().content[0].text
        assert text.endswith("openai.")


def test_refusals_come_back_in_anthropics_error_shape(kinds_fleet):
    c = client(kinds_fleet)
    with pytest.raises(anthropic.NotFoundError) as missing:
        c.messages.create(model="no-such-route", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert missing.value.body["type"] == "error" and missing.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.BadRequestError) as thinking:
        c.messages.create(model="via-openai", max_tokens=2000, thinking={"type": "enabled", "budget_tokens": 1024},
                          messages=[{"role": "user", "content": "hi"}])
    assert thinking.value.body["error"]["type"] == "invalid_request_error" and "thinking" in thinking.value.body["error"]["message"]
    with pytest.raises(anthropic.BadRequestError) as count:
        c.messages.count_tokens(model="via-openai", messages=[{"role": "user", "content": "hi"}])
    assert "anthropic providers only" in count.value.body["error"]["message"]
    counted = c.messages.count_tokens(model="via-anthropic", messages=[{"role": "user", "content": "hello there"}])
    assert counted.input_tokens > 0
