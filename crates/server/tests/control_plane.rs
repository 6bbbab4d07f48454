//! The control plane end to end, in process: a provider added through the API serves at
//! once and stops when deleted; invalid changes are refused with their field path and change
//! nothing; versions, dry runs and rollback; file mode refuses API writes and follows its
//! file; state of untouched providers survives a reload.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::control::{ControlOptions, start_control, start_store_mode};
use heimdall_control::Mode;
use heimdall_core::health::BreakerState;
use heimdall_mock_provider::{MockConfig, MockServer};
use reqwest::Method;
use serde_json::json;

fn provider(mock: &MockServer, key: &str) -> serde_json::Value {
    json!({
        "type": "custom",
        "keys": [{"name": "k1", "value": key}],
        "network_config": {"base_url": mock.base_url(), "default_request_timeout_in_seconds": 5}
    })
}

async fn chat_status(h: &common::control::ControlHarness, model: &str) -> u16 {
    h.client
        .post(h.url("/v1/chat/completions"))
        .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Poll until `model` answers `want`, returning how long it took.
async fn until_status(h: &common::control::ControlHarness, model: &str, want: u16) -> Duration {
    let started = Instant::now();
    loop {
        if chat_status(h, model).await == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{model} did not answer {want} within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_added_through_the_api_serves_within_a_second_and_deleting_it_stops_it() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let h = start_store_mode(json!({})).await;
    assert_eq!(chat_status(&h, "fresh/gpt-4o").await, 404);

    let mut body = provider(&mock, "sk-test-abcdefgh0001");
    body["provider"] = json!("fresh");
    let (status, created) = h.post("/api/providers", body.clone()).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["provider"]["status"], "active");
    let took = until_status(&h, "fresh/gpt-4o", 200).await;
    assert!(took < Duration::from_secs(1));

    let (status, again) = h.post("/api/providers", body).await;
    assert_eq!(status, 409, "{again}");

    let (status, deleted) = h
        .call(Method::DELETE, "/api/providers/fresh", None, None)
        .await;
    assert_eq!(status, 200, "{deleted}");
    until_status(&h, "fresh/gpt-4o", 404).await;
    let (status, _) = h.get("/api/providers/fresh").await;
    assert_eq!(status, 404);
}

/// Cost is read from the configuration in effect: a provider added through the API is priced
/// from its catalog by its kind, and a price override set later applies to the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_and_a_price_added_through_the_api_price_the_next_request() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let h = start_store_mode(json!({})).await;
    let mut body = provider(&mock, "sk-test-abcdefgh0001");
    body["provider"] = json!("fresh");
    body["type"] = json!("openai");
    let (status, created) = h.post("/api/providers", body).await;
    assert_eq!(status, 200, "{created}");
    let cost = || async {
        let r = h
            .client
            .post(h.url("/v1/chat/completions"))
            .json(
                &json!({"model": "fresh/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.headers()
            .get("x-heimdall-cost")
            .map(|v| v.to_str().unwrap().parse::<f64>().unwrap())
    };
    let catalog = cost()
        .await
        .expect("the catalog prices an openai provider's gpt-4o");
    assert!(catalog > 0.0);

    let (_, current) = h.get("/api/config").await;
    let mut doc = current["config"].clone();
    doc["pricing"] = json!({"overrides": {"fresh/gpt-4o": {"input": 1000.0, "output": 1000.0}}});
    let (status, put) = h.call(Method::PUT, "/api/config", Some(doc), None).await;
    assert_eq!(status, 200, "{put}");
    let overridden = cost().await.expect("priced by the override");
    assert!(overridden > catalog * 10.0, "{overridden} vs {catalog}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_change_is_refused_with_its_field_path_and_changes_nothing() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let h =
        start_store_mode(json!({"providers": {"mock": provider(&mock, "sk-test-abcdefgh0001")}}))
            .await;
    let before = h.control.config.current();
    let (_, versions_before) = h.get("/api/config/versions").await;

    let mut bad = provider(&mock, "sk-test-abcdefgh0001");
    bad["keys"][0]["weight"] = json!(-2);
    bad["network_config"]["default_request_timeout_in_seconds"] = json!(0);
    let (status, e) = h
        .call(Method::PUT, "/api/providers/mock", Some(bad), None)
        .await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["error"]["type"], "invalid_config");
    let paths: Vec<&str> = e["error"]["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"providers.mock.keys[0].weight"),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"providers.mock.network_config.default_request_timeout_in_seconds"),
        "{paths:?}"
    );
    let (status, e) = h
        .call(
            Method::PUT,
            "/api/config",
            Some(json!({"providers": {"mock": {"keys": "nope"}}})),
            None,
        )
        .await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["error"]["param"], "providers.mock.keys", "{e}");

    let after = h.control.config.current();
    assert_eq!(after.version, before.version);
    assert_eq!(after.document, before.document);
    let (_, versions_after) = h.get("/api/config/versions").await;
    assert_eq!(versions_after["total"], versions_before["total"]);
    assert_eq!(chat_status(&h, "mock/gpt-4o").await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_record_every_change_and_rollback_restores_one_exactly() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let h =
        start_store_mode(json!({"providers": {"mock": provider(&mock, "sk-test-abcdefgh0001")}}))
            .await;
    let v1 = h.control.config.current();

    // A dry run shows the diff and applies nothing.
    let (status, dry) = h
        .call(
            Method::PUT,
            "/api/config?dry_run=true",
            Some(json!({"client_config": {"drop_excess_requests": true}})),
            None,
        )
        .await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["diff"][0]["path"], "client");
    assert_eq!(h.control.config.current().version, v1.version);

    let (status, _) = h
        .call(
            Method::PUT,
            "/api/config",
            Some(json!({"client_config": {"drop_excess_requests": true}})),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, added) = h
        .post(
            "/api/providers/mock/keys",
            json!({"value": "sk-test-second-0002"}),
        )
        .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(h.gateway.runtime().config.providers["mock"].keys.len(), 2);

    let (_, list) = h.get("/api/config/versions").await;
    assert_eq!(list["total"], 3);
    assert_eq!(list["versions"][0]["version"], 3);
    assert_eq!(list["versions"][0]["actor"], "loopback");
    assert_eq!(
        list["versions"][0]["diff"][0]["path"],
        "providers.mock.keys"
    );
    let (status, one) = h.get("/api/config/versions/2").await;
    assert_eq!(status, 200);
    assert_eq!(one["config"]["client"]["drop_excess_requests"], true);

    let (status, rolled) = h
        .call(Method::POST, "/api/config/rollback/1", None, None)
        .await;
    assert_eq!(status, 200, "{rolled}");
    assert_eq!(rolled["version"], 4);
    let now = h.control.config.current();
    assert_eq!(
        now.document, v1.document,
        "rollback restores the document exactly"
    );
    assert_eq!(h.gateway.runtime().config.providers["mock"].keys.len(), 1);
    assert!(!h.gateway.runtime().config.client.drop_excess_requests);
    let (status, _) = h.get("/api/config/versions/99").await;
    assert_eq!(status, 404);

    // The control plane's series are on /metrics, and pass promtool.
    let text = h
        .client
        .get(h.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (ok, report) = common::promtool_check(&text);
    assert!(ok, "{report}");
    assert!(text.contains("heimdall_config_version 4\n"), "{text}");
    assert!(
        text.contains("heimdall_config_changes_total{source=\"api\"} 3\n"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redacted_secret_sent_back_keeps_the_stored_one() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let h =
        start_store_mode(json!({"providers": {"mock": provider(&mock, "sk-test-abcdefgh0001")}}))
            .await;
    let (_, shown) = h.get("/api/providers/mock").await;
    assert_eq!(shown["keys"][0]["value"], "****0001");
    let mut edited = shown.clone();
    edited["keys"][0]["weight"] = json!(2.0);
    let (status, r) = h
        .call(Method::PUT, "/api/providers/mock", Some(edited), None)
        .await;
    assert_eq!(status, 200, "{r}");
    let rt = h.gateway.runtime();
    assert_eq!(
        rt.config.providers["mock"].keys[0].value.expose(),
        "sk-test-abcdefgh0001"
    );
    assert_eq!(rt.config.providers["mock"].keys[0].weight, 2.0);
    assert_eq!(chat_status(&h, "mock/gpt-4o").await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untouched_providers_keep_their_live_state_across_a_change() {
    let a = MockServer::start(MockConfig::default()).await.unwrap();
    let b = MockServer::start(MockConfig::default()).await.unwrap();
    let h = start_store_mode(json!({"providers": {
        "a": provider(&a, "sk-test-aaaaaaaa0001"),
        "b": provider(&b, "sk-test-bbbbbbbb0001"),
    }}))
    .await;
    let before = h.gateway.runtime();
    let mut changed = provider(&b, "sk-test-bbbbbbbb0001");
    changed["network_config"]["default_request_timeout_in_seconds"] = json!(7);
    let (status, _) = h
        .call(Method::PUT, "/api/providers/b", Some(changed), None)
        .await;
    assert_eq!(status, 200);
    let after = h.gateway.runtime();
    assert!(
        after.shares_provider(&before, "a"),
        "a kept its breaker, stats, cooldowns"
    );
    assert!(!after.shares_provider(&before, "b"), "b was rebuilt");

    // Inside a changed provider, a key that did not change keeps its open circuit and its
    // cooldown; a new key starts closed.
    let health = after.config.load_balancing.health.clone();
    let b_entry = &after.providers["b"];
    for _ in 0..health.unhealthy_threshold {
        b_entry.key_breakers[0].failure(&health);
    }
    b_entry.cooldowns.cool(0, Duration::from_secs(60));
    assert_eq!(b_entry.key_breakers[0].state(&health), BreakerState::Open);
    let mut two_keys = provider(&b, "sk-test-bbbbbbbb0001");
    two_keys["network_config"]["default_request_timeout_in_seconds"] = json!(7);
    two_keys["keys"] = json!([
        {"name": "new", "value": "sk-test-bbbbbbbb0002"},
        {"name": "k1", "value": "sk-test-bbbbbbbb0001"}
    ]);
    let (status, _) = h
        .call(Method::PUT, "/api/providers/b", Some(two_keys), None)
        .await;
    assert_eq!(status, 200);
    let last = h.gateway.runtime();
    let b_entry = &last.providers["b"];
    assert_eq!(b_entry.config.keys[1].name, "k1");
    assert_eq!(
        b_entry.key_breakers[1].state(&health),
        BreakerState::Open,
        "k1 moved to index 1 and kept its circuit"
    );
    assert!(b_entry.cooldowns.is_cooling(1), "and its cooldown");
    assert_eq!(b_entry.key_breakers[0].state(&health), BreakerState::Closed);
    assert!(!b_entry.cooldowns.is_cooling(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_mode_refuses_api_writes_and_follows_its_file() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let file = dir.path().join("config.json");
    let doc = json!({"providers": {"one": provider(&mock, "sk-test-abcdefgh0001")}});
    std::fs::write(&file, doc.to_string()).unwrap();
    let h = start_control(ControlOptions {
        mode: Mode::File { path: file.clone() },
        dir: Arc::clone(&dir),
        ..ControlOptions::store(doc)
    })
    .await;
    let stop = tokio_util::sync::CancellationToken::new();
    heimdall_control::watch::spawn_file_reload(Arc::clone(&h.control.config), stop.clone());

    let (status, e) = h.post("/api/providers", json!({"provider": "x"})).await;
    assert_eq!(status, 409, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("file mode"),
        "{e}"
    );
    let (_, cfg) = h.get("/api/config").await;
    assert_eq!(cfg["mode"], "file");

    // An invalid file is reported and the running configuration kept.
    std::fs::write(&file, "{\"providers\": {\"one\": {\"keys\": 5}}}").unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(chat_status(&h, "one/gpt-4o").await, 200);

    let renamed = json!({"providers": {"two": provider(&mock, "sk-test-abcdefgh0001")}});
    std::fs::write(&file, renamed.to_string()).unwrap();
    until_status_long(&h, "two/gpt-4o", 200).await;
    assert_eq!(chat_status(&h, "one/gpt-4o").await, 404);
    let (_, list) = h.get("/api/config/versions").await;
    assert_eq!(list["versions"][0]["source"], "file");
    stop.cancel();
}

/// The file is polled every 500 ms: a change is in effect within about that.
async fn until_status_long(h: &common::control::ControlHarness, model: &str, want: u16) {
    let started = Instant::now();
    while chat_status(h, model).await != want {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{model} never answered {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
