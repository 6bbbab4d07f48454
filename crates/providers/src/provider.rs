//! The `Provider` trait: what the engine asks of every upstream, in canonical types only.
//!
//! Why this shape: the engine owns routing, keys, retries and plugins; a provider only turns a
//! canonical request into one upstream call with a given key and back. The request passed in
//! already carries the upstream model name (the engine rewrites `model` per attempt), so a
//! provider never has to know how the client addressed it. Operations a provider does not
//! offer answer a typed 400 instead of being silently absent.

use std::pin::Pin;

use async_trait::async_trait;
use futures::Stream;
use heimdall_config::KeyConfig;
use heimdall_schema::audio::{BinaryResponse, SpeechRequest};
use heimdall_schema::chat::{ChatChunk, ChatRequest, ChatResponse};
use heimdall_schema::completions::{CompletionChunk, CompletionRequest, CompletionResponse};
use heimdall_schema::embeddings::{EmbeddingRequest, EmbeddingResponse};
use heimdall_schema::error::{ErrorKind, GatewayError};
use heimdall_schema::form::FormRequest;
use heimdall_schema::images::{ImageGenerationRequest, ImagesResponse};
use heimdall_schema::models::Model;
use heimdall_schema::rerank::{RerankRequest, RerankResponse};

/// A stream of canonical chat chunks; an `Err` item ends the stream as a failure.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatChunk, GatewayError>> + Send>>;
/// Speech audio as it arrives; an `Err` item ends the stream as a failure.
pub type AudioStream =
    Pin<Box<dyn Stream<Item = Result<heimdall_schema::audio::AudioChunk, GatewayError>> + Send>>;
/// A stream of text-completion chunks; an `Err` item ends the stream as a failure.
pub type CompletionStream =
    Pin<Box<dyn Stream<Item = Result<CompletionChunk, GatewayError>> + Send>>;

/// One upstream provider instance (a configured provider name with its network settings).
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The configured provider name (as used in `provider/model`).
    fn name(&self) -> &str;

    /// Non-streamed chat completion.
    async fn chat(
        &self,
        key: Option<&KeyConfig>,
        req: &ChatRequest,
    ) -> Result<ChatResponse, GatewayError>;

    /// Streamed chat completion. Resolves once upstream accepted the request (headers received).
    async fn chat_stream(
        &self,
        key: Option<&KeyConfig>,
        req: &ChatRequest,
    ) -> Result<ChatStream, GatewayError>;

    /// Non-streamed text completion.
    async fn completion(
        &self,
        _key: Option<&KeyConfig>,
        _req: &CompletionRequest,
    ) -> Result<CompletionResponse, GatewayError> {
        Err(self.unsupported("text completions"))
    }

    /// Streamed text completion.
    async fn completion_stream(
        &self,
        _key: Option<&KeyConfig>,
        _req: &CompletionRequest,
    ) -> Result<CompletionStream, GatewayError> {
        Err(self.unsupported("text completions"))
    }

    /// Embeddings.
    async fn embeddings(
        &self,
        _key: Option<&KeyConfig>,
        _req: &EmbeddingRequest,
    ) -> Result<EmbeddingResponse, GatewayError> {
        Err(self.unsupported("embeddings"))
    }

    /// Text to speech: the audio as it arrives, the first chunk naming its content type.
    async fn speech(
        &self,
        _key: Option<&KeyConfig>,
        _req: &SpeechRequest,
    ) -> Result<AudioStream, GatewayError> {
        Err(self.unsupported("audio speech"))
    }

    /// Speech to text: the transcription in the `response_format` asked for, as answered.
    async fn transcription(
        &self,
        _key: Option<&KeyConfig>,
        _req: &FormRequest,
    ) -> Result<BinaryResponse, GatewayError> {
        Err(self.unsupported("audio transcriptions"))
    }

    /// Speech to English text, as answered.
    async fn translation(
        &self,
        _key: Option<&KeyConfig>,
        _req: &FormRequest,
    ) -> Result<BinaryResponse, GatewayError> {
        Err(self.unsupported("audio translations"))
    }

    /// Image generation.
    async fn image_generation(
        &self,
        _key: Option<&KeyConfig>,
        _req: &ImageGenerationRequest,
    ) -> Result<ImagesResponse, GatewayError> {
        Err(self.unsupported("image generation"))
    }

    /// Image edit.
    async fn image_edit(
        &self,
        _key: Option<&KeyConfig>,
        _req: &FormRequest,
    ) -> Result<ImagesResponse, GatewayError> {
        Err(self.unsupported("image edits"))
    }

    /// Rerank (the engine settles `document` on the results afterwards).
    async fn rerank(
        &self,
        _key: Option<&KeyConfig>,
        _req: &RerankRequest,
    ) -> Result<RerankResponse, GatewayError> {
        Err(self.unsupported("rerank"))
    }

    /// The models the upstream lists (ids without the provider prefix).
    async fn list_models(&self, key: Option<&KeyConfig>) -> Result<Vec<Model>, GatewayError>;

    /// Open the upstream Realtime WebSocket for `model` (the upstream name), sending
    /// `OpenAI-Beta: {beta}` when the client sent one.
    async fn realtime_connect(
        &self,
        _key: Option<&KeyConfig>,
        _model: &str,
        _beta: Option<&str>,
    ) -> Result<crate::realtime::RealtimeSocket, GatewayError> {
        Err(self.unsupported("the Realtime API"))
    }

    /// POST a Realtime session endpoint (`path`: `/realtime/sessions` or
    /// `/realtime/client_secrets`) with `body` (its model already the upstream's); the answer's
    /// JSON body.
    async fn realtime_post(
        &self,
        _key: Option<&KeyConfig>,
        _path: &str,
        _body: bytes::Bytes,
    ) -> Result<bytes::Bytes, GatewayError> {
        Err(self.unsupported("the Realtime API"))
    }

    /// The error for an operation this provider does not offer.
    fn unsupported(&self, what: &str) -> GatewayError {
        GatewayError::new(
            ErrorKind::InvalidRequest,
            format!("provider '{}' does not support {what}", self.name()),
        )
        .with_code("unsupported_operation")
        .with_provider(self.name())
    }
}
