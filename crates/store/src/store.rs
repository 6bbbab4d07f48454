//! The database behind the log store: connection (SQLite file or PostgreSQL), migrations, and
//! batch inserts — one code path for both through sqlx's `Any` driver. The connection and
//! migration steps are shared with the config store ([`crate::ConfigStore`]).

use std::path::Path;
use std::sync::Arc;

use heimdall_config::{LogsStoreConfig, LogsStoreKind};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, AssertSqlSafe, Executor, Row};

use crate::record::LogRecord;
use crate::schema::MIGRATIONS;

/// Columns of `logs`, in insert order.
pub(crate) const LOG_COLUMNS: &[&str] = &[
    "id",
    "timestamp_ms",
    "route",
    "operation",
    "provider",
    "model_requested",
    "model",
    "key_name",
    "virtual_key_id",
    "team_id",
    "customer_id",
    "status",
    "success",
    "error_type",
    "error",
    "stream",
    "ttft_ms",
    "latency_ms",
    "overhead_ms",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cost",
    "unpriced",
    "attempts",
    "retries",
    "fallback_index",
    "trail",
    "finish_reason",
    "client_disconnected",
    "client_request_id",
    "cache",
    "cost_saved",
];

/// Most records in one INSERT (35 columns × 900 stays under SQLite's 32,766 variables).
pub const MAX_BATCH: usize = 900;

/// A store failure (the log store's or the config store's).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or is unreachable.
    #[error("store database error: {0}")]
    Db(#[from] sqlx::Error),
    /// The configuration cannot make a connection.
    #[error("store configuration: {0}")]
    Config(String),
    /// The database refused the records themselves (see [`StoreError::is_refused_content`]).
    #[error("log store refused the records: {0}")]
    Refused(sqlx::Error),
}

/// A connected, migrated log database.
#[derive(Debug, Clone)]
pub struct LogStore {
    pool: AnyPool,
    kind: LogsStoreKind,
    /// The SQLite file as opened (path, device, inode): a file deleted or replaced under an
    /// open pool takes writes into an unlinked inode — lost while reported written.
    sqlite_file: Option<Arc<SqliteFile>>,
}

/// Where a SQLite store's file was when it was opened.
#[derive(Debug)]
struct SqliteFile {
    path: std::path::PathBuf,
    dev: u64,
    ino: u64,
}

impl SqliteFile {
    fn of(url: &str) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = std::path::PathBuf::from(path.split('?').next()?);
        let m = std::fs::metadata(&path).ok()?;
        Some(Self {
            path,
            dev: m.dev(),
            ino: m.ino(),
        })
    }

    /// An error when the file at the path is no longer the one opened.
    fn still_there(&self) -> Result<(), StoreError> {
        use std::os::unix::fs::MetadataExt;
        match std::fs::metadata(&self.path) {
            Ok(m) if m.dev() == self.dev && m.ino() == self.ino => Ok(()),
            _ => Err(StoreError::Config(format!(
                "the SQLite file {} was deleted or replaced; records are held (and counted as dropped past the bound) until the gateway is restarted",
                self.path.display()
            ))),
        }
    }
}

/// Percent-encode a URL userinfo part.
fn encode_userinfo(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The connection URL for a config (`app_dir` holds the default SQLite file).
pub fn connection_url(cfg: &LogsStoreConfig, app_dir: &Path) -> String {
    match cfg.kind {
        LogsStoreKind::Sqlite => {
            let path = cfg
                .path
                .clone()
                .unwrap_or_else(|| app_dir.join("logs.db").to_string_lossy().into_owned());
            format!("sqlite://{path}?mode=rwc")
        }
        LogsStoreKind::Postgres => match &cfg.url {
            Some(u) => u.expose().to_owned(),
            None => {
                let auth = match &cfg.password {
                    Some(p) => format!(
                        "{}:{}",
                        encode_userinfo(&cfg.user),
                        encode_userinfo(p.expose())
                    ),
                    None => encode_userinfo(&cfg.user),
                };
                format!(
                    "postgres://{auth}@{}:{}/{}?sslmode={}",
                    cfg.host, cfg.port, cfg.db_name, cfg.ssl_mode
                )
            }
        },
    }
}

impl StoreError {
    /// Whether the database refused the records themselves (a value it cannot store, a
    /// constraint), not the connection or the disk: retrying the same rows cannot succeed.
    pub fn is_refused_content(&self) -> bool {
        matches!(self, Self::Refused(_))
    }
}

/// The kind of database a URL names.
fn kind_of(url: &str) -> Result<LogsStoreKind, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(LogsStoreKind::Sqlite)
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(LogsStoreKind::Postgres)
    } else {
        Err(StoreError::Config(
            "the URL must start with sqlite: or postgres:".to_owned(),
        ))
    }
}

/// A pool on `url` (`sqlite://…` or `postgres://…`), with SQLite set up for one writer and
/// concurrent readers (WAL, busy timeout). Shared by the log store and the config store.
pub(crate) async fn connect_pool(url: &str) -> Result<(AnyPool, LogsStoreKind), StoreError> {
    install_default_drivers();
    let kind = kind_of(url)?;
    let sqlite = kind == LogsStoreKind::Sqlite;
    let pool = AnyPoolOptions::new()
        // SQLite has one writer; a small pool serves the readers of the query API.
        .max_connections(if sqlite { 4 } else { 8 })
        .acquire_timeout(std::time::Duration::from_secs(5))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if sqlite {
                    conn.execute("PRAGMA journal_mode=WAL").await?;
                    conn.execute("PRAGMA synchronous=NORMAL").await?;
                    conn.execute("PRAGMA busy_timeout=5000").await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await?;
    Ok((pool, kind))
}

/// Apply `migrations` not yet recorded in `table`, each in its own transaction. On PostgreSQL
/// the run holds an advisory lock named after `table` on a connection of its own: replicas
/// starting together would otherwise race on `CREATE TABLE IF NOT EXISTS` (a unique violation
/// in PostgreSQL's catalog) and one of them would fail to start. (Running SQLite's migrations
/// on one held connection instead of through the pool lost records later in
/// `readonly_log_store.rs`; SQLite serialises writers itself.)
pub(crate) async fn migrate(
    pool: &AnyPool,
    table: &'static str,
    migrations: &'static [(i64, &'static [&'static str])],
) -> Result<(), StoreError> {
    let conn = pool.acquire().await?;
    if !conn.backend_name().eq_ignore_ascii_case("postgresql") {
        drop(conn);
        return apply(pool, table, migrations).await;
    }
    let mut lock = conn;
    // FNV-1a of the table name: one lock per migration list.
    let key = table.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let key = i64::from_ne_bytes(key.to_ne_bytes());
    sqlx::query("SELECT 1 FROM pg_advisory_lock($1)")
        .bind(key)
        .execute(&mut *lock)
        .await?;
    let result = apply(pool, table, migrations).await;
    let _ = sqlx::query("SELECT 1 FROM pg_advisory_unlock($1)")
        .bind(key)
        .execute(&mut *lock)
        .await;
    result
}

async fn apply(
    pool: &AnyPool,
    table: &'static str,
    migrations: &'static [(i64, &'static [&'static str])],
) -> Result<(), StoreError> {
    pool.execute(AssertSqlSafe(format!(
        "CREATE TABLE IF NOT EXISTS {table} (version BIGINT PRIMARY KEY)"
    )))
    .await?;
    let applied: Vec<i64> = sqlx::query(AssertSqlSafe(format!("SELECT version FROM {table}")))
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?;
    for (version, statements) in migrations {
        if applied.contains(version) {
            continue;
        }
        let mut tx = pool.begin().await?;
        for stmt in *statements {
            tx.execute(*stmt).await?;
        }
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {table} (version) VALUES ($1) ON CONFLICT DO NOTHING"
        )))
        .bind(*version)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

impl LogStore {
    /// Connect as configured and bring the schema up to date.
    pub async fn open(cfg: &LogsStoreConfig, app_dir: &Path) -> Result<Self, StoreError> {
        if cfg.kind == LogsStoreKind::Sqlite && cfg.path.is_none() {
            std::fs::create_dir_all(app_dir).map_err(|e| {
                StoreError::Config(format!("cannot create {}: {e}", app_dir.display()))
            })?;
        }
        Self::connect(&connection_url(cfg, app_dir)).await
    }

    /// Connect to `url` (`sqlite://…` or `postgres://…`) and migrate.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let (pool, kind) = connect_pool(url).await?;
        let sqlite_file = if kind == LogsStoreKind::Sqlite {
            SqliteFile::of(url).map(Arc::new)
        } else {
            None
        };
        let store = Self {
            pool,
            kind,
            sqlite_file,
        };
        migrate(&store.pool, "heimdall_migrations", MIGRATIONS).await?;
        Ok(store)
    }

    /// A connection to `url` without migrations, for administrative statements (creating and
    /// dropping databases in tests and tools).
    pub async fn admin(url: &str) -> Result<Self, StoreError> {
        install_default_drivers();
        let kind = if url.starts_with("sqlite:") {
            LogsStoreKind::Sqlite
        } else {
            LogsStoreKind::Postgres
        };
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await?;
        Ok(Self {
            pool,
            kind,
            sqlite_file: None,
        })
    }

    /// Run one statement outside a transaction.
    pub async fn execute_raw(&self, sql: &str) -> Result<(), StoreError> {
        self.pool.execute(AssertSqlSafe(sql.to_owned())).await?;
        Ok(())
    }

    /// Close the connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Which database this is.
    pub fn kind(&self) -> LogsStoreKind {
        self.kind
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Write records (at most [`MAX_BATCH`] per statement) in one transaction; a record whose
    /// id is already stored is skipped, so a batch retried after a lost acknowledgement does
    /// not duplicate. Multi-row statements on SQLite too: a cached single-row statement per
    /// record measured 2× slower (sqlx hands every statement to its SQLite worker thread;
    /// `examples/insert_cost.rs`).
    pub async fn insert(&self, records: &[LogRecord]) -> Result<(), StoreError> {
        if let Some(file) = &self.sqlite_file {
            file.still_there()?;
        }
        let mut tx = self.pool.begin().await?;
        for batch in records.chunks(MAX_BATCH) {
            let sql = insert_sql(self.kind, "logs", LOG_COLUMNS, batch.len());
            // Not a cached prepared statement: PostgreSQL fixes parameter types at prepare
            // time from the first call's values, and a NULL there would poison later calls
            // whose value in that slot is not NULL.
            let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
            for r in batch {
                q = bind_record(q, r);
            }
            q.execute(&mut *tx).await.map_err(|e| self.classify(e))?;
            let with_payload: Vec<&LogRecord> = batch
                .iter()
                .filter(|r| r.input.is_some() || r.output.is_some())
                .collect();
            if !with_payload.is_empty() {
                let sql = insert_sql(
                    self.kind,
                    "log_payloads",
                    PAYLOAD_COLUMNS,
                    with_payload.len(),
                );
                let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
                for r in with_payload {
                    q = bind_payload(q, r);
                }
                q.execute(&mut *tx).await.map_err(|e| self.classify(e))?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// A failed insert as `Refused` when the database refused the rows' content: PostgreSQL
    /// SQLSTATE classes 22 (data exception), 23 (integrity), 54 (limits); SQLite primary result
    /// codes TOOBIG, CONSTRAINT, MISMATCH (reported as numbers, extended codes included).
    fn classify(&self, e: sqlx::Error) -> StoreError {
        let refused = match &e {
            sqlx::Error::Database(db) => db.code().is_some_and(|code| match self.kind {
                LogsStoreKind::Postgres => matches!(code.get(..2), Some("22" | "23" | "54")),
                LogsStoreKind::Sqlite => code
                    .parse::<i64>()
                    .is_ok_and(|n| matches!(n & 0xff, 18..=20)),
            }),
            _ => false,
        };
        if refused {
            StoreError::Refused(e)
        } else {
            StoreError::Db(e)
        }
    }

    /// Delete records that arrived before `cutoff_ms` (Unix ms), and stored responses created
    /// before it; returns how many records.
    pub async fn delete_older_than(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "DELETE FROM log_payloads WHERE id IN (SELECT id FROM logs WHERE timestamp_ms < $1)",
        )
        .bind(cutoff_ms)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM logs WHERE timestamp_ms < $1")
            .bind(cutoff_ms)
            .execute(&mut *tx)
            .await?;
        // Stored Responses answers expire with the logs.
        sqlx::query("DELETE FROM responses WHERE created_at_ms < $1")
            .bind(cutoff_ms)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM mcp_tool_calls WHERE timestamp_ms < $1")
            .bind(cutoff_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

/// The `n`th (1-based) bind placeholder: `$n` for PostgreSQL, an anonymous `?` for SQLite.
/// SQLite keeps `$n` and `?n` as *named* parameters and the driver looks each name up by a
/// linear scan (`sqlite3_bind_parameter_name`), which made a 1,000-row insert (32,000
/// parameters) quadratic: 95% of its time, ~700 rows/s (found with `perf`, see
/// docs/observability.md). Callers number their arguments in order of appearance, so
/// positional `?` binds the same values.
pub(crate) fn placeholder(kind: LogsStoreKind, n: usize) -> String {
    match kind {
        LogsStoreKind::Postgres => format!("${n}"),
        LogsStoreKind::Sqlite => "?".to_owned(),
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Columns of `log_payloads`, in insert order.
const PAYLOAD_COLUMNS: &[&str] = &["id", "input", "output"];

/// Bind one record's values in [`LOG_COLUMNS`] order.
/// Text as a database column can hold it: PostgreSQL refuses a NUL byte in `text` (the whole
/// batch with it), so NUL becomes U+FFFD in every stored string, on both backends alike.
pub fn storable(s: &str) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{fffd}")
    } else {
        s.to_owned()
    }
}

fn storable_opt(s: Option<&String>) -> Option<String> {
    s.map(|s| storable(s))
}

fn bind_record<'q>(q: AnyQuery<'q>, r: &LogRecord) -> AnyQuery<'q> {
    let trail = serde_json::to_string(&r.trail).unwrap_or_else(|_| "[]".to_owned());
    q.bind(storable(&r.id))
        .bind(r.timestamp_ms)
        .bind(storable(&r.route))
        .bind(storable(&r.operation))
        .bind(storable_opt(r.provider.as_ref()))
        .bind(storable(&r.model_requested))
        .bind(storable_opt(r.model.as_ref()))
        .bind(storable_opt(r.key_name.as_ref()))
        .bind(storable_opt(r.virtual_key_id.as_ref()))
        .bind(storable_opt(r.team_id.as_ref()))
        .bind(storable_opt(r.customer_id.as_ref()))
        .bind(r.status)
        .bind(i64::from(r.success))
        .bind(storable_opt(r.error_type.as_ref()))
        .bind(storable_opt(r.error.as_ref()))
        .bind(i64::from(r.stream))
        .bind(r.ttft_ms)
        .bind(r.latency_ms)
        .bind(r.overhead_ms)
        .bind(r.prompt_tokens)
        .bind(r.completion_tokens)
        .bind(r.cached_tokens)
        .bind(r.reasoning_tokens)
        .bind(r.total_tokens)
        .bind(r.cost)
        .bind(i64::from(r.unpriced))
        .bind(r.attempts)
        .bind(r.retries)
        .bind(r.fallback_index)
        .bind(storable(&trail))
        .bind(storable_opt(r.finish_reason.as_ref()))
        .bind(i64::from(r.client_disconnected))
        .bind(storable_opt(r.client_request_id.as_ref()))
        .bind(storable_opt(r.cache.as_ref()))
        .bind(r.cost_saved)
}

/// Bind one record's content in [`PAYLOAD_COLUMNS`] order.
fn bind_payload<'q>(q: AnyQuery<'q>, r: &LogRecord) -> AnyQuery<'q> {
    q.bind(storable(&r.id))
        .bind(storable_opt(r.input.as_ref()))
        .bind(storable_opt(r.output.as_ref()))
}

/// `INSERT INTO table (cols) VALUES ($1, …), (…) ON CONFLICT (id) DO NOTHING`.
fn insert_sql(kind: LogsStoreKind, table: &str, columns: &[&str], rows: usize) -> String {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut n = 0;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for col in 0..columns.len() {
            if col > 0 {
                sql.push_str(", ");
            }
            n += 1;
            sql.push_str(&placeholder(kind, n));
        }
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT (id) DO NOTHING");
    sql
}
