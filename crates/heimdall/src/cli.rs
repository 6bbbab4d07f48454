//! Command-line interface: `serve` (the default), `check-config` and `config-schema`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use heimdall_config::{LoadedConfig, ProcessEnv};

/// Heimdall — an OpenAI-compatible AI gateway in front of many model providers.
#[derive(Debug, Parser)]
#[command(name = "heimdall", version, about, long_about = None)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options for serving (also accepted without the `serve` word).
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run the gateway (the default when no command is given).
    Serve,
    /// Load and validate a config file (JSON or YAML), print a summary, exit non-zero on errors.
    CheckConfig {
        /// The config file (.json, .yaml or .yml).
        file: PathBuf,
    },
    /// Write the configuration in effect (or version N) from the config store as a JSON file
    /// that `--config` loads again.
    ExportConfig {
        /// A stored version (default: the latest).
        #[arg(long)]
        version: Option<i64>,
        /// Output file (created 0600); default: standard output.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        /// Replace secrets by their last four characters (the file then cannot be loaded as is).
        #[arg(long)]
        redact: bool,
    },
    /// Print the JSON Schema of the config file (Bifrost config.json layout), as checked in at
    /// docs/config.schema.json.
    ConfigSchema,
}

/// Where the configuration's truth is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConfigMode {
    /// The file (`--config`) is the truth: reloaded on change and SIGHUP; API writes get 409.
    File,
    /// The config store is the truth: the file only seeds an empty store; the API writes.
    Store,
}

/// Log line format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Options of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Config file (Bifrost config.json layout, or the bifrost.yaml layout). Without one,
    /// providers come from well-known environment variables (OPENAI_API_KEY, GROQ_API_KEY, …).
    #[arg(long, short = 'c', env = "HEIMDALL_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: config `server.host`, else 127.0.0.1].
    #[arg(long, env = "HEIMDALL_HOST", global = true)]
    pub host: Option<String>,
    /// Port to listen on [default: config `server.port`, else 8080].
    #[arg(long, short = 'p', env = "HEIMDALL_PORT", global = true)]
    pub port: Option<u16>,
    /// Where the configuration's truth is [default: `file` with `--config` (unless the file's
    /// `config_store.enabled` is true), else `store`].
    #[arg(long, env = "HEIMDALL_CONFIG_MODE", value_enum, global = true)]
    pub config_mode: Option<ConfigMode>,
    /// The config store's database (`sqlite://…` or `postgres://…`) [default: the file's
    /// `config_store`, else `config.db` in the app dir].
    #[arg(long, env = "HEIMDALL_CONFIG_STORE_URL", global = true)]
    pub config_store_url: Option<String>,
    /// Log level or filter (error, warn, info, debug, trace, or a tracing filter expression)
    /// [default: the config's `observability.logging.level`, else info].
    #[arg(long, env = "HEIMDALL_LOG_LEVEL", global = true)]
    pub log_level: Option<String>,
    /// Log format [default: the config's `observability.logging.format`, else text].
    #[arg(long, env = "HEIMDALL_LOG_FORMAT", value_enum, global = true)]
    pub log_format: Option<LogFormat>,
    /// Seconds to let in-flight requests finish after SIGTERM/SIGINT.
    #[arg(long, default_value_t = 30, global = true)]
    pub shutdown_grace_seconds: u64,
    /// Seconds between SIGTERM and closing the listener: `/ready` answers 503 at once and new
    /// connections are still served meanwhile, so a load balancer (a Kubernetes Service) can
    /// take the instance out before it stops accepting. SIGINT (Ctrl-C) does not wait.
    #[arg(
        long,
        env = "HEIMDALL_DRAIN_DELAY_SECONDS",
        default_value_t = 0,
        global = true
    )]
    pub drain_delay_seconds: u64,
    /// Async worker threads [default: the CPUs this process may run on (its affinity mask,
    /// e.g. under `taskset` or a container CPU set), not all CPUs of the machine].
    #[arg(long, env = "HEIMDALL_WORKER_THREADS", global = true)]
    pub worker_threads: Option<usize>,
    /// Data directory (the default SQLite request-log store lives here as `logs.db`).
    #[arg(
        long,
        env = "HEIMDALL_APP_DIR",
        default_value = "./data",
        global = true
    )]
    pub app_dir: PathBuf,
}

/// `heimdall check-config FILE`.
pub fn check_config(file: &Path) -> ExitCode {
    match heimdall_config::load_file(file, &ProcessEnv) {
        Ok(loaded) => {
            let mut out = std::io::stdout().lock();
            let _ = write_summary(&mut out, file, &loaded);
            ExitCode::SUCCESS
        }
        Err(e) => {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{}: invalid configuration:\n{e}", file.display());
            ExitCode::FAILURE
        }
    }
}

/// `heimdall config-schema`: the config file's JSON Schema on stdout.
pub fn config_schema() -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out
        .write_all(heimdall_config::json_schema_pretty().as_bytes())
        .and_then(|()| out.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "cannot write the schema: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The control-plane settings in effect, one line each (only those set).
fn write_security(
    out: &mut impl Write,
    cfg: &heimdall_config::GatewayConfig,
) -> std::io::Result<()> {
    let s = &cfg.security;
    if s.cors.enabled {
        writeln!(out, "CORS: {}", s.cors.allowed_origins.join(", "))?;
    }
    if s.rate_limit.is_active() {
        let per = |n: Option<u32>, unit: &str| n.map(|n| format!("{n}/{unit}"));
        let limits: Vec<String> = [
            per(s.rate_limit.requests_per_minute, "minute"),
            per(s.rate_limit.requests_per_hour, "hour"),
        ]
        .into_iter()
        .flatten()
        .collect();
        writeln!(
            out,
            "rate limit per client IP and per user: {}",
            limits.join(", ")
        )?;
    }
    if !s.ip_allow_list.is_empty() {
        writeln!(out, "IP allow-list: {}", s.ip_allow_list.join(", "))?;
    }
    if s.api_keys.enabled || cfg.auth.enforce_auth_on_inference {
        writeln!(out, "inference requires an API token (scope inference)")?;
    }
    if let Some(t) = cfg.server.timeout {
        writeln!(
            out,
            "request timeout (to the first byte): {} ms",
            t.as_millis()
        )?;
    }
    let p = &cfg.process;
    if let Some(level) = &p.log_level {
        writeln!(
            out,
            "log level: {level}{}",
            if p.log_json { ", JSON lines" } else { "" }
        )?;
    }
    if let Some(port) = p.metrics_port {
        writeln!(
            out,
            "metrics on their own port {port} at {}",
            p.metrics_path
        )?;
    }
    Ok(())
}

fn write_summary(out: &mut impl Write, file: &Path, loaded: &LoadedConfig) -> std::io::Result<()> {
    let cfg = &loaded.config;
    writeln!(out, "{}: OK ({:?} layout)", file.display(), loaded.layout)?;
    writeln!(out, "providers: {}", cfg.providers.len())?;
    for (name, p) in &cfg.providers {
        let models = if p.models.is_empty() {
            String::new()
        } else {
            format!(", models: {}", p.models.join(", "))
        };
        writeln!(
            out,
            "  - {name} (type {}, {} key(s), base URL {}{models})",
            p.kind.as_str(),
            p.keys.len(),
            p.base_url().as_deref().unwrap_or("per key")
        )?;
    }
    if !cfg.model_aliases.is_empty() {
        writeln!(out, "model aliases: {}", cfg.model_aliases.len())?;
    }
    if !cfg.fallbacks.is_empty() {
        writeln!(out, "fallback chains: {}", cfg.fallbacks.len())?;
    }
    write_security(out, cfg)?;
    let inactive = cfg.not_yet_active();
    if !inactive.is_empty() {
        writeln!(out, "parsed but not yet active: {}", inactive.join(", "))?;
    }
    for w in &loaded.warnings {
        writeln!(out, "warning: {w}")?;
    }
    Ok(())
}
