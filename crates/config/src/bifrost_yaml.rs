//! The `bifrost.yaml` layout: a top-level `providers:` list of `{name, type, apiKey, models,
//! config: {timeout (ms), organization}}`, `server:`, `fallbacks:`, and sections (caching,
//! loadBalancing, budgets, observability, security) that later capabilities act on.
//!
//! Why it maps into the same model: users switching from a Bifrost deployment keep their file;
//! every section is kept in the snapshot, and the ones not acted on yet are reported, never
//! silently dropped.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::build::LoadCtx;
use crate::model::{ConcurrencyConfig, GatewayConfig, NetworkConfig, ProviderConfig, ServerConfig};

#[derive(Deserialize)]
struct RawYaml {
    providers: Vec<RawYamlProvider>,
    #[serde(default)]
    server: Option<RawYamlServer>,
    #[serde(default)]
    fallbacks: BTreeMap<String, Vec<String>>,
    #[serde(default, alias = "aliases")]
    model_aliases: BTreeMap<String, String>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Deserialize)]
struct RawYamlProvider {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, rename = "apiKey", alias = "api_key")]
    api_key: Option<String>,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    config: Option<RawYamlProviderConfig>,
}

#[derive(Deserialize)]
struct RawYamlProviderConfig {
    #[serde(default)]
    organization: Option<String>,
    #[serde(default)]
    timeout: Option<u64>,
    #[serde(default, rename = "baseUrl", alias = "base_url")]
    base_url: Option<String>,
}

#[derive(Deserialize)]
struct RawYamlServer {
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    timeout: Option<u64>,
}

/// Load the bifrost.yaml layout from a JSON value.
pub fn load(value: Value, ctx: &mut LoadCtx<'_>) -> Option<GatewayConfig> {
    let raw: RawYaml = match serde_path_to_error::deserialize(value) {
        Ok(r) => r,
        Err(e) => {
            ctx.issue(e.path().to_string(), e.into_inner().to_string());
            return None;
        }
    };
    let mut cfg = GatewayConfig {
        fallbacks: raw.fallbacks,
        model_aliases: raw.model_aliases,
        inactive_sections: raw.rest.into_iter().collect(),
        ..GatewayConfig::default()
    };
    crate::sections::take_balancing(&mut cfg, ctx);
    crate::sections::take_observability(&mut cfg, ctx);
    crate::control_sections::take_control(&mut cfg, ctx);
    if let Some(s) = raw.server {
        cfg.server = ServerConfig {
            host: s.host,
            port: s.port,
            timeout: s.timeout.map(Duration::from_millis),
            allowed_hosts: Vec::new(),
            limits: crate::model::ListenerLimits::default(),
        };
    }
    for (i, p) in raw.providers.into_iter().enumerate() {
        let path = format!("providers[{i}]");
        if cfg.providers.contains_key(&p.name) {
            ctx.issue(
                format!("{path}.name"),
                format!("duplicate provider name '{}'", p.name),
            );
            continue;
        }
        let Some(kind) = ctx.kind(&format!("{path}.type"), &p.kind) else {
            continue;
        };
        let mut network = NetworkConfig::default();
        if let Some(c) = &p.config {
            if let Some(ms) = c.timeout {
                network.default_request_timeout = Duration::from_millis(ms.max(1));
            }
            if let Some(org) = c.organization.as_deref().filter(|o| !o.is_empty()) {
                let org = ctx.resolve(&format!("{path}.config.organization"), org);
                network
                    .extra_headers
                    .insert("OpenAI-Organization".to_owned(), org);
            }
            if let Some(url) = &c.base_url {
                network.base_url = ctx.url(&format!("{path}.config.baseUrl"), url);
            }
        }
        let keys = match &p.api_key {
            Some(k) => vec![ctx.key(&p.name, 0, None, Some(k), vec![], None, None)],
            None => vec![],
        };
        cfg.providers.insert(
            p.name.clone(),
            ProviderConfig {
                name: p.name,
                kind,
                keys,
                network,
                concurrency: ConcurrencyConfig::default(),
                proxy: None,
                models: p.models,
            },
        );
    }
    Some(cfg)
}
