//! What one request log record costs to write: CPU time per record of the store's batch
//! insert, with records shaped like the gateway's (a ~1 KB request and a short answer stored
//! as content, request ids as the gateway makes them) into a store that already holds rows.
//!
//! `cargo run --release -p heimdall-store --example insert_cost -- <url> [prefill] [records] [batch] [v4|v7]`
//! e.g. `sqlite:///tmp/cost.db?mode=rwc 200000 60000 600 v7` (the last argument: random or
//! time-ordered request ids).
//! Found with it: random (v4) request ids made every insert dirty a random page of the
//! primary-key indexes (docs/benchmarks.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use heimdall_store::{LogRecord, LogStore, TrailEntry};

fn record(i: usize, id: String, now_ms: i64) -> LogRecord {
    let latency = 0.3 + (i * 7919 % 1000) as f64 / 100.0;
    LogRecord {
        id,
        timestamp_ms: now_ms,
        route: "openai".into(),
        operation: "chat".into(),
        provider: Some("mock".into()),
        model_requested: "mock/gpt-4o".into(),
        model: Some("gpt-4o".into()),
        key_name: Some("k".into()),
        status: 200,
        success: true,
        latency_ms: latency,
        overhead_ms: 0.02,
        prompt_tokens: 230,
        completion_tokens: (i % 300) as i64,
        total_tokens: 230 + (i % 300) as i64,
        cost: Some(0.000_575 + (i % 300) as f64 * 0.000_01),
        attempts: 1,
        trail: vec![TrailEntry {
            provider: "mock".into(),
            model: "gpt-4o".into(),
            key_name: Some("k".into()),
            status: 200,
            error: None,
            latency_ms: latency,
        }],
        input: Some(format!(
            r#"[{{"role":"user","content":"{}{i}"}}]"#,
            "x".repeat(900)
        )),
        output: Some(format!(
            r#"{{"role":"assistant","content":"This is a mock response number {i}."}}"#
        )),
        ..LogRecord::default()
    }
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the ')'.
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args.get(1).expect("url");
    let arg = |i: usize, d: usize| args.get(i).map_or(d, |v| v.parse().unwrap());
    let (prefill, records, batch) = (arg(2, 200_000), arg(3, 60_000), arg(4, 600));
    let random_ids = args.get(5).is_some_and(|v| v == "v4");
    let new_id = || {
        if random_ids {
            uuid::Uuid::new_v4().to_string()
        } else {
            uuid::Uuid::now_v7().to_string()
        }
    };
    let store = LogStore::connect(url).await.unwrap();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    };
    let have = store.count().await.unwrap() as usize;
    let mut i = have;
    while i < prefill {
        let rows: Vec<LogRecord> = (i..(i + 1000).min(prefill))
            .map(|n| record(n, new_id(), now()))
            .collect();
        store.insert(&rows).await.unwrap();
        i += rows.len();
    }
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let mut done = 0;
    while done < records {
        let rows: Vec<LogRecord> = (done..(done + batch).min(records))
            .map(|n| record(n, new_id(), now()))
            .collect();
        store.insert(&rows).await.unwrap();
        done += rows.len();
    }
    let (cpu, wall) = (cpu_seconds() - cpu0, t0.elapsed().as_secs_f64());
    println!(
        "{records} records in batches of {batch} onto {} rows: {:.1} µs CPU and {:.1} µs wall per record",
        prefill.max(have),
        cpu * 1e6 / records as f64,
        wall * 1e6 / records as f64
    );
}
