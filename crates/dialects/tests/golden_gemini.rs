//! Golden fixtures for the Gemini translators (shapes from Google's published Gemini API
//! reference; sources in `fixtures/gemini/README.md`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod golden;

use golden::Fixtures;
use heimdall_dialects::event::translate_transcript;
use heimdall_dialects::gemini::request::{to_embed_request, to_generate_request};
use heimdall_dialects::gemini::response::{from_embed_response, from_generate_response};
use heimdall_dialects::gemini::stream::GeminiStream;
use heimdall_schema::chat::{ChatRequest, ChatResponse};
use heimdall_schema::embeddings::{EmbeddingRequest, EmbeddingResponse};
use heimdall_schema::error::ErrorKind;

fn fx() -> Fixtures {
    Fixtures::of("gemini")
}

#[test]
fn requests_translate_to_generate_content_bodies() {
    for case in fx().cases("req", ".openai.json") {
        let req: ChatRequest =
            serde_json::from_value(fx().json(&format!("req_{case}.openai.json"))).unwrap();
        let got = to_generate_request(&req).unwrap();
        let want = fx().json(&format!("req_{case}.gemini.json"));
        assert_eq!(got, want, "req_{case}\n got: {got:#}\nwant: {want:#}");
    }
}

#[test]
fn responses_translate_to_chat_completions() {
    for case in fx().cases("resp", ".gemini.json") {
        let native = fx().json(&format!("resp_{case}.gemini.json"));
        if case == "prompt_blocked" {
            let e = from_generate_response(&native, "gemini-2.5-flash", 0, "chatcmpl-test")
                .unwrap_err();
            let want = fx().json("resp_prompt_blocked.openai_error.json");
            assert_eq!(e.status, 400);
            assert_eq!(e.kind, ErrorKind::UpstreamBadRequest);
            assert_eq!(e.message, want["error"]["message"].as_str().unwrap());
            assert_eq!(e.code.as_deref(), want["error"]["code"].as_str());
            continue;
        }
        let got = from_generate_response(&native, "gemini-2.5-flash", 0, "chatcmpl-test").unwrap();
        let want: ChatResponse =
            serde_json::from_value(fx().json(&format!("resp_{case}.openai.json"))).unwrap();
        assert_eq!(
            serde_json::to_value(&got).unwrap(),
            serde_json::to_value(&want).unwrap(),
            "resp_{case}"
        );
    }
}

#[test]
fn stream_transcripts_translate_to_chunk_sequences() {
    for case in fx().cases("stream", ".gemini.sse") {
        let sse = fx().read(&format!("stream_{case}.gemini.sse"));
        let mut t = GeminiStream::new("gemini-2.5-flash", 0);
        let (chunks, end) = translate_transcript(&mut t, sse.as_bytes());
        // Gemini has no end event: a clean end is the body ending after a finish reason.
        let end = end.map(|_| true);
        fx().check_stream(&format!("stream_{case}.openai.jsonl"), &chunks, end);
    }
}

#[test]
fn a_stream_cut_before_its_finish_reason_is_truncated() {
    let sse = fx().read("stream_text.gemini.sse");
    let cut = &sse[..sse.rfind("data: ").unwrap()];
    let mut t = GeminiStream::new("gemini-2.5-flash", 0);
    let (_, end) = translate_transcript(&mut t, cut.as_bytes());
    assert_eq!(end.unwrap_err().kind, ErrorKind::UpstreamProtocol);
}

#[test]
fn embeddings_translate_both_ways() {
    for (case, batch) in [("single", false), ("batch", true)] {
        let req: EmbeddingRequest =
            serde_json::from_value(fx().json(&format!("embed_{case}.openai.json"))).unwrap();
        let (body, is_batch) = to_embed_request(&req).unwrap();
        assert_eq!(is_batch, batch);
        assert_eq!(
            body,
            fx().json(&format!("embed_{case}.gemini.json")),
            "{case}"
        );
        let got = from_embed_response(
            &fx().json(&format!("embed_{case}.gemini_response.json")),
            &req.model,
            req.encoding_format,
        );
        let want: EmbeddingResponse =
            serde_json::from_value(fx().json(&format!("embed_{case}.openai_response.json")))
                .unwrap();
        assert_eq!(
            serde_json::to_value(got).unwrap(),
            serde_json::to_value(want).unwrap(),
            "{case}"
        );
    }
}

#[test]
fn a_tool_result_without_its_call_is_a_client_error() {
    let req: ChatRequest = serde_json::from_value(serde_json::json!({"model": "m",
        "messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]}))
    .unwrap();
    let e = to_generate_request(&req).unwrap_err();
    assert_eq!(
        (e.status, e.param.as_deref()),
        (400, Some("messages[0].tool_call_id"))
    );
}
