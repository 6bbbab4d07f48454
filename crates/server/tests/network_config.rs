//! Per-provider network settings reach the wire: extra headers, base URL, and the proxy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use common::*;
use heimdall_mock_provider::MockConfig;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn extra_headers_are_sent_upstream() {
    let h = start_with(
        MockConfig {
            record_requests: true,
            ..Default::default()
        },
        |m| {
            mock_config(
                m,
                json!({"network_config": {"base_url": m.base_url(),
                    "extra_headers": {"X-Organization-ID": "org-123", "OpenAI-Project": "proj-9"}}}),
            )
        },
        vec![],
    )
    .await;
    assert_eq!(h.chat(user_chat("mock/gpt-4o")).await.status(), 200);
    let seen = h.mock.requests();
    let headers = &seen.last().unwrap().headers;
    assert_eq!(headers["x-organization-id"], "org-123");
    assert_eq!(headers["openai-project"], "proj-9");
}

#[tokio::test]
async fn http_proxy_carries_the_upstream_request() {
    // A one-shot HTTP proxy: records the request line, answers like an upstream would.
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = proxy.local_addr().unwrap();
    let seen = tokio::spawn(async move {
        let (mut sock, _) = proxy.accept().await.unwrap();
        let mut buf = vec![0u8; 65536];
        let mut got = Vec::new();
        loop {
            let n = sock.read(&mut buf).await.unwrap();
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got);
            if let Some(end) = text.find("\r\n\r\n") {
                let len: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if got.len() >= end + 4 + len {
                    break;
                }
            }
        }
        let body = r#"{"id":"p","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"via proxy"},"finish_reason":"stop"}]}"#;
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        sock.write_all(resp.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&got).into_owned()
    });
    let h = start_with(
        MockConfig::default(),
        |_| {
            json!({"providers": {"up": {"type": "custom",
                "keys": [{"name": "k", "value": "sk-proxy", "models": [], "weight": 1}],
                "network_config": {"base_url": "http://upstream.invalid:8000/v1"},
                "proxy_config": {"type": "http", "url": format!("http://{proxy_addr}")}}}})
        },
        vec![],
    )
    .await;
    let r = h.chat(user_chat("up/gpt-4o")).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "via proxy");
    let request = seen.await.unwrap();
    assert!(
        request.starts_with("POST http://upstream.invalid:8000/v1/chat/completions HTTP/1.1"),
        "{request}"
    );
    assert!(
        request
            .to_ascii_lowercase()
            .contains("authorization: bearer sk-proxy")
    );
}
