//! Golden fixtures for the Anthropic translators (shapes from Anthropic's published API
//! reference; sources in `fixtures/anthropic/README.md`): canonical request → Messages request,
//! Messages response → canonical response, SSE transcript → canonical chunk sequence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use heimdall_providers::anthropic::request::to_messages_request;
use heimdall_providers::anthropic::response::{MessagesResponse, from_messages_response};
use heimdall_providers::anthropic::stream::AnthropicStream;
use heimdall_providers::sse_translate::translate_transcript;
use heimdall_schema::chat::{ChatChunk, ChatRequest, ChatResponse};
use heimdall_schema::error::ErrorKind;
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/anthropic")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn json(name: &str) -> Value {
    serde_json::from_str(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Cases present as `<prefix>_<case>.<ext>` files.
fn cases(prefix: &str, ext: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| {
            n.strip_prefix(&format!("{prefix}_"))?
                .strip_suffix(ext)
                .map(str::to_owned)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no {prefix} fixtures");
    out
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
        let expected = read(&format!("stream_{case}.openai.jsonl"));
        let mut want_chunks = Vec::new();
        let mut want_error: Option<Value> = None;
        for line in expected.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).unwrap();
            if v.get("error").is_some() {
                want_error = Some(v);
            } else {
                let c: ChatChunk = serde_json::from_value(v).unwrap();
                want_chunks.push(serde_json::to_value(c).unwrap());
            }
        }
        let got: Vec<Value> = chunks
            .iter()
            .map(|c| serde_json::to_value(c).unwrap())
            .collect();
        assert_eq!(
            got.len(),
            want_chunks.len(),
            "stream_{case}: chunk count\n{got:#?}"
        );
        for (i, (g, w)) in got.iter().zip(&want_chunks).enumerate() {
            assert_eq!(g, w, "stream_{case}: chunk {i}");
        }
        match (end, want_error) {
            (Ok(true), None) => {}
            (Err(e), Some(w)) => {
                assert_eq!(e.kind, ErrorKind::UpstreamStreamError, "stream_{case}");
                assert_eq!(
                    e.code.as_deref(),
                    w["error"]["type"].as_str(),
                    "stream_{case}"
                );
                let msg = w["error"]["message"].as_str().unwrap();
                assert!(e.message.contains(msg), "stream_{case}: {}", e.message);
            }
            (end, want) => panic!("stream_{case}: ended {end:?}, expected error {want:?}"),
        }
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
