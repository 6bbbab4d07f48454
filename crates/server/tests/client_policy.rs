//! `security` and `server.timeout` at the door: CORS preflights and headers, per-client rate
//! limits (address and user counted independently), the IP allow-list and the time to first
//! byte — each refusal in the route's own dialect, each setting read from the live config.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::*;
use heimdall_config::{ConfigFormat, parse_str};
use heimdall_core::{Pipeline, Runtime};
use heimdall_mock_provider::{MockConfig, MockServer};
use serde_json::{Value, json};

/// The mock config with `top` merged into its root.
fn with(mock: &MockServer, top: Value) -> Value {
    let mut config = mock_config(mock, json!({}));
    for (k, v) in top.as_object().unwrap() {
        config[k] = v.clone();
    }
    config
}

async fn gateway(top: Value) -> Harness {
    let mock = MockConfig {
        record_requests: true,
        ..MockConfig::default()
    };
    start_with(mock, move |m| with(m, top), vec![]).await
}

/// The origins of the reference `bifrost.yaml`.
fn reference_cors() -> Value {
    json!({"security": {"cors": {"enabled": true, "allowedOrigins":
        ["http://localhost:5000", "https://*.replit.dev", "https://*.replit.app"]}}})
}

fn rate_limit(per_minute: u32) -> Value {
    json!({"security": {"rateLimit": {"enabled": true, "requestsPerMinute": per_minute}}})
}

/// A client whose connections come from `local` (any 127.x address reaches the gateway).
fn client_from(local: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(local))
        .build()
        .unwrap()
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).map(|v| v.to_str().unwrap())
}

async fn chat_as(h: &Harness, client: &reqwest::Client, token: Option<&str>) -> reqwest::Response {
    let mut rb = client
        .post(h.url("/v1/chat/completions"))
        .json(&user_chat("mock/gpt-4o"));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    rb.send().await.unwrap()
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_is_answered() {
    let h = gateway(reference_cors()).await;
    let r = h
        .client
        .request(reqwest::Method::OPTIONS, h.url("/v1/chat/completions"))
        .header("origin", "https://my-app.replit.dev")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        Some("https://my-app.replit.dev")
    );
    assert!(header(&r, "vary").unwrap().contains("origin"));
    assert_eq!(
        header(&r, "access-control-allow-methods"),
        Some("GET, POST, PUT, PATCH, DELETE, OPTIONS")
    );
    assert_eq!(
        header(&r, "access-control-allow-headers"),
        Some("authorization, content-type")
    );
    assert_eq!(header(&r, "access-control-allow-credentials"), Some("true"));
    assert_eq!(header(&r, "access-control-max-age"), Some("600"));
    // The request itself carries the CORS headers, and the page may read the metadata.
    let r = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("origin", "http://localhost:5000")
        .json(&user_chat("mock/gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        Some("http://localhost:5000")
    );
    assert!(header(&r, "vary").unwrap().contains("origin"));
    let exposed = header(&r, "access-control-expose-headers").unwrap();
    for name in ["x-request-id", "x-heimdall-provider", "x-heimdall-model"] {
        assert!(exposed.contains(name), "{exposed}");
    }
    // Even on an error answered before routing.
    let r = h
        .client
        .get(h.url("/no/such/route"))
        .header("origin", "https://x.replit.app")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        Some("https://x.replit.app")
    );
}

#[tokio::test]
async fn other_origins_get_no_cors_headers() {
    let h = gateway(reference_cors()).await;
    for origin in ["https://evil.example", "https://replit.dev", "null"] {
        let r = h
            .client
            .request(reqwest::Method::OPTIONS, h.url("/v1/chat/completions"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{origin}");
        assert!(
            !r.headers()
                .keys()
                .any(|k| k.as_str().starts_with("access-control-")),
            "{origin}: {:?}",
            r.headers()
        );
    }
    // An actual request is served; without the headers the browser keeps the answer from the
    // page.
    let r = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("origin", "https://evil.example")
        .json(&user_chat("mock/gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn with_cors_off_a_preflight_is_an_ordinary_options_request() {
    let h = start().await;
    let r = h
        .client
        .request(reqwest::Method::OPTIONS, h.url("/v1/chat/completions"))
        .header("origin", "http://localhost:5000")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(header(&r, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn the_101st_request_in_a_minute_is_refused_in_the_routes_dialect() {
    let h = gateway(rate_limit(100)).await;
    for i in 0..100u32 {
        let r = h.chat(user_chat("mock/gpt-4o")).await;
        assert_eq!(r.status(), 200, "request {i}");
        assert_eq!(header(&r, "x-ratelimit-limit"), Some("100"));
        assert_eq!(
            header(&r, "x-ratelimit-remaining"),
            Some((99 - i).to_string().as_str())
        );
    }
    let r = h.chat(user_chat("mock/gpt-4o")).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = header(&r, "retry-after").unwrap().parse().unwrap();
    assert!((1..=63).contains(&retry), "{retry}");
    assert_eq!(header(&r, "x-ratelimit-limit"), Some("100"));
    assert_eq!(header(&r, "x-ratelimit-remaining"), Some("0"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(body["error"]["type"], "rate_limit_error");

    // The address is out of requests on every route; each answers in its own shape.
    let r = h
        .client
        .post(h.url("/anthropic/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "mock/gpt-4o", "max_tokens": 10,
            "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(header(&r, "retry-after").is_some());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    // So are the /api routes; probes and metrics are not counted.
    let r = h.client.get(h.url("/api/logs")).send().await.unwrap();
    assert_eq!(r.status(), 429);
    for path in ["/health", "/ready", "/metrics"] {
        let r = h.client.get(h.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn address_and_user_are_limited_independently() {
    let h = gateway(rate_limit(3)).await;
    let two = client_from([127, 0, 0, 2]);
    let three = client_from([127, 0, 0, 3]);
    for _ in 0..3 {
        assert_eq!(chat_as(&h, &two, Some("sk-user-a")).await.status(), 200);
    }
    // User a has used its 3 — from any address.
    assert_eq!(chat_as(&h, &three, Some("sk-user-a")).await.status(), 429);
    // The same address serves another user, and a client without a credential.
    assert_eq!(chat_as(&h, &three, Some("sk-user-b")).await.status(), 200);
    assert_eq!(chat_as(&h, &three, None).await.status(), 200);
    // Address .2 has used its 3 — whichever credential it sends next.
    let r = chat_as(&h, &two, Some("sk-user-c")).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "x-ratelimit-remaining"), Some("0"));
    // User b had one request; from a fresh address it has 2 left (x-api-key counts as the
    // same credential as a bearer token).
    let r = client_from([127, 0, 0, 4])
        .post(h.url("/v1/chat/completions"))
        .header("x-api-key", "sk-user-b")
        .json(&user_chat("mock/gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-ratelimit-remaining"), Some("1"));
}

#[tokio::test]
async fn an_address_outside_the_allow_list_is_refused() {
    let h = gateway(json!({"security": {"ipAllowList": ["10.0.0.0/8"]}})).await;
    let r = h.chat(user_chat("mock/gpt-4o")).await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "ip_not_allowed");
    let r = h
        .client
        .post(h.url("/anthropic/v1/messages"))
        .json(&json!({"model": "mock/gpt-4o", "max_tokens": 10,
            "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "permission_error");
    for path in ["/ready", "/metrics", "/api/logs", "/v1/models"] {
        let r = h.client.get(h.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }
    assert_eq!(
        h.client
            .get(h.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(h.mock.requests().is_empty());

    // A listed address (and block) is served.
    let h = gateway(json!({"security": {"ipAllowList": ["127.0.0.2", "10.0.0.0/8"]}})).await;
    let two = client_from([127, 0, 0, 2]);
    assert_eq!(chat_as(&h, &two, None).await.status(), 200);
    let one = client_from([127, 0, 0, 1]);
    assert_eq!(chat_as(&h, &one, None).await.status(), 403);
}

#[tokio::test]
async fn a_slow_upstream_meets_the_server_timeout() {
    let h = gateway(json!({"server": {"timeout": 300}})).await;
    let started = Instant::now();
    let r = h.chat(user_chat("mock/gpt-4o;latency_ms=3000")).await;
    assert_eq!(r.status(), 504);
    assert!(started.elapsed() < Duration::from_millis(2_000));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "gateway_timeout");
    // A stream's head waits for its first chunk: the same bound.
    let mut body = user_chat("mock/gpt-4o;latency_ms=3000");
    body["stream"] = json!(true);
    let r = h.chat(body).await;
    assert_eq!(r.status(), 504);
    // In the route's dialect.
    let r = h
        .client
        .post(h.url("/anthropic/v1/messages"))
        .json(
            &json!({"model": "mock/gpt-4o;latency_ms=3000", "max_tokens": 10,
            "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 504);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["type"], "error");
    // The engine answered these 504s itself: they are recorded as timeouts, not as requests
    // the client abandoned.
    let metrics = h.get_text("/metrics").await;
    assert!(
        metrics.contains("error_type=\"upstream_timeout\""),
        "{metrics}"
    );
    assert!(!metrics.contains("client_closed_request"), "{metrics}");
    // A stream that starts in time runs past the bound.
    let mut body = user_chat("mock/gpt-4o;chunks=4;chunk_delay_ms=150");
    body["stream"] = json!(true);
    let r = h.chat(body).await;
    assert_eq!(r.status(), 200);
    let chunks = done_chunks(&r.text().await.unwrap());
    assert!(chunks.len() >= 4, "{chunks:?}");
    assert_eq!(h.chat(user_chat("mock/gpt-4o")).await.status(), 200);
}

#[tokio::test]
async fn a_config_change_applies_at_once() {
    let h = start().await;
    for _ in 0..5 {
        assert_eq!(h.chat(user_chat("mock/gpt-4o")).await.status(), 200);
    }
    let reload = |top: Value| {
        let json = with(&h.mock, top).to_string();
        let env: std::collections::BTreeMap<String, String> = Default::default();
        let config = parse_str(&json, ConfigFormat::Json, &env).unwrap().config;
        h.gateway
            .replace(Runtime::build(config, Pipeline::new(vec![])));
    };
    reload(rate_limit(2));
    assert_eq!(h.chat(user_chat("mock/gpt-4o")).await.status(), 200);
    assert_eq!(h.chat(user_chat("mock/gpt-4o")).await.status(), 200);
    assert_eq!(h.chat(user_chat("mock/gpt-4o")).await.status(), 429);
    reload(json!({"security": {"ipAllowList": ["10.0.0.0/8"]}}));
    assert_eq!(h.chat(user_chat("mock/gpt-4o")).await.status(), 403);
    reload(json!({}));
    assert_eq!(h.chat(user_chat("mock/gpt-4o")).await.status(), 200);
}
