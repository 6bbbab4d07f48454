//! Heimdall's configuration: the model, the two file layouts (Bifrost `config.json` and
//! `bifrost.yaml`, as JSON or YAML), environment references, validation with field paths, and
//! zero-config from environment variables.
//!
//! Why a crate of its own: the engine, the CLI's `check-config` and (later) the management API
//! all produce or read the same validated snapshot; none of them should carry file parsing.
#![warn(missing_docs)]

mod balancing;
mod bifrost_yaml;
mod build;
mod cache;
mod capabilities;
mod control_sections;
mod env;
mod governance;
mod governance_check;
mod kinds;
mod mcp;
mod model;
mod native;
mod observability;
mod schema;
mod secret;
mod sections;
mod security;
mod validate;
mod zero;

use std::path::Path;

pub use balancing::{FallbackTrigger, HealthConfig, LoadBalancingConfig, Strategy};
pub use build::{ConfigError, ConfigIssue};
pub use cache::{
    CacheBackendKind, CacheConfig, EmbeddingSource, TenantScope, parse_ttl, parse_ttl_text,
};
pub use capabilities::{Capability, ModelClass, model_capabilities};
pub use env::{EnvLookup, ProcessEnv, Resolved, resolve};
pub use governance::{
    AlertsConfig, BudgetAction, BudgetConfig, BudgetScope, CustomerConfig, GovernanceConfig,
    Limits, ModelLimitConfig, RateLimitRule, RedisConfig, ResetPeriod, ScopedBudget,
    StoreFailurePolicy, TeamConfig, VirtualKeyConfig, VkProviderConfig, parse_period_word,
    parse_reset,
};
pub use kinds::{ALL_KINDS, Preset, ProviderKind, WireFamily};
pub use mcp::{
    McpClientConfig, McpConfig, McpConnectionType, McpStdioConfig, McpToolManagerConfig,
    ToolSelection,
};
pub use model::{
    AzureKeyConfig, BedrockKeyConfig, ClientConfig, ConcurrencyConfig, DEFAULT_AZURE_API_VERSION,
    DEFAULT_MAX_RESPONSE_BYTES, EntraConfig, GatewayConfig, KeyConfig, ListenerLimits,
    NetworkConfig, ProviderConfig, ProxyConfig, ProxyKind, Secret, ServerConfig, VertexKeyConfig,
    normalize_base_url,
};
pub use observability::{
    LogsStoreConfig, LogsStoreKind, ModelPrice, OtelConfig, OtlpProtocol, PricingConfig,
    WriterPriority,
};
pub use schema::{SCHEMA_TITLE, json_schema, json_schema_pretty};
pub use security::{
    ApiKeysConfig, AuthConfig, CorsConfig, ProcessObservability, RateLimitConfig, SecurityConfig,
    origin_matches, parse_ip_net,
};

/// File format, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFormat {
    /// `.json`
    Json,
    /// `.yaml` / `.yml`
    Yaml,
}

impl ConfigFormat {
    /// The format for a path, from its extension.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("json") => Some(Self::Json),
            Some("yaml" | "yml") => Some(Self::Yaml),
            _ => None,
        }
    }
}

/// Which layout a config came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Bifrost's `config.json` layout (`providers` is an object).
    Native,
    /// The `bifrost.yaml` layout (`providers` is a list).
    BifrostYaml,
    /// No file: environment variables.
    Environment,
}

/// A loaded, validated config with its non-fatal findings.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The config.
    pub config: GatewayConfig,
    /// Warnings (unset variables, disabled keys) and, for zero-config, which variables were used.
    pub warnings: Vec<String>,
    /// Where it came from.
    pub layout: Layout,
}

/// Load a config file (format by extension).
pub fn load_file(path: &Path, env: &dyn EnvLookup) -> Result<LoadedConfig, ConfigError> {
    let format = ConfigFormat::from_path(path).ok_or_else(|| {
        ConfigError::one(
            "",
            format!(
                "{}: unknown config file extension; use .json, .yaml or .yml",
                path.display()
            ),
        )
    })?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::one("", format!("cannot read {}: {e}", path.display())))?;
    parse_str(&text, format, env)
}

/// Parse and validate config text.
pub fn parse_str(
    text: &str,
    format: ConfigFormat,
    env: &dyn EnvLookup,
) -> Result<LoadedConfig, ConfigError> {
    parse_value(document_from_str(text, format)?, env)
}

/// Config text as a document (the JSON value both layouts are read from), without validating
/// it; an empty file is an empty object and `$schema` (for editors) is dropped.
pub fn document_from_str(
    text: &str,
    format: ConfigFormat,
) -> Result<serde_json::Value, ConfigError> {
    let value: serde_json::Value = match format {
        ConfigFormat::Json => serde_json::from_str(text)
            .map_err(|e| ConfigError::one("", format!("invalid JSON: {e}")))?,
        ConfigFormat::Yaml => yaml_serde::from_str(text)
            .map_err(|e| ConfigError::one("", format!("invalid YAML: {e}")))?,
    };
    match value {
        serde_json::Value::Null => Ok(serde_json::Value::Object(Default::default())),
        serde_json::Value::Object(mut obj) => {
            obj.remove("$schema");
            Ok(serde_json::Value::Object(obj))
        }
        _ => Err(ConfigError::one(
            "",
            "the config must be an object at the top level",
        )),
    }
}

/// The layout a document is written in.
pub fn layout_of(document: &serde_json::Value) -> Layout {
    if document.get("providers").is_some_and(|p| p.is_array()) {
        Layout::BifrostYaml
    } else {
        Layout::Native
    }
}

/// Validate a config document (either layout) into the model.
pub fn parse_value(
    value: serde_json::Value,
    env: &dyn EnvLookup,
) -> Result<LoadedConfig, ConfigError> {
    if !value.is_object() {
        return Err(ConfigError::one(
            "",
            "the config must be an object at the top level",
        ));
    }
    let layout = layout_of(&value);
    let mut ctx = build::LoadCtx::new(env);
    let config = match layout {
        Layout::BifrostYaml => bifrost_yaml::load(value, &mut ctx),
        _ => native::load(value, &mut ctx),
    };
    if let Some(cfg) = &config {
        validate::check(cfg, &mut ctx);
    }
    match config {
        Some(config) if ctx.issues.is_empty() => Ok(LoadedConfig {
            config,
            warnings: ctx.warnings,
            layout,
        }),
        _ => Err(ConfigError { issues: ctx.issues }),
    }
}

/// Zero-config as a document (native layout, keys as `env.VAR` references).
pub fn environment_document(env: &dyn EnvLookup) -> serde_json::Value {
    zero::document(env)
}

/// Zero-config: providers from well-known environment variables.
pub fn from_environment(env: &dyn EnvLookup) -> LoadedConfig {
    let (config, warnings) = zero::build(env);
    LoadedConfig {
        config,
        warnings,
        layout: Layout::Environment,
    }
}
