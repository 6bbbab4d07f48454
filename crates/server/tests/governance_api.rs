//! The governance management API end to end, in process (store mode, SQLite in a tempdir,
//! governance wired before the request logger as the binary has it): the hierarchy created
//! through the API governs traffic at once, a key's value is shown once and never again,
//! usage shows up on reads and on the key's own quota, deactivation and rotation take effect,
//! and refusals carry their reason (404, 409 naming dependents, 400 with a field path).
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::control::{ControlHarness, ControlOptions, start_control};
use heimdall_mock_provider::{MockConfig, MockServer};
use reqwest::Method;
use serde_json::{Value, json};

async fn start() -> (ControlHarness, MockServer) {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let mut doc = common::mock_config(&mock, json!({}));
    // The mock's model has no catalog price: budgets need one.
    doc["pricing"] = json!({"default_price": {"input": 1000.0, "output": 1000.0}});
    let h = start_control(ControlOptions {
        governance: true,
        ..ControlOptions::store(doc)
    })
    .await;
    (h, mock)
}

async fn chat(h: &ControlHarness, key: &str) -> (u16, Value) {
    let r = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("x-bf-vk", key)
        .json(&common::user_chat("mock/gpt-4o"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn quota(h: &ControlHarness, header: (&str, &str)) -> (u16, Value) {
    let r = h
        .client
        .get(h.url("/api/governance/virtual-keys/quota"))
        .header(header.0, header.1)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn version(h: &ControlHarness) -> i64 {
    h.control.config.current().version
}

/// Create customer → team → key; returns the key's id and value.
async fn hierarchy(h: &ControlHarness) -> (String, String) {
    let (status, c) = h
        .post(
            "/api/governance/customers",
            json!({"id": "acme", "name": "Acme", "budget": {"max_limit": 100, "reset_duration": "1M"}}),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(c["customer"]["budget"]["max_limit"], 100.0, "{c}");
    let (status, t) = h
        .post(
            "/api/governance/teams",
            json!({"name": "Engineering", "customer_id": "acme",
                "rate_limit": {"request_max_limit": 1000, "request_reset_duration": "1h"}}),
        )
        .await;
    assert_eq!(status, 201, "{t}");
    let team = t["team"]["id"].as_str().unwrap().to_owned();
    assert!(team.starts_with("team-"), "{t}");
    let before = version(h);
    let (status, k) = h
        .post(
            "/api/governance/virtual-keys",
            json!({
                "name": "ci", "description": "the CI's key", "team_id": team,
                "budget": {"max_limit": 10, "reset_duration": "1d"},
                "rate_limit": {"request_max_limit": 100, "request_reset_duration": "1m",
                    "token_max_limit": 1_000_000, "token_reset_duration": "1h"},
                "provider_configs": [{"provider": "mock", "allowed_models": ["*"],
                    "budget": {"max_limit": 5}}]
            }),
        )
        .await;
    assert_eq!(status, 201, "{k}");
    assert!(k["version"].as_i64().unwrap() > before, "{k}");
    assert_eq!(version(h), k["version"].as_i64().unwrap());
    let vk = &k["virtual_key"];
    let value = vk["value"]
        .as_str()
        .expect("the value, this once")
        .to_owned();
    assert!(
        value.starts_with("sk-bf-") && value.len() == 6 + 43,
        "{value}"
    );
    assert!(vk.get("value_hash").is_none(), "{k}");
    assert!(
        vk.get("value_preview").is_none(),
        "only a hash is stored: {k}"
    );
    assert_eq!(vk["team_id"], team.as_str());
    assert_eq!(vk["is_active"], true);
    let id = vk["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("vk-"), "{id}");
    // The stored document has the hash, never the value.
    let doc = h.control.config.current().document.to_string();
    assert!(!doc.contains(&value), "the value was stored");
    assert!(doc.contains("sha256:"), "{doc}");
    (id, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_created_through_the_api_governs_traffic_and_shows_its_usage() {
    let (h, _mock) = start().await;
    let (id, value) = hierarchy(&h).await;

    // Reads never show the value.
    let (status, list) = h.get("/api/governance/virtual-keys").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["count"], 1);
    assert!(!list.to_string().contains(&value));
    assert!(!list.to_string().contains("value_hash"));

    let (status, answer) = chat(&h, &value).await;
    assert_eq!(status, 200, "{answer}");

    // Settlement is asynchronous: poll.
    let deadline = Instant::now() + Duration::from_secs(5);
    let vk = loop {
        let (status, got) = h.get(&format!("/api/governance/virtual-keys/{id}")).await;
        assert_eq!(status, 200, "{got}");
        let vk = got["virtual_key"].clone();
        if vk["budget"]["current_usage"].as_f64().unwrap_or(0.0) > 0.0 || Instant::now() > deadline
        {
            break vk;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        vk["budget"]["current_usage"].as_f64().unwrap() > 0.0,
        "{vk}"
    );
    assert!(vk["budget"]["remaining"].as_f64().unwrap() < 10.0, "{vk}");
    assert!(
        vk["budget"]["period_start_ms"].as_i64().unwrap() > 0,
        "{vk}"
    );
    assert!(
        vk["rate_limit"]["request_current_usage"].as_u64().unwrap() >= 1,
        "{vk}"
    );
    assert!(
        vk["rate_limit"]["token_current_usage"].as_u64().unwrap() >= 1,
        "{vk}"
    );
    assert!(
        vk["provider_configs"][0]["budget"]["current_usage"]
            .as_f64()
            .unwrap()
            > 0.0,
        "{vk}"
    );
    assert!(!vk.to_string().contains(&value));

    // The key's own quota, with the key as its credential (any of the usual headers).
    let (status, q) = quota(&h, ("x-bf-vk", &value)).await;
    assert_eq!(status, 200, "{q}");
    assert_eq!(q["virtual_key_id"], id.as_str());
    assert_eq!(q["budget"]["max_limit"], 10.0);
    assert!(q["budget"]["current_usage"].as_f64().unwrap() > 0.0, "{q}");
    assert_eq!(q["provider_configs"][0]["provider"], "mock");
    let (status, q2) = quota(&h, ("authorization", &format!("Bearer {value}"))).await;
    assert_eq!(status, 200, "{q2}");
    let (status, e) = quota(&h, ("x-bf-vk", "sk-bf-unknown")).await;
    assert_eq!(status, 401, "{e}");
    assert_eq!(e["error"]["type"], "authentication_error");

    // Budgets and rate limits in effect, with their owners and usage.
    let (status, budgets) = h.get("/api/governance/budgets").await;
    assert_eq!(status, 200, "{budgets}");
    let mine = budgets["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["owner"] == json!({"kind": "virtual_key", "id": id}))
        .expect("the key's budget");
    assert!(mine["current_usage"].as_f64().unwrap() > 0.0, "{mine}");
    assert_eq!(
        budgets["count"], 3,
        "key, its provider config, the customer: {budgets}"
    );
    let (status, rates) = h.get("/api/governance/rate-limits").await;
    assert_eq!(status, 200, "{rates}");
    assert_eq!(rates["count"], 2, "{rates}");

    // Deactivated: the next request is refused.
    let (status, updated) = h
        .call(
            Method::PUT,
            &format!("/api/governance/virtual-keys/{id}"),
            Some(json!({"is_active": false})),
            None,
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["virtual_key"]["is_active"], false);
    assert_eq!(
        updated["virtual_key"]["name"], "ci",
        "a partial update keeps the rest"
    );
    assert_eq!(updated["virtual_key"]["budget"]["max_limit"], 10.0);
    let (status, refused) = chat(&h, &value).await;
    assert_eq!(status, 401, "{refused}");

    // Rotation: a new value, shown once; the old one is unknown.
    h.call(
        Method::PUT,
        &format!("/api/governance/virtual-keys/{id}"),
        Some(json!({"is_active": true})),
        None,
    )
    .await;
    let (status, rotated) = h
        .post(
            &format!("/api/governance/virtual-keys/{id}/rotate"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let fresh = rotated["virtual_key"]["value"].as_str().unwrap().to_owned();
    assert_ne!(fresh, value);
    assert_eq!(chat(&h, &value).await.0, 401);
    assert_eq!(chat(&h, &fresh).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_their_reason_and_dry_runs_change_nothing() {
    let (h, _mock) = start().await;
    let (id, _value) = hierarchy(&h).await;
    let (_, teams) = h.get("/api/governance/teams").await;
    let team = teams["teams"][0]["id"].as_str().unwrap().to_owned();

    // A team with keys, a customer with teams: 409 naming them.
    let (status, e) = h
        .call(
            Method::DELETE,
            &format!("/api/governance/teams/{team}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 409, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains(&id), "{e}");
    let (status, e) = h
        .call(Method::DELETE, "/api/governance/customers/acme", None, None)
        .await;
    assert_eq!(status, 409, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains(&team),
        "{e}"
    );

    // Invalid: 400 with the field path.
    let (status, e) = h
        .post(
            "/api/governance/virtual-keys",
            json!({"name": "bad", "budget": {"max_limit": 1, "reset_duration": "soon"}}),
        )
        .await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(
        e["error"]["param"], "governance.virtual_keys[1].budget.reset_duration",
        "{e}"
    );
    let (status, e) = h
        .post(
            "/api/governance/teams",
            json!({"id": "t2", "customer_id": "nobody"}),
        )
        .await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(
        e["error"]["param"], "governance.teams[1].customer_id",
        "{e}"
    );
    let (status, e) = h
        .call(
            Method::PUT,
            &format!("/api/governance/virtual-keys/{id}"),
            Some(json!({"value": "sk-bf-mine"})),
            None,
        )
        .await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["error"]["param"], "value");

    // A key moved to the customer leaves its team.
    let (status, moved) = h
        .call(
            Method::PUT,
            &format!("/api/governance/virtual-keys/{id}"),
            Some(json!({"customer_id": "acme"})),
            None,
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["virtual_key"]["customer_id"], "acme");
    assert_eq!(moved["virtual_key"]["team_id"], Value::Null);
    let (status, moved) = h
        .call(
            Method::PUT,
            &format!("/api/governance/virtual-keys/{id}"),
            Some(json!({"team_id": team})),
            None,
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["virtual_key"]["customer_id"], Value::Null);

    // Duplicates and unknown ids.
    let (status, e) = h
        .post("/api/governance/customers", json!({"id": "acme"}))
        .await;
    assert_eq!(status, 409, "{e}");
    let (status, _) = h.get("/api/governance/virtual-keys/nope").await;
    assert_eq!(status, 404);
    let (status, _) = h
        .call(
            Method::PUT,
            "/api/governance/teams/nope",
            Some(json!({"name": "x"})),
            None,
        )
        .await;
    assert_eq!(status, 404);

    // A dry run answers what would be, and leaves no version.
    let before = version(&h);
    let (status, dry) = h
        .post(
            "/api/governance/virtual-keys?dry_run=true",
            json!({"id": "vk-dry", "name": "dry"}),
        )
        .await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["virtual_key"]["id"], "vk-dry");
    assert!(dry["virtual_key"].get("value").is_none(), "{dry}");
    assert_eq!(version(&h), before);
    let (status, _) = h.get("/api/governance/virtual-keys/vk-dry").await;
    assert_eq!(status, 404);

    // An imported key is stored as its hash and works.
    let (status, imported) = h
        .post(
            "/api/governance/virtual-keys",
            json!({"id": "vk-imported", "value": "sk-bf-imported-key-0123456789"}),
        )
        .await;
    assert_eq!(status, 201, "{imported}");
    assert!(imported["virtual_key"].get("value").is_none(), "{imported}");
    assert!(
        !h.control
            .config
            .current()
            .document
            .to_string()
            .contains("sk-bf-imported-key-0123456789")
    );
    assert_eq!(chat(&h, "sk-bf-imported-key-0123456789").await.0, 200);
    let (status, e) = h
        .post(
            "/api/governance/virtual-keys",
            json!({"value": "sk-bf-imported-key-0123456789"}),
        )
        .await;
    assert_eq!(status, 409, "the same value twice: {e}");

    // Model configs are named by provider and model.
    let (status, m) = h
        .post(
            "/api/governance/model-configs",
            json!({"provider": "mock", "model_name": "gpt-4o",
                "rate_limit": {"request_max_limit": 5, "request_reset_duration": "1m"}}),
        )
        .await;
    assert_eq!(status, 201, "{m}");
    assert_eq!(m["model_config"]["id"], "mock/gpt-4o");
    let (status, got) = h.get("/api/governance/model-configs/mock%2Fgpt-4o").await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["model_config"]["rate_limit"]["request_max_limit"], 5);

    // Deleting bottom-up works.
    for path in [
        format!("/api/governance/virtual-keys/{id}"),
        format!("/api/governance/teams/{team}"),
        "/api/governance/customers/acme".to_owned(),
        "/api/governance/model-configs/mock%2Fgpt-4o".to_owned(),
    ] {
        let (status, d) = h.call(Method::DELETE, &path, None, None).await;
        assert_eq!(status, 200, "{path}: {d}");
        assert!(d["message"].as_str().unwrap().contains("deleted"), "{d}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_mode_refuses_governance_writes() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let file = dir.path().join("config.json");
    let doc = common::mock_config(&mock, json!({}));
    std::fs::write(&file, doc.to_string()).unwrap();
    let h = start_control(ControlOptions {
        mode: heimdall_control::Mode::File { path: file },
        dir,
        governance: true,
        ..ControlOptions::store(doc)
    })
    .await;
    let (status, e) = h
        .post("/api/governance/customers", json!({"id": "acme"}))
        .await;
    assert_eq!(status, 409, "{e}");
    let (status, list) = h.get("/api/governance/customers").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list, json!({"customers": [], "count": 0}));
}
