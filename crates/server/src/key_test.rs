//! `POST /api/providers/{provider}/keys/{key_id}/test`: ask the provider, with one key, for its
//! model list, and say whether it answered, how fast, and with how many models.
//!
//! Why the model list, bounded by the health-check timeout: it is the cheapest authenticated
//! call every provider has, and exactly what active health checks send, so a key that passes
//! here passes there. Why the running configuration and not the stored document: the key is
//! tried as requests would use it (its resolved secret, the provider's network settings and
//! proxy); a disabled key can be tried too, before it is turned on. The answer never carries
//! the key: the upstream's error is scrubbed of the provider's secrets like any it sends. The
//! outcome does not feed the circuit breakers: an operator trying a key is not traffic.

use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use heimdall_schema::error::ErrorKind;
use serde_json::{Value, json};

use crate::api_error::ApiError;
use crate::providers_api::path_of;
use crate::state::AppState;

/// The body may be empty or a JSON object (`{}`); nothing in it is read yet.
fn check_body(body: &Bytes) -> Result<(), ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(_)) => Ok(()),
        _ => Err(ApiError::bad_request(
            "the body must be empty or a JSON object",
        )),
    }
}

fn failed(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_GATEWAY, "key_test_failed", message)
}

/// `POST /api/providers/{provider}/keys/{key_id}/test`
pub async fn test_key(
    State(state): State<AppState>,
    ids: Result<Path<(String, String)>, PathRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (provider, id) = path_of(ids)?;
    check_body(&body)?;
    let rt = state.gateway.runtime();
    let Some(entry) = rt.providers.get(&provider) else {
        return Err(match rt.unavailable.get(&provider) {
            Some(reason) => ApiError::new(
                StatusCode::CONFLICT,
                "provider_unavailable",
                format!("provider '{provider}' is configured but cannot serve: {reason}"),
            ),
            None => ApiError::not_found(format!("no provider '{provider}'")),
        });
    };
    let key = entry
        .config
        .keys
        .iter()
        .find(|k| k.name == id)
        .ok_or_else(|| ApiError::not_found(format!("provider '{provider}' has no key '{id}'")))?;
    if let Some(var) = &key.unresolved_env {
        return Err(failed(format!(
            "{}: the key's value names environment variable {var}, which is not set",
            ErrorKind::NoKeyAvailable.as_str()
        )));
    }
    let timeout = rt.config.load_balancing.health.check_timeout;
    let started = Instant::now();
    let outcome = tokio::time::timeout(timeout, entry.provider.list_models(Some(key))).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    match outcome {
        Ok(Ok(models)) => Ok(Json(json!({
            "ok": true,
            "provider": provider,
            "key": id,
            "latency_ms": latency_ms,
            "models": models.len(),
        }))
        .into_response()),
        Ok(Err(mut e)) => {
            entry.redactor.scrub_error(&mut e);
            tracing::info!(
                provider,
                key = id,
                error_type = e.kind.as_str(),
                error = %e.message,
                "key test failed"
            );
            Err(failed(format!("{}: {}", e.kind.as_str(), e.message)))
        }
        Err(_) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "key_test_timeout",
            format!(
                "provider '{provider}' did not answer within {} ms (loadBalancing health check timeout)",
                timeout.as_millis()
            ),
        )),
    }
}
