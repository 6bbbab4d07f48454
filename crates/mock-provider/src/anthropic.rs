//! The mock's Anthropic face: `POST /v1/messages` (JSON and SSE) shaped as in Anthropic's
//! Messages API reference, with the same knobs as the OpenAI face and Anthropic-shaped errors.
//!
//! Why: the gateway's Anthropic provider must be tested end to end — real HTTP client, headers
//! (`x-api-key`, `anthropic-version`), the SSE event sequence and its decoder — not only with
//! golden fixtures. Like the real API, a request without `x-api-key`, `anthropic-version` or
//! `max_tokens` is refused.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Shared;
use crate::handlers::{begin, sse_response};
use crate::payloads::{arguments_for, content_pieces};
use crate::stream::{Dialect, sse_body_in};

#[derive(Deserialize)]
pub(crate) struct MessagesIn {
    #[serde(default)]
    model: String,
    #[serde(default)]
    anthropic_version: Option<String>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    tools: Vec<Value>,
    #[serde(default)]
    tool_choice: Option<Value>,
    /// `{"type": "enabled", "budget_tokens": …}` makes the answer start with a signed thinking
    /// block, as Claude's extended thinking does.
    #[serde(default)]
    thinking: Option<Value>,
    /// Read only to see whether the last turn carries a tool's result.
    #[serde(default)]
    messages: Vec<Value>,
}

/// The thinking text and signature the mock "thinks" when `thinking` is enabled.
const THINKING: &str = "Let me think about that.";

/// A cache breakpoint anywhere in the request: the mock reports the prompt as written to the
/// cache (`cache_creation_input_tokens`), so a test can see `cache_control` arrived.
fn uses_cache_control(body: &[u8]) -> bool {
    body.windows(b"\"cache_control\"".len())
        .any(|w| w == b"\"cache_control\"")
}

/// An Anthropic error response.
pub fn error(status: u16, message: &str) -> Response {
    let kind = match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 | 503 => "overloaded_error",
        _ => "api_error",
    };
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"type": "error", "error": {"type": kind, "message": message}});
    (code, Json(body)).into_response()
}

/// Re-shape an OpenAI-style error from the shared preamble into Anthropic's shape.
async fn reshape(r: Response) -> Response {
    let status = r.status();
    let headers = r.headers().clone();
    let bytes = axum::body::to_bytes(r.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let message = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.pointer("/error/message")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "mock failure".to_owned());
    let mut out = error(status.as_u16(), &message);
    if let Some(v) = headers.get(axum::http::header::RETRY_AFTER) {
        out.headers_mut()
            .insert(axum::http::header::RETRY_AFTER, v.clone());
    }
    out
}

/// The tool the model "calls": the named one, else the first, unless tool_choice is none.
fn tool_plan(req: &MessagesIn, n: u64) -> Option<(String, String, Value)> {
    let choice = req.tool_choice.as_ref();
    if choice.is_some_and(|c| c["type"] == "none") {
        return None;
    }
    // After a tool's result the model answers in text (an agent loop ends), unless forced.
    let answered = req.messages.last().is_some_and(|m| {
        m["content"]
            .as_array()
            .is_some_and(|c| c.iter().any(|b| b["type"] == "tool_result"))
    });
    if answered && !choice.is_some_and(|c| c["type"] == "tool") {
        return None;
    }
    let named = choice
        .filter(|c| c["type"] == "tool")
        .and_then(|c| c["name"].as_str());
    let tool = req
        .tools
        .iter()
        .find(|t| named.is_none_or(|n| t["name"] == n))?;
    let args = arguments_for(tool.get("input_schema"));
    let input: Value = serde_json::from_str(&args).unwrap_or_else(|_| json!({}));
    Some((
        format!("toolu_mock_{n}"),
        tool["name"].as_str().unwrap_or("tool").to_owned(),
        input,
    ))
}

/// `POST /v1/messages`
pub async fn messages(
    State(s): State<Arc<Shared>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if headers.get("x-api-key").is_none() {
        return error(401, "x-api-key header is required");
    }
    if headers.get("anthropic-version").is_none() {
        return error(400, "anthropic-version header is required");
    }
    answer(&s, (&method, &uri, &headers, &body), Host::Direct).await
}

/// Vertex AI's `rawPredict` / `streamRawPredict` for `model` (from the URL): the version is in
/// the body, the model is not.
pub(crate) async fn vertex_raw_predict(
    s: &Shared,
    request: (&Method, &axum::http::Uri, &HeaderMap, &Bytes),
    model: &str,
    stream: bool,
) -> Response {
    answer(s, request, Host::Vertex(model, stream)).await
}

/// Bedrock's InvokeModel / InvokeModelWithResponseStream for a Claude model id: the Messages
/// body with `anthropic_version: bedrock-2023-05-31`, no `model` and no `stream` (the operation
/// says it); betas in the body (`anthropic_beta`).
pub(crate) async fn bedrock_invoke(
    s: &Shared,
    request: (&Method, &axum::http::Uri, &HeaderMap, &Bytes),
    model: &str,
    stream: bool,
) -> Response {
    answer(s, request, Host::Bedrock(model, stream)).await
}

/// Where the Messages API is hosted: its own `/v1/messages`, or a cloud that takes the model
/// (and the stream flag) from the URL.
#[derive(Clone, Copy)]
enum Host<'a> {
    Direct,
    Vertex(&'a str, bool),
    Bedrock(&'a str, bool),
}

async fn answer(
    s: &Shared,
    request: (&Method, &axum::http::Uri, &HeaderMap, &Bytes),
    host: Host<'_>,
) -> Response {
    let body = request.3;
    let parsed = match host {
        Host::Direct => begin::<MessagesIn>(s, request, |r| r.model.clone(), |r| r.stream).await,
        Host::Vertex(model, stream) | Host::Bedrock(model, stream) => {
            begin::<MessagesIn>(s, request, |_| model.to_owned(), |_| stream).await
        }
    };
    let (mut req, model, knobs) = match parsed {
        Ok(x) => x,
        Err(r) => return reshape(r).await,
    };
    let cloud = match host {
        Host::Direct => None,
        Host::Vertex(_, stream) => Some(("vertex-2023-10-16", "Vertex AI", stream)),
        Host::Bedrock(_, stream) => Some(("bedrock-2023-05-31", "Bedrock", stream)),
    };
    if let Some((version, cloud, stream)) = cloud {
        if req.anthropic_version.as_deref() != Some(version) {
            return error(
                400,
                &format!("anthropic_version: must be {version} on {cloud}"),
            );
        }
        if !req.model.is_empty() {
            return error(
                400,
                "model: Extra inputs are not permitted (it is in the URL)",
            );
        }
        if matches!(host, Host::Bedrock(..)) && req.stream {
            return error(400, "stream: Extra inputs are not permitted");
        }
        req.stream = stream;
    }
    if req.max_tokens.is_none() {
        return error(400, "max_tokens: Field required");
    }
    let n = s.ids.fetch_add(1, Ordering::Relaxed);
    let id = format!("msg_mock_{n}");
    let input_tokens = (body.len() as u64 / 4).max(1);
    let tool = tool_plan(&req, n);
    let pieces = content_pieces(knobs.chunks);
    let output_tokens = pieces.len() as u64;
    let stop_reason = if tool.is_some() {
        "tool_use"
    } else {
        "end_turn"
    };
    let thinking = req
        .thinking
        .as_ref()
        .is_some_and(|t| t["type"] == "enabled");
    let signature = format!("mock-signature-{n}");
    let cache_write = if uses_cache_control(body) {
        input_tokens
    } else {
        0
    };
    if !req.stream {
        let mut content = match &tool {
            Some((tid, name, input)) => {
                json!([{"type": "tool_use", "id": tid, "name": name, "input": input}])
            }
            None => json!([{"type": "text", "text": pieces.concat()}]),
        };
        if thinking && let Some(blocks) = content.as_array_mut() {
            blocks.insert(
                0,
                json!({"type": "thinking", "thinking": THINKING, "signature": signature}),
            );
        }
        return Json(json!({
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop_reason, "stop_sequence": null,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                "cache_creation_input_tokens": cache_write, "cache_read_input_tokens": 0}
        }))
        .into_response();
    }
    let mut events = vec![
        json!({"type": "message_start", "message": {"id": id, "type": "message",
            "role": "assistant", "content": [], "model": model, "stop_reason": null,
            "stop_sequence": null, "usage": {"input_tokens": input_tokens, "output_tokens": 1,
            "cache_creation_input_tokens": cache_write, "cache_read_input_tokens": 0}}}),
        json!({"type": "ping"}),
    ];
    let index = u64::from(thinking);
    if thinking {
        events.push(json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""}}));
        events.push(json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "thinking_delta", "thinking": THINKING}}));
        events.push(json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "signature_delta", "signature": signature}}));
        events.push(json!({"type": "content_block_stop", "index": 0}));
    }
    match &tool {
        Some((tid, name, input)) => {
            events.push(json!({"type": "content_block_start", "index": index,
                "content_block": {"type": "tool_use", "id": tid, "name": name, "input": {}}}));
            let args = input.to_string();
            let per = args.len().div_ceil(knobs.chunks.max(1)).max(1);
            let mut rest = args.as_str();
            while !rest.is_empty() {
                let mut cut = per.min(rest.len());
                while !rest.is_char_boundary(cut) {
                    cut += 1;
                }
                let (piece, tail) = rest.split_at(cut);
                events.push(json!({"type": "content_block_delta", "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": piece}}));
                rest = tail;
            }
        }
        None => {
            events.push(json!({"type": "content_block_start", "index": index,
                "content_block": {"type": "text", "text": ""}}));
            for p in &pieces {
                events.push(json!({"type": "content_block_delta", "index": index,
                    "delta": {"type": "text_delta", "text": p}}));
            }
        }
    }
    events.push(json!({"type": "content_block_stop", "index": index}));
    events.push(json!({"type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": null},
        "usage": {"output_tokens": output_tokens}}));
    events.push(json!({"type": "message_stop"}));
    let framing = if matches!(host, Host::Bedrock(..)) {
        Dialect::BedrockInvoke
    } else {
        Dialect::Anthropic
    };
    let mut response = sse_response(sse_body_in(framing, events, &knobs, &s.active_streams));
    if framing == Dialect::BedrockInvoke {
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/vnd.amazon.eventstream"),
        );
    }
    response
}
