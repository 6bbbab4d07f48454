//! Fallback chains end to end: request-level and configured, which failures move on, streams
//! that fail before their first byte, and the error when every target failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use heimdall_mock_provider::{MockConfig, MockServer};
use serde_json::{Value, json};

fn two_providers(m: &MockServer, fallbacks: Value) -> Value {
    let provider = |key: &str| {
        json!({"type": "custom", "network_config": {"base_url": m.base_url()},
            "keys": [{"name": key, "value": format!("sk-{key}"), "models": [], "weight": 1}]})
    };
    json!({
        "providers": {
            "primary": provider("primary"),
            "backup": provider("backup"),
            "claude": {"type": "custom", "network_config": {"base_url": m.base_url()},
                "keys": [{"name": "c", "value": "env.CLAUDE_KEY_NOT_SET"}]}
        },
        "fallbacks": fallbacks
    })
}

async fn harness(fallbacks: Value) -> Harness {
    start_with(
        MockConfig {
            record_requests: true,
            ..Default::default()
        },
        |m| two_providers(m, fallbacks),
        vec![],
    )
    .await
}

fn with_fallbacks(model: &str, fallbacks: Value) -> Value {
    let mut r = user_chat(model);
    r["fallbacks"] = fallbacks;
    r
}

#[tokio::test]
async fn request_fallbacks_take_over_when_the_primary_fails() {
    let h = harness(json!({})).await;
    let r = h
        .chat(with_fallbacks(
            "primary/gpt-4o;fail_rate=1;fail_status=503",
            json!(["backup/gpt-4o"]),
        ))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-heimdall-provider"], "backup");
    assert_eq!(r.headers()["x-heimdall-fallback-index"], "1");
    assert_eq!(r.headers()["x-heimdall-attempts"], "2");
    let seen = h.mock.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].headers["authorization"], "Bearer sk-backup");
    assert!(
        seen.iter().all(|r| r.body.get("fallbacks").is_none()),
        "fallbacks never go upstream"
    );
}

#[tokio::test]
async fn object_form_and_rate_limits_and_auth_failures_fall_back() {
    for status in [429, 401, 404, 500] {
        // A fresh gateway each time: a 429/401 also puts the primary's key in cooldown.
        let h = harness(json!({})).await;
        let r = h
            .chat(with_fallbacks(
                &format!("primary/gpt-4o;fail_rate=1;fail_status={status}"),
                json!([{"provider": "backup", "model": "gpt-4o"}]),
            ))
            .await;
        assert_eq!(r.status(), 200, "after upstream {status}");
        assert_eq!(r.headers()["x-heimdall-provider"], "backup");
    }
}

#[tokio::test]
async fn a_bad_request_does_not_fall_back() {
    let h = harness(json!({})).await;
    let r = h
        .chat(with_fallbacks(
            "primary/gpt-4o;fail_rate=1;fail_status=400",
            json!(["backup/gpt-4o"]),
        ))
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["x-heimdall-provider"], "primary");
    assert_eq!(h.mock.requests().len(), 1);
}

#[tokio::test]
async fn configured_chain_skips_unservable_entries() {
    // As in bifrost.yaml: the chain names the primary first; `claude` is configured but cannot
    // serve (its only key names an unset variable), so it is skipped, not fatal.
    let h = harness(json!({"gpt-4o": [
        "primary/gpt-4o;fail_rate=1;fail_status=502",
        "claude/claude-3-5-sonnet",
        "backup/gpt-4o"
    ]}))
    .await;
    let r = h.chat(user_chat("gpt-4o")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-heimdall-provider"], "backup");
    assert_eq!(r.headers()["x-heimdall-fallback-index"], "3");
}

#[tokio::test]
async fn when_all_fail_the_error_lists_what_was_tried() {
    let h = harness(json!({})).await;
    let r = h
        .chat(with_fallbacks(
            "primary/gpt-4o;fail_rate=1;fail_status=500",
            json!(["backup/gpt-4o;fail_rate=1;fail_status=503"]),
        ))
        .await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("all 2 targets failed"), "{msg}");
    assert!(
        msg.contains("primary/gpt-4o") && msg.contains("backup/gpt-4o"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_stream_failing_before_its_first_chunk_falls_over_invisibly() {
    let h = harness(json!({})).await;
    let mut req = with_fallbacks("primary/gpt-4o;error_after=0", json!(["backup/gpt-4o"]));
    req["stream"] = json!(true);
    let r = h.chat(req).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-heimdall-provider"], "backup");
    let text = r.text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"));
    assert!(!text.contains("error"), "{text}");
}

#[tokio::test]
async fn malformed_fallbacks_are_a_400_naming_the_entry() {
    let h = harness(json!({})).await;
    let r = h
        .chat(with_fallbacks("primary/gpt-4o", json!(["ok/x", 42])))
        .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["param"], "fallbacks[1]");
}
