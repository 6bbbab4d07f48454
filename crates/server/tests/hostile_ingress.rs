//! Browser-facing safety at the door: a `Host` allow-list against DNS rebinding, JSON-only
//! bodies against cross-site forms and "simple" fetches, and a declared size over the limit
//! refused before the body is read — each refusal in the route's own dialect.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use heimdall_server::{AppParts, AppState, IngressPolicy, router_with};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The harness's gateway behind a second listener with the loopback policy of `heimdall serve`.
async fn loopback_listener(h: &Harness) -> SocketAddr {
    let policy = IngressPolicy::for_bind([127, 0, 0, 1].into(), &[], 1024 * 1024);
    let app = router_with(
        AppState::new(AppParts {
            gateway: Arc::clone(&h.gateway),
            body_limit: 1024 * 1024,
            observability: Arc::clone(&h.observability),
            client_limits: Arc::default(),
            control: None,
            governance: None,
            cache: None,
            responses: Default::default(),
            mcp: None,
            tool_logs: Default::default(),
            lifecycle: Default::default(),
        }),
        policy,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    addr
}

fn chat_body() -> Value {
    json!({"model": "mock/gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn a_rebound_host_name_is_refused_on_every_route() {
    let h = start().await;
    let addr = loopback_listener(&h).await;
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    for (path, post) in [
        ("/v1/chat/completions", true),
        ("/api/logs", false),
        ("/api/logs/some-id", false),
        ("/metrics", false),
        ("/anthropic/v1/messages", true),
    ] {
        let rb = if post {
            client.post(format!("{base}{path}")).json(&chat_body())
        } else {
            client.get(format!("{base}{path}"))
        };
        let r = rb
            .header("host", "attacker.example:8080")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403, "{path}");
        let body = r.text().await.unwrap();
        assert!(body.contains("host"), "{path}: {body}");
    }
    // The loopback names are served.
    for host in [format!("127.0.0.1:{}", addr.port()), "localhost".to_owned()] {
        let r = client
            .post(format!("{base}/v1/chat/completions"))
            .header("host", host.as_str())
            .json(&chat_body())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{host}");
    }
}

#[tokio::test]
async fn only_json_bodies_reach_the_inference_routes() {
    let h = start().await;
    let text = serde_json::to_string(&chat_body()).unwrap();
    for (path, content_type, dialect) in [
        ("/v1/chat/completions", Some("text/plain"), "openai"),
        (
            "/v1/chat/completions",
            Some("application/x-www-form-urlencoded"),
            "openai",
        ),
        ("/v1/chat/completions", None, "openai"),
        (
            "/v1/embeddings",
            Some("multipart/form-data; boundary=x"),
            "openai",
        ),
        (
            "/anthropic/v1/messages",
            Some("text/plain;charset=UTF-8"),
            "anthropic",
        ),
        (
            "/genai/v1beta/models/gemini-2.0-flash:generateContent",
            Some("text/plain"),
            "genai",
        ),
        (
            "/cohere/v2/chat",
            Some("application/x-www-form-urlencoded"),
            "cohere",
        ),
    ] {
        let mut rb = h.client.post(h.url(path)).body(text.clone());
        if let Some(ct) = content_type {
            rb = rb.header("content-type", ct);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 415, "{path} {content_type:?}");
        let body: Value = r.json().await.unwrap();
        let message = match dialect {
            "openai" => body["error"]["message"].as_str(),
            "anthropic" => {
                assert_eq!(body["type"], "error", "{body}");
                body["error"]["message"].as_str()
            }
            "genai" => body["error"]["message"].as_str(),
            _ => body["message"].as_str(),
        };
        assert!(
            message.unwrap_or_default().contains("application/json"),
            "{path}: {body}"
        );
    }
    // JSON with parameters, and a body-less GET, pass.
    let r = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("content-type", "application/json; charset=utf-8")
        .body(text)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        h.client
            .get(h.url("/v1/models"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn a_declared_gigabyte_is_refused_before_the_body_is_read() {
    let h = start().await;
    let started = Instant::now();
    let mut s = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: 1073741824\r\n\r\n{{\"model\":",
        h.addr
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut answer))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).to_lowercase();
    assert!(answer.starts_with("http/1.1 413"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(answer.contains("larger than the limit"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
