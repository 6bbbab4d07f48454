//! LiteLLM's text-completion compatibility: `/v1/completions` aimed at a chat-only model (a
//! native-dialect provider: Anthropic, Gemini, Bedrock, Cohere, Vertex) is answered by turning
//! the prompt into one user message and the chat answer back into a `text_completion`, when
//! `client.enable_litellm_fallbacks` is on or the request sends `x-bf-litellm-fallbacks: true`.
//!
//! Why only for native dialects: OpenAI-compatible upstreams serve `/completions` themselves
//! (instruct models need it), so their requests are never rewritten.

use axum::http::HeaderMap;
use heimdall_config::WireFamily;
use heimdall_core::routing::resolve;
use heimdall_schema::chat::{ChatChunk, ChatRequest, ChatResponse};
use heimdall_schema::completions::{
    CompletionChoice, CompletionChunk, CompletionRequest, CompletionResponse, Prompt,
};
use heimdall_schema::error::GatewayError;
use serde_json::{Map, json};

use crate::state::AppState;

/// The per-request switch.
pub const HEADER: &str = "x-bf-litellm-fallbacks";

/// Whether this completion request should be answered through chat.
pub fn applies(state: &AppState, headers: &HeaderMap, model: &str) -> bool {
    let rt = state.gateway.runtime();
    let on = rt.config.client.enable_litellm_fallbacks
        || headers
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    on && resolve(
        &rt.routable,
        &rt.unavailable,
        &rt.config.model_aliases,
        model,
    )
    .ok()
    .and_then(|t| rt.routable.get(&t.provider).map(|p| p.kind.preset().wire))
    .is_some_and(|d| d == WireFamily::Native)
}

/// The completion request as a chat request (one prompt → one user message).
pub fn to_chat(req: &CompletionRequest) -> Result<ChatRequest, GatewayError> {
    let prompt = match &req.prompt {
        Some(Prompt::Text(t)) => t.clone(),
        Some(Prompt::Texts(v)) if v.len() == 1 => v[0].clone(),
        _ => {
            return Err(GatewayError::invalid_request(
                "a chat-only model answers one text prompt; send a single string",
                Some("prompt".to_owned()),
            ));
        }
    };
    let mut chat = json!({"model": req.model, "messages": [{"role": "user", "content": prompt}]});
    if let Some(o) = chat.as_object_mut() {
        let fields = [
            ("max_tokens", req.max_tokens.map(|v| json!(v))),
            ("temperature", req.temperature.map(|v| json!(v))),
            ("top_p", req.top_p.map(|v| json!(v))),
            ("stop", req.stop.as_ref().map(|s| json!(s))),
            ("stream", req.stream.map(|v| json!(v))),
            (
                "stream_options",
                req.stream_options.as_ref().map(|s| json!(s)),
            ),
            ("seed", req.seed.map(|v| json!(v))),
            ("user", req.user.as_ref().map(|v| json!(v))),
        ];
        for (k, v) in fields {
            if let Some(v) = v {
                o.insert(k.to_owned(), v);
            }
        }
    }
    serde_json::from_value(chat)
        .map_err(|e| GatewayError::invalid_request(format!("cannot convert the prompt: {e}"), None))
}

/// A chat answer as a text completion.
pub fn to_completion(r: ChatResponse) -> CompletionResponse {
    CompletionResponse {
        id: r.id,
        object: "text_completion".to_owned(),
        created: r.created,
        model: r.model,
        choices: r
            .choices
            .into_iter()
            .map(|c| CompletionChoice {
                text: c.message.content.unwrap_or_default(),
                index: c.index,
                logprobs: None,
                finish_reason: c.finish_reason,
                extra: Map::new(),
            })
            .collect(),
        usage: r.usage,
        ..CompletionResponse::default()
    }
}

/// A chat chunk as a text-completion chunk.
pub fn to_completion_chunk(c: ChatChunk) -> CompletionChunk {
    to_completion(ChatResponse {
        id: c.id,
        object: String::new(),
        created: c.created,
        model: c.model,
        choices: c
            .choices
            .into_iter()
            .map(|ch| heimdall_schema::chat::ChatChoice {
                index: ch.index,
                message: heimdall_schema::chat::ResponseMessage {
                    content: ch.delta.content.flatten(),
                    ..Default::default()
                },
                finish_reason: ch.finish_reason,
                logprobs: None,
                extra: Map::new(),
            })
            .collect(),
        usage: c.usage,
        system_fingerprint: None,
        service_tier: None,
        extra: Map::new(),
        native: None,
        raw: None,
    })
}
