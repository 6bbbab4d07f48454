//! Routing rules and key choice as pure functions over a parsed config.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::time::Duration;

use heimdall_config::{ConfigFormat, GatewayConfig, ProviderKind, parse_str};
use heimdall_core::attempt::backoff;
use heimdall_core::keys::pick_key;
use heimdall_core::routing::{RouteTarget, natural_address, resolve};
use heimdall_schema::error::ErrorKind;

fn config(json: serde_json::Value) -> GatewayConfig {
    let env: BTreeMap<String, String> = BTreeMap::new();
    parse_str(&json.to_string(), ConfigFormat::Json, &env)
        .unwrap()
        .config
}

fn two_providers() -> GatewayConfig {
    config(serde_json::json!({
        "providers": {
            "openai": {"keys": [{"name": "o", "value": "sk-o", "models": ["gpt-4o", "gpt-4o-mini"], "weight": 1}]},
            "groq": {"keys": [{"name": "g", "value": "sk-g", "models": [], "weight": 1}],
                     "models": ["llama-3.1-8b-instant"]}
        },
        "model_aliases": {"fast": "groq/llama-3.1-8b-instant"}
    }))
}

fn target(p: &str, m: &str) -> RouteTarget {
    RouteTarget {
        provider: p.into(),
        model: m.into(),
    }
}

#[test]
fn resolves_prefix_bare_alias_and_rejects_unknown() {
    let cfg = two_providers();
    let none = BTreeMap::new();
    let r = |m: &str| resolve(&cfg.providers, &none, &cfg.model_aliases, m);
    assert_eq!(r("openai/gpt-4o").unwrap(), target("openai", "gpt-4o"));
    assert_eq!(r("gpt-4o-mini").unwrap(), target("openai", "gpt-4o-mini"));
    assert_eq!(
        r("llama-3.1-8b-instant").unwrap(),
        target("groq", "llama-3.1-8b-instant")
    );
    assert_eq!(r("fast").unwrap(), target("groq", "llama-3.1-8b-instant"));
    assert_eq!(
        r("groq/meta-llama/Llama-3-8B").unwrap(),
        target("groq", "meta-llama/Llama-3-8B")
    );
    let e = r("claude-3-opus").unwrap_err();
    assert_eq!(e.kind, ErrorKind::ModelNotFound);
    assert_eq!(e.status, 404);
    assert!(
        e.message.contains("openai") && e.message.contains("groq"),
        "{}",
        e.message
    );
    assert_eq!(r("").unwrap_err().status, 400);
    assert_eq!(r("openai/").unwrap_err().status, 400);
}

#[test]
fn a_single_open_provider_serves_bare_names_but_not_unknown_prefixes() {
    let cfg = config(serde_json::json!({"providers": {"openai": {"keys": [{"value": "sk"}]}}}));
    let none = BTreeMap::new();
    let r = |m: &str| resolve(&cfg.providers, &none, &cfg.model_aliases, m);
    assert_eq!(r("gpt-4.1").unwrap(), target("openai", "gpt-4.1"));
    assert_eq!(r("nope/gpt-4o").unwrap_err().status, 404);
}

#[test]
fn slash_model_names_stay_intact_when_declared() {
    let cfg = config(serde_json::json!({"providers": {"vllm": {
        "keys": [{"value": "", "base_url": "http://127.0.0.1:8000/v1"}],
        "models": ["meta-llama/Llama-3-8B"]}}}));
    let none = BTreeMap::new();
    let r = |m: &str| resolve(&cfg.providers, &none, &cfg.model_aliases, m);
    assert_eq!(
        r("meta-llama/Llama-3-8B").unwrap(),
        target("vllm", "meta-llama/Llama-3-8B")
    );
}

#[test]
fn an_unavailable_provider_is_named_with_its_reason() {
    let cfg = two_providers();
    let mut unavailable = BTreeMap::new();
    unavailable.insert("anthropic".to_owned(), "not supported yet".to_owned());
    let e = resolve(
        &cfg.providers,
        &unavailable,
        &cfg.model_aliases,
        "anthropic/claude",
    )
    .unwrap_err();
    assert_eq!(e.status, 503);
    assert!(e.message.contains("not supported yet"));
}

#[test]
fn key_choice_follows_weights_and_allow_lists() {
    let cfg = config(serde_json::json!({"providers": {"openai": {"keys": [
        {"name": "a", "value": "sk-a", "weight": 3.0},
        {"name": "b", "value": "sk-b", "weight": 1.0},
        {"name": "c", "value": "sk-c", "models": ["o1"], "weight": 100.0}
    ]}}}));
    let p = &cfg.providers["openai"];
    // Deterministic over the unit interval: 75% a, 25% b, never c for gpt-4o.
    let picks: Vec<String> = (0..100)
        .map(|i| {
            pick_key(p, "gpt-4o", i as f64 / 100.0)
                .unwrap()
                .unwrap()
                .name
                .clone()
        })
        .collect();
    assert_eq!(picks.iter().filter(|n| *n == "a").count(), 75);
    assert_eq!(picks.iter().filter(|n| *n == "b").count(), 25);
    // For o1, c is eligible and dominates.
    assert_eq!(pick_key(p, "o1", 0.5).unwrap().unwrap().name, "c");
}

#[test]
fn keys_with_unset_variables_are_never_chosen_and_the_error_says_why() {
    let cfg = config(serde_json::json!({"providers": {"openai": {"keys": [
        {"name": "k", "value": "env.HEIMDALL_TEST_SURELY_UNSET_VAR"}
    ]}}}));
    let e = pick_key(&cfg.providers["openai"], "gpt-4o", 0.1).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NoKeyAvailable);
    assert!(
        e.message.contains("HEIMDALL_TEST_SURELY_UNSET_VAR"),
        "{}",
        e.message
    );
}

#[test]
fn keyless_provider_without_keys_needs_none() {
    let cfg = config(serde_json::json!({"providers": {"ollama": {}}}));
    assert!(
        pick_key(&cfg.providers["ollama"], "llama3", 0.3)
            .unwrap()
            .is_none()
    );
}

#[test]
fn backoff_grows_is_capped_and_honours_retry_after() {
    let initial = Duration::from_millis(100);
    let max = Duration::from_secs(2);
    for _ in 0..50 {
        let d1 = backoff(1, initial, max, None);
        assert!(d1 >= Duration::from_millis(50) && d1 <= initial);
        let d3 = backoff(3, initial, max, None);
        assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
        assert!(backoff(20, initial, max, None) <= max);
        assert_eq!(backoff(1, initial, max, Some(1)), Duration::from_secs(1));
        assert_eq!(backoff(1, initial, max, Some(60)), max);
    }
}

#[test]
fn a_dialect_route_sends_a_bare_model_to_its_natural_provider() {
    let cfg = config(serde_json::json!({
        "providers": {
            "claude": {"type": "anthropic", "keys": [{"name": "a", "value": "sk-a", "models": [], "weight": 1}]},
            "local": {"type": "custom", "keys": [{"name": "l", "value": "x", "models": [], "weight": 1}],
                      "network_config": {"base_url": "http://127.0.0.1:1/v1"}},
            "groq": {"keys": [{"name": "g", "value": "sk-g", "models": ["llama-3.1-8b-instant"], "weight": 1}]}
        },
        "model_aliases": {"fast": "groq/llama-3.1-8b-instant"}
    }));
    let p = &cfg.providers;
    let a = &cfg.model_aliases;
    let natural = |m: &str| natural_address(p, a, ProviderKind::Anthropic, m);
    // Two providers accept any model, so the general rules find no single owner; the route's
    // natural kind settles it.
    assert_eq!(
        natural("claude-sonnet-4-5").as_deref(),
        Some("claude/claude-sonnet-4-5")
    );
    assert!(resolve(p, &BTreeMap::new(), a, "claude-sonnet-4-5").is_err());
    // Explicit addresses, aliases and models another provider declares are left alone.
    assert_eq!(natural("local/claude-sonnet-4-5"), None);
    assert_eq!(
        natural("nope/claude-sonnet-4-5"),
        None,
        "a typo'd provider stays a 404"
    );
    assert_eq!(natural("fast"), None);
    assert_eq!(natural("llama-3.1-8b-instant"), None);
    // No provider of the kind: nothing to prefer.
    assert_eq!(
        natural_address(p, a, ProviderKind::Cohere, "command-a"),
        None
    );
}
