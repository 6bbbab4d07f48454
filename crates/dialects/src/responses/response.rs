//! The canonical chat answer → a Responses API `response` object.
//!
//! Why the echo: a Responses object repeats the request's settings (instructions, tools,
//! temperature, `text.format`, metadata, `previous_response_id`, `store`…) and SDKs read them
//! back; [`Echo`] keeps them from the request so the same object is built for a JSON answer,
//! the stream's `response.created` / `response.completed` events and the stored copy.

use heimdall_schema::chat::{ChatResponse, ResponseMessage, ToolCall};
use heimdall_schema::error::GatewayError;
use heimdall_schema::thinking::ThinkingBlock;
use heimdall_schema::usage::Usage;
use serde_json::{Map, Value, json};

use super::request::{ResponsesRequest, custom_tool_names};

/// What the response object repeats from its request, and the ids it is built with.
#[derive(Debug, Clone)]
pub struct Echo {
    /// `resp_…`: the response's id (and the base of its items' ids).
    pub id: String,
    /// Unix seconds.
    pub created_at: u64,
    /// The request's settings, as OpenAI echoes them.
    pub fields: Map<String, Value>,
    /// Names of freeform tools (their calls are `custom_tool_call` items).
    pub custom_tools: Vec<String>,
    /// Whether `include` asked for `reasoning.encrypted_content`.
    pub include_encrypted_reasoning: bool,
}

impl Echo {
    /// The echo of `req`, for a response with id `id`.
    pub fn of(req: &ResponsesRequest, id: String, created_at: u64) -> Self {
        let mut fields = Map::new();
        let mut put = |k: &str, v: Value| {
            fields.insert(k.to_owned(), v);
        };
        put("instructions", opt(req.instructions.clone()));
        put("max_output_tokens", opt(req.max_output_tokens));
        put(
            "metadata",
            Value::Object(req.metadata.clone().unwrap_or_default()),
        );
        put(
            "parallel_tool_calls",
            Value::Bool(req.parallel_tool_calls.unwrap_or(true)),
        );
        put(
            "previous_response_id",
            opt(req.previous_response_id.clone()),
        );
        put(
            "reasoning",
            req.reasoning
                .clone()
                .unwrap_or_else(|| json!({"effort": null, "summary": null})),
        );
        put("store", Value::Bool(req.store.unwrap_or(true)));
        put("temperature", json!(req.temperature.unwrap_or(1.0)));
        put(
            "text",
            req.text
                .clone()
                .filter(|t| t.get("format").is_some_and(|f| !f.is_null()))
                .unwrap_or_else(|| json!({"format": {"type": "text"}})),
        );
        put(
            "tool_choice",
            req.tool_choice.clone().unwrap_or_else(|| json!("auto")),
        );
        put("tools", Value::Array(req.tools.clone().unwrap_or_default()));
        put("top_p", json!(req.top_p.unwrap_or(1.0)));
        put(
            "truncation",
            req.extra
                .get("truncation")
                .cloned()
                .unwrap_or_else(|| json!("disabled")),
        );
        put("user", opt(req.user.clone()));
        for field in ["prompt_cache_key", "safety_identifier", "service_tier"] {
            if let Some(v) = req.extra.get(field) {
                put(field, v.clone());
            }
        }
        Self {
            id,
            created_at,
            fields,
            custom_tools: custom_tool_names(req),
            include_encrypted_reasoning: req
                .include
                .as_deref()
                .unwrap_or_default()
                .iter()
                .any(|i| i == "reasoning.encrypted_content"),
        }
    }

    /// The response object around `output`, with `status` and, when known, usage.
    pub fn object(
        &self,
        model: &str,
        status: &str,
        output: Vec<Value>,
        usage: Option<&Usage>,
        incomplete: Option<&str>,
        error: Option<&GatewayError>,
    ) -> Value {
        let mut o = Map::new();
        o.insert("id".to_owned(), json!(self.id));
        o.insert("object".to_owned(), json!("response"));
        o.insert("created_at".to_owned(), json!(self.created_at));
        o.insert("status".to_owned(), json!(status));
        o.insert("background".to_owned(), json!(false));
        o.insert(
            "error".to_owned(),
            error.map_or(Value::Null, |e| {
                json!({"code": e.code.clone().unwrap_or_else(|| e.kind.as_str().to_owned()), "message": e.message})
            }),
        );
        o.insert(
            "incomplete_details".to_owned(),
            incomplete.map_or(Value::Null, |r| json!({"reason": r})),
        );
        o.insert("model".to_owned(), json!(model));
        o.insert("output".to_owned(), Value::Array(output));
        for (k, v) in &self.fields {
            o.insert(k.clone(), v.clone());
        }
        o.insert("usage".to_owned(), usage.map_or(Value::Null, usage_object));
        Value::Object(o)
    }

    /// Give an upstream's response object the request's own `store` and
    /// `previous_response_id` (the upstream was told `store: false` and never saw the id).
    pub fn patch(&self, object: &mut Value) {
        if let Some(o) = object.as_object_mut() {
            for field in ["store", "previous_response_id"] {
                if let Some(v) = self.fields.get(field) {
                    o.insert(field.to_owned(), v.clone());
                }
            }
        }
    }

    /// An item id: `prefix` + the response's own suffix + the item's position.
    pub fn item_id(&self, prefix: &str, index: usize) -> String {
        let suffix = self.id.strip_prefix("resp_").unwrap_or(&self.id);
        format!("{prefix}_{suffix}{index:02}")
    }

    /// A function call's output item (or a custom tool's, by name).
    pub fn call_item(
        &self,
        index: usize,
        call_id: &str,
        name: &str,
        arguments: &str,
        status: &str,
    ) -> Value {
        if self.custom_tools.iter().any(|t| t == name) {
            let input = serde_json::from_str::<Value>(arguments)
                .ok()
                .and_then(|v| v.get("input").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_else(|| arguments.to_owned());
            return json!({
                "type": "custom_tool_call", "id": self.item_id("ctc", index), "call_id": call_id,
                "name": name, "input": input, "status": status,
            });
        }
        json!({
            "type": "function_call", "id": self.item_id("fc", index), "call_id": call_id,
            "name": name, "arguments": arguments, "status": status,
        })
    }

    /// A reasoning item: its summary text and, for a signed block, the block as
    /// `encrypted_content` (kept whole for the stored conversation; [`Self::client_view`]
    /// drops it unless the request included `reasoning.encrypted_content`).
    pub fn reasoning_item(&self, index: usize, text: &str, block: Option<&ThinkingBlock>) -> Value {
        let mut item = json!({
            "type": "reasoning", "id": self.item_id("rs", index),
            "summary": if text.is_empty() { json!([]) } else { json!([{"type": "summary_text", "text": text}]) },
        });
        if let (Some(encrypted), Some(o)) = (block.and_then(encrypted_of), item.as_object_mut()) {
            o.insert("encrypted_content".to_owned(), json!(encrypted));
        }
        item
    }

    /// What the client sees of an output item or response object: `encrypted_content` only
    /// when the request asked for it.
    pub fn client_view(&self, value: &mut Value) {
        if self.include_encrypted_reasoning {
            return;
        }
        let strip = |item: &mut Value| {
            if let Some(o) = item.as_object_mut()
                && o.get("type").and_then(Value::as_str) == Some("reasoning")
            {
                o.remove("encrypted_content");
            }
        };
        match value.get_mut("output").and_then(Value::as_array_mut) {
            Some(items) => items.iter_mut().for_each(strip),
            None => strip(value),
        }
    }

    /// An assistant message item holding `text` (and a refusal, if any).
    pub fn message_item(
        &self,
        index: usize,
        text: &str,
        refusal: Option<&str>,
        status: &str,
    ) -> Value {
        let mut content = Vec::new();
        if !text.is_empty() || refusal.is_none() {
            content.push(output_text(text));
        }
        if let Some(r) = refusal {
            content.push(json!({"type": "refusal", "refusal": r}));
        }
        json!({
            "type": "message", "id": self.item_id("msg", index), "status": status,
            "role": "assistant", "content": content,
        })
    }
}

/// An `output_text` content part.
pub fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

/// The complete response object of a non-streamed answer.
pub fn to_response(echo: &Echo, response: &ChatResponse) -> Value {
    let Some(choice) = response.choices.first() else {
        return echo.object(
            &response.model,
            "completed",
            Vec::new(),
            response.usage.as_ref(),
            None,
            None,
        );
    };
    let output = output_items(echo, &choice.message);
    let (status, incomplete) = status_of(choice.finish_reason.as_deref());
    echo.object(
        &response.model,
        status,
        output,
        response.usage.as_ref(),
        incomplete,
        None,
    )
}

/// `completed`, or `incomplete` with its reason, from a chat finish reason.
pub fn status_of(finish_reason: Option<&str>) -> (&'static str, Option<&'static str>) {
    match finish_reason {
        Some("length") => ("incomplete", Some("max_output_tokens")),
        Some("content_filter") => ("incomplete", Some("content_filter")),
        _ => ("completed", None),
    }
}

/// The output items of one assistant message: reasoning, then text, then tool calls.
fn output_items(echo: &Echo, message: &ResponseMessage) -> Vec<Value> {
    let mut items = Vec::new();
    let blocks = message.thinking_blocks.as_deref().unwrap_or_default();
    let reasoning = message.reasoning_content.as_deref().unwrap_or_default();
    // One item per signed block, so each signature goes back with its own text.
    let texts_in_blocks = blocks
        .iter()
        .any(|b| b.thinking.as_deref().is_some_and(|t| !t.is_empty()));
    for (i, block) in blocks.iter().enumerate() {
        let text = match block.thinking.as_deref() {
            Some(t) if !t.is_empty() => t,
            _ if i == 0 && !texts_in_blocks => reasoning,
            _ => "",
        };
        items.push(echo.reasoning_item(items.len(), text, Some(block)));
    }
    if blocks.is_empty() && !reasoning.is_empty() {
        items.push(echo.reasoning_item(items.len(), reasoning, None));
    }
    let text = message.content.as_deref().unwrap_or_default();
    let refusal = message.refusal.clone().flatten();
    let calls: &[ToolCall] = message.tool_calls.as_deref().unwrap_or_default();
    if !text.is_empty() || refusal.is_some() || calls.is_empty() {
        items.push(echo.message_item(items.len(), text, refusal.as_deref(), "completed"));
    }
    for call in calls {
        items.push(echo.call_item(
            items.len(),
            &call.id,
            &call.function.name,
            &call.function.arguments,
            "completed",
        ));
    }
    items
}

/// A signed block as opaque `encrypted_content`: a thinking block's signature, or a
/// redacted block's data marked as such (read back by the request translation).
pub fn encrypted_of(block: &ThinkingBlock) -> Option<String> {
    match block.kind.as_str() {
        "redacted_thinking" => block.data.as_ref().map(|d| format!("{REDACTED_PREFIX}{d}")),
        _ => block.signature.clone(),
    }
}

/// Marks a redacted block inside `encrypted_content`.
pub const REDACTED_PREFIX: &str = "redacted_thinking:";

/// Chat usage → Responses usage.
pub fn usage_object(u: &Usage) -> Value {
    json!({
        "input_tokens": u.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": u.prompt_tokens_details.as_ref().and_then(|d| d.cached_tokens).unwrap_or(0),
            "cache_write_tokens": u.prompt_tokens_details.as_ref()
                .and_then(|d| d.extra.get("cache_creation_tokens").or_else(|| d.extra.get("cache_write_tokens")))
                .and_then(Value::as_u64).unwrap_or(0),
        },
        "output_tokens": u.completion_tokens,
        "output_tokens_details": {
            "reasoning_tokens": u.completion_tokens_details.as_ref().and_then(|d| d.reasoning_tokens).unwrap_or(0),
        },
        "total_tokens": u.total_tokens,
    })
}

fn opt<T: serde::Serialize>(v: Option<T>) -> Value {
    v.map_or(Value::Null, |v| json!(v))
}
