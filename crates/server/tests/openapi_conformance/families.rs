//! Route families exercised by the conformance test: the response cache and MCP.
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
