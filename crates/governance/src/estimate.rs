//! A request's worst case before it is sent: prompt tokens counted with a real tokenizer
//! (OpenAI's `o200k_base`, from `bpe-openai`, which ships the vocabulary and counts in linear
//! time — 6× faster than `tiktoken-rs` on a 1 KB prompt, same counts), plus the most output it
//! may produce.
//!
//! Why worst case: a budget is admitted by reserving this estimate at the output price, so
//! concurrent requests cannot overshoot it together; the reservation is settled to the actual
//! cost at the end. Over-estimating only holds headroom for the length of one request.

use heimdall_core::GatewayRequest;
use heimdall_schema::chat::{ChatMessage, ContentPart, KnownPart, MessageContent};
use heimdall_schema::completions::Prompt;
use heimdall_schema::embeddings::EmbeddingInput;

/// Output assumed when the request sets no `max_tokens` (the catalog has no output limits).
pub const DEFAULT_MAX_OUTPUT_TOKENS: u64 = 4_096;
/// Text counted exactly; beyond it, one token per 3 bytes (an over-estimate for the
/// tokenizers in use), so a huge prompt costs no more than this to estimate.
const EXACT_BYTES: usize = 64 * 1024;
/// Tokens assumed per image, audio or file part (a high-detail 512 px tile is 765).
const MEDIA_PART_TOKENS: u64 = 1_000;
/// Per-message framing tokens (role, separators).
const PER_MESSAGE_TOKENS: u64 = 4;

/// What a request may use at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Estimate {
    /// Prompt tokens (counted).
    pub prompt_tokens: u64,
    /// Output tokens at most (`max_tokens` × `n`, or the default).
    pub max_output_tokens: u64,
}

/// Tokens of `text`: exact up to 64 KiB, one per 3 bytes beyond (an over-estimate for the
/// tokenizers in use), so a huge prompt costs at most ~0.7 ms to count.
pub fn count_tokens(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    let mut cut = text.len().min(EXACT_BYTES);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let exact = bpe_openai::o200k_base().count(&text[..cut]) as u64;
    exact + (text.len() - cut).div_ceil(3) as u64
}

/// Load the tokenizer's vocabulary now, on a thread of its own (it takes a moment — most of a
/// second in a debug build), so the first governed request does not wait for it.
pub fn warm_up() {
    let started = std::thread::Builder::new()
        .name("tokenizer-warm-up".to_owned())
        .spawn(|| {
            let _ = bpe_openai::o200k_base();
        });
    if let Err(e) = started {
        tracing::debug!(error = %e, "tokenizer warm-up thread not started; loading on first use");
    }
}

/// The estimate of a request.
pub fn estimate(req: &GatewayRequest) -> Estimate {
    match req {
        GatewayRequest::Chat(c) => {
            let mut prompt = PER_MESSAGE_TOKENS * c.messages.len() as u64;
            for m in &c.messages {
                prompt += message_tokens(m);
            }
            if let Some(tools) = &c.tools {
                prompt += count_text(&serde_json::to_string(tools).unwrap_or_default());
            }
            let n = u64::from(c.n.unwrap_or(1).max(1));
            let out = c
                .max_completion_tokens
                .or(c.max_tokens)
                .map_or(DEFAULT_MAX_OUTPUT_TOKENS, u64::from);
            Estimate {
                prompt_tokens: prompt,
                max_output_tokens: out * n,
            }
        }
        GatewayRequest::Completion(c) => {
            let prompt = match &c.prompt {
                Some(Prompt::Text(t)) => count_text(t),
                Some(Prompt::Texts(ts)) => ts.iter().map(|t| count_text(t)).sum(),
                Some(Prompt::Tokens(t)) => t.len() as u64,
                Some(Prompt::TokenLists(ts)) => ts.iter().map(|t| t.len() as u64).sum(),
                None => 0,
            };
            let n = u64::from(c.n.unwrap_or(1).max(1));
            // OpenAI's legacy default for completions is 16 tokens.
            let out = c.max_tokens.map_or(16, u64::from);
            Estimate {
                prompt_tokens: prompt,
                max_output_tokens: out * n,
            }
        }
        GatewayRequest::Embedding(e) => Estimate {
            prompt_tokens: match &e.input {
                EmbeddingInput::Text(t) => count_text(t),
                EmbeddingInput::Texts(ts) => ts.iter().map(|t| count_text(t)).sum(),
                EmbeddingInput::Tokens(t) => t.len() as u64,
                EmbeddingInput::TokenLists(ts) => ts.iter().map(|t| t.len() as u64).sum(),
            },
            max_output_tokens: 0,
        },
        // Audio, images and rerank: the text sent is the estimate (output is audio, images
        // or scores, priced by the upstream's own usage when it reports any).
        GatewayRequest::Speech(s) => input_only(count_text(&s.input)),
        GatewayRequest::Transcription(f) | GatewayRequest::Translation(f) => {
            input_only(f.field("prompt").map_or(0, count_text))
        }
        GatewayRequest::ImageGeneration(i) => input_only(count_text(&i.prompt)),
        GatewayRequest::ImageEdit(f) => input_only(f.field("prompt").map_or(0, count_text)),
        GatewayRequest::Rerank(r) => input_only(
            count_text(&r.query) * r.documents.len().max(1) as u64
                + r.documents
                    .iter()
                    .map(|d| count_text(d.text()))
                    .sum::<u64>(),
        ),
    }
}

fn input_only(prompt_tokens: u64) -> Estimate {
    Estimate {
        prompt_tokens,
        max_output_tokens: 0,
    }
}

/// A text's tokens, remembered when long (conversations resend their history every turn).
fn count_text(text: &str) -> u64 {
    crate::token_cache::cached(text, count_tokens)
}

/// The tokens of one message's text, tool calls and media parts.
fn message_tokens(m: &ChatMessage) -> u64 {
    match m {
        ChatMessage::System(i) | ChatMessage::Developer(i) => content_tokens(&i.content),
        ChatMessage::User(u) => content_tokens(&u.content),
        ChatMessage::Tool(t) => content_tokens(&t.content),
        ChatMessage::Assistant(a) => {
            let calls = a.tool_calls.as_ref().map_or(0, |calls| {
                count_text(&serde_json::to_string(calls).unwrap_or_default())
            });
            a.content.as_ref().map_or(0, content_tokens) + calls
        }
        ChatMessage::Function(f) => count_text(f.content.as_deref().unwrap_or("")),
    }
}

fn content_tokens(c: &MessageContent) -> u64 {
    match c {
        MessageContent::Text(t) => count_text(t),
        MessageContent::Parts(parts) => parts
            .iter()
            .map(|p| match p {
                ContentPart::Known(KnownPart::Text { text, .. }) => count_text(text),
                _ => MEDIA_PART_TOKENS,
            })
            .sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(body: serde_json::Value) -> GatewayRequest {
        GatewayRequest::Chat(serde_json::from_value(body).unwrap())
    }

    #[test]
    fn prompts_are_counted_with_the_tokenizer() {
        assert_eq!(count_tokens("hello world"), 2);
        let e = estimate(&chat(serde_json::json!({
            "model": "m", "max_tokens": 50, "n": 2,
            "messages": [{"role": "user", "content": "hello world"}]
        })));
        assert_eq!(
            e,
            Estimate {
                prompt_tokens: 2 + PER_MESSAGE_TOKENS,
                max_output_tokens: 100
            }
        );
        let e = estimate(&chat(serde_json::json!({
            "model": "m", "messages": [{"role": "user", "content": [
                {"type": "text", "text": "hello world"},
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}}
            ]}]
        })));
        assert_eq!(e.prompt_tokens, 2 + PER_MESSAGE_TOKENS + MEDIA_PART_TOKENS);
        assert_eq!(e.max_output_tokens, DEFAULT_MAX_OUTPUT_TOKENS);
    }

    #[test]
    fn huge_prompts_are_over_estimated_cheaply() {
        let text = "word ".repeat(100_000);
        let n = count_tokens(&text);
        assert!(n >= 100_000, "{n}");
        // One 1 MiB run without whitespace: linear, capped.
        let started = std::time::Instant::now();
        let run = "x".repeat(1 << 20);
        assert!(count_tokens(&run) >= ((1 << 20) - EXACT_BYTES as u64) / 3);
        assert!(started.elapsed() < std::time::Duration::from_millis(200));
        // Under the cap, the count is the tokenizer's own.
        let prose = "The quick brown fox jumps over the lazy dog. ".repeat(200);
        let exact = bpe_openai::o200k_base().encode(prose.as_str()).len() as u64;
        assert_eq!(count_tokens(&prose), exact);
    }
}
