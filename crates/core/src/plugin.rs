//! The plugin pipeline: the hooks every cross-cutting capability plugs into.
//!
//! Order (the one place it is written down): `pre` hooks run in registration order before
//! routing and may rewrite the request or answer it themselves (cache hit, auth failure);
//! `post` hooks run in reverse order on the final non-streamed result, error or success (like
//! unwinding middleware); for streams, `on_chunk` runs in registration order on every chunk
//! before it reaches the client, and `on_stream_end` runs once when the stream finishes, fails,
//! or the client goes away — so usage is recorded even on disconnect. A stream that fails
//! before its first chunk is reported through `post` as an error, like a non-streamed one.
//!
//! Why sync chunk/end hooks: they sit on the per-chunk hot path and may run from `Drop`;
//! a plugin that needs IO hands the data to its own background task.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use heimdall_schema::audio::{BinaryResponse, SpeechRequest};
use heimdall_schema::chat::{ChatChunk, ChatRequest, ChatResponse};
use heimdall_schema::completions::{CompletionChunk, CompletionRequest, CompletionResponse};
use heimdall_schema::embeddings::{EmbeddingRequest, EmbeddingResponse};
use heimdall_schema::error::GatewayError;
use heimdall_schema::form::FormRequest;
use heimdall_schema::images::{ImageGenerationRequest, ImagesResponse};
use heimdall_schema::rerank::{RerankRequest, RerankResponse};
use heimdall_schema::usage::Usage;

use crate::context::RequestContext;
use crate::stream::BoxChunkStream;

/// A canonical request of any operation.
// One per request, owned by the engine; variants differ in size only by their payloads.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum GatewayRequest {
    /// Chat completion.
    Chat(ChatRequest),
    /// Text completion.
    Completion(CompletionRequest),
    /// Embeddings.
    Embedding(EmbeddingRequest),
    /// Text to speech.
    Speech(SpeechRequest),
    /// Speech to text (a form with the audio file).
    Transcription(FormRequest),
    /// Speech to English text (a form with the audio file).
    Translation(FormRequest),
    /// Image generation.
    ImageGeneration(ImageGenerationRequest),
    /// Image edit (a form with the image files).
    ImageEdit(FormRequest),
    /// Rerank documents against a query.
    Rerank(RerankRequest),
}

impl GatewayRequest {
    /// The model the request names (the engine rewrites it per target; plugins route by it).
    pub fn model_mut(&mut self) -> &mut String {
        match self {
            Self::Chat(r) => &mut r.model,
            Self::Completion(r) => &mut r.model,
            Self::Embedding(r) => &mut r.model,
            Self::Speech(r) => &mut r.model,
            Self::Transcription(r) | Self::Translation(r) | Self::ImageEdit(r) => &mut r.model,
            Self::ImageGeneration(r) => &mut r.model,
            Self::Rerank(r) => &mut r.model,
        }
    }

    /// Forget the client's own bytes (`heimdall_schema::raw`): the typed request is what the
    /// upstream gets from now on. For whoever may change more than the model.
    pub fn drop_raw_body(&mut self) {
        if let Self::Chat(r) = self {
            r.raw = None;
        }
    }
}

/// A complete (non-streamed) canonical response.
#[derive(Debug, Clone)]
pub enum GatewayResponse {
    /// Chat completion.
    Chat(ChatResponse),
    /// Text completion.
    Completion(CompletionResponse),
    /// Embeddings.
    Embedding(EmbeddingResponse),
    /// Audio or a transcription, as the upstream sent it (speech, transcription, translation).
    Binary(BinaryResponse),
    /// Generated or edited images.
    Images(ImagesResponse),
    /// Ranked documents.
    Rerank(RerankResponse),
}

impl GatewayResponse {
    /// Forget the upstream's own bytes of the answer (`ChatResponse::raw`): the typed answer
    /// is what the client gets from now on. For whoever may change it.
    pub fn drop_raw_answer(&mut self) {
        if let Self::Chat(r) = self {
            r.raw = None;
        }
    }
}

/// What a `pre` hook decided.
#[allow(clippy::large_enum_variant)] // returned once per hook call, never stored
#[derive(Debug)]
pub enum PreOutcome {
    /// Go on to the next hook and then upstream.
    Continue,
    /// Answer with this response; later hooks and the upstream call are skipped.
    Respond(GatewayResponse),
    /// Answer with this stream (a cached or shared one, for a client that asked for a
    /// stream); later hooks and the upstream call are skipped. Stream hooks still run on it.
    Stream(PreStream),
}

/// A stream a `pre` hook answers with: its first chunk (already there, as the engine commits
/// streams only after one) and the rest.
pub enum PreStream {
    /// A chat stream.
    Chat(ChatChunk, BoxChunkStream<ChatChunk>),
    /// A text-completion stream.
    Completion(CompletionChunk, BoxChunkStream<CompletionChunk>),
}

impl std::fmt::Debug for PreStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Chat(..) => "PreStream::Chat",
            Self::Completion(..) => "PreStream::Completion",
        })
    }
}

/// One chunk of a stream, as plugins see it.
#[derive(Debug)]
pub enum StreamChunk<'a> {
    /// A chat chunk.
    Chat(&'a mut ChatChunk),
    /// A text-completion chunk.
    Completion(&'a mut CompletionChunk),
    /// A piece of streamed speech audio.
    Audio(&'a mut heimdall_schema::audio::AudioChunk),
}

/// How a stream ended, for `on_stream_end`.
#[derive(Debug, Clone, Default)]
pub struct StreamSummary {
    /// Chunks delivered (including a usage-only chunk).
    pub chunks: u64,
    /// Usage reported by the upstream, when it reported any.
    pub usage: Option<Usage>,
    /// Last finish reason seen.
    pub finish_reason: Option<String>,
    /// Set when the stream ended with an error.
    pub error: Option<GatewayError>,
    /// True when the upstream ended the stream cleanly.
    pub completed: bool,
    /// True when the client went away before the end.
    pub client_disconnected: bool,
    /// Time from request receipt to the first chunk.
    pub time_to_first_chunk: Option<Duration>,
    /// Time from request receipt to the end.
    pub duration: Duration,
    /// The text delivered for the first choice, up to [`OUTPUT_CAP`] bytes — kept however the
    /// stream ends (cut, error, client gone), so what was sent can be recorded.
    pub output: String,
    /// True when `output` stopped at the cap.
    pub output_truncated: bool,
}

/// Most bytes of streamed output kept in a [`StreamSummary`].
pub const OUTPUT_CAP: usize = 1 << 20;

/// A hook set on the request path. Every method has a no-op default.
#[async_trait]
pub trait Plugin: Send + Sync + 'static {
    /// Stable name, used in logs and config.
    fn name(&self) -> &str;

    /// Whether `pre` changes nothing of a request but its model — or drops the client's bytes
    /// itself (`GatewayRequest::drop_raw_body`) before it changes more. Only then may the
    /// client's own bytes still stand for the request after this plugin ran
    /// (`heimdall_schema::raw`: the upstream gets them with the model spliced in); otherwise
    /// the pipeline drops them before `pre`. `false` unless a plugin says so.
    fn rewrites_only_the_model(&self) -> bool {
        false
    }

    /// Whether `post` leaves a successful answer as it found it (it may read it, and annotate
    /// the context). Only then may the upstream's own bytes still stand for the answer after
    /// this plugin ran (`ChatResponse::raw`: the OpenAI route writes them instead of encoding
    /// the answer); otherwise the pipeline drops them before `post`. `false` unless a plugin
    /// says so.
    fn leaves_the_answer_alone(&self) -> bool {
        false
    }

    /// Before routing. May rewrite the request or answer it.
    async fn pre(
        &self,
        _ctx: &mut RequestContext,
        _req: &mut GatewayRequest,
    ) -> Result<PreOutcome, GatewayError> {
        Ok(PreOutcome::Continue)
    }

    /// After a non-streamed result (or a stream that failed before its first chunk). May
    /// annotate the context (e.g. the request's cost) before the response headers are built.
    async fn post(
        &self,
        _ctx: &mut RequestContext,
        _result: &mut Result<GatewayResponse, GatewayError>,
    ) {
    }

    /// On each stream chunk before it reaches the client.
    fn on_chunk(&self, _ctx: &RequestContext, _chunk: &mut StreamChunk<'_>) {}

    /// Once per stream, at its end (clean, failed, or client gone).
    fn on_stream_end(&self, _ctx: &RequestContext, _summary: &StreamSummary) {}

    /// Once for a request whose client left before it had an answer (no `post` hook ran).
    fn on_abandoned(&self, _ctx: &RequestContext) {}

    /// A new configuration took effect (hot reload, API change, rollback): a plugin that
    /// derives state from the config rebuilds it here. Runs before the new snapshot serves.
    fn reconfigure(&self, _config: &heimdall_config::GatewayConfig) {}
}

/// The ordered plugin list.
#[derive(Clone, Default)]
pub struct Pipeline {
    plugins: Vec<Arc<dyn Plugin>>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.plugins.iter().map(|p| p.name()))
            .finish()
    }
}

impl Pipeline {
    /// A pipeline running `plugins` in this order.
    pub fn new(plugins: Vec<Arc<dyn Plugin>>) -> Self {
        Self { plugins }
    }

    /// Whether there are no plugins (lets the hot path skip hook bookkeeping).
    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty()
    }

    /// Run `pre` hooks in order; stop at the first that answers or fails.
    pub async fn pre(
        &self,
        ctx: &mut RequestContext,
        req: &mut GatewayRequest,
    ) -> Result<PreOutcome, GatewayError> {
        for p in &self.plugins {
            if !p.rewrites_only_the_model() {
                req.drop_raw_body();
            }
            match p.pre(ctx, req).await? {
                PreOutcome::Continue => {}
                answered => return Ok(answered),
            }
        }
        Ok(PreOutcome::Continue)
    }

    /// Run `post` hooks in reverse order.
    pub async fn post(
        &self,
        ctx: &mut RequestContext,
        result: &mut Result<GatewayResponse, GatewayError>,
    ) {
        for p in self.plugins.iter().rev() {
            if !p.leaves_the_answer_alone()
                && let Ok(answer) = result
            {
                answer.drop_raw_answer();
            }
            p.post(ctx, result).await;
        }
    }

    /// Run `on_chunk` hooks in order.
    pub fn on_chunk(&self, ctx: &RequestContext, chunk: &mut StreamChunk<'_>) {
        for p in &self.plugins {
            p.on_chunk(ctx, chunk);
        }
    }

    /// Run `reconfigure` hooks in order.
    pub fn reconfigure(&self, config: &heimdall_config::GatewayConfig) {
        for p in &self.plugins {
            p.reconfigure(config);
        }
    }

    /// Run `on_abandoned` hooks in order.
    pub fn on_abandoned(&self, ctx: &RequestContext) {
        for p in &self.plugins {
            p.on_abandoned(ctx);
        }
    }

    /// Run `on_stream_end` hooks in order.
    pub fn on_stream_end(&self, ctx: &RequestContext, summary: &StreamSummary) {
        for p in &self.plugins {
            p.on_stream_end(ctx, summary);
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    /// A plugin whose `post` does nothing, declaring (or not) that it leaves answers alone.
    struct Hook(bool);

    impl Plugin for Hook {
        fn name(&self) -> &str {
            "hook"
        }
        fn leaves_the_answer_alone(&self) -> bool {
            self.0
        }
    }

    fn answered(pipeline: &Pipeline) -> Option<Bytes> {
        let mut ctx = RequestContext::new("r1".into(), crate::Operation::Chat, "m".into());
        let answer = ChatResponse {
            raw: Some(Bytes::from_static(b"{\"choices\":[]}")),
            ..ChatResponse::default()
        };
        let mut result = Ok(GatewayResponse::Chat(answer));
        futures::executor::block_on(pipeline.post(&mut ctx, &mut result));
        match result {
            Ok(GatewayResponse::Chat(c)) => c.raw,
            _ => None,
        }
    }

    #[test]
    fn the_upstream_bytes_outlive_only_plugins_that_leave_the_answer_alone() {
        let readers = Pipeline::new(vec![Arc::new(Hook(true)), Arc::new(Hook(true))]);
        assert!(answered(&readers).is_some());
        let with_a_writer = Pipeline::new(vec![Arc::new(Hook(true)), Arc::new(Hook(false))]);
        assert!(answered(&with_a_writer).is_none());
        assert!(answered(&Pipeline::default()).is_some());
    }
}
