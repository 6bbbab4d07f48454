//! From a provider config to a live provider instance.
//!
//! Why: the one place that maps a configured kind to its implementation, so adding a dialect
//! is one match arm, and the match is exhaustive, so a kind added to the config cannot be left
//! without an implementation.

use std::sync::Arc;

use heimdall_config::ProviderConfig;
use heimdall_schema::error::GatewayError;

use heimdall_config::ProviderKind;

use crate::anthropic::AnthropicProvider;
use crate::bedrock::BedrockProvider;
use crate::cohere::CohereProvider;
use crate::gemini::GeminiProvider;
use crate::openai_compat::OpenAiCompatProvider;
use crate::provider::Provider;
use crate::vertex::VertexProvider;

/// Build the provider for `config`. Exhaustive on the kind: a new kind must say which
/// implementation serves it.
pub fn build_provider(config: &ProviderConfig) -> Result<Arc<dyn Provider>, GatewayError> {
    Ok(match config.kind {
        ProviderKind::Anthropic => Arc::new(AnthropicProvider::new(config)?),
        ProviderKind::Gemini => Arc::new(GeminiProvider::new(config)?),
        ProviderKind::Vertex => Arc::new(VertexProvider::new(config)?),
        ProviderKind::Bedrock => Arc::new(BedrockProvider::new(config)?),
        ProviderKind::Cohere => Arc::new(CohereProvider::new(config)?),
        // Azure OpenAI speaks the OpenAI wire format behind its own URLs and auth.
        ProviderKind::Azure
        | ProviderKind::OpenAi
        | ProviderKind::Groq
        | ProviderKind::Mistral
        | ProviderKind::Ollama
        | ProviderKind::OpenRouter
        | ProviderKind::Xai
        | ProviderKind::Cerebras
        | ProviderKind::DeepSeek
        | ProviderKind::Together
        | ProviderKind::Fireworks
        | ProviderKind::Perplexity
        | ProviderKind::Vllm
        | ProviderKind::Sglang
        | ProviderKind::Custom => Arc::new(OpenAiCompatProvider::new(config)?),
    })
}
