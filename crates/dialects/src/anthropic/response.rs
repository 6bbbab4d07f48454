//! Anthropic Messages response → canonical chat completion, and the shared mappings (stop
//! reasons, usage, errors) the stream translator reuses.
//!
//! Why these mappings: OpenAI clients understand `stop`, `length`, `tool_calls` and
//! `content_filter`; Anthropic's prompt-cache counters are reported by OpenAI as
//! `prompt_tokens_details.cached_tokens` inside `prompt_tokens`, so cache writes and reads are
//! added to the prompt count and reads are reported as cached — totals stay what was billed.

use heimdall_schema::chat::{ChatChoice, ChatResponse, FunctionCall, ThinkingBlock, ToolCall};
use heimdall_schema::error::{ErrorKind, GatewayError};
use heimdall_schema::usage::{PromptTokensDetails, Usage};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::translate::assistant_message;

/// A Messages API response.
#[derive(Debug, Deserialize)]
pub struct MessagesResponse {
    /// `msg_…`.
    pub id: String,
    /// Model that answered.
    #[serde(default)]
    pub model: String,
    /// Content blocks.
    #[serde(default)]
    pub content: Vec<Value>,
    /// Why generation stopped.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// Token counts.
    #[serde(default)]
    pub usage: AnthropicUsage,
}

/// Anthropic's usage counters.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct AnthropicUsage {
    /// Uncached input tokens.
    #[serde(default)]
    pub input_tokens: Option<u64>,
    /// Output tokens.
    #[serde(default)]
    pub output_tokens: Option<u64>,
    /// Input tokens written to the cache.
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    /// Input tokens read from the cache.
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// Later counters (a stream's `message_delta`) override earlier ones where present.
    pub fn merge(&mut self, later: &AnthropicUsage) {
        let pick = |a: &mut Option<u64>, b: Option<u64>| {
            if b.is_some() {
                *a = b;
            }
        };
        pick(&mut self.input_tokens, later.input_tokens);
        pick(&mut self.output_tokens, later.output_tokens);
        pick(
            &mut self.cache_creation_input_tokens,
            later.cache_creation_input_tokens,
        );
        pick(
            &mut self.cache_read_input_tokens,
            later.cache_read_input_tokens,
        );
    }

    /// The OpenAI usage object.
    pub fn to_openai(&self) -> Usage {
        let read = self.cache_read_input_tokens.unwrap_or(0);
        let prompt =
            self.input_tokens.unwrap_or(0) + self.cache_creation_input_tokens.unwrap_or(0) + read;
        let completion = self.output_tokens.unwrap_or(0);
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
            prompt_tokens_details: self.cache_read_input_tokens.map(|_| PromptTokensDetails {
                cached_tokens: Some(read),
                audio_tokens: None,
                extra: Map::new(),
            }),
            completion_tokens_details: None,
            extra: Map::new(),
        }
    }
}

/// Anthropic `stop_reason` → OpenAI `finish_reason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        // end_turn, stop_sequence, pause_turn and anything new
        _ => "stop",
    }
}

/// Translate a complete response; `created` stamps it (the caller's clock: translators are pure).
pub fn from_messages_response(r: MessagesResponse, created: u64) -> ChatResponse {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    let mut thinking = Vec::new();
    let str_of = |b: &Value, k: &str| b[k].as_str().map(str::to_owned);
    for block in &r.content {
        match block["type"].as_str() {
            Some("text") => text.push_str(block["text"].as_str().unwrap_or("")),
            Some("thinking") => {
                reasoning.push_str(block["thinking"].as_str().unwrap_or(""));
                thinking.push(ThinkingBlock::thinking(
                    str_of(block, "thinking"),
                    str_of(block, "signature"),
                ));
            }
            Some("redacted_thinking") => {
                if let Some(data) = str_of(block, "data") {
                    thinking.push(ThinkingBlock::redacted(data));
                }
            }
            Some("tool_use") => tool_calls.push(ToolCall {
                id: block["id"].as_str().unwrap_or("").to_owned(),
                kind: "function".to_owned(),
                function: FunctionCall {
                    name: block["name"].as_str().unwrap_or("").to_owned(),
                    arguments: serde_json::to_string(&block["input"])
                        .unwrap_or_else(|_| "{}".to_owned()),
                    extra: Map::new(),
                },
                extra: Map::new(),
            }),
            // Server-side tool blocks have no OpenAI form.
            _ => {}
        }
    }
    let message = assistant_message(text, reasoning, tool_calls, thinking);
    ChatResponse {
        id: r.id,
        object: "chat.completion".to_owned(),
        created,
        model: r.model,
        choices: vec![ChatChoice {
            index: 0,
            message,
            finish_reason: r
                .stop_reason
                .as_deref()
                .map(|s| finish_reason(s).to_owned()),
            logprobs: None,
            extra: Map::new(),
        }],
        usage: Some(r.usage.to_openai()),
        system_fingerprint: None,
        service_tier: None,
        extra: Map::new(),
        native: None,
        raw: None,
    }
}

/// An Anthropic error (`{"type":"error","error":{"type","message"}}`, in a body or a stream
/// event) → a typed gateway error with the provider's message kept.
pub fn anthropic_error(provider: &str, status: Option<u16>, body: &Value) -> GatewayError {
    let kind_name = body
        .pointer("/error/type")
        .and_then(Value::as_str)
        .unwrap_or("api_error");
    let message = body
        .pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or("upstream error without a message");
    let status = status.unwrap_or(match kind_name {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "conflict_error" => 409,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "overloaded_error" => 529,
        "timeout_error" => 504,
        _ => 500,
    });
    let mut e =
        GatewayError::from_upstream_status(status, format!("provider '{provider}': {message}"))
            .with_provider(provider)
            .with_code(kind_name);
    if status == 529 {
        // Overloaded: a server-side condition; OpenAI clients know 503.
        e.kind = ErrorKind::UpstreamServer;
        e.status = 503;
    }
    e
}
