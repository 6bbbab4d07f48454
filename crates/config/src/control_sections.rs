//! Taking the control-plane sections (`security`, `governance.auth_config`,
//! `observability`, `config_store`, `encryption_key`) out of the kept-but-inactive top-level
//! keys into the typed config, with field-path errors.
//!
//! Why apart from `sections`: those are the data plane's sections; these decide who may reach
//! the gateway and where its configuration lives, and grow with the control plane.

use serde_json::Value;

use crate::build::LoadCtx;
use crate::model::{GatewayConfig, Secret};
use crate::security::{
    AuthConfig, ProcessObservability, RawAuthConfig, RawObservability, SecurityConfig, parse_ip_net,
};

/// Move the control-plane sections into the typed config.
pub(crate) fn take_control(cfg: &mut GatewayConfig, ctx: &mut LoadCtx<'_>) {
    if let Some(v) = cfg.inactive_sections.remove("security") {
        match serde_path_to_error::deserialize::<_, SecurityConfig>(v) {
            Ok(s) => cfg.security = s,
            Err(e) => ctx.issue(format!("security.{}", e.path()), e.into_inner().to_string()),
        }
    }
    for (i, entry) in cfg.security.ip_allow_list.iter().enumerate() {
        if parse_ip_net(entry).is_none() {
            ctx.issue(
                format!("security.ipAllowList[{i}]"),
                format!("'{entry}' is not an IP address or CIDR block"),
            );
        }
    }
    take_auth(cfg, ctx);
    crate::governance::take_governance(cfg, ctx);
    crate::cache::take_cache(cfg, ctx);
    crate::mcp::take_mcp(cfg, ctx);
    if let Some(v) = cfg.inactive_sections.remove("observability") {
        process_observability(cfg, v, ctx);
    }
    for name in ["config_store", "configStore"] {
        if let Some(v) = cfg.inactive_sections.remove(name) {
            cfg.config_store = crate::sections::database(name, v, ctx);
        }
    }
    if let Some(v) = cfg.inactive_sections.remove("encryption_key") {
        match v {
            Value::String(s) if !s.is_empty() => {
                let key = ctx.resolve("encryption_key", &s);
                cfg.encryption_key = Some(Secret::new(key)).filter(|k| !k.is_empty());
            }
            Value::String(_) | Value::Null => {}
            _ => ctx.issue("encryption_key", "must be a string (or env.VAR)"),
        }
    }
}

/// The native layout's CORS origins (`client.allowed_origins`) when `security.cors` is unset,
/// and `client.enforce_auth_on_inference`.
pub(crate) fn take_client_security(cfg: &mut GatewayConfig, ctx: &mut LoadCtx<'_>) {
    if !cfg.security.cors.enabled && !cfg.client.allowed_origins.is_empty() {
        cfg.security.cors.enabled = true;
        cfg.security.cors.allowed_origins = cfg.client.allowed_origins.clone();
    }
    if let Some(v) = cfg.client.extra.remove("enforce_auth_on_inference") {
        match v {
            Value::Bool(b) => cfg.auth.enforce_auth_on_inference |= b,
            _ => ctx.issue("client.enforce_auth_on_inference", "must be true or false"),
        }
    }
}

/// Bifrost keeps admin credentials in `governance.auth_config`; the rest of `governance`
/// (virtual keys, budgets) is `governance::take_governance`'s.
fn take_auth(cfg: &mut GatewayConfig, ctx: &mut LoadCtx<'_>) {
    let Some(Value::Object(gov)) = cfg.inactive_sections.get_mut("governance") else {
        return;
    };
    let Some(raw) = gov.remove("auth_config") else {
        return;
    };
    if gov.is_empty() {
        cfg.inactive_sections.remove("governance");
    }
    let raw: RawAuthConfig = match serde_path_to_error::deserialize(raw) {
        Ok(r) => r,
        Err(e) => {
            ctx.issue(
                format!("governance.auth_config.{}", e.path()),
                e.into_inner().to_string(),
            );
            return;
        }
    };
    let enabled = raw.is_enabled.unwrap_or(true);
    let mut auth = AuthConfig {
        enforce_auth_on_inference: raw.enforce_auth_on_inference.unwrap_or(false)
            || (enabled && raw.disable_auth_on_inference == Some(false)),
        ..AuthConfig::default()
    };
    if enabled {
        let at = |f: &str| format!("governance.auth_config.{f}");
        auth.admin_username = raw
            .admin_username
            .map(|u| ctx.resolve(&at("admin_username"), &u))
            .filter(|u| !u.is_empty());
        auth.admin_password = raw
            .admin_password
            .map(|p| Secret::new(ctx.resolve(&at("admin_password"), &p)))
            .filter(|p| !p.is_empty());
        if auth.admin_username.is_some() != auth.admin_password.is_some() {
            ctx.issue(
                at("admin_password"),
                "admin_username and admin_password go together",
            );
        }
    }
    cfg.auth = auth;
}

fn process_observability(cfg: &mut GatewayConfig, v: Value, ctx: &mut LoadCtx<'_>) {
    let raw: RawObservability = match serde_path_to_error::deserialize(v) {
        Ok(r) => r,
        Err(e) => {
            ctx.issue(
                format!("observability.{}", e.path()),
                e.into_inner().to_string(),
            );
            return;
        }
    };
    let mut p = ProcessObservability::standard();
    if let Some(l) = raw.logging {
        if l.enabled != Some(false) {
            if let Some(level) = l.level {
                match level.to_ascii_lowercase().as_str() {
                    "trace" | "debug" | "info" | "warn" | "error" => {
                        p.log_level = Some(level.to_ascii_lowercase());
                    }
                    "warning" => p.log_level = Some("warn".to_owned()),
                    _ => ctx.issue(
                        "observability.logging.level",
                        format!("'{level}' is not one of debug, info, warn, error"),
                    ),
                }
            }
        } else {
            p.log_level = Some("error".to_owned());
        }
        match l.format.as_deref() {
            None | Some("text" | "pretty") => {}
            Some("json") => p.log_json = true,
            Some(other) => ctx.issue(
                "observability.logging.format",
                format!("'{other}' is not json or text"),
            ),
        }
    }
    if let Some(m) = raw.metrics {
        let prom = m.prometheus;
        p.metrics_enabled =
            m.enabled != Some(false) && prom.as_ref().and_then(|p| p.enabled) != Some(false);
        if let Some(prom) = prom {
            p.metrics_port = prom.port;
            if let Some(path) = prom.path {
                if path.starts_with('/') {
                    p.metrics_path = path;
                } else {
                    ctx.issue("observability.metrics.prometheus.path", "must start with /");
                }
            }
        }
    }
    if raw.tracing.and_then(|t| t.enabled) == Some(true) && !cfg.otel.enabled {
        ctx.warnings.push(
            "observability.tracing.enabled: traces are exported when the otel section sets an endpoint"
                .to_owned(),
        );
    }
    cfg.process = p;
}
