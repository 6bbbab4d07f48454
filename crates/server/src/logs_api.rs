//! `GET /metrics`, the HTTP metrics layer, and the log query API: `GET /api/logs`, `/api/logs/{id}`,
//! `/api/logs/stats`, `/api/logs/timeseries`, `/api/logs/dropped` — the transport over
//! `heimdall_observe` (the live stream, `/api/logs/stream`, is `log_stream`).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use heimdall_store::{LogQuery, LogStore, SeriesQuery};
use serde_json::json;

pub use crate::api_error::ApiError;
use crate::state::AppState;

async fn store_of(state: &AppState) -> Result<&LogStore, ApiError> {
    let store = match &state.observability.writer {
        Some(w) => w.reader().await,
        None => None,
    };
    store.ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "logs_unavailable",
            "request logging is disabled, or its store is not reachable yet".to_owned(),
        )
    })
}

fn query_of(params: &BTreeMap<String, String>) -> Result<LogQuery, ApiError> {
    LogQuery::from_params(params).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            e.to_string(),
        )
        .with_param(e.param)
    })
}

/// The query string as a map; one that cannot be read is a JSON 400 like any bad parameter.
fn params_of(
    params: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<BTreeMap<String, String>, ApiError> {
    params.map(|Query(p)| p).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!("invalid query string: {}", e.body_text()),
        )
    })
}

fn db_error(e: &heimdall_store::StoreError) -> ApiError {
    tracing::warn!(error = %e, "log query failed");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "logs_unavailable",
        e.to_string(),
    )
}

/// `GET /api/logs`
pub async fn list(
    State(state): State<AppState>,
    params: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = params_of(params)?;
    let store = store_of(&state).await?;
    let q = query_of(&params)?;
    let page = store.query(&q).await.map_err(|e| db_error(&e))?;
    Ok(Json(page).into_response())
}

/// `GET /api/logs/stats`
pub async fn stats(
    State(state): State<AppState>,
    params: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let mut params = params_of(params)?;
    let store = store_of(&state).await?;
    for page_only in ["limit", "offset", "sort_by", "order"] {
        params.remove(page_only);
    }
    let q = query_of(&params)?;
    let stats = store.stats(&q).await.map_err(|e| db_error(&e))?;
    Ok(Json(stats).into_response())
}

/// `GET /api/logs/timeseries`: requests, errors, latency percentiles, tokens and cost per
/// time bucket, optionally split by provider, model or virtual key.
pub async fn timeseries(
    State(state): State<AppState>,
    params: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = params_of(params)?;
    let store = store_of(&state).await?;
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX);
    let q = SeriesQuery::from_params(&params, now_ms).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            e.to_string(),
        )
        .with_param(e.param)
    })?;
    let series = store.timeseries(&q).await.map_err(|e| db_error(&e))?;
    Ok(Json(series).into_response())
}

/// `GET /api/logs/{id}`: one record with its input and output.
pub async fn get_one(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!("invalid record id: {}", e.body_text()),
        )
        .with_param("id".to_owned())
    })?;
    let store = store_of(&state).await?;
    match store.get(&id).await.map_err(|e| db_error(&e))? {
        Some(r) => Ok(Json(r).into_response()),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found_error",
            format!("no log record with id '{id}'"),
        )
        .with_param("id".to_owned())),
    }
}

/// `GET /api/logs/dropped`: records the writer could not keep, and its queue.
pub async fn dropped(State(state): State<AppState>) -> Response {
    let Some(w) = &state.observability.writer else {
        return Json(json!({"enabled": false, "dropped": 0, "pending": 0})).into_response();
    };
    let s = w.stats();
    Json(json!({
        "enabled": true,
        "dropped": s.dropped.load(Ordering::Relaxed),
        "pending": w.pending(),
        "accepted": s.accepted.load(Ordering::Relaxed),
        "written": s.written.load(Ordering::Relaxed),
        "failed_writes": s.failed_writes.load(Ordering::Relaxed),
        "rejected": s.rejected.load(Ordering::Relaxed),
        "failing": s.failing.load(Ordering::Relaxed),
        "store_open": w.store().is_some(),
        "last_error": s.last_error(),
    }))
    .into_response()
}

/// `GET /metrics`: Prometheus text exposition format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let obs = &state.observability;
    let (pending, dropped) = obs.writer.as_ref().map_or((0, 0), |w| {
        let s = w.stats();
        (
            w.pending(),
            s.dropped.load(Ordering::Relaxed) + s.rejected.load(Ordering::Relaxed),
        )
    });
    let rt = state.gateway.runtime();
    // The in-process backend's size only: the shared ones count by a scan or a query, too
    // heavy for every scrape (their figures are at /api/cache/stats).
    if let Some(b) = state.cache.as_ref().and_then(|c| c.backend())
        && b.name() == "memory"
        && let Ok(s) = b.stats().await
    {
        obs.metrics.cache_gauges(s.bytes, s.evictions);
    }
    if let Some(m) = &state.mcp {
        let clients: Vec<(String, bool, usize)> = m
            .clients()
            .into_iter()
            .map(|c| {
                let up = c.state == heimdall_mcp::ClientState::Connected;
                (c.name, up, c.tools.len())
            })
            .collect();
        obs.metrics.mcp_clients(&clients);
    }
    let mut text = obs.metrics.render(&rt, pending, dropped);
    if let Some(c) = &state.control {
        control_metrics(&mut text, &rt.config.client.metrics_prefix, c);
    }
    if let Some(g) = &state.governance {
        g.stats()
            .render(&mut text, &rt.config.client.metrics_prefix, g.ledger());
    }
    let mut r = text.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// The control plane's series: the version in effect, changes applied by origin, failed
/// reloads, and whether auth is on.
fn control_metrics(out: &mut String, prefix: &str, c: &heimdall_control::ControlPlane) {
    use std::fmt::Write;
    let n = c.config.counts();
    let _ = write!(
        out,
        "# HELP {prefix}_config_version The configuration version in effect.\n\
         # TYPE {prefix}_config_version gauge\n\
         {prefix}_config_version {}\n\
         # HELP {prefix}_config_changes_total Configuration changes applied by this instance.\n\
         # TYPE {prefix}_config_changes_total counter\n\
         {prefix}_config_changes_total{{source=\"api\"}} {}\n\
         {prefix}_config_changes_total{{source=\"file\"}} {}\n\
         {prefix}_config_changes_total{{source=\"remote\"}} {}\n\
         # HELP {prefix}_config_reload_failures_total File reloads or other instances' versions that could not be applied.\n\
         # TYPE {prefix}_config_reload_failures_total counter\n\
         {prefix}_config_reload_failures_total {}\n\
         # HELP {prefix}_admin_auth_enabled 1 when management routes require credentials.\n\
         # TYPE {prefix}_admin_auth_enabled gauge\n\
         {prefix}_admin_auth_enabled {}\n",
        c.config.current().version,
        n.api.load(Ordering::Relaxed),
        n.file.load(Ordering::Relaxed),
        n.remote.load(Ordering::Relaxed),
        n.failed.load(Ordering::Relaxed),
        u8::from(c.auth.enabled()),
    );
}

/// HTTP metrics for every route (including requests refused before the engine).
pub async fn http_metrics(
    State(obs): State<std::sync::Arc<heimdall_observe::Observability>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    obs.metrics.http(
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

#[cfg(test)]
mod tests {
    use heimdall_observe::metrics::to_prometheus_text;

    #[test]
    fn counters_are_declared_under_their_sample_name() {
        let om = "# HELP x_requests Requests.\n# TYPE x_requests counter\nx_requests_total{a=\"b\"} 1\n\
                  # HELP x_lat Latency.\n# TYPE x_lat histogram\nx_lat_bucket{le=\"+Inf\"} 0\n# EOF\n";
        let text = to_prometheus_text(om);
        assert_eq!(
            text,
            "# HELP x_requests_total Requests.\n# TYPE x_requests_total counter\nx_requests_total{a=\"b\"} 1\n\
             # HELP x_lat Latency.\n# TYPE x_lat histogram\nx_lat_bucket{le=\"+Inf\"} 0\n"
        );
    }
}
