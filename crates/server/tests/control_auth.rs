//! Who may manage the gateway: loopback only before any credential exists (and the setup
//! token for remote setup), then credentials everywhere — API tokens with scopes, login
//! sessions (cookie or bearer), inference auth when enforced. And: no secret in any answer.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::control::{ControlHarness, ControlOptions, start_control, start_store_mode};
use heimdall_mock_provider::{MockConfig, MockServer};
use reqwest::Method;
use serde_json::json;

async fn token(h: &ControlHarness, scopes: &[&str], bearer: Option<&str>) -> String {
    let (status, t) = h
        .call(
            Method::POST,
            "/api/tokens",
            Some(json!({"name": format!("t-{}", scopes.join("+")), "scopes": scopes})),
            bearer,
        )
        .await;
    assert_eq!(status, 201, "{t}");
    t["token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_any_credential_only_loopback_manages_and_afterwards_everyone_needs_one() {
    capture_logs();
    let h = start_store_mode(json!({})).await;
    // Loopback without credentials: allowed while nothing is configured.
    let (status, auth) = h.get("/api/session/is-auth-enabled").await;
    assert_eq!(status, 200);
    assert_eq!(auth["is_auth_enabled"], false);
    assert_eq!(h.get("/api/config").await.0, 200);

    let admin = token(&h, &["admin"], None).await;
    assert!(h.control.auth.enabled());
    assert!(
        h.control.auth.setup_token().is_none(),
        "the setup token ends with the first credential"
    );

    for path in [
        "/api/config",
        "/api/providers",
        "/api/logs",
        "/api/config/versions",
        "/api/tokens",
    ] {
        let (status, e) = h.get(path).await;
        assert_eq!(status, 401, "{path}: {e}");
        assert_eq!(e["error"]["type"], "authentication_error");
    }
    let (status, _) = h
        .call(Method::GET, "/api/config", None, Some("hk_forged"))
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        h.call(Method::GET, "/api/config", None, Some(&admin))
            .await
            .0,
        200
    );
    // Public routes stay public.
    for path in ["/health", "/api/session/is-auth-enabled", "/api/version"] {
        assert_eq!(h.get(path).await.0, 200, "{path}");
    }

    // Scopes: a reader reads config but not logs, and writes nothing.
    let reader = token(&h, &["config:read"], Some(&admin)).await;
    assert_eq!(
        h.call(Method::GET, "/api/providers", None, Some(&reader))
            .await
            .0,
        200
    );
    let (status, e) = h.call(Method::GET, "/api/logs", None, Some(&reader)).await;
    assert_eq!(status, 403, "{e}");
    let (status, _) = h
        .call(
            Method::POST,
            "/api/providers",
            Some(json!({"provider": "x"})),
            Some(&reader),
        )
        .await;
    assert_eq!(status, 403);
    let logs = token(&h, &["logs:read"], Some(&admin)).await;
    assert_ne!(
        h.call(Method::GET, "/api/logs", None, Some(&logs)).await.0,
        401
    );

    // Revoked tokens stop working.
    let (_, list) = h.call(Method::GET, "/api/tokens", None, Some(&admin)).await;
    let listed = list.to_string();
    assert!(!listed.contains(&reader), "token values are never listed");
    let id = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["scopes"] == json!(["config:read"]))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = h
        .call(
            Method::DELETE,
            &format!("/api/tokens/{id}"),
            None,
            Some(&admin),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        h.call(Method::GET, "/api/providers", None, Some(&reader))
            .await
            .0,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_logs_in_for_a_session_that_works_as_cookie_and_bearer() {
    capture_logs();
    let h = start_store_mode(json!({})).await;
    let (status, _) = h
        .post(
            "/api/users",
            json!({"username": "root", "password": "short"}),
        )
        .await;
    assert_eq!(status, 400, "passwords have at least 8 characters");
    let (status, _) = h
        .post(
            "/api/users",
            json!({"username": "root", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(h.get("/api/config").await.0, 401);

    let (status, e) = h
        .post(
            "/api/session/login",
            json!({"username": "root", "password": "wrong horse"}),
        )
        .await;
    assert_eq!(status, 401, "{e}");
    let resp = h
        .client
        .post(h.url("/api/session/login"))
        .json(&json!({"username": "root", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session: serde_json::Value = resp.json().await.unwrap();
    let session = session["token"].as_str().unwrap().to_owned();

    let pair = cookie.split(';').next().unwrap().to_owned();
    let with_cookie = h
        .client
        .get(h.url("/api/config"))
        .header("cookie", pair.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie.status(), 200);
    assert_eq!(
        h.call(Method::GET, "/api/config", None, Some(&session))
            .await
            .0,
        200
    );
    let (_, auth) = h
        .call(
            Method::GET,
            "/api/session/is-auth-enabled",
            None,
            Some(&session),
        )
        .await;
    assert_eq!(
        auth,
        json!({"is_auth_enabled": true, "has_valid_token": true})
    );

    let (status, _) = h
        .call(Method::POST, "/api/session/logout", None, Some(&session))
        .await;
    assert_eq!(status, 200);
    // The cache of verified credentials is dropped on logout here.
    assert_eq!(
        h.call(Method::GET, "/api/config", None, Some(&session))
            .await
            .0,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inference_needs_an_inference_token_when_enforced_in_the_clients_dialect() {
    capture_logs();
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let h = start_store_mode(json!({
        "client": {"enforce_auth_on_inference": true},
        "providers": {"mock": {"type": "custom", "keys": [{"value": "sk-test-upstream-0001"}],
            "network_config": {"base_url": mock.base_url()}}}
    }))
    .await;
    let admin = token(&h, &["admin"], None).await;
    let inference = token(&h, &["inference"], Some(&admin)).await;
    let reader = token(&h, &["config:read"], Some(&admin)).await;
    let chat = json!({"model": "mock/gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    let send = |t: Option<String>| {
        let mut r = h.client.post(h.url("/v1/chat/completions")).json(&chat);
        if let Some(t) = t {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let none = send(None).await.unwrap();
    assert_eq!(none.status(), 401);
    let body: serde_json::Value = none.json().await.unwrap();
    assert_eq!(
        body["error"]["code"], "invalid_api_key",
        "OpenAI's shape: {body}"
    );
    assert_eq!(send(Some(reader)).await.unwrap().status(), 403);
    assert_eq!(send(Some(inference.clone())).await.unwrap().status(), 200);

    // Anthropic's SDK sends x-api-key, and hears Anthropic's error shape.
    let anthropic = json!({"model": "mock/gpt-4o", "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi"}]});
    let r = h
        .client
        .post(h.url("/anthropic/v1/messages"))
        .json(&anthropic)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    let r = h
        .client
        .post(h.url("/anthropic/v1/messages"))
        .header("x-api-key", inference)
        .json(&anthropic)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_string_appears_in_any_answer_metric_or_error() {
    capture_logs();
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let secrets = [
        "sk-live-SECRET-openai-1111",
        "sk-live-SECRET-second-2222",
        "AKIASECRETACCESS3333",
        "SECRETsecretKEY/abcdefgh4444",
    ];
    let h = start_control(ControlOptions {
        passphrase: Some("test passphrase".to_owned()),
        ..ControlOptions::store(json!({"providers": {
            "mock": {"type": "custom", "keys": [{"name": "a", "value": secrets[0]}, {"name": "b", "value": secrets[1]}],
                "network_config": {"base_url": mock.base_url()}},
            "bedrock": {"keys": [{"value": "", "bedrock_key_config": {"region": "us-east-1",
                "access_key": secrets[2], "secret_key": secrets[3]}}]}
        }}))
    })
    .await;
    let dir = Arc::clone(&h.dir);
    let mut seen = String::new();
    for path in [
        "/api/config",
        "/api/providers",
        "/api/providers/mock",
        "/api/providers/bedrock",
        "/api/providers/mock/keys",
        "/api/providers/mock/keys/a",
        "/api/keys",
        "/api/models",
        "/api/proxy-config",
        "/api/config/versions",
        "/api/config/versions/1",
        "/api/providers/health",
        "/metrics",
        "/ready",
    ] {
        seen.push_str(&h.get(path).await.1.to_string());
    }
    // Errors: an invalid change echoes no secret; a dry run's diff neither.
    let (_, e) = h
        .call(
            Method::PUT,
            "/api/providers/mock/keys/a",
            Some(json!({"value": "sk-live-SECRET-openai-1111", "weight": "heavy"})),
            None,
        )
        .await;
    seen.push_str(&e.to_string());
    let (_, d) = h
        .post(
            "/api/providers/mock/keys?dry_run=true",
            json!({"value": "sk-live-SECRET-dryrun-5555"}),
        )
        .await;
    seen.push_str(&d.to_string());
    let (status, added) = h
        .post(
            "/api/providers/mock/keys",
            json!({"value": "sk-live-SECRET-added-6666"}),
        )
        .await;
    assert_eq!(status, 200);
    seen.push_str(&added.to_string());
    seen.push_str(&h.get("/api/config/versions").await.1.to_string());
    let r = h
        .client
        .post(h.url("/v1/chat/completions"))
        .json(&json!({"model": "mock/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    seen.push_str(&format!("{:?}", r.headers()));
    seen.push_str(&r.text().await.unwrap());
    assert!(seen.contains("****1111"), "redacted forms are shown");
    let also = ["sk-live-SECRET-dryrun-5555", "sk-live-SECRET-added-6666"];
    for s in secrets.iter().chain(also.iter()) {
        assert!(!seen.contains(s), "{s} leaked");
    }
    // At rest: the store (its file and its write-ahead log) holds none of them in clear.
    let mut db = Vec::new();
    for f in ["config.db", "config.db-wal"] {
        db.extend(std::fs::read(dir.path().join(f)).unwrap_or_default());
    }
    let db = String::from_utf8_lossy(&db);
    assert!(db.contains("enc:v1:"), "the store was read");
    for s in secrets.iter().chain(also.iter()) {
        assert!(!db.contains(s), "{s} stored in clear");
    }
    // Log lines (everything this test binary logged at debug, all tests together).
    let logs = String::from_utf8_lossy(&LOG.lock().unwrap()).into_owned();
    assert!(logs.contains("configuration changed"), "logs were captured");
    for s in secrets.iter().chain(also.iter()) {
        assert!(!logs.contains(s), "{s} logged");
    }
}

static LOG: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct Captured;

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary, at debug, into [`LOG`].
fn capture_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_writer(|| Captured)
            .with_ansi(false)
            .try_init();
    });
}

/// This machine's first non-loopback IPv4 address (a client connecting to it from here is
/// not a loopback peer).
fn non_loopback_address() -> Option<std::net::IpAddr> {
    // Connecting a UDP socket sends nothing; it picks the interface a route would use.
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    probe.connect("192.0.2.255:9").ok()?;
    let ip = probe.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_client_needs_the_setup_token_before_any_credential_exists() {
    capture_logs();
    let Some(ip) = non_loopback_address() else {
        eprintln!("SKIPPED: this machine has no non-loopback address to connect from");
        return;
    };
    let h = start_control(ControlOptions {
        bind: std::net::SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), 0),
        ..ControlOptions::store(json!({}))
    })
    .await;
    let remote = format!("http://{ip}:{}", h.addr.port());
    let (status, e) = {
        let r = h
            .client
            .get(format!("{remote}/api/config"))
            .send()
            .await
            .unwrap();
        (
            r.status().as_u16(),
            r.json::<serde_json::Value>().await.unwrap(),
        )
    };
    assert_eq!(status, 401, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("loopback"),
        "{e}"
    );
    assert_eq!(
        h.client
            .get(format!("{remote}/api/logs"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // The same machine through loopback is allowed.
    assert_eq!(h.get("/api/config").await.0, 200);
    // The setup token lets the remote client set up, and ends with the first credential.
    let setup = h
        .control
        .auth
        .setup_token()
        .expect("a setup token before any credential");
    let r = h
        .client
        .post(format!("{remote}/api/users"))
        .bearer_auth(&setup)
        .json(&json!({"username": "ops", "password": "a long enough password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = h
        .client
        .get(format!("{remote}/api/config"))
        .bearer_auth(&setup)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the setup token is spent");
    assert_eq!(
        h.get("/api/config").await.0,
        401,
        "loopback needs credentials now too"
    );
}
