//! Upstream deadlines: total request time, a stream's first chunk, and silence between chunks.
//!
//! Why in the engine and not in each provider's HTTP client: the deadlines must hold the same
//! way for every provider (native dialects included), produce one precise error ("no first
//! chunk within 2s"), and honour a per-request override (`x-bf-request-timeout`, capped by the
//! provider's `max_request_timeout_in_seconds`). The HTTP clients keep only a longer backstop.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use heimdall_config::NetworkConfig;
use heimdall_schema::error::{ErrorKind, GatewayError};

use crate::stream::BoxChunkStream;

/// The request header a client sets to shorten or lengthen its request timeout, in seconds.
pub const REQUEST_TIMEOUT_HEADER: &str = "x-bf-request-timeout";

/// The deadlines of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// A whole non-streamed upstream call.
    pub request: Duration,
    /// A stream's first chunk, headers included.
    pub first_byte: Duration,
    /// Silence between two stream chunks.
    pub idle: Duration,
}

/// The client's requested timeout, if it sent a valid one.
pub fn requested_timeout(
    headers: &BTreeMap<String, String>,
) -> Result<Option<Duration>, GatewayError> {
    let Some(raw) = headers.get(REQUEST_TIMEOUT_HEADER) else {
        return Ok(None);
    };
    raw.trim()
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .filter(|d| !d.is_zero())
        .map(Some)
        .ok_or_else(|| {
            GatewayError::invalid_request(
                format!(
                    "header {REQUEST_TIMEOUT_HEADER} must be a positive number of seconds, got '{raw}'"
                ),
                Some(REQUEST_TIMEOUT_HEADER.to_owned()),
            )
        })
}

/// The deadlines for one provider, with the client's request (capped) replacing the request
/// and first-byte deadlines.
pub fn deadlines(network: &NetworkConfig, requested: Option<Duration>) -> Deadlines {
    match requested {
        Some(d) => {
            let d = d.min(network.request_timeout_cap());
            Deadlines {
                request: d,
                first_byte: d,
                idle: network.stream_idle(),
            }
        }
        None => Deadlines {
            request: network.default_request_timeout,
            first_byte: network.first_byte(),
            idle: network.stream_idle(),
        },
    }
}

/// The error for a request whose answer did not start within `server.timeout`.
pub fn server_timeout(limit: Duration) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamTimeout,
        format!(
            "the answer did not start within the gateway's request timeout ({} ms)",
            limit.as_millis()
        ),
    )
    .with_status(504)
    .with_code("gateway_timeout")
}

/// The error for a deadline that passed.
pub fn timed_out(provider: &str, what: &str, after: Duration) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamTimeout,
        format!("provider '{provider}' sent no {what} within {after:?}"),
    )
    .with_provider(provider)
}

/// End the stream with a timeout error when the upstream stays silent for `idle`.
pub fn with_idle_timeout<C: Send + 'static>(
    stream: BoxChunkStream<C>,
    idle: Duration,
    provider: String,
) -> BoxChunkStream<C> {
    Box::pin(futures::stream::unfold(Some(stream), move |state| {
        let provider = provider.clone();
        async move {
            let mut s = state?;
            match tokio::time::timeout(idle, s.next()).await {
                Ok(Some(item)) => Some((item, Some(s))),
                Ok(None) => None,
                Err(_) => Some((Err(timed_out(&provider, "stream chunk", idle)), None)),
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(REQUEST_TIMEOUT_HEADER.to_owned(), v.to_owned())])
    }

    #[test]
    fn header_overrides_request_and_first_byte_up_to_the_cap() {
        let net = NetworkConfig {
            max_request_timeout: Some(Duration::from_secs(60)),
            stream_idle_timeout: Some(Duration::from_secs(7)),
            ..NetworkConfig::default()
        };
        let asked = requested_timeout(&headers("2.5")).unwrap();
        let d = deadlines(&net, asked);
        assert_eq!(d.request, Duration::from_millis(2500));
        assert_eq!(d.first_byte, Duration::from_millis(2500));
        assert_eq!(d.idle, Duration::from_secs(7));
        let capped = deadlines(&net, requested_timeout(&headers("3600")).unwrap());
        assert_eq!(capped.request, Duration::from_secs(60));
        let none = deadlines(&net, None);
        assert_eq!(none.request, Duration::from_secs(30));
    }

    #[test]
    fn a_malformed_header_is_a_client_error() {
        for bad in ["abc", "0", "-1", ""] {
            let e = requested_timeout(&headers(bad)).unwrap_err();
            assert_eq!(e.status, 400, "{bad}");
        }
    }

    #[tokio::test]
    async fn a_silent_stream_ends_with_a_timeout_error() {
        let s: BoxChunkStream<u32> =
            Box::pin(futures::stream::iter([Ok(1)]).chain(futures::stream::pending()));
        let mut s = with_idle_timeout(s, Duration::from_millis(30), "p".into());
        assert_eq!(s.next().await.unwrap().unwrap(), 1);
        let e = s.next().await.unwrap().unwrap_err();
        assert_eq!(e.kind, ErrorKind::UpstreamTimeout);
        assert!(s.next().await.is_none());
    }
}
