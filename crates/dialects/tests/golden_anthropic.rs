//! Golden fixtures for the Anthropic translators (shapes from Anthropic's published API
//! reference; sources in `fixtures/anthropic/README.md`): canonical request → Messages request,
//! Messages response → canonical response, SSE transcript → canonical chunk sequence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod golden;

use golden::Fixtures;
use heimdall_dialects::anthropic::request::to_messages_request;
use heimdall_dialects::anthropic::response::{MessagesResponse, from_messages_response};
use heimdall_dialects::anthropic::stream::AnthropicStream;
use heimdall_dialects::event::translate_transcript;
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
        let mut got = from_messages_response(native, 0);
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
        let mut t = AnthropicStream::new("anthropic", 0);
        let (chunks, end) = translate_transcript(&mut t, sse.as_bytes());
        fx().check_stream(&format!("stream_{case}.openai.jsonl"), &chunks, end);
    }
}

#[test]
fn a_stream_without_message_stop_is_truncated_not_complete() {
    let sse = read("stream_text.anthropic.sse");
    let cut = &sse[..sse.find("event: message_delta").unwrap()];
    let mut t = AnthropicStream::new("anthropic", 0);
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

/// The chunks' tool-call arguments, joined per call index.
fn streamed_arguments(chunks: &[heimdall_schema::chat::ChatChunk]) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    for c in chunks {
        for ch in &c.choices {
            for tc in ch.delta.tool_calls.iter().flatten() {
                let i = tc.index as usize;
                if args.len() <= i {
                    args.resize(i + 1, String::new());
                }
                if let Some(a) = tc.function.as_ref().and_then(|f| f.arguments.as_deref()) {
                    args[i].push_str(a);
                }
            }
        }
    }
    args
}

fn event(name: &str, data: &str) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

#[test]
fn server_tool_blocks_are_skipped_and_the_rest_of_the_stream_translates() {
    // The web-search streaming example of Anthropic's web search tool page: a server_tool_use
    // block with input_json_delta pieces, its web_search_tool_result, then cited text.
    let sse = [
        event("message_start", r#"{"type":"message_start","message":{"id":"msg_abc","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"usage":{"input_tokens":2679,"output_tokens":3}}}"#),
        event("content_block_start", r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#),
        event("content_block_delta", r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"I'll check."}}"#),
        event("content_block_stop", r#"{"type":"content_block_stop","index":0}"#),
        event("content_block_start", r#"{"type":"content_block_start","index":1,"content_block":{"type":"server_tool_use","id":"srvtoolu_014hJH82Qum7Td6UV8gDXThB","name":"web_search","input":{}}}"#),
        event("content_block_delta", r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}"#),
        event("content_block_delta", r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"query\": \"weather NYC today\"}"}}"#),
        event("content_block_stop", r#"{"type":"content_block_stop","index":1}"#),
        event("content_block_start", r#"{"type":"content_block_start","index":2,"content_block":{"type":"web_search_tool_result","tool_use_id":"srvtoolu_014hJH82Qum7Td6UV8gDXThB","content":[{"type":"web_search_result","title":"Weather","url":"https://weather.example/nyc","encrypted_content":"Ev0DCioIAxgCIiQ3","page_age":null}]}}"#),
        event("content_block_stop", r#"{"type":"content_block_stop","index":2}"#),
        event("content_block_start", r#"{"type":"content_block_start","index":3,"content_block":{"type":"text","text":""}}"#),
        event("content_block_delta", r#"{"type":"content_block_delta","index":3,"delta":{"type":"citations_delta","citation":{"type":"web_search_result_location","cited_text":"Sunny","url":"https://weather.example/nyc","title":"Weather","encrypted_index":"Eo8BCioIAhgBIiQy"}}}"#),
        event("content_block_delta", r#"{"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":" It is sunny."}}"#),
        event("content_block_stop", r#"{"type":"content_block_stop","index":3}"#),
        event("message_delta", r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":510,"server_tool_use":{"web_search_requests":1}}}"#),
        event("message_stop", r#"{"type":"message_stop"}"#),
    ]
    .concat();
    let mut t = AnthropicStream::new("anthropic", 0);
    let (chunks, end) = translate_transcript(&mut t, sse.as_bytes());
    assert!(end.unwrap(), "a complete stream ends cleanly");
    let text: String = chunks
        .iter()
        .flat_map(|c| &c.choices)
        .filter_map(|c| c.delta.content.clone().flatten())
        .collect();
    assert_eq!(text, "I'll check. It is sunny.");
    assert!(
        streamed_arguments(&chunks).is_empty(),
        "no client tool calls"
    );
    let finish: Vec<_> = chunks
        .iter()
        .flat_map(|c| &c.choices)
        .filter_map(|c| c.finish_reason.as_deref())
        .collect();
    assert_eq!(finish, ["stop"]);
    let usage = chunks.last().unwrap().usage.as_ref().unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (2679, 510));
}

#[test]
fn a_streamed_tool_call_without_arguments_has_empty_object_arguments() {
    // Two parallel calls of a tool with no parameters: `input: {}` and one empty partial_json.
    let call = |i: u32, id: &str| {
        [
            event("content_block_start", &format!(r#"{{"type":"content_block_start","index":{i},"content_block":{{"type":"tool_use","id":"{id}","name":"get_time","input":{{}}}}}}"#)),
            event("content_block_delta", &format!(r#"{{"type":"content_block_delta","index":{i},"delta":{{"type":"input_json_delta","partial_json":""}}}}"#)),
            event("content_block_stop", &format!(r#"{{"type":"content_block_stop","index":{i}}}"#)),
        ]
        .concat()
    };
    let sse = [
        event("message_start", r#"{"type":"message_start","message":{"id":"msg_t","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"usage":{"input_tokens":20,"output_tokens":1}}}"#),
        call(0, "toolu_01A"),
        call(1, "toolu_01B"),
        event("message_delta", r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":40}}"#),
        event("message_stop", r#"{"type":"message_stop"}"#),
    ]
    .concat();
    let mut t = AnthropicStream::new("anthropic", 0);
    let (chunks, end) = translate_transcript(&mut t, sse.as_bytes());
    assert!(end.unwrap());
    assert_eq!(streamed_arguments(&chunks), ["{}", "{}"]);
}
