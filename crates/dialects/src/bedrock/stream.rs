//! ConverseStream → OpenAI chat chunks: the AWS event-stream binary framing decoded with
//! `aws-smithy-eventstream`, then each event (`:event-type` header + JSON payload) translated.
//!
//! Why a different transport than SSE: Bedrock frames events as length-prefixed binary
//! messages with CRCs; the decoder is fed bytes as they arrive. Usage arrives in `metadata`
//! *after* `messageStop`, so the finish chunk is sent at `messageStop` and the stream ends
//! cleanly at `metadata` (or at the body end after `messageStop`). An exception message ends
//! the stream with an error.

use std::collections::HashMap;

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::Message;
use heimdall_schema::chat::{ChatChunk, ChunkDelta, ThinkingBlock};
use heimdall_schema::error::{ErrorKind, GatewayError};
use serde_json::Value;

use super::response::{finish_reason, usage};
use crate::chunk::ChunkEnvelope;

/// One decoded event: its type (or exception type) and JSON payload.
#[derive(Debug, Clone, PartialEq)]
pub struct BedrockEvent {
    /// `:event-type` (or `:exception-type` for exceptions).
    pub kind: String,
    /// True for `:message-type: exception` / `error`.
    pub exception: bool,
    /// The payload.
    pub payload: Value,
}

fn header<'a>(m: &'a Message, name: &str) -> Option<&'a str> {
    m.headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| h.value().as_string().ok())
        .map(|s| s.as_str())
}

/// Decode one event-stream message into an event.
pub fn event_of(m: &Message) -> BedrockEvent {
    let message_type = header(m, ":message-type").unwrap_or("event");
    let exception = message_type != "event";
    let kind = if exception {
        header(m, ":exception-type").or(header(m, ":error-code"))
    } else {
        header(m, ":event-type")
    }
    .unwrap_or("unknown")
    .to_owned();
    let payload = serde_json::from_slice(m.payload()).unwrap_or(Value::Null);
    BedrockEvent {
        kind,
        exception,
        payload,
    }
}

/// A translator of decoded event-stream events into canonical chunks (ConverseStream, or
/// Claude's own events inside InvokeModelWithResponseStream).
pub trait EventStreamTranslator: Send + 'static {
    /// Translate one event; `Ok(true)` ends the stream cleanly.
    fn on_event(
        &mut self,
        ev: &BedrockEvent,
        out: &mut Vec<ChatChunk>,
    ) -> Result<bool, GatewayError>;
    /// The body ended; an error unless the stream had ended cleanly.
    fn on_body_end(&mut self) -> Result<(), GatewayError>;
}

impl EventStreamTranslator for BedrockStream {
    fn on_event(
        &mut self,
        ev: &BedrockEvent,
        out: &mut Vec<ChatChunk>,
    ) -> Result<bool, GatewayError> {
        BedrockStream::on_event(self, ev, out)
    }
    fn on_body_end(&mut self) -> Result<(), GatewayError> {
        BedrockStream::on_body_end(self)
    }
}

/// An exception message of the stream as a typed error.
pub fn stream_exception(ev: &BedrockEvent) -> GatewayError {
    let message = ev.payload["message"]
        .as_str()
        .or(ev.payload["Message"].as_str())
        .unwrap_or("stream failed");
    GatewayError::new(
        ErrorKind::UpstreamStreamError,
        format!("reported an error in the stream: {message}"),
    )
    .with_code(ev.kind.as_str())
}

/// Translator state for one stream.
#[derive(Debug)]
pub struct BedrockStream {
    env: ChunkEnvelope,
    started: bool,
    stopped: bool,
    tool_index: HashMap<u64, u32>,
    next_tool: u32,
}

impl BedrockStream {
    /// A translator for a stream of `model` with response id `id`.
    pub fn new(id: &str, model: &str, created: u64) -> Self {
        Self {
            env: ChunkEnvelope {
                id: id.to_owned(),
                created,
                model: model.to_owned(),
            },
            started: false,
            stopped: false,
            tool_index: HashMap::new(),
            next_tool: 0,
        }
    }

    fn role_once(&mut self, out: &mut Vec<ChatChunk>) {
        if !self.started {
            self.started = true;
            out.push(self.env.role());
        }
    }

    /// Translate one event; `Ok(true)` ends the stream cleanly.
    pub fn on_event(
        &mut self,
        ev: &BedrockEvent,
        out: &mut Vec<ChatChunk>,
    ) -> Result<bool, GatewayError> {
        if ev.exception {
            return Err(stream_exception(ev));
        }
        let p = &ev.payload;
        match ev.kind.as_str() {
            "messageStart" => self.role_once(out),
            "contentBlockStart" => {
                self.role_once(out);
                if let Some(tu) = p.pointer("/start/toolUse") {
                    let call = self.next_tool;
                    self.next_tool += 1;
                    self.tool_index
                        .insert(p["contentBlockIndex"].as_u64().unwrap_or(0), call);
                    out.push(self.env.tool_call(
                        call,
                        tu["toolUseId"].as_str(),
                        tu["name"].as_str(),
                        "",
                    ));
                }
            }
            "contentBlockDelta" => {
                self.role_once(out);
                let d = &p["delta"];
                if let Some(t) = d["text"].as_str() {
                    out.push(self.env.text(t));
                } else if let Some(piece) = d.pointer("/toolUse/input").and_then(Value::as_str) {
                    let index = p["contentBlockIndex"].as_u64().unwrap_or(0);
                    let call = *self.tool_index.get(&index).ok_or_else(|| {
                        GatewayError::new(
                            ErrorKind::UpstreamProtocol,
                            "sent tool input outside a toolUse block",
                        )
                    })?;
                    if !piece.is_empty() {
                        out.push(self.env.tool_call(call, None, None, piece));
                    }
                } else if let Some(rc) = d.get("reasoningContent") {
                    if let Some(t) = rc["text"].as_str() {
                        out.push(self.env.chunk(
                            ChunkDelta {
                                reasoning_content: Some(t.to_owned()),
                                ..ChunkDelta::default()
                            },
                            None,
                        ));
                    } else if let Some(sig) = rc["signature"].as_str() {
                        // Bedrock requires the signed block back on the next thinking +
                        // tool-use turn.
                        out.push(
                            self.env.thinking_block(ThinkingBlock::thinking(
                                None,
                                Some(sig.to_owned()),
                            )),
                        );
                    } else if let Some(data) = rc["redactedContent"].as_str() {
                        out.push(
                            self.env
                                .thinking_block(ThinkingBlock::redacted(data.to_owned())),
                        );
                    }
                }
            }
            "messageStop" => {
                self.role_once(out);
                self.stopped = true;
                let reason = p["stopReason"].as_str().unwrap_or("end_turn");
                out.push(self.env.chunk(
                    ChunkDelta::default(),
                    Some(finish_reason(reason).to_owned()),
                ));
            }
            "metadata" => {
                out.push(self.env.usage(usage(&p["usage"])));
                return Ok(true);
            }
            _ => {}
        }
        Ok(false)
    }

    /// The body ended: clean only after `messageStop`.
    pub fn on_body_end(&mut self) -> Result<(), GatewayError> {
        if self.stopped {
            Ok(())
        } else {
            Err(GatewayError::new(
                ErrorKind::UpstreamProtocol,
                "ended the stream before messageStop (truncated stream)",
            ))
        }
    }
}

/// Translate a whole sequence of decoded events (tests, fuzzing): the chunks, then `Ok(true)`
/// for a clean end or the error that ended it.
pub fn translate_events(
    translator: &mut BedrockStream,
    events: &[BedrockEvent],
) -> (Vec<ChatChunk>, Result<bool, GatewayError>) {
    let mut out = Vec::new();
    for ev in events {
        match translator.on_event(ev, &mut out) {
            Ok(false) => {}
            end => return (out, end),
        }
    }
    let end = translator.on_body_end().map(|()| true);
    (out, end)
}

/// Decode a whole event-stream body (tests, fuzzing): events, or the framing error.
pub fn decode_all(mut bytes: &[u8]) -> Result<Vec<BedrockEvent>, String> {
    let mut decoder = MessageFrameDecoder::new();
    let mut out = Vec::new();
    loop {
        match decoder
            .decode_frame(&mut bytes)
            .map_err(|e| e.to_string())?
        {
            DecodedFrame::Complete(m) => out.push(event_of(&m)),
            DecodedFrame::Incomplete if bytes.is_empty() => return Ok(out),
            // The whole body is here: a frame that is still incomplete was cut.
            DecodedFrame::Incomplete => {
                return Err(format!("truncated frame ({} bytes left)", bytes.len()));
            }
        }
    }
}
