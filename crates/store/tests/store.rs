//! The log store against real databases: a SQLite file and the PostgreSQL server on this
//! machine (a fresh database per test). Same assertions for both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::*;
use heimdall_store::{LogQuery, LogStore, SortBy};

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn q(pairs: &[(&str, &str)]) -> LogQuery {
    LogQuery::from_params(&params(pairs)).unwrap()
}

async fn exercise(store: &LogStore) {
    let records: Vec<_> = (0..300).map(record).collect();
    store.insert(&records[..150]).await.unwrap();
    store.insert(&records[150..]).await.unwrap();
    // A retried batch does not duplicate.
    store.insert(&records[..10]).await.unwrap();
    assert_eq!(store.count().await.unwrap(), 300);

    // Default: newest first, 50 per page.
    let page = store.query(&q(&[])).await.unwrap();
    assert_eq!(page.total, 300);
    assert_eq!(page.logs.len(), 50);
    assert_eq!(page.logs[0].id, "req-000299");
    assert!(page.has_more);
    assert!(page.logs[0].input.is_none(), "listing leaves payloads out");

    // Filters and their combination.
    let anthropic = store
        .query(&q(&[("providers", "anthropic"), ("limit", "1000")]))
        .await
        .unwrap();
    assert_eq!(anthropic.total, 100);
    assert!(
        anthropic
            .logs
            .iter()
            .all(|r| r.provider.as_deref() == Some("anthropic"))
    );
    let errors = store.query(&q(&[("status", "error")])).await.unwrap();
    assert_eq!(errors.total, 60);
    let by_code = store.query(&q(&[("status", "503")])).await.unwrap();
    assert_eq!(by_code.total, 60);
    let streamed_ok = store
        .query(&q(&[("stream", "true"), ("status", "success")]))
        .await
        .unwrap();
    assert_eq!(streamed_ok.total, 120);
    let vk = store
        .query(&q(&[("virtual_key_ids", "vk-1")]))
        .await
        .unwrap();
    assert_eq!(vk.total, 75);
    let model = store.query(&q(&[("models", "model-1")])).await.unwrap();
    assert_eq!(model.total, 150);
    let window = store
        .query(&q(&[
            ("start_time", "1700000010000"),
            ("end_time", "2023-11-14T22:13:39Z"),
        ]))
        .await
        .unwrap();
    // 1700000010000 .. 1700000019000 (RFC 3339 for 1700000019 s) → records 10..=19
    assert_eq!(window.total, 10);
    let latency = store
        .query(&q(&[("min_latency", "100"), ("max_latency", "109.5")]))
        .await
        .unwrap();
    assert_eq!(latency.total, 10);
    let tokens = store.query(&q(&[("min_tokens", "300")])).await.unwrap();
    assert_eq!(tokens.total, 10);
    let cost = store.query(&q(&[("min_cost", "0.2")])).await.unwrap();
    assert_eq!(cost.total, 80);
    let content = store
        .query(&q(&[("content_search", "question number 123")]))
        .await
        .unwrap();
    assert_eq!(content.total, 1);
    assert_eq!(content.logs[0].id, "req-000123");

    // Sorting and pagination.
    let by_latency = store
        .query(&q(&[
            ("sort_by", "latency"),
            ("order", "asc"),
            ("limit", "3"),
            ("offset", "2"),
        ]))
        .await
        .unwrap();
    let ids: Vec<_> = by_latency.logs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["req-000002", "req-000003", "req-000004"]);
    let by_cost = store
        .query(&q(&[("sort_by", "cost"), ("limit", "1")]))
        .await
        .unwrap();
    assert_eq!(by_cost.logs[0].id, "req-000299");
    let last = store
        .query(&q(&[("limit", "50"), ("offset", "250")]))
        .await
        .unwrap();
    assert_eq!(last.logs.len(), 50);
    assert!(!last.has_more);

    // One record, with payload and trail.
    let one = store.get("req-000123").await.unwrap().unwrap();
    assert_eq!(one.output.as_deref(), Some("answer 123"));
    assert!(
        one.input
            .as_deref()
            .unwrap()
            .contains("question number 123")
    );
    assert_eq!(one.trail.len(), 1);
    assert_eq!(one, record(123), "every field round-trips");
    assert!(store.get("nope").await.unwrap().is_none());

    // Statistics for a filter.
    let stats = store.stats(&q(&[("providers", "openai")])).await.unwrap();
    assert_eq!(stats.total_requests, 100);
    assert!((stats.success_rate - 0.8).abs() < 1e-9);
    let empty = store.stats(&q(&[("providers", "nobody")])).await.unwrap();
    assert_eq!(empty.total_requests, 0);
    assert_eq!(empty.success_rate, 0.0);

    // Retention.
    let deleted = store.delete_older_than(1_700_000_100_000).await.unwrap();
    assert_eq!(deleted, 100);
    assert_eq!(store.count().await.unwrap(), 200);
    assert!(store.get("req-000050").await.unwrap().is_none());
}

#[tokio::test]
async fn sqlite_store_filters_pages_and_aggregates() {
    let (store, _dir) = sqlite().await;
    exercise(&store).await;
}

#[tokio::test]
async fn postgres_store_filters_pages_and_aggregates() {
    let (store, db) = postgres().await;
    exercise(&store).await;
    store.close().await;
    drop_pg(db).await;
}

#[test]
fn invalid_parameters_are_named() {
    for (k, v) in [
        ("limit", "0"),
        ("limit", "x"),
        ("sort_by", "name"),
        ("order", "up"),
        ("stream", "maybe"),
        ("status", "weird"),
        ("start_time", "yesterday"),
        ("min_cost", "cheap"),
        ("colour", "blue"),
    ] {
        let e = LogQuery::from_params(&params(&[(k, v)])).unwrap_err();
        assert_eq!(e.param, k, "{k}={v}");
    }
    let capped = LogQuery::from_params(&params(&[("limit", "100000")])).unwrap();
    assert_eq!(capped.limit, 1000);
    assert_eq!(
        LogQuery::from_params(&params(&[])).unwrap().sort_by,
        SortBy::Timestamp
    );
}

#[tokio::test]
async fn a_broad_filter_counts_up_to_the_cap() {
    let (store, _dir) = sqlite().await;
    let records: Vec<_> = (0..10_050).map(record).collect();
    store.insert(&records).await.unwrap();
    let page = store.query(&q(&[("limit", "10")])).await.unwrap();
    assert_eq!(page.total, heimdall_store::COUNT_CAP);
    assert!(page.total_capped && page.has_more);
    let narrow = store
        .query(&q(&[("providers", "openai"), ("max_tokens", "500")]))
        .await
        .unwrap();
    assert!(!narrow.total_capped);
}
