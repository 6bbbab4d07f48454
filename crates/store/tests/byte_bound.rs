//! The writer's queue is bounded in bytes as well as records: with the store unreachable,
//! 16 KB prompts stop being queued at the byte bound (and are counted as dropped), well before
//! the record bound.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::Ordering;

use common::*;
use heimdall_config::{LogsStoreConfig, LogsStoreKind};
use heimdall_store::LogWriter;

#[tokio::test]
async fn sixteen_kb_prompts_stop_at_the_byte_bound() {
    let cfg = LogsStoreConfig {
        kind: LogsStoreKind::Postgres,
        host: "127.0.0.1".into(),
        // Nothing listens here: the store never opens and every record waits.
        port: 1,
        max_pending: 50_000,
        max_pending_bytes: 4 * 1024 * 1024,
        writer_priority: heimdall_config::WriterPriority::Normal,
        ..LogsStoreConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let (writer, _task) = LogWriter::connect(&cfg, dir.path().to_path_buf());
    let prompt = "p".repeat(16 * 1024);
    let mut accepted = 0u64;
    for i in 0..2_000 {
        let mut r = record(i);
        r.input = Some(prompt.clone());
        if writer.log(r) {
            accepted += 1;
        }
    }
    let s = writer.stats();
    let held = s.pending_bytes.load(Ordering::Relaxed);
    assert!(held <= 4 * 1024 * 1024, "held {held} bytes");
    assert!(
        (200..=260).contains(&accepted),
        "about 4 MB / 16 KB records accepted, got {accepted}"
    );
    assert_eq!(s.dropped.load(Ordering::Relaxed), 2_000 - accepted);
}
