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
use heimdall_schema::error::{ErrorKind, GatewayError};
use serde_json::{Value, json};

use heimdall_dialects::gemini::client_response::{
    EmbedCall, EmbedContent, GenerateCall, GenerateContent,
};

use crate::body::{body_error, decode_json};
use crate::state::AppState;

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
    if matches!(method, "embedContent" | "batchEmbedContents") {
        let call = EmbedCall {
            model,
            batch: method == "batchEmbedContents",
        };
        return crate::chat_route::serve_embeddings::<EmbedContent>(
            &state,
            &headers,
            call,
            Ok(bytes),
        )
        .await;
    }
    if method == "countTokens" {
        // An estimate (about four characters per token): no provider call.
        return match decode_json::<Value>(&bytes) {
            Ok(value) => {
                let chars = value.to_string().len() as u64;
                Json(json!({"totalTokens": chars.div_ceil(4)})).into_response()
            }
            Err(e) => error_response(&e),
        };
    }
    error_response(
        &GatewayError::new(
            ErrorKind::RouteNotFound,
            format!("method '{method}' is not supported"),
        )
        .with_status(404),
    )
}
