//! The governance plugin: who is calling (a virtual key found by the hash of the credential),
//! may they use this provider and model, and is there headroom at every level — admitted by
//! reserving the request's worst case in the ledger, settled to the actual cost at the end
//! (answer, stream end, error, or client gone).
//!
//! Why a plugin: every route, dialect and operation passes the engine's `pre` hook, so one
//! check governs all of them (Bifrost's passthrough routes were not governed at all).

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use async_trait::async_trait;
use heimdall_config::{BudgetAction, BudgetScope, GatewayConfig};
use heimdall_core::{
    GatewayRequest, GatewayResponse, Plugin, PreOutcome, RequestContext, StreamSummary,
};
use heimdall_schema::error::{ErrorKind, GatewayError};
use heimdall_schema::usage::Usage;

use crate::estimate::{Estimate, count_tokens, estimate};
use crate::ledger::{BudgetClaim, Claims, InFlightClaim, Ledger, Period, RateClaim, Refusal};
use crate::period::period_of;
use crate::policy::{KeyPolicy, Level, Policy, hash_key};
use crate::stats::{Decision, GovernanceStats};

/// Annotation keys the request log reads.
pub const VIRTUAL_KEY_ANNOTATION: &str = "governance.virtual_key_id";
/// The team's id.
pub const TEAM_ANNOTATION: &str = "governance.team_id";
/// The customer's id.
pub const CUSTOMER_ANNOTATION: &str = "governance.customer_id";

/// The plugin and its state.
pub struct Governance {
    policy: ArcSwap<Policy>,
    ledger: Ledger,
    stats: Arc<GovernanceStats>,
}

/// One budget of an admitted request, remembered for alerts.
#[derive(Debug, Clone)]
pub(crate) struct HeldBudget {
    pub counter: String,
    pub period: Period,
    pub limit_micros: i64,
    pub level_kind: &'static str,
    pub level_name: String,
    pub budget_id: String,
    pub alert_threshold: Option<f64>,
}

/// What an admitted request carries until it settles.
struct Admitted {
    key: Option<Arc<KeyPolicy>>,
    estimate: Estimate,
    token_rates: Vec<usize>,
    rate_count: usize,
    budgets: Vec<HeldBudget>,
    ticket: Mutex<Option<crate::ledger::Ticket>>,
    ledger: Ledger,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        // A request that ended without any hook settling it (never expected): free its
        // reservation rather than hold headroom until the period ends.
        let held = self.ticket.lock().ok().and_then(|mut t| t.take());
        if let Some(ticket) = held
            && tokio::runtime::Handle::try_current().is_ok()
        {
            let ledger = self.ledger.clone();
            heimdall_core::task::spawn("governance-release", async move {
                ledger.release(ticket, now_ms()).await;
            });
        }
    }
}

/// Load the tokenizer ahead of the first governed request, once, and only when something is
/// governed. Why not always: its vocabulary holds ~85 MB of resident memory (measured idle,
/// release build: 124 MB with it, 41 MB without), which a gateway with no virtual key or
/// budget never uses.
fn warm_up_if_needed(policy: &Policy) {
    static WARMED: std::sync::Once = std::sync::Once::new();
    if policy.active {
        WARMED.call_once(crate::estimate::warm_up);
    }
}

/// Unix time in ms.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Governance {
    /// Governance over `ledger`, enforcing `cfg`.
    pub fn new(cfg: &GatewayConfig, ledger: Ledger) -> Self {
        let policy = Policy::build(cfg);
        warm_up_if_needed(&policy);
        Self {
            policy: ArcSwap::from_pointee(policy),
            ledger,
            stats: Arc::new(GovernanceStats::default()),
        }
    }

    /// Enforce a new configuration from now on (counters carry over: they are keyed by
    /// entity id, not by config version).
    pub fn update(&self, cfg: &GatewayConfig) {
        let policy = Policy::build(cfg);
        warm_up_if_needed(&policy);
        self.policy.store(Arc::new(policy));
    }

    /// The policy in effect.
    pub fn policy(&self) -> Arc<Policy> {
        self.policy.load_full()
    }

    /// The counters.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Decision counts and alerts, for metrics.
    pub fn stats(&self) -> &GovernanceStats {
        &self.stats
    }

    /// Whether `credential` is a known virtual key (the gate lets it through inference auth).
    pub fn knows(&self, credential: &str) -> bool {
        self.policy.load().keys.contains_key(&hash_key(credential))
    }

    fn refuse(&self, decision: Decision, e: GatewayError, ctx: &RequestContext) -> GatewayError {
        self.stats.count(decision);
        tracing::info!(
            request_id = %ctx.request_id,
            virtual_key = ctx.annotations.get(VIRTUAL_KEY_ANNOTATION).map_or("", String::as_str),
            decision = decision.as_str(),
            "request refused by governance: {}", e.message
        );
        e
    }

    async fn admit(
        &self,
        policy: &Policy,
        ctx: &mut RequestContext,
        req: &mut GatewayRequest,
    ) -> Result<(), GatewayError> {
        let key = match &ctx.credential {
            Some(c) => match policy.keys.get(&hash_key(c.expose())) {
                Some(k) => Some(Arc::clone(k)),
                None if c.is_virtual_key_header() || c.expose().starts_with("sk-bf-") => {
                    let e = GatewayError::new(ErrorKind::Unauthorized, "unknown virtual key");
                    return Err(self.refuse(Decision::Unauthorized, e, ctx));
                }
                None => None,
            },
            None => None,
        };
        if let Some(k) = &key {
            ctx.annotations
                .insert(VIRTUAL_KEY_ANNOTATION.to_owned(), k.id.clone());
            if let Some(t) = &k.team_id {
                ctx.annotations
                    .insert(TEAM_ANNOTATION.to_owned(), t.clone());
            }
            if let Some(c) = &k.customer_id {
                ctx.annotations
                    .insert(CUSTOMER_ANNOTATION.to_owned(), c.clone());
            }
            if !k.active {
                let e = GatewayError::new(
                    ErrorKind::Unauthorized,
                    format!("virtual key '{}' is inactive", k.id),
                );
                return Err(self.refuse(Decision::Unauthorized, e, ctx));
            }
            ctx.allowed_keys.clone_from(&k.allowed_keys);
        }
        let (provider, model) = self.target(policy, key.as_deref(), ctx, req)?;
        let levels = levels_for(policy, key.as_deref(), provider.as_deref(), &model, ctx);
        if levels.is_empty() {
            return Ok(());
        }
        // Tokenizing is the dearest step: only when a budget or a token window needs it.
        let needs_tokens = levels
            .iter()
            .any(|l| l.budget.is_some() || l.rate.as_ref().is_some_and(|r| r.tokens.is_some()));
        let est = if needs_tokens {
            estimate(req)
        } else {
            Estimate::default()
        };
        let now = now_ms();
        let mut claims = Claims::default();
        let mut budgets = Vec::new();
        let mut token_rates = Vec::new();
        let needs_price = levels.iter().any(|l| l.budget.is_some());
        let estimate_micros = if needs_price {
            match worst_case_micros(policy, provider.as_deref(), &model, est) {
                Some(m) => m,
                // Only the gateway-wide levels (global, scoped, model) have a budget: an
                // unpriced model is let through, counted as unpriced (metric, a warning per
                // model), as the request log counts it — not refused for everyone.
                None if !levels
                    .iter()
                    .any(|l| l.budget.is_some() && is_tenant(l.kind)) =>
                {
                    self.stats.unpriced(&model);
                    0
                }
                None => {
                    let e = GatewayError::new(
                        ErrorKind::BudgetExceeded,
                        format!(
                            "model '{model}' has no price, so its spend cannot be counted against a budget; set pricing.overrides or pricing.default_price"
                        ),
                    )
                    .with_code("model_unpriced");
                    return Err(self.refuse(Decision::Budget, e, ctx));
                }
            }
        } else {
            0
        };
        for level in levels.iter().map(|l| l.as_ref()) {
            if let Some(b) = &level.budget {
                let period = period_of(b.reset, now);
                let limit = match b.action {
                    BudgetAction::Block => b.limit_micros,
                    BudgetAction::Warn => i64::MAX,
                };
                claims.budgets.push(BudgetClaim {
                    key: format!("{}:{}", level.counter, b.id),
                    period,
                    limit_micros: limit,
                    amount_micros: estimate_micros,
                });
                budgets.push(HeldBudget {
                    counter: format!("{}:{}", level.counter, b.id),
                    period,
                    limit_micros: b.limit_micros,
                    level_kind: level.kind,
                    level_name: level.name.clone(),
                    budget_id: b.id.clone(),
                    alert_threshold: b.alert_threshold,
                });
            }
            if let Some(r) = &level.rate {
                if let Some((limit, window)) = r.requests {
                    claims.rates.push(RateClaim {
                        key: format!("req:{}", level.counter),
                        window_ms: window,
                        limit,
                        amount: 1,
                    });
                }
                if let Some((limit, window)) = r.tokens {
                    token_rates.push(claims.rates.len());
                    claims.rates.push(RateClaim {
                        key: format!("tok:{}", level.counter),
                        window_ms: window,
                        limit,
                        amount: est.prompt_tokens,
                    });
                }
                if let Some(max) = r.in_flight {
                    claims.in_flight.push(InFlightClaim {
                        key: format!("fl:{}", level.counter),
                        max,
                    });
                }
            }
        }
        match self.ledger.admit(now, &claims).await {
            Ok(ticket) => {
                self.stats.count(Decision::Admitted);
                let rate_count = claims.rates.len();
                ctx.governance.0 = Some(Arc::new(Admitted {
                    key,
                    estimate: est,
                    token_rates,
                    rate_count,
                    budgets,
                    ticket: Mutex::new(Some(ticket)),
                    ledger: self.ledger.clone(),
                }));
                Ok(())
            }
            Err(refusal) => Err(self.refusal(refusal, &claims, &levels, ctx)),
        }
    }

    fn refusal(
        &self,
        refusal: Refusal,
        claims: &Claims,
        levels: &[Cow<'_, Level>],
        ctx: &RequestContext,
    ) -> GatewayError {
        // Claim keys are `<level counter>:<budget>`, `req:`/`tok:`/`fl:` + counter.
        let owner = |key: &str| {
            let key = ["req:", "tok:", "fl:"]
                .iter()
                .find_map(|p| key.strip_prefix(p))
                .unwrap_or(key);
            levels
                .iter()
                .find(|l| {
                    key.strip_prefix(l.counter.as_str())
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with(':'))
                })
                .map_or_else(
                    || key.to_owned(),
                    |l| format!("{} '{}'", l.kind.replace('_', " "), l.name),
                )
        };
        match refusal {
            Refusal::Budget {
                index,
                used_micros,
                reserved_micros,
                ..
            } => {
                let message = match claims.budgets.get(index) {
                    Some(claim) => format!(
                        "the budget of {} is spent: ${:.4} used and ${:.4} reserved of ${:.4}; it resets {}",
                        owner(&claim.key),
                        used_micros as f64 / 1e6,
                        reserved_micros as f64 / 1e6,
                        claim.limit_micros as f64 / 1e6,
                        reset_text(claim.period)
                    ),
                    None => "a budget is spent".to_owned(),
                };
                let e = GatewayError::new(ErrorKind::BudgetExceeded, message);
                self.refuse(Decision::Budget, e, ctx)
            }
            Refusal::Rate {
                index,
                retry_after_ms,
            } => {
                // Never longer than the window (entries may carry a skewed caller's clock).
                let window = claims.rates.get(index).map_or(i64::MAX, |c| c.window_ms);
                let secs = (retry_after_ms.clamp(1, window.max(1)) as u64).div_ceil(1000);
                let message = match claims.rates.get(index) {
                    Some(claim) => format!(
                        "rate limit of {}: {} {} per {} s; retry in {secs} s",
                        owner(&claim.key),
                        claim.limit,
                        if claim.key.starts_with("tok:") {
                            "tokens"
                        } else {
                            "requests"
                        },
                        claim.window_ms / 1000
                    ),
                    None => format!("rate limit reached; retry in {secs} s"),
                };
                let mut e = GatewayError::new(ErrorKind::RateLimited, message);
                e.retry_after_secs = Some(u32::try_from(secs).unwrap_or(u32::MAX));
                self.refuse(Decision::RateLimited, e, ctx)
            }
            Refusal::InFlight { index } => {
                let message = match claims.in_flight.get(index) {
                    Some(claim) => format!(
                        "{} already has {} requests in flight",
                        owner(&claim.key),
                        claim.max
                    ),
                    None => "too many requests in flight".to_owned(),
                };
                let mut e = GatewayError::new(ErrorKind::RateLimited, message)
                    .with_code("too_many_in_flight");
                e.retry_after_secs = Some(1);
                self.refuse(Decision::InFlight, e, ctx)
            }
            Refusal::Unavailable => {
                let e = GatewayError::new(
                    ErrorKind::Overloaded,
                    "governance counters are unreachable and the policy is fail-closed",
                )
                .with_code("governance_unavailable");
                self.refuse(Decision::Unavailable, e, ctx)
            }
        }
    }

    /// The provider and model this target names, after the key's routing and permissions.
    fn target(
        &self,
        policy: &Policy,
        key: Option<&KeyPolicy>,
        ctx: &RequestContext,
        req: &mut GatewayRequest,
    ) -> Result<(Option<String>, String), GatewayError> {
        let reference = req.model_mut().clone();
        let (provider, model) = match reference.split_once('/') {
            Some((p, m)) if policy.pricing.kinds.contains_key(p) => {
                (Some(p.to_owned()), m.to_owned())
            }
            _ => (None, reference.clone()),
        };
        let Some(key) = key.filter(|k| !k.providers.is_empty()) else {
            return Ok((provider, model));
        };
        if let Some(p) = &provider {
            let Some(rule) = key.providers.iter().find(|r| &r.provider == p) else {
                let e = GatewayError::new(
                    ErrorKind::Forbidden,
                    format!("virtual key '{}' may not use provider '{p}'", key.id),
                );
                return Err(self.refuse(Decision::Forbidden, e, ctx));
            };
            if !rule.models.allows(&model) {
                let e = GatewayError::new(
                    ErrorKind::Forbidden,
                    format!(
                        "virtual key '{}' may not use model '{model}' on provider '{p}'",
                        key.id
                    ),
                );
                return Err(self.refuse(Decision::Forbidden, e, ctx));
            }
            return Ok((provider, model));
        }
        // A bare model: the key's providers that allow it, chosen by weight.
        let allowed: Vec<_> = key
            .providers
            .iter()
            .filter(|r| r.weight > 0.0 && r.models.allows(&model))
            .collect();
        let total: f64 = allowed.iter().map(|r| r.weight).sum();
        if allowed.is_empty() || total <= 0.0 {
            let e = GatewayError::new(
                ErrorKind::Forbidden,
                format!("virtual key '{}' may not use model '{model}'", key.id),
            );
            return Err(self.refuse(Decision::Forbidden, e, ctx));
        }
        let mut pick = rand::random::<f64>() * total;
        let mut chosen = allowed[allowed.len() - 1];
        for r in &allowed {
            if pick < r.weight {
                chosen = r;
                break;
            }
            pick -= r.weight;
        }
        *req.model_mut() = format!("{}/{model}", chosen.provider);
        Ok((Some(chosen.provider.clone()), model))
    }

    fn settle(&self, ctx: &RequestContext, usage: Option<Usage>, actual_usd: Option<f64>) {
        let Some(state) = admitted(ctx) else {
            return;
        };
        let Some(ticket) = state.ticket.lock().ok().and_then(|mut t| t.take()) else {
            return;
        };
        let policy = self.policy.load_full();
        let actual = actual_usd.or_else(|| {
            let usage = usage.as_ref()?;
            let provider = ctx.provider.as_deref()?;
            let kind = *policy.pricing.kinds.get(provider)?;
            let model = ctx.upstream_model.as_deref()?;
            match policy.pricing.book.cost(provider, kind, model, usage) {
                heimdall_observe::pricing::Priced::Cost(c) => Some(c),
                heimdall_observe::pricing::Priced::Unpriced => None,
            }
        });
        let actual_micros = actual.map_or(0, crate::policy::usd_to_micros);
        let mut extra = vec![0u64; state.rate_count];
        if let Some(u) = &usage {
            let more =
                u.completion_tokens + u.prompt_tokens.saturating_sub(state.estimate.prompt_tokens);
            for &i in &state.token_rates {
                if let Some(slot) = extra.get_mut(i) {
                    *slot = more;
                }
            }
        }
        let ledger = self.ledger.clone();
        let budgets = state.budgets.clone();
        let stats = Arc::clone(&self.stats);
        heimdall_core::task::spawn("governance-settle", async move {
            let now = now_ms();
            ledger.settle(ticket, now, actual_micros, &extra).await;
            crate::alerts::check(&ledger, &policy, &stats, &budgets, now).await;
        });
    }
}

/// Levels that belong to a tenant (a key and what is above it): their budgets were assigned
/// on purpose, so a spend that cannot be priced is refused there.
fn is_tenant(kind: &str) -> bool {
    matches!(
        kind,
        "virtual_key" | "team" | "customer" | "provider_config"
    )
}

fn admitted(ctx: &RequestContext) -> Option<&Admitted> {
    ctx.governance.0.as_ref()?.downcast_ref::<Admitted>()
}

fn reset_text(p: Period) -> String {
    if p.end_ms == i64::MAX {
        return "never".to_owned();
    }
    time::OffsetDateTime::from_unix_timestamp(p.end_ms / 1000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .map_or_else(|| "later".to_owned(), |t| format!("at {t}"))
}

/// Every level the request counts against: the key's chain, its provider config, the model
/// and provider levels, the scoped budgets, then global.
fn levels_for<'a>(
    policy: &'a Policy,
    key: Option<&'a KeyPolicy>,
    provider: Option<&'a str>,
    model: &'a str,
    ctx: &RequestContext,
) -> Vec<Cow<'a, Level>> {
    let mut out: Vec<Cow<'a, Level>> = Vec::new();
    if let Some(k) = key {
        out.extend(k.levels.iter().map(Cow::Borrowed));
        if let Some(p) = provider
            && let Some(rule) = k.providers.iter().find(|r| r.provider == p)
        {
            out.push(Cow::Borrowed(&rule.level));
        }
    }
    out.extend(policy.model_levels(provider, model).map(Cow::Borrowed));
    for s in &policy.scoped {
        let who = match s.scope {
            BudgetScope::Global => Some("all".to_owned()),
            BudgetScope::User => ctx.headers.get(&policy.user_header).cloned(),
            BudgetScope::Team => key.and_then(|k| k.team_id.clone()),
            BudgetScope::VirtualKey => key.map(|k| k.id.clone()),
        };
        if let Some(who) = who {
            out.push(Cow::Owned(Level {
                counter: format!("scoped:{}:{who}", s.budget.id),
                kind: "scoped_budget",
                name: format!("{} ({who})", s.budget.id),
                budget: Some(s.budget.clone()),
                rate: None,
            }));
        }
    }
    out.extend(policy.global.iter().map(Cow::Borrowed));
    out.retain(|l| l.budget.is_some() || l.rate.is_some());
    out
}

/// The worst-case cost in micro-dollars: prompt at the input price, the most output at the
/// output price. A bare model not yet routed is priced at the dearest provider serving it.
fn worst_case_micros(
    policy: &Policy,
    provider: Option<&str>,
    model: &str,
    est: Estimate,
) -> Option<i64> {
    let pricing = &policy.pricing;
    let price = match provider {
        Some(p) => pricing
            .kinds
            .get(p)
            .and_then(|k| pricing.book.price(p, *k, model)),
        None => pricing
            .kinds
            .iter()
            .filter_map(|(p, k)| pricing.book.price(p, *k, model))
            .max_by(|a, b| (a.input + a.output).total_cmp(&(b.input + b.output))),
    }?;
    let usd = (est.prompt_tokens as f64 * price.input
        + est.max_output_tokens as f64 * price.output)
        / 1_000_000.0;
    Some(crate::policy::usd_to_micros(usd))
}

#[async_trait]
impl Plugin for Governance {
    fn name(&self) -> &str {
        "governance"
    }

    fn rewrites_only_the_model(&self) -> bool {
        true
    }

    /// It reads the answer's usage.
    fn leaves_the_answer_alone(&self) -> bool {
        true
    }

    async fn pre(
        &self,
        ctx: &mut RequestContext,
        req: &mut GatewayRequest,
    ) -> Result<PreOutcome, GatewayError> {
        let policy = self.policy.load_full();
        if !policy.active {
            return Ok(PreOutcome::Continue);
        }
        if let Some(state) = ctx.governance.0.clone() {
            // A later target of the fallback plan: the key's permissions apply to it too.
            if let Some(state) = state.downcast_ref::<Admitted>() {
                self.target(&policy, state.key.as_deref(), ctx, req)?;
            }
            return Ok(PreOutcome::Continue);
        }
        self.admit(&policy, ctx, req).await?;
        Ok(PreOutcome::Continue)
    }

    async fn post(
        &self,
        ctx: &mut RequestContext,
        result: &mut Result<GatewayResponse, GatewayError>,
    ) {
        if ctx.cache_hit() {
            // Answered from the response cache: no provider was paid.
            self.settle(ctx, Some(Usage::default()), Some(0.0));
            return;
        }
        let usage = match result {
            Ok(GatewayResponse::Chat(c)) => c.usage.clone(),
            Ok(GatewayResponse::Completion(c)) => c.usage.clone(),
            Ok(GatewayResponse::Embedding(e)) => e.usage.clone().map(|u| Usage {
                prompt_tokens: u.prompt_tokens,
                completion_tokens: 0,
                total_tokens: u.total_tokens,
                ..Usage::default()
            }),
            Ok(GatewayResponse::Binary(b)) => b.usage(),
            Ok(GatewayResponse::Images(i)) => i.token_usage(),
            Ok(GatewayResponse::Rerank(r)) => r.tokens().map(|t| Usage {
                prompt_tokens: t,
                total_tokens: t,
                ..Usage::default()
            }),
            Err(_) => None,
        };
        let cost = if result.is_ok() { ctx.cost } else { Some(0.0) };
        self.settle(ctx, usage, cost);
    }

    fn on_stream_end(&self, ctx: &RequestContext, summary: &StreamSummary) {
        if ctx.cache_hit() {
            self.settle(ctx, Some(Usage::default()), Some(0.0));
            return;
        }
        let usage = summary.usage.clone().or_else(|| {
            // Cut before the upstream reported usage: charge the prompt and what was sent.
            let state = admitted(ctx)?;
            let completion = count_tokens(&summary.output);
            Some(Usage {
                prompt_tokens: state.estimate.prompt_tokens,
                completion_tokens: completion,
                total_tokens: state.estimate.prompt_tokens + completion,
                ..Usage::default()
            })
        });
        self.settle(ctx, usage, None);
    }

    fn reconfigure(&self, config: &GatewayConfig) {
        self.update(config);
    }

    fn on_abandoned(&self, ctx: &RequestContext) {
        // The client left before any answer: the upstream call is dropped; the prompt was
        // sent, so it is what is charged.
        let usage = admitted(ctx).map(|s| Usage {
            prompt_tokens: s.estimate.prompt_tokens,
            total_tokens: s.estimate.prompt_tokens,
            ..Usage::default()
        });
        self.settle(ctx, usage, None);
    }
}
