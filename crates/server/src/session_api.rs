//! Sessions and credentials: `POST /api/session/login`, `/logout`,
//! `GET /api/session/is-auth-enabled` (Bifrost's paths), API tokens (`/api/tokens`) and
//! admin users (`POST /api/users`).
//!
//! Why a cookie and a token from one login: the UI uses the HttpOnly cookie (scripts on the
//! page cannot read it); scripts use the token as a bearer. Both are the same session.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::api_error::ApiError;
use crate::config_api::control;
use crate::mgmt_auth::{SESSION_COOKIE, credential};
use crate::state::AppState;

fn parse<T: serde::de::DeserializeOwned>(
    payload: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<T, ApiError> {
    let Json(v) = payload
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {}", e.body_text())))?;
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        ApiError::bad_request(format!("{path}: {}", e.into_inner())).with_param(path)
    })
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

/// `POST /api/session/login` `{username, password}` → `{token, expires_in}` and the cookie.
pub async fn login(
    State(state): State<AppState>,
    payload: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let l: Login = parse(payload)?;
    let token = c.auth.login(&l.username, &l.password).await?;
    let ttl = heimdall_control::auth::SESSION_TTL.as_secs();
    let cookie =
        format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={ttl}");
    let mut r =
        Json(json!({"token": token, "expires_in": ttl, "username": l.username})).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

/// `POST /api/session/logout`: ends the session the request carries.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let c = control(&state)?;
    if let Some(t) = credential(&headers) {
        c.auth.logout(&t).await?;
    }
    let mut r = Json(json!({"message": "logged out"})).into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("heimdall_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(r)
}

/// `GET /api/session/is-auth-enabled` → `{is_auth_enabled, has_valid_token}`.
pub async fn is_auth_enabled(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(c) = state.control.as_ref() else {
        return Json(json!({"is_auth_enabled": false, "has_valid_token": false})).into_response();
    };
    let valid = match credential(&headers) {
        Some(t) => c.auth.authenticate(&t).await.ok().flatten().is_some(),
        None => false,
    };
    Json(json!({"is_auth_enabled": c.auth.enabled(), "has_valid_token": valid})).into_response()
}

#[derive(Deserialize)]
struct NewToken {
    name: String,
    scopes: Vec<String>,
    #[serde(default)]
    expires_at_ms: Option<i64>,
}

/// `POST /api/tokens` `{name, scopes, expires_at_ms?}` → the token, shown this once.
pub async fn create_token(
    State(state): State<AppState>,
    payload: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let t: NewToken = parse(payload)?;
    let (info, token) = c
        .auth
        .create_token(&t.name, &t.scopes, t.expires_at_ms)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"token": token, "info": info,
            "note": "the token is shown this once; only its hash is stored"})),
    )
        .into_response())
}

/// `GET /api/tokens`: without values.
pub async fn list_tokens(State(state): State<AppState>) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let tokens = c.auth.list_tokens().await?;
    Ok(Json(json!({"total": tokens.len(), "tokens": tokens})).into_response())
}

/// `DELETE /api/tokens/{id}`
pub async fn delete_token(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let Path(id) = id.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if c.auth.delete_token(&id).await? {
        Ok(Json(json!({"deleted": id})).into_response())
    } else {
        Err(ApiError::not_found(format!("no token '{id}'")))
    }
}

#[derive(Deserialize)]
struct NewAdmin {
    username: String,
    password: String,
}

/// `POST /api/users` `{username, password}`: an admin user (auth turns on with the first).
pub async fn create_admin(
    State(state): State<AppState>,
    payload: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let c = control(&state)?;
    let a: NewAdmin = parse(payload)?;
    c.auth.create_admin(&a.username, &a.password).await?;
    Ok((StatusCode::CREATED, Json(json!({"username": a.username}))).into_response())
}
