//! The `governance` section: what loads, and what is refused with which field path.

use heimdall_config::{ProcessEnv, parse_value};
use serde_json::json;

fn issues(doc: serde_json::Value) -> Vec<String> {
    match parse_value(doc, &ProcessEnv) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .issues
            .iter()
            .map(|i| format!("{}: {}", i.path, i.message))
            .collect(),
    }
}

fn with(governance: serde_json::Value) -> serde_json::Value {
    json!({
        "providers": {"openai": {"keys": [{"name": "k", "value": "sk-1", "models": ["*"]}]}},
        "governance": governance
    })
}

#[test]
fn a_full_hierarchy_loads() {
    let loaded = parse_value(
        with(json!({
            "budgets": [{"id": "b1", "max_limit": 10, "reset_duration": "1M"}],
            "rate_limits": [{"id": "r1", "request_max_limit": 100, "request_reset_duration": "1m"}],
            "customers": [{"id": "acme", "name": "Acme", "budget_id": "b1"}],
            "teams": [{"id": "eng", "customer_id": "acme", "rate_limit_id": "r1"}],
            "virtual_keys": [
                {"id": "vk1", "value": "sk-bf-1", "team_id": "eng",
                 "budget": {"max_limit": 1, "reset_duration": "1d"},
                 "provider_configs": [{"provider": "openai", "allowed_models": ["*"]}]},
                {"id": "vk2", "value_hash": format!("sha256:{}", "a".repeat(64)), "customer_id": "acme"}
            ],
            "model_configs": [{"model_name": "gpt-4o", "budget": {"max_limit": 5}}],
            "global": {"budget": {"max_limit": 100, "reset_duration": "1M"}},
            "on_store_unavailable": "fail_closed"
        })),
        &ProcessEnv,
    )
    .unwrap();
    let g = &loaded.config.governance;
    assert_eq!(g.virtual_keys.len(), 2);
    assert!(g.virtual_keys[0].is_active);
    assert_eq!(
        g.on_store_unavailable,
        heimdall_config::StoreFailurePolicy::FailClosed
    );
    assert!(!g.is_empty());
    assert!(loaded.config.not_yet_active().is_empty());
}

#[test]
fn broken_references_and_values_name_their_field() {
    let found = issues(with(json!({
        "teams": [{"id": "eng", "customer_id": "nobody"}],
        "virtual_keys": [
            {"id": "vk1", "value": "v", "team_id": "eng", "customer_id": "acme"},
            {"id": "vk1", "value": "v", "budget_id": "missing"},
            {"id": "vk3", "budget": {"max_limit": 1, "reset_duration": "fortnight"},
             "provider_configs": [{"provider": "nope", "allowed_models": ["*"]}]},
            {"id": "vk4", "value_hash": "md5:abc"}
        ]
    })));
    let expect = [
        "governance.teams[0].customer_id",
        "governance.virtual_keys[1].id",
        "governance.virtual_keys[0].team_id",
        "governance.virtual_keys[1].value",
        "governance.virtual_keys[1].budget_id",
        "governance.virtual_keys[2].value",
        "governance.virtual_keys[2].budget.reset_duration",
        "governance.virtual_keys[2].provider_configs[0].provider",
        "governance.virtual_keys[3].value_hash",
    ];
    for path in expect {
        assert!(
            found.iter().any(|f| f.starts_with(&format!("{path}:"))),
            "{path} not reported in {found:#?}"
        );
    }
}

#[test]
fn rate_windows_must_be_fixed_lengths() {
    let found = issues(with(json!({
        "rate_limits": [{"id": "r", "request_max_limit": 5, "request_reset_duration": "1M"},
                        {"id": "s", "token_max_limit": 5}]
    })));
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("governance.rate_limits[0].request_reset_duration")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("governance.rate_limits[1].token_reset_duration")),
        "{found:?}"
    );
}
