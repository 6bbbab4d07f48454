//! The mock's Vertex AI face: publisher-model URLs (`google` → Gemini answers, `anthropic` →
//! `rawPredict` / `streamRawPredict` Messages answers) behind bearer tokens that only its own
//! Google-style token endpoint issues, after verifying the signed JWT assertion.
//!
//! Why verify the signature: the gateway's service-account flow (RS256 JWT, `jwt-bearer` grant)
//! must be proven to work, not just to send something; a wrong key or claim fails the test.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Form, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::sha2::Sha256;
use rsa::signature::Verifier;
use serde_json::{Value, json};

use crate::Shared;
use crate::gemini::AltQuery;

fn oauth_error(description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_grant", "error_description": description})),
    )
        .into_response()
}

/// Check a JWT-bearer assertion: RS256, claims present and current, signature (when a key is
/// configured). Returns the issuer.
fn check_assertion(assertion: &str, public_key: Option<&str>) -> Result<String, String> {
    let parts: Vec<&str> = assertion.split('.').collect();
    let [h, c, sig] = parts.as_slice() else {
        return Err("assertion is not a JWT".into());
    };
    let decode = |p: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD.decode(p).map_err(|e| e.to_string())?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    };
    let header = decode(h)?;
    let claims = decode(c)?;
    if header["alg"] != "RS256" {
        return Err("alg must be RS256".into());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let exp = claims["exp"].as_u64().ok_or("exp missing")?;
    let iat = claims["iat"].as_u64().ok_or("iat missing")?;
    if exp <= now || iat > now + 60 || exp - iat > 3600 {
        return Err("token times invalid".into());
    }
    if claims["scope"]
        .as_str()
        .is_none_or(|s| !s.contains("cloud-platform"))
    {
        return Err("scope must include cloud-platform".into());
    }
    if let Some(pem) = public_key {
        let key = RsaPublicKey::from_public_key_pem(pem).map_err(|e| e.to_string())?;
        let sig_bytes = URL_SAFE_NO_PAD.decode(sig).map_err(|e| e.to_string())?;
        let sig = Signature::try_from(sig_bytes.as_slice()).map_err(|e| e.to_string())?;
        VerifyingKey::<Sha256>::new(key)
            .verify(format!("{h}.{c}").as_bytes(), &sig)
            .map_err(|_| "invalid JWT signature".to_owned())?;
    }
    claims["iss"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "iss missing".to_owned())
}

/// `POST /google/token` (grant `urn:ietf:params:oauth:grant-type:jwt-bearer`).
pub async fn token(
    State(s): State<Arc<Shared>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return oauth_error("unsupported grant_type");
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error("assertion missing");
    };
    match check_assertion(assertion, s.config.google_public_key_pem.as_deref()) {
        Ok(_) => {
            let n = s.tokens_issued.fetch_add(1, Ordering::Relaxed);
            Json(
                json!({"access_token": format!("mock-google-{n}"), "expires_in": 3599,
                "token_type": "Bearer"}),
            )
            .into_response()
        }
        Err(e) => oauth_error(&e),
    }
}

/// `POST /v1/projects/{p}/locations/{l}/publishers/{publisher}/models/{model}:{method}`
#[allow(clippy::too_many_arguments)]
pub async fn publisher_model(
    State(s): State<Arc<Shared>>,
    Path((_project, _location, publisher, model_action)): Path<(String, String, String, String)>,
    Query(q): Query<AltQuery>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !bearer.is_some_and(|t| t.starts_with("mock-google-")) {
        let body = json!({"error": {"code": 401, "status": "UNAUTHENTICATED",
            "message": "Request had invalid authentication credentials."}});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let request = (&method, &uri, &headers, &body);
    match publisher.as_str() {
        "google" if model_action.ends_with(":predict") => {
            s.served.fetch_add(1, Ordering::Relaxed);
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let predictions: Vec<Value> = v["instances"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| {
                    let t = i["content"].as_str().unwrap_or("");
                    json!({"embeddings": {"values": [t.len() as f32 / 10.0, 0.5, -0.25, 1.0],
                        "statistics": {"token_count": t.len() / 4 + 1, "truncated": false}}})
                })
                .collect();
            Json(json!({"predictions": predictions})).into_response()
        }
        "google" => crate::gemini::generate(&s, &model_action, q.alt(), request).await,
        "anthropic" => match model_action.rsplit_once(':') {
            Some((model, "rawPredict")) => {
                crate::anthropic::vertex_raw_predict(&s, request, model, false).await
            }
            Some((model, "streamRawPredict")) => {
                crate::anthropic::vertex_raw_predict(&s, request, model, true).await
            }
            _ => (StatusCode::NOT_FOUND, "unknown method").into_response(),
        },
        _ => (StatusCode::NOT_FOUND, "unknown publisher").into_response(),
    }
}
