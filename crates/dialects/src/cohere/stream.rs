//! Cohere v2 chat stream events → OpenAI chat chunks.
//!
//! Why a state machine: Cohere streams `message-start`, then text (`content-delta`) or a tool
//! plan (`tool-plan-delta`) and tool calls (`tool-call-start` / `-delta` / `-end`, indexed per
//! call), and ends with `message-end` carrying the finish reason and usage. Only a
//! `message-end` whose finish reason is not `ERROR` ends the stream cleanly.

use heimdall_schema::chat::{ChatChunk, ChunkDelta, FunctionCallDelta, ToolCallDelta};
use heimdall_schema::error::{ErrorKind, GatewayError};
use serde_json::{Map, Value};

use super::response::{finish_reason, usage};
use crate::chunk::ChunkEnvelope;
use crate::event::EventTranslator;
use crate::sse::SseEvent;

/// Translator state for one stream.
#[derive(Debug)]
pub struct CohereStream {
    env: ChunkEnvelope,
    /// Tool calls started whose arguments are still empty.
    argless: std::collections::BTreeSet<u32>,
}

impl CohereStream {
    /// A translator for a stream of `model` (Cohere does not echo it).
    pub fn new(model: &str, created: u64) -> Self {
        Self {
            env: ChunkEnvelope {
                id: String::new(),
                created,
                model: model.to_owned(),
            },
            argless: std::collections::BTreeSet::new(),
        }
    }
}

impl EventTranslator for CohereStream {
    type Chunk = ChatChunk;

    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<bool, GatewayError> {
        if ev.data.trim() == "[DONE]" {
            return Ok(false);
        }
        let data: Value = serde_json::from_str(&ev.data).map_err(|e| {
            GatewayError::new(
                ErrorKind::UpstreamProtocol,
                format!("sent an unreadable stream event: {e}"),
            )
        })?;
        let kind = ev
            .event
            .as_deref()
            .or_else(|| data["type"].as_str())
            .unwrap_or("");
        let message = &data["delta"]["message"];
        match kind {
            "message-start" => {
                data["id"]
                    .as_str()
                    .unwrap_or("")
                    .clone_into(&mut self.env.id);
                out.push(self.env.role());
            }
            "content-delta" | "content-start" => {
                let content = &message["content"];
                if let Some(t) = content["text"].as_str().filter(|t| !t.is_empty()) {
                    out.push(self.env.text(t));
                } else if let Some(t) = content["thinking"].as_str().filter(|t| !t.is_empty()) {
                    // A reasoning model's `thinking` content.
                    out.push(self.env.chunk(
                        ChunkDelta {
                            reasoning_content: Some(t.to_owned()),
                            ..ChunkDelta::default()
                        },
                        None,
                    ));
                }
            }
            "tool-plan-delta" => {
                if let Some(t) = message["tool_plan"].as_str().filter(|t| !t.is_empty()) {
                    out.push(self.env.text(t));
                }
            }
            "tool-call-start" | "tool-call-delta" => {
                let call = &message["tool_calls"];
                let index = u32::try_from(data["index"].as_u64().unwrap_or(0)).unwrap_or(0);
                let start = kind == "tool-call-start";
                let args = call["function"]["arguments"].as_str().unwrap_or("");
                if args.is_empty() {
                    if start {
                        self.argless.insert(index);
                    }
                } else {
                    self.argless.remove(&index);
                }
                if start || !args.is_empty() {
                    out.push(self.env.chunk(
                        ChunkDelta {
                            tool_calls: Some(vec![ToolCallDelta {
                                index,
                                id: start.then(|| call["id"].as_str().unwrap_or("").to_owned()),
                                kind: start.then(|| "function".to_owned()),
                                function: Some(FunctionCallDelta {
                                    name: start.then(|| {
                                        call["function"]["name"].as_str().unwrap_or("").to_owned()
                                    }),
                                    arguments: Some(args.to_owned()),
                                    extra: Map::new(),
                                }),
                                extra: Map::new(),
                            }]),
                            ..ChunkDelta::default()
                        },
                        None,
                    ));
                }
            }
            "message-end" => {
                let delta = &data["delta"];
                let reason = delta["finish_reason"].as_str().unwrap_or("COMPLETE");
                if reason == "ERROR" || reason == "TIMEOUT" {
                    let message = delta["error"].as_str().unwrap_or("generation failed");
                    return Err(GatewayError::new(
                        ErrorKind::UpstreamStreamError,
                        format!("reported an error in the stream: {message}"),
                    )
                    .with_code(reason));
                }
                out.push(self.env.chunk(
                    ChunkDelta::default(),
                    Some(finish_reason(reason).to_owned()),
                ));
                out.push(self.env.usage(usage(&delta["usage"])));
                return Ok(true);
            }
            "tool-call-end" => {
                // A parameterless tool's call streams no arguments; clients parse them as JSON.
                let index = u32::try_from(data["index"].as_u64().unwrap_or(0)).unwrap_or(0);
                if self.argless.remove(&index) {
                    out.push(self.env.chunk(
                        ChunkDelta {
                            tool_calls: Some(vec![ToolCallDelta {
                                index,
                                function: Some(FunctionCallDelta {
                                    arguments: Some("{}".to_owned()),
                                    ..FunctionCallDelta::default()
                                }),
                                ..ToolCallDelta::default()
                            }]),
                            ..ChunkDelta::default()
                        },
                        None,
                    ));
                }
            }
            // content-end, citation events, and event types added later.
            _ => {}
        }
        Ok(false)
    }
}
