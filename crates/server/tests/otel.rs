//! OpenTelemetry export against real OTLP receivers built on the official protobuf types: an
//! HTTP/protobuf `POST /v1/traces` endpoint and a gRPC `TraceService`. Each request becomes a
//! trace with the GenAI attributes; a client `traceparent` is honoured and the upstream call's
//! span id reaches the provider in `traceparent`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use common::*;
use heimdall_mock_provider::MockConfig;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::json;

/// Spans received, with the `service.name` of their resource.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(String, Span)>>>);

impl Received {
    fn take(&self, req: ExportTraceServiceRequest) {
        let mut all = self.0.lock().unwrap();
        for rs in req.resource_spans {
            let service = rs
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref()?.value.clone())
                .map(|v| match v {
                    AnyValue::StringValue(s) => s,
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            for ss in rs.scope_spans {
                for span in ss.spans {
                    all.push((service.clone(), span));
                }
            }
        }
    }

    fn spans(&self) -> Vec<(String, Span)> {
        self.0.lock().unwrap().clone()
    }
}

async fn http_receiver() -> (String, Received) {
    let got = Received::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| {
            let sink = sink.clone();
            async move {
                sink.take(ExportTraceServiceRequest::decode(body).unwrap());
                (
                    [("content-type", "application/x-protobuf")],
                    ExportTraceServiceResponse::default().encode_to_vec(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), got)
}

struct GrpcSink(Received);

#[tonic::async_trait]
impl TraceService for GrpcSink {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.take(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

async fn grpc_receiver() -> (String, Received) {
    let got = Received::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let svc = TraceServiceServer::new(GrpcSink(got.clone()));
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(incoming)
            .await
    });
    (format!("http://{addr}"), got)
}

fn attr<'s>(span: &'s Span, key: &str) -> Option<&'s AnyValue> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn text(span: &Span, key: &str) -> String {
    match attr(span, key) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        other => panic!("{key}: {other:?}"),
    }
}

fn int(span: &Span, key: &str) -> i64 {
    match attr(span, key) {
        Some(AnyValue::IntValue(i)) => *i,
        other => panic!("{key}: {other:?}"),
    }
}

async fn traced_gateway(endpoint: &str, protocol: &str) -> Harness {
    let (endpoint, protocol) = (endpoint.to_owned(), protocol.to_owned());
    start_observed(
        MockConfig {
            record_requests: true,
            ..Default::default()
        },
        move |m| {
            let mut c = mock_config(m, json!({}));
            c["otel"] = json!({"enabled": true, "endpoint": endpoint, "protocol": protocol,
                "service_name": "heimdall-test", "headers": {"x-collector-token": "t0"}});
            c
        },
        vec![],
        None,
    )
    .await
}

async fn wait_spans(got: &Received, h: &Harness, n: usize) -> Vec<(String, Span)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(t) = &h.observability.tracing {
            t.flush();
        }
        let spans = got.spans();
        if spans.len() >= n || Instant::now() > deadline {
            return spans;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_trace_per_request(protocol: &str, endpoint: &str, got: &Received) {
    let h = traced_gateway(endpoint, protocol).await;
    let client_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let client_span = "00f067aa0ba902b7";
    let r = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("traceparent", format!("00-{client_trace}-{client_span}-01"))
        .json(&user_chat("mock/gpt-4o;chunks=3"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = h
        .chat(json!({"model": "mock/gpt-4o", "stream": true,
            "messages": [{"role": "user", "content": "Hi"}]}))
        .await;
    let _ = r.text().await;
    // Server + route + attempt + upstream call, per request.
    let spans = wait_spans(got, &h, 8).await;
    assert_eq!(spans.len(), 8, "{spans:#?}");
    assert!(spans.iter().all(|(service, _)| service == "heimdall-test"));

    let servers: Vec<&Span> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.kind == 2)
        .collect();
    assert_eq!(servers.len(), 2, "one server span per request");
    let first = servers
        .iter()
        .find(|s| hex(&s.trace_id) == client_trace)
        .expect("the client's trace id is kept");
    assert_eq!(hex(&first.parent_span_id), client_span);
    assert_eq!(text(first, "gen_ai.request.model"), "mock/gpt-4o;chunks=3");
    assert_eq!(text(first, "gen_ai.response.model"), "gpt-4o;chunks=3");
    assert_eq!(text(first, "gen_ai.provider.name"), "mock");
    assert_eq!(text(first, "gen_ai.system"), "mock");
    assert_eq!(text(first, "gen_ai.operation.name"), "chat");
    assert!(int(first, "gen_ai.usage.input_tokens") > 0);
    assert_eq!(int(first, "gen_ai.usage.output_tokens"), 3);
    assert!(matches!(
        attr(first, "gen_ai.response.finish_reasons"),
        Some(AnyValue::ArrayValue(_))
    ));
    assert_eq!(int(first, "http.response.status_code"), 200);

    // The upstream call span is a child (via the attempt) and its id went upstream.
    let trace_spans: Vec<&Span> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| hex(&s.trace_id) == client_trace)
        .collect();
    assert_eq!(trace_spans.len(), 4);
    let call = trace_spans
        .iter()
        .find(|s| s.kind == 3)
        .expect("a client span");
    let attempt = trace_spans
        .iter()
        .find(|s| s.span_id == call.parent_span_id)
        .expect("the attempt span");
    assert_eq!(attempt.parent_span_id, first.span_id);
    assert!(trace_spans.iter().any(|s| s.name == "route"));
    let sent = h
        .mock
        .requests()
        .into_iter()
        .find(|r| {
            r.headers
                .get("traceparent")
                .is_some_and(|t| t.contains(client_trace))
        })
        .expect("traceparent sent upstream");
    assert_eq!(
        sent.headers["traceparent"],
        format!("00-{client_trace}-{}-01", hex(&call.span_id))
    );
    // Every span lies inside its request's time window.
    assert!(call.start_time_unix_nano >= first.start_time_unix_nano);
    assert!(call.end_time_unix_nano <= first.end_time_unix_nano + 1_000_000);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_http_receives_a_trace_per_request() {
    let (endpoint, got) = http_receiver().await;
    a_trace_per_request("http", &endpoint, &got).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_grpc_receives_a_trace_per_request() {
    let (endpoint, got) = grpc_receiver().await;
    a_trace_per_request("grpc", &endpoint, &got).await;
}

/// MCP tool calls are spans: a child of the caller's `traceparent` (execute endpoint), and of
/// the agent turn's request span (agent mode).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_tool_call_is_a_span_in_its_callers_trace() {
    let everything = common::mcp_everything();
    let (endpoint, got) = http_receiver().await;
    let mock = heimdall_mock_provider::MockServer::start(MockConfig::default())
        .await
        .unwrap();
    let mut doc = mock_config(&mock, json!({}));
    doc["otel"] = json!({"enabled": true, "endpoint": endpoint, "protocol": "http",
        "service_name": "heimdall-test"});
    doc["mcp"] = json!({"client_configs": [{"name": "everything", "connection_type": "stdio",
        "stdio_config": {"command": "node", "args": [everything, "stdio"]},
        "tools_to_auto_execute": ["echo"]}]});
    let h = common::control::start_control(common::control::ControlOptions {
        mcp: true,
        ..common::control::ControlOptions::store(doc)
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !h
        .get("/api/mcp/clients")
        .await
        .1
        .to_string()
        .contains("\"connected\"")
    {
        assert!(Instant::now() < deadline, "the MCP server did not connect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let client_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let client_span = "00f067aa0ba902b7";
    let r = h
        .client
        .post(h.url("/v1/mcp/tool/execute"))
        .header("traceparent", format!("00-{client_trace}-{client_span}-01"))
        .json(&json!({"id": "call_t", "type": "function",
            "function": {"name": "everything-echo", "arguments": "{\"message\":\"traced\"}"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("x-bf-mcp-include-tools", "everything-echo")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .json(&json!({"model": "mock/gpt-4o", "messages": [{"role": "user", "content": "echo"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    let tool_spans = loop {
        let spans: Vec<Span> = got
            .spans()
            .into_iter()
            .map(|(_, s)| s)
            .filter(|s| s.name == "execute_tool everything-echo")
            .collect();
        if spans.len() >= 2 || Instant::now() > deadline {
            break spans;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(tool_spans.len(), 2, "{tool_spans:#?}");
    let executed = tool_spans
        .iter()
        .find(|s| text(s, "heimdall.tool_call.source") == "execute")
        .unwrap();
    assert_eq!(hex(&executed.trace_id), client_trace);
    assert_eq!(hex(&executed.parent_span_id), client_span);
    assert_eq!(text(executed, "gen_ai.operation.name"), "execute_tool");
    assert_eq!(text(executed, "gen_ai.tool.call.id"), "call_t");
    let agent = tool_spans
        .iter()
        .find(|s| text(s, "heimdall.tool_call.source") == "agent")
        .unwrap();
    assert_eq!(hex(&agent.trace_id), "0af7651916cd43dd8448eb211c80319c");
    // Its parent is the server span of the turn that asked for the call.
    let turn = got
        .spans()
        .into_iter()
        .map(|(_, s)| s)
        .find(|s| s.span_id == agent.parent_span_id)
        .expect("the agent turn's request span");
    assert_eq!(turn.kind, 2, "{turn:#?}");
}
