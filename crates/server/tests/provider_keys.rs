//! Provider keys from the dashboard: a key turned off through the API stops taking traffic at
//! once (the other key takes it all) and is shown as off; a round trip of a shown key changes
//! nothing; a key test lists the provider's models with one key and says how it went — with
//! the failure's kind, never the key, and the right status for a failure, a timeout, an
//! unknown name and an unavailable provider. Active health checks leave a disabled key alone.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::control::{ControlHarness, start_store_mode};
use heimdall_mock_provider::{MockConfig, MockServer};
use reqwest::Method;
use serde_json::{Value, json};

fn two_keys(mock: &MockServer) -> Value {
    json!({
        "type": "custom",
        "keys": [
            {"name": "k1", "value": "sk-test-aaaaaaaa0001"},
            {"name": "k2", "value": "sk-test-bbbbbbbb0002"}
        ],
        "network_config": {"base_url": mock.base_url(), "default_request_timeout_in_seconds": 5, "max_retries": 0}
    })
}

async fn chat_status(h: &ControlHarness) -> (u16, Value) {
    let r = h
        .client
        .post(h.url("/v1/chat/completions"))
        .json(&common::user_chat("mock/gpt-4o"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The bearer tokens the mock received, then forgotten.
fn keys_used(mock: &MockServer) -> Vec<String> {
    let used = mock
        .requests()
        .iter()
        .filter_map(|r| r.headers.get("authorization").cloned())
        .collect();
    mock.clear_requests();
    used
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_disabled_through_the_api_takes_no_traffic_and_the_other_key_takes_it_all() {
    let mock = MockServer::start(MockConfig {
        record_requests: true,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let h = start_store_mode(json!({"providers": {"mock": two_keys(&mock)}})).await;
    for _ in 0..20 {
        assert_eq!(chat_status(&h).await.0, 200);
    }
    let used = keys_used(&mock);
    assert!(
        used.iter().any(|k| k.ends_with("0001")) && used.iter().any(|k| k.ends_with("0002")),
        "both keys take traffic while on: {used:?}"
    );

    // Shown with `enabled`; sent back unchanged, nothing changes in the document.
    let (status, list) = h.get("/api/providers/mock/keys").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["keys"][0]["enabled"], true, "{list}");
    let (_, k1) = h.get("/api/providers/mock/keys/k1").await;
    let (status, same) = h
        .call(
            Method::PUT,
            "/api/providers/mock/keys/k1",
            Some(k1.clone()),
            None,
        )
        .await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(same["diff"], json!([]), "a round trip changes nothing");

    let mut off = k1;
    off["enabled"] = json!(false);
    let (status, changed) = h
        .call(Method::PUT, "/api/providers/mock/keys/k1", Some(off), None)
        .await;
    assert_eq!(status, 200, "{changed}");
    assert!(!h.gateway.runtime().config.providers["mock"].keys[0].enabled);
    for _ in 0..20 {
        assert_eq!(chat_status(&h).await.0, 200);
    }
    let used = keys_used(&mock);
    assert_eq!(used.len(), 20);
    assert!(
        used.iter().all(|k| k == "Bearer sk-test-bbbbbbbb0002"),
        "only k2 after k1 is off: {used:?}"
    );
    let (_, shown) = h.get("/api/providers/mock/keys/k1").await;
    assert_eq!(shown["enabled"], false, "{shown}");
    assert_eq!(shown["value"], "****0001", "still redacted: {shown}");
    let (_, health) = h.get("/api/providers/health").await;
    let keys = &health["providers"][0]["keys"];
    assert_eq!(keys[0]["enabled"], false, "{health}");
    assert_eq!(keys[1]["enabled"], true, "{health}");

    // Both off: the error says the keys are disabled.
    let (_, mut k2) = h.get("/api/providers/mock/keys/k2").await;
    k2["enabled"] = json!(false);
    let (status, _) = h
        .call(Method::PUT, "/api/providers/mock/keys/k2", Some(k2), None)
        .await;
    assert_eq!(status, 200);
    let (status, e) = chat_status(&h).await;
    assert_eq!(status, 503, "{e}");
    let message = e["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("disabled") && message.contains("k1, k2"),
        "{message}"
    );
}

async fn test_key(h: &ControlHarness, path: &str) -> (u16, Value) {
    h.call(Method::POST, path, Some(json!({})), None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_test_answers_with_the_model_count_or_the_failure_without_the_key() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let slow = MockServer::start(MockConfig {
        latency_ms: 2_000,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let refusing = MockServer::start(MockConfig {
        fail_rate: 1.0,
        fail_status: 401,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut disabled = two_keys(&mock);
    disabled["keys"][0]["enabled"] = json!(false);
    let h = start_store_mode(json!({
        "providers": {
            "mock": disabled,
            "slow": two_keys(&slow),
            "refusing": two_keys(&refusing),
            "gone": {"type": "custom", "keys": [{"name": "k1", "value": "sk-test-gone-0001"}],
                     "network_config": {"base_url": format!("http://{closed}"), "max_retries": 0}},
            "broken": {"type": "custom", "keys": [{"name": "k1", "value": "sk-x"}],
                       "network_config": {"base_url": mock.base_url(), "extra_headers": {"bad header": "x"}}},
        },
        "loadBalancing": {"config": {"healthCheckTimeout": 300}},
    }))
    .await;

    // A disabled key can be tried (before it is turned on).
    let (status, ok) = test_key(&h, "/api/providers/mock/keys/k1/test").await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["ok"], true);
    assert_eq!(ok["provider"], "mock");
    assert_eq!(ok["key"], "k1");
    assert_eq!(ok["models"], 4, "the mock lists four models");
    assert!(ok["latency_ms"].as_f64().unwrap() >= 0.0);
    let fields: Vec<&String> = ok.as_object().unwrap().keys().collect();
    assert_eq!(fields.len(), 5, "{ok}");

    // No body at all, and no content type, is accepted as well; a non-object body is not.
    let r = h
        .client
        .post(h.url("/api/providers/mock/keys/k2/test"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, e) = h
        .call(
            Method::POST,
            "/api/providers/mock/keys/k2/test",
            Some(json!([1])),
            None,
        )
        .await;
    assert_eq!(status, 400, "{e}");

    let (status, e) = test_key(&h, "/api/providers/refusing/keys/k1/test").await;
    assert_eq!(status, 502, "{e}");
    assert_eq!(e["error"]["type"], "key_test_failed");
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("upstream_auth: "), "{message}");
    assert!(!message.contains("sk-test-aaaaaaaa0001"), "{message}");

    let (status, e) = test_key(&h, "/api/providers/gone/keys/k1/test").await;
    assert_eq!(status, 502, "{e}");
    assert!(!e.to_string().contains("sk-test-gone-0001"), "{e}");

    let (status, e) = test_key(&h, "/api/providers/slow/keys/k2/test").await;
    assert_eq!(status, 504, "{e}");
    assert_eq!(e["error"]["type"], "key_test_timeout");

    for path in [
        "/api/providers/mock/keys/nope/test",
        "/api/providers/nope/keys/k1/test",
    ] {
        let (status, e) = test_key(&h, path).await;
        assert_eq!(status, 404, "{path}: {e}");
    }
    let (status, e) = test_key(&h, "/api/providers/broken/keys/k1/test").await;
    assert_eq!(status, 409, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("extra_headers"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_health_checks_skip_a_disabled_key() {
    // Every check fails, so each key checked shows one failure.
    let mock = MockServer::start(MockConfig {
        fail_rate: 1.0,
        fail_status: 503,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let mut provider = two_keys(&mock);
    provider["keys"][0]["enabled"] = json!(false);
    let h = start_store_mode(json!({"providers": {"mock": provider}})).await;
    let rt = h.gateway.runtime();
    heimdall_core::probe::check_all(&rt).await;
    assert_eq!(mock.request_count(), 1, "one check: k2's");
    let failures: Vec<u64> = rt.providers["mock"]
        .key_breakers
        .iter()
        .map(|b| b.total_failures())
        .collect();
    assert_eq!(failures, vec![0, 1]);
}
