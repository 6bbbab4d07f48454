//! Every client-side decoder takes untrusted bytes: ~10,000 seeded mutations of valid requests
//! (fields dropped, duplicated, retyped; huge numbers; deep nesting; truncation; byte flips)
//! through the OpenAI (chat, completions, embeddings, Responses), Anthropic, Gemini, Cohere and
//! Bedrock decoders. None may panic, and every
//! refusal is a 4xx. Deterministic (a fixed xorshift seed); `fuzz/` has the coverage-guided
//! version of the same targets for `cargo fuzz`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use heimdall_dialects::conversation::DialectBody;
use heimdall_dialects::json::decode_json;
use heimdall_schema::chat::ChatRequest;
use heimdall_schema::completions::CompletionRequest;
use heimdall_schema::embeddings::EmbeddingRequest;
use heimdall_schema::error::GatewayError;
use serde_json::{Value, json};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn strange(rng: &mut Rng) -> Value {
    match rng.below(12) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(1e308),
        4 => json!(u64::MAX),
        5 => json!(""),
        6 => json!("\u{0}\n\u{202e}"),
        7 => json!([]),
        8 => json!({}),
        9 => json!([{"type": "image", "source": {"type": "base64"}}]),
        10 => json!({"role": "tool", "content": [1, 2]}),
        _ => {
            let mut v = json!("deep");
            for _ in 0..rng.below(200) {
                v = json!([v]);
            }
            v
        }
    }
}

/// Change one random place of `v`.
fn mutate(v: &mut Value, rng: &mut Rng) {
    match v {
        Value::Object(map) if !map.is_empty() && rng.below(4) != 0 => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = keys[rng.below(keys.len())].clone();
            match rng.below(4) {
                0 => {
                    map.remove(&key);
                }
                1 => {
                    map.insert(key, strange(rng));
                }
                2 => {
                    map.insert(format!("{key}_x"), strange(rng));
                }
                _ => mutate(map.get_mut(&key).unwrap(), rng),
            }
        }
        Value::Array(items) if !items.is_empty() && rng.below(4) != 0 => match rng.below(3) {
            0 => {
                let i = rng.below(items.len());
                items.remove(i);
            }
            1 => {
                let i = rng.below(items.len());
                let copy = items[i].clone();
                items.push(copy);
            }
            _ => {
                let i = rng.below(items.len());
                mutate(&mut items[i], rng);
            }
        },
        other => *other = strange(rng),
    }
}

/// Byte-level damage: truncation, a flipped byte, invalid UTF-8.
fn damage(mut bytes: Vec<u8>, rng: &mut Rng) -> Vec<u8> {
    match rng.below(4) {
        0 => {
            let n = rng.below(bytes.len());
            bytes.truncate(n);
        }
        1 => {
            let i = rng.below(bytes.len());
            bytes[i] = (rng.next() & 0xff) as u8;
        }
        2 => {
            let i = rng.below(bytes.len());
            bytes.insert(i, 0xff);
        }
        _ => {}
    }
    bytes
}

fn refusal_is_4xx(route: &str, r: Result<(), GatewayError>) {
    if let Err(e) = r {
        assert!(
            (400..500).contains(&e.status),
            "{route}: a refusal must be a 4xx, got {} {}",
            e.status,
            e.message
        );
    }
}

fn decode_all(bytes: &[u8]) {
    refusal_is_4xx(
        "chat",
        decode_json::<ChatRequest>(bytes).and_then(|r| r.validate()),
    );
    refusal_is_4xx(
        "completions",
        decode_json::<CompletionRequest>(bytes).and_then(|r| r.validate()),
    );
    refusal_is_4xx(
        "embeddings",
        decode_json::<EmbeddingRequest>(bytes).and_then(|r| r.validate()),
    );
    refusal_is_4xx(
        "anthropic",
        DialectBody::parse(bytes, "messages")
            .and_then(|b| heimdall_dialects::anthropic::client_request::from_body(&b))
            .map(drop),
    );
    refusal_is_4xx(
        "genai",
        DialectBody::parse(bytes, "contents")
            .and_then(|b| {
                heimdall_dialects::gemini::client_request::from_body("gemini-x", &b, false)
            })
            .map(drop),
    );
    refusal_is_4xx(
        "cohere",
        DialectBody::parse(bytes, "messages")
            .and_then(|b| heimdall_dialects::cohere::client::from_body(&b))
            .map(drop),
    );
    refusal_is_4xx(
        "bedrock",
        DialectBody::parse(bytes, "messages")
            .and_then(|b| heimdall_dialects::bedrock::client::from_body("m", &b, true))
            .map(drop),
    );
    // The Responses API, with and without a stored conversation before it.
    let history = [json!({"type": "message", "role": "user", "content": "earlier"})];
    for h in [&history[..], &[]] {
        refusal_is_4xx(
            "responses",
            decode_json::<heimdall_dialects::responses::ResponsesRequest>(bytes)
                .and_then(|r| heimdall_dialects::responses::to_chat(&r, h))
                .map(drop),
        );
    }
}

fn seeds() -> Vec<Value> {
    vec![
        json!({"model": "openai/gpt-4o", "stream": true, "temperature": 0.5, "max_tokens": 10,
            "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": [
                {"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                    "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "42"}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}}),
        json!({"model": "m", "prompt": ["a", "b"], "max_tokens": 5, "stream": false}),
        json!({"model": "m", "input": ["a", [1, 2, 3]], "encoding_format": "float", "dimensions": 8}),
        json!({"model": "claude", "max_tokens": 100, "system": [{"type": "text", "text": "s"}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}],
            "tools": [{"name": "f", "input_schema": {"type": "object"}}], "tool_choice": {"type": "tool", "name": "f"},
            "thinking": {"type": "enabled", "budget_tokens": 2000}, "stop_sequences": ["x"]}),
        json!({"contents": [{"role": "user", "parts": [{"text": "hi"}, {"inlineData": {"mimeType": "image/png", "data": "AA=="}}]},
                {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"x": 1}}}]}],
            "systemInstruction": {"parts": [{"text": "s"}]},
            "generationConfig": {"temperature": 1, "maxOutputTokens": 5, "responseMimeType": "application/json"},
            "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "object"}}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}}}),
        json!({"model": "command-r", "messages": [{"role": "user", "content": "hi"},
                {"role": "assistant", "tool_plan": "p", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c", "content": [{"type": "document", "document": {"data": "x"}}]}],
            "p": 0.5, "tool_choice": "REQUIRED", "response_format": {"type": "json_object"}}),
        json!({"messages": [{"role": "user", "content": [{"text": "hi"}, {"image": {"format": "png", "source": {"bytes": "AA=="}}}]},
                {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t", "name": "f", "input": {}}}]},
                {"role": "user", "content": [{"toolResult": {"toolUseId": "t", "content": [{"json": {"a": 1}}]}}]}],
            "system": [{"text": "s"}], "inferenceConfig": {"maxTokens": 5, "temperature": 0.1},
            "toolConfig": {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {}}}}], "toolChoice": {"any": {}}}}),
        json!({"model": "m", "instructions": "s", "previous_response_id": "resp_1", "store": false,
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"},
                {"type": "input_image", "image_url": "data:image/png;base64,AA=="}]},
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "t"}], "encrypted_content": "sig"},
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c", "output": "42"},
                {"type": "custom_tool_call", "call_id": "d", "name": "p", "input": "x"}],
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}},
                {"type": "custom", "name": "p"}, {"type": "web_search"}],
            "tool_choice": {"type": "function", "name": "f"}, "reasoning": {"effort": "low"},
            "text": {"format": {"type": "json_schema", "name": "x", "schema": {}}, "verbosity": "low"}}),
    ]
}

#[test]
fn ten_thousand_mutated_requests_never_panic_and_refuse_with_a_4xx() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let seeds = seeds();
    let mut cases = 0;
    for round in 0..1_500 {
        for seed in &seeds {
            let mut v = seed.clone();
            for _ in 0..=(round % 4) {
                mutate(&mut v, &mut rng);
            }
            let bytes = serde_json::to_vec(&v).unwrap();
            let bytes = if round % 3 == 0 {
                damage(bytes, &mut rng)
            } else {
                bytes
            };
            decode_all(&bytes);
            cases += 1;
        }
    }
    assert!(cases >= 10_000, "{cases}");
}

#[test]
fn nesting_past_the_recursion_limit_is_a_400_not_a_stack_overflow() {
    for depth in [129, 1_000, 100_000] {
        let body = format!(
            r#"{{"model":"m","messages":[{{"role":"user","content":{}"x"{}}}]}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        decode_all(body.as_bytes());
        let e = decode_json::<ChatRequest>(body.as_bytes()).unwrap_err();
        assert_eq!(e.status, 400, "{depth}: {}", e.message);
    }
}
