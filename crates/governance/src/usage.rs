//! Read-back of a level's counters in Bifrost's answer shape (`budget.current_usage`,
//! `rate_limit.token_current_usage`, …), for the management API and a key's own quota.
//!
//! Why here: the counter names and periods are the plugin's to derive; the API must read the
//! very counters enforcement uses, not a copy.

use serde::Serialize;

use crate::Governance;
use crate::period::period_of;
use crate::plugin::now_ms;
use crate::policy::Level;

/// A budget with its usage in the current period.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BudgetView {
    /// Budget id.
    pub id: String,
    /// Limit in USD.
    pub max_limit: f64,
    /// Reset duration as written.
    pub reset_duration: Option<String>,
    /// USD settled this period.
    pub current_usage: f64,
    /// USD reserved by requests in flight.
    pub reserved: f64,
    /// USD left (never negative).
    pub remaining: f64,
    /// Period start (Unix ms).
    pub period_start_ms: i64,
    /// Period end (Unix ms), absent when it never resets.
    pub period_end_ms: Option<i64>,
}

/// A rate limit with its sliding-window usage now.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct RateLimitView {
    /// Rate limit id.
    pub id: String,
    /// Token limit.
    pub token_max_limit: Option<u64>,
    /// Token window.
    pub token_reset_duration: Option<String>,
    /// Tokens in the current window.
    pub token_current_usage: u64,
    /// Request limit.
    pub request_max_limit: Option<u64>,
    /// Request window.
    pub request_reset_duration: Option<String>,
    /// Requests in the current window.
    pub request_current_usage: u64,
    /// Concurrent request cap.
    pub max_in_flight: Option<u32>,
}

/// A level's budget and rate limit with usage.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct LevelUsage {
    /// The budget, when the level has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetView>,
    /// The rate limit, when the level has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitView>,
}

impl Governance {
    /// The usage of `level` now.
    pub async fn level_usage(&self, level: &Level) -> LevelUsage {
        let now = now_ms();
        let ledger = self.ledger();
        let budget = match &level.budget {
            Some(b) => {
                let period = period_of(b.reset, now);
                let u = ledger
                    .budget_usage(&format!("{}:{}", level.counter, b.id), period)
                    .await;
                let used = u.used_micros as f64 / 1e6;
                let reserved = u.reserved_micros as f64 / 1e6;
                Some(BudgetView {
                    id: b.id.clone(),
                    max_limit: b.max_limit,
                    reset_duration: b.reset_text.clone(),
                    current_usage: used,
                    reserved,
                    remaining: (b.max_limit - used - reserved).max(0.0),
                    period_start_ms: period.start_ms,
                    period_end_ms: (period.end_ms != i64::MAX).then_some(period.end_ms),
                })
            }
            None => None,
        };
        let rate_limit = match &level.rate {
            Some(r) => {
                let mut view = RateLimitView {
                    id: r.id.clone(),
                    token_max_limit: r.source.token_max_limit,
                    token_reset_duration: r.source.token_reset_duration.clone(),
                    request_max_limit: r.source.request_max_limit,
                    request_reset_duration: r.source.request_reset_duration.clone(),
                    max_in_flight: r.in_flight,
                    ..RateLimitView::default()
                };
                if let Some((_, w)) = r.requests {
                    view.request_current_usage = ledger
                        .rate_usage(&format!("req:{}", level.counter), w, now)
                        .await;
                }
                if let Some((_, w)) = r.tokens {
                    view.token_current_usage = ledger
                        .rate_usage(&format!("tok:{}", level.counter), w, now)
                        .await;
                }
                Some(view)
            }
            None => None,
        };
        LevelUsage { budget, rate_limit }
    }
}
