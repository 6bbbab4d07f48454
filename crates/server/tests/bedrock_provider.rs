//! Bedrock end to end: Converse and ConverseStream against the mock's Bedrock face, which
//! recomputes every SigV4 signature from the request it received and refuses a wrong one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use heimdall_mock_provider::{MockConfig, MockServer};
use serde_json::{Value, json};

const MODEL: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";

fn config(m: &MockServer, secret: &str) -> Value {
    json!({"providers": {
        "bedrock": {"type": "bedrock",
            "network_config": {"base_url": format!("http://{}", m.addr())},
            "keys": [{"name": "iam", "bedrock_key_config": {"region": "us-east-1",
                "access_key": "AKIDMOCK", "secret_key": secret, "session_token": "session-1",
                "deployments": {"claude": MODEL, "claude;chunks=3": format!("{MODEL};chunks=3")}}},
                {"name": "apikey", "value": "bedrock-api-key", "models": ["titan-text"],
                 "bedrock_key_config": {"region": "us-west-2"}}]},
        "anybedrock": {"type": "bedrock",
            "network_config": {"base_url": format!("http://{}", m.addr())},
            "keys": [{"name": "iam-any", "bedrock_key_config": {"region": "us-east-1",
                "access_key": "AKIDMOCK", "secret_key": secret}}]},
        "backup": {"type": "custom", "keys": [{"name": "b", "value": "b", "models": [], "weight": 1}],
            "network_config": {"base_url": m.base_url()}}
    }})
}

async fn harness(secret: &'static str) -> Harness {
    start_with(
        MockConfig {
            record_requests: true,
            aws_credentials: vec![("AKIDMOCK".into(), "real-secret".into())],
            ..Default::default()
        },
        move |m| config(m, secret),
        vec![],
    )
    .await
}

#[tokio::test]
async fn converse_is_signed_and_the_mock_verifies_the_signature() {
    let h = harness("real-secret").await;
    let r = h.chat(user_chat("bedrock/claude;chunks=3")).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Hello from the");
    assert_eq!(body["usage"]["completion_tokens"], 3);
    let id = body["id"].as_str().unwrap();
    assert!(id.starts_with("chatcmpl-mock-bedrock-"), "{id}");
    assert_eq!(h.mock.signatures_verified(), 1);
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(
        sent.path,
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0%3Bchunks%3D3/converse"
    );
    assert!(sent.headers["authorization"].starts_with("AWS4-HMAC-SHA256 Credential=AKIDMOCK/"));
    assert_eq!(sent.headers["x-amz-security-token"], "session-1");
}

#[tokio::test]
async fn a_wrong_secret_fails_signature_verification() {
    let h = harness("wrong-secret").await;
    let r = h.chat(user_chat("bedrock/claude")).await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("signature"),
        "{body}"
    );
    assert_eq!(body["error"]["code"], "InvalidSignatureException");
    assert_eq!(h.mock.signatures_verified(), 0);
}

#[tokio::test]
async fn converse_stream_decodes_event_stream_frames_into_chunks_and_tool_calls() {
    let h = harness("real-secret").await;
    let mut req = user_chat(&format!("anybedrock/{MODEL};chunks=4"));
    req["stream"] = json!(true);
    req["stream_options"] = json!({"include_usage": true});
    let all = done_chunks(&h.chat(req).await.text().await.unwrap());
    assert_eq!(streamed_text(&all), "Hello from the mock");
    assert_eq!(finish_reasons(&all), ["stop"]);
    assert_eq!(all.last().unwrap()["usage"]["completion_tokens"], 4);

    let r = h
        .chat(json!({"model": format!("anybedrock/{MODEL}"), "stream": true, "tool_choice": "required",
            "tools": [{"type": "function", "function": {"name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                "required": ["city"]}}}],
            "messages": [{"role": "user", "content": "Weather?"}]}))
        .await;
    let all = done_chunks(&r.text().await.unwrap());
    let args: String = all
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"city": "mock"})
    );
    assert_eq!(finish_reasons(&all), ["tool_calls"]);
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.body["toolConfig"]["toolChoice"], json!({"any": {}}));
    assert_eq!(h.mock.signatures_verified(), 2);
}

#[tokio::test]
async fn stream_exceptions_fall_back_before_the_first_chunk_and_end_the_stream_after() {
    let h = harness("real-secret").await;
    let r = h
        .chat(
            json!({"model": format!("anybedrock/{MODEL};error_after=0"), "stream": true,
            "fallbacks": ["backup/gpt-4o"], "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await;
    assert_eq!(r.headers()["x-heimdall-provider"], "backup");

    let mut req = user_chat(&format!(
        "anybedrock/{MODEL};chunk_delay_ms=10;error_after=3"
    ));
    req["stream"] = json!(true);
    let events = sse_data(&h.chat(req).await.text().await.unwrap());
    assert_ne!(events.last().unwrap(), "[DONE]");
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("mock in-band error")
    );
}

#[tokio::test]
async fn a_bedrock_api_key_is_sent_as_a_bearer_token() {
    let h = harness("real-secret").await;
    let r = h.chat(user_chat("bedrock/titan-text")).await;
    assert_eq!(r.status(), 200);
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.headers["authorization"], "Bearer bedrock-api-key");
    assert_eq!(sent.path, "/model/titan-text/converse");
}

#[tokio::test]
async fn embeddings_go_through_invoke_model_for_titan_and_cohere() {
    let h = harness("real-secret").await;
    for (model, calls) in [
        ("anybedrock/amazon.titan-embed-text-v2:0", 2),
        ("anybedrock/cohere.embed-english-v3", 1),
    ] {
        let before = h.mock.request_count();
        let r = h
            .client
            .post(h.url("/v1/embeddings"))
            .json(&json!({"model": model, "input": ["one", "three"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{model}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["data"].as_array().unwrap().len(), 2, "{model}");
        assert_eq!(body["data"][1]["embedding"][0], 0.5, "{model}: order kept");
        assert_eq!(
            h.mock.request_count() - before,
            calls,
            "{model}: one call per text for Titan, one batch for Cohere"
        );
    }
}

/// A thinking + tool-use conversation through the `/bedrock` drop-in (boto3's shapes): the
/// signed `reasoningContent` block reaches the client, and sent back on the next turn it
/// reaches Bedrock, which refuses the turn without it.
#[tokio::test]
async fn the_bedrock_drop_in_keeps_signed_reasoning_across_turns() {
    use heimdall_providers::bedrock::stream::decode_all;
    let h = harness("real-secret").await;
    let url = |op: &str| h.url(&format!("/bedrock/model/bedrock%2Fclaude/{op}"));
    let tools = json!({"tools": [{"toolSpec": {"name": "get_weather",
        "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}},
            "required": ["city"]}}}}], "toolChoice": {"any": {}}});
    let thinking = json!({"thinking": {"type": "enabled", "budget_tokens": 1024}});
    let first = json!({"messages": [{"role": "user", "content": [{"text": "Weather in Paris?"}]}],
        "toolConfig": tools, "additionalModelRequestFields": thinking});
    let r = h
        .client
        .post(url("converse"))
        .json(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let content = body["output"]["message"]["content"].clone();
    let signed = &content[0]["reasoningContent"]["reasoningText"];
    assert_eq!(signed["text"], "The user asked; answer plainly.");
    assert!(
        signed["signature"]
            .as_str()
            .unwrap()
            .starts_with("mock-bedrock-signature-")
    );
    let call = &content[1]["toolUse"];
    assert_eq!(call["name"], "get_weather");
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.body["additionalModelRequestFields"], thinking);

    // The next turn sends the assistant content back as received, then the tool result.
    let result = json!({"toolResult": {"toolUseId": call["toolUseId"],
        "content": [{"text": "Sunny"}]}});
    let mut second = first.clone();
    second["messages"] = json!([first["messages"][0],
        {"role": "assistant", "content": content},
        {"role": "user", "content": [result]}]);
    let r = h
        .client
        .post(url("converse"))
        .json(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(
        sent.body["messages"][1]["content"][0]["reasoningContent"]["reasoningText"],
        *signed
    );

    // Without the signed block Bedrock refuses the turn: the mock's check is real.
    let mut unsigned = second.clone();
    unsigned["messages"][1]["content"] = json!([content[1]]);
    let r = h
        .client
        .post(url("converse"))
        .json(&unsigned)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Streamed: reasoning text and signature arrive as reasoningContent deltas of one block.
    let r = h
        .client
        .post(url("converse-stream"))
        .json(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let events = decode_all(&r.bytes().await.unwrap()).unwrap();
    let reasoning: Vec<Value> = events
        .iter()
        .filter(|e| e.kind == "contentBlockDelta")
        .filter_map(|e| e.payload["delta"].get("reasoningContent").cloned())
        .collect();
    assert_eq!(reasoning[0]["text"], "The user asked; answer plainly.");
    assert!(
        reasoning[1]["signature"]
            .as_str()
            .unwrap()
            .starts_with("mock-bedrock-signature-")
    );
}
