//! A single instance keeps its budgets across a restart: counters are in memory, and at start
//! the current periods' spend is restored from the request log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use common::{Gateway, free_port};

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use heimdall_mock_provider::{MockConfig, MockServer};
use serde_json::{Value, json};

fn start(config: &Path, app: &Path) -> (Gateway, String) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_heimdall"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["serve", "--port", &port.to_string(), "--log-level", "warn"])
        .arg("--config")
        .arg(config)
        .arg("--app-dir")
        .arg(app)
        .spawn()
        .unwrap();
    let gw = Gateway(child, None);
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "gateway did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (gw, format!("http://127.0.0.1:{port}"))
}

async fn budget(client: &reqwest::Client, base: &str) -> Value {
    let body: Value = client
        .get(format!("{base}/api/governance/virtual-keys/app"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["virtual_key"]["budget"].clone()
}

#[tokio::test]
async fn a_restart_keeps_the_budget_spent() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        serde_json::to_vec(&json!({
            "providers": {"mock": {"type": "custom",
                "keys": [{"name": "k", "value": "sk-mock", "models": [], "weight": 1.0}],
                "network_config": {"base_url": mock.base_url()}}},
            "pricing": {"overrides": {"mock/gpt-4o-mini": {"input": 0.0, "output": 1250.0}}},
            "governance": {"virtual_keys": [{"id": "app", "value": "sk-bf-app",
                "budget": {"max_limit": 0.05, "reset_duration": "1d"}}]}
        }))
        .unwrap(),
    )
    .unwrap();
    let client = reqwest::Client::new();
    let send = |base: String| {
        let client = client.clone();
        async move {
            client
                .post(format!("{base}/v1/chat/completions"))
                .bearer_auth("sk-bf-app")
                .json(&json!({"model": "mock/gpt-4o-mini", "max_tokens": 8,
                    "messages": [{"role": "user", "content": "hi"}]}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let (gw, base) = start(&config, dir.path());
    for _ in 0..3 {
        assert_eq!(send(base.clone()).await, 200);
    }
    // Wait until the three records are in the log store.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let logs: Value = client
            .get(format!("{base}/api/logs?virtual_key_ids=app"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if logs["total"].as_i64() == Some(3) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        (budget(&client, &base).await["current_usage"]
            .as_f64()
            .unwrap()
            - 0.03)
            .abs()
            < 1e-9
    );
    drop(gw);

    let (_gw, base) = start(&config, dir.path());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let used = budget(&client, &base).await["current_usage"]
            .as_f64()
            .unwrap();
        if (used - 0.03).abs() < 1e-9 {
            break;
        }
        assert!(Instant::now() < deadline, "budget not restored: {used}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // $0.03 of $0.05 spent before the restart: two more fit, the third is refused.
    assert_eq!(send(base.clone()).await, 200);
    assert_eq!(send(base.clone()).await, 200);
    assert_eq!(send(base.clone()).await, 402);
}
