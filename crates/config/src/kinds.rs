//! Provider kinds and their presets: default base URL, key variable, keyless, per-key URL.
//!
//! Why a table: zero-config, validation, `check-config` and the provider registry all need the
//! same facts about a kind; one table keeps them in agreement.

use serde::Serialize;

/// The family of wire formats a kind speaks (not to be confused with
/// `heimdall_schema::native::Dialect`, the client's own body format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WireFamily {
    /// The OpenAI HTTP API.
    OpenAiCompatible,
    /// A provider-specific API (translated by its own module).
    Native,
}

/// Facts about a provider kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// Base URL including the version path; operation paths are appended.
    pub default_base_url: Option<&'static str>,
    /// Environment variables that enable the kind in zero-config mode, first wins.
    pub api_key_env: &'static [&'static str],
    /// Works without a key.
    pub keyless: bool,
    /// Each key carries its own URL.
    pub per_key_url: bool,
    /// Wire family.
    pub wire: WireFamily,
}

/// A provider kind (Bifrost's provider names, plus the OpenAI-compatible presets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI.
    OpenAi,
    /// Groq.
    Groq,
    /// Mistral AI.
    Mistral,
    /// Ollama (local, keyless).
    Ollama,
    /// OpenRouter.
    OpenRouter,
    /// xAI (Grok).
    Xai,
    /// Cerebras.
    Cerebras,
    /// DeepSeek.
    DeepSeek,
    /// Together AI.
    Together,
    /// Fireworks AI.
    Fireworks,
    /// Perplexity.
    Perplexity,
    /// vLLM server (URL per key).
    Vllm,
    /// SGLang server (URL per key).
    Sglang,
    /// Any OpenAI-compatible endpoint.
    Custom,
    /// Anthropic (native dialect).
    Anthropic,
    /// Google Gemini API (native dialect).
    Gemini,
    /// Google Vertex AI (native dialect).
    Vertex,
    /// AWS Bedrock (native dialect).
    Bedrock,
    /// Azure OpenAI (deployment URLs).
    Azure,
    /// Cohere (native dialect).
    Cohere,
}

/// Every kind, for listings in error messages and zero-config.
pub const ALL_KINDS: &[ProviderKind] = &[
    ProviderKind::OpenAi,
    ProviderKind::Groq,
    ProviderKind::Mistral,
    ProviderKind::Ollama,
    ProviderKind::OpenRouter,
    ProviderKind::Xai,
    ProviderKind::Cerebras,
    ProviderKind::DeepSeek,
    ProviderKind::Together,
    ProviderKind::Fireworks,
    ProviderKind::Perplexity,
    ProviderKind::Vllm,
    ProviderKind::Sglang,
    ProviderKind::Custom,
    ProviderKind::Anthropic,
    ProviderKind::Gemini,
    ProviderKind::Vertex,
    ProviderKind::Bedrock,
    ProviderKind::Azure,
    ProviderKind::Cohere,
];

impl ProviderKind {
    /// Parse a kind name (case-insensitive, common aliases accepted).
    pub fn parse(s: &str) -> Option<Self> {
        let lower = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Some(match lower.as_str() {
            "openai" => Self::OpenAi,
            "groq" => Self::Groq,
            "mistral" | "mistralai" | "mistral_ai" => Self::Mistral,
            "ollama" => Self::Ollama,
            "openrouter" | "open_router" => Self::OpenRouter,
            "xai" | "x_ai" | "grok" => Self::Xai,
            "cerebras" => Self::Cerebras,
            "deepseek" | "deep_seek" => Self::DeepSeek,
            "together" | "togetherai" | "together_ai" => Self::Together,
            "fireworks" | "fireworksai" | "fireworks_ai" => Self::Fireworks,
            "perplexity" | "pplx" => Self::Perplexity,
            "vllm" => Self::Vllm,
            "sglang" => Self::Sglang,
            "custom" | "openai_compatible" | "openai_compat" => Self::Custom,
            "anthropic" | "claude" => Self::Anthropic,
            "gemini" | "google" | "google_ai" | "genai" => Self::Gemini,
            "vertex" | "vertex_ai" | "vertexai" => Self::Vertex,
            "bedrock" | "aws_bedrock" | "aws" => Self::Bedrock,
            "azure" | "azure_openai" | "azureopenai" => Self::Azure,
            "cohere" => Self::Cohere,
            _ => return None,
        })
    }

    /// Canonical lowercase name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Groq => "groq",
            Self::Mistral => "mistral",
            Self::Ollama => "ollama",
            Self::OpenRouter => "openrouter",
            Self::Xai => "xai",
            Self::Cerebras => "cerebras",
            Self::DeepSeek => "deepseek",
            Self::Together => "together",
            Self::Fireworks => "fireworks",
            Self::Perplexity => "perplexity",
            Self::Vllm => "vllm",
            Self::Sglang => "sglang",
            Self::Custom => "custom",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::Vertex => "vertex",
            Self::Bedrock => "bedrock",
            Self::Azure => "azure",
            Self::Cohere => "cohere",
        }
    }

    /// The kind's preset.
    pub fn preset(&self) -> Preset {
        use WireFamily::{Native, OpenAiCompatible as Oai};
        let p = |url: Option<&'static str>, env: &'static [&'static str], wire| Preset {
            default_base_url: url,
            api_key_env: env,
            keyless: false,
            per_key_url: false,
            wire,
        };
        match self {
            Self::OpenAi => p(Some("https://api.openai.com/v1"), &["OPENAI_API_KEY"], Oai),
            Self::Groq => p(
                Some("https://api.groq.com/openai/v1"),
                &["GROQ_API_KEY"],
                Oai,
            ),
            Self::Mistral => p(Some("https://api.mistral.ai/v1"), &["MISTRAL_API_KEY"], Oai),
            Self::Ollama => Preset {
                keyless: true,
                ..p(Some("http://localhost:11434/v1"), &[], Oai)
            },
            Self::OpenRouter => p(
                Some("https://openrouter.ai/api/v1"),
                &["OPENROUTER_API_KEY"],
                Oai,
            ),
            Self::Xai => p(Some("https://api.x.ai/v1"), &["XAI_API_KEY"], Oai),
            Self::Cerebras => p(
                Some("https://api.cerebras.ai/v1"),
                &["CEREBRAS_API_KEY"],
                Oai,
            ),
            Self::DeepSeek => p(
                Some("https://api.deepseek.com/v1"),
                &["DEEPSEEK_API_KEY"],
                Oai,
            ),
            Self::Together => p(
                Some("https://api.together.xyz/v1"),
                &["TOGETHER_API_KEY", "TOGETHERAI_API_KEY"],
                Oai,
            ),
            Self::Fireworks => p(
                Some("https://api.fireworks.ai/inference/v1"),
                &["FIREWORKS_API_KEY"],
                Oai,
            ),
            Self::Perplexity => p(
                Some("https://api.perplexity.ai"),
                &["PERPLEXITY_API_KEY", "PPLX_API_KEY"],
                Oai,
            ),
            Self::Vllm | Self::Sglang => Preset {
                keyless: true,
                per_key_url: true,
                ..p(None, &[], Oai)
            },
            Self::Custom => p(None, &[], Oai),
            Self::Anthropic => p(
                Some("https://api.anthropic.com/v1"),
                &["ANTHROPIC_API_KEY"],
                Native,
            ),
            Self::Gemini => p(
                Some("https://generativelanguage.googleapis.com/v1beta"),
                &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
                Native,
            ),
            Self::Cohere => p(Some("https://api.cohere.com"), &["COHERE_API_KEY"], Native),
            Self::Vertex | Self::Bedrock | Self::Azure => p(None, &[], Native),
        }
    }
}

/// All kind names, comma-separated (for error messages).
pub fn kind_names() -> String {
    ALL_KINDS
        .iter()
        .map(ProviderKind::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}
