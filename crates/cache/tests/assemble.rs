//! Streams ↔ complete responses: OpenAI-shaped fixtures (the chat-streaming and completions
//! references) assembled the way the SDK's accumulator does, and responses cut into chunks and
//! put back together unchanged.
#![allow(clippy::unwrap_used, missing_docs)]

use heimdall_cache::assemble::{
    chat_chunks_from_response, chat_response_from_chunks, completion_chunks_from_response,
    completion_response_from_chunks,
};
use heimdall_schema::chat::{ChatChunk, ChatResponse, ThinkingBlock};
use heimdall_schema::completions::{CompletionChunk, CompletionResponse};
use serde_json::{Value, json};

fn chat_chunks(frames: &[Value]) -> Vec<ChatChunk> {
    frames
        .iter()
        .map(|f| serde_json::from_value(f.clone()).unwrap())
        .collect()
}

fn as_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

/// A chunk of the fixture streams: the envelope OpenAI puts on every chunk.
fn frame(choices: Value) -> Value {
    json!({"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion.chunk",
        "created": 1741570283, "model": "gpt-4o-2024-08-06", "service_tier": "default",
        "system_fingerprint": "fp_eb9dce56a8", "choices": choices, "usage": null,
        "obfuscation": "x7Q2"})
}

fn usage_frame() -> Value {
    json!({"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion.chunk",
        "created": 1741570283, "model": "gpt-4o-2024-08-06", "service_tier": "default",
        "system_fingerprint": "fp_eb9dce56a8", "choices": [],
        "usage": {"prompt_tokens": 82, "completion_tokens": 43, "total_tokens": 125,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}})
}

#[test]
fn parallel_tool_calls_arrive_in_pieces() {
    let call = |index: u32, delta: Value| {
        frame(json!([{"index": 0, "delta": {"tool_calls": [
            {"index": index, "function": {"arguments": delta}}]}, "logprobs": null, "finish_reason": null}]))
    };
    let frames = vec![
        frame(
            json!([{"index": 0, "delta": {"role": "assistant", "content": null, "refusal": null,
            "tool_calls": [{"index": 0, "id": "call_DdmO9pD3xa9XTPNJ32zg2hcA", "type": "function",
                "function": {"name": "get_weather", "arguments": ""}}]},
            "logprobs": null, "finish_reason": null}]),
        ),
        call(0, json!("{\"lo")),
        call(0, json!("cation\": \"P")),
        call(0, json!("aris, France\"}")),
        frame(json!([{"index": 0, "delta": {"tool_calls": [{"index": 1,
            "id": "call_ABPQWNtmqXMXMQQPmMBCJtNp", "type": "function",
            "function": {"name": "get_weather", "arguments": ""}}]},
            "logprobs": null, "finish_reason": null}])),
        call(1, json!("{\"location\"")),
        call(1, json!(": \"Bogotá, Colombia\"}")),
        frame(json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "tool_calls"}])),
        usage_frame(),
    ];
    let resp = chat_response_from_chunks(&chat_chunks(&frames)).unwrap();
    assert_eq!(
        as_json(&resp),
        json!({"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion",
            "created": 1741570283, "model": "gpt-4o-2024-08-06", "service_tier": "default",
            "system_fingerprint": "fp_eb9dce56a8",
            "choices": [{"index": 0, "logprobs": null, "finish_reason": "tool_calls",
                "message": {"role": "assistant", "content": null, "refusal": null, "tool_calls": [
                    {"id": "call_DdmO9pD3xa9XTPNJ32zg2hcA", "type": "function",
                        "function": {"name": "get_weather", "arguments": "{\"location\": \"Paris, France\"}"}},
                    {"id": "call_ABPQWNtmqXMXMQQPmMBCJtNp", "type": "function",
                        "function": {"name": "get_weather", "arguments": "{\"location\": \"Bogotá, Colombia\"}"}}]}}],
            "usage": usage_frame()["usage"]})
    );
    // And back: the same response again.
    let again = chat_response_from_chunks(&chat_chunks_from_response(&resp)).unwrap();
    assert_eq!(again, resp);
}

#[test]
fn two_choices_interleaved_with_usage() {
    let text = |index: u32, delta: Value, finish: Value| {
        frame(json!([{"index": index, "delta": delta, "logprobs": null, "finish_reason": finish}]))
    };
    let frames = vec![
        text(
            0,
            json!({"role": "assistant", "content": "", "refusal": null}),
            Value::Null,
        ),
        text(
            1,
            json!({"role": "assistant", "content": "", "refusal": null}),
            Value::Null,
        ),
        text(0, json!({"content": "Hello"}), Value::Null),
        text(1, json!({"content": "Hi"}), Value::Null),
        text(0, json!({"content": " there!"}), Value::Null),
        text(1, json!({"content": " 👋"}), Value::Null),
        text(1, json!({}), json!("stop")),
        text(0, json!({}), json!("length")),
        usage_frame(),
    ];
    let chunks = chat_chunks(&frames);
    let resp = chat_response_from_chunks(&chunks).unwrap();
    assert_eq!(resp.object, "chat.completion");
    assert_eq!(resp.choices.len(), 2);
    let (a, b) = (&resp.choices[0], &resp.choices[1]);
    assert_eq!((a.index, b.index), (0, 1));
    assert_eq!(a.message.content.as_deref(), Some("Hello there!"));
    assert_eq!(b.message.content.as_deref(), Some("Hi 👋"));
    assert_eq!(a.message.refusal, Some(None));
    assert_eq!(a.finish_reason.as_deref(), Some("length"));
    assert_eq!(b.finish_reason.as_deref(), Some("stop"));
    assert_eq!(resp.usage.as_ref().unwrap().total_tokens, 125);
    assert_eq!(
        resp.usage
            .as_ref()
            .unwrap()
            .prompt_tokens_details
            .as_ref()
            .unwrap()
            .cached_tokens,
        Some(0)
    );
    // The per-chunk obfuscation padding is not part of the response.
    assert!(resp.extra.is_empty());
    let back = chat_chunks_from_response(&resp);
    assert_eq!(chat_response_from_chunks(&back).unwrap(), resp);
}

#[test]
fn refusal_and_logprobs_pieces() {
    let lp = |token: &str| {
        json!({"content": null, "refusal": [{"token": token, "logprob": -0.1,
        "bytes": token.as_bytes(), "top_logprobs": []}]})
    };
    let frames = vec![
        frame(
            json!([{"index": 0, "delta": {"role": "assistant", "content": null, "refusal": ""},
            "logprobs": null, "finish_reason": null}]),
        ),
        frame(
            json!([{"index": 0, "delta": {"refusal": "I'm sorry"}, "logprobs": lp("I'm sorry"),
            "finish_reason": null}]),
        ),
        frame(
            json!([{"index": 0, "delta": {"refusal": ", I can't help."}, "logprobs": lp(", I can't help."),
            "finish_reason": null}]),
        ),
        frame(json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"}])),
    ];
    let resp = chat_response_from_chunks(&chat_chunks(&frames)).unwrap();
    let c = &resp.choices[0];
    assert_eq!(c.message.content, None);
    assert_eq!(
        c.message.refusal,
        Some(Some("I'm sorry, I can't help.".to_owned()))
    );
    let tokens: Vec<&str> = c.logprobs.as_ref().unwrap()["refusal"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["token"].as_str().unwrap())
        .collect();
    assert_eq!(tokens, ["I'm sorry", ", I can't help."]);
    assert_eq!(resp.usage, None);
}

/// A response with everything the canonical types carry.
fn rich_response() -> ChatResponse {
    serde_json::from_value(json!({
        "id": "chatcmpl-123", "object": "chat.completion", "created": 1741569952,
        "model": "claude-sonnet-4", "system_fingerprint": "fp_1", "service_tier": "default",
        "prompt_filter_results": [{"prompt_index": 0}],
        "choices": [
            {"index": 0, "finish_reason": "tool_calls", "logprobs": {"content": [{"token": "I", "logprob": -0.5,
                "bytes": [73], "top_logprobs": []}], "refusal": null},
                "content_filter_results": {"hate": {"filtered": false}},
                "message": {"role": "assistant", "content": "I'll check.", "refusal": null,
                    "reasoning_content": "The user wants weather.",
                    "thinking_blocks": [{"type": "thinking", "thinking": "The user wants weather.", "signature": "sig=="},
                        {"type": "redacted_thinking", "data": "enc=="}],
                    "annotations": [{"type": "url_citation", "url_citation": {"url": "https://example.com"}}],
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                        {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]}},
            {"index": 1, "finish_reason": "stop", "logprobs": null,
                "message": {"role": "assistant", "content": "", "refusal": null}}
        ],
        "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 6}}
    }))
    .unwrap()
}

#[test]
fn a_response_survives_the_round_trip() {
    let resp = rich_response();
    let chunks = chat_chunks_from_response(&resp);
    assert_eq!(chat_response_from_chunks(&chunks).unwrap(), resp);
    // Without usage, without choices: still the same.
    let mut bare = rich_response();
    bare.usage = None;
    assert_eq!(
        chat_response_from_chunks(&chat_chunks_from_response(&bare)).unwrap(),
        bare
    );
    bare.choices.clear();
    assert_eq!(
        chat_response_from_chunks(&chat_chunks_from_response(&bare)).unwrap(),
        bare
    );
}

#[test]
fn the_chunks_of_a_response_look_like_an_openai_stream() {
    let resp = rich_response();
    let chunks = chat_chunks_from_response(&resp);
    // Choice 0: message, finish; choice 1: message, finish; usage.
    assert_eq!(chunks.len(), 5);
    for c in &chunks {
        assert_eq!(c.object, "chat.completion.chunk");
        assert_eq!(
            (c.id.as_str(), c.created, c.model.as_str()),
            ("chatcmpl-123", 1741569952, "claude-sonnet-4")
        );
        assert_eq!(c.system_fingerprint.as_deref(), Some("fp_1"));
    }
    let first = as_json(&chunks[0]);
    assert_eq!(first["choices"][0]["index"], 0);
    assert_eq!(first["choices"][0]["finish_reason"], Value::Null);
    let delta = &first["choices"][0]["delta"];
    assert_eq!(delta["role"], "assistant");
    assert_eq!(delta["content"], "I'll check.");
    assert_eq!(delta["reasoning_content"], "The user wants weather.");
    assert_eq!(delta["thinking_blocks"][0]["signature"], "sig==");
    assert_eq!(
        delta["tool_calls"],
        json!([{"index": 0, "id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"index": 1, "id": "call_2", "type": "function",
                "function": {"name": "get_time", "arguments": "{}"}}])
    );
    let finish = as_json(&chunks[1]);
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(chunks[2].choices[0].index, 1);
    assert_eq!(chunks[3].choices[0].finish_reason.as_deref(), Some("stop"));
    let last = &chunks[4];
    assert!(last.is_usage_only());
    assert_eq!(last.usage, resp.usage);
    assert!(chunks[..4].iter().all(|c| c.usage.is_none()));
}

#[test]
fn an_empty_stream_is_no_response() {
    assert_eq!(chat_response_from_chunks(&[]), None);
    assert_eq!(completion_response_from_chunks(&[]), None);
}

#[test]
fn signature_only_blocks_take_the_reasoning_streamed_before_them() {
    let chunk = |delta: Value| {
        frame(json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": null}]))
    };
    let frames = vec![
        chunk(json!({"role": "assistant", "content": ""})),
        chunk(json!({"reasoning_content": "Let me "})),
        chunk(json!({"reasoning_content": "think."})),
        chunk(json!({"thinking_blocks": [{"type": "thinking", "signature": "sig1"}]})),
        chunk(json!({"reasoning_content": "More."})),
        chunk(json!({"thinking_blocks": [{"type": "thinking", "signature": "sig2"}]})),
        chunk(json!({"thinking_blocks": [{"type": "redacted_thinking", "data": "xx"}]})),
        chunk(json!({"content": "Answer"})),
    ];
    let resp = chat_response_from_chunks(&chat_chunks(&frames)).unwrap();
    let m = &resp.choices[0].message;
    assert_eq!(m.reasoning_content.as_deref(), Some("Let me think.More."));
    assert_eq!(
        m.thinking_blocks,
        Some(vec![
            ThinkingBlock::thinking(Some("Let me think.".into()), Some("sig1".into())),
            ThinkingBlock::thinking(Some("More.".into()), Some("sig2".into())),
            ThinkingBlock::redacted("xx".into()),
        ])
    );
    assert_eq!(m.content.as_deref(), Some("Answer"));
    assert_eq!(
        chat_response_from_chunks(&chat_chunks_from_response(&resp)).unwrap(),
        resp
    );
}

#[test]
fn thinking_pieces_continue_the_open_block() {
    let chunk = |delta: Value| frame(json!([{"index": 0, "delta": delta}]));
    let frames = vec![
        chunk(json!({"thinking_blocks": [{"type": "thinking", "thinking": "a"}]})),
        chunk(json!({"thinking_blocks": [{"type": "thinking", "thinking": "b"}]})),
        chunk(json!({"thinking_blocks": [{"type": "thinking", "thinking": "", "signature": "s"}]})),
        chunk(json!({"thinking_blocks": [{"type": "thinking", "thinking": "c"}]})),
    ];
    let resp = chat_response_from_chunks(&chat_chunks(&frames)).unwrap();
    assert_eq!(
        resp.choices[0].message.thinking_blocks,
        Some(vec![
            ThinkingBlock::thinking(Some("ab".into()), Some("s".into())),
            ThinkingBlock::thinking(Some("c".into()), None),
        ])
    );
}

fn completion_chunks(frames: &[Value]) -> Vec<CompletionChunk> {
    frames
        .iter()
        .map(|f| serde_json::from_value(f.clone()).unwrap())
        .collect()
}

#[test]
fn a_text_completion_stream_with_two_choices() {
    let piece = |index: u32, text: &str, finish: Value| {
        json!({"id": "cmpl-7iA7iJjj8V2zOkCGvWF2hAkDWBQZe", "object": "text_completion",
            "created": 1690759702, "model": "gpt-3.5-turbo-instruct", "system_fingerprint": "fp_44709d6fcb",
            "choices": [{"text": text, "index": index, "logprobs": null, "finish_reason": finish}]})
    };
    let frames = vec![
        piece(0, "\n\nThis", Value::Null),
        piece(1, "\n\nIt", Value::Null),
        piece(0, " is a test.", Value::Null),
        piece(1, " works.", Value::Null),
        piece(0, "", json!("stop")),
        piece(1, "", json!("length")),
        json!({"id": "cmpl-7iA7iJjj8V2zOkCGvWF2hAkDWBQZe", "object": "text_completion",
            "created": 1690759702, "model": "gpt-3.5-turbo-instruct", "choices": [],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}),
    ];
    let resp = completion_response_from_chunks(&completion_chunks(&frames)).unwrap();
    assert_eq!(
        as_json(&resp),
        json!({"id": "cmpl-7iA7iJjj8V2zOkCGvWF2hAkDWBQZe", "object": "text_completion",
            "created": 1690759702, "model": "gpt-3.5-turbo-instruct", "system_fingerprint": "fp_44709d6fcb",
            "choices": [
                {"text": "\n\nThis is a test.", "index": 0, "logprobs": null, "finish_reason": "stop"},
                {"text": "\n\nIt works.", "index": 1, "logprobs": null, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}})
    );
    let chunks = completion_chunks_from_response(&resp);
    assert_eq!(chunks.len(), 5);
    assert!(
        chunks
            .iter()
            .all(|c| c.object == "text_completion" && c.id == resp.id)
    );
    assert_eq!(chunks[0].choices[0].text, "\n\nThis is a test.");
    assert_eq!(chunks[0].choices[0].finish_reason, None);
    assert_eq!(chunks[1].choices[0].finish_reason.as_deref(), Some("stop"));
    assert!(chunks[4].choices.is_empty() && chunks[4].usage.is_some());
    assert_eq!(completion_response_from_chunks(&chunks).unwrap(), resp);
}

#[test]
fn a_text_completion_with_logprobs_survives_the_round_trip() {
    let resp: CompletionResponse = serde_json::from_value(json!({
        "id": "cmpl-1", "object": "text_completion", "created": 1, "model": "davinci-002",
        "choices": [{"text": " Paris", "index": 0, "finish_reason": "length",
            "logprobs": {"tokens": [" Paris"], "token_logprobs": [-0.01], "top_logprobs": [{" Paris": -0.01}],
                "text_offset": [10]}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        "warning": "This model version is deprecated."
    }))
    .unwrap();
    let chunks = completion_chunks_from_response(&resp);
    assert_eq!(completion_response_from_chunks(&chunks).unwrap(), resp);
    // Streamed log probabilities arrive piece by piece and are concatenated.
    let piece = |tok: &str, off: u32| {
        json!({"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "davinci-002",
            "choices": [{"text": tok, "index": 0, "finish_reason": null,
                "logprobs": {"tokens": [tok], "token_logprobs": [-0.1], "top_logprobs": null, "text_offset": [off]}}]})
    };
    let resp =
        completion_response_from_chunks(&completion_chunks(&[piece(" a", 0), piece(" b", 2)]))
            .unwrap();
    assert_eq!(resp.choices[0].text, " a b");
    assert_eq!(
        resp.choices[0].logprobs,
        Some(
            json!({"tokens": [" a", " b"], "token_logprobs": [-0.1, -0.1], "top_logprobs": null,
            "text_offset": [0, 2]})
        )
    );
}
