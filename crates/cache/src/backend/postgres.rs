//! The PostgreSQL backend: entries in one table, shared by every instance on the database.
//!
//! Why a sequence column: vectors cannot be searched in this PostgreSQL (no pgvector), so each
//! instance keeps an in-process index and reads the vectors stored since its last look
//! (`seq > cursor`); a replaced entry takes a fresh number, so it is announced again. Expired
//! rows are ignored on read and purged at most once a minute (in the background of a `put`).
//!
//! Known gap: sequence numbers are taken before commit, so two writers can commit out of
//! order; a reader looking between the two commits moves its cursor past the later-committed
//! lower number and never sees that vector. The entry itself is stored and served by the exact
//! tier; only the semantic tier of other instances misses it until it is stored again. Closing
//! the gap would mean serialising readers with every writer (an advisory lock), which costs
//! more than the rare missed vector.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::memory::now_ms;
use super::{
    BackendError, BackendStats, CacheBackend, Entry, VectorRecord, vector_bytes, vector_of,
};

/// Purge expired rows at most this often.
const PURGE_EVERY_MS: i64 = 60_000;
/// Pool bounds: a cache needs few connections, and must not wait long for one.
const MAX_CONNECTIONS: u32 = 4;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Entries in PostgreSQL.
pub struct PostgresBackend {
    pool: PgPool,
    /// `{prefix}cache_entries`.
    table: String,
    /// `{prefix}cache_entries_seq`.
    sequence: String,
    last_purge_ms: AtomicI64,
}

fn err(e: impl std::fmt::Display) -> BackendError {
    BackendError(format!("postgres: {e}"))
}

/// What went wrong connecting, without the DSN (it may hold a password).
fn connect_error(e: &sqlx::Error) -> BackendError {
    let why = match e {
        sqlx::Error::Io(io) => format!("io: {io}"),
        sqlx::Error::Tls(_) => "tls".to_owned(),
        sqlx::Error::PoolTimedOut => "timed out".to_owned(),
        sqlx::Error::Database(db) => format!("refused by the server: {}", db.message()),
        sqlx::Error::Configuration(_) => "invalid DSN".to_owned(),
        _ => "error".to_owned(),
    };
    err(format!("cannot connect ({why})"))
}

impl PostgresBackend {
    /// Connect to `dsn` and create the table (`{table_prefix}cache_entries`) when missing.
    /// The prefix goes into SQL unquoted: ASCII letters, digits and `_` only.
    pub async fn connect(dsn: &str, table_prefix: &str) -> Result<Self, BackendError> {
        if !table_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
            || table_prefix.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(err(format!(
                "table prefix {table_prefix:?} must be ASCII letters, digits and `_`"
            )));
        }
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(dsn)
            .await
            .map_err(|e| connect_error(&e))?;
        let backend = Self {
            pool,
            table: format!("{table_prefix}cache_entries"),
            sequence: format!("{table_prefix}cache_entries_seq"),
            last_purge_ms: AtomicI64::new(0),
        };
        backend.migrate().await?;
        Ok(backend)
    }

    async fn migrate(&self) -> Result<(), BackendError> {
        let (t, s) = (&self.table, &self.sequence);
        let mut tx = self.pool.begin().await.map_err(err)?;
        // Several instances may start at once: one creates, the others wait (concurrent
        // `CREATE … IF NOT EXISTS` can still collide in the catalog).
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(t)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        for statement in [
            format!("CREATE SEQUENCE IF NOT EXISTS {s}"),
            format!(
                "CREATE TABLE IF NOT EXISTS {t} (key TEXT PRIMARY KEY, namespace TEXT NOT NULL, \
                 bucket TEXT NOT NULL, request_id TEXT NOT NULL, vector BYTEA, \
                 body BYTEA NOT NULL, expires_at_ms BIGINT NOT NULL, seq BIGINT NOT NULL)"
            ),
            format!("CREATE INDEX IF NOT EXISTS {t}_ns ON {t} (namespace)"),
            format!("CREATE INDEX IF NOT EXISTS {t}_req ON {t} (request_id)"),
            format!("CREATE INDEX IF NOT EXISTS {t}_seq ON {t} (seq)"),
            format!("CREATE INDEX IF NOT EXISTS {t}_exp ON {t} (expires_at_ms)"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)
    }

    /// Delete the rows expired now; returns how many.
    pub async fn purge_expired(&self) -> Result<u64, BackendError> {
        purge(&self.pool, &self.table, now_ms()).await
    }

    /// Purge in the background when the last purge is a minute old (one caller wins).
    fn purge_if_due(&self, now: i64) {
        let last = self.last_purge_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) < PURGE_EVERY_MS
            || self
                .last_purge_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let (pool, table) = (self.pool.clone(), self.table.clone());
        drop(heimdall_core::task::spawn("cache-purge", async move {
            if let Err(e) = purge(&pool, &table, now).await {
                tracing::debug!(error = %e, "cache: purge of expired entries failed");
            }
        }));
    }
}

async fn purge(pool: &PgPool, table: &str, now: i64) -> Result<u64, BackendError> {
    let sql = format!("DELETE FROM {table} WHERE expires_at_ms <= $1");
    let r = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .execute(pool)
        .await
        .map_err(err)?;
    Ok(r.rows_affected())
}

#[async_trait]
impl CacheBackend for PostgresBackend {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, BackendError> {
        let sql = format!(
            "SELECT namespace, bucket, request_id, vector, body, expires_at_ms FROM {} \
             WHERE key = $1 AND expires_at_ms > $2",
            self.table
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(now_ms())
            .fetch_optional(&self.pool)
            .await
            .map_err(err)?;
        let Some(row) = row else { return Ok(None) };
        let vector: Option<Vec<u8>> = row.try_get("vector").map_err(err)?;
        let body: Vec<u8> = row.try_get("body").map_err(err)?;
        Ok(Some(Entry {
            key: key.to_owned(),
            namespace: row.try_get("namespace").map_err(err)?,
            bucket: row.try_get("bucket").map_err(err)?,
            request_id: row.try_get("request_id").map_err(err)?,
            vector: vector.as_deref().and_then(vector_of),
            body: body.into(),
            expires_at_ms: row.try_get("expires_at_ms").map_err(err)?,
        }))
    }

    async fn put(&self, entry: Entry) -> Result<(), BackendError> {
        let sql = format!(
            "INSERT INTO {t} (key, namespace, bucket, request_id, vector, body, expires_at_ms, seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, nextval('{s}')) \
             ON CONFLICT (key) DO UPDATE SET namespace = EXCLUDED.namespace, \
             bucket = EXCLUDED.bucket, request_id = EXCLUDED.request_id, vector = EXCLUDED.vector, \
             body = EXCLUDED.body, expires_at_ms = EXCLUDED.expires_at_ms, seq = EXCLUDED.seq",
            t = self.table,
            s = self.sequence
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&entry.key)
            .bind(&entry.namespace)
            .bind(&entry.bucket)
            .bind(&entry.request_id)
            .bind(entry.vector.as_deref().map(vector_bytes))
            .bind(entry.body.as_ref())
            .bind(entry.expires_at_ms)
            .execute(&self.pool)
            .await
            .map_err(err)?;
        self.purge_if_due(now_ms());
        Ok(())
    }

    async fn remove_by_request(&self, request_id: &str) -> Result<u64, BackendError> {
        let sql = format!("DELETE FROM {} WHERE request_id = $1", self.table);
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(request_id)
            .execute(&self.pool)
            .await
            .map_err(err)?;
        Ok(r.rows_affected())
    }

    async fn remove_by_namespace(&self, namespace: &str) -> Result<u64, BackendError> {
        let sql = format!("DELETE FROM {} WHERE namespace = $1", self.table);
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(namespace)
            .execute(&self.pool)
            .await
            .map_err(err)?;
        Ok(r.rows_affected())
    }

    async fn clear(&self) -> Result<u64, BackendError> {
        // A DELETE, not a TRUNCATE: the count is the answer, and TRUNCATE's exclusive lock
        // would stall every other instance's reads.
        let sql = format!("DELETE FROM {}", self.table);
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&self.pool)
            .await
            .map_err(err)?;
        Ok(r.rows_affected())
    }

    async fn vectors_since(
        &self,
        cursor: &str,
        limit: usize,
    ) -> Result<(Vec<VectorRecord>, String), BackendError> {
        let after: i64 = if cursor.is_empty() {
            0
        } else {
            cursor
                .parse()
                .map_err(|_| err(format!("invalid vector cursor {cursor:?}")))?
        };
        let sql = format!(
            "SELECT key, bucket, vector, expires_at_ms, seq FROM {} \
             WHERE seq > $1 AND vector IS NOT NULL AND expires_at_ms > $2 ORDER BY seq LIMIT $3",
            self.table
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after)
            .bind(now_ms())
            .bind(i64::try_from(limit.max(1)).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        let mut next = after;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            next = row.try_get("seq").map_err(err)?;
            let bytes: Vec<u8> = row.try_get("vector").map_err(err)?;
            let Some(vector) = vector_of(&bytes) else {
                continue;
            };
            out.push(VectorRecord {
                key: row.try_get("key").map_err(err)?,
                bucket: row.try_get("bucket").map_err(err)?,
                vector,
                expires_at_ms: row.try_get("expires_at_ms").map_err(err)?,
            });
        }
        Ok((out, next.to_string()))
    }

    async fn stats(&self) -> Result<BackendStats, BackendError> {
        let sql = format!(
            "SELECT COUNT(*) AS n, COALESCE(SUM(octet_length(body) + \
             COALESCE(octet_length(vector), 0) + octet_length(key)), 0)::BIGINT AS bytes \
             FROM {} WHERE expires_at_ms > $1",
            self.table
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now_ms())
            .fetch_one(&self.pool)
            .await
            .map_err(err)?;
        let n: i64 = row.try_get("n").map_err(err)?;
        let bytes: i64 = row.try_get("bytes").map_err(err)?;
        Ok(BackendStats {
            entries: u64::try_from(n).unwrap_or(0),
            bytes: u64::try_from(bytes).unwrap_or(0),
            evictions: 0,
        })
    }
}
