//! One middleware for everything a client must pass before a route runs, in order: the IP
//! allow-list, CORS (a preflight is answered here), the per-client rate limit, the ingress
//! rules (`Host`, size, JSON, body in time), credentials, and `server.timeout` around the
//! route.
//!
//! Why one layer instead of one per policy: each axum `from_fn` layer clones its state and
//! the rest of the stack and boxes a future on every request; five of them cost ~7 µs per
//! request in `benches/pipeline.rs` (10.1 → 17.4 µs) — more than the engine. Here the
//! configuration snapshot is loaded once and let go before the route runs (a long stream
//! does not pin an old configuration); each policy stays a plain function in its module.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::client_policy::{
    CorsStep, RateStep, cors_step, decorate_cors, decorate_rate, ip_refusal, rate_step, timed_out,
    timeout_for,
};
use crate::ingress::IngressPolicy;
use crate::state::AppState;

/// What the gate needs: the application state and the listener's ingress rules.
pub struct Gate {
    /// Handlers' state (engine, control plane, limiter).
    pub state: AppState,
    /// The listener's ingress rules.
    pub ingress: IngressPolicy,
}

/// The middleware.
pub async fn gate(State(gate): State<Arc<Gate>>, mut req: Request, next: Next) -> Response {
    crate::client_policy::lift_query_key(&mut req);
    let rt = gate.state.gateway.runtime();
    let cfg = &rt.config;
    if let Some(refused) = ip_refusal(cfg, &req) {
        return refused;
    }
    let cors = match cors_step(cfg, &req) {
        CorsStep::Answer(r) => return r,
        step => step,
    };
    let shared = match gate.state.governance.as_ref().map(|g| g.ledger()) {
        Some(ledger) if ledger.backend() == "redis" => {
            // Boxed: a Redis round trip's state machine is several KB; inline, this future
            // (which axum boxes, a copy, for every request) would carry it.
            Some(Box::pin(crate::client_policy::shared_rate_step(
                ledger, cfg, &req,
            )))
        }
        _ => None,
    };
    let local = shared
        .is_none()
        .then(|| rate_step(&gate.state.client_limits, cfg, &req));
    let timeout = timeout_for(cfg, req.uri().path());
    let inference_auth = crate::mgmt_auth::inference_needs_auth(cfg);
    drop(rt);
    let rate = match (local, shared) {
        (Some(step), _) => step,
        (None, Some(counting)) => counting.await,
        (None, None) => RateStep::Uncounted,
    };
    let decision = match rate {
        RateStep::Refused(r) => return cors_decorated(r, cors),
        RateStep::Allowed(decision) => Some(decision),
        RateStep::Uncounted => None,
    };
    // One await of the route, boxed: awaited in two branches it was laid out twice in this
    // future, which axum boxes (a copy) for every request.
    let mut response = Box::pin(admitted(&gate, req, next, timeout, inference_auth)).await;
    if let Some(decision) = &decision {
        decorate_rate(&mut response, decision);
    }
    cors_decorated(response, cors)
}

/// `response` with the CORS headers the request's origin gets, if any.
fn cors_decorated(mut response: Response, cors: CorsStep) -> Response {
    if let CorsStep::Decorate(origin) = cors {
        decorate_cors(&mut response, origin);
    }
    response
}

/// Past the client policies: the ingress rules, credentials, then the route (timed).
async fn admitted(
    gate: &Gate,
    req: Request,
    next: Next,
    timeout: Option<std::time::Duration>,
    inference_auth: bool,
) -> Response {
    let req = match crate::ingress::admit(&gate.ingress, req).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    let req = match crate::mgmt_auth::authorize(&gate.state, req, inference_auth).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    match timeout {
        None => next.run(req).await,
        Some(limit) => {
            let path = req.uri().path().to_owned();
            match tokio::time::timeout(limit, next.run(req)).await {
                Ok(response) => response,
                Err(_) => timed_out(&path, limit),
            }
        }
    }
}
