//! Memory per request: a 50,000-message request may cost only a small multiple of its own
//! size, on every route. Measured with a counting global allocator (every heap byte the
//! process holds at once: the gateway, its log writer, the client's copy of the body), peak
//! above the level just before the request.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    unsafe_code,
    clippy::disallowed_methods
)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::response::IntoResponse;
use common::*;
use futures::StreamExt;
use heimdall_mock_provider::MockConfig;
use serde_json::{Value, json};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call forwards to the system allocator with the same arguments; the counters
// are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = CURRENT.fetch_add(new_size - layout.size(), Ordering::Relaxed)
                    + (new_size - layout.size());
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MESSAGES: usize = 50_000;

/// An upstream that reads and discards the request body chunk by chunk, then answers a small
/// OpenAI chat completion (its own memory stays flat, so the peak is the gateway's).
async fn discarding_upstream() -> std::net::SocketAddr {
    let app = axum::Router::new().fallback(|body: Body| async move {
        let mut s = body.into_data_stream();
        while let Some(chunk) = s.next().await {
            drop(chunk);
        }
        axum::Json(
            json!({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
            "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}),
        )
        .into_response()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

fn text(i: usize) -> String {
    format!("message number {i}")
}

/// `(path, body)` of a 50,000-message request in each route's dialect.
fn requests() -> Vec<(&'static str, Value)> {
    let role = |i: usize| {
        if i.is_multiple_of(2) {
            "user"
        } else {
            "assistant"
        }
    };
    let openai: Vec<Value> = (0..MESSAGES)
        .map(|i| json!({"role": role(i), "content": text(i)}))
        .collect();
    let gemini: Vec<Value> = (0..MESSAGES)
        .map(|i| {
            json!({"role": if i.is_multiple_of(2) { "user" } else { "model" }, "parts": [{"text": text(i)}]})
        })
        .collect();
    let bedrock: Vec<Value> = (0..MESSAGES)
        .map(|i| json!({"role": role(i), "content": [{"text": text(i)}]}))
        .collect();
    vec![
        (
            "/v1/chat/completions",
            json!({"model": "up/gpt-4o", "messages": openai}),
        ),
        (
            "/anthropic/v1/messages",
            json!({"model": "up/gpt-4o", "max_tokens": 5, "messages": openai}),
        ),
        (
            "/genai/v1beta/models/up%2Fgpt-4o:generateContent",
            json!({"contents": gemini}),
        ),
        (
            "/cohere/v2/chat",
            json!({"model": "up/gpt-4o", "messages": openai}),
        ),
        (
            "/bedrock/model/up%2Fgpt-4o/converse",
            json!({"messages": bedrock}),
        ),
    ]
}

/// Peak heap growth while the gateway serves `body` on `path`, and its status.
async fn peak_of(h: &Harness, path: &str, body: Vec<u8>) -> (usize, u16) {
    let client = reqwest::Client::new();
    let request = client
        .post(h.url(path))
        .header("content-type", "application/json")
        .body(body);
    // Let the previous request's record reach the writer and settle.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let before = CURRENT.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let _ = r.bytes().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    (PEAK.load(Ordering::SeqCst).saturating_sub(before), status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50000_message_request_costs_a_small_multiple_of_its_size_on_every_route() {
    let up = discarding_upstream().await;
    let (_store, writer, _dir) = sqlite_writer(50_000).await;
    let h = start_observed(
        MockConfig::default(),
        move |_| {
            json!({"client": {"max_request_body_size_mb": 64},
                "providers": {"up": {"type": "openai",
                "keys": [{"name": "k", "value": "sk-test-memory", "models": [], "weight": 1}],
                "network_config": {"base_url": format!("http://{up}/v1")}}}})
        },
        vec![],
        Some(writer),
    )
    .await;
    let report = Arc::new(Mutex::new(Vec::new()));
    // Warm up every route once (lazy statics, pools, prepared statements).
    for (path, body) in requests() {
        let small = serde_json::to_vec(&shrink(&body)).unwrap();
        let (_, status) = peak_of(&h, path, small).await;
        assert_eq!(status, 200, "{path} warm-up");
    }
    for (path, body) in requests() {
        let bytes = serde_json::to_vec(&body).unwrap();
        drop(body);
        let size = bytes.len();
        let (peak, status) = peak_of(&h, path, bytes).await;
        assert_eq!(status, 200, "{path}");
        let ratio = peak as f64 / size as f64;
        report.lock().unwrap().push(format!(
            "{path}: body {:.2} MB, peak +{:.1} MB, {ratio:.1}x",
            size as f64 / 1e6,
            peak as f64 / 1e6
        ));
        eprintln!("{}", report.lock().unwrap().last().unwrap());
    }
    let lines = report.lock().unwrap().clone();
    for line in &lines {
        let ratio: f64 = line
            .rsplit(", ")
            .next()
            .and_then(|r| r.trim_end_matches('x').parse().ok())
            .unwrap();
        assert!(ratio <= 10.0, "over 10x the body: {lines:#?}");
    }
}

/// The same request with two messages.
fn shrink(body: &Value) -> Value {
    let mut b = body.clone();
    for key in ["messages", "contents"] {
        if let Some(a) = b.get_mut(key).and_then(Value::as_array_mut) {
            a.truncate(2);
        }
    }
    b
}
