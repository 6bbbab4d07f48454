//! Upstream SSE body → canonical chunks through a dialect's event translator (Anthropic,
//! Cohere, Gemini), with the same strict end-of-stream rules as the OpenAI path.
//!
//! Why a trait: each native dialect has its own event sequence and its own notion of a clean
//! end (Anthropic's `message_stop`, Cohere's `message-end`, Gemini's last candidate with a
//! finish reason). The translator is a pure state machine tested with recorded transcripts;
//! this module only feeds it bytes as they arrive and turns a body that ends early, or a
//! transport error, into a typed error item — a cut stream never looks like a success.

use std::collections::VecDeque;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use heimdall_schema::error::GatewayError;

use crate::http::stream_interrupted;
pub use heimdall_dialects::event::{EventTranslator, translate_transcript};
use heimdall_dialects::sse::{SseDecoder, SseEvent};

/// Stream the translated chunks of an upstream SSE body.
pub fn translated_sse_stream<T, S>(
    provider: String,
    body: S,
    translator: T,
) -> impl Stream<Item = Result<T::Chunk, GatewayError>> + Send + 'static
where
    T: EventTranslator,
    S: Stream<Item = Result<Bytes, reqwest::Error>> + Send + Unpin + 'static,
{
    let state = State {
        provider,
        body,
        translator,
        decoder: SseDecoder::with_cap(crate::http::response_cap()),
        events: Vec::new(),
        ready: VecDeque::new(),
        scratch: Vec::new(),
        pending_error: None,
        finished: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        let item = st.next_item().await?;
        Some((item, st))
    })
}

struct State<T: EventTranslator, S> {
    provider: String,
    body: S,
    translator: T,
    decoder: SseDecoder,
    events: Vec<SseEvent>,
    ready: VecDeque<T::Chunk>,
    scratch: Vec<T::Chunk>,
    pending_error: Option<GatewayError>,
    finished: bool,
}

/// Name the provider in a translator's error.
fn tag(provider: &str, mut e: GatewayError) -> GatewayError {
    if e.provider.is_none() {
        e.message = format!("provider '{provider}': {}", e.message);
        e = e.with_provider(provider);
    }
    e
}

impl<T, S> State<T, S>
where
    T: EventTranslator,
    S: Stream<Item = Result<Bytes, reqwest::Error>> + Unpin,
{
    /// The next chunk; chunks translated before an error are delivered before it.
    async fn next_item(&mut self) -> Option<Result<T::Chunk, GatewayError>> {
        loop {
            if let Some(chunk) = self.ready.pop_front() {
                return Some(Ok(chunk));
            }
            if let Some(e) = self.pending_error.take() {
                return Some(Err(e));
            }
            if self.finished {
                return None;
            }
            match self.body.next().await {
                Some(Ok(bytes)) => {
                    self.decoder.feed(&bytes, &mut self.events);
                    if self.decoder.is_oversized() {
                        self.finished = true;
                        let cap = self.decoder.cap();
                        self.pending_error = Some(crate::http::too_large(&self.provider, cap));
                        continue;
                    }
                    for ev in self.events.drain(..) {
                        match self.translator.on_event(&ev, &mut self.scratch) {
                            Ok(false) => {}
                            Ok(true) => {
                                self.finished = true;
                                break;
                            }
                            Err(e) => {
                                self.finished = true;
                                self.pending_error = Some(tag(&self.provider, e));
                                break;
                            }
                        }
                    }
                    self.ready.extend(self.scratch.drain(..));
                }
                Some(Err(e)) => {
                    self.finished = true;
                    let err = stream_interrupted(&self.provider, &e);
                    self.pending_error = Some(err);
                }
                None => {
                    self.finished = true;
                    if let Err(e) = self.translator.on_body_end(&mut self.scratch) {
                        self.pending_error = Some(tag(&self.provider, e));
                    }
                    self.ready.extend(self.scratch.drain(..));
                }
            }
        }
    }
}
