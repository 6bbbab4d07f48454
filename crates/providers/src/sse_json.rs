//! Upstream SSE body → stream of typed JSON items, with the failure semantics streams need.
//!
//! Why here and strict: a stream that stops early must never look like a success downstream.
//! So the stream ends cleanly only on `data: [DONE]`; a body that ends without it, a transport
//! error mid-body, an in-band `{"error": ...}` event and an unparsable event all end the stream
//! with a typed error item. Bytes are decoded as they arrive — nothing is buffered whole.

use std::collections::VecDeque;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use heimdall_schema::error::{ErrorKind, GatewayError};
use serde::de::DeserializeOwned;

use crate::http::BodyError;
use crate::sse::{SseDecoder, SseEvent};

/// Decode an OpenAI-style SSE body into typed items.
pub fn sse_json_stream<T, S, E>(
    provider: String,
    body: S,
) -> impl Stream<Item = Result<T, GatewayError>> + Send + 'static
where
    T: DeserializeOwned + Send + 'static,
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: BodyError,
{
    let state = State {
        provider,
        body,
        decoder: SseDecoder::with_cap(crate::http::response_cap()),
        pending: VecDeque::new(),
        scratch: Vec::new(),
        finished: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        let item = st.next_item().await?;
        Some((item, st))
    })
}

struct State<S> {
    provider: String,
    body: S,
    decoder: SseDecoder,
    pending: VecDeque<SseEvent>,
    scratch: Vec<SseEvent>,
    finished: bool,
}

impl<S, E> State<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: BodyError,
{
    async fn next_item<T: DeserializeOwned>(&mut self) -> Option<Result<T, GatewayError>> {
        if self.finished {
            return None;
        }
        loop {
            if let Some(event) = self.pending.pop_front() {
                match decode_event::<T>(&self.provider, &event.data) {
                    Decoded::Item(item) => return Some(Ok(item)),
                    Decoded::Done => {
                        self.finished = true;
                        return None;
                    }
                    Decoded::Skip => continue,
                    Decoded::Error(e) => {
                        self.finished = true;
                        return Some(Err(e));
                    }
                }
            }
            match self.body.next().await {
                Some(Ok(bytes)) => {
                    self.decoder.feed(&bytes, &mut self.scratch);
                    if self.decoder.is_oversized() {
                        self.finished = true;
                        let cap = self.decoder.cap();
                        return Some(Err(crate::http::too_large(&self.provider, cap)));
                    }
                    self.pending.extend(self.scratch.drain(..));
                }
                Some(Err(e)) => {
                    self.finished = true;
                    let err = e.interrupted(&self.provider);
                    return Some(Err(err));
                }
                None => {
                    self.finished = true;
                    return Some(Err(GatewayError::new(
                        ErrorKind::UpstreamProtocol,
                        format!(
                            "provider '{}' ended the stream before [DONE] (truncated stream)",
                            self.provider
                        ),
                    )
                    .with_provider(&self.provider)));
                }
            }
        }
    }
}

enum Decoded<T> {
    Item(T),
    Done,
    Skip,
    Error(GatewayError),
}

fn decode_event<T: DeserializeOwned>(provider: &str, data: &str) -> Decoded<T> {
    let data = data.trim();
    if data == "[DONE]" {
        return Decoded::Done;
    }
    if data.is_empty() {
        return Decoded::Skip;
    }
    if data.contains("\"error\"")
        && let Some(err) = in_band_error(provider, data)
    {
        return Decoded::Error(err);
    }
    match serde_json::from_str::<T>(data) {
        Ok(item) => Decoded::Item(item),
        Err(e) => Decoded::Error(
            GatewayError::new(
                ErrorKind::UpstreamProtocol,
                format!("provider '{provider}' sent an unreadable stream event: {e}"),
            )
            .with_provider(provider),
        ),
    }
}

/// An `{"error": ...}` event inside a stream.
fn in_band_error(provider: &str, data: &str) -> Option<GatewayError> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        error: Option<serde_json::Value>,
    }
    let env: Envelope = serde_json::from_str(data).ok()?;
    let error = env.error.filter(|e| !e.is_null())?;
    let message = error
        .get("message")
        .and_then(|m| m.as_str())
        .or_else(|| error.as_str())
        .unwrap_or("unknown error");
    let mut err = GatewayError::new(
        ErrorKind::UpstreamStreamError,
        format!("provider '{provider}' reported an error in the stream: {message}"),
    )
    .with_provider(provider);
    if let Some(code) = error.get("code").and_then(|c| c.as_str()) {
        err = err.with_code(code);
    }
    Some(err)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Item {
        n: u32,
    }

    async fn collect(parts: Vec<Result<Bytes, reqwest::Error>>) -> Vec<Result<Item, GatewayError>> {
        let body = futures::stream::iter(parts);
        sse_json_stream::<Item, _, _>("p".into(), body)
            .collect()
            .await
    }

    #[tokio::test]
    async fn yields_items_until_done() {
        let out = collect(vec![
            Ok(Bytes::from_static(b"data: {\"n\":1}\n\ndata: {\"n\"")),
            Ok(Bytes::from_static(b":2}\n\ndata: [DONE]\n\n")),
        ])
        .await;
        let items: Vec<_> = out.into_iter().map(|r| r.unwrap().n).collect();
        assert_eq!(items, [1, 2]);
    }

    #[tokio::test]
    async fn a_body_ending_without_done_is_an_error() {
        let out = collect(vec![Ok(Bytes::from_static(b"data: {\"n\":1}\n\n"))]).await;
        assert_eq!(out.len(), 2);
        let err = out[1].as_ref().unwrap_err();
        assert_eq!(err.kind, ErrorKind::UpstreamProtocol);
        assert!(err.message.contains("truncated"));
    }

    #[tokio::test]
    async fn in_band_error_ends_the_stream_with_a_typed_error() {
        let out = collect(vec![Ok(Bytes::from_static(
            b"data: {\"n\":1}\n\ndata: {\"error\":{\"message\":\"boom\",\"code\":\"x\"}}\n\ndata: {\"n\":3}\n\n",
        ))])
        .await;
        assert_eq!(out.len(), 2);
        let err = out[1].as_ref().unwrap_err();
        assert_eq!(err.kind, ErrorKind::UpstreamStreamError);
        assert!(err.message.contains("boom"));
        assert_eq!(err.code.as_deref(), Some("x"));
    }

    #[tokio::test]
    async fn malformed_event_is_a_protocol_error() {
        let out = collect(vec![Ok(Bytes::from_static(b"data: {not json\n\n"))]).await;
        assert_eq!(
            out[0].as_ref().unwrap_err().kind,
            ErrorKind::UpstreamProtocol
        );
    }
}
