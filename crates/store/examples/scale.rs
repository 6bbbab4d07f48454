//! How the query API holds up at scale: fill a store with synthetic records, then time the
//! queries the UI and API make (median of 5 runs each).
//!
//! `cargo run --release -p heimdall-store --example scale -- <url> <rows>`
//! e.g. `sqlite:///tmp/scale.db?mode=rwc 1000000` or `postgres://postgres@127.0.0.1/scale 1000000`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::time::Instant;

use heimdall_store::{LogQuery, LogRecord, LogStore, TrailEntry};

const BATCH: usize = 1000;

fn record(i: usize) -> LogRecord {
    let provider = ["openai", "anthropic", "gemini", "bedrock", "mistral"][i % 5];
    let ok = !i.is_multiple_of(13);
    LogRecord {
        id: format!("r{i:08}"),
        timestamp_ms: 1_790_000_000_000 + i as i64 * 50,
        route: "openai".into(),
        operation: "chat".into(),
        provider: Some(provider.into()),
        model_requested: format!("{provider}/model-{}", i % 7),
        model: Some(format!("model-{}", i % 7)),
        key_name: Some(format!("key-{}", i % 3)),
        virtual_key_id: Some(format!("vk-{}", i % 50)),
        status: if ok { 200 } else { 429 },
        success: ok,
        error_type: (!ok).then(|| "upstream_rate_limited".to_owned()),
        stream: i.is_multiple_of(2),
        latency_ms: (i % 5000) as f64 / 3.0,
        prompt_tokens: (i % 900) as i64,
        completion_tokens: (i % 300) as i64,
        total_tokens: (i % 900 + i % 300) as i64,
        cost: Some((i % 1000) as f64 / 100_000.0),
        attempts: 1,
        trail: vec![TrailEntry {
            provider: provider.into(),
            model: format!("model-{}", i % 7),
            key_name: None,
            status: 200,
            error: None,
            latency_ms: 10.0,
        }],
        input: Some(format!(
            r#"[{{"role":"user","content":"synthetic question {i}"}}]"#
        )),
        output: Some(format!("synthetic answer {i}")),
        ..LogRecord::default()
    }
}

async fn time<F, Fut, T>(label: &str, f: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut runs = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let _ = f().await;
        runs.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    runs.sort_by(|a, b| a.total_cmp(b));
    println!("| {label} | {:.1} ms |", runs[2]);
}

fn q(pairs: &[(&str, &str)]) -> LogQuery {
    let p: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    LogQuery::from_params(&p).unwrap()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args.get(1).expect("url");
    let rows: usize = args.get(2).map_or(1_000_000, |r| r.parse().unwrap());
    let store = LogStore::connect(url).await.unwrap();
    let have = store.count().await.unwrap() as usize;
    let t = Instant::now();
    let mut i = have;
    while i < rows {
        let batch: Vec<LogRecord> = (i..(i + BATCH).min(rows)).map(record).collect();
        store.insert(&batch).await.unwrap();
        i += batch.len();
    }
    println!(
        "inserted {} rows in {:.1} s; store holds {}",
        rows.saturating_sub(have),
        t.elapsed().as_secs_f64(),
        store.count().await.unwrap()
    );
    println!("| query ({rows} rows) | median of 5 |\n|---|---|");
    let end = (1_790_000_000_000 + rows as i64 * 50).to_string();
    let hour_ago = (1_790_000_000_000 + rows as i64 * 50 - 3_600_000).to_string();
    time("newest page (limit 50) + total", || async {
        store.query(&q(&[])).await.is_ok()
    })
    .await;
    time("providers=anthropic&status=error", || async {
        store
            .query(&q(&[("providers", "anthropic"), ("status", "error")]))
            .await
            .is_ok()
    })
    .await;
    time("models=model-3, last hour", || async {
        store
            .query(&q(&[
                ("models", "model-3"),
                ("start_time", &hour_ago),
                ("end_time", &end),
            ]))
            .await
            .is_ok()
    })
    .await;
    time("virtual_key_ids=vk-7&stream=true", || async {
        store
            .query(&q(&[("virtual_key_ids", "vk-7"), ("stream", "true")]))
            .await
            .is_ok()
    })
    .await;
    time("sort_by=latency (desc)", || async {
        store.query(&q(&[("sort_by", "latency")])).await.is_ok()
    })
    .await;
    time("min_cost=0.009&sort_by=cost", || async {
        store
            .query(&q(&[("min_cost", "0.009"), ("sort_by", "cost")]))
            .await
            .is_ok()
    })
    .await;
    time("page 1000 (offset 50,000)", || async {
        store.query(&q(&[("offset", "50000")])).await.is_ok()
    })
    .await;
    time("stats, providers=openai", || async {
        store.stats(&q(&[("providers", "openai")])).await.is_ok()
    })
    .await;
    time("one record with payload", || async {
        store.get("r00123456").await.is_ok()
    })
    .await;
    time("content_search (full scan)", || async {
        store
            .query(&q(&[("content_search", "question 987654")]))
            .await
            .is_ok()
    })
    .await;
}
