//! Vertex AI end to end: a real signed JWT (from the test service-account key) exchanged at the
//! mock's Google token endpoint, which verifies its signature; Gemini and Claude models on
//! their publisher URLs with the resulting bearer token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use heimdall_mock_provider::{MockConfig, MockServer};
use serde_json::{Value, json};

const SA: &str = include_str!("fixtures/vertex-test-service-account.json");
const SA_PUBLIC: &str = include_str!("fixtures/vertex-test-service-account.pub.pem");
const UNRELATED_PUBLIC: &str = include_str!("fixtures/unrelated.pub.pem");

fn config(m: &MockServer) -> Value {
    let host = format!("http://{}", m.addr());
    json!({"providers": {"vertex": {"type": "vertex",
        "network_config": {"base_url": host},
        "keys": [{"name": "sa", "vertex_key_config": {"project_id": "heimdall-test",
            "region": "us-central1", "auth_credentials": SA,
            "token_url": format!("{host}/google/token")}}]}}})
}

async fn harness(public_key: &str) -> Harness {
    start_with(
        MockConfig {
            record_requests: true,
            google_public_key_pem: Some(public_key.to_owned()),
            ..Default::default()
        },
        config,
        vec![],
    )
    .await
}

#[tokio::test]
async fn gemini_on_vertex_uses_a_token_from_the_jwt_exchange() {
    let h = harness(SA_PUBLIC).await;
    for _ in 0..3 {
        let r = h.chat(user_chat("vertex/gemini-2.5-flash;chunks=3")).await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["choices"][0]["message"]["content"], "Hello from the");
    }
    assert_eq!(
        h.mock.tokens_issued(),
        1,
        "one exchange, then the cached token"
    );
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(
        sent.path,
        "/v1/projects/heimdall-test/locations/us-central1/publishers/google/models/gemini-2.5-flash;chunks=3:generateContent"
    );
    assert_eq!(sent.headers["authorization"], "Bearer mock-google-0");
}

#[tokio::test]
async fn claude_on_vertex_streams_a_tool_call_through_stream_raw_predict() {
    let h = harness(SA_PUBLIC).await;
    let r = h
        .chat(
            json!({"model": "vertex/claude-sonnet-4-5;chunks=3", "stream": true,
            "tool_choice": "required",
            "tools": [{"type": "function", "function": {"name": "lookup",
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}},
                "required": ["q"]}}}],
            "messages": [{"role": "user", "content": "Find it"}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let all = done_chunks(&r.text().await.unwrap());
    let args: String = all
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"q": "mock"})
    );
    assert_eq!(finish_reasons(&all), ["tool_calls"]);
    let sent = h.mock.requests().pop().unwrap();
    assert!(
        sent.path
            .ends_with("/publishers/anthropic/models/claude-sonnet-4-5;chunks=3:streamRawPredict")
    );
    assert_eq!(sent.body["anthropic_version"], "vertex-2023-10-16");
    assert!(sent.body.get("model").is_none());
}

#[tokio::test]
async fn a_signature_the_token_endpoint_rejects_is_a_clear_error() {
    let h = harness(UNRELATED_PUBLIC).await;
    let r = h.chat(user_chat("vertex/gemini-2.5-flash")).await;
    assert_eq!(r.status(), 502);
    let body: Value = r.json().await.unwrap();
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("cannot obtain an access token") && msg.contains("invalid JWT signature"),
        "{msg}"
    );
    assert_eq!(h.mock.tokens_issued(), 0);
}

#[tokio::test]
async fn embeddings_use_the_publisher_models_predict() {
    let h = harness(SA_PUBLIC).await;
    let r = h
        .client
        .post(h.url("/v1/embeddings"))
        .json(&json!({"model": "vertex/text-embedding-005", "input": ["a", "bbbbbbbb"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"][1]["embedding"][0], 0.8);
    assert_eq!(body["usage"]["prompt_tokens"], 4);
}
