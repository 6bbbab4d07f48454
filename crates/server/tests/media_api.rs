//! Audio, images and rerank end to end: the gateway's routes, the engine (retries, fallbacks,
//! typed refusals) and the OpenAI-compatible, Azure and Cohere providers against the mock's
//! faces. Uploads are built here byte by byte (the Python SDK tests send the SDK's own).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use heimdall_mock_provider::MockConfig;
use serde_json::{Value, json};

/// A one-second mono 16-bit WAV at 8 kHz (16 044 bytes).
fn wav_second() -> Vec<u8> {
    let pcm = vec![0u8; 16_000];
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36u32 + 16_000).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&8_000u32.to_le_bytes());
    w.extend_from_slice(&16_000u32.to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&16_000u32.to_le_bytes());
    w.extend_from_slice(&pcm);
    w
}

/// A form body by hand: `(name, Some(filename), bytes)` or `(name, None, text)`.
fn form(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, filename, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_form(
    h: &Harness,
    path: &str,
    parts: &[(&str, Option<&str>, &[u8])],
) -> reqwest::Response {
    let (ct, body) = form(parts);
    h.client
        .post(h.url(path))
        .header("content-type", ct)
        .header("authorization", "Bearer any")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn post_json(h: &Harness, path: &str, body: Value) -> reqwest::Response {
    h.client.post(h.url(path)).json(&body).send().await.unwrap()
}

#[tokio::test]
async fn speech_answers_the_upstreams_audio_bytes_and_content_type() {
    let h = start().await;
    let r = post_json(
        &h,
        "/v1/audio/speech",
        json!({"model": "mock/tts-1", "input": "hello there", "voice": "alloy",
            "response_format": "wav", "speed": 1.25, "instructions": "calm"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/wav");
    assert_eq!(r.headers()["x-heimdall-provider"], "mock");
    let audio = r.bytes().await.unwrap();
    // Two words, 50 ms each at 24 kHz 16-bit: 4 800 bytes of samples after the 44-byte header.
    assert_eq!(&audio[..4], b"RIFF");
    assert_eq!(audio.len(), 44 + 4_800);
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/audio/speech");
    assert_eq!(sent.body["speed"], 1.25);
    assert_eq!(sent.body["instructions"], "calm");
    assert_eq!(sent.body["model"], "tts-1");

    let r = post_json(
        &h,
        "/v1/audio/speech",
        json!({"model": "mock/tts-1", "input": "hi", "voice": "alloy", "response_format": "ogg"}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["param"], "response_format");
}

#[tokio::test]
async fn speech_streams_as_the_upstream_sends_it_and_a_cut_is_never_a_clean_end() {
    use futures::StreamExt;
    let h = start().await;
    // Four words: four pieces, 200 ms apart upstream.
    let started = std::time::Instant::now();
    let r = post_json(
        &h,
        "/v1/audio/speech",
        json!({"model": "mock/tts-1;chunk_delay_ms=200", "input": "one two three four",
            "voice": "alloy", "response_format": "wav"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/wav");
    let mut body = r.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    let first_at = started.elapsed();
    assert_eq!(&first[..4], b"RIFF");
    let mut total = first.len();
    while let Some(piece) = body.next().await {
        total += piece.unwrap().len();
    }
    let done_at = started.elapsed();
    assert_eq!(total, 44 + 4 * 2_400);
    // The first bytes reached the client before the upstream had sent the rest.
    assert!(
        first_at + std::time::Duration::from_millis(400) < done_at,
        "first bytes at {first_at:?}, end at {done_at:?}: the audio was buffered"
    );

    // Cut after two pieces: the client's read fails instead of ending cleanly.
    let r = post_json(
        &h,
        "/v1/audio/speech",
        json!({"model": "mock/tts-1;cut_after=2;chunk_delay_ms=100", "input": "one two three four",
            "voice": "alloy", "response_format": "wav"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.bytes().await.is_err(),
        "a cut audio stream must not end cleanly"
    );
}

#[tokio::test]
async fn a_transcription_carries_the_upload_and_answers_in_the_format_asked() {
    let h = start().await;
    let wav = wav_second();
    let r = post_form(
        &h,
        "/v1/audio/transcriptions",
        &[
            ("file", Some("hello.wav"), &wav),
            ("model", None, b"mock/whisper-1"),
            ("language", None, b"en"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["text"],
        "mock transcription of hello.wav (16044 bytes, 1.00 s)"
    );
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/audio/transcriptions");
    assert!(sent.headers["content-type"].starts_with("multipart/form-data; boundary="));

    for (format, expect) in [
        (
            "text",
            "mock transcription of hello.wav (16044 bytes, 1.00 s)\n",
        ),
        (
            "srt",
            "1\n00:00:00,000 --> 00:00:01,000\nmock transcription",
        ),
        ("vtt", "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n"),
    ] {
        let r = post_form(
            &h,
            "/v1/audio/transcriptions",
            &[
                ("file", Some("hello.wav"), &wav),
                ("model", None, b"mock/whisper-1"),
                ("response_format", None, format.as_bytes()),
            ],
        )
        .await;
        assert_eq!(r.status(), 200, "{format}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        let text = r.text().await.unwrap();
        assert!(text.starts_with(expect), "{format}: {text}");
    }

    let r = post_form(
        &h,
        "/v1/audio/transcriptions",
        &[
            ("file", Some("hello.wav"), &wav),
            ("model", None, b"mock/whisper-1"),
            ("response_format", None, b"verbose_json"),
            ("timestamp_granularities[]", None, b"word"),
            ("timestamp_granularities[]", None, b"segment"),
        ],
    )
    .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["task"], "transcribe");
    assert_eq!(body["duration"], 1.0);
    assert!(
        body["words"].as_array().is_some_and(|w| !w.is_empty()),
        "repeated timestamp_granularities[] parts reach the upstream: {body}"
    );

    let r = post_form(
        &h,
        "/v1/audio/translations",
        &[
            ("file", Some("bonjour.wav"), &wav),
            ("model", None, b"mock/whisper-1"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .starts_with("mock translation of bonjour.wav")
    );
}

#[tokio::test]
async fn missing_parts_are_400s_naming_the_field() {
    let h = start().await;
    let wav = wav_second();
    for (path, parts, param) in [
        (
            "/v1/audio/transcriptions",
            vec![("model", None, &b"mock/whisper-1"[..])],
            "file",
        ),
        (
            "/v1/audio/translations",
            vec![("file", Some("a.wav"), &wav[..])],
            "model",
        ),
        (
            "/v1/images/edits",
            vec![
                ("model", None, &b"mock/gpt-image-1"[..]),
                ("prompt", None, b"hat"),
            ],
            "image",
        ),
        (
            "/v1/images/edits",
            vec![
                ("model", None, &b"mock/gpt-image-1"[..]),
                ("image[]", Some("a.png"), b"png"),
            ],
            "prompt",
        ),
    ] {
        let r = post_form(&h, path, &parts).await;
        assert_eq!(r.status(), 400, "{path} without {param}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["param"], param, "{body}");
    }
    assert_eq!(
        h.mock.request_count(),
        0,
        "nothing refused reached the upstream"
    );
}

#[tokio::test]
async fn an_upload_over_the_limit_is_a_413_in_openai_shape() {
    let h = start_with(
        MockConfig::default(),
        |m| {
            let mut c = mock_config(m, json!({}));
            c["client"] = json!({"max_upload_size_mb": 1});
            c
        },
        vec![],
    )
    .await;
    let big = vec![7u8; 1024 * 1024 + 1];
    let r = post_form(
        &h,
        "/v1/audio/transcriptions",
        &[
            ("file", Some("big.wav"), &big),
            ("model", None, b"mock/whisper-1"),
        ],
    )
    .await;
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_upload_size_mb"),
        "{body}"
    );
    assert!(body["error"]["type"].is_string());
    assert_eq!(h.mock.request_count(), 0);

    // Under the upload limit but over the 10 MB JSON limit would be refused on a JSON route;
    // here a 900 kB upload passes.
    let ok = vec![7u8; 900 * 1024];
    let r = post_form(
        &h,
        "/v1/audio/transcriptions",
        &[
            ("file", Some("ok.wav"), &ok),
            ("model", None, b"mock/whisper-1"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_form_without_a_credential_header_is_refused_like_a_cross_site_post() {
    let h = start().await;
    let (ct, body) = form(&[
        ("file", Some("a.wav"), b"RIFF"),
        ("model", None, b"mock/whisper-1"),
    ]);
    let r = h
        .client
        .post(h.url("/v1/audio/transcriptions"))
        .header("content-type", ct.clone())
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    // A form on a JSON route stays refused even with a credential.
    let r = h
        .client
        .post(h.url("/v1/audio/speech"))
        .header("content-type", ct)
        .header("authorization", "Bearer x")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
}

#[tokio::test]
async fn a_provider_without_the_operation_answers_unsupported_operation() {
    let h = recording_gateway(|m| {
        json!({"providers": {"claude": {"type": "anthropic",
            "keys": [{"name": "a", "value": "sk-ant", "models": [], "weight": 1}],
            "network_config": {"base_url": m.base_url()}}}})
    })
    .await;
    let wav = wav_second();
    let r = post_form(
        &h,
        "/v1/audio/transcriptions",
        &[
            ("file", Some("a.wav"), &wav),
            ("model", None, b"claude/whisper-1"),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unsupported_operation");
    for (path, req) in [
        (
            "/v1/audio/speech",
            json!({"model": "claude/x", "input": "hi", "voice": "alloy"}),
        ),
        (
            "/v1/images/generations",
            json!({"model": "claude/x", "prompt": "cat"}),
        ),
        (
            "/v1/rerank",
            json!({"model": "claude/x", "query": "q", "documents": ["d"]}),
        ),
    ] {
        let r = post_json(&h, path, req).await;
        assert_eq!(r.status(), 400, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unsupported_operation", "{path}");
    }
    assert_eq!(h.mock.request_count(), 0);
}

#[tokio::test]
async fn an_upload_is_sent_again_on_retry_and_to_the_fallback() {
    let h = recording_gateway(|m| {
        let provider = |key: &str| {
            json!({"type": "openai", "network_config": {"base_url": m.base_url(),
                "max_retries": 2, "retry_backoff_initial": 1, "retry_backoff_max": 2},
                "keys": [{"name": key, "value": format!("sk-{key}"), "models": [], "weight": 1}]})
        };
        json!({"providers": {"primary": provider("primary"), "backup": provider("backup")},
            "fallbacks": {"whisper-1": ["primary/whisper-1;fail_rate=1;fail_status=502", "backup/whisper-1"]}})
    })
    .await;
    let wav = wav_second();
    let r = post_form(
        &h,
        "/v1/audio/transcriptions",
        &[
            ("file", Some("a.wav"), &wav),
            ("model", None, b"primary/whisper-1;fail_first=1"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-heimdall-retries"], "1");
    let body: Value = r.json().await.unwrap();
    assert!(
        body["text"].as_str().unwrap().contains("16044 bytes"),
        "the retry sent the whole file again"
    );

    h.mock.clear_requests();
    let r = post_form(
        &h,
        "/v1/audio/transcriptions",
        &[("file", Some("a.wav"), &wav), ("model", None, b"whisper-1")],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-heimdall-provider"], "backup");
    let body: Value = r.json().await.unwrap();
    assert!(body["text"].as_str().unwrap().contains("16044 bytes"));
    let sent = h.mock.requests();
    assert_eq!(
        sent.len(),
        4,
        "three tries on the primary, one on the backup"
    );
    assert_eq!(sent[3].headers["authorization"], "Bearer sk-backup");
}

#[tokio::test]
async fn images_are_generated_and_edited() {
    let h = start().await;
    let r = post_json(
        &h,
        "/v1/images/generations",
        json!({"model": "mock/gpt-image-1", "prompt": "a lighthouse", "n": 2,
            "size": "1024x1024", "quality": "low", "background": "transparent"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert!(
        body["data"][0]["b64_json"]
            .as_str()
            .unwrap()
            .starts_with("iVBORw0KGgo")
    );
    assert!(body["usage"]["total_tokens"].as_u64().unwrap() > 0);
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.body["background"], "transparent");

    let r = post_json(
        &h,
        "/v1/images/generations",
        json!({"model": "mock/dall-e-3", "prompt": "a lighthouse", "response_format": "url"}),
    )
    .await;
    let body: Value = r.json().await.unwrap();
    assert!(body["data"][0]["url"].as_str().unwrap().ends_with(".png"));
    assert_eq!(body["data"][0]["revised_prompt"], "mock: a lighthouse");

    let r = post_form(
        &h,
        "/v1/images/edits",
        &[
            ("image[]", Some("a.png"), heimdall_mock_provider_png()),
            ("image[]", Some("b.png"), heimdall_mock_provider_png()),
            ("prompt", None, b"add a hat"),
            ("model", None, b"mock/gpt-image-1"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["data"][0]["b64_json"].is_string());
}

fn heimdall_mock_provider_png() -> &'static [u8] {
    b"\x89PNG\r\n\x1a\n"
}

#[tokio::test]
async fn rerank_goes_to_openai_compatible_and_cohere_upstreams_in_one_shape() {
    let h = recording_gateway(|m| {
        json!({"providers": {
            "vllm": {"type": "custom", "network_config": {"base_url": m.base_url()},
                "keys": [{"name": "v", "value": "sk-vllm", "models": [], "weight": 1}]},
            "cohere": {"type": "cohere", "network_config": {"base_url": m.base_url()},
                "keys": [{"name": "c", "value": "co-key", "models": ["rerank-v3.5"], "weight": 1}]}}})
    })
    .await;
    let docs = json!(["Berlin is in Germany", {"text": "Paris is the capital of France"}, "cats"]);
    for model in ["vllm/bge-reranker", "cohere/rerank-v3.5"] {
        let r = post_json(
            &h,
            "/v1/rerank",
            json!({"model": model, "query": "capital of France", "documents": docs,
                "top_n": 2, "return_documents": true}),
        )
        .await;
        assert_eq!(r.status(), 200, "{model}");
        let body: Value = r.json().await.unwrap();
        let results = body["results"].as_array().unwrap();
        assert_eq!(results.len(), 2, "{model}: {body}");
        assert_eq!(results[0]["index"], 1);
        assert_eq!(results[0]["relevance_score"], 1.0);
        assert_eq!(
            results[0]["document"]["text"],
            "Paris is the capital of France"
        );
        assert!(!body["id"].as_str().unwrap().is_empty());
        let sent = h.mock.requests().pop().unwrap();
        assert_eq!(
            sent.body["documents"][1], "Paris is the capital of France",
            "strings upstream"
        );
    }
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v2/rerank");
    assert!(sent.body.get("return_documents").is_none());

    // The Cohere drop-in route: a bare model goes to the Cohere provider; no documents unless asked.
    let r = post_json(
        &h,
        "/cohere/v2/rerank",
        json!({"model": "rerank-v3.5", "query": "cats", "documents": docs}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-heimdall-provider"], "cohere");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["results"][0]["index"], 2);
    assert!(body["results"][0].get("document").is_none());
    assert_eq!(body["meta"]["billed_units"]["search_units"], 1);

    let r = post_json(
        &h,
        "/cohere/v2/rerank",
        json!({"model": "rerank-v3.5", "query": "cats", "documents": []}),
    )
    .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn azure_serves_audio_and_images_from_deployments() {
    let h = recording_gateway(|m| {
        json!({"providers": {"azure": {"type": "azure", "keys": [{
            "name": "east", "value": "azure-secret",
            "azure_key_config": {"endpoint": format!("http://{}", m.addr()),
                "deployments": {"whisper-1": "whisper-prod", "tts-1": "tts-prod", "dall-e-3": "dalle-prod"}}
        }]}}})
    })
    .await;
    let wav = wav_second();
    let r = post_form(
        &h,
        "/v1/audio/transcriptions",
        &[
            ("file", Some("a.wav"), &wav),
            ("model", None, b"azure/whisper-1"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(
        sent.path,
        "/openai/deployments/whisper-prod/audio/transcriptions"
    );
    assert_eq!(sent.headers["api-key"], "azure-secret");

    let r = post_json(
        &h,
        "/v1/audio/speech",
        json!({"model": "azure/tts-1", "input": "hi", "voice": "alloy", "response_format": "pcm"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/pcm");
    assert_eq!(
        h.mock.requests().pop().unwrap().path,
        "/openai/deployments/tts-prod/audio/speech"
    );

    let r = post_json(
        &h,
        "/v1/images/generations",
        json!({"model": "azure/dall-e-3", "prompt": "a cat", "response_format": "b64_json"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        h.mock.requests().pop().unwrap().path,
        "/openai/deployments/dalle-prod/images/generations"
    );

    let r = post_json(
        &h,
        "/v1/rerank",
        json!({"model": "azure/whisper-1", "query": "q", "documents": ["d"]}),
    )
    .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_records_file_names_and_sizes_not_audio() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("logs.db").display());
    let store = heimdall_store::LogStore::connect(&url).await.unwrap();
    let (writer, _task) = heimdall_store::LogWriter::start(
        store,
        &heimdall_config::LogsStoreConfig {
            batch_size: 10,
            flush_interval_ms: 20,
            writer_priority: heimdall_config::WriterPriority::Normal,
            ..Default::default()
        },
    );
    let h = start_observed(
        MockConfig::default(),
        |m| mock_config(m, json!({})),
        vec![],
        Some(writer.clone()),
    )
    .await;
    let wav = wav_second();
    let r = post_form(
        &h,
        "/v1/audio/transcriptions",
        &[
            ("file", Some("secret.wav"), &wav),
            ("model", None, b"mock/whisper-1"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = post_json(
        &h,
        "/v1/audio/speech",
        json!({"model": "mock/tts-1", "input": "say this", "voice": "alloy", "response_format": "wav"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let logs = loop {
        let page: Value = h
            .client
            .get(h.url("/api/logs"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if page["logs"].as_array().is_some_and(|l| l.len() >= 2) {
            break page["logs"].as_array().unwrap().clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "records not written: {page}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let mut of = std::collections::HashMap::new();
    for l in &logs {
        // The list leaves content out; one record holds its input and output.
        let id = l["id"].as_str().unwrap();
        let full: Value = h
            .client
            .get(h.url(&format!("/api/logs/{id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        of.insert(l["operation"].as_str().unwrap().to_owned(), full);
    }
    let of = |op: &str| of[op].clone();
    let t = of("transcription");
    let input = t["input"].as_str().unwrap();
    assert!(
        input.contains("secret.wav") && input.contains("16044"),
        "{input}"
    );
    assert!(
        !input.contains("RIFF"),
        "no audio bytes in the log: {input}"
    );
    assert!(
        t["output"]
            .as_str()
            .unwrap()
            .contains("mock transcription of secret.wav")
    );
    let s = of("speech");
    assert_eq!(s["input"], "\"say this\"");
    // Speech streams: its record is a stream's, and never holds audio bytes.
    assert_eq!(s["stream"], true, "{s}");
    let output = s["output"].as_str().unwrap_or_default();
    assert!(!output.contains("RIFF"), "{output}");
}
