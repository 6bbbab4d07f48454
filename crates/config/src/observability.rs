//! The observability and cost sections: `logs_store` (where request logs go) and `pricing`
//! (per-model price overrides and the price for models the catalog does not know).
//!
//! Why typed here: both are read by the server at start and on reload; a mistyped field must
//! be reported with its path like every other section, not silently ignored.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::secret::Secret;

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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
            max_pending_bytes: 16 * 1024 * 1024,
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    pub(crate) enabled: Option<bool>,
    /// `sqlite` (the default, a file in the data directory) or `postgres`.
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<LogsStoreKind>,
    /// Where the database is.
    #[serde(default)]
    pub(crate) config: Option<RawStoreConfig>,
    /// Records older than this many days are deleted (0 = keep forever; default 30).
    #[serde(default)]
    pub(crate) retention_days: Option<u32>,
    /// Most records written in one batch (default 100).
    #[serde(default)]
    pub(crate) batch_size: Option<usize>,
    /// Longest a record waits before its batch is written, in milliseconds (default 100).
    #[serde(default)]
    pub(crate) flush_interval_ms: Option<u64>,
    /// Records held while the store is slow or down (default 50000); past this, new records
    /// are dropped and counted.
    #[serde(default)]
    pub(crate) max_pending: Option<usize>,
    /// MB of records held at most (default 16); past this, new records are dropped and
    /// counted.
    #[serde(default)]
    pub(crate) max_pending_mb: Option<usize>,
    /// CPU priority of the log writer against the request path (default `idle`).
    #[serde(default)]
    pub(crate) writer_priority: Option<WriterPriority>,
}

/// `logs_store.config`: the SQLite file or the PostgreSQL connection. Every value accepts env
/// references.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "LogsStoreConnection")]
pub(crate) struct RawStoreConfig {
    /// SQLite file (default `<app-dir>/logs.db`).
    #[serde(default)]
    pub(crate) path: Option<String>,
    /// PostgreSQL URL (`postgres://…`); built from the parts below when absent.
    #[serde(default)]
    pub(crate) url: Option<String>,
    /// PostgreSQL host (default `127.0.0.1`).
    #[serde(default)]
    pub(crate) host: Option<String>,
    /// PostgreSQL port (default 5432): a number, or a string such as `env.PG_PORT`.
    #[serde(default)]
    #[schemars(schema_with = "port_or_reference")]
    pub(crate) port: Option<Value>,
    /// PostgreSQL user (default `postgres`).
    #[serde(default)]
    pub(crate) user: Option<String>,
    /// PostgreSQL password.
    #[serde(default)]
    pub(crate) password: Option<String>,
    /// PostgreSQL database (default `postgres`).
    #[serde(default)]
    pub(crate) db_name: Option<String>,
    /// PostgreSQL `sslmode`: disable, prefer (the default), require, verify-ca, verify-full.
    #[serde(default)]
    pub(crate) ssl_mode: Option<String>,
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
