//! The stream observer: runs chunk hooks, collects usage, strips what the client did not ask
//! for, and guarantees `on_stream_end` runs exactly once — at the clean end, at an error, or
//! when the client disconnects and the stream is dropped.
//!
//! Why a wrapper and not a task: chunks flow straight from the upstream body to the client
//! socket with no extra channel hop or buffering; dropping the wrapper (client gone) drops the
//! upstream body, which cancels the upstream request.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};
use heimdall_schema::chat::ChatChunk;
use heimdall_schema::completions::CompletionChunk;
use heimdall_schema::error::GatewayError;
use heimdall_schema::usage::Usage;

use crate::context::RequestContext;
use crate::plugin::{OUTPUT_CAP, Pipeline, StreamChunk, StreamSummary};

/// What the observer needs to know about a chunk type.
pub trait ObservedChunk: Send + Unpin + 'static {
    /// The usage the chunk carries.
    fn usage(&self) -> Option<&Usage>;
    /// Remove the usage (the client did not ask for it).
    fn strip_usage(&mut self);
    /// True for a chunk that carries only usage (no choices).
    fn is_usage_only(&self) -> bool;
    /// The last finish reason in the chunk.
    fn finish_reason(&self) -> Option<&str>;
    /// The plugin view of the chunk.
    fn as_plugin_chunk(&mut self) -> StreamChunk<'_>;
    /// The text the chunk adds to the first choice.
    fn text(&self) -> Option<&str>;
}

/// Chat and text-completion chunks share the fields the observer reads.
macro_rules! observed_chunk {
    ($chunk:ty, $variant:ident, $text:expr) => {
        impl ObservedChunk for $chunk {
            fn usage(&self) -> Option<&Usage> {
                self.usage.as_ref()
            }
            fn strip_usage(&mut self) {
                self.usage = None;
            }
            fn is_usage_only(&self) -> bool {
                self.choices.is_empty() && self.usage.is_some()
            }
            fn finish_reason(&self) -> Option<&str> {
                self.choices
                    .iter()
                    .rev()
                    .find_map(|c| c.finish_reason.as_deref())
            }
            fn as_plugin_chunk(&mut self) -> StreamChunk<'_> {
                StreamChunk::$variant(self)
            }
            fn text(&self) -> Option<&str> {
                let text: fn(&$chunk) -> Option<&str> = $text;
                text(self)
            }
        }
    };
}

observed_chunk!(ChatChunk, Chat, |c: &ChatChunk| c
    .choices
    .iter()
    .find(|c| c.index == 0)
    .and_then(|c| c.delta.content.as_ref())
    .and_then(|t| t.as_deref()));
observed_chunk!(CompletionChunk, Completion, |c: &CompletionChunk| c
    .choices
    .iter()
    .find(|c| c.index == 0)
    .map(|c| c.text.as_str()));

/// Speech audio: bytes only — no usage, no finish reason, no text.
impl ObservedChunk for heimdall_schema::audio::AudioChunk {
    fn usage(&self) -> Option<&Usage> {
        None
    }
    fn strip_usage(&mut self) {}
    fn is_usage_only(&self) -> bool {
        false
    }
    fn finish_reason(&self) -> Option<&str> {
        None
    }
    fn as_plugin_chunk(&mut self) -> StreamChunk<'_> {
        StreamChunk::Audio(self)
    }
    fn text(&self) -> Option<&str> {
        None
    }
}

/// A boxed stream of chunks of type `C`.
pub type BoxChunkStream<C> = Pin<Box<dyn Stream<Item = Result<C, GatewayError>> + Send>>;

/// A provider stream wrapped with the pipeline's stream hooks.
pub struct ObservedStream<C: ObservedChunk> {
    inner: BoxChunkStream<C>,
    first: Option<C>,
    pipeline: Pipeline,
    ctx: RequestContext,
    summary: StreamSummary,
    ended: bool,
}

impl<C: ObservedChunk> ObservedStream<C> {
    /// Wrap `inner`, whose first chunk `first` was already taken (to commit only after it).
    pub fn new(
        first: C,
        inner: BoxChunkStream<C>,
        pipeline: Pipeline,
        ctx: RequestContext,
    ) -> Self {
        Self {
            inner,
            first: Some(first),
            pipeline,
            ctx,
            summary: StreamSummary::default(),
            ended: false,
        }
    }

    /// The request context (provider, model, ids) for response headers.
    pub fn context(&self) -> &RequestContext {
        &self.ctx
    }

    fn finish(&mut self) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.summary.duration = self.ctx.received_at.elapsed();
        self.pipeline.on_stream_end(&self.ctx, &self.summary);
    }

    /// Account for a chunk; returns `None` when the chunk must not reach the client.
    fn observe(&mut self, mut chunk: C) -> Option<C> {
        self.summary.chunks += 1;
        if self.summary.time_to_first_chunk.is_none() {
            self.summary.time_to_first_chunk = Some(self.ctx.received_at.elapsed());
        }
        if let Some(u) = chunk.usage() {
            self.summary.usage = Some(u.clone());
        }
        if let Some(f) = chunk.finish_reason() {
            self.summary.finish_reason = Some(f.to_owned());
        }
        if let Some(t) = chunk.text().filter(|t| !t.is_empty()) {
            let out = &mut self.summary.output;
            let room = OUTPUT_CAP.saturating_sub(out.len());
            if t.len() <= room {
                out.push_str(t);
            } else if !self.summary.output_truncated {
                let mut cut = room;
                while !t.is_char_boundary(cut) {
                    cut -= 1;
                }
                out.push_str(&t[..cut]);
                self.summary.output_truncated = true;
            }
        }
        if !self.pipeline.is_empty() {
            self.pipeline
                .on_chunk(&self.ctx, &mut chunk.as_plugin_chunk());
        }
        if !self.ctx.client_wants_stream_usage {
            if chunk.is_usage_only() {
                return None;
            }
            chunk.strip_usage();
        }
        Some(chunk)
    }
}

impl<C: ObservedChunk> Stream for ObservedStream<C> {
    type Item = Result<C, GatewayError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        if let Some(first) = this.first.take()
            && let Some(c) = this.observe(first)
        {
            return Poll::Ready(Some(Ok(c)));
        }
        loop {
            match this.inner.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    if let Some(c) = this.observe(chunk) {
                        return Poll::Ready(Some(Ok(c)));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.summary.error = Some(e.clone());
                    this.finish();
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    this.summary.completed = true;
                    this.finish();
                    return Poll::Ready(None);
                }
            }
        }
    }
}

impl<C: ObservedChunk> Drop for ObservedStream<C> {
    fn drop(&mut self) {
        if !self.ended {
            self.summary.client_disconnected = true;
            self.finish();
        }
    }
}
