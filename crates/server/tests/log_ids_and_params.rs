//! A reused client request id still gives one record per request (the record's id is the
//! gateway's, the client's is kept beside it), and `/api/logs` parameters are typed and
//! clamped, with JSON errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn a_reused_request_id_still_gives_one_record_per_request() {
    let (h, _store, writer, _dir) = start_logged(50_000).await;
    let mut ids = BTreeSet::new();
    for _ in 0..3 {
        let r = h
            .client
            .post(h.url("/v1/chat/completions"))
            .header("x-request-id", "client-id-7")
            .json(&json!({"model": "mock/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_ne!(id, "client-id-7", "the gateway's own id answers");
        ids.insert(id);
    }
    assert_eq!(ids.len(), 3, "three distinct gateway ids");
    let deadline = Instant::now() + Duration::from_secs(10);
    while writer.stats().written.load(Ordering::Relaxed) < 3 {
        assert!(Instant::now() < deadline, "records not written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let page: Value =
        serde_json::from_str(&h.get_text("/api/logs?client_request_id=client-id-7").await).unwrap();
    let logs = page["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 3, "{page}");
    for l in logs {
        assert_eq!(l["client_request_id"], "client-id-7");
        assert!(ids.contains(l["id"].as_str().unwrap()));
    }
    let metrics = h.get_text("/metrics").await;
    let counted: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("heimdall_success_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(counted, 3.0, "metrics and records agree");
}

#[tokio::test]
async fn log_query_parameters_are_typed_and_clamped_with_json_errors() {
    let (h, _store, _writer, _dir) = start_logged(50_000).await;
    let r = h
        .client
        .get(h.url("/api/logs?offset=99999999999999999999"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400, "past u64 is not a number");
    let r = h
        .client
        .get(h.url("/api/logs?offset=18446744073709551615"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "past i64: clamped, an empty page");
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["logs"].as_array().unwrap().len(), 0);
    for bad in [
        "min_latency=NaN",
        "max_cost=inf",
        "min_cost=-Infinity",
        "limit=abc",
        "offset=-1",
        "start_time=yesterday",
        "%zz=1",
    ] {
        let r = h
            .client
            .get(h.url(&format!("/api/logs?{bad}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{bad}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{bad}"
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["type"], "invalid_request_error", "{bad}");
    }
    let r = h
        .client
        .get(h.url("/api/logs/stats?min_latency=nan"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
}
