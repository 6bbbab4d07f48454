//! What one request asks of the cache: Bifrost's `x-bf-cache-*` headers over the configured
//! defaults, and whose entries it may see (its tenant).
//!
//! Why the tenant is part of every key: an answer is stored under its tenant, so a lookup by
//! another tenant computes a different key and cannot reach it — partitioning by construction,
//! not by a check that could be forgotten.

use std::time::Duration;

use heimdall_config::{CacheConfig, TenantScope, parse_ttl_text};
use heimdall_core::RequestContext;
use heimdall_schema::error::GatewayError;
use sha2::{Digest, Sha256};

/// Which tiers a request may use (`x-bf-cache-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tiers {
    /// Exact, then semantic (the default).
    Both,
    /// `direct`: exact key only.
    Exact,
    /// `semantic`: similarity only.
    Semantic,
}

/// The cache settings of one request.
#[derive(Debug, Clone)]
pub struct RequestOptions {
    /// The cache key (`x-bf-cache-key` or `default_cache_key`).
    pub namespace: String,
    /// Entry lifetime.
    pub ttl: Duration,
    /// Similarity a semantic hit needs.
    pub threshold: f32,
    /// Tiers to look in.
    pub tiers: Tiers,
    /// Look up but never store (`x-bf-cache-no-store`).
    pub no_store: bool,
}

fn bad(header: &str, message: &str) -> GatewayError {
    GatewayError::invalid_request(format!("{header}: {message}"), Some(header.to_owned()))
}

impl RequestOptions {
    /// The request's options; `Ok(None)` when it is not cached (no cache key, or an excluded
    /// model); a malformed header is a 400.
    pub fn read(ctx: &RequestContext, cfg: &CacheConfig) -> Result<Option<Self>, GatewayError> {
        let h = &ctx.headers;
        let Some(namespace) = h
            .get("x-bf-cache-key")
            .filter(|k| !k.is_empty())
            .or(cfg.default_cache_key.as_ref())
        else {
            return Ok(None);
        };
        let model = ctx.requested_model.as_str();
        let bare = model.split_once('/').map_or(model, |(_, m)| m);
        if cfg.exclude_models.iter().any(|m| m == model || m == bare) {
            return Ok(None);
        }
        let ttl = match h.get("x-bf-cache-ttl") {
            Some(v) => parse_ttl_text(v).ok_or_else(|| {
                bad(
                    "x-bf-cache-ttl",
                    "must be seconds or a duration like 30s, 5m, 1h",
                )
            })?,
            None => cfg.ttl,
        };
        let threshold = match h.get("x-bf-cache-threshold") {
            Some(v) => v
                .trim()
                .parse::<f32>()
                .ok()
                .filter(|t| (0.0..=1.0).contains(t))
                .ok_or_else(|| bad("x-bf-cache-threshold", "must be a number between 0 and 1"))?,
            None => cfg.threshold,
        };
        let tiers = match h
            .get("x-bf-cache-type")
            .map(|v| v.trim().to_ascii_lowercase())
        {
            None => Tiers::Both,
            Some(v) if v.is_empty() => Tiers::Both,
            Some(v) if v == "direct" || v == "exact" => Tiers::Exact,
            Some(v) if v == "semantic" => Tiers::Semantic,
            Some(_) => return Err(bad("x-bf-cache-type", "must be 'direct' or 'semantic'")),
        };
        let no_store = match h
            .get("x-bf-cache-no-store")
            .map(|v| v.trim().to_ascii_lowercase())
        {
            None => false,
            Some(v) => match v.as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" | "" => false,
                _ => return Err(bad("x-bf-cache-no-store", "must be true or false")),
            },
        };
        Ok(Some(Self {
            namespace: namespace.clone(),
            ttl,
            threshold,
            tiers,
            no_store,
        }))
    }
}

/// Whose entries a request may see: its virtual key (or team, or customer, as configured),
/// else a hash of the credential it sent, else the anonymous tenant. A request that arrived
/// in a provider's own dialect also carries a hash of that body (it may hold what the
/// canonical request cannot express, such as `thinking` or `cache_control`).
pub fn tenant_of(ctx: &RequestContext, scope: TenantScope, native: Option<&str>) -> String {
    let a = &ctx.annotations;
    let vk = a.get("governance.virtual_key_id");
    let chosen = match scope {
        TenantScope::Shared => Some("shared".to_owned()),
        TenantScope::Customer => a
            .get("governance.customer_id")
            .map(|c| format!("customer:{c}"))
            .or_else(|| vk.map(|v| format!("vk:{v}"))),
        TenantScope::Team => a
            .get("governance.team_id")
            .map(|t| format!("team:{t}"))
            .or_else(|| vk.map(|v| format!("vk:{v}"))),
        TenantScope::VirtualKey => vk.map(|v| format!("vk:{v}")),
    };
    let mut tenant = chosen.unwrap_or_else(|| match &ctx.credential {
        Some(c) => format!("cred:{}", short_hash(c.expose())),
        None => "anonymous".to_owned(),
    });
    if let Some(body) = native {
        tenant.push_str("|native:");
        tenant.push_str(&short_hash(body));
    }
    tenant
}

/// 128 bits of SHA-256, hex.
fn short_hash(text: &str) -> String {
    crate::key::hex(&Sha256::digest(text.as_bytes()))
}
