//! The capability table (`ProviderKind::capabilities`, what `/v1/models` and `check-config`
//! report) agrees with the implementations: for every kind, an operation the table lists does
//! not answer `unsupported_operation`, and one it does not list does. The upstream is a closed
//! port, so a supported operation fails on the network instead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use heimdall_config::{ALL_KINDS, Capability, ConfigFormat, ProviderKind, parse_str};
use heimdall_providers::build_provider;
use heimdall_schema::completions::CompletionRequest;
use heimdall_schema::embeddings::EmbeddingRequest;
use heimdall_schema::error::GatewayError;
use heimdall_schema::form::FormRequest;
use serde_json::{Value, json};

const CLOSED: &str = "http://127.0.0.1:9";
const SA: &str = include_str!("../../server/tests/fixtures/vertex-test-service-account.json");

fn provider_json(kind: ProviderKind) -> Value {
    let plain = json!([{"name": "k", "value": "secret", "models": [], "weight": 1.0}]);
    let (keys, base) = match kind {
        ProviderKind::Azure => (
            json!([{"name": "az", "value": "secret", "azure_key_config": {"endpoint": CLOSED}}]),
            None,
        ),
        ProviderKind::Bedrock => (
            json!([{"name": "iam", "bedrock_key_config": {"region": "us-east-1",
                "access_key": "AKIDTEST", "secret_key": "secret"}}]),
            Some(CLOSED.to_owned()),
        ),
        ProviderKind::Vertex => (
            json!([{"name": "sa", "vertex_key_config": {"project_id": "p", "region": "us-central1",
                "auth_credentials": SA, "token_url": format!("{CLOSED}/token")}}]),
            Some(CLOSED.to_owned()),
        ),
        _ => (plain, Some(format!("{CLOSED}/v1"))),
    };
    let mut p = json!({"type": kind.as_str(), "keys": keys,
        "network_config": {"default_request_timeout_in_seconds": 2, "max_retries": 0}});
    if let Some(b) = base {
        p["network_config"]["base_url"] = Value::from(b);
    }
    p
}

fn unsupported<T>(r: &Result<T, GatewayError>) -> bool {
    matches!(r, Err(e) if e.code.as_deref() == Some("unsupported_operation"))
}

#[tokio::test]
async fn every_kind_implements_exactly_the_operations_its_capabilities_list() {
    for &kind in ALL_KINDS {
        let doc = json!({"providers": {"p": provider_json(kind)}}).to_string();
        let loaded = parse_str(&doc, ConfigFormat::Json, &BTreeMap::new())
            .unwrap_or_else(|e| panic!("{}: {e}", kind.as_str()));
        let config = loaded.config.providers.get("p").unwrap();
        let provider = build_provider(config).unwrap();
        let key = config.keys.first();
        let completion = provider
            .completion(
                key,
                &CompletionRequest {
                    model: "m".into(),
                    ..CompletionRequest::default()
                },
            )
            .await;
        let embeddings = provider
            .embeddings(
                key,
                &serde_json::from_value::<EmbeddingRequest>(json!({"model": "m", "input": "x"}))
                    .unwrap(),
            )
            .await;
        let speech = provider
            .speech(
                key,
                &serde_json::from_value(json!({"model": "m", "input": "x", "voice": "alloy"}))
                    .unwrap(),
            )
            .await;
        let transcription = provider
            .transcription(
                key,
                &FormRequest {
                    model: "m".into(),
                    parts: Vec::new(),
                },
            )
            .await;
        let images = provider
            .image_generation(
                key,
                &serde_json::from_value(json!({"model": "m", "prompt": "x"})).unwrap(),
            )
            .await;
        let rerank = provider
            .rerank(
                key,
                &serde_json::from_value(json!({"model": "m", "query": "q", "documents": ["d"]}))
                    .unwrap(),
            )
            .await;
        let realtime = provider
            .realtime_post(key, "/realtime/client_secrets", "{}".into())
            .await;
        for (capability, answered_unsupported) in [
            (Capability::Completions, unsupported(&completion)),
            (Capability::Embeddings, unsupported(&embeddings)),
            (Capability::Speech, unsupported(&speech)),
            (Capability::Transcription, unsupported(&transcription)),
            (Capability::Images, unsupported(&images)),
            (Capability::Rerank, unsupported(&rerank)),
            (Capability::Realtime, unsupported(&realtime)),
        ] {
            assert_eq!(
                kind.serves(capability),
                !answered_unsupported,
                "{}: the table says {} is {}served",
                kind.as_str(),
                capability.as_str(),
                if kind.serves(capability) { "" } else { "not " }
            );
        }
        assert!(kind.serves(Capability::Chat), "{}", kind.as_str());
    }
}
