//! The mock's Cohere v2 face: `POST /v2/chat` (JSON and SSE events) and `POST /v2/embed`,
//! shaped as in Cohere's v2 API reference, with the shared knobs.
//!
//! Why: the gateway's Cohere provider is tested end to end — bearer auth, the v2 event
//! sequence through the SSE decoder, tool-call events, billed-unit usage.

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
use crate::handlers::{begin, credential, sse_response};
use crate::payloads::{arguments_for, content_pieces};
use crate::stream::{Dialect, sse_body_in};

#[derive(Deserialize)]
struct ChatIn {
    model: String,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    tools: Vec<Value>,
    #[serde(default)]
    tool_choice: Option<String>,
}

#[derive(Deserialize)]
struct EmbedIn {
    model: String,
    #[serde(default)]
    texts: Vec<String>,
    #[serde(default)]
    input_type: Option<String>,
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"message": message}))).into_response()
}

fn authorized(headers: &HeaderMap) -> Option<Response> {
    credential(headers)
        .is_empty()
        .then(|| error(StatusCode::UNAUTHORIZED, "no api key supplied"))
}

/// `POST /v2/chat`
pub async fn chat(
    State(s): State<Arc<Shared>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = authorized(&headers) {
        return r;
    }
    let request = (&method, &uri, &headers, &body);
    let (req, model, knobs) =
        match begin::<ChatIn>(&s, request, |r| r.model.clone(), |r| r.stream).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    let _ = model;
    let n = s.ids.fetch_add(1, Ordering::Relaxed);
    let id = format!("mock-cohere-{n}");
    let pieces = content_pieces(knobs.chunks);
    let input = (body.len() as u64 / 4).max(1);
    let tool = (req.tool_choice.as_deref() != Some("NONE"))
        .then(|| req.tools.first())
        .flatten()
        .map(|t| {
            let f = &t["function"];
            (
                format!("{}_mock{n}", f["name"].as_str().unwrap_or("tool")),
                f["name"].as_str().unwrap_or("tool").to_owned(),
                arguments_for(f.get("parameters")),
            )
        });
    let usage = json!({"billed_units": {"input_tokens": input, "output_tokens": pieces.len()},
        "tokens": {"input_tokens": input + 500, "output_tokens": pieces.len()}});
    let finish = if tool.is_some() {
        "TOOL_CALL"
    } else {
        "COMPLETE"
    };
    if !req.stream {
        let message = match &tool {
            Some((tid, name, args)) => {
                json!({"role": "assistant", "tool_plan": "I will call the tool.",
                "tool_calls": [{"id": tid, "type": "function",
                    "function": {"name": name, "arguments": args}}]})
            }
            None => json!({"role": "assistant",
                "content": [{"type": "text", "text": pieces.concat()}]}),
        };
        return Json(
            json!({"id": id, "finish_reason": finish, "message": message, "usage": usage}),
        )
        .into_response();
    }
    let mut events = vec![
        json!({"id": id, "type": "message-start", "delta": {"message":
        {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}),
    ];
    match &tool {
        Some((tid, name, args)) => {
            events.push(json!({"type": "tool-plan-delta",
                "delta": {"message": {"tool_plan": "I will call the tool."}}}));
            events.push(
                json!({"type": "tool-call-start", "index": 0, "delta": {"message":
                {"tool_calls": {"id": tid, "type": "function",
                    "function": {"name": name, "arguments": ""}}}}}),
            );
            let per = args.len().div_ceil(knobs.chunks.max(1)).max(1);
            let chars: Vec<char> = args.chars().collect();
            for piece in chars.chunks(per) {
                let piece: String = piece.iter().collect();
                events.push(
                    json!({"type": "tool-call-delta", "index": 0, "delta": {"message":
                    {"tool_calls": {"function": {"arguments": piece}}}}}),
                );
            }
            events.push(json!({"type": "tool-call-end", "index": 0}));
        }
        None => {
            events.push(
                json!({"type": "content-start", "index": 0, "delta": {"message":
                {"content": {"type": "text", "text": ""}}}}),
            );
            for p in &pieces {
                events.push(json!({"type": "content-delta", "index": 0,
                    "delta": {"message": {"content": {"text": p}}}}));
            }
            events.push(json!({"type": "content-end", "index": 0}));
        }
    }
    events.push(json!({"type": "message-end", "delta": {"finish_reason": finish, "usage": usage}}));
    sse_response(sse_body_in(
        Dialect::Cohere,
        events,
        &knobs,
        &s.active_streams,
    ))
}

/// `POST /v2/embed`
pub async fn embed(
    State(s): State<Arc<Shared>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = authorized(&headers) {
        return r;
    }
    let request = (&method, &uri, &headers, &body);
    let (req, _model, _knobs) =
        match begin::<EmbedIn>(&s, request, |r| r.model.clone(), |_| false).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    if req.input_type.is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "input_type is required for embed v3+ models",
        );
    }
    let vectors: Vec<Vec<f32>> = req
        .texts
        .iter()
        .map(|t| {
            let l = t.len() as f32;
            vec![l / 100.0, -l / 200.0, 0.5, 0.25]
        })
        .collect();
    let tokens: usize = req.texts.iter().map(|t| t.len() / 4 + 1).sum();
    Json(
        json!({"id": "mock-embed", "embeddings": {"float": vectors}, "texts": req.texts,
        "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": tokens}},
        "response_type": "embeddings_by_type"}),
    )
    .into_response()
}
