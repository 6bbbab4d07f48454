//! The bucketing, percentiles and grouping of `timeseries`, as a pure function over rows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use super::*;

const HOUR: i64 = 3_600_000;
/// 2025-12-03T22:00:00Z: a multiple of every bucket size up to an hour.
const T0: i64 = 1_764_799_200_000;

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn query(pairs: &[(&str, &str)]) -> SeriesQuery {
    SeriesQuery::from_params(&params(pairs), T0 + HOUR).unwrap()
}

fn row(ts: i64, latency_ms: f64, success: bool, group: Option<&str>) -> SeriesRow {
    SeriesRow {
        timestamp_ms: ts,
        latency_ms,
        success,
        total_tokens: 10,
        cost: Some(0.5),
        group: group.map(str::to_owned),
    }
}

#[test]
fn the_default_range_is_the_hour_before_now_in_minute_buckets() {
    let q = query(&[]);
    assert_eq!((q.start_ms, q.end_ms), (T0, T0 + HOUR));
    assert_eq!(q.bucket_seconds, 60);
    assert_eq!(q.filter.start_time, Some(T0));
    assert_eq!(q.filter.end_time, Some(T0 + HOUR));
    assert_eq!(q.group_by, None);
}

#[test]
fn the_default_bucket_is_the_smallest_nice_step_giving_at_most_sixty() {
    assert_eq!(default_bucket_seconds(0), 1);
    assert_eq!(default_bucket_seconds(60_000), 1);
    assert_eq!(default_bucket_seconds(61_000), 5);
    assert_eq!(default_bucket_seconds(15 * 60_000), 15);
    assert_eq!(default_bucket_seconds(HOUR), 60);
    assert_eq!(default_bucket_seconds(HOUR + 1), 300);
    assert_eq!(default_bucket_seconds(24 * HOUR), 1800);
    assert_eq!(default_bucket_seconds(7 * 24 * HOUR), 10_800);
    assert_eq!(default_bucket_seconds(365 * 24 * HOUR), 86_400);
}

#[test]
fn bad_parameters_name_themselves() {
    let err = |pairs: &[(&str, &str)]| {
        SeriesQuery::from_params(&params(pairs), T0)
            .unwrap_err()
            .param
    };
    assert_eq!(err(&[("bucket_seconds", "0")]), "bucket_seconds");
    assert_eq!(err(&[("bucket_seconds", "86401")]), "bucket_seconds");
    assert_eq!(err(&[("bucket_seconds", "ten")]), "bucket_seconds");
    assert_eq!(err(&[("group_by", "team")]), "group_by");
    assert_eq!(
        err(&[("start_time", (T0 + 1).to_string().as_str())]),
        "start_time"
    );
    assert_eq!(err(&[("status", "maybe")]), "status");
    // One-second buckets over a year would be millions of buckets.
    let year_ago = (T0 - 365 * 24 * HOUR).to_string();
    assert_eq!(
        err(&[("start_time", &year_ago), ("bucket_seconds", "1")]),
        "bucket_seconds"
    );
    // Pagination and sort are accepted and ignored.
    let q = query(&[("limit", "5"), ("sort_by", "cost"), ("group_by", "model")]);
    assert_eq!(q.group_by, Some(GroupBy::Model));
}

#[test]
fn buckets_are_aligned_zero_filled_and_summed() {
    // T0+0:30 to T0+3:10 in minute buckets: T0, T0+1, T0+2 and T0+3 minutes.
    let start = T0 + 30_000;
    let end = T0 + 190_000;
    let q = query(&[
        ("start_time", &start.to_string()),
        ("end_time", &end.to_string()),
        ("bucket_seconds", "60"),
    ]);
    let rows = vec![
        row(T0 + 59_999, 10.0, true, None),
        row(T0 + 45_000, 30.0, false, None),
        row(T0 + 180_000, 5.0, true, None),
    ];
    let s = aggregate(&q, rows, false);
    assert_eq!(
        (s.start_time, s.end_time, s.bucket_seconds),
        (start, end, 60)
    );
    assert_eq!(s.records, 3);
    assert!(!s.sampled);
    assert!(s.groups.is_none());
    let t: Vec<i64> = s.buckets.iter().map(|b| b.t).collect();
    assert_eq!(t, vec![T0, T0 + 60_000, T0 + 120_000, T0 + 180_000]);
    let requests: Vec<u64> = s.buckets.iter().map(|b| b.requests).collect();
    assert_eq!(requests, vec![2, 0, 0, 1]);
    let first = &s.buckets[0];
    assert_eq!((first.errors, first.tokens), (1, 20));
    assert!((first.cost - 1.0).abs() < 1e-12);
    assert_eq!(first.p50_latency_ms, 10.0);
    assert_eq!(first.p99_latency_ms, 30.0);
    let empty = &s.buckets[1];
    assert_eq!((empty.p50_latency_ms, empty.p99_latency_ms), (0.0, 0.0));
    assert_eq!((empty.tokens, empty.cost), (0, 0.0));
}

#[test]
fn rows_outside_the_range_are_not_counted() {
    let q = query(&[("bucket_seconds", "60")]);
    let rows = vec![
        row(T0 - 60_001, 1.0, true, None),
        row(T0 + 2 * HOUR, 1.0, true, None),
        row(T0, 1.0, true, None),
    ];
    let s = aggregate(&q, rows, true);
    assert_eq!(s.records, 1);
    assert!(s.sampled);
    assert_eq!(s.buckets.iter().map(|b| b.requests).sum::<u64>(), 1);
}

#[test]
fn percentiles_are_nearest_rank() {
    let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(percentile(&sorted, 50), 50.0);
    assert_eq!(percentile(&sorted, 99), 99.0);
    assert_eq!(percentile(&[7.0], 50), 7.0);
    assert_eq!(percentile(&[7.0], 99), 7.0);
    assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50), 2.0);
    assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 99), 4.0);
    assert_eq!(percentile(&[], 50), 0.0);
}

#[test]
fn groups_keep_the_eight_busiest_then_other_and_name_missing_values() {
    let q = query(&[("bucket_seconds", "600"), ("group_by", "provider")]);
    let mut rows = Vec::new();
    // Providers p0..p9 with 10..1 records; p9 and p8 fall into (other) with the null ones.
    for (i, n) in (0..10).zip((1..=10).rev()) {
        for k in 0..n {
            let name = format!("p{i}");
            rows.push(row(T0 + k * 1000, f64::from(i), true, Some(name.as_str())));
        }
    }
    rows.push(row(T0 + HOUR, 100.0, false, None));
    let s = aggregate(&q, rows, false);
    let groups = s.groups.unwrap();
    let keys: Vec<&str> = groups.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(
        keys,
        vec!["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", OTHER]
    );
    let requests: Vec<u64> = groups.iter().map(|g| g.requests).collect();
    assert_eq!(requests, vec![10, 9, 8, 7, 6, 5, 4, 3, 2 + 1 + 1]);
    let other = groups.last().unwrap();
    assert_eq!(other.errors, 1);
    assert_eq!(other.requests_series.len(), s.buckets.len());
    // p8's two at T0, p9's one at T0 in the first bucket; the null one in the last.
    assert_eq!(other.requests_series.first(), Some(&3));
    assert_eq!(other.requests_series.last(), Some(&1));
    assert_eq!(other.p99_latency_ms, 100.0);
    let p0 = &groups[0];
    assert_eq!((p0.tokens, p0.cost), (100, 5.0));
    assert_eq!(p0.tokens_series.first(), Some(&100));
    assert_eq!(p0.cost_series.first(), Some(&5.0));
    assert_eq!(p0.p50_latency_ms, 0.0);
    // The groups add up to the buckets.
    let total: u64 = groups.iter().map(|g| g.requests).sum();
    assert_eq!(total, s.records);
}

#[test]
fn a_null_group_is_none_and_few_groups_have_no_other() {
    let q = query(&[("group_by", "virtual_key")]);
    let rows = vec![
        row(T0, 1.0, true, None),
        row(T0, 2.0, true, None),
        row(T0, 3.0, true, Some("vk1")),
    ];
    let groups = aggregate(&q, rows, false).groups.unwrap();
    let keys: Vec<&str> = groups.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(keys, vec![NONE, "vk1"]);
}

#[test]
fn the_answer_has_the_documented_shape() {
    let q = query(&[("bucket_seconds", "3600"), ("group_by", "model")]);
    let s = aggregate(&q, vec![row(T0, 12.5, true, Some("gpt-4o"))], false);
    let v = serde_json::to_value(&s).unwrap();
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&v),
        [
            "bucket_seconds",
            "buckets",
            "end_time",
            "groups",
            "records",
            "sampled",
            "start_time"
        ]
    );
    assert_eq!(
        keys(&v["buckets"][0]),
        [
            "cost",
            "errors",
            "p50_latency_ms",
            "p99_latency_ms",
            "requests",
            "t",
            "tokens"
        ]
    );
    assert_eq!(
        keys(&v["groups"][0]),
        [
            "cost",
            "cost_series",
            "errors",
            "key",
            "p50_latency_ms",
            "p99_latency_ms",
            "requests",
            "requests_series",
            "tokens",
            "tokens_series"
        ]
    );
    let ungrouped = aggregate(&query(&[]), vec![], false);
    assert!(
        serde_json::to_value(&ungrouped)
            .unwrap()
            .get("groups")
            .is_none()
    );
}
