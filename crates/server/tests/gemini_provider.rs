//! The Gemini provider end to end against the mock's Gemini face.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use heimdall_mock_provider::MockServer;
use serde_json::{Value, json};

fn config(m: &MockServer) -> Value {
    json!({"providers": {"gemini": {"type": "gemini",
        "keys": [{"name": "g", "value": "g-key", "models": [], "weight": 1}],
        "network_config": {"base_url": format!("http://{}/v1beta", m.addr())}},
        "backup": {"type": "custom", "keys": [{"name": "b", "value": "b", "models": [], "weight": 1}],
        "network_config": {"base_url": m.base_url()}}}})
}

#[tokio::test]
async fn chat_and_stream_go_through_generate_content() {
    let h = recording_gateway(config).await;
    let r = h
        .chat(json!({"model": "gemini/gemini-2.5-flash;chunks=3",
            "messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": "Hi"}]}))
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Hello from the");
    assert_eq!(body["usage"]["completion_tokens"], 3);
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(
        sent.path,
        "/v1beta/models/gemini-2.5-flash;chunks=3:generateContent"
    );
    assert_eq!(sent.headers["x-goog-api-key"], "g-key");
    assert_eq!(
        sent.body["systemInstruction"]["parts"][0]["text"],
        "Be brief."
    );

    let mut req = user_chat("gemini/gemini-2.5-flash;chunks=4");
    req["stream"] = json!(true);
    req["stream_options"] = json!({"include_usage": true});
    let all = done_chunks(&h.chat(req).await.text().await.unwrap());
    assert_eq!(streamed_text(&all), "Hello from the mock");
    assert_eq!(all.last().unwrap()["usage"]["completion_tokens"], 4);
}

#[tokio::test]
async fn a_streamed_function_call_becomes_one_tool_call_delta() {
    let h = recording_gateway(config).await;
    let r = h
        .chat(json!({"model": "gemini/gemini-2.5-flash", "stream": true,
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "tools": [{"type": "function", "function": {"name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                "required": ["city"]}}}],
            "messages": [{"role": "user", "content": "Weather?"}]}))
        .await;
    let all = done_chunks(&r.text().await.unwrap());
    let calls: Vec<&Value> = all
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].as_array())
        .flatten()
        .collect();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["id"], "call_0");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "mock"}));
    assert_eq!(finish_reasons(&all), ["tool_calls"]);
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(
        sent.body["toolConfig"]["functionCallingConfig"],
        json!({"mode": "ANY", "allowedFunctionNames": ["get_weather"]})
    );
}

#[tokio::test]
async fn embeddings_single_and_batch() {
    let h = recording_gateway(config).await;
    for (input, n, method) in [
        (json!("hello"), 1, "embedContent"),
        (json!(["a", "bb", "ccc"]), 3, "batchEmbedContents"),
    ] {
        let r = h
            .client
            .post(h.url("/v1/embeddings"))
            .json(&json!({"model": "gemini/gemini-embedding-001", "input": input}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["data"].as_array().unwrap().len(), n);
        assert!(h.mock.requests().pop().unwrap().path.ends_with(method));
    }
}

#[tokio::test]
async fn stream_errors_before_and_after_the_first_chunk() {
    let h = recording_gateway(config).await;
    let r = h
        .chat(
            json!({"model": "gemini/gemini-2.5-flash;error_after=0", "stream": true,
            "fallbacks": ["backup/gpt-4o"], "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await;
    assert_eq!(r.headers()["x-heimdall-provider"], "backup");

    let mut req = user_chat("gemini/gemini-2.5-flash;chunk_delay_ms=10;error_after=2");
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

    let r = h
        .chat(user_chat(
            "gemini/gemini-2.5-flash;fail_rate=1;fail_status=429;retry_after=3",
        ))
        .await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "3");
}
