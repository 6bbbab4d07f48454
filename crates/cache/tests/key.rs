//! Cache keys: which requests share an exact key, which share a semantic bucket, and what text
//! the semantic tier embeds. Requests are built from JSON as a client would send them.
#![allow(clippy::unwrap_used, missing_docs)]

use heimdall_cache::key::{KeyScope, SemanticParts, canonical_request, exact_key, semantic_parts};
use heimdall_core::GatewayRequest;
use serde_json::{Value, json};

const SCOPE: KeyScope<'static> = KeyScope {
    tenant: "tenant-a",
    namespace: "ns",
    cache_by_model: true,
    cache_by_provider: true,
    exclude_system_prompt: false,
};

fn chat(body: &str) -> GatewayRequest {
    GatewayRequest::Chat(serde_json::from_str(body).unwrap())
}

fn chat_v(body: Value) -> GatewayRequest {
    GatewayRequest::Chat(serde_json::from_value(body).unwrap())
}

fn completion(body: Value) -> GatewayRequest {
    GatewayRequest::Completion(serde_json::from_value(body).unwrap())
}

fn key(req: &GatewayRequest) -> String {
    exact_key(req, &SCOPE).unwrap()
}

fn key_in(req: &GatewayRequest, scope: &KeyScope<'_>) -> String {
    exact_key(req, scope).unwrap()
}

/// A user question with optional extra top-level fields.
fn ask(extra: Value) -> GatewayRequest {
    let mut body = json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "What is the capital of France?"}]});
    if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
        b.extend(e);
    }
    chat_v(body)
}

fn parts(req: &GatewayRequest, scope: &KeyScope<'_>, threshold: usize) -> Option<SemanticParts> {
    semantic_parts(req, scope, threshold)
}

#[test]
fn field_order_and_whitespace_do_not_change_the_key() {
    let a = chat(
        r#"{"model":"openai/gpt-4o","temperature":0.3,"messages":[{"role":"user","content":"Hi","name":"bob"}],
            "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"x":{"type":"string"},"y":{"type":"number"}}}}}]}"#,
    );
    let b = chat(
        r#"{
            "tools": [ { "function": { "parameters": { "properties": { "y": { "type": "number" }, "x": { "type": "string" } }, "type": "object" }, "name": "f" }, "type": "function" } ],
            "messages": [ { "name": "bob", "content": "Hi", "role": "user" } ],
            "temperature": 0.30,
            "model": "openai/gpt-4o"
        }"#,
    );
    assert_eq!(key(&a), key(&b));
    assert_eq!(canonical_request(&a, &SCOPE), canonical_request(&b, &SCOPE));
}

#[test]
fn documented_defaults_are_the_same_as_absent() {
    let base = key(&ask(json!({})));
    for extra in [
        json!({"temperature": 1}),
        json!({"temperature": 1.0}),
        json!({"top_p": 1}),
        json!({"n": 1}),
        json!({"presence_penalty": 0}),
        json!({"frequency_penalty": 0.0}),
        json!({"logprobs": false}),
        json!({"verbosity": "medium"}),
        json!({"modalities": ["text"]}),
        json!({"response_format": {"type": "text"}}),
        json!({"tool_choice": "none"}),
        json!({"logit_bias": {}}),
        json!({"temperature": null, "seed": null, "stop": null}),
    ] {
        assert_eq!(key(&ask(extra.clone())), base, "{extra}");
    }
    let tool = json!([{"type": "function", "function": {"name": "f"}}]);
    let with_tools = key(&ask(json!({"tools": tool})));
    assert_eq!(
        key(&ask(
            json!({"tools": tool, "tool_choice": "auto", "parallel_tool_calls": true})
        )),
        with_tools
    );
    assert_ne!(
        key(&ask(json!({"tools": tool, "tool_choice": "required"}))),
        with_tools
    );
    assert_ne!(
        key(&ask(json!({"tools": tool, "parallel_tool_calls": false}))),
        with_tools
    );
}

#[test]
fn answer_changing_parameters_change_the_key() {
    let base = key(&ask(json!({})));
    let t02 = key(&ask(json!({"temperature": 0.2})));
    let t07 = key(&ask(json!({"temperature": 0.7})));
    assert_ne!(t02, t07);
    assert_ne!(t02, base);
    for extra in [
        json!({"temperature": 0}),
        json!({"n": 2}),
        json!({"seed": 7}),
        json!({"max_tokens": 100}),
        json!({"stop": "\n"}),
        json!({"logprobs": true}),
        json!({"reasoning_effort": "low"}),
        json!({"response_format": {"type": "json_object"}}),
        json!({"top_k": 40}),
    ] {
        assert_ne!(key(&ask(extra.clone())), base, "{extra}");
    }
}

#[test]
fn transport_and_bookkeeping_fields_do_not_change_the_key() {
    let base = key(&ask(json!({})));
    for extra in [
        json!({"stream": true}),
        json!({"stream": false}),
        json!({"stream": true, "stream_options": {"include_usage": true}}),
        json!({"user": "user-1234"}),
        json!({"safety_identifier": "abc"}),
        json!({"metadata": {"team": "x"}}),
        json!({"store": true}),
        json!({"service_tier": "flex"}),
        json!({"prompt_cache_key": "k"}),
        json!({"prompt_cache_retention": "24h"}),
        json!({"fallbacks": ["anthropic/claude-sonnet-4"]}),
    ] {
        assert_eq!(key(&ask(extra.clone())), base, "{extra}");
    }
}

#[test]
fn equivalent_spellings_share_a_key() {
    assert_eq!(
        key(&ask(json!({"stop": ["END"]}))),
        key(&ask(json!({"stop": "END"})))
    );
    assert_eq!(
        key(&ask(json!({"top_k": 40}))),
        key(&ask(json!({"top_k": 40.0})))
    );
    assert_ne!(
        key(&ask(json!({"stop": ["END", "STOP"]}))),
        key(&ask(json!({"stop": "END"})))
    );
}

#[test]
fn text_parts_are_the_same_as_a_string() {
    let text =
        chat_v(json!({"model": "m", "messages": [{"role": "user", "content": "Hello there"}]}));
    let one_part = chat_v(json!({"model": "m", "messages": [{"role": "user",
        "content": [{"type": "text", "text": "Hello there"}]}]}));
    let two_parts = chat_v(json!({"model": "m", "messages": [{"role": "user",
        "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "there",
            "cache_control": {"type": "ephemeral"}}]}]}));
    assert_eq!(key(&text), key(&one_part));
    assert_eq!(key(&text), key(&two_parts));
    let image = chat_v(json!({"model": "m", "messages": [{"role": "user",
        "content": [{"type": "text", "text": "Hello there"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]}));
    assert_ne!(key(&text), key(&image));
}

#[test]
fn nulls_inside_schemas_are_kept() {
    let tool_with = |x: Value| {
        ask(
            json!({"tools": [{"type": "function", "function": {"name": "f",
            "parameters": {"type": "object", "properties": {"x": x}}}}]}),
        )
    };
    assert_ne!(
        key(&tool_with(
            json!({"type": ["string", "null"], "default": null})
        )),
        key(&tool_with(json!({"type": ["string", "null"]})))
    );
    // …while a null field of the request itself is the same as an absent one.
    let assistant_null = chat_v(json!({"model": "m", "messages": [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": null, "refusal": "No."},
        {"role": "user", "content": "Why?"}]}));
    let assistant_absent = chat_v(json!({"model": "m", "messages": [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "refusal": "No."},
        {"role": "user", "content": "Why?"}]}));
    assert_eq!(key(&assistant_null), key(&assistant_absent));
}

#[test]
fn tenant_and_namespace_partition_keys() {
    let req = ask(json!({}));
    let other_tenant = KeyScope {
        tenant: "tenant-b",
        ..SCOPE
    };
    let other_ns = KeyScope {
        namespace: "ns2",
        ..SCOPE
    };
    assert_ne!(key(&req), key_in(&req, &other_tenant));
    assert_ne!(key(&req), key_in(&req, &other_ns));
    // Length prefixes: moving a character from the tenant to the namespace is another key.
    let shifted = KeyScope {
        tenant: "tenant-",
        namespace: "ans",
        ..SCOPE
    };
    assert_ne!(key(&req), key_in(&req, &shifted));
    let sp = parts(&req, &SCOPE, 3).unwrap();
    assert_ne!(sp.bucket, parts(&req, &other_tenant, 3).unwrap().bucket);
    assert_ne!(sp.bucket, parts(&req, &other_ns, 3).unwrap().bucket);
}

#[test]
fn model_and_provider_scoping() {
    let on = |model: &str| ask(json!({"model": model}));
    assert_ne!(key(&on("openai/gpt-4o")), key(&on("openai/gpt-4o-mini")));
    let any_model = KeyScope {
        cache_by_model: false,
        ..SCOPE
    };
    assert_eq!(
        key_in(&on("openai/gpt-4o"), &any_model),
        key_in(&on("anthropic/claude-sonnet-4"), &any_model)
    );
    // By provider (the default scope): the prefix counts.
    assert_ne!(key(&on("openai/gpt-4o")), key(&on("azure/gpt-4o")));
    assert_ne!(key(&on("openai/gpt-4o")), key(&on("gpt-4o")));
    let any_provider = KeyScope {
        cache_by_provider: false,
        ..SCOPE
    };
    let k = key_in(&on("openai/gpt-4o"), &any_provider);
    assert_eq!(k, key_in(&on("azure/gpt-4o"), &any_provider));
    assert_eq!(k, key_in(&on("gpt-4o"), &any_provider));
    assert_ne!(k, key_in(&on("azure/gpt-4o-mini"), &any_provider));
    let canon = canonical_request(&on("groq/meta-llama/llama-4"), &any_provider).unwrap();
    assert_eq!(canon["model"], "meta-llama/llama-4");
}

#[test]
fn the_canonical_form_is_what_the_doc_says() {
    let req = chat_v(
        json!({"model": "openai/gpt-4o", "stream": true, "user": "u", "temperature": 1,
        "max_tokens": 64, "messages": [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": "Hi", "cache_control": {"type": "ephemeral"}}]}),
    );
    assert_eq!(
        canonical_request(&req, &SCOPE).unwrap(),
        json!({"model": "openai/gpt-4o", "max_tokens": 64, "messages": [
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]})
    );
    let no_system = KeyScope {
        exclude_system_prompt: true,
        ..SCOPE
    };
    assert_eq!(
        canonical_request(&req, &no_system).unwrap()["messages"],
        json!([{"role": "user", "content": "Hi"}])
    );
    let emb = GatewayRequest::Embedding(
        serde_json::from_value(json!({"model": "text-embedding-3-small", "input": "x"})).unwrap(),
    );
    assert_eq!(canonical_request(&emb, &SCOPE), None);
    assert_eq!(exact_key(&emb, &SCOPE), None);
    assert_eq!(semantic_parts(&emb, &SCOPE, 3), None);
}

#[test]
fn tools_change_both_the_key_and_the_bucket() {
    let tool = |name: &str| {
        ask(
            json!({"tools": [{"type": "function", "function": {"name": name,
            "parameters": {"type": "object", "properties": {}}}}]}),
        )
    };
    let (a, b) = (tool("get_weather"), tool("get_time"));
    assert_ne!(key(&a), key(&b));
    assert_ne!(
        parts(&a, &SCOPE, 3).unwrap().bucket,
        parts(&b, &SCOPE, 3).unwrap().bucket
    );
    assert_ne!(
        parts(&a, &SCOPE, 3).unwrap().bucket,
        parts(&ask(json!({})), &SCOPE, 3).unwrap().bucket
    );
}

#[test]
fn semantic_text_and_bucket_of_a_single_question() {
    let q = |text: &str, extra: Value| {
        let mut body =
            json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": text}]});
        if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
            b.extend(e);
        }
        chat_v(body)
    };
    let a = parts(
        &q("  What is the capital of France?\n", json!({})),
        &SCOPE,
        3,
    )
    .unwrap();
    assert_eq!(a.text, "What is the capital of France?");
    let b = parts(
        &q("Which city is France's capital?", json!({"stream": true})),
        &SCOPE,
        3,
    )
    .unwrap();
    assert_eq!(a.bucket, b.bucket, "wording is not part of the bucket");
    assert_eq!(a.bucket.len(), 32);
    assert!(a.bucket.bytes().all(|c| c.is_ascii_hexdigit()));
    let hot = parts(
        &q(
            "Which city is France's capital?",
            json!({"temperature": 0.9}),
        ),
        &SCOPE,
        3,
    )
    .unwrap();
    assert_ne!(a.bucket, hot.bucket);
    assert_ne!(
        a.bucket,
        parts(
            &q(
                "What is the capital of France?",
                json!({"model": "openai/gpt-4o-mini"})
            ),
            &SCOPE,
            3
        )
        .unwrap()
        .bucket
    );
    assert_ne!(
        a.bucket,
        key(&q("What is the capital of France?", json!({})))
    );
    // Text parts count as text.
    let parted = chat_v(
        json!({"model": "openai/gpt-4o", "messages": [{"role": "user",
        "content": [{"type": "text", "text": "What is the "}, {"type": "text", "text": "capital of France?"}]}]}),
    );
    assert_eq!(parts(&parted, &SCOPE, 3).unwrap(), a);
    assert_eq!(parts(&q("   ", json!({})), &SCOPE, 3), None);
}

#[test]
fn system_prompt_included_or_excluded() {
    let with_system = |system: &str| {
        chat_v(
            json!({"model": "m", "messages": [{"role": "system", "content": system},
            {"role": "user", "content": "Summarise the plot of Hamlet."}]}),
        )
    };
    let (a, b) = (
        with_system("You are terse."),
        with_system("Answer briefly."),
    );
    // Included: the system prompt is part of the exact key and of the text, not of the bucket.
    assert_ne!(key(&a), key(&b));
    let (pa, pb) = (parts(&a, &SCOPE, 3).unwrap(), parts(&b, &SCOPE, 3).unwrap());
    assert_eq!(pa.text, "You are terse.\nSummarise the plot of Hamlet.");
    assert_eq!(pb.text, "Answer briefly.\nSummarise the plot of Hamlet.");
    assert_eq!(pa.bucket, pb.bucket);
    // Excluded: neither the key, the text nor the bucket sees it.
    let excl = KeyScope {
        exclude_system_prompt: true,
        ..SCOPE
    };
    let bare = chat_v(
        json!({"model": "m", "messages": [{"role": "user", "content": "Summarise the plot of Hamlet."}]}),
    );
    assert_eq!(key_in(&a, &excl), key_in(&b, &excl));
    assert_eq!(key_in(&a, &excl), key_in(&bare, &excl));
    let (ea, eb) = (
        parts(&a, &excl, 3).unwrap(),
        parts(&bare, &excl, 3).unwrap(),
    );
    assert_eq!(ea.text, "Summarise the plot of Hamlet.");
    assert_eq!(ea, eb);
    // Developer messages are instructions too.
    let dev = chat_v(
        json!({"model": "m", "messages": [{"role": "developer", "content": "Be formal."},
        {"role": "user", "content": "Summarise the plot of Hamlet."}]}),
    );
    assert_eq!(key_in(&dev, &excl), key_in(&bare, &excl));
}

#[test]
fn history_threshold_counts_non_system_messages() {
    let convo = chat_v(json!({"model": "m", "messages": [
        {"role": "system", "content": "Be helpful."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "What's 2+2?"}]}));
    assert_eq!(parts(&convo, &SCOPE, 2), None);
    let p = parts(&convo, &SCOPE, 3).unwrap();
    assert_eq!(
        p.text,
        "Be helpful.\nHi\nHello! How can I help?\nWhat's 2+2?"
    );
    // The exact tier still applies.
    assert!(exact_key(&convo, &SCOPE).is_some());
}

#[test]
fn non_text_content_and_tool_loops_are_not_semantic() {
    let image = chat_v(
        json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]}),
    );
    assert_eq!(parts(&image, &SCOPE, 3), None);
    let audio = chat_v(
        json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]}),
    );
    assert_eq!(parts(&audio, &SCOPE, 3), None);
    let tool_loop = chat_v(json!({"model": "m", "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"}]}));
    assert_eq!(parts(&tool_loop, &SCOPE, 10), None);
    assert!(exact_key(&tool_loop, &SCOPE).is_some());
}

#[test]
fn completions() {
    let c = |extra: Value| {
        let mut body =
            json!({"model": "openai/gpt-3.5-turbo-instruct", "prompt": "Once upon a time"});
        if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
            b.extend(e);
        }
        completion(body)
    };
    let base = key(&c(json!({})));
    for same in [
        json!({"max_tokens": 16}),
        json!({"echo": false, "best_of": 1, "n": 1, "temperature": 1, "top_p": 1}),
        json!({"stream": true, "user": "u", "suffix": null}),
        json!({"prompt": ["Once upon a time"]}),
    ] {
        assert_eq!(key(&c(same.clone())), base, "{same}");
    }
    for other in [
        json!({"max_tokens": 17}),
        json!({"echo": true}),
        json!({"prompt": "Once upon a time,"}),
        json!({"prompt": ["Once upon a time", "Long ago"]}),
        json!({"suffix": "The end."}),
    ] {
        assert_ne!(key(&c(other.clone())), base, "{other}");
    }
    // A completion never shares a key with a chat.
    assert_ne!(
        base,
        key(&chat_v(json!({"model": "openai/gpt-3.5-turbo-instruct",
            "messages": [{"role": "user", "content": "Once upon a time"}]})))
    );
    let p = parts(&c(json!({})), &SCOPE, 3).unwrap();
    assert_eq!(p.text, "Once upon a time");
    assert_eq!(
        p.bucket,
        parts(&c(json!({"prompt": "Long ago"})), &SCOPE, 3)
            .unwrap()
            .bucket
    );
    assert_eq!(parts(&c(json!({"prompt": [1, 2, 3]})), &SCOPE, 3), None);
    assert_eq!(parts(&c(json!({"prompt": ["a", "b"]})), &SCOPE, 3), None);
}

/// A fixed request has a fixed key: a change here changes every key in every deployed cache,
/// so it must come with a new format tag. The expected values were checked independently:
/// `sha256(concat(u64le(len(p)) + p for p in [tag, op, tenant, namespace, canonical]))[:32]`,
/// with the canonical JSON from Python's `json.dumps(sort_keys=True, separators=(",", ":"))`.
#[test]
fn keys_are_deterministic() {
    let req = chat(
        r#"{"model":"openai/gpt-4o","messages":[{"role":"system","content":"Be brief."},
            {"role":"user","content":"What is the capital of France?"}],"temperature":0.2,"stream":true}"#,
    );
    let k = key(&req);
    assert_eq!(k, key(&req.clone()));
    assert_eq!(k.len(), 32);
    assert_eq!(k, "6a0fd1a67c7d86d33c8fc59f2e9f2801");
    let p = parts(&req, &SCOPE, 3).unwrap();
    assert_eq!(p.bucket, "f4398ac57ec7cd5e2c36c83945cf457f");
    let c = completion(json!({"model": "m", "prompt": "Hello"}));
    assert_eq!(key(&c), "01379508e218a94363509ae72803d686");
}
