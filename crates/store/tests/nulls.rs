//! A record with every optional field empty (a request refused before any provider) writes
//! and reads back on both databases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use heimdall_store::{LogRecord, LogStore};

fn bare() -> LogRecord {
    LogRecord {
        id: "bare-1".into(),
        timestamp_ms: 1,
        route: "openai".into(),
        operation: "chat".into(),
        model_requested: "nope/model".into(),
        status: 404,
        error_type: Some("model_not_found".into()),
        error: Some("model 'nope/model' is not served: \"quoted\" ' and ünïcode".into()),
        ..LogRecord::default()
    }
}

async fn round_trip(store: &LogStore) {
    store.insert(&[bare()]).await.unwrap();
    assert_eq!(store.get("bare-1").await.unwrap().unwrap(), bare());
    // The same statement shape again with values where the first call had NULLs.
    let full = LogRecord {
        id: "full-1".into(),
        ttft_ms: Some(3.5),
        cost: Some(0.25),
        provider: Some("p".into()),
        ..bare()
    };
    store.insert(std::slice::from_ref(&full)).await.unwrap();
    assert_eq!(store.get("full-1").await.unwrap().unwrap(), full);
}

#[tokio::test]
async fn empty_fields_round_trip_on_sqlite() {
    let (store, _dir) = sqlite().await;
    round_trip(&store).await;
}

#[tokio::test]
async fn empty_fields_round_trip_on_postgres() {
    let (store, db) = postgres().await;
    round_trip(&store).await;
    store.close().await;
    drop_pg(db).await;
}
