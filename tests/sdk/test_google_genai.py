"""The official Google GenAI SDK against `/genai`: only the base URL changes; any configured
provider answers in Gemini's shapes — plain, streamed (SSE), and with a function call."""
import pytest
from google import genai
from google.genai import errors, types

MODELS = ["mock/gpt-4o", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash"]


def weather_config() -> types.GenerateContentConfig:
    """A get_weather function the model must call (mode ANY), without the SDK calling it."""
    tool = types.Tool(function_declarations=[types.FunctionDeclaration(
        name="get_weather", description="Weather for a city",
        parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}},
                                "required": ["city"]})])
    return types.GenerateContentConfig(
        tools=[tool],
        tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="ANY")),
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))


@pytest.fixture()
def client(gateway_url: str) -> genai.Client:
    return genai.Client(api_key="unused", http_options=types.HttpOptions(
        base_url=f"{gateway_url}/genai", api_version="v1beta"))


@pytest.mark.parametrize("model", MODELS)
def test_generate_content(client: genai.Client, model: str) -> None:
    r = client.models.generate_content(model=f"{model};chunks=3", contents="Hi",
                                       config=types.GenerateContentConfig(system_instruction="Be brief."))
    assert r.text == "Hello from the"
    assert r.usage_metadata.candidates_token_count == 3


@pytest.mark.parametrize("model", MODELS)
def test_stream_generate_content(client: genai.Client, model: str) -> None:
    text = "".join(c.text or "" for c in client.models.generate_content_stream(
        model=f"{model};chunks=4", contents="Hi"))
    assert text == "Hello from the mock"


@pytest.mark.parametrize("model", MODELS)
def test_function_call(client: genai.Client, model: str) -> None:
    config = weather_config()
    r = client.models.generate_content(model=f"{model};chunks=4", contents="Weather in Paris?", config=config)
    call = r.function_calls[0]
    assert call.name == "get_weather"
    assert call.args == {"city": "mock"}


def test_errors_are_genai_api_errors(client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as e:
        client.models.generate_content(model="nope/model", contents="Hi")
    assert e.value.code == 404


def test_bare_model_goes_to_the_gemini_provider(client: genai.Client) -> None:
    # Several configured providers accept any model; on /genai a bare name means Gemini.
    r = client.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    assert r.sdk_http_response.headers["x-heimdall-provider"] == "gemini"
    assert r.text


@pytest.mark.parametrize("model", MODELS)
def test_streamed_function_call(client: genai.Client, model: str) -> None:
    config = weather_config()
    calls = [fc for chunk in client.models.generate_content_stream(
        model=f"{model};chunks=4", contents="Weather in Paris?", config=config)
        for fc in (chunk.function_calls or [])]
    assert [c.name for c in calls] == ["get_weather"]
    assert calls[0].args == {"city": "mock"}


def test_embed_content(client: genai.Client) -> None:
    r = client.models.embed_content(model="mock/text-embedding-3-small", contents=["one", "two"])
    assert len(r.embeddings) == 2
    assert len(r.embeddings[0].values) > 0
