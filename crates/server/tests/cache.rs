//! The response cache end to end, in process (store mode, the cache wired after the logger as
//! the binary has it, the mock provider upstream): exact hits across field order and across
//! streamed / non-streamed requests, replay in the client's own dialect, single flight, tenants
//! apart, Bifrost's opt-in headers, failed and cut answers never stored, the management routes,
//! and the hit in the log record and metrics.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::control::{ControlHarness, ControlOptions, start_control};
use heimdall_mock_provider::{MockConfig, MockServer};
use serde_json::{Value, json};

async fn start_with(cache: Value, extra: impl FnOnce(&mut Value)) -> (ControlHarness, MockServer) {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let mut doc = common::mock_config(&mock, json!({}));
    doc["cache"] = cache;
    doc["pricing"] = json!({"default_price": {"input": 1000.0, "output": 1000.0}});
    extra(&mut doc);
    let governance = doc.get("governance").is_some();
    let h = start_control(ControlOptions {
        cache: true,
        governance,
        ..ControlOptions::store(doc)
    })
    .await;
    (h, mock)
}

async fn start() -> (ControlHarness, MockServer) {
    start_with(
        json!({"default_cache_key": "default", "embedding_model": "none"}),
        |_| {},
    )
    .await
}

async fn send(
    h: &ControlHarness,
    path: &str,
    body: String,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut r = h
        .client
        .post(h.url(path))
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.send().await.unwrap()
}

fn cache_header(r: &reqwest::Response) -> String {
    r.headers()
        .get("x-heimdall-cache")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The content of an OpenAI SSE chat stream, and whether it ended with `[DONE]`.
fn sse_text(body: &str) -> (String, bool, Option<Value>) {
    let mut text = String::new();
    let mut done = false;
    let mut usage = None;
    for line in body.lines() {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        if data == "[DONE]" {
            done = true;
            continue;
        }
        let v: Value = serde_json::from_str(data).unwrap();
        if let Some(t) = v["choices"][0]["delta"]["content"].as_str() {
            text.push_str(t);
        }
        if !v["usage"].is_null() {
            usage = Some(v["usage"].clone());
        }
    }
    (text, done, usage)
}

#[tokio::test]
async fn a_repeated_request_is_answered_from_the_cache_whatever_its_field_order() {
    let (h, mock) = start().await;
    let first = send(
        &h,
        "/v1/chat/completions",
        r#"{"model":"mock/gpt-4o","messages":[{"role":"user","content":"What is Heimdall?"}],"temperature":0.2}"#.into(),
        &[],
    )
    .await;
    assert_eq!(first.status(), 200);
    assert_eq!(cache_header(&first), "miss");
    let a: Value = first.json().await.unwrap();
    // Same request, other field order, other whitespace, a defaulted parameter spelled out,
    // and the content as a text-part array.
    let second = send(
        &h,
        "/v1/chat/completions",
        r#"{ "temperature" : 0.2, "top_p": 1, "messages": [ {"content": [{"type":"text","text":"What is Heimdall?"}], "role": "user"} ],
            "model": "mock/gpt-4o" }"#
            .into(),
        &[],
    )
    .await;
    assert_eq!(second.status(), 200);
    assert_eq!(cache_header(&second), "hit-exact");
    assert_eq!(second.headers()["x-heimdall-provider"], "mock");
    let b: Value = second.json().await.unwrap();
    assert_eq!(a["choices"], b["choices"]);
    assert_eq!(a["usage"], b["usage"]);
    assert_eq!(
        mock.request_count(),
        1,
        "the second request reached the provider"
    );
    // Another temperature is another answer.
    let third = send(
        &h,
        "/v1/chat/completions",
        r#"{"model":"mock/gpt-4o","messages":[{"role":"user","content":"What is Heimdall?"}],"temperature":0.7}"#.into(),
        &[],
    )
    .await;
    assert_eq!(cache_header(&third), "miss");
    assert_eq!(mock.request_count(), 2);
}

#[tokio::test]
async fn streamed_and_non_streamed_requests_share_an_entry_and_replay_as_valid_streams() {
    let (h, mock) = start().await;
    let ask = |stream: bool, q: &str| {
        json!({"model": "mock/gpt-4o", "stream": stream, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": q}]})
        .to_string()
    };
    // Stored from a stream, answered as JSON.
    let s = send(&h, "/v1/chat/completions", ask(true, "stream first"), &[]).await;
    assert_eq!(cache_header(&s), "miss");
    let (streamed, done, usage) = sse_text(&s.text().await.unwrap());
    assert!(done && !streamed.is_empty() && usage.is_some());
    let j = send(
        &h,
        "/v1/chat/completions",
        ask(false, "stream first").replace(",\"stream_options\":{\"include_usage\":true}", ""),
        &[],
    )
    .await;
    assert_eq!(cache_header(&j), "hit-exact");
    let body: Value = j.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], streamed.as_str());
    assert_eq!(body["usage"], usage.unwrap());
    // Stored from JSON, replayed as a stream (usage included when asked).
    let j = send(&h, "/v1/chat/completions", ask(false, "json first"), &[]).await;
    let stored: Value = j.json().await.unwrap();
    let s = send(&h, "/v1/chat/completions", ask(true, "json first"), &[]).await;
    assert_eq!(cache_header(&s), "hit-exact");
    assert!(
        s.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let (text, done, usage) = sse_text(&s.text().await.unwrap());
    assert!(done);
    assert_eq!(
        text,
        stored["choices"][0]["message"]["content"].as_str().unwrap()
    );
    assert_eq!(usage.unwrap(), stored["usage"]);
    assert_eq!(mock.request_count(), 2);
}

#[tokio::test]
async fn a_hit_is_replayed_in_the_anthropic_dialect() {
    let (h, mock) = start().await;
    let body = json!({"model": "mock/gpt-4o", "max_tokens": 64,
        "messages": [{"role": "user", "content": "Hello Claude"}]});
    let first = send(&h, "/anthropic/v1/messages", body.to_string(), &[]).await;
    assert_eq!(first.status(), 200);
    let a: Value = first.json().await.unwrap();
    let second = send(&h, "/anthropic/v1/messages", body.to_string(), &[]).await;
    assert_eq!(cache_header(&second), "hit-exact");
    let b: Value = second.json().await.unwrap();
    assert_eq!(b["type"], "message");
    assert_eq!(a["content"], b["content"]);
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let s = send(&h, "/anthropic/v1/messages", streamed.to_string(), &[]).await;
    assert_eq!(cache_header(&s), "hit-exact");
    let text = s.text().await.unwrap();
    assert!(
        text.contains("event: message_start") && text.contains("event: message_stop"),
        "{text}"
    );
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn fifty_identical_concurrent_requests_make_one_upstream_call() {
    let (h, mock) = start().await;
    let h = std::sync::Arc::new(h);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let h = std::sync::Arc::clone(&h);
        tasks.push(tokio::spawn(async move {
            let stream = i % 2 == 0;
            let body = json!({"model": "mock/gpt-4o;latency_ms=400;chunk_delay_ms=5", "stream": stream,
                "messages": [{"role": "user", "content": "everyone asks this at once"}]});
            let r = send(&h, "/v1/chat/completions", body.to_string(), &[]).await;
            assert_eq!(r.status(), 200);
            if stream {
                let (text, done, _) = sse_text(&r.text().await.unwrap());
                assert!(done, "stream {i} not complete");
                text
            } else {
                let v: Value = r.json().await.unwrap();
                v["choices"][0]["message"]["content"].as_str().unwrap().to_owned()
            }
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    assert_eq!(answers.len(), 50);
    assert!(
        answers.iter().all(|a| !a.is_empty() && *a == answers[0]),
        "{answers:?}"
    );
    assert_eq!(
        mock.request_count(),
        1,
        "one upstream call for 50 identical requests"
    );
    let (_, stats) = h.get("/api/cache/stats").await;
    assert!(
        stats["counters"]["coalesced"].as_u64().unwrap() >= 1,
        "{stats}"
    );
}

#[tokio::test]
async fn one_tenants_answer_never_reaches_another() {
    let (h, mock) = start_with(
        json!({"default_cache_key": "default", "embedding_model": "none"}),
        |doc| {
            doc["governance"] = json!({"virtual_keys": [
                {"id": "tenant-a", "value": "sk-bf-tenant-a", "is_active": true},
                {"id": "tenant-b", "value": "sk-bf-tenant-b", "is_active": true}
            ]});
        },
    )
    .await;
    let body = json!({"model": "mock/gpt-4o", "messages": [{"role": "user", "content": "my secret plan"}]}).to_string();
    let a1 = send(
        &h,
        "/v1/chat/completions",
        body.clone(),
        &[("x-bf-vk", "sk-bf-tenant-a")],
    )
    .await;
    assert_eq!(a1.status(), 200, "{}", a1.text().await.unwrap());
    let b1 = send(
        &h,
        "/v1/chat/completions",
        body.clone(),
        &[("x-bf-vk", "sk-bf-tenant-b")],
    )
    .await;
    assert_eq!(
        cache_header(&b1),
        "miss",
        "tenant B was served tenant A's entry"
    );
    assert_eq!(mock.request_count(), 2);
    let a2 = send(
        &h,
        "/v1/chat/completions",
        body.clone(),
        &[("x-bf-vk", "sk-bf-tenant-a")],
    )
    .await;
    assert_eq!(cache_header(&a2), "hit-exact");
    // Without governance identity, the client credential partitions.
    let c1 = send(
        &h,
        "/v1/chat/completions",
        body.clone(),
        &[("authorization", "Bearer sk-other")],
    )
    .await;
    assert_ne!(cache_header(&c1), "hit-exact");
    assert_eq!(mock.request_count(), 3);
}

#[tokio::test]
async fn bifrost_headers_opt_in_and_steer_the_cache() {
    // As Bifrost's plugin: only requests with a cache key are cached.
    let (h, mock) = start_with(json!({"embedding_model": "none", "ttl": "1h"}), |_| {}).await;
    let body = json!({"model": "mock/gpt-4o", "messages": [{"role": "user", "content": "opt in"}]})
        .to_string();
    for _ in 0..2 {
        let r = send(&h, "/v1/chat/completions", body.clone(), &[]).await;
        assert!(r.headers().get("x-heimdall-cache").is_none());
    }
    assert_eq!(mock.request_count(), 2);
    let keyed = [("x-bf-cache-key", "session-1")];
    let r = send(&h, "/v1/chat/completions", body.clone(), &keyed).await;
    assert_eq!(cache_header(&r), "miss");
    let stored_by = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let r = send(&h, "/v1/chat/completions", body.clone(), &keyed).await;
    assert_eq!(cache_header(&r), "hit-exact");
    // Another cache key does not see it.
    let r = send(
        &h,
        "/v1/chat/completions",
        body.clone(),
        &[
            ("x-bf-cache-key", "session-2"),
            ("x-bf-cache-no-store", "true"),
        ],
    )
    .await;
    assert_eq!(cache_header(&r), "miss");
    let r = send(
        &h,
        "/v1/chat/completions",
        body.clone(),
        &[("x-bf-cache-key", "session-2")],
    )
    .await;
    assert_eq!(cache_header(&r), "miss", "no-store stored an entry");
    assert_eq!(mock.request_count(), 5);
    // A bad header value is a 400 naming it.
    let r = send(
        &h,
        "/v1/chat/completions",
        body.clone(),
        &[("x-bf-cache-key", "k"), ("x-bf-cache-ttl", "soon")],
    )
    .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-bf-cache-ttl"),
        "{e}"
    );
    // Removal by the request that stored it, then by key.
    let removed = h
        .client
        .delete(h.url(&format!("/api/cache/clear/{stored_by}")))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    assert_eq!(removed.json::<Value>().await.unwrap()["removed"], 1);
    let r = send(&h, "/v1/chat/completions", body.clone(), &keyed).await;
    assert_eq!(cache_header(&r), "miss");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let removed = h
        .client
        .delete(h.url("/api/cache/clear-by-key/session-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.json::<Value>().await.unwrap()["removed"], 1);
    let (status, stats) = h.get("/api/cache/stats").await;
    assert_eq!(status, 200);
    assert_eq!(stats["backend"], "memory", "{stats}");
    assert!(
        stats["counters"]["hits_exact"].as_u64().unwrap() >= 1,
        "{stats}"
    );
}

#[tokio::test]
async fn failed_and_cut_answers_are_never_stored() {
    let (h, mock) = start().await;
    let failing = json!({"model": "mock/gpt-4o;fail_rate=1;fail_status=400",
        "messages": [{"role": "user", "content": "fails"}]})
    .to_string();
    for _ in 0..2 {
        let r = send(&h, "/v1/chat/completions", failing.clone(), &[]).await;
        assert_eq!(r.status(), 400);
        assert_ne!(cache_header(&r), "hit-exact");
    }
    assert_eq!(mock.request_count(), 2);
    let cut = json!({"model": "mock/gpt-4o;chunks=6;cut_after=2", "stream": true,
        "messages": [{"role": "user", "content": "cut"}]})
    .to_string();
    let r = send(&h, "/v1/chat/completions", cut.clone(), &[]).await;
    let _ = r.text().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = send(&h, "/v1/chat/completions", cut, &[]).await;
    assert_ne!(cache_header(&r), "hit-exact", "a cut stream was stored");
}

#[tokio::test]
async fn a_hit_is_recorded_with_zero_cost_and_the_cost_it_saved() {
    let (_store, writer, _dir) = common::sqlite_writer(1000).await;
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let mut doc = common::mock_config(&mock, json!({}));
    doc["cache"] = json!({"default_cache_key": "default", "embedding_model": "none"});
    doc["pricing"] = json!({"default_price": {"input": 1000.0, "output": 1000.0}});
    let h = start_control(ControlOptions {
        cache: true,
        writer: Some(writer),
        ..ControlOptions::store(doc)
    })
    .await;
    let body =
        json!({"model": "mock/gpt-4o", "messages": [{"role": "user", "content": "price me"}]})
            .to_string();
    let miss = send(&h, "/v1/chat/completions", body.clone(), &[]).await;
    let miss_id = miss.headers()["x-request-id"].to_str().unwrap().to_owned();
    let hit = send(&h, "/v1/chat/completions", body, &[]).await;
    assert_eq!(cache_header(&hit), "hit-exact");
    assert_eq!(hit.headers()["x-heimdall-cost"], "0.0000000000");
    let hit_id = hit.headers()["x-request-id"].to_str().unwrap().to_owned();
    let mut found = None;
    for _ in 0..100 {
        let (_, page) = h.get("/api/logs?cache=hit-exact,miss").await;
        if page["logs"].as_array().is_some_and(|l| l.len() >= 2) {
            found = Some(page);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let page = found.expect("records");
    let logs = page["logs"].as_array().unwrap();
    let rec = |id: &str| logs.iter().find(|r| r["id"] == id).unwrap().clone();
    let (m, hrec) = (rec(&miss_id), rec(&hit_id));
    assert_eq!(m["cache"], "miss");
    let paid = m["cost"].as_f64().unwrap();
    assert!(paid > 0.0);
    assert_eq!(hrec["cache"], "hit-exact");
    assert_eq!(hrec["cost"], 0.0);
    assert_eq!(hrec["cost_saved"].as_f64().unwrap(), paid);
    let metrics = h
        .client
        .get(h.url("/metrics"))
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
    assert!(metrics.contains("cache_saved_dollars_total"), "{metrics}");
}

#[tokio::test]
async fn the_semantic_tier_embeds_through_the_gateway_and_keeps_parameters_exact() {
    let (_store, writer, _dir) = common::sqlite_writer(1000).await;
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let mut doc = common::mock_config(&mock, json!({}));
    doc["cache"] = json!({"default_cache_key": "default",
        "embedding_model": "mock/text-embedding-3-small", "threshold": 0.99});
    let h = start_control(ControlOptions {
        cache: true,
        writer: Some(writer),
        ..ControlOptions::store(doc)
    })
    .await;
    let ask = |content: &str, temperature: f64| {
        json!({"model": "mock/gpt-4o", "temperature": temperature,
            "messages": [{"role": "user", "content": content}]})
        .to_string()
    };
    let first = send(
        &h,
        "/v1/chat/completions",
        ask("What is Heimdall?", 0.2),
        &[],
    )
    .await;
    assert_eq!(cache_header(&first), "miss");
    let a: Value = first.json().await.unwrap();
    // Another exact key (the text's surrounding whitespace), the same text to embed.
    let mut hit = None;
    for _ in 0..50 {
        let r = send(
            &h,
            "/v1/chat/completions",
            ask("  What is Heimdall?\n", 0.2),
            &[],
        )
        .await;
        if cache_header(&r) == "hit-semantic" {
            hit = Some(r);
            break;
        }
        // The first answer is stored in the background.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let hit = hit.expect("a semantic hit");
    let similarity: f32 = hit.headers()["x-heimdall-cache-similarity"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(similarity >= 0.99, "{similarity}");
    let b: Value = hit.json().await.unwrap();
    assert_eq!(a["choices"], b["choices"]);
    // The same text with another temperature is another bucket: never a hit.
    let other = send(
        &h,
        "/v1/chat/completions",
        ask("What is Heimdall?", 0.9),
        &[],
    )
    .await;
    assert_eq!(cache_header(&other), "miss");
    // `x-bf-cache-type: direct` skips the semantic tier.
    let direct = send(
        &h,
        "/v1/chat/completions",
        ask(" What is Heimdall? ", 0.2),
        &[("x-bf-cache-type", "direct")],
    )
    .await;
    assert_eq!(cache_header(&direct), "miss");
    // Each embedding call is a request of its own, logged like any.
    let mut embeddings = 0;
    for _ in 0..100 {
        let (_, page) = h.get("/api/logs?limit=100").await;
        embeddings = page["logs"].as_array().map_or(0, |l| {
            l.iter().filter(|r| r["operation"] == "embedding").count()
        });
        if embeddings >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(embeddings >= 3, "embedding calls not logged: {embeddings}");
}

/// The semantic tier's verifier: a candidate above the threshold whose text holds the same
/// words in another order (or other numbers, or a negation the question lacks) is turned
/// down, counted, and the request goes upstream; a candidate without such a difference hits.
#[tokio::test]
async fn the_semantic_verifier_turns_down_reordered_questions() {
    use heimdall_mock_provider::payloads::embedding_vector;
    // The mock's embeddings are hashes of the text: at threshold 0 about half of all pairs
    // are "similar". Pick texts whose pairs are, so only the verifier can turn one down.
    let (h, _mock) = start_with(
        json!({"default_cache_key": "default",
            "embedding_model": "mock/text-embedding-3-small", "threshold": 0.0}),
        |_| {},
    )
    .await;
    let dot = |a: &str, b: &str| -> f32 {
        let (x, y) = (embedding_vector(a, 1536), embedding_vector(b, 1536));
        x.iter().zip(&y).map(|(p, q)| p * q).sum()
    };
    let (stored, reordered, reworded) = (0..1000)
        .map(|i| {
            (
                format!("Convert 5 miles to km, case {i}"),
                format!("Convert 5 km to miles, case {i}"),
                format!("Please convert 5 miles to km, case {i}"),
            )
        })
        .find(|(s, o, w)| dot(s, o) > 0.0 && dot(s, w) > 0.0 && dot(o, w) < 0.0)
        .expect("texts whose mock embeddings are similar");
    let ask = |content: &str| {
        json!({"model": "mock/gpt-4o", "messages": [{"role": "user", "content": content}]})
            .to_string()
    };
    let first = send(&h, "/v1/chat/completions", ask(&stored), &[]).await;
    assert_eq!(cache_header(&first), "miss");
    // The first answer is stored in the background: wait until the reworded question hits.
    let mut hit = false;
    for _ in 0..50 {
        let r = send(
            &h,
            "/v1/chat/completions",
            ask(&reworded),
            &[("x-bf-cache-no-store", "true")],
        )
        .await;
        if cache_header(&r) == "hit-semantic" {
            hit = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(hit, "the reworded question never hit");
    let (_, before) = h.get("/api/cache/stats").await;
    let rejected_before = before["counters"]["semantic_rejected"].as_u64().unwrap();
    let r = send(&h, "/v1/chat/completions", ask(&reordered), &[]).await;
    assert_eq!(
        cache_header(&r),
        "miss",
        "a reordered question must not hit"
    );
    let (_, after) = h.get("/api/cache/stats").await;
    assert_eq!(
        after["counters"]["semantic_rejected"].as_u64().unwrap(),
        rejected_before + 1,
        "{after}"
    );
}
