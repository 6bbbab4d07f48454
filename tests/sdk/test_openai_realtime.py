"""The OpenAI Python SDK's Realtime client through the gateway: one text turn over the
WebSocket (`client.realtime.connect`), and session and client-secret creation, with the
gateway's provider key injected upstream."""
import pytest
from openai import OpenAI


@pytest.fixture()
def client(gateway_url: str) -> OpenAI:
    return OpenAI(base_url=f"{gateway_url}/v1", api_key="unused-by-the-gateway", max_retries=0)


def test_realtime_text_turn(client: OpenAI) -> None:
    with client.realtime.connect(model="mock/gpt-realtime") as conn:
        created = conn.recv()
        assert created.type == "session.created"
        conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Say hello"}],
            }
        )
        conn.response.create()
        text, done = "", None
        for event in conn:
            if event.type == "response.output_text.delta":
                text += event.delta
            elif event.type == "response.done":
                done = event
                break
        assert text
        assert done is not None and done.response.usage is not None
        assert done.response.usage.output_tokens > 0


def test_realtime_stream_of_deltas_arrives_in_order(client: OpenAI) -> None:
    with client.realtime.connect(model="mock/gpt-realtime;chunks=5;chunk_delay_ms=50") as conn:
        assert conn.recv().type == "session.created"
        conn.response.create()
        deltas = []
        for event in conn:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
            elif event.type == "response.done":
                break
        assert len(deltas) == 5


def test_realtime_client_secret(client: OpenAI) -> None:
    secret = client.realtime.client_secrets.create(
        session={"type": "realtime", "model": "mock/gpt-realtime"}
    )
    assert secret.value.startswith("ek_")
    assert secret.session.model == "gpt-realtime"


def test_realtime_beta_session(client: OpenAI) -> None:
    session = client.beta.realtime.sessions.create(model="mock/gpt-realtime", modalities=["text"])
    assert session.client_secret.value.startswith("ek_")


def test_realtime_errors_refuse_the_connection(client: OpenAI) -> None:
    with pytest.raises(Exception) as e:
        with client.realtime.connect(model="nowhere/gpt-realtime") as conn:
            conn.recv()
    assert "404" in str(e.value) or "nowhere" in str(e.value)
