//! The Bedrock Converse client side (what boto3's `bedrock-runtime` sends and expects): a
//! Converse request → the canonical request, and the canonical reply → a Converse response or
//! ConverseStream frames in AWS event-stream framing, `reasoningContent` kept both ways.

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue as EsValue, Message};
use bytes::Bytes;
use heimdall_schema::chat::{ChatChunk, ChatRequest, ChatResponse, ThinkingBlock};
use heimdall_schema::error::GatewayError;
use heimdall_schema::usage::Usage;
use serde_json::{Map, Value, json};

use crate::client::{ClientDialect, StreamEncoder, decode_turns, json_bytes};
use crate::conversation::{DialectBody, MessageSink, translate_value};

pub fn invalid(message: impl Into<String>, param: &str) -> GatewayError {
    GatewayError::invalid_request(message, Some(param.to_owned()))
}

/// The `x-amzn-errortype` of an error, as Bedrock names it.
pub fn error_type(e: &GatewayError) -> &'static str {
    match e.status {
        400 | 413 | 422 => "ValidationException",
        401 | 403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        408 | 504 => "ModelTimeoutException",
        402 => "ServiceQuotaExceededException",
        429 => "ThrottlingException",
        503 => "ServiceUnavailableException",
        _ => "InternalServerException",
    }
}

/// A Converse request for `model` → the canonical request.
pub fn to_chat_request(
    model: &str,
    body: &Value,
    stream: bool,
) -> Result<ChatRequest, GatewayError> {
    translate_value(body, "messages", |b| from_body(model, b, stream))
}

/// A Converse request for `model` → the canonical request, one turn at a time.
pub fn from_body(
    model: &str,
    request: &DialectBody<'_>,
    stream: bool,
) -> Result<ChatRequest, GatewayError> {
    let body = request.head();
    let mut messages = MessageSink::new();
    let system: String = body["system"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    if !system.is_empty() {
        messages.push(json!({"role": "system", "content": system}))?;
    }
    let turns = request
        .turns()
        .ok_or_else(|| invalid("messages is required", "messages"))?;
    for (i, m) in turns.enumerate() {
        let m = m?;
        let blocks = m["content"].as_array().cloned().unwrap_or_default();
        match m["role"].as_str() {
            Some("assistant") => {
                let mut text = String::new();
                let mut calls = Vec::new();
                let mut thinking = Vec::new();
                for b in &blocks {
                    if let Some(t) = b["text"].as_str() {
                        text.push_str(t);
                    } else if let Some(rc) = b.get("reasoningContent") {
                        // Signed reasoning goes back to the model as it came.
                        if let Some(rt) = rc.get("reasoningText") {
                            thinking.push(json!({"type": "thinking",
                                "thinking": rt["text"], "signature": rt["signature"]}));
                        } else if let Some(data) = rc.get("redactedContent") {
                            thinking.push(json!({"type": "redacted_thinking", "data": data}));
                        }
                    } else if let Some(tu) = b.get("toolUse") {
                        calls.push(json!({"id": tu["toolUseId"], "type": "function",
                            "function": {"name": tu["name"], "arguments": tu["input"].to_string()}}));
                    }
                }
                let mut msg = json!({"role": "assistant",
                    "content": if text.is_empty() { Value::Null } else { Value::String(text) }});
                if let Some(o) = msg.as_object_mut() {
                    if !calls.is_empty() {
                        o.insert("tool_calls".into(), Value::Array(calls));
                    }
                    if !thinking.is_empty() {
                        o.insert("thinking_blocks".into(), Value::Array(thinking));
                    }
                }
                messages.push(msg)?;
            }
            Some("user") => {
                let mut parts = Vec::new();
                for b in &blocks {
                    if let Some(t) = b["text"].as_str() {
                        parts.push(json!({"type": "text", "text": t}));
                    } else if let Some(img) = b.get("image") {
                        let url = format!(
                            "data:image/{};base64,{}",
                            img["format"].as_str().unwrap_or("png"),
                            img.pointer("/source/bytes")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                        );
                        parts.push(json!({"type": "image_url", "image_url": {"url": url}}));
                    } else if let Some(tr) = b.get("toolResult") {
                        let content: Vec<String> = tr["content"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|c| {
                                c["text"]
                                    .as_str()
                                    .map_or_else(|| c["json"].to_string(), str::to_owned)
                            })
                            .collect();
                        messages.push(json!({"role": "tool", "tool_call_id": tr["toolUseId"],
                            "content": content.join("\n")}))?;
                    }
                }
                if !parts.is_empty() {
                    messages.push(json!({"role": "user", "content": parts}))?;
                }
            }
            _ => {
                return Err(invalid(
                    "role must be user or assistant",
                    &format!("messages.{i}.role"),
                ));
            }
        }
    }
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    crate::translate::copy_fields(
        &body["inferenceConfig"],
        &mut out,
        &[
            ("maxTokens", "max_tokens"),
            ("temperature", "temperature"),
            ("topP", "top_p"),
            ("stopSequences", "stop"),
        ],
    );
    // Model-specific fields (Claude's `thinking`, …) go to a Bedrock target unchanged.
    if let Some(extra) = body.get("additionalModelRequestFields") {
        out.insert("additionalModelRequestFields".into(), extra.clone());
    }
    if stream {
        out.insert("stream".into(), json!(true));
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    let tools: Vec<Value> = body
        .pointer("/toolConfig/tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("toolSpec"))
        .map(|s| json!({"type": "function", "function": {"name": s["name"],
            "description": s.get("description").cloned().unwrap_or(Value::Null),
            "parameters": s.pointer("/inputSchema/json").cloned().unwrap_or(json!({"type": "object"}))}}))
        .collect();
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(tc) = body.pointer("/toolConfig/toolChoice") {
        let choice = if tc.get("any").is_some() {
            json!("required")
        } else if let Some(name) = tc.pointer("/tool/name") {
            json!({"type": "function", "function": {"name": name}})
        } else {
            json!("auto")
        };
        out.insert("tool_choice".into(), choice);
    }
    messages.finish(out)
}

fn stop_reason(f: &str) -> &'static str {
    match f {
        "length" => "max_tokens",
        "tool_calls" => "tool_use",
        "content_filter" => "content_filtered",
        _ => "end_turn",
    }
}

fn usage_json(u: Option<&Usage>) -> Value {
    let u = u.cloned().unwrap_or_default();
    json!({"inputTokens": u.prompt_tokens, "outputTokens": u.completion_tokens,
        "totalTokens": u.total_tokens})
}

/// A signed reasoning block as a Converse `reasoningContent` block.
fn reasoning_block(b: &ThinkingBlock) -> Option<Value> {
    match b.kind.as_str() {
        "thinking" => {
            let mut text = json!({"text": b.thinking.as_deref().unwrap_or("")});
            if let (Some(sig), Some(o)) = (&b.signature, text.as_object_mut()) {
                o.insert("signature".into(), json!(sig));
            }
            Some(json!({"reasoningContent": {"reasoningText": text}}))
        }
        "redacted_thinking" => b
            .data
            .as_ref()
            .map(|d| json!({"reasoningContent": {"redactedContent": d}})),
        _ => None,
    }
}

/// A complete reply as a Converse response.
pub fn to_converse_response(r: &ChatResponse, latency_ms: u64) -> Value {
    let c = r.choices.first();
    let mut content = Vec::new();
    if let Some(m) = c.map(|c| &c.message) {
        match &m.thinking_blocks {
            Some(blocks) => content.extend(blocks.iter().filter_map(reasoning_block)),
            // Reasoning from a provider that does not sign it.
            None => {
                if let Some(r) = m.reasoning_content.as_ref().filter(|r| !r.is_empty()) {
                    content.push(json!({"reasoningContent": {"reasoningText": {"text": r}}}));
                }
            }
        }
        if let Some(t) = m.content.as_ref().filter(|t| !t.is_empty()) {
            content.push(json!({"text": t}));
        }
        for call in m.tool_calls.iter().flatten() {
            let input: Value = serde_json::from_str(&call.function.arguments).unwrap_or(json!({}));
            content.push(json!({"toolUse": {"toolUseId": call.id, "name": call.function.name, "input": input}}));
        }
    }
    json!({"output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason(c.and_then(|c| c.finish_reason.as_deref()).unwrap_or("stop")),
        "usage": usage_json(r.usage.as_ref()), "metrics": {"latencyMs": latency_ms}})
}

/// One event-stream message: `:message-type`, the type header, JSON content, the payload.
fn message(message_type: &str, type_header: &str, kind: &str, payload: &Value) -> Bytes {
    let m = Message::new(Bytes::from(payload.to_string()))
        .add_header(Header::new(
            type_header.to_owned(),
            EsValue::String(kind.to_owned().into()),
        ))
        .add_header(Header::new(
            ":content-type",
            EsValue::String("application/json".into()),
        ))
        .add_header(Header::new(
            ":message-type",
            EsValue::String(message_type.to_owned().into()),
        ));
    let mut buf = Vec::new();
    let _ = write_message_to(&m, &mut buf);
    Bytes::from(buf)
}

fn frame(event: &str, payload: &Value) -> Bytes {
    message("event", ":event-type", event, payload)
}

/// A stream exception frame for an error after the stream started.
pub fn exception_frame(e: &GatewayError) -> Bytes {
    let kind = match e.status {
        429 => "throttlingException",
        400 => "validationException",
        503 => "serviceUnavailableException",
        _ => "modelStreamErrorException",
    };
    message(
        "exception",
        ":exception-type",
        kind,
        &json!({"message": e.message}),
    )
}

/// What a ConverseStream content block holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    Tool,
    Reasoning,
}

/// ConverseStream events for a chunk sequence.
#[derive(Debug, Default)]
pub struct EventEncoder {
    started: bool,
    open: Option<(u32, Block)>,
    next_block: u32,
    finish: Option<String>,
    usage: Option<Usage>,
}

impl EventEncoder {
    fn close(&mut self, out: &mut Vec<Bytes>) {
        if let Some((i, _)) = self.open.take() {
            out.push(frame("contentBlockStop", &json!({"contentBlockIndex": i})));
        }
    }

    /// The index of the open block of `kind`, opening one (and closing another) if needed.
    /// Text and reasoning blocks have no `contentBlockStart` in ConverseStream.
    fn block(&mut self, kind: Block, out: &mut Vec<Bytes>) -> u32 {
        match self.open {
            Some((i, k)) if k == kind => i,
            _ => {
                self.close(out);
                let i = self.next_block;
                self.next_block += 1;
                self.open = Some((i, kind));
                i
            }
        }
    }

    /// Append the frames for one canonical chunk.
    pub fn push_chunk(&mut self, c: &ChatChunk, out: &mut Vec<Bytes>) {
        if !self.started {
            self.started = true;
            out.push(frame("messageStart", &json!({"role": "assistant"})));
        }
        if let Some(u) = &c.usage {
            self.usage = Some(u.clone());
        }
        let Some(choice) = c.choices.first() else {
            return;
        };
        if let Some(r) = choice
            .delta
            .reasoning_content
            .as_ref()
            .filter(|r| !r.is_empty())
        {
            let index = self.block(Block::Reasoning, out);
            out.push(frame(
                "contentBlockDelta",
                &json!({"contentBlockIndex": index, "delta": {"reasoningContent": {"text": r}}}),
            ));
        }
        for b in choice.delta.thinking_blocks.iter().flatten() {
            let delta = match (b.kind.as_str(), &b.signature, &b.data) {
                ("thinking", Some(sig), _) => json!({"signature": sig}),
                ("redacted_thinking", _, Some(data)) => json!({"redactedContent": data}),
                _ => continue,
            };
            let index = self.block(Block::Reasoning, out);
            out.push(frame(
                "contentBlockDelta",
                &json!({"contentBlockIndex": index, "delta": {"reasoningContent": delta}}),
            ));
            if b.kind == "thinking" {
                // A signature ends its reasoning block.
                self.close(out);
            }
        }
        if let Some(Some(t)) = &choice.delta.content
            && !t.is_empty()
        {
            let index = self.block(Block::Text, out);
            out.push(frame(
                "contentBlockDelta",
                &json!({"contentBlockIndex": index, "delta": {"text": t}}),
            ));
        }
        for call in choice.delta.tool_calls.iter().flatten() {
            let f = call.function.as_ref();
            if call.id.is_some() {
                self.close(out);
                let i = self.next_block;
                self.next_block += 1;
                self.open = Some((i, Block::Tool));
                out.push(frame(
                    "contentBlockStart",
                    &json!({"contentBlockIndex": i, "start": {"toolUse":
                    {"toolUseId": call.id, "name": f.and_then(|f| f.name.clone())}}}),
                ));
            }
            if let (Some((i, Block::Tool)), Some(a)) = (
                self.open,
                f.and_then(|f| f.arguments.as_deref())
                    .filter(|a| !a.is_empty()),
            ) {
                out.push(frame(
                    "contentBlockDelta",
                    &json!({"contentBlockIndex": i, "delta": {"toolUse": {"input": a}}}),
                ));
            }
        }
        if let Some(f) = &choice.finish_reason {
            self.finish = Some(f.clone());
        }
    }

    /// Append the closing frames (`contentBlockStop`, `messageStop`, `metadata`).
    pub fn push_finish(&mut self, out: &mut Vec<Bytes>, latency_ms: u64) {
        self.close(out);
        out.push(frame(
            "messageStop",
            &json!({"stopReason": stop_reason(self.finish.as_deref().unwrap_or("stop"))}),
        ));
        out.push(frame("metadata", &json!({"usage": usage_json(self.usage.as_ref()), "metrics": {"latencyMs": latency_ms}})));
    }
}

/// `POST /bedrock/model/{modelId}/converse` and `/converse-stream`.
#[derive(Debug)]
pub struct Converse;

/// What a Converse call takes from its URL.
#[derive(Debug, Clone)]
pub struct ConverseCall {
    /// The model id of the path.
    pub model: String,
    /// `converse-stream`.
    pub stream: bool,
}

impl ClientDialect for Converse {
    type Route = ConverseCall;
    type Encoder = EventEncoder;
    const ROUTE: Option<&'static str> = Some("bedrock");
    const NATURAL_PROVIDER: Option<&'static str> = Some("bedrock");

    fn decode(call: &ConverseCall, body: &[u8]) -> Result<ChatRequest, GatewayError> {
        decode_turns(body, "messages", |b| from_body(&call.model, b, call.stream))
    }

    fn encode(_: &ConverseCall, response: ChatResponse, elapsed_ms: u64) -> Vec<u8> {
        json_bytes(&to_converse_response(&response, elapsed_ms))
    }

    fn stream_content_type(_: &ConverseCall) -> &'static str {
        "application/vnd.amazon.eventstream"
    }

    fn error_body(e: &GatewayError) -> Vec<u8> {
        json_bytes(&json!({"message": e.message}))
    }

    fn error_header(e: &GatewayError) -> Option<(&'static str, &'static str)> {
        Some(("x-amzn-errortype", error_type(e)))
    }
}

impl StreamEncoder for EventEncoder {
    fn chunk(&mut self, chunk: ChatChunk, out: &mut Vec<u8>) {
        let mut frames = Vec::new();
        self.push_chunk(&chunk, &mut frames);
        frames.iter().for_each(|f| out.extend_from_slice(f));
    }

    fn finish(&mut self, elapsed_ms: u64, out: &mut Vec<u8>) {
        let mut frames = Vec::new();
        self.push_finish(&mut frames, elapsed_ms);
        frames.iter().for_each(|f| out.extend_from_slice(f));
    }

    fn fail(&mut self, e: &GatewayError, out: &mut Vec<u8>) {
        out.extend_from_slice(&exception_frame(e));
    }
}
