//! The observability and cost sections: `logs_store` (where request logs go) and `pricing`
//! (per-model price overrides and the price for models the catalog does not know).
//!
//! Why typed here: both are read by the server at start and on reload; a mistyped field must
//! be reported with its path like every other section, not silently ignored.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::build::LoadCtx;
use crate::model::{GatewayConfig, Secret};

/// Which database holds the request logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogsStoreKind {
    /// A file in the data directory (the default; no external service).
    #[default]
    Sqlite,
    /// A PostgreSQL server (production, shared by replicas).
    Postgres,
}

/// The CPU priority of the log writer thread (and the database threads it starts) against
/// the request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WriterPriority {
    /// Linux `SCHED_IDLE`: writes use only CPU time the request path leaves (the default).
    /// Under sustained full load the queue fills and records are dropped and counted.
    #[default]
    Idle,
    /// Nice +10: requests usually win, the writer still gets a share under full load.
    Low,
    /// The same priority as requests.
    Normal,
}

/// `logs_store`: `{enabled, type, config: {…}}` as in Bifrost's config.json.
#[derive(Debug, Clone, Serialize)]
pub struct LogsStoreConfig {
    /// Keep request logs at all.
    pub enabled: bool,
    /// SQLite or PostgreSQL.
    pub kind: LogsStoreKind,
    /// SQLite file (default `<app-dir>/logs.db`).
    pub path: Option<String>,
    /// PostgreSQL URL; built from the parts below when absent.
    pub url: Option<Secret>,
    /// PostgreSQL host.
    pub host: String,
    /// PostgreSQL port.
    pub port: u16,
    /// PostgreSQL user.
    pub user: String,
    /// PostgreSQL password.
    pub password: Option<Secret>,
    /// PostgreSQL database.
    pub db_name: String,
    /// PostgreSQL `sslmode` (disable, prefer, require, verify-ca, verify-full).
    pub ssl_mode: String,
    /// Records older than this many days are deleted (0 = keep forever).
    pub retention_days: u32,
    /// Most records written in one batch.
    pub batch_size: usize,
    /// Longest a record waits before its batch is written, in milliseconds.
    pub flush_interval_ms: u64,
    /// Records held while the store is slow or down; past this, new records are dropped and
    /// counted.
    pub max_pending: usize,
    /// Bytes of records held (queued and in the batch in hand) at most; past this, new records
    /// are dropped and counted — the record count alone let 16 KB prompts take 612 MB.
    pub max_pending_bytes: usize,
    /// CPU priority of the writer against the request path.
    pub writer_priority: WriterPriority,
}

impl Default for LogsStoreConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            kind: LogsStoreKind::Sqlite,
            path: None,
            url: None,
            host: "127.0.0.1".to_owned(),
            port: 5432,
            user: "postgres".to_owned(),
            password: None,
            db_name: "postgres".to_owned(),
            ssl_mode: "prefer".to_owned(),
            retention_days: 30,
            // Small batches: a batch of 500 raised the p99 latency and the resident memory at
            // 3,000 RPS (docs/benchmarks.md); 100 rows per transaction still amortises it.
            batch_size: 100,
            flush_interval_ms: 100,
            max_pending: 50_000,
            max_pending_bytes: 32 * 1024 * 1024,
            writer_priority: WriterPriority::Idle,
        }
    }
}

/// One model's prices in USD per 1M tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelPrice {
    /// Input (prompt) tokens.
    pub input: f64,
    /// Output (completion) tokens.
    #[serde(default)]
    pub output: f64,
    /// Input tokens read from the provider's prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
    /// Input tokens written to the provider's prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
    /// Reasoning tokens, when priced apart from output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<f64>,
}

/// `pricing`: overrides of the built-in catalog and a price for unknown models.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PricingConfig {
    /// `provider/model` (a configured provider name) or a bare model → price.
    #[serde(default)]
    pub overrides: std::collections::BTreeMap<String, ModelPrice>,
    /// Price applied to a model neither the overrides nor the catalog know; without it such a
    /// request is logged as unpriced (never as $0).
    #[serde(default)]
    pub default_price: Option<ModelPrice>,
}

/// OTLP wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OtlpProtocol {
    /// HTTP with protobuf bodies (`POST {endpoint}/v1/traces`).
    #[default]
    #[serde(alias = "http/protobuf")]
    #[schemars(extend("x-aliases" = ["http/protobuf"]))]
    Http,
    /// gRPC (`TraceService/Export`).
    Grpc,
}

/// `otel`: OpenTelemetry traces over OTLP.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OtelConfig {
    /// Export traces at all.
    #[serde(default)]
    pub enabled: bool,
    /// Collector endpoint (`http://collector:4318` for HTTP, `http://collector:4317` for gRPC).
    #[serde(default, alias = "collector_url")]
    #[schemars(extend("x-aliases" = ["collector_url"]))]
    pub endpoint: Option<String>,
    /// `http` (protobuf) or `grpc`.
    #[serde(default)]
    pub protocol: OtlpProtocol,
    /// Extra headers sent to the collector (authentication).
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// `service.name` of the spans.
    #[serde(default = "default_service_name")]
    pub service_name: String,
    /// Share of requests traced (0–1) when the client sent no sampled `traceparent`.
    #[serde(default = "default_sample_rate", alias = "sampleRate")]
    #[schemars(extend("x-aliases" = ["sampleRate"]), range(min = 0.0, max = 1.0))]
    pub sample_rate: f64,
}

fn default_service_name() -> String {
    "heimdall".to_owned()
}

fn default_sample_rate() -> f64 {
    1.0
}

impl Default for OtelConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            endpoint: None,
            protocol: OtlpProtocol::Http,
            headers: std::collections::BTreeMap::new(),
            service_name: default_service_name(),
            sample_rate: default_sample_rate(),
        }
    }
}

/// `logs_store`: where request logs go, as in Bifrost's config.json.
#[derive(Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "LogsStore")]
pub(crate) struct RawLogsStore {
    /// Keep request logs at all (default true).
    #[serde(default)]
    enabled: Option<bool>,
    /// `sqlite` (the default, a file in the data directory) or `postgres`.
    #[serde(default, rename = "type")]
    kind: Option<LogsStoreKind>,
    /// Where the database is.
    #[serde(default)]
    config: Option<RawStoreConfig>,
    /// Records older than this many days are deleted (0 = keep forever; default 30).
    #[serde(default)]
    retention_days: Option<u32>,
    /// Most records written in one batch (default 100).
    #[serde(default)]
    batch_size: Option<usize>,
    /// Longest a record waits before its batch is written, in milliseconds (default 100).
    #[serde(default)]
    flush_interval_ms: Option<u64>,
    /// Records held while the store is slow or down (default 50000); past this, new records
    /// are dropped and counted.
    #[serde(default)]
    max_pending: Option<usize>,
    /// MB of records held at most (default 32); past this, new records are dropped and
    /// counted.
    #[serde(default)]
    max_pending_mb: Option<usize>,
    /// CPU priority of the log writer against the request path (default `idle`).
    #[serde(default)]
    writer_priority: Option<WriterPriority>,
}

/// `logs_store.config`: the SQLite file or the PostgreSQL connection. Every value accepts env
/// references.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "LogsStoreConnection")]
struct RawStoreConfig {
    /// SQLite file (default `<app-dir>/logs.db`).
    #[serde(default)]
    path: Option<String>,
    /// PostgreSQL URL (`postgres://…`); built from the parts below when absent.
    #[serde(default)]
    url: Option<String>,
    /// PostgreSQL host (default `127.0.0.1`).
    #[serde(default)]
    host: Option<String>,
    /// PostgreSQL port (default 5432): a number, or a string such as `env.PG_PORT`.
    #[serde(default)]
    #[schemars(schema_with = "port_or_reference")]
    port: Option<Value>,
    /// PostgreSQL user (default `postgres`).
    #[serde(default)]
    user: Option<String>,
    /// PostgreSQL password.
    #[serde(default)]
    password: Option<String>,
    /// PostgreSQL database (default `postgres`).
    #[serde(default)]
    db_name: Option<String>,
    /// PostgreSQL `sslmode`: disable, prefer (the default), require, verify-ca, verify-full.
    #[serde(default)]
    ssl_mode: Option<String>,
}

fn port_or_reference(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "anyOf": [
            {"type": "integer", "minimum": 0, "maximum": 65535},
            {"type": "string"},
            {"type": "null"}
        ]
    })
}

/// The top-level keys of `logs_store` (both spellings).
pub(crate) const LOGS_STORE_KEYS: [&str; 2] = ["logs_store", "logsStore"];

/// Move `logs_store` and `pricing` out of the not-yet-active sections into typed config.
pub(crate) fn take_sections(cfg: &mut GatewayConfig, ctx: &mut LoadCtx<'_>) {
    for name in LOGS_STORE_KEYS {
        if let Some(v) = cfg.inactive_sections.remove(name) {
            logs_store(cfg, name, v, ctx);
        }
    }
    if let Some(v) = cfg.inactive_sections.remove("otel") {
        match serde_path_to_error::deserialize::<_, OtelConfig>(v) {
            Ok(mut o) => {
                o.endpoint = o.endpoint.map(|e| ctx.resolve("otel.endpoint", &e));
                for (k, v) in &mut o.headers {
                    *v = ctx.resolve(&format!("otel.headers.{k}"), v);
                }
                if !(0.0..=1.0).contains(&o.sample_rate) {
                    ctx.issue("otel.sample_rate", "must be between 0 and 1".to_owned());
                }
                if o.enabled && o.endpoint.is_none() {
                    ctx.issue("otel.endpoint", "required when otel is enabled".to_owned());
                }
                cfg.otel = o;
            }
            Err(e) => ctx.issue(format!("otel.{}", e.path()), e.into_inner().to_string()),
        }
    }
    if let Some(v) = cfg.inactive_sections.remove("pricing") {
        match serde_path_to_error::deserialize::<_, PricingConfig>(v) {
            Ok(p) => cfg.pricing = p,
            Err(e) => ctx.issue(format!("pricing.{}", e.path()), e.into_inner().to_string()),
        }
    }
}

fn logs_store(cfg: &mut GatewayConfig, name: &str, v: Value, ctx: &mut LoadCtx<'_>) {
    let raw: RawLogsStore = match serde_path_to_error::deserialize(v) {
        Ok(r) => r,
        Err(e) => {
            ctx.issue(format!("{name}.{}", e.path()), e.into_inner().to_string());
            return;
        }
    };
    let mut out = LogsStoreConfig {
        enabled: raw.enabled.unwrap_or(true),
        kind: raw.kind.unwrap_or_default(),
        ..LogsStoreConfig::default()
    };
    if let Some(n) = raw.retention_days {
        out.retention_days = n;
    }
    if let Some(n) = raw.batch_size.filter(|n| *n > 0) {
        out.batch_size = n;
    }
    if let Some(n) = raw.flush_interval_ms.filter(|n| *n > 0) {
        out.flush_interval_ms = n;
    }
    if let Some(n) = raw.max_pending {
        out.max_pending = n;
    }
    if let Some(mb) = raw.max_pending_mb.filter(|n| *n > 0) {
        out.max_pending_bytes = mb.saturating_mul(1024 * 1024);
    }
    if let Some(p) = raw.writer_priority {
        out.writer_priority = p;
    }
    if let Some(c) = raw.config {
        let at = |f: &str| format!("{name}.config.{f}");
        out.path = c.path.map(|p| ctx.resolve(&at("path"), &p));
        out.url = c
            .url
            .map(|u| Secret::new(ctx.resolve(&at("url"), &u)))
            .filter(|s| !s.expose().is_empty());
        if let Some(h) = c.host {
            out.host = ctx.resolve(&at("host"), &h);
        }
        if let Some(p) = c.port {
            let text = match p {
                Value::String(s) => ctx.resolve(&at("port"), &s),
                other => other.to_string(),
            };
            match text.trim().parse() {
                Ok(port) => out.port = port,
                Err(_) => ctx.issue(at("port"), format!("'{text}' is not a port number")),
            }
        }
        if let Some(u) = c.user {
            out.user = ctx.resolve(&at("user"), &u);
        }
        out.password = c
            .password
            .map(|p| Secret::new(ctx.resolve(&at("password"), &p)));
        if let Some(d) = c.db_name {
            out.db_name = ctx.resolve(&at("db_name"), &d);
        }
        if let Some(s) = c.ssl_mode {
            out.ssl_mode = ctx.resolve(&at("ssl_mode"), &s);
        }
    }
    cfg.logs_store = out;
}
