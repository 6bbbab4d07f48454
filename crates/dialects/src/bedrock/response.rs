//! Bedrock Converse responses → canonical responses, and the mappings the stream reuses.
//!
//! Why these choices: Converse returns no id and no model, so the response carries the AWS
//! request id (or a generated id) and the requested model; `inputTokens` excludes cache reads
//! and writes, which OpenAI counts inside `prompt_tokens`, so they are added and reads are
//! reported as cached tokens.

use heimdall_schema::chat::{ChatChoice, ChatResponse, FunctionCall, ThinkingBlock, ToolCall};
use heimdall_schema::usage::{PromptTokensDetails, Usage};
use serde_json::{Map, Value};

use crate::translate::assistant_message;

/// Converse `stopReason` → OpenAI `finish_reason`.
pub fn finish_reason(reason: &str) -> &'static str {
    match reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "guardrail_intervened" | "content_filtered" => "content_filter",
        _ => "stop",
    }
}

/// Converse `usage` → OpenAI usage.
pub fn usage(u: &Value) -> Option<Usage> {
    if !u.is_object() {
        return None;
    }
    let n = |k: &str| u.get(k).and_then(Value::as_u64);
    let read = n("cacheReadInputTokens");
    let prompt =
        n("inputTokens").unwrap_or(0) + read.unwrap_or(0) + n("cacheWriteInputTokens").unwrap_or(0);
    let completion = n("outputTokens").unwrap_or(0);
    Some(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        prompt_tokens_details: read.map(|r| PromptTokensDetails {
            cached_tokens: Some(r),
            audio_tokens: None,
            extra: Map::new(),
        }),
        completion_tokens_details: None,
        extra: Map::new(),
    })
}

/// Translate a Converse response.
pub fn from_converse_response(r: &Value, id: &str, model: &str, created: u64) -> ChatResponse {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    let mut thinking = Vec::new();
    for block in r
        .pointer("/output/message/content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(t) = block["text"].as_str() {
            text.push_str(t);
        } else if let Some(rc) = block.get("reasoningContent") {
            // Kept signed: Bedrock requires the block back on the next thinking + tool turn.
            if let Some(rt) = rc.get("reasoningText") {
                let t = rt["text"].as_str().map(str::to_owned);
                reasoning.push_str(t.as_deref().unwrap_or(""));
                thinking.push(ThinkingBlock::thinking(
                    t,
                    rt["signature"].as_str().map(str::to_owned),
                ));
            } else if let Some(data) = rc["redactedContent"].as_str() {
                thinking.push(ThinkingBlock::redacted(data.to_owned()));
            }
        } else if let Some(tu) = block.get("toolUse") {
            calls.push(ToolCall {
                id: tu["toolUseId"].as_str().unwrap_or("").to_owned(),
                kind: "function".to_owned(),
                function: FunctionCall {
                    name: tu["name"].as_str().unwrap_or("").to_owned(),
                    arguments: serde_json::to_string(&tu["input"]).unwrap_or_else(|_| "{}".into()),
                    extra: Map::new(),
                },
                extra: Map::new(),
            });
        }
    }
    ChatResponse {
        id: id.to_owned(),
        object: "chat.completion".to_owned(),
        created,
        model: model.to_owned(),
        choices: vec![ChatChoice {
            index: 0,
            message: assistant_message(text, reasoning, calls, thinking),
            finish_reason: r["stopReason"]
                .as_str()
                .map(|s| finish_reason(s).to_owned()),
            logprobs: None,
            extra: Map::new(),
        }],
        usage: usage(&r["usage"]),
        system_fingerprint: None,
        service_tier: None,
        extra: Map::new(),
        native: None,
        raw: None,
    }
}
