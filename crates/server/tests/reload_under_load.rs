//! Configuration changes under load: while clients send requests (half of them streamed),
//! the configuration changes again and again — the serving provider itself (rebuilt each
//! time), a provider added and removed, a client setting. No request may fail and no stream
//! may end early: in-flight requests finish on the snapshot they started with.
//!
//! CI runs a short version; `HEIMDALL_RELOAD_CHANGES` and `HEIMDALL_RELOAD_CLIENTS` scale it
//! (the figures in docs/control-plane.md come from a release build:
//! `HEIMDALL_RELOAD_CHANGES=500 cargo test --release -p heimdall-server --test reload_under_load -- --nocapture`).
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::control::start_store_mode;
use heimdall_mock_provider::{MockConfig, MockServer};
use reqwest::Method;
use serde_json::json;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_changes_under_load_fail_no_request_and_truncate_no_stream() {
    let changes = env_or("HEIMDALL_RELOAD_CHANGES", 100);
    let clients = env_or("HEIMDALL_RELOAD_CLIENTS", 16);
    let mock = MockServer::start(MockConfig {
        chunks: 6,
        chunk_delay_ms: 2,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let serving = |timeout: u64| {
        json!({"type": "custom", "keys": [{"name": "k1", "value": "sk-test-load-00000001"}],
            "network_config": {"base_url": mock.base_url(), "default_request_timeout_in_seconds": timeout}})
    };
    let h = Arc::new(start_store_mode(json!({"providers": {"mock": serving(10)}})).await);

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed, truncated) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let mut load = Vec::new();
    for c in 0..clients {
        let (h, stop, ok, failed, truncated) = (
            Arc::clone(&h),
            Arc::clone(&stop),
            Arc::clone(&ok),
            Arc::clone(&failed),
            Arc::clone(&truncated),
        );
        load.push(tokio::spawn(async move {
            let stream = c % 2 == 0;
            while !stop.load(Ordering::Relaxed) {
                let r = h
                    .client
                    .post(h.url("/v1/chat/completions"))
                    .json(&json!({"model": "mock/gpt-4o", "stream": stream,
                        "messages": [{"role": "user", "content": "hi"}]}))
                    .send()
                    .await;
                let Ok(r) = r else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let status = r.status().as_u16();
                let body = r.text().await.unwrap_or_default();
                if status != 200 {
                    eprintln!("failed: {status} {body}");
                    failed.fetch_add(1, Ordering::Relaxed);
                } else if stream
                    && (!body.trim_end().ends_with("data: [DONE]") || body.contains("\"error\""))
                {
                    eprintln!("truncated: {body}");
                    truncated.fetch_add(1, Ordering::Relaxed);
                } else {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }

    let started = Instant::now();
    for i in 0..changes {
        let (status, body) = match i % 3 {
            // The serving provider itself: rebuilt (new client, new breakers) every time.
            0 => {
                h.call(
                    Method::PUT,
                    "/api/providers/mock",
                    Some(serving(10 + (i / 3 + 1) % 2)),
                    None,
                )
                .await
            }
            // Another provider appears and disappears.
            1 => {
                if h.control.config.current().document["providers"]
                    .get("extra")
                    .is_some()
                {
                    h.call(Method::DELETE, "/api/providers/extra", None, None)
                        .await
                } else {
                    let mut p = serving(10);
                    p["provider"] = json!("extra");
                    h.post("/api/providers", p).await
                }
            }
            // A client setting.
            _ => {
                h.call(
                    Method::PUT,
                    "/api/config",
                    Some(json!({"client_config": {"drop_excess_requests": i % 2 == 0}})),
                    None,
                )
                .await
            }
        };
        assert_eq!(status, 200, "change {i}: {body}");
    }
    let changing = started.elapsed();
    // Let requests started on the last snapshots finish.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.await.unwrap();
    }
    let total = started.elapsed();
    let (ok, failed, truncated) = (
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        truncated.load(Ordering::Relaxed),
    );
    eprintln!(
        "{changes} changes in {:.2} s ({:.0}/s); {ok} requests ok ({:.0} req/s, half streamed), {failed} failed, {truncated} truncated",
        changing.as_secs_f64(),
        changes as f64 / changing.as_secs_f64(),
        ok as f64 / total.as_secs_f64(),
    );
    assert_eq!(failed, 0);
    assert_eq!(truncated, 0);
    assert!(ok > changes, "load ran during the changes ({ok} requests)");
    assert_eq!(h.control.config.current().version, 1 + changes as i64);
}
