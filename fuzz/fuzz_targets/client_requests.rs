//! Every client dialect's request decoder (through the `ClientDialect` contract the routes use)
//! on arbitrary bytes: a refusal is a 4xx, never a panic or a 5xx.
#![no_main]

use heimdall_dialects::bedrock::client::{Converse, ConverseCall};
use heimdall_dialects::client::ClientDialect;
use heimdall_dialects::gemini::client_response::{GenerateCall, GenerateContent};
use heimdall_dialects::json::decode_json;
use heimdall_dialects::{anthropic, cohere, openai};
use heimdall_schema::completions::CompletionRequest;
use heimdall_schema::embeddings::EmbeddingRequest;
use heimdall_schema::error::GatewayError;
use libfuzzer_sys::fuzz_target;

fn check<T>(r: Result<T, GatewayError>) {
    if let Err(e) = r {
        assert!((400..500).contains(&e.status), "{} {}", e.status, e.message);
    }
}

fuzz_target!(|bytes: &[u8]| {
    check(openai::ChatCompletions::decode(&(), bytes));
    check(decode_json::<CompletionRequest>(bytes).and_then(|r| r.validate()));
    check(decode_json::<EmbeddingRequest>(bytes).and_then(|r| r.validate()));
    check(anthropic::client_response::Messages::decode(&(), bytes));
    let call = GenerateCall {
        model: "m".to_owned(),
        stream: None,
    };
    check(GenerateContent::decode(&call, bytes));
    check(cohere::client::Chat::decode(&(), bytes));
    let call = ConverseCall {
        model: "m".to_owned(),
        stream: true,
    };
    check(Converse::decode(&call, bytes));
});
