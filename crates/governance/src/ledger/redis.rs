//! The Redis ledger backend: counters shared by every gateway instance.
//!
//! Why it exists: budgets and rate limits only hold across several instances if they all
//! count in one place, and only hold *exactly* if each admission is one atomic step. Here
//! admission is one Lua script (check every claim, then apply them all) and settle is
//! another, so concurrent requests on any instance can never both take the last headroom.
//!
//! Why it has a memory ledger inside: Redis can go away. Every call is bounded by a short
//! timeout; on failure the ledger turns *degraded* (one warning per outage). Fail-open, it
//! then admits and settles on an embedded [`MemoryLedger`] and records what it counted
//! (budget `used` increments, rate-window entries) as deltas; settles of tickets Redis had
//! admitted are queued whole. A background task holding only a `Weak` reference tries a
//! PING at most once per second while degraded and, once Redis answers, replays everything
//! (each replay is idempotent: settles are guarded by the ticket's record, batches by a
//! marker key), then clears the degraded state. Fail-closed, admissions are refused while
//! degraded, and settles are still queued and replayed: nothing acknowledged is lost.
//!
//! Key layout (`{p}` is the configured prefix, `{key}` the caller's key verbatim):
//! `{p}b:{key}:{period start}` budget hash (`used`, `reserved`), expiring 7 days after the
//! period; `{p}r:{key}` rate log (sorted set, score = time, member `{time}:{id}:{amount}`)
//! and `{p}rs:{key}` its running sum; `{p}f:{key}` in-flight ticket ids scored by admission
//! time; `{p}t:{ticket id}` the record of an unsettled ticket; `{p}d:{batch id}` the marker
//! of a replayed batch.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, FromRedisValue, Script, ScriptInvocation};

use super::deltas::{Batch, BudgetOp, Deltas, RateOp, Replay, SettleOp};
use super::memory::MemoryLedger;
use super::{
    BUDGET_GRACE_MS, BudgetUsage, Claims, FailurePolicy, IN_FLIGHT_STALE_MS, LedgerError,
    LedgerStats, Period, Refusal, Ticket, new_ticket_id,
};

/// Bound on one connection attempt, and on waiting for one answer.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(300);
/// Outer bound on a whole call (covers a reconnection in progress).
const CALL_TIMEOUT: Duration = Duration::from_millis(700);
/// How often the background task looks, and how often it may try Redis while degraded.
const TICK: Duration = Duration::from_millis(250);
const RECONCILE_EVERY: Duration = Duration::from_secs(1);
/// How long an unsettled ticket's record lives (longer than any request).
const TICKET_TTL_MS: i64 = 24 * 3_600_000;
/// How long a replayed batch's marker lives (longer than any retry of it).
const MARKER_TTL_MS: i64 = 24 * 3_600_000;
/// In-flight sets outlive their stalest entry a little.
const IN_FLIGHT_TTL_MS: i64 = IN_FLIGHT_STALE_MS + 60_000;
/// Budget keys plus rate entries per replayed batch (keeps each script short).
pub(super) const BATCH_ITEMS: usize = 1_000;
/// Budgets whose last used amount is remembered for an outage (about 100 bytes each).
const LAST_USED_MAX: usize = 50_000;
/// Past this (year 9999) an expiry time is treated as "never".
const MAX_EXPIRE_AT_MS: i64 = 253_402_300_799_000;

const COMMON_LUA: &str = include_str!("common.lua");
const ADMIT_LUA: &str = include_str!("admit.lua");
const SETTLE_LUA: &str = include_str!("settle.lua");
const REPLAY_LUA: &str = include_str!("replay.lua");

/// Why a call to Redis failed.
#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("unexpected reply {0:?}")]
    Reply(Vec<i64>),
}

/// Expiry of a budget counter: 7 days after its period ends; 0 for "never".
fn expire_at(period: Period) -> i64 {
    match period.end_ms.checked_add(BUDGET_GRACE_MS) {
        Some(at) if at <= MAX_EXPIRE_AT_MS => at.max(1),
        _ => 0,
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data whole, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn manager(client: &Client) -> Result<ConnectionManager, redis::RedisError> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(200));
    ConnectionManager::new_lazy_with_config(client.clone(), config)
}

/// Counters in Redis (see the module doc).
pub(super) struct RedisLedger {
    client: Client,
    conn: Mutex<ConnectionManager>,
    prefix: String,
    policy: FailurePolicy,
    admit_script: Script,
    settle_script: Script,
    replay_script: Script,
    local: MemoryLedger,
    /// Each budget's used amount as Redis last reported it, by (key, period start).
    last_used: Mutex<HashMap<(String, i64), i64>>,
    deltas: Mutex<Deltas>,
    degraded: AtomicBool,
    fallback_admissions: AtomicU64,
    reconciliations: AtomicU64,
    last_attempt: Mutex<Option<Instant>>,
    flushing: tokio::sync::Mutex<()>,
}

impl RedisLedger {
    pub(super) async fn connect(
        url: &str,
        prefix: &str,
        policy: FailurePolicy,
    ) -> Result<Arc<Self>, LedgerError> {
        // The URL may hold a password: never echo it.
        let client = Client::open(url).map_err(|e| LedgerError::InvalidUrl(e.to_string()))?;
        let conn = manager(&client).map_err(|e| LedgerError::InvalidUrl(e.to_string()))?;
        let ledger = Arc::new(Self {
            client,
            conn: Mutex::new(conn),
            prefix: prefix.to_owned(),
            policy,
            admit_script: Script::new(&format!("{COMMON_LUA}\n{ADMIT_LUA}")),
            settle_script: Script::new(&format!("{COMMON_LUA}\n{SETTLE_LUA}")),
            replay_script: Script::new(REPLAY_LUA),
            local: MemoryLedger::new(),
            last_used: Mutex::new(HashMap::new()),
            deltas: Mutex::new(Deltas::default()),
            degraded: AtomicBool::new(false),
            fallback_admissions: AtomicU64::new(0),
            reconciliations: AtomicU64::new(0),
            last_attempt: Mutex::new(None),
            flushing: tokio::sync::Mutex::new(()),
        });
        // Probe now, so that a Redis down at start means starting degraded rather than every
        // first request waiting for a timeout.
        if let Err(e) = ledger.ping().await {
            ledger.mark_degraded(&e);
            ledger.renew_connection();
        }
        drop(heimdall_core::task::spawn(
            "governance-ledger-reconcile",
            maintain(Arc::downgrade(&ledger)),
        ));
        Ok(ledger)
    }

    pub(super) fn degraded(&self) -> bool {
        self.degraded.load(Ordering::SeqCst)
    }

    pub(super) fn stats(&self) -> LedgerStats {
        LedgerStats {
            fallback_admissions: self.fallback_admissions.load(Ordering::Relaxed),
            reconciliations: self.reconciliations.load(Ordering::Relaxed),
        }
    }

    fn budget_key(&self, key: &str, start_ms: i64) -> String {
        format!("{}b:{key}:{start_ms}", self.prefix)
    }

    fn rate_keys(&self, key: &str) -> (String, String) {
        (
            format!("{}r:{key}", self.prefix),
            format!("{}rs:{key}", self.prefix),
        )
    }

    fn in_flight_key(&self, key: &str) -> String {
        format!("{}f:{key}", self.prefix)
    }

    fn ticket_key(&self, id: &str) -> String {
        format!("{}t:{id}", self.prefix)
    }

    fn conn(&self) -> ConnectionManager {
        lock(&self.conn).clone()
    }

    /// Replace the connection manager with a fresh one, so that recovery never depends on a
    /// reconnection the old one may have given up on.
    fn renew_connection(&self) {
        match manager(&self.client) {
            Ok(conn) => *lock(&self.conn) = conn,
            Err(e) => {
                tracing::debug!(error = %e, "governance ledger: could not renew the Redis connection")
            }
        }
    }

    async fn invoke<T: FromRedisValue>(&self, inv: &ScriptInvocation<'_>) -> Result<T, CallError> {
        bounded(inv.invoke_async(&mut self.conn())).await
    }

    async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, CallError> {
        bounded(cmd.query_async(&mut self.conn())).await
    }

    async fn ping(&self) -> Result<(), CallError> {
        self.query::<String>(&redis::cmd("PING")).await.map(drop)
    }

    fn mark_degraded(&self, error: &CallError) {
        *lock(&self.last_attempt) = Some(Instant::now());
        if !self.degraded.swap(true, Ordering::SeqCst) {
            let meanwhile = match self.policy {
                FailurePolicy::FailOpen => "admitting on local counters, replayed when it is back",
                FailurePolicy::FailClosed => "refusing governed requests until it is back",
            };
            tracing::warn!(error = %error, "governance ledger: Redis unreachable; {meanwhile}");
        }
    }

    pub(super) async fn admit(&self, now_ms: i64, claims: &Claims) -> Result<Ticket, Refusal> {
        let id = new_ticket_id();
        if self.degraded() {
            return self.admit_locally(now_ms, claims, id);
        }
        let mut inv = self.admit_script.prepare_invoke();
        inv.key(self.ticket_key(&id));
        for b in &claims.budgets {
            inv.key(self.budget_key(&b.key, b.period.start_ms));
        }
        for r in &claims.rates {
            let (log, sum) = self.rate_keys(&r.key);
            inv.key(log).key(sum);
        }
        for f in &claims.in_flight {
            inv.key(self.in_flight_key(&f.key));
        }
        inv.arg(now_ms)
            .arg(&id)
            .arg(claims.budgets.len())
            .arg(claims.rates.len())
            .arg(claims.in_flight.len())
            .arg(TICKET_TTL_MS)
            .arg(IN_FLIGHT_STALE_MS)
            .arg(IN_FLIGHT_TTL_MS);
        for b in &claims.budgets {
            inv.arg(b.limit_micros)
                .arg(b.amount_micros.max(0))
                .arg(expire_at(b.period));
        }
        for r in &claims.rates {
            inv.arg(r.window_ms.max(1)).arg(r.limit).arg(r.amount);
        }
        for f in &claims.in_flight {
            inv.arg(f.max);
        }
        let reply = self.invoke::<Vec<i64>>(&inv).await;
        match reply.and_then(|r| decode_admission(r, claims)) {
            Ok(Ok(used)) => {
                self.remember_used(claims, &used);
                Ok(Ticket::new(id, false, claims))
            }
            Ok(Err(refusal)) => Err(refusal),
            Err(e) => {
                self.mark_degraded(&e);
                // The script may have run before its answer was lost: release it on replay
                // (a no-op if it never ran, as no ticket record exists then).
                let maybe = Ticket::new(id.clone(), false, claims);
                let op = self.settle_op(&maybe, now_ms, 0, &[]);
                lock(&self.deltas).queue.push_back(Replay::Settle(op));
                self.admit_locally(now_ms, claims, id)
            }
        }
    }

    /// Admission while Redis is unreachable: refused (fail-closed) or decided on the local
    /// counters, with the rate entries kept for replay (fail-open).
    fn admit_locally(&self, now_ms: i64, claims: &Claims, id: String) -> Result<Ticket, Refusal> {
        if self.policy == FailurePolicy::FailClosed {
            return Err(Refusal::Unavailable);
        }
        self.fallback_admissions.fetch_add(1, Ordering::Relaxed);
        // Start each budget from what Redis last said it had used, not from zero: an
        // instance alone can then spend only the headroom that was left.
        {
            let known = lock(&self.last_used);
            for b in &claims.budgets {
                if let Some(used) = known.get(&(b.key.clone(), b.period.start_ms)) {
                    self.local.raise_used(&b.key, b.period, *used);
                }
            }
        }
        self.local.admit(now_ms, claims, &id)?;
        let mut deltas = lock(&self.deltas);
        for r in claims.rates.iter().filter(|r| r.amount > 0) {
            deltas.add_rate(self.rate_keys(&r.key), r.window_ms.max(1), now_ms, r.amount);
        }
        drop(deltas);
        Ok(Ticket::new(id, true, claims))
    }

    /// Keep the used amounts an admission returned (bounded: emptied when full).
    fn remember_used(&self, claims: &Claims, used: &[i64]) {
        let mut known = lock(&self.last_used);
        if known.len() >= LAST_USED_MAX {
            known.clear();
        }
        for (b, u) in claims.budgets.iter().zip(used) {
            known.insert((b.key.clone(), b.period.start_ms), *u);
        }
    }

    fn settle_op(
        &self,
        ticket: &Ticket,
        now_ms: i64,
        actual_micros: i64,
        rate_extra: &[u64],
    ) -> SettleOp {
        SettleOp {
            ticket_key: self.ticket_key(&ticket.id),
            id: ticket.id.clone(),
            now_ms,
            actual_micros,
            budgets: ticket
                .budgets
                .iter()
                .map(|b| BudgetOp {
                    key: self.budget_key(&b.key, b.period.start_ms),
                    amount: b.amount_micros,
                    expire_at: expire_at(b.period),
                })
                .collect(),
            rates: ticket
                .rates
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let (log, sum) = self.rate_keys(&r.key);
                    let extra = rate_extra.get(i).copied().filter(|&x| x > 0);
                    RateOp {
                        log,
                        sum,
                        window_ms: r.window_ms,
                        entries: extra.map(|x| (now_ms, x)).into_iter().collect(),
                    }
                })
                .collect(),
            in_flight: ticket
                .in_flight
                .iter()
                .map(|k| self.in_flight_key(k))
                .collect(),
        }
    }

    pub(super) async fn settle(
        &self,
        ticket: Ticket,
        now_ms: i64,
        actual_micros: i64,
        rate_extra: &[u64],
    ) {
        let actual = actual_micros.max(0);
        if ticket.local {
            // Admitted on local counters: settle there, and owe Redis what was counted.
            self.local.settle(&ticket, now_ms, actual, rate_extra);
            let mut deltas = lock(&self.deltas);
            if actual > 0 {
                for b in &ticket.budgets {
                    let key = self.budget_key(&b.key, b.period.start_ms);
                    deltas.add_used(key, actual, expire_at(b.period));
                }
            }
            for (r, &extra) in ticket.rates.iter().zip(rate_extra) {
                if extra > 0 {
                    deltas.add_rate(self.rate_keys(&r.key), r.window_ms, now_ms, extra);
                }
            }
            return;
        }
        let op = self.settle_op(&ticket, now_ms, actual, rate_extra);
        if self.degraded() {
            lock(&self.deltas).queue.push_back(Replay::Settle(op));
            return;
        }
        if let Err(e) = self.apply_settle(&op).await {
            tracing::debug!(ticket = %ticket.id, error = %e, "governance ledger: settle kept for replay");
            self.mark_degraded(&e);
            lock(&self.deltas).queue.push_back(Replay::Settle(op));
        }
    }

    async fn apply_settle(&self, op: &SettleOp) -> Result<(), CallError> {
        let mut inv = self.settle_script.prepare_invoke();
        inv.key(&op.ticket_key);
        for b in &op.budgets {
            inv.key(&b.key);
        }
        for r in &op.rates {
            inv.key(&r.log).key(&r.sum);
        }
        for key in &op.in_flight {
            inv.key(key);
        }
        inv.arg(op.now_ms)
            .arg(&op.id)
            .arg(op.budgets.len())
            .arg(op.rates.len())
            .arg(op.in_flight.len())
            .arg(op.actual_micros);
        for b in &op.budgets {
            inv.arg(b.amount).arg(b.expire_at);
        }
        for r in &op.rates {
            let extra = r.entries.front().map_or(0, |&(_, x)| x);
            inv.arg(r.window_ms).arg(extra);
        }
        self.invoke::<i64>(&inv).await.map(drop)
    }

    async fn apply_batch(&self, batch: &Batch) -> Result<(), CallError> {
        let mut inv = self.replay_script.prepare_invoke();
        inv.key(format!("{}d:{}", self.prefix, batch.id));
        for b in &batch.budgets {
            inv.key(&b.key);
        }
        for r in &batch.rates {
            inv.key(&r.log).key(&r.sum);
        }
        inv.arg(&batch.id)
            .arg(MARKER_TTL_MS)
            .arg(batch.budgets.len())
            .arg(batch.rates.len());
        for b in &batch.budgets {
            inv.arg(b.amount).arg(b.expire_at);
        }
        for r in &batch.rates {
            inv.arg(r.window_ms).arg(r.entries.len());
            for (t, amount) in &r.entries {
                inv.arg(*t).arg(*amount);
            }
        }
        self.invoke::<i64>(&inv).await.map(drop)
    }

    /// Replay everything owed to Redis, in order; stops at the first failure (what failed
    /// stays queued, and replays are idempotent, so trying again is safe).
    async fn flush(&self) -> Result<(), CallError> {
        let Ok(_only_one) = self.flushing.try_lock() else {
            return Ok(());
        };
        lock(&self.deltas).seal();
        loop {
            let next = lock(&self.deltas).queue.front().cloned();
            let Some(next) = next else {
                return Ok(());
            };
            match &next {
                Replay::Settle(op) => self.apply_settle(op).await?,
                Replay::Batch(batch) => self.apply_batch(batch).await?,
            }
            lock(&self.deltas).queue.pop_front();
        }
    }

    /// One look of the background task: while degraded (or owing deltas), at most once per
    /// second, check Redis, replay, and recover.
    async fn reconcile(&self) {
        let was_degraded = self.degraded();
        if !was_degraded && lock(&self.deltas).is_empty() {
            return;
        }
        {
            let mut last = lock(&self.last_attempt);
            if last.is_some_and(|t| t.elapsed() < RECONCILE_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        if was_degraded && let Err(e) = self.ping().await {
            tracing::debug!(error = %e, "governance ledger: Redis still unreachable");
            self.renew_connection();
            return;
        }
        match self.flush().await {
            Ok(()) => {
                if was_degraded && self.degraded.swap(false, Ordering::SeqCst) {
                    self.reconciliations.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        "governance ledger: Redis reachable again; local counts replayed"
                    );
                }
            }
            Err(e) => self.mark_degraded(&e),
        }
    }

    pub(super) async fn budget_usage(&self, key: &str, period: Period) -> BudgetUsage {
        if self.degraded() {
            return self.local.budget_usage(key, period);
        }
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.budget_key(key, period.start_ms))
            .arg("used")
            .arg("reserved");
        match self.query::<(Option<i64>, Option<i64>)>(&cmd).await {
            Ok((used, reserved)) => BudgetUsage {
                used_micros: used.unwrap_or(0),
                reserved_micros: reserved.unwrap_or(0),
            },
            Err(e) => {
                self.mark_degraded(&e);
                self.local.budget_usage(key, period)
            }
        }
    }

    pub(super) async fn rate_usage(&self, key: &str, window_ms: i64, now_ms: i64) -> u64 {
        if self.degraded() {
            return self.local.rate_usage(key, window_ms, now_ms);
        }
        let (log, _) = self.rate_keys(key);
        let mut cmd = redis::cmd("ZRANGEBYSCORE");
        cmd.arg(log)
            .arg(format!("({}", now_ms.saturating_sub(window_ms.max(1))))
            .arg("+inf");
        match self.query::<Vec<String>>(&cmd).await {
            Ok(members) => members
                .iter()
                .filter_map(|m| m.rsplit(':').next()?.parse::<u64>().ok())
                .fold(0u64, u64::saturating_add),
            Err(e) => {
                self.mark_degraded(&e);
                self.local.rate_usage(key, window_ms, now_ms)
            }
        }
    }
}

/// The admission script's reply: `Ok(Ok(()))` admitted, `Ok(Err(_))` refused.
/// An admission's reply: admitted with each budget's used amount, or a refusal.
fn decode_admission(
    reply: Vec<i64>,
    claims: &Claims,
) -> Result<Result<Vec<i64>, Refusal>, CallError> {
    let index = |i: i64| usize::try_from(i).ok();
    let refusal = match reply.as_slice() {
        [0, used @ ..] if used.len() == claims.budgets.len() => return Ok(Ok(used.to_vec())),
        &[1, i, used, reserved] => index(i)
            .and_then(|index| claims.budgets.get(index).map(|b| (index, b)))
            .map(|(index, b)| Refusal::Budget {
                index,
                used_micros: used,
                reserved_micros: reserved,
                limit_micros: b.limit_micros,
            }),
        &[2, i, retry_after_ms] => {
            index(i)
                .filter(|&index| index < claims.rates.len())
                .map(|index| Refusal::Rate {
                    index,
                    retry_after_ms: retry_after_ms.max(1),
                })
        }
        &[3, i] => index(i)
            .filter(|&index| index < claims.in_flight.len())
            .map(|index| Refusal::InFlight { index }),
        _ => None,
    };
    refusal.map(Err).ok_or(CallError::Reply(reply))
}

/// A call to Redis, bounded by [`CALL_TIMEOUT`] whatever the connection is doing.
async fn bounded<T>(call: impl Future<Output = redis::RedisResult<T>>) -> Result<T, CallError> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(reply) => Ok(reply?),
        Err(_) => Err(CallError::Timeout(CALL_TIMEOUT)),
    }
}

/// The background task: exits once the ledger is dropped.
async fn maintain(ledger: Weak<RedisLedger>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let Some(ledger) = ledger.upgrade() else {
            return;
        };
        ledger.reconcile().await;
    }
}

#[cfg(test)]
mod tests {
    use super::super::BudgetClaim;
    use super::*;

    #[test]
    fn deltas_merge_trim_and_seal_in_bounded_batches() {
        let mut d = Deltas::default();
        d.add_used("b:x:0".into(), 5, 10);
        d.add_used("b:x:0".into(), 7, 10);
        for k in 0..1_500 {
            d.add_used(format!("b:k{k}:0"), 1, 0);
        }
        for t in 0..3_000 {
            d.add_rate(("r:y".into(), "rs:y".into()), 1_000, t, 1);
        }
        // Only the entries still in the newest entry's window are kept.
        assert_eq!(d.rates.get("r:y").map(|r| r.entries.len()), Some(1_000));
        d.seal();
        assert!(d.used.is_empty() && d.rates.is_empty() && d.queue.len() >= 2);
        let (mut used, mut entries) = (0, 0);
        for replay in &d.queue {
            let Replay::Batch(b) = replay else {
                panic!("only batches were sealed");
            };
            used += b.budgets.iter().map(|b| b.amount).sum::<i64>();
            entries += b.rates.iter().map(|r| r.entries.len()).sum::<usize>();
            let rate_items: usize = b.rates.iter().map(|r| 1 + r.entries.len()).sum();
            let items = b.budgets.len() + rate_items;
            // Cut as soon as a batch is full: at most one item (here ≤ 1_001) past the bound.
            assert!(items < BATCH_ITEMS + 1_001, "{items} items");
        }
        assert_eq!((used, entries), (12 + 1_500, 1_000));
        // Budget counters expire a week after their period; never-ending ones never.
        let day = Period {
            start_ms: 0,
            end_ms: 86_400_000,
        };
        assert_eq!(expire_at(day), 86_400_000 + BUDGET_GRACE_MS);
        let forever = Period {
            start_ms: 0,
            end_ms: i64::MAX,
        };
        assert_eq!(expire_at(forever), 0);
    }

    #[test]
    fn admission_replies_decode_to_refusals() {
        let forever = Period {
            start_ms: 0,
            end_ms: i64::MAX,
        };
        let claims = Claims {
            budgets: vec![BudgetClaim {
                key: "k".into(),
                period: forever,
                limit_micros: 9,
                amount_micros: 1,
            }],
            ..Claims::default()
        };
        assert!(matches!(decode_admission(vec![0, 3], &claims), Ok(Ok(u)) if u == [3]));
        assert!(decode_admission(vec![0], &claims).is_err());
        let budget = Refusal::Budget {
            index: 0,
            used_micros: 4,
            reserved_micros: 5,
            limit_micros: 9,
        };
        assert!(matches!(decode_admission(vec![1, 0, 4, 5], &claims), Ok(Err(r)) if r == budget));
        // An index the claims don't have is a broken reply, not a refusal.
        assert!(decode_admission(vec![2, 0, 5], &claims).is_err());
        assert!(decode_admission(vec![7], &claims).is_err());
    }
}
