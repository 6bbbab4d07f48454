//! Anthropic's streaming event sequence → OpenAI chat chunks.
//!
//! Why a state machine: Anthropic numbers content blocks (text, thinking, tool_use) and streams
//! each block's pieces separately, with usage split between `message_start` and
//! `message_delta`; OpenAI clients expect one choice whose deltas carry text, reasoning and
//! tool-call fragments indexed per call, a final `finish_reason`, and usage in a last chunk
//! without choices. Only `message_stop` ends a stream cleanly; an `error` event ends it as a
//! failure; unknown event types are skipped (the API adds them over time).

use std::collections::HashMap;

use heimdall_schema::chat::{ChatChunk, ChunkDelta, ThinkingBlock};
use heimdall_schema::error::{ErrorKind, GatewayError};
use serde_json::Value;

use super::response::{AnthropicUsage, anthropic_error, finish_reason};
use crate::chunk::ChunkEnvelope;
use crate::event::EventTranslator;
use crate::sse::SseEvent;

/// Translator state for one stream.
#[derive(Debug, Default)]
pub struct AnthropicStream {
    provider: String,
    env: ChunkEnvelope,
    usage: AnthropicUsage,
    /// Content block index → OpenAI tool-call index and whether any argument text was sent.
    tool_index: HashMap<u64, (u32, bool)>,
    next_tool: u32,
    started: bool,
    /// Keep the upstream's SSE frames on the chunks (the client speaks Anthropic too).
    keep_frames: bool,
    /// Frames not yet attached to a chunk (`ping`, `content_block_stop`, `signature_delta`, …).
    pending_frames: String,
}

impl AnthropicStream {
    /// A translator for `provider`'s stream; `created` stamps every chunk.
    pub fn new(provider: &str, created: u64) -> Self {
        Self {
            provider: provider.to_owned(),
            env: ChunkEnvelope {
                created,
                ..ChunkEnvelope::default()
            },
            ..Self::default()
        }
    }

    /// Attach the upstream's own SSE frames to the chunks (`ChatChunk::native`): every frame
    /// rides on the next chunk produced, so forwarding each chunk's frames replays the stream
    /// byte for byte. `message_stop` always produces a chunk, so nothing is left behind.
    #[must_use]
    pub fn keeping_frames(mut self, keep: bool) -> Self {
        self.keep_frames = keep;
        self
    }

    fn protocol(&self, what: &str) -> GatewayError {
        GatewayError::new(
            ErrorKind::UpstreamProtocol,
            format!(
                "provider '{}' sent an unreadable stream event: {what}",
                self.provider
            ),
        )
        .with_provider(&self.provider)
    }
}

impl EventTranslator for AnthropicStream {
    type Chunk = ChatChunk;

    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<bool, GatewayError> {
        if !self.keep_frames {
            return self.translate(ev, out);
        }
        ev.write_frame(&mut self.pending_frames);
        let before = out.len();
        let result = self.translate(ev, out);
        if out.len() > before
            && let Some(last) = out.last_mut()
        {
            last.native = Some(std::mem::take(&mut self.pending_frames));
        }
        result
    }

    fn on_body_end(&mut self, _out: &mut Vec<ChatChunk>) -> Result<(), GatewayError> {
        Err(GatewayError::new(
            ErrorKind::UpstreamProtocol,
            format!(
                "provider '{}' ended the stream before message_stop (truncated stream)",
                self.provider
            ),
        )
        .with_provider(&self.provider))
    }
}

impl AnthropicStream {
    /// One event → canonical chunks; `Ok(true)` on the clean end.
    fn translate(&mut self, ev: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<bool, GatewayError> {
        let data: Value = match serde_json::from_str(&ev.data) {
            Ok(v) => v,
            Err(e) => return Err(self.protocol(&e.to_string())),
        };
        let kind = ev
            .event
            .as_deref()
            .or_else(|| data["type"].as_str())
            .unwrap_or("");
        match kind {
            "message_start" => {
                let m = &data["message"];
                m["id"].as_str().unwrap_or("").clone_into(&mut self.env.id);
                m["model"]
                    .as_str()
                    .unwrap_or("")
                    .clone_into(&mut self.env.model);
                if let Ok(u) = serde_json::from_value::<AnthropicUsage>(m["usage"].clone()) {
                    self.usage.merge(&u);
                }
                self.started = true;
                out.push(self.env.role());
            }
            "content_block_start" => {
                let block = &data["content_block"];
                let index = data["index"].as_u64().unwrap_or(0);
                match block["type"].as_str() {
                    Some("tool_use") => {
                        let call = self.next_tool;
                        self.next_tool += 1;
                        self.tool_index.insert(index, (call, false));
                        out.push(self.env.tool_call(
                            call,
                            block["id"].as_str(),
                            block["name"].as_str(),
                            "",
                        ));
                    }
                    Some("text") => {
                        if let Some(t) = block["text"].as_str().filter(|t| !t.is_empty()) {
                            out.push(self.env.text(t));
                        }
                    }
                    Some("redacted_thinking") => {
                        if let Some(data) = block["data"].as_str() {
                            out.push(
                                self.env
                                    .thinking_block(ThinkingBlock::redacted(data.to_owned())),
                            );
                        }
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let d = &data["delta"];
                let index = data["index"].as_u64().unwrap_or(0);
                match d["type"].as_str() {
                    Some("text_delta") => {
                        out.push(self.env.text(d["text"].as_str().unwrap_or("")));
                    }
                    Some("input_json_delta") => {
                        // Blocks other than `tool_use` stream input too (`server_tool_use` for
                        // web search, code execution, MCP): the server runs those, an OpenAI
                        // client has nothing to call, so their input is not forwarded.
                        let piece = d["partial_json"].as_str().unwrap_or("");
                        if let Some((call, sent)) = self.tool_index.get_mut(&index)
                            && !piece.is_empty()
                        {
                            *sent = true;
                            let call = *call;
                            out.push(self.env.tool_call(call, None, None, piece));
                        }
                    }
                    Some("thinking_delta") => out.push(self.env.chunk(
                        ChunkDelta {
                            reasoning_content: Some(
                                d["thinking"].as_str().unwrap_or("").to_owned(),
                            ),
                            ..ChunkDelta::default()
                        },
                        None,
                    )),
                    // The signature closes a thinking block; clients that send signed thinking
                    // back (LiteLLM's `thinking_blocks`) need it.
                    Some("signature_delta") => {
                        if let Some(sig) = d["signature"].as_str() {
                            out.push(self.env.thinking_block(ThinkingBlock::thinking(
                                None,
                                Some(sig.to_owned()),
                            )));
                        }
                    }
                    // citations_delta, …: nothing for OpenAI clients.
                    _ => {}
                }
            }
            "content_block_stop" => {
                // A call without arguments streams no input at all (`input: {}` with an empty
                // `partial_json`); OpenAI clients parse `arguments` as JSON, so it is `{}`.
                let index = data["index"].as_u64().unwrap_or(0);
                if let Some((call, false)) = self.tool_index.remove(&index) {
                    out.push(self.env.tool_call(call, None, None, "{}"));
                }
            }
            "message_delta" => {
                if let Ok(u) = serde_json::from_value::<AnthropicUsage>(data["usage"].clone()) {
                    self.usage.merge(&u);
                }
                if let Some(reason) = data["delta"]["stop_reason"].as_str() {
                    out.push(self.env.chunk(
                        ChunkDelta::default(),
                        Some(finish_reason(reason).to_owned()),
                    ));
                }
            }
            "message_stop" => {
                out.push(self.env.usage(Some(self.usage.to_openai())));
                return Ok(true);
            }
            "error" => return Err(anthropic_error(&self.provider, None, &data).into_stream_error()),
            // ping and event types added later.
            _ => {}
        }
        Ok(false)
    }
}

/// An upstream error reported inside a stream.
trait IntoStreamError {
    fn into_stream_error(self) -> GatewayError;
}

impl IntoStreamError for GatewayError {
    fn into_stream_error(mut self) -> GatewayError {
        self.message = self
            .message
            .replacen("': ", "' reported an error in the stream: ", 1);
        self.kind = ErrorKind::UpstreamStreamError;
        self
    }
}
