//! Turning a request's text into a vector for the semantic tier: the embedded
//! all-MiniLM-L6-v2 ([`local`], cargo feature `local-embeddings`) or a provider's embedding
//! model called through the gateway's own pipeline.
//!
//! Why unit vectors: every embedder returns length-1 vectors, so cosine similarity is a dot
//! product in the index.

use async_trait::async_trait;

#[cfg(feature = "local-embeddings")]
pub mod local;

/// An embedding failure (the request then skips the semantic tier).
#[derive(Debug, thiserror::Error)]
#[error("embedding: {0}")]
pub struct EmbedError(pub String);

/// A text embedder.
#[async_trait]
pub trait Embedder: Send + Sync + 'static {
    /// What it is, for logs and stats (`local:all-MiniLM-L6-v2`, `openai/text-embedding-3-small`).
    fn name(&self) -> String;
    /// The vector length, when known before the first call.
    fn dimension(&self) -> Option<usize>;
    /// The unit-length embedding of `text`.
    async fn embed(&self, text: &str) -> Result<Vec<f32>, EmbedError>;
}

/// Scale `v` to unit length (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in v.iter_mut() {
            *x /= norm;
        }
    }
}
