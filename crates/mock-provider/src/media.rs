//! The mock's audio, images and rerank faces: `/v1/audio/speech`,
//! `/v1/audio/transcriptions|translations`, `/v1/images/generations|edits`, `/v1/rerank`
//! (vLLM/Jina's shape) and `/v2/rerank` (Cohere's).
//!
//! Why answers that depend on the request: a test through the gateway must see that the
//! upload it sent arrived whole (a transcription names the file and its byte count and a WAV's
//! duration), that the format asked for came back in its content type, and that documents
//! were ranked on their text (scores are the share of the query's words each one holds).
//! Speech is a real, short, deterministic WAV (or PCM, or a silent MPEG frame sequence for
//! `mp3`); images are a real 1×1 PNG. Fault knobs apply as on every face (headers, or the
//! model suffix, which also rides in a form's `model` part).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use heimdall_schema::form::FormRequest;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Shared;
use crate::handlers::{before_answer, begin, credential, error, now, record};
use crate::knobs::Knobs;

/// A 1×1 transparent PNG.
pub const PNG_1X1: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

#[derive(Deserialize)]
struct SpeechIn {
    model: String,
    #[serde(default)]
    input: String,
    #[serde(default)]
    response_format: Option<String>,
}

#[derive(Deserialize)]
struct ImagesIn {
    model: String,
    #[serde(default)]
    prompt: String,
    #[serde(default)]
    n: Option<usize>,
    #[serde(default)]
    response_format: Option<String>,
}

#[derive(Deserialize)]
struct RerankIn {
    model: String,
    query: String,
    documents: Vec<Value>,
    #[serde(default)]
    top_n: Option<usize>,
    #[serde(default)]
    return_documents: Option<bool>,
}

/// Speech sample rate (OpenAI's `pcm` is 24 kHz, 16-bit, mono).
const RATE: u32 = 24_000;

/// `POST /v1/audio/speech`: 50 ms of a 440 Hz tone per input word, in the format asked for.
pub async fn speech(
    State(s): State<Arc<Shared>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = (&method, &uri, &headers, &body);
    let (req, _model, knobs) =
        match begin::<SpeechIn>(&s, request, |r| r.model.clone(), |_| false).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    let words = req.input.split_whitespace().count().max(1);
    let pcm = tone(words * RATE as usize / 20);
    let format = req.response_format.as_deref().unwrap_or("mp3");
    let (content_type, bytes) = match format {
        "wav" => ("audio/wav", wav(&pcm)),
        "pcm" => ("audio/pcm", pcm),
        "mp3" => ("audio/mpeg", silent_mp3(words)),
        other => {
            return error(
                400,
                &format!("the mock speaks mp3, wav and pcm only, not '{other}'"),
            );
        }
    };
    streamed(content_type, bytes, words, &knobs)
}

/// The audio in `pieces` parts sent one by one (as a TTS upstream streams what it has
/// synthesised), `chunk_delay_ms` apart; `cut_after` resets the connection after that many.
fn streamed(content_type: &'static str, bytes: Vec<u8>, pieces: usize, knobs: &Knobs) -> Response {
    let size = bytes.len().div_ceil(pieces.max(1)).max(1);
    let parts: Vec<Bytes> = bytes.chunks(size).map(Bytes::copy_from_slice).collect();
    let (delay, cut) = (
        std::time::Duration::from_millis(knobs.chunk_delay_ms),
        knobs.cut_after,
    );
    let body =
        futures::stream::iter(parts.into_iter().enumerate()).then(move |(i, part)| async move {
            if i > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if cut == Some(i) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "mock cut the audio",
                ));
            }
            Ok(part)
        });
    let mut r = Response::new(axum::body::Body::from_stream(body));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn binary(content_type: &'static str, bytes: Vec<u8>) -> Response {
    let mut r = Response::new(axum::body::Body::from(bytes));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// `samples` of a 440 Hz tone, 16-bit little-endian.
fn tone(samples: usize) -> Vec<u8> {
    (0..samples)
        .flat_map(|i| {
            let t = i as f64 / f64::from(RATE);
            let v = (t * 440.0 * std::f64::consts::TAU).sin() * 8000.0;
            (v as i16).to_le_bytes()
        })
        .collect()
}

/// A mono 16-bit WAV around `pcm`.
pub fn wav(pcm: &[u8]) -> Vec<u8> {
    let len = u32::try_from(pcm.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(pcm.len() + 44);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&RATE.to_le_bytes());
    out.extend_from_slice(&(RATE * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(pcm);
    out
}

/// `frames` silent MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz: 417 bytes each).
fn silent_mp3(frames: usize) -> Vec<u8> {
    let mut frame = vec![0u8; 417];
    frame[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x64]);
    frame.repeat(frames)
}

/// Count, record, knobs, latency and injected failures for a form request; the form and its
/// bare model, or the response to send instead.
async fn begin_form(
    s: &Shared,
    request: (&Method, &axum::http::Uri, &HeaderMap, &Bytes),
) -> Result<(FormRequest, String), Response> {
    let (method, uri, headers, body) = request;
    s.served.fetch_add(1, Ordering::Relaxed);
    record(s, method, uri, headers, body);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let form = heimdall_dialects::multipart::parse_request(content_type, body)
        .map_err(|e| error(400, &e.message))?;
    let mut knobs = Knobs::from_config(&s.config);
    knobs.apply_headers(headers).map_err(|e| error(400, &e))?;
    let base = knobs
        .apply_model_suffix(&form.model)
        .map_err(|e| error(400, &e))?
        .to_owned();
    if let Some(r) = before_answer(s, &knobs, &form.model, false, credential(headers)).await {
        return Err(r);
    }
    Ok((form, base))
}

/// `POST /v1/audio/transcriptions`
pub async fn transcriptions(
    s: State<Arc<Shared>>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    audio_text(s, method, uri, headers, body, "transcribe").await
}

/// `POST /v1/audio/translations`
pub async fn translations(
    s: State<Arc<Shared>>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    audio_text(s, method, uri, headers, body, "translate").await
}

async fn audio_text(
    State(s): State<Arc<Shared>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
    task: &str,
) -> Response {
    let (form, _model) = match begin_form(&s, (&method, &uri, &headers, &body)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(file) = form.files(&["file"]).next() else {
        return error(400, "file is required");
    };
    let name = file.filename.clone().unwrap_or_default();
    let size = file.data.len();
    let duration = wav_seconds(&file.data).unwrap_or(1.0);
    let verb = if task == "translate" {
        "translation"
    } else {
        "transcription"
    };
    let text = format!("mock {verb} of {name} ({size} bytes, {duration:.2} s)");
    let line = |sep: char| {
        format!(
            "00:00:00{sep}000 --> 00:00:{:02}{sep}000",
            duration.ceil() as u64
        )
    };
    match form.field("response_format").unwrap_or("json") {
        "text" => text_answer("text/plain; charset=utf-8", format!("{text}\n")),
        "srt" => text_answer(
            "text/plain; charset=utf-8",
            format!("1\n{}\n{text}\n\n", line(',')),
        ),
        "vtt" => text_answer(
            "text/plain; charset=utf-8",
            format!("WEBVTT\n\n{}\n{text}\n\n", line('.')),
        ),
        "verbose_json" => {
            let words_wanted = form
                .parts
                .iter()
                .any(|p| p.name == "timestamp_granularities[]" && &p.data[..] == b"word");
            let words: Vec<Value> = text
                .split_whitespace()
                .enumerate()
                .map(|(i, w)| json!({"word": w, "start": i as f64 * 0.1, "end": i as f64 * 0.1 + 0.1}))
                .collect();
            let mut v = json!({
                "task": task, "language": form.field("language").unwrap_or("english"),
                "duration": duration, "text": text,
                "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": duration, "text": text,
                    "tokens": [50364], "temperature": 0.0, "avg_logprob": -0.1,
                    "compression_ratio": 1.0, "no_speech_prob": 0.01}],
                "usage": {"type": "duration", "seconds": duration.ceil() as u64}});
            if words_wanted {
                v["words"] = Value::Array(words);
            }
            Json(v).into_response()
        }
        _ => {
            let input = (size as u64 / 100).max(1);
            let output = text.split_whitespace().count() as u64;
            Json(
                json!({"text": text, "usage": {"type": "tokens", "input_tokens": input,
                "output_tokens": output, "total_tokens": input + output}}),
            )
            .into_response()
        }
    }
}

fn text_answer(content_type: &'static str, text: String) -> Response {
    binary(content_type, text.into_bytes())
}

/// The duration of a PCM WAV (from its byte rate and data size).
fn wav_seconds(data: &[u8]) -> Option<f64> {
    if data.get(..4)? != b"RIFF" || data.get(8..12)? != b"WAVE" {
        return None;
    }
    let byte_rate = u32::from_le_bytes(data.get(28..32)?.try_into().ok()?);
    let pcm = data.len().checked_sub(44)?;
    (byte_rate > 0).then(|| pcm as f64 / f64::from(byte_rate))
}

fn images_answer(model: &str, count: usize, b64: bool, prompt: &str, id: u64) -> Value {
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD.encode(PNG_1X1);
    let data: Vec<Value> = (0..count.clamp(1, 10))
        .map(|i| {
            let mut d = if b64 {
                json!({"b64_json": png})
            } else {
                json!({"url": format!("https://mock.invalid/images/{id}-{i}.png")})
            };
            if model.starts_with("dall-e-3") {
                d["revised_prompt"] = json!(format!("mock: {prompt}"));
            }
            d
        })
        .collect();
    let mut v = json!({"created": now(), "data": data});
    if model.starts_with("gpt-image") {
        let input = (prompt.len() as u64 / 4).max(1);
        v["usage"] = json!({"input_tokens": input, "output_tokens": 272,
            "total_tokens": input + 272,
            "input_tokens_details": {"text_tokens": input, "image_tokens": 0}});
    }
    v
}

/// `POST /v1/images/generations` (GPT image models answer `b64_json` always, DALL·E `url`
/// unless asked otherwise, like OpenAI).
pub async fn image_generations(
    State(s): State<Arc<Shared>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = (&method, &uri, &headers, &body);
    let (req, model, _knobs) =
        match begin::<ImagesIn>(&s, request, |r| r.model.clone(), |_| false).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    if req.prompt.is_empty() {
        return error(400, "prompt is required");
    }
    let b64 = model.starts_with("gpt-image") || req.response_format.as_deref() == Some("b64_json");
    let id = s.ids.fetch_add(1, Ordering::Relaxed);
    Json(images_answer(
        &model,
        req.n.unwrap_or(1),
        b64,
        &req.prompt,
        id,
    ))
    .into_response()
}

/// `POST /v1/images/edits`
pub async fn image_edits(
    State(s): State<Arc<Shared>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, model) = match begin_form(&s, (&method, &uri, &headers, &body)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if form.files(&["image", "image[]"]).next().is_none() {
        return error(400, "image is required");
    }
    let Some(prompt) = form.field("prompt") else {
        return error(400, "prompt is required");
    };
    let n = form.field("n").and_then(|n| n.parse().ok()).unwrap_or(1);
    let b64 = model.starts_with("gpt-image") || form.field("response_format") == Some("b64_json");
    let id = s.ids.fetch_add(1, Ordering::Relaxed);
    Json(images_answer(&model, n, b64, prompt, id)).into_response()
}

/// Lower-case words of a text.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// `(index, score)`, best first: the share of the query's words a document holds.
fn ranked(query: &str, documents: &[Value], top_n: Option<usize>) -> Vec<(usize, f64)> {
    let q = words(query);
    let mut scored: Vec<(usize, f64)> = documents
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let text = d
                .as_str()
                .or_else(|| d.get("text").and_then(Value::as_str))
                .unwrap_or("");
            let dw = words(text);
            let hits = q.iter().filter(|w| dw.contains(w)).count();
            (i, hits as f64 / q.len().max(1) as f64)
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(top_n.unwrap_or(documents.len()));
    scored
}

/// `POST /v1/rerank` (vLLM / Jina: `model`, `usage`, each result's `document`).
pub async fn rerank(
    State(s): State<Arc<Shared>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = (&method, &uri, &headers, &body);
    let (req, model, _knobs) =
        match begin::<RerankIn>(&s, request, |r| r.model.clone(), |_| false).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    let with_docs = req.return_documents.unwrap_or(true);
    let results: Vec<Value> = ranked(&req.query, &req.documents, req.top_n)
        .into_iter()
        .map(|(i, score)| {
            let mut r = json!({"index": i, "relevance_score": score});
            if with_docs && let Some(d) = req.documents.get(i) {
                r["document"] = match d {
                    Value::String(t) => json!({"text": t}),
                    other => other.clone(),
                };
            }
            r
        })
        .collect();
    let tokens: usize = words(&req.query).len() * req.documents.len().max(1)
        + req
            .documents
            .iter()
            .map(|d| words(d.as_str().unwrap_or_default()).len())
            .sum::<usize>();
    let id = s.ids.fetch_add(1, Ordering::Relaxed);
    Json(json!({"id": format!("rerank-mock-{id}"), "model": model,
        "usage": {"total_tokens": tokens}, "results": results}))
    .into_response()
}

/// `POST /v2/rerank` (Cohere: strings only, no documents in the answer, `meta`).
pub async fn cohere_rerank(
    State(s): State<Arc<Shared>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = (&method, &uri, &headers, &body);
    let (req, _model, _knobs) =
        match begin::<RerankIn>(&s, request, |r| r.model.clone(), |_| false).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    if req.documents.iter().any(|d| !d.is_string()) || req.return_documents.is_some() {
        return error(
            400,
            "invalid request: documents must be strings and return_documents is not a v2 field",
        );
    }
    let results: Vec<Value> = ranked(&req.query, &req.documents, req.top_n)
        .into_iter()
        .map(|(i, score)| json!({"index": i, "relevance_score": score}))
        .collect();
    let id = s.ids.fetch_add(1, Ordering::Relaxed);
    Json(
        json!({"id": format!("mock-rerank-{id}"), "results": results,
        "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}}}),
    )
    .into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn wav_duration_is_read_back() {
        let w = wav(&tone(RATE as usize)); // one second
        assert!((wav_seconds(&w).unwrap() - 1.0).abs() < 1e-9);
        assert!(wav_seconds(b"not a wav").is_none());
    }

    #[test]
    fn ranking_follows_word_overlap() {
        let docs = [
            json!("Berlin is in Germany"),
            json!({"text": "Paris is the capital of France"}),
        ];
        let r = ranked("capital of France", &docs, Some(1));
        assert_eq!(r, vec![(1, 1.0)]);
    }
}
