//! Route families exercised by the conformance test: the response cache, MCP, and the
//! dashboard's routes (a key test, the log time series, the live log stream).
//!
//! Why apart: the conformance test's own file holds the harness and the core routes; each
//! family here needs its own setup (an answer cached, an MCP server connected).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use super::Conformance;

/// The cache routes: statistics, and the three removals after an answer was stored.
pub(super) async fn cache(c: &mut Conformance) {
    use Method as M;
    let r = c
        .client
        .post(format!("{}/v1/chat/completions", c.base))
        .header("x-bf-cache-key", "conformance")
        .json(
            &json!({"model": "mock/gpt-4o", "messages": [{"role": "user", "content": "cache me"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for (m, path, want) in [
        (M::GET, "/api/cache/stats".to_owned(), 200),
        (M::DELETE, format!("/api/cache/clear/{id}"), 200),
        (
            M::DELETE,
            "/api/cache/clear-by-key/conformance".to_owned(),
            200,
        ),
        (M::DELETE, "/api/cache/clear".to_owned(), 200),
    ] {
        let what = format!("{m} {path}");
        let r = c.call(m, &path, None).await;
        c.expect(&what, (r.0, &r.1), want);
    }
}

/// The MCP routes: a client added (the reference server over stdio), read, changed,
/// reconnected, a tool call in the log, and the client removed.
pub(super) async fn mcp(c: &mut Conformance) {
    use Method as M;
    let everything = crate::common::mcp_everything();
    let client = json!({"name": "conformance", "connection_type": "stdio",
        "stdio_config": {"command": "node", "args": [everything, "stdio"]},
        "tools_to_execute": ["echo"], "headers": {"x-token": "hidden"}});
    let r = c
        .call(
            M::POST,
            "/api/mcp/client?dry_run=true",
            Some(client.clone()),
        )
        .await;
    c.expect("dry-run POST /api/mcp/client", (r.0, &r.1), 200);
    let r = c
        .call(M::POST, "/api/mcp/client", Some(client.clone()))
        .await;
    c.expect("POST /api/mcp/client", (r.0, &r.1), 201);
    let r = c
        .call(M::POST, "/api/mcp/client", Some(client.clone()))
        .await;
    c.expect("duplicate MCP client", (r.0, &r.1), 409);
    let r = c
        .call(
            M::POST,
            "/api/mcp/client",
            Some(json!({"name": "x", "connection_type": "pigeon"})),
        )
        .await;
    c.expect("invalid MCP client", (r.0, &r.1), 400);
    let connected = |v: &Value| v["state"] == "connected";
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, one) = c.call(M::GET, "/api/mcp/client/conformance", None).await;
        if connected(&one) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the MCP client did not connect: {one}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, list) = c.call(M::GET, "/api/mcp/clients", None).await;
    c.expect("GET /api/mcp/clients", (status, &list), 200);
    let r = c.call(M::GET, "/api/mcp/client/missing", None).await;
    c.expect("unknown MCP client", (r.0, &r.1), 404);
    let mut changed = list["clients"][0]["config"].clone();
    changed["tools_to_execute"] = json!(["echo", "get-sum"]);
    let r = c
        .call(M::PUT, "/api/mcp/client/conformance", Some(changed))
        .await;
    c.expect("PUT /api/mcp/client", (r.0, &r.1), 200);
    let r = c
        .call(M::POST, "/api/mcp/client/conformance/reconnect", None)
        .await;
    c.expect("reconnect", (r.0, &r.1), 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let executed = c
            .client
            .post(format!("{}/v1/mcp/tool/execute", c.base))
            .json(&json!({"id": "call_c", "type": "function",
                "function": {"name": "conformance-echo", "arguments": "{\"message\":\"logged\"}"}}))
            .send()
            .await
            .unwrap();
        if executed.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the tool call did not succeed: {}",
            executed.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, logs) = c
        .call(M::GET, "/api/mcp/logs?client=conformance&status=ok", None)
        .await;
    c.expect("GET /api/mcp/logs", (status, &logs), 200);
    assert_eq!(logs["logs"][0]["result"], "Echo: logged", "{logs}");
    let r = c.call(M::GET, "/api/mcp/logs?limit=many", None).await;
    c.expect("bad limit", (r.0, &r.1), 400);
    let r = c.call(M::DELETE, "/api/mcp/client/conformance", None).await;
    c.expect("DELETE /api/mcp/client", (r.0, &r.1), 200);
}

/// The dashboard's routes: a key test, the log time series, and the live stream (its events
/// validated against the schema the document gives their data).
pub(super) async fn dashboard(c: &mut Conformance) {
    use Method as M;
    for (m, path, body, want) in [
        (
            M::POST,
            "/api/providers/mock/keys/k1/test",
            Some(json!({})),
            200,
        ),
        (M::POST, "/api/providers/mock/keys/nope/test", None, 404),
        (M::GET, "/api/logs/timeseries", None, 200),
        (
            M::GET,
            "/api/logs/timeseries?group_by=provider&bucket_seconds=300&status=success",
            None,
            200,
        ),
        (M::GET, "/api/logs/timeseries?group_by=team", None, 400),
    ] {
        let what = format!("{m} {path}");
        let r = c.call(m, path, body).await;
        c.expect(&what, (r.0, &r.1), want);
    }

    let described = &c.doc["paths"]["/api/logs/stream"]["get"]["responses"]["200"]["content"]["text/event-stream"];
    let data_schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": c.doc["components"],
        "allOf": [described["x-event-data"]],
    });
    let validator = jsonschema::validator_for(&data_schema).unwrap();
    let mut req = c.client.get(format!("{}/api/logs/stream", c.base));
    if let Some(t) = &c.bearer {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!((status, content_type.as_str()), (200, "text/event-stream"));
    c.seen
        .entry(("get".to_owned(), "/api/logs/stream".to_owned()))
        .or_default()
        .insert(status);
    let mut body = resp.bytes_stream();
    let mut text = String::new();
    let mut chat_sent = false;
    let deadline = Instant::now() + Duration::from_secs(10);
    let record = loop {
        if let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            if event.starts_with("event: ready") && !chat_sent {
                chat_sent = true;
                let r = c
                    .client
                    .post(format!("{}/v1/chat/completions", c.base))
                    .json(&crate::common::user_chat("mock/gpt-4o"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
            } else if let Some(data) = event.strip_prefix("event: log\ndata: ") {
                break serde_json::from_str::<Value>(data.trim_end()).unwrap();
            }
            continue;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, futures::StreamExt::next(&mut body))
            .await
            .expect("the stream's events in time")
            .expect("the stream stays open")
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    };
    assert!(
        described.is_object(),
        "the stream is described as text/event-stream"
    );
    let errors: Vec<String> = validator
        .iter_errors(&record)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    if !errors.is_empty() {
        c.failures.push(format!(
            "a `log` event of GET /api/logs/stream does not match its described data:\n{}",
            errors.join("\n")
        ));
    }
}
