//! The contract every client dialect's chat route implements: decode the request, encode the
//! reply, encode a stream chunk by chunk, render an error — and the five dialects that do.
//!
//! Why a contract: each drop-in route (`/v1`, `/anthropic`, `/genai`, `/cohere`, `/bedrock`)
//! used to be a hand-written route shell with its own stream loop; the transport now has one
//! generic chat handler, and a dialect is pure code here, testable without a socket.

use heimdall_schema::chat::{ChatChunk, ChatRequest, ChatResponse};
use heimdall_schema::embeddings::{EmbeddingRequest, EmbeddingResponse};
use heimdall_schema::error::GatewayError;

use crate::conversation::DialectBody;

/// One client dialect's chat API.
pub trait ClientDialect: Send + Sync + 'static {
    /// What the route takes from the URL (the model in a Bedrock path, the stream form of a
    /// Gemini call); `()` when nothing.
    type Route: Send + Sync + 'static;
    /// The stream encoder.
    type Encoder: StreamEncoder + Default;

    /// The route's name in logs, metrics and traces; `None` for the OpenAI API itself.
    const ROUTE: Option<&'static str>;
    /// The provider kind (`ProviderKind` name) a bare model name goes to on this route.
    const NATURAL_PROVIDER: Option<&'static str>;

    /// Whether a body in this dialect is already the canonical (OpenAI chat) request and an
    /// answer the canonical response, so an OpenAI-compatible upstream may be sent the
    /// client's bytes (`heimdall_schema::raw`) and the client its answer's bytes
    /// (`ChatResponse::raw`).
    const CANONICAL_BODY: bool = false;

    /// The client's body → the canonical request.
    fn decode(route: &Self::Route, body: &[u8]) -> Result<ChatRequest, GatewayError>;
    /// A complete reply's body (JSON bytes); `elapsed_ms` is the time since the request came.
    fn encode(route: &Self::Route, response: ChatResponse, elapsed_ms: u64) -> Vec<u8>;
    /// A stream encoder for one reply.
    fn encoder(_route: &Self::Route) -> Self::Encoder {
        Self::Encoder::default()
    }
    /// The content type of a streamed reply (server-sent events unless said otherwise).
    fn stream_content_type(_route: &Self::Route) -> &'static str {
        "text/event-stream"
    }
    /// An error's body (JSON bytes).
    fn error_body(e: &GatewayError) -> Vec<u8>;
    /// A header naming the error kind, where the dialect has one (`x-amzn-errortype`).
    fn error_header(_e: &GatewayError) -> Option<(&'static str, &'static str)> {
        None
    }
}

/// Encodes one streamed reply, chunk by chunk, into the dialect's framing.
pub trait StreamEncoder: Send + 'static {
    /// Append what one canonical chunk becomes (possibly nothing).
    fn chunk(&mut self, chunk: ChatChunk, out: &mut Vec<u8>);
    /// Append the end of a clean stream.
    fn finish(&mut self, elapsed_ms: u64, out: &mut Vec<u8>);
    /// Append the report of a failure after the stream started; the stream ends after it.
    fn fail(&mut self, e: &GatewayError, out: &mut Vec<u8>);
}

/// One client dialect's embeddings API (`/genai` embedContent, `/cohere/v2/embed`); errors are
/// rendered by its chat dialect `Errors`.
pub trait ClientEmbeddings: Send + Sync + 'static {
    /// What the route takes from the URL.
    type Route: Send + Sync + 'static;
    /// What the answer needs from the request (the texts Cohere echoes, Gemini's batch form).
    type Echo: Send + 'static;
    /// The dialect whose error shape answers failures.
    type Errors: ClientDialect;

    /// The route's name in logs, metrics and traces.
    const ROUTE: &'static str;
    /// The provider kind (`ProviderKind` name) a bare model name goes to on this route.
    const NATURAL_PROVIDER: Option<&'static str>;

    /// The client's body → the canonical request, and what the answer will need.
    fn decode(
        route: &Self::Route,
        body: &[u8],
    ) -> Result<(EmbeddingRequest, Self::Echo), GatewayError>;
    /// The answer's body (JSON bytes); `request_id` is the gateway's id for the request.
    fn encode(echo: Self::Echo, response: &EmbeddingResponse, request_id: &str) -> Vec<u8>;
}

/// A dialect body read one turn at a time from `conversation` (the field holding the turns).
pub fn decode_turns(
    body: &[u8],
    conversation: &str,
    from_body: impl FnOnce(&DialectBody<'_>) -> Result<ChatRequest, GatewayError>,
) -> Result<ChatRequest, GatewayError> {
    from_body(&DialectBody::parse(body, conversation)?)
}

/// A JSON value's bytes (a `Value` always serialises).
pub fn json_bytes(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}
