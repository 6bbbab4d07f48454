"""LiteLLM used as a client library (`litellm.completion(..., api_base=gateway)`) against
`/litellm/v1`: plain, streamed, tool call and streamed tool call, errors as LiteLLM's exceptions."""
import json
import os

# LiteLLM fetches its model-cost map from GitHub at import unless told to use its bundled copy;
# the tests run without internet access.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402
import pytest  # noqa: E402

MODELS = ["mock/gpt-4o", "gemini/gemini-2.5-flash"]
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                   "required": ["location"]}}}]
MESSAGES = [{"role": "user", "content": "Weather in Paris?"}]


def call(gateway_url: str, model: str, **kw):
    # `openai/` tells LiteLLM to speak the OpenAI protocol to api_base; the rest is our model.
    return litellm.completion(model=f"openai/{model}", api_base=f"{gateway_url}/litellm/v1",
                              api_key="unused", num_retries=0, **kw)


@pytest.mark.parametrize("model", MODELS)
def test_completion(gateway_url: str, model: str) -> None:
    resp = call(gateway_url, f"{model};chunks=3", messages=[{"role": "user", "content": "Hi"}])
    assert resp.choices[0].message.content == "Hello from the"
    assert resp.usage.completion_tokens == 3


@pytest.mark.parametrize("model", MODELS)
def test_stream(gateway_url: str, model: str) -> None:
    chunks = list(call(gateway_url, f"{model};chunks=4",
                       messages=[{"role": "user", "content": "Hi"}], stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the mock"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and
            c.choices[0].finish_reason][-1] == "stop"


@pytest.mark.parametrize("model", MODELS)
def test_tool_call(gateway_url: str, model: str) -> None:
    resp = call(gateway_url, model, messages=MESSAGES, tools=TOOLS, tool_choice="required")
    tc = resp.choices[0].message.tool_calls[0]
    assert tc.function.name == "get_weather"
    assert isinstance(json.loads(tc.function.arguments), dict)


@pytest.mark.parametrize("model", MODELS)
def test_streamed_tool_call(gateway_url: str, model: str) -> None:
    chunks = list(call(gateway_url, f"{model};chunks=4", messages=MESSAGES, tools=TOOLS,
                       tool_choice="required", stream=True))
    rebuilt = litellm.stream_chunk_builder(chunks, messages=MESSAGES)
    tc = rebuilt.choices[0].message.tool_calls[0]
    assert tc.function.name == "get_weather"
    assert isinstance(json.loads(tc.function.arguments), dict)


def test_embeddings(gateway_url: str) -> None:
    resp = litellm.embedding(model="openai/mock/text-embedding-3-small", input=["one", "two"],
                             api_base=f"{gateway_url}/litellm/v1", api_key="unused")
    assert len(resp.data) == 2 and len(resp.data[0]["embedding"]) > 0


def test_errors_raise_litellm_exceptions(gateway_url: str) -> None:
    with pytest.raises(litellm.NotFoundError):
        call(gateway_url, "nope/model", messages=[{"role": "user", "content": "Hi"}])
