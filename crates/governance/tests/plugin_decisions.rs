//! The plugin's decisions, driven through its hooks as the engine calls them: identity,
//! routing by key, the unpriced-model policy, reservation and settlement.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use heimdall_core::{
    Credential, GatewayRequest, GatewayResponse, Operation, Plugin, RequestContext,
};
use heimdall_governance::Governance;
use heimdall_governance::ledger::Ledger;
use heimdall_schema::error::ErrorKind;
use serde_json::json;

fn governance() -> Governance {
    let cfg = heimdall_config::parse_value(
        json!({
            "providers": {
                "a": {"type": "custom", "keys": [{"name": "a1", "value": "x", "models": []}, {"name": "a2", "value": "y", "models": []}],
                      "network_config": {"base_url": "http://127.0.0.1:9/v1"}},
                "b": {"type": "custom", "keys": [{"name": "b1", "value": "z", "models": []}],
                      "network_config": {"base_url": "http://127.0.0.1:9/v1"}}
            },
            "pricing": {"overrides": {"a/priced": {"input": 0.0, "output": 1000.0},
                                      "b/priced": {"input": 0.0, "output": 1000.0}}},
            "governance": {
                "global": {"budget": {"max_limit": 100}},
                "virtual_keys": [
                    {"id": "routed", "value": "sk-bf-routed", "provider_configs": [
                        {"provider": "a", "weight": 1, "allowed_models": ["priced"], "key_ids": ["a2"]},
                        {"provider": "b", "weight": 0, "allowed_models": ["*"]}]},
                    {"id": "budgeted", "value": "sk-bf-budgeted", "budget": {"max_limit": 1}}
                ]
            }
        }),
        &heimdall_config::ProcessEnv,
    )
    .unwrap()
    .config;
    Governance::new(&cfg, Ledger::memory())
}

fn request(model: &str) -> GatewayRequest {
    GatewayRequest::Chat(
        serde_json::from_value(json!({"model": model, "max_tokens": 10,
            "messages": [{"role": "user", "content": "hi"}]}))
        .unwrap(),
    )
}

fn ctx(key: Option<&str>) -> RequestContext {
    let mut c = RequestContext::new("r".into(), Operation::Chat, "m".into());
    c.credential = key.map(Credential::new);
    c
}

fn model(req: &GatewayRequest) -> &str {
    match req {
        GatewayRequest::Chat(c) => &c.model,
        _ => "",
    }
}

#[tokio::test]
async fn a_bare_model_is_routed_by_the_keys_weights_and_its_key_ids_restrict_keys() {
    let g = governance();
    let (mut c, mut r) = (ctx(Some("sk-bf-routed")), request("priced"));
    g.pre(&mut c, &mut r).await.unwrap();
    assert_eq!(model(&r), "a/priced", "weight 0 never chosen");
    assert_eq!(c.allowed_keys.as_ref().unwrap()["a"], ["a2"]);
    assert_eq!(c.annotations["governance.virtual_key_id"], "routed");
    // Not allowed on the provider named, nor anywhere.
    let e = g
        .pre(&mut ctx(Some("sk-bf-routed")), &mut request("a/other"))
        .await
        .unwrap_err();
    assert_eq!((e.kind, e.status), (ErrorKind::Forbidden, 403));
    let e = g
        .pre(&mut ctx(Some("sk-bf-routed")), &mut request("nowhere"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Forbidden);
    // Unknown keys that look like virtual keys are refused; other credentials pass.
    let e = g
        .pre(&mut ctx(Some("sk-bf-unknown")), &mut request("a/priced"))
        .await
        .unwrap_err();
    assert_eq!((e.kind, e.status), (ErrorKind::Unauthorized, 401));
    assert!(
        g.pre(&mut ctx(Some("sk-provider")), &mut request("a/priced"))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn unpriced_models_pass_gateway_budgets_but_not_a_tenants() {
    let g = governance();
    // Only the global budget applies: admitted, counted as unpriced.
    assert!(
        g.pre(&mut ctx(None), &mut request("a/unpriced"))
            .await
            .is_ok()
    );
    // The key's own budget cannot count it: refused.
    let e = g
        .pre(&mut ctx(Some("sk-bf-budgeted")), &mut request("a/unpriced"))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.status, e.code.as_deref()),
        (ErrorKind::BudgetExceeded, 402, Some("model_unpriced"))
    );
}

#[tokio::test]
async fn a_reservation_settles_to_the_cost_and_a_spent_budget_refuses() {
    let g = governance();
    // $1 budget, 10 output tokens at $1,000 per million = $0.01 reserved per request.
    let (mut c, mut r) = (ctx(Some("sk-bf-budgeted")), request("a/priced"));
    g.pre(&mut c, &mut r).await.unwrap();
    let policy = g.policy();
    let level = &policy.by_id["budgeted"].levels[0];
    let u = g.level_usage(level).await;
    assert_eq!(u.budget.as_ref().unwrap().reserved, 0.01);
    c.cost = Some(0.75);
    let mut result: Result<GatewayResponse, _> =
        Err(heimdall_schema::error::GatewayError::internal("x"));
    // An error settles at $0; a success at its cost.
    g.post(&mut c, &mut result).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let u = g.level_usage(level).await;
    assert_eq!(
        (
            u.budget.as_ref().unwrap().current_usage,
            u.budget.as_ref().unwrap().reserved
        ),
        (0.0, 0.0)
    );
    let (mut c, mut r) = (ctx(Some("sk-bf-budgeted")), request("a/priced"));
    g.pre(&mut c, &mut r).await.unwrap();
    c.cost = Some(1.0);
    let mut ok: Result<GatewayResponse, _> = Ok(GatewayResponse::Chat(
        serde_json::from_value(json!({"id": "x", "object": "chat.completion", "created": 0,
            "model": "priced", "choices": []}))
        .unwrap(),
    ));
    g.post(&mut c, &mut ok).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let u = g.level_usage(level).await;
    assert_eq!(u.budget.as_ref().unwrap().current_usage, 1.0);
    let e = g
        .pre(&mut ctx(Some("sk-bf-budgeted")), &mut request("a/priced"))
        .await
        .unwrap_err();
    assert_eq!((e.kind, e.status), (ErrorKind::BudgetExceeded, 402));
    assert!(
        e.message.contains("virtual key 'budgeted'"),
        "{}",
        e.message
    );
}
