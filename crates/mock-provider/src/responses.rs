//! `POST /v1/responses`: OpenAI's Responses API as the mock serves it (JSON, and SSE with the
//! typed events), shaped after OpenAI's API reference — what the gateway's pass-through to
//! OpenAI and Azure talks to in tests.
//!
//! Why written out here and not built from the gateway's own translation: a mock that answered
//! with the code under test could not catch that code's mistakes. The answer follows the same
//! rules as the chat face (content pieces, a function call when function tools are offered
//! unless the input ends with a tool's output, the fault knobs).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Shared;
use crate::handlers::{begin, now, sse_response};
use crate::payloads::{arguments_for, content_pieces};
use crate::stream::{Dialect, sse_body_in};

#[derive(Deserialize)]
struct ResponsesIn {
    model: String,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    input: Value,
    #[serde(default)]
    tools: Vec<Value>,
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    store: Option<bool>,
}

/// The function the model "calls": the named one, else the first function tool; none after a
/// tool's output or with `tool_choice: none`.
fn planned_call(req: &ResponsesIn) -> Option<(String, String)> {
    if req.tool_choice.as_ref().is_some_and(|c| c == "none") {
        return None;
    }
    let answered = req
        .input
        .as_array()
        .and_then(|items| items.last())
        .is_some_and(|i| i["type"] == "function_call_output");
    if answered {
        return None;
    }
    let named = req.tool_choice.as_ref().and_then(|c| c["name"].as_str());
    let tool = req
        .tools
        .iter()
        .filter(|t| t["type"] == "function")
        .find(|t| named.is_none_or(|n| t["name"] == n))?;
    Some((
        tool["name"].as_str().unwrap_or("tool").to_owned(),
        arguments_for(tool.get("parameters")),
    ))
}

/// `POST /v1/responses`
pub async fn create(
    State(s): State<Arc<Shared>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = (&method, &uri, &headers, &body);
    let (req, model, knobs) =
        match begin::<ResponsesIn>(&s, request, |r| r.model.clone(), |r| r.stream).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    let n = s.ids.fetch_add(1, Ordering::Relaxed);
    let id = format!("resp_mock{n:08}");
    let input_tokens = (body.len() as u64 / 4).max(1);
    let output_tokens = knobs.chunks as u64;
    let call = planned_call(&req);
    let pieces = content_pieces(knobs.chunks);
    let item = match &call {
        Some((name, args)) => json!({"type": "function_call", "id": format!("fc_mock{n}"),
            "call_id": format!("call_mock_{n}"), "name": name, "arguments": args,
            "status": "completed"}),
        None => json!({"type": "message", "id": format!("msg_mock{n}"), "status": "completed",
            "role": "assistant", "content": [{"type": "output_text", "text": pieces.concat(),
            "annotations": []}]}),
    };
    let response = |status: &str, output: Value, usage: Value| {
        json!({"id": id, "object": "response", "created_at": now(), "status": status,
            "model": model, "output": output, "error": null, "incomplete_details": null,
            "store": req.store.unwrap_or(true), "usage": usage})
    };
    let usage = json!({"input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens});
    if !req.stream {
        return Json(response("completed", json!([item]), usage)).into_response();
    }
    let mut events = vec![
        json!({"type": "response.created", "response": response("in_progress", json!([]), Value::Null)}),
        json!({"type": "response.in_progress", "response": response("in_progress", json!([]), Value::Null)}),
    ];
    let item_id = item["id"].clone();
    let mut added = item.clone();
    added["status"] = json!("in_progress");
    match &call {
        Some((_, args)) => {
            added["arguments"] = json!("");
            events.push(
                json!({"type": "response.output_item.added", "output_index": 0, "item": added}),
            );
            let mid = args.len() / 2;
            for piece in [&args[..mid], &args[mid..]] {
                events.push(json!({"type": "response.function_call_arguments.delta",
                    "item_id": item_id, "output_index": 0, "delta": piece}));
            }
            events.push(json!({"type": "response.function_call_arguments.done",
                "item_id": item_id, "output_index": 0, "arguments": args}));
        }
        None => {
            added["content"] = json!([]);
            events.push(
                json!({"type": "response.output_item.added", "output_index": 0, "item": added}),
            );
            events.push(
                json!({"type": "response.content_part.added", "item_id": item_id,
                "output_index": 0, "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": []}}),
            );
            for piece in &pieces {
                events.push(
                    json!({"type": "response.output_text.delta", "item_id": item_id,
                    "output_index": 0, "content_index": 0, "delta": piece}),
                );
            }
            events.push(
                json!({"type": "response.output_text.done", "item_id": item_id,
                "output_index": 0, "content_index": 0, "text": pieces.concat()}),
            );
            events.push(
                json!({"type": "response.content_part.done", "item_id": item_id,
                "output_index": 0, "content_index": 0,
                "part": {"type": "output_text", "text": pieces.concat(), "annotations": []}}),
            );
        }
    }
    events.push(json!({"type": "response.output_item.done", "output_index": 0, "item": item}));
    events.push(json!({"type": "response.completed", "response": response("completed", json!([item]), usage)}));
    for (i, e) in events.iter_mut().enumerate() {
        e["sequence_number"] = json!(i);
    }
    sse_response(sse_body_in(
        Dialect::OpenAiResponses,
        events,
        &knobs,
        &s.active_streams,
    ))
}
