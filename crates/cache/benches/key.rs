//! Micro-benchmarks of cache keys: the exact key (on every cacheable request, before any
//! upstream work, so it must stay in the microseconds) and the semantic parts (once per lookup
//! in the semantic tier, next to an embedding that costs far more).
//!
//! `cargo bench -p heimdall-cache --bench key`; the fixture is a ~1 KB chat request (system
//! prompt, user question, one tool, a few parameters).
#![allow(clippy::unwrap_used, missing_docs)]

use divan::{Bencher, black_box};
use heimdall_cache::key::{KeyScope, canonical_request, exact_key, semantic_parts};
use heimdall_core::GatewayRequest;

fn main() {
    divan::main();
}

const SCOPE: KeyScope<'static> = KeyScope {
    tenant: "team-42",
    namespace: "default",
    cache_by_model: true,
    cache_by_provider: false,
    exclude_system_prompt: false,
};

/// A chat request of about 1 KB of JSON.
fn request() -> GatewayRequest {
    let body = r#"{
        "model": "openai/gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are a concise assistant for an online bookshop. Answer questions about orders, shipping and returns. If you need order details, call the lookup_order tool. Never invent order numbers."},
            {"role": "user", "content": [{"type": "text", "text": "Hello! I ordered two paperbacks last Tuesday and the tracking page still says the parcel is being prepared. The order number is BK-2291-7734. Could you check whether it has shipped yet, and if not, when I can expect it? I am travelling from the 14th, so I would like it to arrive before then if possible. Thanks a lot for your help."}]}
        ],
        "tools": [{"type": "function", "function": {"name": "lookup_order", "description": "Look up an order by its number and return its status and tracking events.", "parameters": {"type": "object", "properties": {"order_number": {"type": "string", "description": "Order number, like BK-1234-5678"}}, "required": ["order_number"], "additionalProperties": false}, "strict": true}}],
        "temperature": 0.2,
        "top_p": 1,
        "max_completion_tokens": 512,
        "stream": true,
        "stream_options": {"include_usage": true},
        "user": "customer-8812"
    }"#;
    GatewayRequest::Chat(serde_json::from_str(body).unwrap())
}

#[divan::bench]
fn exact_key_1kb_chat(b: Bencher) {
    let req = request();
    b.bench(|| exact_key(black_box(&req), black_box(&SCOPE)));
}

#[divan::bench]
fn canonical_request_1kb_chat(b: Bencher) {
    let req = request();
    b.bench(|| canonical_request(black_box(&req), black_box(&SCOPE)));
}

#[divan::bench]
fn semantic_parts_1kb_chat(b: Bencher) {
    let req = request();
    b.bench(|| semantic_parts(black_box(&req), black_box(&SCOPE), 3));
}
