//! What a recorded provider response means, whatever its wire: visible text, reasoning,
//! signatures, client tool calls, the OpenAI finish reason and cached tokens — read from the
//! recording (Anthropic, Gemini, Bedrock, Cohere, OpenAI framings) and from the gateway's
//! OpenAI answer, so the two can be compared.

use serde_json::{Value, json};

/// The meaning of a response.
#[derive(Debug, Default, PartialEq)]
pub struct Expect {
    /// Visible text, concatenated.
    pub text: String,
    /// Reasoning text, concatenated.
    pub reasoning: String,
    /// Reasoning signatures, concatenated.
    pub signature: String,
    /// Client tool calls in order: name and parsed arguments (no arguments = `{}`).
    pub tools: Vec<(String, Value)>,
    /// The OpenAI finish reason this maps to.
    pub finish: String,
    /// Cached prompt tokens (0 when none were read from the cache).
    pub cached: u64,
}

pub fn args_of(raw: &str, fallback: &Value) -> Value {
    if raw.trim().is_empty() {
        if fallback.is_object() {
            fallback.clone()
        } else {
            json!({})
        }
    } else {
        match serde_json::from_str::<Value>(raw) {
            Ok(Value::Null) => json!({}),
            Ok(v) => v,
            Err(_) => Value::String(raw.to_owned()),
        }
    }
}

pub fn finish_of(stop: &str, has_tools: bool) -> String {
    match stop {
        "tool_use" | "TOOL_CALL" | "tool_calls" => "tool_calls",
        "max_tokens" | "MAX_TOKENS" | "length" => "length",
        "refusal" | "content_filtered" | "guardrail_intervened" | "SAFETY" | "content_filter" => {
            "content_filter"
        }
        _ if has_tools => "tool_calls",
        _ => "stop",
    }
    .to_owned()
}

pub fn anthropic_stream(events: &[Value]) -> Expect {
    let mut e = Expect::default();
    // content-block index -> (tool slot, streamed input, start input)
    let mut tools: Vec<(u64, String, String, Value)> = Vec::new();
    let mut stop = String::new();
    for ev in events {
        match ev["type"].as_str().unwrap_or("") {
            "message_start" => {
                e.cached = e.cached.max(
                    ev["message"]["usage"]["cache_read_input_tokens"]
                        .as_u64()
                        .unwrap_or(0),
                );
            }
            "content_block_start" => {
                let b = &ev["content_block"];
                match b["type"].as_str().unwrap_or("") {
                    "text" => e.text.push_str(b["text"].as_str().unwrap_or("")),
                    "thinking" => e.reasoning.push_str(b["thinking"].as_str().unwrap_or("")),
                    "tool_use" => tools.push((
                        ev["index"].as_u64().unwrap(),
                        b["name"].as_str().unwrap().to_owned(),
                        String::new(),
                        b["input"].clone(),
                    )),
                    _ => {}
                }
            }
            "content_block_delta" => {
                let d = &ev["delta"];
                match d["type"].as_str().unwrap_or("") {
                    "text_delta" => e.text.push_str(d["text"].as_str().unwrap_or("")),
                    "thinking_delta" => e.reasoning.push_str(d["thinking"].as_str().unwrap_or("")),
                    "signature_delta" => {
                        e.signature.push_str(d["signature"].as_str().unwrap_or(""))
                    }
                    "input_json_delta" => {
                        let i = ev["index"].as_u64().unwrap();
                        if let Some(t) = tools.iter_mut().find(|t| t.0 == i) {
                            t.2.push_str(d["partial_json"].as_str().unwrap_or(""));
                        }
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                stop = ev["delta"]["stop_reason"].as_str().unwrap_or("").to_owned();
                e.cached = e
                    .cached
                    .max(ev["usage"]["cache_read_input_tokens"].as_u64().unwrap_or(0));
            }
            _ => {}
        }
    }
    e.tools = tools
        .into_iter()
        .map(|(_, name, raw, start)| (name, args_of(&raw, &start)))
        .collect();
    e.finish = finish_of(&stop, !e.tools.is_empty());
    e
}

pub fn anthropic_body(v: &Value) -> Expect {
    let mut e = Expect::default();
    for b in v["content"].as_array().into_iter().flatten() {
        match b["type"].as_str().unwrap_or("") {
            "text" => e.text.push_str(b["text"].as_str().unwrap_or("")),
            "thinking" => {
                e.reasoning.push_str(b["thinking"].as_str().unwrap_or(""));
                e.signature.push_str(b["signature"].as_str().unwrap_or(""));
            }
            "tool_use" => e.tools.push((
                b["name"].as_str().unwrap().to_owned(),
                args_of("", &b["input"]),
            )),
            _ => {}
        }
    }
    e.cached = v["usage"]["cache_read_input_tokens"].as_u64().unwrap_or(0);
    e.finish = finish_of(v["stop_reason"].as_str().unwrap_or(""), !e.tools.is_empty());
    e
}

pub fn gemini_chunks(chunks: &[Value]) -> Expect {
    let mut e = Expect::default();
    let mut stop = String::new();
    for c in chunks {
        let cand = &c["candidates"][0];
        for p in cand["content"]["parts"].as_array().into_iter().flatten() {
            if let Some(t) = p["text"].as_str() {
                if p["thought"].as_bool() == Some(true) {
                    e.reasoning.push_str(t);
                } else {
                    e.text.push_str(t);
                }
            }
            if let Some(f) = p.get("functionCall") {
                e.tools.push((
                    f["name"].as_str().unwrap_or("").to_owned(),
                    args_of("", &f["args"]),
                ));
            }
        }
        if let Some(f) = cand["finishReason"].as_str() {
            stop = f.to_owned();
        }
        if let Some(n) = c["usageMetadata"]["cachedContentTokenCount"].as_u64() {
            e.cached = n;
        }
    }
    e.finish = finish_of(&stop, !e.tools.is_empty());
    e
}

pub fn bedrock_stream(events: &[Value]) -> Expect {
    let mut e = Expect::default();
    let mut tools: Vec<(u64, String, String)> = Vec::new();
    let mut stop = String::new();
    for ev in events {
        if let Some(s) = ev.get("contentBlockStart")
            && let Some(t) = s["start"].get("toolUse")
        {
            tools.push((
                s["contentBlockIndex"].as_u64().unwrap(),
                t["name"].as_str().unwrap().to_owned(),
                String::new(),
            ));
        }
        if let Some(d) = ev.get("contentBlockDelta") {
            let delta = &d["delta"];
            e.text.push_str(delta["text"].as_str().unwrap_or(""));
            let r = &delta["reasoningContent"];
            e.reasoning.push_str(r["text"].as_str().unwrap_or(""));
            e.signature.push_str(r["signature"].as_str().unwrap_or(""));
            if let Some(input) = delta["toolUse"]["input"].as_str() {
                let i = d["contentBlockIndex"].as_u64().unwrap();
                if let Some(t) = tools.iter_mut().find(|t| t.0 == i) {
                    t.2.push_str(input);
                }
            }
        }
        if let Some(s) = ev.get("messageStop") {
            stop = s["stopReason"].as_str().unwrap_or("").to_owned();
        }
        if let Some(m) = ev.get("metadata") {
            e.cached = m["usage"]["cacheReadInputTokens"].as_u64().unwrap_or(0);
        }
    }
    e.tools = tools
        .into_iter()
        .map(|(_, name, raw)| (name, args_of(&raw, &Value::Null)))
        .collect();
    e.finish = finish_of(&stop, !e.tools.is_empty());
    e
}

pub fn bedrock_body(v: &Value) -> Expect {
    let mut e = Expect::default();
    for b in v["output"]["message"]["content"]
        .as_array()
        .into_iter()
        .flatten()
    {
        e.text.push_str(b["text"].as_str().unwrap_or(""));
        let r = &b["reasoningContent"]["reasoningText"];
        e.reasoning.push_str(r["text"].as_str().unwrap_or(""));
        e.signature.push_str(r["signature"].as_str().unwrap_or(""));
        if let Some(t) = b.get("toolUse") {
            e.tools.push((
                t["name"].as_str().unwrap().to_owned(),
                args_of("", &t["input"]),
            ));
        }
    }
    e.cached = v["usage"]["cacheReadInputTokens"].as_u64().unwrap_or(0);
    e.finish = finish_of(v["stopReason"].as_str().unwrap_or(""), !e.tools.is_empty());
    e
}

/// Cohere: `tool_plan` (the text written next to tool calls) counts as visible text — the
/// gateway's documented mapping (`crates/providers/src/cohere/response.rs`).
pub fn cohere_stream(events: &[Value]) -> Expect {
    let mut e = Expect::default();
    let mut tools: Vec<(String, String)> = Vec::new();
    let mut stop = String::new();
    for ev in events {
        let m = &ev["delta"]["message"];
        match ev["type"].as_str().unwrap_or("") {
            "content-start" | "content-delta" => {
                e.text.push_str(m["content"]["text"].as_str().unwrap_or(""));
                e.reasoning
                    .push_str(m["content"]["thinking"].as_str().unwrap_or(""));
            }
            "tool-plan-delta" => e.text.push_str(m["tool_plan"].as_str().unwrap_or("")),
            "tool-call-start" => tools.push((
                m["tool_calls"]["function"]["name"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                m["tool_calls"]["function"]["arguments"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )),
            "tool-call-delta" => {
                if let Some(t) = tools.last_mut() {
                    t.1.push_str(
                        m["tool_calls"]["function"]["arguments"]
                            .as_str()
                            .unwrap_or(""),
                    );
                }
            }
            "message-end" => {
                stop = ev["delta"]["finish_reason"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                e.cached = ev["delta"]["usage"]["cached_tokens"].as_u64().unwrap_or(0);
            }
            _ => {}
        }
    }
    e.tools = tools
        .into_iter()
        .map(|(name, raw)| (name, args_of(&raw, &Value::Null)))
        .collect();
    e.finish = finish_of(&stop, !e.tools.is_empty());
    e
}

pub fn cohere_body(v: &Value) -> Expect {
    let mut e = Expect::default();
    let m = &v["message"];
    e.text.push_str(m["tool_plan"].as_str().unwrap_or(""));
    for c in m["content"].as_array().into_iter().flatten() {
        match c["type"].as_str().unwrap_or("") {
            "text" => e.text.push_str(c["text"].as_str().unwrap_or("")),
            "thinking" => e.reasoning.push_str(c["thinking"].as_str().unwrap_or("")),
            _ => {}
        }
    }
    for t in m["tool_calls"].as_array().into_iter().flatten() {
        e.tools.push((
            t["function"]["name"].as_str().unwrap().to_owned(),
            args_of(
                t["function"]["arguments"].as_str().unwrap_or(""),
                &Value::Null,
            ),
        ));
    }
    e.cached = v["usage"]["cached_tokens"].as_u64().unwrap_or(0);
    e.finish = finish_of(
        v["finish_reason"].as_str().unwrap_or(""),
        !e.tools.is_empty(),
    );
    e
}

/// OpenAI chunks (as recorded upstream, or as the gateway sends them): text, reasoning,
/// tool calls accumulated per index.
pub fn openai_chunks(chunks: &[Value]) -> Expect {
    let mut e = Expect::default();
    let mut tools: Vec<(u64, String, String)> = Vec::new();
    let mut stop = String::new();
    for c in chunks {
        let ch = &c["choices"][0];
        let d = &ch["delta"];
        e.text.push_str(d["content"].as_str().unwrap_or(""));
        e.reasoning
            .push_str(d["reasoning_content"].as_str().unwrap_or(""));
        for b in d["thinking_blocks"].as_array().into_iter().flatten() {
            e.signature.push_str(b["signature"].as_str().unwrap_or(""));
        }
        for t in d["tool_calls"].as_array().into_iter().flatten() {
            let i = t["index"].as_u64().unwrap_or(0);
            let name = t["function"]["name"].as_str().unwrap_or("");
            let args = t["function"]["arguments"].as_str().unwrap_or("");
            match tools.iter_mut().find(|x| x.0 == i) {
                Some(x) => {
                    x.1.push_str(name);
                    x.2.push_str(args);
                }
                None => tools.push((i, name.to_owned(), args.to_owned())),
            }
        }
        if let Some(f) = ch["finish_reason"].as_str() {
            stop = f.to_owned();
        }
        if let Some(n) = c["usage"]["prompt_tokens_details"]["cached_tokens"].as_u64() {
            e.cached = n;
        }
    }
    e.tools = tools
        .into_iter()
        .map(|(_, name, raw)| (name, raw_args(&raw)))
        .collect();
    e.finish = stop;
    e
}

/// Arguments as a client parses them: no leniency (an empty string is not `{}`).
pub fn raw_args(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(format!("<not JSON: {raw:?}>")))
}

pub fn openai_body(v: &Value) -> Expect {
    let mut e = Expect::default();
    let ch = &v["choices"][0];
    let m = &ch["message"];
    e.text.push_str(m["content"].as_str().unwrap_or(""));
    e.reasoning
        .push_str(m["reasoning_content"].as_str().unwrap_or(""));
    for b in m["thinking_blocks"].as_array().into_iter().flatten() {
        e.signature.push_str(b["signature"].as_str().unwrap_or(""));
    }
    for t in m["tool_calls"].as_array().into_iter().flatten() {
        e.tools.push((
            t["function"]["name"].as_str().unwrap_or("").to_owned(),
            raw_args(t["function"]["arguments"].as_str().unwrap_or("")),
        ));
    }
    e.finish = ch["finish_reason"].as_str().unwrap_or("").to_owned();
    e.cached = v["usage"]["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap_or(0);
    e
}
