"""The official Anthropic Python SDK against `/anthropic`: only `base_url` changes, and any
configured provider answers in Anthropic's shapes — plain, streamed, and with a streamed
tool call the SDK assembles itself."""
import anthropic
import pytest

MODELS = ["mock/gpt-4o", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash"]

WEATHER = {"name": "get_weather", "description": "Weather for a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                            "required": ["city"]}}


@pytest.fixture()
def client(gateway_url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=f"{gateway_url}/anthropic", api_key="unused", max_retries=0)


@pytest.mark.parametrize("model", MODELS)
def test_message(client: anthropic.Anthropic, model: str) -> None:
    msg = client.messages.create(model=f"{model};chunks=3", max_tokens=100, system="Be brief.",
                                 messages=[{"role": "user", "content": "Hi"}])
    assert msg.type == "message"
    assert msg.content[0].type == "text" and msg.content[0].text == "Hello from the"
    assert msg.stop_reason == "end_turn"
    assert msg.usage.output_tokens == 3


@pytest.mark.parametrize("model", MODELS)
def test_streamed_message(client: anthropic.Anthropic, model: str) -> None:
    with client.messages.stream(model=f"{model};chunks=4", max_tokens=100,
                                messages=[{"role": "user", "content": "Hi"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello from the mock"
    assert final.stop_reason == "end_turn"


@pytest.mark.parametrize("model", MODELS)
def test_streamed_tool_use(client: anthropic.Anthropic, model: str) -> None:
    with client.messages.stream(model=f"{model};chunks=4", max_tokens=100, tools=[WEATHER],
                                tool_choice={"type": "any"},
                                messages=[{"role": "user", "content": "Weather in Paris?"}]) as stream:
        final = stream.get_final_message()
    tool = [b for b in final.content if b.type == "tool_use"][0]
    assert tool.name == "get_weather"
    assert tool.input == {"city": "mock"}
    assert final.stop_reason == "tool_use"


def test_errors_are_anthropic_exceptions(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="nope/model", max_tokens=10,
                               messages=[{"role": "user", "content": "Hi"}])
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model="mock/gpt-4o", max_tokens=10, messages=[])


def test_count_tokens_and_models(client: anthropic.Anthropic) -> None:
    count = client.messages.count_tokens(model="mock/gpt-4o",
                                         messages=[{"role": "user", "content": "Hello there"}])
    assert count.input_tokens > 0
    ids = [m.id for m in client.models.list()]
    assert "mock/gpt-4o" in ids


# ---- Claude targets get the request as written: thinking, cache_control and betas survive ----

CLAUDE = ["anthropic/claude-sonnet-4-5", "vertex/claude-sonnet-4-5",
          "bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0"]
CACHED_SYSTEM = [{"type": "text", "text": "A long, cacheable system prompt.",
                  "cache_control": {"type": "ephemeral"}}]


@pytest.mark.parametrize("model", CLAUDE)
def test_message_keeps_claude_only_features(client: anthropic.Anthropic, model: str) -> None:
    msg = client.messages.create(
        model=model, max_tokens=2048, system=CACHED_SYSTEM,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Hi"}],
        extra_headers={"anthropic-beta": "extended-cache-ttl-2025-04-11"})
    assert msg.content[0].type == "thinking"
    assert msg.content[0].signature.startswith("mock-signature-")
    assert msg.content[1].type == "text"
    assert msg.usage.cache_creation_input_tokens > 0


@pytest.mark.parametrize("model", CLAUDE)
def test_streamed_message_keeps_claude_only_features(client: anthropic.Anthropic,
                                                       model: str) -> None:
    with client.messages.stream(
            model=f"{model};chunks=3", max_tokens=2048, system=CACHED_SYSTEM,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[{"role": "user", "content": "Hi"}]) as stream:
        final = stream.get_final_message()
    # The SDK assembled the thinking block, its signature (signature_delta) and the text.
    assert final.content[0].type == "thinking"
    assert final.content[0].signature.startswith("mock-signature-")
    assert final.content[1].text == "Hello from the"
    assert final.usage.cache_creation_input_tokens > 0


def test_bare_model_goes_to_the_anthropic_provider(client: anthropic.Anthropic) -> None:
    # Several configured providers accept any model; on /anthropic a bare name means Anthropic.
    raw = client.messages.with_raw_response.create(
        model="claude-sonnet-4-5", max_tokens=50, messages=[{"role": "user", "content": "Hi"}])
    assert raw.headers["x-heimdall-provider"] == "anthropic"
    assert raw.parse().type == "message"


@pytest.mark.parametrize("model", MODELS)
def test_tool_use(client: anthropic.Anthropic, model: str) -> None:
    msg = client.messages.create(model=model, max_tokens=100, tools=[WEATHER],
                                 tool_choice={"type": "any"},
                                 messages=[{"role": "user", "content": "Weather in Paris?"}])
    tool = [b for b in msg.content if b.type == "tool_use"][0]
    assert tool.name == "get_weather"
    assert tool.input == {"city": "mock"}
    assert msg.stop_reason == "tool_use"
