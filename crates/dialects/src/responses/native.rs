//! Sending a Responses request as the client wrote it to OpenAI or Azure OpenAI, and reading
//! their answer both ways: the upstream's own object and events for the client, the canonical
//! response and chunks for everything else (usage, cost, logs, the cache, other dialects).
//!
//! Why pass it through: OpenAI serves models only through this API (`*-codex`, `o3-pro`,
//! `computer-use-preview`), runs hosted tools (`web_search`, `file_search`) and hands back
//! encrypted reasoning — none of which survives a detour through chat completions. The
//! gateway still owns the conversation (`previous_response_id` is expanded into the input by
//! the route and the upstream is told `store: false`), so a chain continues on any provider.

use std::collections::HashMap;
use std::sync::Arc;

use heimdall_schema::chat::{
    ChatChoice, ChatChunk, ChatRequest, ChatResponse, ChunkDelta, FunctionCall, ResponseMessage,
    ToolCall,
};
use heimdall_schema::error::{ErrorKind, GatewayError};
use heimdall_schema::native::{Dialect, NativeRequest};
use heimdall_schema::usage::{CompletionTokensDetails, PromptTokensDetails, Usage};
use serde_json::{Map, Value};

use crate::chunk::ChunkEnvelope;
use crate::event::EventTranslator;
use crate::sse::SseEvent;
use crate::translate::unreadable;

/// The request's Responses original, if it arrived as one and may go as written.
pub fn native_of(req: &ChatRequest) -> Option<&NativeRequest> {
    NativeRequest::body_in(req.native.as_ref(), Dialect::OpenAiResponses)
}

/// The client's body for the upstream `model`: `model` and `stream` follow the call.
pub fn upstream_body(
    native: &NativeRequest,
    model: &str,
    stream: bool,
) -> Result<Map<String, Value>, GatewayError> {
    let mut body = native
        .body
        .as_object()
        .cloned()
        .ok_or_else(|| GatewayError::internal("the Responses request body is not an object"))?;
    body.insert("model".to_owned(), Value::String(model.to_owned()));
    body.insert("stream".to_owned(), Value::Bool(stream));
    Ok(body)
}

/// Read an upstream Responses object into the canonical response, keeping the original.
pub fn parse_response(provider: &str, value: Value) -> Result<ChatResponse, GatewayError> {
    if !value.is_object() || value.get("output").is_none_or(|o| !o.is_array()) {
        return Err(unreadable(provider, "no `output` array in the response"));
    }
    let mut response = to_canonical(&value);
    response.native = Some(Arc::new(value));
    Ok(response)
}

/// A Responses object → the canonical response (no `native`).
pub fn to_canonical(v: &Value) -> ChatResponse {
    let mut text = String::new();
    let mut refusal = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for item in v["output"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        match item["type"].as_str() {
            Some("message") => {
                for part in item["content"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                {
                    match part["type"].as_str() {
                        Some("output_text") => text.push_str(part["text"].as_str().unwrap_or("")),
                        Some("refusal") => {
                            refusal.push_str(part["refusal"].as_str().unwrap_or(""));
                        }
                        _ => {}
                    }
                }
            }
            Some("reasoning") => {
                for s in item["summary"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                {
                    if !reasoning.is_empty() {
                        reasoning.push_str("\n\n");
                    }
                    reasoning.push_str(s["text"].as_str().unwrap_or(""));
                }
            }
            Some("function_call") | Some("custom_tool_call") => calls.push(tool_call(item)),
            _ => {}
        }
    }
    let finish = finish_reason(v, !calls.is_empty());
    ChatResponse {
        id: v["id"].as_str().unwrap_or_default().to_owned(),
        object: "chat.completion".to_owned(),
        created: v["created_at"].as_u64().unwrap_or(0),
        model: v["model"].as_str().unwrap_or_default().to_owned(),
        choices: vec![ChatChoice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".to_owned(),
                content: (!text.is_empty() || calls.is_empty()).then_some(text),
                refusal: (!refusal.is_empty()).then_some(Some(refusal)),
                tool_calls: (!calls.is_empty()).then_some(calls),
                reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
                ..ResponseMessage::default()
            },
            finish_reason: Some(finish.to_owned()),
            ..ChatChoice::default()
        }],
        usage: usage_of(&v["usage"]),
        ..ChatResponse::default()
    }
}

/// A `function_call` (or freeform `custom_tool_call`) item as a canonical tool call.
fn tool_call(item: &Value) -> ToolCall {
    let arguments = match item["type"].as_str() {
        Some("custom_tool_call") => {
            serde_json::json!({"input": item["input"].as_str().unwrap_or("")}).to_string()
        }
        _ => item["arguments"].as_str().unwrap_or("{}").to_owned(),
    };
    ToolCall {
        id: item["call_id"].as_str().unwrap_or_default().to_owned(),
        kind: "function".to_owned(),
        function: FunctionCall {
            name: item["name"].as_str().unwrap_or_default().to_owned(),
            arguments,
            extra: Map::new(),
        },
        extra: Map::new(),
    }
}

fn finish_reason(v: &Value, called: bool) -> &'static str {
    match (
        v["status"].as_str(),
        v["incomplete_details"]["reason"].as_str(),
    ) {
        (Some("incomplete"), Some("content_filter")) => "content_filter",
        (Some("incomplete"), _) => "length",
        _ if called => "tool_calls",
        _ => "stop",
    }
}

/// Responses usage → canonical usage.
pub fn usage_of(u: &Value) -> Option<Usage> {
    let input = u["input_tokens"].as_u64()?;
    let output = u["output_tokens"].as_u64().unwrap_or(0);
    Some(Usage {
        prompt_tokens: input,
        completion_tokens: output,
        total_tokens: u["total_tokens"].as_u64().unwrap_or(input + output),
        prompt_tokens_details: u["input_tokens_details"]["cached_tokens"]
            .as_u64()
            .map(|c| PromptTokensDetails {
                cached_tokens: Some(c),
                ..PromptTokensDetails::default()
            }),
        completion_tokens_details: u["output_tokens_details"]["reasoning_tokens"].as_u64().map(
            |r| CompletionTokensDetails {
                reasoning_tokens: Some(r),
                ..CompletionTokensDetails::default()
            },
        ),
        extra: Map::new(),
    })
}

/// An upstream Responses stream → canonical chunks, each carrying the upstream frames it came
/// from (`native`), so the route can replay the stream byte for byte. Ends cleanly at
/// `response.completed` / `response.incomplete`; `response.failed` and `error` end it as a
/// failure, and a body that ends before either is a truncated stream.
#[derive(Debug)]
pub struct ResponsesUpstream {
    provider: String,
    env: ChunkEnvelope,
    /// Output index of a call item → its canonical tool-call index.
    tool_index: HashMap<u64, u32>,
    next_tool: u32,
    called: bool,
    pending_frames: String,
}

impl ResponsesUpstream {
    /// A translator for one stream from `provider`.
    pub fn new(provider: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            env: ChunkEnvelope::default(),
            tool_index: HashMap::new(),
            next_tool: 0,
            called: false,
            pending_frames: String::new(),
        }
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

    /// One event → chunks; `Ok(true)` at the clean end.
    fn translate(&mut self, data: &Value, out: &mut Vec<ChatChunk>) -> Result<bool, GatewayError> {
        let kind = data["type"].as_str().unwrap_or("");
        match kind {
            "response.created" => {
                let r = &data["response"];
                r["id"].as_str().unwrap_or("").clone_into(&mut self.env.id);
                r["model"]
                    .as_str()
                    .unwrap_or("")
                    .clone_into(&mut self.env.model);
                self.env.created = r["created_at"].as_u64().unwrap_or(0);
                out.push(self.env.role());
            }
            "response.output_text.delta" => {
                out.push(self.env.text(data["delta"].as_str().unwrap_or("")));
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                out.push(self.env.chunk(
                    ChunkDelta {
                        reasoning_content: data["delta"].as_str().map(str::to_owned),
                        ..ChunkDelta::default()
                    },
                    None,
                ));
            }
            "response.output_item.added" => {
                let item = &data["item"];
                if matches!(
                    item["type"].as_str(),
                    Some("function_call" | "custom_tool_call")
                ) {
                    let call = self.next_tool;
                    self.next_tool += 1;
                    self.called = true;
                    self.tool_index
                        .insert(data["output_index"].as_u64().unwrap_or(0), call);
                    out.push(self.env.tool_call(
                        call,
                        item["call_id"].as_str(),
                        item["name"].as_str(),
                        "",
                    ));
                }
            }
            "response.function_call_arguments.delta" => {
                let index = data["output_index"].as_u64().unwrap_or(0);
                if let Some(call) = self.tool_index.get(&index).copied() {
                    out.push(self.env.tool_call(
                        call,
                        None,
                        None,
                        data["delta"].as_str().unwrap_or(""),
                    ));
                }
            }
            // A freeform tool's input streams raw; its canonical arguments are a JSON
            // wrapper, whole only once the item is done.
            "response.output_item.done" if data["item"]["type"] == "custom_tool_call" => {
                let index = data["output_index"].as_u64().unwrap_or(0);
                if let Some(call) = self.tool_index.get(&index).copied() {
                    let args = tool_call(&data["item"]).function.arguments;
                    out.push(self.env.tool_call(call, None, None, &args));
                }
            }
            "response.completed" | "response.incomplete" => {
                let r = &data["response"];
                let finish = finish_reason(r, self.called);
                let mut last = self
                    .env
                    .chunk(ChunkDelta::default(), Some(finish.to_owned()));
                last.usage = usage_of(&r["usage"]);
                out.push(last);
                return Ok(true);
            }
            "response.failed" => {
                let e = &data["response"]["error"];
                return Err(self.upstream_error(e));
            }
            "error" => {
                let e = if data["error"].is_object() {
                    &data["error"]
                } else {
                    data
                };
                return Err(self.upstream_error(e));
            }
            _ => {}
        }
        Ok(false)
    }

    fn upstream_error(&self, e: &Value) -> GatewayError {
        let message = e["message"]
            .as_str()
            .unwrap_or("the upstream response failed");
        let mut err = GatewayError::new(
            ErrorKind::UpstreamServer,
            format!("provider '{}': {message}", self.provider),
        )
        .with_provider(&self.provider);
        if let Some(code) = e["code"].as_str() {
            err = err.with_code(code);
        }
        err
    }
}

impl EventTranslator for ResponsesUpstream {
    type Chunk = ChatChunk;

    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<bool, GatewayError> {
        ev.write_frame(&mut self.pending_frames);
        let data: Value =
            serde_json::from_str(&ev.data).map_err(|e| self.protocol(&e.to_string()))?;
        let before = out.len();
        let result = self.translate(&data, out);
        // Events without a canonical counterpart still travel: they ride on the next chunk.
        if out.len() > before
            && let Some(last) = out.last_mut()
        {
            last.native = Some(std::mem::take(&mut self.pending_frames));
        }
        result
    }
}

/// The client's body as it goes upstream: the gateway keeps the conversation, so a
/// `previous_response_id` is replaced by the stored items (their ids dropped: the upstream
/// never stored them) and the upstream is told `store: false`. Reasoning items without
/// `encrypted_content` cannot be replayed to an upstream that does not store and are left out.
pub fn client_body(mut body: Value, history: &[Value], input_items: &[Value]) -> Value {
    let Some(o) = body.as_object_mut() else {
        return body;
    };
    o.remove("previous_response_id");
    o.insert("store".to_owned(), Value::Bool(false));
    if !history.is_empty() {
        let mut input: Vec<Value> = history
            .iter()
            .filter(|i| i["type"] != "reasoning" || i["encrypted_content"].is_string())
            .cloned()
            .map(|mut i| {
                if let Some(item) = i.as_object_mut() {
                    item.remove("id");
                    item.remove("status");
                }
                i
            })
            .collect();
        input.extend(input_items.iter().cloned());
        o.insert("input".to_owned(), Value::Array(input));
    }
    body
}

/// The upstream's event frames for the client: lifecycle events (`response.created`, …,
/// `response.completed`) carry the response object, which gets the client's own `store` and
/// `previous_response_id` back (`patch`); returns the frames and, when they hold the final
/// event, the final response object.
pub fn client_frames(frames: &str, patch: impl Fn(&mut Value)) -> (String, Option<Value>) {
    let mut out = String::with_capacity(frames.len() + 64);
    let mut last = None;
    for block in frames.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let data: String = block
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect::<Vec<_>>()
            .join("\n");
        let Ok(mut event) = serde_json::from_str::<Value>(&data) else {
            out.push_str(block);
            out.push_str("\n\n");
            continue;
        };
        let kind = event["type"].as_str().unwrap_or("").to_owned();
        if event["response"].is_object() {
            patch(&mut event["response"]);
            if matches!(kind.as_str(), "response.completed" | "response.incomplete") {
                last = Some(event["response"].clone());
            }
        }
        out.push_str("event: ");
        out.push_str(&kind);
        out.push_str("\ndata: ");
        out.push_str(&event.to_string());
        out.push_str("\n\n");
    }
    (out, last)
}
