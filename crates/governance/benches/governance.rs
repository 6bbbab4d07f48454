//! What governance costs per request, in pieces: the worst-case estimate (tokenizing a 1 KB
//! prompt of prose), and one admission + settlement in the memory ledger at three budget
//! levels and two sliding windows.
//!
//! `cargo bench -p heimdall-governance`; the whole-path figure (governed vs not, same run) is
//! `cargo bench -p heimdall-server --bench pipeline -- chat_` (docs/governance.md).
#![allow(clippy::unwrap_used, missing_docs)]

use divan::{Bencher, black_box};
use heimdall_core::GatewayRequest;
use heimdall_governance::estimate::estimate;
use heimdall_governance::ledger::{BudgetClaim, Claims, Ledger, Period, RateClaim};

fn main() {
    divan::main();
}

fn prose_request(salt: u64) -> GatewayRequest {
    let text = format!(
        "Request {salt}. {}",
        "Summarise the quarterly report for the engineering team, with the budget lines \
         that moved most and why. "
            .repeat(9)
    );
    GatewayRequest::Chat(
        serde_json::from_value(serde_json::json!({
            "model": "openai/gpt-4o", "max_tokens": 256,
            "messages": [{"role": "system", "content": "You are terse."},
                         {"role": "user", "content": text}]
        }))
        .unwrap(),
    )
}

/// Size a ~1 KB prose prompt never seen before: the tokenizer runs.
#[divan::bench]
fn estimate_1kb_prose_new(bencher: Bencher) {
    let _ = estimate(&prose_request(0)); // load the vocabulary outside the timing
    let mut salt = 1u64;
    bencher
        .with_inputs(|| {
            salt += 1;
            prose_request(salt)
        })
        .bench_local_refs(|req| black_box(estimate(req)));
}

/// Size the same prompt again (a conversation resending its history): the count is cached.
#[divan::bench]
fn estimate_1kb_prose_seen(bencher: Bencher) {
    let req = prose_request(0);
    let _ = estimate(&req);
    bencher.bench(|| black_box(estimate(black_box(&req))));
}

/// Admit and settle one request at three budget levels and two windows (memory ledger).
#[divan::bench]
fn admit_and_settle_memory(bencher: Bencher) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let ledger = Ledger::memory();
    let period = Period {
        start_ms: 0,
        end_ms: i64::MAX,
    };
    let budget = |k: &str| BudgetClaim {
        key: k.to_owned(),
        period,
        limit_micros: i64::MAX / 2,
        amount_micros: 10_000,
    };
    let claims = Claims {
        budgets: vec![budget("vk:a"), budget("team:b"), budget("customer:c")],
        rates: vec![
            RateClaim {
                key: "req:vk:a".into(),
                window_ms: 60_000,
                limit: u64::MAX / 2,
                amount: 1,
            },
            RateClaim {
                key: "tok:vk:a".into(),
                window_ms: 60_000,
                limit: u64::MAX / 2,
                amount: 250,
            },
        ],
        in_flight: Vec::new(),
    };
    let mut now = 1_000_000i64;
    bencher.bench_local(|| {
        now += 1;
        rt.block_on(async {
            let t = ledger.admit(now, &claims).await.unwrap();
            ledger.settle(t, now, 9_000, &[0, 40]).await;
        });
    });
}
