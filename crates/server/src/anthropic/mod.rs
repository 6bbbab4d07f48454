//! The Anthropic drop-in route: `POST /anthropic/v1/messages`, so an application keeps the
//! Anthropic SDK (only `base_url` changes) and reaches any configured provider — JSON and SSE
//! answers in Anthropic's exact shapes, errors as `{"type":"error",…}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use heimdall_config::ProviderKind;
use heimdall_schema::error::GatewayError;
use heimdall_schema::native::{Dialect, NativeRequest};
use serde_json::Value;

use heimdall_dialects::anthropic::client_response::Messages;
use heimdall_schema::chat::ChatRequest;

use crate::body::{body_error, decode_json};
use crate::state::AppState;

/// Provider kinds that take an Anthropic Messages body as the client wrote it.
const ANTHROPIC_FAMILY: &[ProviderKind] = &[
    ProviderKind::Anthropic,
    ProviderKind::Vertex,
    ProviderKind::Bedrock,
];

fn error_response(e: &GatewayError) -> Response {
    crate::chat_route::error::<Messages>(e)
}

/// `POST /anthropic/v1/messages`
pub async fn messages(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    crate::chat_route::serve::<Messages>(&state, &headers, (), body, Some(keep_native)).await
}

/// The client's own body goes as written to an Anthropic-family upstream; it is read into a
/// tree only when one can serve this request.
fn keep_native(state: &AppState, headers: &HeaderMap, bytes: &[u8], req: &mut ChatRequest) {
    let fallbacks: Vec<String> = req
        .extra
        .get("fallbacks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_owned))
        .collect();
    if state
        .gateway
        .may_reach(&req.model, &fallbacks, ANTHROPIC_FAMILY)
        && let Ok(original) = decode_json::<Value>(bytes)
    {
        req.native = Some(native_request(original, headers));
    }
}

/// The client's body as a native request: an Anthropic-family target (Anthropic, Claude on
/// Vertex AI) sends it as written. Gateway-only fields go; `anthropic-beta` is forwarded.
fn native_request(mut body: Value, headers: &HeaderMap) -> NativeRequest {
    if let Some(o) = body.as_object_mut() {
        o.remove("fallbacks");
    }
    let headers = headers
        .get_all("anthropic-beta")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| ("anthropic-beta".to_owned(), v.to_owned()))
        .collect();
    NativeRequest {
        dialect: Dialect::Anthropic,
        body: Arc::new(body),
        headers,
    }
}

/// `POST /anthropic/v1/messages/count_tokens`: an estimate (about four characters per token of
/// the request's text) without calling a provider; providers count differently anyway.
pub async fn count_tokens(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let value = match body
        .map_err(|r| body_error(r, state.body_limit))
        .and_then(|b| decode_json::<Value>(&b))
    {
        Ok(v) => v,
        Err(e) => return error_response(&e),
    };
    let chars = value["system"].to_string().len()
        + value["messages"].to_string().len()
        + value["tools"].to_string().len();
    axum::Json(serde_json::json!({"input_tokens": chars.div_ceil(4)})).into_response()
}

/// `GET /anthropic/v1/models`: the gateway's models in Anthropic's list shape.
pub async fn list_models(State(state): State<AppState>) -> Response {
    let (data, _) = state
        .gateway
        .list_models(crate::state::MODEL_LIST_TIMEOUT)
        .await;
    let models: Vec<Value> = data
        .iter()
        .map(|m| {
            serde_json::json!({"type": "model", "id": m.id, "display_name": m.id,
            "created_at": "1970-01-01T00:00:00Z"})
        })
        .collect();
    let first = models
        .first()
        .map(|m| m["id"].clone())
        .unwrap_or(Value::Null);
    let last = models
        .last()
        .map(|m| m["id"].clone())
        .unwrap_or(Value::Null);
    axum::Json(
        serde_json::json!({"data": models, "has_more": false, "first_id": first,
        "last_id": last}),
    )
    .into_response()
}
