//! Response payloads shaped as in the OpenAI API reference: chat completions (text and tool
//! calls), stream chunks, text completions, embeddings, model lists, errors.
//!
//! Why deterministic: tests assert on content, usage and vectors; the same request always
//! gets the same answer (ids and timestamps aside).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

const WORDS: &[&str] = &[
    "Hello",
    "from",
    "the",
    "mock",
    "provider.",
    "This",
    "answer",
    "streams",
    "in",
    "small",
    "pieces",
    "so",
    "clients",
    "see",
    "tokens",
    "arrive.",
];

/// The content pieces of an answer with `n` chunks.
pub fn content_pieces(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let w = WORDS.get(i % WORDS.len()).copied().unwrap_or("word");
            if i + 1 == n {
                w.to_owned()
            } else {
                format!("{w} ")
            }
        })
        .collect()
}

/// What the model "calls" when tools are offered.
#[derive(Debug, Clone)]
pub struct ToolCallPlan {
    /// Tool call id.
    pub id: String,
    /// Function name.
    pub name: String,
    /// JSON-encoded arguments.
    pub arguments: String,
}

/// Arguments object from a JSON-Schema `parameters`: each required (else declared) property
/// gets the string "mock".
pub fn arguments_for(parameters: Option<&Value>) -> String {
    let mut args = serde_json::Map::new();
    if let Some(p) = parameters {
        let names: Vec<String> = match p.get("required").and_then(Value::as_array) {
            Some(req) if !req.is_empty() => req
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => p
                .get("properties")
                .and_then(Value::as_object)
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default(),
        };
        for n in names {
            args.insert(n, Value::String("mock".into()));
        }
    }
    Value::Object(args).to_string()
}

/// Usage object.
pub fn usage(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    })
}

/// A non-streamed chat completion.
pub fn chat_completion(
    id: &str,
    created: u64,
    model: &str,
    chunks: usize,
    tool: Option<&ToolCallPlan>,
    prompt_tokens: u64,
) -> Value {
    let (message, finish, completion_tokens) = match tool {
        Some(t) => (
            json!({"role": "assistant", "content": null, "refusal": null,
                "tool_calls": [{"id": t.id, "type": "function",
                    "function": {"name": t.name, "arguments": t.arguments}}]}),
            "tool_calls",
            chunks as u64,
        ),
        None => (
            json!({"role": "assistant", "content": content_pieces(chunks).concat(), "refusal": null}),
            "stop",
            chunks as u64,
        ),
    };
    json!({
        "id": id, "object": "chat.completion", "created": created, "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": usage(prompt_tokens, completion_tokens),
        "system_fingerprint": "fp_mock"
    })
}

/// The data payloads of a streamed chat completion (without `[DONE]`).
pub fn chat_stream_events(
    id: &str,
    created: u64,
    model: &str,
    chunks: usize,
    tool: Option<&ToolCallPlan>,
    prompt_tokens: u64,
    include_usage: bool,
) -> Vec<Value> {
    let chunk = |delta: Value, finish: Value| {
        let mut c = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]
        });
        if include_usage && let Some(o) = c.as_object_mut() {
            o.insert("usage".into(), Value::Null);
        }
        c
    };
    let mut out = Vec::with_capacity(chunks + 3);
    match tool {
        Some(t) => {
            out.push(chunk(
                json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": t.id,
                    "type": "function", "function": {"name": t.name, "arguments": ""}}]}),
                Value::Null,
            ));
            for piece in split_even(&t.arguments, chunks) {
                out.push(chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
                    Value::Null,
                ));
            }
            out.push(chunk(json!({}), json!("tool_calls")));
        }
        None => {
            out.push(chunk(
                json!({"role": "assistant", "content": "", "refusal": null}),
                Value::Null,
            ));
            for piece in content_pieces(chunks) {
                out.push(chunk(json!({"content": piece}), Value::Null));
            }
            out.push(chunk(json!({}), json!("stop")));
        }
    }
    if include_usage {
        out.push(json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "fp_mock", "choices": [],
            "usage": usage(prompt_tokens, chunks as u64)
        }));
    }
    out
}

/// Split `s` into at most `n` non-empty pieces on char boundaries.
fn split_even(s: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let n = n.clamp(1, chars.len().max(1));
    let size = chars.len().div_ceil(n).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

/// A text completion, or the data payloads of a streamed one.
pub fn text_completion(
    id: &str,
    created: u64,
    model: &str,
    chunks: usize,
    prompt_tokens: u64,
) -> Value {
    json!({
        "id": id, "object": "text_completion", "created": created, "model": model,
        "choices": [{"text": content_pieces(chunks).concat(), "index": 0, "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": chunks, "total_tokens": prompt_tokens + chunks as u64},
        "system_fingerprint": "fp_mock"
    })
}

/// Data payloads of a streamed text completion (without `[DONE]`).
pub fn text_stream_events(
    id: &str,
    created: u64,
    model: &str,
    chunks: usize,
    prompt_tokens: u64,
    include_usage: bool,
) -> Vec<Value> {
    let pieces = content_pieces(chunks);
    let last = pieces.len().saturating_sub(1);
    let mut out: Vec<Value> = pieces
        .into_iter()
        .enumerate()
        .map(|(i, text)| {
            json!({"id": id, "object": "text_completion", "created": created, "model": model,
                "choices": [{"text": text, "index": 0, "logprobs": null,
                    "finish_reason": if i == last { json!("stop") } else { Value::Null }}]})
        })
        .collect();
    if include_usage {
        out.push(
            json!({"id": id, "object": "text_completion", "created": created, "model": model,
            "choices": [], "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": chunks,
            "total_tokens": prompt_tokens + chunks as u64}}),
        );
    }
    out
}

/// A deterministic unit vector for `text`.
pub fn embedding_vector(text: &str, dims: usize) -> Vec<f32> {
    // FNV-1a seed, then xorshift64*: cheap, deterministic, spread over [-1, 1].
    let mut state: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        state ^= u64::from(*b);
        state = state.wrapping_mul(0x0100_0000_01b3);
    }
    if state == 0 {
        state = 1;
    }
    let mut v: Vec<f32> = (0..dims)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let x = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
            ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut v {
            *x /= norm;
        }
    }
    v
}

/// Base64 of little-endian f32 bytes (OpenAI's `encoding_format: "base64"`).
pub fn embedding_base64(v: &[f32]) -> String {
    let mut bytes = Vec::with_capacity(v.len() * 4);
    for x in v {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    STANDARD.encode(bytes)
}

/// OpenAI error body for a status.
pub fn error_body(status: u16, message: &str) -> Value {
    let (kind, code) = match status {
        400 => ("invalid_request_error", Value::Null),
        401 => ("authentication_error", json!("invalid_api_key")),
        403 => ("permission_error", Value::Null),
        404 => ("invalid_request_error", json!("model_not_found")),
        429 => ("rate_limit_error", json!("rate_limit_exceeded")),
        _ => ("server_error", Value::Null),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}
