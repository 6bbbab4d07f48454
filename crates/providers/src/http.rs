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
pub fn build_client(config: &ProviderConfig) -> Result<reqwest::Client, GatewayError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(config.network.connect_timeout)
        // The engine enforces request, first-byte and idle deadlines with precise errors; this
        // per-read bound is only a backstop behind them.
        .read_timeout(config.network.backstop())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(1024)
        .tcp_nodelay(true)
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

/// Classify a transport-level failure.
pub fn transport_error(provider: &str, err: &reqwest::Error) -> GatewayError {
    let (kind, what) = if err.is_timeout() {
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
    let body = response.bytes().await.unwrap_or_default();
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

/// The whole body of a successful upstream answer.
pub async fn read_body(
    provider: &str,
    response: reqwest::Response,
) -> Result<bytes::Bytes, GatewayError> {
    response
        .bytes()
        .await
        .map_err(|e| transport_error(provider, &e))
}

/// Read a whole JSON body into `T`; an unreadable one is an upstream protocol error.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    provider: &str,
    response: reqwest::Response,
) -> Result<T, GatewayError> {
    let bytes = response
        .bytes()
        .await
        .map_err(|e| transport_error(provider, &e))?;
    serde_json::from_slice(&bytes).map_err(|e| unreadable(provider, e))
}

/// The error for an upstream answer that cannot be read.
pub fn unreadable(provider: &str, e: impl std::fmt::Display) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamProtocol,
        format!("provider '{provider}' returned an unreadable response: {e}"),
    )
    .with_provider(provider)
}

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
pub fn retry_after_secs(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
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
}
