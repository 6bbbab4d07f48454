//! The Cohere drop-in route: `POST /cohere/v2/chat` (JSON and SSE), so the Cohere SDK
//! (`ClientV2(base_url=…/cohere)`) reaches any configured provider. Cohere v2 is close to the
//! OpenAI shape: the request maps field by field, the reply is rebuilt as Cohere's message,
//! usage (`billed_units`, `tokens`, `cached_tokens`), `thinking` content and stream events.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::Response;
use heimdall_config::ProviderKind;
use heimdall_core::Operation;
use heimdall_dialects::cohere::client::{Chat, invalid};
use serde_json::{Value, json};

use crate::body::{body_error, decode_json};
use crate::state::AppState;
use crate::state::new_context;

/// `POST /cohere/v2/chat`
pub async fn chat(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    crate::chat_route::serve::<Chat>(&state, &headers, (), body, None).await
}

/// `POST /cohere/v2/embed`: `texts` → the gateway's embeddings → Cohere's
/// `embeddings_by_type` answer (`float`; `input_type` is passed to providers that take it).
pub async fn embed(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let value = match body
        .map_err(|r| body_error(r, state.body_limit))
        .and_then(|b| decode_json::<Value>(&b))
    {
        Ok(v) => v,
        Err(e) => return crate::chat_route::error::<Chat>(&e),
    };
    let mut req = json!({"model": value["model"], "input": value["texts"]});
    if let (Some(o), Some(t)) = (req.as_object_mut(), value.get("input_type")) {
        o.insert("input_type".into(), t.clone());
    }
    if let (Some(o), Some(d)) = (req.as_object_mut(), value.get("output_dimension")) {
        o.insert("dimensions".into(), d.clone());
    }
    let req: heimdall_schema::embeddings::EmbeddingRequest = match serde_json::from_value(req)
        .map_err(|e| invalid(format!("cannot read the request: {e}"), "texts"))
        .and_then(|r: heimdall_schema::embeddings::EmbeddingRequest| {
            r.validate()?;
            Ok(r)
        }) {
        Ok(r) => r,
        Err(e) => return crate::chat_route::error::<Chat>(&e),
    };
    let mut req = req;
    crate::chat_route::address_naturally(&state, Some(ProviderKind::Cohere), &mut req.model);
    let model = req.model.clone();
    let ctx = new_context(&headers, Operation::Embedding, &model).in_route("cohere");
    let (ctx, result) = state.gateway.embeddings(ctx, req).await;
    let result = result.map(|r| {
        let vectors: Vec<Value> = r
            .data
            .iter()
            .map(|e| serde_json::to_value(&e.embedding).unwrap_or(Value::Null))
            .collect();
        let tokens = r.usage.as_ref().map_or(0, |u| u.prompt_tokens);
        json!({"id": ctx.request_id, "embeddings": {"float": vectors}, "texts": value["texts"],
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": tokens}},
            "response_type": "embeddings_by_type"})
    });
    crate::chat_route::reply::<Chat>(&ctx, result)
}
