//! The Cohere v2 provider end to end against the mock's Cohere face.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use heimdall_mock_provider::MockServer;
use serde_json::{Value, json};

fn config(m: &MockServer) -> Value {
    json!({"providers": {"cohere": {"type": "cohere",
        "keys": [{"name": "c", "value": "co-key", "models": [], "weight": 1}],
        "network_config": {"base_url": m.base_url()}}}})
}

#[tokio::test]
async fn chat_and_stream_go_through_v2_chat() {
    let h = recording_gateway(config).await;
    let r = h
        .chat(json!({"model": "cohere/command-a;chunks=3", "top_p": 1,
            "messages": [{"role": "user", "content": "Hi"}]}))
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Hello from the");
    assert_eq!(body["model"], "command-a;chunks=3");
    assert_eq!(body["usage"]["completion_tokens"], 3);
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v2/chat");
    assert_eq!(sent.headers["authorization"], "Bearer co-key");
    assert_eq!(
        sent.body["p"], 0.99,
        "top_p 1 is clamped into Cohere's range"
    );

    let mut req = user_chat("cohere/command-a;chunks=4");
    req["stream"] = json!(true);
    req["stream_options"] = json!({"include_usage": true});
    let all = done_chunks(&h.chat(req).await.text().await.unwrap());
    assert_eq!(streamed_text(&all), "Hello from the mock");
    assert_eq!(all.last().unwrap()["usage"]["completion_tokens"], 4);
}

#[tokio::test]
async fn a_streamed_tool_call_becomes_openai_deltas() {
    let h = recording_gateway(config).await;
    let r = h
        .chat(json!({"model": "cohere/command-a;chunks=3", "stream": true,
            "tool_choice": "required",
            "tools": [{"type": "function", "function": {"name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                "required": ["city"]}}}],
            "messages": [{"role": "user", "content": "Weather?"}]}))
        .await;
    let all = done_chunks(&r.text().await.unwrap());
    let mut args = String::new();
    let mut name = String::new();
    for c in &all {
        for call in c["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            name.push_str(call["function"]["name"].as_str().unwrap_or(""));
            args.push_str(call["function"]["arguments"].as_str().unwrap_or(""));
        }
    }
    assert_eq!(name, "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"city": "mock"})
    );
    assert_eq!(finish_reasons(&all), ["tool_calls"]);
    assert_eq!(
        h.mock.requests().pop().unwrap().body["tool_choice"],
        "REQUIRED"
    );
}

#[tokio::test]
async fn embeddings_and_in_band_errors() {
    let h = recording_gateway(config).await;
    let r = h
        .client
        .post(h.url("/v1/embeddings"))
        .json(&json!({"model": "cohere/embed-v4.0", "input": ["a", "bb"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        h.mock.requests().pop().unwrap().body["input_type"],
        "search_document"
    );

    let mut req = user_chat("cohere/command-a;chunk_delay_ms=10;error_after=3");
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
