//! SDK path habits: the OpenAI route set answers wherever an SDK appends its paths when pointed
//! at the gateway with its natural base URL — the root (OpenAI SDK given the origin,
//! Perplexity), `/v1/openai/v1` (Groq SDKs given `…/v1`), `/openai/v1` (Groq SDKs given the
//! root), `/inference/v1` (Fireworks) — without shadowing the gateway's own routes; and
//! `/v1/models` says which endpoints serve each model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use heimdall_mock_provider::MockConfig;
use serde_json::{Value, json};

#[tokio::test]
async fn the_openai_routes_answer_at_every_sdk_base() {
    let h = start().await;
    for base in ["", "/v1", "/openai/v1", "/v1/openai/v1", "/inference/v1"] {
        let r = h
            .client
            .post(h.url(&format!("{base}/chat/completions")))
            .json(&user_chat("mock/gpt-4o"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{base}/chat/completions");
        let r = h
            .client
            .post(h.url(&format!("{base}/embeddings")))
            .json(&json!({"model": "mock/text-embedding-3-small", "input": "hi"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{base}/embeddings");
        let r = h
            .client
            .post(h.url(&format!("{base}/completions")))
            .json(&json!({"model": "mock/gpt-3.5-turbo-instruct", "prompt": "hi"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{base}/completions");
        let r = h
            .client
            .get(h.url(&format!("{base}/models")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{base}/models");
        let list: Value = r.json().await.unwrap();
        assert_eq!(list["object"], "list", "{base}/models");
    }
}

#[tokio::test]
async fn root_mounts_leave_the_gateways_own_routes_alone() {
    let h = start().await;
    let health: Value = h
        .client
        .get(h.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready = h.client.get(h.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    let metrics = h.get_text("/metrics").await;
    assert!(metrics.contains("# TYPE"), "{metrics}");
    let r = h
        .client
        .post(h.url("/anthropic/v1/messages"))
        .json(&json!({"model": "mock/gpt-4o", "max_tokens": 16,
            "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["type"], "message",
        "the Anthropic route, not an OpenAI one"
    );
    // An unknown path still answers 404 in OpenAI's shape.
    let r = h.client.get(h.url("/nowhere")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn listed_models_say_which_endpoints_serve_them() {
    let h = start_with(
        MockConfig::default(),
        |m| {
            let mut c = mock_config(
                m,
                json!({"models": ["gpt-4o", "text-embedding-3-small", "gpt-realtime"]}),
            );
            c["providers"]["claude"] = json!({
                "type": "anthropic",
                "keys": [{"name": "a", "value": "sk-ant", "models": [], "weight": 1.0}],
                "network_config": {"base_url": m.base_url()},
                "models": ["claude-sonnet-4-5", "text-embedding-3-small"]
            });
            c
        },
        vec![],
    )
    .await;
    let list: Value = h
        .client
        .get(h.url("/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entry = |id: &str| {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not listed: {list}"))
    };
    let chat = entry("mock/gpt-4o");
    assert_eq!(chat["capabilities"], json!(["chat", "completions"]));
    assert_eq!(
        chat["endpoints"],
        json!(["/v1/chat/completions", "/v1/responses", "/v1/completions"])
    );
    assert_eq!(
        entry("mock/text-embedding-3-small")["endpoints"],
        json!(["/v1/embeddings"])
    );
    assert_eq!(
        entry("mock/gpt-realtime")["capabilities"],
        json!(["realtime"])
    );
    assert_eq!(
        entry("claude/claude-sonnet-4-5")["capabilities"],
        json!(["chat"])
    );
    // Declared for a provider kind with no embeddings route: listed, but nothing serves it.
    assert_eq!(
        entry("claude/text-embedding-3-small")["capabilities"],
        json!([])
    );
}
