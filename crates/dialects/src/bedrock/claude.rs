//! Claude on Bedrock for requests that arrived as Anthropic Messages: InvokeModel and
//! InvokeModelWithResponseStream with the client's own body, instead of a lossy translation
//! through Converse.
//!
//! Why: Converse has no place for everything the Messages API carries (`cache_control` on any
//! block, `thinking` with signed blocks echoed back, beta features). Bedrock's native Claude
//! body is the Messages body with `anthropic_version: bedrock-2023-05-31`, the model in the URL,
//! betas as an `anthropic_beta` list, and no `stream` field (the operation says it). Streamed
//! answers are Anthropic's own events, each base64-encoded in a `chunk` event-stream message;
//! they are fed to the Anthropic translator, keeping the frames for the client.

use base64::Engine as _;
use heimdall_schema::chat::ChatChunk;
use heimdall_schema::error::{ErrorKind, GatewayError};
use heimdall_schema::native::NativeRequest;
use serde_json::{Map, Value};

use super::stream::{BedrockEvent, EventStreamTranslator, stream_exception};
use crate::anthropic::native::messages_body;
use crate::anthropic::stream::AnthropicStream;
use crate::event::EventTranslator;
use crate::sse::SseEvent;

/// The `anthropic_version` Bedrock expects in Claude bodies.
pub const BEDROCK_ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";

/// Whether a Bedrock model id (or inference profile such as `us.anthropic.claude-…`) is Claude.
pub fn is_claude(model_id: &str) -> bool {
    model_id.contains("anthropic.claude")
}

/// The InvokeModel body for the client's Messages request.
pub fn invoke_body(native: &NativeRequest) -> Result<Map<String, Value>, GatewayError> {
    let mut body = messages_body(native, "", false)?;
    body.remove("model");
    body.entry("anthropic_version")
        .or_insert_with(|| Value::String(BEDROCK_ANTHROPIC_VERSION.to_owned()));
    let betas: Vec<Value> = native
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("anthropic-beta"))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(|b| Value::String(b.to_owned()))
        .collect();
    if !betas.is_empty() {
        body.entry("anthropic_beta")
            .or_insert_with(|| Value::Array(betas));
    }
    Ok(body)
}

/// InvokeModelWithResponseStream for Claude: `chunk` events carrying Anthropic events.
pub struct ClaudeInvokeStream {
    inner: AnthropicStream,
}

impl ClaudeInvokeStream {
    /// A translator for `provider`, keeping Claude's frames on the chunks; `created` stamps
    /// every chunk.
    pub fn new(provider: &str, created: u64) -> Self {
        Self {
            inner: AnthropicStream::new(provider, created).keeping_frames(true),
        }
    }
}

fn unreadable(what: &str) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamProtocol,
        format!("sent an unreadable Claude event: {what}"),
    )
}

impl EventStreamTranslator for ClaudeInvokeStream {
    fn on_event(
        &mut self,
        ev: &BedrockEvent,
        out: &mut Vec<ChatChunk>,
    ) -> Result<bool, GatewayError> {
        if ev.exception {
            return Err(stream_exception(ev));
        }
        if ev.kind != "chunk" {
            return Ok(false);
        }
        let encoded = ev.payload["bytes"]
            .as_str()
            .ok_or_else(|| unreadable("chunk without bytes"))?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| unreadable(&e.to_string()))?;
        let data = String::from_utf8(decoded).map_err(|e| unreadable(&e.to_string()))?;
        let kind = serde_json::from_str::<Value>(&data)
            .ok()
            .and_then(|v| v["type"].as_str().map(str::to_owned));
        self.inner.on_event(&SseEvent { event: kind, data }, out)
    }

    fn on_body_end(&mut self) -> Result<(), GatewayError> {
        self.inner.on_body_end(&mut Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use heimdall_schema::native::Dialect;
    use serde_json::json;

    use super::*;

    #[test]
    fn the_invoke_body_is_the_messages_body_in_bedrocks_envelope() {
        let native = NativeRequest {
            dialect: Dialect::Anthropic,
            body: Arc::new(
                json!({"model": "bedrock/anthropic.claude-x", "max_tokens": 10,
                "stream": true, "thinking": {"type": "enabled", "budget_tokens": 1024},
                "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi",
                    "cache_control": {"type": "ephemeral"}}]}]}),
            ),
            headers: vec![("anthropic-beta".into(), "a-2025-01-01, b-2025-02-02".into())],
        };
        let body = Value::Object(invoke_body(&native).unwrap());
        assert_eq!(
            body,
            json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10,
                "thinking": {"type": "enabled", "budget_tokens": 1024},
                "anthropic_beta": ["a-2025-01-01", "b-2025-02-02"],
                "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi",
                    "cache_control": {"type": "ephemeral"}}]}]})
        );
        assert!(is_claude("us.anthropic.claude-sonnet-4-5-20250929-v1:0"));
        assert!(!is_claude("amazon.titan-embed-text-v2:0"));
    }

    #[test]
    fn chunk_events_replay_claudes_frames() {
        let mut t = ClaudeInvokeStream::new("bedrock", 0);
        let chunk = |v: Value| BedrockEvent {
            kind: "chunk".into(),
            exception: false,
            payload: json!({"bytes": base64::engine::general_purpose::STANDARD.encode(v.to_string())}),
        };
        let mut out = Vec::new();
        let start = json!({"type": "message_start", "message": {"id": "msg_1", "model": "claude",
            "usage": {"input_tokens": 3, "output_tokens": 1}}});
        assert!(!t.on_event(&chunk(start), &mut out).unwrap());
        assert!(
            out[0]
                .native
                .as_deref()
                .unwrap()
                .starts_with("event: message_start\ndata: {")
        );
        assert!(t.on_body_end().is_err(), "no message_stop yet: truncated");
        assert!(
            t.on_event(&chunk(json!({"type": "message_stop"})), &mut out)
                .unwrap()
        );
        let bad = BedrockEvent {
            kind: "chunk".into(),
            exception: false,
            payload: json!({"bytes": "%%%"}),
        };
        assert!(
            ClaudeInvokeStream::new("b", 0)
                .on_event(&bad, &mut out)
                .is_err()
        );
    }
}
