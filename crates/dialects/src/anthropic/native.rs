//! Sending an Anthropic Messages request as the client wrote it, and keeping the upstream's own
//! answer beside the canonical one.
//!
//! Why: a request from the Anthropic SDK that reaches Claude (Anthropic direct or Vertex AI)
//! may use what the canonical model cannot carry — `cache_control` breakpoints, `thinking` and
//! its signed blocks, `anthropic-beta` features. Sending the original body (only the model
//! and the `stream` flag change) keeps them; the canonical response is still parsed from the
//! same bytes, for usage, logs and the other dialects.

use std::sync::Arc;

use heimdall_schema::chat::{ChatRequest, ChatResponse};
use heimdall_schema::error::GatewayError;
use heimdall_schema::native::{Dialect, NativeRequest};
use serde_json::{Map, Value};

use super::response::{MessagesResponse, from_messages_response};
use crate::translate::unreadable;

/// The request's Anthropic original, if it arrived as one.
pub fn native_of(req: &ChatRequest) -> Option<&NativeRequest> {
    NativeRequest::body_in(req.native.as_ref(), Dialect::Anthropic)
}

/// The client's Messages body for the upstream `model`: `model` and `stream` follow the call,
/// every other field goes as sent.
pub fn messages_body(
    native: &NativeRequest,
    model: &str,
    stream: bool,
) -> Result<Map<String, Value>, GatewayError> {
    let mut body = native
        .body
        .as_object()
        .cloned()
        .ok_or_else(|| GatewayError::internal("the Anthropic request body is not an object"))?;
    body.insert("model".to_owned(), Value::String(model.to_owned()));
    if stream {
        body.insert("stream".to_owned(), Value::Bool(true));
    } else {
        body.remove("stream");
    }
    Ok(body)
}

/// Parse an upstream Messages answer into the canonical response, keeping the original when
/// the client spoke Anthropic.
pub fn parse_response(
    provider: &str,
    bytes: &[u8],
    keep_native: bool,
    created: u64,
) -> Result<ChatResponse, GatewayError> {
    if !keep_native {
        let parsed: MessagesResponse =
            serde_json::from_slice(bytes).map_err(|e| unreadable(provider, e))?;
        return Ok(from_messages_response(parsed, created));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| unreadable(provider, e))?;
    let parsed: MessagesResponse =
        serde_json::from_value(value.clone()).map_err(|e| unreadable(provider, e))?;
    let mut response = from_messages_response(parsed, created);
    response.native = Some(Arc::new(value));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn native(body: Value) -> NativeRequest {
        NativeRequest {
            dialect: Dialect::Anthropic,
            body: Arc::new(body),
            headers: vec![],
        }
    }

    #[test]
    fn only_model_and_stream_change() {
        let body = serde_json::json!({
            "model": "anthropic/claude-sonnet-4-5", "max_tokens": 1024, "stream": true,
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "system": [{"type": "text", "text": "long", "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "Hi"}]
        });
        let out = messages_body(&native(body.clone()), "claude-sonnet-4-5", false).unwrap();
        assert_eq!(out["model"], "claude-sonnet-4-5");
        assert!(!out.contains_key("stream"));
        assert_eq!(out["thinking"], body["thinking"]);
        assert_eq!(out["system"], body["system"]);
        let streamed = messages_body(&native(body), "claude-sonnet-4-5", true).unwrap();
        assert_eq!(streamed["stream"], true);
    }

    #[test]
    fn the_original_answer_is_kept_beside_the_canonical_one() {
        let answer = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",
          "content":[{"type":"thinking","thinking":"hmm","signature":"sig=="},{"type":"text","text":"Hi"}],
          "stop_reason":"end_turn","stop_sequence":null,
          "usage":{"input_tokens":10,"output_tokens":2,"cache_creation_input_tokens":7,"cache_read_input_tokens":3}}"#;
        let r = parse_response("anthropic", answer, true, 0).unwrap();
        let kept = r.native.unwrap();
        assert_eq!(kept["content"][0]["signature"], "sig==");
        assert_eq!(kept["usage"]["cache_creation_input_tokens"], 7);
        assert_eq!(r.choices[0].message.content.as_deref(), Some("Hi"));
        assert!(
            parse_response("anthropic", answer, false, 0)
                .unwrap()
                .native
                .is_none()
        );
        assert!(parse_response("anthropic", b"{", true, 0).is_err());
    }
}
