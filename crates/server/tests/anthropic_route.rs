//! `/anthropic/v1/messages`: Anthropic-shaped requests in, any provider out, Anthropic-shaped
//! JSON, SSE event sequence and errors back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{Value, json};

async fn post(h: &Harness, body: Value) -> reqwest::Response {
    h.client
        .post(h.url("/anthropic/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_message_round_trips_in_anthropic_shape() {
    let h = start().await;
    let r = post(
        &h,
        json!({"model": "mock/gpt-4o;chunks=3", "max_tokens": 50, "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hi"}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": "Hello from the"}])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["usage"]["output_tokens"], 3);
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(
        sent.body["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(sent.body["max_tokens"], 50);
}

#[tokio::test]
async fn a_stream_follows_anthropics_event_sequence() {
    let h = start().await;
    let r = post(
        &h,
        json!({"model": "mock/gpt-4o;chunks=2", "max_tokens": 50, "stream": true,
        "messages": [{"role": "user", "content": "Hi"}]}),
    )
    .await;
    let text = r.text().await.unwrap();
    let events = sse_event_names(&text);
    assert_eq!(
        events,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
}

#[tokio::test]
async fn errors_come_back_in_anthropics_error_shape() {
    let h = start().await;
    let r = post(
        &h,
        json!({"model": "mock/gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens")
    );

    let r = post(
        &h,
        json!({"model": "mock/gpt-4o;fail_rate=1;fail_status=429;retry_after=2",
        "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}),
    )
    .await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "2");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");
}

/// Claude Code sends `role: system` entries inside `messages`; DSPy appends `/messages` to the
/// base URL without `/v1`; structured output is translated, never dropped.
#[tokio::test]
async fn third_party_anthropic_clients_are_served() {
    let h = start().await;
    let r = post(
        &h,
        json!({"model": "mock/gpt-4o", "max_tokens": 50,
        "messages": [{"role": "user", "content": "Hi"},
                     {"role": "system", "content": [{"type": "text", "text": "<system-reminder>Be brief.</system-reminder>"}]},
                     {"role": "user", "content": "Again"}]}),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(
        sent.body["messages"][1],
        json!({"role": "system", "content": "<system-reminder>Be brief.</system-reminder>"})
    );

    for path in ["/anthropic/messages", "/anthropic/messages/count_tokens"] {
        let r = h
            .client
            .post(h.url(path))
            .json(&json!({"model": "mock/gpt-4o", "max_tokens": 50,
                "messages": [{"role": "user", "content": "Hi"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }

    let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}},
        "required": ["answer"], "additionalProperties": false});
    for field in [
        json!({"output_config": {"format": {"type": "json_schema", "schema": schema}}}),
        json!({"output_format": {"type": "json_schema", "schema": schema}}),
    ] {
        let mut body = json!({"model": "mock/gpt-4o", "max_tokens": 50,
            "messages": [{"role": "user", "content": "Hi"}]});
        body.as_object_mut()
            .unwrap()
            .extend(field.as_object().unwrap().clone());
        let r = post(&h, body).await;
        assert_eq!(r.status(), 200, "{field}");
        let sent = h.mock.requests().pop().unwrap();
        assert_eq!(
            sent.body["response_format"]["type"], "json_schema",
            "{field}"
        );
        assert_eq!(
            sent.body["response_format"]["json_schema"]["schema"],
            schema
        );
    }
    let r = post(
        &h,
        json!({"model": "mock/gpt-4o", "max_tokens": 50,
        "output_config": {"format": {"type": "xml"}},
        "messages": [{"role": "user", "content": "Hi"}]}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["type"], "error");
    assert_eq!(e["error"]["type"], "invalid_request_error");
}
