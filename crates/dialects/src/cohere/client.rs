//! The Cohere v2 client side: a chat request as the Cohere SDK sends it → the canonical
//! request, and the canonical reply → Cohere's chat response and stream events (message,
//! usage with `billed_units`, `tokens` and `cached_tokens`, `thinking` content).

use heimdall_schema::chat::{ChatChunk, ChatRequest, ChatResponse};
use heimdall_schema::embeddings::{EmbeddingRequest, EmbeddingResponse};
use heimdall_schema::error::GatewayError;
use heimdall_schema::usage::Usage;
use serde_json::{Map, Value, json};

use crate::client::{ClientDialect, ClientEmbeddings, StreamEncoder, decode_turns, json_bytes};
use crate::conversation::{DialectBody, MessageSink, translate_value};

pub fn invalid(message: impl Into<String>, param: &str) -> GatewayError {
    GatewayError::invalid_request(message, Some(param.to_owned()))
}

/// Cohere's error body (`{"message": …}`).
pub fn error_body(e: &GatewayError) -> Value {
    json!({"message": e.message})
}

/// A Cohere v2 chat request → the canonical request.
pub fn to_chat_request(body: &Value) -> Result<ChatRequest, GatewayError> {
    translate_value(body, "messages", from_body)
}

/// A Cohere v2 chat request → the canonical request, one message at a time.
pub fn from_body(request: &DialectBody<'_>) -> Result<ChatRequest, GatewayError> {
    let obj = request
        .head()
        .as_object()
        .ok_or_else(|| invalid("body must be a JSON object", "body"))?;
    let mut out = Map::new();
    for k in [
        "model",
        "max_tokens",
        "temperature",
        "seed",
        "frequency_penalty",
        "presence_penalty",
        "tools",
    ] {
        if let Some(v) = obj.get(k) {
            out.insert(k.to_owned(), v.clone());
        }
    }
    if let Some(p) = obj.get("p") {
        out.insert("top_p".into(), p.clone());
    }
    if let Some(s) = obj.get("stop_sequences") {
        out.insert("stop".into(), s.clone());
    }
    let mut messages = MessageSink::new();
    let turns = request
        .turns()
        .ok_or_else(|| invalid("messages is required", "messages"))?;
    for m in turns {
        let mut m = m?;
        if let Some(o) = m.as_object_mut() {
            // Cohere's assistant `tool_plan` is the text next to its tool calls.
            if let Some(plan) = o.remove("tool_plan")
                && !o.contains_key("content")
            {
                o.insert("content".into(), plan);
            }
            // Tool results may be a list of document/text objects.
            if o.get("role").and_then(Value::as_str) == Some("tool")
                && let Some(Value::Array(items)) = o.get("content").cloned()
            {
                let text: Vec<String> = items
                    .iter()
                    .map(|i| {
                        i["text"]
                            .as_str()
                            .map_or_else(|| i["document"].to_string(), str::to_owned)
                    })
                    .collect();
                o.insert("content".into(), json!(text.join("\n")));
            }
        }
        messages.push(m)?;
    }
    if obj.get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), json!(true));
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    match obj.get("tool_choice").and_then(Value::as_str) {
        Some("REQUIRED") => {
            out.insert("tool_choice".into(), json!("required"));
        }
        Some("NONE") => {
            out.insert("tool_choice".into(), json!("none"));
        }
        _ => {}
    }
    if let Some(rf) = obj.get("response_format") {
        out.insert(
            "response_format".into(),
            match rf.get("json_schema") {
                Some(s) => {
                    json!({"type": "json_schema", "json_schema": {"name": "response", "schema": s}})
                }
                None => json!({"type": "json_object"}),
            },
        );
    }
    messages.finish(out)
}

fn finish_reason(f: &str) -> &'static str {
    match f {
        "length" => "MAX_TOKENS",
        "tool_calls" => "TOOL_CALL",
        _ => "COMPLETE",
    }
}

fn usage_json(u: Option<&Usage>) -> Value {
    let u = u.cloned().unwrap_or_default();
    let t = json!({"input_tokens": u.prompt_tokens, "output_tokens": u.completion_tokens});
    let cached = u
        .prompt_tokens_details
        .and_then(|d| d.cached_tokens)
        .unwrap_or(0);
    json!({"billed_units": t, "tokens": t, "cached_tokens": cached})
}

/// A complete reply as Cohere's chat response.
pub fn to_chat_response(r: &ChatResponse) -> Value {
    let c = r.choices.first();
    let m = c.map(|c| &c.message);
    let mut message = json!({"role": "assistant"});
    if let Some(o) = message.as_object_mut() {
        let text = m.and_then(|m| m.content.clone()).unwrap_or_default();
        let calls = m.and_then(|m| m.tool_calls.clone()).unwrap_or_default();
        // A reasoning model's thinking comes first, as Cohere's own `thinking` block.
        let mut content: Vec<Value> = m
            .and_then(|m| m.reasoning_content.as_ref())
            .filter(|r| !r.is_empty())
            .map(|r| json!({"type": "thinking", "thinking": r}))
            .into_iter()
            .collect();
        if calls.is_empty() {
            content.push(json!({"type": "text", "text": text}));
            o.insert("content".into(), Value::Array(content));
        } else {
            if !content.is_empty() {
                o.insert("content".into(), Value::Array(content));
            }
            if !text.is_empty() {
                o.insert("tool_plan".into(), json!(text));
            }
            o.insert(
                "tool_calls".into(),
                serde_json::to_value(calls).unwrap_or_default(),
            );
        }
    }
    json!({"id": r.id, "finish_reason": finish_reason(c.and_then(|c| c.finish_reason.as_deref()).unwrap_or("stop")),
        "message": message, "usage": usage_json(r.usage.as_ref())})
}

pub fn event(data: &Value) -> String {
    format!(
        "event: {}\ndata: {data}\n\n",
        data["type"].as_str().unwrap_or("unknown")
    )
}

/// Cohere's stream events for a canonical chunk sequence.
#[derive(Debug, Default)]
pub struct EventEncoder {
    started: bool,
    /// The open content block: its index and whether it holds thinking (else text).
    open_content: Option<(u32, bool)>,
    next_content: u32,
    open_call: Option<u32>,
    finish: Option<String>,
    usage: Option<Usage>,
}

impl EventEncoder {
    /// Append the events for one canonical chunk.
    pub fn push_chunk(&mut self, c: &ChatChunk, out: &mut String) {
        if !self.started {
            self.started = true;
            out.push_str(&event(&json!({"id": c.id, "type": "message-start", "delta": {"message":
                {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}})));
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
            let i = self.content(true, out);
            out.push_str(&event(&json!({"type": "content-delta", "index": i,
                "delta": {"message": {"content": {"thinking": r}}}})));
        }
        if let Some(Some(t)) = &choice.delta.content
            && !t.is_empty()
        {
            let i = self.content(false, out);
            out.push_str(&event(&json!({"type": "content-delta", "index": i,
                "delta": {"message": {"content": {"text": t}}}})));
        }
        for call in choice.delta.tool_calls.iter().flatten() {
            let f = call.function.as_ref();
            if call.id.is_some() {
                self.close_call(out);
                self.open_call = Some(call.index);
                out.push_str(&event(&json!({"type": "tool-call-start", "index": call.index,
                    "delta": {"message": {"tool_calls": {"id": call.id, "type": "function",
                        "function": {"name": f.and_then(|f| f.name.clone()),
                            "arguments": f.and_then(|f| f.arguments.clone()).unwrap_or_default()}}}}})));
            } else if let Some(a) = f
                .and_then(|f| f.arguments.as_deref())
                .filter(|a| !a.is_empty())
            {
                out.push_str(&event(
                    &json!({"type": "tool-call-delta", "index": call.index,
                    "delta": {"message": {"tool_calls": {"function": {"arguments": a}}}}}),
                ));
            }
        }
        if let Some(f) = &choice.finish_reason {
            self.finish = Some(f.clone());
        }
    }

    /// The index of the open thinking (or text) content block, starting one if needed.
    fn content(&mut self, thinking: bool, out: &mut String) -> u32 {
        match self.open_content {
            Some((i, t)) if t == thinking => i,
            _ => {
                self.close_content(out);
                let i = self.next_content;
                self.next_content += 1;
                self.open_content = Some((i, thinking));
                let start = if thinking {
                    json!({"type": "thinking", "thinking": ""})
                } else {
                    json!({"type": "text", "text": ""})
                };
                out.push_str(&event(&json!({"type": "content-start", "index": i,
                    "delta": {"message": {"content": start}}})));
                i
            }
        }
    }

    fn close_content(&mut self, out: &mut String) {
        if let Some((i, _)) = self.open_content.take() {
            out.push_str(&event(&json!({"type": "content-end", "index": i})));
        }
    }

    fn close_call(&mut self, out: &mut String) {
        if let Some(i) = self.open_call.take() {
            out.push_str(&event(&json!({"type": "tool-call-end", "index": i})));
        }
    }

    /// Append the closing events (`content-end`, `tool-call-end`, `message-end`).
    pub fn push_finish(&mut self, out: &mut String) {
        self.close_content(out);
        self.close_call(out);
        out.push_str(&event(&json!({"type": "message-end", "delta": {
            "finish_reason": finish_reason(self.finish.as_deref().unwrap_or("stop")),
            "usage": usage_json(self.usage.as_ref())}})));
    }
}

/// `POST /cohere/v2/chat`.
#[derive(Debug)]
pub struct Chat;

impl ClientDialect for Chat {
    type Route = ();
    type Encoder = EventEncoder;
    const ROUTE: Option<&'static str> = Some("cohere");
    const NATURAL_PROVIDER: Option<&'static str> = Some("cohere");

    fn decode(_: &(), body: &[u8]) -> Result<ChatRequest, GatewayError> {
        decode_turns(body, "messages", from_body)
    }

    fn encode(_: &(), response: ChatResponse, _: u64) -> Vec<u8> {
        json_bytes(&to_chat_response(&response))
    }

    fn error_body(e: &GatewayError) -> Vec<u8> {
        json_bytes(&error_body(e))
    }
}

impl StreamEncoder for EventEncoder {
    fn chunk(&mut self, chunk: ChatChunk, out: &mut Vec<u8>) {
        let mut s = String::new();
        self.push_chunk(&chunk, &mut s);
        out.extend_from_slice(s.as_bytes());
    }

    fn finish(&mut self, _: u64, out: &mut Vec<u8>) {
        let mut s = String::new();
        self.push_finish(&mut s);
        out.extend_from_slice(s.as_bytes());
    }

    fn fail(&mut self, e: &GatewayError, out: &mut Vec<u8>) {
        // Cohere ends a failed stream with `message-end` and finish reason ERROR.
        let end = json!({"type": "message-end", "delta": {"finish_reason": "ERROR",
            "error": e.message}});
        out.extend_from_slice(event(&end).as_bytes());
    }
}

/// `POST /cohere/v2/embed`: `texts` → the canonical embeddings request; the answer is Cohere's
/// `embeddings_by_type` (`float`); `input_type` goes to providers that take it.
#[derive(Debug)]
pub struct Embed;

impl ClientEmbeddings for Embed {
    type Route = ();
    /// The request's `texts`, echoed in the answer.
    type Echo = Value;
    type Errors = Chat;
    const ROUTE: &'static str = "cohere";
    const NATURAL_PROVIDER: Option<&'static str> = Some("cohere");

    fn decode(_: &(), body: &[u8]) -> Result<(EmbeddingRequest, Value), GatewayError> {
        let value: Value = crate::json::decode_json(body)?;
        let mut req = json!({"model": value["model"], "input": value["texts"]});
        if let (Some(o), Some(t)) = (req.as_object_mut(), value.get("input_type")) {
            o.insert("input_type".into(), t.clone());
        }
        if let (Some(o), Some(d)) = (req.as_object_mut(), value.get("output_dimension")) {
            o.insert("dimensions".into(), d.clone());
        }
        let req: EmbeddingRequest = serde_json::from_value(req)
            .map_err(|e| invalid(format!("cannot read the request: {e}"), "texts"))?;
        req.validate()?;
        Ok((req, value["texts"].clone()))
    }

    fn encode(texts: Value, r: &EmbeddingResponse, request_id: &str) -> Vec<u8> {
        let vectors: Vec<Value> = r
            .data
            .iter()
            .map(|e| serde_json::to_value(&e.embedding).unwrap_or(Value::Null))
            .collect();
        let tokens = r.usage.as_ref().map_or(0, |u| u.prompt_tokens);
        json_bytes(
            &json!({"id": request_id, "embeddings": {"float": vectors}, "texts": texts,
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": tokens}},
            "response_type": "embeddings_by_type"}),
        )
    }
}
