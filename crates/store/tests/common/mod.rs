//! Shared test setup: a fresh SQLite file or a fresh PostgreSQL database per test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use heimdall_store::{LogRecord, LogStore, TrailEntry};

/// The PostgreSQL server tests use (this machine: trust auth on loopback).
pub fn pg_admin_url() -> String {
    std::env::var("HEIMDALL_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A store in a new SQLite file (kept alive by the returned dir).
pub async fn sqlite() -> (LogStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("logs.db").display());
    (LogStore::connect(&url).await.unwrap(), dir)
}

/// A store in a new PostgreSQL database, dropped by [`PgDb`]'s owner at the end.
pub struct PgDb {
    pub name: String,
    pub url: String,
}

pub async fn postgres() -> (LogStore, PgDb) {
    let name = format!("heimdall_test_{}", uuid::Uuid::new_v4().simple());
    let admin = LogStore::admin(&pg_admin_url()).await.unwrap();
    admin
        .execute_raw(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    admin.close().await;
    let base = pg_admin_url();
    let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
    let store = LogStore::connect(&url).await.unwrap();
    (store, PgDb { name, url })
}

/// Drop a test database.
pub async fn drop_pg(db: PgDb) {
    let admin = LogStore::admin(&pg_admin_url()).await.unwrap();
    admin
        .execute_raw(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.name))
        .await
        .unwrap();
    admin.close().await;
}

pub fn record(i: usize) -> LogRecord {
    let provider = ["openai", "anthropic", "gemini"][i % 3];
    let ok = !i.is_multiple_of(5);
    LogRecord {
        id: format!("req-{i:06}"),
        timestamp_ms: 1_700_000_000_000 + i as i64 * 1000,
        route: "openai".into(),
        operation: "chat".into(),
        provider: Some(provider.into()),
        model_requested: format!("{provider}/model-{}", i % 2),
        model: Some(format!("model-{}", i % 2)),
        key_name: Some("k1".into()),
        virtual_key_id: i.is_multiple_of(4).then(|| "vk-1".to_owned()),
        status: if ok { 200 } else { 503 },
        success: ok,
        error_type: (!ok).then(|| "upstream_server".to_owned()),
        error: (!ok).then(|| "provider down".to_owned()),
        stream: i % 2 == 1,
        ttft_ms: (i % 2 == 1).then_some(12.5),
        latency_ms: 10.0 + i as f64,
        overhead_ms: 0.2,
        prompt_tokens: 10,
        completion_tokens: i as i64,
        total_tokens: 10 + i as i64,
        cost: ok.then_some(0.001 * i as f64),
        attempts: 1,
        trail: vec![TrailEntry {
            provider: provider.into(),
            model: format!("model-{}", i % 2),
            key_name: Some("k1".into()),
            status: if ok { 200 } else { 503 },
            error: None,
            latency_ms: 9.0,
        }],
        finish_reason: ok.then(|| "stop".to_owned()),
        input: Some(format!(
            r#"[{{"role":"user","content":"question number {i}"}}]"#
        )),
        output: ok.then(|| format!("answer {i}")),
        ..LogRecord::default()
    }
}
