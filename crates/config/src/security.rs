//! The control-plane sections: `security` (CORS, per-client rate limits, an IP allow-list,
//! API-key enforcement), admin auth (`governance.auth_config` in Bifrost's layout), where the
//! configuration itself is kept (`config_store`), and the process-level `observability`
//! settings of the `bifrost.yaml` layout (log level and format, a separate metrics listener).
//!
//! Why typed here: these sections decide who may reach what; a mistyped field must be a
//! field-path error at load, never a silently open door.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `security`: what clients may do before a request reaches routing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityConfig {
    /// Cross-origin requests from browsers.
    #[serde(default)]
    pub cors: CorsConfig,
    /// Requests per client IP and per user.
    #[serde(default, rename = "rateLimit", alias = "rate_limit")]
    pub rate_limit: RateLimitConfig,
    /// Require an API token (scope `inference`) on inference routes.
    #[serde(default, rename = "apiKeys", alias = "api_keys")]
    pub api_keys: ApiKeysConfig,
    /// Client addresses or CIDR blocks allowed to connect (empty: all).
    #[serde(default, rename = "ipAllowList", alias = "ip_allow_list")]
    pub ip_allow_list: Vec<String>,
}

/// `security.cors`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Answer preflights and add CORS headers for the listed origins.
    #[serde(default)]
    pub enabled: bool,
    /// Origins: exact (`http://localhost:5000`), a wildcard label
    /// (`https://*.replit.dev`) or `*` (any).
    #[serde(default, rename = "allowedOrigins", alias = "allowed_origins")]
    pub allowed_origins: Vec<String>,
}

/// `security.rateLimit`: requests per client, counted per IP and per user (the bearer
/// identity), each limit on its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Limit at all.
    #[serde(default)]
    pub enabled: bool,
    /// Requests in any 60 s.
    #[serde(default, rename = "requestsPerMinute", alias = "requests_per_minute")]
    pub requests_per_minute: Option<u32>,
    /// Requests in any 3,600 s.
    #[serde(default, rename = "requestsPerHour", alias = "requests_per_hour")]
    pub requests_per_hour: Option<u32>,
}

/// `security.apiKeys`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeysConfig {
    /// Inference routes require an API token with the `inference` scope.
    #[serde(default)]
    pub enabled: bool,
}

impl RateLimitConfig {
    /// Whether any limit applies.
    pub fn is_active(&self) -> bool {
        self.enabled && (self.requests_per_minute.is_some() || self.requests_per_hour.is_some())
    }
}

/// Admin auth from the file (Bifrost's `governance.auth_config`): an admin user created in
/// the store at start if it does not exist.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AuthConfig {
    /// Admin user name.
    pub admin_username: Option<String>,
    /// Admin password (resolved; hashed before it is stored).
    #[serde(skip)]
    pub admin_password: Option<crate::Secret>,
    /// Inference routes require credentials too (an API token with scope `inference`).
    pub enforce_auth_on_inference: bool,
}

/// `observability` of the `bifrost.yaml` layout: process log settings and the metrics
/// listener (request logs and traces have sections of their own).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProcessObservability {
    /// Log level (`debug`, `info`, `warn`, `error`), when the file sets one.
    pub log_level: Option<String>,
    /// Log lines as JSON.
    pub log_json: bool,
    /// Serve `/metrics` at all (default true).
    pub metrics_enabled: bool,
    /// A separate listener for metrics (`observability.metrics.prometheus.port`).
    pub metrics_port: Option<u16>,
    /// The metrics path (default `/metrics`).
    pub metrics_path: String,
}

impl ProcessObservability {
    /// The defaults: metrics on the main listener at `/metrics`.
    pub fn standard() -> Self {
        Self {
            log_level: None,
            log_json: false,
            metrics_enabled: true,
            metrics_port: None,
            metrics_path: "/metrics".to_owned(),
        }
    }
}

/// The `observability` section as the `bifrost.yaml` layout writes it.
#[derive(Deserialize, JsonSchema)]
pub(crate) struct RawObservability {
    #[serde(default)]
    pub logging: Option<RawLogging>,
    #[serde(default)]
    pub metrics: Option<RawMetrics>,
    #[serde(default)]
    pub tracing: Option<RawToggle>,
}

#[derive(Deserialize, JsonSchema)]
pub(crate) struct RawLogging {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub format: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
pub(crate) struct RawMetrics {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub prometheus: Option<RawPrometheus>,
}

#[derive(Deserialize, JsonSchema)]
pub(crate) struct RawPrometheus {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub path: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
pub(crate) struct RawToggle {
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Bifrost's `governance.auth_config`.
#[derive(Deserialize, JsonSchema)]
pub(crate) struct RawAuthConfig {
    #[serde(default)]
    pub admin_username: Option<String>,
    #[serde(default)]
    pub admin_password: Option<String>,
    #[serde(default)]
    pub is_enabled: Option<bool>,
    #[serde(default)]
    pub disable_auth_on_inference: Option<bool>,
    #[serde(default)]
    pub enforce_auth_on_inference: Option<bool>,
}

/// Whether an origin matches a pattern: exact, `*`, or one `*` standing for a non-empty run
/// of label characters (`https://*.replit.dev` matches `https://a.b.replit.dev`, not
/// `https://replit.dev` or `https://evil.com/.replit.dev`).
pub fn origin_matches(pattern: &str, origin: &str) -> bool {
    if pattern == "*" || pattern.eq_ignore_ascii_case(origin) {
        return true;
    }
    let Some((head, tail)) = pattern.split_once('*') else {
        return false;
    };
    let o = origin.to_ascii_lowercase();
    let (head, tail) = (head.to_ascii_lowercase(), tail.to_ascii_lowercase());
    if o.len() <= head.len() + tail.len() || !o.starts_with(&head) || !o.ends_with(&tail) {
        return false;
    }
    let middle = &o[head.len()..o.len() - tail.len()];
    middle
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// An address or CIDR block (`10.0.0.0/8`, `::1`, `192.168.1.7`) as (network, prefix length).
pub fn parse_ip_net(s: &str) -> Option<(std::net::IpAddr, u8)> {
    let (addr, prefix) = match s.trim().split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s.trim(), None),
    };
    let ip: std::net::IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
        None => max,
    };
    Some((ip, prefix))
}

#[cfg(test)]
mod tests {
    use super::{origin_matches, parse_ip_net};

    #[test]
    fn ip_nets_parse_with_and_without_prefix() {
        assert_eq!(
            parse_ip_net("10.0.0.0/8"),
            Some(("10.0.0.0".parse().unwrap(), 8))
        );
        assert_eq!(parse_ip_net("::1"), Some(("::1".parse().unwrap(), 128)));
        assert_eq!(parse_ip_net("10.0.0.0/33"), None);
        assert_eq!(parse_ip_net("example.com"), None);
    }

    #[test]
    fn wildcard_origins_match_subdomains_only() {
        let p = "https://*.replit.dev";
        assert!(origin_matches(p, "https://my-app.replit.dev"));
        assert!(origin_matches(p, "https://a.b.replit.dev"));
        assert!(!origin_matches(p, "https://replit.dev"));
        assert!(!origin_matches(p, "http://my-app.replit.dev"));
        assert!(!origin_matches(p, "https://evil.com/x.replit.dev"));
        assert!(!origin_matches(p, "https://evil.com?.replit.dev"));
        assert!(origin_matches(
            "http://localhost:5000",
            "http://localhost:5000"
        ));
        assert!(!origin_matches(
            "http://localhost:5000",
            "http://localhost:5001"
        ));
        assert!(origin_matches("*", "https://anything.example"));
    }
}
