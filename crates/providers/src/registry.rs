//! From a provider config to a live provider instance.
//!
//! Why: the one place that maps a configured kind to its implementation, so adding a dialect
//! is one match arm, and kinds that are parsed but not implemented yet fail loudly at start-up
//! with a reason instead of at the first request.

use std::sync::Arc;

use heimdall_config::{Dialect, ProviderConfig};
use heimdall_schema::error::GatewayError;

use heimdall_config::ProviderKind;

use crate::anthropic::AnthropicProvider;
use crate::bedrock::BedrockProvider;
use crate::cohere::CohereProvider;
use crate::gemini::GeminiProvider;
use crate::openai_compat::OpenAiCompatProvider;
use crate::provider::Provider;
use crate::vertex::VertexProvider;

/// Build the provider for `config`, or say why it cannot be served.
pub fn build_provider(config: &ProviderConfig) -> Result<Arc<dyn Provider>, GatewayError> {
    match config.kind.preset().dialect {
        Dialect::OpenAiCompatible => Ok(Arc::new(OpenAiCompatProvider::new(config)?)),
        Dialect::Native if config.kind == ProviderKind::Azure => {
            Ok(Arc::new(OpenAiCompatProvider::new(config)?))
        }
        Dialect::Native if config.kind == ProviderKind::Cohere => {
            Ok(Arc::new(CohereProvider::new(config)?))
        }
        Dialect::Native if config.kind == ProviderKind::Gemini => {
            Ok(Arc::new(GeminiProvider::new(config)?))
        }
        Dialect::Native if config.kind == ProviderKind::Bedrock => {
            Ok(Arc::new(BedrockProvider::new(config)?))
        }
        Dialect::Native if config.kind == ProviderKind::Vertex => {
            Ok(Arc::new(VertexProvider::new(config)?))
        }
        Dialect::Native if config.kind == ProviderKind::Anthropic => {
            Ok(Arc::new(AnthropicProvider::new(config)?))
        }
        Dialect::Native => Err(GatewayError::internal(format!(
            "provider '{}' of type '{}' is not supported yet by this build",
            config.name,
            config.kind.as_str()
        ))),
    }
}
