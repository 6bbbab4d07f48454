//! The legacy MCP HTTP+SSE transport (protocol 2024-11-05), which rmcp does not provide: the
//! client GETs an event stream, the server's first `endpoint` event names the URL to POST
//! JSON-RPC messages to, and every answer comes back as a `message` event on the stream.
//!
//! Why hand-written and this strict: many deployed servers still speak only this transport,
//! and the event stream is input from another process. Events are bounded in size, the
//! endpoint must stay on the stream's origin (the configured headers, often credentials, go
//! with every POST), and the stream ending ends the connection so the supervisor reconnects.

use std::borrow::Cow;

use futures::StreamExt;
use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use rmcp::RoleClient;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Largest event (its data lines together) accepted from a server.
const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;
/// Messages read ahead of the service.
const CHANNEL_CAPACITY: usize = 64;

/// Why the SSE transport failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SseError {
    /// Connecting, reading or posting failed (the URL is left out: it may carry a token).
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    /// The server answered the GET or a POST with a non-2xx status.
    #[error("{what} answered HTTP {status}")]
    Status { what: &'static str, status: u16 },
    /// The configured URL does not parse.
    #[error("invalid SSE URL: {0}")]
    Url(String),
    /// The stream ended before the server named the endpoint.
    #[error("the event stream ended before the server sent its endpoint")]
    NoEndpoint,
    /// The endpoint event does not name a usable URL.
    #[error("unusable endpoint '{endpoint}': {why}")]
    BadEndpoint { endpoint: String, why: String },
    /// An earlier endpoint event was refused (the text of that error).
    #[error("{0}")]
    Refused(String),
    /// A message could not be encoded.
    #[error("cannot encode message: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Where messages go, as far as the stream has told.
#[derive(Debug, Clone)]
enum Endpoint {
    Waiting,
    Ready(Url),
    Refused(String),
}

/// A client connection over the legacy SSE transport.
pub(crate) struct SseTransport {
    client: reqwest::Client,
    endpoint: watch::Receiver<Endpoint>,
    messages: mpsc::Receiver<RxJsonRpcMessage<RoleClient>>,
    reader: JoinHandle<()>,
}

impl SseTransport {
    /// GET the event stream at `url` with `client` (which carries the configured headers) and
    /// start reading it; `client_name` labels the logs.
    pub(crate) async fn connect(
        client: reqwest::Client,
        url: &str,
        client_name: &str,
    ) -> Result<Self, SseError> {
        let base = Url::parse(url).map_err(|e| SseError::Url(e.to_string()))?;
        let response = client
            .get(base.clone())
            .header(ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(reqwest::Error::without_url)?;
        if !response.status().is_success() {
            return Err(SseError::Status {
                what: "the event stream",
                status: response.status().as_u16(),
            });
        }
        let (endpoint_tx, endpoint) = watch::channel(Endpoint::Waiting);
        let (message_tx, messages) = mpsc::channel(CHANNEL_CAPACITY);
        let name = client_name.to_owned();
        let body = response.bytes_stream();
        let reader = heimdall_core::task::spawn("mcp-sse-reader", async move {
            read_stream(body, base, endpoint_tx, message_tx, &name).await;
        });
        Ok(Self {
            client,
            endpoint,
            messages,
            reader,
        })
    }
}

impl Drop for SseTransport {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Transport<RoleClient> for SseTransport {
    type Error = SseError;

    fn name() -> Cow<'static, str> {
        "sse".into()
    }

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let client = self.client.clone();
        let mut endpoint = self.endpoint.clone();
        let body = serde_json::to_vec(&item);
        async move {
            let body = body?;
            let known = endpoint
                .wait_for(|e| !matches!(e, Endpoint::Waiting))
                .await
                .map_err(|_| SseError::NoEndpoint)?
                .clone();
            let url = match known {
                Endpoint::Ready(url) => url,
                Endpoint::Refused(why) => return Err(SseError::Refused(why)),
                Endpoint::Waiting => return Err(SseError::NoEndpoint),
            };
            let response = client
                .post(url)
                .header(CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .map_err(reqwest::Error::without_url)?;
            if !response.status().is_success() {
                return Err(SseError::Status {
                    what: "the message endpoint",
                    status: response.status().as_u16(),
                });
            }
            Ok(())
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        self.messages.recv().await
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.reader.abort();
        self.messages.close();
        Ok(())
    }
}

/// Read events until the stream ends, fails, or turns hostile; dropping the senders then
/// fails waiting `send`s and ends `receive`.
async fn read_stream<S>(
    mut body: S,
    base: Url,
    endpoint_tx: watch::Sender<Endpoint>,
    message_tx: mpsc::Sender<RxJsonRpcMessage<RoleClient>>,
    client: &str,
) where
    S: futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin,
{
    let mut parser = EventParser::new(MAX_EVENT_BYTES);
    let mut events = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(client, error = %e.without_url(), "MCP SSE stream failed");
                return;
            }
        };
        if let Err(e) = parser.feed(&chunk, &mut events) {
            tracing::warn!(client, error = %e, "MCP SSE stream refused");
            return;
        }
        for event in events.drain(..) {
            match event.event.as_str() {
                "endpoint" => {
                    if !matches!(*endpoint_tx.borrow(), Endpoint::Waiting) {
                        continue;
                    }
                    match resolve_endpoint(&base, &event.data) {
                        Ok(url) => {
                            endpoint_tx.send_replace(Endpoint::Ready(url));
                        }
                        Err(e) => {
                            tracing::warn!(client, error = %e, "MCP SSE server sent a bad endpoint");
                            endpoint_tx.send_replace(Endpoint::Refused(e.to_string()));
                            return;
                        }
                    }
                }
                "message" => match serde_json::from_str(&event.data) {
                    Ok(message) => {
                        if message_tx.send(message).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(client, error = %e, "MCP SSE message is not JSON-RPC; skipped");
                    }
                },
                _ => {}
            }
        }
    }
    tracing::debug!(client, "MCP SSE stream ended");
}

/// The URL an `endpoint` event names, relative to the stream's URL; it must keep the stream's
/// origin, since the configured headers are sent to it.
pub(crate) fn resolve_endpoint(base: &Url, data: &str) -> Result<Url, SseError> {
    let endpoint = data.trim();
    let url = base.join(endpoint).map_err(|e| SseError::BadEndpoint {
        endpoint: endpoint.to_owned(),
        why: e.to_string(),
    })?;
    if url.origin() != base.origin() {
        return Err(SseError::BadEndpoint {
            endpoint: endpoint.to_owned(),
            why: "it is on another origin than the event stream".to_owned(),
        });
    }
    Ok(url)
}

/// One dispatched server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The `event:` field (`message` when absent).
    pub(crate) event: String,
    /// The `data:` lines joined with `\n`.
    pub(crate) data: String,
}

/// An event is larger than the bound.
#[derive(Debug, thiserror::Error)]
#[error("an event exceeds {0} bytes")]
pub(crate) struct EventTooLarge(usize);

/// Incremental `text/event-stream` parser (WHATWG HTML, "server-sent events"): lines end with
/// LF, CRLF or CR (also split across chunks), `:` starts a comment, a blank line dispatches.
pub(crate) struct EventParser {
    line: Vec<u8>,
    after_cr: bool,
    started: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    limit: usize,
}

impl EventParser {
    /// A parser refusing events larger than `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            line: Vec::new(),
            after_cr: false,
            started: false,
            event: None,
            data: String::new(),
            has_data: false,
            limit,
        }
    }

    /// Parse `chunk`, appending every event it completes to `out`.
    pub(crate) fn feed(
        &mut self,
        mut chunk: &[u8],
        out: &mut Vec<SseEvent>,
    ) -> Result<(), EventTooLarge> {
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        while let Some(end) = chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.push(&chunk[..end])?;
            self.end_line(out);
            let crlf = chunk[end] == b'\r';
            chunk = &chunk[end + 1..];
            if crlf {
                match chunk.first() {
                    Some(b'\n') => chunk = &chunk[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        self.push(chunk)
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), EventTooLarge> {
        if self.line.len() + bytes.len() + self.data.len() > self.limit {
            return Err(EventTooLarge(self.limit));
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        let raw = std::mem::take(&mut self.line);
        let mut line = String::from_utf8_lossy(&raw);
        if !self.started {
            self.started = true;
            if let Some(rest) = line.strip_prefix('\u{feff}') {
                line = Cow::Owned(rest.to_owned());
            }
        }
        if line.is_empty() {
            let event = self.event.take();
            if self.has_data {
                self.has_data = false;
                let mut data = std::mem::take(&mut self.data);
                data.pop(); // the '\n' after the last data line
                out.push(SseEvent {
                    event: event
                        .filter(|e| !e.is_empty())
                        .unwrap_or_else(|| "message".to_owned()),
                    data,
                });
            }
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
                self.has_data = true;
            }
            _ => {} // id, retry and unknown fields mean nothing here
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = EventParser::new(1024);
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut out).unwrap();
        }
        out
    }

    fn ev(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: event.to_owned(),
            data: data.to_owned(),
        }
    }

    #[test]
    fn joins_multi_line_data_with_newlines() {
        let events = parse(&[b"event: message\ndata: {\"a\":\ndata:  1}\n\n"]);
        assert_eq!(events, [ev("message", "{\"a\":\n 1}")]);
    }

    #[test]
    fn reads_crlf_and_lone_cr_line_ends_even_split_across_chunks() {
        let events = parse(&[
            b"event: endpoint\r",
            b"\ndata: /message?sessionId=1\r\n\r",
            b"\ndata: x\r\rdata: y\n\n",
        ]);
        assert_eq!(
            events,
            [
                ev("endpoint", "/message?sessionId=1"),
                ev("message", "x"),
                ev("message", "y")
            ]
        );
    }

    #[test]
    fn skips_comments_and_unknown_fields_and_defaults_the_event_type() {
        let events = parse(&[b": keep-alive\n\nid: 7\nretry: 10\ndata\ndata:z\n\n"]);
        assert_eq!(events, [ev("message", "\nz")]);
    }

    #[test]
    fn an_event_without_data_is_not_dispatched_and_resets_the_type() {
        let events = parse(&[b"event: endpoint\n\ndata: m\n\n"]);
        assert_eq!(events, [ev("message", "m")]);
    }

    #[test]
    fn waits_for_the_blank_line_across_chunks() {
        let mut parser = EventParser::new(1024);
        let mut out = Vec::new();
        parser.feed(b"data: par", &mut out).unwrap();
        parser.feed(b"tial\n", &mut out).unwrap();
        assert!(out.is_empty());
        parser.feed(b"\n", &mut out).unwrap();
        assert_eq!(out, [ev("message", "partial")]);
    }

    #[test]
    fn strips_a_leading_byte_order_mark() {
        let events = parse(&["\u{feff}data: a\n\n".as_bytes()]);
        assert_eq!(events, [ev("message", "a")]);
    }

    #[test]
    fn refuses_an_event_larger_than_the_bound() {
        let mut parser = EventParser::new(16);
        let mut out = Vec::new();
        parser.feed(b"data: 0123456789\n", &mut out).unwrap();
        assert!(parser.feed(b"data: 0123456789\n", &mut out).is_err());
        let mut parser = EventParser::new(16);
        assert!(parser.feed(&[b'x'; 17], &mut out).is_err());
    }

    #[test]
    fn resolves_a_relative_endpoint_against_the_stream_url() {
        let base = Url::parse("http://127.0.0.1:3001/api/sse").unwrap();
        let url = resolve_endpoint(&base, "/message?sessionId=abc").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:3001/message?sessionId=abc");
        let url = resolve_endpoint(&base, " messages?s=1 ").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:3001/api/messages?s=1");
    }

    #[test]
    fn accepts_an_absolute_endpoint_on_the_same_origin_only() {
        let base = Url::parse("http://127.0.0.1:3001/sse").unwrap();
        let url = resolve_endpoint(&base, "http://127.0.0.1:3001/m?s=2").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:3001/m?s=2");
        assert!(resolve_endpoint(&base, "http://evil.example/m").is_err());
        assert!(resolve_endpoint(&base, "https://127.0.0.1:3001/m").is_err());
    }
}
