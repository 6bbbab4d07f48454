//! Cohere v2 chat and embed responses → canonical responses.
//!
//! Why billed units: Cohere reports two counts, `tokens` (everything the model processed,
//! including its own prompt scaffolding) and `billed_units` (what the account pays for). Cost
//! tracking and budgets must match the invoice, so usage comes from `billed_units`. Text next to
//! tool calls (`tool_plan`) is the assistant's visible text, so it becomes `content`; a reasoning
//! model's `thinking` blocks become `reasoning_content`, and cache hits (`cached_tokens`)
//! `prompt_tokens_details.cached_tokens`.

use heimdall_schema::chat::{ChatChoice, ChatResponse, ResponseMessage, ToolCall};
use heimdall_schema::embeddings::{Embedding, EmbeddingResponse, EmbeddingVector, EncodingFormat};
use heimdall_schema::error::GatewayError;
use heimdall_schema::usage::{EmbeddingUsage, PromptTokensDetails, Usage};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Cohere `finish_reason` → OpenAI's.
pub fn finish_reason(reason: &str) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "TOOL_CALL" => "tool_calls",
        // COMPLETE, STOP_SEQUENCE and anything new
        _ => "stop",
    }
}

/// `usage` of a chat response or `message-end` event.
pub fn usage(v: &Value) -> Option<Usage> {
    let billed = v.get("billed_units").or_else(|| v.get("tokens"))?;
    let input = billed["input_tokens"].as_f64().unwrap_or(0.0) as u64;
    let output = billed["output_tokens"].as_f64().unwrap_or(0.0) as u64;
    // Prompt tokens served from Cohere's inference cache (`usage.cached_tokens`).
    let cached = v["cached_tokens"].as_f64().map(|c| c as u64);
    Some(Usage {
        prompt_tokens: input,
        completion_tokens: output,
        total_tokens: input + output,
        prompt_tokens_details: cached.map(|c| PromptTokensDetails {
            cached_tokens: Some(c),
            audio_tokens: None,
            extra: Map::new(),
        }),
        completion_tokens_details: None,
        extra: Map::new(),
    })
}

#[derive(Deserialize)]
struct ChatOut {
    id: String,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    message: Value,
    #[serde(default)]
    usage: Value,
}

/// Translate a chat response (Cohere does not echo the model: the requested one is used).
pub fn from_chat_response(
    body: &[u8],
    model: &str,
    created: u64,
) -> Result<ChatResponse, serde_json::Error> {
    let r: ChatOut = serde_json::from_slice(body)?;
    let blocks = || r.message["content"].as_array().into_iter().flatten();
    let mut text: String = blocks()
        .filter(|c| c["type"] == "text")
        .filter_map(|c| c["text"].as_str())
        .collect();
    // Reasoning models answer with `thinking` blocks before the text.
    let reasoning: String = blocks()
        .filter(|c| c["type"] == "thinking")
        .filter_map(|c| c["thinking"].as_str())
        .collect();
    if text.is_empty()
        && let Some(plan) = r.message["tool_plan"].as_str()
    {
        plan.clone_into(&mut text);
    }
    let mut tool_calls: Vec<ToolCall> = match r.message.get("tool_calls") {
        Some(v) if !v.is_null() => serde_json::from_value(v.clone())?,
        _ => Vec::new(),
    };
    // A call of a tool without parameters comes as `""` or `"null"`; OpenAI clients parse
    // `arguments` as a JSON object.
    for call in &mut tool_calls {
        let args = call.function.arguments.trim();
        if args.is_empty() || args == "null" {
            "{}".clone_into(&mut call.function.arguments);
        }
    }
    Ok(ChatResponse {
        id: r.id,
        object: "chat.completion".to_owned(),
        created,
        model: model.to_owned(),
        choices: vec![ChatChoice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".to_owned(),
                content: (!text.is_empty()).then_some(text),
                refusal: None,
                tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
                thinking_blocks: None,
                extra: Map::new(),
            },
            finish_reason: r
                .finish_reason
                .as_deref()
                .map(|f| finish_reason(f).to_owned()),
            logprobs: None,
            extra: Map::new(),
        }],
        usage: usage(&r.usage),
        system_fingerprint: None,
        service_tier: None,
        extra: Map::new(),
        native: None,
        raw: None,
    })
}

#[derive(Deserialize)]
struct EmbedOut {
    #[serde(default)]
    embeddings: EmbedByType,
    #[serde(default)]
    meta: Value,
}

#[derive(Deserialize, Default)]
struct EmbedByType {
    #[serde(default)]
    float: Vec<Vec<f32>>,
}

/// Translate an embed response, encoding base64 when the client asked for it.
pub fn from_embed_response(
    body: &[u8],
    model: &str,
    format: Option<EncodingFormat>,
) -> Result<EmbeddingResponse, GatewayError> {
    let r: EmbedOut = serde_json::from_slice(body).map_err(|e| {
        GatewayError::new(
            heimdall_schema::error::ErrorKind::UpstreamProtocol,
            format!("cohere returned an unreadable embed response: {e}"),
        )
    })?;
    let tokens = r.meta["billed_units"]["input_tokens"]
        .as_f64()
        .unwrap_or(0.0) as u64;
    let data = r
        .embeddings
        .float
        .into_iter()
        .enumerate()
        .map(|(i, v)| Embedding {
            object: "embedding".to_owned(),
            index: u32::try_from(i).unwrap_or(u32::MAX),
            embedding: match format {
                Some(EncodingFormat::Base64) => {
                    EmbeddingVector::Base64(EmbeddingVector::encode_base64(&v))
                }
                _ => EmbeddingVector::Float(v),
            },
            extra: Map::new(),
        })
        .collect();
    Ok(EmbeddingResponse {
        object: "list".to_owned(),
        data,
        model: model.to_owned(),
        usage: Some(EmbeddingUsage {
            prompt_tokens: tokens,
            total_tokens: tokens,
            extra: Map::new(),
        }),
        extra: Map::new(),
    })
}
