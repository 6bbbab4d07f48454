//! Observability end to end: every request becomes one log record (SQLite and the real
//! PostgreSQL), the query API returns the right subsets, a database outage never slows serving
//! (records wait and are written when it returns, or are counted as dropped past the bound),
//! and `/metrics` passes `promtool check metrics`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use heimdall_config::LogsStoreConfig;
use heimdall_mock_provider::MockConfig;
use heimdall_store::{LogStore, LogWriter};
use serde_json::{Value, json};

fn writer_config(max_pending: usize) -> LogsStoreConfig {
    LogsStoreConfig {
        batch_size: 100,
        flush_interval_ms: 20,
        max_pending,
        // The tests wait for records; an idle-priority writer may starve on a busy CI runner.
        writer_priority: heimdall_config::WriterPriority::Normal,
        ..LogsStoreConfig::default()
    }
}

async fn harness(store: LogStore, max_pending: usize) -> (Harness, LogWriter) {
    let (writer, _task) = LogWriter::start(store, &writer_config(max_pending));
    let h = start_observed(
        MockConfig::default(),
        |m| {
            mock_config(
                m,
                json!({"network_config": {"base_url": m.base_url(), "max_retries": 0}}),
            )
        },
        vec![],
        Some(writer.clone()),
    )
    .await;
    (h, writer)
}

/// Request `i` of the mixed workload and whether it should succeed.
fn mixed(i: usize) -> (Value, bool) {
    let stream = i.is_multiple_of(3);
    let (model, ok) = match i % 10 {
        7 => ("mock/gpt-4o;fail_rate=1;fail_status=500".to_owned(), false),
        9 => ("nope/model".to_owned(), false),
        _ if stream && i.is_multiple_of(21) => {
            ("mock/gpt-4o;chunks=4;cut_after=2".to_owned(), false)
        }
        _ => (format!("mock/gpt-4o;chunks={}", 1 + i % 5), true),
    };
    (
        json!({"model": model, "stream": stream,
               "messages": [{"role": "user", "content": format!("question {i}")}]}),
        ok,
    )
}

async fn send(h: &Harness, body: &Value) -> (u16, Duration) {
    let started = Instant::now();
    let r = h.chat(body.clone()).await;
    let status = r.status().as_u16();
    let _ = r.bytes().await;
    (status, started.elapsed())
}

/// Send `range` of the mixed workload, 16 at a time; returns each latency.
async fn run(h: &Harness, range: std::ops::Range<usize>) -> Vec<Duration> {
    futures::stream::iter(range)
        .map(|i| async move { send(h, &mixed(i).0).await.1 })
        .buffer_unordered(16)
        .collect()
        .await
}

async fn wait_written(writer: &LogWriter, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while writer.stats().written.load(Ordering::Relaxed) < n {
        let st = writer.stats();
        assert!(
            Instant::now() < deadline,
            "only {} of {n} written (accepted {}, failed writes {}, dropped {}, pending {}, last error {:?})",
            st.written.load(Ordering::Relaxed),
            st.accepted.load(Ordering::Relaxed),
            st.failed_writes.load(Ordering::Relaxed),
            st.dropped.load(Ordering::Relaxed),
            writer.pending(),
            st.last_error()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn api(h: &Harness, path: &str) -> (u16, Value) {
    let r = h.client.get(h.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn thousand_requests_become_thousand_records(store: LogStore) {
    let (h, writer) = harness(store.clone(), 10_000).await;
    run(&h, 0..1000).await;
    wait_written(&writer, 1000).await;
    assert_eq!(store.count().await.unwrap(), 1000);
    assert_eq!(writer.stats().dropped.load(Ordering::Relaxed), 0);

    let expected_errors = (0..1000).filter(|i| !mixed(*i).1).count() as i64;
    let expected_streams = (0..1000).filter(|i| i % 3 == 0).count() as i64;
    let (s, errors) = api(&h, "/api/logs?status=error&limit=1").await;
    assert_eq!(s, 200);
    assert_eq!(errors["total"], expected_errors);
    let (_, streams) = api(&h, "/api/logs?stream=true&limit=1").await;
    assert_eq!(streams["total"], expected_streams);
    let (_, not_found) = api(&h, "/api/logs?status=404").await;
    assert_eq!(not_found["total"], 100);
    let (_, mock) = api(&h, "/api/logs?providers=mock&status=success&limit=1").await;
    assert_eq!(mock["total"], 1000 - expected_errors);

    // Pages of 100 cover every record exactly once.
    let mut ids = HashSet::new();
    for page in 0..10 {
        let (_, p) = api(&h, &format!("/api/logs?limit=100&offset={}", page * 100)).await;
        for r in p["logs"].as_array().unwrap() {
            assert!(ids.insert(r["id"].as_str().unwrap().to_owned()));
        }
    }
    assert_eq!(ids.len(), 1000);

    // One record in full: trail, tokens, payload.
    let (_, page) = api(&h, "/api/logs?content_search=question%20123").await;
    assert_eq!(page["total"], 1);
    let id = page["logs"][0]["id"].as_str().unwrap().to_owned();
    let (_, one) = api(&h, &format!("/api/logs/{id}")).await;
    assert!(one["input"].as_str().unwrap().contains("question 123"));
    assert_eq!(one["trail"][0]["provider"], "mock");
    assert!(one["completion_tokens"].as_i64().unwrap() > 0);

    let (_, stats) = api(&h, "/api/logs/stats").await;
    assert_eq!(stats["total_requests"], 1000);
    let rate = stats["success_rate"].as_f64().unwrap();
    assert!((rate - (1000 - expected_errors) as f64 / 1000.0).abs() < 1e-9);

    let (s, bad) = api(&h, "/api/logs?sort_by=name").await;
    assert_eq!(s, 400);
    assert_eq!(bad["error"]["param"], "sort_by");
    let (s, _) = api(&h, "/api/logs/nope").await;
    assert_eq!(s, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_a_record_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("logs.db").display());
    thousand_requests_become_thousand_records(LogStore::connect(&url).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_a_record_per_request() {
    let (name, url) = fresh_pg("127.0.0.1:5432").await;
    let store = LogStore::connect(&url).await.unwrap();
    thousand_requests_become_thousand_records(store.clone()).await;
    store.close().await;
    drop_pg(&name).await;
}

/// A TCP hop in front of PostgreSQL that a test can take down (refuse and cut every
/// connection) and bring back — the database "stops" without touching the shared server.
struct Outage {
    addr: std::net::SocketAddr,
    up: Arc<AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Outage {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let (up2, cut2) = (Arc::clone(&up), cut.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mut cut_rx = cut2.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect("127.0.0.1:5432").await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Self { addr, up, cut }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

fn p50(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_neither_slows_serving_nor_loses_queued_records() {
    let outage = Outage::start().await;
    let (name, url) = fresh_pg(&outage.addr.to_string()).await;
    let store = LogStore::connect(&url).await.unwrap();
    let (h, writer) = harness(store.clone(), 10_000).await;

    let before = run(&h, 0..300).await;
    wait_written(&writer, 300).await;
    outage.down();
    let during = run(&h, 300..900).await;
    // Serving went on; the records wait.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        writer.pending() > 0,
        "records should be waiting for the database"
    );
    assert!(writer.stats().failed_writes.load(Ordering::Relaxed) > 0);
    let (_, dropped) = api(&h, "/api/logs/dropped").await;
    assert_eq!(dropped["dropped"], 0);
    // Same latency with the database down (the writer is off the request path).
    let (b, d) = (p50(before), p50(during));
    eprintln!("p50 latency: database up {b:?}, database down {d:?}");
    assert!(
        d < b * 3 + Duration::from_millis(5),
        "p50 up {b:?} vs down {d:?}"
    );

    outage.restore();
    wait_written(&writer, 900).await;
    let direct = LogStore::connect(&format!("{PG}/{name}")).await.unwrap();
    assert_eq!(direct.count().await.unwrap(), 900);
    direct.close().await;
    store.close().await;
    drop_pg(&name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_bound_records_are_dropped_and_counted() {
    let outage = Outage::start().await;
    let (name, url) = fresh_pg(&outage.addr.to_string()).await;
    let store = LogStore::connect(&url).await.unwrap();
    let (h, writer) = harness(store.clone(), 50).await;
    outage.down();
    run(&h, 0..400).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let dropped = writer.stats().dropped.load(Ordering::Relaxed);
    // 50 queued + at most one batch (100) in hand; the rest is dropped and counted.
    assert!(dropped >= 250, "dropped {dropped}");
    let (_, body) = api(&h, "/api/logs/dropped").await;
    assert_eq!(body["dropped"], dropped);
    outage.restore();
    wait_written(&writer, 400 - dropped).await;
    let metrics = h
        .client
        .get(h.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!("heimdall_log_writer_dropped {dropped}")),
        "{metrics}"
    );
    store.close().await;
    drop_pg(&name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool_and_carry_bifrosts_names() {
    let h = start_observed(
        MockConfig::default(),
        |m| {
            let mut c = mock_config(
                m,
                json!({"network_config": {"base_url": m.base_url(), "max_retries": 1}}),
            );
            c["client"] = json!({"metrics_prefix": "bifrost", "prometheus_labels": ["team"]});
            c["fallbacks"] = json!({"mock/gpt-4o;fail_rate=1": ["mock/gpt-4o-mini"]});
            c
        },
        vec![],
        None,
    )
    .await;
    run(&h, 0..60).await;
    // A fallback and an extra label from an allowed header.
    let r = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("x-bf-prom-team", "search")
        .json(
            &json!({"model": "mock/gpt-4o;fail_rate=1", "fallbacks": ["mock/gpt-4o-mini"],
            "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = h.client.get(h.url("/metrics")).send().await.unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = r.text().await.unwrap();
    let (ok, report) = promtool_check(&text);
    assert!(ok, "promtool check metrics failed:\n{report}\n---\n{text}");
    for family in [
        "bifrost_requests_total",
        "bifrost_request_duration_seconds",
        "bifrost_request_errors_total",
        "bifrost_success_requests_total",
        "bifrost_error_requests_total",
        "bifrost_upstream_requests_total",
        "bifrost_upstream_latency_seconds",
        "bifrost_input_tokens_total",
        "bifrost_output_tokens_total",
        "bifrost_tokens_total",
        "bifrost_cost_total",
        "bifrost_cost_dollars_total",
        "bifrost_cost_per_request",
        "bifrost_cache_hits_total",
        "bifrost_cache_misses_total",
        "bifrost_cache_hit_ratio",
        "bifrost_cache_size_bytes",
        "bifrost_cache_evictions_total",
        "bifrost_fallback_triggered_total",
        "bifrost_provider_health",
        "bifrost_retries_total",
        "bifrost_key_rotations_total",
        "bifrost_queue_depth",
        "bifrost_stream_time_to_first_token_seconds",
        "bifrost_stream_inter_chunk_seconds",
        "bifrost_gateway_overhead_seconds",
        "bifrost_http_requests_total",
        "bifrost_log_writer_queue_depth",
        "bifrost_log_writer_dropped",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "missing {family}\n{text}"
        );
    }
    assert!(text.contains(r#"bifrost_fallback_triggered_total{model="mock/gpt-4o;fail_rate=1",from="mock",to="mock"} 1"#), "{text}");
    assert!(text.contains(r#"team="search""#));
    // The mixed workload's failures opened the mock's circuit: health reads 0.
    assert!(
        text.contains(r#"bifrost_provider_health{provider="mock"} 0"#),
        "{text}"
    );
    assert!(
        text.contains(r#"bifrost_request_errors_total{provider="none",model="none",team="",error_type="model_not_found"}"#),
        "{text}"
    );
    // Client-chosen names of unroutable models never become label values.
    assert!(!text.contains("nope/model"));
    // No key or virtual-key label by default.
    assert!(!text.contains("key_name=") && !text.contains("virtual_key"));
}

#[tokio::test]
async fn cost_comes_from_the_price_book_and_unknown_models_are_unpriced() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("logs.db").display());
    let store = LogStore::connect(&url).await.unwrap();
    let (writer, _task) = LogWriter::start(store.clone(), &writer_config(100));
    let h = start_observed(
        MockConfig::default(),
        |m| {
            let mut c = mock_config(m, json!({}));
            c["pricing"] =
                json!({"overrides": {"mock/gpt-4o": {"input": 1000.0, "output": 2000.0}}});
            c
        },
        vec![],
        Some(writer.clone()),
    )
    .await;
    let r = h.chat(user_chat("mock/gpt-4o")).await;
    let cost: f64 = r.headers()["x-heimdall-cost"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body: Value = r.json().await.unwrap();
    let (p, c) = (
        body["usage"]["prompt_tokens"].as_f64().unwrap(),
        body["usage"]["completion_tokens"].as_f64().unwrap(),
    );
    assert!(
        (cost - (p * 1000.0 + c * 2000.0) / 1e6).abs() < 1e-9,
        "{cost}"
    );
    let r = h.chat(user_chat("mock/unknown-model")).await;
    assert!(
        r.headers().get("x-heimdall-cost").is_none(),
        "never a silent $0"
    );
    wait_written(&writer, 2).await;
    let (_, page) = api(&h, "/api/logs?sort_by=timestamp&order=asc").await;
    assert!((page["logs"][0]["cost"].as_f64().unwrap() - cost).abs() < 1e-12);
    assert_eq!(page["logs"][1]["unpriced"], true);
    assert!(page["logs"][1]["cost"].is_null());
}

#[tokio::test]
async fn a_record_names_the_dialect_the_client_spoke() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("logs.db").display());
    let (h, writer) = harness(LogStore::connect(&url).await.unwrap(), 100).await;
    let r = h.chat(user_chat("mock/gpt-4o")).await;
    assert_eq!(r.status(), 200);
    let r = h
        .client
        .post(h.url("/anthropic/v1/messages"))
        .json(&json!({"model": "mock/gpt-4o", "max_tokens": 10,
            "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    wait_written(&writer, 2).await;
    let (_, page) = api(&h, "/api/logs?order=asc").await;
    let routes: Vec<&str> = page["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["route"].as_str().unwrap())
        .collect();
    assert_eq!(routes, ["openai", "anthropic"]);
}
