//! The Anthropic provider end to end: OpenAI API in, Anthropic Messages API out to the mock's
//! Anthropic face (real HTTP, headers, SSE event sequence), OpenAI shapes back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use heimdall_mock_provider::MockServer;
use serde_json::{Value, json};

fn config(m: &MockServer) -> Value {
    json!({"providers": {
        "anthropic": {"type": "anthropic",
            "keys": [{"name": "a", "value": "sk-ant-test", "models": [], "weight": 1}],
            "network_config": {"base_url": m.base_url()}},
        "backup": {"type": "custom",
            "keys": [{"name": "b", "value": "sk-b", "models": [], "weight": 1}],
            "network_config": {"base_url": m.base_url()}}
    }})
}

async fn harness() -> Harness {
    recording_gateway(config).await
}

fn tools() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
            "required": ["city"]}}}])
}

#[tokio::test]
async fn chat_goes_out_as_a_messages_request_and_comes_back_openai_shaped() {
    let h = harness().await;
    let r = h
        .chat(json!({"model": "anthropic/claude-sonnet-4-5;chunks=3",
            "messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": "Hi"}]}))
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "Hello from the");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(body["usage"]["completion_tokens"], 3);

    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.headers["x-api-key"], "sk-ant-test");
    assert_eq!(sent.headers["anthropic-version"], "2023-06-01");
    assert!(!sent.headers.contains_key("authorization"));
    assert_eq!(sent.body["system"], "Be brief.");
    assert_eq!(sent.body["max_tokens"], 4096);
    assert_eq!(
        sent.body["messages"],
        json!([{"role": "user", "content": "Hi"}])
    );
}

#[tokio::test]
async fn a_stream_arrives_as_openai_chunks_with_usage_and_done() {
    let h = harness().await;
    let r = h
        .chat(
            json!({"model": "anthropic/claude-sonnet-4-5;chunks=4", "stream": true,
            "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let events = sse_data(&text);
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "Hello from the mock");
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let finish: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, [&json!("stop")]);
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(usage["completion_tokens"], 4);
    assert_eq!(h.mock.requests().pop().unwrap().body["stream"], true);
}

#[tokio::test]
async fn a_streamed_tool_call_arrives_as_openai_tool_call_deltas() {
    let h = harness().await;
    let r = h
        .chat(
            json!({"model": "anthropic/claude-sonnet-4-5;chunks=4", "stream": true,
            "tools": tools(), "tool_choice": "required",
            "messages": [{"role": "user", "content": "Weather in Paris?"}]}),
        )
        .await;
    let text = r.text().await.unwrap();
    let events = sse_data(&text);
    assert_eq!(events.last().unwrap(), "[DONE]");
    let mut name = String::new();
    let mut id = String::new();
    let mut args = String::new();
    let mut finish = String::new();
    for e in &events[..events.len() - 1] {
        let c: Value = serde_json::from_str(e).unwrap();
        if let Some(f) = c["choices"][0]["finish_reason"].as_str() {
            finish = f.to_owned();
        }
        for call in c["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert_eq!(call["index"], 0);
            if let Some(n) = call["function"]["name"].as_str() {
                name.push_str(n);
            }
            if let Some(i) = call["id"].as_str() {
                id.push_str(i);
            }
            args.push_str(call["function"]["arguments"].as_str().unwrap_or(""));
        }
    }
    assert_eq!(name, "get_weather");
    assert!(id.starts_with("toolu_"));
    assert_eq!(finish, "tool_calls");
    let parsed: Value = serde_json::from_str(&args).unwrap();
    assert_eq!(parsed, json!({"city": "mock"}));
    let sent = h.mock.requests().pop().unwrap();
    assert_eq!(sent.body["tool_choice"], json!({"type": "any"}));
    assert_eq!(
        sent.body["tools"][0]["input_schema"]["required"],
        json!(["city"])
    );
}

#[tokio::test]
async fn tool_results_round_trip_in_anthropic_turns() {
    let h = harness().await;
    let r = h
        .chat(
            json!({"model": "anthropic/claude-sonnet-4-5", "tools": tools(),
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "toolu_1",
                    "type": "function", "function": {"name": "get_weather",
                    "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"}],
            "tool_choice": "none"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let sent = h.mock.requests().pop().unwrap();
    let turns = sent.body["messages"].as_array().unwrap();
    assert_eq!(turns.len(), 3);
    assert_eq!(turns[1]["content"][0]["type"], "tool_use");
    assert_eq!(turns[1]["content"][0]["input"], json!({"city": "Paris"}));
    assert_eq!(
        turns[2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"})
    );
}

#[tokio::test]
async fn anthropic_errors_keep_status_message_and_retry_after() {
    let h = harness().await;
    let r = h
        .chat(user_chat(
            "anthropic/claude-sonnet-4-5;fail_rate=1;fail_status=429;retry_after=7",
        ))
        .await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("mock failure")
    );
    assert_eq!(body["error"]["code"], "rate_limit_error");

    // (The key now cools down for the 7 s the upstream asked; a fresh gateway for the next.)
    let h = harness().await;
    let r = h
        .chat(user_chat(
            "anthropic/claude-sonnet-4-5;fail_rate=1;fail_status=529",
        ))
        .await;
    assert_eq!(r.status(), 503, "overloaded is a server-side condition");
}

#[tokio::test]
async fn an_in_band_error_before_the_first_chunk_falls_back_and_after_it_ends_the_stream() {
    let h = harness().await;
    let r = h
        .chat(
            json!({"model": "anthropic/claude-sonnet-4-5;error_after=0", "stream": true,
            "fallbacks": ["backup/gpt-4o"], "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await;
    assert_eq!(r.headers()["x-heimdall-provider"], "backup");
    assert_eq!(sse_data(&r.text().await.unwrap()).last().unwrap(), "[DONE]");

    let r = h
        .chat(
            json!({"model": "anthropic/claude-sonnet-4-5;chunk_delay_ms=10;error_after=4",
            "stream": true, "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let events = sse_data(&r.text().await.unwrap());
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
async fn openai_only_parameters_are_refused_or_dropped_as_documented() {
    let h = harness().await;
    let mut two = user_chat("anthropic/claude-sonnet-4-5");
    two["n"] = json!(2);
    let r = h.chat(two).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["param"], "n");

    let mut sampling = user_chat("anthropic/claude-sonnet-4-5");
    sampling["seed"] = json!(7);
    sampling["temperature"] = json!(1.6);
    assert_eq!(h.chat(sampling).await.status(), 200);
    let sent = h.mock.requests().pop().unwrap();
    assert!(sent.body.get("seed").is_none());
    assert_eq!(sent.body["temperature"], 1.0);
}
