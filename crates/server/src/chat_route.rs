//! The one chat handler every client dialect's route goes through (and its embeddings twin):
//! read the body, decode it with the dialect, hand the canonical request to the engine, and
//! answer in the dialect — JSON, a stream in its framing, or its error shape — with the routing
//! metadata headers.
//!
//! Why one handler: the five chat routes (`/v1`, `/anthropic`, `/genai`, `/cohere`, `/bedrock`)
//! differ only in what `heimdall_dialects::client::ClientDialect` says; the stream loop, the
//! end-of-stream rules, headers and error rendering are the same code for all of them.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use futures::StreamExt;
use heimdall_config::ProviderKind;
use heimdall_core::{Operation, Outcome, RequestContext};
use heimdall_dialects::client::{ClientDialect, ClientEmbeddings, StreamEncoder};
use heimdall_schema::chat::{ChatRequest, ChatResponse};
use heimdall_schema::error::GatewayError;
use heimdall_schema::raw::RawChatBody;

use crate::body::body_error;
use crate::headers::{apply_meta_headers, apply_overhead_header};
use crate::state::AppState;
use crate::state::new_context;

/// What a route may add to a decoded request before it goes to the engine (the Anthropic
/// route keeps the client's own body for Claude targets); it sees the body bytes.
pub type Prepare = fn(&AppState, &HeaderMap, &[u8], &mut ChatRequest);

/// Serve one chat request in dialect `D`.
pub async fn serve<D: ClientDialect>(
    state: &AppState,
    headers: &HeaderMap,
    route: D::Route,
    body: Result<Bytes, BytesRejection>,
    prepare: Option<Prepare>,
) -> Response {
    let bytes = match body.map_err(|r| body_error(r, state.body_limit)) {
        Ok(b) => b,
        Err(e) => return reject::<D>(headers, &e),
    };
    let mut req = match D::decode(&route, &bytes) {
        Ok(r) => r,
        Err(e) => return reject::<D>(headers, &e),
    };
    address_naturally(
        state,
        D::NATURAL_PROVIDER.and_then(ProviderKind::parse),
        &mut req.model,
    );
    if let Some(prepare) = prepare {
        prepare(state, headers, &bytes, &mut req);
    }
    if D::CANONICAL_BODY && prepare.is_none() {
        // An OpenAI body may go to an OpenAI-compatible upstream as the client wrote it, with
        // the model spliced in: no second encoding of the conversation. Kept as a copy: the
        // body hyper hands over is usually a slice of the connection's read buffer, and
        // holding that across the upstream call would keep the whole buffer alive and make
        // hyper allocate another for the connection's next read.
        req.raw = RawChatBody::keep(Bytes::copy_from_slice(&bytes), &req);
        drop(bytes);
    } else {
        // The body is not needed any more; a long conversation is not held twice while the
        // upstream answers.
        drop(bytes);
    }
    let mut ctx = new_context(headers, Operation::Chat, &req.model);
    if let Some(name) = D::ROUTE {
        ctx = ctx.in_route(name);
    }
    // Both calls boxed: their state machines are several KB (the agent loop's ~10 KB), and
    // held inline they made this future, and every future axum and tower wrap around it,
    // that large — each of those is moved, so copied, on its way into its own box. Measured
    // in the closed loop (docs/benchmarks.md): memcpy was 9% of the gateway's CPU time.
    if let Some(agent) = crate::mcp_agent::Agent::for_request(state, headers, &mut req) {
        return Box::pin(crate::mcp_agent::serve::<D>(
            state, headers, route, req, ctx, agent,
        ))
        .await;
    }
    match Box::pin(state.gateway.chat(ctx, req)).await {
        Outcome::Done(ctx, result) => {
            let mut response = match result {
                // The upstream's own bytes where they still stand for the answer and the
                // client reads OpenAI's format: no second encoding of the answer.
                Ok(ChatResponse { raw: Some(raw), .. }) if D::CANONICAL_BODY => {
                    json(StatusCode::OK, raw)
                }
                Ok(r) => json(StatusCode::OK, D::encode(&route, r, elapsed_ms(&ctx))),
                Err(e) => error::<D>(&e),
            };
            apply_meta_headers(response.headers_mut(), &ctx);
            apply_overhead_header(response.headers_mut(), &ctx);
            response
        }
        Outcome::Stream(stream) => {
            let ctx = stream.context().clone();
            let encoder = D::encoder(&route);
            let body = futures::stream::unfold(Some((stream, encoder)), |state| async move {
                let (mut stream, mut encoder) = state?;
                // One event is usually a few hundred bytes: no regrowth for a typical chunk.
                let mut out = Vec::with_capacity(512);
                match stream.next().await {
                    Some(Ok(chunk)) => {
                        encoder.chunk(chunk, &mut out);
                        Some((Ok::<Bytes, Infallible>(out.into()), Some((stream, encoder))))
                    }
                    Some(Err(e)) => {
                        tracing::warn!(request_id = %stream.context().request_id, error = %e,
                            "stream failed after start");
                        encoder.fail(&e, &mut out);
                        // The observed stream ends here, after its end hooks ran.
                        drop(stream);
                        Some((Ok(out.into()), None))
                    }
                    None => {
                        encoder.finish(elapsed_ms(stream.context()), &mut out);
                        drop(stream);
                        Some((Ok(out.into()), None))
                    }
                }
            });
            let mut response = Response::new(Body::from_stream(body));
            let h = response.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(D::stream_content_type(&route)),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            h.insert("x-accel-buffering", HeaderValue::from_static("no"));
            apply_meta_headers(h, &ctx);
            response
        }
    }
}

/// Serve one embeddings request in dialect `E` (its errors in `E::Errors`' shape).
pub async fn serve_embeddings<E: ClientEmbeddings>(
    state: &AppState,
    headers: &HeaderMap,
    route: E::Route,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let decoded = body
        .map_err(|r| body_error(r, state.body_limit))
        .and_then(|b| E::decode(&route, &b));
    let (mut req, echo) = match decoded {
        Ok(d) => d,
        Err(e) => return reject::<E::Errors>(headers, &e),
    };
    address_naturally(
        state,
        E::NATURAL_PROVIDER.and_then(ProviderKind::parse),
        &mut req.model,
    );
    let ctx = new_context(headers, Operation::Embedding, &req.model).in_route(E::ROUTE);
    let (ctx, result) = state.gateway.embeddings(ctx, req).await;
    let mut response = match result {
        Ok(r) => json(StatusCode::OK, E::encode(echo, &r, &ctx.request_id)),
        Err(e) => error::<E::Errors>(&e),
    };
    apply_meta_headers(response.headers_mut(), &ctx);
    apply_overhead_header(response.headers_mut(), &ctx);
    response
}

/// A request refused before the engine (unreadable or invalid): its one log line, the error in
/// the dialect, and a request id.
pub fn reject<D: ClientDialect>(headers: &HeaderMap, e: &GatewayError) -> Response {
    let ctx = new_context(headers, Operation::Chat, "");
    tracing::info!(request_id = %ctx.request_id, route = D::ROUTE.unwrap_or("openai"),
        status = e.status, error = %e, "rejected request");
    let mut response = error::<D>(e);
    apply_meta_headers(response.headers_mut(), &ctx);
    response
}

/// An error in dialect `D`: its status, `Retry-After`, the dialect's error header and body.
pub fn error<D: ClientDialect>(e: &GatewayError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json(status, D::error_body(e));
    let h = response.headers_mut();
    if let Some(secs) = e.retry_after_secs {
        h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if let Some((name, value)) = D::error_header(e) {
        h.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}

/// A bare model name on a dialect route goes to the route's natural provider kind when one has
/// it (`claude-sonnet-4-5` on `/anthropic` → the Anthropic provider); anything else is left to
/// the general routing rules.
pub fn address_naturally(state: &AppState, kind: Option<ProviderKind>, model: &mut String) {
    if let Some(kind) = kind
        && let Some(addressed) = state.gateway.natural_address(kind, model)
    {
        *model = addressed;
    }
}

fn json(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn elapsed_ms(ctx: &RequestContext) -> u64 {
    u64::try_from(ctx.received_at.elapsed().as_millis()).unwrap_or(u64::MAX)
}
