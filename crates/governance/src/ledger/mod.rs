//! The usage ledger: where budget, rate-limit and in-flight counters live.
//!
//! Why it exists: budgets and rate limits must hold exactly even when several gateway
//! instances serve the same keys. That is only possible if every request goes through ONE
//! atomic admission step (check every claim, then apply all of them, or none) and ONE settle
//! step when it finishes, against a store all instances share. The ledger is that store,
//! behind one small API with two backends:
//!
//! - [`Ledger::memory`]: counters in this process, for a single instance (one mutex, no I/O);
//! - [`Ledger::redis`]: counters in Redis, each step one Lua script, so instances agree. When
//!   Redis is unreachable it either keeps serving on an embedded memory ledger and replays
//!   what it counted once Redis is back ([`FailurePolicy::FailOpen`]), or refuses
//!   ([`FailurePolicy::FailClosed`]).
//!
//! Budgets are admitted by *reservation*: a request passes while its budget has headroom
//! (`used + reserved < limit`) and then reserves its whole worst-case estimate, so the
//! overshoot of a budget is bounded by one request's estimate however many run at once.
//! Rate limits are exact sliding-window logs (no fixed windows, no bursts at boundaries).
//! All arithmetic is on integers (micro-USD, milliseconds, tokens).

mod deltas;
mod memory;
mod redis;

use std::sync::Arc;

use self::memory::MemoryLedger;
use self::redis::RedisLedger;

/// A budget counter is kept this long after its period ended (for late settles and reports).
const BUDGET_GRACE_MS: i64 = 7 * 24 * 3_600_000;
/// In-flight entries older than this are leftovers of crashed instances or lost tickets.
const IN_FLIGHT_STALE_MS: i64 = 15 * 60_000;

/// A budget period: [start_ms, end_ms) in Unix milliseconds. A budget that never resets uses
/// start 0, end i64::MAX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start_ms: i64,
    pub end_ms: i64,
}

/// One budget level the request must fit under (key, team, customer, provider, model,
/// global…).
#[derive(Debug, Clone)]
pub struct BudgetClaim {
    /// Stable name of the budget counter, e.g. "vk:abc" (no period in it).
    pub key: String,
    pub period: Period,
    /// The limit in micro-USD (1 USD = 1_000_000).
    pub limit_micros: i64,
    /// Amount reserved by this request (its worst-case cost estimate), micro-USD, >= 0.
    pub amount_micros: i64,
}

/// One sliding-window limit (requests or tokens).
///
/// A given `key` must always be used with the same `window_ms`: the window's running sum is
/// kept per key.
#[derive(Debug, Clone)]
pub struct RateClaim {
    pub key: String,
    pub window_ms: i64,
    pub limit: u64,
    pub amount: u64,
}

/// A cap on concurrent in-flight requests.
#[derive(Debug, Clone)]
pub struct InFlightClaim {
    pub key: String,
    pub max: u32,
}

/// Everything one request must fit under.
#[derive(Debug, Clone, Default)]
pub struct Claims {
    pub budgets: Vec<BudgetClaim>,
    pub rates: Vec<RateClaim>,
    pub in_flight: Vec<InFlightClaim>,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// `claims.budgets[index]` has no headroom.
    Budget {
        index: usize,
        used_micros: i64,
        reserved_micros: i64,
        limit_micros: i64,
    },
    /// `claims.rates[index]` is used up; it frees in `retry_after_ms`.
    Rate { index: usize, retry_after_ms: i64 },
    /// `claims.in_flight[index]` is at its maximum.
    InFlight { index: usize },
    /// The shared store is unreachable and the policy is fail-closed.
    Unavailable,
}

/// What a Redis outage does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// Keep serving on local counters, replay them into Redis when it is back.
    #[default]
    FailOpen,
    /// Refuse admissions ([`Refusal::Unavailable`]) while Redis is unreachable.
    FailClosed,
}

/// A budget counter as read back (for quota APIs and alerts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BudgetUsage {
    pub used_micros: i64,
    pub reserved_micros: i64,
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LedgerStats {
    /// Admissions decided on local counters because Redis was unreachable.
    pub fallback_admissions: u64,
    /// Times the local deltas of an outage were replayed into Redis and the ledger recovered.
    pub reconciliations: u64,
}

/// Why a ledger could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The Redis URL does not parse.
    #[error("invalid Redis URL: {0}")]
    InvalidUrl(String),
}

/// One budget a ticket holds a reservation on.
#[derive(Debug)]
struct HeldBudget {
    key: String,
    period: Period,
    amount_micros: i64,
}

/// One rate window a ticket was admitted under (settle may add to it).
#[derive(Debug)]
struct HeldRate {
    key: String,
    window_ms: i64,
}

/// Proof of an admission; must be settled (or released) exactly once.
///
/// Not `Clone` on purpose: a second settle would release a reservation twice. A ticket
/// dropped without settle/release is simply lost (its reservation stays until the budget's
/// period ends; its in-flight slot is dropped as stale after 15 minutes).
#[derive(Debug)]
pub struct Ticket {
    id: String,
    /// Admitted on in-process counters: always for the memory backend, and for the Redis
    /// backend when it fell back because Redis was unreachable.
    local: bool,
    budgets: Vec<HeldBudget>,
    rates: Vec<HeldRate>,
    in_flight: Vec<String>,
}

impl Ticket {
    fn new(id: String, local: bool, claims: &Claims) -> Self {
        Self {
            id,
            local,
            budgets: claims
                .budgets
                .iter()
                .map(|b| HeldBudget {
                    key: b.key.clone(),
                    period: b.period,
                    amount_micros: b.amount_micros.max(0),
                })
                .collect(),
            rates: claims
                .rates
                .iter()
                .map(|r| HeldRate {
                    key: r.key.clone(),
                    window_ms: r.window_ms.max(1),
                })
                .collect(),
            in_flight: claims.in_flight.iter().map(|f| f.key.clone()).collect(),
        }
    }

    /// The ticket's id (a UUID v4), unique across instances.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// True when the ticket was admitted on in-process counters rather than the shared store.
    pub fn is_local(&self) -> bool {
        self.local
    }
}

fn new_ticket_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[derive(Clone)]
enum Backend {
    Memory(Arc<MemoryLedger>),
    Redis(Arc<RedisLedger>),
}

/// The counter store; cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Ledger {
    backend: Backend,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("backend", &self.backend())
            .field("degraded", &self.degraded())
            .finish()
    }
}

impl Ledger {
    /// Counters in this process.
    pub fn memory() -> Self {
        Self {
            backend: Backend::Memory(Arc::new(MemoryLedger::new())),
        }
    }

    /// Counters in Redis at `url`, keys prefixed by `prefix` (e.g. "heimdall:gov:"). Does not
    /// fail when Redis is down at start: it starts degraded and reconnects. Returns Err only
    /// for an unparsable URL.
    pub async fn redis(
        url: &str,
        prefix: &str,
        policy: FailurePolicy,
    ) -> Result<Self, LedgerError> {
        let ledger = RedisLedger::connect(url, prefix, policy).await?;
        Ok(Self {
            backend: Backend::Redis(ledger),
        })
    }

    /// Atomically: check every claim, and only if all pass, apply all of them.
    pub async fn admit(&self, now_ms: i64, claims: &Claims) -> Result<Ticket, Refusal> {
        match &self.backend {
            Backend::Memory(m) => {
                let id = new_ticket_id();
                m.admit(now_ms, claims, &id)?;
                Ok(Ticket::new(id, true, claims))
            }
            Backend::Redis(r) => r.admit(now_ms, claims).await,
        }
    }

    /// Finish a request: every budget's reservation is released and `actual_micros` is added
    /// to every budget's used amount; `rate_extra[i]` (same length as the claims' rates, or
    /// empty) is added to rate i's window at `now_ms`; in-flight slots are freed. Never fails:
    /// errors are logged, and the delta is kept and replayed into Redis later.
    pub async fn settle(
        &self,
        ticket: Ticket,
        now_ms: i64,
        actual_micros: i64,
        rate_extra: &[u64],
    ) {
        match &self.backend {
            Backend::Memory(m) => m.settle(&ticket, now_ms, actual_micros, rate_extra),
            Backend::Redis(r) => r.settle(ticket, now_ms, actual_micros, rate_extra).await,
        }
    }

    /// Release without charging: the same as settle with 0 and no extras.
    pub async fn release(&self, ticket: Ticket, now_ms: i64) {
        self.settle(ticket, now_ms, 0, &[]).await;
    }

    /// Add spend recorded before this process started to a budget counter kept in memory (a
    /// restarted single instance restores its budgets from the request log). Redis keeps its
    /// counters across restarts: there it does nothing. Returns whether it added.
    pub fn restore_used(&self, key: &str, period: Period, used_micros: i64) -> bool {
        match &self.backend {
            Backend::Memory(m) => {
                m.add_used(key, period, used_micros);
                true
            }
            Backend::Redis(_) => false,
        }
    }

    /// Read one budget counter (used/reserved) for a period. While degraded this is the local
    /// view only.
    pub async fn budget_usage(&self, key: &str, period: Period) -> BudgetUsage {
        match &self.backend {
            Backend::Memory(m) => m.budget_usage(key, period),
            Backend::Redis(r) => r.budget_usage(key, period).await,
        }
    }

    /// Sum of a sliding window at `now_ms`.
    pub async fn rate_usage(&self, key: &str, window_ms: i64, now_ms: i64) -> u64 {
        match &self.backend {
            Backend::Memory(m) => m.rate_usage(key, window_ms, now_ms),
            Backend::Redis(r) => r.rate_usage(key, window_ms, now_ms).await,
        }
    }

    /// True while the shared store is unreachable (fail-open serving on local counters).
    pub fn degraded(&self) -> bool {
        match &self.backend {
            Backend::Memory(_) => false,
            Backend::Redis(r) => r.degraded(),
        }
    }

    /// "memory" or "redis".
    pub fn backend(&self) -> &'static str {
        match &self.backend {
            Backend::Memory(_) => "memory",
            Backend::Redis(_) => "redis",
        }
    }

    /// Counters for metrics.
    pub fn stats(&self) -> LedgerStats {
        match &self.backend {
            Backend::Memory(_) => LedgerStats::default(),
            Backend::Redis(r) => r.stats(),
        }
    }
}
