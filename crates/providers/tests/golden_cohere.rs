//! Golden fixtures for the Cohere v2 translators (shapes from Cohere's published API reference;
//! sources in `fixtures/cohere/README.md`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod golden;

use golden::Fixtures;
use heimdall_providers::cohere::request::{to_chat_request, to_embed_request};
use heimdall_providers::cohere::response::{from_chat_response, from_embed_response};
use heimdall_providers::cohere::stream::CohereStream;
use heimdall_providers::sse_translate::translate_transcript;
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
