//! Embeddings (`POST /v1/embeddings`): request, response, and the float/base64 vector forms.
//!
//! The OpenAI SDKs ask for `base64` by default (smaller on the wire) and decode it themselves,
//! so both encodings must pass through exactly; helpers convert between them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::GatewayError;
use crate::usage::EmbeddingUsage;

/// An embeddings request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingRequest {
    /// Model, as `provider/model`, a bare name, or an alias.
    pub model: String,
    /// What to embed.
    pub input: EmbeddingInput,
    /// `float` (default) or `base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<EncodingFormat>,
    /// Output dimensions (models that support shortening).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// End-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Fields not modelled here, forwarded untouched.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `input`: text, texts, tokens, or token lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text.
    Text(String),
    /// Several texts.
    Texts(Vec<String>),
    /// One token list.
    Tokens(Vec<u32>),
    /// Several token lists.
    TokenLists(Vec<Vec<u32>>),
}

impl EmbeddingInput {
    /// Number of inputs, and whether any is empty.
    fn shape(&self) -> (usize, bool) {
        match self {
            Self::Text(t) => (1, t.is_empty()),
            Self::Texts(v) => (v.len(), v.iter().any(String::is_empty)),
            Self::Tokens(v) => (1, v.is_empty()),
            Self::TokenLists(v) => (v.len(), v.iter().any(Vec::is_empty)),
        }
    }
}

/// Vector encoding on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    /// JSON array of numbers.
    Float,
    /// Base64 of little-endian f32 bytes.
    Base64,
}

impl EmbeddingRequest {
    /// Check the constraints a request must meet before any provider sees it.
    pub fn validate(&self) -> Result<(), GatewayError> {
        if self.model.trim().is_empty() {
            return Err(GatewayError::invalid_request(
                "model must not be empty",
                Some("model".into()),
            ));
        }
        let (count, any_empty) = self.input.shape();
        if count == 0 || any_empty {
            return Err(GatewayError::invalid_request(
                "input must not be empty",
                Some("input".into()),
            ));
        }
        if self.dimensions == Some(0) {
            return Err(GatewayError::invalid_request(
                "dimensions must be at least 1",
                Some("dimensions".into()),
            ));
        }
        Ok(())
    }
}

/// An embeddings response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingResponse {
    /// `list`.
    #[serde(default)]
    pub object: String,
    /// One embedding per input.
    pub data: Vec<Embedding>,
    /// Model that answered.
    #[serde(default)]
    pub model: String,
    /// Token usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<EmbeddingUsage>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One embedding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    /// `embedding`.
    #[serde(default)]
    pub object: String,
    /// Index of the input.
    #[serde(default)]
    pub index: u32,
    /// The vector.
    pub embedding: EmbeddingVector,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The vector, as floats or base64.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingVector {
    /// JSON numbers.
    Float(Vec<f32>),
    /// Base64 of little-endian f32 bytes.
    Base64(String),
}

impl EmbeddingVector {
    /// Encode floats as base64 of little-endian f32 bytes.
    pub fn encode_base64(values: &[f32]) -> String {
        let mut bytes = Vec::with_capacity(values.len() * 4);
        for v in values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        STANDARD.encode(bytes)
    }

    /// The vector as floats (decoding base64 when needed).
    pub fn to_floats(&self) -> Result<Vec<f32>, GatewayError> {
        match self {
            Self::Float(v) => Ok(v.clone()),
            Self::Base64(s) => {
                let bytes = STANDARD.decode(s).map_err(|e| {
                    GatewayError::internal(format!("invalid base64 embedding: {e}"))
                })?;
                if bytes.len() % 4 != 0 {
                    return Err(GatewayError::internal(
                        "base64 embedding length is not a multiple of 4 bytes",
                    ));
                }
                Ok(bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect())
            }
        }
    }
}
