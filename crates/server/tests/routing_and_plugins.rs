//! Model addressing, weighted key choice, and the plugin pipeline's hooks, end to end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use common::*;
use futures::StreamExt;
use heimdall_core::{
    GatewayRequest, GatewayResponse, Plugin, PreOutcome, RequestContext, StreamChunk, StreamSummary,
};
use heimdall_mock_provider::MockConfig;
use heimdall_schema::error::GatewayError;
use serde_json::{Value, json};

fn recording() -> MockConfig {
    MockConfig {
        record_requests: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn bare_model_resolves_through_key_allow_lists_and_aliases() {
    let h = start_with(
        recording(),
        |m| {
            json!({
                "providers": {
                    "alpha": {"type": "custom", "network_config": {"base_url": m.base_url()},
                        "keys": [{"name": "a", "value": "sk-a", "models": ["gpt-4o"], "weight": 1}]},
                    "beta": {"type": "custom", "network_config": {"base_url": m.base_url()},
                        "keys": [{"name": "b", "value": "sk-b", "models": ["llama-3-8b"], "weight": 1}]}
                },
                "model_aliases": {"fast": "beta/llama-3-8b"}
            })
        },
        vec![],
    )
    .await;
    let r = h.chat(user_chat("gpt-4o")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-heimdall-provider"], "alpha");
    let r = h.chat(user_chat("fast")).await;
    assert_eq!(r.headers()["x-heimdall-provider"], "beta");
    assert_eq!(r.headers()["x-heimdall-model"], "llama-3-8b");
    // Two providers with allow-lists and neither lists it: 404.
    assert_eq!(h.chat(user_chat("claude-3")).await.status(), 404);
    // A key allow-list excludes models through an explicit prefix too.
    assert_eq!(h.chat(user_chat("alpha/o1")).await.status(), 404);
}

#[tokio::test]
async fn slash_names_stay_intact_when_the_prefix_is_not_a_provider() {
    let h = start_with(
        recording(),
        |m| mock_config(m, json!({"models": ["meta-llama/Llama-3-8B"]})),
        vec![],
    )
    .await;
    let r = h.chat(user_chat("meta-llama/Llama-3-8B")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        h.mock.requests().last().unwrap().body["model"],
        "meta-llama/Llama-3-8B"
    );
    // With the provider prefix, the inner slash survives too.
    let r = h.chat(user_chat("mock/meta-llama/Llama-3-8B")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        h.mock.requests().last().unwrap().body["model"],
        "meta-llama/Llama-3-8B"
    );
}

#[tokio::test]
async fn keys_are_chosen_in_proportion_to_weight() {
    let h = start_with(
        recording(),
        |m| {
            json!({"providers": {"mock": {"type": "custom", "network_config": {"base_url": m.base_url()},
                "keys": [
                    {"name": "heavy", "value": "sk-heavy", "models": [], "weight": 0.8},
                    {"name": "light", "value": "sk-light", "models": [], "weight": 0.2},
                    {"name": "other-model", "value": "sk-other", "models": ["not-this"], "weight": 5.0}
                ]}}})
        },
        vec![],
    )
    .await;
    let n = 500;
    let results = futures::stream::iter(0..n)
        .map(|_| h.chat(user_chat("mock/gpt-4o")))
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    assert!(results.iter().all(|r| r.status() == 200));
    let seen = h.mock.requests();
    let heavy = seen
        .iter()
        .filter(|r| r.headers["authorization"] == "Bearer sk-heavy")
        .count();
    let light = seen
        .iter()
        .filter(|r| r.headers["authorization"] == "Bearer sk-light")
        .count();
    let other = seen
        .iter()
        .filter(|r| r.headers["authorization"] == "Bearer sk-other")
        .count();
    assert_eq!(heavy + light, n);
    assert_eq!(
        other, 0,
        "a key whose allow-list excludes the model is never used"
    );
    // Binomial(500, 0.8): sd ≈ 8.9; accept ±4.5 sd.
    let share = heavy as f64 / n as f64;
    assert!((0.72..=0.88).contains(&share), "heavy share {share}");
}

#[derive(Default)]
struct Recorder {
    pre: AtomicU64,
    post: AtomicU64,
    chunks: AtomicU64,
    ends: Mutex<Vec<StreamSummary>>,
}

struct RecorderPlugin(Arc<Recorder>);

#[async_trait]
impl Plugin for RecorderPlugin {
    fn name(&self) -> &str {
        "recorder"
    }
    async fn pre(
        &self,
        _ctx: &mut RequestContext,
        req: &mut GatewayRequest,
    ) -> Result<PreOutcome, GatewayError> {
        self.0.pre.fetch_add(1, Ordering::SeqCst);
        if let GatewayRequest::Chat(r) = req
            && r.model == "blocked"
        {
            return Err(GatewayError::invalid_request("blocked by plugin", None).with_status(403));
        }
        Ok(PreOutcome::Continue)
    }
    async fn post(
        &self,
        _ctx: &mut RequestContext,
        result: &mut Result<GatewayResponse, GatewayError>,
    ) {
        self.0.post.fetch_add(1, Ordering::SeqCst);
        if let Ok(GatewayResponse::Chat(c)) = result {
            c.extra.insert("x_plugin_touched".into(), json!(true));
        }
    }
    fn on_chunk(&self, _ctx: &RequestContext, _chunk: &mut StreamChunk<'_>) {
        self.0.chunks.fetch_add(1, Ordering::SeqCst);
    }
    fn on_stream_end(&self, _ctx: &RequestContext, summary: &StreamSummary) {
        self.0.ends.lock().unwrap().push(summary.clone());
    }
}

#[tokio::test]
async fn plugin_hooks_run_on_json_and_stream_paths() {
    let rec = Arc::new(Recorder::default());
    let h = start_with(
        recording(),
        |m| mock_config(m, json!({})),
        vec![Arc::new(RecorderPlugin(Arc::clone(&rec)))],
    )
    .await;
    let body: Value = h.chat(user_chat("mock/gpt-4o")).await.json().await.unwrap();
    assert_eq!(
        body["x_plugin_touched"], true,
        "post hook can rewrite the response"
    );
    assert_eq!(rec.pre.load(Ordering::SeqCst), 1);
    assert_eq!(rec.post.load(Ordering::SeqCst), 1);

    let r = h.chat(user_chat("blocked")).await;
    assert_eq!(r.status(), 403, "pre hook can refuse");

    let mut req = user_chat("mock/gpt-4o;chunks=4");
    req["stream"] = json!(true);
    let _ = h.chat(req).await.text().await.unwrap();
    let ends = rec.ends.lock().unwrap().clone();
    assert_eq!(ends.len(), 1);
    assert!(ends[0].completed);
    assert!(
        ends[0].usage.is_some(),
        "usage is collected even though the client did not ask"
    );
    assert!(rec.chunks.load(Ordering::SeqCst) >= 4);
}

#[tokio::test]
async fn client_disconnect_ends_the_stream_and_still_reports_it() {
    let rec = Arc::new(Recorder::default());
    let h = start_with(
        recording(),
        |m| mock_config(m, json!({})),
        vec![Arc::new(RecorderPlugin(Arc::clone(&rec)))],
    )
    .await;
    let mut req = user_chat("mock/gpt-4o;chunks=50;chunk_delay_ms=100");
    req["stream"] = json!(true);
    let resp = h.chat(req).await;
    let mut body = resp.bytes_stream();
    let mut seen = String::new();
    while seen.matches("data: ").count() < 3 {
        seen.push_str(&String::from_utf8_lossy(
            &body.next().await.unwrap().unwrap(),
        ));
    }
    drop(body);
    for _ in 0..50 {
        if !rec.ends.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let ends = rec.ends.lock().unwrap().clone();
    assert_eq!(ends.len(), 1, "on_stream_end runs once after a disconnect");
    assert!(ends[0].client_disconnected);
    assert!(!ends[0].completed);
    let full = heimdall_mock_provider::payloads::content_pieces(50).concat();
    assert!(
        !ends[0].output.is_empty() && full.starts_with(&ends[0].output),
        "the partial output is kept: {:?}",
        ends[0].output
    );
    // ...and the upstream request was cancelled: the mock's stream closed long before its
    // 50 chunks x 100 ms would have run out.
    for _ in 0..40 {
        if h.mock.active_streams() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(h.mock.active_streams(), 0, "upstream stream still open");
}
