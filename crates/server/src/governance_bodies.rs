//! What a request body of the governance API becomes in the configuration document: shown-only
//! fields (usage counters, the value preview) dropped, a partial update merged into the stored
//! entity, a virtual key's value replaced by its hash, ids given or generated.
//!
//! Why apart from the handlers: these rules decide what is stored — never a key's value, never
//! a counter — and are checked here on plain JSON, without a gateway.

use base64::Engine;
use heimdall_config::{BudgetConfig, RateLimitRule};
use heimdall_control::document;
use heimdall_governance::policy::hash_text;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::api_error::ApiError;
use crate::governance_views::{Entity, USAGE_FIELDS};

/// Drop what answers add (usage counters, the value preview) from a body sent back.
pub(crate) fn strip_shown(o: &mut Map<String, Value>) {
    o.remove("value_preview");
    for k in ["budget", "rate_limit"] {
        if let Some(Value::Object(l)) = o.get_mut(k) {
            for f in USAGE_FIELDS {
                l.remove(*f);
            }
        }
    }
    if let Some(Value::Array(pcs)) = o.get_mut("provider_configs") {
        for pc in pcs {
            if let Value::Object(p) = pc {
                strip_shown(p);
            }
        }
    }
}

/// Shared budgets and rate limits of a section, as written.
pub(crate) struct Shared {
    budgets: Vec<Value>,
    rates: Vec<Value>,
}

impl Shared {
    pub(crate) fn of(section: &Map<String, Value>) -> Self {
        let list = |n: &str| {
            section
                .get(n)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        Self {
            budgets: list("budgets"),
            rates: list("rate_limits"),
        }
    }
}

/// Merge `incoming` into `stored` (Bifrost's PUT is a partial update): a field set replaces
/// the stored one, `null` removes it; `budget` and `rate_limit` merge field by field into the
/// limit in effect — a shared one sent back unchanged stays a reference, a changed one
/// becomes the entity's own (keeping its id, so its counters carry on).
pub(crate) fn merge(
    stored: &mut Map<String, Value>,
    incoming: Map<String, Value>,
    shared: &Shared,
) {
    for (inline, reference) in [("budget", "budget_id"), ("rate_limit", "rate_limit_id")] {
        if incoming.get(reference).is_some_and(|v| !v.is_null()) && !incoming.contains_key(inline) {
            stored.remove(inline);
        }
    }
    for (k, v) in incoming {
        match k.as_str() {
            "budget" => {
                merge_limit::<BudgetConfig>(stored, "budget", "budget_id", v, &shared.budgets)
            }
            "rate_limit" => {
                merge_limit::<RateLimitRule>(
                    stored,
                    "rate_limit",
                    "rate_limit_id",
                    v,
                    &shared.rates,
                );
            }
            "provider_configs" => merge_provider_configs(stored, v, shared),
            _ if v.is_null() => {
                stored.remove(&k);
            }
            _ => {
                stored.insert(k, v);
            }
        }
    }
}

fn merge_limit<T: DeserializeOwned + PartialEq>(
    stored: &mut Map<String, Value>,
    inline: &str,
    reference: &str,
    incoming: Value,
    shared: &[Value],
) {
    let Value::Object(mut fields) = incoming else {
        if incoming.is_null() {
            stored.remove(inline);
            stored.remove(reference);
        } else {
            // Not an object: validation names the field.
            stored.insert(inline.to_owned(), incoming);
        }
        return;
    };
    for f in USAGE_FIELDS {
        fields.remove(*f);
    }
    // The id of a limit is its counter's: not changed by an update.
    fields.remove("id");
    let referenced = stored
        .get(reference)
        .and_then(Value::as_str)
        .and_then(|id| shared.iter().find(|s| s["id"] == id))
        .cloned();
    let own = stored.get(inline).cloned();
    let mut base = match own.as_ref().or(referenced.as_ref()) {
        Some(Value::Object(o)) => o.clone(),
        _ => Map::new(),
    };
    for (k, v) in fields {
        let unchanged = base
            .get(&k)
            .and_then(Value::as_f64)
            .is_some_and(|b| v.as_f64() == Some(b));
        if v.is_null() {
            base.remove(&k);
        } else if !unchanged {
            // (`10` stays `10` when `10.0` is sent back: no change in the diff.)
            base.insert(k, v);
        }
    }
    let merged = Value::Object(base);
    if own.is_none() && referenced.as_ref().is_some_and(|r| same::<T>(r, &merged)) {
        return;
    }
    stored.insert(inline.to_owned(), merged);
    stored.remove(reference);
}

fn same<T: DeserializeOwned + PartialEq>(a: &Value, b: &Value) -> bool {
    match (
        serde_json::from_value::<T>(a.clone()),
        serde_json::from_value::<T>(b.clone()),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The list sent replaces the stored one; an entry keeps the limits of the stored entry of
/// the same provider unless it sets its own.
fn merge_provider_configs(stored: &mut Map<String, Value>, incoming: Value, shared: &Shared) {
    let Value::Array(items) = incoming else {
        if incoming.is_null() {
            stored.remove("provider_configs");
        } else {
            stored.insert("provider_configs".into(), incoming);
        }
        return;
    };
    let old: Vec<Value> = stored
        .get("provider_configs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(fields) = item else {
            out.push(item);
            continue;
        };
        let mut pc = Map::new();
        if let Some(prev) = old
            .iter()
            .find(|o| o.get("provider").is_some() && o.get("provider") == fields.get("provider"))
        {
            for k in ["budget", "budget_id", "rate_limit", "rate_limit_id"] {
                if let Some(v) = prev.get(k) {
                    pc.insert(k.to_owned(), v.clone());
                }
            }
        }
        merge(&mut pc, fields, shared);
        out.push(Value::Object(pc));
    }
    stored.insert("provider_configs".into(), Value::Array(out));
}

/// A new virtual key value: `sk-bf-` and 43 characters of URL-safe base64 (256 random bits).
pub(crate) fn new_key_value() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    format!(
        "sk-bf-{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The hash a stored virtual key is found by (its literal value's, or its `value_hash`).
pub(crate) fn stored_hash(entry: &Value) -> Option<String> {
    match entry.get("value").and_then(Value::as_str) {
        Some(v) if !document::is_reference(v) => Some(hash_text(v)),
        _ => entry
            .get("value_hash")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

/// Put the `value_hash` of a new key in `o`: of the `value` (or `value_hash`) sent to import
/// a key, else of a generated value, which is returned (to be shown once).
pub(crate) fn key_value(o: &mut Map<String, Value>) -> Result<Option<String>, ApiError> {
    let (generated, hash) = match (o.remove("value"), o.remove("value_hash")) {
        (Some(_), Some(_)) => {
            return Err(
                ApiError::bad_request("send the key's value or its value_hash, not both")
                    .with_param("value"),
            );
        }
        (Some(Value::String(v)), None)
            if !v.trim().is_empty() && !document::is_reference(v.trim()) =>
        {
            (None, hash_text(v.trim()))
        }
        (Some(_), None) => {
            return Err(ApiError::bad_request(
                "value must be the key itself, a non-empty string (env references belong in a configuration file)",
            )
            .with_param("value"));
        }
        (None, Some(Value::String(h))) => (None, h),
        (None, Some(_)) => {
            return Err(
                ApiError::bad_request("value_hash must be 'sha256:' and 64 hex digits")
                    .with_param("value_hash"),
            );
        }
        (None, None) => {
            let v = new_key_value();
            let h = hash_text(&v);
            (Some(v), h)
        }
    };
    o.insert("value_hash".into(), json!(hash));
    Ok(generated)
}

/// The id a body gives (non-empty, no `/`), else a generated `<prefix>-<uuid>`.
pub(crate) fn take_id(o: &mut Map<String, Value>, e: Entity) -> Result<String, ApiError> {
    match o.remove("id") {
        None | Some(Value::Null) => Ok(format!("{}-{}", e.prefix(), uuid::Uuid::new_v4().simple())),
        Some(Value::String(s)) if !s.is_empty() && !s.contains('/') && s.len() <= 128 => Ok(s),
        Some(_) => Err(ApiError::bad_request(format!(
            "a {} id is a non-empty string without '/' (at most 128 bytes)",
            e.label()
        ))
        .with_param("id")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn generated_values_are_sk_bf_and_43_url_safe_characters() {
        let v = new_key_value();
        let rest = v.strip_prefix("sk-bf-").unwrap();
        assert_eq!(rest.len(), 43);
        assert!(
            rest.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(v, new_key_value());
    }

    #[test]
    fn only_the_hash_of_a_key_is_kept() {
        let mut o = map(json!({"name": "k"}));
        let v = key_value(&mut o).unwrap().unwrap();
        assert_eq!(o["value_hash"], hash_text(&v));
        assert!(!o.contains_key("value"));
        let mut o = map(json!({"value": "sk-bf-imported"}));
        assert_eq!(key_value(&mut o).unwrap(), None);
        assert_eq!(o["value_hash"], hash_text("sk-bf-imported"));
        assert!(!o.contains_key("value"));
        let mut o = map(json!({"value": "env.VK"}));
        assert_eq!(
            key_value(&mut o).unwrap_err().param.as_deref(),
            Some("value")
        );
    }

    #[test]
    fn an_update_merges_and_a_shared_budget_sent_back_stays_a_reference() {
        let section =
            map(json!({"budgets": [{"id": "b", "max_limit": 10, "reset_duration": "1d"}]}));
        let shared = Shared::of(&section);
        let mut stored =
            map(json!({"id": "t", "name": "old", "budget_id": "b", "customer_id": "c"}));
        merge(
            &mut stored,
            map(json!({"name": "new", "customer_id": null,
                "budget": {"id": "b", "max_limit": 10.0, "reset_duration": "1d", "current_usage": 3.0}})),
            &shared,
        );
        assert_eq!(
            Value::Object(stored.clone()),
            json!({"id": "t", "name": "new", "budget_id": "b"})
        );
        merge(
            &mut stored,
            map(json!({"budget": {"max_limit": 20}})),
            &shared,
        );
        assert_eq!(
            Value::Object(stored.clone()),
            json!({"id": "t", "name": "new", "budget": {"id": "b", "max_limit": 20, "reset_duration": "1d"}})
        );
        merge(&mut stored, map(json!({"budget_id": "b"})), &shared);
        assert_eq!(
            Value::Object(stored),
            json!({"id": "t", "name": "new", "budget_id": "b"})
        );
    }

    #[test]
    fn provider_configs_are_replaced_but_keep_their_limits() {
        let shared = Shared::of(&Map::new());
        let mut stored = map(json!({"provider_configs": [
            {"provider": "a", "allowed_models": ["x"], "budget": {"max_limit": 1}},
            {"provider": "b"}
        ]}));
        merge(
            &mut stored,
            map(
                json!({"provider_configs": [{"provider": "a", "allowed_models": ["*"],
                "budget": {"id": "vk:a", "max_limit": 1.0, "current_usage": 0.5}}]}),
            ),
            &shared,
        );
        assert_eq!(
            stored["provider_configs"],
            json!([{"provider": "a", "allowed_models": ["*"], "budget": {"max_limit": 1}}])
        );
    }
}
