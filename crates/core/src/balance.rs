//! Choosing among targets — keys inside a provider, providers inside a model group — by the
//! configured strategy: weighted, round-robin, least-latency (EWMA), adaptive (power of two
//! choices over peak-EWMA latency, in-flight count and error rate).
//!
//! Why this shape: the choice runs on every request, so it allocates nothing and takes no lock.
//! Candidates are given by a closure over indices (eligibility, weight and live statistics),
//! statistics are atomics updated after each attempt. Races between concurrent updates only
//! blur an average, which the strategies tolerate by design.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use heimdall_config::Strategy;

static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Milliseconds since the process's first use of the clock.
pub fn now_ms() -> u64 {
    u64::try_from(EPOCH.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// EWMA weight of a new latency sample (least-latency).
const EWMA_ALPHA: f64 = 0.2;
/// Decay time constant of the peak-EWMA (adaptive).
const PEAK_DECAY_MS: f64 = 10_000.0;
/// EWMA weight of a new success/failure sample.
const ERROR_ALPHA: f64 = 0.1;
/// How strongly the recent error rate inflates a target's cost (adaptive).
const ERROR_PENALTY: f64 = 25.0;

/// Live statistics of one target.
#[derive(Debug)]
pub struct Stats {
    ewma_us: AtomicU64,
    peak_us: AtomicU64,
    peak_at_ms: AtomicU64,
    error_rate: AtomicU64,
    samples: AtomicU64,
    inflight: AtomicU32,
}

fn load_f64(a: &AtomicU64) -> f64 {
    f64::from_bits(a.load(Ordering::Relaxed))
}

fn store_f64(a: &AtomicU64, v: f64) {
    a.store(v.to_bits(), Ordering::Relaxed);
}

/// Counts an attempt in flight until dropped.
#[derive(Debug)]
pub struct InFlight<'a>(&'a AtomicU32);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

impl Stats {
    /// Take over `other`'s measurements (not its in-flight count: those requests finish on
    /// `other`).
    pub fn carry_from(&self, other: &Stats) {
        for (to, from) in [
            (&self.ewma_us, &other.ewma_us),
            (&self.peak_us, &other.peak_us),
            (&self.peak_at_ms, &other.peak_at_ms),
            (&self.error_rate, &other.error_rate),
            (&self.samples, &other.samples),
        ] {
            to.store(from.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    /// Never measured.
    pub const fn new() -> Self {
        Self {
            ewma_us: AtomicU64::new(0),
            peak_us: AtomicU64::new(0),
            peak_at_ms: AtomicU64::new(0),
            error_rate: AtomicU64::new(0),
            samples: AtomicU64::new(0),
            inflight: AtomicU32::new(0),
        }
    }

    /// Mark an attempt as started; it counts as in flight until the guard drops.
    pub fn begin(&self) -> InFlight<'_> {
        self.inflight.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.inflight)
    }

    /// Record an attempt's outcome. A failure's latency is not a sample of serving speed (a
    /// fast 503 must not attract traffic), so only its error counts.
    pub fn observe(&self, latency: Duration, ok: bool) {
        let err = load_f64(&self.error_rate);
        store_f64(
            &self.error_rate,
            err * (1.0 - ERROR_ALPHA) + if ok { 0.0 } else { ERROR_ALPHA },
        );
        if !ok {
            return;
        }
        let us = latency.as_secs_f64() * 1e6;
        let first = self.samples.fetch_add(1, Ordering::Relaxed) == 0;
        let ewma = load_f64(&self.ewma_us);
        store_f64(
            &self.ewma_us,
            if first {
                us
            } else {
                ewma * (1.0 - EWMA_ALPHA) + us * EWMA_ALPHA
            },
        );
        let now = now_ms();
        let last = self.peak_at_ms.swap(now, Ordering::Relaxed);
        let peak = load_f64(&self.peak_us);
        let decay = (-(now.saturating_sub(last) as f64) / PEAK_DECAY_MS).exp();
        let decayed = peak * decay + us * (1.0 - decay);
        store_f64(&self.peak_us, if first { us } else { decayed.max(us) });
    }

    /// EWMA latency in microseconds (0 before the first success).
    pub fn latency_us(&self) -> f64 {
        load_f64(&self.ewma_us)
    }

    /// Recent error rate in `[0, 1]`.
    pub fn error_rate(&self) -> f64 {
        load_f64(&self.error_rate)
    }

    /// Attempts in flight now.
    pub fn inflight(&self) -> u32 {
        self.inflight.load(Ordering::Relaxed)
    }

    /// Successful samples so far.
    pub fn samples(&self) -> u64 {
        self.samples.load(Ordering::Relaxed)
    }

    /// Adaptive cost: peak latency × load × error penalty. Untried targets cost nothing, so
    /// each is tried early.
    fn cost(&self, weight: f64) -> f64 {
        let peak = load_f64(&self.peak_us);
        let load = f64::from(self.inflight()) + 1.0;
        let cost = peak * load * (1.0 + ERROR_PENALTY * self.error_rate());
        if weight > 0.0 { cost / weight } else { cost }
    }
}

/// One eligible candidate: its weight and statistics.
pub type Candidate<'a> = Option<(f64, &'a Stats)>;

/// The `k`-th eligible candidate's index.
fn nth<'a>(n: usize, cand: &impl Fn(usize) -> Candidate<'a>, k: usize) -> Option<usize> {
    (0..n).filter(|&i| cand(i).is_some()).nth(k)
}

/// Pick one of `n` targets; `cand(i)` is `None` for ineligible ones. `r1`, `r2` are uniform in
/// `[0, 1)`; `turn` is the round-robin counter of this target set.
pub fn choose<'a>(
    strategy: Strategy,
    n: usize,
    cand: impl Fn(usize) -> Candidate<'a>,
    turn: &AtomicUsize,
    r1: f64,
    r2: f64,
) -> Option<usize> {
    let mut count = 0usize;
    let mut total = 0.0f64;
    let mut only = None;
    for i in 0..n {
        if let Some((w, _)) = cand(i) {
            count += 1;
            total += w.max(0.0);
            only = Some(i);
        }
    }
    if count <= 1 {
        return only;
    }
    let pos = |r: f64, of: usize| ((r * of as f64) as usize).min(of - 1);
    match strategy {
        Strategy::Weighted => {
            if total <= 0.0 {
                return nth(n, &cand, pos(r1, count));
            }
            let mut left = r1 * total;
            let mut last = None;
            for i in 0..n {
                if let Some((w, _)) = cand(i) {
                    let w = w.max(0.0);
                    if w > 0.0 {
                        last = Some(i);
                        if left < w {
                            return Some(i);
                        }
                        left -= w;
                    }
                }
            }
            last
        }
        Strategy::RoundRobin => nth(n, &cand, turn.fetch_add(1, Ordering::Relaxed) % count),
        Strategy::LeastLatency => {
            // Start the scan at a rotating position so ties (e.g. all untried) spread.
            let start = turn.fetch_add(1, Ordering::Relaxed) % n;
            let mut best: Option<(usize, f64)> = None;
            for i in (start..n).chain(0..start) {
                if let Some((_, s)) = cand(i) {
                    let l = s.latency_us();
                    if best.is_none_or(|(_, b)| l < b) {
                        best = Some((i, l));
                    }
                }
            }
            best.map(|(i, _)| i)
        }
        Strategy::Adaptive => {
            let a = pos(r1, count);
            let mut b = pos(r2, count - 1);
            if b >= a {
                b += 1;
            }
            let (ia, ib) = (nth(n, &cand, a)?, nth(n, &cand, b)?);
            let cost = |i: usize| cand(i).map_or(f64::INFINITY, |(w, s)| s.cost(w));
            Some(if cost(ib) < cost(ia) { ib } else { ia })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(n: usize) -> Vec<Stats> {
        (0..n).map(|_| Stats::default()).collect()
    }

    #[test]
    fn weighted_split_follows_weights_over_10k_selections() {
        let s = stats(3);
        let weights = [0.6, 0.3, 0.1];
        let turn = AtomicUsize::new(0);
        let mut hits = [0usize; 3];
        let n = 10_000;
        for _ in 0..n {
            let i = choose(
                Strategy::Weighted,
                3,
                |i| Some((weights[i], &s[i])),
                &turn,
                rand::random(),
                rand::random(),
            )
            .unwrap();
            hits[i] += 1;
        }
        for (h, w) in hits.iter().zip(weights) {
            let expected = w * n as f64;
            let sd = (n as f64 * w * (1.0 - w)).sqrt();
            assert!(
                (*h as f64 - expected).abs() < 5.0 * sd,
                "{hits:?} vs weights {weights:?}"
            );
        }
    }

    #[test]
    fn round_robin_takes_turns_over_eligible_targets_only() {
        let s = stats(4);
        let turn = AtomicUsize::new(0);
        let picks: Vec<usize> = (0..6)
            .map(|_| {
                choose(
                    Strategy::RoundRobin,
                    4,
                    |i| (i != 2).then(|| (1.0, &s[i])),
                    &turn,
                    0.0,
                    0.0,
                )
                .unwrap()
            })
            .collect();
        assert_eq!(picks, [0, 1, 3, 0, 1, 3]);
    }

    #[test]
    fn least_latency_prefers_the_fastest_once_all_are_measured() {
        let s = stats(3);
        s[0].observe(Duration::from_millis(30), true);
        s[1].observe(Duration::from_millis(10), true);
        s[2].observe(Duration::from_millis(20), true);
        let turn = AtomicUsize::new(0);
        for _ in 0..10 {
            let i = choose(
                Strategy::LeastLatency,
                3,
                |i| Some((1.0, &s[i])),
                &turn,
                0.5,
                0.5,
            );
            assert_eq!(i, Some(1));
        }
        // A failure does not make a target look fast.
        s[2].observe(Duration::from_micros(1), false);
        assert!(s[2].latency_us() > 15_000.0);
    }

    #[test]
    fn adaptive_avoids_slow_and_failing_targets() {
        let s = stats(2);
        for _ in 0..5 {
            s[0].observe(Duration::from_millis(100), true);
            s[1].observe(Duration::from_millis(10), true);
        }
        let turn = AtomicUsize::new(0);
        let mut fast = 0;
        for _ in 0..1000 {
            let i = choose(
                Strategy::Adaptive,
                2,
                |i| Some((1.0, &s[i])),
                &turn,
                rand::random(),
                rand::random(),
            );
            fast += usize::from(i == Some(1));
        }
        assert_eq!(fast, 1000, "with two targets both are compared every time");
        for _ in 0..20 {
            s[1].observe(Duration::ZERO, false);
        }
        let i = choose(
            Strategy::Adaptive,
            2,
            |i| Some((1.0, &s[i])),
            &turn,
            0.1,
            0.9,
        );
        assert_eq!(i, Some(0), "a failing target costs more than a slow one");
    }

    #[test]
    fn a_single_or_no_candidate_needs_no_strategy() {
        let s = stats(2);
        let turn = AtomicUsize::new(0);
        assert_eq!(
            choose(
                Strategy::Adaptive,
                2,
                |i| (i == 1).then(|| (1.0, &s[i])),
                &turn,
                0.0,
                0.0
            ),
            Some(1)
        );
        assert_eq!(
            choose(Strategy::Weighted, 2, |_| None, &turn, 0.0, 0.0),
            None
        );
    }
}
