//! Key and provider selection run on every request: they must not allocate. A counting global
//! allocator checks it for every strategy.
#![allow(clippy::unwrap_used)]
// A counting global allocator is the one way to observe allocations; it only forwards.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use heimdall_config::{ConfigFormat, Strategy, parse_str};
use heimdall_core::balance::{Stats, choose};
use heimdall_core::keys::{KeyPicker, select_key};

struct Counting;

thread_local! {
    // Per thread: the test harness's own threads allocate while the test runs.
    static ALLOCATIONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn allocations() -> usize {
    ALLOCATIONS.with(std::cell::Cell::get)
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn selection_allocates_nothing() {
    let json = r#"{"providers": {"p": {"type": "openai", "keys": [
        {"name": "a", "value": "sk-a", "weight": 3},
        {"name": "b", "value": "sk-b", "weight": 1, "models": ["gpt-4o"]},
        {"name": "c", "value": "sk-c", "weight": 2, "models": ["other"]}]}}}"#;
    let env: std::collections::BTreeMap<String, String> = Default::default();
    let cfg = parse_str(json, ConfigFormat::Json, &env).unwrap().config;
    let provider = cfg.provider("p").unwrap();
    let stats: Vec<Stats> = (0..3).map(|_| Stats::new()).collect();
    stats[0].observe(Duration::from_millis(5), true);
    let turn = AtomicUsize::new(0);
    for strategy in [
        Strategy::Weighted,
        Strategy::RoundRobin,
        Strategy::LeastLatency,
        Strategy::Adaptive,
    ] {
        let before = allocations();
        let mut picked = 0usize;
        for i in 0..1000u32 {
            let r = f64::from(i) / 1000.0;
            let picker = KeyPicker {
                strategy,
                stats: &stats,
                turn: &turn,
                r1: r,
                r2: 1.0 - r,
            };
            picked += select_key(provider, "gpt-4o", &picker, |i| i == 2)
                .unwrap()
                .unwrap();
            picked += choose(
                strategy,
                3,
                |i| stats.get(i).map(|s| (1.0, s)),
                &turn,
                r,
                0.5,
            )
            .unwrap();
            stats[(i % 3) as usize].observe(Duration::from_micros(u64::from(i)), i % 7 != 0);
        }
        let after = allocations();
        assert!(picked > 0);
        assert_eq!(after - before, 0, "{strategy:?} allocated");
    }
}
