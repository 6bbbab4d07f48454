//! Taking the typed sections (load balancing and fallback triggers; logs store, OTLP export,
//! pricing) out of the top-level keys the layout loaders kept aside, with field-path errors.
//!
//! Why apart from the section types: the types sit below the config model (it holds them); the
//! loaders sit above it (they fill it). Keeping both in one file tied the model and its sections
//! in an import loop.

use std::time::Duration;

use serde_json::Value;

use crate::balancing::{
    FALLBACK_TRIGGERS_KEYS, FallbackTrigger, LOAD_BALANCING_KEYS, RawLoadBalancing,
};
use crate::build::LoadCtx;
use crate::model::GatewayConfig;
use crate::observability::*;
use crate::secret::Secret;

/// Move `loadBalancing` and `fallback_triggers` out of the kept-but-inactive sections into the
/// typed config, reporting mistakes with their path.
pub(crate) fn take_balancing(cfg: &mut GatewayConfig, ctx: &mut LoadCtx<'_>) {
    for name in LOAD_BALANCING_KEYS {
        if let Some(v) = cfg.inactive_sections.remove(name) {
            load_balancing(cfg, name, v, ctx);
        }
    }
    for name in FALLBACK_TRIGGERS_KEYS {
        if let Some(v) = cfg.inactive_sections.remove(name) {
            match serde_path_to_error::deserialize::<_, Vec<FallbackTrigger>>(v) {
                Ok(t) => cfg.fallback_triggers = t,
                Err(e) => ctx.issue(
                    format!("{name}{}", path_suffix(&e.path().to_string())),
                    e.into_inner().to_string(),
                ),
            }
        }
    }
}

fn path_suffix(p: &str) -> String {
    if p == "." || p.is_empty() {
        String::new()
    } else if p.starts_with('[') {
        p.to_owned()
    } else {
        format!(".{p}")
    }
}

fn load_balancing(
    cfg: &mut GatewayConfig,
    name: &str,
    value: serde_json::Value,
    ctx: &mut LoadCtx<'_>,
) {
    let raw: RawLoadBalancing = match serde_path_to_error::deserialize(value) {
        Ok(r) => r,
        Err(e) => {
            ctx.issue(
                format!("{name}{}", path_suffix(&e.path().to_string())),
                e.into_inner().to_string(),
            );
            return;
        }
    };
    let lb = &mut cfg.load_balancing;
    lb.strategy = raw.strategy.unwrap_or_default();
    let Some(c) = raw.config else { return };
    let h = &mut lb.health;
    h.active_checks = c.health_check.unwrap_or(h.active_checks);
    let mut millis = |field: &str, v: Option<u64>, into: &mut Duration| match v {
        Some(0) => ctx.issue(format!("{name}.config.{field}"), "must be at least 1"),
        Some(ms) => *into = Duration::from_millis(ms),
        None => {}
    };
    millis(
        "healthCheckInterval",
        c.health_check_interval,
        &mut h.check_interval,
    );
    millis(
        "healthCheckTimeout",
        c.health_check_timeout,
        &mut h.check_timeout,
    );
    millis(
        "circuitBreakerCooldown",
        c.circuit_breaker_cooldown,
        &mut h.open_for,
    );
    for (field, v, into) in [
        (
            "unhealthyThreshold",
            c.unhealthy_threshold,
            &mut h.unhealthy_threshold,
        ),
        (
            "healthyThreshold",
            c.healthy_threshold,
            &mut h.healthy_threshold,
        ),
    ] {
        match v {
            Some(0) => ctx.issue(format!("{name}.config.{field}"), "must be at least 1"),
            Some(n) => *into = n,
            None => {}
        }
    }
    for (provider, w) in &c.weights {
        if !w.is_finite() || *w < 0.0 {
            ctx.issue(
                format!("{name}.config.weights.{provider}"),
                "must be a non-negative number",
            );
        }
    }
    lb.provider_weights = c.weights;
    if c.max_retries.is_some() {
        ctx.warnings.push(format!(
            "{name}.config.maxRetries is not used: set network_config.max_retries per provider"
        ));
    }
}

/// Move `logs_store` and `pricing` out of the not-yet-active sections into typed config.
pub(crate) fn take_observability(cfg: &mut GatewayConfig, ctx: &mut LoadCtx<'_>) {
    for name in LOGS_STORE_KEYS {
        if let Some(v) = cfg.inactive_sections.remove(name)
            && let Some(store) = database(name, v, ctx)
        {
            cfg.logs_store = store;
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

/// A database section (`logs_store`, `config_store`): `{enabled, type, config: {…}}`.
pub(crate) fn database(name: &str, v: Value, ctx: &mut LoadCtx<'_>) -> Option<LogsStoreConfig> {
    let raw: RawLogsStore = match serde_path_to_error::deserialize(v) {
        Ok(r) => r,
        Err(e) => {
            ctx.issue(format!("{name}.{}", e.path()), e.into_inner().to_string());
            return None;
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
    Some(out)
}
