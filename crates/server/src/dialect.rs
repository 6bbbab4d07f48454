//! What the non-OpenAI dialect routes share: rendering an error in the dialect's body shape
//! (with `Retry-After` kept) and a finished reply with the routing metadata headers.
//!
//! Why: each drop-in dialect differs only in body shapes; status, headers and metadata must
//! behave the same everywhere.

use std::convert::Infallible;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use heimdall_core::RequestContext;
use heimdall_schema::error::GatewayError;
use serde_json::Value;

use crate::headers::{apply_meta_headers, apply_overhead_header};

/// An error with its status, `Retry-After`, and the dialect's body.
pub fn error_response(e: &GatewayError, body: fn(&GatewayError) -> Value) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = (status, Json(body(e))).into_response();
    if let Some(secs) = e.retry_after_secs
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// A finished (non-streamed) reply: the rendered body or the error, plus metadata headers.
pub fn reply(
    ctx: &RequestContext,
    result: Result<Value, GatewayError>,
    error_body: fn(&GatewayError) -> Value,
) -> Response {
    let mut response = match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => error_response(&e, error_body),
    };
    apply_meta_headers(response.headers_mut(), ctx);
    apply_overhead_header(response.headers_mut(), ctx);
    response
}

/// A streamed reply: the encoded body, its content type, no caching, metadata headers.
pub fn streamed(
    body: impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static,
    content_type: &'static str,
    ctx: &RequestContext,
) -> Response {
    let mut response = Response::new(Body::from_stream(body));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    apply_meta_headers(h, ctx);
    response
}

/// A bare model name on a dialect route goes to the route's natural provider kind when one has
/// it (`claude-sonnet-4-5` on `/anthropic` → the Anthropic provider); anything else is left to
/// the general routing rules.
pub fn address_naturally(
    gateway: &heimdall_core::Gateway,
    kind: heimdall_config::ProviderKind,
    model: &mut String,
) {
    if let Some(addressed) = gateway.natural_address(kind, model) {
        *model = addressed;
    }
}
