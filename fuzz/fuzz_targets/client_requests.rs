//! Every client-side request decoder on arbitrary bytes: no panic, refusals are 4xx.
//! `cargo fuzz run client_requests` (needs a nightly toolchain); the seeded, deterministic
//! version runs in the test suite: crates/server/tests/client_decoders_no_panic.rs.
#![no_main]

use heimdall_schema::chat::ChatRequest;
use heimdall_schema::completions::CompletionRequest;
use heimdall_schema::embeddings::EmbeddingRequest;
use heimdall_schema::error::GatewayError;
use heimdall_server::body::decode_json;
use heimdall_server::conversation::DialectBody;
use libfuzzer_sys::fuzz_target;

fn check(r: Result<(), GatewayError>) {
    if let Err(e) = r {
        assert!((400..500).contains(&e.status), "{} {}", e.status, e.message);
    }
}

fuzz_target!(|bytes: &[u8]| {
    check(decode_json::<ChatRequest>(bytes).and_then(|r| r.validate()));
    check(decode_json::<CompletionRequest>(bytes).and_then(|r| r.validate()));
    check(decode_json::<EmbeddingRequest>(bytes).and_then(|r| r.validate()));
    check(
        DialectBody::parse(bytes, "messages")
            .and_then(|b| heimdall_server::anthropic::inbound::from_body(&b))
            .map(drop),
    );
    check(
        DialectBody::parse(bytes, "contents")
            .and_then(|b| heimdall_server::genai::inbound::from_body("m", &b, false))
            .map(drop),
    );
    check(
        DialectBody::parse(bytes, "messages")
            .and_then(|b| heimdall_server::cohere::from_body(&b))
            .map(drop),
    );
    check(
        DialectBody::parse(bytes, "messages")
            .and_then(|b| heimdall_server::bedrock::from_body("m", &b, true))
            .map(drop),
    );
});
