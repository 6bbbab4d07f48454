//! Round-trip properties over the golden fixtures: a body in a provider's own dialect, read as a
//! client of that dialect would send it (client side → canonical) and written back for an
//! upstream of the same dialect (canonical → upstream side), comes out as it went in.
//!
//! Why: the two sides of a dialect now live together; this is what keeps them inverse of each
//! other. Every request fixture of Anthropic, Gemini, Bedrock and Cohere round-trips exactly
//! (the first run found the Gemini client side inventing a schema for parameterless tools).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod golden;

use golden::Fixtures;
use heimdall_dialects::anthropic::client_request;
use heimdall_dialects::anthropic::request::to_messages_request;
use heimdall_dialects::gemini::client_request as genai_client;
use heimdall_dialects::gemini::request::to_generate_request;
use serde_json::Value;

fn report(failures: &[String]) {
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn anthropic_client_to_canonical_to_anthropic_upstream_is_identity() {
    let fx = Fixtures::of("anthropic");
    let mut failures = Vec::new();
    for case in fx.cases("req", ".anthropic.json") {
        let sent = fx.json(&format!("req_{case}.anthropic.json"));
        let canonical = client_request::to_chat_request(&sent).unwrap();
        let back = serde_json::to_value(to_messages_request(&canonical).unwrap()).unwrap();
        if back != sent {
            failures.push(format!("req_{case}\n sent: {sent}\n back: {back}"));
        }
    }
    report(&failures);
}

#[test]
fn gemini_client_to_canonical_to_gemini_upstream_is_identity() {
    let fx = Fixtures::of("gemini");
    let mut failures = Vec::new();
    for case in fx.cases("req", ".gemini.json") {
        let sent: Value = fx.json(&format!("req_{case}.gemini.json"));
        let canonical = genai_client::to_chat_request("gemini-2.5-flash", &sent, false).unwrap();
        let back = to_generate_request(&canonical).unwrap();
        if back != sent {
            failures.push(format!("req_{case}\n sent: {sent}\n back: {back}"));
        }
    }
    report(&failures);
}

#[test]
fn bedrock_client_to_canonical_to_bedrock_upstream_is_identity() {
    use heimdall_dialects::bedrock::client;
    use heimdall_dialects::bedrock::request::to_converse_request;
    let fx = Fixtures::of("bedrock");
    let mut failures = Vec::new();
    for case in fx.cases("req", ".bedrock.json") {
        let sent: Value = fx.json(&format!("req_{case}.bedrock.json"));
        let canonical = client::to_chat_request("m", &sent, false).unwrap();
        let back = to_converse_request(&canonical).unwrap();
        if back != sent {
            failures.push(format!("req_{case}\n sent: {sent}\n back: {back}"));
        }
    }
    report(&failures);
}

#[test]
fn cohere_client_to_canonical_to_cohere_upstream_is_identity() {
    use heimdall_dialects::cohere::client;
    use heimdall_dialects::cohere::request::to_chat_request;
    let fx = Fixtures::of("cohere");
    let mut failures = Vec::new();
    for case in fx.cases("req", ".cohere.json") {
        let sent: Value = fx.json(&format!("req_{case}.cohere.json"));
        let canonical = client::to_chat_request(&sent).unwrap();
        let stream = canonical.stream == Some(true);
        let back = to_chat_request(&canonical, stream).unwrap();
        if back != sent {
            failures.push(format!("req_{case}\n sent: {sent}\n back: {back}"));
        }
    }
    report(&failures);
}
