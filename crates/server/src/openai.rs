//! The OpenAI-compatible API under `/v1`: chat completions, completions, embeddings, models.
//!
//! Each handler: read the body (size-limited), decode it into the canonical type with
//! field-named errors, validate, hand it to the engine, and render the reply — JSON, or SSE
//! for streams — with routing metadata in headers. Chat goes through the one dialect handler
//! (`chat_route`) like every other client dialect.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use heimdall_core::{Operation, Outcome, RequestContext};
use heimdall_dialects::openai::ChatCompletions;
use heimdall_schema::completions::CompletionRequest;
use heimdall_schema::embeddings::EmbeddingRequest;
use heimdall_schema::error::GatewayError;
use heimdall_schema::models::ModelList;
use serde::Serialize;

use crate::body::{body_error, decode_json};
use crate::headers::{apply_meta_headers, apply_overhead_header};
use crate::sse::sse_response;
use crate::state::{AppState, new_context};

/// `POST /v1/chat/completions`
pub async fn chat_completions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    crate::chat_route::serve::<ChatCompletions>(&state, &headers, (), body, None).await
}

/// `POST /v1/completions`
pub async fn completions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let req: CompletionRequest = match decode(&state, body).and_then(|r: CompletionRequest| {
        r.validate()?;
        Ok(r)
    }) {
        Ok(r) => r,
        Err(e) => return reject(&headers, e),
    };
    if crate::litellm_compat::applies(&state, &headers, &req.model) {
        let chat = match crate::litellm_compat::to_chat(&req) {
            Ok(c) => c,
            Err(e) => return reject(&headers, e),
        };
        let ctx = new_context(&headers, Operation::Completion, &chat.model);
        return match state.gateway.chat(ctx, chat).await {
            Outcome::Stream(s) => {
                crate::sse::sse_response_mapped(s, crate::litellm_compat::to_completion_chunk)
            }
            Outcome::Done(ctx, result) => {
                json_reply(&ctx, result.map(crate::litellm_compat::to_completion))
            }
        };
    }
    let ctx = new_context(&headers, Operation::Completion, &req.model);
    match state.gateway.completion(ctx, req).await {
        Outcome::Stream(s) => sse_response(s),
        Outcome::Done(ctx, result) => json_reply(&ctx, result),
    }
}

/// `POST /v1/embeddings`
pub async fn embeddings(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let req: EmbeddingRequest = match decode(&state, body).and_then(|r: EmbeddingRequest| {
        r.validate()?;
        Ok(r)
    }) {
        Ok(r) => r,
        Err(e) => return reject(&headers, e),
    };
    let ctx = new_context(&headers, Operation::Embedding, &req.model);
    let (ctx, result) = state.gateway.embeddings(ctx, req).await;
    // An `id` when the upstream gave none (OpenAI's answer has none; Mistral's has one and
    // its SDK requires it): the gateway's request id, which OpenAI's SDKs ignore.
    let result = result.map(|mut r| {
        r.extra
            .entry("id")
            .or_insert_with(|| serde_json::Value::String(format!("embd-{}", ctx.request_id)));
        r
    });
    json_reply(&ctx, result)
}

/// `GET /v1/models`
pub async fn list_models(State(state): State<AppState>) -> Response {
    let (data, errors) = state
        .gateway
        .list_models(crate::state::MODEL_LIST_TIMEOUT)
        .await;
    for e in &errors {
        tracing::warn!(error = %e, "model listing skipped a provider");
    }
    Json(ModelList {
        object: "list".to_owned(),
        data,
    })
    .into_response()
}

fn decode<T: serde::de::DeserializeOwned>(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, GatewayError> {
    let bytes = body.map_err(|r| body_error(r, state.body_limit))?;
    decode_json(&bytes)
}

/// A request refused before the engine, in OpenAI's error shape.
pub(crate) fn reject(headers: &HeaderMap, e: GatewayError) -> Response {
    crate::chat_route::reject::<ChatCompletions>(headers, &e)
}

fn json_reply<T: Serialize>(ctx: &RequestContext, result: Result<T, GatewayError>) -> Response {
    // The request's log line is the request logger's (one per request, from its record).
    let mut response = match result {
        Ok(body) => Json(body).into_response(),
        Err(e) => crate::chat_route::error::<ChatCompletions>(&e),
    };
    apply_meta_headers(response.headers_mut(), ctx);
    apply_overhead_header(response.headers_mut(), ctx);
    response
}

/// The request path's futures stay small. Every layer axum and tower put around a handler
/// moves its future (a copy of its whole size) on the way into a box, so a large state held
/// inline — the MCP agent loop (~10 KB), the engine's call (~5 KB), a Redis rate-limit round
/// trip — was copied several times per request: memcpy was 9% of the gateway's CPU in the
/// closed-loop profile. Those are boxed where they are awaited; these bounds (debug build,
/// where futures are larger than in release) fail when one is inlined again.
#[cfg(test)]
mod future_sizes {
    fn of3<A, B, C, F: std::future::Future>(_: impl Fn(A, B, C) -> F) -> usize {
        std::mem::size_of::<F>()
    }
    fn of5<A, B, C, D, E, F: std::future::Future>(_: impl Fn(A, B, C, D, E) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    #[test]
    fn the_chat_route_and_the_gate_hold_no_large_future_inline() {
        let handler = of3(super::chat_completions);
        let serve = of5(crate::chat_route::serve::<heimdall_dialects::openai::ChatCompletions>);
        let gate = of3(crate::gate::gate);
        assert!(
            handler <= 2048,
            "chat_completions' future is {handler} bytes"
        );
        assert!(serve <= 2048, "chat_route::serve's future is {serve} bytes");
        assert!(gate <= 2048, "the gate's future is {gate} bytes");
    }
}
