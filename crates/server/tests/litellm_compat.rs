//! LiteLLM text-completion compatibility: `/v1/completions` to a chat-only (native) model is
//! answered through chat when enabled by config or the `x-bf-litellm-fallbacks` header.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use heimdall_mock_provider::MockServer;
use serde_json::{Value, json};

fn config(m: &MockServer) -> Value {
    json!({"providers": {"anthropic": {"type": "anthropic",
        "keys": [{"name": "a", "value": "sk-ant", "models": [], "weight": 1}],
        "network_config": {"base_url": m.base_url()}}}})
}

async fn complete(h: &Harness, body: Value, header: bool) -> reqwest::Response {
    let mut rb = h.client.post(h.url("/v1/completions")).json(&body);
    if header {
        rb = rb.header("x-bf-litellm-fallbacks", "true");
    }
    rb.send().await.unwrap()
}

#[tokio::test]
async fn a_prompt_to_a_chat_only_model_is_answered_as_a_text_completion() {
    let h = recording_gateway(config).await;
    let body =
        json!({"model": "anthropic/claude-sonnet-4-5;chunks=3", "prompt": "Hi", "max_tokens": 20});
    let off = complete(&h, body.clone(), false).await;
    assert_eq!(
        off.status(),
        400,
        "without the switch the provider's own answer stands"
    );

    let r = complete(&h, body, true).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["choices"][0]["text"], "Hello from the");
    assert_eq!(h.mock.requests().pop().unwrap().path, "/v1/messages");

    let r = complete(
        &h,
        json!({"model": "anthropic/claude-sonnet-4-5;chunks=4", "prompt": "Hi", "stream": true}),
        true,
    )
    .await;
    let chunks = done_chunks(&r.text().await.unwrap());
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["text"].as_str())
        .collect();
    assert_eq!(text, "Hello from the mock");
    assert!(chunks.iter().all(|c| c["object"] == "text_completion"));
}
