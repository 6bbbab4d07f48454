//! What a client may do before its request reaches a route, from `security` and
//! `server.timeout`: an IP allow-list, CORS for browsers, per-client rate limits and the time a
//! request may take until its answer starts.
//!
//! Why middleware that reads the live config on every request: the config is hot-swapped on
//! reload, and a tightened allow-list or rate limit must hold from the next request, not from
//! the next restart. Each layer takes what it needs from one snapshot and lets it go before
//! the request runs (a long stream does not pin an old configuration).
//!
//! The client's address is the peer of its TCP connection (`ConnectInfo<SocketAddr>`, put on
//! every request by the listener); `X-Forwarded-For` is not trusted — a client could name any
//! address in it.
//!
//! Layers, outermost first: IP allow-list (a refused address learns nothing else, its body is
//! not even read) → CORS (a preflight is answered before anything else runs) → rate limit (a
//! refused client's body is not read either) → [ingress guard] → timeout → routes.
//!
//! Rate limits count each request against its address and, when it carries a credential
//! (`Authorization`, `x-api-key`, `x-goog-api-key`, `api-key`, `x-bf-vk`), against its user —
//! a hash of that credential, never the credential itself. The two are independent, each with
//! the configured numbers, and a request is refused when either is used up: users behind one
//! address (a NAT) share the address's allowance, and one credential used from many addresses
//! is still held to its own. Counting the user alone would let a client escape its limit by
//! inventing credentials. The counters are in [`limiter`].

pub mod limiter;
mod shared_rate;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use heimdall_config::{CorsConfig, GatewayConfig};
use heimdall_schema::error::{ErrorKind, GatewayError};

pub use limiter::{ClientKeys, ClientRateLimiter, Decision, Limits};

use crate::ingress::render;

const RATE_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const RATE_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");

/// What a preflight allows.
const ALLOW_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
/// How long a browser may keep a preflight's answer, in seconds.
const MAX_AGE: &str = "600";
/// The response headers a page may read: the request id, the routing metadata of `headers`
/// and the rate-limit headers.
const EXPOSE_HEADERS: &str = "x-request-id, x-heimdall-provider, x-heimdall-model, \
    x-heimdall-attempts, x-heimdall-fallback-index, x-heimdall-retries, x-heimdall-cost, \
    x-heimdall-queue-us, x-heimdall-overhead-us, x-heimdall-cache, x-heimdall-cache-similarity, \
    x-ratelimit-limit, x-ratelimit-remaining, retry-after";

/// Headers that carry a client's credential, after `Authorization`.
const CREDENTIAL_HEADERS: [&str; 5] = [
    "x-api-key",
    "x-goog-api-key",
    "api-key",
    "x-bf-vk",
    "x-bf-api-key",
];

/// The client's address: the peer of its connection (IPv4-mapped IPv6 as IPv4); `None` when
/// the request did not come through a listener that records it.
pub fn client_ip(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_canonical())
}

/// Probes and metrics: never rate limited or timed.
fn is_probe(path: &str) -> bool {
    matches!(path, "/health" | "/ready" | "/metrics")
}

fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// A CORS preflight: `OPTIONS` with an `Origin` and the method the page wants to use.
fn is_preflight(req: &Request) -> bool {
    req.method() == Method::OPTIONS
        && req.headers().contains_key(header::ORIGIN)
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

// --- IP allow-list -------------------------------------------------------------------------

/// The refusal (403, `ip_not_allowed`) of a client outside `security.ipAllowList` when the
/// list is set; `/health` stays open (load balancers probe it from their own addresses).
pub(crate) fn ip_refusal(cfg: &GatewayConfig, req: &Request) -> Option<Response> {
    let list = &cfg.security.ip_allow_list;
    let path = req.uri().path();
    if list.is_empty() || path == "/health" {
        return None;
    }
    let ip = client_ip(req);
    if ip.is_some_and(|ip| list.iter().any(|net| in_net(ip, net))) {
        return None;
    }
    tracing::info!(client = ?ip, path, "request refused: client address not in security.ipAllowList");
    let e = GatewayError::new(
        ErrorKind::InvalidRequest,
        "this client address is not allowed to use the gateway",
    )
    .with_status(403)
    .with_code("ip_not_allowed");
    Some(render(path, &e))
}

/// Whether `ip` is `net` (an address or CIDR block; an unparsable entry matches nothing).
fn in_net(ip: IpAddr, net: &str) -> bool {
    let Some((net, prefix)) = heimdall_config::parse_ip_net(net) else {
        return false;
    };
    let prefix = u32::from(prefix);
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        // An IPv4 client against an IPv4-mapped block (`::ffff:10.0.0.0/104`).
        (IpAddr::V4(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            u128::from(a.to_ipv6_mapped()) & mask == u128::from(n) & mask
        }
        (IpAddr::V6(_), IpAddr::V4(_)) => false,
    }
}

// --- CORS ----------------------------------------------------------------------------------

/// What CORS does with a request.
pub(crate) enum CorsStep {
    /// Not a cross-origin request, or CORS is off: nothing.
    Nothing,
    /// A preflight, answered here (204 for an allowed origin, 403 for another).
    Answer(Response),
    /// An actual request: its answer gets `Vary: Origin`, and the CORS headers when the origin
    /// (here) is allowed.
    Decorate(Option<HeaderValue>),
}

/// `security.cors`: answer preflights from allowed origins (204) and refuse the others (403,
/// no CORS headers); the answers to allowed origins get the CORS headers. Off: nothing.
pub(crate) fn cors_step(cfg: &GatewayConfig, req: &Request) -> CorsStep {
    let cors = &cfg.security.cors;
    let Some(origin) = req.headers().get(header::ORIGIN).filter(|_| cors.enabled) else {
        return CorsStep::Nothing;
    };
    let allowed = origin_allowed(cors, origin);
    if is_preflight(req) {
        if allowed {
            return CorsStep::Answer(preflight(origin, req.headers()));
        }
        tracing::info!(origin = ?origin, path = req.uri().path(),
            "CORS preflight refused: origin not in security.cors.allowedOrigins");
        let e = GatewayError::new(
            ErrorKind::InvalidRequest,
            "cross-origin requests from this origin are not allowed",
        )
        .with_status(403)
        .with_code("origin_not_allowed");
        return CorsStep::Answer(render(req.uri().path(), &e));
    }
    CorsStep::Decorate(allowed.then(|| origin.clone()))
}

/// Add what [`CorsStep::Decorate`] says to an answer.
pub(crate) fn decorate_cors(response: &mut Response, allowed_origin: Option<HeaderValue>) {
    let h = response.headers_mut();
    // The answer depends on Origin (with or without CORS headers): caches must key on it.
    h.append(header::VARY, HeaderValue::from_static("origin"));
    if let Some(origin) = allowed_origin {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
}

/// Whether an `Origin` is allowed. `null` (sandboxed frames, `file:` pages) only when listed
/// as such: `*` must not hand credentials to any page that hides where it comes from.
fn origin_allowed(cors: &CorsConfig, origin: &HeaderValue) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if origin.eq_ignore_ascii_case("null") {
        return cors.allowed_origins.iter().any(|p| p == "null");
    }
    cors.allowed_origins
        .iter()
        .any(|p| heimdall_config::origin_matches(p.trim(), origin))
}

/// The 204 answer to an allowed preflight.
fn preflight(origin: &HeaderValue, request: &HeaderMap) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    h.insert(
        header::VARY,
        HeaderValue::from_static(
            "origin, access-control-request-method, access-control-request-headers",
        ),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOW_METHODS),
    );
    if let Some(asked) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    h.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(MAX_AGE),
    );
    response
}

// --- Rate limit ----------------------------------------------------------------------------

/// What the rate limit decided.
pub(crate) enum RateStep {
    /// Not counted (limits off, a probe, a preflight).
    Uncounted,
    /// Counted and allowed: the answer gets the limit headers.
    Allowed(Decision),
    /// Refused: this is the 429.
    Refused(Response),
}

/// `security.rateLimit`: count the request against its address and user (see the module doc);
/// refuse with 429 (`rate_limited`, `Retry-After`) when either is used up. Inference and
/// `/api` routes only; probes, metrics and preflights are never counted.
pub(crate) fn rate_step(
    limiter: &ClientRateLimiter,
    cfg: &GatewayConfig,
    req: &Request,
) -> RateStep {
    let rl = &cfg.security.rate_limit;
    if !rl.is_active() || is_probe(req.uri().path()) || is_preflight(req) {
        return RateStep::Uncounted;
    }
    let limits = Limits {
        per_minute: rl.requests_per_minute,
        per_hour: rl.requests_per_hour,
    };
    let keys = limiter.keys(client_ip(req), credential(req.headers()));
    let decision = limiter.check(keys, limits);
    if decision.allowed {
        return RateStep::Allowed(decision);
    }
    let mut r = refusal(
        client_ip(req),
        req.uri().path(),
        decision.limit,
        decision.retry_after_secs,
    );
    decorate_rate(&mut r, &decision);
    RateStep::Refused(r)
}

/// `security.rateLimit` counted in the shared ledger (governance counters in Redis), so the
/// limit holds across instances; the user is the governance user header, else the
/// credential.
pub(crate) fn shared_rate_step(
    ledger: &heimdall_governance::ledger::Ledger,
    cfg: &GatewayConfig,
    req: &Request,
) -> impl std::future::Future<Output = RateStep> + Send + 'static {
    let rl = &cfg.security.rate_limit;
    let counted = rl.is_active() && !is_probe(req.uri().path()) && !is_preflight(req);
    let limits = Limits {
        per_minute: rl.requests_per_minute,
        per_hour: rl.requests_per_hour,
    };
    // Nothing is copied for a request that is not counted (the common case: no limit set).
    let counting = counted.then(|| {
        let user = req
            .headers()
            .get(cfg.governance.user_header.as_str())
            .map(HeaderValue::as_bytes)
            .filter(|u| !u.is_empty())
            .or_else(|| credential(req.headers()))
            .map(<[u8]>::to_vec);
        (
            ledger.clone(),
            client_ip(req),
            req.uri().path().to_owned(),
            user,
        )
    });
    async move {
        let Some((ledger, ip, path, user)) = counting else {
            return RateStep::Uncounted;
        };
        let now_ms = heimdall_governance::plugin::now_ms();
        match shared_rate::check(&ledger, ip, user, limits, now_ms).await {
            shared_rate::SharedVerdict::Admitted => RateStep::Uncounted,
            shared_rate::SharedVerdict::Refused {
                retry_after_secs,
                limit,
            } => RateStep::Refused(refusal(ip, &path, limit, retry_after_secs)),
        }
    }
}

/// The 429 of a client rate limit, in the route's dialect, with `Retry-After`.
fn refusal(ip: Option<IpAddr>, path: &str, limit: u32, retry_after_secs: u32) -> Response {
    tracing::info!(client = ?ip, path,
        limit, retry_after = retry_after_secs,
        "request refused: client rate limit");
    let mut e = GatewayError::new(
        ErrorKind::Overloaded,
        format!("rate limit exceeded ({limit} requests per client); retry in {retry_after_secs} s"),
    )
    .with_status(429)
    .with_code("rate_limited");
    e.retry_after_secs = Some(retry_after_secs);
    let mut r = render(path, &e);
    // The dialect renders Retry-After from the error; make sure it is there whatever the
    // dialect does.
    r.headers_mut()
        .entry(header::RETRY_AFTER)
        .or_insert_with(|| HeaderValue::from(retry_after_secs));
    r
}

/// The limit headers of a counted answer.
pub(crate) fn decorate_rate(response: &mut Response, decision: &Decision) {
    let h = response.headers_mut();
    h.insert(RATE_LIMIT, HeaderValue::from(decision.limit));
    h.insert(RATE_REMAINING, HeaderValue::from(decision.remaining));
}

/// The credential a request carries: a bearer token (or the whole `Authorization` value of
/// another scheme; for AWS SigV4 the access key id, as the signature changes every request),
/// else the first API-key header set.
pub(crate) fn credential(headers: &HeaderMap) -> Option<&[u8]> {
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let raw = v.as_bytes().trim_ascii();
        let cred = match raw.split_at_checked(7) {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case(b"bearer ") => token.trim_ascii(),
            _ if raw.starts_with(b"AWS4-") => sigv4_access_key(raw).unwrap_or(raw),
            _ => raw,
        };
        if !cred.is_empty() {
            return Some(cred);
        }
    }
    CREDENTIAL_HEADERS
        .iter()
        .filter_map(|name| headers.get(*name))
        .map(|v| v.as_bytes().trim_ascii())
        .find(|v| !v.is_empty())
}

/// Google's clients may send their key as `?key=` instead of `x-goog-api-key`: on the GenAI
/// routes it becomes that header, so every later step (rate limit, auth, governance) sees one
/// credential in one place.
pub(crate) fn lift_query_key(req: &mut Request) {
    if !req.uri().path().starts_with("/genai") || req.headers().contains_key("x-goog-api-key") {
        return;
    }
    let key = req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("key="))
            .filter(|k| !k.is_empty())
            .and_then(|k| HeaderValue::from_str(k).ok())
    });
    if let Some(k) = key {
        req.headers_mut().insert("x-goog-api-key", k);
    }
}

/// `AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, …` → `AKID`.
fn sigv4_access_key(raw: &[u8]) -> Option<&[u8]> {
    const KEY: &[u8] = b"Credential=";
    let at = raw.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let rest = &raw[at..];
    let end = rest
        .iter()
        .position(|b| *b == b'/' || *b == b',')
        .unwrap_or(rest.len());
    Some(&rest[..end]).filter(|k| !k.is_empty())
}

// --- Timeout -------------------------------------------------------------------------------

/// How much past `server.timeout` the gate gives up on a route. The engine enforces the
/// timeout itself for chat, completions and embeddings (its 504 is recorded as such); the gate
/// is the backstop for the other inference routes (model lists) and cuts a little later, so
/// it never preempts the engine's precise answer.
const GATE_TIMEOUT_MARGIN: Duration = Duration::from_millis(500);

/// The gate's `server.timeout` backstop for this path: inference routes only (`/api`, probes
/// and metrics are not timed).
pub(crate) fn timeout_for(cfg: &GatewayConfig, path: &str) -> Option<Duration> {
    if is_probe(path) || is_api(path) {
        return None;
    }
    cfg.server
        .timeout
        .filter(|t| !t.is_zero())
        .map(|t| t + GATE_TIMEOUT_MARGIN)
}

/// The 504 (`gateway_timeout`) of an inference request whose answer did not start within
/// `server.timeout`; a stream's answer starts with its first chunk, so this bounds the time to
/// first byte, not the stream.
pub(crate) fn timed_out(path: &str, limit: Duration) -> Response {
    let limit = limit.saturating_sub(GATE_TIMEOUT_MARGIN);
    tracing::warn!(
        path,
        timeout_ms = millis(limit),
        "request timed out before its answer started (server.timeout)"
    );
    render(path, &heimdall_core::deadline::server_timeout(limit))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_match_blocks() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_net(ip("10.1.2.3"), "10.0.0.0/8"));
        assert!(!in_net(ip("11.1.2.3"), "10.0.0.0/8"));
        assert!(!in_net(ip("127.0.0.1"), "10.0.0.0/8"));
        assert!(in_net(ip("127.0.0.1"), "127.0.0.1"));
        assert!(in_net(ip("192.168.7.9"), "0.0.0.0/0"));
        assert!(in_net(ip("2001:db8::1"), "2001:db8::/32"));
        assert!(!in_net(ip("2001:db9::1"), "2001:db8::/32"));
        assert!(in_net(ip("::1"), "::1"));
        assert!(!in_net(ip("::1"), "127.0.0.1"));
        assert!(in_net(ip("10.1.2.3"), "::ffff:10.0.0.0/104"));
        assert!(!in_net(ip("10.1.2.3"), "not-an-address"));
    }

    #[test]
    fn credentials_come_from_the_usual_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(credential(&h), None);
        h.insert("x-goog-api-key", HeaderValue::from_static(" g-key "));
        assert_eq!(credential(&h), Some(&b"g-key"[..]));
        h.insert("x-api-key", HeaderValue::from_static("a-key"));
        assert_eq!(credential(&h), Some(&b"a-key"[..]));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer  sk-1"),
        );
        assert_eq!(credential(&h), Some(&b"sk-1"[..]));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=abc",
            ),
        );
        assert_eq!(credential(&h), Some(&b"AKIDEXAMPLE"[..]));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic dTpw"),
        );
        assert_eq!(credential(&h), Some(&b"Basic dTpw"[..]));
    }

    #[test]
    fn null_origins_need_an_explicit_entry() {
        let mut cors = CorsConfig {
            enabled: true,
            allowed_origins: vec!["*".to_owned()],
        };
        assert!(origin_allowed(
            &cors,
            &HeaderValue::from_static("https://a.example")
        ));
        assert!(!origin_allowed(&cors, &HeaderValue::from_static("null")));
        cors.allowed_origins.push("null".to_owned());
        assert!(origin_allowed(&cors, &HeaderValue::from_static("null")));
    }
}
