//! Micro-benchmarks of target selection: a key among a provider's keys by each strategy, and a
//! provider inside a model group. Runs on every request, so it must stay in the nanoseconds and
//! allocate nothing (`tests/alloc_free.rs` proves the latter).
//!
//! `cargo bench -p heimdall-core --bench selection`; CI runs it once as a smoke test
//! (`cargo bench ... -- --test`).
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use divan::{Bencher, black_box};
use heimdall_config::{ConfigFormat, GatewayConfig, Strategy, parse_str};
use heimdall_core::balance::{Stats, choose};
use heimdall_core::keys::{KeyPicker, select_key};

fn main() {
    divan::main();
}

fn config(keys: usize) -> GatewayConfig {
    let keys: Vec<serde_json::Value> = (0..keys)
        .map(|i| {
            serde_json::json!({"name": format!("k{i}"), "value": format!("sk-{i}"),
                "weight": 1.0 + i as f64, "models": if i % 3 == 2 { vec!["gpt-4o-mini"] } else { vec![] }})
        })
        .collect();
    let json =
        serde_json::json!({"providers": {"p": {"type": "openai", "keys": keys}}}).to_string();
    let env: std::collections::BTreeMap<String, String> = Default::default();
    parse_str(&json, ConfigFormat::Json, &env).unwrap().config
}

const STRATEGIES: [Strategy; 4] = [
    Strategy::Weighted,
    Strategy::RoundRobin,
    Strategy::LeastLatency,
    Strategy::Adaptive,
];

#[divan::bench(args = STRATEGIES, consts = [1, 4, 16])]
fn key<const N: usize>(bencher: Bencher, strategy: Strategy) {
    let cfg = config(N);
    let provider = cfg.provider("p").unwrap();
    let stats: Vec<Stats> = (0..N).map(|_| Stats::new()).collect();
    for (i, s) in stats.iter().enumerate() {
        s.observe(Duration::from_millis(10 + i as u64), true);
    }
    let turn = AtomicUsize::new(0);
    bencher.bench_local(|| {
        let picker = KeyPicker {
            strategy,
            stats: &stats,
            turn: &turn,
            r1: 0.37,
            r2: 0.81,
        };
        select_key(provider, black_box("gpt-4o"), &picker, |_| false).unwrap()
    });
}

#[divan::bench(args = STRATEGIES)]
fn provider_in_group(bencher: Bencher, strategy: Strategy) {
    let stats: Vec<Stats> = (0..3).map(|_| Stats::new()).collect();
    let turn = AtomicUsize::new(0);
    bencher.bench_local(|| {
        choose(
            strategy,
            3,
            |i| stats.get(i).map(|s| (1.0, s)),
            &turn,
            black_box(0.42),
            0.77,
        )
    });
}

#[divan::bench]
fn record_latency(bencher: Bencher) {
    let s = Stats::new();
    bencher.bench_local(|| s.observe(black_box(Duration::from_micros(1234)), true));
}
