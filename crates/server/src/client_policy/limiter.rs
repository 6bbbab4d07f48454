//! The per-client request counter behind `security.rateLimit`: sliding windows of 60 s and
//! 3,600 s per client key, in memory, bounded in size.
//!
//! Why slotted sliding windows and not GCRA or a token bucket: the setting promises "requests
//! in any 60 s" (and any 3,600 s). A token bucket admits a full burst and then refills, so a
//! client can send nearly twice the limit inside one window. Here each window is kept as
//! `SLOTS + 1` counters of `window / SLOTS` each, and a request is admitted only while the
//! counters covering at least the last full window sum to less than the limit: more than the
//! limit in any window is never admitted; the price is that a request is remembered up to one
//! slot (3 s of a minute, 3 min of an hour) longer than strictly needed. A client key costs
//! about 230 bytes whatever its limit, where an exact log of request times would cost 8 bytes
//! per request allowed in an hour.
//!
//! Bounded memory: a client whose windows are all empty again is dropped (swept once a
//! minute), and at most `max_clients` keys are tracked; past that the least recently seen are
//! evicted (their counts restart: a flood of made-up credentials can cost an evicted client
//! its history, never the gateway its memory — and each address is still counted on its own).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// Counters per window (one more is kept, so the counted span always covers a whole window).
const SLOTS: u64 = 20;
/// Ring length: `SLOTS` slots plus the one in progress.
const RING: usize = SLOTS as usize + 1;
/// The two windows, in milliseconds.
const MINUTE_MS: u64 = 60_000;
const HOUR_MS: u64 = 3_600_000;
/// How often idle clients are swept out.
const SWEEP_EVERY_MS: u64 = 60_000;
/// Keys tracked at most by default (a key is an address or a user, ~230 bytes each: about
/// 25 MB when full).
pub const DEFAULT_MAX_CLIENTS: usize = 100_000;

/// The limits in force for one request (read from the live config).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Requests in any 60 s.
    pub per_minute: Option<u32>,
    /// Requests in any 3,600 s.
    pub per_hour: Option<u32>,
}

/// The verdict on one request, with what the rate-limit headers show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Admitted (and counted).
    pub allowed: bool,
    /// The limit closest to being reached (`X-RateLimit-Limit`).
    pub limit: u32,
    /// Requests left under that limit after this one (`X-RateLimit-Remaining`).
    pub remaining: u32,
    /// When refused: whole seconds until the request would be admitted (≥ 1).
    pub retry_after_secs: u32,
}

/// Who a request is counted against: its address and, when it carries a credential, its user.
/// Both are opaque hashes (keyed per process): no address or credential is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientKeys {
    /// The address (an IPv6 client by its /64: one host holds a whole /64).
    pub ip: u64,
    /// The credential's hash, when one was sent.
    pub user: Option<u64>,
}

/// One window's counters: slot `k` (absolute, `time / slot width`) lives at `k % RING` while
/// `k > head - RING`.
#[derive(Debug, Clone, Copy)]
struct Ring {
    counts: [u32; RING],
    head: u64,
}

impl Ring {
    fn new(slot: u64) -> Self {
        Self {
            counts: [0; RING],
            head: slot,
        }
    }

    /// The oldest slot still counted when the newest is `now_slot`.
    fn oldest(now_slot: u64) -> u64 {
        now_slot.saturating_sub(SLOTS)
    }

    /// Requests counted at `now_slot` (covers at least the last whole window).
    fn count(&self, now_slot: u64) -> u64 {
        let from = Self::oldest(now_slot).max(self.head.saturating_sub(SLOTS));
        (from..=self.head.min(now_slot))
            .map(|k| u64::from(self.counts[slot_index(k)]))
            .sum()
    }

    /// Milliseconds from `now_ms` until `excess` counted requests have left the window.
    fn wait_ms(&self, excess: u64, now_slot: u64, slot_ms: u64, now_ms: u64) -> Option<u64> {
        let from = Self::oldest(now_slot).max(self.head.saturating_sub(SLOTS));
        let mut dropped = 0u64;
        for k in from..=self.head.min(now_slot) {
            dropped += u64::from(self.counts[slot_index(k)]);
            if dropped >= excess {
                // Slot k stops being counted once slot k + RING begins.
                let leaves = (k + RING as u64).saturating_mul(slot_ms);
                return Some(leaves.saturating_sub(now_ms));
            }
        }
        None
    }

    /// Count one request at `now_slot`.
    fn add(&mut self, now_slot: u64) {
        if now_slot > self.head {
            if now_slot - self.head >= RING as u64 {
                self.counts = [0; RING];
            } else {
                for k in self.head + 1..=now_slot {
                    self.counts[slot_index(k)] = 0;
                }
            }
            self.head = now_slot;
        }
        let c = &mut self.counts[slot_index(self.head)];
        *c = c.saturating_add(1);
    }
}

fn slot_index(k: u64) -> usize {
    // k % RING < RING: the conversion cannot fail.
    usize::try_from(k % RING as u64).unwrap_or(0)
}

/// One client key's windows (only those a limit was configured for are kept).
#[derive(Debug, Clone, Copy)]
struct Entry {
    minute: Option<Ring>,
    hour: Option<Ring>,
    last_ms: u64,
}

impl Entry {
    /// Every counted request has left its window.
    fn idle(&self, now_ms: u64) -> bool {
        let window = if self.hour.is_some() {
            HOUR_MS
        } else {
            MINUTE_MS
        };
        now_ms >= self.last_ms + window + window / SLOTS
    }
}

/// The one check of a (key, window) pair.
struct Check {
    limit: u32,
    count: u64,
    wait_ms: Option<u64>,
    window_ms: u64,
}

#[derive(Debug, Default)]
struct Inner {
    clients: HashMap<u64, Entry>,
    next_sweep_ms: u64,
}

/// Per-client request counts (see the module doc); shared by every request of a listener.
#[derive(Debug)]
pub struct ClientRateLimiter {
    inner: Mutex<Inner>,
    keys: RandomState,
    started: Instant,
    max_clients: usize,
}

impl Default for ClientRateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientRateLimiter {
    /// A limiter tracking at most [`DEFAULT_MAX_CLIENTS`] keys.
    pub fn new() -> Self {
        Self::with_max_clients(DEFAULT_MAX_CLIENTS)
    }

    /// A limiter tracking at most `max_clients` keys (at least 1).
    pub fn with_max_clients(max_clients: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            keys: RandomState::new(),
            started: Instant::now(),
            max_clients: max_clients.max(1),
        }
    }

    /// Keys tracked now (for tests and diagnostics).
    pub fn tracked(&self) -> usize {
        self.lock().clients.len()
    }

    /// The keys of a client: its address (`None`: unknown — all such requests share one key)
    /// and its credential, if any.
    pub fn keys(&self, ip: Option<IpAddr>, credential: Option<&[u8]>) -> ClientKeys {
        let ip = match ip.map(|ip| ip.to_canonical()) {
            Some(IpAddr::V4(v4)) => self.keys.hash_one((0u8, u128::from(u32::from(v4)))),
            // The /64 prefix: a single host is usually given a whole /64.
            Some(IpAddr::V6(v6)) => self
                .keys
                .hash_one((1u8, u128::from(v6) & !u128::from(u64::MAX))),
            None => self.keys.hash_one((2u8, 0u128)),
        };
        let user = credential.map(|c| self.keys.hash_one((3u8, c)));
        ClientKeys { ip, user }
    }

    /// Admit and count a request of `client`, or refuse it (then it is not counted).
    pub fn check(&self, client: ClientKeys, limits: Limits) -> Decision {
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.check_at(client, limits, now_ms)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The map holds counters only: one left half-updated by a panic is still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_at(&self, client: ClientKeys, limits: Limits, now_ms: u64) -> Decision {
        let keys = [Some(client.ip), client.user];
        let mut inner = self.lock();
        if now_ms >= inner.next_sweep_ms {
            inner.clients.retain(|_, e| !e.idle(now_ms));
            inner.next_sweep_ms = now_ms + SWEEP_EVERY_MS;
        }
        let windows = [(limits.per_minute, MINUTE_MS), (limits.per_hour, HOUR_MS)];
        let mut checks: Vec<Check> = Vec::with_capacity(4);
        for key in keys.iter().flatten() {
            let entry = inner.clients.get(key);
            for (limit, window_ms) in windows {
                let Some(limit) = limit else { continue };
                let slot_ms = window_ms / SLOTS;
                let now_slot = now_ms / slot_ms;
                let ring = entry.and_then(|e| {
                    if window_ms == MINUTE_MS {
                        e.minute
                    } else {
                        e.hour
                    }
                });
                let count = ring.map_or(0, |r| r.count(now_slot));
                let wait_ms = (count >= u64::from(limit))
                    .then(|| {
                        let excess = count + 1 - u64::from(limit);
                        ring.and_then(|r| r.wait_ms(excess, now_slot, slot_ms, now_ms))
                    })
                    .flatten();
                checks.push(Check {
                    limit,
                    count,
                    wait_ms,
                    window_ms,
                });
            }
        }
        let refused: Vec<&Check> = checks
            .iter()
            .filter(|c| c.count >= u64::from(c.limit))
            .collect();
        if !refused.is_empty() {
            // Admitted again only once every full window has room: wait for the longest.
            let (limit, wait_ms) = refused
                .iter()
                .map(|c| (c.limit, c.wait_ms.unwrap_or(c.window_ms)))
                .max_by_key(|(_, w)| *w)
                .unwrap_or((0, MINUTE_MS));
            let secs = wait_ms.div_ceil(1000).max(1);
            return Decision {
                allowed: false,
                limit,
                remaining: 0,
                retry_after_secs: u32::try_from(secs).unwrap_or(u32::MAX),
            };
        }
        for key in keys.iter().flatten() {
            self.make_room(&mut inner, *key, now_ms);
            let entry = inner.clients.entry(*key).or_insert(Entry {
                minute: None,
                hour: None,
                last_ms: now_ms,
            });
            entry.last_ms = now_ms;
            if limits.per_minute.is_some() {
                let slot = now_ms / (MINUTE_MS / SLOTS);
                entry
                    .minute
                    .get_or_insert_with(|| Ring::new(slot))
                    .add(slot);
            }
            if limits.per_hour.is_some() {
                let slot = now_ms / (HOUR_MS / SLOTS);
                entry.hour.get_or_insert_with(|| Ring::new(slot)).add(slot);
            }
        }
        let tightest = checks
            .iter()
            .map(|c| {
                let left = u64::from(c.limit).saturating_sub(c.count + 1);
                (u32::try_from(left).unwrap_or(u32::MAX), c.limit)
            })
            .min()
            .unwrap_or((u32::MAX, u32::MAX));
        Decision {
            allowed: true,
            limit: tightest.1,
            remaining: tightest.0,
            retry_after_secs: 0,
        }
    }

    /// Before `key` is added: when the table is full, drop idle clients, then the least
    /// recently seen sixteenth (so a flood of new keys pays for a scan once per many keys).
    fn make_room(&self, inner: &mut Inner, key: u64, now_ms: u64) {
        if inner.clients.len() < self.max_clients || inner.clients.contains_key(&key) {
            return;
        }
        inner.clients.retain(|_, e| !e.idle(now_ms));
        if inner.clients.len() < self.max_clients {
            return;
        }
        let mut by_age: Vec<(u64, u64)> =
            inner.clients.iter().map(|(k, e)| (e.last_ms, *k)).collect();
        let evict = (self.max_clients / 16).max(1).min(by_age.len());
        by_age.select_nth_unstable(evict - 1);
        for (_, k) in &by_age[..evict] {
            inner.clients.remove(k);
        }
        tracing::warn!(
            evicted = evict,
            max_clients = self.max_clients,
            "rate limiter full: least recently seen clients forgotten"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn per_minute(n: u32) -> Limits {
        Limits {
            per_minute: Some(n),
            per_hour: None,
        }
    }

    fn one_ip(l: &ClientRateLimiter, last: u8) -> ClientKeys {
        l.keys(Some(IpAddr::from([10, 0, 0, last])), None)
    }

    #[test]
    fn the_limit_plus_one_inside_a_window_is_refused() {
        let l = ClientRateLimiter::new();
        let k = one_ip(&l, 1);
        for i in 0..100u32 {
            let d = l.check_at(k, per_minute(100), 1_000 + u64::from(i) * 100);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 99 - i);
            assert_eq!(d.limit, 100);
        }
        // 100 requests from 1.0 s to 10.9 s; the 101st at 59 s is inside the same minute.
        let d = l.check_at(k, per_minute(100), 59_000);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        // The first slot (0–3 s) leaves the count when slot 21 begins, at 63 s.
        assert_eq!(d.retry_after_secs, 4);
        // Refusals are not counted; once the window has passed, requests are admitted again.
        assert!(!l.check_at(k, per_minute(100), 62_999).allowed);
        assert!(l.check_at(k, per_minute(100), 63_000).allowed);
    }

    #[test]
    fn never_more_than_the_limit_in_any_window() {
        let l = ClientRateLimiter::new();
        let k = one_ip(&l, 2);
        let mut admitted: Vec<u64> = Vec::new();
        // A request every 250 ms for 5 minutes against 30/min.
        for t in (0..300_000u64).step_by(250) {
            if l.check_at(k, per_minute(30), t).allowed {
                admitted.push(t);
            }
        }
        for (i, t) in admitted.iter().enumerate() {
            let in_window = admitted[i..]
                .iter()
                .take_while(|u| **u < t + 60_000)
                .count();
            assert!(
                in_window <= 30,
                "{in_window} admitted in the minute from {t}"
            );
        }
        // And the limit is used: at least 30 per 63 s on average.
        assert!(admitted.len() >= 30 * 300 / 63, "{}", admitted.len());
    }

    #[test]
    fn address_and_user_are_counted_on_their_own() {
        let l = ClientRateLimiter::new();
        let lim = per_minute(2);
        let a = l.keys(Some(IpAddr::from([10, 0, 0, 1])), Some(b"token-a"));
        let b = l.keys(Some(IpAddr::from([10, 0, 0, 1])), Some(b"token-b"));
        assert!(l.check_at(a, lim, 0).allowed);
        assert!(l.check_at(b, lim, 1).allowed);
        // The address has used its 2, whoever the user.
        assert!(!l.check_at(b, lim, 2).allowed);
        // User a from another address: a has 1 left.
        let a_elsewhere = l.keys(Some(IpAddr::from([10, 0, 0, 9])), Some(b"token-a"));
        assert!(l.check_at(a_elsewhere, lim, 3).allowed);
        assert!(!l.check_at(a_elsewhere, lim, 4).allowed);
    }

    #[test]
    fn the_hour_limit_applies_after_the_minute_ones_pass() {
        let l = ClientRateLimiter::new();
        let k = one_ip(&l, 3);
        let lim = Limits {
            per_minute: Some(5),
            per_hour: Some(7),
        };
        let admitted = (0..20u64)
            .filter(|i| l.check_at(k, lim, i * 20_000).allowed)
            .count();
        assert_eq!(admitted, 7);
        let d = l.check_at(k, lim, 400_000);
        assert!(!d.allowed);
        assert_eq!(d.limit, 7);
        assert!(d.retry_after_secs > 3_000, "{}", d.retry_after_secs);
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let l = ClientRateLimiter::new();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(l.keys(Some(a), None), l.keys(Some(b), None));
        assert_ne!(l.keys(Some(a), None), l.keys(Some(c), None));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(l.keys(Some(mapped), None), one_ip(&l, 1));
    }

    #[test]
    fn memory_is_bounded_and_idle_clients_leave() {
        let l = ClientRateLimiter::with_max_clients(64);
        for i in 0..1_000u32 {
            let k = l.keys(Some(IpAddr::from(i.to_be_bytes())), None);
            assert!(l.check_at(k, per_minute(10), u64::from(i)).allowed);
            assert!(l.tracked() <= 64);
        }
        // A minute and a slot later every window is empty: the next sweep drops them all.
        let k = one_ip(&l, 4);
        assert!(l.check_at(k, per_minute(10), 200_000).allowed);
        assert_eq!(l.tracked(), 1);
    }

    #[test]
    fn a_zero_limit_refuses_everything() {
        let l = ClientRateLimiter::new();
        let d = l.check_at(one_ip(&l, 5), per_minute(0), 0);
        assert!(!d.allowed);
        assert_eq!(d.retry_after_secs, 60);
    }
}
