//! A key the upstream rate-limits or rejects is cooled down and traffic rotates to the others;
//! when no key is left, the provider answers 429 at once and fallbacks can take over.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use heimdall_mock_provider::{MockConfig, MockServer};
use serde_json::{Value, json};

fn keys_config(m: &MockServer, keys: &[&str]) -> Value {
    let keys: Vec<Value> = keys
        .iter()
        .map(|k| json!({"name": k, "value": k, "models": [], "weight": 1}))
        .collect();
    json!({"providers": {
        "mock": {"type": "custom", "network_config": {"base_url": m.base_url()}, "keys": keys},
        "backup": {"type": "custom", "network_config": {"base_url": m.base_url()},
            "keys": [{"name": "b", "value": "sk-backup", "models": [], "weight": 1}]}
    }})
}

async fn harness(keys: &'static [&'static str]) -> Harness {
    start_with(
        MockConfig {
            record_requests: true,
            ..Default::default()
        },
        move |m| keys_config(m, keys),
        vec![],
    )
    .await
}

fn bearer_count(h: &Harness, key: &str) -> usize {
    let want = format!("Bearer {key}");
    h.mock
        .requests()
        .iter()
        .filter(|r| r.headers.get("authorization") == Some(&want))
        .count()
}

#[tokio::test]
async fn a_rate_limited_key_cools_down_and_traffic_rotates() {
    let h = harness(&["sk-a", "sk-b"]).await;
    let model = "mock/gpt-4o;fail_rate=1;fail_status=429;retry_after=30;fail_key=sk-a";
    for _ in 0..20 {
        let r = h.chat(user_chat(model)).await;
        assert_eq!(r.status(), 200, "the other key serves");
    }
    assert!(
        bearer_count(&h, "sk-a") <= 1,
        "sk-a is tried at most once, then cools down"
    );
    assert_eq!(bearer_count(&h, "sk-b"), 20);
}

#[tokio::test]
async fn a_rejected_key_rotates_within_the_same_request() {
    let h = harness(&["sk-a", "sk-b"]).await;
    let model = "mock/gpt-4o;fail_rate=1;fail_status=401;fail_key=sk-a";
    let mut rotated = false;
    for _ in 0..20 {
        let r = h.chat(user_chat(model)).await;
        assert_eq!(r.status(), 200);
        rotated |= r.headers()["x-heimdall-attempts"] == "2";
    }
    assert_eq!(bearer_count(&h, "sk-a"), usize::from(rotated));
}

#[tokio::test]
async fn with_every_key_cooling_the_provider_answers_429_without_calling_upstream() {
    let h = harness(&["sk-a"]).await;
    let model = "mock/gpt-4o;fail_rate=1;fail_status=429;retry_after=30";
    let r = h.chat(user_chat(model)).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "30");
    let served = h.mock.request_count();
    let r = h.chat(user_chat("mock/gpt-4o")).await;
    assert_eq!(r.status(), 429);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cooling down")
    );
    assert_eq!(
        h.mock.request_count(),
        served,
        "no upstream call for a cooling key"
    );
    // A fallback takes over while the key cools.
    let mut req = user_chat("mock/gpt-4o");
    req["fallbacks"] = json!(["backup/gpt-4o"]);
    let r = h.chat(req).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-heimdall-provider"], "backup");
}

#[tokio::test]
async fn server_errors_retry_without_cooling_the_key() {
    let h = start_with(
        MockConfig {
            record_requests: true,
            ..Default::default()
        },
        |m| {
            json!({"providers": {"mock": {"type": "custom",
                "network_config": {"base_url": m.base_url(), "max_retries": 1,
                    "retry_backoff_initial": 5, "retry_backoff_max": 10},
                "keys": [{"name": "only", "value": "sk-only", "models": [], "weight": 1}]}}})
        },
        vec![],
    )
    .await;
    let r = h
        .chat(user_chat("mock/gpt-4o;fail_first=1;fail_status=500"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-heimdall-attempts"], "2");
    assert_eq!(
        h.chat(user_chat("mock/gpt-4o")).await.status(),
        200,
        "key still usable"
    );
}
