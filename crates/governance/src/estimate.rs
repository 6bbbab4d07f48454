//! A request's worst case before it is sent: prompt tokens counted with a real tokenizer
//! (`o200k_base`, which `tiktoken-rs` ships), plus the most output it may produce.
//!
//! Why worst case: a budget is admitted by reserving this estimate at the output price, so
//! concurrent requests cannot overshoot it together; the reservation is settled to the actual
//! cost at the end. Over-estimating only holds headroom for the length of one request.

use heimdall_core::GatewayRequest;
use heimdall_schema::chat::{ChatMessage, ContentPart, MessageContent};
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

/// Tokens of `text`: exact for ordinary text up to 64 KiB.
///
/// A BPE merge is quadratic in the length of one pre-tokenised piece, so a long run without
/// whitespace (base64, a repeated character) could cost milliseconds to count: a word longer
/// than [`LONG_WORD`] bytes is counted as one token per 2 bytes instead (more than any
/// tokenizer makes of it — an estimate may be high, never cheap to inflate in CPU).
pub fn count_tokens(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    let bpe = tiktoken_rs::o200k_base_singleton();
    let mut total = 0u64;
    let mut exact_budget = EXACT_BYTES;
    let mut batch_start: Option<usize> = None;
    let mut batch_end = 0usize;
    let flush = |start: Option<usize>, end: usize, total: &mut u64| {
        if let Some(s) = start {
            *total += bpe.encode_ordinary(&text[s..end]).len() as u64;
        }
    };
    let mut at = 0usize;
    for piece in text.split_inclusive(char::is_whitespace) {
        let word = piece.trim_end();
        if word.len() > LONG_WORD || exact_budget < piece.len() {
            flush(batch_start.take(), batch_end, &mut total);
            total += piece
                .len()
                .div_ceil(if word.len() > LONG_WORD { 2 } else { 3 }) as u64;
        } else {
            exact_budget -= piece.len();
            let start = *batch_start.get_or_insert(at);
            batch_end = at + piece.len();
            if batch_end - start >= BATCH_BYTES {
                // Cut before the whitespace: the tokenizer joins a space to the next word.
                let cut = at + word.len();
                flush(Some(start), cut, &mut total);
                batch_start = (cut < batch_end).then_some(cut);
            }
        }
        at += piece.len();
    }
    flush(batch_start, batch_end, &mut total);
    total
}

/// Longest whitespace-free run given to the tokenizer.
const LONG_WORD: usize = 48;
/// Text handed to the tokenizer at once.
const BATCH_BYTES: usize = 4 * 1024;

/// Load the tokenizer's vocabulary now, on a thread of its own (it takes a moment — most of a
/// second in a debug build), so the first governed request does not wait for it.
pub fn warm_up() {
    let started = std::thread::Builder::new()
        .name("tokenizer-warm-up".to_owned())
        .spawn(|| {
            let _ = tiktoken_rs::o200k_base_singleton();
        });
    if let Err(e) = started {
        tracing::debug!(error = %e, "tokenizer warm-up thread not started; loading on first use");
    }
}

/// The estimate of a request.
pub fn estimate(req: &GatewayRequest) -> Estimate {
    match req {
        GatewayRequest::Chat(c) => {
            let mut text = String::new();
            let mut media = 0u64;
            for m in &c.messages {
                media += push_message(m, &mut text);
            }
            if let Some(tools) = &c.tools {
                text.push_str(&serde_json::to_string(tools).unwrap_or_default());
            }
            let n = u64::from(c.n.unwrap_or(1).max(1));
            let out = c
                .max_completion_tokens
                .or(c.max_tokens)
                .map_or(DEFAULT_MAX_OUTPUT_TOKENS, u64::from);
            Estimate {
                prompt_tokens: count_tokens(&text)
                    + media
                    + PER_MESSAGE_TOKENS * c.messages.len() as u64,
                max_output_tokens: out * n,
            }
        }
        GatewayRequest::Completion(c) => {
            let prompt = match &c.prompt {
                Some(Prompt::Text(t)) => count_tokens(t),
                Some(Prompt::Texts(ts)) => ts.iter().map(|t| count_tokens(t)).sum(),
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
                EmbeddingInput::Text(t) => count_tokens(t),
                EmbeddingInput::Texts(ts) => ts.iter().map(|t| count_tokens(t)).sum(),
                EmbeddingInput::Tokens(t) => t.len() as u64,
                EmbeddingInput::TokenLists(ts) => ts.iter().map(|t| t.len() as u64).sum(),
            },
            max_output_tokens: 0,
        },
    }
}

/// Append a message's text; return the tokens assumed for its media parts.
fn push_message(m: &ChatMessage, text: &mut String) -> u64 {
    match m {
        ChatMessage::System(i) | ChatMessage::Developer(i) => push_content(&i.content, text),
        ChatMessage::User(u) => push_content(&u.content, text),
        ChatMessage::Tool(t) => push_content(&t.content, text),
        ChatMessage::Assistant(a) => {
            let media = a.content.as_ref().map_or(0, |c| push_content(c, text));
            if let Some(calls) = &a.tool_calls {
                text.push_str(&serde_json::to_string(calls).unwrap_or_default());
            }
            media
        }
        ChatMessage::Function(f) => {
            text.push_str(f.content.as_deref().unwrap_or(""));
            0
        }
    }
}

fn push_content(c: &MessageContent, text: &mut String) -> u64 {
    match c {
        MessageContent::Text(t) => {
            text.push_str(t);
            0
        }
        MessageContent::Parts(parts) => {
            text.push_str(&c.text());
            parts
                .iter()
                .filter(|p| {
                    !matches!(
                        p,
                        ContentPart::Known(heimdall_schema::chat::KnownPart::Text { .. })
                    )
                })
                .count() as u64
                * MEDIA_PART_TOKENS
        }
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
        // One 1 MiB run without whitespace: counted without the quadratic merge.
        let started = std::time::Instant::now();
        let run = "x".repeat(1 << 20);
        assert_eq!(count_tokens(&run), 1 << 19);
        assert!(started.elapsed() < std::time::Duration::from_millis(200));
        // Ordinary text is exact, batches or not.
        let prose = "The quick brown fox jumps over the lazy dog. ".repeat(200);
        let exact = tiktoken_rs::o200k_base_singleton()
            .encode_ordinary(&prose)
            .len() as u64;
        assert_eq!(count_tokens(&prose), exact);
    }
}
