//! Canonical (OpenAI) chat request → Anthropic Messages request.
//!
//! Why these rules (documented in docs/providers.md): Anthropic takes the system prompt as a
//! top-level field, requires `max_tokens`, wants tool calls as `tool_use` blocks in assistant
//! turns and tool results as `tool_result` blocks in user turns, and combines consecutive
//! same-role turns — so we emit each turn once, as content blocks. Parameters Anthropic cannot
//! honour are rejected when ignoring them would change the answer (`n > 1`, audio input) and
//! dropped with a debug log when they only tune sampling (`presence_penalty`, `seed`, …).

use heimdall_schema::chat::{
    ChatMessage, ChatRequest, ContentPart, KnownPart, MessageContent, ResponseFormat,
    StopSequences, ToolChoice,
};
use heimdall_schema::error::GatewayError;

use crate::translate::{SignedThinking, signed_thinking};
use crate::translate::{data_url, invalid, tool_arguments, unknown_tool_choice};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// `max_tokens` when the client sets none (Anthropic requires it).
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Added to the system prompt for `response_format: json_object` (no Anthropic equivalent).
pub const JSON_OBJECT_HINT: &str = "Respond with a single valid JSON object and nothing else.";

/// Request fields that only mean something to Anthropic, passed through from the client's body.
const PASSTHROUGH: [&str; 4] = ["top_k", "thinking", "service_tier", "container"];

/// A translated request, and what the response translation must know about it.
#[derive(Debug, Serialize)]
pub struct MessagesRequest {
    /// Upstream model.
    pub model: String,
    /// Turns.
    pub messages: Vec<Turn>,
    /// System prompt blocks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<Value>,
    /// Output limit.
    pub max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_sequences: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_config: Option<Value>,
    #[serde(flatten)]
    passthrough: Map<String, Value>,
}

impl MessagesRequest {
    /// Ask for an SSE answer.
    pub fn set_stream(&mut self) {
        self.stream = Some(true);
    }
}

/// One turn.
#[derive(Debug, Serialize, PartialEq)]
pub struct Turn {
    /// `user` or `assistant`.
    pub role: &'static str,
    /// Content blocks (serialised as a plain string when they are one plain text block).
    #[serde(serialize_with = "content_form")]
    pub content: Vec<Value>,
}

fn content_form<S: serde::Serializer>(blocks: &[Value], s: S) -> Result<S::Ok, S::Error> {
    match blocks {
        [b] if b.as_object().is_some_and(|o| o.len() == 2) && b["type"] == "text" => {
            b["text"].serialize(s)
        }
        _ => blocks.serialize(s),
    }
}

/// Translate a canonical request.
pub fn to_messages_request(req: &ChatRequest) -> Result<MessagesRequest, GatewayError> {
    if req.n.is_some_and(|n| n > 1) {
        return Err(invalid(
            "anthropic models return one choice; n must be 1",
            "n",
        ));
    }
    for (name, set) in [
        ("presence_penalty", req.presence_penalty.is_some()),
        ("frequency_penalty", req.frequency_penalty.is_some()),
        ("logit_bias", req.logit_bias.is_some()),
        (
            "logprobs",
            req.logprobs.is_some() || req.top_logprobs.is_some(),
        ),
        ("seed", req.seed.is_some()),
    ] {
        if set {
            tracing::debug!(parameter = name, "dropped: anthropic has no equivalent");
        }
    }

    let mut system: Vec<Value> = Vec::new();
    let mut turns: Vec<Turn> = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        let path = format!("messages[{i}]");
        match m {
            ChatMessage::System(s) | ChatMessage::Developer(s) => {
                system.extend(blocks(&s.content, &path)?);
            }
            ChatMessage::User(u) => push(&mut turns, "user", blocks(&u.content, &path)?),
            ChatMessage::Assistant(a) => {
                // Signed thinking goes back first, as received: a thinking + tool-use turn
                // is refused without it.
                let mut content: Vec<Value> = signed_thinking(a.thinking_blocks.as_ref())
                    .map(|t| match t {
                        SignedThinking::Thinking { text, signature } => {
                            json!({"type": "thinking", "thinking": text, "signature": signature})
                        }
                        SignedThinking::Redacted(data) => {
                            json!({"type": "redacted_thinking", "data": data})
                        }
                    })
                    .collect();
                if let Some(c) = &a.content {
                    content.extend(blocks(c, &path)?);
                }
                if let Some(r) = a.refusal.as_ref().filter(|r| !r.is_empty()) {
                    content.push(json!({"type": "text", "text": r}));
                }
                for (j, call) in a.tool_calls.iter().flatten().enumerate() {
                    let input = tool_arguments(
                        &call.function.arguments,
                        &format!("{path}.tool_calls[{j}].function.arguments"),
                    )?;
                    content.push(json!({"type": "tool_use", "id": call.id,
                        "name": call.function.name, "input": input}));
                }
                push(&mut turns, "assistant", content);
            }
            ChatMessage::Tool(t) => {
                let content = match &t.content {
                    MessageContent::Text(s) => Value::String(s.clone()),
                    c => Value::Array(blocks(c, &path)?),
                };
                push(
                    &mut turns,
                    "user",
                    vec![json!({"type": "tool_result", "tool_use_id": t.tool_call_id,
                        "content": content})],
                );
            }
            ChatMessage::Function(_) => {
                return Err(invalid(
                    "the legacy 'function' role is not supported for anthropic models; send tool results with role 'tool'",
                    &format!("{path}.role"),
                ));
            }
        }
    }

    let mut out = MessagesRequest {
        model: req.model.clone(),
        messages: turns,
        system: system_value(system),
        max_tokens: req
            .max_completion_tokens
            .or(req.max_tokens)
            .unwrap_or(DEFAULT_MAX_TOKENS),
        // OpenAI allows 0–2, Anthropic 0–1: clamp rather than fail a request that a fallback
        // to Anthropic would otherwise break.
        temperature: req.temperature.map(|t| t.clamp(0.0, 1.0)),
        top_p: req.top_p,
        stop_sequences: req.stop.as_ref().map(|s| match s {
            StopSequences::One(s) => vec![s.clone()],
            StopSequences::Many(v) => v.clone(),
        }),
        stream: req.stream.filter(|s| *s),
        tools: None,
        tool_choice: None,
        metadata: req.user.as_ref().map(|u| json!({"user_id": u})),
        passthrough: PASSTHROUGH
            .iter()
            .filter_map(|k| req.extra.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect(),
        output_config: None,
    };
    apply_reasoning_effort(req, &mut out);
    translate_tools(req, &mut out)?;
    Ok(out)
}

/// `reasoning_effort` → extended thinking with a token budget (unless the client sent its own
/// `thinking`). Thinking needs room inside `max_tokens` and does not combine with sampling
/// changes, so those are adjusted (logged at debug).
fn apply_reasoning_effort(req: &ChatRequest, out: &mut MessagesRequest) {
    if out.passthrough.contains_key("thinking") {
        return;
    }
    let budget: u32 = match req.reasoning_effort.as_deref() {
        Some("low") => 1024,
        Some("medium") => 4096,
        Some("high") => 16384,
        _ => return,
    };
    out.passthrough.insert(
        "thinking".to_owned(),
        json!({"type": "enabled", "budget_tokens": budget}),
    );
    if out.max_tokens <= budget {
        out.max_tokens = budget + DEFAULT_MAX_TOKENS;
    }
    if out.temperature.take().is_some() || out.top_p.take().is_some() {
        tracing::debug!("temperature/top_p dropped: anthropic thinking does not combine with them");
    }
}

fn system_value(blocks: Vec<Value>) -> Option<Value> {
    match blocks.as_slice() {
        [] => None,
        // One plain text block: the string form, as Anthropic's examples use.
        [b] if b.as_object().is_some_and(|o| o.len() == 2) => {
            b.get("text").cloned().filter(Value::is_string)
        }
        _ => Some(Value::Array(blocks)),
    }
}

/// Append to the last turn when it has the same role (Anthropic alternates roles).
fn push(turns: &mut Vec<Turn>, role: &'static str, content: Vec<Value>) {
    if content.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some(last) if last.role == role => last.content.extend(content),
        _ => turns.push(Turn { role, content }),
    }
}

/// Content → Anthropic blocks. `cache_control` on a part is kept.
fn blocks(content: &MessageContent, path: &str) -> Result<Vec<Value>, GatewayError> {
    let parts = match content {
        MessageContent::Text(t) if t.is_empty() => return Ok(Vec::new()),
        MessageContent::Text(t) => return Ok(vec![json!({"type": "text", "text": t})]),
        MessageContent::Parts(p) => p,
    };
    let mut out = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let at = format!("{path}.content[{i}]");
        let (mut block, extra) = match part {
            ContentPart::Known(KnownPart::Text { text, extra }) => {
                (json!({"type": "text", "text": text}), extra)
            }
            ContentPart::Known(KnownPart::Refusal { refusal, extra }) => {
                (json!({"type": "text", "text": refusal}), extra)
            }
            ContentPart::Known(KnownPart::ImageUrl { image_url, extra }) => {
                (image_block(&image_url.url, &at)?, extra)
            }
            ContentPart::Known(KnownPart::File { file, extra }) => {
                (document_block(file, &at)?, extra)
            }
            ContentPart::Known(KnownPart::InputAudio { .. }) => {
                return Err(invalid("anthropic models do not accept audio input", &at));
            }
            // Anthropic-native blocks sent through the OpenAI API are forwarded as they are.
            ContentPart::Other(v) => {
                out.push(v.clone());
                continue;
            }
        };
        if let (Some(cc), Some(obj)) = (extra.get("cache_control"), block.as_object_mut()) {
            obj.insert("cache_control".to_owned(), cc.clone());
        }
        out.push(block);
    }
    Ok(out)
}

fn image_block(url: &str, at: &str) -> Result<Value, GatewayError> {
    if let Some((media, data)) = data_url(url) {
        return Ok(json!({"type": "image",
            "source": {"type": "base64", "media_type": media, "data": data}}));
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(json!({"type": "image", "source": {"type": "url", "url": url}}));
    }
    Err(invalid(
        "image_url.url must be an http(s) URL or a base64 data URL",
        &format!("{at}.image_url.url"),
    ))
}

fn document_block(file: &Map<String, Value>, at: &str) -> Result<Value, GatewayError> {
    let data = file.get("file_data").and_then(Value::as_str);
    match data.and_then(data_url) {
        Some((media, data)) => Ok(json!({"type": "document",
            "source": {"type": "base64", "media_type": media, "data": data}})),
        None => Err(invalid(
            "for anthropic models a file part needs file_data as a base64 data URL (file ids are not portable)",
            &format!("{at}.file"),
        )),
    }
}

fn translate_tools(req: &ChatRequest, out: &mut MessagesRequest) -> Result<(), GatewayError> {
    let mut tools: Vec<Value> = Vec::new();
    for (i, t) in req.tools.iter().flatten().enumerate() {
        let f = match (t.kind.as_str(), &t.function) {
            ("function", Some(f)) => f,
            _ => {
                return Err(invalid(
                    format!(
                        "tool type '{}' is not supported for anthropic models",
                        t.kind
                    ),
                    &format!("tools[{i}].type"),
                ));
            }
        };
        let mut tool = json!({"name": f.name, "input_schema": f.parameters.clone()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}}))});
        if let (Some(d), Some(o)) = (&f.description, tool.as_object_mut()) {
            o.insert("description".to_owned(), Value::String(d.clone()));
        }
        if let (Some(cc), Some(o)) = (t.extra.get("cache_control"), tool.as_object_mut()) {
            o.insert("cache_control".to_owned(), cc.clone());
        }
        tools.push(tool);
    }
    let mut choice = match &req.tool_choice {
        None => None,
        Some(ToolChoice::Mode(m)) => Some(match m.as_str() {
            "auto" => json!({"type": "auto"}),
            "none" => json!({"type": "none"}),
            "required" => json!({"type": "any"}),
            other => return Err(unknown_tool_choice(other)),
        }),
        Some(ToolChoice::Named(n)) => match &n.function {
            Some(f) => Some(json!({"type": "tool", "name": f.name})),
            None => {
                return Err(invalid(
                    "tool_choice.function.name is required",
                    "tool_choice",
                ));
            }
        },
    };
    match &req.response_format {
        // Structured outputs: the schema constrains the text answer itself.
        Some(ResponseFormat::JsonSchema { json_schema, .. }) => {
            let schema = json_schema
                .schema
                .clone()
                .unwrap_or_else(|| json!({"type": "object"}));
            out.output_config = Some(json!({"format": {"type": "json_schema", "schema": schema}}));
        }
        // JSON mode has no Anthropic equivalent: ask for it in the system prompt.
        Some(ResponseFormat::JsonObject { .. }) => {
            let hint = json!({"type": "text", "text": JSON_OBJECT_HINT});
            out.system = Some(match out.system.take() {
                None => Value::String(JSON_OBJECT_HINT.to_owned()),
                Some(Value::String(s)) => Value::String(format!("{s}\n\n{JSON_OBJECT_HINT}")),
                Some(Value::Array(mut blocks)) => {
                    blocks.push(hint);
                    Value::Array(blocks)
                }
                Some(other) => other,
            });
        }
        Some(ResponseFormat::Text { .. }) | None => {}
    }
    if req.parallel_tool_calls == Some(false) {
        let c = choice.get_or_insert_with(|| json!({"type": "auto"}));
        if let Some(o) = c.as_object_mut() {
            o.insert("disable_parallel_tool_use".to_owned(), Value::Bool(true));
        }
    }
    out.tools = (!tools.is_empty()).then_some(tools);
    out.tool_choice = choice;
    Ok(())
}
