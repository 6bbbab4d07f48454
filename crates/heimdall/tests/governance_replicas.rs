//! Governance across replicas, as operators run it: three gateway processes on one Redis
//! enforce one budget and one rate limit exactly, keep serving through a Redis outage
//! (fail-open) and reconcile after it, and charge a stream cut by its client for what was
//! generated. The client rate limit of `security.rateLimit` holds across them too.
//!
//! Redis is reached through a TCP relay the test can switch off, so the outage is real for
//! the gateways without stopping the machine's Redis for other tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use common::{Gateway, free_port};

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use heimdall_mock_provider::{MockConfig, MockServer};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// A TCP relay to the machine's Redis that can refuse and cut connections.
struct Relay {
    port: u16,
    up: Arc<AtomicBool>,
}

impl Relay {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let flag = Arc::clone(&up);
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !flag.load(Ordering::SeqCst) {
                    let _ = client.shutdown().await;
                    continue;
                }
                let flag = Arc::clone(&flag);
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect("127.0.0.1:6379").await else {
                        return;
                    };
                    let pump = tokio::io::copy_bidirectional(&mut client, &mut server);
                    let watch = async {
                        while flag.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    };
                    tokio::select! {
                        _ = pump => {}
                        () = watch => {}
                    }
                });
            }
        });
        Self { port, up }
    }

    fn set(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

fn start(dir: &Path, config: &Value, name: &str) -> (Gateway, String) {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(config).unwrap()).unwrap();
    let app = dir.join(name);
    std::fs::create_dir_all(&app).unwrap();
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_heimdall"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["serve", "--port", &port.to_string(), "--log-level", "warn"])
        .arg("--config")
        .arg(&path)
        .arg("--app-dir")
        .arg(&app)
        .stdout(std::fs::File::create(app.join("out.log")).unwrap())
        .stderr(std::fs::File::create(app.join("err.log")).unwrap());
    let child = Gateway(cmd.spawn().unwrap(), None);
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "gateway {name} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, format!("http://127.0.0.1:{port}"))
}

/// $0.01 per request: 8 output tokens at $1,250 per million, input free.
fn config(mock: &str, redis_port: u16, prefix: &str) -> Value {
    json!({
        "providers": {"mock": {"type": "custom",
            "keys": [{"name": "k", "value": "sk-mock", "models": [], "weight": 1.0}],
            "network_config": {"base_url": mock, "max_retries": 0}}},
        "pricing": {"overrides": {"mock/gpt-4o-mini": {"input": 0.0, "output": 1250.0}}},
        "redis": {"url": format!("redis://127.0.0.1:{redis_port}/0"), "key_prefix": prefix},
        "governance": {"virtual_keys": [
            {"id": "budgeted", "value": "sk-bf-budgeted", "budget": {"max_limit": 1.0, "reset_duration": "1d"}},
            {"id": "limited", "value": "sk-bf-limited",
             "rate_limit": {"request_max_limit": 100, "request_reset_duration": "1m"}},
            {"id": "steady", "value": "sk-bf-steady", "budget": {"max_limit": 1000.0, "reset_duration": "1d"}},
            {"id": "streamer", "value": "sk-bf-streamer", "budget": {"max_limit": 1000.0, "reset_duration": "1d"}}
        ]}
    })
}

async fn chat(client: &reqwest::Client, base: &str, key: &str, model: &str) -> reqwest::Response {
    client
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": model, "max_tokens": 8,
            "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
}

async fn usage(client: &reqwest::Client, base: &str, vk: &str) -> Value {
    let r = client
        .get(format!("{base}/api/governance/virtual-keys/{vk}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["virtual_key"]["budget"].clone()
}

/// Wait until no reservation is outstanding (settlement runs after the answer).
async fn settled(client: &reqwest::Client, base: &str, vk: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let b = usage(client, base, vk).await;
        if b["reserved"].as_f64() == Some(0.0) || Instant::now() > deadline {
            return b;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn spread(bases: &[String], key: &str, n: usize) -> Vec<reqwest::Response> {
    let client = reqwest::Client::new();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let client = client.clone();
            let base = bases[i % bases.len()].clone();
            let key = key.to_owned();
            tokio::spawn(async move { chat(&client, &base, &key, "mock/gpt-4o-mini").await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_share_budgets_and_limits_and_survive_a_redis_outage() {
    let mock = MockServer::start(MockConfig {
        latency_ms: 100,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let relay = Relay::start().await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("heimdall-test-{}:", uuid::Uuid::new_v4().simple());
    let cfg = config(&mock.base_url(), relay.port, &prefix);
    let gateways: Vec<(Gateway, String)> = (0..3)
        .map(|i| start(dir.path(), &cfg, &format!("gw{i}")))
        .collect();
    let bases: Vec<String> = gateways.iter().map(|(_, b)| b.clone()).collect();
    let client = reqwest::Client::new();

    // A $1.00 budget, 300 concurrent requests of $0.01 over three instances.
    let mut answers = spread(&bases, "sk-bf-budgeted", 300).await;
    if let Some(i) = answers
        .iter()
        .position(|r| ![200, 402].contains(&r.status().as_u16()))
    {
        let r = answers.remove(i);
        panic!("{}: {}", r.status(), r.text().await.unwrap());
    }
    let ok = answers.iter().filter(|r| r.status() == 200).count();
    let refused: Vec<_> = answers.iter().filter(|r| r.status() != 200).collect();
    assert!(
        refused.iter().all(|r| r.status() == 402),
        "refusals other than 402: {:?}",
        refused.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
    assert!(
        ok as f64 * 0.01 <= 1.01 + 1e-9,
        "{ok} admitted: over budget"
    );
    assert!(
        ok >= 95,
        "only {ok} admitted of a $1.00 budget at $0.01 each"
    );
    let b = settled(&client, &bases[1], "budgeted").await;
    assert!(
        (b["current_usage"].as_f64().unwrap() - ok as f64 * 0.01).abs() < 1e-6,
        "{b}"
    );
    assert_eq!(b["reserved"].as_f64(), Some(0.0), "{b}");

    // 100 requests per minute across the three: exactly 100 of 300.
    let answers = spread(&bases, "sk-bf-limited", 300).await;
    let ok = answers.iter().filter(|r| r.status() == 200).count();
    assert_eq!(ok, 100);
    for r in answers.iter().filter(|r| r.status() != 200) {
        assert_eq!(r.status(), 429);
        assert!(r.headers().contains_key("retry-after"));
    }

    // Redis gone for 10 s mid-run: fail-open keeps serving, and the counts reconcile after.
    let steady = tokio::spawn({
        let bases = bases.clone();
        async move {
            let client = reqwest::Client::new();
            let (mut ok, mut failed) = (0u32, 0u32);
            let until = Instant::now() + Duration::from_secs(16);
            let mut i = 0usize;
            while Instant::now() < until {
                let r = chat(&client, &bases[i % 3], "sk-bf-steady", "mock/gpt-4o-mini").await;
                if r.status() == 200 {
                    ok += 1
                } else {
                    failed += 1
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            (ok, failed)
        }
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    relay.set(false);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let metrics = client
        .get(format!("{}/metrics", bases[0]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("governance_store_degraded{backend=\"redis\"} 1"),
        "not degraded during the outage"
    );
    tokio::time::sleep(Duration::from_secs(8)).await;
    relay.set(true);
    let (ok, failed) = steady.await.unwrap();
    assert_eq!(failed, 0, "requests failed during the outage");
    // Reconciled: Redis holds every request's cost, from all three instances.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let b = usage(&client, &bases[2], "steady").await;
        let used = b["current_usage"].as_f64().unwrap_or(0.0);
        if (used - f64::from(ok) * 0.01).abs() < 1e-6 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not reconciled: {used} in Redis for {ok} requests at $0.01"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A stream cut by its client after a few chunks is charged for what was generated, and
    // its reservation is released.
    let r = client
        .post(format!("{}/v1/chat/completions", bases[0]))
        .bearer_auth("sk-bf-streamer")
        .json(
            &json!({"model": "mock/gpt-4o-mini;chunks=40;chunk_delay_ms=100",
            "max_tokens": 40, "stream": true,
            "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut r = r;
    let mut got = 0;
    while got < 3 {
        if r.chunk().await.unwrap().is_some() {
            got += 1;
        }
    }
    drop(r);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let b = settled(&client, &bases[0], "streamer").await;
    let used = b["current_usage"].as_f64().unwrap();
    assert!(used > 0.0, "nothing charged for a cut stream: {b}");
    assert!(used < 40.0 * 1250.0 / 1e6, "charged the whole stream: {b}");
    assert_eq!(b["reserved"].as_f64(), Some(0.0), "{b}");

    // `security.rateLimit` (hot-reloaded into every instance's file) holds across the three:
    // 30 requests a minute from this address, whichever instance they reach.
    let mut limited = cfg.clone();
    limited["security"] = json!({"rateLimit": {"enabled": true, "requestsPerMinute": 30}});
    for i in 0..3 {
        std::fs::write(
            dir.path().join(format!("gw{i}.json")),
            serde_json::to_vec_pretty(&limited).unwrap(),
        )
        .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let answers = spread(&bases, "sk-bf-steady", 90).await;
    let ok = answers.iter().filter(|r| r.status() == 200).count();
    assert_eq!(
        ok,
        30,
        "{:?}",
        answers.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
    drop(gateways);
    let _ = delete_keys(&prefix).await;
}

async fn delete_keys(prefix: &str) -> std::io::Result<()> {
    let out = tokio::process::Command::new("redis-cli")
        .args(["--scan", "--pattern", &format!("{prefix}*")])
        .output()
        .await?;
    for key in String::from_utf8_lossy(&out.stdout).lines() {
        let _ = tokio::process::Command::new("redis-cli")
            .args(["del", key])
            .output()
            .await;
    }
    Ok(())
}
