"""The official Cohere Python SDK (`ClientV2`) against `/cohere`: only the base URL changes;
any configured provider answers in Cohere v2's shapes — plain, streamed, and a tool call."""
import json

import cohere
import pytest

MODELS = ["mock/gpt-4o", "anthropic/claude-sonnet-4-5", "cohere/command-a-03-2025"]
TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}}


@pytest.fixture()
def co(gateway_url: str) -> cohere.ClientV2:
    return cohere.ClientV2(api_key="unused", base_url=f"{gateway_url}/cohere")


@pytest.mark.parametrize("model", MODELS)
def test_chat(co: cohere.ClientV2, model: str) -> None:
    r = co.chat(model=f"{model};chunks=3", messages=[{"role": "user", "content": "Hi"}])
    assert r.message.content[0].text == "Hello from the"
    assert r.finish_reason == "COMPLETE"


@pytest.mark.parametrize("model", MODELS)
def test_chat_stream(co: cohere.ClientV2, model: str) -> None:
    text = ""
    for ev in co.chat_stream(model=f"{model};chunks=4", messages=[{"role": "user", "content": "Hi"}]):
        if ev.type == "content-delta":
            text += ev.delta.message.content.text
    assert text == "Hello from the mock"


@pytest.mark.parametrize("model", MODELS)
def test_tool_call(co: cohere.ClientV2, model: str) -> None:
    r = co.chat(model=f"{model};chunks=3", tools=[TOOL], tool_choice="REQUIRED",
                messages=[{"role": "user", "content": "Weather in Paris?"}])
    call = r.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "mock"}
    assert r.finish_reason == "TOOL_CALL"


def test_embed(co: cohere.ClientV2) -> None:
    r = co.embed(model="mock/text-embedding-3-small", texts=["a", "bb"], input_type="search_document",
                 embedding_types=["float"])
    assert len(r.embeddings.float_) == 2


def test_bare_model_goes_to_the_cohere_provider(co: cohere.ClientV2) -> None:
    # Several configured providers accept any model; on /cohere a bare name means Cohere.
    r = co.with_raw_response.chat(model="command-a-03-2025",
                                  messages=[{"role": "user", "content": "Hi"}])
    assert r.headers["x-heimdall-provider"] == "cohere"
    assert r.data.message.content[0].text


@pytest.mark.parametrize("model", MODELS)
def test_streamed_tool_call(co: cohere.ClientV2, model: str) -> None:
    name, args, finish = None, "", None
    for ev in co.chat_stream(model=f"{model};chunks=4", tools=[TOOL], tool_choice="REQUIRED",
                             messages=[{"role": "user", "content": "Weather in Paris?"}]):
        if ev.type == "tool-call-start":
            name = ev.delta.message.tool_calls.function.name
            args += ev.delta.message.tool_calls.function.arguments or ""
        elif ev.type == "tool-call-delta":
            args += ev.delta.message.tool_calls.function.arguments or ""
        elif ev.type == "message-end":
            finish = ev.delta.finish_reason
    assert name == "get_weather"
    assert json.loads(args) == {"city": "mock"}
    assert finish == "TOOL_CALL"


def test_errors_are_cohere_api_errors(co: cohere.ClientV2) -> None:
    with pytest.raises(cohere.NotFoundError):
        co.chat(model="nope/model", messages=[{"role": "user", "content": "Hi"}])
    with pytest.raises(cohere.BadRequestError):
        co.chat(model="mock/gpt-4o", messages=[])
