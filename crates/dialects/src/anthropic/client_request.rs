//! An Anthropic Messages request (as the Anthropic SDK sends it) → the canonical chat request.
//!
//! Why: with `/anthropic/v1/messages` an application keeps the Anthropic SDK and reaches any
//! provider. Content blocks map to OpenAI parts: text, images (base64 → data URL, url),
//! `tool_use` → assistant `tool_calls`, `tool_result` → `role: tool` messages; `system` →
//! a system message (also `role: system` entries inside `messages`, as Claude Code sends);
//! `tool_choice` any/tool/none/auto → required/named/none/auto; structured output
//! (`output_config.format`, `output_format`) → `response_format` json_schema; signed thinking
//! blocks → `thinking_blocks`.

use heimdall_schema::chat::ChatRequest;
use heimdall_schema::error::GatewayError;
use serde_json::{Map, Value, json};

use crate::conversation::{DialectBody, MessageSink, translate_value};

fn invalid(message: impl Into<String>, param: &str) -> GatewayError {
    GatewayError::invalid_request(message, Some(param.to_owned()))
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

fn image_part(block: &Value, at: &str) -> Result<Value, GatewayError> {
    let src = &block["source"];
    let url = match src["type"].as_str() {
        Some("base64") => format!(
            "data:{};base64,{}",
            src["media_type"].as_str().unwrap_or("image/png"),
            src["data"].as_str().unwrap_or("")
        ),
        Some("url") => src["url"].as_str().unwrap_or("").to_owned(),
        _ => {
            return Err(invalid(
                "image source must be base64 or url",
                &format!("{at}.source"),
            ));
        }
    };
    Ok(json!({"type": "image_url", "image_url": {"url": url}}))
}

/// Anthropic `thinking` → an OpenAI `reasoning_effort`: a budget up to 1,024 tokens → low, up
/// to 4,096 → medium, more → high; disabled (the default) sets nothing.
fn thinking_effort(thinking: &Value) -> Option<&'static str> {
    (thinking["type"] == "enabled").then(|| match thinking["budget_tokens"].as_u64().unwrap_or(0) {
        0..=1024 => "low",
        1025..=4096 => "medium",
        _ => "high",
    })
}

/// Structured output (`output_config.format`, or the beta's `output_format`) → OpenAI's
/// `response_format`: a field that changes the answer is translated or refused, never dropped.
fn structured_output(obj: &Map<String, Value>) -> Result<Option<Value>, GatewayError> {
    let (format, at) = match (
        obj.get("output_config").and_then(|c| c.get("format")),
        obj.get("output_format"),
    ) {
        (Some(f), _) if !f.is_null() => (f, "output_config.format"),
        (_, Some(f)) if !f.is_null() => (f, "output_format"),
        _ => return Ok(None),
    };
    match (format["type"].as_str(), format.get("schema")) {
        (Some("json_schema"), Some(schema)) if schema.is_object() => Ok(Some(json!({
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema, "strict": true}
        }))),
        _ => Err(invalid(
            "format must be {\"type\": \"json_schema\", \"schema\": {…}}",
            at,
        )),
    }
}

/// Translate a Messages request body (as a `Value`: tests and tools) into the canonical request.
pub fn to_chat_request(body: &Value) -> Result<ChatRequest, GatewayError> {
    translate_value(body, "messages", from_body)
}

/// Translate a Messages request body, one turn at a time, into the canonical request.
pub fn from_body(request: &DialectBody<'_>) -> Result<ChatRequest, GatewayError> {
    let body = request.head();
    let obj = body
        .as_object()
        .ok_or_else(|| invalid("request body must be a JSON object", "body"))?;
    let model = obj
        .get("model")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("model: Field required", "model"))?;
    let max_tokens = obj
        .get("max_tokens")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid("max_tokens: Field required", "max_tokens"))?;
    let mut messages = MessageSink::new();
    match obj.get("system") {
        None | Some(Value::Null) => {}
        Some(s) => messages.push(json!({"role": "system", "content": text_of(s)}))?,
    }
    let turns = request
        .turns()
        .ok_or_else(|| invalid("messages: Field required", "messages"))?;
    for (i, turn) in turns.enumerate() {
        let turn = turn?;
        let at = format!("messages.{i}");
        let role = turn["role"].as_str().unwrap_or("");
        let blocks: Vec<Value> = match &turn["content"] {
            Value::String(s) => vec![json!({"type": "text", "text": s})],
            Value::Array(b) => b.clone(),
            _ => {
                return Err(invalid(
                    "content must be a string or a list of blocks",
                    &format!("{at}.content"),
                ));
            }
        };
        match role {
            "user" => {
                let mut parts = Vec::new();
                for (j, b) in blocks.iter().enumerate() {
                    let bat = format!("{at}.content.{j}");
                    match b["type"].as_str() {
                        Some("text") => parts.push(json!({"type": "text", "text": b["text"]})),
                        Some("image") => parts.push(image_part(b, &bat)?),
                        Some("tool_result") => {
                            if !parts.is_empty() {
                                messages.push(
                                    json!({"role": "user", "content": std::mem::take(&mut parts)}),
                                )?;
                            }
                            messages.push(json!({"role": "tool",
                                "tool_call_id": b["tool_use_id"],
                                "content": text_of(&b["content"])}))?;
                        }
                        Some("document") => {
                            let src = &b["source"];
                            let data = format!(
                                "data:{};base64,{}",
                                src["media_type"].as_str().unwrap_or("application/pdf"),
                                src["data"].as_str().unwrap_or("")
                            );
                            parts.push(json!({"type": "file", "file": {"file_data": data}}));
                        }
                        _ => {}
                    }
                }
                if !parts.is_empty() {
                    messages.push(json!({"role": "user", "content": parts}))?;
                }
            }
            "assistant" => {
                let mut text = String::new();
                let mut calls = Vec::new();
                let mut thinking = Vec::new();
                for b in &blocks {
                    match b["type"].as_str() {
                        Some("text") => text.push_str(b["text"].as_str().unwrap_or("")),
                        Some("tool_use") => calls.push(json!({"id": b["id"], "type": "function",
                            "function": {"name": b["name"],
                                "arguments": b["input"].to_string()}})),
                        // Signed reasoning, for targets that want it back (Claude on Bedrock).
                        Some("thinking") => thinking.push(json!({"type": "thinking",
                            "thinking": b["thinking"], "signature": b["signature"]})),
                        Some("redacted_thinking") => {
                            thinking.push(json!({"type": "redacted_thinking", "data": b["data"]}));
                        }
                        _ => {}
                    }
                }
                let mut m = json!({"role": "assistant",
                    "content": if text.is_empty() { Value::Null } else { Value::String(text) }});
                if let Some(o) = m.as_object_mut() {
                    if !calls.is_empty() {
                        o.insert("tool_calls".into(), Value::Array(calls));
                    }
                    if !thinking.is_empty() {
                        o.insert("thinking_blocks".into(), Value::Array(thinking));
                    }
                }
                messages.push(m)?;
            }
            // Claude Code puts system reminders inside `messages`; Claude targets get the body
            // unchanged (native passthrough), the others a system message in place.
            "system" => {
                messages.push(json!({"role": "system", "content": text_of(&turn["content"])}))?;
            }
            other => {
                return Err(invalid(
                    format!("role must be user, assistant or system, got '{other}'"),
                    &format!("{at}.role"),
                ));
            }
        }
    }
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    out.insert("max_tokens".into(), json!(max_tokens));
    crate::translate::copy_fields(
        body,
        &mut out,
        &[
            ("temperature", "temperature"),
            ("top_p", "top_p"),
            ("stream", "stream"),
        ],
    );
    if let Some(s) = obj.get("stop_sequences") {
        out.insert("stop".into(), s.clone());
    }
    if let Some(u) = body.pointer("/metadata/user_id") {
        out.insert("user".into(), u.clone());
    }
    if let Some(k) = obj.get("top_k") {
        out.insert("top_k".into(), k.clone());
    }
    // Extended thinking as OpenAI's effort levels (the inverse of the Anthropic provider's
    // budgets); a Claude target receives the client's own `thinking` (native passthrough).
    if let Some(effort) = obj.get("thinking").and_then(thinking_effort) {
        out.insert("reasoning_effort".into(), json!(effort));
    }
    // Gateway routing field (Bifrost's `fallbacks`), honoured in every dialect.
    if let Some(f) = obj.get("fallbacks") {
        out.insert("fallbacks".into(), f.clone());
    }
    if obj.get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(tools) = obj.get("tools").and_then(Value::as_array) {
        let t: Vec<Value> = tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {"name": t["name"],
                "description": t.get("description").cloned().unwrap_or(Value::Null),
                "parameters": t.get("input_schema").cloned().unwrap_or(json!({"type": "object"}))}})
            })
            .collect();
        out.insert("tools".into(), Value::Array(t));
    }
    if let Some(format) = structured_output(obj)? {
        out.insert("response_format".into(), format);
    }
    if let Some(tc) = obj.get("tool_choice") {
        let choice = match tc["type"].as_str() {
            Some("auto") => json!("auto"),
            Some("any") => json!("required"),
            Some("none") => json!("none"),
            Some("tool") => json!({"type": "function", "function": {"name": tc["name"]}}),
            _ => {
                return Err(invalid(
                    "tool_choice.type must be auto, any, tool or none",
                    "tool_choice",
                ));
            }
        };
        out.insert("tool_choice".into(), choice);
        if tc["disable_parallel_tool_use"] == true {
            out.insert("parallel_tool_calls".into(), json!(false));
        }
    }
    messages.finish(out)
}
