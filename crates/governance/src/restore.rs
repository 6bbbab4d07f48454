//! A restarted single instance gets its budgets back: the spend of each budget's current
//! period recorded in the request log before this process started is added to the in-memory
//! counters.
//!
//! Why from the request log: it already holds every request's cost with its key, team,
//! customer, provider and model, persistently (SQLite by default); without this a restart
//! would quietly reset every budget. With Redis the counters outlive the process and nothing
//! is restored.

use std::collections::HashSet;

use async_trait::async_trait;
use heimdall_config::BudgetScope;

use crate::Governance;
use crate::period::period_of;
use crate::policy::{Level, usd_to_micros};

/// Which requests a level's spend is the sum of (all set fields must match).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpendFilter {
    /// The virtual key's id.
    pub virtual_key_id: Option<String>,
    /// The team's id.
    pub team_id: Option<String>,
    /// The customer's id.
    pub customer_id: Option<String>,
    /// The provider.
    pub provider: Option<String>,
    /// The model.
    pub model: Option<String>,
}

/// Where recorded spend is read from (the request log).
#[async_trait]
pub trait SpendHistory: Send + Sync {
    /// USD of the requests matching `filter` in `[from_ms, until_ms)`.
    async fn spend(&self, filter: &SpendFilter, from_ms: i64, until_ms: i64)
    -> Result<f64, String>;
}

impl Governance {
    /// Add to each budget's current period what `history` recorded before `until_ms`. Returns
    /// how many counters were restored (0 with Redis, which keeps its own).
    pub async fn restore_budgets(&self, history: &dyn SpendHistory, until_ms: i64) -> usize {
        if self.ledger().backend() != "memory" {
            return 0;
        }
        let policy = self.policy();
        let mut levels: Vec<(Level, SpendFilter)> = Vec::new();
        let mut seen = HashSet::new();
        let mut add = |level: &Level, filter: SpendFilter| {
            if level.budget.is_some() && seen.insert(level.counter.clone()) {
                levels.push((level.clone(), filter));
            }
        };
        for key in policy.by_id.values() {
            for level in &key.levels {
                add(level, filter_of(level));
            }
            for rule in &key.providers {
                let filter = SpendFilter {
                    virtual_key_id: Some(key.id.clone()),
                    provider: Some(rule.provider.clone()),
                    ..SpendFilter::default()
                };
                add(&rule.level, filter);
            }
        }
        for m in &policy.models {
            let filter = SpendFilter {
                provider: m.provider.clone(),
                model: m.model.clone(),
                ..SpendFilter::default()
            };
            add(&m.level, filter);
        }
        if let Some(global) = &policy.global {
            add(global, SpendFilter::default());
        }
        let mut restored = 0;
        let now = crate::plugin::now_ms();
        for (level, filter) in &levels {
            let Some(b) = &level.budget else { continue };
            let period = period_of(b.reset, now);
            if self
                .restore_one(
                    history,
                    filter,
                    &format!("{}:{}", level.counter, b.id),
                    period,
                    until_ms,
                )
                .await
            {
                restored += 1;
            }
        }
        for s in &policy.scoped {
            let period = period_of(s.budget.reset, now);
            let who: Vec<(String, SpendFilter)> = match s.scope {
                BudgetScope::Global => vec![("all".to_owned(), SpendFilter::default())],
                BudgetScope::Team => policy
                    .teams
                    .keys()
                    .map(|t| {
                        (
                            t.clone(),
                            SpendFilter {
                                team_id: Some(t.clone()),
                                ..SpendFilter::default()
                            },
                        )
                    })
                    .collect(),
                BudgetScope::VirtualKey => policy
                    .by_id
                    .keys()
                    .map(|k| {
                        (
                            k.clone(),
                            SpendFilter {
                                virtual_key_id: Some(k.clone()),
                                ..SpendFilter::default()
                            },
                        )
                    })
                    .collect(),
                // Users are not in the request log's columns: their budgets restart.
                BudgetScope::User => Vec::new(),
            };
            for (name, filter) in who {
                let counter = format!("scoped:{}:{name}:{}", s.budget.id, s.budget.id);
                if self
                    .restore_one(history, &filter, &counter, period, until_ms)
                    .await
                {
                    restored += 1;
                }
            }
        }
        restored
    }

    async fn restore_one(
        &self,
        history: &dyn SpendHistory,
        filter: &SpendFilter,
        counter: &str,
        period: crate::ledger::Period,
        until_ms: i64,
    ) -> bool {
        if period.start_ms >= until_ms {
            return false;
        }
        match history.spend(filter, period.start_ms, until_ms).await {
            Ok(usd) if usd > 0.0 => self
                .ledger()
                .restore_used(counter, period, usd_to_micros(usd)),
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(counter, error = %e, "budget not restored from the request log");
                false
            }
        }
    }
}

fn filter_of(level: &Level) -> SpendFilter {
    let name = Some(level.name.clone());
    match level.kind {
        "virtual_key" => SpendFilter {
            virtual_key_id: name,
            ..SpendFilter::default()
        },
        "team" => SpendFilter {
            team_id: name,
            ..SpendFilter::default()
        },
        "customer" => SpendFilter {
            customer_id: name,
            ..SpendFilter::default()
        },
        _ => SpendFilter::default(),
    }
}
