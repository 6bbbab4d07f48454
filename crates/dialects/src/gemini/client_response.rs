//! Canonical replies → Gemini's shapes: `GenerateContentResponse` (whole, or one per stream
//! event with the new parts), and Google's error body `{"error": {code, message, status}}`.
//!
//! Why tool calls are held back in streams: OpenAI streams a call's arguments in pieces;
//! Gemini sends each `functionCall` whole, so pieces are collected and the calls are emitted
//! with the finish reason.

use std::collections::BTreeMap;

use crate::client::{ClientDialect, ClientEmbeddings, StreamEncoder, decode_turns, json_bytes};
use heimdall_schema::chat::{ChatChunk, ChatRequest, ChatResponse};
use heimdall_schema::embeddings::{EmbeddingRequest, EmbeddingResponse};
use heimdall_schema::error::GatewayError;
use heimdall_schema::usage::Usage;
use serde_json::{Value, json};

/// OpenAI `finish_reason` → Gemini `finishReason`.
pub fn finish_reason(f: &str) -> &'static str {
    match f {
        "length" => "MAX_TOKENS",
        "content_filter" => "SAFETY",
        _ => "STOP",
    }
}

fn usage_json(u: Option<&Usage>) -> Value {
    let u = u.cloned().unwrap_or_default();
    let mut v = json!({"promptTokenCount": u.prompt_tokens,
        "candidatesTokenCount": u.completion_tokens, "totalTokenCount": u.total_tokens});
    if let (Some(c), Some(o)) = (
        u.prompt_tokens_details.and_then(|d| d.cached_tokens),
        v.as_object_mut(),
    ) {
        o.insert("cachedContentTokenCount".into(), json!(c));
    }
    v
}

fn call_part(name: &str, arguments: &str) -> Value {
    let args: Value = serde_json::from_str(arguments).unwrap_or(json!({}));
    json!({"functionCall": {"name": name, "args": args}})
}

/// A complete response.
pub fn to_generate_response(r: &ChatResponse) -> Value {
    let candidates: Vec<Value> = r
        .choices
        .iter()
        .map(|c| {
            let mut parts = Vec::new();
            if let Some(t) = c
                .message
                .reasoning_content
                .as_ref()
                .filter(|t| !t.is_empty())
            {
                parts.push(json!({"text": t, "thought": true}));
            }
            if let Some(t) = c.message.content.as_ref().filter(|t| !t.is_empty()) {
                parts.push(json!({"text": t}));
            }
            for call in c.message.tool_calls.iter().flatten() {
                parts.push(call_part(&call.function.name, &call.function.arguments));
            }
            json!({"content": {"role": "model", "parts": parts}, "index": c.index,
                "finishReason": finish_reason(c.finish_reason.as_deref().unwrap_or("stop"))})
        })
        .collect();
    json!({"candidates": candidates, "usageMetadata": usage_json(r.usage.as_ref()),
        "modelVersion": r.model, "responseId": r.id})
}

/// Google's error body for a gateway error.
pub fn error_body(e: &GatewayError) -> Value {
    let status = match e.status {
        400 | 413 | 422 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        402 | 429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    };
    json!({"error": {"code": e.status, "message": e.message, "status": status}})
}

/// Turns chunks into stream events.
#[derive(Debug, Default)]
pub struct EventEncoder {
    calls: BTreeMap<u32, (String, String)>,
    usage: Option<Usage>,
    id: String,
    model: String,
    finish: Option<String>,
}

impl EventEncoder {
    fn response(&self, parts: Vec<Value>, finish: Option<&str>, with_usage: bool) -> Value {
        let mut c = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if let (Some(f), Some(o)) = (finish, c.as_object_mut()) {
            o.insert("finishReason".into(), json!(f));
        }
        let mut r = json!({"candidates": [c], "modelVersion": self.model, "responseId": self.id});
        if with_usage && let Some(o) = r.as_object_mut() {
            o.insert("usageMetadata".into(), usage_json(self.usage.as_ref()));
        }
        r
    }

    /// The event for one chunk, if it carries anything to send now.
    pub fn event_for(&mut self, c: &ChatChunk) -> Option<Value> {
        c.id.clone_into(&mut self.id);
        c.model.clone_into(&mut self.model);
        if let Some(u) = &c.usage {
            self.usage = Some(u.clone());
        }
        let choice = c.choices.first()?;
        let d = &choice.delta;
        for call in d.tool_calls.iter().flatten() {
            let entry = self.calls.entry(call.index).or_default();
            if let Some(f) = &call.function {
                if let Some(n) = &f.name {
                    entry.0.push_str(n);
                }
                if let Some(a) = &f.arguments {
                    entry.1.push_str(a);
                }
            }
        }
        if let Some(f) = &choice.finish_reason {
            self.finish = Some(f.clone());
        }
        let mut parts = Vec::new();
        if let Some(t) = d.reasoning_content.as_ref().filter(|t| !t.is_empty()) {
            parts.push(json!({"text": t, "thought": true}));
        }
        if let Some(Some(t)) = &d.content
            && !t.is_empty()
        {
            parts.push(json!({"text": t}));
        }
        (!parts.is_empty()).then(|| self.response(parts, None, false))
    }

    /// The last event: held-back function calls, the finish reason and the usage.
    pub fn last_event(&mut self) -> Value {
        let parts: Vec<Value> = self
            .calls
            .values()
            .map(|(name, args)| call_part(name, args))
            .collect();
        let finish = finish_reason(self.finish.as_deref().unwrap_or("stop"));
        self.response(parts, Some(finish), true)
    }
}

/// `POST /genai/{version}/models/{model}:generateContent` and `:streamGenerateContent`.
#[derive(Debug)]
pub struct GenerateContent;

/// What a `generateContent` call takes from its URL.
#[derive(Debug, Clone)]
pub struct GenerateCall {
    /// The model named in the path.
    pub model: String,
    /// `None` for `generateContent`; for `streamGenerateContent`, `Some(true)` with `alt=sse`
    /// (server-sent events) and `Some(false)` without (one JSON array, streamed).
    pub stream: Option<bool>,
}

impl ClientDialect for GenerateContent {
    type Route = GenerateCall;
    type Encoder = GenerateStream;
    const ROUTE: Option<&'static str> = Some("genai");
    const NATURAL_PROVIDER: Option<&'static str> = Some("gemini");

    fn decode(call: &GenerateCall, body: &[u8]) -> Result<ChatRequest, GatewayError> {
        decode_turns(body, "contents", |b| {
            crate::gemini::client_request::from_body(&call.model, b, call.stream.is_some())
        })
    }

    fn encode(_: &GenerateCall, response: ChatResponse, _: u64) -> Vec<u8> {
        json_bytes(&to_generate_response(&response))
    }

    fn encoder(call: &GenerateCall) -> GenerateStream {
        GenerateStream {
            events: EventEncoder::default(),
            sse: call.stream.unwrap_or(true),
            first: true,
        }
    }

    fn stream_content_type(call: &GenerateCall) -> &'static str {
        if call.stream.unwrap_or(true) {
            "text/event-stream"
        } else {
            "application/json"
        }
    }

    fn error_body(e: &GatewayError) -> Vec<u8> {
        json_bytes(&error_body(e))
    }
}

/// Gemini's stream: `data: {response}` events, or the elements of one JSON array.
#[derive(Debug)]
pub struct GenerateStream {
    events: EventEncoder,
    sse: bool,
    first: bool,
}

impl Default for GenerateStream {
    /// Server-sent events, as `alt=sse` asks (the SDKs' default).
    fn default() -> Self {
        Self {
            events: EventEncoder::default(),
            sse: true,
            first: true,
        }
    }
}

impl GenerateStream {
    fn frame(&mut self, v: &Value, out: &mut Vec<u8>) {
        if self.sse {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(&json_bytes(v));
            out.extend_from_slice(b"\r\n\r\n");
        } else {
            out.extend_from_slice(if self.first { b"[" } else { b",\r\n" });
            out.extend_from_slice(&json_bytes(v));
        }
        self.first = false;
    }

    fn last(&mut self, v: &Value, out: &mut Vec<u8>) {
        self.frame(v, out);
        if !self.sse {
            out.push(b']');
        }
    }
}

impl StreamEncoder for GenerateStream {
    fn chunk(&mut self, chunk: ChatChunk, out: &mut Vec<u8>) {
        if let Some(v) = self.events.event_for(&chunk) {
            self.frame(&v, out);
        }
    }

    fn finish(&mut self, _: u64, out: &mut Vec<u8>) {
        let v = self.events.last_event();
        self.last(&v, out);
    }

    fn fail(&mut self, e: &GatewayError, out: &mut Vec<u8>) {
        self.last(&error_body(e), out);
    }
}

/// `POST /genai/{version}/models/{model}:embedContent` and `:batchEmbedContents`.
#[derive(Debug)]
pub struct EmbedContent;

/// What an embed call takes from its URL.
#[derive(Debug, Clone)]
pub struct EmbedCall {
    /// The model named in the path.
    pub model: String,
    /// `batchEmbedContents` (answered as `embeddings`, else one `embedding`).
    pub batch: bool,
}

impl ClientEmbeddings for EmbedContent {
    type Route = EmbedCall;
    type Echo = bool;
    type Errors = GenerateContent;
    const ROUTE: &'static str = "genai";
    const NATURAL_PROVIDER: Option<&'static str> = Some("gemini");

    fn decode(call: &EmbedCall, body: &[u8]) -> Result<(EmbeddingRequest, bool), GatewayError> {
        let body: Value = crate::json::decode_json(body)?;
        let text_of = |c: &Value| -> String {
            c["parts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["text"].as_str())
                .collect()
        };
        let input = if call.batch {
            let texts: Vec<String> = body["requests"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| text_of(&r["content"]))
                .collect();
            json!(texts)
        } else {
            json!(text_of(&body["content"]))
        };
        let mut req = json!({"model": call.model, "input": input});
        let dims = body
            .get("outputDimensionality")
            .or_else(|| body.pointer("/requests/0/outputDimensionality"));
        if let (Some(d), Some(o)) = (dims, req.as_object_mut()) {
            o.insert("dimensions".into(), d.clone());
        }
        let req: EmbeddingRequest = serde_json::from_value(req)
            .map_err(|e| GatewayError::invalid_request(e.to_string(), None))?;
        Ok((req, call.batch))
    }

    fn encode(batch: bool, r: &EmbeddingResponse, _: &str) -> Vec<u8> {
        let values: Vec<Value> = r
            .data
            .iter()
            .map(|e| json!({"values": serde_json::to_value(&e.embedding).unwrap_or(Value::Null)}))
            .collect();
        if batch {
            json_bytes(&json!({"embeddings": values}))
        } else {
            let first = values.into_iter().next().unwrap_or(json!({"values": []}));
            json_bytes(&json!({"embedding": first}))
        }
    }
}
