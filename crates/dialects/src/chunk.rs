//! Building canonical stream chunks, shared by the native dialects' stream translators.
//!
//! Why: every translator emits the same envelope (id, object, created, model, one choice) and
//! differs only in the delta; one constructor keeps the envelope identical across providers.

use heimdall_schema::chat::{ChatChunk, ChunkChoice, ChunkDelta, FunctionCallDelta, ToolCallDelta};
use serde_json::Map;

/// The identity every chunk of one stream carries.
#[derive(Debug, Clone, Default)]
pub struct ChunkEnvelope {
    /// Response id.
    pub id: String,
    /// Unix seconds.
    pub created: u64,
    /// Model name.
    pub model: String,
}

impl ChunkEnvelope {
    /// A chunk with one choice carrying `delta` (and a finish reason, on the last).
    pub fn chunk(&self, delta: ChunkDelta, finish: Option<String>) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".to_owned(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish,
                logprobs: None,
                extra: Map::new(),
            }],
            usage: None,
            system_fingerprint: None,
            service_tier: None,
            extra: Map::new(),
            native: None,
        }
    }

    /// The first chunk: the assistant role and empty content.
    pub fn role(&self) -> ChatChunk {
        self.chunk(
            ChunkDelta {
                role: Some("assistant".to_owned()),
                content: Some(Some(String::new())),
                ..ChunkDelta::default()
            },
            None,
        )
    }

    /// A text piece.
    pub fn text(&self, t: &str) -> ChatChunk {
        self.chunk(
            ChunkDelta {
                content: Some(Some(t.to_owned())),
                ..ChunkDelta::default()
            },
            None,
        )
    }

    /// A piece of a signed reasoning block (its signature, or a redacted block).
    pub fn thinking_block(&self, block: heimdall_schema::chat::ThinkingBlock) -> ChatChunk {
        self.chunk(
            ChunkDelta {
                thinking_blocks: Some(vec![block]),
                ..ChunkDelta::default()
            },
            None,
        )
    }

    /// A piece of tool call `index`: its id and name on the first piece, then argument text.
    pub fn tool_call(
        &self,
        index: u32,
        id: Option<&str>,
        name: Option<&str>,
        args: &str,
    ) -> ChatChunk {
        self.chunk(
            ChunkDelta {
                tool_calls: Some(vec![ToolCallDelta {
                    index,
                    id: id.map(str::to_owned),
                    kind: id.map(|_| "function".to_owned()),
                    function: Some(FunctionCallDelta {
                        name: name.map(str::to_owned),
                        arguments: Some(args.to_owned()),
                        extra: Map::new(),
                    }),
                    extra: Map::new(),
                }]),
                ..ChunkDelta::default()
            },
            None,
        )
    }

    /// The final usage-only chunk (no choices).
    pub fn usage(&self, usage: Option<heimdall_schema::usage::Usage>) -> ChatChunk {
        let mut c = self.chunk(ChunkDelta::default(), None);
        c.choices.clear();
        c.usage = usage;
        c
    }
}
