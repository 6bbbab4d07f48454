//! Converting between a stream's chunks and the complete response they make up, for chat and
//! text completions.
//!
//! Why: a streamed and a non-streamed request for the same thing share one cache entry, which
//! holds whichever shape the upstream produced first ([`crate::answer`]). A stored stream is
//! assembled the way the OpenAI SDK's stream accumulator assembles it (so a non-streaming client
//! gets what a streaming SDK user would have ended up with), and a stored response is cut into
//! the chunk sequence an OpenAI-compatible server sends for it (role + content first, then the
//! finish reason, then a usage-only chunk), so replaying it looks like any other stream.
//!
//! Both directions are pure and lossless for what the canonical types carry: response →
//! chunks → response gives the response back (`object` aside, and `native`, which is never
//! stored). Merge rules, per choice index:
//! - `role`: the first one seen (`assistant` when none is).
//! - `content`, `refusal`, `reasoning_content`: concatenated; an explicit `null` only counts
//!   when no piece of text arrived.
//! - `tool_calls`: merged by their `index`; `id`, `type` and function `name` from the first
//!   fragment carrying them, `arguments` concatenated.
//! - `thinking_blocks`: a `thinking` fragment continues the last block while that block has no
//!   signature yet (pieces of text appended, the signature closes it); a signed block that
//!   arrived without text takes the `reasoning_content` streamed since the previous block,
//!   which is how the gateway's own stream translators carry Anthropic thinking (text as
//!   `reasoning_content`, then the signature alone) — without it the block could not be sent
//!   back on the next turn.
//! - `finish_reason`: the last one seen; `logprobs`: arrays (`content`, `refusal`, or the text
//!   completion's `tokens`, …) concatenated.
//! - Unknown delta fields (`annotations`, `audio`, …): the SDK's generic `accumulate_delta`
//!   (strings appended, numbers added, objects merged, lists of objects merged by `index`).
//! - Unknown choice and response fields: from the first chunk carrying the choice / the first
//!   chunk (minus the per-chunk `obfuscation` padding).
//! - `id`, `created`, `model`, `system_fingerprint`, `service_tier`: the first seen;
//!   `usage`: from the last chunk carrying one.

use std::collections::BTreeMap;

use heimdall_schema::chat::{
    ChatChoice, ChatChunk, ChatResponse, ChunkChoice, ChunkDelta, FunctionCall, FunctionCallDelta,
    ResponseMessage, ThinkingBlock, ToolCall, ToolCallDelta,
};
use heimdall_schema::completions::{CompletionChoice, CompletionChunk, CompletionResponse};
use serde_json::{Map, Value};

/// `object` of a complete chat completion.
const CHAT_OBJECT: &str = "chat.completion";
/// `object` of a chat stream chunk.
const CHAT_CHUNK_OBJECT: &str = "chat.completion.chunk";
/// `object` of a text completion, streamed or not.
const COMPLETION_OBJECT: &str = "text_completion";
/// Per-chunk random padding (`stream_options.include_obfuscation`): meaningless in a response.
const OBFUSCATION: &str = "obfuscation";

/// The complete chat completion a stream's chunks make up; `None` when there are no chunks.
pub fn chat_response_from_chunks(chunks: &[ChatChunk]) -> Option<ChatResponse> {
    let first = chunks.first()?;
    let mut resp = ChatResponse {
        object: CHAT_OBJECT.to_owned(),
        extra: without_obfuscation(&first.extra),
        ..ChatResponse::default()
    };
    let mut choices: BTreeMap<u32, ChoiceAcc> = BTreeMap::new();
    for chunk in chunks {
        envelope(
            &mut resp.id,
            &mut resp.created,
            &mut resp.model,
            (&chunk.id, chunk.created, &chunk.model),
        );
        first_some(&mut resp.system_fingerprint, &chunk.system_fingerprint);
        first_some(&mut resp.service_tier, &chunk.service_tier);
        if chunk.usage.is_some() {
            resp.usage.clone_from(&chunk.usage);
        }
        for choice in &chunk.choices {
            choices
                .entry(choice.index)
                .or_insert_with(|| ChoiceAcc::new(choice))
                .push(choice);
        }
    }
    resp.choices = choices.into_values().map(ChoiceAcc::finish).collect();
    Some(resp)
}

/// The chunks an OpenAI-compatible server streams for `resp`: per choice, one chunk with the
/// whole message (role, content, tool calls with full arguments, reasoning) and one with the
/// finish reason; then a usage-only chunk when the response has usage.
pub fn chat_chunks_from_response(resp: &ChatResponse) -> Vec<ChatChunk> {
    let envelope = |choices: Vec<ChunkChoice>| ChatChunk {
        id: resp.id.clone(),
        object: CHAT_CHUNK_OBJECT.to_owned(),
        created: resp.created,
        model: resp.model.clone(),
        choices,
        usage: None,
        system_fingerprint: resp.system_fingerprint.clone(),
        service_tier: resp.service_tier.clone(),
        extra: Map::new(),
        native: None,
    };
    let mut out = Vec::with_capacity(resp.choices.len() * 2 + 1);
    for choice in &resp.choices {
        out.push(envelope(vec![ChunkChoice {
            index: choice.index,
            delta: message_delta(&choice.message),
            finish_reason: None,
            logprobs: choice.logprobs.clone(),
            extra: choice.extra.clone(),
        }]));
        if choice.finish_reason.is_some() {
            out.push(envelope(vec![ChunkChoice {
                index: choice.index,
                delta: ChunkDelta::default(),
                finish_reason: choice.finish_reason.clone(),
                logprobs: None,
                extra: Map::new(),
            }]));
        }
    }
    if resp.usage.is_some() || out.is_empty() {
        let mut last = envelope(Vec::new());
        last.usage.clone_from(&resp.usage);
        out.push(last);
    }
    if let Some(first) = out.first_mut() {
        first.extra.clone_from(&resp.extra);
    }
    out
}

/// The complete text completion a stream's chunks make up; `None` when there are no chunks.
pub fn completion_response_from_chunks(chunks: &[CompletionChunk]) -> Option<CompletionResponse> {
    let first = chunks.first()?;
    let mut resp = CompletionResponse {
        object: COMPLETION_OBJECT.to_owned(),
        extra: without_obfuscation(&first.extra),
        ..CompletionResponse::default()
    };
    let mut choices: BTreeMap<u32, CompletionChoice> = BTreeMap::new();
    for chunk in chunks {
        envelope(
            &mut resp.id,
            &mut resp.created,
            &mut resp.model,
            (&chunk.id, chunk.created, &chunk.model),
        );
        first_some(&mut resp.system_fingerprint, &chunk.system_fingerprint);
        if chunk.usage.is_some() {
            resp.usage.clone_from(&chunk.usage);
        }
        for piece in &chunk.choices {
            match choices.get_mut(&piece.index) {
                None => {
                    choices.insert(piece.index, piece.clone());
                }
                Some(acc) => {
                    acc.text.push_str(&piece.text);
                    merge_logprobs(&mut acc.logprobs, piece.logprobs.as_ref());
                    if piece.finish_reason.is_some() {
                        acc.finish_reason.clone_from(&piece.finish_reason);
                    }
                }
            }
        }
    }
    resp.choices = choices.into_values().collect();
    Some(resp)
}

/// The chunks a server streams for a text completion: per choice, one chunk with the whole
/// text (and log probabilities) and one with the finish reason; then a usage-only chunk when
/// the response has usage.
pub fn completion_chunks_from_response(resp: &CompletionResponse) -> Vec<CompletionChunk> {
    let envelope = |choices: Vec<CompletionChoice>| CompletionChunk {
        id: resp.id.clone(),
        object: COMPLETION_OBJECT.to_owned(),
        created: resp.created,
        model: resp.model.clone(),
        choices,
        usage: None,
        system_fingerprint: resp.system_fingerprint.clone(),
        extra: Map::new(),
    };
    let mut out = Vec::with_capacity(resp.choices.len() * 2 + 1);
    for choice in &resp.choices {
        out.push(envelope(vec![CompletionChoice {
            finish_reason: None,
            ..choice.clone()
        }]));
        if choice.finish_reason.is_some() {
            out.push(envelope(vec![CompletionChoice {
                text: String::new(),
                index: choice.index,
                logprobs: None,
                finish_reason: choice.finish_reason.clone(),
                extra: Map::new(),
            }]));
        }
    }
    if resp.usage.is_some() || out.is_empty() {
        let mut last = envelope(Vec::new());
        last.usage.clone_from(&resp.usage);
        out.push(last);
    }
    if let Some(first) = out.first_mut() {
        first.extra.clone_from(&resp.extra);
    }
    out
}

/// Take `id`, `created` and `model` from the first chunk that has them.
fn envelope(id: &mut String, created: &mut u64, model: &mut String, from: (&str, u64, &str)) {
    if id.is_empty() {
        from.0.clone_into(id);
    }
    if *created == 0 {
        *created = from.1;
    }
    if model.is_empty() {
        from.2.clone_into(model);
    }
}

fn first_some(acc: &mut Option<String>, value: &Option<String>) {
    if acc.is_none() {
        acc.clone_from(value);
    }
}

fn without_obfuscation(extra: &Map<String, Value>) -> Map<String, Value> {
    let mut out = extra.clone();
    out.remove(OBFUSCATION);
    out
}

/// The delta carrying a whole response message.
fn message_delta(m: &ResponseMessage) -> ChunkDelta {
    ChunkDelta {
        role: Some(m.role.clone()),
        content: Some(m.content.clone()),
        refusal: m.refusal.clone(),
        tool_calls: m.tool_calls.as_ref().map(|calls| {
            calls
                .iter()
                .zip(0u32..)
                .map(|(call, index)| ToolCallDelta {
                    index,
                    id: Some(call.id.clone()),
                    kind: Some(call.kind.clone()),
                    function: Some(FunctionCallDelta {
                        name: Some(call.function.name.clone()),
                        arguments: Some(call.function.arguments.clone()),
                        extra: call.function.extra.clone(),
                    }),
                    extra: call.extra.clone(),
                })
                .collect()
        }),
        reasoning_content: m.reasoning_content.clone(),
        thinking_blocks: m.thinking_blocks.clone(),
        extra: m.extra.clone(),
    }
}

/// Text streamed in pieces: `None` until something arrives, an explicit `null` kept only while
/// no text has.
#[derive(Default)]
struct Text {
    text: Option<String>,
    null_seen: bool,
}

impl Text {
    fn push(&mut self, piece: Option<&Option<String>>) {
        match piece {
            None => {}
            Some(None) => self.null_seen = true,
            Some(Some(t)) => self.text.get_or_insert_with(String::new).push_str(t),
        }
    }

    /// For fields that keep "absent" and "null" apart.
    fn finish_double(self) -> Option<Option<String>> {
        match (self.text, self.null_seen) {
            (Some(t), _) => Some(Some(t)),
            (None, true) => Some(None),
            (None, false) => None,
        }
    }
}

/// One tool call being assembled.
#[derive(Default)]
struct ToolAcc {
    id: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    arguments: String,
    extra: Map<String, Value>,
    function_extra: Map<String, Value>,
}

impl ToolAcc {
    fn push(&mut self, d: &ToolCallDelta) {
        fill(&mut self.id, d.id.as_deref());
        fill(&mut self.kind, d.kind.as_deref());
        if let Some(f) = &d.function {
            fill(&mut self.name, f.name.as_deref());
            if let Some(a) = &f.arguments {
                self.arguments.push_str(a);
            }
            accumulate_delta(&mut self.function_extra, &f.extra);
        }
        accumulate_delta(&mut self.extra, &d.extra);
    }

    fn finish(self) -> ToolCall {
        ToolCall {
            id: self.id.unwrap_or_default(),
            kind: self.kind.unwrap_or_else(|| "function".to_owned()),
            function: FunctionCall {
                name: self.name.unwrap_or_default(),
                arguments: self.arguments,
                extra: self.function_extra,
            },
            extra: self.extra,
        }
    }
}

/// `slot` takes `value` unless it already has one (an empty string does not count).
fn fill(slot: &mut Option<String>, value: Option<&str>) {
    if let Some(v) = value
        && slot.as_deref().is_none_or(str::is_empty)
    {
        *slot = Some(v.to_owned());
    }
}

/// One chat choice being assembled.
struct ChoiceAcc {
    index: u32,
    role: Option<String>,
    content: Text,
    refusal: Text,
    reasoning: Option<String>,
    /// Byte length of `reasoning` when the last thinking block was closed.
    reasoning_mark: usize,
    tool_calls: Option<BTreeMap<u32, ToolAcc>>,
    thinking: Option<Vec<ThinkingBlock>>,
    finish_reason: Option<String>,
    logprobs: Option<Value>,
    extra: Map<String, Value>,
    message_extra: Map<String, Value>,
}

impl ChoiceAcc {
    fn new(first: &ChunkChoice) -> Self {
        Self {
            index: first.index,
            role: None,
            content: Text::default(),
            refusal: Text::default(),
            reasoning: None,
            reasoning_mark: 0,
            tool_calls: None,
            thinking: None,
            finish_reason: None,
            logprobs: None,
            extra: first.extra.clone(),
            message_extra: Map::new(),
        }
    }

    fn push(&mut self, c: &ChunkChoice) {
        let d = &c.delta;
        fill(&mut self.role, d.role.as_deref());
        self.content.push(d.content.as_ref());
        self.refusal.push(d.refusal.as_ref());
        if let Some(r) = &d.reasoning_content {
            self.reasoning.get_or_insert_with(String::new).push_str(r);
        }
        if let Some(calls) = &d.tool_calls {
            let acc = self.tool_calls.get_or_insert_with(BTreeMap::new);
            for call in calls {
                acc.entry(call.index).or_default().push(call);
            }
        }
        if let Some(blocks) = &d.thinking_blocks {
            self.push_thinking(blocks);
        }
        if c.finish_reason.is_some() {
            self.finish_reason.clone_from(&c.finish_reason);
        }
        merge_logprobs(&mut self.logprobs, c.logprobs.as_ref());
        accumulate_delta(&mut self.message_extra, &d.extra);
    }

    fn push_thinking(&mut self, blocks: &[ThinkingBlock]) {
        let acc = self.thinking.get_or_insert_with(Vec::new);
        for (i, block) in blocks.iter().enumerate() {
            // Only a delta's first block can continue the block of an earlier delta; the
            // blocks of one delta are distinct blocks.
            let open = acc
                .last_mut()
                .filter(|last| i == 0 && last.kind == "thinking" && last.signature.is_none());
            let target = match open {
                Some(last) if block.kind == "thinking" => {
                    if let Some(t) = &block.thinking {
                        last.thinking.get_or_insert_with(String::new).push_str(t);
                    }
                    if block.signature.is_some() {
                        last.signature.clone_from(&block.signature);
                    }
                    last
                }
                _ => {
                    acc.push(block.clone());
                    let Some(last) = acc.last_mut() else {
                        continue;
                    };
                    last
                }
            };
            if target.kind == "thinking" && target.signature.is_some() {
                let reasoning = self.reasoning.as_deref().unwrap_or("");
                if target.thinking.is_none()
                    && let Some(text) = reasoning.get(self.reasoning_mark..)
                    && !text.is_empty()
                {
                    target.thinking = Some(text.to_owned());
                }
                self.reasoning_mark = reasoning.len();
            }
        }
    }

    fn finish(self) -> ChatChoice {
        let tool_calls = self
            .tool_calls
            .map(|calls| calls.into_values().map(ToolAcc::finish).collect());
        ChatChoice {
            index: self.index,
            message: ResponseMessage {
                role: self.role.unwrap_or_else(|| "assistant".to_owned()),
                content: self.content.finish_double().flatten(),
                refusal: self.refusal.finish_double(),
                tool_calls,
                reasoning_content: self.reasoning,
                thinking_blocks: self.thinking,
                extra: self.message_extra,
            },
            finish_reason: self.finish_reason,
            logprobs: self.logprobs,
            extra: self.extra,
        }
    }
}

/// Log probabilities of a further chunk: its token lists appended to the ones so far.
fn merge_logprobs(acc: &mut Option<Value>, piece: Option<&Value>) {
    let Some(piece) = piece.filter(|p| !p.is_null()) else {
        return;
    };
    let Some(Value::Object(acc_obj)) = acc else {
        *acc = Some(piece.clone());
        return;
    };
    let Value::Object(piece) = piece else {
        return;
    };
    for (key, value) in piece {
        match (acc_obj.get_mut(key), value) {
            (Some(Value::Array(have)), Value::Array(more)) => have.extend(more.iter().cloned()),
            (Some(have), _) if !have.is_null() => {}
            (_, value) => {
                acc_obj.insert(key.clone(), value.clone());
            }
        }
    }
}

/// The OpenAI SDK's `accumulate_delta` for fields the canonical types do not model: new keys
/// are taken, strings appended, numbers added, objects merged, lists of scalars extended and
/// lists of objects merged entry by entry on their `index`; `index` and `type` are replaced,
/// and any other value keeps the first one.
fn accumulate_delta(acc: &mut Map<String, Value>, delta: &Map<String, Value>) {
    for (key, value) in delta {
        let Some(have) = acc.get_mut(key) else {
            acc.insert(key.clone(), value.clone());
            continue;
        };
        if have.is_null() || key == "index" || key == "type" {
            *have = value.clone();
            continue;
        }
        match (have, value) {
            (Value::String(a), Value::String(b)) => a.push_str(b),
            (Value::Number(a), Value::Number(b)) => {
                if let Some(sum) = add_numbers(a, b) {
                    *a = sum;
                }
            }
            (Value::Object(a), Value::Object(b)) => accumulate_delta(a, b),
            (Value::Array(a), Value::Array(b)) => accumulate_list(a, b),
            _ => {}
        }
    }
}

fn add_numbers(a: &serde_json::Number, b: &serde_json::Number) -> Option<serde_json::Number> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x.checked_add(y).map(serde_json::Number::from);
    }
    serde_json::Number::from_f64(a.as_f64()? + b.as_f64()?)
}

fn accumulate_list(acc: &mut Vec<Value>, delta: &[Value]) {
    if acc.iter().all(|v| v.is_string() || v.is_number()) {
        acc.extend(delta.iter().cloned());
        return;
    }
    for entry in delta {
        let index = entry
            .get("index")
            .and_then(Value::as_u64)
            .and_then(|i| usize::try_from(i).ok());
        match (index, entry) {
            (Some(i), Value::Object(e)) if i < acc.len() => {
                if let Some(Value::Object(have)) = acc.get_mut(i) {
                    accumulate_delta(have, e);
                }
            }
            (Some(i), _) => acc.insert(i.min(acc.len()), entry.clone()),
            (None, _) => acc.push(entry.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accumulate_delta_follows_the_sdk() {
        let mut acc = Map::new();
        let d1 = json!({"audio": {"id": "a1", "data": "AA", "transcript": "He"},
            "annotations": [{"index": 0, "type": "url_citation", "url": "https://e"}]});
        let d2 = json!({"audio": {"data": "BB", "transcript": "llo"},
            "annotations": [{"index": 0, "title": "E"}, {"index": 1, "type": "x"}]});
        for d in [d1, d2] {
            if let Value::Object(d) = d {
                accumulate_delta(&mut acc, &d);
            }
        }
        assert_eq!(
            Value::Object(acc),
            json!({"audio": {"id": "a1", "data": "AABB", "transcript": "Hello"},
                "annotations": [{"index": 0, "type": "url_citation", "url": "https://e", "title": "E"},
                    {"index": 1, "type": "x"}]})
        );
    }

    #[test]
    fn logprobs_lists_are_concatenated() {
        let mut acc = None;
        merge_logprobs(
            &mut acc,
            Some(&json!({"content": [{"token": "a"}], "refusal": null})),
        );
        merge_logprobs(&mut acc, None);
        merge_logprobs(
            &mut acc,
            Some(&json!({"content": [{"token": "b"}], "refusal": null})),
        );
        assert_eq!(
            acc,
            Some(json!({"content": [{"token": "a"}, {"token": "b"}], "refusal": null}))
        );
    }
}
