//! A dialect request body read one conversation turn at a time, and the canonical messages
//! built from it one at a time.
//!
//! Why: a `serde_json::Value` tree costs 20–40 times the JSON it came from (every object is a
//! B-tree node), and translating a whole tree into a second tree of canonical messages before
//! typing them held three copies of a long conversation at once: a 2.5 MB, 50,000-message
//! request cost 70–130 MB on the dialect routes. Here the top-level fields are borrowed slices
//! of the body (`&RawValue`, no copy), the fields other than the conversation — small — become
//! a `Value` as before, and each turn is parsed, translated and typed on its own, so at most one
//! turn's tree exists at a time. The translators keep their `Value`-based code per turn.

use std::collections::BTreeMap;

use heimdall_schema::chat::{ChatMessage, ChatRequest};
use heimdall_schema::error::GatewayError;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::json::decode_json;

/// A request body with its conversation list (`messages`, `contents`) kept as raw turns.
#[derive(Debug)]
pub struct DialectBody<'a> {
    /// Every other field, as a `Value` (an object, or whatever non-object the client sent).
    head: Value,
    /// The conversation's turns, unparsed; `None` when the field is absent or not a list.
    turns: Option<Vec<&'a RawValue>>,
}

impl<'a> DialectBody<'a> {
    /// Read `bytes`, keeping `list` (the conversation field) as raw turns. Malformed JSON is
    /// the same typed error as everywhere else.
    pub fn parse(bytes: &'a [u8], list: &str) -> Result<Self, GatewayError> {
        let top: BTreeMap<String, &'a RawValue> = match serde_json::from_slice(bytes) {
            Ok(top) => top,
            // Not an object (or not JSON): the usual decoder says exactly what is wrong, and a
            // valid non-object is left to the translator's own "must be an object" error.
            Err(_) => {
                return Ok(Self {
                    head: decode_json::<Value>(bytes)?,
                    turns: None,
                });
            }
        };
        let mut head = Map::new();
        let mut turns = None;
        for (key, raw) in top {
            if key == list && raw.get().trim_start().starts_with('[') {
                let items: Vec<&'a RawValue> =
                    serde_json::from_str(raw.get()).map_err(|e| invalid_json(&e))?;
                turns = Some(items);
                continue;
            }
            let value: Value = serde_json::from_str(raw.get()).map_err(|e| invalid_json(&e))?;
            head.insert(key, value);
        }
        Ok(Self {
            head: Value::Object(head),
            turns,
        })
    }

    /// The fields other than the conversation.
    pub fn head(&self) -> &Value {
        &self.head
    }

    /// The conversation's turns, each parsed when reached; `None` without a list.
    pub fn turns(&self) -> Option<impl Iterator<Item = Result<Value, GatewayError>> + '_> {
        self.turns.as_ref().map(|t| {
            t.iter()
                .map(|raw| serde_json::from_str::<Value>(raw.get()).map_err(|e| invalid_json(&e)))
        })
    }
}

fn invalid_json(e: &serde_json::Error) -> GatewayError {
    GatewayError::invalid_request(format!("invalid JSON in request body: {e}"), None)
}

/// Canonical messages, typed as they are pushed (no tree of all of them exists at once).
#[derive(Debug, Default)]
pub struct MessageSink {
    messages: Vec<ChatMessage>,
}

impl MessageSink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one canonical message given as OpenAI-shaped JSON.
    pub fn push(&mut self, message: Value) -> Result<(), GatewayError> {
        let typed: ChatMessage = serde_json::from_value(message).map_err(|e| {
            GatewayError::invalid_request(format!("cannot read the request: {e}"), None)
        })?;
        self.messages.push(typed);
        Ok(())
    }

    /// The canonical request: `head` (every field but the messages, OpenAI-shaped) with these
    /// messages, validated.
    pub fn finish(self, mut head: Map<String, Value>) -> Result<ChatRequest, GatewayError> {
        head.insert("messages".into(), Value::Array(Vec::new()));
        let mut req: ChatRequest = serde_json::from_value(Value::Object(head)).map_err(|e| {
            GatewayError::invalid_request(
                format!("cannot read the request: {e}"),
                Some("body".to_owned()),
            )
        })?;
        req.messages = self.messages;
        req.validate()?;
        Ok(req)
    }
}

/// Run a translator written for [`DialectBody`] on a body given as a `Value` (tests, tools).
pub fn translate_value<T>(
    body: &Value,
    list: &str,
    translate: impl FnOnce(&DialectBody<'_>) -> Result<T, GatewayError>,
) -> Result<T, GatewayError> {
    let bytes = serde_json::to_vec(body).map_err(|e| {
        GatewayError::invalid_request(
            format!("cannot read the request: {e}"),
            Some("body".to_owned()),
        )
    })?;
    translate(&DialectBody::parse(&bytes, list)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_list_raw_and_the_rest_as_values() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}],"x":{"y":1}}"#;
        let b = DialectBody::parse(body, "messages").unwrap();
        assert_eq!(b.head()["model"], "m");
        assert_eq!(b.head()["x"]["y"], 1);
        assert!(b.head().get("messages").is_none());
        let turns: Vec<Value> = b.turns().unwrap().map(Result::unwrap).collect();
        assert_eq!(turns.len(), 2);
        assert_eq!(turns[1]["content"], "b");
    }

    #[test]
    fn a_list_that_is_not_a_list_and_a_body_that_is_not_an_object() {
        let b = DialectBody::parse(br#"{"messages":"no"}"#, "messages").unwrap();
        assert!(b.turns().is_none());
        assert_eq!(b.head()["messages"], "no");
        let b = DialectBody::parse(b"[1,2]", "messages").unwrap();
        assert!(b.head().is_array() && b.turns().is_none());
        assert!(DialectBody::parse(b"{\"a\":", "messages").is_err());
    }
}
