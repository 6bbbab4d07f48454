//! Golden fixtures for the Anthropic translators (shapes from Anthropic's published API
//! reference; sources in `fixtures/anthropic/README.md`): canonical request → Messages request,
//! Messages response → canonical response, SSE transcript → canonical chunk sequence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod golden;

use golden::Fixtures;
use heimdall_providers::anthropic::request::to_messages_request;
use heimdall_providers::anthropic::response::{MessagesResponse, from_messages_response};
use heimdall_providers::anthropic::stream::AnthropicStream;
use heimdall_providers::sse_translate::translate_transcript;
use heimdall_schema::chat::{ChatRequest, ChatResponse};
use heimdall_schema::error::ErrorKind;
use serde_json::Value;

fn fx() -> Fixtures {
    Fixtures::of("anthropic")
}

fn read(name: &str) -> String {
    fx().read(name)
}

fn json(name: &str) -> Value {
    fx().json(name)
}

fn cases(prefix: &str, ext: &str) -> Vec<String> {
    fx().cases(prefix, ext)
}

#[test]
fn requests_translate_to_the_documented_messages_shape() {
    for case in cases("req", ".openai.json") {
        let req: ChatRequest =
            serde_json::from_value(json(&format!("req_{case}.openai.json"))).unwrap();
        let got = serde_json::to_value(to_messages_request(&req).unwrap()).unwrap();
        let want = json(&format!("req_{case}.anthropic.json"));
        assert_eq!(
            got,
            want,
            "req_{case}\n got: {}\nwant: {}",
            serde_json::to_string_pretty(&got).unwrap(),
            serde_json::to_string_pretty(&want).unwrap()
        );
    }
}

#[test]
fn responses_translate_to_chat_completions() {
    for case in cases("resp", ".anthropic.json") {
        let native: MessagesResponse =
            serde_json::from_value(json(&format!("resp_{case}.anthropic.json"))).unwrap();
        let mut got = from_messages_response(native);
        got.created = 0;
        let want: ChatResponse =
            serde_json::from_value(json(&format!("resp_{case}.openai.json"))).unwrap();
        assert_eq!(
            serde_json::to_value(&got).unwrap(),
            serde_json::to_value(&want).unwrap(),
            "resp_{case}"
        );
    }
}

#[test]
fn stream_transcripts_translate_to_chunk_sequences() {
    for case in cases("stream", ".anthropic.sse") {
        let sse = read(&format!("stream_{case}.anthropic.sse"));
        let mut t = AnthropicStream::new("anthropic", Some(0));
        let (chunks, end) = translate_transcript(&mut t, sse.as_bytes());
        fx().check_stream(&format!("stream_{case}.openai.jsonl"), &chunks, end);
    }
}

#[test]
fn a_stream_without_message_stop_is_truncated_not_complete() {
    let sse = read("stream_text.anthropic.sse");
    let cut = &sse[..sse.find("event: message_delta").unwrap()];
    let mut t = AnthropicStream::new("anthropic", Some(0));
    let (chunks, end) = translate_transcript(&mut t, cut.as_bytes());
    assert!(!chunks.is_empty());
    let e = end.unwrap_err();
    assert_eq!(e.kind, ErrorKind::UpstreamProtocol);
    assert!(e.message.contains("message_stop"), "{}", e.message);
}

#[test]
fn untranslatable_requests_are_client_errors_naming_the_field() {
    let base = json("req_basic.openai.json");
    let mut two = base.clone();
    two["n"] = Value::from(2);
    let e = to_messages_request(&serde_json::from_value(two).unwrap()).unwrap_err();
    assert_eq!((e.status, e.param.as_deref()), (400, Some("n")));

    let mut audio = base;
    audio["messages"][1]["content"] = serde_json::json!([{"type": "input_audio",
        "input_audio": {"data": "AAAA", "format": "wav"}}]);
    let e = to_messages_request(&serde_json::from_value(audio).unwrap()).unwrap_err();
    assert_eq!(e.status, 400);
    assert_eq!(e.param.as_deref(), Some("messages[1].content[0]"));
}
