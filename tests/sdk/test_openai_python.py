"""The official OpenAI Python SDK against Heimdall: chat, streamed chat, tools, embeddings,
errors. Only `base_url` changes compared with talking to OpenAI directly."""
import time

import openai
import pytest
from openai import OpenAI


@pytest.fixture()
def client(gateway_url: str) -> OpenAI:
    return OpenAI(base_url=f"{gateway_url}/v1", api_key="unused-by-the-gateway", max_retries=0)


def test_chat_completion(client: OpenAI) -> None:
    resp = client.chat.completions.create(
        model="mock/gpt-4o-mini",
        messages=[{"role": "user", "content": "Hello!"}],
    )
    assert resp.object == "chat.completion"
    assert resp.choices[0].message.role == "assistant"
    assert resp.choices[0].message.content
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None and resp.usage.total_tokens > 0


def test_streamed_chat_arrives_chunk_by_chunk(client: OpenAI) -> None:
    # 6 chunks, 200 ms apart upstream: the SDK must see them spread out, not all at once.
    started = time.monotonic()
    stream = client.chat.completions.create(
        model="mock/gpt-4o-mini;chunks=6;chunk_delay_ms=200",
        messages=[{"role": "user", "content": "Stream please"}],
        stream=True,
    )
    arrivals, text, finish = [], "", None
    for chunk in stream:
        if chunk.choices:
            arrivals.append(time.monotonic() - started)
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
    assert text
    assert finish == "stop"
    assert arrivals[-1] - arrivals[0] >= 0.8, arrivals


def test_streamed_chat_with_usage(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model="mock/gpt-4o-mini",
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    usage = [c.usage for c in stream if c.usage is not None]
    assert len(usage) == 1 and usage[0].completion_tokens > 0


WEATHER_TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}]
WEATHER_QUESTION = [{"role": "user", "content": "Weather in Paris?"}]


def test_tool_call(client: OpenAI) -> None:
    resp = client.chat.completions.create(model="mock/gpt-4o", messages=WEATHER_QUESTION,
                                          tools=WEATHER_TOOLS)
    call = resp.choices[0].message.tool_calls[0]
    assert resp.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"


def test_streamed_tool_call(client: OpenAI) -> None:
    args, name = "", ""
    for chunk in client.chat.completions.create(
        model="mock/gpt-4o", messages=WEATHER_QUESTION, tools=WEATHER_TOOLS, stream=True
    ):
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            name += tc.function.name or ""
            args += tc.function.arguments or ""
    assert name == "get_weather"
    assert args.startswith("{") and args.endswith("}")


def test_embeddings(client: OpenAI) -> None:
    resp = client.embeddings.create(model="mock/text-embedding-3-small", input=["a", "b"], dimensions=16)
    assert len(resp.data) == 2
    assert len(resp.data[0].embedding) == 16
    # The SDK asks for base64 by default and decodes it: equal inputs give equal vectors.
    again = client.embeddings.create(model="mock/text-embedding-3-small", input="a", dimensions=16)
    assert again.data[0].embedding == pytest.approx(resp.data[0].embedding)


def test_models_list(client: OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert "mock/gpt-4o" in ids


def test_errors_raise_the_usual_sdk_exceptions(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="nope/gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert "not served" in str(e.value)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="mock/gpt-4o", messages=[])
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(
            model="limited/gpt-4o;fail_rate=1;fail_status=429",
            messages=[{"role": "user", "content": "x"}],
        )


def test_stream_cut_midway_raises_instead_of_truncating(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model="mock/gpt-4o;chunks=8;cut_after=3;chunk_delay_ms=20",
        messages=[{"role": "user", "content": "x"}],
        stream=True,
    )
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass
