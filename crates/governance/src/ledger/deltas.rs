//! What a Redis ledger owes Redis while it cannot reach it: open deltas (budget `used`
//! increments and rate entries, merged as they come) and sealed replays (settles and batches,
//! in order), each replayed once when Redis answers again.
//!
//! Why apart from `redis`: this is plain bookkeeping with no IO; the client side of the ledger
//! stays about talking to Redis.

use std::collections::{HashMap, VecDeque};

use super::new_ticket_id;
use super::redis::BATCH_ITEMS;

/// A budget counter touched by a settle or replay.
#[derive(Debug, Clone)]
pub(super) struct BudgetOp {
    pub(super) key: String,
    /// Reservation to release (settle) or `used` increment (replay).
    pub(super) amount: i64,
    pub(super) expire_at: i64,
}

/// A rate log touched by a settle or a replay, with the entries (time, amount) to add.
#[derive(Debug, Clone)]
pub(super) struct RateOp {
    pub(super) log: String,
    pub(super) sum: String,
    pub(super) window_ms: i64,
    pub(super) entries: VecDeque<(i64, u64)>,
}

/// A settle to apply to Redis: of a ticket Redis admitted, or the release of one whose
/// admission may have run before its answer was lost.
#[derive(Debug, Clone)]
pub(super) struct SettleOp {
    pub(super) ticket_key: String,
    pub(super) id: String,
    pub(super) now_ms: i64,
    pub(super) actual_micros: i64,
    pub(super) budgets: Vec<BudgetOp>,
    /// Each rate with its extra as its only entry (or none).
    pub(super) rates: Vec<RateOp>,
    pub(super) in_flight: Vec<String>,
}

/// Counts made on local counters, sealed for replay under one id.
#[derive(Debug, Clone)]
pub(super) struct Batch {
    pub(super) id: String,
    pub(super) budgets: Vec<BudgetOp>,
    pub(super) rates: Vec<RateOp>,
}

impl Batch {
    pub(super) fn new() -> Self {
        Self {
            id: new_ticket_id(),
            budgets: Vec::new(),
            rates: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) enum Replay {
    Settle(SettleOp),
    Batch(Batch),
}

/// What is owed to Redis: open deltas (merged as they come) and sealed replays (in order).
#[derive(Debug, Default)]
pub(super) struct Deltas {
    /// Budget key → (used increment, expire_at).
    pub(super) used: HashMap<String, (i64, i64)>,
    /// Log key → entries.
    pub(super) rates: HashMap<String, RateOp>,
    pub(super) queue: VecDeque<Replay>,
}

impl Deltas {
    pub(super) fn is_empty(&self) -> bool {
        self.used.is_empty() && self.rates.is_empty() && self.queue.is_empty()
    }

    pub(super) fn add_used(&mut self, key: String, amount: i64, expire_at: i64) {
        let slot = self.used.entry(key).or_insert((0, expire_at));
        slot.0 = slot.0.saturating_add(amount);
        slot.1 = expire_at;
    }

    pub(super) fn add_rate(
        &mut self,
        (log, sum): (String, String),
        window_ms: i64,
        time_ms: i64,
        amount: u64,
    ) {
        let delta = self.rates.entry(log.clone()).or_insert_with(|| RateOp {
            log,
            sum,
            window_ms,
            entries: VecDeque::new(),
        });
        delta.entries.push_back((time_ms, amount));
        // Entries that already left the window would be trimmed on arrival: don't keep them.
        let cutoff = time_ms.saturating_sub(delta.window_ms);
        while delta.entries.front().is_some_and(|&(t, _)| t <= cutoff) {
            delta.entries.pop_front();
        }
    }

    /// Move the open deltas into replay batches of bounded size.
    pub(super) fn seal(&mut self) {
        let mut batch = Batch::new();
        let mut items = 0;
        let budgets = self.used.drain().map(|(key, (amount, expire_at))| {
            let op = BudgetOp {
                key,
                amount,
                expire_at,
            };
            (Some(op), None)
        });
        let rates = (self.rates.drain().map(|(_, op)| op))
            .filter(|op| !op.entries.is_empty())
            .map(|op| (None, Some(op)));
        for (budget, rate) in budgets.chain(rates) {
            items += 1 + rate.as_ref().map_or(0, |r| r.entries.len());
            batch.budgets.extend(budget);
            batch.rates.extend(rate);
            if items >= BATCH_ITEMS {
                let full = std::mem::replace(&mut batch, Batch::new());
                self.queue.push_back(Replay::Batch(full));
                items = 0;
            }
        }
        if items > 0 {
            self.queue.push_back(Replay::Batch(batch));
        }
    }
}
