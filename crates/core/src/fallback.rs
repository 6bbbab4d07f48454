//! Fallback plans: which targets a request may try, in order, and which failures move on.
//!
//! Sources, in order: the model the client asked for; the request's own `fallbacks`
//! (Bifrost's request field: `"provider/model"` strings or `{provider, model}` objects, removed
//! before the body goes upstream); the configured chain for that model (`fallbacks:` in the
//! config; a chain may repeat the primary, which is then not tried twice).
//!
//! Why the trigger set is explicit: a fallback helps when *this* target failed (its network, its
//! limits, its credentials, its model list), never when the request itself is wrong — that
//! would fail everywhere and only multiply cost and latency.

use std::collections::BTreeMap;

use heimdall_config::FallbackTrigger;
use heimdall_schema::error::{ErrorKind, GatewayError};
use serde_json::{Map, Value};

/// Remove and parse the request-level `fallbacks` field from a request's unknown fields.
pub fn take_request_fallbacks(extra: &mut Map<String, Value>) -> Result<Vec<String>, GatewayError> {
    let Some(value) = extra.remove("fallbacks") else {
        return Ok(Vec::new());
    };
    let bad = |i: usize, what: &str| {
        GatewayError::invalid_request(
            format!(
                "fallbacks[{i}]: {what}; use \"provider/model\" or {{\"provider\", \"model\"}}"
            ),
            Some(format!("fallbacks[{i}]")),
        )
    };
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => {
            return Err(GatewayError::invalid_request(
                "fallbacks must be an array",
                Some("fallbacks".into()),
            ));
        }
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) if !s.trim().is_empty() => Ok(s),
            Value::Object(o) => {
                let field = |k: &str| o.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
                match (field("provider"), field("model")) {
                    (Some(p), Some(m)) => Ok(format!("{p}/{m}")),
                    (None, Some(m)) => Ok(m.to_owned()),
                    _ => Err(bad(i, "an object needs a model (and usually a provider)")),
                }
            }
            _ => Err(bad(i, "not a model reference")),
        })
        .collect()
}

/// The ordered list of model references to try.
pub fn plan(
    requested: &str,
    request_fallbacks: Vec<String>,
    configured: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let mut out = Vec::with_capacity(1 + request_fallbacks.len());
    out.push(requested.to_owned());
    out.extend(request_fallbacks);
    if let Some(chain) = configured.get(requested) {
        out.extend(chain.iter().cloned());
    }
    out
}

/// The trigger class of a failure; `None` for failures that are never a target's fault.
pub fn trigger_of(e: &GatewayError) -> Option<FallbackTrigger> {
    Some(match e.kind {
        ErrorKind::UpstreamAuth => FallbackTrigger::Auth,
        ErrorKind::UpstreamRateLimited => FallbackTrigger::RateLimit,
        ErrorKind::UpstreamModelNotFound | ErrorKind::ModelNotFound => {
            FallbackTrigger::ModelNotFound
        }
        ErrorKind::UpstreamServer => FallbackTrigger::ServerError,
        ErrorKind::UpstreamConnection => FallbackTrigger::Connection,
        ErrorKind::UpstreamTimeout => FallbackTrigger::Timeout,
        ErrorKind::UpstreamProtocol | ErrorKind::UpstreamStreamError => {
            FallbackTrigger::StreamError
        }
        ErrorKind::NoKeyAvailable | ErrorKind::Misconfigured | ErrorKind::Overloaded => {
            FallbackTrigger::Unavailable
        }
        ErrorKind::UpstreamBadRequest => FallbackTrigger::BadRequest,
        ErrorKind::InvalidRequest
        | ErrorKind::PayloadTooLarge
        | ErrorKind::RouteNotFound
        | ErrorKind::Internal
        | ErrorKind::Unauthorized
        | ErrorKind::Forbidden
        | ErrorKind::BudgetExceeded
        | ErrorKind::RateLimited => return None,
    })
}

/// Whether a failure of one target should move on to the next, given the configured triggers.
pub fn should_fall_back(e: &GatewayError, triggers: &[FallbackTrigger]) -> bool {
    trigger_of(e).is_some_and(|t| triggers.contains(&t))
}

/// The error when every target failed: the last failure's kind and status, with every
/// target and its failure in the message.
pub fn all_failed(tried: &[(String, String)], last: GatewayError) -> GatewayError {
    if tried.len() <= 1 {
        return last;
    }
    let list: Vec<String> = tried.iter().map(|(t, m)| format!("{t}: {m}")).collect();
    let mut e = last;
    e.message = format!("all {} targets failed — {}", tried.len(), list.join("; "));
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_strings_and_objects_and_removes_the_field() {
        let mut extra: Map<String, Value> = serde_json::from_str(
            r#"{"fallbacks": ["groq/llama", {"provider": "mistral", "model": "small"}], "other": 1}"#,
        )
        .unwrap();
        let f = take_request_fallbacks(&mut extra).unwrap();
        assert_eq!(f, ["groq/llama", "mistral/small"]);
        assert!(!extra.contains_key("fallbacks"));
        assert!(extra.contains_key("other"));
    }

    #[test]
    fn rejects_bad_shapes_naming_the_entry() {
        let mut extra: Map<String, Value> =
            serde_json::from_str(r#"{"fallbacks": ["ok/m", 3]}"#).unwrap();
        let e = take_request_fallbacks(&mut extra).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("fallbacks[1]"));
        let mut extra: Map<String, Value> = serde_json::from_str(r#"{"fallbacks": "x"}"#).unwrap();
        assert_eq!(take_request_fallbacks(&mut extra).unwrap_err().status, 400);
    }

    #[test]
    fn plan_orders_primary_request_then_configured() {
        let mut cfg = BTreeMap::new();
        cfg.insert(
            "gpt-4o".to_owned(),
            vec!["a/gpt-4o".to_owned(), "b/claude".to_owned()],
        );
        assert_eq!(
            plan("gpt-4o", vec!["c/x".into()], &cfg),
            ["gpt-4o", "c/x", "a/gpt-4o", "b/claude"]
        );
        assert_eq!(plan("other", vec![], &cfg), ["other"]);
    }

    #[test]
    fn only_target_failures_fall_back() {
        assert!(should_fall_back(
            &GatewayError::from_upstream_status(503, "x"),
            &FallbackTrigger::DEFAULT
        ));
        assert!(should_fall_back(
            &GatewayError::from_upstream_status(429, "x"),
            &FallbackTrigger::DEFAULT
        ));
        assert!(should_fall_back(
            &GatewayError::from_upstream_status(401, "x"),
            &FallbackTrigger::DEFAULT
        ));
        assert!(should_fall_back(
            &GatewayError::from_upstream_status(404, "x"),
            &FallbackTrigger::DEFAULT
        ));
        assert!(!should_fall_back(
            &GatewayError::from_upstream_status(400, "x"),
            &FallbackTrigger::DEFAULT
        ));
        assert!(!should_fall_back(
            &GatewayError::invalid_request("x", None),
            &FallbackTrigger::DEFAULT
        ));
    }

    #[test]
    fn the_trigger_set_is_configurable() {
        let only_rate_limits = [FallbackTrigger::RateLimit];
        let e503 = GatewayError::from_upstream_status(503, "x");
        let e429 = GatewayError::from_upstream_status(429, "x");
        assert!(!should_fall_back(&e503, &only_rate_limits));
        assert!(should_fall_back(&e429, &only_rate_limits));
        let with_bad_request = [FallbackTrigger::BadRequest];
        let e400 = GatewayError::from_upstream_status(400, "x");
        assert!(should_fall_back(&e400, &with_bad_request));
        assert!(!should_fall_back(
            &GatewayError::invalid_request("x", None),
            &with_bad_request
        ));
    }
}
