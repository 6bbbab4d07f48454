//! What an entry holds: the canonical answer as the upstream produced it — a complete response,
//! or a stream's chunk sequence (usage chunk included) — and which provider and model served.
//!
//! Why keep the shape it came in: a stream replayed from its own chunks is the stream the first
//! client saw (same chunking, same usage chunk); the other shape is derived on demand
//! ([`crate::assemble`]) when a streamed and a non-streamed request share an entry.

use heimdall_schema::chat::{ChatChunk, ChatResponse};
use heimdall_schema::completions::{CompletionChunk, CompletionResponse};
use serde::{Deserialize, Serialize};

/// A canonical answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // one per entry, moved whole
pub enum CachedAnswer {
    /// A complete chat completion.
    Chat(ChatResponse),
    /// A chat stream's chunks, in order.
    ChatStream(Vec<ChatChunk>),
    /// A complete text completion.
    Completion(CompletionResponse),
    /// A text-completion stream's chunks, in order.
    CompletionStream(Vec<CompletionChunk>),
}

/// An entry's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAnswer {
    /// Provider that served the original request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Model sent upstream for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The answer.
    pub answer: CachedAnswer,
    /// The request text the semantic tier embedded for it, kept so a later semantic candidate
    /// can be checked against the question it answers ([`crate::guard`]). `None` for entries
    /// the semantic tier did not embed (and for entries stored before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
}

impl StoredAnswer {
    /// The JSON bytes an entry stores.
    pub fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    /// Read an entry's bytes back.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}
