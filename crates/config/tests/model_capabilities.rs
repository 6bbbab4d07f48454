//! `check-config`'s warning for a declared model whose kind of operation its provider's kind
//! has no route for.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use heimdall_config::{ConfigFormat, parse_str};

fn warnings(json: &str) -> Vec<String> {
    parse_str(json, ConfigFormat::Json, &BTreeMap::new())
        .unwrap()
        .warnings
}

#[test]
fn a_model_the_provider_kind_cannot_serve_is_a_warning() {
    let w = warnings(
        r#"{"providers": {
            "claude": {"type": "anthropic", "keys": [{"name": "a", "value": "sk-ant"}],
                       "models": ["claude-sonnet-4-5", "text-embedding-3-small"]},
            "fast": {"type": "groq", "keys": [{"name": "g", "value": "gsk",
                       "models": ["llama-3.1-8b-instant", "gpt-realtime"]}]}
        }}"#,
    );
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("providers.claude") && w[0].contains("'text-embedding-3-small'"));
    assert!(w[0].contains("is for embeddings") && w[0].contains("it serves: chat"));
    assert!(
        w[1].contains("providers.fast") && w[1].contains("'gpt-realtime'"),
        "{w:?}"
    );
}

#[test]
fn models_their_provider_serves_give_no_warning() {
    let w = warnings(
        r#"{"providers": {
            "openai": {"type": "openai", "keys": [{"name": "o", "value": "sk"}],
                       "models": ["gpt-4o", "text-embedding-3-small", "gpt-realtime"]},
            "gemini": {"type": "gemini", "keys": [{"name": "g", "value": "k"}],
                       "models": ["gemini-2.5-flash", "gemini-embedding-001"]}
        }}"#,
    );
    assert!(w.is_empty(), "{w:?}");
}
