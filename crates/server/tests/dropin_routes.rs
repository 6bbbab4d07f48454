//! Drop-in prefixes: the OpenAI routes under `/openai` (with and without `/v1`), `/litellm`
//! and `/langchain`, and the Azure OpenAI SDK's deployment paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn the_openai_routes_answer_under_every_prefix() {
    let h = start().await;
    for prefix in [
        "/v1",
        "/openai/v1",
        "/openai",
        "/litellm/v1",
        "/litellm",
        "/langchain/v1",
        "/langchain",
    ] {
        let r = h
            .client
            .post(h.url(&format!("{prefix}/chat/completions")))
            .json(&user_chat("mock/gpt-4o"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{prefix}");
        let models = h
            .client
            .get(h.url(&format!("{prefix}/models")))
            .send()
            .await
            .unwrap();
        assert_eq!(models.status(), 200, "{prefix}/models");
    }
}

#[tokio::test]
async fn azure_deployment_paths_name_the_model() {
    let h = start().await;
    let r = h
        .client
        .post(h.url("/openai/deployments/mock/gpt-4o/chat/completions?api-version=2024-10-21"))
        .json(&json!({"messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-heimdall-provider"], "mock");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");

    let r = h
        .client
        .post(h.url(
            "/openai/deployments/mock/text-embedding-3-small/embeddings?api-version=2024-10-21",
        ))
        .json(&json!({"input": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Audio and images ride the same paths (the deployment is the model).
    let r = h
        .client
        .post(h.url("/openai/deployments/mock/gpt-image-1/images/generations"))
        .json(&json!({"prompt": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["data"][0]["b64_json"].is_string());

    let r = h
        .client
        .post(h.url("/openai/deployments/mock/gpt-4o/fine_tuning/jobs"))
        .json(&json!({"prompt": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]["message"].is_string());
}

#[tokio::test]
async fn bedrock_converse_stream_answers_in_event_stream_frames() {
    use heimdall_providers::bedrock::stream::decode_all;
    let h = start().await;
    let r = h
        .client
        .post(h.url("/bedrock/model/mock%2Fgpt-4o%3Bchunks%3D2/converse-stream"))
        .json(&json!({"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.amazon.eventstream"
    );
    let bytes = r.bytes().await.unwrap();
    let kinds: Vec<String> = decode_all(&bytes)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "messageStart",
            "contentBlockDelta",
            "contentBlockDelta",
            "contentBlockStop",
            "messageStop",
            "metadata"
        ]
    );

    let r = h
        .client
        .post(h.url("/bedrock/model/nope%2Fx/converse"))
        .json(&json!({"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["x-amzn-errortype"], "ResourceNotFoundException");
}

#[tokio::test]
async fn anthropic_count_tokens_and_models_and_cohere_embed() {
    let h = start().await;
    let r = h
        .client
        .post(h.url("/anthropic/v1/messages/count_tokens"))
        .json(&json!({"model": "mock/gpt-4o", "messages": [{"role": "user", "content": "Hello there"}]}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert!(v["input_tokens"].as_u64().unwrap() > 0);

    let v: Value = h
        .client
        .get(h.url("/anthropic/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "mock/gpt-4o")
    );
    assert_eq!(v["has_more"], false);

    let r = h
        .client
        .post(h.url("/cohere/v2/embed"))
        .json(
            &json!({"model": "mock/text-embedding-3-small", "texts": ["a", "bb"],
            "input_type": "search_document", "embedding_types": ["float"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["embeddings"]["float"].as_array().unwrap().len(), 2);
    assert_eq!(v["response_type"], "embeddings_by_type");
}
