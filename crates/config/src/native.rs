//! The native layout: Bifrost's `config.json` (`providers.<name>.keys[]`, `network_config`,
//! `concurrency_and_buffer_size`, `proxy_config`, `client`), as JSON or YAML.
//!
//! Why lenient on unknown keys but strict on types: Bifrost configs carry many keys Heimdall
//! does not act on yet (they are kept and reported), but a value of the wrong type is always a
//! mistake and is reported with its path.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::build::LoadCtx;
use crate::model::{
    ClientConfig, ConcurrencyConfig, GatewayConfig, NetworkConfig, ProviderConfig, ProxyConfig,
    ProxyKind, Secret, ServerConfig,
};

/// The whole file in the native layout. Keys not listed here are kept and reported as "parsed
/// but not yet active" (the remaining sections are typed in `observability` and `balancing`).
#[derive(Deserialize, JsonSchema)]
pub(crate) struct RawNative {
    /// Providers by name; the name is used in `provider/model` and, without `type`, is the
    /// provider kind (`openai`, `anthropic`, `azure`, …).
    #[serde(default)]
    providers: BTreeMap<String, RawProvider>,
    /// Client-facing behaviour (request size, queueing, logging, metrics).
    #[serde(default)]
    client: Option<RawClient>,
    /// Listen settings and connection limits (CLI flags win over `host` and `port`).
    #[serde(default)]
    server: Option<RawServer>,
    /// A model name clients send → the `provider/model` it stands for.
    #[serde(default, alias = "aliases")]
    #[schemars(extend("x-aliases" = ["aliases"]))]
    model_aliases: BTreeMap<String, String>,
    /// A model → the ordered `provider/model` targets tried when it fails.
    #[serde(default)]
    fallbacks: BTreeMap<String, Vec<String>>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// One provider: its keys, network settings, concurrency limits and proxy.
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "Provider")]
struct RawProvider {
    /// Provider kind (`openai`, `groq`, `anthropic`, `azure`, `vertex`, `bedrock`, `custom`, …);
    /// default: `custom` with `custom_provider_config`, else the provider's name.
    #[serde(default, rename = "type", alias = "provider_type")]
    #[schemars(extend("x-aliases" = ["provider_type"]))]
    kind: Option<String>,
    /// API keys, chosen at random in proportion to `weight` among those that serve the model.
    #[serde(default)]
    keys: Vec<RawKey>,
    /// Base URL, extra headers, timeouts, retries and the response size limit.
    #[serde(default)]
    network_config: Option<RawNetwork>,
    /// Upstream requests in flight and callers waiting for this provider.
    #[serde(default)]
    concurrency_and_buffer_size: Option<RawConcurrency>,
    /// Outbound proxy for this provider (without it, no proxy is used).
    #[serde(default)]
    proxy_config: Option<RawProxy>,
    /// Models this provider serves (routing of bare model names, `/v1/models`).
    #[serde(default)]
    models: Vec<String>,
    /// Bifrost's custom provider marker: the provider is an OpenAI-compatible `custom` one.
    #[serde(default)]
    custom_provider_config: Option<RawCustom>,
}

/// Bifrost's `custom_provider_config`.
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "CustomProviderConfig")]
struct RawCustom {
    /// The dialect the custom provider speaks; only `openai` is supported.
    #[serde(default)]
    base_provider_type: Option<String>,
}

/// One API key of a provider.
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "Key")]
struct RawKey {
    /// Unique within the provider (default `<provider>-key-<i>`); shown in logs, never the value.
    #[serde(default)]
    name: Option<String>,
    /// The secret: a literal, `env.VAR` or a string with `${VAR}`; an unset variable disables
    /// the key with a warning.
    #[serde(default)]
    value: Option<String>,
    /// Models this key may serve; empty = all.
    #[serde(default)]
    models: Vec<String>,
    /// Share of traffic (≥ 0, default 1).
    #[serde(default)]
    weight: Option<f64>,
    /// Whether the key takes traffic (default true). A disabled key is kept (and shown by the
    /// API) but never chosen for a request and never health-checked.
    #[serde(default)]
    enabled: Option<bool>,
    /// This key's server URL (vLLM, SGLang); env references allowed.
    #[serde(default, alias = "url")]
    #[schemars(extend("x-aliases" = ["url"]))]
    base_url: Option<String>,
    /// Bifrost's vLLM form of the key's server URL.
    #[serde(default)]
    vllm_key_config: Option<RawUrlConfig>,
    /// Bifrost's SGLang form of the key's server URL.
    #[serde(default)]
    sglang_key_config: Option<RawUrlConfig>,
    /// Azure OpenAI: endpoint, deployments, API version, optional Entra ID credentials.
    #[serde(default)]
    azure_key_config: Option<RawAzure>,
    /// Google Vertex AI: project, region and service-account credentials.
    #[serde(default)]
    vertex_key_config: Option<RawVertex>,
    /// AWS Bedrock: region and SigV4 credentials (or the key `value` as a Bedrock API key).
    #[serde(default)]
    bedrock_key_config: Option<RawBedrock>,
}

/// AWS Bedrock key settings.
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "BedrockKeyConfig")]
struct RawBedrock {
    /// AWS region (`us-east-1`); required. Env references allowed.
    #[serde(default)]
    region: Option<String>,
    /// AWS access key id (with `secret_key`); env references allowed.
    #[serde(default)]
    access_key: Option<String>,
    /// AWS secret access key (with `access_key`); env references allowed.
    #[serde(default)]
    secret_key: Option<String>,
    /// AWS session token for temporary credentials; env references allowed.
    #[serde(default)]
    session_token: Option<String>,
    /// Model name → Bedrock model id, inference profile or ARN.
    #[serde(default)]
    deployments: BTreeMap<String, String>,
}

/// Google Vertex AI key settings.
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "VertexKeyConfig")]
struct RawVertex {
    /// Google Cloud project id; required. Env references allowed.
    #[serde(default)]
    project_id: Option<String>,
    /// Region (`us-central1`, or `global`); required. Env references allowed.
    #[serde(default)]
    region: Option<String>,
    /// The service-account key JSON itself, or a path to the key file; required. Env
    /// references allowed.
    #[serde(default)]
    auth_credentials: Option<String>,
    /// Token endpoint (default: the key file's `token_uri`).
    #[serde(default)]
    token_url: Option<String>,
}

/// Azure OpenAI key settings.
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "AzureKeyConfig")]
struct RawAzure {
    /// Resource endpoint (`https://my-resource.openai.azure.com`); required. Env references
    /// allowed.
    #[serde(default)]
    endpoint: Option<String>,
    /// Model name → deployment name.
    #[serde(default)]
    deployments: BTreeMap<String, String>,
    /// Data-plane API version (default `2024-10-21`).
    #[serde(default)]
    api_version: Option<String>,
    /// Entra ID tenant (with `client_id` and `client_secret`).
    #[serde(default)]
    tenant_id: Option<String>,
    /// Entra ID application (client) id.
    #[serde(default)]
    client_id: Option<String>,
    /// Entra ID client secret; env references allowed.
    #[serde(default)]
    client_secret: Option<String>,
    /// Entra ID token endpoint (default: the tenant's v2.0 endpoint).
    #[serde(default)]
    token_url: Option<String>,
    /// Entra ID scope (default `https://cognitiveservices.azure.com/.default`).
    #[serde(default)]
    scope: Option<String>,
}

/// A server URL (Bifrost's `vllm_key_config` / `sglang_key_config`).
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "UrlConfig")]
struct RawUrlConfig {
    /// The server's base URL; env references allowed.
    #[serde(default)]
    url: Option<String>,
}

/// A provider's network settings.
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "NetworkConfig")]
struct RawNetwork {
    /// Upstream base URL (a URL without a path gets `/v1`); env references allowed.
    #[serde(default)]
    base_url: Option<String>,
    /// Headers sent on every upstream request; values accept env references.
    #[serde(default)]
    extra_headers: BTreeMap<String, String>,
    /// Deadline of a whole non-streamed upstream call, in seconds (≥ 1, default 30).
    #[serde(default)]
    default_request_timeout_in_seconds: Option<u64>,
    /// Retries after network errors, timeouts and 5xx (default 0).
    #[serde(default)]
    max_retries: Option<u32>,
    /// First retry backoff in milliseconds (default 500).
    #[serde(default, alias = "retry_backoff_initial_ms")]
    #[schemars(extend("x-aliases" = ["retry_backoff_initial_ms"]))]
    retry_backoff_initial: Option<u64>,
    /// Longest retry backoff in milliseconds (default 5000).
    #[serde(default, alias = "retry_backoff_max_ms")]
    #[schemars(extend("x-aliases" = ["retry_backoff_max_ms"]))]
    retry_backoff_max: Option<u64>,
    /// How long a key that got 429/401/403 stays out of rotation without `Retry-After`, in
    /// seconds (default 30).
    #[serde(default)]
    key_cooldown_in_seconds: Option<u64>,
    /// Deadline to establish the TCP/TLS connection, in seconds (default 10).
    #[serde(default)]
    connect_timeout_in_seconds: Option<f64>,
    /// Deadline of a stream's first chunk, in seconds (default: the request timeout).
    #[serde(default)]
    first_byte_timeout_in_seconds: Option<f64>,
    /// Longest silence between two stream chunks, in seconds (default: the request timeout).
    #[serde(default)]
    stream_idle_timeout_in_seconds: Option<f64>,
    /// Ceiling for a client's `x-bf-request-timeout`, in seconds (default: max(request
    /// timeout, 600)).
    #[serde(default)]
    max_request_timeout_in_seconds: Option<f64>,
    /// Largest upstream answer (a body, or one stream event) read, in MB (above 0, at most
    /// 4096; default 32).
    #[serde(default)]
    max_response_size_mb: Option<f64>,
}

/// Bifrost's `concurrency_and_buffer_size`.
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "ConcurrencyConfig")]
struct RawConcurrency {
    /// Upstream requests in flight at most (≥ 1, default 1000).
    #[serde(default)]
    concurrency: Option<usize>,
    /// Callers waiting for a slot at most (default 5000).
    #[serde(default)]
    buffer_size: Option<usize>,
}

/// An outbound proxy.
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "ProxyConfig")]
struct RawProxy {
    /// `http`, `socks5`, `environment` (`HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`) or `none`.
    #[serde(rename = "type")]
    kind: String,
    /// Proxy URL (required for `http` and `socks5`); env references allowed.
    #[serde(default)]
    url: Option<String>,
    /// Proxy user name.
    #[serde(default)]
    username: Option<String>,
    /// Proxy password; env references allowed.
    #[serde(default)]
    password: Option<String>,
}

/// Client-facing behaviour. Other keys are kept and reported as not yet active.
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "ClientConfig")]
struct RawClient {
    /// Largest request body accepted, in MB (default 10; larger bodies get 413).
    #[serde(default)]
    max_request_body_size_mb: Option<u64>,
    /// Largest upload accepted (audio transcriptions and translations, image edits), in MB
    /// (default 25, OpenAI's limit; larger uploads get 413). Read at start.
    #[serde(default)]
    max_upload_size_mb: Option<u64>,
    /// Answer 429 at once when a provider's queue (`buffer_size`) is full, instead of waiting.
    #[serde(default)]
    drop_excess_requests: Option<bool>,
    /// Keep request logs (default true).
    #[serde(default)]
    enable_logging: Option<bool>,
    /// Log requests without their prompts and answers.
    #[serde(default)]
    disable_content_logging: Option<bool>,
    /// Extra metric labels taken from `x-bf-prom-*` / `x-bf-dim-*` headers.
    #[serde(default)]
    prometheus_labels: Vec<String>,
    /// CORS origins (`security.cors` wins when both are set).
    #[serde(default)]
    allowed_origins: Vec<String>,
    /// Answer `/v1/completions` for chat-only native models through chat.
    #[serde(default)]
    enable_litellm_fallbacks: Option<bool>,
    /// Prefix of metric names (default `heimdall`).
    #[serde(default)]
    metrics_prefix: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// Listen settings and connection limits.
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "ServerConfig")]
struct RawServer {
    /// Address to listen on when `--host` is not given (default `127.0.0.1`).
    #[serde(default)]
    host: Option<String>,
    /// Port to listen on when `--port` is not given (default 8080).
    #[serde(default)]
    port: Option<u16>,
    /// Longest a request may take until its answer starts (whole answer, or a stream's first
    /// chunk), in milliseconds; past it the client gets a 504.
    #[serde(default)]
    timeout: Option<u64>,
    /// `Host` values answered (`*` = any, `*.corp.example` = a suffix); unset, a loopback
    /// listener answers to loopback names only.
    #[serde(default)]
    allowed_hosts: Vec<String>,
    /// A request's head must arrive within this many seconds (default 10).
    #[serde(default)]
    header_read_timeout_seconds: Option<f64>,
    /// A request's body must arrive within this many seconds of its head (default 30).
    #[serde(default)]
    body_read_timeout_seconds: Option<f64>,
    /// An idle keep-alive connection is closed after this many seconds (default 60).
    #[serde(default)]
    idle_timeout_seconds: Option<f64>,
    /// Open client connections at most (≥ 1, default 10000, lowered to fit the open-file
    /// limit).
    #[serde(default)]
    max_connections: Option<usize>,
}

/// Load the native layout from a JSON value.
pub fn load(value: Value, ctx: &mut LoadCtx<'_>) -> Option<GatewayConfig> {
    let raw: RawNative = match serde_path_to_error::deserialize(value) {
        Ok(r) => r,
        Err(e) => {
            ctx.issue(e.path().to_string(), e.into_inner().to_string());
            return None;
        }
    };
    let mut cfg = GatewayConfig {
        model_aliases: raw.model_aliases,
        fallbacks: raw.fallbacks,
        inactive_sections: raw.rest.into_iter().collect(),
        ..GatewayConfig::default()
    };
    crate::sections::take_balancing(&mut cfg, ctx);
    crate::sections::take_observability(&mut cfg, ctx);
    if let Some(c) = raw.client {
        cfg.client = client(c);
    }
    crate::control_sections::take_control(&mut cfg, ctx);
    crate::control_sections::take_client_security(&mut cfg, ctx);
    if let Some(s) = raw.server {
        let limits = crate::build::listener_limits(
            [
                s.header_read_timeout_seconds,
                s.body_read_timeout_seconds,
                s.idle_timeout_seconds,
            ],
            s.max_connections,
            ctx,
        );
        cfg.server = ServerConfig {
            host: s.host,
            port: s.port,
            timeout: s.timeout.map(Duration::from_millis),
            limits,
            allowed_hosts: s.allowed_hosts,
        };
    }
    for (name, p) in raw.providers {
        if let Some(pc) = provider(&name, p, ctx) {
            cfg.providers.insert(name, pc);
        }
    }
    Some(cfg)
}

fn client(c: RawClient) -> ClientConfig {
    let d = ClientConfig::default();
    ClientConfig {
        max_request_body_size_mb: c
            .max_request_body_size_mb
            .unwrap_or(d.max_request_body_size_mb),
        max_upload_size_mb: c.max_upload_size_mb.unwrap_or(d.max_upload_size_mb),
        drop_excess_requests: c.drop_excess_requests.unwrap_or(d.drop_excess_requests),
        enable_logging: c.enable_logging.unwrap_or(d.enable_logging),
        disable_content_logging: c
            .disable_content_logging
            .unwrap_or(d.disable_content_logging),
        prometheus_labels: c.prometheus_labels,
        allowed_origins: c.allowed_origins,
        enable_litellm_fallbacks: c
            .enable_litellm_fallbacks
            .unwrap_or(d.enable_litellm_fallbacks),
        metrics_prefix: c.metrics_prefix.unwrap_or(d.metrics_prefix),
        extra: c.extra,
    }
}

fn provider(name: &str, p: RawProvider, ctx: &mut LoadCtx<'_>) -> Option<ProviderConfig> {
    let path = format!("providers.{name}");
    let kind_name = p
        .kind
        .clone()
        .or_else(|| {
            p.custom_provider_config
                .as_ref()
                .map(|_| "custom".to_owned())
        })
        .unwrap_or_else(|| name.to_owned());
    if let Some(base) = p
        .custom_provider_config
        .as_ref()
        .and_then(|c| c.base_provider_type.as_deref())
        && !base.eq_ignore_ascii_case("openai")
    {
        ctx.issue(
            format!("{path}.custom_provider_config.base_provider_type"),
            format!("custom providers speak the OpenAI dialect; '{base}' is not supported yet"),
        );
    }
    let kind_path = if p.kind.is_some() {
        format!("{path}.type")
    } else {
        path.clone()
    };
    let kind = ctx.kind(&kind_path, &kind_name)?;

    let mut network = NetworkConfig::default();
    if let Some(n) = p.network_config {
        let npath = format!("{path}.network_config");
        network.base_url = n
            .base_url
            .and_then(|u| ctx.url(&format!("{npath}.base_url"), &u));
        for (h, v) in n.extra_headers {
            let value = ctx.resolve(&format!("{npath}.extra_headers.{h}"), &v);
            network.extra_headers.insert(h, value);
        }
        if let Some(t) = n.default_request_timeout_in_seconds {
            if t == 0 {
                ctx.issue(
                    format!("{npath}.default_request_timeout_in_seconds"),
                    "must be at least 1",
                );
            }
            network.default_request_timeout = Duration::from_secs(t.max(1));
        }
        network.max_retries = n.max_retries.unwrap_or(network.max_retries);
        if let Some(ms) = n.retry_backoff_initial {
            network.retry_backoff_initial = Duration::from_millis(ms);
        }
        if let Some(ms) = n.retry_backoff_max {
            network.retry_backoff_max = Duration::from_millis(ms);
        }
        if let Some(s) = n.key_cooldown_in_seconds {
            network.key_cooldown = Duration::from_secs(s);
        }
        if let Some(mb) = n.max_response_size_mb {
            if mb.is_finite() && mb > 0.0 && mb <= 4096.0 {
                // Bounded above, so the product fits a usize.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let bytes = (mb * 1024.0 * 1024.0) as usize;
                network.max_response_bytes = bytes.max(1);
            } else {
                ctx.issue(
                    format!("{npath}.max_response_size_mb"),
                    "must be a number of megabytes above 0 and at most 4096",
                );
            }
        }
        let mut seconds = |field: &str, v: Option<f64>| -> Option<Duration> {
            let v = v?;
            match Duration::try_from_secs_f64(v) {
                Ok(d) if !d.is_zero() => Some(d),
                _ => {
                    ctx.issue(
                        format!("{npath}.{field}"),
                        "must be a positive number of seconds",
                    );
                    None
                }
            }
        };
        if let Some(d) = seconds("connect_timeout_in_seconds", n.connect_timeout_in_seconds) {
            network.connect_timeout = d;
        }
        network.first_byte_timeout = seconds(
            "first_byte_timeout_in_seconds",
            n.first_byte_timeout_in_seconds,
        );
        network.stream_idle_timeout = seconds(
            "stream_idle_timeout_in_seconds",
            n.stream_idle_timeout_in_seconds,
        );
        network.max_request_timeout = seconds(
            "max_request_timeout_in_seconds",
            n.max_request_timeout_in_seconds,
        );
        if network.retry_backoff_max < network.retry_backoff_initial {
            ctx.issue(
                format!("{npath}.retry_backoff_max"),
                "must not be smaller than retry_backoff_initial",
            );
        }
    }

    let mut concurrency = ConcurrencyConfig::default();
    if let Some(c) = p.concurrency_and_buffer_size {
        concurrency.concurrency = c.concurrency.unwrap_or(concurrency.concurrency);
        concurrency.buffer_size = c.buffer_size.unwrap_or(concurrency.buffer_size);
        if concurrency.concurrency == 0 {
            ctx.issue(
                format!("{path}.concurrency_and_buffer_size.concurrency"),
                "must be at least 1",
            );
        }
    }

    let proxy = p.proxy_config.and_then(|x| proxy(&path, x, ctx));

    let keys = p
        .keys
        .into_iter()
        .enumerate()
        .map(|(i, k)| {
            let url = k
                .base_url
                .or_else(|| k.vllm_key_config.and_then(|c| c.url))
                .or_else(|| k.sglang_key_config.and_then(|c| c.url));
            let mut key = ctx.key(
                name,
                i,
                k.name,
                k.value.as_deref(),
                k.models,
                k.weight,
                url.as_deref(),
            );
            key.enabled = k.enabled.unwrap_or(true);
            if let Some(a) = k.azure_key_config {
                key.azure = azure(&format!("{path}.keys[{i}].azure_key_config"), a, ctx);
                if key.models.is_empty()
                    && let Some(a) = &key.azure
                {
                    key.models = a.deployments.keys().cloned().collect();
                }
            } else if let Some(b) = k.bedrock_key_config {
                let has_value = !key.value.is_empty();
                key.bedrock = bedrock(&format!("{path}.keys[{i}].bedrock_key_config"), b, has_value, ctx);
                if key.models.is_empty()
                    && let Some(b) = &key.bedrock
                {
                    key.models = b.deployments.keys().cloned().collect();
                }
            } else if kind == crate::ProviderKind::Bedrock {
                ctx.issue(
                    format!("{path}.keys[{i}].bedrock_key_config"),
                    "a bedrock key needs bedrock_key_config with its region (and access_key/secret_key, or the key value as a Bedrock API key)",
                );
            } else if let Some(v) = k.vertex_key_config {
                key.vertex = vertex(&format!("{path}.keys[{i}].vertex_key_config"), v, ctx);
            } else if kind == crate::ProviderKind::Vertex {
                ctx.issue(
                    format!("{path}.keys[{i}].vertex_key_config"),
                    "a vertex key needs vertex_key_config with project_id, region and auth_credentials",
                );
            } else if kind == crate::ProviderKind::Azure {
                ctx.issue(
                    format!("{path}.keys[{i}].azure_key_config"),
                    "an azure key needs azure_key_config with its endpoint",
                );
            }
            key
        })
        .collect();

    Some(ProviderConfig {
        name: name.to_owned(),
        kind,
        keys,
        network,
        concurrency,
        proxy,
        models: p.models,
    })
}

fn proxy(path: &str, x: RawProxy, ctx: &mut LoadCtx<'_>) -> Option<ProxyConfig> {
    let ppath = format!("{path}.proxy_config");
    let kind = match x.kind.to_ascii_lowercase().as_str() {
        "none" | "" => ProxyKind::None,
        "http" | "https" => ProxyKind::Http,
        "socks5" | "socks" => ProxyKind::Socks5,
        "environment" | "env" => ProxyKind::Environment,
        other => {
            ctx.issue(
                format!("{ppath}.type"),
                format!("unknown proxy type '{other}'; use http, socks5, environment or none"),
            );
            return None;
        }
    };
    let url = x
        .url
        .map(|u| ctx.resolve(&format!("{ppath}.url"), &u))
        .unwrap_or_default();
    if matches!(kind, ProxyKind::Http | ProxyKind::Socks5) && url.trim().is_empty() {
        ctx.issue(
            format!("{ppath}.url"),
            "a proxy URL is required for this type",
        );
        return None;
    }
    let password = x
        .password
        .map(|p| Secret::new(ctx.resolve(&format!("{ppath}.password"), &p)));
    Some(ProxyConfig {
        kind,
        url,
        username: x.username,
        password,
    })
}

fn azure(path: &str, a: RawAzure, ctx: &mut LoadCtx<'_>) -> Option<crate::AzureKeyConfig> {
    let endpoint = a
        .endpoint
        .map(|e| ctx.resolve(&format!("{path}.endpoint"), &e));
    let endpoint = match endpoint.as_deref().map(str::trim) {
        Some(e) if e.starts_with("https://") || e.starts_with("http://") => {
            e.trim_end_matches('/').to_owned()
        }
        Some(e) => {
            ctx.issue(
                format!("{path}.endpoint"),
                format!("'{e}' is not an http(s) URL"),
            );
            return None;
        }
        None => {
            ctx.issue(format!("{path}.endpoint"), "is required");
            return None;
        }
    };
    let mut resolve = |field: &str, v: Option<String>| {
        v.map(|v| ctx.resolve(&format!("{path}.{field}"), &v))
            .filter(|v| !v.trim().is_empty())
    };
    let tenant = resolve("tenant_id", a.tenant_id);
    let client = resolve("client_id", a.client_id);
    let secret = resolve("client_secret", a.client_secret);
    let token_url = resolve("token_url", a.token_url);
    let scope = resolve("scope", a.scope);
    let api_version = resolve("api_version", a.api_version)
        .unwrap_or_else(|| crate::DEFAULT_AZURE_API_VERSION.to_owned());
    let entra = match (tenant, client, secret) {
        (Some(tenant_id), Some(client_id), Some(secret)) => Some(crate::EntraConfig {
            token_url: token_url.unwrap_or_else(|| {
                format!("https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token")
            }),
            scope: scope
                .unwrap_or_else(|| "https://cognitiveservices.azure.com/.default".to_owned()),
            tenant_id,
            client_id,
            client_secret: Secret::new(secret),
        }),
        (None, None, None) => None,
        _ => {
            ctx.issue(
                path.to_owned(),
                "Entra ID needs tenant_id, client_id and client_secret together",
            );
            None
        }
    };
    Some(crate::AzureKeyConfig {
        endpoint,
        deployments: a.deployments,
        api_version,
        entra,
    })
}

fn vertex(path: &str, v: RawVertex, ctx: &mut LoadCtx<'_>) -> Option<crate::VertexKeyConfig> {
    let mut field = |name: &str, value: Option<String>| {
        let resolved = value
            .map(|x| ctx.resolve(&format!("{path}.{name}"), &x))
            .filter(|x| !x.trim().is_empty());
        if resolved.is_none() && name != "token_url" {
            ctx.issue(format!("{path}.{name}"), "is required");
        }
        resolved
    };
    let project_id = field("project_id", v.project_id);
    let region = field("region", v.region);
    let creds = field("auth_credentials", v.auth_credentials);
    let token_url = field("token_url", v.token_url);
    let creds = match creds {
        Some(c) if c.trim_start().starts_with('{') => c,
        Some(file) => match std::fs::read_to_string(file.trim()) {
            Ok(c) => c,
            Err(e) => {
                ctx.issue(
                    format!("{path}.auth_credentials"),
                    format!("cannot read the key file '{file}': {e}"),
                );
                return None;
            }
        },
        None => return None,
    };
    if let Err(e) = serde_json::from_str::<serde_json::Value>(&creds) {
        ctx.issue(
            format!("{path}.auth_credentials"),
            format!("not a service-account key JSON: {e}"),
        );
        return None;
    }
    Some(crate::VertexKeyConfig {
        project_id: project_id?,
        region: region?,
        credentials: Secret::new(creds),
        token_url,
    })
}

fn bedrock(
    path: &str,
    b: RawBedrock,
    has_value: bool,
    ctx: &mut LoadCtx<'_>,
) -> Option<crate::BedrockKeyConfig> {
    let mut field = |name: &str, value: Option<String>| {
        value
            .map(|x| ctx.resolve(&format!("{path}.{name}"), &x))
            .filter(|x| !x.trim().is_empty())
    };
    let region = field("region", b.region);
    let access = field("access_key", b.access_key);
    let secret = field("secret_key", b.secret_key);
    let session = field("session_token", b.session_token);
    let Some(region) = region else {
        ctx.issue(format!("{path}.region"), "is required");
        return None;
    };
    match (&access, &secret) {
        (Some(_), Some(_)) => {}
        (None, None) if has_value => {}
        _ => {
            ctx.issue(
                path.to_owned(),
                "set access_key and secret_key together, or leave both out and put a Bedrock API key in the key's value",
            );
            return None;
        }
    }
    Some(crate::BedrockKeyConfig {
        region,
        access_key: Secret::new(access.unwrap_or_default()),
        secret_key: Secret::new(secret.unwrap_or_default()),
        session_token: session.map(Secret::new),
        deployments: b.deployments,
    })
}
