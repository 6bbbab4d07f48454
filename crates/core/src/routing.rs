//! Resolving the model a client names into a provider and the model name sent upstream.
//!
//! Rules, in order (documented in docs/configuration.md):
//! 1. a configured alias is replaced by its target (once);
//! 2. `provider/model` where `provider` is a configured provider name → that provider, the rest
//!    verbatim (so `openrouter/meta-llama/llama-3-8b` keeps its inner slash);
//! 3. otherwise the whole string is a model name (`meta-llama/Llama-3-8B` stays intact when
//!    `meta-llama` is not a provider): the providers that declare it (provider `models` or a key
//!    allow-list) serve it, in name order;
//! 4. failing that, a name without `/` goes to the one provider that accepts any model, if
//!    there is exactly one (zero-config with a single key just works); a `prefix/model` whose
//!    prefix is no provider must be declared somewhere, so a typo'd provider is a 404;
//! 5. else a 404 that lists what is configured.
//!
//! Before these rules, a dialect route (`/anthropic`, `/genai`, `/cohere`, `/bedrock`) may
//! address a bare model to its natural provider kind ([`natural_address`]).
//!
//! Pure over the runtime's provider table, so the rules are unit-tested without IO.

use std::collections::BTreeMap;

use heimdall_config::{ProviderConfig, ProviderKind};
use heimdall_schema::error::{ErrorKind, GatewayError};

/// Where one attempt goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTarget {
    /// Configured provider name.
    pub provider: String,
    /// Model name for the upstream.
    pub model: String,
}

/// Providers that declare `model` explicitly.
fn declares(p: &ProviderConfig, model: &str) -> bool {
    p.models.iter().any(|m| m == model)
        || p.keys.iter().any(|k| k.models.iter().any(|m| m == model))
}

/// Providers that accept any model name (no declared list anywhere).
fn accepts_any(p: &ProviderConfig) -> bool {
    p.models.is_empty() && (p.keys.is_empty() || p.keys.iter().any(|k| k.models.is_empty()))
}

/// Resolve `requested` against the available providers (`unavailable` maps configured-but-not-
/// servable provider names to the reason).
pub fn resolve(
    providers: &BTreeMap<String, ProviderConfig>,
    unavailable: &BTreeMap<String, String>,
    aliases: &BTreeMap<String, String>,
    requested: &str,
) -> Result<RouteTarget, GatewayError> {
    let requested = requested.trim();
    if requested.is_empty() {
        return Err(GatewayError::invalid_request(
            "model must not be empty",
            Some("model".into()),
        ));
    }
    let name = aliases
        .get(requested)
        .map(String::as_str)
        .unwrap_or(requested);

    if let Some((prefix, rest)) = name.split_once('/') {
        if providers.contains_key(prefix) {
            if rest.is_empty() {
                return Err(GatewayError::invalid_request(
                    format!("model '{name}' names provider '{prefix}' but no model after '/'"),
                    Some("model".into()),
                ));
            }
            return Ok(RouteTarget {
                provider: prefix.to_owned(),
                model: rest.to_owned(),
            });
        }
        if let Some(reason) = unavailable.get(prefix) {
            return Err(GatewayError::new(
                ErrorKind::ModelNotFound,
                format!("provider '{prefix}' is configured but not available: {reason}"),
            )
            .with_status(503)
            .with_code("provider_unavailable"));
        }
    }

    if let Some((provider, _)) = providers.iter().find(|(_, p)| declares(p, name)) {
        return Ok(RouteTarget {
            provider: provider.clone(),
            model: name.to_owned(),
        });
    }
    let mut open = providers.iter().filter(|(_, p)| accepts_any(p));
    if !name.contains('/')
        && let (Some((provider, _)), None) = (open.next(), open.next())
    {
        return Ok(RouteTarget {
            provider: provider.clone(),
            model: name.to_owned(),
        });
    }
    Err(not_found(providers, unavailable, name))
}

/// On a dialect route, a bare model name (no `/`, not an alias) goes to
/// a provider of the route's natural `kind` when one has that model: it declares it, or it
/// accepts any model and no provider declares the name. Returns the `provider/model` to route,
/// or `None` to leave the name to the general rules.
pub fn natural_address(
    providers: &BTreeMap<String, ProviderConfig>,
    aliases: &BTreeMap<String, String>,
    kind: ProviderKind,
    requested: &str,
) -> Option<String> {
    let name = requested.trim();
    // `prefix/model` is explicit (or a typo'd provider, which must stay a 404).
    if name.is_empty() || name.contains('/') || aliases.contains_key(name) {
        return None;
    }
    let mut of_kind = providers.iter().filter(|(_, p)| p.kind == kind);
    let chosen = match of_kind.clone().find(|(_, p)| declares(p, name)) {
        Some(found) => found,
        None if providers.values().any(|p| declares(p, name)) => return None,
        None => of_kind.find(|(_, p)| accepts_any(p))?,
    };
    Some(format!("{}/{name}", chosen.0))
}

fn not_found(
    providers: &BTreeMap<String, ProviderConfig>,
    unavailable: &BTreeMap<String, String>,
    name: &str,
) -> GatewayError {
    let configured = if providers.is_empty() {
        "no providers are configured (set OPENAI_API_KEY or another provider key, or pass --config)"
            .to_owned()
    } else {
        let list: Vec<String> = providers
            .iter()
            .map(|(n, p)| {
                let mut models: Vec<&str> = p.models.iter().map(String::as_str).collect();
                for k in &p.keys {
                    for m in &k.models {
                        if !models.contains(&m.as_str()) {
                            models.push(m);
                        }
                    }
                }
                if models.is_empty() {
                    format!("{n} (any model)")
                } else {
                    format!("{n} ({})", models.join(", "))
                }
            })
            .collect();
        format!(
            "configured providers: {}; address a model as 'provider/model'",
            list.join("; ")
        )
    };
    let mut message = format!("model '{name}' is not served by this gateway: {configured}");
    if !unavailable.is_empty() {
        let names: Vec<&str> = unavailable.keys().map(String::as_str).collect();
        message.push_str(&format!("; not available: {}", names.join(", ")));
    }
    GatewayError::new(ErrorKind::ModelNotFound, message)
        .with_code("model_not_found")
        .with_status(404)
}
