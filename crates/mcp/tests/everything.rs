//! The MCP clients against a real MCP server: `@modelcontextprotocol/server-everything` from npm
//! (pinned in tests/mcp/package.json), over stdio, streamable HTTP and the legacy SSE transport,
//! through `McpManager` as the gateway uses it — including a server killed mid-session.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use heimdall_config::{
    McpClientConfig, McpConfig, McpConnectionType, McpStdioConfig, ToolSelection,
};
use heimdall_mcp::{ClientState, ClientStatus, McpManager, ToolError};
use serde_json::{Map, Value, json};

const SERVER_JS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/mcp/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
);
const WAIT: Duration = Duration::from_secs(20);
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Logs to the test output when RUST_LOG is set (e.g. `RUST_LOG=heimdall_mcp=debug`).
fn init_logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// The server's entry point; a missing install fails the test, it is never skipped.
fn server_js() -> &'static str {
    init_logs();
    assert!(
        Path::new(SERVER_JS).is_file(),
        "the MCP test server is not installed at {SERVER_JS}; run: npm ci --prefix tests/mcp"
    );
    SERVER_JS
}

/// server-everything listening on a free port in `sse` or `streamableHttp` mode; killed on drop.
struct HttpServer {
    _child: tokio::process::Child,
    port: u16,
}

async fn start_http_server(mode: &str) -> HttpServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    start_http_server_on(mode, port).await
}

async fn start_http_server_on(mode: &str, port: u16) -> HttpServer {
    let js = server_js();
    let mut child = tokio::process::Command::new("node")
        .arg(js)
        .arg(mode)
        .env("PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node must be installed to run the MCP tests");
    let deadline = Instant::now() + WAIT;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return HttpServer {
                _child: child,
                port,
            };
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("server-everything {mode} exited early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "server-everything {mode} did not listen on {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn client(name: &str, connection_type: McpConnectionType) -> McpClientConfig {
    McpClientConfig {
        name: name.to_owned(),
        connection_type,
        connection_string: None,
        stdio_config: None,
        headers: BTreeMap::new(),
        tools_to_execute: ToolSelection::All,
        tools_to_auto_execute: ToolSelection::Only(vec!["echo".to_owned()]),
        tool_sync_interval: Duration::from_secs(300),
    }
}

fn stdio_client(name: &str, command: &str, args: Vec<String>) -> McpClientConfig {
    McpClientConfig {
        stdio_config: Some(McpStdioConfig {
            command: command.to_owned(),
            args,
            ..McpStdioConfig::default()
        }),
        ..client(name, McpConnectionType::Stdio)
    }
}

fn node_stdio(name: &str) -> McpClientConfig {
    stdio_client(
        name,
        "node",
        vec![server_js().to_owned(), "stdio".to_owned()],
    )
}

fn url_client(name: &str, kind: McpConnectionType, url: String) -> McpClientConfig {
    McpClientConfig {
        connection_string: Some(url),
        ..client(name, kind)
    }
}

fn config(clients: Vec<McpClientConfig>) -> McpConfig {
    McpConfig {
        client_configs: clients,
        ..McpConfig::default()
    }
}

fn args(v: Value) -> Option<Map<String, Value>> {
    v.as_object().cloned()
}

/// Poll until `ok` holds for the client's status (≤ 20 s); the last status on timeout.
async fn wait_for(
    manager: &McpManager,
    name: &str,
    what: &str,
    ok: impl Fn(&ClientStatus) -> bool,
) -> ClientStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        let status = manager.client(name).expect("client configured");
        if ok(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: not {what} within {WAIT:?}: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_connected(manager: &McpManager, name: &str) -> ClientStatus {
    wait_for(manager, name, "connected", |s| {
        s.state == ClientState::Connected
    })
    .await
}

fn offered(manager: &McpManager, name: &str) -> Vec<String> {
    let prefix = format!("{name}-");
    manager
        .tools()
        .iter()
        .map(|t| t.function_name())
        .filter(|f| f.starts_with(&prefix))
        .collect()
}

/// The checks every transport must pass: tools offered, echo and get-sum answer.
async fn exercise(manager: &Arc<McpManager>, name: &str) {
    let status = wait_connected(manager, name).await;
    assert!(status.server_name.is_some(), "{status:?}");
    assert!(
        status
            .tools
            .iter()
            .any(|t| t.name == "echo" && t.executable && t.auto_execute)
    );
    assert!(
        status
            .tools
            .iter()
            .any(|t| t.name == "get-sum" && !t.auto_execute)
    );
    let offered = offered(manager, name);
    assert!(offered.contains(&format!("{name}-echo")), "{offered:?}");

    let echo = manager
        .resolve(&format!("{name}-echo"))
        .expect("echo resolves");
    assert_eq!((echo.client.as_str(), echo.name.as_str()), (name, "echo"));
    assert!(echo.auto_execute);
    assert_eq!(echo.input_schema["type"], "object");
    assert!(echo.input_schema["properties"]["message"].is_object());

    let out = manager
        .call_tool(name, "echo", args(json!({"message": "hi"})), CALL_TIMEOUT)
        .await
        .unwrap();
    assert!(!out.is_error);
    assert!(out.text().contains("hi"), "{out:?}");
    let out = manager
        .call_tool(name, "get-sum", args(json!({"a": 2, "b": 3})), CALL_TIMEOUT)
        .await
        .unwrap();
    assert!(out.text().contains('5'), "{out:?}");
}

#[tokio::test]
async fn stdio_server_lists_and_runs_tools() {
    let manager = McpManager::new();
    manager.apply(&config(vec![node_stdio("stdio")]));
    exercise(&manager, "stdio").await;
    assert_eq!(manager.clients()[0].connection_type, "stdio");
    manager.shutdown();
    assert!(manager.clients().is_empty());
    assert!(manager.tools().is_empty());
}

#[tokio::test]
async fn streamable_http_server_lists_and_runs_tools() {
    let server = start_http_server("streamableHttp").await;
    let url = format!("http://127.0.0.1:{}/mcp", server.port);
    let manager = McpManager::new();
    manager.apply(&config(vec![url_client(
        "http",
        McpConnectionType::Http,
        url,
    )]));
    exercise(&manager, "http").await;
    manager.shutdown();
}

#[tokio::test]
async fn legacy_sse_server_lists_and_runs_tools() {
    let server = start_http_server("sse").await;
    let url = format!("http://127.0.0.1:{}/sse", server.port);
    let manager = McpManager::new();
    let mut sse = url_client("sse", McpConnectionType::Sse, url);
    // Sent on the GET and every POST; the server ignores it.
    sse.headers.insert(
        "x-test-token".to_owned(),
        heimdall_config::Secret::new("t0ken"),
    );
    manager.apply(&config(vec![sse]));
    exercise(&manager, "sse").await;
    manager.shutdown();
}

#[tokio::test]
async fn tools_to_execute_limits_what_is_offered_and_callable() {
    let manager = McpManager::new();
    let mut only_echo = node_stdio("limited");
    only_echo.tools_to_execute = ToolSelection::Only(vec!["echo".to_owned()]);
    manager.apply(&config(vec![only_echo]));
    let status = wait_connected(&manager, "limited").await;
    assert_eq!(offered(&manager, "limited"), ["limited-echo"]);
    let sum = status
        .tools
        .iter()
        .find(|t| t.name == "get-sum")
        .expect("still listed");
    assert!(!sum.executable);
    assert!(manager.resolve("limited-get-sum").is_none());

    let err = manager
        .call_tool(
            "limited",
            "get-sum",
            args(json!({"a": 2, "b": 3})),
            CALL_TIMEOUT,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::UnknownTool { .. }), "{err}");
    let err = manager
        .call_tool("nobody", "echo", None, CALL_TIMEOUT)
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::UnknownClient(_)), "{err}");
    let out = manager
        .call_tool(
            "limited",
            "echo",
            args(json!({"message": "still hi"})),
            CALL_TIMEOUT,
        )
        .await
        .unwrap();
    assert!(out.text().contains("still hi"));
    manager.shutdown();
}

#[tokio::test]
async fn a_killed_stdio_server_is_withdrawn_and_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let script = format!(
        "echo $$ > '{}'; exec node '{}' stdio",
        pid_file.display(),
        server_js()
    );
    let manager = McpManager::new();
    manager.apply(&config(vec![stdio_client(
        "crash",
        "sh",
        vec!["-c".to_owned(), script],
    )]));
    wait_connected(&manager, "crash").await;
    assert!(!offered(&manager, "crash").is_empty());
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_owned();

    let killed = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    assert!(killed.success());

    let down = wait_for(&manager, "crash", "down", |s| {
        s.state != ClientState::Connected
    })
    .await;
    assert!(
        offered(&manager, "crash").is_empty(),
        "tools withdrawn at once: {down:?}"
    );
    assert!(down.tools.is_empty());
    assert!(manager.resolve("crash-echo").is_none());
    let err = manager
        .call_tool("crash", "echo", args(json!({"message": "x"})), CALL_TIMEOUT)
        .await;
    assert!(
        matches!(err, Err(ToolError::NotConnected(_)) | Ok(_)),
        "{err:?}"
    );

    let up = wait_for(&manager, "crash", "back", |s| {
        s.state == ClientState::Connected && s.reconnects >= 1
    })
    .await;
    assert!(up.error.is_some(), "the drop is recorded: {up:?}");
    assert!(offered(&manager, "crash").contains(&"crash-echo".to_owned()));
    let new_pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_owned();
    assert_ne!(pid, new_pid, "a new server process");
    let out = manager
        .call_tool(
            "crash",
            "echo",
            args(json!({"message": "again"})),
            CALL_TIMEOUT,
        )
        .await
        .unwrap();
    assert!(out.text().contains("again"));

    manager.shutdown();
    let deadline = Instant::now() + WAIT;
    while alive(&new_pid) {
        assert!(
            Instant::now() < deadline,
            "server {new_pid} still runs after shutdown"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether process `pid` runs (a zombie does not count).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

#[tokio::test]
async fn reconnect_and_removal_through_apply() {
    let manager = McpManager::new();
    let first = node_stdio("one");
    let second = node_stdio("two");
    manager.apply(&config(vec![first.clone(), second.clone()]));
    wait_connected(&manager, "one").await;
    wait_connected(&manager, "two").await;
    assert_eq!(
        manager
            .clients()
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["one", "two"]
    );

    assert!(!manager.reconnect("nobody"));
    assert!(manager.reconnect("one"));
    let back = wait_for(&manager, "one", "reconnected", |s| {
        s.state == ClientState::Connected && s.reconnects >= 1
    })
    .await;
    assert!(
        back.error.is_none(),
        "a requested reconnect is no error: {back:?}"
    );
    assert!(offered(&manager, "one").contains(&"one-echo".to_owned()));

    // Unchanged config: nothing restarts.
    let before = manager.client("two").unwrap().connected_at_ms;
    manager.apply(&config(vec![first.clone(), second]));
    assert_eq!(manager.client("two").unwrap().connected_at_ms, before);

    manager.apply(&config(vec![first]));
    assert!(manager.client("two").is_none());
    assert_eq!(manager.clients().len(), 1);
    assert!(offered(&manager, "two").is_empty());
    assert!(!offered(&manager, "one").is_empty());
    let err = manager
        .call_tool("two", "echo", None, CALL_TIMEOUT)
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::UnknownClient(_)), "{err}");
    manager.shutdown();
}

#[tokio::test]
async fn an_http_server_that_goes_away_is_withdrawn_and_found_again() {
    let server = start_http_server("streamableHttp").await;
    let port = server.port;
    let manager = McpManager::new();
    let mut http = url_client(
        "web",
        McpConnectionType::Http,
        format!("http://127.0.0.1:{port}/mcp"),
    );
    // No re-list for five minutes: the liveness ping (every 10 s) must notice the loss.
    http.tool_sync_interval = Duration::from_secs(300);
    manager.apply(&config(vec![http]));
    wait_connected(&manager, "web").await;
    drop(server);

    let down = wait_for(&manager, "web", "down", |s| {
        s.state != ClientState::Connected
    })
    .await;
    assert!(offered(&manager, "web").is_empty(), "{down:?}");
    let err = manager
        .call_tool("web", "echo", args(json!({"message": "x"})), CALL_TIMEOUT)
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::NotConnected(_)), "{err}");

    let _again = start_http_server_on("streamableHttp", port).await;
    let up = wait_for(&manager, "web", "back", |s| {
        s.state == ClientState::Connected
    })
    .await;
    assert!(up.reconnects >= 1, "{up:?}");
    let out = manager
        .call_tool(
            "web",
            "echo",
            args(json!({"message": "back"})),
            CALL_TIMEOUT,
        )
        .await
        .unwrap();
    assert!(out.text().contains("back"));
    manager.shutdown();
}

/// What a stub server saw: the header `x-api-key` of each request, by path.
type Seen = Arc<std::sync::Mutex<Vec<(String, Option<String>)>>>;

/// A stub on a free port: `/sse` and `/mcp` record the request and answer 401;
/// `/hostile/sse` names an endpoint on another origin.
async fn start_stub() -> (u16, Seen) {
    use axum::http::{HeaderMap, StatusCode, Uri};
    use axum::response::IntoResponse;

    let seen: Seen = Arc::default();
    let record = |seen: Seen| {
        move |uri: Uri, headers: HeaderMap| {
            let key = headers
                .get("x-api-key")
                .map(|v| v.to_str().unwrap().to_owned());
            seen.lock().unwrap().push((uri.path().to_owned(), key));
            async { StatusCode::UNAUTHORIZED }
        }
    };
    let app = axum::Router::new()
        .route("/sse", axum::routing::get(record(seen.clone())))
        .route("/mcp", axum::routing::any(record(seen.clone())))
        .route(
            "/hostile/sse",
            axum::routing::get(|| async {
                (
                    [("content-type", "text/event-stream")],
                    "event: endpoint\ndata: http://evil.example/message\n\n",
                )
                    .into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    heimdall_core::task::spawn("mcp-test-stub", async move {
        let _ = axum::serve(listener, app).await;
    });
    (port, seen)
}

#[tokio::test]
async fn configured_headers_are_sent_and_never_shown_in_errors() {
    let (port, seen) = start_stub().await;
    let with_key = |mut c: McpClientConfig| {
        c.headers.insert(
            "x-api-key".to_owned(),
            heimdall_config::Secret::new("sekrit-value"),
        );
        c
    };
    let manager = McpManager::new();
    manager.apply(&config(vec![
        with_key(url_client(
            "legacy",
            McpConnectionType::Sse,
            format!("http://127.0.0.1:{port}/sse"),
        )),
        with_key(url_client(
            "web",
            McpConnectionType::Http,
            format!("http://127.0.0.1:{port}/mcp"),
        )),
        url_client(
            "hostile",
            McpConnectionType::Sse,
            format!("http://127.0.0.1:{port}/hostile/sse"),
        ),
    ]));
    for name in ["legacy", "web", "hostile"] {
        let status = wait_for(&manager, name, "refused", |s| {
            s.state == ClientState::Disconnected && s.error.is_some()
        })
        .await;
        let error = status.error.unwrap();
        assert!(!error.contains("sekrit"), "{name}: {error}");
        match name {
            "legacy" => assert!(error.contains("401"), "{error}"),
            "hostile" => assert!(error.contains("another origin"), "{error}"),
            _ => {}
        }
    }
    let seen = seen.lock().unwrap().clone();
    for path in ["/sse", "/mcp"] {
        let keys: Vec<_> = seen
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, k)| k.clone())
            .collect();
        assert!(!keys.is_empty(), "{path} was asked");
        assert!(
            keys.iter().all(|k| k.as_deref() == Some("sekrit-value")),
            "{path}: {keys:?}"
        );
    }
    manager.shutdown();
}

#[tokio::test]
async fn a_stdio_server_sees_only_the_environment_it_is_given() {
    let manager = McpManager::new();
    let mut envy = node_stdio("envy");
    let stdio = envy.stdio_config.as_mut().unwrap();
    // Cargo sets both for the test process: one is passed through by name, one is not.
    stdio.envs = vec!["CARGO_PKG_NAME".to_owned()];
    stdio.env.insert(
        "MCP_TEST_SETTING".to_owned(),
        heimdall_config::Secret::new("on"),
    );
    manager.apply(&config(vec![envy]));
    wait_connected(&manager, "envy").await;
    let get_env = manager.resolve("envy-get-env").expect("get-env offered");
    assert_eq!(get_env.input_schema["type"], "object");
    let out = manager
        .call_tool("envy", "get-env", None, CALL_TIMEOUT)
        .await
        .unwrap();
    let env: Map<String, Value> = serde_json::from_str(&out.text()).unwrap();
    assert_eq!(env["CARGO_PKG_NAME"], "heimdall-mcp");
    assert_eq!(env["MCP_TEST_SETTING"], "on");
    assert!(env.contains_key("PATH"));
    assert!(
        !env.contains_key("CARGO_PKG_VERSION"),
        "not passed through: {env:?}"
    );
    assert!(!env.contains_key("CARGO_MANIFEST_DIR"));
    manager.shutdown();
}

#[tokio::test]
async fn a_tool_call_that_finds_the_http_server_gone_fails_and_reconnects() {
    let server = start_http_server("streamableHttp").await;
    let port = server.port;
    let manager = McpManager::new();
    // No re-list for minutes: only the failed call can notice the dead server.
    let http = url_client(
        "late",
        McpConnectionType::Http,
        format!("http://127.0.0.1:{port}/mcp"),
    );
    manager.apply(&config(vec![http]));
    wait_connected(&manager, "late").await;
    drop(server);
    let deadline = Instant::now() + WAIT;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
    {
        assert!(Instant::now() < deadline, "the server did not go away");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let err = manager
        .call_tool("late", "echo", args(json!({"message": "x"})), CALL_TIMEOUT)
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::Failed(_)), "{err}");
    let down = wait_for(&manager, "late", "down", |s| {
        s.state != ClientState::Connected
    })
    .await;
    assert!(offered(&manager, "late").is_empty(), "{down:?}");
    assert!(down.reconnects >= 1, "{down:?}");

    let _again = start_http_server_on("streamableHttp", port).await;
    wait_connected(&manager, "late").await;
    let out = manager
        .call_tool(
            "late",
            "echo",
            args(json!({"message": "back"})),
            CALL_TIMEOUT,
        )
        .await
        .unwrap();
    assert!(out.text().contains("back"));
    manager.shutdown();
}
