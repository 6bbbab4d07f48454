//! Gemini `GenerateContentResponse` → canonical responses, and the shared mappings (finish
//! reasons, usage, blocked prompts, function-call ids) the stream translator reuses.
//!
//! Why these choices (see `tests/fixtures/gemini/README.md`): thoughts are billed as output but
//! counted apart (`thoughtsTokenCount`), so completion tokens add them and report them as
//! reasoning tokens; Gemini says `STOP` after a function call, which OpenAI clients know as
//! `tool_calls`; a prompt Gemini blocks is the request's fault, a 400, not an empty answer.

use heimdall_schema::chat::{ChatChoice, ChatResponse, FunctionCall, ToolCall};
use heimdall_schema::embeddings::{Embedding, EmbeddingResponse, EmbeddingVector, EncodingFormat};
use heimdall_schema::error::{ErrorKind, GatewayError};
use heimdall_schema::usage::{CompletionTokensDetails, EmbeddingUsage, PromptTokensDetails, Usage};
use serde_json::{Map, Value};

use crate::translate::assistant_message;

/// Gemini `finishReason` → OpenAI's (`STOP` after function calls is `tool_calls`).
pub fn finish_reason(reason: &str, had_calls: bool) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => "content_filter",
        "STOP" if had_calls => "tool_calls",
        _ => "stop",
    }
}

fn count(v: &Value, k: &str) -> Option<u64> {
    v.get(k).and_then(Value::as_u64)
}

/// `usageMetadata` → OpenAI usage.
pub fn usage(meta: &Value) -> Option<Usage> {
    if !meta.is_object() {
        return None;
    }
    let prompt = count(meta, "promptTokenCount").unwrap_or(0)
        + count(meta, "toolUsePromptTokenCount").unwrap_or(0);
    let thoughts = count(meta, "thoughtsTokenCount");
    let completion = count(meta, "candidatesTokenCount").unwrap_or(0) + thoughts.unwrap_or(0);
    Some(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        prompt_tokens_details: count(meta, "cachedContentTokenCount").map(|c| {
            PromptTokensDetails {
                cached_tokens: Some(c),
                audio_tokens: None,
                extra: Map::new(),
            }
        }),
        completion_tokens_details: thoughts.map(|t| CompletionTokensDetails {
            reasoning_tokens: Some(t),
            audio_tokens: None,
            accepted_prediction_tokens: None,
            rejected_prediction_tokens: None,
            extra: Map::new(),
        }),
        extra: Map::new(),
    })
}

/// The error for a prompt Gemini refused to answer, if this response is one.
pub fn blocked_prompt(r: &Value) -> Option<GatewayError> {
    let has_candidates = r["candidates"].as_array().is_some_and(|c| !c.is_empty());
    let reason = r.pointer("/promptFeedback/blockReason")?.as_str()?;
    if has_candidates {
        return None;
    }
    Some(
        GatewayError::new(
            ErrorKind::UpstreamBadRequest,
            format!("Gemini blocked the prompt (promptFeedback.blockReason: {reason})"),
        )
        .with_status(400)
        .with_code("content_filter"),
    )
}

/// A function-call part → an OpenAI tool call (`call_<k>` unless Gemini sent an id).
pub fn tool_call(call: &Value, k: usize) -> ToolCall {
    let args = call
        .get("args")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    ToolCall {
        id: call["id"]
            .as_str()
            .map_or_else(|| format!("call_{k}"), str::to_owned),
        kind: "function".to_owned(),
        function: FunctionCall {
            name: call["name"].as_str().unwrap_or("").to_owned(),
            arguments: serde_json::to_string(&args).unwrap_or_else(|_| "{}".to_owned()),
            extra: Map::new(),
        },
        extra: Map::new(),
    }
}

/// `modelVersion` without a `models/` prefix, else the requested model.
pub fn model_name(r: &Value, requested: &str) -> String {
    r["modelVersion"]
        .as_str()
        .map_or(requested, |m| m.strip_prefix("models/").unwrap_or(m))
        .to_owned()
}

/// Translate a complete response.
pub fn from_generate_response(
    r: &Value,
    requested_model: &str,
    created: u64,
    fallback_id: &str,
) -> Result<ChatResponse, GatewayError> {
    if let Some(e) = blocked_prompt(r) {
        return Err(e);
    }
    let choices = r["candidates"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let mut text = String::new();
            let mut reasoning = String::new();
            let mut calls = Vec::new();
            for p in c
                .pointer("/content/parts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(call) = p.get("functionCall") {
                    calls.push(tool_call(call, calls.len()));
                } else if let Some(t) = p["text"].as_str() {
                    if p["thought"] == true {
                        reasoning.push_str(t);
                    } else {
                        text.push_str(t);
                    }
                }
            }
            let reason = c["finishReason"].as_str().unwrap_or("STOP");
            ChatChoice {
                index: u32::try_from(c["index"].as_u64().unwrap_or(0)).unwrap_or(0),
                finish_reason: Some(finish_reason(reason, !calls.is_empty()).to_owned()),
                message: assistant_message(text, reasoning, calls, Vec::new()),
                logprobs: None,
                extra: Map::new(),
            }
        })
        .collect();
    Ok(ChatResponse {
        id: r["responseId"]
            .as_str()
            .map_or_else(|| fallback_id.to_owned(), str::to_owned),
        object: "chat.completion".to_owned(),
        created,
        model: model_name(r, requested_model),
        choices,
        usage: usage(&r["usageMetadata"]),
        system_fingerprint: None,
        service_tier: None,
        extra: Map::new(),
        native: None,
        raw: None,
    })
}

/// Translate `embedContent` (one `embedding`) or `batchEmbedContents` (`embeddings`).
pub fn from_embed_response(
    r: &Value,
    model: &str,
    format: Option<EncodingFormat>,
) -> EmbeddingResponse {
    let vectors: Vec<&Value> = match r.get("embedding") {
        Some(e) => vec![e],
        None => r["embeddings"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
    };
    let data = vectors
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let values: Vec<f32> = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_f64)
                .map(|f| f as f32)
                .collect();
            Embedding {
                object: "embedding".to_owned(),
                index: u32::try_from(i).unwrap_or(u32::MAX),
                embedding: match format {
                    Some(EncodingFormat::Base64) => {
                        EmbeddingVector::Base64(EmbeddingVector::encode_base64(&values))
                    }
                    _ => EmbeddingVector::Float(values),
                },
                extra: Map::new(),
            }
        })
        .collect();
    EmbeddingResponse {
        object: "list".to_owned(),
        data,
        model: model.to_owned(),
        usage: Some(EmbeddingUsage {
            prompt_tokens: 0,
            total_tokens: 0,
            extra: Map::new(),
        }),
        extra: Map::new(),
    }
}
