//! `/anthropic/v1/messages` to a Claude target sends the request as the client wrote it and
//! answers with Claude's own body and stream frames: `cache_control`, `thinking` (signed
//! blocks) and `anthropic-beta` survive; other targets still get a translation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{Value, json};

fn config(m: &heimdall_mock_provider::MockServer) -> Value {
    let mut c = mock_config(m, json!({}));
    c["providers"]["anthropic"] = json!({"type": "anthropic",
        "keys": [{"name": "a", "value": "sk-ant", "models": [], "weight": 1.0}],
        "network_config": {"base_url": m.base_url()}});
    c
}

fn rich_request(model: &str, stream: bool) -> Value {
    json!({
        "model": model, "max_tokens": 2048, "stream": stream,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "system": [{"type": "text", "text": "A long, cacheable system prompt.",
                    "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]}],
        "metadata": {"user_id": "u-1"},
        "fallbacks": ["mock/gpt-4o"]
    })
}

/// Claude's body as the mock sent it: a signed thinking block, the text, and the cache write
/// that `cache_control` caused — none of which survives a round trip through OpenAI shapes.
fn assert_claudes_own_answer(body: &Value) {
    assert_eq!(body["content"][0]["type"], "thinking");
    let signature = body["content"][0]["signature"].as_str().unwrap();
    assert!(signature.starts_with("mock-signature-"));
    assert_eq!(body["content"][1]["type"], "text");
    assert!(
        body["usage"]["cache_creation_input_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
}

async fn post(h: &Harness, body: &Value) -> reqwest::Response {
    h.client
        .post(h.url("/anthropic/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "extended-cache-ttl-2025-04-11")
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn claude_gets_the_body_as_written_and_its_answer_comes_back_whole() {
    let h = recording_gateway(config).await;
    let req = rich_request("anthropic/claude-sonnet-4-5", false);
    let r = post(&h, &req).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-heimdall-provider"], "anthropic");
    let body: Value = r.json().await.unwrap();

    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(
        sent.headers["anthropic-beta"],
        "extended-cache-ttl-2025-04-11"
    );
    let mut expected = req.clone();
    let o = expected.as_object_mut().unwrap();
    o.remove("fallbacks");
    o.remove("stream");
    o.insert("model".into(), json!("claude-sonnet-4-5"));
    assert_eq!(
        sent.body, expected,
        "only model, stream and fallbacks change"
    );

    assert_claudes_own_answer(&body);
}

#[tokio::test]
async fn a_claude_stream_is_replayed_frame_for_frame() {
    let h = recording_gateway(config).await;
    let req = rich_request("anthropic/claude-sonnet-4-5;chunks=3", true);
    let text = post(&h, &req).await.text().await.unwrap();
    let events = sse_event_names(&text);
    assert_eq!(
        events,
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert!(text.contains(r#""type":"signature_delta""#), "{text}");
    assert!(text.contains(r#""cache_creation_input_tokens":"#), "{text}");
    assert_eq!(h.mock.requests().pop().unwrap().body["stream"], true);
}

#[tokio::test]
async fn another_dialect_still_gets_a_translation() {
    let h = recording_gateway(config).await;
    let r = post(&h, &rich_request("mock/gpt-4o;chunks=2", false)).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["content"][0]["text"], "Hello from");
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/chat/completions");
    // thinking {budget 1024} → reasoning_effort low; cache_control has no OpenAI form.
    assert!(sent.body.get("thinking").is_none());
    assert_eq!(sent.body["reasoning_effort"], "low");
    assert!(sent.body.get("fallbacks").is_none());
    assert!(!sent.body.to_string().contains("cache_control"));
}

#[tokio::test]
async fn a_fallback_from_claude_to_another_dialect_is_translated() {
    let h = recording_gateway(config).await;
    let mut req = rich_request(
        "anthropic/claude-sonnet-4-5;fail_rate=1;fail_status=503",
        false,
    );
    req["fallbacks"] = json!(["mock/gpt-4o;chunks=2"]);
    let r = post(&h, &req).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-heimdall-provider"], "mock");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["content"][0]["text"], "Hello from");
}

const BEDROCK_CLAUDE: &str = "anthropic.claude-sonnet-4-5-20250929-v1:0";

async fn bedrock_harness() -> Harness {
    start_with(
        heimdall_mock_provider::MockConfig {
            record_requests: true,
            aws_credentials: vec![("AKIDMOCK".into(), "secret".into())],
            ..Default::default()
        },
        |m| {
            let mut c = config(m);
            c["providers"]["bedrock"] = json!({"type": "bedrock",
                "network_config": {"base_url": format!("http://{}", m.addr())},
                "keys": [{"name": "iam", "bedrock_key_config": {"region": "us-east-1",
                    "access_key": "AKIDMOCK", "secret_key": "secret"}}]});
            c
        },
        vec![],
    )
    .await
}

#[tokio::test]
async fn claude_on_bedrock_is_invoked_with_the_body_as_written() {
    let h = bedrock_harness().await;
    let req = rich_request(&format!("bedrock/{BEDROCK_CLAUDE}"), false);
    let r = post(&h, &req).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let sent = h.mock.requests().pop().unwrap();
    assert!(sent.path.ends_with("/invoke"), "{}", sent.path);
    assert_eq!(sent.body["anthropic_version"], "bedrock-2023-05-31");
    assert_eq!(
        sent.body["anthropic_beta"],
        json!(["extended-cache-ttl-2025-04-11"])
    );
    assert_eq!(sent.body["thinking"], req["thinking"]);
    assert_eq!(sent.body["system"], req["system"]);
    assert!(sent.body.get("model").is_none() && sent.body.get("stream").is_none());
    assert_claudes_own_answer(&body);
}

#[tokio::test]
async fn a_claude_stream_from_bedrock_is_replayed_as_anthropic_sse() {
    let h = bedrock_harness().await;
    let req = rich_request(&format!("bedrock/{BEDROCK_CLAUDE};chunks=2"), true);
    let r = post(&h, &req).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = r.text().await.unwrap();
    let events = sse_event_names(&text);
    assert_eq!(events.first(), Some(&"message_start"));
    assert_eq!(events.last(), Some(&"message_stop"));
    assert!(text.contains(r#""type":"signature_delta""#), "{text}");
    let sent = h.mock.requests().pop().unwrap();
    assert!(sent.path.ends_with("/invoke-with-response-stream"));
    // The OpenAI API to the same model still goes through Converse.
    let r = h
        .chat(json!({"model": format!("bedrock/{BEDROCK_CLAUDE}"),
            "messages": [{"role": "user", "content": "Hi"}]}))
        .await;
    assert_eq!(r.status(), 200);
    assert!(h.mock.requests().pop().unwrap().path.ends_with("/converse"));
}
