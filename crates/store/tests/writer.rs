//! The log writer's own thread: records reach the database, and on Linux the thread (and the
//! SQLite threads it starts) runs at the configured lower CPU priority.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use heimdall_config::{LogsStoreConfig, WriterPriority};
use heimdall_store::LogWriter;

/// Scheduling policy (field 41 of `/proc/<tid>/stat`) of this process's threads named `name`.
#[cfg(target_os = "linux")]
fn policies_of(prefix: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !comm.trim().starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).unwrap();
        // Fields after the `(comm)`: state is field 3, so policy (41) is index 38.
        let rest = stat.rsplit(')').next().unwrap();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        out.push(fields[38].parse().unwrap());
    }
    out
}

/// The writer thread runs at `SCHED_IDLE`. Only the policy is checked: whether an idle thread
/// gets the CPU soon depends on the machine (a saturated CI runner may starve it).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_writer_thread_runs_at_idle_priority() {
    let (store, _dir) = sqlite().await;
    let cfg = LogsStoreConfig {
        writer_priority: WriterPriority::Idle,
        ..LogsStoreConfig::default()
    };
    let (writer, _task) = LogWriter::start(store, &cfg);
    const SCHED_IDLE: u32 = 5;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let policies = policies_of("heimdall-log-wr");
        if !policies.is_empty() && policies.contains(&SCHED_IDLE) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no writer thread at SCHED_IDLE: {policies:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    writer.shutdown();
}

/// Records reach the database from the writer's thread, and shutdown drains it.
#[tokio::test]
async fn writes_from_its_own_thread() {
    let (store, _dir) = sqlite().await;
    let cfg = LogsStoreConfig {
        batch_size: 50,
        flush_interval_ms: 10,
        writer_priority: WriterPriority::Normal,
        ..LogsStoreConfig::default()
    };
    let (writer, task) = LogWriter::start(store.clone(), &cfg);
    for i in 0..120 {
        assert!(writer.log(record(i)));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store.count().await.unwrap() < 120 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "records not written"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    writer.shutdown();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the writer drains and stops")
        .unwrap();
    assert_eq!(store.count().await.unwrap(), 120);
}

#[tokio::test]
async fn shutdown_writes_what_is_queued() {
    let (store, _dir) = sqlite().await;
    let cfg = LogsStoreConfig {
        batch_size: 1000,
        // Longer than the test: only the shutdown drain can write these.
        flush_interval_ms: 60_000,
        writer_priority: WriterPriority::Normal,
        ..LogsStoreConfig::default()
    };
    let (writer, task) = LogWriter::start(store.clone(), &cfg);
    for i in 0..30 {
        assert!(writer.log(record(i)));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    writer.shutdown();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the writer drains and stops")
        .unwrap();
    assert_eq!(store.count().await.unwrap(), 30);
}

#[tokio::test]
async fn the_query_api_reads_through_its_own_pool_once_the_writer_opened_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogsStoreConfig {
        batch_size: 50,
        flush_interval_ms: 10,
        // The fixtures are dated 2023: retention would delete them as soon as the store opens.
        retention_days: 0,
        writer_priority: WriterPriority::Normal,
        ..LogsStoreConfig::default()
    };
    let (writer, task) = LogWriter::connect(&cfg, dir.path().to_path_buf());
    // (Normal priority: this test is about the reader pool; on a saturated CI machine an idle
    // writer may not get the CPU within the deadline.)
    for i in 0..40 {
        assert!(writer.log(record(i)));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(reader) = writer.reader().await
            && reader.count().await.unwrap() == 40
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "records not readable"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    writer.shutdown();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the writer drains and stops")
        .unwrap();
}
