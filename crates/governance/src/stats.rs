//! Governance counters for `/metrics`: decisions by outcome, alerts fired, and the ledger's
//! fallback state.
//!
//! Why plain atomics rendered as text: the decisions are counted on every governed request;
//! a relaxed increment is the whole cost, and the server appends the text to its exposition.

use std::collections::HashSet;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::ledger::Ledger;

/// What governance decided for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Admitted (a reservation is held).
    Admitted,
    /// Unknown or inactive key.
    Unauthorized,
    /// Provider or model not allowed.
    Forbidden,
    /// A budget is spent.
    Budget,
    /// A rate or token limit is used up.
    RateLimited,
    /// Too many requests in flight.
    InFlight,
    /// The counter store is unreachable (fail-closed).
    Unavailable,
}

const DECISIONS: [Decision; 7] = [
    Decision::Admitted,
    Decision::Unauthorized,
    Decision::Forbidden,
    Decision::Budget,
    Decision::RateLimited,
    Decision::InFlight,
    Decision::Unavailable,
];

impl Decision {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admitted => "admitted",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::Budget => "budget_exceeded",
            Self::RateLimited => "rate_limited",
            Self::InFlight => "in_flight_limited",
            Self::Unavailable => "unavailable",
        }
    }
}

/// The counters.
#[derive(Debug, Default)]
pub struct GovernanceStats {
    decisions: [AtomicU64; 7],
    alerts: AtomicU64,
    unpriced: AtomicU64,
    /// Models already warned about as unpriced (bounded).
    warned: Mutex<HashSet<String>>,
}

/// Most unpriced model names remembered for the once-per-model warning.
const WARNED_MAX: usize = 1_000;

impl GovernanceStats {
    /// Count one decision.
    pub fn count(&self, d: Decision) {
        if let Some(c) = self.decisions.get(d as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Count a request admitted under a gateway-wide budget with no price for its model;
    /// warn once per model.
    pub fn unpriced(&self, model: &str) {
        self.unpriced.fetch_add(1, Ordering::Relaxed);
        let mut warned = self.warned.lock().unwrap_or_else(PoisonError::into_inner);
        if warned.len() < WARNED_MAX && warned.insert(model.to_owned()) {
            tracing::warn!(
                model,
                "model has no price: its requests count $0 against gateway-wide budgets (set pricing.overrides or pricing.default_price)"
            );
        }
    }

    /// Count one alert.
    pub fn alert(&self) {
        self.alerts.fetch_add(1, Ordering::Relaxed);
    }

    /// How many of `d` so far.
    pub fn decisions(&self, d: Decision) -> u64 {
        self.decisions
            .get(d as usize)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Append the Prometheus text exposition of these counters and `ledger`'s state.
    pub fn render(&self, out: &mut String, prefix: &str, ledger: &Ledger) {
        let _ = writeln!(
            out,
            "# HELP {prefix}_governance_decisions_total Governed requests by decision.\n# TYPE {prefix}_governance_decisions_total counter"
        );
        for d in DECISIONS {
            let _ = writeln!(
                out,
                "{prefix}_governance_decisions_total{{decision=\"{}\"}} {}",
                d.as_str(),
                self.decisions(d)
            );
        }
        let stats = ledger.stats();
        let _ = writeln!(
            out,
            "# HELP {prefix}_governance_alerts_total Budget threshold alerts fired.\n# TYPE {prefix}_governance_alerts_total counter\n{prefix}_governance_alerts_total {}\n\
             # HELP {prefix}_governance_unpriced_total Governed requests for a model with no price, counted at $0 against gateway-wide budgets.\n# TYPE {prefix}_governance_unpriced_total counter\n{prefix}_governance_unpriced_total {}\n\
             # HELP {prefix}_governance_store_degraded 1 while the shared counter store is unreachable and this instance counts locally.\n# TYPE {prefix}_governance_store_degraded gauge\n{prefix}_governance_store_degraded{{backend=\"{}\"}} {}\n\
             # HELP {prefix}_governance_fallback_admissions_total Admissions decided on local counters while the shared store was unreachable.\n# TYPE {prefix}_governance_fallback_admissions_total counter\n{prefix}_governance_fallback_admissions_total {}\n\
             # HELP {prefix}_governance_reconciliations_total Times local counts were replayed into the shared store after an outage.\n# TYPE {prefix}_governance_reconciliations_total counter\n{prefix}_governance_reconciliations_total {}",
            self.alerts.load(Ordering::Relaxed),
            self.unpriced.load(Ordering::Relaxed),
            ledger.backend(),
            u8::from(ledger.degraded()),
            stats.fallback_admissions,
            stats.reconciliations,
        );
    }
}
