//! Signed reasoning blocks, carried beside the OpenAI shapes (LiteLLM's `thinking_blocks`).
//!
//! Why a type of its own: Anthropic and Bedrock sign their reasoning and refuse the next turn
//! of a thinking + tool-use conversation without the block, signature intact; the canonical
//! model carries it on responses, stream deltas and assistant history so any client dialect
//! can receive it and send it back.

use serde::{Deserialize, Serialize};

/// A reasoning block as Anthropic and Bedrock sign it. Why: both require the block back,
/// signature intact, on the next turn of a thinking + tool-use conversation, so a client of
/// any dialect must be able to receive it and send it back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThinkingBlock {
    /// `thinking`, or `redacted_thinking` (encrypted reasoning in `data`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The reasoning text (on a stream delta: a piece of it, or absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    /// The provider's signature over the block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The encrypted content of a `redacted_thinking` block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl ThinkingBlock {
    /// A `thinking` block.
    pub fn thinking(text: Option<String>, signature: Option<String>) -> Self {
        Self {
            kind: "thinking".to_owned(),
            thinking: text,
            signature,
            data: None,
        }
    }

    /// A `redacted_thinking` block.
    pub fn redacted(data: String) -> Self {
        Self {
            kind: "redacted_thinking".to_owned(),
            data: Some(data),
            ..Self::default()
        }
    }
}
