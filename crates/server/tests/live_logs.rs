//! The dashboard's log views end to end: a finished request reaches `GET /api/logs/stream`
//! within a second (not when the batch writer flushes), without its input and output; the
//! stream ends when the gateway starts draining; `GET /api/logs/timeseries` buckets, splits
//! and counts real records, and names a bad parameter.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use serde_json::{Value, json};

/// A live stream: its bytes so far and the events parsed from them.
struct Live {
    body: futures::stream::BoxStream<'static, reqwest::Result<axum::body::Bytes>>,
    buffer: String,
}

impl Live {
    async fn open(h: &Harness) -> Self {
        let r = h
            .client
            .get(h.url("/api/logs/stream"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/event-stream");
        Self {
            body: r.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next event as (name, data); `None` when the stream ended.
    async fn next(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        name = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push_str(v);
                    }
                }
                if name.is_empty() && data.is_empty() {
                    continue; // a comment (keep-alive)
                }
                return Some((name, data));
            }
            let chunk = self.body.next().await?.ok()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next event within `limit`.
    async fn next_within(&mut self, limit: Duration) -> Option<(String, String)> {
        tokio::time::timeout(limit, self.next())
            .await
            .expect("an event in time")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_request_reaches_the_live_stream_within_a_second_without_its_payload() {
    let (h, store, _writer, _dir) = start_logged(1000).await;
    let mut live = Live::open(&h).await;
    let (name, data) = live.next_within(Duration::from_secs(1)).await.unwrap();
    assert_eq!((name.as_str(), data.as_str()), ("ready", "{}"));

    let started = Instant::now();
    let r = h.chat(user_chat("mock/gpt-4o")).await;
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let _ = r.bytes().await;
    let record: Value = loop {
        let (name, data) = live.next_within(Duration::from_secs(1)).await.unwrap();
        if name == "log" {
            let v: Value = serde_json::from_str(&data).unwrap();
            if v["id"] == id.as_str() {
                break v;
            }
        }
    };
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(record["provider"], "mock");
    assert_eq!(record["success"], true);
    assert!(record.get("input").is_some_and(Value::is_null), "{record}");
    assert!(record.get("output").is_some_and(Value::is_null), "{record}");
    // The store keeps the payload the stream leaves out.
    let deadline = Instant::now() + Duration::from_secs(10);
    let stored = loop {
        if let Some(r) = store.get(&id).await.unwrap() {
            break r;
        }
        assert!(Instant::now() < deadline, "the record was never written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(stored.input.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_works_without_a_log_store_and_ends_when_draining_starts() {
    let h = start().await;
    let mut live = Live::open(&h).await;
    assert_eq!(
        live.next_within(Duration::from_secs(1)).await.unwrap().0,
        "ready"
    );
    let r = h.chat(user_chat("mock/gpt-4o")).await;
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let (name, data) = live.next_within(Duration::from_secs(1)).await.unwrap();
    assert_eq!(name, "log");
    assert_eq!(serde_json::from_str::<Value>(&data).unwrap()["id"], id);

    h.lifecycle.start_draining();
    assert_eq!(live.next_within(Duration::from_secs(1)).await, None);
    // A stream opened while draining ends at once, after `ready`.
    let mut late = Live::open(&h).await;
    assert_eq!(
        late.next_within(Duration::from_secs(1)).await.unwrap().0,
        "ready"
    );
    assert_eq!(late.next_within(Duration::from_secs(1)).await, None);
}

async fn api(h: &Harness, path: &str) -> (u16, Value) {
    let r = h.client.get(h.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_time_series_buckets_splits_and_counts_real_records() {
    let (h, _store, writer, _dir) = start_logged(1000).await;
    let bodies = [
        user_chat("mock/gpt-4o"),
        user_chat("mock/gpt-4o"),
        user_chat("mock/gpt-4o"),
        user_chat("mock/gpt-4o-mini"),
        user_chat("mock/gpt-4o;fail_rate=1;fail_status=400"),
        user_chat("nope/model"),
    ];
    for b in &bodies {
        let _ = h.chat(b.clone()).await.bytes().await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while writer.stats().written.load(Ordering::Relaxed) < bodies.len() as u64 {
        assert!(Instant::now() < deadline, "records not written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let (status, s) = api(&h, "/api/logs/timeseries").await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["bucket_seconds"], 60);
    assert_eq!(s["records"], 6);
    assert_eq!(s["sampled"], false);
    assert!(s.get("groups").is_none());
    let end = s["end_time"].as_i64().unwrap();
    assert_eq!(end - s["start_time"].as_i64().unwrap(), 3_600_000);
    let buckets = s["buckets"].as_array().unwrap();
    assert!((60..=61).contains(&buckets.len()), "{}", buckets.len());
    assert!(
        buckets
            .iter()
            .all(|b| b["t"].as_i64().unwrap() % 60_000 == 0)
    );
    let sum = |field: &str| -> i64 { buckets.iter().map(|b| b[field].as_i64().unwrap()).sum() };
    assert_eq!(sum("requests"), 6);
    assert_eq!(sum("errors"), 2);
    assert!(sum("tokens") > 0);
    let last = buckets
        .iter()
        .rev()
        .find(|b| b["requests"].as_i64() > Some(0))
        .unwrap();
    assert!(last["p99_latency_ms"].as_f64() >= last["p50_latency_ms"].as_f64());

    // Split by model: the requested model stands in where none was sent upstream.
    let (status, s) = api(&h, "/api/logs/timeseries?group_by=model&bucket_seconds=300").await;
    assert_eq!(status, 200, "{s}");
    let groups = s["groups"].as_array().unwrap();
    let n = s["buckets"].as_array().unwrap().len();
    assert_eq!(groups[0]["key"], "gpt-4o", "{s}");
    assert_eq!(groups[0]["requests"], 3, "{s}");
    assert!(groups.iter().any(|g| g["key"] == "nope/model"), "{s}");
    for g in groups {
        assert_eq!(g["requests_series"].as_array().unwrap().len(), n);
        assert_eq!(g["tokens_series"].as_array().unwrap().len(), n);
        assert_eq!(g["cost_series"].as_array().unwrap().len(), n);
    }
    let total: i64 = groups.iter().map(|g| g["requests"].as_i64().unwrap()).sum();
    assert_eq!(total, 6);

    // Filters apply; a range in the past has its buckets, all empty.
    let (_, s) = api(&h, "/api/logs/timeseries?group_by=provider&provider=mock").await;
    assert_eq!(s["records"], 5, "{s}");
    assert_eq!(s["groups"], json!([s["groups"][0].clone()]), "one provider");
    assert_eq!(s["groups"][0]["key"], "mock");
    let past = format!(
        "/api/logs/timeseries?start_time={}&end_time={}&bucket_seconds=60",
        end - 7_200_000,
        end - 3_600_000
    );
    let (_, s) = api(&h, &past).await;
    assert_eq!(s["records"], 0);
    assert!(
        s["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["requests"] == 0 && b["p50_latency_ms"] == 0.0)
    );

    for (query, param) in [
        ("group_by=team", "group_by"),
        ("bucket_seconds=0", "bucket_seconds"),
        ("bucket_seconds=86401", "bucket_seconds"),
        ("status=maybe", "status"),
    ] {
        let (status, e) = api(&h, &format!("/api/logs/timeseries?{query}")).await;
        assert_eq!(status, 400, "{query}: {e}");
        assert_eq!(e["error"]["param"], param, "{query}: {e}");
    }
}
