//! The three entry stores against one conformance suite: memory in process, Redis on
//! 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 (database `test`, trust auth).
//!
//! Why one suite: the plugin treats every backend alike, so they must agree on round trips,
//! expiry, replacement, the removals, `clear`, stats and (for the shared ones) the vector
//! feed other instances read. Each run uses its own Redis key prefix and table prefix and
//! cleans up after itself. A service that does not answer fails the test (CI runs with both),
//! unless `HEIMDALL_SKIP_SERVICE_TESTS=1`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use heimdall_cache::backend::memory::{MemoryBackend, entry_cost, now_ms};
use heimdall_cache::backend::postgres::PostgresBackend;
use heimdall_cache::backend::redis::RedisBackend;
use heimdall_cache::{CacheBackend, Entry};

const REDIS_URL: &str = "redis://127.0.0.1:6379/0";
const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PG_TEST_DB: &str = "test";
const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn skip_services() -> bool {
    std::env::var("HEIMDALL_SKIP_SERVICE_TESTS").is_ok_and(|v| v == "1")
}

/// A prefix no other run uses.
fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn entry(key: &str, namespace: &str, request_id: &str, vector: Option<Vec<f32>>) -> Entry {
    Entry {
        key: key.to_owned(),
        namespace: namespace.to_owned(),
        bucket: format!("bucket-{namespace}"),
        request_id: request_id.to_owned(),
        vector,
        body: Bytes::from(format!("body of {key}")),
        expires_at_ms: now_ms() + 60_000,
    }
}

/// A unit-ish vector that differs per `i` (values exact in f32).
fn vector(i: usize) -> Vec<f32> {
    (0..8).map(|j| (i * 8 + j) as f32 / 64.0).collect()
}

// ---- the shared suite ----------------------------------------------------------------------

/// Everything a backend must do; `shared` backends also announce vectors.
async fn conformance(b: &dyn CacheBackend, shared: bool) {
    assert_eq!(b.clear().await.unwrap(), 0, "{}: starts empty", b.name());
    round_trip(b).await;
    expiry(b).await;
    replace(b).await;
    removals(b).await;
    stats_and_clear(b).await;
    if shared {
        vector_feed(b).await;
    } else {
        let put = entry("v", "ns", "r", Some(vector(1)));
        b.put(put).await.unwrap();
        let (records, cursor) = b.vectors_since("", 100).await.unwrap();
        assert!(records.is_empty(), "a private backend announces nothing");
        assert_eq!(cursor, "");
        let (records, cursor) = b.vectors_since("42", 100).await.unwrap();
        assert!(records.is_empty());
        assert_eq!(cursor, "42", "the cursor comes back unchanged");
    }
    b.clear().await.unwrap();
}

async fn round_trip(b: &dyn CacheBackend) {
    let plain = entry("k-plain", "ns", "r-plain", None);
    let with_vector = entry("k-vec", "ns", "r-vec", Some(vector(3)));
    b.put(plain.clone()).await.unwrap();
    b.put(with_vector.clone()).await.unwrap();
    assert_eq!(b.get("k-plain").await.unwrap(), Some(plain), "{}", b.name());
    assert_eq!(
        b.get("k-vec").await.unwrap(),
        Some(with_vector),
        "{}",
        b.name()
    );
    assert_eq!(b.get("k-missing").await.unwrap(), None);
    // Binary bodies survive untouched.
    let mut binary = entry("k-bin", "ns", "r-bin", None);
    binary.body = Bytes::from_static(&[0, 159, 146, 150, 255, 0, 10]);
    b.put(binary.clone()).await.unwrap();
    assert_eq!(b.get("k-bin").await.unwrap(), Some(binary));
    b.clear().await.unwrap();
}

async fn expiry(b: &dyn CacheBackend) {
    let mut past = entry("k-past", "ns", "r-past", Some(vector(1)));
    past.expires_at_ms = now_ms() - 1_000;
    b.put(past).await.unwrap();
    assert_eq!(
        b.get("k-past").await.unwrap(),
        None,
        "{}: already expired",
        b.name()
    );

    let mut short = entry("k-short", "ns", "r-short", None);
    short.expires_at_ms = now_ms() + 300;
    b.put(short.clone()).await.unwrap();
    assert_eq!(b.get("k-short").await.unwrap(), Some(short));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        b.get("k-short").await.unwrap(),
        None,
        "{}: expired",
        b.name()
    );

    // An expired entry replacing a live one leaves nothing under the key.
    b.put(entry("k-live", "ns", "r-live", None)).await.unwrap();
    let mut expired = entry("k-live", "ns", "r-live", None);
    expired.expires_at_ms = now_ms() - 1;
    b.put(expired).await.unwrap();
    assert_eq!(b.get("k-live").await.unwrap(), None, "{}", b.name());
    b.clear().await.unwrap();
}

async fn replace(b: &dyn CacheBackend) {
    b.put(entry("k", "ns-old", "r-old", Some(vector(1))))
        .await
        .unwrap();
    let mut newer = entry("k", "ns-new", "r-new", None);
    newer.body = Bytes::from_static(b"the newer answer");
    b.put(newer.clone()).await.unwrap();
    assert_eq!(
        b.get("k").await.unwrap(),
        Some(newer.clone()),
        "{}",
        b.name()
    );
    // The replaced entry's cache key and request id no longer reach it.
    assert_eq!(
        b.remove_by_namespace("ns-old").await.unwrap(),
        0,
        "{}",
        b.name()
    );
    assert_eq!(
        b.remove_by_request("r-old").await.unwrap(),
        0,
        "{}",
        b.name()
    );
    assert_eq!(b.get("k").await.unwrap(), Some(newer));
    assert_eq!(b.stats().await.unwrap().entries, 1, "{}", b.name());
    b.clear().await.unwrap();
}

async fn removals(b: &dyn CacheBackend) {
    b.put(entry("a1", "ns-a", "r1", Some(vector(1))))
        .await
        .unwrap();
    b.put(entry("a2", "ns-a", "r2", None)).await.unwrap();
    b.put(entry("b1", "ns-b", "r3", None)).await.unwrap();

    assert_eq!(b.remove_by_request("r2").await.unwrap(), 1, "{}", b.name());
    assert_eq!(b.get("a2").await.unwrap(), None);
    assert_eq!(
        b.remove_by_request("r2").await.unwrap(),
        0,
        "{}: once",
        b.name()
    );
    assert_eq!(b.remove_by_request("r-unknown").await.unwrap(), 0);

    b.put(entry("a3", "ns-a", "r4", None)).await.unwrap();
    assert_eq!(
        b.remove_by_namespace("ns-a").await.unwrap(),
        2,
        "{}",
        b.name()
    );
    assert_eq!(b.get("a1").await.unwrap(), None);
    assert_eq!(b.get("a3").await.unwrap(), None);
    assert!(
        b.get("b1").await.unwrap().is_some(),
        "{}: other namespaces stay",
        b.name()
    );
    assert_eq!(b.remove_by_namespace("ns-a").await.unwrap(), 0);
    assert_eq!(b.remove_by_namespace("ns-unknown").await.unwrap(), 0);
    // Request ids of removed entries are forgotten with them.
    assert_eq!(b.remove_by_request("r1").await.unwrap(), 0, "{}", b.name());
    assert_eq!(b.remove_by_request("r3").await.unwrap(), 1, "{}", b.name());
    assert_eq!(b.stats().await.unwrap().entries, 0, "{}", b.name());
    b.clear().await.unwrap();
}

async fn stats_and_clear(b: &dyn CacheBackend) {
    assert_eq!(b.stats().await.unwrap().entries, 0, "{}", b.name());
    let entries = [
        entry("s1", "ns", "r1", None),
        entry("s2", "ns", "r2", Some(vector(2))),
        entry("s3", "other", "r3", None),
    ];
    let body_bytes: u64 = entries.iter().map(|e| e.body.len() as u64).sum();
    let cost: u64 = entries.iter().map(entry_cost).sum();
    for e in &entries {
        b.put(e.clone()).await.unwrap();
    }
    let stats = b.stats().await.unwrap();
    assert_eq!(stats.entries, 3, "{}", b.name());
    assert!(
        (body_bytes..=cost).contains(&stats.bytes),
        "{}: {} bytes, expected between the bodies ({body_bytes}) and the full cost ({cost})",
        b.name(),
        stats.bytes
    );
    assert_eq!(stats.evictions, 0);

    assert_eq!(b.clear().await.unwrap(), 3, "{}", b.name());
    for e in &entries {
        assert_eq!(b.get(&e.key).await.unwrap(), None);
    }
    assert_eq!(b.stats().await.unwrap().entries, 0);
    assert_eq!(b.stats().await.unwrap().bytes, 0);
    assert_eq!(b.remove_by_request("r1").await.unwrap(), 0);
    assert_eq!(b.remove_by_namespace("ns").await.unwrap(), 0);
    // Usable after a clear.
    b.put(entries[0].clone()).await.unwrap();
    assert_eq!(b.get("s1").await.unwrap(), Some(entries[0].clone()));
    assert_eq!(b.clear().await.unwrap(), 1);
}

async fn vector_feed(b: &dyn CacheBackend) {
    // Whatever came before this point (cleared entries, or stream entries a clear removed).
    let (_, mut cursor) = b.vectors_since("", 100_000).await.unwrap();
    let start = cursor.clone();
    let stored: Vec<Entry> = (0..5)
        .map(|i| entry(&format!("v{i}"), "ns", &format!("r{i}"), Some(vector(i))))
        .collect();
    for (i, e) in stored.iter().enumerate() {
        b.put(e.clone()).await.unwrap();
        if i == 2 {
            // No vector: not announced.
            b.put(entry("plain", "ns", "r-plain", None)).await.unwrap();
        }
    }
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (records, next) = b.vectors_since(&cursor, 2).await.unwrap();
        assert!(records.len() <= 2, "{}: the limit holds", b.name());
        if records.is_empty() {
            assert_eq!(next, cursor, "{}: nothing new, same cursor", b.name());
            break;
        }
        assert_ne!(next, cursor, "{}: the cursor moves", b.name());
        seen.extend(records);
        cursor = next;
        pages += 1;
        assert!(pages <= 10, "{}: the feed does not end", b.name());
    }
    assert_eq!(pages, 3, "{}: 5 vectors in pages of 2", b.name());
    let keys: Vec<&str> = seen.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(
        keys,
        ["v0", "v1", "v2", "v3", "v4"],
        "{}: in order",
        b.name()
    );
    for (record, e) in seen.iter().zip(&stored) {
        assert_eq!(Some(&record.vector), e.vector.as_ref());
        assert_eq!(record.bucket, e.bucket);
        assert_eq!(record.expires_at_ms, e.expires_at_ms);
    }

    // A replaced vector is announced again, after the cursor.
    let mut again = stored[1].clone();
    again.vector = Some(vector(9));
    b.put(again.clone()).await.unwrap();
    let (records, next) = b.vectors_since(&cursor, 100).await.unwrap();
    assert_eq!(records.len(), 1, "{}", b.name());
    assert_eq!(records[0].key, "v1");
    assert_eq!(Some(&records[0].vector), again.vector.as_ref());
    assert_ne!(next, cursor);

    // From the start cursor the whole feed is there again (a restarted reader catches up).
    let (records, _) = b.vectors_since(&start, 100).await.unwrap();
    assert!(records.len() >= 5, "{}", b.name());
    b.clear().await.unwrap();
}

// ---- memory --------------------------------------------------------------------------------

#[tokio::test]
async fn memory_conformance() {
    let b = MemoryBackend::new(1 << 20);
    conformance(&b, false).await;
}

#[tokio::test]
async fn memory_evicts_the_least_recently_used_by_bytes() {
    let one = entry_cost(&entry("k0", "ns", "r0", None));
    // Room for three entries of this size, not four.
    let b = MemoryBackend::new(one * 3 + one / 2);
    for i in 0..3 {
        b.put(entry(&format!("k{i}"), "ns", &format!("r{i}"), None))
            .await
            .unwrap();
    }
    assert_eq!(b.stats().await.unwrap().entries, 3);
    // Reading k0 makes k1 the least recently used.
    assert!(b.get("k0").await.unwrap().is_some());
    b.put(entry("k3", "ns", "r3", None)).await.unwrap();
    assert!(
        b.get("k1").await.unwrap().is_none(),
        "the least recently used goes"
    );
    for k in ["k0", "k2", "k3"] {
        assert!(b.get(k).await.unwrap().is_some(), "{k} stays");
    }
    let stats = b.stats().await.unwrap();
    assert_eq!(stats.entries, 3);
    assert_eq!(stats.evictions, 1);
    assert!(stats.bytes <= one * 3 + one / 2);
    // The evicted entry's indexes went with it.
    assert_eq!(b.remove_by_request("r1").await.unwrap(), 0);
    assert_eq!(b.remove_by_namespace("ns").await.unwrap(), 3);

    // A large entry evicts as many as it needs; one larger than the bound is not kept.
    for i in 0..3 {
        b.put(entry(&format!("k{i}"), "ns", &format!("r{i}"), None))
            .await
            .unwrap();
    }
    let mut big = entry("big", "ns", "r-big", None);
    big.body = Bytes::from(vec![b'x'; usize::try_from(one * 2).unwrap()]);
    b.put(big).await.unwrap();
    assert!(b.get("big").await.unwrap().is_some());
    assert_eq!(
        b.stats().await.unwrap().entries,
        1,
        "room made for the big one"
    );
    let mut huge = entry("huge", "ns", "r-huge", None);
    huge.body = Bytes::from(vec![b'x'; usize::try_from(one * 4).unwrap()]);
    b.put(huge).await.unwrap();
    assert!(
        b.get("huge").await.unwrap().is_none(),
        "larger than the bound"
    );
    assert!(
        b.get("big").await.unwrap().is_some(),
        "nothing evicted for it"
    );
}

#[tokio::test]
async fn memory_evicts_expired_entries_before_live_ones() {
    let one = entry_cost(&entry("k0", "ns", "r0", None));
    let b = MemoryBackend::new(one * 2 + one / 2);
    b.put(entry("old", "ns", "r-old", None)).await.unwrap();
    let mut short = entry("short", "ns", "r-short", None);
    short.expires_at_ms = now_ms() + 50;
    b.put(short).await.unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    b.put(entry("new", "ns", "r-new", None)).await.unwrap();
    assert!(
        b.get("old").await.unwrap().is_some(),
        "the expired one made room"
    );
    assert!(b.get("new").await.unwrap().is_some());
    assert_eq!(
        b.stats().await.unwrap().evictions,
        0,
        "dropping expired is not eviction"
    );
}

// ---- Redis ---------------------------------------------------------------------------------

/// A backend on a fresh prefix, or `None` when Redis is down and the skip is asked for.
async fn redis(prefix: &str) -> Option<RedisBackend> {
    let b = RedisBackend::connect(REDIS_URL, prefix).await.unwrap();
    match b.get("probe").await {
        Ok(_) => Some(b),
        Err(e) if skip_services() => {
            eprintln!("Redis unreachable ({e}); skipped (HEIMDALL_SKIP_SERVICE_TESTS=1)");
            None
        }
        Err(e) => panic!(
            "Redis on {REDIS_URL} is unreachable ({e}): start it (scripts/test.sh does), \
             or set HEIMDALL_SKIP_SERVICE_TESTS=1"
        ),
    }
}

/// The keys left under `prefix`.
async fn redis_keys(prefix: &str) -> Vec<String> {
    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn redis_conformance() {
    let prefix = format!("heimdall-test-{}:", unique());
    let Some(b) = redis(&prefix).await else {
        return;
    };
    conformance(&b, true).await;
    assert_eq!(b.clear().await.unwrap(), 0);
    assert_eq!(
        redis_keys(&prefix).await,
        Vec::<String>::new(),
        "clear leaves nothing"
    );
}

#[tokio::test]
async fn redis_instances_share_entries_and_vectors() {
    let prefix = format!("heimdall-test-{}:", unique());
    let Some(a) = redis(&prefix).await else {
        return;
    };
    let Some(b) = redis(&prefix).await else {
        return;
    };
    let e = entry("shared", "ns", "r1", Some(vector(4)));
    a.put(e.clone()).await.unwrap();
    assert_eq!(b.get("shared").await.unwrap(), Some(e.clone()));
    let (records, _) = b.vectors_since("", 10).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].key, "shared");
    assert_eq!(b.remove_by_request("r1").await.unwrap(), 1);
    assert_eq!(a.get("shared").await.unwrap(), None);
    // Glob characters in a prefix match only themselves in `clear`.
    let odd = format!("heimdall-test-{}*[x]:", unique());
    if let Some(c) = redis(&odd).await {
        c.put(entry("odd", "ns", "r", None)).await.unwrap();
        a.put(entry("mine", "ns", "r2", None)).await.unwrap();
        assert_eq!(c.clear().await.unwrap(), 1);
        assert!(
            a.get("mine").await.unwrap().is_some(),
            "another prefix untouched"
        );
    }
    a.clear().await.unwrap();
    assert_eq!(redis_keys(&prefix).await, Vec::<String>::new());
}

#[tokio::test]
async fn redis_down_fails_fast() {
    // Nothing listens on port 1.
    let b = RedisBackend::connect("redis://127.0.0.1:1/0", "heimdall-test:")
        .await
        .unwrap();
    let started = Instant::now();
    assert!(b.get("k").await.is_err());
    assert!(b.put(entry("k", "ns", "r", None)).await.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(RedisBackend::connect("not a url", "p:").await.is_err());
}

// ---- PostgreSQL ----------------------------------------------------------------------------

/// Create the `test` database when missing (a fresh CI machine has only `postgres`).
async fn ensure_test_database() -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(PG_ADMIN).await?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(PG_TEST_DB)
        .fetch_optional(&mut admin)
        .await?;
    if exists.is_none() {
        // Another test process may create it at the same time: its error is fine.
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {PG_TEST_DB}")))
            .execute(&mut admin)
            .await;
    }
    admin.close().await
}

/// A backend on a fresh table prefix, or `None` when PostgreSQL is down and the skip is asked
/// for.
async fn postgres(prefix: &str) -> Option<PostgresBackend> {
    let ready = match ensure_test_database().await {
        Ok(()) => PostgresBackend::connect(PG_URL, prefix).await,
        Err(e) => Err(heimdall_cache::BackendError(e.to_string())),
    };
    match ready {
        Ok(b) => Some(b),
        Err(e) if skip_services() => {
            eprintln!("PostgreSQL unreachable ({e}); skipped (HEIMDALL_SKIP_SERVICE_TESTS=1)");
            None
        }
        Err(e) => panic!(
            "PostgreSQL on {PG_URL} is unreachable ({e}): start it (scripts/test.sh does), \
             or set HEIMDALL_SKIP_SERVICE_TESTS=1"
        ),
    }
}

async fn drop_table(prefix: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(PG_URL).await.unwrap();
    for sql in [
        format!("DROP TABLE IF EXISTS {prefix}cache_entries"),
        format!("DROP SEQUENCE IF EXISTS {prefix}cache_entries_seq"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn.close().await.unwrap();
}

fn pg_prefix() -> String {
    format!("heimdall_test_{}_", unique())
}

#[tokio::test]
async fn postgres_conformance() {
    let prefix = pg_prefix();
    let Some(b) = postgres(&prefix).await else {
        return;
    };
    conformance(&b, true).await;
    // Expired rows are purged on demand (and from `put`, at most once a minute).
    let mut gone = entry("gone", "ns", "r", None);
    gone.expires_at_ms = now_ms() - 1;
    b.put(gone).await.unwrap();
    b.put(entry("kept", "ns", "r2", None)).await.unwrap();
    assert_eq!(b.purge_expired().await.unwrap(), 1);
    assert!(b.get("kept").await.unwrap().is_some());
    drop_table(&prefix).await;
}

#[tokio::test]
async fn postgres_instances_start_together_and_share() {
    let prefix = pg_prefix();
    // Three instances creating the table at once: the advisory lock lets one create it.
    let (a, b, c) = tokio::join!(postgres(&prefix), postgres(&prefix), postgres(&prefix));
    let (Some(a), Some(b), Some(_c)) = (a, b, c) else {
        return;
    };
    let e = entry("shared", "ns", "r1", Some(vector(4)));
    a.put(e.clone()).await.unwrap();
    assert_eq!(b.get("shared").await.unwrap(), Some(e));
    let (records, cursor) = b.vectors_since("", 10).await.unwrap();
    assert_eq!(records.len(), 1);
    assert!(b.vectors_since(&cursor, 10).await.unwrap().0.is_empty());
    assert!(b.vectors_since("not a number", 10).await.is_err());
    assert_eq!(b.remove_by_namespace("ns").await.unwrap(), 1);
    assert_eq!(a.get("shared").await.unwrap(), None);
    drop_table(&prefix).await;
}

#[tokio::test]
async fn postgres_rejects_an_unsafe_table_prefix_and_a_dead_server() {
    assert!(
        PostgresBackend::connect(PG_URL, "x; DROP TABLE y; --")
            .await
            .is_err()
    );
    let started = Instant::now();
    let dead = PostgresBackend::connect("postgres://postgres@127.0.0.1:1/test", "heimdall_").await;
    let Err(e) = dead else {
        panic!("nothing listens on port 1")
    };
    assert!(e.to_string().contains("cannot connect"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}
