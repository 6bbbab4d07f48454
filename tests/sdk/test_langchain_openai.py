"""langchain-openai's `ChatOpenAI` against `/langchain/v1`: only `base_url` changes. Plain,
streamed, tool call and streamed tool call, across an OpenAI-compatible and a native target."""
import openai
import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

MODELS = ["mock/gpt-4o", "anthropic/claude-sonnet-4-5"]


def get_weather(location: str) -> str:
    """Weather for a city."""
    return "sunny"


def chat(gateway_url: str, model: str) -> ChatOpenAI:
    return ChatOpenAI(base_url=f"{gateway_url}/langchain/v1", api_key="unused", model=model,
                      max_retries=0)


@pytest.mark.parametrize("model", MODELS)
def test_invoke(gateway_url: str, model: str) -> None:
    msg = chat(gateway_url, f"{model};chunks=3").invoke([HumanMessage("Hi")])
    assert msg.content == "Hello from the"
    assert msg.usage_metadata["output_tokens"] == 3


@pytest.mark.parametrize("model", MODELS)
def test_stream(gateway_url: str, model: str) -> None:
    chunks = list(chat(gateway_url, f"{model};chunks=4").stream("Hi"))
    assert len([c for c in chunks if c.content]) == 4
    assert "".join(c.content for c in chunks) == "Hello from the mock"


@pytest.mark.parametrize("model", MODELS)
def test_tool_call(gateway_url: str, model: str) -> None:
    llm = chat(gateway_url, model).bind_tools([get_weather], tool_choice="required")
    msg = llm.invoke("Weather in Paris?")
    assert msg.tool_calls[0]["name"] == "get_weather"
    assert isinstance(msg.tool_calls[0]["args"], dict)


@pytest.mark.parametrize("model", MODELS)
def test_streamed_tool_call(gateway_url: str, model: str) -> None:
    llm = chat(gateway_url, f"{model};chunks=4").bind_tools([get_weather], tool_choice="required")
    merged: AIMessageChunk | None = None
    for chunk in llm.stream("Weather in Paris?"):
        merged = chunk if merged is None else merged + chunk
    assert merged is not None
    assert merged.tool_calls[0]["name"] == "get_weather"
    assert isinstance(merged.tool_calls[0]["args"], dict)


def test_embeddings(gateway_url: str) -> None:
    emb = OpenAIEmbeddings(base_url=f"{gateway_url}/langchain/v1", api_key="unused",
                           model="mock/text-embedding-3-small", check_embedding_ctx_length=False)
    vectors = emb.embed_documents(["one", "two"])
    assert len(vectors) == 2 and len(vectors[0]) > 0


def test_errors_raise_openai_exceptions(gateway_url: str) -> None:
    with pytest.raises(openai.NotFoundError):
        chat(gateway_url, "nope/model").invoke("Hi")
