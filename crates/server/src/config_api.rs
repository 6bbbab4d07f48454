//! The configuration API: `GET`/`PUT /api/config`, the version history
//! (`/api/config/versions`, `/api/config/versions/{v}`), `POST /api/config/rollback/{v}`,
//! and `/api/version`. Every write takes `?dry_run=true` (the diff or the field-path errors,
//! nothing applied).
//!
//! Why the document, redacted, is what is shown: it is what users wrote (with `env.VAR`
//! references kept) and what a `PUT` sends back; a redacted secret sent back keeps the stored
//! one, so a read-modify-write never needs the secret itself.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use heimdall_control::{ControlPlane, Principal, document};
use serde_json::{Value, json};

use crate::api_error::ApiError;
use crate::state::AppState;

/// The control plane, or a 503 saying there is none.
pub(crate) fn control(state: &AppState) -> Result<&ControlPlane, ApiError> {
    state.control.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "control_plane_unavailable",
            "this gateway runs on a fixed configuration without a config store",
        )
    })
}

/// The actor recorded with a change.
pub(crate) fn actor(principal: Option<&axum::Extension<Principal>>) -> String {
    principal.map_or_else(|| "anonymous".to_owned(), |p| p.name.clone())
}

/// `?dry_run=true`.
pub(crate) fn dry_run(
    params: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<bool, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    match p.get("dry_run").map(String::as_str) {
        None | Some("false" | "0") => Ok(false),
        Some("true" | "1" | "") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "dry_run must be true or false, not '{other}'"
        ))
        .with_param("dry_run")),
    }
}

/// A JSON body, or a 400 saying why not.
pub(crate) fn body(body: Result<Json<Value>, JsonRejection>) -> Result<Value, ApiError> {
    body.map(|Json(v)| v)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {}", e.body_text())))
}

/// The answer to a write: the new version and what changed.
pub(crate) fn applied(a: &heimdall_control::Applied, extra: Value) -> Response {
    let mut out = json!({
        "version": a.version,
        "dry_run": a.dry_run,
        "diff": a.diff,
        "restart_required": a.restart_required,
        "warnings": a.warnings,
    });
    if let (Some(o), Value::Object(e)) = (out.as_object_mut(), extra) {
        o.extend(e);
    }
    Json(out).into_response()
}

/// `GET /api/config`: mode, version, the document (secrets redacted).
pub async fn get_config(State(state): State<AppState>) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let current = c.config.current();
    let doc = document::redacted(&current.document);
    Ok(Json(json!({
        "mode": c.config.mode().name(),
        "source": c.config.mode(),
        "version": current.version,
        "client_config": doc.get("client").cloned().unwrap_or_else(|| json!({})),
        "config": doc,
        "auth_config": {"is_enabled": c.auth.enabled()},
        "is_db_connected": true,
        "is_logs_connected": state.observability.writer.is_some(),
    }))
    .into_response())
}

/// `PUT /api/config`: a whole document, or Bifrost's `{"client_config": {…}}` (the `client`
/// section only).
pub async fn put_config(
    State(state): State<AppState>,
    principal: Option<axum::Extension<Principal>>,
    params: Result<Query<BTreeMap<String, String>>, QueryRejection>,
    payload: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let dry = dry_run(params)?;
    let mut doc = body(payload)?;
    let who = actor(principal.as_ref());
    let only_client = doc
        .as_object()
        .is_some_and(|o| o.len() == 1 && o.contains_key("client_config"));
    let applied_change = if only_client {
        let client = doc["client_config"].take();
        c.config
            .edit(&who, dry, move |d| {
                d["client"] = client;
                Ok(())
            })
            .await?
    } else if doc.is_object() {
        c.config.replace(doc, &who, dry).await?
    } else {
        return Err(ApiError::bad_request(
            "the configuration must be a JSON object",
        ));
    };
    Ok(applied(&applied_change, json!({})))
}

/// `GET /api/config/versions?limit=&offset=`: newest first.
pub async fn list_versions(
    State(state): State<AppState>,
    params: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let Query(p) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let number = |name: &str, default: i64, max: i64| -> Result<i64, ApiError> {
        match p.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (0..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(format!("{name} must be a number from 0 to {max}"))
                        .with_param(name)
                }),
        }
    };
    let limit = number("limit", 50, 1000)?;
    let offset = number("offset", 0, i64::MAX)?;
    let (versions, total) = c
        .config
        .store()
        .list(limit, offset)
        .await
        .map_err(|e| heimdall_control::ChangeError::Store(e.to_string()))?;
    // Each version's diff is stored as JSON text; shown as JSON.
    let versions: Vec<Value> = versions
        .into_iter()
        .map(|m| {
            let mut v = serde_json::to_value(&m).unwrap_or(Value::Null);
            if let Some(d) = v.get_mut("diff")
                && let Some(text) = d.as_str()
            {
                *d = serde_json::from_str(text).unwrap_or(Value::Null);
            }
            v
        })
        .collect();
    Ok(Json(json!({
        "versions": versions,
        "total": total,
        "current": c.config.current().version,
        "mode": c.config.mode().name(),
    }))
    .into_response())
}

fn version_of(
    v: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<i64, ApiError> {
    let Path(v) = v.map_err(|e| ApiError::bad_request(e.body_text()))?;
    v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::bad_request(format!("'{v}' is not a version number")).with_param("version")
    })
}

/// `GET /api/config/versions/{v}`: one version with its diff and document (redacted).
pub async fn get_version(
    State(state): State<AppState>,
    v: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let v = version_of(v)?;
    let meta = c
        .config
        .store()
        .get(v)
        .await
        .map_err(|e| heimdall_control::ChangeError::Store(e.to_string()))?
        .ok_or_else(|| ApiError::not_found(format!("no configuration version {v}")))?;
    let doc = c.config.version_document(v).await?;
    let diff: Value = serde_json::from_str(&meta.diff).unwrap_or(Value::Null);
    Ok(Json(json!({
        "version": meta.version,
        "created_at_ms": meta.created_at_ms,
        "actor": meta.actor,
        "source": meta.source,
        "summary": meta.summary,
        "diff": diff,
        "config": document::redacted(&doc),
        "current": meta.version == c.config.current().version,
    }))
    .into_response())
}

/// `POST /api/config/rollback/{v}`: version `v`'s configuration becomes current (as a new
/// version).
pub async fn rollback(
    State(state): State<AppState>,
    principal: Option<axum::Extension<Principal>>,
    v: Result<Path<String>, axum::extract::rejection::PathRejection>,
    params: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let v = version_of(v)?;
    let dry = dry_run(params)?;
    let a = c
        .config
        .rollback(v, &actor(principal.as_ref()), dry)
        .await?;
    Ok(applied(&a, json!({"rolled_back_to": v})))
}

/// `GET /api/version`.
pub async fn version(State(state): State<AppState>) -> Response {
    let (mode, config_version) = state.control.as_ref().map_or(("fixed", 0), |c| {
        (c.config.mode().name(), c.config.current().version)
    });
    Json(json!({
        "name": "heimdall",
        "version": env!("CARGO_PKG_VERSION"),
        "config_mode": mode,
        "config_version": config_version,
    }))
    .into_response()
}
