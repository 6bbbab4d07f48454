//! One poison record never stops the writer: a NUL byte in any field is stored (as U+FFFD) on
//! PostgreSQL, which refuses NUL in text, and a record the database refuses for its content is
//! dropped and counted (`rejected`) while every record around it is written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use heimdall_config::LogsStoreConfig;
use heimdall_store::{LogQuery, LogRecord, LogStore, LogWriter};

fn with_nul_everywhere(i: usize) -> LogRecord {
    let mut r = record(i);
    let nul = |s: &str| format!("{s}\0x");
    r.id = nul(&r.id);
    r.route = nul(&r.route);
    r.operation = nul(&r.operation);
    r.provider = r.provider.as_deref().map(nul);
    r.model_requested = nul(&r.model_requested);
    r.model = Some(nul("model"));
    r.key_name = Some(nul("key"));
    r.virtual_key_id = Some(nul("vk"));
    r.team_id = Some(nul("team"));
    r.customer_id = Some(nul("customer"));
    r.error_type = Some(nul("type"));
    r.error = Some(nul("error"));
    r.finish_reason = Some(nul("stop"));
    r.client_request_id = Some(nul("client"));
    r.input = Some(nul("input"));
    r.output = Some(nul("output"));
    if let Some(t) = r.trail.first_mut() {
        t.model = nul("trail-model");
    }
    r
}

async fn poison_run(store: LogStore, refuse_poison_sql: &str) {
    store.execute_raw(refuse_poison_sql).await.unwrap();
    let (writer, _task) = LogWriter::start(
        store.clone(),
        &LogsStoreConfig {
            batch_size: 20,
            flush_interval_ms: 10,
            writer_priority: heimdall_config::WriterPriority::Normal,
            ..LogsStoreConfig::default()
        },
    );
    for i in 0..60 {
        let r = match i {
            10 | 35 => with_nul_everywhere(i),
            25 => LogRecord {
                model_requested: "poison".into(),
                ..record(i)
            },
            _ => record(i),
        };
        assert!(writer.log(r));
    }
    let s = writer.stats();
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.written.load(Ordering::Relaxed) + s.rejected.load(Ordering::Relaxed) < 60 {
        assert!(
            Instant::now() < deadline,
            "written {} rejected {} last error {:?}",
            s.written.load(Ordering::Relaxed),
            s.rejected.load(Ordering::Relaxed),
            s.last_error()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(s.rejected.load(Ordering::Relaxed), 1);
    assert_eq!(s.written.load(Ordering::Relaxed), 59);
    assert_eq!(store.count().await.unwrap(), 59);
    let page = store
        .query(&LogQuery {
            limit: 100,
            ..LogQuery::from_params(&Default::default()).unwrap()
        })
        .await
        .unwrap();
    let nul_row = page
        .logs
        .iter()
        .find(|l| l.id.starts_with("req-000010"))
        .expect("the NUL record is stored");
    assert_eq!(nul_row.id, "req-000010\u{fffd}x");
    assert_eq!(nul_row.error.as_deref(), Some("error\u{fffd}x"));
    let full = store.get(&nul_row.id).await.unwrap().unwrap();
    assert_eq!(full.input.as_deref(), Some("input\u{fffd}x"));
}

#[tokio::test]
async fn postgres_keeps_writing_past_nul_bytes_and_a_refused_record() {
    let (store, db) = postgres().await;
    poison_run(
        store,
        "ALTER TABLE logs ADD CONSTRAINT no_poison CHECK (model_requested <> 'poison')",
    )
    .await;
    drop_pg(db).await;
}

#[tokio::test]
async fn sqlite_keeps_writing_past_nul_bytes_and_a_refused_record() {
    let (store, _dir) = sqlite().await;
    poison_run(
        store,
        "CREATE TRIGGER no_poison BEFORE INSERT ON logs WHEN NEW.model_requested = 'poison' \
         BEGIN SELECT RAISE(ABORT, 'poison record'); END",
    )
    .await;
}
