//! The Cohere drop-in route: `POST /cohere/v2/chat` (JSON and SSE), so the Cohere SDK
//! (`ClientV2(base_url=…/cohere)`) reaches any configured provider. Cohere v2 is close to the
//! OpenAI shape: the request maps field by field, the reply is rebuilt as Cohere's message,
//! usage (`billed_units`, `tokens`, `cached_tokens`), `thinking` content and stream events.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::Response;
use heimdall_dialects::cohere::client::{Chat, Embed};

use crate::state::AppState;

/// `POST /cohere/v2/chat`
pub async fn chat(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    crate::chat_route::serve::<Chat>(&state, &headers, (), body, None).await
}

/// `POST /cohere/v2/embed`
pub async fn embed(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    crate::chat_route::serve_embeddings::<Embed>(&state, &headers, (), body).await
}
