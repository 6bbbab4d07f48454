//! The in-process ledger backend: every counter behind one mutex.
//!
//! Why it exists: a single gateway instance needs no shared store, and the Redis backend
//! needs somewhere to keep counting when Redis is unreachable (fail-open). Both use this
//! one implementation of the ledger's rules, so a request is admitted or refused the same
//! way whichever store decides. Admission checks every claim and then applies all of them
//! inside one critical section (no await while holding the lock), which is what makes it
//! atomic. Memory stays bounded: expired rate entries are trimmed on access, and every
//! [`SWEEP_EVERY`] admissions an inline sweep drops budget counters whose period ended long
//! ago, empty rate logs and empty in-flight sets.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{BUDGET_GRACE_MS, BudgetUsage, Claims, IN_FLIGHT_STALE_MS, Period, Refusal, Ticket};

/// Admissions between two sweeps.
const SWEEP_EVERY: u64 = 1024;

/// True when a budget with these counters still has headroom for one more request.
pub(super) fn has_headroom(used: i64, reserved: i64, limit: i64) -> bool {
    limit > 0 && used.saturating_add(reserved) < limit
}

/// True when `amount` fits in a window already holding `sum` (an amount of 0 only needs the
/// window not to be full).
pub(super) fn fits(sum: u64, amount: u64, limit: u64) -> bool {
    if amount > 0 {
        sum.saturating_add(amount) <= limit
    } else {
        sum < limit
    }
}

/// A budget counter of one period.
#[derive(Debug, Clone, Copy)]
struct Counter {
    used: i64,
    reserved: i64,
    end_ms: i64,
}

/// An exact sliding-window log: entries `(time_ms, amount)` in time order, and their sum.
#[derive(Debug)]
struct RateLog {
    entries: VecDeque<(i64, u64)>,
    sum: u64,
    window_ms: i64,
}

impl RateLog {
    fn new(window_ms: i64) -> Self {
        Self {
            entries: VecDeque::new(),
            sum: 0,
            window_ms,
        }
    }

    /// Drop the entries that left the window, i.e. those at or before `cutoff`.
    fn trim(&mut self, cutoff: i64) {
        while let Some(&(t, amount)) = self.entries.front() {
            if t > cutoff {
                break;
            }
            self.entries.pop_front();
            self.sum = self.sum.saturating_sub(amount);
        }
    }

    /// Add `amount` at `time_ms`: merged into the newest entry when both fall in the same
    /// window/64 bucket (it takes the newer time, so nothing leaves the window early — a limit
    /// is never exceeded, an amount is at most remembered window/64 longer). A log holds ~65
    /// entries per window whatever the traffic.
    fn insert(&mut self, time_ms: i64, amount: u64) {
        if amount == 0 {
            return;
        }
        let resolution = (self.window_ms / 64).max(1);
        if let Some(last) = self.entries.back_mut()
            && last.0 <= time_ms
            && last.0.div_euclid(resolution) == time_ms.div_euclid(resolution)
        {
            *last = (time_ms, last.1.saturating_add(amount));
            self.sum = self.sum.saturating_add(amount);
            return;
        }
        // Almost always an append; a caller's clock may step back, so keep time order.
        let pos = self.entries.partition_point(|&(t, _)| t <= time_ms);
        self.entries.insert(pos, (time_ms, amount));
        self.sum = self.sum.saturating_add(amount);
    }

    /// Time until enough of the oldest entries leave the window for `amount` to fit.
    fn retry_after(&self, now_ms: i64, amount: u64, limit: u64) -> i64 {
        let window = self.window_ms.max(1);
        if amount > limit {
            return window;
        }
        let mut remaining = self.sum;
        for &(t, a) in &self.entries {
            remaining = remaining.saturating_sub(a);
            if fits(remaining, amount, limit) {
                return t.saturating_add(window).saturating_sub(now_ms).max(1);
            }
        }
        window
    }
}

#[derive(Debug, Default)]
struct State {
    /// Budget counters by key, then by period start.
    budgets: HashMap<String, HashMap<i64, Counter>>,
    rates: HashMap<String, RateLog>,
    /// In-flight ticket ids (with their admission time) by key.
    in_flight: HashMap<String, HashMap<String, i64>>,
    admissions: u64,
}

impl State {
    fn check(&mut self, now_ms: i64, claims: &Claims) -> Result<(), Refusal> {
        for (index, b) in claims.budgets.iter().enumerate() {
            let (used, reserved) = self
                .budgets
                .get(&b.key)
                .and_then(|periods| periods.get(&b.period.start_ms))
                .map_or((0, 0), |c| (c.used, c.reserved));
            if !has_headroom(used, reserved, b.limit_micros) {
                return Err(Refusal::Budget {
                    index,
                    used_micros: used,
                    reserved_micros: reserved,
                    limit_micros: b.limit_micros,
                });
            }
        }
        for (index, r) in claims.rates.iter().enumerate() {
            let window = r.window_ms.max(1);
            let refused = match self.rates.get_mut(&r.key) {
                Some(log) => {
                    log.window_ms = window;
                    log.trim(now_ms.saturating_sub(window));
                    (!fits(log.sum, r.amount, r.limit))
                        .then(|| log.retry_after(now_ms, r.amount, r.limit))
                }
                None => (!fits(0, r.amount, r.limit)).then_some(window),
            };
            if let Some(retry_after_ms) = refused {
                return Err(Refusal::Rate {
                    index,
                    retry_after_ms,
                });
            }
        }
        let stale_before = now_ms.saturating_sub(IN_FLIGHT_STALE_MS);
        for (index, f) in claims.in_flight.iter().enumerate() {
            let count = match self.in_flight.get_mut(&f.key) {
                Some(set) => {
                    set.retain(|_, admitted| *admitted > stale_before);
                    set.len()
                }
                None => 0,
            };
            if count >= f.max as usize {
                return Err(Refusal::InFlight { index });
            }
        }
        Ok(())
    }

    fn apply(&mut self, now_ms: i64, claims: &Claims, id: &str) {
        for b in &claims.budgets {
            let c = self.counter(&b.key, b.period);
            c.reserved = c.reserved.saturating_add(b.amount_micros.max(0));
        }
        for r in &claims.rates {
            let window = r.window_ms.max(1);
            self.rates
                .entry(r.key.clone())
                .or_insert_with(|| RateLog::new(window))
                .insert(now_ms, r.amount);
        }
        for f in &claims.in_flight {
            self.in_flight
                .entry(f.key.clone())
                .or_default()
                .insert(id.to_owned(), now_ms);
        }
    }

    fn counter(&mut self, key: &str, period: Period) -> &mut Counter {
        self.budgets
            .entry(key.to_owned())
            .or_default()
            .entry(period.start_ms)
            .or_insert(Counter {
                used: 0,
                reserved: 0,
                end_ms: period.end_ms,
            })
    }

    fn settle(&mut self, ticket: &Ticket, now_ms: i64, actual_micros: i64, rate_extra: &[u64]) {
        let actual = actual_micros.max(0);
        for b in &ticket.budgets {
            let c = self.counter(&b.key, b.period);
            c.reserved = c.reserved.saturating_sub(b.amount_micros).max(0);
            c.used = c.used.saturating_add(actual);
        }
        for (r, &extra) in ticket.rates.iter().zip(rate_extra) {
            if extra == 0 {
                continue;
            }
            let log = self
                .rates
                .entry(r.key.clone())
                .or_insert_with(|| RateLog::new(r.window_ms));
            log.trim(now_ms.saturating_sub(log.window_ms));
            log.insert(now_ms, extra);
        }
        for key in &ticket.in_flight {
            if let Some(set) = self.in_flight.get_mut(key) {
                set.remove(&ticket.id);
                if set.is_empty() {
                    self.in_flight.remove(key);
                }
            }
        }
    }

    /// Drop what can no longer matter: budget counters whose period ended more than the
    /// grace period ago, rate logs with nothing left in their window, empty in-flight sets.
    fn sweep(&mut self, now_ms: i64) {
        self.budgets.retain(|_, periods| {
            periods.retain(|_, c| c.end_ms.saturating_add(BUDGET_GRACE_MS) > now_ms);
            !periods.is_empty()
        });
        self.rates.retain(|_, log| {
            log.trim(now_ms.saturating_sub(log.window_ms));
            !log.entries.is_empty()
        });
        let stale_before = now_ms.saturating_sub(IN_FLIGHT_STALE_MS);
        self.in_flight.retain(|_, set| {
            set.retain(|_, admitted| *admitted > stale_before);
            !set.is_empty()
        });
    }
}

/// Counters in this process (see the module doc).
#[derive(Debug, Default)]
pub(super) struct MemoryLedger {
    state: Mutex<State>,
}

impl MemoryLedger {
    pub(super) fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every step is applied whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Check every claim and, only if all pass, apply all of them under ticket id `id`.
    pub(super) fn admit(&self, now_ms: i64, claims: &Claims, id: &str) -> Result<(), Refusal> {
        let mut st = self.lock();
        st.check(now_ms, claims)?;
        st.apply(now_ms, claims, id);
        st.admissions = st.admissions.wrapping_add(1);
        if st.admissions.is_multiple_of(SWEEP_EVERY) {
            st.sweep(now_ms);
        }
        Ok(())
    }

    /// Release the ticket's reservations, charge `actual_micros` to its budgets, add the
    /// extras to its rate windows and free its in-flight slots.
    pub(super) fn settle(
        &self,
        ticket: &Ticket,
        now_ms: i64,
        actual_micros: i64,
        rate_extra: &[u64],
    ) {
        self.lock()
            .settle(ticket, now_ms, actual_micros, rate_extra);
    }

    /// Add spend recorded before this process started (from the request log) to a budget.
    /// Raise a budget's used amount to at least `used_micros` (what the shared store last
    /// reported, when counting here during its outage).
    pub(super) fn raise_used(&self, key: &str, period: Period, used_micros: i64) {
        let mut st = self.lock();
        let c = st.counter(key, period);
        c.used = c.used.max(used_micros);
    }

    pub(super) fn add_used(&self, key: &str, period: Period, used_micros: i64) {
        let mut st = self.lock();
        let c = st.counter(key, period);
        c.used = c.used.saturating_add(used_micros.max(0));
    }

    pub(super) fn budget_usage(&self, key: &str, period: Period) -> BudgetUsage {
        self.lock()
            .budgets
            .get(key)
            .and_then(|periods| periods.get(&period.start_ms))
            .map_or_else(BudgetUsage::default, |c| BudgetUsage {
                used_micros: c.used,
                reserved_micros: c.reserved,
            })
    }

    pub(super) fn rate_usage(&self, key: &str, window_ms: i64, now_ms: i64) -> u64 {
        let cutoff = now_ms.saturating_sub(window_ms.max(1));
        self.lock().rates.get(key).map_or(0, |log| {
            log.entries
                .iter()
                .filter(|&&(t, _)| t > cutoff)
                .fold(0u64, |sum, &(_, a)| sum.saturating_add(a))
        })
    }

    /// How many (budget counters, rate logs, in-flight sets) are held: for tests of the sweep.
    #[cfg(test)]
    fn sizes(&self) -> (usize, usize, usize) {
        let st = self.lock();
        let budgets = st.budgets.values().map(HashMap::len).sum();
        (budgets, st.rates.len(), st.in_flight.len())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BudgetClaim, InFlightClaim, Ledger, RateClaim};
    use super::*;

    const FOREVER: Period = Period {
        start_ms: 0,
        end_ms: i64::MAX,
    };

    fn budget(key: &str, limit: i64, amount: i64) -> Claims {
        Claims {
            budgets: vec![BudgetClaim {
                key: key.into(),
                period: FOREVER,
                limit_micros: limit,
                amount_micros: amount,
            }],
            ..Claims::default()
        }
    }

    fn rate(key: &str, window_ms: i64, limit: u64, amount: u64) -> Claims {
        Claims {
            rates: vec![RateClaim {
                key: key.into(),
                window_ms,
                limit,
                amount,
            }],
            ..Claims::default()
        }
    }

    #[tokio::test]
    async fn headroom_rule_bounds_overshoot_by_one_estimate() {
        let ledger = Ledger::memory();
        let claims = budget("vk:a", 100, 30);
        let mut tickets = Vec::new();
        for _ in 0..4 {
            tickets.push(ledger.admit(0, &claims).await.expect("headroom left"));
        }
        // used + reserved = 120 >= 100: no headroom, refused with the counters' state.
        let refusal = ledger.admit(0, &claims).await.expect_err("no headroom");
        assert_eq!(
            refusal,
            Refusal::Budget {
                index: 0,
                used_micros: 0,
                reserved_micros: 120,
                limit_micros: 100
            }
        );
        // The overshoot (120 - 100) is below one request's estimate.
        let usage = ledger.budget_usage("vk:a", FOREVER).await;
        assert!(usage.reserved_micros < 100 + 30);
        // A limit of 0 always refuses, even an empty counter.
        assert!(matches!(
            ledger.admit(0, &budget("vk:zero", 0, 0)).await,
            Err(Refusal::Budget { index: 0, .. })
        ));
        for t in tickets {
            ledger.release(t, 0).await;
        }
        assert_eq!(
            ledger.budget_usage("vk:a", FOREVER).await,
            BudgetUsage::default()
        );
    }

    #[tokio::test]
    async fn settle_moves_reserved_to_used_and_release_charges_nothing() {
        let ledger = Ledger::memory();
        let claims = budget("vk:b", 1_000, 300);
        let t1 = ledger.admit(0, &claims).await.expect("admitted");
        let t2 = ledger.admit(0, &claims).await.expect("admitted");
        assert!(t1.is_local() && t1.id() != t2.id());
        let usage = ledger.budget_usage("vk:b", FOREVER).await;
        assert_eq!((usage.used_micros, usage.reserved_micros), (0, 600));
        ledger.settle(t1, 5, 120, &[]).await;
        let usage = ledger.budget_usage("vk:b", FOREVER).await;
        assert_eq!((usage.used_micros, usage.reserved_micros), (120, 300));
        ledger.release(t2, 6).await;
        let usage = ledger.budget_usage("vk:b", FOREVER).await;
        assert_eq!((usage.used_micros, usage.reserved_micros), (120, 0));
        // Counters of another period are distinct.
        let other = Period {
            start_ms: 1_000,
            end_ms: 2_000,
        };
        assert_eq!(
            ledger.budget_usage("vk:b", other).await,
            BudgetUsage::default()
        );
    }

    #[tokio::test]
    async fn rate_log_is_exact_sliding_window() {
        let ledger = Ledger::memory();
        let claims = rate("rpm", 1_000, 5, 1);
        for i in 0..5 {
            let t = ledger.admit(i * 100, &claims).await.expect("within limit");
            ledger.release(t, i * 100).await;
        }
        assert_eq!(ledger.rate_usage("rpm", 1_000, 450).await, 5);
        // The 6th in the window is refused until the entry at t=0 leaves at t=1000.
        assert_eq!(
            ledger.admit(500, &claims).await.expect_err("full"),
            Refusal::Rate {
                index: 0,
                retry_after_ms: 500
            }
        );
        assert_eq!(
            ledger.admit(999, &claims).await.expect_err("still full"),
            Refusal::Rate {
                index: 0,
                retry_after_ms: 1
            }
        );
        // No boundary burst: at t=1000 exactly one slot freed.
        let t = ledger
            .admit(1_000, &claims)
            .await
            .expect("t=0 left the window");
        ledger.release(t, 1_000).await;
        assert_eq!(
            ledger.admit(1_001, &claims).await.expect_err("full again"),
            Refusal::Rate {
                index: 0,
                retry_after_ms: 99
            }
        );
        assert_eq!(ledger.rate_usage("rpm", 1_000, 1_001).await, 5);
        assert_eq!(ledger.rate_usage("rpm", 1_000, 3_000).await, 0);
        assert!(ledger.admit(3_000, &claims).await.is_ok());
    }

    #[test]
    fn a_busy_log_stays_at_about_64_entries_per_window() {
        let m = MemoryLedger::new();
        let claims = rate("rpm", 60_000, u64::MAX / 2, 1);
        for now in 0..100_000i64 {
            m.admit(now, &claims, "t").expect("fits");
        }
        let state = m.lock();
        let log = &state.rates["rpm"];
        assert!(log.entries.len() <= 66, "{} entries", log.entries.len());
        // Merged entries are kept up to window/64 (937 ms) longer, never shorter.
        assert!((60_000..=61_000).contains(&log.sum), "{}", log.sum);
    }

    #[tokio::test]
    async fn token_windows_take_amounts_and_settle_extras() {
        let ledger = Ledger::memory();
        let t = ledger
            .admit(0, &rate("tpm", 1_000, 100, 60))
            .await
            .expect("fits");
        // Completion tokens known only at the end are added at settle time (t=20: the next
        // window/64 bucket, so a separate entry).
        ledger.settle(t, 20, 0, &[30]).await;
        assert_eq!(ledger.rate_usage("tpm", 1_000, 20).await, 90);
        // 90 + 20 > 100: must wait until the 60 of t=0 leave.
        assert_eq!(
            ledger
                .admit(20, &rate("tpm", 1_000, 100, 20))
                .await
                .expect_err("no room"),
            Refusal::Rate {
                index: 0,
                retry_after_ms: 980
            }
        );
        // An amount of 0 passes while the window is not full.
        assert!(ledger.admit(20, &rate("tpm", 1_000, 100, 0)).await.is_ok());
        // More than the limit can never fit.
        assert!(matches!(
            ledger.admit(20, &rate("tpm", 1_000, 100, 101)).await,
            Err(Refusal::Rate { index: 0, .. })
        ));
        assert!(
            ledger
                .admit(1_001, &rate("tpm", 1_000, 100, 70))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn in_flight_cap_and_all_or_nothing() {
        let ledger = Ledger::memory();
        let mut claims = budget("vk:c", 1_000, 10);
        claims.in_flight.push(InFlightClaim {
            key: "conc".into(),
            max: 2,
        });
        let a = ledger.admit(0, &claims).await.expect("1st slot");
        let b = ledger.admit(0, &claims).await.expect("2nd slot");
        assert_eq!(
            ledger.admit(0, &claims).await.expect_err("full"),
            Refusal::InFlight { index: 0 }
        );
        // The refused admission applied nothing (budget checked first, then refused on slots).
        assert_eq!(
            ledger.budget_usage("vk:c", FOREVER).await.reserved_micros,
            20
        );
        ledger.settle(a, 1, 5, &[]).await;
        let c = ledger.admit(1, &claims).await.expect("slot freed");
        // Leftovers (lost tickets) stop counting after 15 minutes.
        let d = ledger
            .admit(IN_FLIGHT_STALE_MS + 1, &claims)
            .await
            .expect("stale slots dropped");
        drop((b, c));
        ledger.release(d, IN_FLIGHT_STALE_MS + 2).await;

        // A rate refusal also leaves the budget untouched.
        let mut both = budget("vk:d", 1_000, 10);
        both.rates.push(RateClaim {
            key: "r".into(),
            window_ms: 1_000,
            limit: 0,
            amount: 1,
        });
        assert!(matches!(
            ledger.admit(0, &both).await,
            Err(Refusal::Rate { index: 0, .. })
        ));
        assert_eq!(
            ledger.budget_usage("vk:d", FOREVER).await,
            BudgetUsage::default()
        );
    }

    #[test]
    fn sweep_keeps_memory_bounded() {
        let ledger = MemoryLedger::new();
        let hour = 3_600_000;
        for i in 0..20_000i64 {
            let now = i * hour;
            let claims = Claims {
                budgets: vec![BudgetClaim {
                    key: format!("vk:{i}"),
                    period: Period {
                        start_ms: now,
                        end_ms: now + hour,
                    },
                    limit_micros: 10,
                    amount_micros: 1,
                }],
                rates: vec![RateClaim {
                    key: format!("r:{i}"),
                    window_ms: 1_000,
                    limit: 10,
                    amount: 1,
                }],
                in_flight: vec![InFlightClaim {
                    key: format!("f:{i}"),
                    max: 1,
                }],
            };
            let id = format!("t{i}");
            ledger.admit(now, &claims, &id).expect("fresh keys");
            // Every other ticket is lost (never settled): the sweep must drop it too.
            if i % 2 == 0 {
                let ticket = Ticket::new(id, true, &claims);
                ledger.settle(&ticket, now, 1, &[]);
            }
        }
        let (budgets, rates, in_flight) = ledger.sizes();
        // Without the sweep each would be 20_000 (10_000 for in-flight).
        assert!(
            budgets <= SWEEP_EVERY as usize + 7 * 24 + 1,
            "{budgets} budget counters"
        );
        assert!(rates <= SWEEP_EVERY as usize, "{rates} rate logs");
        assert!(
            in_flight <= SWEEP_EVERY as usize,
            "{in_flight} in-flight sets"
        );
    }
}
