//! The mock's Azure OpenAI face: deployment paths with `api-version`, `api-key` or an Entra ID
//! bearer token, and an Entra-style client-credentials token endpoint.
//!
//! Why: the gateway's Azure support is URL building and authentication around the OpenAI wire
//! format; testing it needs an upstream that refuses what Azure refuses (no `api-version`, no
//! credential, a bearer token it did not issue) and counts the tokens it issues, so token
//! caching is observable.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Form, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::Shared;
use crate::handlers;

fn azure_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

/// What Azure checks before routing to a deployment.
fn check(query: &HashMap<String, String>, headers: &HeaderMap) -> Option<Response> {
    if !query.contains_key("api-version") {
        return Some(azure_error(
            StatusCode::NOT_FOUND,
            "404",
            "Resource not found (api-version query parameter missing)",
        ));
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match (headers.get("api-key"), bearer) {
        (Some(_), _) => None,
        (None, Some(t)) if t.starts_with("mock-entra-") => None,
        (None, Some(_)) => Some(azure_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        )),
        (None, None) => Some(azure_error(
            StatusCode::UNAUTHORIZED,
            "401",
            "Access denied due to missing subscription key or bearer token.",
        )),
    }
}

/// Azure's content filter answers a stream with a prompt-filter chunk first (`choices: []`,
/// empty `id`, `object` and `model`), before the model's own chunks.
fn with_prompt_filter_chunk(r: Response) -> Response {
    let is_sse = r
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if !is_sse || !r.status().is_success() {
        return r;
    }
    let first = json!({"choices": [], "created": 0, "id": "", "model": "", "object": "",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {
            "hate": {"filtered": false, "severity": "safe"},
            "self_harm": {"filtered": false, "severity": "safe"},
            "sexual": {"filtered": false, "severity": "safe"},
            "violence": {"filtered": false, "severity": "safe"}}}]});
    let (parts, body) = r.into_parts();
    let prefix = futures::stream::once(async move {
        Ok::<Bytes, axum::Error>(Bytes::from(format!("data: {first}\n\n")))
    });
    let rest = body.into_data_stream();
    Response::from_parts(
        parts,
        axum::body::Body::from_stream(futures::StreamExt::chain(prefix, rest)),
    )
}

/// `POST /openai/deployments/{deployment}/{operation}`
pub async fn deployment(
    State(s): State<Arc<Shared>>,
    Path((_deployment, operation)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = check(&query, &headers) {
        return r;
    }
    let state = State(s);
    match operation.as_str() {
        "chat" => with_prompt_filter_chunk(handlers::chat(state, method, uri, headers, body).await),
        "completions" => handlers::completions(state, method, uri, headers, body).await,
        "embeddings" => handlers::embeddings(state, method, uri, headers, body).await,
        _ => azure_error(StatusCode::NOT_FOUND, "404", "Resource not found"),
    }
}

/// `POST /openai/deployments/{deployment}/audio/{speech|transcriptions|translations}`
pub async fn audio(
    State(s): State<Arc<Shared>>,
    Path((_deployment, operation)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = check(&query, &headers) {
        return r;
    }
    let state = State(s);
    match operation.as_str() {
        "speech" => crate::media::speech(state, method, uri, headers, body).await,
        "transcriptions" => crate::media::transcriptions(state, method, uri, headers, body).await,
        "translations" => crate::media::translations(state, method, uri, headers, body).await,
        _ => azure_error(StatusCode::NOT_FOUND, "404", "Resource not found"),
    }
}

/// `POST /openai/deployments/{deployment}/images/{generations|edits}`
pub async fn images(
    State(s): State<Arc<Shared>>,
    Path((_deployment, operation)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = check(&query, &headers) {
        return r;
    }
    let state = State(s);
    match operation.as_str() {
        "generations" => crate::media::image_generations(state, method, uri, headers, body).await,
        "edits" => crate::media::image_edits(state, method, uri, headers, body).await,
        _ => azure_error(StatusCode::NOT_FOUND, "404", "Resource not found"),
    }
}

/// `POST /openai/deployments/{deployment}/chat/completions`
pub async fn chat(
    s: State<Arc<Shared>>,
    Path(d): Path<String>,
    q: Query<HashMap<String, String>>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    deployment(
        s,
        Path((d, "chat".to_owned())),
        q,
        method,
        uri,
        headers,
        body,
    )
    .await
}

/// `GET /openai/models`
pub async fn models(
    s: State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = check(&query, &headers) {
        return r;
    }
    handlers::models(s, headers).await
}

/// `POST /entra/{tenant}/oauth2/v2.0/token` (client-credentials grant).
pub async fn token(
    State(s): State<Arc<Shared>>,
    Path(_tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| form.get(k).filter(|v| !v.is_empty());
    if form.get("grant_type").map(String::as_str) != Some("client_credentials")
        || field("client_id").is_none()
        || field("client_secret").is_none()
        || field("scope").is_none()
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request",
                "error_description": "client_credentials grant needs client_id, client_secret and scope"})),
        )
            .into_response();
    }
    let n = s.tokens_issued.fetch_add(1, Ordering::Relaxed);
    let client = field("client_id").map_or("", String::as_str);
    Json(
        json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
        "access_token": format!("mock-entra-{client}-{n}")}),
    )
    .into_response()
}
