//! The OpenAI chat completions API as a client dialect: the canonical types are its own, so
//! decoding is typed JSON with field-named errors and validation, and a stream is
//! `data: {chunk}` events ending with `data: [DONE]` only after a clean end.
//!
//! Why `[DONE]` matters: a failure after the first chunk becomes a final `data: {"error": …}`
//! event without `[DONE]`, so an SDK raises instead of returning a truncated answer as success.

use heimdall_schema::chat::{ChatChunk, ChatRequest, ChatResponse};
use heimdall_schema::error::GatewayError;
use serde::Serialize;

use crate::client::{ClientDialect, StreamEncoder};
use crate::json::decode_json;

/// `POST /v1/chat/completions`.
#[derive(Debug)]
pub struct ChatCompletions;

impl ClientDialect for ChatCompletions {
    type Route = ();
    type Encoder = SseEncoder;
    const ROUTE: Option<&'static str> = None;
    const NATURAL_PROVIDER: Option<&'static str> = None;
    const CANONICAL_BODY: bool = true;

    fn decode(_: &(), body: &[u8]) -> Result<ChatRequest, GatewayError> {
        let req: ChatRequest = decode_json(body)?;
        req.validate()?;
        Ok(req)
    }

    fn encode(_: &(), response: ChatResponse, _: u64) -> Vec<u8> {
        serde_json::to_vec(&response).unwrap_or_default()
    }

    fn error_body(e: &GatewayError) -> Vec<u8> {
        serde_json::to_vec(&e.to_openai_body()).unwrap_or_default()
    }
}

/// OpenAI's server-sent events.
#[derive(Debug, Default)]
pub struct SseEncoder;

impl StreamEncoder for SseEncoder {
    fn chunk(&mut self, chunk: ChatChunk, out: &mut Vec<u8>) {
        data_frame(&chunk, out);
    }

    fn finish(&mut self, _: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(b"data: [DONE]\n\n");
    }

    fn fail(&mut self, e: &GatewayError, out: &mut Vec<u8>) {
        data_frame(&e.to_openai_body(), out);
    }
}

/// `data: <json>\n\n`; a value that cannot be encoded becomes an error event.
pub fn data_frame<T: Serialize>(value: &T, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(b"data: ");
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.truncate(start + 6);
        out.extend_from_slice(br#"{"error":{"message":"gateway failed to encode a chunk","type":"server_error","param":null,"code":null}}"#);
    }
    out.extend_from_slice(b"\n\n");
}
