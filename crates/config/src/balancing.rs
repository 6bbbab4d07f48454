//! Load balancing, health (circuit breakers and active checks) and fallback triggers.
//!
//! Why one shape for both layouts: `bifrost.yaml` documents a top-level `loadBalancing:
//! {strategy, config: {healthCheck, healthCheckInterval, healthCheckTimeout, unhealthyThreshold,
//! healthyThreshold, weights}}` section; the native layout accepts the same object (as
//! `loadBalancing` or `load_balancing`), so a user moves it between files unchanged. Times are
//! milliseconds, as in Bifrost's documentation.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a target (a key inside a provider, or a provider inside a model group) is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Random in proportion to weight.
    #[default]
    Weighted,
    /// In turn.
    RoundRobin,
    /// Lowest EWMA of observed latency.
    LeastLatency,
    /// Power of two random choices over peak-EWMA latency, in-flight requests and error rate.
    Adaptive,
}

/// Balancing and health settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadBalancingConfig {
    /// Strategy at both levels (keys and providers).
    pub strategy: Strategy,
    /// Provider weights inside a model group (default 1).
    pub provider_weights: BTreeMap<String, f64>,
    /// Circuit breakers and active checks.
    pub health: HealthConfig,
}

impl Default for LoadBalancingConfig {
    fn default() -> Self {
        Self {
            strategy: Strategy::Weighted,
            provider_weights: BTreeMap::new(),
            health: HealthConfig::default(),
        }
    }
}

/// Circuit breaker and active health check settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthConfig {
    /// Consecutive failures that open a breaker (`unhealthyThreshold`).
    pub unhealthy_threshold: u32,
    /// Consecutive successes in half-open that close it again (`healthyThreshold`).
    pub healthy_threshold: u32,
    /// How long an open breaker waits before letting a probe through (`circuitBreakerCooldown`).
    pub open_for: Duration,
    /// Active checks on (`healthCheck`).
    pub active_checks: bool,
    /// Time between active checks (`healthCheckInterval`).
    pub check_interval: Duration,
    /// Time allowed for one check (`healthCheckTimeout`).
    pub check_timeout: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            unhealthy_threshold: 3,
            healthy_threshold: 2,
            open_for: Duration::from_secs(30),
            active_checks: false,
            check_interval: Duration::from_secs(60),
            check_timeout: Duration::from_secs(5),
        }
    }
}

/// Failure classes that move a request on to its next fallback target.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FallbackTrigger {
    /// The upstream could not be reached.
    Connection,
    /// A deadline passed, or the upstream answered 408.
    Timeout,
    /// 429 from the upstream.
    RateLimit,
    /// 5xx from the upstream.
    ServerError,
    /// 401/403 from the upstream: the gateway's credentials.
    Auth,
    /// The model is unknown on that provider (404).
    ModelNotFound,
    /// An unreadable answer, or an in-band error before a stream's first chunk.
    StreamError,
    /// No usable key, an open circuit, or a full queue.
    Unavailable,
    /// Any other 4xx from the upstream (off by default: it would fail everywhere).
    BadRequest,
}

impl FallbackTrigger {
    /// The triggers on by default: every failure that is the target's fault.
    pub const DEFAULT: [Self; 8] = [
        Self::Connection,
        Self::Timeout,
        Self::RateLimit,
        Self::ServerError,
        Self::Auth,
        Self::ModelNotFound,
        Self::StreamError,
        Self::Unavailable,
    ];
}

/// `loadBalancing`: the strategy and the health settings, the same in both layouts.
#[derive(Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "LoadBalancing")]
pub(crate) struct RawLoadBalancing {
    /// How a key inside a provider, and a provider inside a model group, is chosen (default
    /// `weighted`).
    #[serde(default)]
    pub(crate) strategy: Option<Strategy>,
    /// Provider weights, circuit breakers and active health checks (times in milliseconds).
    #[serde(default)]
    pub(crate) config: Option<RawLbConfig>,
}

/// `loadBalancing.config`; times are milliseconds, as in Bifrost's documentation.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "LoadBalancingSettings")]
pub(crate) struct RawLbConfig {
    /// Active health checks on (default false).
    #[serde(default)]
    pub(crate) health_check: Option<bool>,
    /// Time between active checks, in milliseconds (≥ 1, default 60000).
    #[serde(default)]
    pub(crate) health_check_interval: Option<u64>,
    /// Time allowed for one check, in milliseconds (≥ 1, default 5000).
    #[serde(default)]
    pub(crate) health_check_timeout: Option<u64>,
    /// Consecutive failures that open a circuit (≥ 1, default 3).
    #[serde(default)]
    pub(crate) unhealthy_threshold: Option<u32>,
    /// Successes in half-open that close it again (≥ 1, default 2).
    #[serde(default)]
    pub(crate) healthy_threshold: Option<u32>,
    /// How long an open circuit waits before letting a probe through, in milliseconds (≥ 1,
    /// default 30000).
    #[serde(default)]
    pub(crate) circuit_breaker_cooldown: Option<u64>,
    /// Provider weights inside a model group (≥ 0, default 1).
    #[serde(default)]
    pub(crate) weights: BTreeMap<String, f64>,
    /// Bifrost's example carries `maxRetries` here; retries are per provider in Heimdall
    /// (`network_config.max_retries`), so it is reported as unused.
    #[serde(default)]
    pub(crate) max_retries: Option<u32>,
}

/// The top-level keys of the load balancing section (both spellings).
pub(crate) const LOAD_BALANCING_KEYS: [&str; 2] = ["loadBalancing", "load_balancing"];
/// The top-level keys of the fallback trigger list (both spellings).
pub(crate) const FALLBACK_TRIGGERS_KEYS: [&str; 2] = ["fallback_triggers", "fallbackTriggers"];
