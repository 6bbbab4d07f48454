//! The response cache as users run it, through the binary: the reference `bifrost.yaml`'s
//! `caching` section answers a repeated question from the cache (header, log record, metric),
//! and two instances sharing the Redis backend hit each other's entries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;

use common::{Gateway, free_port};

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use heimdall_mock_provider::{MockConfig, MockServer};
use serde_json::{Value, json};

fn start(app: &Path, config: &Path, envs: &[(&str, &str)]) -> (Gateway, String) {
    std::fs::create_dir_all(app).unwrap();
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_heimdall"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["serve", "--port", &port.to_string()])
        .arg("--config")
        .arg(config)
        .arg("--app-dir")
        .arg(app)
        .stdout(std::fs::File::create(app.join("out.log")).unwrap())
        .stderr(std::fs::File::create(app.join("err.log")).unwrap());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let child = Gateway(cmd.spawn().unwrap(), None);
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "gateway did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, format!("http://127.0.0.1:{port}"))
}

async fn ask(client: &reqwest::Client, base: &str, question: &str) -> reqwest::Response {
    client
        .post(format!("{base}/v1/chat/completions"))
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": question}]}))
        .send()
        .await
        .unwrap()
}

fn cache_of(r: &reqwest::Response) -> String {
    r.headers()
        .get("x-heimdall-cache")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_reference_yaml_answers_a_repeated_question_from_the_cache() {
    let mock = MockServer::start(MockConfig {
        record_requests: true,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let yaml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bifrost.yaml"),
    )
    .unwrap();
    let metrics_port = free_port();
    // The yaml as shipped, with its OpenAI provider pointed at the mock and its listeners on
    // free loopback ports.
    let yaml = yaml
        .replacen(
            "      organization: null\n",
            &format!(
                "      organization: null\n      baseUrl: {}\n",
                mock.base_url()
            ),
            1,
        )
        .replace("port: 9090", &format!("port: {metrics_port}"))
        .replace("host: 0.0.0.0", "host: 127.0.0.1");
    let file = dir.path().join("bifrost.yaml");
    std::fs::write(&file, yaml).unwrap();
    let (_gw, base) = start(
        &dir.path().join("app"),
        &file,
        &[("OPENAI_API_KEY", "sk-test")],
    );
    let client = reqwest::Client::new();
    let first = ask(&client, &base, "How do I create an event?").await;
    assert_eq!(first.status(), 200);
    assert_eq!(cache_of(&first), "miss");
    let second = ask(&client, &base, "How do I create an event?").await;
    assert_eq!(second.status(), 200);
    assert_eq!(cache_of(&second), "hit-exact");
    let hit_id = second.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    // (The yaml turns health checks on: count the chat calls only.)
    let asked = mock
        .requests()
        .iter()
        .filter(|r| r.body["messages"][0]["content"] == "How do I create an event?")
        .count();
    assert_eq!(asked, 1, "the repeated question reached the provider");
    // The record marks the hit.
    let deadline = Instant::now() + Duration::from_secs(10);
    let record = loop {
        let r = client
            .get(format!("{base}/api/logs/{hit_id}"))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            break r.json::<Value>().await.unwrap();
        }
        assert!(Instant::now() < deadline, "no record for {hit_id}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(record["cache"], "hit-exact", "{record}");
    assert_eq!(record["cost"], 0.0, "{record}");
    assert!(record["cost_saved"].as_f64().unwrap() > 0.0, "{record}");
    let metrics = client
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.contains("cache_hits_total{") && l.contains("type=\"exact\"")),
        "{metrics}"
    );
    // Excluded models are never cached.
    let stats: Value = client
        .get(format!("{base}/api/cache/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["backend"], "memory", "{stats}");
}

#[tokio::test]
async fn two_instances_sharing_redis_hit_each_others_entries() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!(
        "heimdall-cache-test-{}-{}:",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    );
    let config = json!({
        "providers": {"openai": {"type": "openai",
            "keys": [{"name": "k", "value": "sk-mock", "models": [], "weight": 1.0}],
            "network_config": {"base_url": mock.base_url(), "max_retries": 0}}},
        "redis": {"url": "redis://127.0.0.1:6379/0", "key_prefix": prefix},
        "cache": {"backend": "redis", "default_cache_key": "shared-test", "embedding_model": "none"}
    });
    let file = dir.path().join("config.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    let (_a, base_a) = start(&dir.path().join("a"), &file, &[]);
    let (_b, base_b) = start(&dir.path().join("b"), &file, &[]);
    let client = reqwest::Client::new();
    let first = ask(&client, &base_a, "shared across instances?").await;
    assert_eq!(first.status(), 200);
    assert_eq!(cache_of(&first), "miss");
    // A stores its answer after answering (in the background): wait until the write has
    // landed in Redis, so B's first ask can only hit A's entry — a miss would call upstream.
    for _ in 0..100 {
        let stats: Value = client
            .get(format!("{base_a}/api/cache/stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if stats["counters"]["stores"].as_u64() >= Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut hit = String::new();
    for _ in 0..20 {
        let r = ask(&client, &base_b, "shared across instances?").await;
        hit = cache_of(&r);
        if hit == "hit-exact" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        hit, "hit-exact",
        "instance B did not see instance A's entry"
    );
    assert_eq!(mock.request_count(), 1);
    let cleared: Value = client
        .delete(format!("{base_b}/api/cache/clear"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(cleared["removed"].as_u64().unwrap() >= 1, "{cleared}");
    let again = ask(&client, &base_a, "shared across instances?").await;
    assert_eq!(cache_of(&again), "miss", "a clear on B did not reach A");
}
