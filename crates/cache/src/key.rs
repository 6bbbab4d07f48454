//! Cache keys: the exact key of a request, and the text and bucket of its semantic lookup.
//!
//! Why a canonical form: two requests that must get the same answer must get the same key, and
//! two that may get different answers must not. The key is a hash of the request's JSON after
//! normalisation — fields that do not change the answer dropped, parameters equal to their
//! documented default dropped, equivalent spellings made one — with object keys sorted
//! explicitly (never relying on `serde_json`'s map order, which `preserve_order` can change
//! through feature unification). Unknown fields (`extra`) stay in: a parameter the gateway does
//! not model may well change the answer. The tenant and the namespace are hashed in, so a key
//! cannot reach another tenant's entries.
//!
//! Dropped, because they do not change the answer:
//! - `stream`, `stream_options`: transport; a stream and a complete response share an entry
//!   (see [`crate::assemble`]).
//! - `user`, `safety_identifier`: end-user ids for abuse detection.
//! - `metadata`, `store`: dashboard tags, and whether OpenAI keeps the completion for
//!   distillation and evals.
//! - `service_tier`: latency and price, same model.
//! - `prompt_cache_key`, `prompt_cache_retention`, `prompt_cache_options`, and the
//!   `cache_control` / `prompt_cache_breakpoint` hints on messages, content parts and tools:
//!   provider prompt caching (cost and latency only).
//! - `fallbacks`: the gateway's own, consumed before the request goes upstream.
//! - `null` fields of the request, its messages, content parts, tools and response format
//!   (absent and `null` mean the same there; nulls inside JSON schemas and other free-form
//!   values are kept, where they can mean something).
//! - `native` (the client's original body) is never serialised, so it is not part of the
//!   canonical form: a caller that may send it upstream must key it itself.
//!
//! Dropped when equal to the default the OpenAI API reference documents:
//! - chat: `temperature` 1, `top_p` 1, `n` 1, `presence_penalty` 0, `frequency_penalty` 0,
//!   `logprobs` false, `parallel_tool_calls` true, `verbosity` "medium", `modalities`
//!   `["text"]`, `response_format` `{"type":"text"}` ("default response format"),
//!   `tool_choice` "auto" with tools and "none" without, `logit_bias` `{}` (default null).
//! - completions: `temperature` 1, `top_p` 1, `n` 1, `presence_penalty` 0,
//!   `frequency_penalty` 0, `best_of` 1, `echo` false, `max_tokens` 16, `logit_bias` `{}`.
//!
//! These are OpenAI's defaults. A provider with another default (some default `temperature`
//! lower) answers an explicit 1 and an absent value differently; accepted, as the two are
//! samples of nearly the same distribution and a hit returns one sample either way.
//!
//! Made one spelling: a message `content` (and a tool message's) made only of text parts is the
//! joined string; `stop: ["x"]` is `"x"`; a completion `prompt: ["x"]` is `"x"`; a number with
//! no fraction is written as an integer (`1.0` as `1`). The model: dropped when
//! `!cache_by_model`, its `provider/` prefix dropped when `!cache_by_provider`. System and
//! developer messages are dropped when `exclude_system_prompt`.
//!
//! Kept on purpose: `seed`; `max_tokens` and `max_completion_tokens` apart (reasoning models
//! count them differently); `reasoning_effort` even at "medium" (its default differs by model);
//! `moderation`, `prediction`; tool call ids in the history; message `name`s; text parts that
//! carry anything besides `type` and `text` (a part-level field may matter).

use std::borrow::Cow;

use heimdall_core::GatewayRequest;
use heimdall_schema::chat::{ChatMessage, ChatRequest, ContentPart, KnownPart, MessageContent};
use heimdall_schema::completions::{CompletionRequest, Prompt};
use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};

/// Format tag of exact keys; bump when the canonical form changes, so old entries miss.
const EXACT_TAG: &str = "heimdall.cache.exact.v1";
/// Format tag of semantic buckets.
const BUCKET_TAG: &str = "heimdall.cache.bucket.v1";
/// Hex characters of a key or bucket (128 bits).
const HEX_LEN: usize = 32;

/// Request fields that never change the answer.
const NEUTRAL: [&str; 11] = [
    "stream",
    "stream_options",
    "user",
    "safety_identifier",
    "metadata",
    "store",
    "service_tier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "prompt_cache_options",
    "fallbacks",
];

/// Prompt-caching hints on messages, content parts and tools.
const CACHE_HINTS: [&str; 2] = ["cache_control", "prompt_cache_breakpoint"];

/// A documented default value.
#[derive(Clone, Copy)]
enum Documented {
    Num(f64),
    Bool(bool),
    Str(&'static str),
}

impl Documented {
    fn matches(self, v: &Value) -> bool {
        match self {
            Self::Num(n) => v.as_f64() == Some(n),
            Self::Bool(b) => v.as_bool() == Some(b),
            Self::Str(s) => v.as_str() == Some(s),
        }
    }
}

const CHAT_DEFAULTS: [(&str, Documented); 8] = [
    ("temperature", Documented::Num(1.0)),
    ("top_p", Documented::Num(1.0)),
    ("n", Documented::Num(1.0)),
    ("presence_penalty", Documented::Num(0.0)),
    ("frequency_penalty", Documented::Num(0.0)),
    ("logprobs", Documented::Bool(false)),
    ("parallel_tool_calls", Documented::Bool(true)),
    ("verbosity", Documented::Str("medium")),
];

const COMPLETION_DEFAULTS: [(&str, Documented); 8] = [
    ("temperature", Documented::Num(1.0)),
    ("top_p", Documented::Num(1.0)),
    ("n", Documented::Num(1.0)),
    ("presence_penalty", Documented::Num(0.0)),
    ("frequency_penalty", Documented::Num(0.0)),
    ("best_of", Documented::Num(1.0)),
    ("echo", Documented::Bool(false)),
    ("max_tokens", Documented::Num(16.0)),
];

/// Whose entries a key reaches, and which parts of the request it covers.
#[derive(Debug, Clone, Copy)]
pub struct KeyScope<'a> {
    /// The tenant the entry belongs to.
    pub tenant: &'a str,
    /// The cache key (`x-bf-cache-key` or the configured default).
    pub namespace: &'a str,
    /// Different models get different entries.
    pub cache_by_model: bool,
    /// `openai/gpt-4o` and `azure/gpt-4o` get different entries (with `cache_by_model`).
    pub cache_by_provider: bool,
    /// System and developer messages are left out of keys and semantic text.
    pub exclude_system_prompt: bool,
}

/// What the semantic tier needs of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemanticParts {
    /// The text to embed.
    pub text: String,
    /// Hash of everything else: a semantic hit needs the same bucket.
    pub bucket: String,
}

/// The request's canonical JSON (see the module doc); `None` for embeddings, which are not
/// cached.
pub fn canonical_request(req: &GatewayRequest, scope: &KeyScope<'_>) -> Option<Value> {
    match req {
        GatewayRequest::Chat(r) => canonical_chat(r, scope),
        GatewayRequest::Completion(r) => canonical_completion(r, scope),
        GatewayRequest::Embedding(_) => None,
        GatewayRequest::Speech(_)
        | GatewayRequest::Transcription(_)
        | GatewayRequest::Translation(_)
        | GatewayRequest::ImageGeneration(_)
        | GatewayRequest::ImageEdit(_)
        | GatewayRequest::Rerank(_) => None,
    }
}

/// The exact-tier key: 32 hex characters of SHA-256 over the format tag, the operation, the
/// tenant, the namespace and the canonical request (each length-prefixed).
pub fn exact_key(req: &GatewayRequest, scope: &KeyScope<'_>) -> Option<String> {
    let canon = canonical_request(req, scope)?;
    digest(EXACT_TAG, operation(req)?, scope, &canon)
}

/// The semantic tier's text and bucket; `None` when the request is not semantically cacheable:
/// embeddings, a chat with more than `history_threshold` non-system messages, any non-text
/// content (images, audio, files), any tool call or tool result, an empty text, a completion
/// whose prompt is not one string.
pub fn semantic_parts(
    req: &GatewayRequest,
    scope: &KeyScope<'_>,
    history_threshold: usize,
) -> Option<SemanticParts> {
    let text = match req {
        GatewayRequest::Chat(r) => chat_text(r, scope, history_threshold)?,
        GatewayRequest::Completion(r) => completion_text(r)?,
        GatewayRequest::Embedding(_)
        | GatewayRequest::Speech(_)
        | GatewayRequest::Transcription(_)
        | GatewayRequest::Translation(_)
        | GatewayRequest::ImageGeneration(_)
        | GatewayRequest::ImageEdit(_)
        | GatewayRequest::Rerank(_) => return None,
    };
    let mut canon = canonical_request(req, scope)?;
    if let Value::Object(obj) = &mut canon {
        obj.remove("prompt");
        if let Some(Value::Array(messages)) = obj.get_mut("messages") {
            for m in messages.iter_mut().filter_map(Value::as_object_mut) {
                m.remove("content");
            }
        }
    }
    let bucket = digest(BUCKET_TAG, operation(req)?, scope, &canon)?;
    Some(SemanticParts { text, bucket })
}

fn operation(req: &GatewayRequest) -> Option<&'static str> {
    match req {
        GatewayRequest::Chat(_) => Some("chat"),
        GatewayRequest::Completion(_) => Some("completion"),
        // Audio, images and rerank are not cached: answers are binary or large, and a new
        // image or voice take is what a client asks for again.
        GatewayRequest::Embedding(_)
        | GatewayRequest::Speech(_)
        | GatewayRequest::Transcription(_)
        | GatewayRequest::Translation(_)
        | GatewayRequest::ImageGeneration(_)
        | GatewayRequest::ImageEdit(_)
        | GatewayRequest::Rerank(_) => None,
    }
}

fn canonical_chat(req: &ChatRequest, scope: &KeyScope<'_>) -> Option<Value> {
    let mut v = serde_json::to_value(req).ok()?;
    let obj = v.as_object_mut()?;
    common(obj, &CHAT_DEFAULTS, scope);
    let has_tools = obj
        .get("tools")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty());
    let default_choice = if has_tools { "auto" } else { "none" };
    if obj.get("tool_choice").and_then(Value::as_str) == Some(default_choice) {
        obj.remove("tool_choice");
    }
    if obj
        .get("modalities")
        .and_then(Value::as_array)
        .is_some_and(|m| m.len() == 1 && m[0] == "text")
    {
        obj.remove("modalities");
    }
    if let Some(Value::Object(rf)) = obj.get_mut("response_format") {
        rf.retain(|_, v| !v.is_null());
        if let Some(Value::Object(js)) = rf.get_mut("json_schema") {
            js.retain(|_, v| !v.is_null());
        }
        if rf.len() == 1 && rf.get("type").is_some_and(|t| t == "text") {
            obj.remove("response_format");
        }
    }
    if let Some(Value::Array(messages)) = obj.get_mut("messages") {
        if scope.exclude_system_prompt {
            messages.retain(|m| !is_instruction(m));
        }
        for m in messages.iter_mut().filter_map(Value::as_object_mut) {
            structural(m);
            if let Some(content) = m.get_mut("content") {
                content_as_text(content);
            }
        }
    }
    if let Some(Value::Array(tools)) = obj.get_mut("tools") {
        for t in tools.iter_mut().filter_map(Value::as_object_mut) {
            structural(t);
            if let Some(Value::Object(f)) = t.get_mut("function") {
                f.retain(|_, v| !v.is_null());
            }
        }
    }
    integral_numbers(&mut v);
    Some(v)
}

fn canonical_completion(req: &CompletionRequest, scope: &KeyScope<'_>) -> Option<Value> {
    let mut v = serde_json::to_value(req).ok()?;
    let obj = v.as_object_mut()?;
    common(obj, &COMPLETION_DEFAULTS, scope);
    if let Some(prompt) = obj.get_mut("prompt") {
        single_string(prompt);
    }
    integral_numbers(&mut v);
    Some(v)
}

/// Normalisation of the top level shared by chat and completions.
fn common(obj: &mut Map<String, Value>, defaults: &[(&str, Documented)], scope: &KeyScope<'_>) {
    obj.retain(|k, v| {
        !v.is_null()
            && !NEUTRAL.contains(&k.as_str())
            && !defaults.iter().any(|(name, d)| name == k && d.matches(v))
    });
    if obj
        .get("logit_bias")
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty)
    {
        obj.remove("logit_bias");
    }
    if let Some(stop) = obj.get_mut("stop") {
        single_string(stop);
    }
    if !scope.cache_by_model {
        obj.remove("model");
    } else if !scope.cache_by_provider
        && let Some(Value::String(model)) = obj.get_mut("model")
        && let Some((_, bare)) = model.split_once('/')
    {
        *model = bare.to_owned();
    }
}

/// `["x"]` → `"x"`.
fn single_string(v: &mut Value) {
    if let Value::Array(items) = v
        && items.len() == 1
        && let Some(Value::String(s)) = items.pop()
    {
        *v = Value::String(s);
    }
}

fn is_instruction(m: &Value) -> bool {
    matches!(
        m.get("role").and_then(Value::as_str),
        Some("system" | "developer")
    )
}

/// Drop nulls and prompt-caching hints from a message, content part or tool.
fn structural(obj: &mut Map<String, Value>) {
    obj.retain(|k, v| !v.is_null() && !CACHE_HINTS.contains(&k.as_str()));
}

/// Content made only of text parts → the joined text.
fn content_as_text(content: &mut Value) {
    let Value::Array(parts) = content else {
        return;
    };
    for p in parts.iter_mut().filter_map(Value::as_object_mut) {
        structural(p);
    }
    let only_text = !parts.is_empty()
        && parts.iter().all(|p| {
            p.as_object().is_some_and(|o| {
                o.len() == 2 && o.get("type").is_some_and(|t| t == "text") && o.contains_key("text")
            })
        });
    if !only_text {
        return;
    }
    let mut text = String::new();
    for p in parts.iter() {
        match p.get("text") {
            Some(Value::String(s)) => text.push_str(s),
            _ => return,
        }
    }
    *content = Value::String(text);
}

/// Floats without a fraction → integers (`1.0` and `1` mean the same number).
fn integral_numbers(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9_007_199_254_740_992.0
            {
                #[allow(clippy::cast_possible_truncation)] // integral and below 2^53
                let i = f as i64;
                *n = Number::from(i);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(m) => m.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// Hex SHA-256 (first [`HEX_LEN`] characters) of the length-prefixed parts and the canonical
/// request written compactly with sorted keys.
fn digest(tag: &str, op: &str, scope: &KeyScope<'_>, canon: &Value) -> Option<String> {
    let mut body = Vec::with_capacity(1024);
    write_sorted(canon, &mut body).ok()?;
    let mut h = Sha256::new();
    for part in [
        tag.as_bytes(),
        op.as_bytes(),
        scope.tenant.as_bytes(),
        scope.namespace.as_bytes(),
        &body,
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    Some(hex(&h.finalize()))
}

/// The first [`HEX_LEN`] lowercase hex characters of `bytes` (128 bits of a digest).
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(HEX_LEN);
    for b in bytes.iter().take(HEX_LEN / 2) {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Compact JSON with every object's keys in byte order, whatever the map's own order.
fn write_sorted(v: &Value, out: &mut Vec<u8>) -> serde_json::Result<()> {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, k)?;
                out.push(b':');
                write_sorted(v, out)?;
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_sorted(item, out)?;
            }
            out.push(b']');
        }
        // Rust's own shortest round-trip form, not serde_json's (which has changed between
        // versions, e.g. `1e300` → `1e+300`): a library upgrade must not move keys.
        Value::Number(n) => match (n.is_f64(), n.as_f64()) {
            (true, Some(f)) => {
                use std::io::Write as _;
                write!(out, "{f}").map_err(serde_json::Error::io)?;
            }
            _ => serde_json::to_writer(&mut *out, n)?,
        },
        scalar => serde_json::to_writer(&mut *out, scalar)?,
    }
    Ok(())
}

/// The text of a chat for the semantic tier (see [`semantic_parts`]).
fn chat_text(req: &ChatRequest, scope: &KeyScope<'_>, history_threshold: usize) -> Option<String> {
    let mut turns = 0usize;
    let mut texts: Vec<Cow<'_, str>> = Vec::with_capacity(req.messages.len());
    for m in &req.messages {
        let content = match m {
            ChatMessage::System(i) | ChatMessage::Developer(i) => {
                if scope.exclude_system_prompt {
                    continue;
                }
                Some(&i.content)
            }
            ChatMessage::User(u) => {
                turns += 1;
                Some(&u.content)
            }
            ChatMessage::Assistant(a) => {
                turns += 1;
                if a.tool_calls.as_ref().is_some_and(|c| !c.is_empty())
                    || a.function_call.is_some()
                    || a.audio.is_some()
                {
                    return None;
                }
                a.content.as_ref()
            }
            ChatMessage::Tool(_) | ChatMessage::Function(_) => return None,
        };
        if let Some(content) = content {
            texts.push(plain_text(content)?);
        }
    }
    if turns > history_threshold {
        return None;
    }
    let text = texts
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    (!text.is_empty()).then_some(text)
}

/// The text of content made only of text; `None` when any part is something else.
fn plain_text(content: &MessageContent) -> Option<Cow<'_, str>> {
    match content {
        MessageContent::Text(t) => Some(Cow::Borrowed(t)),
        MessageContent::Parts(parts) => {
            let mut text = String::new();
            for p in parts {
                match p {
                    ContentPart::Known(KnownPart::Text { text: t, .. }) => text.push_str(t),
                    _ => return None,
                }
            }
            Some(Cow::Owned(text))
        }
    }
}

/// The prompt of a text completion when it is one string.
fn completion_text(req: &CompletionRequest) -> Option<String> {
    let prompt = match req.prompt.as_ref()? {
        Prompt::Text(t) => t,
        Prompt::Texts(ts) if ts.len() == 1 => ts.first()?,
        _ => return None,
    };
    let t = prompt.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sorted(v: &Value) -> String {
        let mut out = Vec::new();
        write_sorted(v, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn keys_are_written_in_byte_order_at_every_depth() {
        let mut inner = Map::new();
        inner.insert("b".into(), json!(1));
        inner.insert("B".into(), json!("x\"y\n"));
        inner.insert("a".into(), json!([{"z": null, "é": true, "e": 2.5}]));
        let mut outer = Map::new();
        outer.insert("z".into(), Value::Object(inner));
        outer.insert("m".into(), json!([]));
        assert_eq!(
            sorted(&Value::Object(outer)),
            r#"{"m":[],"z":{"B":"x\"y\n","a":[{"e":2.5,"z":null,"é":true}],"b":1}}"#
        );
    }

    #[test]
    fn integral_floats_become_integers() {
        let mut v = json!({"a": 1.0, "b": [-0.0, 2.5, 1e-7, 1e20, 1e300], "c": 7});
        integral_numbers(&mut v);
        assert_eq!(
            sorted(&v),
            format!(
                r#"{{"a":1,"b":[0,2.5,0.0000001,100000000000000000000,1{}],"c":7}}"#,
                "0".repeat(300)
            )
        );
    }

    #[test]
    fn hex_is_lowercase_and_cut() {
        assert_eq!(hex(&[0xab; 32]), "ab".repeat(16));
    }
}
