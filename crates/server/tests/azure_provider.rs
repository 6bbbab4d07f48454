//! Azure OpenAI end to end: deployment URLs with `api-version`, `api-key` auth, Entra ID
//! client-credentials tokens (fetched once, reused), against the mock's Azure face.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use heimdall_mock_provider::MockServer;
use serde_json::{Value, json};

fn endpoint(m: &MockServer) -> String {
    format!("http://{}", m.addr())
}

fn api_key_config(m: &MockServer) -> Value {
    json!({"providers": {"azure": {"type": "azure", "keys": [{
        "name": "east", "value": "azure-secret",
        "azure_key_config": {"endpoint": endpoint(m),
            "deployments": {"gpt-4o": "gpt4o-prod", "text-embedding-3-small": "embed-prod"}}
    }]}}})
}

async fn harness(config: fn(&MockServer) -> Value) -> Harness {
    recording_gateway(config).await
}

#[tokio::test]
async fn chat_goes_to_the_models_deployment_with_api_key_and_api_version() {
    let h = harness(api_key_config).await;
    let r = h.chat(user_chat("azure/gpt-4o")).await;
    assert_eq!(
        r.status(),
        200,
        "the mock refuses a request without api-version"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/openai/deployments/gpt4o-prod/chat/completions");
    assert_eq!(sent.headers["api-key"], "azure-secret");
    assert!(!sent.headers.contains_key("authorization"));
}

#[tokio::test]
async fn streams_and_embeddings_use_their_deployments() {
    let h = harness(api_key_config).await;
    let mut req = user_chat("azure/gpt-4o");
    req["stream"] = json!(true);
    let text = h.chat(req).await.text().await.unwrap();
    assert_eq!(sse_data(&text).last().unwrap(), "[DONE]");
    // Azure's prompt-filter chunk (no choices, empty identity) is not forwarded: the OpenAI
    // SDKs reject it.
    let chunks = done_chunks(&text);
    assert!(!chunks.is_empty());
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk", "{c}");
        assert!(!c["id"].as_str().unwrap().is_empty(), "{c}");
        assert!(
            !c["choices"].as_array().unwrap().is_empty() || c.get("usage").is_some(),
            "{c}"
        );
    }

    let r = h
        .client
        .post(h.url("/v1/embeddings"))
        .json(&json!({"model": "azure/text-embedding-3-small", "input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/openai/deployments/embed-prod/embeddings");
}

#[tokio::test]
async fn a_model_without_a_deployment_on_any_key_is_not_sent() {
    let h = harness(api_key_config).await;
    let r = h.chat(user_chat("azure/o3-mini")).await;
    assert!(r.status().is_client_error(), "{}", r.status());
    assert_eq!(h.mock.request_count(), 0);
}

fn entra_config(m: &MockServer) -> Value {
    json!({"providers": {"azure": {"type": "azure", "keys": [{
        "name": "entra",
        "azure_key_config": {"endpoint": endpoint(m), "api_version": "2025-01-01-preview",
            "tenant_id": "tenant-1", "client_id": "app-1", "client_secret": "s3cret",
            "token_url": format!("{}/entra/tenant-1/oauth2/v2.0/token", endpoint(m))}
    }]}}})
}

#[tokio::test]
async fn entra_id_tokens_are_fetched_once_and_sent_as_bearer() {
    let h = harness(entra_config).await;
    for _ in 0..3 {
        let r = h.chat(user_chat("azure/gpt-4o")).await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(h.mock.tokens_issued(), 1, "the token is cached");
    let sent: Vec<_> = h
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/deployments/"))
        .collect();
    assert_eq!(sent.len(), 3);
    assert!(
        sent.iter()
            .all(|r| r.headers["authorization"] == "Bearer mock-entra-app-1-0")
    );
    assert_eq!(sent[0].path, "/openai/deployments/gpt-4o/chat/completions");
}

#[tokio::test]
async fn a_failing_token_endpoint_is_a_clear_gateway_error() {
    let h = harness(|m| {
        let mut c = entra_config(m);
        c["providers"]["azure"]["keys"][0]["azure_key_config"]["token_url"] =
            json!(format!("{}/no-such-token-endpoint", endpoint(m)));
        c
    })
    .await;
    let r = h.chat(user_chat("azure/gpt-4o")).await;
    assert_eq!(r.status(), 502);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot obtain an access token"),
        "{body}"
    );
}
