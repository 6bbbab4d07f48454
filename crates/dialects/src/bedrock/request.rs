//! Canonical (OpenAI) chat requests → Bedrock Converse bodies (the model id goes in the URL).
//!
//! Why these rules (fixtures and sources in `tests/fixtures/bedrock/README.md`): Converse takes
//! the system prompt as `system` blocks, alternating `user`/`assistant` messages of content
//! blocks, tool calls as `toolUse` blocks and results as `toolResult` blocks in a user turn,
//! sampling in `inferenceConfig` and tools in `toolConfig`. Images must be bytes (Converse
//! cannot fetch a URL), so an http image URL is refused with a 400 rather than dropped.

use heimdall_schema::chat::{
    ChatMessage, ChatRequest, ContentPart, KnownPart, MessageContent, StopSequences, ToolChoice,
};
use heimdall_schema::error::GatewayError;
use serde_json::{Map, Value, json};

use crate::translate::{SignedThinking, signed_thinking};
use crate::translate::{data_url, invalid, push_turn, tool_arguments, unknown_tool_choice};

fn image_format(media: &str) -> Option<&'static str> {
    Some(match media {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        _ => return None,
    })
}

fn blocks(content: &MessageContent, path: &str) -> Result<Vec<Value>, GatewayError> {
    let parts = match content {
        MessageContent::Text(t) if t.is_empty() => return Ok(Vec::new()),
        MessageContent::Text(t) => return Ok(vec![json!({"text": t})]),
        MessageContent::Parts(p) => p,
    };
    let mut out = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let at = format!("{path}.content[{i}]");
        out.push(match part {
            ContentPart::Known(KnownPart::Text { text, .. }) => json!({"text": text}),
            ContentPart::Known(KnownPart::Refusal { refusal, .. }) => json!({"text": refusal}),
            ContentPart::Known(KnownPart::ImageUrl { image_url, .. }) => {
                let (media, data) = data_url(&image_url.url).ok_or_else(|| {
                    invalid(
                        "bedrock takes images as base64 data URLs only (it cannot fetch a URL)",
                        &format!("{at}.image_url.url"),
                    )
                })?;
                let format = image_format(media).ok_or_else(|| {
                    invalid(
                        format!("image type '{media}' is not one of png, jpeg, gif, webp"),
                        &format!("{at}.image_url.url"),
                    )
                })?;
                json!({"image": {"format": format, "source": {"bytes": data}}})
            }
            ContentPart::Known(KnownPart::InputAudio { .. } | KnownPart::File { .. }) => {
                return Err(invalid(
                    "this content part type is not supported for bedrock models",
                    &at,
                ));
            }
            ContentPart::Other(v) => v.clone(),
        });
    }
    Ok(out)
}

/// Translate a chat request into a Converse body.
pub fn to_converse_request(req: &ChatRequest) -> Result<Value, GatewayError> {
    if req.n.is_some_and(|n| n > 1) {
        return Err(invalid(
            "bedrock converse returns one choice; n must be 1",
            "n",
        ));
    }
    let mut system = Vec::new();
    let mut messages: Vec<Value> = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        let path = format!("messages[{i}]");
        match m {
            ChatMessage::System(s) | ChatMessage::Developer(s) => {
                system.extend(blocks(&s.content, &path)?);
            }
            ChatMessage::User(u) => {
                push_turn(&mut messages, "user", "content", blocks(&u.content, &path)?)
            }
            ChatMessage::Assistant(a) => {
                // Signed reasoning goes back first, as received: Bedrock refuses a thinking +
                // tool-use turn without it.
                let mut b: Vec<Value> = signed_thinking(a.thinking_blocks.as_ref())
                    .map(|t| match t {
                        SignedThinking::Thinking { text, signature } => json!({"reasoningContent":
                            {"reasoningText": {"text": text, "signature": signature}}}),
                        SignedThinking::Redacted(data) => {
                            json!({"reasoningContent": {"redactedContent": data}})
                        }
                    })
                    .collect();
                if let Some(c) = &a.content {
                    b.extend(blocks(c, &path)?);
                }
                for (j, call) in a.tool_calls.iter().flatten().enumerate() {
                    let input = tool_arguments(
                        &call.function.arguments,
                        &format!("{path}.tool_calls[{j}].function.arguments"),
                    )?;
                    b.push(json!({"toolUse": {"toolUseId": call.id,
                        "name": call.function.name, "input": input}}));
                }
                push_turn(&mut messages, "assistant", "content", b);
            }
            ChatMessage::Tool(t) => {
                let text = t.content.text();
                let content = match serde_json::from_str::<Value>(&text) {
                    Ok(v @ Value::Object(_)) => json!([{"json": v}]),
                    _ => json!([{"text": text}]),
                };
                push_turn(
                    &mut messages,
                    "user",
                    "content",
                    vec![json!({"toolResult": {"toolUseId": t.tool_call_id,
                        "content": content}})],
                );
            }
            ChatMessage::Function(_) => {
                return Err(invalid(
                    "the legacy 'function' role is not supported for bedrock models; send tool results with role 'tool'",
                    &format!("{path}.role"),
                ));
            }
        }
    }
    let mut body = Map::new();
    body.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }
    let mut inference = Map::new();
    if let Some(v) = req.max_completion_tokens.or(req.max_tokens) {
        inference.insert("maxTokens".into(), json!(v));
    }
    if let Some(v) = req.temperature {
        inference.insert("temperature".into(), json!(v));
    }
    if let Some(v) = req.top_p {
        inference.insert("topP".into(), json!(v));
    }
    if let Some(s) = &req.stop {
        let list = match s {
            StopSequences::One(s) => json!([s]),
            StopSequences::Many(v) => json!(v),
        };
        inference.insert("stopSequences".into(), list);
    }
    if !inference.is_empty() {
        body.insert("inferenceConfig".into(), Value::Object(inference));
    }
    let tools: Vec<Value> = req
        .tools
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, t)| match (&t.kind[..], &t.function) {
            ("function", Some(f)) => {
                let mut spec = json!({"name": f.name, "inputSchema": {"json": f.parameters.clone()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}}))}});
                if let (Some(d), Some(o)) = (&f.description, spec.as_object_mut()) {
                    o.insert("description".into(), json!(d));
                }
                Ok(json!({"toolSpec": spec}))
            }
            _ => Err(invalid(
                format!("tool type '{}' is not supported for bedrock models", t.kind),
                &format!("tools[{i}].type"),
            )),
        })
        .collect::<Result<_, _>>()?;
    let none = matches!(&req.tool_choice, Some(ToolChoice::Mode(m)) if m == "none");
    let history_has_tools = req.messages.iter().any(|m| match m {
        ChatMessage::Tool(_) => true,
        ChatMessage::Assistant(a) => a.tool_calls.as_ref().is_some_and(|c| !c.is_empty()),
        _ => false,
    });
    let choice = match &req.tool_choice {
        None => None,
        Some(ToolChoice::Mode(m)) => match m.as_str() {
            "auto" => Some(json!({"auto": {}})),
            "required" => Some(json!({"any": {}})),
            // Converse has no "none": without tool blocks in the history the tools are left
            // out; with them, Converse requires a toolConfig, so the tools stay declared and
            // the choice is left to the model (best effort).
            "none" => None,
            other => return Err(unknown_tool_choice(other)),
        },
        Some(ToolChoice::Named(n)) => {
            let name = n.function.as_ref().map(|f| f.name.as_str()).unwrap_or("");
            Some(json!({"tool": {"name": name}}))
        }
    };
    if !tools.is_empty() && (!none || history_has_tools) {
        let mut config = json!({"tools": tools});
        if let (Some(c), Some(o)) = (choice, config.as_object_mut()) {
            o.insert("toolChoice".into(), c);
        }
        body.insert("toolConfig".into(), config);
    }
    if let Some(extra) = req.extra.get("additionalModelRequestFields") {
        body.insert("additionalModelRequestFields".into(), extra.clone());
    }
    if req.presence_penalty.is_some() || req.frequency_penalty.is_some() || req.seed.is_some() {
        tracing::debug!("penalties/seed dropped: not part of bedrock converse inferenceConfig");
    }
    Ok(Value::Object(body))
}
