//! Small pieces every dialect translator needs the same way: parsing a tool call's JSON
//! arguments, splitting a data URL, and the errors for requests no dialect can express.
//!
//! Why shared: the same client mistake (arguments that are not JSON, an unknown `tool_choice`)
//! must get the same 400, naming the same field, whichever provider the request is bound for.

use heimdall_schema::error::{ErrorKind, GatewayError};
use serde_json::{Value, json};

/// A 400 naming the request field at fault.
pub fn invalid(message: impl Into<String>, param: &str) -> GatewayError {
    GatewayError::invalid_request(message, Some(param.to_owned()))
}

/// A tool call's `arguments` string as a JSON value (`{}` when empty).
pub fn tool_arguments(arguments: &str, param: &str) -> Result<Value, GatewayError> {
    if arguments.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(arguments).map_err(|e| {
        invalid(
            format!("tool call arguments are not valid JSON: {e}"),
            param,
        )
    })
}

/// `data:<media type>;base64,<data>` → (media type, data).
pub fn data_url(url: &str) -> Option<(&str, &str)> {
    let (meta, data) = url.strip_prefix("data:")?.split_once(',')?;
    Some((meta.strip_suffix(";base64")?, data))
}

/// The error for a `tool_choice` string that is not `auto`, `none` or `required`.
pub fn unknown_tool_choice(other: &str) -> GatewayError {
    invalid(
        format!("tool_choice '{other}' is not one of auto, none, required"),
        "tool_choice",
    )
}

/// Append `items` to the last turn when it has the same role, else start a turn
/// (`{"role": role, field: items}`): dialects that require alternating roles.
pub fn push_turn(turns: &mut Vec<Value>, role: &str, field: &str, items: Vec<Value>) {
    if items.is_empty() {
        return;
    }
    if let Some(last) = turns.last_mut()
        && last["role"] == role
        && let Some(existing) = last[field].as_array_mut()
    {
        existing.extend(items);
        return;
    }
    turns.push(json!({"role": role, field: items}));
}

/// The assistant message of a complete answer; empty parts are left out.
pub fn assistant_message(
    text: String,
    reasoning: String,
    calls: Vec<heimdall_schema::chat::ToolCall>,
    thinking: Vec<heimdall_schema::chat::ThinkingBlock>,
) -> heimdall_schema::chat::ResponseMessage {
    heimdall_schema::chat::ResponseMessage {
        role: "assistant".to_owned(),
        content: (!text.is_empty()).then_some(text),
        refusal: None,
        tool_calls: (!calls.is_empty()).then_some(calls),
        reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
        thinking_blocks: (!thinking.is_empty()).then_some(thinking),
        extra: serde_json::Map::new(),
    }
}

/// The error for an upstream answer that cannot be read.
pub fn unreadable(provider: &str, e: impl std::fmt::Display) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamProtocol,
        format!("provider '{provider}' returned an unreadable response: {e}"),
    )
    .with_code("upstream_invalid_response")
    .with_provider(provider)
}

/// Copy `src[from]` to `dst[to]` for each pair present (field renames between dialects).
pub fn copy_fields(src: &Value, dst: &mut serde_json::Map<String, Value>, pairs: &[(&str, &str)]) {
    for (from, to) in pairs {
        if let Some(v) = src.get(*from) {
            dst.insert((*to).to_owned(), v.clone());
        }
    }
}

/// A signed reasoning block an assistant turn sends back upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedThinking<'a> {
    /// Reasoning text with the provider's signature over it.
    Thinking {
        /// The reasoning text.
        text: &'a str,
        /// The signature.
        signature: &'a str,
    },
    /// Encrypted reasoning.
    Redacted(&'a str),
}

/// The blocks of `thinking_blocks` a provider can take back, in order: a `thinking` block
/// without its signature, or a redacted one without data, would be refused, so it is left out.
pub fn signed_thinking(
    blocks: Option<&Vec<heimdall_schema::chat::ThinkingBlock>>,
) -> impl Iterator<Item = SignedThinking<'_>> {
    blocks.into_iter().flatten().filter_map(|b| {
        match (b.kind.as_str(), b.signature.as_deref(), b.data.as_deref()) {
            ("thinking", Some(signature), _) => Some(SignedThinking::Thinking {
                text: b.thinking.as_deref().unwrap_or(""),
                signature,
            }),
            ("redacted_thinking", _, Some(data)) => Some(SignedThinking::Redacted(data)),
            _ => None,
        }
    })
}
