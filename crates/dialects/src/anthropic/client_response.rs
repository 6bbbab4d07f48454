//! Canonical replies → Anthropic's shapes: the Messages response, the streaming event sequence
//! (`message_start`, `content_block_start/delta/stop`, `message_delta`, `message_stop`), and
//! `{"type":"error","error":{…}}` errors, so the Anthropic SDK reads them as from Anthropic.
//!
//! Why a state machine for streams: OpenAI chunks interleave text and tool-call fragments by
//! index; Anthropic wants numbered content blocks opened and closed in order, usage in
//! `message_start` and `message_delta`, and the stop reason at the end.

use heimdall_schema::chat::{ChatChunk, ChatRequest, ChatResponse};
use heimdall_schema::error::GatewayError;
use heimdall_schema::usage::Usage;
use serde_json::{Value, json};

use crate::client::{ClientDialect, StreamEncoder, decode_turns, json_bytes};

/// OpenAI `finish_reason` → Anthropic `stop_reason`.
pub fn stop_reason(finish: &str) -> &'static str {
    match finish {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

fn usage_json(u: Option<&Usage>) -> Value {
    let u = u.cloned().unwrap_or_default();
    let cached = u
        .prompt_tokens_details
        .as_ref()
        .and_then(|d| d.cached_tokens)
        .unwrap_or(0);
    json!({"input_tokens": u.prompt_tokens.saturating_sub(cached), "output_tokens": u.completion_tokens,
        "cache_read_input_tokens": cached, "cache_creation_input_tokens": 0})
}

fn message_id(id: &str) -> String {
    if id.starts_with("msg_") {
        id.to_owned()
    } else {
        format!("msg_{id}")
    }
}

/// A complete Messages response.
pub fn to_messages_response(r: &ChatResponse) -> Value {
    let choice = r.choices.first();
    let mut content = Vec::new();
    if let Some(m) = choice.map(|c| &c.message) {
        if let Some(t) = m.reasoning_content.as_ref().filter(|t| !t.is_empty()) {
            content.push(json!({"type": "thinking", "thinking": t, "signature": ""}));
        }
        if let Some(t) = m.content.as_ref().filter(|t| !t.is_empty()) {
            content.push(json!({"type": "text", "text": t}));
        }
        for call in m.tool_calls.iter().flatten() {
            let input: Value = serde_json::from_str(&call.function.arguments).unwrap_or(json!({}));
            content.push(
                json!({"type": "tool_use", "id": call.id, "name": call.function.name,
                "input": input}),
            );
        }
    }
    json!({"id": message_id(&r.id), "type": "message", "role": "assistant", "model": r.model,
        "content": content,
        "stop_reason": choice.and_then(|c| c.finish_reason.as_deref()).map(stop_reason),
        "stop_sequence": null, "usage": usage_json(r.usage.as_ref())})
}

/// An Anthropic error body for a gateway error.
pub fn error_body(e: &GatewayError) -> Value {
    let kind = match e.status {
        400 | 413 | 422 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    };
    json!({"type": "error", "error": {"type": kind, "message": e.message}})
}

/// Chunk-by-chunk encoder of the Anthropic event sequence.
#[derive(Debug, Default)]
pub struct EventEncoder {
    started: bool,
    /// The open block: (Anthropic index, kind, OpenAI tool-call index).
    open: Option<(u32, &'static str, Option<u32>)>,
    next_block: u32,
    stop: Option<&'static str>,
    usage: Option<Usage>,
    /// The upstream is Claude and its own frames are forwarded: nothing to encode.
    pub native: bool,
}

fn event(kind: &str, data: &Value) -> String {
    format!("event: {kind}\ndata: {data}\n\n")
}

impl EventEncoder {
    fn close(&mut self, out: &mut String) {
        if let Some((index, _, _)) = self.open.take() {
            out.push_str(&event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            ));
        }
    }

    fn open_block(
        &mut self,
        kind: &'static str,
        tool: Option<u32>,
        start: Value,
        out: &mut String,
    ) -> u32 {
        self.close(out);
        let index = self.next_block;
        self.next_block += 1;
        self.open = Some((index, kind, tool));
        out.push_str(&event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": start}),
        ));
        index
    }

    /// Events for one chunk.
    pub fn push_chunk(&mut self, c: &ChatChunk, out: &mut String) {
        if !self.started {
            self.started = true;
            out.push_str(&event(
                "message_start",
                &json!({"type": "message_start", "message": {
                "id": message_id(&c.id), "type": "message", "role": "assistant", "model": c.model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": usage_json(c.usage.as_ref())}}),
            ));
        }
        if let Some(u) = &c.usage {
            self.usage = Some(u.clone());
        }
        let Some(choice) = c.choices.first() else {
            return;
        };
        let d = &choice.delta;
        if let Some(t) = d.reasoning_content.as_ref().filter(|t| !t.is_empty()) {
            let index = match self.open {
                Some((i, "thinking", _)) => i,
                _ => self.open_block(
                    "thinking",
                    None,
                    json!({"type": "thinking", "thinking": ""}),
                    out,
                ),
            };
            out.push_str(&event(
                "content_block_delta",
                &json!({"type": "content_block_delta",
                "index": index, "delta": {"type": "thinking_delta", "thinking": t}}),
            ));
        }
        if let Some(Some(t)) = d
            .content
            .as_ref()
            .filter(|t| t.as_deref().is_some_and(|t| !t.is_empty()))
        {
            let index = match self.open {
                Some((i, "text", _)) => i,
                _ => self.open_block("text", None, json!({"type": "text", "text": ""}), out),
            };
            out.push_str(&event(
                "content_block_delta",
                &json!({"type": "content_block_delta",
                "index": index, "delta": {"type": "text_delta", "text": t}}),
            ));
        }
        for call in d.tool_calls.iter().flatten() {
            let index = match self.open {
                Some((i, "tool_use", Some(k))) if k == call.index && call.id.is_none() => i,
                _ => {
                    let f = call.function.as_ref();
                    self.open_block(
                        "tool_use",
                        Some(call.index),
                        json!({"type": "tool_use",
                        "id": call.id.clone().unwrap_or_default(),
                        "name": f.and_then(|f| f.name.clone()).unwrap_or_default(),
                        "input": {}}),
                        out,
                    )
                }
            };
            if let Some(args) = call
                .function
                .as_ref()
                .and_then(|f| f.arguments.as_deref())
                .filter(|a| !a.is_empty())
            {
                out.push_str(&event(
                    "content_block_delta",
                    &json!({"type": "content_block_delta",
                    "index": index, "delta": {"type": "input_json_delta", "partial_json": args}}),
                ));
            }
        }
        if let Some(f) = &choice.finish_reason {
            self.stop = Some(stop_reason(f));
        }
    }

    /// The closing events of a clean end.
    pub fn push_finish(&mut self, out: &mut String) {
        self.close(out);
        let usage = usage_json(self.usage.as_ref());
        out.push_str(&event(
            "message_delta",
            &json!({"type": "message_delta",
            "delta": {"stop_reason": self.stop.unwrap_or("end_turn"), "stop_sequence": null},
            "usage": {"output_tokens": usage["output_tokens"]}}),
        ));
        out.push_str(&event("message_stop", &json!({"type": "message_stop"})));
    }

    /// The event for a failure after the stream started.
    pub fn error(e: &GatewayError) -> String {
        event("error", &error_body(e))
    }
}

/// `POST /anthropic/v1/messages`.
#[derive(Debug)]
pub struct Messages;

impl ClientDialect for Messages {
    type Route = ();
    type Encoder = EventEncoder;
    const ROUTE: Option<&'static str> = Some("anthropic");
    const NATURAL_PROVIDER: Option<&'static str> = Some("anthropic");

    fn decode(_: &(), body: &[u8]) -> Result<ChatRequest, GatewayError> {
        decode_turns(
            body,
            "messages",
            crate::anthropic::client_request::from_body,
        )
    }

    fn encode(_: &(), response: ChatResponse, _: u64) -> Vec<u8> {
        match &response.native {
            // Claude answered a request sent as the client wrote it: its own body.
            Some(native) => json_bytes(native),
            None => json_bytes(&to_messages_response(&response)),
        }
    }

    fn error_body(e: &GatewayError) -> Vec<u8> {
        json_bytes(&error_body(e))
    }
}

impl StreamEncoder for EventEncoder {
    fn chunk(&mut self, chunk: ChatChunk, out: &mut Vec<u8>) {
        // Claude's own frames when the request went as written; a stream is either all frames
        // (they ride on the chunks) or all translated.
        match chunk.native {
            Some(frames) => {
                self.native = true;
                out.extend_from_slice(frames.as_bytes());
            }
            None if self.native => {}
            None => {
                let mut s = String::new();
                self.push_chunk(&chunk, &mut s);
                out.extend_from_slice(s.as_bytes());
            }
        }
    }

    fn finish(&mut self, _: u64, out: &mut Vec<u8>) {
        if !self.native {
            let mut s = String::new();
            self.push_finish(&mut s);
            out.extend_from_slice(s.as_bytes());
        }
    }

    fn fail(&mut self, e: &GatewayError, out: &mut Vec<u8>) {
        out.extend_from_slice(Self::error(e).as_bytes());
    }
}
