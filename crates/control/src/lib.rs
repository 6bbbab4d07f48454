//! The control plane: the configuration as one versioned document (file mode or store mode),
//! changes validated and swapped into the running engine, admin auth, and secrets encrypted
//! at rest.
//!
//! Why a crate between the engine and the transport: the HTTP routes, the file watcher, the
//! SIGHUP handler and other instances' notifications all change the configuration; they must
//! share one path that validates, records and applies, and none of that is HTTP.
#![warn(missing_docs)]

pub mod auth;
pub mod cipher;
pub mod document;
pub mod service;
pub mod watch;

pub use auth::{AuthService, Principal, Scope};
pub use cipher::SecretCipher;
pub use service::{Applied, ChangeError, ConfigService, Current, Mode};

use std::sync::Arc;

/// Wall-clock Unix time in milliseconds: what versions, tokens and sessions are stamped with.
pub(crate) fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The control plane as the transport holds it.
#[derive(Debug, Clone)]
pub struct ControlPlane {
    /// Configuration versions and changes.
    pub config: Arc<ConfigService>,
    /// Admin users, tokens, sessions.
    pub auth: Arc<AuthService>,
}

impl ControlPlane {
    /// Open the store at `store_url`, settle the version in effect for `mode` (see
    /// [`ConfigService::start`]) and start auth. Attach the engine built from the returned
    /// config with [`ConfigService::attach`].
    pub async fn open(
        mode: Mode,
        bootstrap: serde_json::Value,
        store_url: &str,
        cipher: SecretCipher,
        env: Arc<dyn heimdall_config::EnvLookup + Send + Sync>,
    ) -> Result<(Self, heimdall_config::LoadedConfig), String> {
        let store = heimdall_store::ConfigStore::open(store_url)
            .await
            .map_err(|e| format!("cannot open the config store: {e}"))?;
        let (service, loaded) = ConfigService::start(mode, bootstrap, store, cipher, env).await?;
        let auth = AuthService::start(service.store().clone(), &loaded.config.auth)
            .await
            .map_err(|e| format!("cannot start admin auth: {e}"))?;
        Ok((
            Self {
                config: Arc::new(service),
                auth: Arc::new(auth),
            },
            loaded,
        ))
    }
}
