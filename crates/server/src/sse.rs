//! Encoding a text-completion chunk stream as an OpenAI Server-Sent Events body (chat streams
//! go through `chat_route` with the OpenAI dialect's encoder; the framing is the same).
//!
//! Why the end matters: `data: [DONE]` is written only when the upstream ended cleanly. A
//! failure after the first chunk becomes a final `data: {"error": ...}` event and the body ends
//! without `[DONE]`, so an SDK raises instead of returning a truncated answer as success.
//! Each chunk is written as soon as it arrives; dropping the body (client gone) drops the
//! upstream stream and cancels the upstream request.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures::StreamExt;
use heimdall_core::{ObservedChunk, ObservedStream};
use serde::Serialize;

use crate::headers::apply_meta_headers;

/// The SSE response for an observed stream.
pub fn sse_response<C>(stream: ObservedStream<C>) -> Response
where
    C: ObservedChunk + Serialize,
{
    sse_response_mapped(stream, |c| c)
}

/// The SSE response for an observed stream whose chunks are rewritten by `map` on the way out
/// (e.g. chat chunks answered as text-completion chunks).
pub fn sse_response_mapped<C, T>(stream: ObservedStream<C>, map: fn(C) -> T) -> Response
where
    C: ObservedChunk,
    T: Serialize + 'static,
{
    let ctx = stream.context().clone();
    let body = futures::stream::unfold(Some(stream), move |state| async move {
        let mut stream = state?;
        let frame = match stream.next().await {
            Some(Ok(chunk)) => {
                let frame = data_frame(&map(chunk));
                return Some((Ok::<Bytes, Infallible>(frame), Some(stream)));
            }
            Some(Err(e)) => {
                tracing::warn!(request_id = %stream.context().request_id, error = %e, "stream failed after start");
                data_frame(&e.to_openai_body())
            }
            None => Bytes::from_static(b"data: [DONE]\n\n"),
        };
        // End after this frame: the observed stream is dropped here, after its end hooks ran.
        drop(stream);
        Some((Ok(frame), None))
    });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    apply_meta_headers(headers, &ctx);
    response
}

fn data_frame<T: Serialize>(value: &T) -> Bytes {
    let mut buf = Vec::with_capacity(512);
    heimdall_dialects::openai::data_frame(value, &mut buf);
    Bytes::from(buf)
}
