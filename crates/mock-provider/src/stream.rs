//! SSE bodies with faults injected at chosen points: cut connection, stall, malformed event,
//! in-band error.
//!
//! Why precomputed steps: the fault positions are known before the first byte, so the body is
//! a simple list walked with the configured delay between frames.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use serde_json::Value;

use crate::knobs::Knobs;

enum Step {
    Frame(Bytes),
    Cut,
    Stall,
}

/// The framing a dialect uses for its stream events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `data: <json>` frames ending with `data: [DONE]`.
    OpenAi,
    /// `event: <type>` + `data: <json>` frames, no terminator (the last event says it).
    Anthropic,
    /// Like Anthropic's framing; an in-band error is a `message-end` with `ERROR`.
    Cohere,
    /// `data: <json>` frames and no terminator (Gemini's `alt=sse`).
    Gemini,
    /// AWS event-stream binary messages (Bedrock ConverseStream); events are given as
    /// `{"event": <type>, "payload": {...}}`.
    Bedrock,
    /// Bedrock InvokeModelWithResponseStream for Claude: each Anthropic event, base64-encoded,
    /// in a `chunk` event-stream message (`{"bytes": …}`).
    BedrockInvoke,
    /// OpenAI's Responses API: `event: <type>` + `data: <json>`, no terminator; an in-band
    /// error is an `error` event.
    OpenAiResponses,
}

/// One AWS event-stream message.
pub fn eventstream_message(headers: &[(&str, &str)], payload: &Value) -> Bytes {
    use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
    let mut m = Message::new(Bytes::from(payload.to_string()));
    for (k, v) in headers {
        m = m.add_header(Header::new(
            (*k).to_owned(),
            HeaderValue::String((*v).to_owned().into()),
        ));
    }
    let mut buf = Vec::new();
    let _ = aws_smithy_eventstream::frame::write_message_to(&m, &mut buf);
    Bytes::from(buf)
}

impl Dialect {
    fn frame(self, v: &Value) -> Bytes {
        match self {
            Self::OpenAi | Self::Gemini => frame(v),
            Self::Bedrock => eventstream_message(
                &[
                    (":event-type", v["event"].as_str().unwrap_or("unknown")),
                    (":content-type", "application/json"),
                    (":message-type", "event"),
                ],
                &v["payload"],
            ),
            Self::BedrockInvoke => {
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::STANDARD.encode(v.to_string());
                eventstream_message(
                    &[
                        (":event-type", "chunk"),
                        (":content-type", "application/json"),
                        (":message-type", "event"),
                    ],
                    &serde_json::json!({"bytes": bytes}),
                )
            }
            Self::Anthropic | Self::Cohere | Self::OpenAiResponses => {
                let mut buf = Vec::with_capacity(256);
                buf.extend_from_slice(b"event: ");
                buf.extend_from_slice(v["type"].as_str().unwrap_or("unknown").as_bytes());
                buf.push(b'\n');
                buf.extend_from_slice(&frame(v));
                Bytes::from(buf)
            }
        }
    }

    fn error_frame(self) -> Bytes {
        match self {
            Self::OpenAi => Bytes::from_static(
                b"data: {\"error\":{\"message\":\"mock in-band error\",\"type\":\"server_error\",\"param\":null,\"code\":\"mock_error\"}}\n\n",
            ),
            Self::Bedrock | Self::BedrockInvoke => eventstream_message(
                &[
                    (":exception-type", "modelStreamErrorException"),
                    (":content-type", "application/json"),
                    (":message-type", "exception"),
                ],
                &serde_json::json!({"message": "mock in-band error"}),
            ),
            Self::Gemini => Bytes::from_static(
                b"data: {\"error\":{\"code\":500,\"message\":\"mock in-band error\",\"status\":\"INTERNAL\"}}\n\n",
            ),
            Self::OpenAiResponses => Bytes::from_static(
                b"event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"mock in-band error\",\"param\":null,\"sequence_number\":0}\n\n",
            ),
            Self::Cohere => Bytes::from_static(
                b"event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"error\":\"mock in-band error\",\"finish_reason\":\"ERROR\"}}\n\n",
            ),
            Self::Anthropic => Bytes::from_static(
                b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"mock in-band error\"}}\n\n",
            ),
        }
    }
}

/// `data: <json>\n\n`
pub fn frame(v: &Value) -> Bytes {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(b"data: ");
    let _ = serde_json::to_writer(&mut buf, v);
    buf.extend_from_slice(b"\n\n");
    Bytes::from(buf)
}

/// Counts an open stream body for as long as it lives (dropped when the client goes away).
struct OpenStream(Arc<AtomicU64>);

impl OpenStream {
    fn new(counter: &Arc<AtomicU64>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(counter))
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The SSE body for `events`, with the knobs' faults and chunk delay.
pub fn sse_body(events: Vec<Value>, knobs: &Knobs, open: &Arc<AtomicU64>) -> Body {
    sse_body_in(Dialect::OpenAi, events, knobs, open)
}

/// [`sse_body`] in a given dialect's framing.
pub fn sse_body_in(
    dialect: Dialect,
    events: Vec<Value>,
    knobs: &Knobs,
    open: &Arc<AtomicU64>,
) -> Body {
    let mut steps = Vec::with_capacity(events.len() + 2);
    let mut ended = false;
    for (i, ev) in events.iter().enumerate() {
        if knobs.cut_after == Some(i) {
            steps.push(Step::Cut);
            ended = true;
            break;
        }
        if knobs.stall_after == Some(i) && i > 0 {
            steps.push(Step::Stall);
            ended = true;
            break;
        }
        if knobs.error_after == Some(i) {
            steps.push(Step::Frame(dialect.error_frame()));
            ended = true;
            break;
        }
        if knobs.malformed_after == Some(i) {
            steps.push(Step::Frame(Bytes::from_static(b"data: {not json\n\n")));
        }
        steps.push(Step::Frame(dialect.frame(ev)));
    }
    if !ended && dialect == Dialect::OpenAi {
        steps.push(Step::Frame(Bytes::from_static(b"data: [DONE]\n\n")));
    }
    let delay = Duration::from_millis(knobs.chunk_delay_ms);
    let guard = OpenStream::new(open);
    let stream = futures::stream::unfold(
        (steps.into_iter(), true, guard),
        move |(mut it, first, guard)| async move {
            let step = it.next()?;
            if !first && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            match step {
                Step::Frame(b) => Some((Ok::<Bytes, std::io::Error>(b), (it, false, guard))),
                Step::Cut => Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "mock cut the stream",
                    )),
                    (it, false, guard),
                )),
                Step::Stall => {
                    std::future::pending::<()>().await;
                    None
                }
            }
        },
    );
    Body::from_stream(stream)
}
