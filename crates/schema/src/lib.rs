//! Canonical wire types of the OpenAI dialect, and the gateway's one error type.
//!
//! Why OpenAI's shape is canonical: it is the dialect most clients speak and most providers
//! accept, so the common path needs no translation; native dialects convert into and out of
//! these types. serde only, no IO.
#![warn(missing_docs)]

pub mod audio;
pub mod chat;
pub mod completions;
pub mod embeddings;
pub mod error;
pub mod form;
pub mod images;
pub mod models;
pub mod native;
pub mod raw;
pub mod rerank;
pub mod serde_util;
pub mod thinking;
pub mod usage;

pub use chat::{ChatChunk, ChatMessage, ChatRequest, ChatResponse};
pub use completions::{CompletionChunk, CompletionRequest, CompletionResponse};
pub use embeddings::{EmbeddingRequest, EmbeddingResponse};
pub use error::{Blame, ErrorKind, GatewayError};
pub use models::{Model, ModelList};
pub use usage::Usage;
