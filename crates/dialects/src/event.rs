//! The contract of a dialect's stream state machine (Anthropic, Cohere, Gemini): one SSE event
//! in, canonical chunks out, and its own notion of a clean end.
//!
//! Why a trait: each native dialect has its own event sequence and its own notion of a clean
//! end (Anthropic's `message_stop`, Cohere's `message-end`, Gemini's last candidate with a
//! finish reason). The translator is a pure state machine tested with recorded transcripts;
//! the providers crate feeds it bytes as they arrive (`sse_translate`) and turns a body that
//! ends early, or a transport error, into a typed error item.

use heimdall_schema::error::{ErrorKind, GatewayError};

use crate::sse::{SseDecoder, SseEvent};

/// A dialect's stream state machine.
pub trait EventTranslator: Send + 'static {
    /// The canonical chunk type produced.
    type Chunk: Send + 'static;

    /// Translate one event, pushing chunks onto `out`. Returns `true` when the event ends the
    /// stream cleanly; an `Err` ends it as a failure.
    fn on_event(
        &mut self,
        event: &SseEvent,
        out: &mut Vec<Self::Chunk>,
    ) -> Result<bool, GatewayError>;

    /// The body ended without an ending event: a clean end for dialects whose last event is
    /// implicit, an error otherwise (the default).
    fn on_body_end(&mut self, _out: &mut Vec<Self::Chunk>) -> Result<(), GatewayError> {
        Err(GatewayError::new(
            ErrorKind::UpstreamProtocol,
            "the stream ended before its final event (truncated stream)",
        ))
    }
}

/// Translate every complete event of `events` (bytes already decoded), for tests and fuzzing:
/// the chunks, then `Ok(true)` for a clean end or the error that ended it.
pub fn translate_transcript<T: EventTranslator>(
    translator: &mut T,
    body: &[u8],
) -> (Vec<T::Chunk>, Result<bool, GatewayError>) {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    decoder.feed(body, &mut events);
    let mut out = Vec::new();
    for ev in &events {
        match translator.on_event(ev, &mut out) {
            Ok(true) => return (out, Ok(true)),
            Ok(false) => {}
            Err(e) => return (out, Err(e)),
        }
    }
    let end = translator.on_body_end(&mut out).map(|()| false);
    (out, end)
}
