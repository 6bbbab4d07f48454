//! Bad input and upstream failures: each gets the right status and an OpenAI-shaped error,
//! never a panic and never a 200 with an error inside.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use heimdall_mock_provider::MockConfig;
use serde_json::{Value, json};

async fn error_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body["error"]["type"].is_string(), "{body}");
    assert!(body["error"].get("param").is_some(), "{body}");
    assert!(body["error"].get("code").is_some(), "{body}");
    (status, body)
}

async fn post_raw(h: &Harness, body: impl Into<reqwest::Body>) -> reqwest::Response {
    h.client
        .post(h.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn invalid_json_is_400() {
    let h = start().await;
    let (status, body) = error_of(post_raw(&h, "{not json").await).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid JSON")
    );
}

#[tokio::test]
async fn missing_messages_is_400_naming_the_field() {
    let h = start().await;
    let (status, body) = error_of(post_raw(&h, r#"{"model":"mock/gpt-4o"}"#).await).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "messages");
}

#[tokio::test]
async fn mistyped_field_is_400_naming_its_path() {
    let h = start().await;
    let (status, body) = error_of(
        post_raw(
            &h,
            r#"{"model":"mock/gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}"#,
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "temperature");
}

#[tokio::test]
async fn empty_messages_is_400() {
    let h = start().await;
    let (status, body) =
        error_of(post_raw(&h, r#"{"model":"mock/gpt-4o","messages":[]}"#).await).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "messages");
}

#[tokio::test]
async fn unknown_provider_is_404_listing_what_is_configured() {
    let h = start().await;
    let (status, body) = error_of(h.chat(user_chat("nope/gpt-4o")).await).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "model_not_found");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("mock"), "{msg}");
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let h = start().await;
    let big = format!(
        r#"{{"model":"mock/gpt-4o","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(20 * 1024 * 1024)
    );
    let (status, body) = error_of(post_raw(&h, big).await).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "payload_too_large");
}

#[tokio::test]
async fn unknown_route_is_an_openai_shaped_404() {
    let h = start().await;
    let resp = h.client.get(h.url("/v1/nothing")).send().await.unwrap();
    let (status, _) = error_of(resp).await;
    assert_eq!(status, 404);
    let resp = h
        .client
        .get(h.url("/v1/chat/completions"))
        .send()
        .await
        .unwrap();
    let (status, _) = error_of(resp).await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn upstream_4xx_keeps_status_and_message() {
    let h = start().await;
    let (status, body) = error_of(
        h.chat(user_chat("mock/gpt-4o;fail_rate=1;fail_status=400"))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("mock"));
}

#[tokio::test]
async fn upstream_429_keeps_status_and_retry_after() {
    let h = start().await;
    let resp = h
        .chat(user_chat(
            "mock/gpt-4o;fail_rate=1;fail_status=429;retry_after=7",
        ))
        .await;
    assert_eq!(resp.headers()["retry-after"], "7");
    let (status, body) = error_of(resp).await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["type"], "rate_limit_error");
}

#[tokio::test]
async fn unreachable_upstream_is_502() {
    let h = start_with(
        MockConfig::default(),
        |_| {
            json!({"providers": {"mock": {"type": "custom",
                "keys": [{"name": "k", "value": "sk", "models": [], "weight": 1}],
                "network_config": {"base_url": "http://127.0.0.1:9/v1"}}}})
        },
        vec![],
    )
    .await;
    let (status, body) = error_of(h.chat(user_chat("mock/gpt-4o")).await).await;
    assert_eq!(status, 502);
    assert_eq!(body["error"]["type"], "upstream_error");
}

#[tokio::test]
async fn silent_upstream_times_out_with_504() {
    let h = start_with(
        MockConfig::default(),
        |m| {
            mock_config(
                m,
                json!({"network_config": {"base_url": m.base_url(), "default_request_timeout_in_seconds": 1}}),
            )
        },
        vec![],
    )
    .await;
    let (status, body) = error_of(h.chat(user_chat("mock/gpt-4o;latency_ms=3000")).await).await;
    assert_eq!(status, 504);
    assert_eq!(body["error"]["code"], "timeout");
}

#[tokio::test]
async fn stream_failing_before_first_chunk_is_an_http_error_not_a_200() {
    let h = start().await;
    let mut req = user_chat("mock/gpt-4o;error_after=0");
    req["stream"] = json!(true);
    let resp = h.chat(req).await;
    assert_ne!(resp.status(), 200);
    let (status, _) = error_of(resp).await;
    assert_eq!(status, 502);
}

#[tokio::test]
async fn stream_cut_midway_ends_with_an_error_event_and_no_done() {
    let h = start().await;
    let mut req = user_chat("mock/gpt-4o;chunks=8;cut_after=3;chunk_delay_ms=20");
    req["stream"] = json!(true);
    let resp = h.chat(req).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap_or_default();
    let data = sse_data(&text);
    assert!(!data.iter().any(|d| d == "[DONE]"), "{text}");
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert!(last["error"]["message"].is_string(), "{text}");
}

#[tokio::test]
async fn in_band_error_midway_is_forwarded_as_error_event() {
    let h = start().await;
    let mut req = user_chat("mock/gpt-4o;chunks=8;error_after=2;chunk_delay_ms=20");
    req["stream"] = json!(true);
    let text = h.chat(req).await.text().await.unwrap();
    let data = sse_data(&text);
    assert!(!data.iter().any(|d| d == "[DONE]"));
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("mock in-band error")
    );
}

#[tokio::test]
async fn retries_transient_failures_up_to_max_retries() {
    let h = start_with(
        MockConfig::default(),
        |m| {
            mock_config(
                m,
                json!({"network_config": {"base_url": m.base_url(), "max_retries": 2,
                    "retry_backoff_initial": 10, "retry_backoff_max": 50}}),
            )
        },
        vec![],
    )
    .await;
    let resp = h
        .chat(user_chat("mock/gpt-4o;fail_first=2;fail_status=503"))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-heimdall-attempts"], "3");
    // A client error is not retried.
    let resp = h
        .chat(user_chat("mock/gpt-4o;fail_first=1;fail_status=400"))
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["x-heimdall-attempts"], "1");
}
