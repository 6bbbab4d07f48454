//! Circuit breakers for keys and providers.
//!
//! Why: a target that keeps failing should stop receiving traffic while healthy ones exist,
//! and get it back on its own once it recovers. A breaker opens after `unhealthy_threshold`
//! consecutive failures; after `open_for` it is half-open and lets traffic through as probes;
//! `healthy_threshold` consecutive successes close it, one failure re-opens it. The state is a
//! few atomics read on every target choice (no lock); changes are logged once, by whichever
//! request made them.

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use heimdall_config::HealthConfig;
use serde::Serialize;

use crate::balance::now_ms;

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

/// A breaker's state as seen now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Traffic flows.
    Closed,
    /// Skipped while healthy targets exist.
    Open,
    /// Open long enough: traffic probes it.
    HalfOpen,
}

/// One breaker.
#[derive(Debug, Default)]
pub struct Breaker {
    state: AtomicU8,
    /// Consecutive failures (closed) or successes (half-open).
    streak: AtomicU32,
    opened_at_ms: AtomicU64,
    total_failures: AtomicU64,
}

/// A change worth logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The breaker opened.
    Opened,
    /// The breaker closed again.
    Closed,
}

impl Breaker {
    /// Take over `other`'s state (a key that survived a configuration change keeps its
    /// circuit; times share one process-wide epoch).
    pub fn carry_from(&self, other: &Breaker) {
        for (to, from) in [
            (&self.opened_at_ms, &other.opened_at_ms),
            (&self.total_failures, &other.total_failures),
        ] {
            to.store(from.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        self.streak
            .store(other.streak.load(Ordering::Relaxed), Ordering::Relaxed);
        self.state
            .store(other.state.load(Ordering::Acquire), Ordering::Release);
    }

    /// The state now (an open breaker past its cooldown reads as half-open).
    pub fn state(&self, cfg: &HealthConfig) -> BreakerState {
        match self.state.load(Ordering::Acquire) {
            OPEN => {
                let opened = self.opened_at_ms.load(Ordering::Relaxed);
                let open_for = u64::try_from(cfg.open_for.as_millis()).unwrap_or(u64::MAX);
                if now_ms().saturating_sub(opened) >= open_for {
                    BreakerState::HalfOpen
                } else {
                    BreakerState::Open
                }
            }
            HALF_OPEN => BreakerState::HalfOpen,
            _ => BreakerState::Closed,
        }
    }

    /// Whether the target should get traffic while others are healthy.
    pub fn is_available(&self, cfg: &HealthConfig) -> bool {
        self.state(cfg) != BreakerState::Open
    }

    /// Consecutive failures (closed) or successes (half-open) so far.
    pub fn streak(&self) -> u32 {
        self.streak.load(Ordering::Relaxed)
    }

    /// Failures recorded since start.
    pub fn total_failures(&self) -> u64 {
        self.total_failures.load(Ordering::Relaxed)
    }

    /// Milliseconds (process clock) when it last opened; 0 if never.
    pub fn opened_at_ms(&self) -> u64 {
        self.opened_at_ms.load(Ordering::Relaxed)
    }

    /// Record a success; returns `Closed` when this closed the breaker.
    pub fn success(&self, cfg: &HealthConfig) -> Option<Transition> {
        match self.state(cfg) {
            BreakerState::Closed => {
                if self.streak.load(Ordering::Relaxed) != 0 {
                    self.streak.store(0, Ordering::Relaxed);
                }
                None
            }
            BreakerState::Open => None,
            BreakerState::HalfOpen => {
                if self.state.swap(HALF_OPEN, Ordering::AcqRel) == OPEN {
                    self.streak.store(0, Ordering::Relaxed);
                }
                let n = self.streak.fetch_add(1, Ordering::Relaxed) + 1;
                if n >= cfg.healthy_threshold
                    && self
                        .state
                        .compare_exchange(HALF_OPEN, CLOSED, Ordering::AcqRel, Ordering::Relaxed)
                        .is_ok()
                {
                    self.streak.store(0, Ordering::Relaxed);
                    return Some(Transition::Closed);
                }
                None
            }
        }
    }

    /// Record a failure; returns `Opened` when this opened the breaker.
    pub fn failure(&self, cfg: &HealthConfig) -> Option<Transition> {
        self.total_failures.fetch_add(1, Ordering::Relaxed);
        match self.state(cfg) {
            BreakerState::Open => None,
            BreakerState::HalfOpen => {
                self.open();
                Some(Transition::Opened)
            }
            BreakerState::Closed => {
                let n = self.streak.fetch_add(1, Ordering::Relaxed) + 1;
                if n >= cfg.unhealthy_threshold
                    && self
                        .state
                        .compare_exchange(CLOSED, OPEN, Ordering::AcqRel, Ordering::Relaxed)
                        .is_ok()
                {
                    self.opened_at_ms.store(now_ms().max(1), Ordering::Relaxed);
                    self.streak.store(0, Ordering::Relaxed);
                    return Some(Transition::Opened);
                }
                None
            }
        }
    }

    fn open(&self) {
        self.opened_at_ms.store(now_ms().max(1), Ordering::Relaxed);
        self.streak.store(0, Ordering::Relaxed);
        self.state.store(OPEN, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn cfg(open_ms: u64) -> HealthConfig {
        HealthConfig {
            unhealthy_threshold: 3,
            healthy_threshold: 2,
            open_for: Duration::from_millis(open_ms),
            ..HealthConfig::default()
        }
    }

    #[test]
    fn opens_after_n_consecutive_failures_only() {
        let c = cfg(60_000);
        let b = Breaker::default();
        assert_eq!(b.failure(&c), None);
        assert_eq!(b.failure(&c), None);
        assert_eq!(b.success(&c), None, "a success resets the streak");
        assert_eq!(b.failure(&c), None);
        assert_eq!(b.failure(&c), None);
        assert_eq!(b.failure(&c), Some(Transition::Opened));
        assert_eq!(b.state(&c), BreakerState::Open);
        assert!(!b.is_available(&c));
    }

    #[test]
    fn half_open_after_cooldown_then_closes_after_successes_or_reopens() {
        let c = cfg(20);
        let b = Breaker::default();
        for _ in 0..3 {
            b.failure(&c);
        }
        assert_eq!(b.state(&c), BreakerState::Open);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(b.state(&c), BreakerState::HalfOpen);
        assert_eq!(
            b.failure(&c),
            Some(Transition::Opened),
            "a failed probe re-opens"
        );
        assert_eq!(b.state(&c), BreakerState::Open);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(b.success(&c), None);
        assert_eq!(b.success(&c), Some(Transition::Closed));
        assert_eq!(b.state(&c), BreakerState::Closed);
    }
}
