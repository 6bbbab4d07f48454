"""The official AzureOpenAI client against the gateway's Azure deployment paths:
`azure_endpoint` is the gateway, the deployment name is the `provider/model` to route to."""
import json

import pytest
from openai import AzureOpenAI


@pytest.fixture()
def azure(gateway_url: str) -> AzureOpenAI:
    return AzureOpenAI(azure_endpoint=gateway_url, api_key="unused", api_version="2024-10-21",
                       max_retries=0)


def test_chat_through_a_deployment_path(azure: AzureOpenAI) -> None:
    resp = azure.chat.completions.create(
        model="mock/gpt-4o;chunks=3", messages=[{"role": "user", "content": "Hi"}])
    assert resp.choices[0].message.content == "Hello from the"


def test_streamed_tool_call_through_a_deployment_path(azure: AzureOpenAI) -> None:
    with azure.chat.completions.stream(
        model="anthropic/claude-sonnet-4-5;chunks=4",
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
        tool_choice="required",
    ) as stream:
        final = stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "mock"}


def test_embeddings_through_a_deployment_path(azure: AzureOpenAI) -> None:
    resp = azure.embeddings.create(model="mock/text-embedding-3-small", input=["a", "b"])
    assert len(resp.data) == 2


def test_stream_through_a_deployment_path(azure: AzureOpenAI) -> None:
    stream = azure.chat.completions.create(
        model="mock/gpt-4o;chunks=4", messages=[{"role": "user", "content": "Hi"}], stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Hello from the mock"


def test_tool_call_through_a_deployment_path(azure: AzureOpenAI) -> None:
    resp = azure.chat.completions.create(
        model="gemini/gemini-2.5-flash", messages=[{"role": "user", "content": "Weather?"}],
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
        tool_choice="required")
    call = resp.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "mock"}


def test_errors_through_a_deployment_path(azure: AzureOpenAI) -> None:
    import openai
    with pytest.raises(openai.NotFoundError):
        azure.chat.completions.create(model="nope/model",
                                      messages=[{"role": "user", "content": "Hi"}])


def test_audio_and_images_through_deployment_paths(azure: AzureOpenAI) -> None:
    import io
    import wave
    speech = azure.audio.speech.create(model="mock/tts-1", voice="alloy", input="hi there",
                                       response_format="wav").read()
    assert speech[:4] == b"RIFF"
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes(b"\x00\x00" * 8_000)
    audio = buf.getvalue()
    t = azure.audio.transcriptions.create(model="mock/whisper-1", file=("note.wav", audio, "audio/wav"))
    assert t.text == f"mock transcription of note.wav ({len(audio)} bytes, 0.50 s)"
    img = azure.images.generate(model="mock/gpt-image-1", prompt="a lighthouse")
    assert img.data and img.data[0].b64_json
