//! The log time series against real databases (a SQLite file and the PostgreSQL server on this
//! machine): the store's answer is the pure aggregation of the records its filter matches, on
//! both, with the requested model standing in for a missing upstream model.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::*;
use heimdall_store::{LogRecord, LogStore, SeriesQuery, SeriesRow, aggregate};

const START: i64 = 1_700_000_000_000;

fn series(pairs: &[(&str, &str)]) -> SeriesQuery {
    let params: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    SeriesQuery::from_params(&params, START + 3_600_000).unwrap()
}

fn row(r: &LogRecord, group: Option<&str>) -> SeriesRow {
    SeriesRow {
        timestamp_ms: r.timestamp_ms,
        latency_ms: r.latency_ms,
        success: r.success,
        total_tokens: r.total_tokens,
        cost: r.cost,
        group: group.map(str::to_owned),
    }
}

async fn exercise(store: &LogStore) {
    let mut records: Vec<LogRecord> = (0..300).map(record).collect();
    records[7].model = None;
    store.insert(&records).await.unwrap();
    let range = [
        ("start_time", START.to_string()),
        ("end_time", (START + 299_000).to_string()),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut pairs: Vec<(&str, &str)> = range.iter().map(|(k, v)| (*k, v.as_str())).collect();
        pairs.extend_from_slice(extra);
        series(&pairs)
    };

    // Newest first, as the store reads them.
    let newest_first: Vec<&LogRecord> = records.iter().rev().collect();
    let q = with(&[("bucket_seconds", "60"), ("group_by", "provider")]);
    let got = store.timeseries(&q).await.unwrap();
    let want = aggregate(
        &q,
        newest_first.iter().map(|r| row(r, r.provider.as_deref())),
        false,
    );
    assert_eq!(got, want);
    assert_eq!(got.records, 300);
    assert_eq!(got.buckets.iter().map(|b| b.errors).sum::<u64>(), 60);
    let groups = got.groups.unwrap();
    assert_eq!(groups.len(), 3);
    assert!(groups.iter().all(|g| g.requests == 100));

    let q = with(&[("group_by", "model"), ("status", "success")]);
    let got = store.timeseries(&q).await.unwrap();
    let model = |r: &LogRecord| r.model.clone().unwrap_or_else(|| r.model_requested.clone());
    let want = aggregate(
        &q,
        newest_first
            .iter()
            .filter(|r| r.success)
            .map(|r| row(r, Some(&model(r)))),
        false,
    );
    assert_eq!(got, want);
    let keys: Vec<&str> = got
        .groups
        .as_ref()
        .unwrap()
        .iter()
        .map(|g| g.key.as_str())
        .collect();
    assert!(keys.contains(&"anthropic/model-1"), "{keys:?}");

    let q = with(&[("group_by", "virtual_key"), ("provider", "openai")]);
    let got = store.timeseries(&q).await.unwrap();
    let want = aggregate(
        &q,
        newest_first
            .iter()
            .filter(|r| r.provider.as_deref() == Some("openai"))
            .map(|r| row(r, r.virtual_key_id.as_deref())),
        false,
    );
    assert_eq!(got, want);
    assert_eq!(got.records, 100);
}

#[tokio::test]
async fn sqlite_time_series_is_the_aggregation_of_the_matching_records() {
    let (store, _dir) = sqlite().await;
    exercise(&store).await;
}

#[tokio::test]
async fn postgres_time_series_is_the_aggregation_of_the_matching_records() {
    let (store, db) = postgres().await;
    exercise(&store).await;
    store.close().await;
    drop_pg(db).await;
}
