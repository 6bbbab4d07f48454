//! Deadlines, circuit breakers, health checks and balancing across keys and providers, through
//! the real HTTP path against the mock provider.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use heimdall_mock_provider::MockServer;
use serde_json::{Value, json};

fn provider(m: &MockServer, keys: &[&str], network: Value) -> Value {
    let keys: Vec<Value> = keys
        .iter()
        .map(|k| json!({"name": k, "value": k, "models": [], "weight": 1}))
        .collect();
    let mut net = json!({"base_url": m.base_url(), "default_request_timeout_in_seconds": 5});
    for (k, v) in network.as_object().unwrap() {
        net[k] = v.clone();
    }
    json!({"type": "custom", "keys": keys, "network_config": net})
}

async fn gateway(config: impl FnOnce(&MockServer) -> Value) -> Harness {
    recording_gateway(config).await
}

fn bearer_count(h: &Harness, key: &str) -> usize {
    let want = format!("Bearer {key}");
    h.mock
        .requests()
        .iter()
        .filter(|r| r.headers.get("authorization") == Some(&want) && r.path.contains("/chat"))
        .count()
}

async fn health(h: &Harness) -> Value {
    health_report(h).await
}

// ---- deadlines -------------------------------------------------------------------------

#[tokio::test]
async fn a_silent_upstream_times_out_at_the_requested_timeout() {
    let h = gateway(|m| json!({"providers": {"mock": provider(m, &["k"], json!({}))}})).await;
    let started = Instant::now();
    let r = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("x-bf-request-timeout", "0.3")
        .json(&user_chat("mock/gpt-4o;latency_ms=3000"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 504);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "timeout");
}

#[tokio::test]
async fn the_request_timeout_header_is_capped_by_config_and_validated() {
    let h = gateway(|m| {
        json!({"providers": {"mock": provider(m, &["k"],
            json!({"max_request_timeout_in_seconds": 0.4}))}})
    })
    .await;
    let started = Instant::now();
    let r = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("x-bf-request-timeout", "60")
        .json(&user_chat("mock/gpt-4o;latency_ms=3000"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 504);
    assert!(started.elapsed() < Duration::from_millis(1500));

    let bad = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("x-bf-request-timeout", "soon")
        .json(&user_chat("mock/gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["param"], "x-bf-request-timeout");
}

#[tokio::test]
async fn a_stream_without_a_first_chunk_times_out_before_commit() {
    let h = gateway(|m| {
        json!({"providers": {"mock": provider(m, &["k"],
            json!({"first_byte_timeout_in_seconds": 0.3}))}})
    })
    .await;
    let started = Instant::now();
    let r = h
        .chat(json!({"model": "mock/gpt-4o;stall_after=0", "stream": true,
            "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(r.status(), 504, "nothing was committed, so a real status");
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn a_stall_mid_stream_ends_with_an_error_event_and_no_done() {
    let h = gateway(|m| {
        json!({"providers": {"mock": provider(m, &["k"],
            json!({"stream_idle_timeout_in_seconds": 0.3}))}})
    })
    .await;
    let started = Instant::now();
    let r = h
        .chat(
            json!({"model": "mock/gpt-4o;chunks=6;stall_after=2", "stream": true,
            "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(2000));
    let events = sse_data(&text);
    assert!(!events.iter().any(|e| e == "[DONE]"), "{text}");
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("stream chunk"),
        "{last}"
    );
}

// ---- circuit breakers ------------------------------------------------------------------

fn breaker_config(m: &MockServer, cooldown_ms: u64) -> Value {
    json!({
        "providers": {
            "primary": provider(m, &["sk-primary"], json!({})),
            "backup": provider(m, &["sk-backup"], json!({}))
        },
        "loadBalancing": {"config": {"unhealthyThreshold": 3, "healthyThreshold": 2,
            "circuitBreakerCooldown": cooldown_ms}}
    })
}

#[tokio::test]
async fn an_open_circuit_is_skipped_while_a_healthy_target_exists_and_closes_on_recovery() {
    let h = gateway(|m| breaker_config(m, 400)).await;
    let failing = json!({"model": "primary/gpt-4o;fail_rate=1;fail_status=503",
        "fallbacks": ["backup/gpt-4o"], "messages": [{"role": "user", "content": "hi"}]});
    for _ in 0..10 {
        let r = h.chat(failing.clone()).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-heimdall-provider"], "backup");
    }
    assert_eq!(
        bearer_count(&h, "sk-primary"),
        3,
        "after 3 failures the primary is no longer called"
    );
    let report = health(&h).await;
    let primary = &report["providers"][1];
    assert_eq!(primary["name"], "primary");
    assert_eq!(primary["state"], "open");
    assert_eq!(primary["healthy"], false);
    assert_eq!(primary["keys"][0]["state"], "open");

    // Recovery: after the cooldown, successes through the half-open circuit close it.
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(health(&h).await["providers"][1]["state"], "half_open");
    for _ in 0..2 {
        let r = h
            .chat(
                json!({"model": "primary/gpt-4o", "fallbacks": ["backup/gpt-4o"],
                "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await;
        assert_eq!(r.headers()["x-heimdall-provider"], "primary");
    }
    assert_eq!(health(&h).await["providers"][1]["state"], "closed");
}

#[tokio::test]
async fn a_failing_key_is_isolated_by_its_own_circuit() {
    let h = gateway(|m| {
        let mut c = breaker_config(m, 60_000);
        c["providers"]["primary"] = provider(
            m,
            &["sk-bad", "sk-good"],
            json!({"max_retries": 5, "retry_backoff_initial": 1, "retry_backoff_max": 2}),
        );
        c
    })
    .await;
    for _ in 0..30 {
        let r = h
            .chat(user_chat(
                "primary/gpt-4o;fail_rate=1;fail_status=500;fail_key=sk-bad",
            ))
            .await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(bearer_count(&h, "sk-bad"), 3, "opened after 3 failures");
    let report = health(&h).await;
    let p = &report["providers"][1];
    assert_eq!(
        p["state"], "closed",
        "the provider stays healthy: one key is"
    );
    assert_eq!(p["keys"][0]["state"], "open");
    assert_eq!(p["keys"][1]["state"], "closed");
}

#[tokio::test]
async fn active_health_checks_open_the_circuit_of_an_idle_failing_provider() {
    let h = gateway(|m| {
        json!({
            "providers": {
                "sick": provider(m, &["sk-sick"], json!({"extra_headers": {"x-mock-fail-rate": "1",
                    "x-mock-fail-status": "503"}})),
                "well": provider(m, &["sk-well"], json!({}))
            },
            "loadBalancing": {"config": {"healthCheck": true, "healthCheckInterval": 50,
                "healthCheckTimeout": 1000, "unhealthyThreshold": 2}}
        })
    })
    .await;
    let checks = heimdall_core::probe::spawn_checks(&h.gateway);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let report = health(&h).await;
        if report["providers"][0]["state"] == "open" {
            assert_eq!(report["providers"][1]["state"], "closed");
            assert_eq!(report["active_checks"], true);
            break;
        }
        assert!(Instant::now() < deadline, "{report}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    checks.abort();
}

// ---- balancing across providers of a model group ---------------------------------------

fn group_config(m: &MockServer, strategy: &str, east_net: Value) -> Value {
    let member = |key: &str, net: Value| {
        let mut p = provider(m, &[key], net);
        p["models"] = json!(["shared-model"]);
        p
    };
    json!({
        "providers": {"east": member("sk-east", east_net), "west": member("sk-west", json!({}))},
        "loadBalancing": {"strategy": strategy}
    })
}

async fn served_by(h: &Harness, n: usize) -> (usize, usize) {
    let mut east = 0;
    for _ in 0..n {
        let r = h.chat(user_chat("shared-model")).await;
        assert_eq!(r.status(), 200);
        east += usize::from(r.headers()["x-heimdall-provider"] == "east");
    }
    (east, n - east)
}

#[tokio::test]
async fn round_robin_alternates_between_the_providers_of_a_model() {
    let h = gateway(|m| group_config(m, "round-robin", json!({}))).await;
    assert_eq!(served_by(&h, 10).await, (5, 5));
}

#[tokio::test]
async fn least_latency_sends_traffic_to_the_faster_provider() {
    let h = gateway(|m| {
        group_config(
            m,
            "least-latency",
            json!({"extra_headers": {"x-mock-latency-ms": "60"}}),
        )
    })
    .await;
    let (east, west) = served_by(&h, 20).await;
    assert!(east <= 2 && west >= 18, "east {east}, west {west}");
}

#[tokio::test]
async fn adaptive_prefers_the_faster_provider() {
    let h = gateway(|m| {
        group_config(
            m,
            "adaptive",
            json!({"extra_headers": {"x-mock-latency-ms": "60"}}),
        )
    })
    .await;
    let (east, west) = served_by(&h, 30).await;
    assert!(west >= 25, "east {east}, west {west}");
}

#[tokio::test]
async fn a_failing_group_member_fails_over_to_the_other() {
    let h = gateway(|m| {
        group_config(
            m,
            "round-robin",
            json!({"extra_headers": {"x-mock-fail-rate": "1", "x-mock-fail-status": "502"}}),
        )
    })
    .await;
    let (east, west) = served_by(&h, 10).await;
    assert_eq!((east, west), (0, 10));
}

#[tokio::test]
async fn retries_are_reported_in_a_header() {
    let h = gateway(|m| {
        json!({"providers": {"mock": provider(m, &["k"],
            json!({"max_retries": 3, "retry_backoff_initial": 1, "retry_backoff_max": 2}))}})
    })
    .await;
    let r = h
        .chat(user_chat("mock/gpt-4o;fail_first=2;fail_status=503"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-heimdall-retries"], "2");
    assert_eq!(r.headers()["x-heimdall-attempts"], "3");
}
