//! The HTTP application: routes and the layers around them (the shared state is `state`).
//!
//! Layers (outermost first): HTTP metrics → the gate (`gate`: IP allow-list → CORS → client
//! rate limit, so a refused client's body is never read → ingress rules: Host allow-list,
//! declared size, JSON-only bodies → credentials → `server.timeout` around the route) →
//! body-size limit → routes. Unknown routes and wrong methods answer in OpenAI's error shape,
//! never an empty body.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use heimdall_schema::error::{ErrorKind, GatewayError};

use heimdall_dialects::openai::ChatCompletions;

use crate::chat_route::error;
use crate::ingress::IngressPolicy;
pub use crate::state::AppState;

/// Build the router, answering to any `Host` (tests; the server uses [`router_with`]).
pub fn router(state: AppState) -> Router {
    let policy = IngressPolicy::any_host(state.body_limit);
    router_with(state, policy)
}

/// Build the router with the listener's ingress policy.
pub fn router_with(state: AppState, policy: IngressPolicy) -> Router {
    let limit = state.body_limit;
    let routes = crate::ui_assets::mount(crate::api_routes::mount(crate::compat::mount(
        Router::new(),
    )));
    routes
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/api/providers/health", get(providers_health))
        .route("/api/logs", get(crate::logs_api::list))
        .route("/api/logs/stats", get(crate::logs_api::stats))
        .route("/api/logs/timeseries", get(crate::logs_api::timeseries))
        .route("/api/logs/stream", get(crate::log_stream::stream))
        .route("/api/logs/dropped", get(crate::logs_api::dropped))
        .route("/api/logs/{id}", get(crate::logs_api::get_one))
        .route("/metrics", get(crate::logs_api::metrics))
        .route(
            "/mcp",
            axum::routing::post(crate::mcp_server::post)
                .get(crate::mcp_server::not_offered)
                .delete(crate::mcp_server::not_offered),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(crate::gate::Gate {
                state: state.clone(),
                ingress: policy,
            }),
            crate::gate::gate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.observability),
            crate::logs_api::http_metrics,
        ))
        .with_state(state)
}

/// Alive (always 200); `degraded` while the request-log store is failing, with its counters —
/// the gateway serves, but records wait in memory and may be dropped.
async fn health(State(state): State<AppState>) -> Response {
    use std::sync::atomic::Ordering;
    let Some(w) = &state.observability.writer else {
        return Json(serde_json::json!({"status": "ok"})).into_response();
    };
    let s = w.stats();
    let failing = s.failing.load(Ordering::Relaxed);
    Json(serde_json::json!({
        "status": if failing { "degraded" } else { "ok" },
        "log_store": {
            "status": if failing { "failing" } else { "ok" },
            "pending": w.pending(),
            "dropped": s.dropped.load(Ordering::Relaxed),
            "rejected": s.rejected.load(Ordering::Relaxed),
            "last_error": if failing { s.last_error() } else { None },
        },
    }))
    .into_response()
}

/// Circuit state, statistics and cooldowns of every provider and key.
async fn providers_health(State(state): State<AppState>) -> Response {
    let rt = state.gateway.runtime();
    Json(heimdall_core::probe::report(&rt)).into_response()
}

/// Ready when at least one provider can serve; lists what cannot.
async fn ready(State(state): State<AppState>) -> Response {
    let rt = state.gateway.runtime();
    let providers: Vec<&String> = rt.providers.keys().collect();
    // Draining (after SIGTERM): not ready, so load balancers send new requests elsewhere while
    // this process finishes what it has.
    let status = if state.lifecycle.is_draining() {
        "draining"
    } else if providers.is_empty() {
        "no_providers"
    } else {
        "ready"
    };
    let body = serde_json::json!({
        "status": status,
        "providers": providers,
        "unavailable": rt.unavailable,
    });
    let code = if status == "ready" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

async fn not_found(uri: axum::http::Uri) -> Response {
    error::<ChatCompletions>(
        &GatewayError::new(
            ErrorKind::RouteNotFound,
            format!("no route for {}", uri.path()),
        )
        .with_code("not_found"),
    )
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    error::<ChatCompletions>(
        &GatewayError::new(
            ErrorKind::InvalidRequest,
            format!("method {method} is not allowed on {}", uri.path()),
        )
        .with_status(405)
        .with_code("method_not_allowed"),
    )
}
