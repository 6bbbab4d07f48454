//! MCP end to end, in process (store mode, MCP wired as the binary has it, the mock provider
//! upstream) against the real reference server `@modelcontextprotocol/server-everything`
//! (from npm: `npm ci --prefix tests/mcp`) over stdio, streamable HTTP and SSE: its tools reach
//! the model, the execute endpoint returns their real results, agent mode completes a tool
//! loop (streamed and not), virtual-key permissions hold, a crashed server is reconnected while
//! chats go on, the management API changes clients, and every call is in the tool log.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::control::{ControlHarness, ControlOptions, start_control};
use heimdall_mock_provider::{MockConfig, MockServer};
use serde_json::{Value, json};

/// server-everything in `mode` (`sse`, `streamableHttp`) on a free port.
struct HttpServer {
    child: tokio::process::Child,
    port: u16,
}

impl HttpServer {
    async fn start(mode: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new("node")
            .arg(common::mcp_everything())
            .arg(mode)
            .env("PORT", port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "server-everything {mode} did not listen"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { child, port }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn stdio_client(name: &str, extra: Value) -> Value {
    let mut c = json!({"name": name, "connection_type": "stdio",
        "stdio_config": {"command": "node", "args": [common::mcp_everything(), "stdio"]}});
    if let (Some(o), Some(e)) = (c.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    c
}

async fn start(
    clients: Vec<Value>,
    extra: impl FnOnce(&mut Value),
) -> (ControlHarness, MockServer) {
    let mock = MockServer::start(MockConfig {
        record_requests: true,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let mut doc = common::mock_config(&mock, json!({}));
    doc["mcp"] = json!({"client_configs": clients,
        "tool_manager_config": {"tool_execution_timeout": 10, "max_agent_depth": 3}});
    extra(&mut doc);
    let governance = doc.get("governance").is_some();
    let h = start_control(ControlOptions {
        mcp: true,
        governance,
        ..ControlOptions::store(doc)
    })
    .await;
    (h, mock)
}

/// Wait until `pred` holds for the `/api/mcp/clients` listing.
async fn wait_clients(
    h: &ControlHarness,
    what: &str,
    pred: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = h.get("/api/mcp/clients").await;
        assert_eq!(status, 200, "{body}");
        let clients = body["clients"].as_array().cloned().unwrap_or_default();
        if pred(&clients) {
            return clients;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn state_of<'a>(clients: &'a [Value], name: &str) -> &'a str {
    clients
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["state"].as_str())
        .unwrap_or("absent")
}

async fn all_connected(h: &ControlHarness, names: &[&str]) {
    wait_clients(h, "clients to connect", |c| {
        names.iter().all(|n| state_of(c, n) == "connected")
    })
    .await;
}

async fn chat(h: &ControlHarness, body: Value, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut r = h.client.post(h.url("/v1/chat/completions")).json(&body);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.send().await.unwrap()
}

fn ask(stream: bool) -> Value {
    json!({"model": "mock/gpt-4o-mini", "stream": stream,
        "messages": [{"role": "user", "content": "Say it back"}]})
}

/// The function names in the tools of the last chat request the mock received.
fn offered_tools(mock: &MockServer) -> Vec<String> {
    let last = mock
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.ends_with("/chat/completions"))
        .expect("a chat request reached the mock");
    last.body["tools"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn execute(
    h: &ControlHarness,
    name: &str,
    args: Value,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut r = h.client.post(h.url("/v1/mcp/tool/execute")).json(&json!({
        "id": "call_1", "type": "function",
        "function": {"name": name, "arguments": args.to_string()}
    }));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_of_every_transport_reach_the_model_and_run() {
    let http = HttpServer::start("streamableHttp").await;
    let sse = HttpServer::start("sse").await;
    let (h, mock) = start(
        vec![
            stdio_client("local", json!({})),
            json!({"name": "remote", "connection_type": "http",
                "connection_string": format!("http://127.0.0.1:{}/mcp", http.port)}),
            json!({"name": "legacy", "connection_type": "sse",
                "connection_string": format!("http://127.0.0.1:{}/sse", sse.port),
                "tools_to_execute": ["echo", "get-sum"]}),
        ],
        |_| {},
    )
    .await;
    all_connected(&h, &["local", "remote", "legacy"]).await;

    // Injected into a chat request: the model sees every transport's tools, the SSE client
    // only the two it may run.
    let r = chat(
        &h,
        json!({"model": "mock/gpt-4o-mini", "tool_choice": "none",
        "messages": [{"role": "user", "content": "hi"}]}),
        &[],
    )
    .await;
    assert_eq!(r.status(), 200);
    let tools = offered_tools(&mock);
    for name in [
        "local-echo",
        "remote-echo",
        "legacy-echo",
        "legacy-get-sum",
        "local-get-sum",
    ] {
        assert!(
            tools.contains(&name.to_owned()),
            "{name} missing from {tools:?}"
        );
    }
    assert!(
        !tools
            .iter()
            .any(|t| t.starts_with("legacy-") && t != "legacy-echo" && t != "legacy-get-sum")
    );

    // The request's own header narrows the tools.
    chat(
        &h,
        json!({"model": "mock/gpt-4o-mini", "tool_choice": "none",
        "messages": [{"role": "user", "content": "hi"}]}),
        &[("x-bf-mcp-include-tools", "remote-echo,legacy-*")],
    )
    .await;
    let mut narrowed = offered_tools(&mock);
    narrowed.sort();
    assert_eq!(narrowed, ["legacy-echo", "legacy-get-sum", "remote-echo"]);

    // The execute endpoint returns each server's real result.
    for client in ["local", "remote", "legacy"] {
        let (status, msg) = execute(
            &h,
            &format!("{client}-echo"),
            json!({"message": "over the wire"}),
            &[],
        )
        .await;
        assert_eq!(status, 200, "{msg}");
        assert_eq!(msg["role"], "tool");
        assert_eq!(msg["tool_call_id"], "call_1");
        assert_eq!(msg["content"], "Echo: over the wire");
    }
    let (status, msg) = execute(&h, "remote-get-sum", json!({"a": 2, "b": 3}), &[]).await;
    assert_eq!(status, 200);
    assert!(msg["content"].as_str().unwrap().contains('5'), "{msg}");

    // Responses-shaped call.
    let resp = h
        .client
        .post(h.url("/v1/mcp/tool/execute?format=responses"))
        .json(
            &json!({"type": "function_call", "call_id": "fc_9", "name": "local-echo",
            "arguments": "{\"message\":\"items\"}"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let item: Value = resp.json().await.unwrap();
    assert_eq!(
        item,
        json!({"type": "function_call_output", "call_id": "fc_9", "output": "Echo: items"})
    );

    // Refusals: an unknown tool, one the client may not run, arguments that are not JSON.
    assert_eq!(execute(&h, "local-nope", json!({}), &[]).await.0, 404);
    assert_eq!(execute(&h, "legacy-get-env", json!({}), &[]).await.0, 404);
    let bad = h
        .client
        .post(h.url("/v1/mcp/tool/execute"))
        .json(&json!({"id": "c", "function": {"name": "local-echo", "arguments": "{oops"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    // Every call is in the tool log, newest first, with its result.
    let (status, logs) = h.get("/api/mcp/logs?client=remote&tool=get-sum").await;
    assert_eq!(status, 200, "{logs}");
    let entry = &logs["logs"][0];
    assert_eq!(entry["status"], "ok");
    assert_eq!(entry["source"], "execute");
    assert!(entry["result"].as_str().unwrap().contains('5'));
    assert_eq!(
        serde_json::from_str::<Value>(entry["arguments"].as_str().unwrap()).unwrap(),
        json!({"a": 2, "b": 3})
    );
    let (_, refused) = h.get("/api/mcp/logs?status=refused").await;
    assert!(refused["count"].as_u64().unwrap() >= 1, "{refused}");

    // The metrics count calls and connections.
    let text = h
        .client
        .get(h.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("mcp_tool_calls_total{client=\"remote\",tool=\"get-sum\",outcome=\"ok\"} 1"),
        "{text}"
    );
    assert!(text.contains("mcp_client_up{client=\"legacy\"} 1"));
    // A name that is no offered tool never becomes a label (callers cannot mint series).
    assert!(
        text.contains(
            "mcp_tool_calls_total{client=\"unknown\",tool=\"unknown\",outcome=\"refused\"}"
        ),
        "{text}"
    );
    assert!(!text.contains("tool=\"nope\""), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_mode_runs_the_tool_loop_streamed_and_not() {
    let (h, mock) = start(
        vec![stdio_client(
            "everything",
            json!({"tools_to_auto_execute": ["echo"]}),
        )],
        |_| {},
    )
    .await;
    all_connected(&h, &["everything"]).await;
    let only_echo = [("x-bf-mcp-include-tools", "everything-echo")];

    let r = chat(&h, ask(false), &only_echo).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-heimdall-agent-steps"], "2");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["choices"][0]["finish_reason"], "stop", "{body}");
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    // Usage of both turns.
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    // The mock's second turn carried the tool's real result.
    let chats: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/chat/completions"))
        .collect();
    assert_eq!(chats.len(), 2);
    let messages = chats[1].body["messages"].as_array().unwrap();
    let tool_msg = messages.iter().find(|m| m["role"] == "tool").unwrap();
    assert_eq!(tool_msg["content"], "Echo: mock");
    let assistant = messages.iter().find(|m| m["role"] == "assistant").unwrap();
    assert_eq!(
        assistant["tool_calls"][0]["function"]["name"],
        "everything-echo"
    );
    assert_eq!(assistant["tool_calls"][0]["id"], tool_msg["tool_call_id"]);

    // Streamed: the final answer arrives as an OpenAI stream that ends with [DONE].
    mock.clear_requests();
    let r = chat(&h, ask(true), &only_echo).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = r.text().await.unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    // One stream: one id, one role, the last turn's text, one finish reason, no tool call
    // of the turn the gateway ran itself.
    let chunks: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let ids: std::collections::BTreeSet<&str> =
        chunks.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids.len(), 1, "{text}");
    let finishes: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finishes, [&json!("stop")], "{text}");
    assert_eq!(
        chunks
            .iter()
            .filter(|c| c["choices"][0]["delta"]["role"].is_string())
            .count(),
        1,
        "{text}"
    );
    assert!(!text.contains("tool_calls"), "{text}");
    let streamed: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(!streamed.is_empty());
    assert_eq!(
        mock.requests()
            .iter()
            .filter(|r| r.path.ends_with("/chat/completions"))
            .count(),
        2
    );

    // The agent's tool call is logged with the id of the turn that asked for it.
    let (_, logs) = h.get("/api/mcp/logs?source=agent&tool=echo").await;
    let agent_calls: Vec<&Value> = logs["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["source"] == "agent")
        .collect();
    assert_eq!(agent_calls.len(), 2, "{logs}");
    assert!(
        agent_calls[0]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );

    // A tool the client does not auto-execute goes back to the client as a tool call.
    mock.clear_requests();
    let r = chat(
        &h,
        ask(false),
        &[("x-bf-mcp-include-tools", "everything-get-sum")],
    )
    .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls", "{body}");
    assert_eq!(
        body["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "everything-get-sum"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_virtual_key_sees_and_runs_only_what_it_is_granted() {
    let (h, mock) = start(vec![stdio_client("everything", json!({}))], |doc| {
        doc["governance"] = json!({"virtual_keys": [
            {"id": "vk-echo", "value": "sk-bf-echo-only", "is_active": true,
             "mcp_configs": [{"mcp_client_name": "everything", "tools_to_execute": ["echo"]}]},
            {"id": "vk-all", "value": "sk-bf-everything", "is_active": true}
        ]});
    })
    .await;
    all_connected(&h, &["everything"]).await;
    let echo_key = [("x-bf-vk", "sk-bf-echo-only")];

    let r = chat(
        &h,
        json!({"model": "mock/gpt-4o-mini", "tool_choice": "none",
        "messages": [{"role": "user", "content": "hi"}]}),
        &echo_key,
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(offered_tools(&mock), ["everything-echo"]);

    let r = chat(
        &h,
        json!({"model": "mock/gpt-4o-mini", "tool_choice": "none",
        "messages": [{"role": "user", "content": "hi"}]}),
        &[("x-bf-vk", "sk-bf-everything")],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(offered_tools(&mock).len() > 5);

    assert_eq!(
        execute(&h, "everything-echo", json!({"message": "ok"}), &echo_key)
            .await
            .0,
        200
    );
    let (status, body) =
        execute(&h, "everything-get-sum", json!({"a": 1, "b": 2}), &echo_key).await;
    assert_eq!(status, 403, "{body}");
    let r = chat(
        &h,
        ask(false),
        &[
            ("x-bf-vk", "sk-bf-echo-only"),
            ("x-bf-mcp-include-tools", "everything-get-sum"),
        ],
    )
    .await;
    assert_eq!(r.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_server_is_reconnected_while_chats_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let client = json!({"name": "fragile", "connection_type": "stdio",
        "stdio_config": {"command": "sh", "args": ["-c",
            format!("echo $$ > {}; exec node {} stdio", pidfile.display(), common::mcp_everything())]}});
    let (h, mock) = start(vec![client], |_| {}).await;
    all_connected(&h, &["fragile"]).await;
    let no_tool_call = json!({"model": "mock/gpt-4o-mini", "tool_choice": "none",
        "messages": [{"role": "user", "content": "hi"}]});
    chat(&h, no_tool_call.clone(), &[]).await;
    assert!(offered_tools(&mock).contains(&"fragile-echo".to_owned()));

    let pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_owned();
    assert!(
        std::process::Command::new("kill")
            .args(["-9", &pid])
            .status()
            .unwrap()
            .success()
    );
    wait_clients(&h, "the crash to be noticed", |c| {
        state_of(c, "fragile") != "connected"
    })
    .await;
    // Meanwhile: no tools of the dead server, and the chat still succeeds.
    let r = chat(&h, no_tool_call.clone(), &[]).await;
    assert_eq!(r.status(), 200);
    assert!(offered_tools(&mock).is_empty());

    let clients = wait_clients(&h, "the reconnection", |c| {
        state_of(c, "fragile") == "connected"
    })
    .await;
    assert!(
        clients[0]["reconnects"].as_u64().unwrap() >= 1,
        "{clients:?}"
    );
    let new_pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_owned();
    assert_ne!(pid, new_pid, "a new server process");
    chat(&h, no_tool_call, &[]).await;
    assert!(offered_tools(&mock).contains(&"fragile-echo".to_owned()));
    let (status, msg) = execute(&h, "fragile-echo", json!({"message": "back"}), &[]).await;
    assert_eq!((status, msg["content"].as_str()), (200, Some("Echo: back")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_are_managed_through_the_api_and_mcp_serves_them_back() {
    let (h, _mock) = start(vec![], |_| {}).await;
    let (status, body) = h
        .post(
            "/api/mcp/client",
            stdio_client(
                "added",
                json!({"tools_to_execute": ["echo", "get-sum"],
            "headers": {"Authorization": "Bearer not-shown"}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(body["version"].as_i64().is_some());
    all_connected(&h, &["added"]).await;
    let (_, shown) = h.get("/api/mcp/client/added").await;
    assert!(
        !shown.to_string().contains("not-shown"),
        "a header value leaked: {shown}"
    );
    assert!(shown["tools"].as_array().unwrap().len() > 2);
    assert_eq!(
        h.post("/api/mcp/client", stdio_client("added", json!({})))
            .await
            .0,
        409
    );

    // Heimdall's own MCP server lists and calls the aggregated tools.
    let rpc = |body: Value| {
        let h = &h;
        async move {
            let r = h
                .client
                .post(h.url("/mcp"))
                .header("accept", "application/json, text/event-stream")
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, init) = rpc(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})).await;
    assert_eq!(status, 200, "{init}");
    assert!(init.contains("\"protocolVersion\":\"2025-06-18\""));
    assert_eq!(
        rpc(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await
            .0,
        202
    );
    let (_, list) = rpc(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})).await;
    let list: Value = serde_json::from_str(&list).unwrap();
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"added-echo"));
    let (_, called) = rpc(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "added-get-sum", "arguments": {"a": 20, "b": 22}}}))
    .await;
    assert!(called.contains("42"), "{called}");
    assert_eq!(
        h.client.get(h.url("/mcp")).send().await.unwrap().status(),
        405
    );

    // PUT narrows the tools (the redacted header sent back keeps its value); reconnect; DELETE.
    let mut changed = shown["config"].clone();
    changed["tools_to_execute"] = json!(["echo"]);
    let (status, body) = h
        .call(
            reqwest::Method::PUT,
            "/api/mcp/client/added",
            Some(changed),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let doc = h.control.config.current().document.clone();
    assert_eq!(
        doc["mcp"]["client_configs"][0]["headers"]["Authorization"],
        "Bearer not-shown"
    );
    all_connected(&h, &["added"]).await;
    let (_, list) = rpc(json!({"jsonrpc": "2.0", "id": 4, "method": "tools/list"})).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut list = list;
    while !list.contains("added-echo") || list.contains("added-get-sum") {
        assert!(Instant::now() < deadline, "{list}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        list = rpc(json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list"}))
            .await
            .1;
    }
    assert_eq!(
        h.post("/api/mcp/client/added/reconnect", json!({})).await.0,
        200
    );
    assert_eq!(
        h.post("/api/mcp/client/nope/reconnect", json!({})).await.0,
        404
    );
    let (status, _) = h
        .call(reqwest::Method::DELETE, "/api/mcp/client/added", None, None)
        .await;
    assert_eq!(status, 200);
    wait_clients(&h, "the client to go", |c| c.is_empty()).await;
    let (_, list) = rpc(json!({"jsonrpc": "2.0", "id": 6, "method": "tools/list"})).await;
    assert_eq!(
        serde_json::from_str::<Value>(&list).unwrap()["result"]["tools"],
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_mode_answers_in_the_clients_own_dialect() {
    let (h, mock) = start(
        vec![stdio_client(
            "everything",
            json!({"tools_to_auto_execute": ["echo"]}),
        )],
        |_| {},
    )
    .await;
    all_connected(&h, &["everything"]).await;
    let ask = |stream: bool| {
        json!({"model": "mock/gpt-4o-mini", "max_tokens": 100, "stream": stream,
            "messages": [{"role": "user", "content": "Say it back"}]})
    };
    let send = |body: Value| {
        h.client
            .post(h.url("/anthropic/v1/messages"))
            .header("x-bf-mcp-include-tools", "everything-echo")
            .json(&body)
            .send()
    };
    let r = send(ask(false)).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-heimdall-agent-steps"], "2");
    let message: Value = r.json().await.unwrap();
    assert_eq!(message["type"], "message", "{message}");
    assert_eq!(message["stop_reason"], "end_turn", "{message}");
    assert_eq!(message["content"][0]["type"], "text");

    let r = send(ask(true)).await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let events: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(events.first(), Some(&"message_start"), "{text}");
    assert_eq!(events.last(), Some(&"message_stop"), "{text}");
    assert_eq!(
        events.iter().filter(|e| **e == "message_start").count(),
        1,
        "{text}"
    );
    assert!(!text.contains("tool_use"), "{text}");
    assert!(text.contains("\"stop_reason\":\"end_turn\""), "{text}");
    // Both requests ran two turns upstream.
    let turns = mock
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/chat/completions"))
        .count();
    assert_eq!(turns, 4);
}
