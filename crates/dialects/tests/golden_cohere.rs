//! Golden fixtures for the Cohere v2 translators (shapes from Cohere's published API reference;
//! sources in `fixtures/cohere/README.md`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod golden;

use golden::Fixtures;
use heimdall_dialects::cohere::request::{to_chat_request, to_embed_request};
use heimdall_dialects::cohere::response::{from_chat_response, from_embed_response};
use heimdall_dialects::cohere::stream::CohereStream;
use heimdall_dialects::event::translate_transcript;
use heimdall_schema::chat::{ChatRequest, ChatResponse};
use heimdall_schema::embeddings::{EmbeddingRequest, EmbeddingResponse};
use serde_json::Value;

fn fx() -> Fixtures {
    Fixtures::of("cohere")
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
fn requests_translate_to_v2_chat_bodies() {
    for case in cases("req", ".openai.json") {
        let req: ChatRequest =
            serde_json::from_value(json(&format!("req_{case}.openai.json"))).unwrap();
        let got = to_chat_request(&req, req.stream.unwrap_or(false)).unwrap();
        let want = json(&format!("req_{case}.cohere.json"));
        assert_eq!(got, want, "req_{case}\n got: {got:#}\nwant: {want:#}");
    }
}

#[test]
fn responses_translate_to_chat_completions() {
    for case in cases("resp", ".cohere.json") {
        let want: ChatResponse =
            serde_json::from_value(json(&format!("resp_{case}.openai.json"))).unwrap();
        let got = from_chat_response(
            read(&format!("resp_{case}.cohere.json")).as_bytes(),
            &want.model,
            0,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&got).unwrap(),
            serde_json::to_value(&want).unwrap(),
            "resp_{case}"
        );
    }
}

#[test]
fn stream_transcripts_translate_to_chunk_sequences() {
    for case in cases("stream", ".cohere.sse") {
        let sse = read(&format!("stream_{case}.cohere.sse"));
        let mut t = CohereStream::new("command-a-03-2025", 0);
        let (chunks, end) = translate_transcript(&mut t, sse.as_bytes());
        fx().check_stream(&format!("stream_{case}.openai.jsonl"), &chunks, end);
    }
}

#[test]
fn embeddings_translate_both_ways() {
    let req: EmbeddingRequest = serde_json::from_value(json("embed.openai.json")).unwrap();
    assert_eq!(to_embed_request(&req).unwrap(), json("embed.cohere.json"));
    let got = from_embed_response(
        read("embed.cohere_response.json").as_bytes(),
        &req.model,
        req.encoding_format,
    )
    .unwrap();
    let want: EmbeddingResponse =
        serde_json::from_value(json("embed.openai_response.json")).unwrap();
    assert_eq!(
        serde_json::to_value(got).unwrap(),
        serde_json::to_value(want).unwrap()
    );
}

#[test]
fn thinking_becomes_reasoning_and_cache_hits_are_reported() {
    // A reasoning model's answer (Cohere's reasoning page: `thinking` content blocks before the
    // text) with prompt tokens served from the inference cache (`usage.cached_tokens`).
    let body = br#"{"id":"c1","finish_reason":"COMPLETE",
      "message":{"role":"assistant","content":[
        {"type":"thinking","thinking":"Alice's brother has Alice's 2 sisters plus Alice."},
        {"type":"text","text":"3"}]},
      "usage":{"billed_units":{"input_tokens":40,"output_tokens":20},
               "tokens":{"input_tokens":240,"output_tokens":20},"cached_tokens":32}}"#;
    let r = from_chat_response(body, "command-a-reasoning-08-2025", 0).unwrap();
    let m = &r.choices[0].message;
    assert_eq!(m.content.as_deref(), Some("3"));
    assert_eq!(
        m.reasoning_content.as_deref(),
        Some("Alice's brother has Alice's 2 sisters plus Alice.")
    );
    let usage = r.usage.unwrap();
    assert_eq!(usage.prompt_tokens, 40);
    assert_eq!(usage.prompt_tokens_details.unwrap().cached_tokens, Some(32));

    let sse = concat!(
        "event: message-start\ndata: {\"id\":\"c2\",\"type\":\"message-start\",\"delta\":{\"message\":{\"role\":\"assistant\",\"content\":[],\"tool_plan\":\"\",\"tool_calls\":[],\"citations\":[]}}}\n\n",
        "event: content-start\ndata: {\"type\":\"content-start\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"type\":\"thinking\",\"thinking\":\"\"}}}}\n\n",
        "event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"thinking\":\"Two sisters\"}}}}\n\n",
        "event: content-end\ndata: {\"type\":\"content-end\",\"index\":0}\n\n",
        "event: content-start\ndata: {\"type\":\"content-start\",\"index\":1,\"delta\":{\"message\":{\"content\":{\"type\":\"text\",\"text\":\"\"}}}}\n\n",
        "event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":1,\"delta\":{\"message\":{\"content\":{\"text\":\"3\"}}}}\n\n",
        "event: content-end\ndata: {\"type\":\"content-end\",\"index\":1}\n\n",
        "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"COMPLETE\",\"usage\":{\"billed_units\":{\"input_tokens\":40,\"output_tokens\":3},\"tokens\":{\"input_tokens\":240,\"output_tokens\":3},\"cached_tokens\":32}}}\n\n",
    );
    let mut t = CohereStream::new("command-a-reasoning-08-2025", 0);
    let (chunks, end) = translate_transcript(&mut t, sse.as_bytes());
    assert!(end.unwrap());
    let reasoning: String = chunks
        .iter()
        .flat_map(|c| &c.choices)
        .filter_map(|c| c.delta.reasoning_content.clone())
        .collect();
    let text: String = chunks
        .iter()
        .flat_map(|c| &c.choices)
        .filter_map(|c| c.delta.content.clone().flatten())
        .collect();
    assert_eq!((reasoning.as_str(), text.as_str()), ("Two sisters", "3"));
    let usage = chunks.last().unwrap().usage.clone().unwrap();
    assert_eq!(usage.prompt_tokens_details.unwrap().cached_tokens, Some(32));
}
