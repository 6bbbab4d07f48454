//! HTTP handlers of the mock: parse only the fields that shape the answer, apply knobs, answer.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::knobs::Knobs;
use crate::payloads::{self, ToolCallPlan};
use crate::stream::sse_body;
use crate::{RecordedRequest, Shared};

#[derive(Deserialize)]
struct StreamOpts {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Deserialize)]
struct ToolIn {
    #[serde(default)]
    function: Option<FunctionIn>,
}

#[derive(Deserialize)]
struct FunctionIn {
    name: String,
    #[serde(default)]
    parameters: Option<Value>,
}

#[derive(Deserialize)]
struct ChatIn {
    model: String,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOpts>,
    #[serde(default)]
    tools: Option<Vec<ToolIn>>,
    #[serde(default)]
    tool_choice: Option<Value>,
    /// Only the last message's role is read: a tool's result is answered with text.
    #[serde(default)]
    messages: Vec<RoleIn>,
}

#[derive(Deserialize)]
struct RoleIn {
    #[serde(default)]
    role: String,
}

#[derive(Deserialize)]
struct CompletionIn {
    model: String,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOpts>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum EmbedInput {
    One(String),
    Many(Vec<String>),
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

#[derive(Deserialize)]
struct EmbedIn {
    model: String,
    input: EmbedInput,
    #[serde(default)]
    dimensions: Option<usize>,
    #[serde(default)]
    encoding_format: Option<String>,
}

pub(crate) fn error(status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, Json(payloads::error_body(status, message))).into_response()
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn record(s: &Shared, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) {
    if !s.config.record_requests {
        return;
    }
    s.record(RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .filter_map(|(k, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (k.as_str().to_owned(), v.to_owned()))
            })
            .collect(),
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
    });
}

/// What every POST handler does first: count, record, parse, merge knobs, then apply latency,
/// stalls and injected failures. Returns the parsed body, the bare model name and the knobs, or
/// the response to send instead.
#[allow(clippy::result_large_err)] // the error is the response itself, returned at once
pub(crate) async fn begin<T: for<'de> Deserialize<'de>>(
    s: &Shared,
    request: (&Method, &Uri, &HeaderMap, &Bytes),
    model_of: impl Fn(&T) -> String,
    stream_of: impl Fn(&T) -> bool,
) -> Result<(T, String, Knobs), Response> {
    let (method, uri, headers, body) = request;
    s.served.fetch_add(1, Ordering::Relaxed);
    record(s, method, uri, headers, body);
    let parsed: T = serde_json::from_slice(body)
        .map_err(|e| error(400, &format!("invalid request body: {e}")))?;
    let mut knobs = Knobs::from_config(&s.config);
    knobs.apply_headers(headers).map_err(|e| error(400, &e))?;
    let full = model_of(&parsed);
    let base = knobs
        .apply_model_suffix(&full)
        .map_err(|e| error(400, &e))?
        .to_owned();
    if base.is_empty() {
        return Err(error(400, "model is required"));
    }
    let bearer = credential(headers);
    if let Some(r) = before_answer(s, &knobs, &full, stream_of(&parsed), bearer).await {
        return Err(r);
    }
    Ok((parsed, base, knobs))
}

/// The caller's key: `Authorization: Bearer`, or Anthropic's `x-api-key`.
pub(crate) fn credential(headers: &HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .unwrap_or("")
}

/// Latency, stall-before-headers and injected failures; `None` means go on and answer.
pub(crate) async fn before_answer(
    s: &Shared,
    knobs: &Knobs,
    fail_counter_key: &str,
    stream: bool,
    bearer: &str,
) -> Option<Response> {
    if knobs.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(knobs.latency_ms)).await;
    }
    if (!stream && knobs.stall_after.is_some()) || (stream && knobs.stall_after == Some(0)) {
        std::future::pending::<()>().await;
    }
    let targeted = knobs.fail_key.as_deref().is_none_or(|k| k == bearer);
    let fail = targeted
        && match knobs.fail_first {
            Some(n) => s.should_fail_first(fail_counter_key, n),
            None => knobs.fail_rate > 0.0 && rand::random::<f64>() < knobs.fail_rate,
        };
    if !fail {
        return None;
    }
    let mut resp = error(
        knobs.fail_status,
        &format!("mock failure with status {}", knobs.fail_status),
    );
    if knobs.fail_status == 429
        && let Ok(v) = HeaderValue::from_str(&knobs.retry_after.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    Some(resp)
}

pub(crate) fn sse_response(body: Body) -> Response {
    let mut r = Response::new(body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn tool_plan(req: &ChatIn, id: u64) -> Option<ToolCallPlan> {
    // Like a model that has what it asked for: after a tool's result it answers in text (and
    // an agent loop ends), unless a tool is forced by name.
    let forced = req
        .tool_choice
        .as_ref()
        .is_some_and(|c| c.pointer("/function/name").is_some());
    if !forced && req.messages.last().is_some_and(|m| m.role == "tool") {
        return None;
    }
    let tools = req.tools.as_ref().filter(|t| !t.is_empty())?;
    let named = match &req.tool_choice {
        Some(Value::String(mode)) if mode == "none" => return None,
        Some(v) => v.pointer("/function/name").and_then(Value::as_str),
        None => None,
    };
    let function = tools
        .iter()
        .filter_map(|t| t.function.as_ref())
        .find(|f| named.is_none_or(|n| n == f.name))?;
    Some(ToolCallPlan {
        id: format!("call_mock_{id}"),
        name: function.name.clone(),
        arguments: payloads::arguments_for(function.parameters.as_ref()),
    })
}

/// `POST /v1/chat/completions`
pub async fn chat(
    State(s): State<Arc<Shared>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = (&method, &uri, &headers, &body);
    let (req, model, knobs) =
        match begin::<ChatIn>(&s, request, |r| r.model.clone(), |r| r.stream).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    let n = s.ids.fetch_add(1, Ordering::Relaxed);
    let id = format!("chatcmpl-mock-{n}");
    let prompt_tokens = (body.len() as u64 / 4).max(1);
    let tool = tool_plan(&req, n);
    if req.stream {
        let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
        let events = payloads::chat_stream_events(
            &id,
            now(),
            &model,
            knobs.chunks,
            tool.as_ref(),
            prompt_tokens,
            include_usage,
        );
        sse_response(sse_body(events, &knobs, &s.active_streams))
    } else {
        Json(payloads::chat_completion(
            &id,
            now(),
            &model,
            knobs.chunks,
            tool.as_ref(),
            prompt_tokens,
        ))
        .into_response()
    }
}

/// `POST /v1/completions`
pub async fn completions(
    State(s): State<Arc<Shared>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = (&method, &uri, &headers, &body);
    let (req, model, knobs) =
        match begin::<CompletionIn>(&s, request, |r| r.model.clone(), |r| r.stream).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    let id = format!("cmpl-mock-{}", s.ids.fetch_add(1, Ordering::Relaxed));
    let prompt_tokens = (body.len() as u64 / 4).max(1);
    if req.stream {
        let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
        let events = payloads::text_stream_events(
            &id,
            now(),
            &model,
            knobs.chunks,
            prompt_tokens,
            include_usage,
        );
        sse_response(sse_body(events, &knobs, &s.active_streams))
    } else {
        Json(payloads::text_completion(
            &id,
            now(),
            &model,
            knobs.chunks,
            prompt_tokens,
        ))
        .into_response()
    }
}

/// `POST /v1/embeddings`
pub async fn embeddings(
    State(s): State<Arc<Shared>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = (&method, &uri, &headers, &body);
    let (req, model, _knobs) =
        match begin::<EmbedIn>(&s, request, |r| r.model.clone(), |_| false).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    let texts: Vec<String> = match req.input {
        EmbedInput::One(t) => vec![t],
        EmbedInput::Many(v) => v,
        EmbedInput::Tokens(t) => vec![format!("{t:?}")],
        EmbedInput::TokenLists(v) => v.iter().map(|t| format!("{t:?}")).collect(),
    };
    let dims = req.dimensions.unwrap_or(1536).max(1);
    let base64 = req.encoding_format.as_deref() == Some("base64");
    let tokens: u64 = texts.iter().map(|t| (t.len() as u64 / 4).max(1)).sum();
    let data: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let v = payloads::embedding_vector(t, dims);
            let embedding = if base64 {
                json!(payloads::embedding_base64(&v))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    Json(json!({"object": "list", "data": data, "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}))
    .into_response()
}

/// `GET /v1/models` — latency and failure knobs (config and `x-mock-*` headers) apply, so
/// health checks can be tested against it.
pub async fn models(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    s.served.fetch_add(1, Ordering::Relaxed);
    let mut knobs = Knobs::from_config(&s.config);
    if let Err(e) = knobs.apply_headers(&headers) {
        return error(400, &e);
    }
    if let Some(r) = before_answer(&s, &knobs, "/v1/models", false, credential(&headers)).await {
        return r;
    }
    let default = [
        "gpt-4o",
        "gpt-4o-mini",
        "text-embedding-3-small",
        "gpt-3.5-turbo-instruct",
    ];
    let ids: Vec<String> = if s.config.models.is_empty() {
        default.iter().map(|m| (*m).to_owned()).collect()
    } else {
        s.config.models.clone()
    };
    let data: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1_700_000_000u64, "owned_by": "mock"}))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

/// `GET /_mock/requests`
pub async fn recorded(State(s): State<Arc<Shared>>) -> Response {
    let list: Vec<Value> = s
        .recorded
        .lock()
        .map(|q| {
            q.iter()
                .map(|r| json!({"method": r.method, "path": r.path, "headers": r.headers, "body": r.body}))
                .collect()
        })
        .unwrap_or_default();
    Json(list).into_response()
}

/// `DELETE /_mock/requests`
pub async fn clear_recorded(State(s): State<Arc<Shared>>) -> StatusCode {
    if let Ok(mut q) = s.recorded.lock() {
        q.clear();
    }
    StatusCode::NO_CONTENT
}
