//! The config store against real databases: a SQLite file and the PostgreSQL server on this
//! machine (a fresh database per test). Same assertions for both; notifications on PostgreSQL.
// Tests may panic, and spawn with tokio directly (heimdall_core's named spawn is not a
// dependency of this crate).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use heimdall_config::LogsStoreKind;
use heimdall_store::{
    AppendError, ConfigStore, LogStore, NewVersion, TokenRow, listen_config_changes,
};
use tokio_util::sync::CancellationToken;

async fn sqlite_config() -> (ConfigStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("config.db").display()
    );
    (ConfigStore::open(&url).await.unwrap(), dir)
}

/// A fresh PostgreSQL database with both the log store and the config store in it (they must
/// not collide), and the config store on it.
async fn pg_config() -> (ConfigStore, PgDb) {
    let (logs, db) = postgres().await;
    logs.close().await;
    let store = ConfigStore::open(&db.url).await.unwrap();
    // Opening again migrates nothing and fails nothing; the log store still opens.
    ConfigStore::open(&db.url).await.unwrap().close().await;
    LogStore::connect(&db.url).await.unwrap().close().await;
    (store, db)
}

fn version<'a>(parent: i64, document: &'a str) -> NewVersion<'a> {
    NewVersion {
        parent,
        actor: "admin",
        source: "test",
        summary: "a change",
        diff: r#"{"op":"replace"}"#,
        document,
        created_at_ms: 1_700_000_000_000 + parent,
    }
}

async fn versions(store: &ConfigStore) {
    assert!(store.latest().await.unwrap().is_none());
    assert_eq!(store.list(10, 0).await.unwrap(), (vec![], 0));
    assert_eq!(store.append(&version(0, r#"{"v":1}"#)).await.unwrap(), 1);

    // A stale parent (or one from the future) writes nothing.
    for parent in [0, 5] {
        match store.append(&version(parent, r#"{"stale":true}"#)).await {
            Err(AppendError::Conflict { latest }) => assert_eq!(latest, 1),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    assert_eq!(store.list(10, 0).await.unwrap().1, 1);

    assert_eq!(store.append(&version(1, r#"{"v":2}"#)).await.unwrap(), 2);
    assert_eq!(store.append(&version(2, r#"{"v":3}"#)).await.unwrap(), 3);

    let latest = store.latest().await.unwrap().unwrap();
    assert_eq!(latest.version, 3);
    assert_eq!(latest.document, r#"{"v":3}"#);
    assert_eq!(latest.actor, "admin");
    assert_eq!(latest.created_at_ms, 1_700_000_000_002);

    let first = store.get(1).await.unwrap().unwrap();
    assert_eq!(first.document, r#"{"v":1}"#);
    assert_eq!(first.diff, r#"{"op":"replace"}"#);
    assert!(store.get(4).await.unwrap().is_none());

    let (page, total) = store.list(2, 0).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        page.iter().map(|m| m.version).collect::<Vec<_>>(),
        vec![3, 2]
    );
    let (page, total) = store.list(2, 2).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(page.iter().map(|m| m.version).collect::<Vec<_>>(), vec![1]);
    let json = serde_json::to_value(&page[0]).unwrap();
    assert_eq!(json["version"], 1);
    assert!(json.get("document").is_none());

    // Racing appends on the same parent: exactly one wins, the others see a conflict.
    let racers = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            let doc = format!(r#"{{"racer":{i}}}"#);
            store.append(&version(3, &doc)).await
        })
    });
    let mut won = 0;
    for r in racers {
        match r.await.unwrap() {
            Ok(v) => {
                assert_eq!(v, 4);
                won += 1;
            }
            Err(AppendError::Conflict { latest }) => assert_eq!(latest, 4),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(store.list(100, 0).await.unwrap().1, 4);
}

async fn credentials(store: &ConfigStore) {
    // Admins.
    assert_eq!(store.count_admins().await.unwrap(), 0);
    assert!(store.create_admin("root", "hash-1").await.unwrap());
    assert!(!store.create_admin("root", "hash-2").await.unwrap());
    assert_eq!(store.count_admins().await.unwrap(), 1);
    assert_eq!(
        store.admin_hash("root").await.unwrap().as_deref(),
        Some("hash-1")
    );
    assert!(store.admin_hash("nobody").await.unwrap().is_none());

    // Tokens.
    let t1 = TokenRow {
        id: "tok-1".into(),
        name: "ci".into(),
        token_hash: "aa".repeat(32),
        scopes: vec!["config:read".into(), "config:write".into()],
        last4: "wxyz".into(),
        created_at_ms: 1,
        expires_at_ms: None,
    };
    let t2 = TokenRow {
        id: "tok-2".into(),
        name: "deploy".into(),
        token_hash: "bb".repeat(32),
        scopes: vec![],
        last4: "abcd".into(),
        created_at_ms: 2,
        expires_at_ms: Some(9_999),
    };
    store.create_token(&t1).await.unwrap();
    store.create_token(&t2).await.unwrap();
    // The same hash again is refused.
    let dup = TokenRow {
        id: "tok-3".into(),
        ..t1.clone()
    };
    assert!(store.create_token(&dup).await.is_err());
    assert_eq!(store.count_tokens().await.unwrap(), 2);
    assert_eq!(
        store.list_tokens().await.unwrap(),
        vec![t1.clone(), t2.clone()]
    );
    assert_eq!(
        store.token_by_hash(&t2.token_hash).await.unwrap(),
        Some(t2.clone())
    );
    assert!(store.token_by_hash("cc").await.unwrap().is_none());
    assert!(store.delete_token("tok-1").await.unwrap());
    assert!(!store.delete_token("tok-1").await.unwrap());
    assert!(store.token_by_hash(&t1.token_hash).await.unwrap().is_none());
    assert_eq!(store.count_tokens().await.unwrap(), 1);

    // Sessions.
    store.create_session("s1", "root", 1_000).await.unwrap();
    store.create_session("s2", "root", 5_000).await.unwrap();
    assert_eq!(
        store.session_user("s1", 999).await.unwrap().as_deref(),
        Some("root")
    );
    assert!(store.session_user("s1", 1_000).await.unwrap().is_none());
    assert!(store.session_user("missing", 0).await.unwrap().is_none());
    assert_eq!(store.purge_sessions(1_000).await.unwrap(), 1);
    store.delete_session("s2").await.unwrap();
    store.delete_session("s2").await.unwrap();
    assert!(store.session_user("s2", 0).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_versions() {
    let (store, _dir) = sqlite_config().await;
    assert_eq!(store.kind(), LogsStoreKind::Sqlite);
    assert!(!store.url_is_postgres());
    versions(&store).await;
    store.notify(4).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_credentials() {
    let (store, _dir) = sqlite_config().await;
    credentials(&store).await;
}

/// Two stores on one SQLite file (as two processes would be) race on the same parent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_stores_race() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("config.db").display()
    );
    let a = ConfigStore::open(&url).await.unwrap();
    let b = ConfigStore::open(&url).await.unwrap();
    let (va, vb) = (version(0, r#"{"by":"a"}"#), version(0, r#"{"by":"b"}"#));
    let (ra, rb) = tokio::join!(a.append(&va), b.append(&vb));
    assert_eq!(ra.is_ok() as u8 + rb.is_ok() as u8, 1, "{ra:?} {rb:?}");
    assert_eq!(a.list(10, 0).await.unwrap().1, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_versions() {
    let (store, db) = pg_config().await;
    assert_eq!(store.kind(), LogsStoreKind::Postgres);
    assert!(store.url_is_postgres());
    versions(&store).await;
    store.close().await;
    drop_pg(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_credentials() {
    let (store, db) = pg_config().await;
    credentials(&store).await;
    store.close().await;
    drop_pg(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_notify_reaches_listener() {
    let (store, db) = pg_config().await;
    let seen = Arc::new(Mutex::new(Vec::<i64>::new()));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stop = CancellationToken::new();
    let listener = tokio::spawn(listen_config_changes(
        db.url.clone(),
        {
            let seen = seen.clone();
            move |v| {
                seen.lock().unwrap().push(v);
                let _ = tx.send(v);
            }
        },
        stop.clone(),
    ));

    // Nothing stored yet: the catch-up after connecting reports nothing. Notify until the
    // listener is up (its LISTEN races with the first notification), then time one.
    let mut up = false;
    for _ in 0..50 {
        store.notify(41).await.unwrap();
        if tokio::time::timeout(Duration::from_millis(100), rx.recv())
            .await
            .is_ok()
        {
            up = true;
            break;
        }
    }
    assert!(up, "the listener never heard a notification");

    let start = std::time::Instant::now();
    store.notify(42).await.unwrap();
    loop {
        let v = tokio::time::timeout(Duration::from_secs(1), rx.recv())
            .await
            .expect("notification within 1 s")
            .unwrap();
        if v == 42 {
            break;
        }
        assert_eq!(v, 41, "only the warm-up notifications come before");
    }
    assert!(start.elapsed() < Duration::from_secs(1));

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), listener)
        .await
        .expect("listener stops when cancelled")
        .unwrap();
    assert!(seen.lock().unwrap().contains(&42));
    store.close().await;
    drop_pg(db).await;
}

/// After (re)connecting, the listener reports the latest stored version: changes announced
/// while it was away are not lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_listener_reports_latest_on_connect() {
    let (store, db) = pg_config().await;
    store.append(&version(0, "{}")).await.unwrap();
    store.append(&version(1, "{}")).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stop = CancellationToken::new();
    let listener = tokio::spawn(listen_config_changes(
        db.url.clone(),
        move |v| {
            let _ = tx.send(v);
        },
        stop.clone(),
    ));
    let v = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v, 2);
    stop.cancel();
    listener.await.unwrap();
    store.close().await;
    drop_pg(db).await;
}

/// An unreachable server: the listener keeps retrying and still stops when told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_stops_while_retrying() {
    let stop = CancellationToken::new();
    let listener = tokio::spawn(listen_config_changes(
        "postgres://postgres@127.0.0.1:1/none".to_owned(),
        |_| {},
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!listener.is_finished());
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(2), listener)
        .await
        .unwrap()
        .unwrap();
}

/// A listener whose connection is killed reconnects and reports the latest version, which it
/// had not heard of.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_listener_reconnects() {
    let (store, db) = pg_config().await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stop = CancellationToken::new();
    let listener = tokio::spawn(listen_config_changes(
        db.url.clone(),
        move |v| {
            let _ = tx.send(v);
        },
        stop.clone(),
    ));
    // Wait until it listens.
    let mut up = false;
    for _ in 0..50 {
        store.notify(7).await.unwrap();
        if tokio::time::timeout(Duration::from_millis(100), rx.recv())
            .await
            .is_ok()
        {
            up = true;
            break;
        }
    }
    assert!(up, "the listener never heard a notification");

    // A version written without a notification, so only a catch-up can report it.
    let v = store.append(&version(0, "{}")).await.unwrap();
    let admin = LogStore::admin(&pg_admin_url()).await.unwrap();
    admin
        .execute_raw(&format!(
            "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity \
             WHERE datname = '{}' AND pid <> pg_backend_pid()",
            db.name
        ))
        .await
        .unwrap();
    admin.close().await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("the unannounced version is reported after reconnecting")
            .unwrap();
        if got == v {
            break;
        }
    }
    stop.cancel();
    listener.await.unwrap();
    store.close().await;
    drop_pg(db).await;
}
