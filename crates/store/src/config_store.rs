//! The config store: Heimdall's versioned configuration and the admin credentials (admin
//! users, API tokens, UI sessions), kept in SQLite or PostgreSQL through the same `Any` code
//! path as the log store.
//!
//! Why the shape: the configuration is one JSON document, and every change appends a new
//! version rather than editing rows, so history, diffs and rollback come for free and an
//! edit made against a stale version is refused (optimistic concurrency) instead of silently
//! overwriting another admin's change. The check and the write are one statement guarded by
//! the primary key on `version`, so it holds across processes sharing one database, not only
//! within this one. The store normally lives in its own file (`config.db`) apart from the
//! logs, with its own migration list; its tables are prefixed `config_` so it can also share
//! a PostgreSQL database with the log store. Secrets never reach it in the clear: callers hash
//! passwords and tokens, and the store keeps strings.

use heimdall_config::LogsStoreKind;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::schema::CONFIG_MIGRATIONS;
use crate::store::{StoreError, connect_pool, migrate, storable};

/// The PostgreSQL NOTIFY channel on which a new version number is announced.
pub const CONFIG_CHANNEL: &str = "heimdall_config";

/// A connected, migrated config database.
#[derive(Debug, Clone)]
pub struct ConfigStore {
    pool: AnyPool,
    kind: LogsStoreKind,
}

/// One version of the configuration, with its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigVersion {
    /// 1 for the first, then +1 per change.
    pub version: i64,
    /// When it was written (Unix ms).
    pub created_at_ms: i64,
    /// Who made the change (an admin's name, a token's name, …).
    pub actor: String,
    /// Where the change came from (UI, API, file import, …).
    pub source: String,
    /// A one-line description of the change.
    pub summary: String,
    /// The change from the previous version (JSON text).
    pub diff: String,
    /// The whole configuration at this version (JSON text).
    pub document: String,
}

/// One version of the configuration without its document, for listings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ConfigVersionMeta {
    /// 1 for the first, then +1 per change.
    pub version: i64,
    /// When it was written (Unix ms).
    pub created_at_ms: i64,
    /// Who made the change.
    pub actor: String,
    /// Where the change came from.
    pub source: String,
    /// A one-line description of the change.
    pub summary: String,
    /// The change from the previous version (JSON text).
    pub diff: String,
}

/// A version to append after `parent`.
#[derive(Debug, Clone, Copy)]
pub struct NewVersion<'a> {
    /// The version this change was made against (0 when there is none yet).
    pub parent: i64,
    /// Who made the change.
    pub actor: &'a str,
    /// Where the change came from.
    pub source: &'a str,
    /// A one-line description of the change.
    pub summary: &'a str,
    /// The change from `parent` (JSON text).
    pub diff: &'a str,
    /// The whole new configuration (JSON text).
    pub document: &'a str,
    /// When it is written (Unix ms).
    pub created_at_ms: i64,
}

/// Why an append did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The change was made against a version that is no longer the latest: nothing was
    /// written; the caller should reload `latest` and redo the change.
    #[error(
        "the configuration changed meanwhile: the latest version is {latest}, not the one this change was made against"
    )]
    Conflict {
        /// The latest version now stored (0 when there is none).
        latest: i64,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AppendError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(StoreError::Db(e))
    }
}

/// An API token as stored. `token_hash` is the hex SHA-256 of the secret: callers must not
/// show it (this type deliberately does not implement `Serialize`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// Its id (made by the caller).
    pub id: String,
    /// A name for people.
    pub name: String,
    /// Hex SHA-256 of the secret.
    pub token_hash: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// The secret's last four characters, to recognise it.
    pub last4: String,
    /// When it was made (Unix ms).
    pub created_at_ms: i64,
    /// When it stops working (Unix ms); never when `None`. Checked by the caller.
    pub expires_at_ms: Option<i64>,
}

const META_COLUMNS: &str = "version, created_at_ms, actor, source, summary, diff";
const TOKEN_COLUMNS: &str = "id, name, token_hash, scopes, last4, created_at_ms, expires_at_ms";

fn meta_from_row(row: &AnyRow) -> Result<ConfigVersionMeta, sqlx::Error> {
    Ok(ConfigVersionMeta {
        version: row.try_get("version")?,
        created_at_ms: row.try_get("created_at_ms")?,
        actor: row.try_get("actor")?,
        source: row.try_get("source")?,
        summary: row.try_get("summary")?,
        diff: row.try_get("diff")?,
    })
}

fn version_from_row(row: &AnyRow) -> Result<ConfigVersion, sqlx::Error> {
    let meta = meta_from_row(row)?;
    Ok(ConfigVersion {
        version: meta.version,
        created_at_ms: meta.created_at_ms,
        actor: meta.actor,
        source: meta.source,
        summary: meta.summary,
        diff: meta.diff,
        document: row.try_get("document")?,
    })
}

fn token_from_row(row: &AnyRow) -> Result<TokenRow, StoreError> {
    let scopes: String = row.try_get("scopes")?;
    let scopes = serde_json::from_str(&scopes)
        .map_err(|e| StoreError::Config(format!("stored token scopes are not a JSON list: {e}")))?;
    Ok(TokenRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        token_hash: row.try_get("token_hash")?,
        scopes,
        last4: row.try_get("last4")?,
        created_at_ms: row.try_get("created_at_ms")?,
        expires_at_ms: row.try_get("expires_at_ms")?,
    })
}

impl ConfigStore {
    /// Connect to `url` (`sqlite://path?mode=rwc` or `postgres://…`) and bring the config
    /// schema up to date (recorded in `heimdall_config_migrations`).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let (pool, kind) = connect_pool(url).await?;
        migrate(&pool, "heimdall_config_migrations", CONFIG_MIGRATIONS).await?;
        Ok(Self { pool, kind })
    }

    /// Which database this is.
    pub fn kind(&self) -> LogsStoreKind {
        self.kind
    }

    /// Whether this is PostgreSQL (so other instances may share it and want notifications).
    pub fn url_is_postgres(&self) -> bool {
        self.kind == LogsStoreKind::Postgres
    }

    /// Close the connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The latest version, `None` when nothing was ever stored.
    pub async fn latest(&self) -> Result<Option<ConfigVersion>, StoreError> {
        let row = sqlx::query(
            "SELECT version, created_at_ms, actor, source, summary, diff, document \
             FROM config_versions ORDER BY version DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(version_from_row).transpose()?)
    }

    /// One version, `None` when it does not exist.
    pub async fn get(&self, version: i64) -> Result<Option<ConfigVersion>, StoreError> {
        let row = sqlx::query(
            "SELECT version, created_at_ms, actor, source, summary, diff, document \
             FROM config_versions WHERE version = $1",
        )
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(version_from_row).transpose()?)
    }

    /// A page of versions, newest first, without documents; and how many there are in all.
    /// A negative `limit` or `offset` counts as 0.
    pub async fn list(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<ConfigVersionMeta>, i64), StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {META_COLUMNS} FROM config_versions ORDER BY version DESC LIMIT $1 OFFSET $2"
        )))
        .bind(limit.max(0))
        .bind(offset.max(0))
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(meta_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM config_versions")
            .fetch_one(&self.pool)
            .await?;
        Ok((items, total))
    }

    /// The latest version number, 0 when there is none.
    async fn latest_version(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM config_versions")
            .fetch_one(&self.pool)
            .await
    }

    /// Append version `parent + 1` and return it. When the latest version is not `parent`
    /// (another change came first), nothing is written and [`AppendError::Conflict`] says
    /// which version is latest. One statement: the insert happens only when `parent` is the
    /// latest, and the primary key on `version` lets only one of two racing appends in.
    pub async fn append(&self, new: &NewVersion<'_>) -> Result<i64, AppendError> {
        let Some(version) = new.parent.checked_add(1) else {
            return Err(AppendError::Conflict {
                latest: self.latest_version().await?,
            });
        };
        let done = sqlx::query(
            "INSERT INTO config_versions \
             (version, created_at_ms, actor, source, summary, diff, document) \
             SELECT $1, $2, $3, $4, $5, $6, $7 \
             WHERE (SELECT COALESCE(MAX(version), 0) FROM config_versions) = $8 \
             ON CONFLICT (version) DO NOTHING",
        )
        .bind(version)
        .bind(new.created_at_ms)
        .bind(storable(new.actor))
        .bind(storable(new.source))
        .bind(storable(new.summary))
        .bind(storable(new.diff))
        .bind(storable(new.document))
        .bind(new.parent)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            Ok(version)
        } else {
            Err(AppendError::Conflict {
                latest: self.latest_version().await?,
            })
        }
    }

    /// Add an admin user; `Ok(false)` (and nothing changed) when the name is taken.
    pub async fn create_admin(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO config_admins (username, password_hash) VALUES ($1, $2) \
             ON CONFLICT (username) DO NOTHING",
        )
        .bind(storable(username))
        .bind(storable(password_hash))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// An admin's password hash, `None` when there is no such admin.
    pub async fn admin_hash(&self, username: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT password_hash FROM config_admins WHERE username = $1")
                .bind(storable(username))
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// How many admin users there are.
    pub async fn count_admins(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM config_admins")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Store a new API token (a duplicate id or hash is an error).
    pub async fn create_token(&self, t: &TokenRow) -> Result<(), StoreError> {
        let scopes = serde_json::to_string(&t.scopes)
            .map_err(|e| StoreError::Config(format!("token scopes: {e}")))?;
        // Not a cached prepared statement: PostgreSQL would fix the type of a NULL
        // `expires_at_ms` at prepare time (see `LogStore::insert`).
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO config_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )))
        .persistent(false)
        .bind(storable(&t.id))
        .bind(storable(&t.name))
        .bind(storable(&t.token_hash))
        .bind(storable(&scopes))
        .bind(storable(&t.last4))
        .bind(t.created_at_ms)
        .bind(t.expires_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// All API tokens, oldest first.
    pub async fn list_tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM config_tokens ORDER BY created_at_ms, id"
        )))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(token_from_row)
        .collect()
    }

    /// Delete a token; whether it existed.
    pub async fn delete_token(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM config_tokens WHERE id = $1")
            .bind(storable(id))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The token with this hash (expired or not: the caller checks `expires_at_ms`).
    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRow>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM config_tokens WHERE token_hash = $1"
        )))
        .bind(storable(hash))
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(token_from_row)
        .transpose()
    }

    /// How many API tokens there are.
    pub async fn count_tokens(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM config_tokens")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Record a UI session by the hash of its token.
    pub async fn create_session(
        &self,
        hash: &str,
        username: &str,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO config_sessions (token_hash, username, expires_at_ms) VALUES ($1, $2, $3)",
        )
        .bind(storable(hash))
        .bind(storable(username))
        .bind(expires_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The user of a session still valid at `now_ms`; `None` when missing or expired.
    pub async fn session_user(
        &self,
        hash: &str,
        now_ms: i64,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT username FROM config_sessions WHERE token_hash = $1 AND expires_at_ms > $2",
        )
        .bind(storable(hash))
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// End a session (nothing happens when it does not exist).
    pub async fn delete_session(&self, hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM config_sessions WHERE token_hash = $1")
            .bind(storable(hash))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Delete the sessions expired at `now_ms`; returns how many.
    pub async fn purge_sessions(&self, now_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM config_sessions WHERE expires_at_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Tell other instances sharing this PostgreSQL store that `version` was written (see
    /// [`crate::listen_config_changes`]); nothing to do on SQLite.
    pub async fn notify(&self, version: i64) -> Result<(), StoreError> {
        if self.kind != LogsStoreKind::Postgres {
            return Ok(());
        }
        // `::text`: the `Any` driver cannot decode pg_notify's `void` result.
        sqlx::query("SELECT pg_notify($1, $2)::text")
            .bind(CONFIG_CHANNEL)
            .bind(version.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
