//! The validated configuration model every other crate reads.
//!
//! Why separate from the raw file shapes: two file layouts (Bifrost `config.json` and
//! `bifrost.yaml`) and zero-config all produce this one model, so the engine never cares where
//! the config came from. Secrets are wrapped so that `Debug` and serialisation never show them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::kinds::ProviderKind;

pub use crate::secret::Secret;

/// The whole gateway configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GatewayConfig {
    /// Providers by name (the name used in `provider/model`).
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Client-facing behaviour.
    pub client: ClientConfig,
    /// Listen settings from the file (CLI flags win).
    pub server: ServerConfig,
    /// Alias → `provider/model`.
    pub model_aliases: BTreeMap<String, String>,
    /// Model → ordered `provider/model` fallback chain (used by the routing work).
    pub fallbacks: BTreeMap<String, Vec<String>>,
    /// Balancing strategy, provider weights, circuit breakers and health checks.
    pub load_balancing: crate::balancing::LoadBalancingConfig,
    /// Failure classes that move a request to its next fallback target.
    pub fallback_triggers: Vec<crate::balancing::FallbackTrigger>,
    /// Where request logs are kept.
    pub logs_store: crate::observability::LogsStoreConfig,
    /// Price overrides and the price for unknown models.
    pub pricing: crate::observability::PricingConfig,
    /// OpenTelemetry trace export.
    pub otel: crate::observability::OtelConfig,
    /// CORS, per-client rate limits, IP allow-list, API-key enforcement.
    pub security: crate::security::SecurityConfig,
    /// Admin credentials from the file and inference auth.
    pub auth: crate::security::AuthConfig,
    /// Log level and format, the metrics listener.
    pub process: crate::security::ProcessObservability,
    /// Where the configuration itself is kept (`config_store`); `None`: not configured.
    pub config_store: Option<crate::observability::LogsStoreConfig>,
    /// Key that encrypts secrets at rest (`encryption_key`, env references allowed).
    pub encryption_key: Option<Secret>,
    /// Virtual keys, the customer → team → key hierarchy, budgets and rate limits.
    pub governance: crate::governance::GovernanceConfig,
    /// The Redis instances share counters in (`redis`); `None`: counters in memory.
    pub redis: Option<crate::governance::RedisConfig>,
    /// The response cache (`caching`, `cache`, or the `semantic_cache` plugin entry).
    pub cache: crate::cache::CacheConfig,
    /// MCP servers and their tools (`mcp`).
    pub mcp: crate::mcp::McpConfig,
    /// Sections parsed and kept but not active in this version.
    pub inactive_sections: BTreeMap<String, serde_json::Value>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            providers: BTreeMap::new(),
            client: ClientConfig::default(),
            server: ServerConfig::default(),
            model_aliases: BTreeMap::new(),
            fallbacks: BTreeMap::new(),
            load_balancing: crate::balancing::LoadBalancingConfig::default(),
            fallback_triggers: crate::balancing::FallbackTrigger::DEFAULT.to_vec(),
            logs_store: crate::observability::LogsStoreConfig::default(),
            pricing: crate::observability::PricingConfig::default(),
            otel: crate::observability::OtelConfig::default(),
            security: crate::security::SecurityConfig::default(),
            auth: crate::security::AuthConfig::default(),
            process: crate::security::ProcessObservability::standard(),
            config_store: None,
            encryption_key: None,
            governance: crate::governance::GovernanceConfig::default(),
            redis: None,
            cache: crate::cache::CacheConfig::default(),
            mcp: crate::mcp::McpConfig::default(),
            inactive_sections: BTreeMap::new(),
        }
    }
}

impl GatewayConfig {
    /// A provider by name.
    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.get(name)
    }
}

/// One configured provider.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderConfig {
    /// Provider name.
    pub name: String,
    /// Its kind.
    pub kind: ProviderKind,
    /// Keys, in config order.
    pub keys: Vec<KeyConfig>,
    /// Network settings.
    pub network: NetworkConfig,
    /// Concurrency and queue settings.
    pub concurrency: ConcurrencyConfig,
    /// Outbound proxy.
    pub proxy: Option<ProxyConfig>,
    /// Models declared for the provider (empty: not declared).
    pub models: Vec<String>,
}

impl ProviderConfig {
    /// The base URL requests go to: `network_config.base_url` (normalised), else the preset's.
    pub fn base_url(&self) -> Option<String> {
        match &self.network.base_url {
            Some(url) if !url.is_empty() => Some(normalize_base_url(url)),
            _ => self.kind.preset().default_base_url.map(str::to_owned),
        }
    }
}

/// Trim a trailing `/`; a URL with no path gets `/v1`, as Bifrost appends it.
pub fn normalize_base_url(url: &str) -> String {
    let trimmed = url.trim().trim_end_matches('/');
    let after_scheme = trimmed.split_once("://").map_or(trimmed, |(_, rest)| rest);
    if after_scheme.contains('/') {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/v1")
    }
}

/// One provider key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyConfig {
    /// Key name (given, or `<provider>-key-<index>`).
    pub name: String,
    /// The resolved secret.
    pub value: Secret,
    /// Models the key may serve (empty: all).
    pub models: Vec<String>,
    /// Relative traffic share.
    pub weight: f64,
    /// Whether the key takes traffic (`enabled`, default true): a disabled key stays in the
    /// config but is never chosen and never health-checked.
    pub enabled: bool,
    /// Per-key URL (vLLM, SGLang), normalised.
    pub base_url: Option<String>,
    /// An environment variable the value referenced that is not set (the key is then unusable).
    pub unresolved_env: Option<String>,
    /// Azure OpenAI: endpoint, deployments, API version, optional Entra ID credentials.
    pub azure: Option<AzureKeyConfig>,
    /// Vertex AI: project, region, service-account credentials.
    pub vertex: Option<VertexKeyConfig>,
    /// AWS Bedrock: region and IAM credentials (or the key's value as a Bedrock API key).
    pub bedrock: Option<BedrockKeyConfig>,
}

/// AWS Bedrock settings of a key (Bifrost's `bedrock_key_config`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BedrockKeyConfig {
    /// AWS region (`us-east-1`, …).
    pub region: String,
    /// IAM access key id; empty when the key's `value` is a Bedrock API key (bearer).
    pub access_key: Secret,
    /// IAM secret access key.
    pub secret_key: Secret,
    /// STS session token for temporary credentials.
    pub session_token: Option<Secret>,
    /// Model name → model id, inference-profile id or ARN.
    pub deployments: BTreeMap<String, String>,
}

/// Vertex AI settings of a key (Bifrost's `vertex_key_config`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VertexKeyConfig {
    /// Google Cloud project id.
    pub project_id: String,
    /// Region (`us-central1`, …) or `global`.
    pub region: String,
    /// The service-account key JSON (from `auth_credentials`: inline JSON or a file path).
    pub credentials: Secret,
    /// OAuth token endpoint override (default: the key file's `token_uri`).
    pub token_url: Option<String>,
}

/// Azure OpenAI settings of a key (Bifrost's `azure_key_config`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AzureKeyConfig {
    /// `https://<resource>.openai.azure.com` (no path).
    pub endpoint: String,
    /// Model name → deployment name (a model without an entry is its own deployment name).
    pub deployments: BTreeMap<String, String>,
    /// `api-version` query parameter.
    pub api_version: String,
    /// Entra ID client credentials; without them the key's `value` is sent as `api-key`.
    pub entra: Option<EntraConfig>,
}

/// The Azure OpenAI API version used when a key names none.
pub const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";

/// Entra ID (Azure AD) client-credentials settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntraConfig {
    /// Directory (tenant) id.
    pub tenant_id: String,
    /// Application (client) id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: Secret,
    /// Token endpoint; default `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`.
    pub token_url: String,
    /// Scope; default `https://cognitiveservices.azure.com/.default`.
    pub scope: String,
}

/// Network settings of a provider.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkConfig {
    /// Base URL override.
    pub base_url: Option<String>,
    /// Headers added to every upstream request.
    pub extra_headers: BTreeMap<String, String>,
    /// Upper bound for a request (and a stream's first byte and idle gaps).
    pub default_request_timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff.
    pub retry_backoff_initial: Duration,
    /// Largest backoff.
    pub retry_backoff_max: Duration,
    /// How long a key stays out of rotation after a 429 without `Retry-After`, or a 401/403.
    pub key_cooldown: Duration,
    /// Establishing a TCP/TLS connection.
    pub connect_timeout: Duration,
    /// A stream's first chunk (headers included); `None` = `default_request_timeout`.
    pub first_byte_timeout: Option<Duration>,
    /// Silence allowed between two stream chunks; `None` = `default_request_timeout`.
    pub stream_idle_timeout: Option<Duration>,
    /// Ceiling for a client's `x-bf-request-timeout`; `None` = the larger of
    /// `default_request_timeout` and 600 s.
    pub max_request_timeout: Option<Duration>,
    /// Largest upstream answer read (a whole body, or one stream event), in bytes: a larger
    /// one is a 502, never buffered.
    pub max_response_bytes: usize,
}

/// The default response cap: far above any real completion, well below what hurts.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

impl NetworkConfig {
    /// Time allowed for a stream's first chunk.
    pub fn first_byte(&self) -> Duration {
        self.first_byte_timeout
            .unwrap_or(self.default_request_timeout)
    }

    /// Silence allowed between stream chunks.
    pub fn stream_idle(&self) -> Duration {
        self.stream_idle_timeout
            .unwrap_or(self.default_request_timeout)
    }

    /// Largest request timeout a client may ask for.
    pub fn request_timeout_cap(&self) -> Duration {
        self.max_request_timeout
            .unwrap_or_else(|| self.default_request_timeout.max(Duration::from_secs(600)))
    }

    /// The longest any configured timeout can be: transport-level backstop, so the engine's
    /// own deadlines (which produce the precise errors) always fire first.
    pub fn backstop(&self) -> Duration {
        self.request_timeout_cap()
            .max(self.first_byte())
            .max(self.stream_idle())
            + Duration::from_secs(1)
    }
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            base_url: None,
            extra_headers: BTreeMap::new(),
            default_request_timeout: Duration::from_secs(30),
            max_retries: 0,
            retry_backoff_initial: Duration::from_millis(500),
            retry_backoff_max: Duration::from_secs(5),
            key_cooldown: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: None,
            stream_idle_timeout: None,
            max_request_timeout: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// Concurrency and queue settings of a provider.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConcurrencyConfig {
    /// Upstream requests in flight at most.
    pub concurrency: usize,
    /// Requests waiting at most.
    pub buffer_size: usize,
}

impl Default for ConcurrencyConfig {
    fn default() -> Self {
        Self {
            concurrency: 1000,
            buffer_size: 5000,
        }
    }
}

/// Outbound proxy kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyKind {
    /// No proxy, even if the environment names one.
    None,
    /// HTTP(S) proxy.
    Http,
    /// SOCKS5 proxy.
    Socks5,
    /// The proxy named by HTTPS_PROXY / HTTP_PROXY / ALL_PROXY.
    Environment,
}

/// Outbound proxy settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProxyConfig {
    /// Kind.
    pub kind: ProxyKind,
    /// Proxy URL.
    pub url: String,
    /// Proxy user.
    pub username: Option<String>,
    /// Proxy password.
    pub password: Option<Secret>,
}

/// Client-facing behaviour (Bifrost's `client` section).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientConfig {
    /// Request body limit in MB.
    pub max_request_body_size_mb: u64,
    /// Upload limit in MB (forms on `/audio/transcriptions`, `/audio/translations`,
    /// `/images/edits`).
    pub max_upload_size_mb: u64,
    /// Answer 429 at once when a provider queue is full.
    pub drop_excess_requests: bool,
    /// Keep request logs.
    pub enable_logging: bool,
    /// Keep request/response content out of logs.
    pub disable_content_logging: bool,
    /// Extra Prometheus label names accepted from `x-bf-prom-*` headers.
    pub prometheus_labels: Vec<String>,
    /// CORS origins.
    pub allowed_origins: Vec<String>,
    /// Serve `/v1/completions` to chat-only models by conversion.
    pub enable_litellm_fallbacks: bool,
    /// Prefix of every Prometheus metric name (`heimdall`; `bifrost` gives Bifrost's names).
    pub metrics_prefix: String,
    /// Other client keys, kept.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            max_request_body_size_mb: 10,
            max_upload_size_mb: 25,
            drop_excess_requests: false,
            enable_logging: true,
            disable_content_logging: false,
            prometheus_labels: Vec::new(),
            allowed_origins: Vec::new(),
            enable_litellm_fallbacks: false,
            metrics_prefix: "heimdall".to_owned(),
            extra: serde_json::Map::new(),
        }
    }
}

/// Listen settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServerConfig {
    /// Host to bind.
    pub host: Option<String>,
    /// Port to bind.
    pub port: Option<u16>,
    /// Overall request timeout.
    pub timeout: Option<Duration>,
    /// `Host` names the gateway answers to (DNS-rebinding guard); empty: the loopback names
    /// when bound to loopback, any host otherwise. `*` allows any; `*.example.com` a suffix.
    pub allowed_hosts: Vec<String>,
    /// Ingress limits of the listener (timeouts, connections).
    pub limits: ListenerLimits,
}

/// What one client connection may hold and for how long.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListenerLimits {
    /// A request's head (line and headers) must arrive within this.
    pub header_read_timeout: Duration,
    /// A request's body must arrive within this, from its head.
    pub body_read_timeout: Duration,
    /// A keep-alive connection with no request in flight is closed after this.
    pub idle_timeout: Duration,
    /// Open client connections at most; past it, new ones get a 503 and are closed.
    pub max_connections: usize,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
        }
    }
}

impl GatewayConfig {
    /// Settings that were parsed and kept but that this version does not act on yet, by name.
    ///
    /// Reported at start-up and by `check-config`, so nothing in a file is silently ignored.
    pub fn not_yet_active(&self) -> Vec<String> {
        let mut out: Vec<String> = self.inactive_sections.keys().cloned().collect();
        out.extend(self.client.extra.keys().map(|k| format!("client.{k}")));
        out
    }
}
