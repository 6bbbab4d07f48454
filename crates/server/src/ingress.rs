//! What a request must look like before any handler reads it: a `Host` the gateway answers
//! to, a declared size under the body limit, and a JSON body on every POST/PUT/PATCH.
//!
//! Why here, before routing: a web page in the operator's browser can reach a gateway on
//! loopback. Through DNS rebinding its requests carry the page's host name (refused by the
//! `Host` allow-list); as a cross-site form or a "simple" `fetch` they carry `text/plain`,
//! form-encoded or no content type at all, which browsers send without a CORS preflight
//! (refused with 415: a JSON body needs a preflight, which CORS — closed by default — fails).
//! A declared `Content-Length` over the limit is refused before a byte of the body is read.
//!
//! The upload routes (`…/audio/transcriptions`, `…/audio/translations`, `…/images/edits`)
//! take `multipart/form-data` up to their own limit (`client.max_upload_size_mb`, 25 MB like
//! OpenAI's). A form is what a cross-site HTML form sends without a preflight, so a form is
//! let through only with a credential header (`Authorization`, `api-key`, `x-api-key`,
//! `x-bf-vk`): a page cannot add one without a preflight, and every SDK sends one.
//! Errors are rendered in the dialect of the route asked, like every other error.

use std::net::IpAddr;

use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::response::Response;
use heimdall_schema::error::{ErrorKind, GatewayError};

/// The ingress rules of one listener.
#[derive(Debug, Clone)]
pub struct IngressPolicy {
    /// Allowed `Host` names (lower case, no port); `None`: any.
    hosts: Option<Vec<String>>,
    /// Largest request body, in bytes.
    body_limit: usize,
    /// Largest upload (a form on an upload route), in bytes.
    upload_limit: usize,
    /// A request body must arrive whole within this (from the head); `None`: no bound.
    body_read_timeout: Option<std::time::Duration>,
    /// Cancelled when the server shuts down: a body still arriving is not waited for.
    shutdown: tokio_util::sync::CancellationToken,
}

/// The names of this machine that a loopback listener answers to.
const LOOPBACK_NAMES: [&str; 4] = ["localhost", "127.0.0.1", "::1", "[::1]"];

impl IngressPolicy {
    /// Any `Host` (tests, and listeners behind a proxy that checks it).
    pub fn any_host(body_limit: usize) -> Self {
        Self {
            hosts: None,
            body_limit,
            upload_limit: DEFAULT_UPLOAD_LIMIT,
            body_read_timeout: None,
            shutdown: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// Stop waiting for request bodies once `shutdown` is cancelled (a half-sent body then
    /// gets a 503 and its connection closes, instead of holding the drain).
    #[must_use]
    pub fn with_shutdown(mut self, shutdown: tokio_util::sync::CancellationToken) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Bound the time a request body may take to arrive (a half-sent body then gets a 408
    /// instead of holding its connection and a handler).
    #[must_use]
    pub fn with_body_read_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.body_read_timeout = Some(timeout);
        self
    }

    /// The policy for a listener on `bind`: the configured host names if any (`*` = any),
    /// else the loopback names when `bind` is a loopback address, else any host (a public
    /// listener's names are not known; configure `server.allowed_hosts` to pin them).
    pub fn for_bind(bind: IpAddr, configured: &[String], body_limit: usize) -> Self {
        let hosts = if configured.iter().any(|h| h.trim() == "*") {
            None
        } else if !configured.is_empty() {
            Some(
                configured
                    .iter()
                    .map(|h| h.trim().to_ascii_lowercase())
                    .collect(),
            )
        } else if bind.is_loopback() {
            Some(LOOPBACK_NAMES.iter().map(|h| (*h).to_owned()).collect())
        } else {
            None
        };
        Self {
            hosts,
            body_limit,
            upload_limit: DEFAULT_UPLOAD_LIMIT,
            body_read_timeout: None,
            shutdown: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// Bound uploads (forms on the upload routes) by `bytes` instead of the default 25 MB.
    #[must_use]
    pub fn with_upload_limit(mut self, bytes: usize) -> Self {
        self.upload_limit = bytes;
        self
    }

    /// The body limit of a request to `path`. An upload route admits [`DRAIN_ALLOWANCE`]
    /// more: its handler reads and drops that much of an oversized upload before its 413.
    fn limit_for(&self, path: &str) -> usize {
        if is_upload_path(path) {
            self.upload_limit.saturating_add(DRAIN_ALLOWANCE)
        } else {
            self.body_limit
        }
    }

    /// The allowed host names, for the start-up log (`None`: any).
    pub fn allowed_hosts(&self) -> Option<&[String]> {
        self.hosts.as_deref()
    }

    fn host_allowed(&self, host: &str) -> bool {
        let Some(allowed) = &self.hosts else {
            return true;
        };
        let name = strip_port(host).to_ascii_lowercase();
        allowed.iter().any(|a| match a.strip_prefix("*.") {
            Some(suffix) => name
                .strip_suffix(suffix)
                .is_some_and(|head| head.ends_with('.') && head.len() > 1),
            None => *a == name,
        })
    }
}

/// `host[:port]` → `host` (IPv6 literals keep their brackets).
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    }
}

/// The default upload limit: OpenAI's 25 MB.
pub const DEFAULT_UPLOAD_LIMIT: usize = 25 * 1024 * 1024;

/// How far past the upload limit an upload is still read (and dropped) so that its client,
/// still sending, receives the 413 instead of a reset connection (closing a socket with
/// unread data resets it, and the answer is lost).
pub const DRAIN_ALLOWANCE: usize = 32 * 1024 * 1024;

/// Whether `path` is an upload route (a `multipart/form-data` body, the upload limit).
pub fn is_upload_path(path: &str) -> bool {
    [
        "/audio/transcriptions",
        "/audio/translations",
        "/images/edits",
    ]
    .iter()
    .any(|s| path.ends_with(s))
}

/// Whether a content type is `multipart/form-data` (any parameters).
fn is_form(content_type: &HeaderValue) -> bool {
    content_type.to_str().is_ok_and(|v| {
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("multipart/form-data")
    })
}

/// Whether the request carries a credential header, which a browser sends cross-site only
/// after a CORS preflight.
fn has_credential_header(request: &Request) -> bool {
    ["authorization", "api-key", "x-api-key", "x-bf-vk"]
        .iter()
        .any(|h| request.headers().contains_key(*h))
}

/// Whether a content type is JSON (`application/json`, `application/*+json`, any parameters).
fn is_json(content_type: &HeaderValue) -> bool {
    let Ok(v) = content_type.to_str() else {
        return false;
    };
    let essence = v
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

/// The request, its body read whole when the policy bounds the time it may take, or the
/// refusal in the route's dialect.
pub(crate) async fn admit(policy: &IngressPolicy, request: Request) -> Result<Request, Response> {
    match refusal(policy, &request) {
        None => {
            match policy.body_read_timeout {
                Some(limit) if has_body(&request) => read_body(request, limit, policy)
                    .await
                    .map_err(|(path, e)| {
                        let mut r = render(&path, &e);
                        r.headers_mut()
                            .insert(header::CONNECTION, HeaderValue::from_static("close"));
                        r
                    }),
                _ => Ok(request),
            }
        }
        Some((e, close)) => {
            let mut r = render(request.uri().path(), &e);
            if close {
                // The unread body stays on the socket: the connection cannot be reused.
                r.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Err(r)
        }
    }
}

fn has_body(request: &Request) -> bool {
    request.headers().contains_key(header::TRANSFER_ENCODING)
        || request
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

/// The whole body within `limit`, as the request's body again (handlers read it from memory:
/// `Bytes` moves, it is not copied). A body that does not arrive in time is a 408.
async fn read_body(
    request: Request,
    limit: std::time::Duration,
    policy: &IngressPolicy,
) -> Result<Request, (String, GatewayError)> {
    let path = request.uri().path().to_owned();
    let body_limit = policy.limit_for(&path);
    let (parts, body) = request.into_parts();
    let read = tokio::time::timeout(limit, axum::body::to_bytes(body, body_limit));
    let read = tokio::select! {
        r = read => r,
        () = policy.shutdown.cancelled() => {
            return Err((
                path,
                GatewayError::new(
                    ErrorKind::Overloaded,
                    "the gateway is shutting down; the request body had not arrived",
                )
                .with_status(503)
                .with_code("shutting_down"),
            ));
        }
    };
    match read {
        Ok(Ok(bytes)) => Ok(Request::from_parts(parts, axum::body::Body::from(bytes))),
        Ok(Err(e)) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            let err = if too_large {
                GatewayError::new(
                    ErrorKind::PayloadTooLarge,
                    format!("request body is larger than the limit of {body_limit} bytes"),
                )
            } else {
                GatewayError::invalid_request(format!("could not read request body: {e}"), None)
            };
            Err((path, err))
        }
        Err(_) => Err((
            path,
            GatewayError::new(
                ErrorKind::InvalidRequest,
                format!(
                    "the request body did not arrive within {} s",
                    limit.as_secs_f64()
                ),
            )
            .with_status(408)
            .with_code("request_timeout"),
        )),
    }
}

/// Why the request is refused and whether the connection must close; `None`: let it through.
fn refusal(policy: &IngressPolicy, request: &Request) -> Option<(GatewayError, bool)> {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    if let Some(host) = host
        && !policy.host_allowed(host)
    {
        let e = GatewayError::new(
            ErrorKind::InvalidRequest,
            "this gateway does not answer to the Host of this request (see server.allowed_hosts)",
        )
        .with_status(403)
        .with_code("host_not_allowed");
        return Some((e, false));
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let body_limit = policy.limit_for(request.uri().path());
    if declared.is_some_and(|n| n > body_limit as u64) {
        let e = GatewayError::new(
            ErrorKind::PayloadTooLarge,
            format!(
                "request body is larger than the limit of {} bytes ({} MB)",
                body_limit,
                body_limit / (1024 * 1024)
            ),
        );
        return Some((e, true));
    }
    let writes = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH
    );
    let has_body = declared.is_some_and(|n| n > 0)
        || request.headers().contains_key(header::TRANSFER_ENCODING);
    let content_type = request.headers().get(header::CONTENT_TYPE);
    let upload = content_type.is_some_and(is_form)
        && is_upload_path(request.uri().path())
        && has_credential_header(request);
    if writes
        && (has_body || content_type.is_some())
        && !content_type.is_some_and(is_json)
        && !upload
    {
        let shown = content_type
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .chars()
            .take(100)
            .collect::<String>();
        let hint = if is_upload_path(request.uri().path()) {
            "send the upload as multipart/form-data with a credential header (Authorization, api-key, x-api-key or x-bf-vk)"
        } else {
            "send the body as JSON with Content-Type: application/json"
        };
        let e = GatewayError::new(
            ErrorKind::InvalidRequest,
            format!("unsupported content type '{shown}': {hint}"),
        )
        .with_status(415)
        .with_code("unsupported_media_type");
        return Some((e, has_body));
    }
    None
}

/// An error in the dialect of the route at `path`.
pub(crate) fn render(path: &str, e: &GatewayError) -> Response {
    let dialect = path
        .trim_start_matches("/litellm")
        .trim_start_matches("/langchain");
    use crate::chat_route::error;
    use heimdall_dialects::{anthropic, bedrock, cohere, gemini, openai};
    if dialect.starts_with("/anthropic/") {
        error::<anthropic::client_response::Messages>(e)
    } else if dialect.starts_with("/genai/") {
        error::<gemini::client_response::GenerateContent>(e)
    } else if dialect.starts_with("/cohere/") {
        error::<cohere::client::Chat>(e)
    } else if dialect.starts_with("/bedrock/") {
        error::<bedrock::client::Converse>(e)
    } else {
        error::<openai::ChatCompletions>(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback() -> IngressPolicy {
        IngressPolicy::for_bind(IpAddr::from([127, 0, 0, 1]), &[], 1024)
    }

    #[test]
    fn a_loopback_listener_answers_to_loopback_names_only() {
        let p = loopback();
        for ok in ["127.0.0.1:8080", "localhost", "LOCALHOST:1", "[::1]:8080"] {
            assert!(p.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "127.0.0.1.evil.example",
            "localhost.evil",
        ] {
            assert!(!p.host_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn configured_names_and_wildcards() {
        let p = IngressPolicy::for_bind(
            IpAddr::from([0, 0, 0, 0]),
            &["gw.internal".to_owned(), "*.corp.example".to_owned()],
            1024,
        );
        assert!(p.host_allowed("gw.internal:443"));
        assert!(p.host_allowed("a.corp.example"));
        assert!(!p.host_allowed("corp.example"));
        assert!(!p.host_allowed("xcorp.example"));
        assert!(IngressPolicy::for_bind(IpAddr::from([0, 0, 0, 0]), &[], 1).host_allowed("any"));
        let star = IngressPolicy::for_bind(IpAddr::from([127, 0, 0, 1]), &["*".to_owned()], 1);
        assert!(star.host_allowed("any.example"));
    }

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/vnd.api+json",
        ] {
            assert!(is_json(&HeaderValue::from_static(ok)), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
        ] {
            assert!(!is_json(&HeaderValue::from_static(bad)), "{bad}");
        }
    }
}
