//! Two gateways on one PostgreSQL config store: a change made through one is in effect on
//! the other within a second (LISTEN/NOTIFY), and a credential made on one works on both.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::control::{ControlOptions, start_control};
use common::{drop_pg, fresh_pg};
use heimdall_mock_provider::{MockConfig, MockServer};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_store_converge_within_a_second() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let (name, url) = fresh_pg("127.0.0.1:5432").await;
    // Both instances share the passphrase, as replicas must (each has its own app dir).
    let start = || {
        start_control(ControlOptions {
            store_url: Some(url.clone()),
            passphrase: Some("shared passphrase".to_owned()),
            ..ControlOptions::store(json!({}))
        })
    };
    // Both start at once on the empty store: one seeds it, the other takes that version.
    let (a, b) = tokio::join!(start(), start());
    assert_eq!(a.control.config.current().version, 1);
    assert_eq!(b.control.config.current().version, 1);
    let stop = tokio_util::sync::CancellationToken::new();
    for h in [&a, &b] {
        heimdall_control::watch::spawn_store_follow(
            Arc::clone(&h.control.config),
            Arc::clone(&h.control.auth),
            Some(url.clone()),
            stop.clone(),
        );
    }
    // The listeners connect before the change is made.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (status, body) = a
        .post(
            "/api/providers",
            json!({"provider": "shared", "type": "custom",
                "keys": [{"value": "sk-test-shared-00000001"}],
                "network_config": {"base_url": mock.base_url()}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let version = a.control.config.current().version;
    let changed = Instant::now();
    loop {
        let r = b
            .client
            .post(b.url("/v1/chat/completions"))
            .json(
                &json!({"model": "shared/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
            )
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            break;
        }
        assert!(
            changed.elapsed() < Duration::from_secs(1),
            "instance b did not see the change within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = changed.elapsed();
    eprintln!(
        "instance b served the new provider {} ms after the change on a",
        took.as_millis()
    );
    assert_eq!(b.control.config.current().version, version);
    // Its secret arrived encrypted and was decrypted with the shared key.
    assert_eq!(
        b.gateway.runtime().config.providers["shared"].keys[0]
            .value
            .expose(),
        "sk-test-shared-00000001"
    );

    // A change on b while a writes: one wins, the other is told to retry (409), nothing lost.
    let (sa, sb) = tokio::join!(
        a.call(
            Method::PUT,
            "/api/config",
            Some(json!({"client_config": {"drop_excess_requests": true}})),
            None
        ),
        b.call(
            Method::PUT,
            "/api/config",
            Some(json!({"client_config": {"enable_logging": false}})),
            None
        ),
    );
    assert!(
        [sa.0, sb.0].contains(&200) && [sa.0, sb.0].iter().all(|s| *s == 200 || *s == 409),
        "{sa:?} {sb:?}"
    );

    // A token made on a turns auth on for b and works there.
    let (status, t) = a
        .post("/api/tokens", json!({"name": "ops", "scopes": ["admin"]}))
        .await;
    assert_eq!(status, 201);
    let token = t["token"].as_str().unwrap().to_owned();
    let since = Instant::now();
    while b.get("/api/config").await.0 != 401 {
        assert!(
            since.elapsed() < Duration::from_secs(1),
            "b never turned auth on"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        b.call(Method::GET, "/api/config", None, Some(&token))
            .await
            .0,
        200
    );
    stop.cancel();
    drop(a);
    drop(b);
    drop_pg(&name).await;
}
