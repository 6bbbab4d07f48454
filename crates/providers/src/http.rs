//! Building upstream HTTP clients from a provider's network and proxy settings, and turning
//! transport failures into typed gateway errors.
//!
//! Why one place: every provider must honour the same settings (timeouts, proxy, extra headers)
//! and classify the same failures the same way (connect → 502, timeout → 504), or retries and
//! fallbacks would behave differently per provider. One client per provider keeps a warm,
//! keep-alive connection pool to that upstream.

use std::time::Duration;

use heimdall_config::{ProviderConfig, ProxyKind};
use heimdall_schema::error::{ErrorKind, GatewayError};
use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};

/// Build the pooled HTTP client for one provider.
#[allow(clippy::disallowed_methods)] // the one place upstream clients are built
pub fn build_client(config: &ProviderConfig) -> Result<reqwest::Client, GatewayError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(config.network.connect_timeout)
        // The engine enforces request, first-byte and idle deadlines with precise errors; this
        // per-read bound is only a backstop behind them.
        .read_timeout(config.network.backstop())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(1024)
        .tcp_nodelay(true)
        // A redirect would carry the key to wherever the upstream points: never followed, a
        // 3xx becomes a 502 (see `redirect_refused`).
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(extra_headers(config)?);
    builder = match &config.proxy {
        None => builder.no_proxy(),
        Some(proxy) => match proxy.kind {
            ProxyKind::None => builder.no_proxy(),
            ProxyKind::Environment => builder,
            ProxyKind::Http | ProxyKind::Socks5 => {
                let url = if proxy.kind == ProxyKind::Socks5 && !proxy.url.contains("://") {
                    format!("socks5://{}", proxy.url)
                } else {
                    proxy.url.clone()
                };
                let mut p = reqwest::Proxy::all(&url).map_err(|e| {
                    GatewayError::internal(format!(
                        "provider '{}': invalid proxy_config.url: {e}",
                        config.name
                    ))
                })?;
                if let Some(user) = &proxy.username {
                    let pass = proxy.password.as_ref().map(|s| s.expose()).unwrap_or("");
                    p = p.basic_auth(user, pass);
                }
                builder.proxy(p)
            }
        },
    };
    if let Some(ProxyKind::Environment) = config.proxy.as_ref().map(|p| p.kind) {
        for var in [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
        ] {
            if let Ok(url) = std::env::var(var)
                && !url.is_empty()
                && let Ok(p) = reqwest::Proxy::all(&url)
            {
                builder = builder.proxy(p);
                break;
            }
        }
    }
    builder.build().map_err(|e| {
        GatewayError::internal(format!(
            "provider '{}': cannot build HTTP client: {e}",
            config.name
        ))
    })
}

pub(crate) fn extra_headers(config: &ProviderConfig) -> Result<HeaderMap, GatewayError> {
    let mut map = HeaderMap::new();
    for (name, value) in &config.network.extra_headers {
        let bad = |what: &str| {
            GatewayError::internal(format!(
                "provider '{}': network_config.extra_headers.{name}: invalid header {what}",
                config.name
            ))
        };
        let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad("name"))?;
        let v = HeaderValue::from_str(value).map_err(|_| bad("value"))?;
        map.insert(n, v);
    }
    Ok(map)
}

/// Seconds since the epoch, for `created` (the clock stays on the IO side; translators take it).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A completion id for an upstream answer that carried none.
pub fn new_completion_id() -> String {
    format!("chatcmpl-{:016x}", rand::random::<u64>())
}

/// A provider URL that does not parse: the operator's configuration, not the upstream.
pub fn invalid_url(provider: &str, url: &str, e: &dyn std::fmt::Display) -> GatewayError {
    GatewayError::new(
        ErrorKind::Misconfigured,
        format!("provider '{provider}' has an invalid URL '{url}': {e}"),
    )
    .with_provider(provider)
}

/// Classify a transport-level failure.
pub fn transport_error(provider: &str, err: &reqwest::Error) -> GatewayError {
    let (kind, what) = if err.is_builder() {
        // The request could not be built from the provider's config (a URL that does not
        // parse): nothing was sent.
        (ErrorKind::Misconfigured, "is misconfigured")
    } else if err.is_timeout() {
        (ErrorKind::UpstreamTimeout, "timed out")
    } else if err.is_connect() {
        (ErrorKind::UpstreamConnection, "could not be reached")
    } else if err.is_decode() {
        (ErrorKind::UpstreamProtocol, "sent an unreadable body")
    } else {
        (ErrorKind::UpstreamConnection, "connection failed")
    };
    GatewayError::new(
        kind,
        format!("provider '{provider}' {what}: {}", error_chain(err)),
    )
    .with_provider(provider)
}

/// The error and its sources in one line, for messages (never includes request bodies or keys).
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Turns an upstream's non-2xx answer (status, headers, body) into a typed error: one per
/// wire dialect (OpenAI, Anthropic, Google, AWS). `Retry-After` is added by the caller.
pub type ErrorParser =
    fn(provider: &str, status: u16, headers: &HeaderMap, body: &[u8]) -> GatewayError;

/// OpenAI-style errors (`{"error": {"message", "code"}}`, or any text).
pub fn openai_error(
    provider: &str,
    status: u16,
    _headers: &HeaderMap,
    body: &[u8],
) -> GatewayError {
    let mut err = GatewayError::from_upstream_status(
        status,
        format!("provider '{provider}': {}", upstream_message(body)),
    )
    .with_provider(provider);
    if let Some(code) = upstream_code(body) {
        err = err.with_code(code);
    }
    err
}

/// Read a non-2xx response and parse it with `parse`, keeping `Retry-After`.
pub async fn error_from(
    provider: &str,
    response: reqwest::Response,
    parse: ErrorParser,
) -> GatewayError {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    if response.status().is_redirection() {
        return redirect_refused(provider, status, &headers);
    }
    let body = read_error_body(response).await;
    let mut err = parse(provider, status, &headers, &body);
    if err.retry_after_secs.is_none() {
        err.retry_after_secs = retry_after_secs(&headers);
    }
    err
}

/// An OpenAI-style upstream error from a non-2xx response.
pub async fn status_error(provider: &str, response: reqwest::Response) -> GatewayError {
    error_from(provider, response, openai_error).await
}

/// Send a request; a transport failure or a non-2xx answer becomes a typed error.
pub async fn send_checked(
    provider: &str,
    rb: reqwest::RequestBuilder,
) -> Result<reqwest::Response, GatewayError> {
    send_checked_with(provider, rb, openai_error).await
}

/// [`send_checked`] for a dialect whose errors `parse` reads.
pub async fn send_checked_with(
    provider: &str,
    rb: reqwest::RequestBuilder,
    parse: ErrorParser,
) -> Result<reqwest::Response, GatewayError> {
    let response = traced(rb)
        .send()
        .await
        .map_err(|e| transport_error(provider, &e))?;
    if !response.status().is_success() {
        return Err(error_from(provider, response, parse).await);
    }
    Ok(response)
}

tokio::task_local! {
    /// The W3C `traceparent` of the upstream call in progress (set by the engine per attempt
    /// when tracing is on), added to every upstream request.
    static TRACEPARENT: Option<String>;
}

/// Run an upstream call with `traceparent` sent on its requests.
pub async fn with_traceparent<F: std::future::Future>(
    traceparent: Option<String>,
    call: F,
) -> F::Output {
    TRACEPARENT.scope(traceparent, call).await
}

/// The `traceparent` of the upstream call in progress, if tracing set one.
pub(crate) fn current_traceparent() -> Option<String> {
    TRACEPARENT.try_with(Clone::clone).ok().flatten()
}

fn traced(rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match TRACEPARENT.try_with(Clone::clone) {
        Ok(Some(tp)) => rb.header("traceparent", tp),
        _ => rb,
    }
}

/// The whole body of a successful upstream answer, refused past the response cap.
pub async fn read_body(
    provider: &str,
    mut response: reqwest::Response,
) -> Result<bytes::Bytes, GatewayError> {
    let cap = response_cap();
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_large(provider, cap));
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(provider, &e))?
    {
        if body.len() + chunk.len() > cap {
            return Err(too_large(provider, cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Read a whole JSON body into `T`; an unreadable one is an upstream protocol error.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    provider: &str,
    response: reqwest::Response,
) -> Result<T, GatewayError> {
    let bytes = read_body(provider, response).await?;
    serde_json::from_slice(&bytes).map_err(|e| unreadable(provider, e))
}

/// An error body, read up to [`ERROR_BODY_CAP`] bytes (the rest is never read).
async fn read_error_body(mut response: reqwest::Response) -> bytes::Bytes {
    let mut body = bytes::BytesMut::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = ERROR_BODY_CAP.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= ERROR_BODY_CAP {
            break;
        }
    }
    body.freeze()
}

/// How much of an upstream's error body is read: enough for any real error message, bounded
/// so a hostile upstream cannot make an error cost memory.
pub const ERROR_BODY_CAP: usize = 64 * 1024;

/// The response cap when none is set for the call (the config's default).
pub const DEFAULT_RESPONSE_CAP: usize = heimdall_config::DEFAULT_MAX_RESPONSE_BYTES;

tokio::task_local! {
    /// The largest upstream answer (a whole body, or one stream event) the call in progress
    /// may read: the provider's `network_config.max_response_size_mb`, set per attempt.
    static RESPONSE_CAP: usize;
}

/// Run an upstream call with its answers bounded by `cap` bytes.
pub async fn with_response_cap<F: std::future::Future>(cap: usize, call: F) -> F::Output {
    RESPONSE_CAP.scope(cap, call).await
}

/// The response cap of the call in progress.
pub fn response_cap() -> usize {
    RESPONSE_CAP
        .try_with(|c| *c)
        .unwrap_or(DEFAULT_RESPONSE_CAP)
}

/// The error for an upstream answer larger than the cap (nothing of it reaches the client).
pub fn too_large(provider: &str, cap: usize) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamProtocol,
        format!("provider '{provider}' sent an answer larger than the {cap}-byte response cap"),
    )
    .with_code("upstream_response_too_large")
    .with_provider(provider)
}

/// The error for a 3xx: redirects are never followed (the key would go along); the message
/// names the host it pointed to, never the whole location (it may carry tokens).
pub fn redirect_refused(provider: &str, status: u16, headers: &HeaderMap) -> GatewayError {
    let host = headers
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| l.parse::<http::Uri>().ok())
        .and_then(|u| u.host().map(str::to_owned))
        .unwrap_or_else(|| "the same host".to_owned());
    GatewayError::new(
        ErrorKind::UpstreamProtocol,
        format!(
            "provider '{provider}' answered {status}, a redirect to {host}; redirects are not followed"
        ),
    )
    .with_code("upstream_redirect")
    .with_provider(provider)
}

/// How many bytes of an unusable answer the log keeps.
const EXCERPT_LEN: usize = 512;

/// [`invalid_response`] for an answer already parsed as JSON.
pub fn invalid_json_response(provider: &str, what: &str, body: &serde_json::Value) -> GatewayError {
    // Serialised only as far as the excerpt goes: the answer may be up to the response cap.
    let text = heimdall_schema::serde_util::capped_json(body, EXCERPT_LEN).unwrap_or_default();
    invalid_response(provider, what, text.as_bytes())
}

/// The error for a 200 whose body is not the provider's documented answer. The first bytes
/// are kept for the log (`upstream_excerpt`), never for the client.
pub fn invalid_response(provider: &str, what: &str, body: &[u8]) -> GatewayError {
    let excerpt: String =
        String::from_utf8_lossy(body.get(..body.len().min(EXCERPT_LEN)).unwrap_or_default())
            .into_owned();
    let mut err = GatewayError::new(
        ErrorKind::UpstreamProtocol,
        format!("provider '{provider}' answered 200 without {what}"),
    )
    .with_code("upstream_invalid_response")
    .with_provider(provider);
    err.upstream_excerpt = Some(Box::new(heimdall_schema::error::UpstreamExcerpt(excerpt)));
    err
}

/// A path segment made from user input (a model or deployment name), percent-encoded so it
/// stays one segment: `/`, `?`, `#`, `%`, `..` and spaces cannot change the URL. RFC 3986's
/// unreserved characters and the sub-delimiters `@:;=,!*()+` (legal inside a segment, used by
/// model ids such as `claude-3@20240229`) stay as they are.
pub fn path_segment(s: &str) -> std::borrow::Cow<'_, str> {
    let keep = |b: u8| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_'
                    | b'~'
                    | b'@'
                    | b':'
                    | b';'
                    | b'='
                    | b','
                    | b'!'
                    | b'*'
                    | b'('
                    | b')'
                    | b'+'
            )
            || b == b'.'
    };
    let dots_only = !s.is_empty() && s.bytes().all(|b| b == b'.');
    if !dots_only && s.bytes().all(keep) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if keep(b) && !(dots_only && b == b'.') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    std::borrow::Cow::Owned(out)
}

pub use heimdall_dialects::translate::unreadable;

/// `network_config.base_url` as a replacement host for providers whose URL is built from
/// parts (Vertex, Bedrock): without the `/v1` the config layer appends to bare hosts.
pub fn host_override(config: &ProviderConfig) -> Option<String> {
    config.network.base_url.as_ref().map(|u| {
        let u = u.trim_end_matches('/');
        u.strip_suffix("/v1").unwrap_or(u).to_owned()
    })
}

/// The error for a key without the provider-specific settings it needs (`azure_key_config`,
/// `vertex_key_config`, `bedrock_key_config`): the key cannot serve, another may.
pub fn missing_key_config(provider: &str, section: &str) -> GatewayError {
    GatewayError::new(
        ErrorKind::NoKeyAvailable,
        format!("provider '{provider}' has no {section} on this key"),
    )
    .with_provider(provider)
}

/// A `Retry-After` header in seconds.
pub fn retry_after_secs(headers: &HeaderMap) -> Option<u32> {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u32>().ok())
}

/// A body stream's transport error, as the typed error of a stream cut off mid-way.
pub trait BodyError {
    /// The error for `provider`'s stream ending on this failure.
    fn interrupted(&self, provider: &str) -> GatewayError;
}

impl BodyError for reqwest::Error {
    fn interrupted(&self, provider: &str) -> GatewayError {
        stream_interrupted(provider, self)
    }
}

impl BodyError for hyper::Error {
    fn interrupted(&self, provider: &str) -> GatewayError {
        GatewayError::new(
            ErrorKind::UpstreamConnection,
            format!(
                "provider '{provider}' stream was interrupted: {}",
                error_chain(self)
            ),
        )
        .with_provider(provider)
    }
}

/// A transport failure in the middle of a stream body.
pub fn stream_interrupted(provider: &str, e: &reqwest::Error) -> GatewayError {
    let mut err = transport_error(provider, e);
    if err.kind == ErrorKind::UpstreamConnection {
        err.message = format!("provider '{provider}' stream was interrupted: {e}");
    }
    err
}

/// The message of an upstream error body (`{"error":{"message"}}`, `{"error":"..."}`,
/// `{"message"}`, or the raw text, shortened).
pub fn upstream_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let candidates = [
            v.pointer("/error/message"),
            v.get("error").filter(|e| e.is_string()),
            v.get("message"),
            v.get("detail"),
        ];
        for c in candidates.into_iter().flatten() {
            if let Some(s) = c.as_str() {
                return s.to_owned();
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "upstream returned an error with an empty body".to_owned();
    }
    text.chars().take(500).collect()
}

fn upstream_code(body: &[u8]) -> Option<String> {
    let v = serde_json::from_slice::<serde_json::Value>(body).ok()?;
    v.pointer("/error/code")
        .and_then(|c| c.as_str())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_that_does_not_parse_is_a_misconfiguration_not_an_upstream_failure() {
        let e = invalid_url("p", "http://exa mple", &"invalid domain character");
        assert_eq!(e.kind, ErrorKind::Misconfigured);
        assert_eq!(e.status, 503);
        assert_eq!(e.blame(), heimdall_schema::error::Blame::Gateway);
        let body = e.to_openai_body();
        assert_eq!(body.error.code.as_deref(), Some("provider_misconfigured"));
    }

    #[test]
    fn extracts_messages_from_common_error_shapes() {
        assert_eq!(
            upstream_message(br#"{"error":{"message":"bad key","type":"x"}}"#),
            "bad key"
        );
        assert_eq!(upstream_message(br#"{"error":"nope"}"#), "nope");
        assert_eq!(upstream_message(br#"{"message":"m"}"#), "m");
        assert_eq!(upstream_message(b"plain text"), "plain text");
        assert_eq!(
            upstream_message(b""),
            "upstream returned an error with an empty body"
        );
    }

    #[test]
    fn path_segments_cannot_leave_their_segment() {
        assert_eq!(path_segment("gemini-2.0-flash"), "gemini-2.0-flash");
        assert_eq!(path_segment("claude-3@20240229"), "claude-3@20240229");
        assert_eq!(
            path_segment("../../v1/files?x#y"),
            "..%2F..%2Fv1%2Ffiles%3Fx%23y"
        );
        assert_eq!(path_segment(".."), "%2E%2E");
        assert_eq!(path_segment("a b%2F"), "a%20b%252F");
    }

    #[test]
    fn a_redirect_names_only_the_host() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::LOCATION,
            HeaderValue::from_static("https://evil.example/steal?key=abc"),
        );
        let e = redirect_refused("gemini", 302, &h);
        assert_eq!(e.status, 502);
        assert!(e.message.contains("evil.example") && !e.message.contains("key=abc"));
        assert_eq!(e.code.as_deref(), Some("upstream_redirect"));
    }
}
