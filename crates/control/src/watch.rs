//! What makes a change reach a running gateway without a request to the API: in file mode
//! the file changing (polled twice a second) or SIGHUP; with a shared PostgreSQL store,
//! another instance's NOTIFY (and a slow poll that catches a missed one).
//!
//! Why polling the file instead of inotify: editors replace files by rename, config maps in
//! Kubernetes swap symlinks, and network file systems send no events; comparing (inode, size,
//! mtime) every 500 ms sees all of them for one `stat`.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::auth::AuthService;
use crate::service::{ConfigService, Mode};

/// How often the file is checked.
const FILE_POLL: Duration = Duration::from_millis(500);

/// How often the store is checked for a version another instance wrote, in case a
/// notification was missed (they arrive within milliseconds normally).
const STORE_POLL: Duration = Duration::from_secs(10);

fn stamp(path: &std::path::Path) -> Option<(u64, u64, std::time::SystemTime)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.ino(), m.len(), m.modified().ok()?))
}

async fn reload(service: &ConfigService, why: &str) {
    match service.reload_file().await {
        Ok(Some(applied)) => tracing::info!(
            version = applied.version,
            why,
            "configuration file reloaded"
        ),
        Ok(None) => tracing::debug!(why, "configuration file unchanged"),
        Err(e) => tracing::error!(
            why,
            "configuration file NOT reloaded, the running configuration is kept: {e}"
        ),
    }
}

/// File mode: reload on change and on SIGHUP, until `stop`.
pub fn spawn_file_reload(service: Arc<ConfigService>, stop: CancellationToken) {
    let Mode::File { path } = service.mode().clone() else {
        return;
    };
    heimdall_core::task::spawn("config-file-watch", async move {
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut last = stamp(&path);
        let mut tick = tokio::time::interval(FILE_POLL);
        loop {
            let signalled = async {
                match hangup.as_mut() {
                    Some(h) => h.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = stop.cancelled() => return,
                _ = signalled => reload(&service, "SIGHUP").await,
                _ = tick.tick() => {
                    let now = stamp(&path);
                    if now != last {
                        last = now;
                        reload(&service, "file changed").await;
                    }
                }
            }
        }
    });
}

/// Follow changes other instances make to a shared store: on PostgreSQL, LISTEN for their
/// notifications; everywhere, a slow poll. Credentials are re-counted too (a token made on
/// another instance turns auth on here).
pub fn spawn_store_follow(
    service: Arc<ConfigService>,
    auth: Arc<AuthService>,
    postgres_url: Option<String>,
    stop: CancellationToken,
) {
    let wake = Arc::new(tokio::sync::Notify::new());
    if let Some(url) = postgres_url {
        let w = Arc::clone(&wake);
        let s = stop.clone();
        heimdall_core::task::spawn("config-listen", async move {
            heimdall_store::listen_config_changes(url, move |_| w.notify_one(), s).await;
        });
    }
    heimdall_core::task::spawn("config-follow", async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = wake.notified() => {}
                () = tokio::time::sleep(STORE_POLL) => {}
            }
            match service.sync().await {
                Ok(Some(v)) => tracing::info!(
                    version = v,
                    "configuration changed by another instance; applied"
                ),
                Ok(None) => {}
                Err(e) => {
                    tracing::error!("cannot apply the configuration another instance stored: {e}")
                }
            }
            if let Err(e) = auth.refresh().await {
                tracing::warn!("cannot refresh credentials: {e}");
            }
        }
    });
}
