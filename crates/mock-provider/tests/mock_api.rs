//! The mock speaks OpenAI's shapes and injects each fault it promises.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use heimdall_mock_provider::{MockConfig, MockServer};
use serde_json::{Value, json};

async fn server() -> MockServer {
    MockServer::start(MockConfig {
        record_requests: true,
        ..Default::default()
    })
    .await
    .unwrap()
}

async fn post(m: &MockServer, path: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}{path}", m.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn data_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn chat_json_has_openai_shape() {
    let m = server().await;
    let v: Value = post(&m, "/chat/completions", chat("gpt-4o;chunks=3"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "gpt-4o");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["completion_tokens"], 3);
    assert_eq!(
        v["usage"]["total_tokens"],
        v["usage"]["prompt_tokens"].as_u64().unwrap() + 3
    );
}

#[tokio::test]
async fn chat_stream_sequence_and_usage_only_when_asked() {
    let m = server().await;
    let mut req = chat("gpt-4o;chunks=4");
    req["stream"] = json!(true);
    let text = post(&m, "/chat/completions", req.clone())
        .await
        .text()
        .await
        .unwrap();
    let data = data_lines(&text);
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(chunks.len(), 1 + 4 + 1);
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));

    req["stream_options"] = json!({"include_usage": true});
    let text = post(&m, "/chat/completions", req)
        .await
        .text()
        .await
        .unwrap();
    let data = data_lines(&text);
    let usage: Value = serde_json::from_str(&data[data.len() - 2]).unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 4);
}

#[tokio::test]
async fn tool_calls_json_and_stream() {
    let m = server().await;
    let tools = json!([{"type": "function", "function": {"name": "lookup",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]);
    let mut req = chat("gpt-4o");
    req["tools"] = tools;
    let v: Value = post(&m, "/chat/completions", req.clone())
        .await
        .json()
        .await
        .unwrap();
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(v["choices"][0]["message"]["content"], Value::Null);
    assert_eq!(call["function"]["name"], "lookup");
    assert_eq!(
        serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap()).unwrap(),
        json!({"city": "mock"})
    );

    req["stream"] = json!(true);
    let text = post(&m, "/chat/completions", req.clone())
        .await
        .text()
        .await
        .unwrap();
    let data = data_lines(&text);
    let first: Value = serde_json::from_str(&data[0]).unwrap();
    assert_eq!(
        first["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
        "lookup"
    );
    let args: String = data[1..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter_map(|c| {
            c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"city": "mock"})
    );

    req["tool_choice"] = json!("none");
    req["stream"] = json!(false);
    let v: Value = post(&m, "/chat/completions", req)
        .await
        .json()
        .await
        .unwrap();
    assert!(v["choices"][0]["message"]["content"].is_string());
}

#[tokio::test]
async fn completions_and_embeddings() {
    let m = server().await;
    let v: Value = post(
        &m,
        "/completions",
        json!({"model": "gpt-3.5-turbo-instruct", "prompt": "x"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["object"], "text_completion");
    let text = post(
        &m,
        "/completions",
        json!({"model": "m", "prompt": "x", "stream": true}),
    )
    .await
    .text()
    .await
    .unwrap();
    assert_eq!(data_lines(&text).last().unwrap(), "[DONE]");

    let a: Value = post(
        &m,
        "/embeddings",
        json!({"model": "e", "input": ["same", "other"], "dimensions": 16}),
    )
    .await
    .json()
    .await
    .unwrap();
    let v0: Vec<f64> = a["data"][0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(v0.len(), 16);
    let norm: f64 = v0.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3, "unit length, got {norm}");
    assert_ne!(a["data"][0]["embedding"], a["data"][1]["embedding"]);
    let b: Value = post(
        &m,
        "/embeddings",
        json!({"model": "e", "input": "same", "dimensions": 16, "encoding_format": "base64"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let bytes = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(b["data"][0]["embedding"].as_str().unwrap())
            .unwrap()
    };
    let decoded: Vec<f64> = bytes
        .chunks_exact(4)
        .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
        .collect();
    for (x, y) in decoded.iter().zip(&v0) {
        assert!((x - y).abs() < 1e-6, "deterministic across encodings");
    }
}

#[tokio::test]
async fn models_and_health() {
    let m = server().await;
    let v: Value = reqwest::get(format!("{}/models", m.base_url()))
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
            .any(|x| x["id"] == "gpt-4o")
    );
    let r = reqwest::get(format!("http://{}/health", m.addr()))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn latency_and_chunk_delay_knobs_via_suffix_and_header() {
    let m = server().await;
    let t = Instant::now();
    let r = post(&m, "/chat/completions", chat("gpt-4o;latency_ms=200")).await;
    assert_eq!(r.status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(200));

    let t = Instant::now();
    let r = reqwest::Client::new()
        .post(format!("{}/chat/completions", m.base_url()))
        .header("x-mock-latency-ms", "150")
        .json(&chat("gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(150));

    let mut req = chat("gpt-4o;chunks=5;chunk_delay_ms=60");
    req["stream"] = json!(true);
    let mut body = post(&m, "/chat/completions", req).await.bytes_stream();
    let start = Instant::now();
    let mut times = vec![];
    while let Some(b) = body.next().await {
        b.unwrap();
        times.push(start.elapsed());
    }
    assert!(*times.last().unwrap() - times[0] >= Duration::from_millis(5 * 60));
}

#[tokio::test]
async fn failure_knobs() {
    let m = server().await;
    let r = post(
        &m,
        "/chat/completions",
        chat("gpt-4o;fail_rate=1;fail_status=429;retry_after=3"),
    )
    .await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "3");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error");

    let model = "gpt-4o;fail_first=2;fail_status=503";
    assert_eq!(
        post(&m, "/chat/completions", chat(model)).await.status(),
        503
    );
    assert_eq!(
        post(&m, "/chat/completions", chat(model)).await.status(),
        503
    );
    assert_eq!(
        post(&m, "/chat/completions", chat(model)).await.status(),
        200
    );

    let r = post(&m, "/chat/completions", chat("gpt-4o;bogus=1")).await;
    assert_eq!(r.status(), 400);
    let r = reqwest::Client::new()
        .post(format!("{}/chat/completions", m.base_url()))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn stream_faults() {
    let m = server().await;
    let stream = |model: &str| {
        let mut r = chat(model);
        r["stream"] = json!(true);
        r
    };
    // cut: the body ends with a transport error and no [DONE]
    let r = post(
        &m,
        "/chat/completions",
        stream("gpt-4o;cut_after=2;chunk_delay_ms=10"),
    )
    .await;
    let mut body = r.bytes_stream();
    let mut text = String::new();
    let mut failed = false;
    while let Some(b) = body.next().await {
        match b {
            Ok(b) => text.push_str(std::str::from_utf8(&b).unwrap()),
            Err(_) => failed = true,
        }
    }
    assert!(failed, "a cut stream must fail");
    assert!(!text.contains("[DONE]"));

    // in-band error then end
    let text = post(&m, "/chat/completions", stream("gpt-4o;error_after=2"))
        .await
        .text()
        .await
        .unwrap();
    let data = data_lines(&text);
    assert_eq!(data.len(), 3);
    assert!(data[2].contains("mock in-band error"));

    // malformed event, then the stream goes on
    let text = post(&m, "/chat/completions", stream("gpt-4o;malformed_after=1"))
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains("data: {not json"));
    assert!(text.contains("[DONE]"));

    // stall: the client times out
    let r = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap()
        .post(format!("{}/chat/completions", m.base_url()))
        .json(&stream("gpt-4o;stall_after=2"))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.is_err(), "stalled body must time out");
}

#[tokio::test]
async fn records_requests_when_asked() {
    let m = server().await;
    reqwest::Client::new()
        .post(format!("{}/chat/completions", m.base_url()))
        .bearer_auth("sk-1")
        .json(&chat("gpt-4o"))
        .send()
        .await
        .unwrap();
    let seen = m.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].headers["authorization"], "Bearer sk-1");
    assert_eq!(seen[0].body["model"], "gpt-4o");
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(m.request_count(), 1);
    m.clear_requests();
    assert!(m.requests().is_empty());
}
