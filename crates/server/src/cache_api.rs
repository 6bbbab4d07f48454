//! `/api/cache/*`: the response cache's statistics and removals (by the request that stored an
//! entry, by cache key, or everything) — Bifrost's `clear` and `clear-by-key` paths.
//!
//! Why removals report counts: an operator clearing a stale answer needs to know it is gone
//! (0 means there was nothing under that id or key, not that the call failed).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": {"type": "cache_unavailable",
            "message": "the response cache is off (enable it with the `cache` or `caching` section)"}})),
    )
        .into_response()
}

fn backend_error(e: &heimdall_cache::BackendError) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": {"type": "cache_backend_error", "message": e.to_string()}})),
    )
        .into_response()
}

/// `GET /api/cache/stats`.
pub async fn stats(State(state): State<AppState>) -> Response {
    let Some(cache) = &state.cache else {
        return unavailable();
    };
    let settings = cache.settings();
    let counters = cache.stats_snapshot();
    let (backend, stored) = match cache.backend() {
        Some(b) => (Some(b.name()), b.stats().await.ok()),
        None => (None, None),
    };
    Json(json!({
        "enabled": settings.enabled && backend.is_some(),
        "backend": backend,
        "embedder": cache.embedder_name(),
        "entries": stored.map(|s| s.entries),
        "bytes": stored.map(|s| s.bytes),
        "vectors_indexed": cache.indexed_vectors(),
        "in_flight": cache.in_flight(),
        "ttl_seconds": settings.ttl.as_secs_f64(),
        "threshold": settings.threshold,
        "counters": counters,
    }))
    .into_response()
}

fn removed(result: Result<u64, heimdall_cache::BackendError>) -> Response {
    match result {
        Ok(n) => Json(json!({"removed": n})).into_response(),
        Err(e) => backend_error(&e),
    }
}

/// `DELETE /api/cache/clear/{request_id}`: the entry that request stored.
pub async fn clear_request(
    State(state): State<AppState>,
    Path(request_id): Path<String>,
) -> Response {
    let Some(backend) = state.cache.as_ref().and_then(|c| c.backend()) else {
        return unavailable();
    };
    removed(backend.remove_by_request(&request_id).await)
}

/// `DELETE /api/cache/clear-by-key/{key}`: every entry stored under that cache key.
pub async fn clear_key(State(state): State<AppState>, Path(key): Path<String>) -> Response {
    let Some(backend) = state.cache.as_ref().and_then(|c| c.backend()) else {
        return unavailable();
    };
    removed(backend.remove_by_namespace(&key).await)
}

/// `DELETE /api/cache/clear`: every entry.
pub async fn clear_all(State(state): State<AppState>) -> Response {
    let Some(cache) = &state.cache else {
        return unavailable();
    };
    let Some(backend) = cache.backend() else {
        return unavailable();
    };
    let result = backend.clear().await;
    cache.clear_index();
    removed(result)
}
