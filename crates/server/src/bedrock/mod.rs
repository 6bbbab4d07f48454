//! The Bedrock drop-in route: `POST /bedrock/model/{modelId}/converse` and `/converse-stream`,
//! so boto3's `bedrock-runtime` client (`endpoint_url=…/bedrock`) reaches any configured
//! provider. Streams answer in AWS event-stream framing; errors carry `x-amzn-errortype`.
//! The SigV4 signature a client sends is accepted without checking (the gateway's own provider
//! credentials are used; virtual keys arrive with governance).

use std::convert::Infallible;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use heimdall_config::ProviderKind;
use heimdall_core::{Operation, Outcome};
use heimdall_dialects::bedrock::client::{
    EventEncoder, error_type, exception_frame, from_body, invalid, to_converse_response,
};
use heimdall_schema::error::GatewayError;
use serde_json::json;

use crate::app::AppState;
use crate::body::body_error;
use crate::headers::{apply_meta_headers, apply_overhead_header};
use crate::openai::new_context;
use heimdall_dialects::conversation::DialectBody;

pub(crate) fn error_response(e: &GatewayError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = (status, Json(json!({"message": e.message}))).into_response();
    if let Ok(v) = HeaderValue::from_str(error_type(e)) {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}

/// `POST /bedrock/model/{modelId}/{converse|converse-stream}`
pub async fn model_operation(
    State(state): State<AppState>,
    Path(rest): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // The model id may hold `/` (ARNs, `provider/model`), encoded or not: the operation is
    // the last segment.
    let (model, operation) = rest.rsplit_once('/').unwrap_or((rest.as_str(), ""));
    let model = model.to_owned();
    let stream = match operation {
        "converse" => false,
        "converse-stream" => true,
        other => {
            return error_response(&invalid(
                format!("operation '{other}' is not supported"),
                "operation",
            ));
        }
    };
    let parsed = body
        .map_err(|r| body_error(r, state.body_limit))
        .and_then(|b| from_body(&model, &DialectBody::parse(&b, "messages")?, stream));
    let mut req = match parsed {
        Ok(r) => r,
        Err(e) => return error_response(&e),
    };
    crate::dialect::address_naturally(&state.gateway, ProviderKind::Bedrock, &mut req.model);
    let ctx = new_context(&headers, Operation::Chat, &req.model).in_route("bedrock");
    match state.gateway.chat(ctx, req).await {
        Outcome::Done(ctx, result) => {
            let latency = u64::try_from(ctx.received_at.elapsed().as_millis()).unwrap_or(u64::MAX);
            let mut response = match result {
                Ok(r) => Json(to_converse_response(&r, latency)).into_response(),
                Err(e) => error_response(&e),
            };
            apply_meta_headers(response.headers_mut(), &ctx);
            apply_overhead_header(response.headers_mut(), &ctx);
            response
        }
        Outcome::Stream(s) => {
            let ctx = s.context().clone();
            let started = ctx.received_at;
            let body =
                futures::stream::unfold(Some((s, EventEncoder::default())), move |st| async move {
                    let (mut s, mut ev) = st?;
                    let mut out = Vec::new();
                    match s.next().await {
                        Some(Ok(c)) => {
                            ev.chunk(&c, &mut out);
                            Some((Ok::<Bytes, Infallible>(out.concat().into()), Some((s, ev))))
                        }
                        Some(Err(e)) => Some((Ok(exception_frame(&e)), None)),
                        None => {
                            let latency =
                                u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                            ev.finish(&mut out, latency);
                            Some((Ok(out.concat().into()), None))
                        }
                    }
                });
            crate::dialect::streamed(body, "application/vnd.amazon.eventstream", &ctx)
        }
    }
}
