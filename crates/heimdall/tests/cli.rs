//! The `heimdall` binary as a user runs it: version, check-config, zero-config start-up, and
//! graceful shutdown that lets an in-flight stream finish.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use common::{Gateway, free_port};

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use heimdall_mock_provider::{MockConfig, MockServer};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_heimdall"))
}

fn examples(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

fn start(args: &[&str], envs: &[(&str, &str)]) -> (Gateway, u16) {
    let port = free_port();
    // Each gateway its own app dir: without a file it runs in store mode, and a store left
    // by another test would be its configuration.
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = bin();
    cmd.args(["serve", "--port", &port.to_string(), "--log-level", "warn"])
        .arg("--app-dir")
        .arg(dir.path())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let child = Gateway(cmd.spawn().unwrap(), Some(dir));
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "gateway did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, port)
}

#[test]
fn prints_version_and_help() {
    let out = bin().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    let out = bin().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("check-config") && help.contains("--config"),
        "{help}"
    );
}

#[test]
fn check_config_passes_both_examples_and_names_bad_fields() {
    for f in ["config.json", "bifrost.yaml"] {
        let out = bin().arg("check-config").arg(examples(f)).output().unwrap();
        assert!(
            out.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains(": OK"));
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "providers:\n  openai:\n    keys:\n      - value: x\n        weight: heavy\n",
    )
    .unwrap();
    let out = bin().arg("check-config").arg(&bad).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("providers.openai.keys[0].weight"), "{err}");
}

#[tokio::test]
async fn starts_with_no_config_and_no_keys() {
    let (_gw, port) = start(&[], &[]);
    let base = format!("http://127.0.0.1:{port}");
    let r = reqwest::get(format!("{base}/health")).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = reqwest::get(format!("{base}/ready")).await.unwrap();
    assert_eq!(r.status(), 503, "no provider configured yet");
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .json(
            &serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no providers are configured")
    );
}

#[tokio::test]
async fn zero_config_serves_from_environment_variables() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let (_gw, port) = start(
        &[],
        &[
            ("OPENAI_API_KEY", "sk-from-env"),
            ("OPENAI_BASE_URL", &mock.base_url()),
        ],
    );
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .json(&serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-heimdall-provider"], "openai");
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_stream_finish() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let (gw, port) = start(
        &[],
        &[
            ("OPENAI_API_KEY", "sk"),
            ("OPENAI_BASE_URL", &mock.base_url()),
        ],
    );
    let req = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .json(
            &serde_json::json!({"model": "openai/gpt-4o;chunks=10;chunk_delay_ms=100",
            "messages": [{"role": "user", "content": "x"}], "stream": true}),
        )
        .send();
    let resp = req.await.unwrap();
    assert_eq!(resp.status(), 200);
    // Stream started; ask the gateway to stop.
    gw.terminate();
    let text = resp.text().await.unwrap();
    assert!(
        text.ends_with("data: [DONE]\n\n"),
        "stream completed after SIGTERM: {text}"
    );
    // New connections are refused once it has stopped.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "gateway kept listening after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The drain a load balancer needs: after SIGTERM `/ready` answers 503 at once, new requests
/// are still served during the drain delay, a stream in flight completes, and the listener
/// closes after the delay.
#[tokio::test]
async fn sigterm_drains_ready_turns_503_first_then_the_listener_closes() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let (gw, port) = start(
        &["--drain-delay-seconds", "2"],
        &[
            ("OPENAI_API_KEY", "sk"),
            ("OPENAI_BASE_URL", &mock.base_url()),
        ],
    );
    let client = reqwest::Client::new();
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    assert_eq!(
        client.get(url("/ready")).send().await.unwrap().status(),
        200
    );
    let stream = client
        .post(url("/v1/chat/completions"))
        .json(
            &serde_json::json!({"model": "openai/gpt-4o;chunks=30;chunk_delay_ms=100",
            "messages": [{"role": "user", "content": "x"}], "stream": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let signalled = Instant::now();
    gw.terminate();
    // Not ready at once…
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let r = client.get(url("/ready")).send().await.unwrap();
        if r.status() == 503 {
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["status"], "draining");
            break;
        }
        assert!(Instant::now() < deadline, "/ready still 200 after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // …but still serving new connections during the delay.
    let fresh = reqwest::Client::new()
        .post(url("/v1/chat/completions"))
        .json(&serde_json::json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 200);
    assert!(signalled.elapsed() < Duration::from_secs(2));
    // The stream in flight completes (3 s of chunks, past the delay).
    let text = stream.text().await.unwrap();
    assert!(
        text.ends_with("data: [DONE]\n\n"),
        "stream cut by the drain: {text}"
    );
    // The listener closed after the delay.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "still listening after the drain");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        signalled.elapsed() >= Duration::from_secs(2),
        "closed before the drain delay"
    );
}

#[test]
fn json_log_format_emits_json_lines() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Gateway(
        bin()
            .args(["--port", &port.to_string(), "--log-format", "json"])
            .arg("--app-dir")
            .arg(dir.path())
            .env_clear()
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        Some(dir),
    );
    let stdout = child.0.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert!(v["level"].is_string() && v["message"].is_string(), "{line}");
}
