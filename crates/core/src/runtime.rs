//! The runtime snapshot: a validated config plus everything derived from it (live provider
//! clients, the routing table, the plugin pipeline), swapped as one unit.
//!
//! Why derived state lives with the config: a reload must never pair a new config with old
//! clients or keys. Readers take an `Arc` of the whole snapshot once per request (one atomic
//! load, no lock) and see a consistent world until they finish.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use heimdall_config::{GatewayConfig, ProviderConfig};
use heimdall_providers::Provider;

use crate::balance::Stats;
use crate::health::Breaker;
use crate::keys::KeyCooldowns;
use crate::limiter::ProviderLimiter;
use crate::plugin::Pipeline;

/// A servable provider: its config and live client.
pub struct ProviderEntry {
    /// Validated config.
    pub config: ProviderConfig,
    /// Live implementation.
    pub provider: Arc<dyn Provider>,
    /// Keys out of rotation after rate-limit or auth failures.
    pub cooldowns: KeyCooldowns,
    /// Concurrency limit and wait queue.
    pub limiter: ProviderLimiter,
    /// Latency and error statistics of the provider (provider-level balancing).
    pub stats: Stats,
    /// The circuit breaker of a keyless provider (providers with keys use their keys').
    pub breaker: Breaker,
    /// Per-key statistics, by key index.
    pub key_stats: Box<[Stats]>,
    /// Per-key circuit breakers, by key index.
    pub key_breakers: Box<[Breaker]>,
    /// Round-robin counter over the keys.
    pub key_turn: AtomicUsize,
    /// The provider's secrets, scrubbed from what its upstream sends back.
    pub redactor: Arc<crate::redact::Redactor>,
}

/// Several providers declaring the same model: balanced as one target.
#[derive(Debug)]
pub struct ModelGroup {
    /// Member provider names, in name order.
    pub providers: Vec<String>,
    /// Round-robin counter over the members.
    pub turn: AtomicUsize,
}

impl ProviderEntry {
    /// A changed provider's keys that did not change take over their circuit, cooldown and
    /// statistics from `old` (matched by name and configuration, wherever they moved).
    pub fn carry_keys_from(&self, old: &ProviderEntry) {
        for (i, key) in self.config.keys.iter().enumerate() {
            let Some(j) = old.config.keys.iter().position(|k| k == key) else {
                continue;
            };
            if let (Some(to), Some(from)) = (self.key_breakers.get(i), old.key_breakers.get(j)) {
                to.carry_from(from);
            }
            if let (Some(to), Some(from)) = (self.key_stats.get(i), old.key_stats.get(j)) {
                to.carry_from(from);
            }
            self.cooldowns.carry_from(i, &old.cooldowns, j);
        }
    }

    /// Whether the provider should get traffic while others are healthy: a provider with keys
    /// is healthy while any key's circuit is not open (a failing key must not take down its
    /// siblings); a keyless provider has a circuit of its own.
    pub fn is_available(&self, h: &heimdall_config::HealthConfig) -> bool {
        if self.key_breakers.is_empty() {
            self.breaker.is_available(h)
        } else {
            self.key_breakers.iter().any(|b| b.is_available(h))
        }
    }

    /// Keys whose circuit is not open (a keyless provider counts its own circuit as one).
    pub fn healthy_keys(&self, h: &heimdall_config::HealthConfig) -> usize {
        if self.key_breakers.is_empty() {
            usize::from(self.breaker.is_available(h))
        } else {
            self.key_breakers
                .iter()
                .filter(|b| b.is_available(h))
                .count()
        }
    }

    /// The provider's circuit state (derived from its keys' when it has keys).
    pub fn state(&self, h: &heimdall_config::HealthConfig) -> crate::health::BreakerState {
        use crate::health::BreakerState;
        if self.key_breakers.is_empty() {
            return self.breaker.state(h);
        }
        let states = || self.key_breakers.iter().map(|b| b.state(h));
        if states().any(|s| s == BreakerState::Closed) {
            BreakerState::Closed
        } else if states().any(|s| s == BreakerState::HalfOpen) {
            BreakerState::HalfOpen
        } else {
            BreakerState::Open
        }
    }
}

impl std::fmt::Debug for ProviderEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderEntry")
            .field("name", &self.config.name)
            .field("kind", &self.config.kind.as_str())
            .finish()
    }
}

/// Everything a request needs, immutable.
#[derive(Debug)]
pub struct Runtime {
    /// The config this runtime was built from.
    pub config: Arc<GatewayConfig>,
    /// Servable providers by name.
    pub providers: BTreeMap<String, Arc<ProviderEntry>>,
    /// Configs of servable providers (the routing table).
    pub routable: BTreeMap<String, ProviderConfig>,
    /// Configured providers that cannot be served, with the reason.
    pub unavailable: BTreeMap<String, String>,
    /// Models declared by more than one provider → the group of them.
    pub groups: BTreeMap<String, ModelGroup>,
    /// The plugin pipeline.
    pub pipeline: Pipeline,
}

impl Runtime {
    /// Build from a config: instantiate every provider; ones that fail are listed as
    /// unavailable with the reason (and reported by the caller), not fatal.
    pub fn build(config: GatewayConfig, pipeline: Pipeline) -> Self {
        let mut entries = Vec::new();
        let mut unavailable = BTreeMap::new();
        for (name, pc) in &config.providers {
            match heimdall_providers::build_provider(pc) {
                Ok(p) => entries.push((pc.clone(), p)),
                Err(e) => {
                    unavailable.insert(name.clone(), e.message);
                }
            }
        }
        let mut rt = Self::with_providers(config, entries, pipeline);
        rt.unavailable.extend(unavailable);
        rt
    }

    /// The snapshot after a configuration change: providers whose configuration did not change
    /// keep their live entry — client, connection pool, circuit breakers, key cooldowns,
    /// latency statistics and queue — so a reload elsewhere does not reset what the gateway
    /// learned about them. A changed provider gets a new entry, but its keys that did not
    /// change take over their circuit, cooldown and statistics (copied at the swap: results of
    /// requests still finishing on the old entry are not carried). The plugin pipeline carries
    /// over. In-flight requests keep the snapshot they started with.
    pub fn rebuild(previous: &Runtime, config: GatewayConfig) -> Self {
        let mut kept = BTreeMap::new();
        let mut fresh = Vec::new();
        let mut unavailable = BTreeMap::new();
        for (name, pc) in &config.providers {
            match previous.providers.get(name) {
                Some(entry) if entry.config == *pc => {
                    kept.insert(name.clone(), Arc::clone(entry));
                }
                _ => match heimdall_providers::build_provider(pc) {
                    Ok(p) => fresh.push((pc.clone(), p)),
                    Err(e) => {
                        unavailable.insert(name.clone(), e.message);
                    }
                },
            }
        }
        previous.pipeline.reconfigure(&config);
        let mut rt = Self::with_providers(config, fresh, previous.pipeline.clone());
        for (name, entry) in &rt.providers {
            if let Some(old) = previous.providers.get(name) {
                entry.carry_keys_from(old);
            }
        }
        for (name, entry) in kept {
            rt.routable.insert(name.clone(), entry.config.clone());
            rt.providers.insert(name, entry);
        }
        rt.groups = model_groups(&rt.routable);
        rt.unavailable.extend(unavailable);
        rt
    }

    /// Whether the entry of `name` is the same live object in both snapshots (its state
    /// carried over a reload).
    pub fn shares_provider(&self, other: &Runtime, name: &str) -> bool {
        match (self.providers.get(name), other.providers.get(name)) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Build with explicit provider implementations (tests, embedding as a library).
    pub fn with_providers(
        config: GatewayConfig,
        providers: Vec<(ProviderConfig, Arc<dyn Provider>)>,
        pipeline: Pipeline,
    ) -> Self {
        let mut map = BTreeMap::new();
        let mut routable = BTreeMap::new();
        for (pc, provider) in providers {
            routable.insert(pc.name.clone(), pc.clone());
            map.insert(
                pc.name.clone(),
                Arc::new(ProviderEntry {
                    cooldowns: KeyCooldowns::new(pc.keys.len()),
                    stats: Stats::new(),
                    breaker: Breaker::default(),
                    key_stats: pc.keys.iter().map(|_| Stats::new()).collect(),
                    key_breakers: pc.keys.iter().map(|_| Breaker::default()).collect(),
                    key_turn: AtomicUsize::new(0),
                    redactor: Arc::new(crate::redact::Redactor::for_provider(&pc)),
                    limiter: ProviderLimiter::new(
                        pc.concurrency.concurrency,
                        pc.concurrency.buffer_size,
                    ),
                    config: pc,
                    provider,
                }),
            );
        }
        let groups = model_groups(&routable);
        Self {
            config: Arc::new(config),
            providers: map,
            routable,
            unavailable: BTreeMap::new(),
            groups,
            pipeline,
        }
    }
}

/// Models that more than one provider declares (in `models` or a key's allow-list).
fn model_groups(providers: &BTreeMap<String, ProviderConfig>) -> BTreeMap<String, ModelGroup> {
    let mut by_model: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (name, p) in providers {
        let declared = p
            .models
            .iter()
            .chain(p.keys.iter().flat_map(|k| k.models.iter()));
        for m in declared {
            let members = by_model.entry(m.as_str()).or_default();
            if !members.contains(name) {
                members.push(name.clone());
            }
        }
    }
    by_model
        .into_iter()
        .filter(|(_, members)| members.len() > 1)
        .map(|(model, providers)| {
            (
                model.to_owned(),
                ModelGroup {
                    providers,
                    turn: AtomicUsize::new(0),
                },
            )
        })
        .collect()
}
