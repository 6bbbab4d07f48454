//! A client that leaves before its answer still leaves exactly one record (status 499), on
//! every operation and route, and the metrics count the same requests as the records.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn a_client_leaving_before_the_answer_leaves_one_499_record() {
    let (h, _store, writer, _dir) = start_logged(50_000).await;
    let slow = "mock/gpt-4o;latency_ms=3000";
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let asks = [
        (
            "/v1/chat/completions",
            json!({"model": slow, "messages": [{"role": "user", "content": "hi"}]}),
        ),
        ("/v1/completions", json!({"model": slow, "prompt": "hi"})),
        ("/v1/embeddings", json!({"model": slow, "input": "hi"})),
        (
            "/anthropic/v1/messages",
            json!({"model": slow, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}),
        ),
    ];
    for (path, body) in &asks {
        let r = impatient.post(h.url(path)).json(body).send().await;
        assert!(r.is_err_and(|e| e.is_timeout()), "{path} answered too soon");
    }
    // And one that waits, for contrast.
    let r = h
        .chat(json!({"model": "mock/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(r.status().as_u16(), 200);

    let deadline = Instant::now() + Duration::from_secs(10);
    while writer.stats().written.load(Ordering::Relaxed) < 5 {
        assert!(
            Instant::now() < deadline,
            "only {} records",
            writer.stats().written.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Nothing more arrives once the upstream calls would have finished.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let page: Value = serde_json::from_str(&h.get_text("/api/logs?limit=100").await).unwrap();
    let logs = page["logs"].as_array().expect("a page of logs");
    assert_eq!(logs.len(), 5, "one record per request: {page}");
    let abandoned: Vec<&Value> = logs.iter().filter(|l| l["status"] == 499).collect();
    assert_eq!(abandoned.len(), 4, "{page}");
    for l in &abandoned {
        assert_eq!(l["success"], false);
        assert_eq!(l["error_type"], "client_closed_request", "{l}");
    }
    let routes: std::collections::BTreeSet<&str> = abandoned
        .iter()
        .map(|l| l["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        routes.len(),
        3,
        "chat, completion and embedding: {routes:?}"
    );

    let metrics = h.get_text("/metrics").await;
    let requests: f64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with("heimdall_requests_total{")
                || l.starts_with("bifrost_upstream_requests_total{")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(
        requests >= 5.0,
        "metrics count the abandoned requests too: {requests}"
    );
}
