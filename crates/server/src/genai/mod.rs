//! The Google GenAI drop-in routes: `/genai/{v1,v1beta,v1alpha}/models/{model}:generateContent`,
//! `:streamGenerateContent` (SSE with `alt=sse`, a streamed JSON array without),
//! `:embedContent`, `:batchEmbedContents`, `:countTokens`, and `GET /genai/{version}/models`, so
//! the Google GenAI SDK (and the Vercel AI SDK's Google provider, which leaves out `models/`
//! for an id holding `/`) reaches any configured provider by changing only its base URL.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use heimdall_config::ProviderKind;
use heimdall_core::Operation;
use heimdall_schema::embeddings::EmbeddingRequest;
use heimdall_schema::error::{ErrorKind, GatewayError};
use serde_json::{Value, json};

use heimdall_dialects::gemini::client_response::{GenerateCall, GenerateContent};

use crate::body::{body_error, decode_json};
use crate::headers::apply_meta_headers;
use crate::state::AppState;
use crate::state::new_context;

fn error_response(e: &GatewayError) -> Response {
    crate::chat_route::error::<GenerateContent>(e)
}

/// `GET /genai/v1beta/models`
pub async fn list_models(State(state): State<AppState>) -> Response {
    let (data, _) = state
        .gateway
        .list_models(crate::state::MODEL_LIST_TIMEOUT)
        .await;
    let models: Vec<Value> = data
        .iter()
        .map(|m| {
            json!({"name": format!("models/{}", m.id), "displayName": m.id,
            "supportedGenerationMethods": ["generateContent", "streamGenerateContent"]})
        })
        .collect();
    Json(json!({"models": models})).into_response()
}

/// `POST /genai/{version}/models/{model}:{method}` (or `/{provider}/{model}:{method}`)
pub async fn model_action(
    State(state): State<AppState>,
    Path(rest): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some((model, method)) = rest.rsplit_once(':') else {
        return error_response(
            &GatewayError::new(
                ErrorKind::RouteNotFound,
                format!("no method in 'models/{rest}'"),
            )
            .with_status(404),
        );
    };
    let model = model.strip_prefix("models/").unwrap_or(model).to_owned();
    let bytes = match body.map_err(|r| body_error(r, state.body_limit)) {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };
    if matches!(method, "generateContent" | "streamGenerateContent") {
        let stream = (method == "streamGenerateContent")
            .then(|| query.get("alt").map(String::as_str) == Some("sse"));
        let call = GenerateCall { model, stream };
        return crate::chat_route::serve::<GenerateContent>(
            &state,
            &headers,
            call,
            Ok(bytes),
            None,
        )
        .await;
    }
    let value = match decode_json::<Value>(&bytes) {
        Ok(v) => v,
        Err(e) => return error_response(&e),
    };
    match method {
        "embedContent" | "batchEmbedContents" => {
            embed(&state, &headers, &model, &value, method).await
        }
        "countTokens" => {
            // An estimate (about four characters per token): no provider call.
            let chars = value.to_string().len() as u64;
            Json(json!({"totalTokens": chars.div_ceil(4)})).into_response()
        }
        other => error_response(
            &GatewayError::new(
                ErrorKind::RouteNotFound,
                format!("method '{other}' is not supported"),
            )
            .with_status(404),
        ),
    }
}

async fn embed(
    state: &AppState,
    headers: &HeaderMap,
    model: &str,
    body: &Value,
    method: &str,
) -> Response {
    let text_of = |c: &Value| -> String {
        c["parts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["text"].as_str())
            .collect()
    };
    let (input, batch) = if method == "embedContent" {
        (json!(text_of(&body["content"])), false)
    } else {
        let texts: Vec<String> = body["requests"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| text_of(&r["content"]))
            .collect();
        (json!(texts), true)
    };
    let mut req = json!({"model": model, "input": input});
    let dims = body
        .get("outputDimensionality")
        .or_else(|| body.pointer("/requests/0/outputDimensionality"));
    if let (Some(d), Some(o)) = (dims, req.as_object_mut()) {
        o.insert("dimensions".into(), d.clone());
    }
    let mut req: EmbeddingRequest = match serde_json::from_value(req) {
        Ok(r) => r,
        Err(e) => {
            return error_response(&GatewayError::invalid_request(e.to_string(), None));
        }
    };
    crate::chat_route::address_naturally(state, Some(ProviderKind::Gemini), &mut req.model);
    let ctx = new_context(headers, Operation::Embedding, &req.model).in_route("genai");
    let (ctx, result) = state.gateway.embeddings(ctx, req).await;
    let mut response = match result {
        Ok(r) => {
            let values: Vec<Value> = r
                .data
                .iter()
                .map(|e| json!({"values": serde_json::to_value(&e.embedding).unwrap_or(Value::Null)}))
                .collect();
            if batch {
                Json(json!({"embeddings": values})).into_response()
            } else {
                Json(json!({"embedding": values.first().cloned().unwrap_or(json!({"values": []}))}))
                    .into_response()
            }
        }
        Err(e) => error_response(&e),
    };
    apply_meta_headers(response.headers_mut(), &ctx);
    response
}
