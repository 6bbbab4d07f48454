//! Choosing a provider key for a request: weighted random among the keys that allow the model.
//!
//! Why this way: Bifrost users configure `weight` per key and an allow-list of models; traffic
//! must split in proportion to weight among the keys eligible for the requested model. The
//! choice runs on every request, so it allocates nothing: one pass to sum eligible weights, one
//! to find the pick. Keys whose secret could not be resolved are never eligible.

use heimdall_config::{KeyConfig, ProviderConfig};
use heimdall_schema::error::{ErrorKind, GatewayError};

/// Whether `key` may serve `model`.
pub fn key_allows(key: &KeyConfig, model: &str) -> bool {
    key.models.is_empty() || key.models.iter().any(|m| m == model)
}

fn usable(key: &KeyConfig, keyless: bool) -> bool {
    key.unresolved_env.is_none() && (keyless || !key.value.is_empty() || key.base_url.is_some())
}

/// Pick a key for `model`, given a uniform random number `r` in `[0, 1)`.
///
/// Returns `Ok(None)` for a keyless provider with no keys configured.
pub fn pick_key<'a>(
    provider: &'a ProviderConfig,
    model: &str,
    r: f64,
) -> Result<Option<&'a KeyConfig>, GatewayError> {
    let keyless = provider.kind.preset().keyless;
    if provider.keys.is_empty() && keyless {
        return Ok(None);
    }
    let eligible = |k: &&KeyConfig| usable(k, keyless) && key_allows(k, model);
    let mut count = 0usize;
    let mut total = 0.0f64;
    for k in provider.keys.iter().filter(eligible) {
        count += 1;
        total += k.weight.max(0.0);
    }
    if count == 0 {
        return Err(no_key_error(provider, model));
    }
    if total <= 0.0 {
        // All eligible weights are zero: spread evenly rather than refuse.
        let idx = ((r * count as f64) as usize).min(count - 1);
        return Ok(provider.keys.iter().filter(eligible).nth(idx));
    }
    let mut target = r * total;
    let mut last = None;
    for k in provider.keys.iter().filter(eligible) {
        let w = k.weight.max(0.0);
        if w > 0.0 {
            last = Some(k);
            if target < w {
                return Ok(Some(k));
            }
            target -= w;
        }
    }
    Ok(last)
}

fn no_key_error(provider: &ProviderConfig, model: &str) -> GatewayError {
    let keyless = provider.kind.preset().keyless;
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
