//! A SQLite file deleted under the running writer (its app dir removed): records written after
//! that would go to an unlinked inode and be lost while counted as written. The writer notices
//! and holds them as failed writes instead: `written` stops, `failing` is set, and what does
//! not fit the queue is counted as dropped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use heimdall_config::LogsStoreConfig;
use heimdall_store::LogWriter;

#[tokio::test]
async fn records_after_the_file_is_deleted_are_not_counted_as_written() {
    let (store, dir) = sqlite().await;
    let (writer, _task) = LogWriter::start(
        store,
        &LogsStoreConfig {
            batch_size: 5,
            flush_interval_ms: 10,
            max_pending: 20,
            writer_priority: heimdall_config::WriterPriority::Normal,
            ..LogsStoreConfig::default()
        },
    );
    let s = writer.stats();
    for i in 0..10 {
        writer.log(record(i));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.written.load(Ordering::Relaxed) < 10 {
        assert!(Instant::now() < deadline, "first records not written");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    std::fs::remove_dir_all(dir.path()).unwrap();
    for i in 10..50 {
        writer.log(record(i));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.failing.load(Ordering::Relaxed) {
        assert!(Instant::now() < deadline, "the deletion went unnoticed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        s.written.load(Ordering::Relaxed),
        10,
        "nothing written into a deleted file"
    );
    assert_eq!(
        s.dropped.load(Ordering::Relaxed) + writer.pending(),
        40,
        "every later record is held or counted as dropped"
    );
    assert!(
        s.last_error()
            .unwrap_or_default()
            .contains("deleted or replaced")
    );
}
