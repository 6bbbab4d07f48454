"""SDK base-URL habits: each official SDK given the base URL its users naturally write reaches
the gateway's OpenAI routes. The Groq SDKs append their own `/openai/v1` (so base `…/v1` calls
`/v1/openai/v1/chat/completions`, the root calls `/openai/v1/…`); the OpenAI SDK given the bare
origin calls `/chat/completions`; Mistral's SDK calls `/v1/…` below its server URL."""
import groq
import pytest
from openai import OpenAI


@pytest.mark.parametrize("suffix", ["/v1", ""], ids=["base_v1", "base_root"])
def test_groq_chat(gateway_url: str, suffix: str) -> None:
    client = groq.Groq(base_url=f"{gateway_url}{suffix}", api_key="unused", max_retries=0)
    resp = client.chat.completions.create(
        model="mock/llama-3.1-8b-instant", messages=[{"role": "user", "content": "Hi"}]
    )
    assert resp.choices[0].message.content
    assert resp.usage is not None and resp.usage.total_tokens > 0


@pytest.mark.parametrize("suffix", ["/v1", ""], ids=["base_v1", "base_root"])
def test_groq_stream(gateway_url: str, suffix: str) -> None:
    client = groq.Groq(base_url=f"{gateway_url}{suffix}", api_key="unused", max_retries=0)
    text = ""
    for chunk in client.chat.completions.create(
        model="mock/llama-3.1-8b-instant",
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
    ):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
    assert text


def test_groq_models_list_says_what_serves_each_model(gateway_url: str) -> None:
    client = groq.Groq(base_url=f"{gateway_url}/v1", api_key="unused", max_retries=0)
    models = client.models.list()
    assert models.data
    # The gateway's additive field survives the SDK's model (unknown fields are kept).
    assert any("chat" in (m.model_extra or {}).get("capabilities", []) for m in models.data)


def test_openai_at_the_root(gateway_url: str) -> None:
    client = OpenAI(base_url=gateway_url, api_key="unused", max_retries=0)
    resp = client.chat.completions.create(
        model="mock/gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}]
    )
    assert resp.choices[0].message.content
    emb = client.embeddings.create(model="mock/text-embedding-3-small", input="hello")
    assert len(emb.data[0].embedding) > 0
    assert client.models.list().data


def test_openai_at_the_root_stream(gateway_url: str) -> None:
    client = OpenAI(base_url=gateway_url, api_key="unused", max_retries=0)
    stream = client.chat.completions.create(
        model="mock/gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def test_mistral_at_the_root(gateway_url: str) -> None:
    from mistralai.client import Mistral

    client = Mistral(api_key="unused", server_url=gateway_url)
    resp = client.chat.complete(
        model="mock/mistral-small-latest", messages=[{"role": "user", "content": "Hi"}]
    )
    assert resp.choices[0].message.content
    # Mistral's SDK requires an `id` on the embeddings answer; the gateway adds its own.
    emb = client.embeddings.create(model="mock/mistral-embed", inputs=["hello"])
    assert emb.id and len(emb.data[0].embedding) > 0


def test_mistral_at_the_root_stream(gateway_url: str) -> None:
    from mistralai.client import Mistral

    client = Mistral(api_key="unused", server_url=gateway_url)
    text = ""
    for event in client.chat.stream(
        model="mock/mistral-small-latest", messages=[{"role": "user", "content": "Hi"}]
    ):
        if event.data.choices:
            text += event.data.choices[0].delta.content or ""
    assert text


def test_groq_errors_keep_their_shape(gateway_url: str) -> None:
    client = groq.Groq(base_url=f"{gateway_url}/v1", api_key="unused", max_retries=0)
    with pytest.raises(groq.NotFoundError) as e:
        client.chat.completions.create(
            model="nowhere/model", messages=[{"role": "user", "content": "Hi"}]
        )
    assert e.value.status_code == 404
