//! The Realtime API through the gateway: a WebSocket client (tokio-tungstenite) talks to the
//! mock's realtime face via `/v1/realtime`, with the gateway's provider key injected, the
//! session logged with its usage and governed by virtual key; refusals answer before the
//! upgrade in OpenAI's error shape; session and client-secret creation are proxied.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use futures::{SinkExt, StreamExt};
use heimdall_core::Plugin;
use heimdall_mock_provider::MockConfig;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

fn config(base_url: &str) -> Value {
    json!({
        "providers": {
            "mock": {
                "type": "custom",
                "keys": [{"name": "k1", "value": "sk-test-1", "models": [], "weight": 1.0}],
                "network_config": {"base_url": base_url, "default_request_timeout_in_seconds": 5}
            },
            "groqish": {
                "type": "groq",
                "keys": [{"name": "g", "value": "gsk-test", "models": [], "weight": 1.0}],
                "network_config": {"base_url": base_url}
            }
        },
        "governance": {"virtual_keys": [
            {"id": "vk-rt", "value": "sk-bf-rt"},
            {"id": "vk-off", "value": "sk-bf-off", "is_active": false},
            {"id": "vk-narrow", "value": "sk-bf-narrow",
             "provider_configs": [{"provider": "mock", "allowed_models": ["only-this-model"]}]}
        ]}
    })
}

/// A gateway over a recording mock with governance (virtual keys) and a SQLite request log.
async fn harness() -> (
    Harness,
    heimdall_store::LogStore,
    heimdall_store::LogWriter,
    tempfile::TempDir,
) {
    let (store, writer, dir) = sqlite_writer(1000).await;
    // Governance reads provider names and kinds, not URLs.
    let loaded = heimdall_config::parse_str(
        &config("http://127.0.0.1:9/v1").to_string(),
        heimdall_config::ConfigFormat::Json,
        &std::collections::BTreeMap::<String, String>::new(),
    )
    .unwrap();
    let governance: Arc<dyn Plugin> = Arc::new(heimdall_governance::Governance::new(
        &loaded.config,
        heimdall_governance::ledger::Ledger::memory(),
    ));
    let h = start_observed(
        MockConfig {
            record_requests: true,
            ..Default::default()
        },
        |m| config(&m.base_url()),
        vec![governance],
        Some(writer.clone()),
    )
    .await;
    (h, store, writer, dir)
}

fn ws_request(h: &Harness, path: &str, key: &str) -> tungstenite::handshake::client::Request {
    let mut r = format!("ws://{}{path}", h.addr)
        .into_client_request()
        .unwrap();
    r.headers_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    r
}

async fn next_event(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("an event within 5 s")
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(t) = m {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

async fn wait_written(writer: &heimdall_store::LogWriter, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while writer.stats().written.load(Ordering::Relaxed) < n {
        assert!(Instant::now() < deadline, "records not written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_session_is_piped_both_ways_with_the_provider_key_and_logged_with_its_usage() {
    let (h, store, writer, _dir) = harness().await;
    let mut req = ws_request(&h, "/v1/realtime?model=mock/gpt-realtime", "sk-bf-rt");
    req.headers_mut()
        .insert("openai-beta", "realtime=v1".parse().unwrap());
    let (mut ws, answer) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(answer.headers()["x-heimdall-provider"], "mock");
    let request_id = answer.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let created = next_event(&mut ws).await;
    assert_eq!(created["type"], "session.created");
    assert_eq!(created["session"]["model"], "gpt-realtime", "{created}");
    ws.send(Message::text(
        json!({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "Hello"}]}})
        .to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(
        next_event(&mut ws).await["type"],
        "conversation.item.created"
    );
    ws.send(Message::text(
        json!({"type": "response.create"}).to_string(),
    ))
    .await
    .unwrap();
    let mut text = String::new();
    let done = loop {
        let e = next_event(&mut ws).await;
        match e["type"].as_str().unwrap() {
            // The client sent `OpenAI-Beta: realtime=v1`: the upstream saw it and answered
            // with the beta's event names.
            "response.text.delta" => text.push_str(e["delta"].as_str().unwrap()),
            "response.done" => break e,
            _ => {}
        }
    };
    assert!(!text.is_empty());
    assert_eq!(done["response"]["usage"]["input_tokens"], 12);
    ws.close(None).await.unwrap();

    // The upstream saw the gateway's key, never the client's virtual key.
    let seen = h
        .mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/realtime")
        .unwrap();
    assert_eq!(seen.headers["authorization"], "Bearer sk-test-1");
    assert_eq!(seen.headers["openai-beta"], "realtime=v1");

    wait_written(&writer, 1).await;
    let rec = store.get(&request_id).await.unwrap().unwrap();
    assert_eq!(rec.operation, "realtime");
    assert_eq!(rec.provider.as_deref(), Some("mock"));
    assert_eq!(rec.model.as_deref(), Some("gpt-realtime"));
    assert_eq!(rec.virtual_key_id.as_deref(), Some("vk-rt"));
    assert_eq!(rec.prompt_tokens, 12);
    let output_tokens = done["response"]["usage"]["output_tokens"].as_i64().unwrap();
    assert!(output_tokens > 0);
    assert_eq!(rec.completion_tokens, output_tokens);
    assert_eq!(rec.output.as_deref(), Some(text.as_str()));
    assert!(rec.success, "{rec:?}");
}

/// The status and OpenAI error body a refused WebSocket handshake answered with.
async fn refused(h: &Harness, path: &str, key: &str) -> (u16, Value) {
    match tokio_tungstenite::connect_async(ws_request(h, path, key)).await {
        Err(tungstenite::Error::Http(r)) => {
            let body = r.body().as_deref().unwrap_or_default();
            (r.status().as_u16(), serde_json::from_slice(body).unwrap())
        }
        Err(e) => panic!("{path}: unexpected error {e}"),
        Ok(_) => panic!("{path}: the upgrade was accepted"),
    }
}

#[tokio::test]
async fn refusals_answer_before_the_upgrade_in_openais_error_shape() {
    let (h, _store, writer, _dir) = harness().await;
    let (status, body) = refused(&h, "/v1/realtime?model=mock/gpt-realtime", "sk-bf-off").await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("inactive")
    );
    let (status, body) = refused(&h, "/v1/realtime?model=mock/gpt-realtime", "sk-bf-narrow").await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = refused(&h, "/v1/realtime?model=nowhere/gpt-realtime", "sk-bf-rt").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = refused(&h, "/v1/realtime", "sk-bf-rt").await;
    assert_eq!(
        (status, body["error"]["param"].as_str()),
        (400, Some("model"))
    );
    // A provider kind without the Realtime API.
    let (status, body) = refused(&h, "/v1/realtime?model=groqish/gpt-realtime", "sk-bf-rt").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "unsupported_operation");
    // The upstream's own refusal of the handshake comes back typed.
    let (status, body) = refused(
        &h,
        "/v1/realtime?model=mock/gpt-realtime%3Bfail_rate%3D1%3Bfail_status%3D429",
        "sk-bf-rt",
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert!(body["error"]["message"].is_string());
    // Not a WebSocket request at all.
    let r = h
        .client
        .get(h.url("/v1/realtime?model=mock/gpt-realtime"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]["message"].is_string());
    // Refusals after admission started are logged like failed requests.
    wait_written(&writer, 4).await;
}

#[tokio::test]
async fn sessions_and_client_secrets_are_proxied_with_the_upstream_model_and_key() {
    let (h, _store, _writer, _dir) = harness().await;
    let r = h
        .client
        .post(h.url("/v1/realtime/client_secrets"))
        .bearer_auth("sk-bf-rt")
        .json(&json!({"session": {"type": "realtime", "model": "mock/gpt-realtime"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-heimdall-provider"], "mock");
    let body: Value = r.json().await.unwrap();
    assert!(body["value"].as_str().unwrap().starts_with("ek_"), "{body}");
    assert_eq!(body["session"]["model"], "gpt-realtime");

    let r = h
        .client
        .post(h.url("/realtime/sessions"))
        .bearer_auth("sk-bf-rt")
        .json(&json!({"model": "mock/gpt-realtime", "modalities": ["text"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "served at the root too");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["object"], "realtime.session");
    assert!(body["client_secret"]["value"].is_string());

    let seen: Vec<_> = h
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/v1/realtime/"))
        .collect();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body["session"]["model"], "gpt-realtime");
    assert_eq!(seen[1].body["model"], "gpt-realtime");
    assert_eq!(
        seen[1].body["modalities"],
        json!(["text"]),
        "the rest goes as sent"
    );
    assert!(
        seen.iter()
            .all(|r| r.headers["authorization"] == "Bearer sk-test-1")
    );

    let r = h
        .client
        .post(h.url("/v1/realtime/client_secrets"))
        .json(&json!({"session": {"type": "realtime"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["param"], "session.model");
}
