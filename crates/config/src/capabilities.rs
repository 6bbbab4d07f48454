//! What each provider kind can serve through the gateway (chat, completions, embeddings,
//! realtime, …) and what kind of operation a model name is for.
//!
//! Why one table: `/v1/models` tells clients which endpoints serve each model, `check-config`
//! warns about a model declared for a provider that has no route for it, and the providers
//! crate's tests hold the table to what each implementation really does (an operation it lacks
//! answers `unsupported_operation`). A new operation is one [`Capability`] variant, its
//! endpoints, and the kinds that implement it — nothing else needs to learn about it.
//!
//! A model's operation is read from its name ([`ModelClass::of`]): providers publish no machine
//! readable "this is an embedding model" flag, and their names follow stable conventions
//! (`text-embedding-3-small`, `gpt-realtime`, `whisper-1`, `rerank-v3.5`). A name the rules do not
//! recognise is a text-generation model, which is what almost every model is.

use serde::Serialize;

use crate::kinds::ProviderKind;

/// An operation a provider kind can serve through the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Chat completions (and the Responses API, which the gateway serves over chat).
    Chat,
    /// Legacy text completions.
    Completions,
    /// Embeddings.
    Embeddings,
    /// The Realtime API (WebSocket sessions, session and client-secret creation).
    Realtime,
    /// Speech to text (transcriptions and translations).
    Transcription,
    /// Text to speech.
    Speech,
    /// Image generation and edits.
    Images,
    /// Document reranking.
    Rerank,
}

impl Capability {
    /// Lowercase name (as `/v1/models` lists it).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Completions => "completions",
            Self::Embeddings => "embeddings",
            Self::Realtime => "realtime",
            Self::Transcription => "transcription",
            Self::Speech => "speech",
            Self::Images => "images",
            Self::Rerank => "rerank",
        }
    }

    /// The gateway's OpenAI-route endpoints for the operation (relative to `/v1`).
    pub fn endpoints(self) -> &'static [&'static str] {
        match self {
            Self::Chat => &["/chat/completions", "/responses"],
            Self::Completions => &["/completions"],
            Self::Embeddings => &["/embeddings"],
            Self::Realtime => &[
                "/realtime",
                "/realtime/sessions",
                "/realtime/client_secrets",
            ],
            Self::Transcription => &["/audio/transcriptions", "/audio/translations"],
            Self::Speech => &["/audio/speech"],
            Self::Images => &["/images/generations", "/images/edits"],
            Self::Rerank => &["/rerank"],
        }
    }
}

/// What the gateway's OpenAI-compatible provider implements for every OpenAI-wire kind.
const OPENAI_WIRE: &[Capability] = &[
    Capability::Chat,
    Capability::Completions,
    Capability::Embeddings,
    Capability::Transcription,
    Capability::Speech,
    Capability::Images,
    Capability::Rerank,
];
/// The same plus the Realtime proxy, for the kinds whose upstream has the Realtime API: OpenAI
/// at `{base_url}/realtime` and a custom endpoint (taken to be OpenAI's API).
const OPENAI_WITH_REALTIME: &[Capability] = &[
    Capability::Chat,
    Capability::Completions,
    Capability::Embeddings,
    Capability::Realtime,
    Capability::Transcription,
    Capability::Speech,
    Capability::Images,
    Capability::Rerank,
];
/// Azure OpenAI: its deployments, the Realtime API at `{endpoint}/openai/v1/realtime`, and no
/// rerank (Cohere's rerank on Azure is a Cohere API).
const AZURE: &[Capability] = &[
    Capability::Chat,
    Capability::Completions,
    Capability::Embeddings,
    Capability::Realtime,
    Capability::Transcription,
    Capability::Speech,
    Capability::Images,
];
const CHAT_ONLY: &[Capability] = &[Capability::Chat];
const CHAT_AND_EMBEDDINGS: &[Capability] = &[Capability::Chat, Capability::Embeddings];
const COHERE: &[Capability] = &[Capability::Chat, Capability::Embeddings, Capability::Rerank];

impl ProviderKind {
    /// The operations the gateway serves for a provider of this kind (its implementation's,
    /// not everything the vendor's API offers).
    pub fn capabilities(&self) -> &'static [Capability] {
        match self {
            Self::OpenAi | Self::Custom => OPENAI_WITH_REALTIME,
            Self::Azure => AZURE,
            Self::Anthropic => CHAT_ONLY,
            Self::Gemini | Self::Vertex | Self::Bedrock => CHAT_AND_EMBEDDINGS,
            Self::Cohere => COHERE,
            Self::Groq
            | Self::Mistral
            | Self::Ollama
            | Self::OpenRouter
            | Self::Xai
            | Self::Cerebras
            | Self::DeepSeek
            | Self::Together
            | Self::Fireworks
            | Self::Perplexity
            | Self::Vllm
            | Self::Sglang => OPENAI_WIRE,
        }
    }

    /// Whether this kind serves `capability`.
    pub fn serves(&self, capability: Capability) -> bool {
        self.capabilities().contains(&capability)
    }
}

/// The kind of operation a model is for, read from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelClass {
    /// Generates text: chat and completions (the default).
    Text,
    /// Embeddings.
    Embedding,
    /// Realtime sessions.
    Realtime,
    /// Speech to text.
    Transcription,
    /// Text to speech.
    Speech,
    /// Image generation.
    Image,
    /// Reranking.
    Rerank,
}

impl ModelClass {
    /// The class of the model named `model` (a bare name, without `provider/`).
    pub fn of(model: &str) -> Self {
        let m = model.to_ascii_lowercase();
        // The last path segment: Bedrock and Fireworks ids carry an owner prefix.
        let m = m.rsplit('/').next().unwrap_or(&m);
        let has = |part: &str| m.contains(part);
        if has("realtime") {
            Self::Realtime
        } else if has("embed") {
            Self::Embedding
        } else if has("rerank") {
            Self::Rerank
        } else if has("whisper") || has("transcribe") {
            Self::Transcription
        } else if m.starts_with("tts-") || has("-tts") {
            Self::Speech
        } else if has("dall-e") || has("gpt-image") || has("imagen") {
            Self::Image
        } else {
            Self::Text
        }
    }

    /// The operations a model of this class is used with.
    pub fn operations(self) -> &'static [Capability] {
        match self {
            Self::Text => &[Capability::Chat, Capability::Completions],
            Self::Embedding => &[Capability::Embeddings],
            Self::Realtime => &[Capability::Realtime],
            Self::Transcription => &[Capability::Transcription],
            Self::Speech => &[Capability::Speech],
            Self::Image => &[Capability::Images],
            Self::Rerank => &[Capability::Rerank],
        }
    }

    /// Lowercase name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text generation",
            Self::Embedding => "embeddings",
            Self::Realtime => "realtime",
            Self::Transcription => "transcription",
            Self::Speech => "speech",
            Self::Image => "image generation",
            Self::Rerank => "reranking",
        }
    }
}

/// The operations the gateway serves `model` with on a provider of `kind`: what the model is
/// for, limited to what the kind implements (in [`Capability`] order).
pub fn model_capabilities(kind: ProviderKind, model: &str) -> Vec<Capability> {
    ModelClass::of(model)
        .operations()
        .iter()
        .copied()
        .filter(|c| kind.serves(*c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_are_classed_by_their_conventions() {
        for (name, class) in [
            ("gpt-4o-mini", ModelClass::Text),
            ("claude-sonnet-4-5", ModelClass::Text),
            ("text-embedding-3-small", ModelClass::Embedding),
            ("amazon.titan-embed-text-v2:0", ModelClass::Embedding),
            ("nomic-ai/nomic-embed-text-v1.5", ModelClass::Embedding),
            ("gpt-4o-realtime-preview", ModelClass::Realtime),
            ("gpt-realtime", ModelClass::Realtime),
            ("whisper-large-v3", ModelClass::Transcription),
            ("gpt-4o-mini-transcribe", ModelClass::Transcription),
            ("tts-1-hd", ModelClass::Speech),
            ("gpt-4o-mini-tts", ModelClass::Speech),
            ("dall-e-3", ModelClass::Image),
            ("rerank-v3.5", ModelClass::Rerank),
        ] {
            assert_eq!(ModelClass::of(name), class, "{name}");
        }
    }

    #[test]
    fn capabilities_are_what_the_kind_implements_for_the_model() {
        assert_eq!(
            model_capabilities(ProviderKind::OpenAi, "gpt-4o"),
            [Capability::Chat, Capability::Completions]
        );
        assert_eq!(
            model_capabilities(ProviderKind::Anthropic, "claude-sonnet-4-5"),
            [Capability::Chat]
        );
        assert!(model_capabilities(ProviderKind::Anthropic, "text-embedding-3-small").is_empty());
        assert_eq!(
            model_capabilities(ProviderKind::OpenAi, "gpt-realtime"),
            [Capability::Realtime]
        );
        assert!(model_capabilities(ProviderKind::Groq, "gpt-realtime").is_empty());
        assert_eq!(
            model_capabilities(ProviderKind::Groq, "whisper-large-v3"),
            [Capability::Transcription]
        );
        assert!(model_capabilities(ProviderKind::Azure, "rerank-v3.5").is_empty());
    }
}
