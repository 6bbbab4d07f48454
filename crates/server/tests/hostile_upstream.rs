//! A hostile upstream: one that echoes the key it was sent, redirects elsewhere, answers
//! without end, or answers 200 with the wrong shape. None of it may leak a key, move the key to
//! another host, cost unbounded memory, or become an empty "successful" answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use common::*;
use heimdall_mock_provider::MockConfig;
use heimdall_store::LogWriter;
use serde_json::{Value, json};

const KEY: &str = "sk-planted-0123456789abcdefSECRETvalue";

/// Every log line this test binary writes, at every level.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    Arc::clone(LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || SharedWriter(Arc::clone(&sink)))
            .try_init();
        buf
    }))
}

struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

type Behaviour = Arc<dyn Fn(&Uri, &HeaderMap, Bytes) -> Response + Send + Sync>;

/// A raw upstream on a socket that answers with `behaviour` and counts its hits.
struct Stub {
    addr: std::net::SocketAddr,
    hits: Arc<AtomicUsize>,
    paths: Arc<Mutex<Vec<String>>>,
}

async fn stub(behaviour: Behaviour) -> Stub {
    let hits = Arc::new(AtomicUsize::new(0));
    let paths = Arc::new(Mutex::new(Vec::new()));
    let (h, p) = (Arc::clone(&hits), Arc::clone(&paths));
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let behaviour = Arc::clone(&behaviour);
        let (h, p) = (Arc::clone(&h), Arc::clone(&p));
        async move {
            h.fetch_add(1, Ordering::SeqCst);
            p.lock().unwrap().push(uri.to_string());
            behaviour(&uri, &headers, body)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Stub { addr, hits, paths }
}

async fn gateway(config: Value, writer: Option<LogWriter>) -> Harness {
    start_observed(MockConfig::default(), move |_| config, vec![], writer).await
}

fn openai_provider(addr: std::net::SocketAddr) -> Value {
    json!({"type": "openai",
        "keys": [{"name": "k", "value": KEY, "models": [], "weight": 1}],
        "network_config": {"base_url": format!("http://{addr}/v1"), "max_retries": 0}})
}

fn gemini_provider(addr: std::net::SocketAddr) -> Value {
    json!({"type": "gemini",
        "keys": [{"name": "g", "value": KEY, "models": [], "weight": 1}],
        "network_config": {"base_url": format!("http://{addr}/v1beta"), "max_retries": 0}})
}

fn anthropic_provider(addr: std::net::SocketAddr) -> Value {
    json!({"type": "anthropic",
        "keys": [{"name": "a", "value": KEY, "models": [], "weight": 1}],
        "network_config": {"base_url": format!("http://{addr}"), "max_retries": 0}})
}

fn ask(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

/// The forms in which an upstream may echo a key.
fn echoed_forms() -> [String; 3] {
    [
        KEY.to_owned(),
        format!("key%3D{}", KEY.replace('-', "%2D")),
        base64::engine::general_purpose::STANDARD.encode(format!("user:{KEY}")),
    ]
}

fn leaks(text: &str) -> bool {
    echoed_forms().iter().any(|f| text.contains(f.as_str()))
        || text.contains("SECRETvalue")
        || text.contains(&base64::engine::general_purpose::STANDARD.encode(KEY))
        || text.contains("0123456789abcdef")
}

#[tokio::test]
async fn a_planted_key_echoed_by_the_upstream_reaches_no_reply_record_metric_or_log_line() {
    let logs = captured_logs();
    let echo: Behaviour = Arc::new(|uri, headers, body| {
        let streamed = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["stream"].as_bool())
            .unwrap_or(false);
        let sent = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let [plain, pct, b64] = echoed_forms();
        let msg = format!(
            "Incorrect API key provided: {plain}. You sent '{sent}' to {uri}?{pct} (basic {b64})"
        );
        let error_event = json!({"error": {"message": msg}});
        if uri.path().contains("streamGenerateContent") {
            let body = format!(
                "data: {{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":\"a\"}}]}}}}]}}\n\ndata: {error_event}\n\n"
            );
            return ([("content-type", "text/event-stream")], body).into_response();
        }
        if streamed {
            let body = format!(
                "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"a\"}}}}]}}\n\ndata: {error_event}\n\n"
            );
            return ([("content-type", "text/event-stream")], body).into_response();
        }
        let status = if uri.path().contains("generateContent") {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNAUTHORIZED
        };
        (
            status,
            axum::Json(json!({"error": {"message": msg, "code": plain}})),
        )
            .into_response()
    });
    let up = stub(echo).await;
    let (_store, writer, _dir) = sqlite_writer(50_000).await;
    let h = gateway(
        json!({"providers": {"openai": openai_provider(up.addr), "gemini": gemini_provider(up.addr)}}),
        Some(writer.clone()),
    )
    .await;

    let mut replies = String::new();
    // The stream first: the 401 puts the only key in cooldown.
    for (model, stream) in [
        ("openai/gpt-4o", true),
        ("openai/gpt-4o", false),
        ("gemini/gemini-2.0-flash", false),
        ("gemini/gemini-2.0-flash", true),
    ] {
        let r = h.chat(ask(model, stream)).await;
        let status = r.status().as_u16();
        for (name, value) in r.headers() {
            replies.push_str(&format!("{name}: {}\n", value.to_str().unwrap_or("")));
        }
        let body = r.text().await.unwrap();
        assert!(
            status >= 400 || body.contains("error"),
            "{model} stream={stream}: {status} {body}"
        );
        replies.push_str(&body);
    }
    assert!(
        up.hits.load(Ordering::SeqCst) >= 4,
        "the upstream was asked: {:?} {replies}",
        up.paths.lock().unwrap()
    );
    assert!(
        replies.contains("[REDACTED]"),
        "the echo arrived, scrubbed: {replies}"
    );
    assert!(!leaks(&replies), "a reply leaks the key: {replies}");

    let deadline = Instant::now() + Duration::from_secs(10);
    while writer.stats().written.load(Ordering::Relaxed) < 4 {
        assert!(Instant::now() < deadline, "records were not written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let records = h.get_text("/api/logs?limit=100").await;
    assert!(records.contains("REDACTED"), "{records}");
    assert!(!leaks(&records), "a record leaks the key: {records}");

    let metrics = h.get_text("/metrics").await;
    assert!(!leaks(&metrics), "metrics leak the key");

    let lines = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(lines.contains("REDACTED"), "the log saw the scrubbed echo");
    assert!(!leaks(&lines), "a log line leaks the key: {lines}");
}

/// An upstream that redirects every request to `target`.
fn redirecting(status: StatusCode, target: std::net::SocketAddr) -> Behaviour {
    Arc::new(move |uri, _, _| {
        (
            status,
            [("location", format!("http://{target}{uri}"))],
            "moved",
        )
            .into_response()
    })
}

#[tokio::test]
async fn no_redirect_is_followed_on_any_provider() {
    let ok: Behaviour = Arc::new(|_, _, _| {
        axum::Json(
            json!({"id": "x", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "stolen"},
            "finish_reason": "stop"}]}),
        )
        .into_response()
    });
    let elsewhere = stub(ok).await;
    for status in [
        StatusCode::MOVED_PERMANENTLY,
        StatusCode::FOUND,
        StatusCode::TEMPORARY_REDIRECT,
        StatusCode::PERMANENT_REDIRECT,
    ] {
        let up = stub(redirecting(status, elsewhere.addr)).await;
        let h = gateway(
            json!({"providers": {"openai": openai_provider(up.addr),
                "gemini": gemini_provider(up.addr), "anthropic": anthropic_provider(up.addr)}}),
            None,
        )
        .await;
        for model in [
            "openai/gpt-4o",
            "gemini/gemini-2.0-flash",
            "anthropic/claude-3-5-haiku-latest",
        ] {
            for stream in [false, true] {
                let r = h.chat(ask(model, stream)).await;
                let code = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                assert_eq!(code, 502, "{status} {model} stream={stream}: {body}");
                assert_eq!(body["error"]["code"], "upstream_redirect", "{body}");
                assert!(
                    body["error"]["message"]
                        .as_str()
                        .unwrap()
                        .contains("127.0.0.1"),
                    "{body}"
                );
            }
        }
        assert!(up.hits.load(Ordering::SeqCst) >= 6);
    }
    assert_eq!(
        elsewhere.hits.load(Ordering::SeqCst),
        0,
        "a redirect was followed"
    );
}

#[tokio::test]
async fn no_model_name_changes_the_upstream_path() {
    let answer: Behaviour = Arc::new(|_, _, _| {
        axum::Json(
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]},
            "finishReason": "STOP"}]}),
        )
        .into_response()
    });
    let up = stub(answer).await;
    let h = gateway(
        json!({"providers": {"gemini": gemini_provider(up.addr)}}),
        None,
    )
    .await;
    for model in [
        "../../v1/files?alt=x#frag",
        "..",
        "a/b",
        "x?key=other",
        "gemini%2F..%2Fy",
        "m@v1:stream",
    ] {
        let r = h.chat(ask(&format!("gemini/{model}"), false)).await;
        assert!(r.status().as_u16() < 500, "{model}: {}", r.status());
    }
    let paths = up.paths.lock().unwrap().clone();
    assert_eq!(paths.len(), 6);
    for p in &paths {
        let (path, query) = p.split_once('?').unwrap_or((p.as_str(), ""));
        let rest = path
            .strip_prefix("/v1beta/models/")
            .unwrap_or_else(|| panic!("left the models collection: {p}"));
        assert!(!rest.contains('/'), "more than one segment: {p}");
        assert!(rest.ends_with(":generateContent"), "{p}");
        assert!(
            !query.contains("alt=x") && !query.contains("key=other"),
            "{p}"
        );
    }
}

fn huge_json() -> String {
    format!(
        r#"{{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{{"index":0,"message":{{"role":"assistant","content":"{}"}},"finish_reason":"stop"}}]}}"#,
        "a".repeat(3 * 1024 * 1024)
    )
}

#[tokio::test]
async fn an_answer_over_the_cap_is_a_502() {
    let big: Behaviour = Arc::new(|uri, _, body| {
        let stream = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["stream"].as_bool())
            .unwrap_or(false);
        if stream {
            // One event that never ends, then a small one.
            let event = format!("data: {{\"x\":\"{}", "b".repeat(3 * 1024 * 1024));
            return ([("content-type", "text/event-stream")], event).into_response();
        }
        let _ = uri;
        ([("content-type", "application/json")], huge_json()).into_response()
    });
    let up = stub(big).await;
    let mut provider = openai_provider(up.addr);
    provider["network_config"]["max_response_size_mb"] = json!(1);
    let h = gateway(json!({"providers": {"openai": provider}}), None).await;
    let r = h.chat(ask("openai/gpt-4o", false)).await;
    assert_eq!(r.status().as_u16(), 502);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["error"]["code"], "upstream_response_too_large",
        "{body}"
    );

    let r = h.chat(ask("openai/gpt-4o", true)).await;
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(status, 502, "{text}");
    assert!(text.contains("upstream_response_too_large"), "{text}");
    assert!(
        text.len() < 4096,
        "nothing of the oversized answer reached the client"
    );
}

#[tokio::test]
async fn a_200_with_the_wrong_shape_is_a_502_not_an_empty_answer() {
    let wrong: Behaviour =
        Arc::new(|_, _, _| axum::Json(json!({"unexpected": "shape-marker-7f3a"})).into_response());
    let up = stub(wrong).await;
    let h = gateway(
        json!({"providers": {"gemini": gemini_provider(up.addr), "openai": openai_provider(up.addr)}}),
        None,
    )
    .await;
    for model in ["gemini/gemini-2.0-flash", "openai/gpt-4o"] {
        let r = h.chat(ask(model, false)).await;
        assert_eq!(r.status().as_u16(), 502, "{model}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "upstream_invalid_response", "{body}");
        assert!(
            !body.to_string().contains("shape-marker-7f3a"),
            "the upstream's bytes go to the log, not the client: {body}"
        );
    }
    let empty_choices: Behaviour = Arc::new(|_, _, _| {
        axum::Json(
            json!({"id": "x", "object": "chat.completion", "created": 1, "model": "m",
            "choices": []}),
        )
        .into_response()
    });
    let up = stub(empty_choices).await;
    let h = gateway(
        json!({"providers": {"openai": openai_provider(up.addr)}}),
        None,
    )
    .await;
    let r = h.chat(ask("openai/gpt-4o", false)).await;
    assert_eq!(r.status().as_u16(), 502);

    // Bedrock Converse without `output.message.content`.
    let up = stub(Arc::new(|_, _, _| {
        axum::Json(json!({"output": {}, "stopReason": "end_turn"})).into_response()
    }))
    .await;
    let h = gateway(
        json!({"providers": {"bedrock": {"type": "bedrock",
            "network_config": {"base_url": format!("http://{}", up.addr), "max_retries": 0},
            "keys": [{"name": "iam", "bedrock_key_config": {"region": "us-east-1",
                "access_key": "AKIDPLANTED", "secret_key": KEY}}]}}}),
        None,
    )
    .await;
    let r = h.chat(ask("bedrock/amazon.nova-lite-v1:0", false)).await;
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "upstream_invalid_response", "{body}");
}
