//! Golden fixtures of the OpenAI dialect: every fixture survives deserialise → serialise
//! unchanged, typed fields land where they should, and validation names the bad field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use heimdall_schema::chat::{
    ChatChunk, ChatMessage, ChatRequest, ChatResponse, ContentPart, KnownPart, MessageContent,
    ResponseFormat, ToolChoice,
};
use heimdall_schema::completions::{CompletionRequest, CompletionResponse};
use heimdall_schema::embeddings::{
    EmbeddingInput, EmbeddingRequest, EmbeddingResponse, EmbeddingVector,
};
use heimdall_schema::models::ModelList;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/openai")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Deserialise into `T`, serialise back to text, and require the same JSON (numbers compared
/// as numbers: `0` and `0.0` are one JSON value).
fn round_trip<T: DeserializeOwned + Serialize>(name: &str, text: &str) -> T {
    let original: Value = serde_json::from_str(text).unwrap();
    let typed: T = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let back: Value = serde_json::from_str(&serde_json::to_string(&typed).unwrap()).unwrap();
    assert_eq!(
        normalize(back),
        normalize(original),
        "{name} did not round-trip"
    );
    typed
}

fn normalize(v: Value) -> Value {
    match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Number(n), Value::Number),
        Value::Array(a) => Value::Array(a.into_iter().map(normalize).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, normalize(v))).collect()),
        other => other,
    }
}

#[test]
fn chat_requests_round_trip() {
    round_trip::<ChatRequest>("minimal", &fixture("chat_request_minimal.json"));
    round_trip::<ChatRequest>("tool turn", &fixture("chat_request_tool_turn.json"));
    let full: ChatRequest = round_trip("full", &fixture("chat_request_full.json"));

    assert!(full.wants_stream() && full.client_wants_usage());
    assert_eq!(full.extra["some_future_param"], serde_json::json!({"x": 1}));
    assert_eq!(full.extra["service_tier"], "auto");
    let ChatMessage::User(user) = &full.messages[1] else {
        panic!("second message is the user's")
    };
    assert_eq!(user.extra["x_unknown_message_field"]["kept"], true);
    let MessageContent::Parts(parts) = &user.content else {
        panic!("multimodal parts")
    };
    assert!(
        matches!(&parts[1], ContentPart::Known(KnownPart::ImageUrl { image_url, .. })
        if image_url.detail.as_deref() == Some("high"))
    );
    assert!(
        matches!(&parts[3], ContentPart::Known(KnownPart::InputAudio { input_audio, .. })
        if input_audio.format == "wav")
    );
    assert!(matches!(full.tool_choice, Some(ToolChoice::Named(_))));
    assert!(
        matches!(full.response_format, Some(ResponseFormat::JsonSchema { ref json_schema, .. })
        if json_schema.strict == Some(true))
    );
    assert_eq!(
        full.tools.as_ref().unwrap()[0]
            .function
            .as_ref()
            .unwrap()
            .strict,
        Some(true)
    );
    full.validate().unwrap();
}

#[test]
fn chat_responses_round_trip() {
    let r: ChatResponse = round_trip("response", &fixture("chat_response.json"));
    assert_eq!(
        r.choices[0].message.content.as_deref(),
        Some("Hello! How can I assist you today?")
    );
    let t: ChatResponse = round_trip("tool calls", &fixture("chat_response_tool_calls.json"));
    let call = &t.choices[0].message.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.function.name, "get_current_weather");
    assert!(call.function.arguments.contains("Boston"));
    assert_eq!(t.choices[0].finish_reason.as_deref(), Some("tool_calls"));
    let usage = t.usage.unwrap();
    assert_eq!(usage.prompt_tokens_details.unwrap().cached_tokens, Some(64));
    assert_eq!(
        usage.completion_tokens_details.unwrap().reasoning_tokens,
        Some(12)
    );
}

#[test]
fn stream_transcript_round_trips_and_reassembles_tool_calls() {
    let text = fixture("chat_stream.jsonl");
    let chunks: Vec<ChatChunk> = text
        .lines()
        .enumerate()
        .map(|(i, l)| round_trip(&format!("chunk {i}"), l))
        .collect();
    let mut args = String::new();
    for c in &chunks {
        for tc in c
            .choices
            .iter()
            .filter_map(|ch| ch.delta.tool_calls.as_ref())
            .flatten()
        {
            if let Some(f) = &tc.function {
                args.push_str(f.arguments.as_deref().unwrap_or(""));
            }
        }
    }
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        serde_json::json!({"location": "Boston, MA"})
    );
    let last = chunks.last().unwrap();
    assert!(last.is_usage_only());
    assert!(!chunks[0].is_usage_only());
}

#[test]
fn stream_quirks_are_accepted() {
    // `"usage": null` on every chunk (include_usage) and `"choices": null` (vLLM's usage chunk).
    let c: ChatChunk = serde_json::from_str(
        r#"{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}],"usage":null}"#,
    )
    .unwrap();
    assert!(c.usage.is_none());
    let c: ChatChunk = serde_json::from_str(
        r#"{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":null,"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#,
    )
    .unwrap();
    assert!(c.is_usage_only());
}

#[test]
fn completions_round_trip() {
    let r: CompletionRequest = round_trip("request", &fixture("completion_request.json"));
    r.validate().unwrap();
    let resp: CompletionResponse = round_trip("response", &fixture("completion_response.json"));
    assert_eq!(resp.choices[0].finish_reason.as_deref(), Some("length"));
}

#[test]
fn embeddings_round_trip_and_base64_decodes() {
    let r: EmbeddingRequest = round_trip("request", &fixture("embedding_request.json"));
    assert_eq!(r.dimensions, Some(256));
    assert!(matches!(r.input, EmbeddingInput::Texts(ref v) if v.len() == 2));
    let t: EmbeddingRequest = round_trip("tokens", &fixture("embedding_request_tokens.json"));
    assert!(matches!(t.input, EmbeddingInput::TokenLists(_)));
    let f: EmbeddingResponse = round_trip("float", &fixture("embedding_response_float.json"));
    assert_eq!(f.data[0].embedding.to_floats().unwrap().len(), 3);
    let b: EmbeddingResponse = round_trip("base64", &fixture("embedding_response_base64.json"));
    assert_eq!(b.data[0].embedding.to_floats().unwrap(), vec![1.0, 2.0]);
    let v = [0.25f32, -1.5, 3.0];
    let enc = EmbeddingVector::Base64(EmbeddingVector::encode_base64(&v));
    assert_eq!(enc.to_floats().unwrap(), v.to_vec());
}

#[test]
fn model_list_round_trips() {
    let m: ModelList = round_trip("models", &fixture("models.json"));
    assert_eq!(m.data.len(), 2);
}

#[test]
fn validation_names_the_bad_field() {
    let param = |json: &str| {
        serde_json::from_str::<ChatRequest>(json)
            .unwrap()
            .validate()
            .unwrap_err()
            .param
            .unwrap()
    };
    assert_eq!(param(r#"{"model":"m","messages":[]}"#), "messages");
    assert_eq!(
        param(r#"{"model":"","messages":[{"role":"user","content":"x"}]}"#),
        "model"
    );
    assert_eq!(
        param(
            r#"{"model":"m","messages":[{"role":"user","content":"x"},{"role":"tool","content":"r","tool_call_id":""}]}"#
        ),
        "messages[1].tool_call_id"
    );
    assert_eq!(
        param(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":3}"#),
        "temperature"
    );
    assert_eq!(
        param(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"top_p":1.5}"#),
        "top_p"
    );
    assert_eq!(
        param(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"n":0}"#),
        "n"
    );
    assert_eq!(
        param(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"top_logprobs":2}"#),
        "top_logprobs"
    );
    let e = serde_json::from_str::<EmbeddingRequest>(r#"{"model":"m","input":""}"#)
        .unwrap()
        .validate()
        .unwrap_err();
    assert_eq!(e.param.as_deref(), Some("input"));
    let e = serde_json::from_str::<CompletionRequest>(r#"{"model":"m"}"#)
        .unwrap()
        .validate()
        .unwrap_err();
    assert_eq!(e.param.as_deref(), Some("prompt"));
}
