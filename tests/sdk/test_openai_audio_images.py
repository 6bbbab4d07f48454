"""Audio, images and rerank through the official SDKs: the `openai` SDK's `audio.speech`,
`audio.transcriptions`, `audio.translations`, `images.generate` and `images.edit` against
`/v1` (multipart uploads as the SDK encodes them), the `cohere` SDK's `v2.rerank` against
`/cohere`, and `/v1/rerank` over plain HTTP. The mock upstream answers from what it received
(a transcription names the file, its byte count and the WAV's duration)."""
import base64
import io
import wave

import cohere
import httpx
import openai
import pytest
from openai import OpenAI

TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGMAAQAABQABDQottAAAAABJRU5ErkJggg=="
)


@pytest.fixture()
def client(gateway_url: str) -> OpenAI:
    return OpenAI(base_url=f"{gateway_url}/v1", api_key="unused", max_retries=0)


def wav_bytes(seconds: float = 0.5, rate: int = 16_000) -> bytes:
    """A real mono 16-bit WAV of silence, written with Python's `wave`."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return buf.getvalue()


def test_speech_returns_audio_bytes(client: OpenAI) -> None:
    r = client.audio.speech.create(model="mock/tts-1", voice="alloy", input="hello audio world",
                                   response_format="wav")
    audio = r.read()
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"
    assert r.response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(audio)) as w:
        assert w.getframerate() == 24_000
        assert w.getnframes() == 3 * 1_200  # 50 ms per word
    mp3 = client.audio.speech.create(model="mock/tts-1", voice="alloy", input="hi").read()
    assert mp3[:2] == b"\xff\xfb"


def test_transcription_formats(client: OpenAI) -> None:
    audio = wav_bytes()
    expected = f"mock transcription of note.wav ({len(audio)} bytes, 0.50 s)"
    t = client.audio.transcriptions.create(model="mock/whisper-1", file=("note.wav", audio, "audio/wav"))
    assert t.text == expected
    text = client.audio.transcriptions.create(model="mock/whisper-1", file=("note.wav", audio),
                                              response_format="text")
    assert text.strip() == expected
    srt = client.audio.transcriptions.create(model="mock/whisper-1", file=("note.wav", audio),
                                             response_format="srt")
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,000\n") and expected in srt
    verbose = client.audio.transcriptions.create(
        model="mock/whisper-1", file=("note.wav", audio), response_format="verbose_json",
        language="en", timestamp_granularities=["word", "segment"])
    assert verbose.text == expected
    assert verbose.duration == 0.5
    assert verbose.language == "en"
    assert verbose.words and verbose.segments


def test_translation(client: OpenAI) -> None:
    audio = wav_bytes(1.0)
    t = client.audio.translations.create(model="mock/whisper-1", file=("bonjour.wav", audio))
    assert t.text == f"mock translation of bonjour.wav ({len(audio)} bytes, 1.00 s)"


def test_images_generate_and_edit(client: OpenAI) -> None:
    g = client.images.generate(model="mock/gpt-image-1", prompt="a lighthouse", n=2, size="1024x1024")
    assert len(g.data) == 2
    assert base64.b64decode(g.data[0].b64_json)[:8] == b"\x89PNG\r\n\x1a\n"
    assert g.usage is not None and g.usage.total_tokens > 0
    url = client.images.generate(model="mock/dall-e-3", prompt="a lighthouse", response_format="url")
    assert url.data[0].url.endswith(".png")
    e = client.images.edit(model="mock/gpt-image-1", prompt="add a hat",
                           image=[("a.png", TINY_PNG, "image/png"), ("b.png", TINY_PNG, "image/png")])
    assert base64.b64decode(e.data[0].b64_json)[:4] == b"\x89PNG"


def test_missing_model_errors_with_a_400_naming_it(gateway_url: str) -> None:
    r = httpx.post(f"{gateway_url}/v1/audio/transcriptions", headers={"authorization": "Bearer x"},
                   files={"file": ("a.wav", wav_bytes(), "audio/wav")})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "model"


def test_oversized_upload_errors_with_413(client: OpenAI) -> None:
    big = b"\x00" * (25 * 1024 * 1024 + 1)
    with pytest.raises(openai.APIStatusError) as e:
        client.audio.transcriptions.create(model="mock/whisper-1", file=("big.wav", big))
    assert e.value.status_code == 413
    assert "max_upload_size_mb" in e.value.message


def test_upstream_errors_pass_through(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.audio.speech.create(model="mock/tts-1", voice="alloy", input="hi", response_format="flac")


def test_cohere_sdk_rerank(gateway_url: str) -> None:
    co = cohere.ClientV2(api_key="unused", base_url=f"{gateway_url}/cohere")
    docs = ["Berlin is the capital of Germany", "Paris is the capital of France", "cats purr"]
    for model in ["cohere/rerank-v3.5", "mock/bge-reranker"]:
        r = co.rerank(model=model, query="capital of France", documents=docs, top_n=2)
        assert [x.index for x in r.results] == [1, 0], model
        assert r.results[0].relevance_score == 1.0


def test_openai_style_rerank_over_http(gateway_url: str) -> None:
    r = httpx.post(f"{gateway_url}/v1/rerank", json={
        "model": "mock/bge-reranker", "query": "purring cats",
        "documents": ["dogs bark", {"text": "cats purr when purring"}], "return_documents": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["results"][0]["index"] == 1
    assert body["results"][0]["document"] == {"text": "cats purr when purring"}
    assert body["id"]
