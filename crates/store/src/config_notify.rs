//! Hearing about configuration changes made by other instances that share one PostgreSQL
//! config store.
//!
//! Why: each instance serves from the configuration it holds in memory; when another instance
//! appends a version it announces it with NOTIFY ([`crate::ConfigStore::notify`]), and this
//! listener passes the number on so the instance can reload. A pooled `Any` connection cannot
//! LISTEN, so the listener holds its own PostgreSQL connection. Notifications are not stored:
//! any sent while the connection was down are lost, so after every (re)connection the latest
//! stored version is reported too — callers ignore versions they already have.

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use crate::config_store::CONFIG_CHANNEL;

/// The first wait after a failure; doubled per failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Call `on_version(v)` for every NOTIFY on channel `heimdall_config` (payload: the version
/// number), and with the latest stored version after each (re)connection. Reconnects with
/// backoff (1 s doubling to 30 s) forever; returns only when `stop` is cancelled. PostgreSQL
/// only: `url` is a `postgres://…` URL.
pub async fn listen_config_changes(
    url: String,
    on_version: impl Fn(i64) + Send + Sync + 'static,
    stop: CancellationToken,
) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let outcome = tokio::select! {
            () = stop.cancelled() => return,
            e = listen(&url, &on_version, &mut backoff) => e,
        };
        tracing::warn!(
            error = %outcome,
            retry_in_s = backoff.as_secs(),
            "config change listener lost its PostgreSQL connection"
        );
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One listening session: connect, LISTEN, report the latest version, then pass on
/// notifications until the connection fails (the error is returned). Resets `backoff` once
/// listening.
async fn listen(url: &str, on_version: &impl Fn(i64), backoff: &mut Duration) -> sqlx::Error {
    let mut listener = match PgListener::connect(url).await {
        Ok(l) => l,
        Err(e) => return e,
    };
    if let Err(e) = listener.listen(CONFIG_CHANNEL).await {
        return e;
    }
    *backoff = MIN_BACKOFF;
    catch_up(&mut listener, on_version).await;
    loop {
        match listener.try_recv().await {
            Ok(Some(n)) => match n.payload().trim().parse::<i64>() {
                Ok(v) => on_version(v),
                Err(_) => tracing::warn!(
                    payload = n.payload(),
                    "ignored a config change notification that is not a version number"
                ),
            },
            // The connection dropped and was remade (LISTEN included): what was announced
            // meanwhile is lost, so report the latest stored version.
            Ok(None) => catch_up(&mut listener, on_version).await,
            Err(e) => return e,
        }
    }
}

/// Report the latest stored version, if there is one.
async fn catch_up(listener: &mut PgListener, on_version: &impl Fn(i64)) {
    let latest: Result<i64, _> =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM config_versions")
            .fetch_one(&mut *listener)
            .await;
    match latest {
        Ok(v) if v > 0 => on_version(v),
        Ok(_) => {}
        // No table yet (the config store was never opened on this database): nothing to report.
        Err(e) => {
            tracing::debug!(error = %e, "config change listener could not read the latest version")
        }
    }
}
