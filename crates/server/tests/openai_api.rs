//! End-to-end behaviour of the OpenAI-compatible API through a real gateway in front of the
//! mock provider: JSON and streamed chat, completions, embeddings, models, metadata headers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use serde_json::{Value, json};

#[tokio::test]
async fn chat_completion_round_trips_with_routing_headers() {
    let h = start().await;
    let resp = h.chat(user_chat("mock/gpt-4o-mini")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-heimdall-provider"], "mock");
    assert_eq!(resp.headers()["x-heimdall-model"], "gpt-4o-mini");
    assert!(resp.headers().contains_key("x-request-id"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "gpt-4o-mini");
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .len()
            > 1
    );
    assert!(body["usage"]["total_tokens"].as_u64().unwrap() > 0);
    // The upstream saw the bare model name and our provider key.
    let seen = h.mock.requests();
    let last = seen.last().unwrap();
    assert_eq!(last.body["model"], "gpt-4o-mini");
    assert_eq!(last.headers["authorization"], "Bearer sk-test-1");
}

#[tokio::test]
async fn unknown_request_fields_reach_the_upstream_untouched() {
    let h = start().await;
    let mut req = user_chat("mock/gpt-4o");
    req["some_future_param"] = json!({"nested": [1, 2, 3]});
    req["messages"][0]["x_custom"] = json!("kept");
    let resp = h.chat(req).await;
    assert_eq!(resp.status(), 200);
    let seen = h.mock.requests();
    let body = &seen.last().unwrap().body;
    assert_eq!(body["some_future_param"], json!({"nested": [1, 2, 3]}));
    assert_eq!(body["messages"][0]["x_custom"], "kept");
}

/// An OpenAI-compatible upstream gets the client's own body with only the model replaced
/// (`heimdall_schema::raw`): a `null` the typed request would drop is still there, and so is
/// every field the gateway does not model.
#[tokio::test]
async fn the_upstream_gets_the_clients_body_with_only_the_model_replaced() {
    let h = start().await;
    let mut req = user_chat("mock/gpt-4o");
    req["temperature"] = Value::Null;
    req["vendor_knob"] = json!({"deep": [true, null, 1.5]});
    let resp = h.chat(req.clone()).await;
    assert_eq!(resp.status(), 200);
    let seen = h.mock.requests();
    req["model"] = json!("gpt-4o");
    assert_eq!(seen.last().unwrap().body, req);
}

#[tokio::test]
async fn streamed_chat_ends_with_done_and_hides_usage_unless_asked() {
    let h = start().await;
    let mut req = user_chat("mock/gpt-4o");
    req["stream"] = json!(true);
    let resp = h.chat(req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp.text().await.unwrap();
    let data = sse_data(&text);
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(chunks.len() >= 3);
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    assert!(chunks.iter().all(|c| c.get("usage").is_none()), "{text}");
    // ...but usage was requested upstream so the gateway can account for it.
    let seen = h.mock.requests();
    assert_eq!(
        seen.last().unwrap().body["stream_options"]["include_usage"],
        true
    );
}

#[tokio::test]
async fn streamed_chat_keeps_usage_chunk_when_client_asks() {
    let h = start().await;
    let mut req = user_chat("mock/gpt-4o");
    req["stream"] = json!(true);
    req["stream_options"] = json!({"include_usage": true});
    let text = h.chat(req).await.text().await.unwrap();
    let data = sse_data(&text);
    let usage_chunk: Value = serde_json::from_str(&data[data.len() - 2]).unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert!(usage_chunk["usage"]["completion_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn stream_chunks_arrive_as_the_upstream_emits_them() {
    let h = start().await;
    let mut req = user_chat("mock/gpt-4o;chunks=6;chunk_delay_ms=150");
    req["stream"] = json!(true);
    let started = Instant::now();
    let resp = h.chat(req).await;
    let mut body = resp.bytes_stream();
    let mut arrivals = Vec::new();
    let mut all = String::new();
    while let Some(piece) = body.next().await {
        let piece = piece.unwrap();
        all.push_str(std::str::from_utf8(&piece).unwrap());
        arrivals.push(started.elapsed());
    }
    assert!(all.ends_with("data: [DONE]\n\n"));
    let first = arrivals[0];
    let last = *arrivals.last().unwrap();
    // 6 chunks 150 ms apart: the first must not wait for the last (no buffering).
    assert!(
        last - first >= Duration::from_millis(600),
        "first at {first:?}, last at {last:?}"
    );
}

#[tokio::test]
async fn streamed_tool_calls_pass_through_as_deltas() {
    let h = start().await;
    let req = json!({
        "model": "mock/gpt-4o", "stream": true,
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
            "required": ["location"]}}}]
    });
    let text = h.chat(req).await.text().await.unwrap();
    let data = sse_data(&text);
    assert_eq!(data.last().unwrap(), "[DONE]");
    let mut name = String::new();
    let mut args = String::new();
    let mut finish = String::new();
    for d in &data[..data.len() - 1] {
        let c: Value = serde_json::from_str(d).unwrap();
        if let Some(tc) = c["choices"][0]["delta"]["tool_calls"].get(0) {
            if let Some(n) = tc["function"]["name"].as_str() {
                name.push_str(n);
            }
            if let Some(a) = tc["function"]["arguments"].as_str() {
                args.push_str(a);
            }
        }
        if let Some(f) = c["choices"][0]["finish_reason"].as_str() {
            finish = f.to_owned();
        }
    }
    assert_eq!(name, "get_weather");
    assert!(serde_json::from_str::<Value>(&args).unwrap().is_object());
    assert_eq!(finish, "tool_calls");
}

#[tokio::test]
async fn text_completions_json_and_stream() {
    let h = start().await;
    let resp = h
        .client
        .post(h.url("/v1/completions"))
        .json(&json!({"model": "mock/gpt-3.5-turbo-instruct", "prompt": "Say hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["object"], "text_completion");
    assert!(!body["choices"][0]["text"].as_str().unwrap().is_empty());

    let text = h
        .client
        .post(h.url("/v1/completions"))
        .json(&json!({"model": "mock/gpt-3.5-turbo-instruct", "prompt": "Say hi", "stream": true}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(sse_data(&text).last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn embeddings_float_and_base64() {
    let h = start().await;
    let body: Value = h
        .client
        .post(h.url("/v1/embeddings"))
        .json(
            &json!({"model": "mock/text-embedding-3-small", "input": ["a", "b"], "dimensions": 8}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 8);

    let body: Value = h
        .client
        .post(h.url("/v1/embeddings"))
        .json(&json!({"model": "mock/text-embedding-3-small", "input": "a", "encoding_format": "base64", "dimensions": 8}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let b64 = body["data"][0]["embedding"].as_str().unwrap();
    assert_eq!(b64.len(), 44, "8 f32 = 32 bytes = 44 base64 chars");
}

#[tokio::test]
async fn models_are_aggregated_with_provider_prefix() {
    let h = start().await;
    let body: Value = h
        .client
        .get(h.url("/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"mock/gpt-4o"), "{ids:?}");
    assert!(ids.iter().all(|id| id.starts_with("mock/")));
}

#[tokio::test]
async fn health_and_ready() {
    let h = start().await;
    let r = h.client.get(h.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = h.client.get(h.url("/ready")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["providers"], json!(["mock"]));
}
