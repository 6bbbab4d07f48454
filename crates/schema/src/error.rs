//! The one error type every layer of the request path returns.
//!
//! Why one type: a retry, a fallback and the final HTTP answer all need the same three facts —
//! *who is to blame*, *is it worth trying again*, and *what status the client sees* — so they are
//! data on the error, decided once where the error is born, instead of being re-derived from
//! strings at each layer. Rendering into a client dialect (OpenAI here; Anthropic and Google
//! shapes in later dialect codecs) happens only at the edge.

use serde::{Deserialize, Serialize};

/// Who caused the failure. Drives logging level and whether a fallback can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Blame {
    /// The client sent something no provider would accept.
    Client,
    /// The upstream provider failed or refused (including our credentials being rejected).
    Upstream,
    /// The gateway itself failed (bug, misconfiguration, overload).
    Gateway,
}

/// What went wrong, as a closed set so retry decisions match exhaustively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Malformed JSON, a missing or mistyped field, an invalid value.
    InvalidRequest,
    /// The request body is larger than the configured limit.
    PayloadTooLarge,
    /// The model or provider is not configured here.
    ModelNotFound,
    /// The route does not exist.
    RouteNotFound,
    /// The provider rejected our credentials (401/403 upstream).
    UpstreamAuth,
    /// The provider rate-limited us (429 upstream).
    UpstreamRateLimited,
    /// The provider answered 4xx other than auth/rate-limit: the request is at fault there.
    UpstreamBadRequest,
    /// The provider does not know the model (404 upstream).
    UpstreamModelNotFound,
    /// The provider answered 5xx.
    UpstreamServer,
    /// The provider could not be reached (DNS, connect, TLS, reset).
    UpstreamConnection,
    /// The provider did not answer in time.
    UpstreamTimeout,
    /// The provider answered something we could not understand.
    UpstreamProtocol,
    /// The provider reported an error inside a stream.
    UpstreamStreamError,
    /// No provider key is usable for this model.
    NoKeyAvailable,
    /// The provider's configuration cannot produce a request (a base URL that does not
    /// parse, say): the operator's to fix, and another target may serve meanwhile.
    Misconfigured,
    /// The provider's concurrency limit and queue are full, or the queue wait timed out.
    Overloaded,
    /// The gateway failed internally.
    Internal,
    /// The client's credential (a virtual key) is unknown or inactive (401).
    Unauthorized,
    /// The client's credential may not use this model or provider (403).
    Forbidden,
    /// A budget the request counts against is spent (402).
    BudgetExceeded,
    /// A gateway-side rate, token or concurrency limit of the client is used up (429).
    RateLimited,
}

/// A failure on the request path, with blame, retryability and status as data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct GatewayError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// HTTP status the client receives.
    pub status: u16,
    /// Human-readable message; never contains secrets.
    pub message: String,
    /// The request field at fault, when known (OpenAI's `param`).
    pub param: Option<String>,
    /// A machine-readable code (OpenAI's `code`), e.g. `model_not_found`.
    pub code: Option<String>,
    /// Seconds the upstream asked us to wait (`Retry-After`), when given.
    pub retry_after_secs: Option<u32>,
    /// Name of the provider involved, when the error comes from one.
    pub provider: Option<String>,
    /// The first bytes of an upstream answer that could not be used: for the log line, never
    /// rendered to the client.
    pub upstream_excerpt: Option<Box<UpstreamExcerpt>>,
}

/// The first bytes of an unusable upstream answer (boxed on the error: a thin pointer keeps
/// `GatewayError` small on every `Result` of the request path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamExcerpt(pub String);

impl GatewayError {
    /// An error of `kind` with the kind's default status.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            status: kind.default_status(),
            message: message.into(),
            param: None,
            code: None,
            retry_after_secs: None,
            provider: None,
            upstream_excerpt: None,
        }
    }

    /// A 400 naming the offending field.
    pub fn invalid_request(message: impl Into<String>, param: Option<String>) -> Self {
        let mut e = Self::new(ErrorKind::InvalidRequest, message);
        e.param = param;
        e
    }

    /// An internal error (500).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// Override the status (e.g. to keep an upstream 4xx status as it was).
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Attach a machine-readable code.
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Attach the provider name.
    #[must_use]
    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// Who is to blame.
    pub fn blame(&self) -> Blame {
        self.kind.blame()
    }

    /// Whether trying the same target again may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// Classify an upstream HTTP error status.
    pub fn from_upstream_status(status: u16, message: impl Into<String>) -> Self {
        let kind = match status {
            401 | 403 => ErrorKind::UpstreamAuth,
            404 => ErrorKind::UpstreamModelNotFound,
            408 => ErrorKind::UpstreamTimeout,
            429 => ErrorKind::UpstreamRateLimited,
            500..=599 => ErrorKind::UpstreamServer,
            _ => ErrorKind::UpstreamBadRequest,
        };
        Self::new(kind, message).with_status(status)
    }

    /// The OpenAI-dialect error body for this error.
    pub fn to_openai_body(&self) -> OpenAiErrorBody {
        OpenAiErrorBody {
            error: OpenAiErrorDetail {
                message: self.message.clone(),
                r#type: self.kind.openai_type().to_owned(),
                param: self.param.clone(),
                code: self
                    .code
                    .clone()
                    .or_else(|| self.kind.default_code().map(str::to_owned)),
            },
        }
    }
}

impl ErrorKind {
    /// Who is to blame for this kind of failure.
    pub fn blame(self) -> Blame {
        match self {
            Self::InvalidRequest
            | Self::PayloadTooLarge
            | Self::ModelNotFound
            | Self::RouteNotFound
            | Self::UpstreamBadRequest
            | Self::Unauthorized
            | Self::Forbidden
            | Self::BudgetExceeded
            | Self::RateLimited => Blame::Client,
            Self::UpstreamAuth
            | Self::UpstreamRateLimited
            | Self::UpstreamModelNotFound
            | Self::UpstreamServer
            | Self::UpstreamConnection
            | Self::UpstreamTimeout
            | Self::UpstreamProtocol
            | Self::UpstreamStreamError => Blame::Upstream,
            Self::NoKeyAvailable | Self::Misconfigured | Self::Overloaded | Self::Internal => {
                Blame::Gateway
            }
        }
    }

    /// Whether retrying the same target may help. Exhaustive on purpose: a new kind must decide.
    pub fn is_retryable(self) -> bool {
        match self {
            Self::UpstreamRateLimited
            | Self::UpstreamServer
            | Self::UpstreamConnection
            | Self::UpstreamTimeout
            | Self::UpstreamStreamError => true,
            Self::InvalidRequest
            | Self::PayloadTooLarge
            | Self::ModelNotFound
            | Self::RouteNotFound
            | Self::UpstreamAuth
            | Self::UpstreamBadRequest
            | Self::UpstreamModelNotFound
            | Self::UpstreamProtocol
            | Self::NoKeyAvailable
            | Self::Misconfigured
            | Self::Overloaded
            | Self::Internal
            | Self::Unauthorized
            | Self::Forbidden
            | Self::BudgetExceeded
            | Self::RateLimited => false,
        }
    }

    /// Stable snake_case name (logs, metrics labels).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::PayloadTooLarge => "payload_too_large",
            Self::ModelNotFound => "model_not_found",
            Self::RouteNotFound => "route_not_found",
            Self::UpstreamAuth => "upstream_auth",
            Self::UpstreamRateLimited => "upstream_rate_limited",
            Self::UpstreamBadRequest => "upstream_bad_request",
            Self::UpstreamModelNotFound => "upstream_model_not_found",
            Self::UpstreamServer => "upstream_server",
            Self::UpstreamConnection => "upstream_connection",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::UpstreamProtocol => "upstream_protocol",
            Self::UpstreamStreamError => "upstream_stream_error",
            Self::NoKeyAvailable => "no_key_available",
            Self::Misconfigured => "misconfigured",
            Self::Overloaded => "overloaded",
            Self::Internal => "internal",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::BudgetExceeded => "budget_exceeded",
            Self::RateLimited => "rate_limited",
        }
    }

    /// The HTTP status used when none is given explicitly.
    pub fn default_status(self) -> u16 {
        match self {
            Self::InvalidRequest | Self::UpstreamBadRequest => 400,
            Self::UpstreamAuth => 502,
            Self::PayloadTooLarge => 413,
            Self::ModelNotFound | Self::RouteNotFound | Self::UpstreamModelNotFound => 404,
            Self::UpstreamRateLimited => 429,
            Self::UpstreamServer
            | Self::UpstreamConnection
            | Self::UpstreamProtocol
            | Self::UpstreamStreamError => 502,
            Self::UpstreamTimeout => 504,
            Self::NoKeyAvailable | Self::Misconfigured | Self::Overloaded => 503,
            Self::Internal => 500,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::BudgetExceeded => 402,
            Self::RateLimited => 429,
        }
    }

    /// OpenAI's `error.type` for this kind.
    pub fn openai_type(self) -> &'static str {
        match self {
            Self::InvalidRequest
            | Self::PayloadTooLarge
            | Self::ModelNotFound
            | Self::RouteNotFound
            | Self::UpstreamBadRequest
            | Self::UpstreamModelNotFound => "invalid_request_error",
            Self::UpstreamAuth | Self::Unauthorized => "authentication_error",
            Self::Forbidden => "permission_error",
            Self::BudgetExceeded => "insufficient_quota",
            Self::UpstreamRateLimited | Self::Overloaded | Self::RateLimited => "rate_limit_error",
            Self::UpstreamServer
            | Self::UpstreamConnection
            | Self::UpstreamTimeout
            | Self::UpstreamProtocol
            | Self::UpstreamStreamError => "upstream_error",
            Self::NoKeyAvailable | Self::Misconfigured | Self::Internal => "server_error",
        }
    }

    /// OpenAI's `error.code` when the error did not carry one.
    pub fn default_code(self) -> Option<&'static str> {
        match self {
            Self::ModelNotFound | Self::UpstreamModelNotFound => Some("model_not_found"),
            Self::PayloadTooLarge => Some("payload_too_large"),
            Self::UpstreamTimeout => Some("timeout"),
            Self::UpstreamRateLimited | Self::RateLimited => Some("rate_limit_exceeded"),
            Self::Unauthorized => Some("invalid_api_key"),
            Self::Forbidden => Some("permission_denied"),
            Self::BudgetExceeded => Some("budget_exceeded"),
            Self::Overloaded => Some("gateway_overloaded"),
            Self::InvalidRequest
            | Self::RouteNotFound
            | Self::UpstreamAuth
            | Self::UpstreamBadRequest
            | Self::UpstreamServer
            | Self::UpstreamConnection
            | Self::UpstreamProtocol
            | Self::UpstreamStreamError
            | Self::NoKeyAvailable
            | Self::Internal => None,
            Self::Misconfigured => Some("provider_misconfigured"),
        }
    }
}

/// OpenAI's error envelope: `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAiErrorBody {
    /// The error detail.
    pub error: OpenAiErrorDetail,
}

/// The inside of OpenAI's error envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAiErrorDetail {
    /// Human-readable message.
    pub message: String,
    /// Error category.
    pub r#type: String,
    /// Offending parameter, or null.
    pub param: Option<String>,
    /// Machine-readable code, or null.
    pub code: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_statuses_classify_with_blame_and_retryability() {
        let e = GatewayError::from_upstream_status(429, "slow down");
        assert_eq!(e.kind, ErrorKind::UpstreamRateLimited);
        assert_eq!(e.status, 429);
        assert!(e.is_retryable());
        assert_eq!(e.blame(), Blame::Upstream);

        let e = GatewayError::from_upstream_status(400, "bad");
        assert_eq!(e.blame(), Blame::Client);
        assert!(!e.is_retryable());
        assert_eq!(e.status, 400);

        let e = GatewayError::from_upstream_status(503, "down");
        assert_eq!(e.kind, ErrorKind::UpstreamServer);
        assert!(e.is_retryable());
    }

    #[test]
    fn renders_openai_error_shape() {
        let e = GatewayError::invalid_request("messages is required", Some("messages".into()));
        let v = serde_json::to_value(e.to_openai_body()).unwrap_or_default();
        assert_eq!(
            v,
            serde_json::json!({"error": {"message": "messages is required",
                "type": "invalid_request_error", "param": "messages", "code": null}})
        );
    }
}
