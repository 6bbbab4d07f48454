//! `/cohere/v2/chat`: Cohere v2 requests in, any provider out, Cohere-shaped replies back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn chat_and_stream_in_cohere_shape() {
    let h = start().await;
    let url = h.url("/cohere/v2/chat");
    let r = h
        .client
        .post(&url)
        .json(&json!({"model": "mock/gpt-4o;chunks=2", "p": 0.5,
            "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["message"]["content"][0]["text"], "Hello from");
    assert_eq!(v["finish_reason"], "COMPLETE");
    assert_eq!(v["usage"]["billed_units"]["output_tokens"], 2);
    assert_eq!(h.mock.requests().pop().unwrap().body["top_p"], 0.5);

    let text = h
        .client
        .post(&url)
        .json(&json!({"model": "mock/gpt-4o;chunks=2", "stream": true,
            "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = sse_event_names(&text);
    assert_eq!(
        events,
        [
            "message-start",
            "content-start",
            "content-delta",
            "content-delta",
            "content-end",
            "message-end"
        ]
    );

    let r = h
        .client
        .post(&url)
        .json(&json!({"model": "nope/x", "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert!(v["message"].as_str().unwrap().contains("not served"));
}
