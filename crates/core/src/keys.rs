//! Choosing a provider key for a request among the keys that allow the model, by the
//! configured balancing strategy (weighted random by default).
//!
//! Why this way: Bifrost users configure `weight` per key and an allow-list of models; traffic
//! must split in proportion to weight among the keys eligible for the requested model. The
//! choice runs on every request, so it allocates nothing: one pass to sum eligible weights, one
//! to find the pick. Keys whose secret could not be resolved, and keys switched off
//! (`enabled: false`), are never eligible.

use std::sync::atomic::AtomicUsize;

use heimdall_config::{KeyConfig, ProviderConfig, Strategy};
use heimdall_schema::error::{ErrorKind, GatewayError};

use crate::balance::{Stats, choose};

/// Whether `key` may serve `model`.
pub fn key_allows(key: &KeyConfig, model: &str) -> bool {
    key.models.is_empty() || key.models.iter().any(|m| m == model)
}

fn usable(key: &KeyConfig, keyless: bool) -> bool {
    let entra = key.azure.as_ref().is_some_and(|a| a.entra.is_some())
        || key.vertex.is_some()
        || key
            .bedrock
            .as_ref()
            .is_some_and(|b| !b.access_key.is_empty());
    key.enabled
        && key.unresolved_env.is_none()
        && (keyless || !key.value.is_empty() || key.base_url.is_some() || entra)
}

/// Pick a key for `model`, given a uniform random number `r` in `[0, 1)`.
///
/// Returns `Ok(None)` for a keyless provider with no keys configured.
pub fn pick_key<'a>(
    provider: &'a ProviderConfig,
    model: &str,
    r: f64,
) -> Result<Option<&'a KeyConfig>, GatewayError> {
    Ok(pick_key_index(provider, model, r, |_| false)?.and_then(|i| provider.keys.get(i)))
}

/// Like [`pick_key`], returning the key's index and passing over keys for which `skip` is true
/// (cooling down). When every eligible key is skipped the error is a 429-class
/// `NoKeyAvailable`, so a fallback target can take over.
pub fn pick_key_index(
    provider: &ProviderConfig,
    model: &str,
    r: f64,
    skip: impl Fn(usize) -> bool,
) -> Result<Option<usize>, GatewayError> {
    let turn = AtomicUsize::new(0);
    let picker = KeyPicker {
        strategy: Strategy::Weighted,
        stats: &[],
        turn: &turn,
        r1: r,
        r2: r,
    };
    select_key(provider, model, &picker, skip)
}

/// How to choose among eligible keys: the strategy and its live state.
#[derive(Debug)]
pub struct KeyPicker<'a> {
    /// Balancing strategy.
    pub strategy: Strategy,
    /// Per-key statistics, by key index (missing entries read as "never measured").
    pub stats: &'a [Stats],
    /// Round-robin counter of this provider's keys.
    pub turn: &'a AtomicUsize,
    /// Uniform random numbers in `[0, 1)`.
    pub r1: f64,
    /// A second one (adaptive compares two picks).
    pub r2: f64,
}

static UNMEASURED: Stats = Stats::new();

/// Choose a key for `model` among the usable, allowed keys not skipped, by `picker`'s strategy.
/// Returns `Ok(None)` for a keyless provider with no keys configured.
pub fn select_key(
    provider: &ProviderConfig,
    model: &str,
    picker: &KeyPicker<'_>,
    skip: impl Fn(usize) -> bool,
) -> Result<Option<usize>, GatewayError> {
    let keyless = provider.kind.preset().keyless;
    if provider.keys.is_empty() && keyless {
        return Ok(None);
    }
    let configured = |k: &KeyConfig| usable(k, keyless) && key_allows(k, model);
    if !provider.keys.iter().any(configured) {
        return Err(no_key_error(provider, model));
    }
    let chosen = choose(
        picker.strategy,
        provider.keys.len(),
        |i| {
            let k = provider.keys.get(i)?;
            (configured(k) && !skip(i))
                .then(|| (k.weight, picker.stats.get(i).unwrap_or(&UNMEASURED)))
        },
        picker.turn,
        picker.r1,
        picker.r2,
    );
    match chosen {
        Some(i) => Ok(Some(i)),
        None => Err(GatewayError::new(
            ErrorKind::NoKeyAvailable,
            format!(
                "every key of provider '{}' for model '{model}' is cooling down after rate-limit or authentication failures",
                provider.name
            ),
        )
        .with_status(429)
        .with_provider(&provider.name)),
    }
}

/// Per-key "cooling down until" times, shared by all requests of one runtime snapshot.
///
/// Why atomics in a flat array: marked on a failure and read on every key choice, so reads are
/// one relaxed load per key, with no lock and no allocation.
#[derive(Debug)]
pub struct KeyCooldowns {
    epoch: std::time::Instant,
    until_ms: Vec<std::sync::atomic::AtomicU64>,
}

impl KeyCooldowns {
    /// Cooldown slots for `keys` keys, none cooling.
    pub fn new(keys: usize) -> Self {
        Self {
            epoch: std::time::Instant::now(),
            until_ms: (0..keys)
                .map(|_| std::sync::atomic::AtomicU64::new(0))
                .collect(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Key `i` cools down until key `j` of `other` does (a key that survived a configuration
    /// change stays out of rotation as long as it was).
    pub fn carry_from(&self, i: usize, other: &KeyCooldowns, j: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        let (Some(to), Some(from)) = (self.until_ms.get(i), other.until_ms.get(j)) else {
            return;
        };
        let until = other.epoch + std::time::Duration::from_millis(from.load(Relaxed));
        let ms = until
            .checked_duration_since(self.epoch)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        to.store(ms, Relaxed);
    }

    /// Whether key `i` is cooling down now.
    pub fn is_cooling(&self, i: usize) -> bool {
        let now = self.now_ms();
        self.until_ms
            .get(i)
            .is_some_and(|u| u.load(std::sync::atomic::Ordering::Relaxed) > now)
    }

    /// Keep key `i` out of rotation for `for_how_long`.
    pub fn cool(&self, i: usize, for_how_long: std::time::Duration) {
        let until = self
            .now_ms()
            .saturating_add(u64::try_from(for_how_long.as_millis()).unwrap_or(u64::MAX));
        if let Some(slot) = self.until_ms.get(i) {
            slot.fetch_max(until, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

fn no_key_error(provider: &ProviderConfig, model: &str) -> GatewayError {
    let keyless = provider.kind.preset().keyless;
    let serving = provider
        .keys
        .iter()
        .filter(|k| key_allows(k, model))
        .count();
    let disabled: Vec<&str> = provider
        .keys
        .iter()
        .filter(|k| key_allows(k, model) && !k.enabled)
        .map(|k| k.name.as_str())
        .collect();
    if serving > 0 && disabled.len() == serving {
        return GatewayError::new(
            ErrorKind::NoKeyAvailable,
            format!(
                "every key of provider '{}' for model '{model}' is disabled: {}",
                provider.name,
                disabled.join(", ")
            ),
        )
        .with_provider(&provider.name);
    }
    let any_usable = provider.keys.iter().any(|k| usable(k, keyless));
    if any_usable {
        GatewayError::new(
            ErrorKind::ModelNotFound,
            format!(
                "model '{model}' is not allowed by any key of provider '{}'",
                provider.name
            ),
        )
        .with_provider(&provider.name)
    } else {
        let reasons: Vec<String> = provider
            .keys
            .iter()
            .map(|k| match &k.unresolved_env {
                _ if !k.enabled => format!("{} (disabled)", k.name),
                Some(var) => format!("{} (environment variable {var} is not set)", k.name),
                None => format!("{} (empty value)", k.name),
            })
            .collect();
        GatewayError::new(
            ErrorKind::NoKeyAvailable,
            format!(
                "provider '{}' has no usable key: {}",
                provider.name,
                if reasons.is_empty() {
                    "no keys configured".to_owned()
                } else {
                    reasons.join(", ")
                }
            ),
        )
        .with_provider(&provider.name)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use heimdall_config::{ConfigFormat, GatewayConfig, parse_str};

    use super::*;

    fn config(json: serde_json::Value) -> GatewayConfig {
        let env: BTreeMap<String, String> = BTreeMap::new();
        parse_str(&json.to_string(), ConfigFormat::Json, &env)
            .unwrap()
            .config
    }

    #[test]
    fn a_disabled_key_is_never_chosen() {
        let cfg = config(serde_json::json!({"providers": {"openai": {"keys": [
            {"name": "off", "value": "sk-off", "weight": 100.0, "enabled": false},
            {"name": "on", "value": "sk-on", "weight": 1.0}
        ]}}}));
        let p = &cfg.providers["openai"];
        assert!(!p.keys[0].enabled);
        assert!(p.keys[1].enabled, "enabled by default");
        for i in 0..100 {
            let picked = pick_key(p, "gpt-4o", f64::from(i) / 100.0)
                .unwrap()
                .unwrap();
            assert_eq!(picked.name, "on");
        }
    }

    #[test]
    fn when_every_key_for_the_model_is_disabled_the_error_says_so() {
        let cfg = config(serde_json::json!({"providers": {"openai": {"keys": [
            {"name": "a", "value": "sk-a", "enabled": false},
            {"name": "b", "value": "sk-b", "enabled": false},
            {"name": "o1-only", "value": "sk-c", "models": ["o1"]}
        ]}}}));
        let e = pick_key(&cfg.providers["openai"], "gpt-4o", 0.5).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NoKeyAvailable);
        assert!(e.message.contains("disabled"), "{}", e.message);
        assert!(e.message.contains("a, b"), "{}", e.message);
        // The enabled key still serves its own model.
        let k = pick_key(&cfg.providers["openai"], "o1", 0.5)
            .unwrap()
            .unwrap();
        assert_eq!(k.name, "o1-only");
    }

    #[test]
    fn a_disabled_key_is_named_among_the_reasons_no_key_is_usable() {
        let cfg = config(serde_json::json!({"providers": {"openai": {"keys": [
            {"name": "off", "value": "sk-a", "enabled": false},
            {"name": "unset", "value": "env.HEIMDALL_TEST_SURELY_UNSET_VAR_2"}
        ]}}}));
        let e = pick_key(&cfg.providers["openai"], "gpt-4o", 0.5).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NoKeyAvailable);
        assert!(e.message.contains("off (disabled)"), "{}", e.message);
        assert!(
            e.message.contains("HEIMDALL_TEST_SURELY_UNSET_VAR_2"),
            "{}",
            e.message
        );
    }
}
