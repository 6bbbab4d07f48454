//! Who may call what: management routes need `config:read` (reads) or `admin` (writes), log
//! routes `logs:read`, inference routes `inference` when `enforce_auth_on_inference` or
//! `security.apiKeys` is on. Credentials: `Authorization: Bearer <token>` (an API token, a
//! session token, or the one-time setup token) or the UI's session cookie.
//!
//! Why loopback-only before any credential exists: a fresh install has no admin to log in
//! as, yet `/api/logs` holds prompts and answers. The machine's own user may set it up;
//! anyone else needs the setup token printed at start. Once an admin or a token exists,
//! everyone needs credentials, loopback included.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use heimdall_control::{Principal, Scope};
use heimdall_schema::error::{ErrorKind, GatewayError};

use crate::api_error::ApiError;
use crate::state::AppState;

/// The cookie that carries a UI session.
pub const SESSION_COOKIE: &str = "heimdall_session";

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, readiness, metrics, login, the API description, the console's files; a virtual key's quota,
    /// whose handler authenticates the key).
    Public,
    /// A management or log route needing this scope.
    Needs(Scope),
    /// An inference route (open unless inference auth is on).
    Inference,
}

/// What `method path` needs.
pub fn access(method: &Method, path: &str) -> Access {
    const PUBLIC: [&str; 9] = [
        "/health",
        "/ready",
        "/metrics",
        "/api/session/login",
        "/api/session/logout",
        "/api/session/is-auth-enabled",
        "/api/openapi.json",
        "/api/version",
        // A virtual key's own quota: the handler authenticates the key itself.
        "/api/governance/virtual-keys/quota",
    ];
    if PUBLIC.contains(&path) || crate::ui_assets::is_console_path(path) {
        return Access::Public;
    }
    if path == "/api/logs" || path.starts_with("/api/logs/") {
        return Access::Needs(Scope::LogsRead);
    }
    if path == "/api" || path.starts_with("/api/") {
        return if method == Method::GET || method == Method::HEAD {
            Access::Needs(Scope::ConfigRead)
        } else {
            Access::Needs(Scope::Admin)
        };
    }
    Access::Inference
}

/// The credential a request carries: a bearer token, else the session cookie.
pub fn credential(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        if let Some(t) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
        {
            return Some(t.trim().to_owned());
        }
    }
    session_cookie(headers)
}

/// The session cookie's value.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(SESSION_COOKIE)
                .and_then(|r| r.strip_prefix('='))
                .map(str::to_owned)
        })
        .filter(|v| !v.is_empty())
}

/// The credential of an inference request, in the header each SDK sends it in (the one the
/// rate limit counts by).
fn inference_credential(headers: &HeaderMap) -> Option<String> {
    crate::client_policy::credential(headers)
        .and_then(|c| std::str::from_utf8(c).ok())
        .map(str::to_owned)
}

fn is_loopback(req: &Request) -> bool {
    crate::client_policy::client_ip(req).is_some_and(|ip| ip.is_loopback())
}

fn unauthorized(message: impl Into<String>) -> Response {
    let mut r =
        ApiError::new(StatusCode::UNAUTHORIZED, "authentication_error", message).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer realm=\"heimdall\""),
    );
    r
}

/// Whether inference routes need credentials under `cfg`.
pub(crate) fn inference_needs_auth(cfg: &heimdall_config::GatewayConfig) -> bool {
    cfg.auth.enforce_auth_on_inference || cfg.security.api_keys.enabled
}

/// The request with its principal (when it needed one), or the refusal: 401/403 in the API's
/// shape on management and log routes, in the route's dialect on inference routes (when
/// `inference_auth`, see [`inference_needs_auth`]).
pub(crate) async fn authorize(
    state: &AppState,
    mut req: Request,
    inference_auth: bool,
) -> Result<Request, Response> {
    let principal = match access(req.method(), req.uri().path()) {
        Access::Public => return Ok(req),
        Access::Inference if !inference_auth => return Ok(req),
        Access::Inference => inference_principal(state, req.headers())
            .await
            .map_err(|e| crate::ingress::render(req.uri().path(), &e))?,
        Access::Needs(scope) => {
            let loopback = is_loopback(&req);
            Some(management_principal(state, req.headers(), loopback, scope).await?)
        }
    };
    if let Some(p) = principal {
        req.extensions_mut().insert(p);
    }
    Ok(req)
}

async fn management_principal(
    state: &AppState,
    headers: &HeaderMap,
    loopback: bool,
    scope: Scope,
) -> Result<Principal, Response> {
    let auth = state.control.as_ref().map(|c| &c.auth);
    let credential = credential(headers);
    let principal = match (auth, credential) {
        (Some(auth), Some(c)) => match auth.authenticate(&c).await {
            Ok(Some(p)) => p,
            Ok(None) => {
                return Err(unauthorized(
                    "the credential is not valid (unknown, expired or revoked token or session)",
                ));
            }
            Err(e) => return Err(ApiError::from(e).into_response()),
        },
        (auth, _) if auth.is_some_and(|a| a.enabled()) => {
            return Err(unauthorized(
                "credentials required: send Authorization: Bearer <API token>, or log in at POST /api/session/login",
            ));
        }
        _ if loopback => Principal::admin("loopback"),
        _ => {
            return Err(unauthorized(
                "no admin or API token is configured yet, so management and log routes answer loopback clients only; create one from this machine, or send the setup token printed at start as Authorization: Bearer <token>",
            ));
        }
    };
    if principal.allows(scope) {
        Ok(principal)
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            format!(
                "this credential lacks the '{}' scope this route needs",
                scope.as_str()
            ),
        )
        .into_response())
    }
}

/// The principal of an inference request when inference needs credentials.
async fn inference_principal(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Principal>, GatewayError> {
    let refuse = |status: u16, code: &'static str, message: &str| {
        GatewayError::new(ErrorKind::InvalidRequest, message.to_owned())
            .with_status(status)
            .with_code(code)
    };
    let Some(credential) = inference_credential(headers) else {
        return Err(refuse(
            401,
            "invalid_api_key",
            "inference requires a virtual key or an API token with the 'inference' scope (x-bf-vk, or Authorization: Bearer <token>)",
        ));
    };
    // A virtual key is an inference credential of its own; governance checks it further
    // (active, allowed models, budgets) on the request path.
    if state
        .governance
        .as_ref()
        .is_some_and(|g| g.knows(&credential))
    {
        return Ok(None);
    }
    let Some(auth) = state.control.as_ref().map(|c| &c.auth) else {
        return Err(refuse(
            401,
            "invalid_api_key",
            "inference requires a virtual key or an API token, and this gateway has no credential store",
        ));
    };
    match auth.authenticate(&credential).await {
        Ok(Some(p)) if p.allows(Scope::Inference) => Ok(Some(p)),
        Ok(Some(_)) => Err(refuse(
            403,
            "permission_denied",
            "this API token lacks the 'inference' scope",
        )),
        Ok(None) => Err(refuse(401, "invalid_api_key", "the API token is not valid")),
        Err(e) => {
            tracing::error!("auth store: {e}");
            Err(
                GatewayError::new(ErrorKind::Internal, "the credential store is not reachable")
                    .with_status(503),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_need_what_they_expose() {
        assert_eq!(access(&Method::GET, "/health"), Access::Public);
        assert_eq!(access(&Method::POST, "/api/session/login"), Access::Public);
        assert_eq!(
            access(&Method::GET, "/api/logs/abc"),
            Access::Needs(Scope::LogsRead)
        );
        assert_eq!(
            access(&Method::GET, "/api/providers"),
            Access::Needs(Scope::ConfigRead)
        );
        assert_eq!(
            access(&Method::DELETE, "/api/providers/openai"),
            Access::Needs(Scope::Admin)
        );
        assert_eq!(
            access(&Method::POST, "/v1/chat/completions"),
            Access::Inference
        );
        assert_eq!(access(&Method::GET, "/apix"), Access::Inference);
        assert_eq!(
            access(&Method::GET, "/api/governance/virtual-keys/quota"),
            Access::Public
        );
        assert_eq!(
            access(&Method::GET, "/api/governance/virtual-keys/vk-1"),
            Access::Needs(Scope::ConfigRead)
        );
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; heimdall_session=hsess_x; b=2".parse().unwrap(),
        );
        assert_eq!(credential(&h).as_deref(), Some("hsess_x"));
        h.insert(header::AUTHORIZATION, "Bearer hk_y".parse().unwrap());
        assert_eq!(credential(&h).as_deref(), Some("hk_y"));
    }
}
