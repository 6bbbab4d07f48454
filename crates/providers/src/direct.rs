//! The upstream HTTP client of the hot path: hyper's pooled client, called directly.
//!
//! Why not reqwest here: every request through reqwest's service stack turns its `Url` into a
//! `Uri`, then back into a string and a `Url` again for the redirect policy (which runs even
//! when redirects are off), through redirect and retry layers the gateway never uses — the
//! engine owns retries and deadlines, and an LLM API that redirects a POST is an error. On the
//! request path of OpenAI-compatible upstreams that showed as ~20% of the gateway's user CPU in
//! `perf` (docs/benchmarks.md). The rest of the providers keep reqwest, and so does any provider
//! behind a proxy (reqwest implements the proxy kinds the config offers).
//!
//! Same guarantees as the reqwest client: TLS by rustls with the platform's verifier, HTTP/2
//! by ALPN, keep-alive pool (90 s idle, 1,024 idle connections per host), `TCP_NODELAY`, the
//! configured connect timeout, the provider's extra headers and the attempt's `traceparent`.

use std::time::Duration;

use bytes::Bytes;
use heimdall_config::ProviderConfig;
use heimdall_schema::error::{ErrorKind, GatewayError};
use http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use http::{Method, Request, Response, Uri};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_platform_verifier::BuilderVerifierExt;

use crate::http::{
    ERROR_BODY_CAP, ErrorParser, current_traceparent, error_chain, extra_headers, redirect_refused,
    response_cap, retry_after_secs, too_large,
};

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// A pooled HTTP/1.1 + HTTP/2 client for one provider.
#[derive(Clone)]
pub struct DirectClient {
    client: Client<Connector, Full<Bytes>>,
    /// `network_config.extra_headers`, sent on every request.
    extra: HeaderMap,
}

impl DirectClient {
    /// The client for `config`, or `None` when the provider goes through a proxy.
    pub fn new(config: &ProviderConfig) -> Result<Option<Self>, GatewayError> {
        if config
            .proxy
            .as_ref()
            .is_some_and(|p| p.kind != heimdall_config::ProxyKind::None)
        {
            return Ok(None);
        }
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_platform_verifier())
        .map_err(|e| {
            GatewayError::internal(format!(
                "provider '{}': cannot set up TLS: {e}",
                config.name
            ))
        })?
        .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.network.connect_timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(1024)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        Ok(Some(Self {
            client,
            extra: extra_headers(config)?,
        }))
    }

    /// POST `body` as JSON to `uri` with `headers` (credentials) added; a transport failure
    /// or a non-2xx answer (read whole and parsed by `parse`) becomes a typed error.
    pub async fn post_json(
        &self,
        provider: &str,
        uri: Uri,
        headers: HeaderMap,
        body: Vec<u8>,
        parse: ErrorParser,
    ) -> Result<Response<Incoming>, GatewayError> {
        let mut request = Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri;
        let h = request.headers_mut();
        h.reserve(self.extra.len() + headers.len() + 2);
        for (name, value) in &self.extra {
            h.insert(name, value.clone());
        }
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in headers {
            if let Some(name) = name {
                h.insert(name, value);
            }
        }
        if let Some(tp) = current_traceparent()
            && let Ok(v) = HeaderValue::from_str(&tp)
        {
            h.insert("traceparent", v);
        }
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| transport_error(provider, &e))?;
        if !response.status().is_success() {
            let status = response.status().as_u16();
            let (parts, body) = response.into_parts();
            if (300..400).contains(&status) {
                return Err(redirect_refused(provider, status, &parts.headers));
            }
            let bytes = Limited::new(body, ERROR_BODY_CAP)
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let mut err = parse(provider, status, &parts.headers, &bytes);
            if err.retry_after_secs.is_none() {
                err.retry_after_secs = retry_after_secs(&parts.headers);
            }
            return Err(err);
        }
        Ok(response)
    }
}

/// The whole body of a successful answer.
pub async fn read_all(provider: &str, response: Response<Incoming>) -> Result<Bytes, GatewayError> {
    let cap = response_cap();
    Limited::new(response.into_body(), cap)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| {
            if e.is::<LengthLimitError>() {
                return too_large(provider, cap);
            }
            GatewayError::new(
                ErrorKind::UpstreamConnection,
                format!(
                    "provider '{provider}' connection failed while sending the body: {}",
                    error_chain(&*e)
                ),
            )
            .with_provider(provider)
        })
}

/// The body of a streamed answer as a stream of byte chunks (trailers skipped).
pub fn body_stream(
    response: Response<Incoming>,
) -> impl futures::Stream<Item = Result<Bytes, hyper::Error>> + Send + Unpin + 'static {
    http_body_util::BodyDataStream::new(response.into_body())
}

/// Classify a failure to get an answer at all.
fn transport_error(provider: &str, err: &hyper_util::client::legacy::Error) -> GatewayError {
    let chain = error_chain(err);
    let (kind, what) = if chain.contains("timed out") || chain.contains("timeout") {
        (ErrorKind::UpstreamTimeout, "timed out")
    } else if err.is_connect() {
        (ErrorKind::UpstreamConnection, "could not be reached")
    } else {
        (ErrorKind::UpstreamConnection, "connection failed")
    };
    GatewayError::new(kind, format!("provider '{provider}' {what}: {chain}"))
        .with_provider(provider)
}
