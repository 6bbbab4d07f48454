//! The record store never lies: while the SQLite files cannot be written (made immutable with
//! `chattr +i`, which stops root too — `chmod` does not), records are kept and retried, never
//! counted as written; `/health` says `degraded`; once the files are writable again every
//! record is written or counted as dropped, and `/health` is `ok` again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

fn chattr(flag: &str, dir: &Path) {
    // Not the -shm file: SQLite maps it into memory, and a mapped page that cannot be written
    // is a SIGBUS, not an error.
    for name in ["logs.db", "logs.db-wal"] {
        let path = dir.join(name);
        if path.exists() {
            let out = std::process::Command::new("chattr")
                .arg(flag)
                .arg(&path)
                .output()
                .expect("chattr (e2fsprogs) is needed for this test");
            assert!(
                out.status.success(),
                "chattr {flag} {}: {out:?}",
                path.display()
            );
        }
    }
}

/// Undo `chattr +i` even when an assertion fails, so the temp dir can be removed.
struct Writable<'a>(&'a Path);

impl Drop for Writable<'_> {
    fn drop(&mut self) {
        chattr("-i", self.0);
    }
}

async fn health(h: &Harness) -> Value {
    serde_json::from_str(&h.get_text("/health").await).unwrap()
}

async fn ask(h: &Harness, n: usize) {
    for _ in 0..n {
        let r = h
            .chat(json!({"model": "mock/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
            .await;
        assert_eq!(r.status().as_u16(), 200);
    }
}

#[tokio::test]
async fn an_unwritable_sqlite_file_degrades_health_and_loses_nothing_silently() {
    let (h, store, writer, dir) = start_logged(40).await;
    let s = writer.stats();
    ask(&h, 10).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.written.load(Ordering::Relaxed) < 10 {
        assert!(Instant::now() < deadline, "first records not written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(health(&h).await["status"], "ok");

    chattr("+i", dir.path());
    let guard = Writable(dir.path());
    ask(&h, 100).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.failing.load(Ordering::Relaxed) {
        assert!(Instant::now() < deadline, "writes did not fail");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let degraded = health(&h).await;
    assert_eq!(degraded["status"], "degraded", "{degraded}");
    assert_eq!(degraded["log_store"]["status"], "failing");
    let written_while_failing = s.written.load(Ordering::Relaxed);
    assert!(
        written_while_failing < 110,
        "records counted as written while the file was immutable"
    );

    drop(guard);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let accounted = s.written.load(Ordering::Relaxed) + s.dropped.load(Ordering::Relaxed);
        if accounted >= 110 && writer.pending() == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "written {} dropped {} pending {} error {:?}",
            s.written.load(Ordering::Relaxed),
            s.dropped.load(Ordering::Relaxed),
            writer.pending(),
            s.last_error()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let written = s.written.load(Ordering::Relaxed);
    let dropped = s.dropped.load(Ordering::Relaxed);
    assert_eq!(
        written + dropped,
        110,
        "every record written or counted as dropped"
    );
    assert!(dropped > 0, "the 40-record queue overflowed meanwhile");
    assert_eq!(
        store.count().await.unwrap() as u64,
        written,
        "the count is the truth"
    );
    assert_eq!(health(&h).await["status"], "ok");
}
