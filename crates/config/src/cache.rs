//! The response cache's settings, read from any of the three places users write them: the
//! reference `bifrost.yaml`'s `caching:` section (`provider` names the backend there, and the
//! section turns caching on for every request), Bifrost's `plugins: [{name: "semantic_cache",
//! config: {…}}]` entry (opt-in per request with `x-bf-cache-key`, unless `default_cache_key`),
//! and a native `cache:` section.
//!
//! Why one merged shape: the three spell the same knobs differently (`similarity_threshold` /
//! `threshold`, `provider` as backend or as embedding provider); one struct with the loader
//! resolving the spellings keeps the cache crate free of layout knowledge.

use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::build::LoadCtx;
use crate::model::GatewayConfig;
use crate::secret::Secret;

/// Where cache entries live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheBackendKind {
    /// In the process, bounded in bytes (LRU + TTL). The default.
    #[default]
    Memory,
    /// The shared Redis (`redis` section): every instance sees every entry.
    Redis,
    /// A PostgreSQL table (`postgres_url`, else the PostgreSQL log store's).
    Postgres,
}

/// How the semantic tier embeds a request's text.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbeddingSource {
    /// No semantic tier: exact hits only.
    #[default]
    None,
    /// The embedded all-MiniLM-L6-v2 (cargo feature `local-embeddings`), weights from `path`
    /// or the default folder.
    Local {
        /// Folder with `model.safetensors`, `tokenizer.json`, `config.json`.
        path: Option<PathBuf>,
    },
    /// A `provider/model` called through the gateway's own pipeline.
    Gateway {
        /// `provider/model`.
        model: String,
    },
}

/// Whose requests may share entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantScope {
    /// Each virtual key (or, without one, each client credential) has its own entries.
    #[default]
    VirtualKey,
    /// Keys of one team share entries (keys without a team: per key).
    Team,
    /// Keys of one customer share entries.
    Customer,
    /// Every client shares every entry (an explicit choice).
    Shared,
}

/// The cache's settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheConfig {
    /// Whether the cache runs at all.
    pub enabled: bool,
    /// Where entries live.
    pub backend: CacheBackendKind,
    /// Entry lifetime (a request may shorten or lengthen it with `x-bf-cache-ttl`).
    pub ttl: Duration,
    /// Cosine similarity a semantic hit needs (`x-bf-cache-threshold` per request).
    pub threshold: f32,
    /// How the semantic tier embeds text.
    pub embedding: EmbeddingSource,
    /// Embedding length, when the operator states it (checked against the embedder's).
    pub dimension: Option<usize>,
    /// Conversations with more messages than this skip the semantic tier (its text would be
    /// a poor key); the exact tier still applies.
    pub conversation_history_threshold: usize,
    /// Entries are kept apart by the model asked for.
    pub cache_by_model: bool,
    /// Entries are kept apart by the provider (`provider/model` prefix) asked for.
    pub cache_by_provider: bool,
    /// System messages are left out of the semantic text.
    pub exclude_system_prompt: bool,
    /// The cache key for requests without `x-bf-cache-key`; `None`: those are not cached.
    pub default_cache_key: Option<String>,
    /// Answers with more completion tokens than this are not stored.
    pub max_tokens: Option<u64>,
    /// Models never cached (names as asked, with or without the provider prefix).
    pub exclude_models: Vec<String>,
    /// Memory backend bound, bytes.
    pub max_memory_bytes: u64,
    /// Largest entry stored, bytes.
    pub max_entry_bytes: u64,
    /// Whose requests share entries.
    pub tenant_scope: TenantScope,
    /// PostgreSQL DSN for the PostgreSQL backend.
    pub postgres_url: Option<Secret>,
    /// Vectors per bucket searched by exact scan; above it an HNSW index is built.
    pub exact_scan_limit: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            backend: CacheBackendKind::Memory,
            ttl: Duration::from_secs(300),
            threshold: 0.8,
            embedding: EmbeddingSource::None,
            dimension: None,
            conversation_history_threshold: 3,
            cache_by_model: true,
            cache_by_provider: true,
            exclude_system_prompt: false,
            default_cache_key: None,
            max_tokens: None,
            exclude_models: Vec::new(),
            max_memory_bytes: 128 << 20,
            max_entry_bytes: 1 << 20,
            tenant_scope: TenantScope::VirtualKey,
            postgres_url: None,
            exact_scan_limit: 2048,
        }
    }
}

/// The cache section as written (any of the three layouts, `config:` merged in).
#[derive(Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCache {
    /// Turn the cache on (default true when the section is present).
    #[serde(default)]
    enabled: Option<bool>,
    /// `memory` | `redis` | `postgres` — or, in Bifrost's plugin config, the embedding
    /// provider (then `embedding_model` is that provider's model).
    #[serde(default)]
    provider: Option<String>,
    /// `memory` (default) | `redis` | `postgres`.
    #[serde(default)]
    backend: Option<String>,
    /// Entry lifetime: seconds, or `30s`, `5m`, `1h`, `1d`.
    #[serde(default)]
    ttl: Option<Value>,
    /// Cosine similarity for a semantic hit (0–1, default 0.8).
    #[serde(default, alias = "similarity_threshold")]
    #[schemars(extend("x-aliases" = ["similarity_threshold"]))]
    threshold: Option<f32>,
    /// `provider/model` embedded through the gateway, `local` for the embedded
    /// all-MiniLM-L6-v2, `none` (the default) for exact hits only.
    #[serde(default)]
    embedding_model: Option<String>,
    /// Folder holding the local model's files (default `<app-dir>/models/all-MiniLM-L6-v2`).
    #[serde(default)]
    local_model_path: Option<PathBuf>,
    /// Embedding length (checked against the embedder's).
    #[serde(default)]
    dimension: Option<usize>,
    /// Conversations longer than this skip the semantic tier (default 3).
    #[serde(default)]
    conversation_history_threshold: Option<usize>,
    /// Keep entries apart by model (default true).
    #[serde(default)]
    cache_by_model: Option<bool>,
    /// Keep entries apart by provider (default true).
    #[serde(default)]
    cache_by_provider: Option<bool>,
    /// Leave system messages out of the semantic text (default false).
    #[serde(default)]
    exclude_system_prompt: Option<bool>,
    /// Cache key for requests without `x-bf-cache-key`.
    #[serde(default)]
    default_cache_key: Option<String>,
    /// Answers with more completion tokens are not stored.
    #[serde(default)]
    max_tokens: Option<u64>,
    /// Models never cached.
    #[serde(default)]
    exclude_models: Vec<String>,
    /// Memory backend bound in MiB (default 128).
    #[serde(default)]
    max_memory_mb: Option<u64>,
    /// Largest entry stored, KiB (default 1024).
    #[serde(default)]
    max_entry_kb: Option<u64>,
    /// `virtual_key` (default) | `team` | `customer` | `shared`.
    #[serde(default)]
    tenant_scope: Option<String>,
    /// PostgreSQL DSN for `backend: postgres` (`env.VAR` allowed).
    #[serde(default)]
    postgres_url: Option<String>,
    /// Vectors per bucket searched exactly before an HNSW index is used (default 2048).
    #[serde(default)]
    exact_scan_limit: Option<usize>,
    /// Bifrost's embedding-provider keys: Heimdall embeds through its own providers' keys.
    #[serde(default)]
    keys: Option<Value>,
    /// Bifrost's vector-store namespace (entries here are namespaced by cache key).
    #[serde(default)]
    vector_store_namespace: Option<String>,
    /// Bifrost's cleanup flag (entries expire by TTL).
    #[serde(default)]
    cleanup_on_shutdown: Option<bool>,
}

/// Read `caching`, `cache` and a `semantic_cache` plugin entry into `cfg.cache`.
pub(crate) fn take_cache(cfg: &mut GatewayConfig, ctx: &mut LoadCtx<'_>) {
    if let Some(v) = cfg.inactive_sections.remove("caching") {
        read_section(cfg, ctx, "caching", v, true);
    }
    if let Some(v) = cfg.inactive_sections.remove("cache") {
        read_section(cfg, ctx, "cache", v, false);
    }
    let Some(Value::Array(mut plugins)) = cfg.inactive_sections.remove("plugins") else {
        return;
    };
    if let Some(i) = plugins.iter().position(|p| p["name"] == "semantic_cache") {
        let entry = plugins.remove(i);
        let enabled = entry["enabled"].as_bool().unwrap_or(true);
        let mut section = match entry.get("config") {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        section.insert("enabled".to_owned(), Value::Bool(enabled));
        read_section(
            cfg,
            ctx,
            &format!("plugins[{i}].config"),
            Value::Object(section),
            false,
        );
    }
    if !plugins.is_empty() {
        cfg.inactive_sections
            .insert("plugins".to_owned(), Value::Array(plugins));
    }
}

fn read_section(
    cfg: &mut GatewayConfig,
    ctx: &mut LoadCtx<'_>,
    path: &str,
    value: Value,
    caches_everything: bool,
) {
    let Value::Object(mut map) = value else {
        ctx.issue(path, "must be an object");
        return;
    };
    if let Some(Value::Object(inner)) = map.remove("config") {
        for (k, v) in inner {
            map.entry(k).or_insert(v);
        }
    }
    let raw: RawCache = match serde_path_to_error::deserialize(Value::Object(map)) {
        Ok(r) => r,
        Err(e) => {
            ctx.issue(format!("{path}.{}", e.path()), e.into_inner().to_string());
            return;
        }
    };
    let mut c = CacheConfig {
        enabled: raw.enabled.unwrap_or(true),
        ..CacheConfig::default()
    };
    if caches_everything {
        c.default_cache_key = Some("default".to_owned());
    }
    let mut embedding_provider = None;
    for (field, value) in [("provider", &raw.provider), ("backend", &raw.backend)] {
        let Some(v) = value else { continue };
        match v.to_ascii_lowercase().as_str() {
            "memory" | "in-memory" | "inmemory" => c.backend = CacheBackendKind::Memory,
            "redis" => c.backend = CacheBackendKind::Redis,
            "postgres" | "postgresql" => c.backend = CacheBackendKind::Postgres,
            _ if field == "provider" => embedding_provider = Some(v.clone()),
            other => ctx.issue(
                format!("{path}.backend"),
                format!("unknown cache backend '{other}' (memory, redis, postgres)"),
            ),
        }
    }
    if let Some(ttl) = &raw.ttl {
        match parse_ttl(ttl) {
            Some(d) => c.ttl = d,
            None => ctx.issue(
                format!("{path}.ttl"),
                "must be seconds or a duration like 30s, 5m, 1h, 1d",
            ),
        }
    }
    if let Some(t) = raw.threshold {
        if (0.0..=1.0).contains(&t) {
            c.threshold = t;
        } else {
            ctx.issue(format!("{path}.threshold"), "must be between 0 and 1");
        }
    }
    // The semantic tier is opt-in: a wrong answer served as a hit costs more than a miss, and
    // how often an embedder confuses near-misses with paraphrases depends on the model and the
    // traffic (docs/cache.md has the local model's figures).
    c.embedding = match (raw.embedding_model.as_deref(), embedding_provider) {
        (Some("none" | "off"), _) | (None, None) => EmbeddingSource::None,
        (Some("local"), _) => EmbeddingSource::Local {
            path: raw.local_model_path.clone(),
        },
        (Some(m), Some(p)) if !m.contains('/') => EmbeddingSource::Gateway {
            model: format!("{p}/{m}"),
        },
        (Some(m), _) => EmbeddingSource::Gateway {
            model: m.to_owned(),
        },
        (None, Some(p)) => {
            ctx.issue(
                format!("{path}.embedding_model"),
                format!("provider '{p}' is named without an embedding_model"),
            );
            EmbeddingSource::None
        }
    };
    c.dimension = raw.dimension;
    if let Some(n) = raw.conversation_history_threshold {
        c.conversation_history_threshold = n;
    }
    c.cache_by_model = raw.cache_by_model.unwrap_or(true);
    c.cache_by_provider = raw.cache_by_provider.unwrap_or(true);
    c.exclude_system_prompt = raw.exclude_system_prompt.unwrap_or(false);
    if let Some(k) = raw.default_cache_key.filter(|k| !k.is_empty()) {
        c.default_cache_key = Some(k);
    }
    c.max_tokens = raw.max_tokens;
    c.exclude_models = raw.exclude_models;
    if let Some(mb) = raw.max_memory_mb {
        c.max_memory_bytes = mb.saturating_mul(1 << 20);
    }
    if let Some(kb) = raw.max_entry_kb {
        c.max_entry_bytes = kb.saturating_mul(1 << 10);
    }
    if let Some(s) = raw.tenant_scope {
        c.tenant_scope = match s.as_str() {
            "virtual_key" => TenantScope::VirtualKey,
            "team" => TenantScope::Team,
            "customer" => TenantScope::Customer,
            "shared" => TenantScope::Shared,
            other => {
                ctx.issue(
                    format!("{path}.tenant_scope"),
                    format!("unknown scope '{other}' (virtual_key, team, customer, shared)"),
                );
                TenantScope::VirtualKey
            }
        };
    }
    if let Some(url) = raw.postgres_url {
        let url = ctx.resolve(&format!("{path}.postgres_url"), &url);
        c.postgres_url = Some(Secret::new(url)).filter(|u| !u.is_empty());
    }
    if let Some(n) = raw.exact_scan_limit {
        c.exact_scan_limit = n;
    }
    if raw.keys.is_some() {
        ctx.warnings.push(format!(
            "{path}.keys: the embedding call uses the gateway's own provider keys; these are ignored"
        ));
    }
    let _ = (raw.vector_store_namespace, raw.cleanup_on_shutdown);
    cfg.cache = c;
}

/// Seconds (a number or digits), or a number with `ms`, `s`, `m`, `h`, `d`.
pub fn parse_ttl(v: &Value) -> Option<Duration> {
    match v {
        Value::Number(n) => n.as_f64().filter(|s| *s > 0.0).map(Duration::from_secs_f64),
        Value::String(s) => parse_ttl_text(s),
        _ => None,
    }
}

/// [`parse_ttl`] for text (the `x-bf-cache-ttl` header).
pub fn parse_ttl_text(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .ok()
        .filter(|n: &f64| *n > 0.0 && n.is_finite())?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}
