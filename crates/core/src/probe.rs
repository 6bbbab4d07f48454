//! Health visibility and active health checks.
//!
//! Why: operators need to see which providers and keys the gateway is avoiding and why
//! (`GET /api/providers/health`), and a provider that gets no traffic (a standby fallback) can
//! only be known healthy by asking it. Active checks (`healthCheck: true`) call the cheapest
//! upstream endpoint (list models) per key every `healthCheckInterval`, bounded by
//! `healthCheckTimeout`, and feed the same circuit breakers live traffic feeds.

use std::sync::Arc;
use std::time::Duration;

use heimdall_config::Strategy;
use heimdall_schema::error::ErrorKind;
use serde::Serialize;

use crate::engine::Gateway;
use crate::health::{BreakerState, Transition};
use crate::runtime::{ProviderEntry, Runtime};

/// The health of every servable provider and its keys.
#[derive(Debug, Serialize)]
pub struct HealthReport {
    /// Balancing strategy in force.
    pub strategy: Strategy,
    /// Whether active checks run.
    pub active_checks: bool,
    /// Providers by name order.
    pub providers: Vec<ProviderHealth>,
}

/// One provider's health.
#[derive(Debug, Serialize)]
pub struct ProviderHealth {
    /// Configured name.
    pub name: String,
    /// Provider type.
    pub kind: &'static str,
    /// Circuit state.
    pub state: BreakerState,
    /// Gets traffic (circuit not open).
    pub healthy: bool,
    /// Consecutive failures (closed) or successes (half-open).
    pub streak: u32,
    /// Failures since start.
    pub total_failures: u64,
    /// EWMA latency of successful attempts, ms.
    pub latency_ewma_ms: f64,
    /// Recent error rate, 0..1.
    pub error_rate: f64,
    /// Upstream requests in flight.
    pub in_flight: usize,
    /// Requests waiting for a slot.
    pub queued: usize,
    /// Keys.
    pub keys: Vec<KeyHealth>,
}

/// One key's health (never the secret).
#[derive(Debug, Serialize)]
pub struct KeyHealth {
    /// Key name.
    pub name: String,
    /// Takes traffic (`false`: switched off in the config; never chosen nor checked).
    pub enabled: bool,
    /// Circuit state.
    pub state: BreakerState,
    /// Out of rotation after a 429/401/403.
    pub cooling_down: bool,
    /// Failures since start.
    pub total_failures: u64,
    /// EWMA latency of successful attempts, ms.
    pub latency_ewma_ms: f64,
    /// Recent error rate, 0..1.
    pub error_rate: f64,
}

/// The report for a runtime snapshot.
pub fn report(rt: &Runtime) -> HealthReport {
    let lb = &rt.config.load_balancing;
    let h = &lb.health;
    let providers = rt
        .providers
        .values()
        .map(|e| {
            let state = e.state(h);
            ProviderHealth {
                name: e.config.name.clone(),
                kind: e.config.kind.as_str(),
                state,
                healthy: state != BreakerState::Open,
                streak: e.breaker.streak(),
                total_failures: e.breaker.total_failures()
                    + e.key_breakers
                        .iter()
                        .map(|b| b.total_failures())
                        .sum::<u64>(),
                latency_ewma_ms: e.stats.latency_us() / 1000.0,
                error_rate: e.stats.error_rate(),
                in_flight: e.limiter.in_flight(),
                queued: e.limiter.waiting(),
                keys: e
                    .config
                    .keys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| {
                        let b = e.key_breakers.get(i);
                        let s = e.key_stats.get(i);
                        KeyHealth {
                            name: k.name.clone(),
                            enabled: k.enabled,
                            state: b.map_or(BreakerState::Closed, |b| b.state(h)),
                            cooling_down: e.cooldowns.is_cooling(i),
                            total_failures: b.map_or(0, |b| b.total_failures()),
                            latency_ewma_ms: s.map_or(0.0, |s| s.latency_us() / 1000.0),
                            error_rate: s.map_or(0.0, |s| s.error_rate()),
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    HealthReport {
        strategy: lb.strategy,
        active_checks: h.active_checks,
        providers,
    }
}

/// Check every provider once (each enabled key whose secret resolved, or keyless), feeding
/// breakers.
pub async fn check_all(rt: &Runtime) {
    let timeout = rt.config.load_balancing.health.check_timeout;
    let checks = rt
        .providers
        .values()
        .map(|e| check_provider(rt, e, timeout));
    futures::future::join_all(checks).await;
}

async fn check_provider(rt: &Runtime, entry: &Arc<ProviderEntry>, timeout: Duration) {
    let h = &rt.config.load_balancing.health;
    let name = entry.config.name.as_str();
    let keys: Vec<Option<usize>> = if entry.config.keys.is_empty() {
        vec![None]
    } else {
        (0..entry.config.keys.len())
            .filter(|&i| {
                entry
                    .config
                    .keys
                    .get(i)
                    .is_some_and(|k| k.enabled && k.unresolved_env.is_none())
            })
            .map(Some)
            .collect()
    };
    for index in keys {
        let key = index.and_then(|i| entry.config.keys.get(i));
        let key_name = key.map(|k| k.name.as_str());
        let key_breaker = index.and_then(|i| entry.key_breakers.get(i));
        let outcome = tokio::time::timeout(timeout, entry.provider.list_models(key))
            .await
            .map(|r| {
                r.map_err(|mut e| {
                    entry.redactor.scrub_error(&mut e);
                    e
                })
            });
        // Keys carry their provider's health; a keyless provider has its own breaker.
        let breaker = key_breaker.unwrap_or(&entry.breaker);
        let transition = match outcome {
            Ok(Ok(_)) => breaker.success(h),
            Ok(Err(e)) if e.kind == ErrorKind::UpstreamAuth => breaker.failure(h),
            Ok(Err(e))
                if matches!(
                    e.kind,
                    ErrorKind::UpstreamServer
                        | ErrorKind::UpstreamConnection
                        | ErrorKind::UpstreamTimeout
                        | ErrorKind::UpstreamProtocol
                ) =>
            {
                breaker.failure(h)
            }
            // Anything else (e.g. no /models endpoint) says nothing about health.
            Ok(Err(e)) => {
                tracing::debug!(provider = name, key = key_name, error = %e, "health check inconclusive");
                None
            }
            Err(_) => breaker.failure(h),
        };
        match transition {
            Some(Transition::Opened) => {
                tracing::warn!(
                    provider = name,
                    key = key_name,
                    "health check: circuit opened"
                );
            }
            Some(Transition::Closed) => {
                tracing::info!(
                    provider = name,
                    key = key_name,
                    "health check: circuit closed"
                );
            }
            None => {}
        }
    }
}

/// Run active checks in the background for as long as the gateway lives, re-reading the
/// config every round (a reload can turn them on or off or change the interval).
pub fn spawn_checks(gateway: &Arc<Gateway>) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(gateway);
    crate::task::spawn("health-checks", async move {
        loop {
            let Some(gateway) = weak.upgrade() else {
                return;
            };
            let rt = gateway.runtime();
            drop(gateway);
            let h = &rt.config.load_balancing.health;
            let interval = h.check_interval;
            if h.active_checks {
                check_all(&rt).await;
            }
            drop(rt);
            tokio::time::sleep(interval).await;
        }
    })
}
