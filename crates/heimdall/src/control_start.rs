//! Starting the control plane: which mode (file or store), which store, which encryption
//! key, the version in effect — said out loud at start — and `export-config`.
//!
//! Why the mode is decided here, once: "where does the configuration come from?" must have
//! one answer a person can read in the first lines of the log, not a merge of file and store
//! decided request by request.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use heimdall_config::{ConfigFormat, LoadedConfig, ProcessEnv};
use heimdall_control::{ControlPlane, Mode, SecretCipher};
use heimdall_store::ConfigStore;
use serde_json::Value;

use crate::cli::{ConfigMode, ServeArgs};

/// What start-up settled.
pub struct Started {
    /// The control plane (versions, changes, auth).
    pub control: ControlPlane,
    /// The configuration in effect.
    pub loaded: LoadedConfig,
    /// The store's PostgreSQL URL, when it is on PostgreSQL (to follow other instances).
    pub postgres_url: Option<String>,
}

/// The file's (or the environment's) document, and the config a file validates to.
pub type Bootstrap = (Value, Option<LoadedConfig>);

/// Read and validate the file given (or take the environment's document).
pub fn bootstrap(args: &ServeArgs) -> Result<Bootstrap, String> {
    match &args.config {
        Some(path) => {
            let format = ConfigFormat::from_path(path).ok_or_else(|| {
                format!(
                    "{}: unknown config file extension; use .json, .yaml or .yml",
                    path.display()
                )
            })?;
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let doc = heimdall_config::document_from_str(&text, format)
                .map_err(|e| format!("{}: invalid configuration:\n{e}", path.display()))?;
            let loaded = heimdall_config::parse_value(doc.clone(), &ProcessEnv)
                .map_err(|e| format!("{}: invalid configuration:\n{e}", path.display()))?;
            Ok((doc, Some(loaded)))
        }
        None => Ok((heimdall_config::environment_document(&ProcessEnv), None)),
    }
}

/// The mode: the flag, else file mode for a file without `config_store.enabled`, else store
/// mode. File mode without a file is an error, not a silent store mode.
pub fn mode(args: &ServeArgs, seed: Option<&LoadedConfig>) -> Result<Mode, String> {
    let store_asked = seed
        .and_then(|l| l.config.config_store.as_ref())
        .is_some_and(|c| c.enabled);
    match (&args.config, args.config_mode) {
        (None, Some(ConfigMode::File)) => {
            Err("--config-mode file needs a configuration file (--config FILE)".to_owned())
        }
        (Some(path), Some(ConfigMode::File)) => Ok(Mode::File { path: path.clone() }),
        (Some(path), None) if !store_asked => Ok(Mode::File { path: path.clone() }),
        _ => Ok(Mode::Store),
    }
}

/// The config store's URL: the flag, else the file's `config_store`, else `config.db` in the
/// app dir.
pub fn store_url(args: &ServeArgs, seed: Option<&LoadedConfig>) -> Result<String, String> {
    if let Some(url) = &args.config_store_url {
        return Ok(url.clone());
    }
    if let Some(cfg) = seed.and_then(|l| l.config.config_store.as_ref()) {
        let mut cfg = cfg.clone();
        if cfg.path.is_none() && cfg.kind == heimdall_config::LogsStoreKind::Sqlite {
            cfg.path = Some(
                args.app_dir
                    .join("config.db")
                    .to_string_lossy()
                    .into_owned(),
            );
        }
        return Ok(heimdall_store::connection_url(&cfg, &args.app_dir));
    }
    std::fs::create_dir_all(&args.app_dir)
        .map_err(|e| format!("cannot create {}: {e}", args.app_dir.display()))?;
    Ok(format!(
        "sqlite://{}?mode=rwc",
        args.app_dir.join("config.db").display()
    ))
}

fn cipher(seed: Option<&LoadedConfig>, app_dir: &Path) -> Result<SecretCipher, String> {
    let from_env = std::env::var(heimdall_control::cipher::KEY_ENV).ok();
    let from_config = seed
        .and_then(|l| l.config.encryption_key.as_ref())
        .map(|k| k.expose().to_owned());
    SecretCipher::load(from_env.or(from_config).as_deref(), app_dir)
}

/// Open the store and settle the version in effect, from what [`bootstrap`] read.
pub async fn start(
    args: &ServeArgs,
    bootstrap: Result<Bootstrap, String>,
) -> Result<Started, String> {
    let (doc, seed) = bootstrap?;
    let mode = mode(args, seed.as_ref())?;
    let url = store_url(args, seed.as_ref())?;
    let cipher = cipher(seed.as_ref(), &args.app_dir)?;
    let (control, loaded) =
        ControlPlane::open(mode, doc, &url, cipher, Arc::new(ProcessEnv)).await?;
    let service = &control.config;
    let postgres_url = service.store().url_is_postgres().then(|| url.clone());
    let current = service.current();
    match service.mode() {
        Mode::File { path } => tracing::info!(
            mode = "file",
            file = %path.display(),
            version = current.version,
            "configuration: FILE mode — {} is the source of truth (reloaded on change and SIGHUP); API writes answer 409",
            path.display()
        ),
        Mode::Store => tracing::info!(
            mode = "store",
            version = current.version,
            store = if postgres_url.is_some() {
                "postgresql"
            } else {
                "sqlite"
            },
            "configuration: STORE mode — the config store is the source of truth; change it through /api/config and /api/providers"
        ),
    }
    Ok(Started {
        control,
        loaded,
        postgres_url,
    })
}

/// `heimdall export-config`: the current (or a given) version as a file.
pub fn export(
    args: &ServeArgs,
    version: Option<i64>,
    output: Option<&PathBuf>,
    redact: bool,
) -> std::process::ExitCode {
    use std::process::ExitCode;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let seed = match &args.config {
            Some(_) => bootstrap(args)?.1,
            None => None,
        };
        let store = ConfigStore::open(&store_url(args, seed.as_ref())?)
            .await
            .map_err(|e| format!("cannot open the config store: {e}"))?;
        let cipher = cipher(seed.as_ref(), &args.app_dir)?;
        let v = match version {
            Some(v) => store.get(v).await.map_err(|e| e.to_string())?,
            None => store.latest().await.map_err(|e| e.to_string())?,
        }
        .ok_or_else(|| "no such configuration version (the store is empty?)".to_owned())?;
        let doc: Value = serde_json::from_str(&v.document).map_err(|e| e.to_string())?;
        let doc =
            heimdall_control::document::decrypted(&doc, &cipher).map_err(|e| e.to_string())?;
        let doc = if redact {
            heimdall_control::document::redacted(&doc)
        } else {
            doc
        };
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        Ok::<_, String>((v.version, text))
    });
    match result {
        Ok((v, text)) => match output {
            Some(path) => {
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                let written = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(path)
                    .and_then(|mut f| f.write_all(text.as_bytes()));
                match written {
                    Ok(()) => {
                        eprintln!(
                            "configuration version {v} written to {} (mode 0600{})",
                            path.display(),
                            if redact {
                                ", secrets redacted"
                            } else {
                                "; it holds the secrets in clear"
                            }
                        );
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("cannot write {}: {e}", path.display());
                        ExitCode::FAILURE
                    }
                }
            }
            None => {
                use std::io::Write;
                let _ = writeln!(std::io::stdout(), "{text}");
                ExitCode::SUCCESS
            }
        },
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
