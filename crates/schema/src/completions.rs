//! Legacy text completions (`POST /v1/completions`): request, response and stream chunk.
//!
//! Still served because tools and older SDK code call it, and some open-model servers
//! (vLLM, SGLang, Together) expose it for base models.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::chat::{StopSequences, StreamOptions};
use crate::error::GatewayError;
use crate::usage::Usage;

/// A text completion request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionRequest {
    /// Model, as `provider/model`, a bare name, or an alias.
    pub model: String,
    /// The prompt(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Prompt>,
    /// Stream the answer as SSE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Stream options (`include_usage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Output limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Number of completions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<StopSequences>,
    /// Text after the completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// Echo the prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo: Option<bool>,
    /// Server-side candidates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_of: Option<u32>,
    /// Number of log probabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<u32>,
    /// Presence penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// Frequency penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Token id → bias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logit_bias: Option<BTreeMap<String, f64>>,
    /// Determinism seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// End-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Fields not modelled here, forwarded untouched.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `prompt`: text, texts, tokens, or token lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Prompt {
    /// One text.
    Text(String),
    /// Several texts.
    Texts(Vec<String>),
    /// One token list.
    Tokens(Vec<u32>),
    /// Several token lists.
    TokenLists(Vec<Vec<u32>>),
}

impl CompletionRequest {
    /// Check the constraints a request must meet before any provider sees it.
    pub fn validate(&self) -> Result<(), GatewayError> {
        if self.model.trim().is_empty() {
            return Err(GatewayError::invalid_request(
                "model must not be empty",
                Some("model".into()),
            ));
        }
        if self.prompt.is_none() {
            return Err(GatewayError::invalid_request(
                "prompt is required",
                Some("prompt".into()),
            ));
        }
        Ok(())
    }
}

/// A text completion (`object: "text_completion"`); streamed chunks share the shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionResponse {
    /// Completion id.
    #[serde(default)]
    pub id: String,
    /// `text_completion`.
    #[serde(default)]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: u64,
    /// Model that answered.
    #[serde(default)]
    pub model: String,
    /// The choices (some backends send `null` in a usage-only chunk).
    #[serde(default, deserialize_with = "crate::serde_util::null_as_default")]
    pub choices: Vec<CompletionChoice>,
    /// Token usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Backend configuration fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A streamed text-completion chunk (same shape as the response).
pub type CompletionChunk = CompletionResponse;

/// One choice of a text completion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionChoice {
    /// The text (or text piece, when streamed).
    #[serde(default)]
    pub text: String,
    /// Choice index.
    #[serde(default)]
    pub index: u32,
    /// Log probabilities, or null.
    #[serde(default)]
    pub logprobs: Option<Value>,
    /// `stop`, `length`, `content_filter`, or null while streaming.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
