//! Canonical (OpenAI) requests → Cohere v2 `/v2/chat` and `/v2/embed` bodies.
//!
//! Why small: Cohere v2 chat is close to OpenAI's — same roles, same tool and tool-call shapes,
//! image_url content parts. What differs is named here: `top_p` is `p`, `stop` is
//! `stop_sequences`, `tool_choice` is `REQUIRED`/`NONE` (no named choice), an assistant turn's
//! text next to tool calls is its `tool_plan`, and structured output is `json_object` with an
//! optional `json_schema`. Parameters Cohere cannot honour are refused or dropped (see
//! docs/providers.md).

use heimdall_schema::chat::{
    ChatMessage, ChatRequest, MessageContent, ResponseFormat, StopSequences, ToolChoice,
};
use heimdall_schema::embeddings::{EmbeddingInput, EmbeddingRequest, EncodingFormat};
use heimdall_schema::error::GatewayError;

use crate::translate::{invalid, unknown_tool_choice};
use serde_json::{Map, Value, json};

fn content_value(c: &MessageContent) -> Value {
    match c {
        MessageContent::Text(t) => Value::String(t.clone()),
        MessageContent::Parts(p) => serde_json::to_value(p).unwrap_or(Value::Null),
    }
}

/// Translate a chat request.
pub fn to_chat_request(req: &ChatRequest, stream: bool) -> Result<Value, GatewayError> {
    if req.n.is_some_and(|n| n > 1) {
        return Err(invalid("cohere models return one choice; n must be 1", "n"));
    }
    if req.logit_bias.is_some() || req.logprobs == Some(true) {
        tracing::debug!("logit_bias/logprobs dropped: not offered by cohere v2 chat");
    }
    let mut messages = Vec::with_capacity(req.messages.len());
    for (i, m) in req.messages.iter().enumerate() {
        let msg = match m {
            ChatMessage::System(s) | ChatMessage::Developer(s) => {
                json!({"role": "system", "content": content_value(&s.content)})
            }
            ChatMessage::User(u) => json!({"role": "user", "content": content_value(&u.content)}),
            ChatMessage::Assistant(a) => {
                let mut o = Map::new();
                o.insert("role".into(), json!("assistant"));
                let text = a
                    .content
                    .as_ref()
                    .map(MessageContent::text)
                    .unwrap_or_default();
                match &a.tool_calls {
                    Some(calls) if !calls.is_empty() => {
                        if !text.is_empty() {
                            o.insert("tool_plan".into(), Value::String(text));
                        }
                        o.insert(
                            "tool_calls".into(),
                            serde_json::to_value(calls).unwrap_or_default(),
                        );
                    }
                    _ => {
                        o.insert(
                            "content".into(),
                            a.content.as_ref().map_or(json!(""), content_value),
                        );
                    }
                }
                Value::Object(o)
            }
            ChatMessage::Tool(t) => json!({"role": "tool", "tool_call_id": t.tool_call_id,
                "content": content_value(&t.content)}),
            ChatMessage::Function(_) => {
                return Err(invalid(
                    "the legacy 'function' role is not supported for cohere models; send tool results with role 'tool'",
                    &format!("messages[{i}].role"),
                ));
            }
        };
        messages.push(msg);
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    body.insert("messages".into(), Value::Array(messages));
    body.insert("stream".into(), json!(stream));
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            body.insert(k.to_owned(), v);
        }
    };
    put(
        "max_tokens",
        req.max_completion_tokens
            .or(req.max_tokens)
            .map(|v| json!(v)),
    );
    put("temperature", req.temperature.map(|v| json!(v)));
    // Cohere accepts p in [0.01, 0.99]; OpenAI's common default of 1 would be refused.
    put("p", req.top_p.map(|v| json!(v.clamp(0.01, 0.99))));
    put(
        "stop_sequences",
        req.stop.as_ref().map(|s| match s {
            StopSequences::One(s) => json!([s]),
            StopSequences::Many(v) => json!(v),
        }),
    );
    put("seed", req.seed.map(|v| json!(v)));
    put("frequency_penalty", req.frequency_penalty.map(|v| json!(v)));
    put("presence_penalty", req.presence_penalty.map(|v| json!(v)));
    if let Some(tools) = req.tools.as_ref().filter(|t| !t.is_empty()) {
        put(
            "tools",
            Some(serde_json::to_value(tools).unwrap_or_default()),
        );
    }
    match &req.tool_choice {
        None => {}
        Some(ToolChoice::Mode(m)) => match m.as_str() {
            "auto" => {}
            "required" => put("tool_choice", Some(json!("REQUIRED"))),
            "none" => put("tool_choice", Some(json!("NONE"))),
            other => return Err(unknown_tool_choice(other)),
        },
        Some(ToolChoice::Named(n)) => {
            // No named choice in Cohere v2: offer only that tool and require a call.
            let name = n.function.as_ref().map(|f| f.name.as_str()).unwrap_or("");
            let only: Vec<Value> = req
                .tools
                .iter()
                .flatten()
                .filter(|t| t.function.as_ref().is_some_and(|f| f.name == name))
                .filter_map(|t| serde_json::to_value(t).ok())
                .collect();
            if only.is_empty() {
                return Err(invalid(
                    format!("tool_choice names '{name}', which is not in tools"),
                    "tool_choice",
                ));
            }
            put("tools", Some(Value::Array(only)));
            put("tool_choice", Some(json!("REQUIRED")));
        }
    }
    match &req.response_format {
        Some(ResponseFormat::JsonSchema { json_schema, .. }) => {
            let mut rf = json!({"type": "json_object"});
            if let (Some(s), Some(o)) = (&json_schema.schema, rf.as_object_mut()) {
                o.insert("json_schema".into(), s.clone());
            }
            put("response_format", Some(rf));
        }
        Some(ResponseFormat::JsonObject { .. }) => {
            put("response_format", Some(json!({"type": "json_object"})));
        }
        _ => {}
    }
    Ok(Value::Object(body))
}

/// Translate an embeddings request (`input_type` `search_document` unless the body sets one).
pub fn to_embed_request(req: &EmbeddingRequest) -> Result<Value, GatewayError> {
    let texts: Vec<String> = match &req.input {
        EmbeddingInput::Text(s) => vec![s.clone()],
        EmbeddingInput::Texts(v) => v.clone(),
        _ => {
            return Err(invalid(
                "cohere embeddings take text input, not token ids",
                "input",
            ));
        }
    };
    if req.encoding_format == Some(EncodingFormat::Base64) {
        tracing::debug!("base64 embeddings are encoded by the gateway from cohere floats");
    }
    let input_type = req
        .extra
        .get("input_type")
        .cloned()
        .unwrap_or_else(|| json!("search_document"));
    let mut body = json!({"model": req.model, "texts": texts, "input_type": input_type,
        "embedding_types": ["float"]});
    if let (Some(d), Some(o)) = (req.dimensions, body.as_object_mut()) {
        o.insert("output_dimension".into(), json!(d));
    }
    Ok(body)
}
