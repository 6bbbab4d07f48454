"""The OpenAI Python SDK against every provider dialect the gateway translates to.

Each provider runs behind the mock's native face for that dialect (e.g. Anthropic's
`/v1/messages`), so the request really goes out in the provider's wire format and comes back
translated. For each: a plain answer, a streamed answer, and a streamed tool call that the
SDK's own stream helper assembles into a complete call.
"""
import json

import pytest
from openai import OpenAI

# provider/model as a client addresses it; more dialects join as their providers land.
MODELS = [
    "mock/gpt-4o",
    "azure/gpt-4o",
    "anthropic/claude-sonnet-4-5",
    "gemini/gemini-2.5-flash",
    "vertex/gemini-2.5-flash",
    "vertex/claude-sonnet-4-5",
    "cohere/command-a-03-2025",
    "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0",
]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture()
def client(gateway_url: str) -> OpenAI:
    return OpenAI(base_url=f"{gateway_url}/v1", api_key="unused-by-the-gateway", max_retries=0)


@pytest.mark.parametrize("model", MODELS)
def test_chat(client: OpenAI, model: str) -> None:
    resp = client.chat.completions.create(
        model=f"{model};chunks=3",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
    )
    assert resp.choices[0].message.content == "Hello from the"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None and resp.usage.completion_tokens == 3


@pytest.mark.parametrize("model", MODELS)
def test_streamed_chat(client: OpenAI, model: str) -> None:
    stream = client.chat.completions.create(
        model=f"{model};chunks=4",
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            usage = chunk.usage
    assert text == "Hello from the mock"
    assert usage is not None and usage.completion_tokens == 4


@pytest.mark.parametrize("model", MODELS)
def test_streamed_tool_call_is_assembled_by_the_sdk(client: OpenAI, model: str) -> None:
    with client.chat.completions.stream(
        model=f"{model};chunks=5",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice="required",
    ) as stream:
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == {"city": "mock"}
    assert calls[0].id


@pytest.mark.parametrize("model", MODELS)
def test_tool_call(client: OpenAI, model: str) -> None:
    resp = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL], tool_choice="required")
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls[0].function.name == "get_weather"
    assert json.loads(choice.message.tool_calls[0].function.arguments) == {"city": "mock"}


@pytest.mark.parametrize("model", ["mock/gpt-4o", "anthropic/claude-sonnet-4-5",
                                   "gemini/gemini-2.5-flash"])
def test_errors_keep_the_openai_exception_types(client: OpenAI, model: str) -> None:
    import openai
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(
            # Retry-After: 0, so the key is not left cooling down for the tests that follow.
            model=f"{model};fail_rate=1;fail_status=429;retry_after=0",
            messages=[{"role": "user", "content": "Hi"}])
