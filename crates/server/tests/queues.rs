//! Per-provider concurrency and queue: at most `concurrency` upstream requests in flight,
//! excess refused with 429 + Retry-After when `drop_excess_requests`, otherwise queued.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use heimdall_mock_provider::{MockConfig, MockServer};
use serde_json::{Value, json};

fn limited(m: &MockServer, buffer: u64, drop_excess: bool) -> Value {
    json!({
        "client": {"drop_excess_requests": drop_excess},
        "providers": {"mock": {
            "type": "custom",
            "network_config": {"base_url": m.base_url(), "default_request_timeout_in_seconds": 5},
            "concurrency_and_buffer_size": {"concurrency": 1, "buffer_size": buffer},
            "keys": [{"name": "k", "value": "sk", "models": [], "weight": 1}]
        }}
    })
}

async fn harness(buffer: u64, drop_excess: bool) -> Harness {
    start_with(
        MockConfig::default(),
        move |m| limited(m, buffer, drop_excess),
        vec![],
    )
    .await
}

#[tokio::test]
async fn excess_is_refused_at_once_with_retry_after_when_dropping() {
    let h = harness(0, true).await;
    let slow = h.chat(user_chat("mock/gpt-4o;latency_ms=400"));
    let second = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let r = h.chat(user_chat("mock/gpt-4o")).await;
        (r, started.elapsed())
    };
    let (first, (second, took)) = tokio::join!(slow, second);
    assert_eq!(first.status(), 200);
    assert_eq!(second.status(), 429);
    assert!(
        took < Duration::from_millis(200),
        "refused at once: {took:?}"
    );
    assert_eq!(second.headers()["retry-after"], "1");
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"]["code"], "gateway_overloaded");
    assert_eq!(
        h.mock.request_count(),
        1,
        "the refused request never went upstream"
    );
    // The slot is free again afterwards.
    assert_eq!(h.chat(user_chat("mock/gpt-4o")).await.status(), 200);
}

#[tokio::test]
async fn without_dropping_excess_requests_wait_their_turn() {
    let h = harness(0, false).await;
    let started = Instant::now();
    let a = h.chat(user_chat("mock/gpt-4o;latency_ms=300"));
    let b = h.chat(user_chat("mock/gpt-4o;latency_ms=300"));
    let (a, b) = tokio::join!(a, b);
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    let queued: Vec<u64> = [&a, &b]
        .iter()
        .filter_map(|r| r.headers().get("x-heimdall-queue-us"))
        .map(|v| v.to_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(queued.len(), 1, "exactly one of them waited");
    assert!(
        queued[0] >= 200_000,
        "and its wait is measured: {queued:?} µs"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(590),
        "one slot: the two upstream calls ran one after the other ({:?})",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_stream_holds_its_slot_until_it_ends() {
    let h = harness(0, true).await;
    let r = h
        .chat(
            json!({"model": "mock/gpt-4o;chunks=4;chunk_delay_ms=100", "stream": true,
            "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let mut body = r.bytes_stream();
    let _first = body.next().await.unwrap().unwrap();
    // While the stream is open, the provider is full.
    assert_eq!(h.chat(user_chat("mock/gpt-4o")).await.status(), 429);
    while let Some(chunk) = body.next().await {
        chunk.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(h.chat(user_chat("mock/gpt-4o")).await.status(), 200);
}

#[tokio::test]
async fn a_full_provider_falls_back_to_the_next_target() {
    let h = start_with(
        MockConfig::default(),
        |m| {
            let mut c = limited(m, 0, true);
            c["providers"]["backup"] = json!({
                "type": "custom",
                "network_config": {"base_url": m.base_url()},
                "keys": [{"name": "b", "value": "sk-b", "models": [], "weight": 1}]
            });
            c
        },
        vec![],
    )
    .await;
    let slow = h.chat(user_chat("mock/gpt-4o;latency_ms=400"));
    let second = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        h.chat(
            json!({"model": "mock/gpt-4o", "fallbacks": ["backup/gpt-4o"],
            "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await
    };
    let (first, second) = tokio::join!(slow, second);
    assert_eq!(first.status(), 200);
    assert_eq!(second.status(), 200);
    assert_eq!(second.headers()["x-heimdall-provider"], "backup");
}
