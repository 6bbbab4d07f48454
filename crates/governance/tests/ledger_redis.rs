//! The Redis ledger against a real Redis (127.0.0.1:6379): exactness across instances, and
//! what an outage does.
//!
//! Why these tests exist: the ledger's promise is that budgets and rate limits hold exactly
//! across several gateway instances sharing one Redis, and that an outage loses nothing
//! acknowledged. Only many concurrent admissions through separate connections, and a real
//! connection cut (a TCP proxy in the test switched off and on), can show either. Every test
//! uses its own random key prefix and deletes its keys at the end (even on failure).
#![allow(clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use heimdall_governance::ledger::{
    BudgetClaim, BudgetUsage, Claims, FailurePolicy, InFlightClaim, Ledger, Period, RateClaim,
    Refusal,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

const REDIS: &str = "127.0.0.1:6379";
const FOREVER: Period = Period {
    start_ms: 0,
    end_ms: i64::MAX,
};

fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since.as_millis()).expect("fits")
}

/// A random key prefix; its keys are deleted when this is dropped.
struct Keys(String);

impl Keys {
    fn new() -> Self {
        Self(format!("heimdall:test:{}:", uuid::Uuid::new_v4().simple()))
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(format!("redis://{REDIS}/")) else {
            return;
        };
        let Ok(mut conn) = client.get_connection() else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.0))
            .query(&mut conn)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}

async fn ledger(url: &str, keys: &Keys, policy: FailurePolicy) -> Ledger {
    Ledger::redis(url, &keys.0, policy)
        .await
        .expect("valid URL")
}

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

/// Something random enough for a delay, without another dependency.
fn jitter_ms(max: u64) -> u64 {
    u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % max
}

fn assert_send<T: Send>(_: &T) {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_holds_exactly_across_three_instances() {
    let keys = Keys::new();
    let url = format!("redis://{REDIS}/");
    let ledgers = [
        ledger(&url, &keys, FailurePolicy::FailOpen).await,
        ledger(&url, &keys, FailurePolicy::FailOpen).await,
        ledger(&url, &keys, FailurePolicy::FailOpen).await,
    ];
    assert!(
        ledgers
            .iter()
            .all(|l| !l.degraded() && l.backend() == "redis")
    );
    // A $1.00 budget, 300 requests of 1 cent each, all at once over the three instances.
    let claims = Arc::new(budget("vk:dollar", 1_000_000, 10_000));
    let admit = ledgers[0].admit(now_ms(), &claims);
    assert_send(&admit);
    drop(admit);

    let mut tasks = JoinSet::new();
    for i in 0..300 {
        let ledger = ledgers[i % 3].clone();
        let claims = claims.clone();
        tasks.spawn(async move {
            match ledger.admit(now_ms(), &claims).await {
                Ok(ticket) => {
                    assert!(!ticket.is_local());
                    tokio::time::sleep(Duration::from_millis(jitter_ms(20))).await;
                    ledger.settle(ticket, now_ms(), 10_000, &[]).await;
                    Ok(())
                }
                Err(refusal) => Err(refusal),
            }
        });
    }
    let (mut admitted, mut refused) = (0i64, 0i64);
    while let Some(outcome) = tasks.join_next().await {
        match outcome.expect("task ran") {
            Ok(()) => admitted += 1,
            Err(Refusal::Budget {
                index: 0,
                limit_micros: 1_000_000,
                ..
            }) => refused += 1,
            Err(other) => panic!("unexpected refusal {other:?}"),
        }
    }
    // Headroom rule: admitted while used + reserved < limit, each taking 10_000.
    assert!(
        admitted * 10_000 <= 1_000_000 + 10_000,
        "{admitted} admitted"
    );
    assert_eq!(admitted, 100);
    assert_eq!(refused, 300 - admitted);
    for l in &ledgers {
        assert_eq!(l.stats().fallback_admissions, 0);
        assert_eq!(
            l.budget_usage("vk:dollar", FOREVER).await,
            BudgetUsage {
                used_micros: admitted * 10_000,
                reserved_micros: 0
            }
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_holds_exactly_across_three_instances() {
    let keys = Keys::new();
    let url = format!("redis://{REDIS}/");
    let ledgers = [
        ledger(&url, &keys, FailurePolicy::FailOpen).await,
        ledger(&url, &keys, FailurePolicy::FailOpen).await,
        ledger(&url, &keys, FailurePolicy::FailOpen).await,
    ];
    let claims = Arc::new(Claims {
        rates: vec![RateClaim {
            key: "vk:rpm".into(),
            window_ms: 60_000,
            limit: 100,
            amount: 1,
        }],
        ..Claims::default()
    });
    let mut tasks = JoinSet::new();
    for i in 0..300 {
        let ledger = ledgers[i % 3].clone();
        let claims = claims.clone();
        tasks.spawn(async move {
            let now = now_ms();
            let outcome = ledger.admit(now, &claims).await;
            match outcome {
                Ok(ticket) => {
                    ledger.release(ticket, now).await;
                    None
                }
                Err(refusal) => Some(refusal),
            }
        });
    }
    let (mut admitted, mut refused) = (0, 0);
    while let Some(outcome) = tasks.join_next().await {
        match outcome.expect("task ran") {
            None => admitted += 1,
            Some(Refusal::Rate {
                index: 0,
                retry_after_ms,
            }) => {
                // Entries carry their admitter's clock (and a window/64 bucket's latest
                // time): a few ms past the window is the callers' skew.
                assert!((1..=61_000).contains(&retry_after_ms), "{retry_after_ms}");
                refused += 1;
            }
            Some(other) => panic!("unexpected refusal {other:?}"),
        }
    }
    assert_eq!((admitted, refused), (100, 200));
    assert_eq!(ledgers[1].rate_usage("vk:rpm", 60_000, now_ms()).await, 100);
    // Sliding, not fixed: a minute later (as the caller's clock says) the window is free.
    let later = now_ms() + 60_001;
    assert_eq!(ledgers[2].rate_usage("vk:rpm", 60_000, later).await, 0);
    assert!(ledgers[2].admit(later, &claims).await.is_ok());

    // In-flight caps hold across instances too.
    let cap = Arc::new(Claims {
        in_flight: vec![InFlightClaim {
            key: "vk:conc".into(),
            max: 5,
        }],
        ..Claims::default()
    });
    let mut held = Vec::new();
    for i in 0..30 {
        if let Ok(ticket) = ledgers[i % 3].admit(now_ms(), &cap).await {
            held.push((i % 3, ticket));
        }
    }
    assert_eq!(held.len(), 5);
    let (which, ticket) = held.pop().expect("five held");
    ledgers[which].release(ticket, now_ms()).await;
    assert!(ledgers[(which + 1) % 3].admit(now_ms(), &cap).await.is_ok());
}

/// A TCP proxy to Redis that can be cut (listener closed, connections dropped) and restored
/// on the same port.
struct Proxy {
    port: u16,
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("bound").port();
        Self {
            port,
            task: Some(heimdall_core::task::spawn(
                "test-redis-proxy",
                serve(listener),
            )),
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    async fn off(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    async fn on(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("rebind the same port");
        self.task = Some(heimdall_core::task::spawn(
            "test-redis-proxy",
            serve(listener),
        ));
    }
}

/// Accept and relay; aborting this task drops the listener and every relayed connection.
async fn serve(listener: TcpListener) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((mut inbound, _)) = accepted else { continue };
                conns.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(REDIS).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_open_outage_counts_locally_and_replays() {
    let keys = Keys::new();
    let mut proxy = Proxy::start().await;
    let ledger = ledger(&proxy.url(), &keys, FailurePolicy::FailOpen).await;
    // Reads straight from Redis, not through the proxy: what the other instances see.
    let observer = self::ledger(&format!("redis://{REDIS}/"), &keys, FailurePolicy::FailOpen).await;
    assert!(!ledger.degraded());
    let mut claims = budget("vk:outage", 1_000_000_000, 5_000);
    claims.rates.push(RateClaim {
        key: "vk:outage:rpm".into(),
        window_ms: 60_000,
        limit: 1_000,
        amount: 1,
    });
    let settled = AtomicU64::new(0);
    let settle = async |ticket, actual: i64| {
        ledger.settle(ticket, now_ms(), actual, &[]).await;
        settled.fetch_add(actual as u64, Ordering::SeqCst);
    };

    // Before: five admitted by Redis, two of them settled, three still in flight.
    let mut in_flight = Vec::new();
    for i in 0..5 {
        let ticket = ledger.admit(now_ms(), &claims).await.expect("admitted");
        assert!(!ticket.is_local());
        if i < 2 {
            settle(ticket, 1_000).await;
        } else {
            in_flight.push(ticket);
        }
    }
    assert_eq!(
        observer
            .budget_usage("vk:outage", FOREVER)
            .await
            .reserved_micros,
        15_000
    );

    // Outage: admitted locally, the Redis tickets' settles kept for replay.
    proxy.off().await;
    let cut = tokio::time::Instant::now();
    let mut local = Vec::new();
    for _ in 0..5 {
        let ticket = ledger
            .admit(now_ms(), &claims)
            .await
            .expect("fail-open admits");
        assert!(ticket.is_local());
        local.push(ticket);
    }
    assert!(ledger.degraded());
    assert_eq!(ledger.stats().fallback_admissions, 5);
    for ticket in in_flight.drain(..) {
        settle(ticket, 2_000).await;
    }
    for ticket in local.drain(..) {
        settle(ticket, 3_000).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // One more admitted and settled while down.
    let ticket = ledger
        .admit(now_ms(), &claims)
        .await
        .expect("fail-open admits");
    settle(ticket, 4_000).await;
    // Nothing reached Redis yet.
    let usage = observer.budget_usage("vk:outage", FOREVER).await;
    assert_eq!((usage.used_micros, usage.reserved_micros), (2_000, 15_000));
    tokio::time::sleep(Duration::from_millis(2_000).saturating_sub(cut.elapsed())).await;
    assert!(ledger.degraded(), "still degraded while Redis is cut");

    // Back: the ledger reconciles by itself and Redis holds everything settled.
    proxy.on().await;
    wait_until("reconciliation", async || !ledger.degraded()).await;
    let expected = i64::try_from(settled.load(Ordering::SeqCst)).expect("fits");
    assert_eq!(expected, 2 * 1_000 + 3 * 2_000 + 5 * 3_000 + 4_000);
    wait_until("replayed counters", async || {
        observer.budget_usage("vk:outage", FOREVER).await
            == BudgetUsage {
                used_micros: expected,
                reserved_micros: 0,
            }
    })
    .await;
    assert_eq!(
        observer.rate_usage("vk:outage:rpm", 60_000, now_ms()).await,
        11
    );
    assert!(ledger.stats().reconciliations >= 1);
    assert!(
        !ledger
            .admit(now_ms(), &claims)
            .await
            .expect("admitted")
            .is_local()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_refuses_while_cut_and_keeps_settles() {
    let keys = Keys::new();
    let mut proxy = Proxy::start().await;
    let ledger = ledger(&proxy.url(), &keys, FailurePolicy::FailClosed).await;
    let observer = self::ledger(&format!("redis://{REDIS}/"), &keys, FailurePolicy::FailOpen).await;
    let claims = budget("vk:closed", 1_000_000, 10_000);
    let held = ledger.admit(now_ms(), &claims).await.expect("admitted");

    proxy.off().await;
    for _ in 0..3 {
        assert_eq!(
            ledger
                .admit(now_ms(), &claims)
                .await
                .expect_err("fail-closed"),
            Refusal::Unavailable
        );
    }
    assert!(ledger.degraded());
    assert_eq!(ledger.stats().fallback_admissions, 0);
    ledger.settle(held, now_ms(), 7_000, &[]).await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(
        ledger
            .admit(now_ms(), &claims)
            .await
            .expect_err("still cut"),
        Refusal::Unavailable
    );

    proxy.on().await;
    wait_until("reconciliation", async || !ledger.degraded()).await;
    assert_eq!(
        observer.budget_usage("vk:closed", FOREVER).await,
        BudgetUsage {
            used_micros: 7_000,
            reserved_micros: 0
        }
    );
    let ticket = ledger
        .admit(now_ms(), &claims)
        .await
        .expect("admitted again");
    ledger.release(ticket, now_ms()).await;
}

#[tokio::test]
async fn starts_degraded_when_redis_is_down_and_rejects_bad_urls() {
    assert!(
        Ledger::redis("not a url", "x:", FailurePolicy::FailOpen)
            .await
            .is_err()
    );
    // Nothing listens on a port just released.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("bound").port()
    };
    let keys = Keys::new();
    let url = format!("redis://127.0.0.1:{port}/");
    let ledger = ledger(&url, &keys, FailurePolicy::FailOpen).await;
    assert!(ledger.degraded());
    let ticket = ledger
        .admit(now_ms(), &budget("vk:down", 100, 10))
        .await
        .expect("fail-open admits locally");
    assert!(ticket.is_local());
    ledger.release(ticket, now_ms()).await;
    assert_eq!(ledger.stats().fallback_admissions, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_starts_from_what_redis_last_reported_not_from_zero() {
    let keys = Keys::new();
    let mut proxy = Proxy::start().await;
    let ledger = ledger(&proxy.url(), &keys, FailurePolicy::FailOpen).await;
    // 70 of 100 spent through Redis.
    let claims = budget("vk:seeded", 100, 10);
    for _ in 0..7 {
        let t = ledger.admit(now_ms(), &claims).await.expect("headroom");
        ledger.settle(t, now_ms(), 10, &[]).await;
    }
    // One more admission reports the 70 used.
    let t = ledger.admit(now_ms(), &claims).await.expect("headroom");
    ledger.settle(t, now_ms(), 10, &[]).await;
    proxy.off().await;
    // Counting locally, the instance starts from the 70 Redis reported (plus its own 10): at
    // most the headroom that was left is spent during the outage, not a whole budget.
    let mut admitted = 0;
    for _ in 0..20 {
        match ledger.admit(now_ms(), &claims).await {
            Ok(t) => {
                admitted += 1;
                ledger.settle(t, now_ms(), 10, &[]).await;
            }
            Err(Refusal::Budget { .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!(ledger.degraded());
    assert!(
        admitted <= 3,
        "{admitted} admitted locally past the last known 70 of 100"
    );
    proxy.on().await;
}
