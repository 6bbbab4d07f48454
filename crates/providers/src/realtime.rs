//! The Realtime API's upstream side: the WebSocket to `{base_url}/realtime?model=…` (with the
//! provider key injected) and the URL rules shared by the session endpoints.
//!
//! Why its own module: the Realtime API is not a request/response operation — the gateway
//! opens one upstream WebSocket per client session and pipes it — so it needs a WebSocket
//! client (tokio-tungstenite) with the same TLS policy as the HTTP clients (rustls, the
//! platform's verifier, aws-lc), and handshake failures mapped to the same typed errors as an
//! HTTP answer.

use std::sync::Arc;
use std::time::Duration;

use heimdall_schema::error::{ErrorKind, GatewayError};
use http::HeaderMap;
use rustls_platform_verifier::BuilderVerifierExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

/// A live upstream Realtime WebSocket.
pub type RealtimeSocket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Largest message accepted from the upstream (audio deltas are base64 chunks of a few KiB; a
/// session.updated with long instructions stays far below this).
const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// The WebSocket URL for an HTTP(S) URL (`http` → `ws`, `https` → `wss`).
pub fn websocket_url(http_url: &str) -> String {
    if let Some(rest) = http_url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = http_url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        http_url.to_owned()
    }
}

/// `value` percent-encoded for a query string (model names may hold `/`, `:` or spaces).
pub fn query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Open the upstream WebSocket at `url` with `headers` (credentials, `OpenAI-Beta`, the
/// provider's extra headers), within `timeout`. A refused handshake becomes the typed error of
/// the status and body the upstream answered with.
pub async fn connect(
    provider: &str,
    url: &str,
    headers: HeaderMap,
    timeout: Duration,
) -> Result<RealtimeSocket, GatewayError> {
    let mut request = url
        .into_client_request()
        .map_err(|e| crate::http::invalid_url(provider, url, &e))?;
    request.headers_mut().extend(headers);
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .and_then(|b| b.with_platform_verifier())
    .map_err(|e| GatewayError::internal(format!("provider '{provider}': cannot set up TLS: {e}")))?
    .with_no_client_auth();
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES));
    let connecting = tokio_tungstenite::connect_async_tls_with_config(
        request,
        Some(config),
        true,
        Some(Connector::Rustls(Arc::new(tls))),
    );
    match tokio::time::timeout(timeout, connecting).await {
        Err(_) => Err(GatewayError::new(
            ErrorKind::UpstreamTimeout,
            format!("provider '{provider}' did not open the realtime session within {timeout:?}"),
        )
        .with_provider(provider)),
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response))) => {
            let status = response.status().as_u16();
            let body = response.body().as_deref().unwrap_or_default();
            Err(crate::http::openai_error(
                provider,
                status,
                response.headers(),
                body,
            ))
        }
        Ok(Err(e)) => Err(GatewayError::new(
            ErrorKind::UpstreamConnection,
            format!("provider '{provider}': cannot open the realtime session: {e}"),
        )
        .with_provider(provider)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_become_websocket_urls() {
        assert_eq!(
            websocket_url("https://api.openai.com/v1/realtime"),
            "wss://api.openai.com/v1/realtime"
        );
        assert_eq!(
            websocket_url("http://127.0.0.1:9/v1/realtime"),
            "ws://127.0.0.1:9/v1/realtime"
        );
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query_value("gpt-realtime"), "gpt-realtime");
        assert_eq!(query_value("a/b c:d"), "a%2Fb%20c%3Ad");
    }
}
