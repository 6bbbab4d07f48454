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
use heimdall_schema::chat::{ChatChunk, ChatRequest, ChatResponse};
use heimdall_schema::completions::{CompletionChunk, CompletionRequest, CompletionResponse};
use heimdall_schema::embeddings::{EmbeddingRequest, EmbeddingResponse};
use heimdall_schema::error::{ErrorKind, GatewayError};
use heimdall_schema::models::Model;

/// A stream of canonical chat chunks; an `Err` item ends the stream as a failure.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatChunk, GatewayError>> + Send>>;
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

    /// The models the upstream lists (ids without the provider prefix).
    async fn list_models(&self, key: Option<&KeyConfig>) -> Result<Vec<Model>, GatewayError>;

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
