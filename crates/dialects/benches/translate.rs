//! Micro-benchmarks of the provider translation hot paths: every request to a non-OpenAI
//! provider is translated (and serialised) on the way out, every response parsed and translated
//! on the way back, and every streamed event decoded and translated — all inline on the request
//! path, so a regression here is added latency on every call. Inputs are the golden fixtures of
//! `tests/fixtures/<provider>/` (the same ones `tests/golden_*.rs` check for correctness), one
//! representative tool-calling case per provider, plus the SSE decoder and the per-chunk
//! decode + encode of the OpenAI-compatible pass-through.
//!
//! Run: `cargo bench -p heimdall-providers --bench translate`; CI runs each bench once as a
//! smoke test via `cargo test --workspace --benches`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use divan::counter::BytesCount;
use divan::{Bencher, black_box};
use heimdall_schema::chat::{ChatChunk, ChatRequest};

fn main() {
    divan::main();
}

/// A canonical (OpenAI-shaped) request fixture, parsed once outside the timed loop.
fn chat_request(json: &str) -> ChatRequest {
    serde_json::from_str(json).expect("canonical request fixture")
}

mod anthropic {
    //! Fixtures: `req_tools`, `resp_tool_use`, `stream_tool_use`.
    use super::*;
    use heimdall_dialects::anthropic::request::to_messages_request;
    use heimdall_dialects::anthropic::response::{MessagesResponse, from_messages_response};
    use heimdall_dialects::anthropic::stream::AnthropicStream;
    use heimdall_dialects::event::translate_transcript;

    const REQ: &str = include_str!("../tests/fixtures/anthropic/req_tools.openai.json");
    const RESP: &str = include_str!("../tests/fixtures/anthropic/resp_tool_use.anthropic.json");
    const STREAM: &str = include_str!("../tests/fixtures/anthropic/stream_tool_use.anthropic.sse");

    /// Canonical request → Messages body → wire bytes.
    #[divan::bench]
    fn request_tools(bencher: Bencher) {
        let req = chat_request(REQ);
        bencher.bench_local(|| {
            let body = to_messages_request(black_box(&req)).unwrap();
            serde_json::to_vec(&body).unwrap()
        });
    }

    /// Wire bytes → Messages response → canonical response.
    #[divan::bench]
    fn response_tool_use(bencher: Bencher) {
        let bytes = RESP.as_bytes();
        bencher.bench_local(|| {
            let native: MessagesResponse = serde_json::from_slice(black_box(bytes)).unwrap();
            from_messages_response(native, 0)
        });
    }

    /// Whole SSE transcript → canonical chunks.
    #[divan::bench]
    fn stream_tool_use(bencher: Bencher) {
        let sse = STREAM.as_bytes();
        let mut check = AnthropicStream::new("anthropic", 0);
        assert!(matches!(translate_transcript(&mut check, sse).1, Ok(true)));
        bencher.counter(BytesCount::new(sse.len())).bench_local(|| {
            let mut t = AnthropicStream::new("anthropic", 0);
            translate_transcript(&mut t, black_box(sse))
        });
    }
}

mod gemini {
    //! Fixtures: `req_tools`, `resp_function_call`, `stream_function_call`.
    use super::*;
    use heimdall_dialects::event::translate_transcript;
    use heimdall_dialects::gemini::request::to_generate_request;
    use heimdall_dialects::gemini::response::from_generate_response;
    use heimdall_dialects::gemini::stream::GeminiStream;
    use serde_json::Value;

    const MODEL: &str = "gemini-2.5-flash";
    const REQ: &str = include_str!("../tests/fixtures/gemini/req_tools.openai.json");
    const RESP: &str = include_str!("../tests/fixtures/gemini/resp_function_call.gemini.json");
    const STREAM: &str = include_str!("../tests/fixtures/gemini/stream_function_call.gemini.sse");

    /// Canonical request → generateContent body → wire bytes.
    #[divan::bench]
    fn request_tools(bencher: Bencher) {
        let req = chat_request(REQ);
        bencher.bench_local(|| {
            let body = to_generate_request(black_box(&req)).unwrap();
            serde_json::to_vec(&body).unwrap()
        });
    }

    /// Wire bytes → JSON → canonical response.
    #[divan::bench]
    fn response_function_call(bencher: Bencher) {
        let bytes = RESP.as_bytes();
        bencher.bench_local(|| {
            let native: Value = serde_json::from_slice(black_box(bytes)).unwrap();
            from_generate_response(&native, MODEL, 0, "chatcmpl-test").unwrap()
        });
    }

    /// Whole SSE transcript → canonical chunks (Gemini ends at the body's end).
    #[divan::bench]
    fn stream_function_call(bencher: Bencher) {
        let sse = STREAM.as_bytes();
        let mut check = GeminiStream::new(MODEL, 0);
        assert!(translate_transcript(&mut check, sse).1.is_ok());
        bencher.counter(BytesCount::new(sse.len())).bench_local(|| {
            let mut t = GeminiStream::new(MODEL, 0);
            translate_transcript(&mut t, black_box(sse))
        });
    }
}

mod cohere {
    //! Fixtures: `req_tools`, `resp_tool_call`, `stream_tool_call`.
    use super::*;
    use heimdall_dialects::cohere::request::to_chat_request;
    use heimdall_dialects::cohere::response::from_chat_response;
    use heimdall_dialects::cohere::stream::CohereStream;
    use heimdall_dialects::event::translate_transcript;

    const MODEL: &str = "command-a-03-2025";
    const REQ: &str = include_str!("../tests/fixtures/cohere/req_tools.openai.json");
    const RESP: &str = include_str!("../tests/fixtures/cohere/resp_tool_call.cohere.json");
    const STREAM: &str = include_str!("../tests/fixtures/cohere/stream_tool_call.cohere.sse");

    /// Canonical request → v2 chat body → wire bytes.
    #[divan::bench]
    fn request_tools(bencher: Bencher) {
        let req = chat_request(REQ);
        let stream = req.stream.unwrap_or(false);
        bencher.bench_local(|| {
            let body = to_chat_request(black_box(&req), stream).unwrap();
            serde_json::to_vec(&body).unwrap()
        });
    }

    /// Wire bytes → canonical response (`from_chat_response` parses the bytes itself).
    #[divan::bench]
    fn response_tool_call(bencher: Bencher) {
        let bytes = RESP.as_bytes();
        bencher.bench_local(|| from_chat_response(black_box(bytes), MODEL, 0).unwrap());
    }

    /// Whole SSE transcript → canonical chunks.
    #[divan::bench]
    fn stream_tool_call(bencher: Bencher) {
        let sse = STREAM.as_bytes();
        let mut check = CohereStream::new(MODEL, 0);
        assert!(matches!(translate_transcript(&mut check, sse).1, Ok(true)));
        bencher.counter(BytesCount::new(sse.len())).bench_local(|| {
            let mut t = CohereStream::new(MODEL, 0);
            translate_transcript(&mut t, black_box(sse))
        });
    }
}

mod bedrock {
    //! Fixtures: `req_tools`, `resp_tool_use`, `stream_tool_use` (decoded events; the `_framed`
    //! bench re-frames them as the binary event stream the wire carries).
    use super::*;
    use aws_smithy_eventstream::frame::write_message_to;
    use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
    use heimdall_dialects::bedrock::request::to_converse_request;
    use heimdall_dialects::bedrock::response::from_converse_response;
    use heimdall_dialects::bedrock::stream::{
        BedrockEvent, BedrockStream, decode_all, translate_events,
    };
    use serde_json::Value;

    const MODEL: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";
    const REQ: &str = include_str!("../tests/fixtures/bedrock/req_tools.openai.json");
    const RESP: &str = include_str!("../tests/fixtures/bedrock/resp_tool_use.bedrock.json");
    const STREAM: &str = include_str!("../tests/fixtures/bedrock/stream_tool_use.bedrock.json");

    /// The fixture's decoded events, as `tests/golden_bedrock.rs` builds them.
    fn events() -> Vec<BedrockEvent> {
        let list: Vec<Value> = serde_json::from_str(STREAM).expect("an array of events");
        list.into_iter()
            .map(|e| {
                let (kind, exception) = match (e.get("event"), e.get("exception")) {
                    (Some(kind), _) => (kind, false),
                    (None, Some(kind)) => (kind, true),
                    _ => unreachable!("entry without event or exception"),
                };
                BedrockEvent {
                    kind: kind.as_str().unwrap().to_owned(),
                    exception,
                    payload: e["payload"].clone(),
                }
            })
            .collect()
    }

    /// One event as an event-stream frame (as in `tests/golden_bedrock.rs`).
    fn frame(ev: &BedrockEvent) -> Vec<u8> {
        let headers: Vec<(&str, &str)> = if ev.exception {
            vec![
                (":message-type", "exception"),
                (":exception-type", &ev.kind),
            ]
        } else {
            vec![(":message-type", "event"), (":event-type", &ev.kind)]
        };
        let mut m = Message::new(ev.payload.to_string());
        for (k, v) in headers {
            m = m.add_header(Header::new(
                k.to_owned(),
                HeaderValue::String(v.to_owned().into()),
            ));
        }
        let mut buf = Vec::new();
        write_message_to(&m, &mut buf).unwrap();
        buf
    }

    /// Canonical request → Converse body → wire bytes.
    #[divan::bench]
    fn request_tools(bencher: Bencher) {
        let req = chat_request(REQ);
        bencher.bench_local(|| {
            let body = to_converse_request(black_box(&req)).unwrap();
            serde_json::to_vec(&body).unwrap()
        });
    }

    /// Wire bytes → JSON → canonical response.
    #[divan::bench]
    fn response_tool_use(bencher: Bencher) {
        let bytes = RESP.as_bytes();
        bencher.bench_local(|| {
            let native: Value = serde_json::from_slice(black_box(bytes)).unwrap();
            from_converse_response(&native, "test-id", MODEL, 0)
        });
    }

    /// Decoded events → canonical chunks.
    #[divan::bench]
    fn stream_tool_use(bencher: Bencher) {
        let evs = events();
        let mut check = BedrockStream::new("test-id", MODEL, 0);
        assert!(matches!(translate_events(&mut check, &evs).1, Ok(true)));
        bencher.bench_local(|| {
            let mut t = BedrockStream::new("test-id", MODEL, 0);
            translate_events(&mut t, black_box(&evs))
        });
    }

    /// Binary event-stream frames → decoded events (CRC checks, JSON payloads) → chunks.
    #[divan::bench]
    fn stream_tool_use_framed(bencher: Bencher) {
        let evs = events();
        let bytes: Vec<u8> = evs.iter().flat_map(frame).collect();
        assert_eq!(decode_all(&bytes).unwrap(), evs);
        bencher
            .counter(BytesCount::new(bytes.len()))
            .bench_local(|| {
                let decoded = decode_all(black_box(&bytes)).unwrap();
                let mut t = BedrockStream::new("test-id", MODEL, 0);
                translate_events(&mut t, &decoded)
            });
    }
}

mod sse {
    //! `SseDecoder` over an OpenAI-style body: 20 `chat.completion.chunk` events + `[DONE]`.
    use super::*;
    use heimdall_dialects::sse::SseDecoder;

    const EVENTS: usize = 20;

    /// A typical OpenAI streaming chunk (the `i`th of `EVENTS`).
    pub(crate) fn chunk_json(i: usize) -> String {
        let delta = if i == 0 {
            serde_json::json!({"role": "assistant", "content": ""})
        } else {
            serde_json::json!({"content": format!(" token{i}")})
        };
        let finish = (i + 1 == EVENTS).then_some("stop");
        serde_json::json!({
            "id": "chatcmpl-B9MHDbslfRAdUxvnDPD3sCDUEDU0e",
            "object": "chat.completion.chunk",
            "created": 1_741_569_952,
            "model": "gpt-4o-mini-2024-07-18",
            "system_fingerprint": "fp_06737a9306",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]
        })
        .to_string()
    }

    fn body() -> Vec<u8> {
        let mut s = String::new();
        for i in 0..EVENTS {
            s.push_str("data: ");
            s.push_str(&chunk_json(i));
            s.push_str("\n\n");
        }
        s.push_str("data: [DONE]\n\n");
        s.into_bytes()
    }

    fn decode(body: &[u8], piece: usize) -> Vec<heimdall_dialects::sse::SseEvent> {
        let mut d = SseDecoder::new();
        let mut out = Vec::with_capacity(EVENTS + 1);
        for p in body.chunks(piece) {
            d.feed(p, &mut out);
        }
        out
    }

    /// The whole body in one `feed`.
    #[divan::bench]
    fn decode_whole(bencher: Bencher) {
        let body = body();
        assert_eq!(decode(&body, body.len()).len(), EVENTS + 1);
        bencher
            .counter(BytesCount::new(body.len()))
            .bench_local(|| decode(black_box(&body), body.len()));
    }

    /// The body in 64-byte pieces (events split across reads, as off a socket).
    #[divan::bench]
    fn decode_64b_pieces(bencher: Bencher) {
        let body = body();
        assert_eq!(decode(&body, 64), decode(&body, body.len()));
        bencher
            .counter(BytesCount::new(body.len()))
            .bench_local(|| decode(black_box(&body), 64));
    }
}

mod openai_chunk {
    //! The per-chunk work of the OpenAI-compatible pass-through: parse an upstream
    //! `chat.completion.chunk`, re-serialise it for the client.
    use super::*;

    fn chunk_bytes() -> Vec<u8> {
        super::sse::chunk_json(7).into_bytes()
    }

    #[divan::bench]
    fn decode(bencher: Bencher) {
        let bytes = chunk_bytes();
        bencher.bench_local(|| serde_json::from_slice::<ChatChunk>(black_box(&bytes)).unwrap());
    }

    #[divan::bench]
    fn encode(bencher: Bencher) {
        let chunk: ChatChunk = serde_json::from_slice(&chunk_bytes()).unwrap();
        bencher.bench_local(|| serde_json::to_vec(black_box(&chunk)).unwrap());
    }

    #[divan::bench]
    fn decode_encode(bencher: Bencher) {
        let bytes = chunk_bytes();
        bencher.bench_local(|| {
            let chunk: ChatChunk = serde_json::from_slice(black_box(&bytes)).unwrap();
            serde_json::to_vec(&chunk).unwrap()
        });
    }
}
