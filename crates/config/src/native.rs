//! The native layout: Bifrost's `config.json` (`providers.<name>.keys[]`, `network_config`,
//! `concurrency_and_buffer_size`, `proxy_config`, `client`), as JSON or YAML.
//!
//! Why lenient on unknown keys but strict on types: Bifrost configs carry many keys Heimdall
//! does not act on yet (they are kept and reported), but a value of the wrong type is always a
//! mistake and is reported with its path.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::build::LoadCtx;
use crate::model::{
    ClientConfig, ConcurrencyConfig, GatewayConfig, NetworkConfig, ProviderConfig, ProxyConfig,
    ProxyKind, Secret, ServerConfig,
};

#[derive(Deserialize)]
struct RawNative {
    #[serde(default)]
    providers: BTreeMap<String, RawProvider>,
    #[serde(default)]
    client: Option<RawClient>,
    #[serde(default)]
    server: Option<RawServer>,
    #[serde(default, alias = "aliases")]
    model_aliases: BTreeMap<String, String>,
    #[serde(default)]
    fallbacks: BTreeMap<String, Vec<String>>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Deserialize)]
struct RawProvider {
    #[serde(default, rename = "type", alias = "provider_type")]
    kind: Option<String>,
    #[serde(default)]
    keys: Vec<RawKey>,
    #[serde(default)]
    network_config: Option<RawNetwork>,
    #[serde(default)]
    concurrency_and_buffer_size: Option<RawConcurrency>,
    #[serde(default)]
    proxy_config: Option<RawProxy>,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    custom_provider_config: Option<RawCustom>,
}

#[derive(Deserialize)]
struct RawCustom {
    #[serde(default)]
    base_provider_type: Option<String>,
}

#[derive(Deserialize)]
struct RawKey {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    weight: Option<f64>,
    #[serde(default, alias = "url")]
    base_url: Option<String>,
    #[serde(default)]
    vllm_key_config: Option<RawUrlConfig>,
    #[serde(default)]
    sglang_key_config: Option<RawUrlConfig>,
    #[serde(default)]
    azure_key_config: Option<RawAzure>,
    #[serde(default)]
    vertex_key_config: Option<RawVertex>,
    #[serde(default)]
    bedrock_key_config: Option<RawBedrock>,
}

#[derive(Deserialize)]
struct RawBedrock {
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    access_key: Option<String>,
    #[serde(default)]
    secret_key: Option<String>,
    #[serde(default)]
    session_token: Option<String>,
    #[serde(default)]
    deployments: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawVertex {
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    auth_credentials: Option<String>,
    #[serde(default)]
    token_url: Option<String>,
}

#[derive(Deserialize)]
struct RawAzure {
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    deployments: BTreeMap<String, String>,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    tenant_id: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    token_url: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Deserialize)]
struct RawUrlConfig {
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
struct RawNetwork {
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    extra_headers: BTreeMap<String, String>,
    #[serde(default)]
    default_request_timeout_in_seconds: Option<u64>,
    #[serde(default)]
    max_retries: Option<u32>,
    #[serde(default, alias = "retry_backoff_initial_ms")]
    retry_backoff_initial: Option<u64>,
    #[serde(default, alias = "retry_backoff_max_ms")]
    retry_backoff_max: Option<u64>,
    #[serde(default)]
    key_cooldown_in_seconds: Option<u64>,
    #[serde(default)]
    connect_timeout_in_seconds: Option<f64>,
    #[serde(default)]
    first_byte_timeout_in_seconds: Option<f64>,
    #[serde(default)]
    stream_idle_timeout_in_seconds: Option<f64>,
    #[serde(default)]
    max_request_timeout_in_seconds: Option<f64>,
    #[serde(default)]
    max_response_size_mb: Option<f64>,
}

#[derive(Deserialize)]
struct RawConcurrency {
    #[serde(default)]
    concurrency: Option<usize>,
    #[serde(default)]
    buffer_size: Option<usize>,
}

#[derive(Deserialize)]
struct RawProxy {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

#[derive(Deserialize)]
struct RawClient {
    #[serde(default)]
    max_request_body_size_mb: Option<u64>,
    #[serde(default)]
    drop_excess_requests: Option<bool>,
    #[serde(default)]
    enable_logging: Option<bool>,
    #[serde(default)]
    disable_content_logging: Option<bool>,
    #[serde(default)]
    prometheus_labels: Vec<String>,
    #[serde(default)]
    allowed_origins: Vec<String>,
    #[serde(default)]
    enable_litellm_fallbacks: Option<bool>,
    #[serde(default)]
    metrics_prefix: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

#[derive(Deserialize)]
struct RawServer {
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    timeout: Option<u64>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    #[serde(default)]
    header_read_timeout_seconds: Option<f64>,
    #[serde(default)]
    body_read_timeout_seconds: Option<f64>,
    #[serde(default)]
    idle_timeout_seconds: Option<f64>,
    #[serde(default)]
    max_connections: Option<usize>,
}

fn listener_limits(s: &RawServer, ctx: &mut LoadCtx<'_>) -> crate::model::ListenerLimits {
    let mut l = crate::model::ListenerLimits::default();
    let mut seconds = |field: &str, v: Option<f64>, into: &mut Duration| {
        if let Some(v) = v {
            match Duration::try_from_secs_f64(v) {
                Ok(d) if !d.is_zero() => *into = d,
                _ => ctx.issue(
                    format!("server.{field}"),
                    "must be a positive number of seconds",
                ),
            }
        }
    };
    seconds(
        "header_read_timeout_seconds",
        s.header_read_timeout_seconds,
        &mut l.header_read_timeout,
    );
    seconds(
        "body_read_timeout_seconds",
        s.body_read_timeout_seconds,
        &mut l.body_read_timeout,
    );
    seconds(
        "idle_timeout_seconds",
        s.idle_timeout_seconds,
        &mut l.idle_timeout,
    );
    if let Some(n) = s.max_connections {
        if n == 0 {
            ctx.issue("server.max_connections".to_owned(), "must be at least 1");
        } else {
            l.max_connections = n;
        }
    }
    l
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
    crate::balancing::take_sections(&mut cfg, ctx);
    crate::observability::take_sections(&mut cfg, ctx);
    if let Some(c) = raw.client {
        cfg.client = client(c);
    }
    if let Some(s) = raw.server {
        let limits = listener_limits(&s, ctx);
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
