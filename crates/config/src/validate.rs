//! Cross-field checks that the file shapes alone cannot express.

use std::collections::BTreeSet;

use crate::build::LoadCtx;
use crate::kinds::ProviderKind;
use crate::model::GatewayConfig;

/// Record every cross-field problem of `cfg` in `ctx`.
pub fn check(cfg: &GatewayConfig, ctx: &mut LoadCtx<'_>) {
    crate::governance_check::check(&cfg.governance, &cfg.providers, ctx);
    for (name, p) in &cfg.providers {
        let path = format!("providers.{name}");
        if name.is_empty() || name.contains('/') {
            ctx.issue(
                &path,
                "a provider name must be non-empty and contain no '/'",
            );
        }
        let preset = p.kind.preset();
        if p.kind == ProviderKind::Custom && p.network.base_url.is_none() {
            ctx.issue(
                format!("{path}.network_config.base_url"),
                "a custom provider needs a base_url",
            );
        }
        if preset.per_key_url && p.network.base_url.is_none() {
            if p.keys.is_empty() {
                ctx.issue(
                    format!("{path}.network_config.base_url"),
                    format!(
                        "a {} provider needs a base_url or keys with a URL each",
                        p.kind.as_str()
                    ),
                );
            }
            for (i, k) in p.keys.iter().enumerate() {
                if k.base_url.is_none() {
                    ctx.issue(
                        format!("{path}.keys[{i}].base_url"),
                        format!("a {} key needs its server URL", p.kind.as_str()),
                    );
                }
            }
        }
        let mut names = BTreeSet::new();
        for (i, k) in p.keys.iter().enumerate() {
            if !names.insert(k.name.as_str()) {
                ctx.issue(
                    format!("{path}.keys[{i}].name"),
                    format!("duplicate key name '{}'", k.name),
                );
            }
        }
        if !preset.keyless && p.keys.is_empty() {
            ctx.warnings.push(format!(
                "{path}: no keys configured; requests to this provider will fail"
            ));
        }
        unservable_models(&path, p, ctx);
    }
}

/// Warn about each declared model (provider-wide or a key's) whose kind of operation the
/// provider's kind has no route for: requests for it would only ever fail.
fn unservable_models(path: &str, p: &crate::model::ProviderConfig, ctx: &mut LoadCtx<'_>) {
    let mut seen = BTreeSet::new();
    let declared = p
        .models
        .iter()
        .chain(p.keys.iter().flat_map(|k| k.models.iter()));
    for model in declared {
        if !seen.insert(model.as_str()) {
            continue;
        }
        if crate::capabilities::model_capabilities(p.kind, model).is_empty() {
            let class = crate::capabilities::ModelClass::of(model);
            let serves: Vec<&str> = p.kind.capabilities().iter().map(|c| c.as_str()).collect();
            ctx.warnings.push(format!(
                "{path}: model '{model}' is for {}, but a provider of type {} has no route for that through the gateway (it serves: {})",
                class.as_str(),
                p.kind.as_str(),
                serves.join(", ")
            ));
        }
    }
}
