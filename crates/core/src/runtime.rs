//! The runtime snapshot: a validated config plus everything derived from it (live provider
//! clients, the routing table, the plugin pipeline), swapped as one unit.
//!
//! Why derived state lives with the config: a reload must never pair a new config with old
//! clients or keys. Readers take an `Arc` of the whole snapshot once per request (one atomic
//! load, no lock) and see a consistent world until they finish.

use std::collections::BTreeMap;
use std::sync::Arc;

use heimdall_config::{GatewayConfig, ProviderConfig};
use heimdall_providers::Provider;

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
                    limiter: ProviderLimiter::new(
                        pc.concurrency.concurrency,
                        pc.concurrency.buffer_size,
                    ),
                    config: pc,
                    provider,
                }),
            );
        }
        Self {
            config: Arc::new(config),
            providers: map,
            routable,
            unavailable: BTreeMap::new(),
            pipeline,
        }
    }
}
