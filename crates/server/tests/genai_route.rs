//! `/genai/v1beta/models/{model}:{method}`: Gemini-shaped requests in, any provider out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{Value, json};

fn body() -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
        "generationConfig": {"maxOutputTokens": 50}})
}

#[tokio::test]
async fn generate_content_and_both_stream_forms() {
    let h = start().await;
    let url = |m: &str| h.url(&format!("/genai/v1beta/models/mock/gpt-4o;chunks=2:{m}"));
    let r = h
        .client
        .post(url("generateContent"))
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["text"],
        "Hello from"
    );
    assert_eq!(v["candidates"][0]["finishReason"], "STOP");
    assert_eq!(h.mock.requests().pop().unwrap().body["max_tokens"], 50);

    // Without alt=sse: one JSON array, streamed.
    let r = h
        .client
        .post(url("streamGenerateContent"))
        .json(&body())
        .send()
        .await
        .unwrap();
    let arr: Vec<Value> = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    let text: String = arr
        .iter()
        .filter_map(|e| e["candidates"][0]["content"]["parts"][0]["text"].as_str())
        .collect();
    assert_eq!(text, "Hello from");
    assert_eq!(arr.last().unwrap()["candidates"][0]["finishReason"], "STOP");

    let r = h
        .client
        .post(format!("{}?alt=sse", url("streamGenerateContent")))
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let text = r.text().await.unwrap();
    assert_eq!(
        text.matches("data: ").count(),
        3,
        "two text events and the final one: {text}"
    );
    assert!(text.ends_with("\r\n\r\n"), "Google frames events with CRLF");
}

#[tokio::test]
async fn errors_use_googles_shape() {
    let h = start().await;
    let r = h
        .client
        .post(h.url("/genai/v1beta/models/nope/x:generateContent"))
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["status"], "NOT_FOUND");
    assert_eq!(v["error"]["code"], 404);
}

/// google-genai with only `base_url` set calls `v1`, previews use `v1alpha`, and the Vercel AI
/// SDK's Google provider leaves out `models/` for a model id holding `/`: all reach the model.
#[tokio::test]
async fn every_api_version_and_the_path_without_models_prefix_are_routed() {
    let h = start().await;
    for path in [
        "/genai/v1/models/mock/gpt-4o;chunks=2:generateContent",
        "/genai/v1alpha/models/mock/gpt-4o;chunks=2:generateContent",
        "/genai/v1beta/mock/gpt-4o;chunks=2:generateContent",
        "/genai/v1/mock/gpt-4o;chunks=2:generateContent",
        "/litellm/genai/v1/models/mock/gpt-4o;chunks=2:generateContent",
    ] {
        let r = h
            .client
            .post(h.url(path))
            .json(&body())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v["candidates"][0]["content"]["parts"][0]["text"], "Hello from",
            "{path}"
        );
        assert_eq!(
            h.mock.requests().pop().unwrap().body["model"],
            "gpt-4o;chunks=2"
        );
    }
    for version in ["v1", "v1alpha"] {
        let r = h
            .client
            .get(h.url(&format!("/genai/{version}/models")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{version}");
    }
    let r = h
        .client
        .post(h.url("/genai/v2/models/mock/gpt-4o:generateContent"))
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "an unknown API version is not routed");
}
