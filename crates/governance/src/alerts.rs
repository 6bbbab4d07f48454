//! Budget threshold alerts: when a budget's spend crosses a configured fraction, one
//! structured log line, one metric increment and one webhook POST — once per threshold per
//! period, across every instance.
//!
//! Why "once" is kept in the ledger: the mark is a one-per-period rate entry, so with Redis
//! the instance that crosses first fires and the others see the mark; without Redis it is
//! once per instance, which is then the whole deployment.

use std::sync::OnceLock;
use std::time::Duration;

use crate::ledger::{Claims, Ledger, RateClaim};
use crate::plugin::HeldBudget;
use crate::policy::Policy;
use crate::stats::GovernanceStats;

/// Longest window a mark is kept for (a budget that never resets re-alerts after this).
const MAX_MARK_MS: i64 = 400 * 86_400_000;

/// Check the budgets a request just settled against and fire what crossed.
pub(crate) async fn check(
    ledger: &Ledger,
    policy: &Policy,
    stats: &GovernanceStats,
    budgets: &[HeldBudget],
    now: i64,
) {
    for b in budgets {
        if b.limit_micros <= 0 {
            continue;
        }
        let mut fractions: Vec<f64> = policy.thresholds.clone();
        fractions.extend(b.alert_threshold);
        if fractions.is_empty() {
            continue;
        }
        let usage = ledger.budget_usage(&b.counter, b.period).await;
        let spent = usage.used_micros as f64 / b.limit_micros as f64;
        for t in fractions.into_iter().filter(|t| spent >= *t) {
            let mark = RateClaim {
                key: format!(
                    "alert:{}:{}:{}",
                    b.counter,
                    b.period.start_ms,
                    (t * 1000.0).round() as i64
                ),
                window_ms: b
                    .period
                    .end_ms
                    .saturating_sub(b.period.start_ms)
                    .clamp(1_000, MAX_MARK_MS),
                limit: 1,
                amount: 1,
            };
            let claims = Claims {
                rates: vec![mark],
                ..Claims::default()
            };
            let Ok(ticket) = ledger.admit(now, &claims).await else {
                continue; // fired already this period
            };
            ledger.release(ticket, now).await;
            fire(policy, stats, b, t, usage.used_micros).await;
        }
    }
}

async fn fire(policy: &Policy, stats: &GovernanceStats, b: &HeldBudget, threshold: f64, used: i64) {
    stats.alert();
    let used_usd = used as f64 / 1e6;
    let limit_usd = b.limit_micros as f64 / 1e6;
    tracing::warn!(
        target: "heimdall::budget_alert",
        budget = %b.budget_id,
        level = b.level_kind,
        entity = %b.level_name,
        threshold,
        used_usd,
        limit_usd,
        period_start_ms = b.period.start_ms,
        period_end_ms = b.period.end_ms,
        "budget alert: {} '{}' has spent {:.0}% of budget '{}' (${used_usd:.4} of ${limit_usd:.4})",
        b.level_kind, b.level_name, threshold * 100.0, b.budget_id
    );
    let Some(url) = &policy.webhook_url else {
        return;
    };
    let body = serde_json::json!({
        "type": "budget.threshold_crossed",
        "budget_id": b.budget_id,
        "level": {"kind": b.level_kind, "id": b.level_name},
        "threshold": threshold,
        "used_usd": used_usd,
        "limit_usd": limit_usd,
        "period": {"start_ms": b.period.start_ms, "end_ms": (b.period.end_ms != i64::MAX).then_some(b.period.end_ms)},
        "at_ms": crate::plugin::now_ms(),
    });
    // Not an upstream provider: the webhook client only needs what is set here (no redirects,
    // a 5 s deadline), not the provider transport.
    #[allow(clippy::disallowed_methods)]
    let client = CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default()
    });
    match client.post(url).json(&body).send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => tracing::warn!(
            status = r.status().as_u16(),
            "budget alert webhook refused the alert"
        ),
        Err(e) => tracing::warn!(error = %e.without_url(), "budget alert webhook unreachable"),
    }
}

static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
