//! The client's bytes to an OpenAI-compatible upstream and the upstream's bytes back, through
//! the binary with its real plugin pipeline (request log, governance, MCP injection, cache):
//! a unit test of one plugin cannot show that no plugin of the shipped pipeline turns the
//! pass-through off (one did: the MCP injection plugin, in every gateway, dropped the bytes).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use common::{Gateway, free_port};

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;

/// An OpenAI answer as the API writes it: pretty-printed, with nulls and a field the gateway
/// does not model. Encoding the decoded answer again would write none of that the same way.
const ANSWER: &str = r#"{
  "id": "chatcmpl-pass",
  "object": "chat.completion",
  "created": 1770933883,
  "model": "gpt-4o-mini-2024-07-18",
  "choices": [
    {
      "index": 0,
      "message": {"role": "assistant", "content": "Hi.", "refusal": null, "annotations": []},
      "logprobs": null,
      "finish_reason": "stop"
    }
  ],
  "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
  "service_tier": "default",
  "system_fingerprint": null,
  "vendor_note": {"kept": [1, null]}
}"#;

/// A stub upstream answering every request with `ANSWER`; it keeps the bodies it was sent.
async fn upstream() -> (std::net::SocketAddr, Arc<Mutex<Vec<Bytes>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&seen);
    let app = axum::Router::new().fallback(move |body: Bytes| {
        let keep = Arc::clone(&keep);
        async move {
            keep.lock().unwrap().push(body);
            ([("content-type", "application/json")], ANSWER)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, seen)
}

#[tokio::test]
async fn an_openai_client_and_upstream_exchange_their_own_bytes_through_the_binary() {
    let (addr, seen) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let cfg = serde_json::json!({"providers": {"openai": {"type": "openai",
        "keys": [{"name": "k", "value": "sk-pass-through-test", "models": [], "weight": 1}],
        "network_config": {"base_url": format!("http://{addr}/v1")}}}});
    std::fs::write(&config, cfg.to_string()).unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_heimdall"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["serve", "--port", &port.to_string()])
        .arg("--config")
        .arg(&config)
        .arg("--app-dir")
        .arg(dir.path())
        .stdout(std::fs::File::create(dir.path().join("out.log")).unwrap())
        .stderr(std::fs::File::create(dir.path().join("err.log")).unwrap())
        .spawn()
        .unwrap();
    let _gw = Gateway(child, None);
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while client.get(format!("{base}/ready")).send().await.is_err() {
        assert!(Instant::now() < deadline, "gateway did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A null, spacing and a field the gateway does not model: re-encoding changes all three.
    let sent = r#"{ "model": "openai/gpt-4o-mini", "temperature": null,
        "messages": [{"role": "user", "content": "Say hi."}], "vendor_knob": {"deep": [true, null, 1.50]} }"#;
    let r = client
        .post(format!("{base}/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(sent)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let answer = r.text().await.unwrap();
    assert_eq!(answer, ANSWER, "the client reads the upstream's own answer");

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let want = sent.replace("\"openai/gpt-4o-mini\"", "\"gpt-4o-mini\"");
    assert_eq!(
        std::str::from_utf8(&seen[0]).unwrap(),
        want,
        "the upstream reads the client's own body with only the model replaced"
    );
}
