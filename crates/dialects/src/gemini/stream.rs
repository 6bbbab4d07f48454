//! Gemini `streamGenerateContent?alt=sse` → OpenAI chat chunks.
//!
//! Why it differs from the other dialects: every event is a whole `GenerateContentResponse`
//! holding only the new parts; function calls arrive whole (one tool-call delta each); usage
//! is a running total whose last value is final; and there is no end event — the body ends.
//! So a clean end is "the body ended after a candidate reported its finish reason"; a body
//! that ends before that is truncated. A blocked prompt as the first event is an error before
//! anything is committed (a 400).

use heimdall_schema::chat::{ChatChunk, ChunkDelta, FunctionCallDelta, ToolCallDelta};
use heimdall_schema::error::{ErrorKind, GatewayError};
use serde_json::{Map, Value};

use super::response::{blocked_prompt, finish_reason, model_name, tool_call, usage};
use crate::chunk::ChunkEnvelope;
use crate::event::EventTranslator;
use crate::sse::SseEvent;

/// Translator state for one stream.
#[derive(Debug)]
pub struct GeminiStream {
    requested_model: String,
    env: ChunkEnvelope,
    started: bool,
    calls: usize,
    finished: bool,
    usage: Value,
}

impl GeminiStream {
    /// A translator for a stream of `model`.
    pub fn new(model: &str, created: u64) -> Self {
        Self {
            requested_model: model.to_owned(),
            env: ChunkEnvelope {
                created,
                ..ChunkEnvelope::default()
            },
            started: false,
            calls: 0,
            finished: false,
            usage: Value::Null,
        }
    }
}

impl EventTranslator for GeminiStream {
    type Chunk = ChatChunk;

    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<bool, GatewayError> {
        let r: Value = serde_json::from_str(&ev.data).map_err(|e| {
            GatewayError::new(
                ErrorKind::UpstreamProtocol,
                format!("sent an unreadable stream event: {e}"),
            )
        })?;
        if let Some(err) = r.get("error") {
            let message = err["message"].as_str().unwrap_or("stream error");
            return Err(GatewayError::new(
                ErrorKind::UpstreamStreamError,
                format!("reported an error in the stream: {message}"),
            )
            .with_code(err["status"].as_str().unwrap_or("upstream_error")));
        }
        if let Some(e) = blocked_prompt(&r) {
            return Err(e);
        }
        if !self.started {
            self.started = true;
            r["responseId"]
                .as_str()
                .unwrap_or("")
                .clone_into(&mut self.env.id);
            self.env.model = model_name(&r, &self.requested_model);
            out.push(self.env.role());
        }
        if r.get("usageMetadata").is_some() {
            self.usage = r["usageMetadata"].clone();
        }
        let Some(c) = r.pointer("/candidates/0") else {
            return Ok(false);
        };
        for p in c
            .pointer("/content/parts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(call) = p.get("functionCall") {
                let t = tool_call(call, self.calls);
                out.push(self.env.chunk(
                    ChunkDelta {
                        tool_calls: Some(vec![ToolCallDelta {
                            index: u32::try_from(self.calls).unwrap_or(u32::MAX),
                            id: Some(t.id),
                            kind: Some("function".to_owned()),
                            function: Some(FunctionCallDelta {
                                name: Some(t.function.name),
                                arguments: Some(t.function.arguments),
                                extra: Map::new(),
                            }),
                            extra: Map::new(),
                        }]),
                        ..ChunkDelta::default()
                    },
                    None,
                ));
                self.calls += 1;
            } else if let Some(t) = p["text"].as_str().filter(|t| !t.is_empty()) {
                if p["thought"] == true {
                    out.push(self.env.chunk(
                        ChunkDelta {
                            reasoning_content: Some(t.to_owned()),
                            ..ChunkDelta::default()
                        },
                        None,
                    ));
                } else {
                    out.push(self.env.text(t));
                }
            }
        }
        if let Some(reason) = c["finishReason"].as_str() {
            self.finished = true;
            out.push(self.env.chunk(
                ChunkDelta::default(),
                Some(finish_reason(reason, self.calls > 0).to_owned()),
            ));
        }
        Ok(false)
    }

    fn on_body_end(&mut self, out: &mut Vec<ChatChunk>) -> Result<(), GatewayError> {
        if !self.finished {
            return Err(GatewayError::new(
                ErrorKind::UpstreamProtocol,
                "ended the stream before a finish reason (truncated stream)",
            ));
        }
        out.push(self.env.usage(usage(&self.usage)));
        Ok(())
    }
}
