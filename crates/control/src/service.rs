//! The configuration service: the one place a configuration changes. Every change — an API
//! write, a file reload, a rollback — is validated, diffed, stored as a new version, and
//! swapped into the engine; a change made by another instance on the same store is picked up
//! from its notification.
//!
//! Why one path: the file, the API and the UI must produce the same validated object, and a
//! version list is only an audit trail if nothing reaches the engine around it. In file mode
//! the file is the truth (API writes answer 409, saying so); in store mode the store is, and
//! the file only seeds an empty store. Nothing reconciles the two silently.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use heimdall_config::{ConfigError, EnvLookup, GatewayConfig, LoadedConfig};
use heimdall_core::{Gateway, Runtime};
use heimdall_store::{AppendError, ConfigStore, NewVersion};
use serde::Serialize;
use serde_json::Value;

use crate::cipher::SecretCipher;
use crate::document::{self, DiffEntry};

/// Where the configuration's truth is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Mode {
    /// The file is the truth: reloaded on SIGHUP and when it changes; API writes refused.
    File {
        /// The file.
        path: PathBuf,
    },
    /// The store is the truth: the API writes; the file (if any) seeded the empty store once.
    Store,
}

impl Mode {
    /// `file` or `store`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::File { .. } => "file",
            Self::Store => "store",
        }
    }
}

/// The version in effect.
#[derive(Debug, Clone)]
pub struct Current {
    /// Its number (0: nothing stored yet).
    pub version: i64,
    /// The document, secrets in clear (never sent out as is: see [`document::redacted`]).
    pub document: Value,
}

/// What a change did (or, dry run, would do).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Applied {
    /// The new version (the current one when nothing changed or on a dry run).
    pub version: i64,
    /// Nothing was applied.
    pub dry_run: bool,
    /// The differences, secrets redacted.
    pub diff: Vec<DiffEntry>,
    /// Settings that take effect at the next restart (listener, stores, process logging).
    pub restart_required: Vec<String>,
    /// Non-fatal findings of validation.
    pub warnings: Vec<String>,
}

/// Why a change was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The new configuration is invalid (each issue has its field path).
    #[error("invalid configuration: {0}")]
    Invalid(ConfigError),
    /// A write refused by the mode (file mode) or by the document's state.
    #[error("{0}")]
    Refused(String),
    /// The thing named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The thing to create exists already.
    #[error("{0}")]
    Exists(String),
    /// Another writer changed the configuration first.
    #[error("{0}")]
    Conflict(String),
    /// The store failed.
    #[error("config store: {0}")]
    Store(String),
}

/// Changes applied by this process, by where they came from, and reloads that failed.
#[derive(Debug, Default)]
pub struct ChangeCounts {
    /// Through the API (`api`, rollbacks included).
    pub api: AtomicU64,
    /// From the file (file mode).
    pub file: AtomicU64,
    /// Stored by another instance and applied here.
    pub remote: AtomicU64,
    /// A file reload or another instance's version that could not be applied.
    pub failed: AtomicU64,
}

/// The configuration service.
pub struct ConfigService {
    mode: Mode,
    store: ConfigStore,
    cipher: SecretCipher,
    env: Arc<dyn EnvLookup + Send + Sync>,
    gateway: OnceLock<Arc<Gateway>>,
    current: ArcSwap<Current>,
    /// One writer at a time in this process (the store's version key orders writers across
    /// processes).
    write: tokio::sync::Mutex<()>,
    counts: ChangeCounts,
}

impl std::fmt::Debug for ConfigService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigService")
            .field("mode", &self.mode)
            .field("version", &self.current.load().version)
            .finish()
    }
}

fn store_err(e: impl std::fmt::Display) -> ChangeError {
    ChangeError::Store(e.to_string())
}

impl ConfigService {
    /// Start: settle the version in effect for `mode` from `bootstrap` (the file's document, or
    /// the environment's in store mode without a file) and the store, and return it validated.
    ///
    /// File mode: the file is validated and, if it differs from the latest stored version,
    /// stored as a new one. Store mode: an empty store is seeded with `bootstrap` (in the
    /// native layout); otherwise the latest stored version is used and `bootstrap` is not.
    pub async fn start(
        mode: Mode,
        bootstrap: Value,
        store: ConfigStore,
        cipher: SecretCipher,
        env: Arc<dyn EnvLookup + Send + Sync>,
    ) -> Result<(Self, LoadedConfig), String> {
        let latest = store.latest().await.map_err(|e| e.to_string())?;
        let stored = match &latest {
            Some(v) => {
                let doc = serde_json::from_str::<Value>(&v.document)
                    .map_err(|e| format!("config version {} is not JSON: {e}", v.version))
                    .and_then(|doc| document::decrypted(&doc, &cipher).map_err(|e| e.to_string()));
                match (doc, &mode) {
                    (Ok(doc), _) => Some((v.version, doc)),
                    // In file mode the store is history only: the file still decides.
                    (Err(e), Mode::File { .. }) => {
                        tracing::warn!(
                            version = v.version,
                            "the latest stored version cannot be read ({e}); the file is recorded as a new version"
                        );
                        Some((v.version, Value::Null))
                    }
                    (Err(e), Mode::Store) => {
                        return Err(format!("config version {}: {e}", v.version));
                    }
                }
            }
            None => None,
        };
        let service = Self {
            mode,
            store,
            cipher,
            env,
            gateway: OnceLock::new(),
            current: ArcSwap::from_pointee(Current {
                version: stored.as_ref().map_or(0, |(v, _)| *v),
                document: stored
                    .as_ref()
                    .map_or_else(|| Value::Object(Default::default()), |(_, d)| d.clone()),
            }),
            write: tokio::sync::Mutex::new(()),
            counts: ChangeCounts::default(),
        };
        let (document, source) = match (&service.mode, stored) {
            (Mode::Store, Some((version, doc))) => {
                let empty = bootstrap.as_object().is_none_or(serde_json::Map::is_empty);
                if !empty && document::to_native(&bootstrap) != doc {
                    tracing::warn!(
                        version,
                        "store mode: the configuration comes from the store (version {version}); the file or environment given at start differs and is NOT used — change the configuration through /api/config, or start in file mode"
                    );
                }
                (doc, None)
            }
            (Mode::Store, None) => (document::to_native(&bootstrap), Some("seed")),
            (Mode::File { .. }, _) => (bootstrap, Some("file")),
        };
        let mut loaded = heimdall_config::parse_value(document.clone(), service.env.as_ref())
            .map_err(|e| format!("invalid configuration:\n{e}"))?;
        if let Some(source) = source {
            loaded = service.record_start(document, loaded, source).await?;
        }
        Ok((service, loaded))
    }

    /// Store the configuration a start settled on (the file, or the seed of an empty store)
    /// unless it is the latest version already. Replicas starting together race: a seed that
    /// loses takes the winner's version; a file that loses is recorded after it.
    async fn record_start(
        &self,
        document: Value,
        loaded: LoadedConfig,
        source: &str,
    ) -> Result<LoadedConfig, String> {
        for _ in 0..3 {
            let before = self.current.load_full();
            if before.document == document && before.version > 0 {
                return Ok(loaded);
            }
            let diff = document::diff(&before.document, &document);
            match self
                .append(before.version, &document, "startup", source, &diff)
                .await
            {
                Ok(version) => {
                    self.current.store(Arc::new(Current { version, document }));
                    return Ok(loaded);
                }
                Err(ChangeError::Conflict(_)) => {
                    let latest = self.store.latest().await.map_err(|e| e.to_string())?;
                    let Some(latest) = latest else { continue };
                    let doc = serde_json::from_str::<Value>(&latest.document)
                        .map_err(|e| e.to_string())
                        .and_then(|d| {
                            document::decrypted(&d, &self.cipher).map_err(|e| e.to_string())
                        })?;
                    if matches!(self.mode, Mode::Store) {
                        // Another replica seeded the empty store first: its version rules.
                        let loaded = heimdall_config::parse_value(doc.clone(), self.env.as_ref())
                            .map_err(|e| format!("invalid configuration:\n{e}"))?;
                        self.current.store(Arc::new(Current {
                            version: latest.version,
                            document: doc,
                        }));
                        return Ok(loaded);
                    }
                    self.current.store(Arc::new(Current {
                        version: latest.version,
                        document: doc,
                    }));
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        Err("the config store kept changing while this instance started; start it again".to_owned())
    }

    /// Attach the engine the service swaps configurations into (once, after start).
    pub fn attach(&self, gateway: Arc<Gateway>) {
        let _ = self.gateway.set(gateway);
    }

    /// The mode.
    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// The store (versions, credentials).
    pub fn store(&self) -> &ConfigStore {
        &self.store
    }

    /// The version in effect.
    pub fn current(&self) -> Arc<Current> {
        self.current.load_full()
    }

    /// Changes applied and reloads failed since start (for metrics).
    pub fn counts(&self) -> &ChangeCounts {
        &self.counts
    }

    /// The cipher of stored secrets.
    pub fn cipher(&self) -> &SecretCipher {
        &self.cipher
    }

    /// A stored version's document, secrets decrypted.
    pub async fn version_document(&self, version: i64) -> Result<Value, ChangeError> {
        let v = self
            .store
            .get(version)
            .await
            .map_err(store_err)?
            .ok_or_else(|| ChangeError::NotFound(format!("no configuration version {version}")))?;
        let doc: Value = serde_json::from_str(&v.document).map_err(store_err)?;
        document::decrypted(&doc, &self.cipher).map_err(store_err)
    }

    fn writable(&self) -> Result<(), ChangeError> {
        match &self.mode {
            Mode::Store => Ok(()),
            Mode::File { path } => Err(ChangeError::Refused(format!(
                "the gateway runs in file mode: {} is the source of truth, so the API cannot change the configuration; edit the file (it is reloaded on change and on SIGHUP), or start in store mode (--config-mode store)",
                path.display()
            ))),
        }
    }

    /// Change the configuration with `edit` on a copy of the current document (native layout).
    pub async fn edit(
        &self,
        actor: &str,
        dry_run: bool,
        edit: impl FnOnce(&mut Value) -> Result<(), ChangeError>,
    ) -> Result<Applied, ChangeError> {
        self.writable()?;
        let _writer = self.write.lock().await;
        let mut doc = document::to_native(&self.current().document);
        edit(&mut doc)?;
        self.apply_locked(doc, actor, "api", dry_run).await
    }

    /// Replace the whole document (`PUT /api/config`); redacted secrets sent back keep their
    /// stored values.
    pub async fn replace(
        &self,
        mut doc: Value,
        actor: &str,
        dry_run: bool,
    ) -> Result<Applied, ChangeError> {
        self.writable()?;
        let _writer = self.write.lock().await;
        if let Some(obj) = doc.as_object_mut() {
            obj.remove("$schema");
        }
        // The store keeps the native layout (the provider routes edit it in place).
        let mut doc = document::to_native(&doc);
        document::restore_redacted(&mut doc, &self.current().document)
            .map_err(|m| ChangeError::Invalid(ConfigError::one("", m)))?;
        self.apply_locked(doc, actor, "api", dry_run).await
    }

    /// Make version `version`'s document current again (as a new version).
    pub async fn rollback(
        &self,
        version: i64,
        actor: &str,
        dry_run: bool,
    ) -> Result<Applied, ChangeError> {
        self.writable()?;
        let _writer = self.write.lock().await;
        let doc = self.version_document(version).await?;
        self.apply_locked(doc, actor, &format!("rollback:{version}"), dry_run)
            .await
    }

    /// File mode: read the file again and apply it if it changed. An invalid file is
    /// reported and the running configuration kept.
    pub async fn reload_file(&self) -> Result<Option<Applied>, ChangeError> {
        let Mode::File { path } = &self.mode else {
            return Ok(None);
        };
        let format = heimdall_config::ConfigFormat::from_path(path).ok_or_else(|| {
            ChangeError::Refused(format!("{}: unknown extension", path.display()))
        })?;
        let text = tokio::fs::read_to_string(path)
            .await
            .map_err(|e| ChangeError::Refused(format!("cannot read {}: {e}", path.display())))?;
        let parsed = heimdall_config::document_from_str(&text, format);
        let _writer = self.write.lock().await;
        let applied = match parsed {
            Ok(doc) if doc == self.current().document => return Ok(None),
            Ok(doc) => {
                self.apply_locked(doc, &format!("file:{}", path.display()), "file", false)
                    .await
            }
            Err(e) => Err(ChangeError::Invalid(e)),
        };
        if applied.is_err() {
            self.counts.failed.fetch_add(1, Ordering::Relaxed);
        }
        applied.map(Some)
    }

    /// Another instance stored `version`: load the latest version and swap it in (no new
    /// version is written).
    /// In file mode the file is the truth: another instance's version is not applied.
    pub async fn sync(&self) -> Result<Option<i64>, ChangeError> {
        if matches!(self.mode, Mode::File { .. }) {
            return Ok(None);
        }
        let _writer = self.write.lock().await;
        self.sync_locked().await
    }

    async fn sync_locked(&self) -> Result<Option<i64>, ChangeError> {
        let Some(latest) = self.store.latest().await.map_err(store_err)? else {
            return Ok(None);
        };
        if latest.version <= self.current().version {
            return Ok(None);
        }
        let loaded = serde_json::from_str::<Value>(&latest.document)
            .map_err(store_err)
            .and_then(|doc| document::decrypted(&doc, &self.cipher).map_err(store_err))
            .and_then(|doc| {
                heimdall_config::parse_value(doc.clone(), self.env.as_ref())
                    .map(|l| (doc, l))
                    .map_err(ChangeError::Invalid)
            });
        let (doc, loaded) = match loaded {
            Ok(x) => x,
            Err(e) => {
                self.counts.failed.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        self.counts.remote.fetch_add(1, Ordering::Relaxed);
        self.swap(loaded.config);
        self.current.store(Arc::new(Current {
            version: latest.version,
            document: doc,
        }));
        Ok(Some(latest.version))
    }

    async fn apply_locked(
        &self,
        doc: Value,
        actor: &str,
        source: &str,
        dry_run: bool,
    ) -> Result<Applied, ChangeError> {
        let loaded = heimdall_config::parse_value(doc.clone(), self.env.as_ref())
            .map_err(ChangeError::Invalid)?;
        let before = self.current();
        let diff = document::diff(&before.document, &doc);
        let restart_required = self
            .gateway
            .get()
            .map(|g| restart_required(&g.runtime().config, &loaded.config))
            .unwrap_or_default();
        if dry_run || diff.is_empty() {
            return Ok(Applied {
                version: before.version,
                dry_run,
                diff,
                restart_required,
                warnings: loaded.warnings,
            });
        }
        let version = match self
            .append(before.version, &doc, actor, source, &diff)
            .await
        {
            Ok(v) => v,
            Err(ChangeError::Conflict(m)) => {
                // Another instance wrote first: take its version, let the caller retry.
                let _ = self.sync_locked().await;
                return Err(ChangeError::Conflict(m));
            }
            Err(e) => return Err(e),
        };
        self.swap(loaded.config);
        self.current.store(Arc::new(Current {
            version,
            document: doc,
        }));
        let counter = if source == "file" {
            &self.counts.file
        } else {
            &self.counts.api
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.store.notify(version).await {
            tracing::warn!(error = %e, version, "could not notify other instances of the change");
        }
        if !restart_required.is_empty() {
            tracing::warn!(
                ?restart_required,
                version,
                "these settings take effect at the next restart"
            );
        }
        tracing::info!(version, actor, source, summary = %document::summarize(&diff), "configuration changed");
        Ok(Applied {
            version,
            dry_run: false,
            diff,
            restart_required,
            warnings: loaded.warnings,
        })
    }

    fn swap(&self, config: GatewayConfig) {
        if let Some(g) = self.gateway.get() {
            let previous = g.runtime();
            let next = Runtime::rebuild(&previous, config);
            for (name, reason) in &next.unavailable {
                tracing::warn!(provider = %name, "provider not available: {reason}");
            }
            g.replace(next);
        }
    }

    async fn append(
        &self,
        parent: i64,
        doc: &Value,
        actor: &str,
        source: &str,
        diff: &[DiffEntry],
    ) -> Result<i64, ChangeError> {
        let stored = document::encrypted(doc, &self.cipher).to_string();
        let diff_text = serde_json::to_string(diff).map_err(store_err)?;
        let summary = document::summarize(diff);
        self.store
            .append(&NewVersion {
                parent,
                actor,
                source,
                summary: &summary,
                diff: &diff_text,
                document: &stored,
                created_at_ms: crate::unix_ms(),
            })
            .await
            .map_err(|e| match e {
                AppendError::Conflict { latest } => ChangeError::Conflict(format!(
                    "the configuration changed concurrently (now version {latest}); read it again and retry"
                )),
                AppendError::Store(e) => store_err(e),
            })
    }
}

/// Settings read once at start: changing them is stored and reported, and takes effect at
/// the next restart.
pub fn restart_required(old: &GatewayConfig, new: &GatewayConfig) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |name: &str, changed: bool| {
        if changed {
            out.push(name.to_owned());
        }
    };
    check("server.host", old.server.host != new.server.host);
    check("server.port", old.server.port != new.server.port);
    check(
        "server.allowed_hosts",
        old.server.allowed_hosts != new.server.allowed_hosts,
    );
    check("server.limits", old.server.limits != new.server.limits);
    check(
        "client.max_request_body_size_mb",
        old.client.max_request_body_size_mb != new.client.max_request_body_size_mb,
    );
    check(
        "client.max_upload_size_mb",
        old.client.max_upload_size_mb != new.client.max_upload_size_mb,
    );
    check(
        "client.metrics_prefix",
        old.client.metrics_prefix != new.client.metrics_prefix,
    );
    check(
        "client.prometheus_labels",
        old.client.prometheus_labels != new.client.prometheus_labels,
    );
    check(
        "client.enable_logging",
        old.client.enable_logging != new.client.enable_logging,
    );
    check("logs_store", old.logs_store != new.logs_store);
    check("config_store", old.config_store != new.config_store);
    check("redis", old.redis != new.redis);
    check(
        "governance.on_store_unavailable",
        old.governance.on_store_unavailable != new.governance.on_store_unavailable,
    );
    check("otel", old.otel != new.otel);
    check("observability", old.process != new.process);
    check("encryption_key", old.encryption_key != new.encryption_key);
    check(
        "governance.auth_config",
        old.auth.admin_username != new.auth.admin_username,
    );
    out
}
