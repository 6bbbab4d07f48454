//! The client's own bytes of an OpenAI chat request, kept beside the decoded request, so an
//! OpenAI-compatible upstream is sent them with only `model` replaced instead of a body
//! re-encoded from the typed request.
//!
//! Why: re-encoding a chat request was a quarter of the gateway's own work before the
//! upstream write — every message string escaped again, every field walked — for a body that, on the
//! OpenAI route to an OpenAI-compatible provider, leaves the gateway as it came in except for
//! its model name (`docs/benchmarks.md`, issue 21: ~25% of the instructions from reading the
//! request to writing it upstream). Forwarding the client's bytes is also the most faithful
//! body: what the typed request does not model, or models loosely, reaches the upstream as the
//! client wrote it.
//!
//! When it is safe: the bytes stand for the request only while nothing but the model changed.
//! The route keeps them only for a body with no gateway-only field (`fallbacks`) and no
//! assistant tool calls (decoding completes a call's missing `type`); the plugin
//! pipeline drops them before any plugin that may rewrite a request runs (only plugins that
//! change at most the model opt out); the MCP agent loop drops them; and at the upstream the
//! gateway's own rewrites are checked: the model is spliced in, the stream-usage request is
//! spliced in when the client sent no `stream_options`, and any other change to
//! `stream_options` falls back to encoding the typed request.
//!
//! The answer side mirrors it (`ChatResponse::raw`): an OpenAI-compatible upstream's answer to
//! such a request keeps the bytes it was decoded from (the decoded answer still feeds the
//! shape check, usage, cost, the log and the cache), and the OpenAI route writes those bytes.
//! The pipeline drops them before any `post` hook that does not declare it leaves the answer
//! alone, and the cache stores the typed answer only.

use std::ops::Range;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::chat::{ChatMessage, ChatRequest, StreamOptions};

/// The client's body of a chat request and where its `model` and `messages` are in it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawChatBody {
    bytes: Bytes,
    /// The `model` value (a JSON string, quotes included).
    model: Range<usize>,
    /// The `messages` value (a JSON array).
    messages: Range<usize>,
    /// Where the first member of the top-level object may be inserted (after its `{`).
    open: usize,
    /// The request's `stream_options` as decoded from `bytes`.
    stream_options: Option<StreamOptions>,
    /// Whether `bytes` hold a `stream_options` member (`null` decodes to none but is there).
    has_stream_options: bool,
}

/// The two members located in the client's body (borrowed: nothing is decoded).
#[derive(Deserialize)]
struct Members<'a> {
    #[serde(borrow)]
    model: &'a RawValue,
    #[serde(borrow)]
    messages: &'a RawValue,
    #[serde(default)]
    stream_options: Present,
}

/// Whether a member is in the body, whatever its value (`null` included).
#[derive(Default)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d)?;
        Ok(Self(true))
    }
}

/// The stream-usage request the gateway adds to every stream.
const STREAM_USAGE_MEMBER: &[u8] = br#""stream_options":{"include_usage":true},"#;

impl RawChatBody {
    /// Keep `bytes` (the body `req` was decoded from) when they can stand for it: the body
    /// carries no gateway-only field, and `model` (a string) and `messages` are found in it.
    pub fn keep(bytes: Bytes, req: &ChatRequest) -> Option<Self> {
        if req.extra.contains_key("fallbacks") || carries_tool_calls(req) {
            return None;
        }
        let members: Members<'_> = serde_json::from_slice(&bytes).ok()?;
        if !members.model.get().starts_with('"') {
            return None;
        }
        let model = span_in(&bytes, members.model.get())?;
        let messages = span_in(&bytes, members.messages.get())?;
        let open = bytes.iter().position(|b| *b == b'{')? + 1;
        Some(Self {
            model,
            messages,
            open,
            stream_options: req.stream_options.clone(),
            has_stream_options: members.stream_options.0,
            bytes,
        })
    }

    /// The body to send upstream for `req` — the request these bytes were kept for, after the
    /// gateway's rewrites: the client's bytes with `req.model` spliced in (and the stream-usage
    /// request, when the gateway added it to a body without `stream_options`), or `None` when
    /// `stream_options` changed otherwise and the typed request must be encoded.
    pub fn for_upstream(&self, req: &ChatRequest) -> Option<Vec<u8>> {
        let add_stream_usage = match (&self.stream_options, &req.stream_options) {
            (kept, now) if kept == now => false,
            (None, Some(now))
                if !self.has_stream_options
                    && now.include_usage == Some(true)
                    && now.extra.is_empty() =>
            {
                true
            }
            _ => return None,
        };
        let model = serde_json::to_vec(&req.model).ok()?;
        let b = &self.bytes;
        let mut out = Vec::with_capacity(b.len() + model.len() + STREAM_USAGE_MEMBER.len());
        if add_stream_usage {
            out.extend_from_slice(&b[..self.open]);
            out.extend_from_slice(STREAM_USAGE_MEMBER);
            out.extend_from_slice(&b[self.open..self.model.start]);
        } else {
            out.extend_from_slice(&b[..self.model.start]);
        }
        out.extend_from_slice(&model);
        out.extend_from_slice(&b[self.model.end..]);
        Some(out)
    }

    /// The `messages` array exactly as the client wrote it (JSON text).
    pub fn messages_json(&self) -> &[u8] {
        &self.bytes[self.messages.clone()]
    }
}

/// Whether an assistant turn carries tool calls: decoding gives a call without `type` the
/// `"function"` upstreams require, which the client's bytes would not carry.
fn carries_tool_calls(req: &ChatRequest) -> bool {
    req.messages
        .iter()
        .any(|m| matches!(m, ChatMessage::Assistant(a) if a.tool_calls.is_some()))
}

/// Where `part` (a slice of `whole`'s text) lies in `whole`.
fn span_in(whole: &[u8], part: &str) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len()).then_some(start..end)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn decoded(body: &str) -> (Bytes, ChatRequest) {
        let bytes = Bytes::copy_from_slice(body.as_bytes());
        let req: ChatRequest = serde_json::from_slice(&bytes).unwrap();
        (bytes, req)
    }

    /// The typed request encoded, as the upstream would get it without the raw body.
    fn encoded(req: &ChatRequest) -> Value {
        serde_json::to_value(req).unwrap()
    }

    #[test]
    fn only_the_model_is_replaced_and_the_rest_is_the_clients_bytes() {
        let body = r#" { "messages" : [{"role":"user","content":"caf\u00e9 \"quoted\""}],
            "model":"openai/gpt-4o-mini", "temperature": 0.5, "vendor_knob": {"a": [1, 2]} }"#;
        let (bytes, mut req) = decoded(body);
        let raw = RawChatBody::keep(bytes, &req).unwrap();
        req.model = "gpt-4o-mini".into();
        let out = raw.for_upstream(&req).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!(text, body.replace("openai/gpt-4o-mini", "gpt-4o-mini"));
        let sent: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(sent, encoded(&req));
        assert_eq!(
            raw.messages_json(),
            br#"[{"role":"user","content":"caf\u00e9 \"quoted\""}]"#
        );
    }

    #[test]
    fn a_model_needing_escapes_is_encoded_as_json() {
        let (bytes, mut req) =
            decoded(r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#);
        let raw = RawChatBody::keep(bytes, &req).unwrap();
        req.model = "a\"b\\c".into();
        let sent: Value = serde_json::from_slice(&raw.for_upstream(&req).unwrap()).unwrap();
        assert_eq!(sent["model"], "a\"b\\c");
    }

    #[test]
    fn the_stream_usage_request_is_spliced_into_a_body_without_stream_options() {
        let (bytes, mut req) =
            decoded(r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#);
        let raw = RawChatBody::keep(bytes, &req).unwrap();
        req.stream_options = Some(StreamOptions {
            include_usage: Some(true),
            ..StreamOptions::default()
        });
        let sent: Value = serde_json::from_slice(&raw.for_upstream(&req).unwrap()).unwrap();
        assert_eq!(sent, encoded(&req));
        assert_eq!(sent["stream_options"], json!({"include_usage": true}));
    }

    #[test]
    fn other_stream_options_changes_fall_back_to_encoding() {
        let (bytes, mut req) = decoded(
            r#"{"model":"m","stream":true,"stream_options":{"include_usage":false},
                "messages":[{"role":"user","content":"hi"}]}"#,
        );
        let raw = RawChatBody::keep(bytes, &req).unwrap();
        assert!(raw.for_upstream(&req).is_some());
        req.stream_options = Some(StreamOptions {
            include_usage: Some(true),
            ..StreamOptions::default()
        });
        assert_eq!(raw.for_upstream(&req), None);
    }

    #[test]
    fn bodies_that_cannot_stand_for_the_request_are_not_kept() {
        let (bytes, mut req) =
            decoded(r#"{"model":"m","stream":true,"stream_options":null,"messages":[]}"#);
        let raw = RawChatBody::keep(bytes, &req).unwrap();
        req.stream_options = Some(StreamOptions {
            include_usage: Some(true),
            ..StreamOptions::default()
        });
        assert_eq!(
            raw.for_upstream(&req),
            None,
            "a second stream_options member"
        );
        for body in [
            // A gateway-only field must not reach the upstream.
            r#"{"model":"m","messages":[],"fallbacks":["openai/gpt-4o"]}"#,
            // Decoding completes a tool call without `type`; the bytes would not.
            r#"{"model":"m","messages":[{"role":"assistant","content":null,
                "tool_calls":[{"id":"c1","function":{"name":"f","arguments":"{}"}}]}]}"#,
            // Only a string model can be spliced.
            r#"{"model":7,"messages":[]}"#,
            r#"{"model":"m"}"#,
        ] {
            let bytes = Bytes::copy_from_slice(body.as_bytes());
            // The last two do not decode; their bodies are refused whatever the request.
            let req = match serde_json::from_slice::<ChatRequest>(&bytes) {
                Ok(req) => req,
                Err(_) if body.contains("7") || !body.contains("messages") => {
                    ChatRequest::default()
                }
                Err(e) => panic!("{body}: {e}"),
            };
            assert_eq!(RawChatBody::keep(bytes, &req), None, "{body}");
        }
    }
}
