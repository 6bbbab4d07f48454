//! Governance at start: counters in Redis (the `redis` section, shared by every instance) or
//! in this process, and — in memory — the current periods' spend restored from the request
//! log, so a restart does not reset budgets.

use std::sync::Arc;

use async_trait::async_trait;
use heimdall_governance::Governance;
use heimdall_governance::ledger::{FailurePolicy, Ledger};
use heimdall_governance::restore::{SpendFilter, SpendHistory};
use heimdall_observe::Observability;
use heimdall_store::{LogQuery, LogStore};

/// Governance over the configured counters.
pub async fn governance_for(
    config: &heimdall_config::GatewayConfig,
) -> Result<Arc<Governance>, String> {
    let ledger = match &config.redis {
        Some(r) => {
            let policy = match config.governance.on_store_unavailable {
                heimdall_config::StoreFailurePolicy::FailOpen => FailurePolicy::FailOpen,
                heimdall_config::StoreFailurePolicy::FailClosed => FailurePolicy::FailClosed,
            };
            let ledger = Ledger::redis(r.url.expose(), &format!("{}gov:", r.key_prefix), policy)
                .await
                .map_err(|e| format!("redis.url: {e}"))?;
            tracing::info!(
                ?policy,
                degraded = ledger.degraded(),
                "governance counters in Redis (shared by every instance)"
            );
            ledger
        }
        None => Ledger::memory(),
    };
    Ok(Arc::new(Governance::new(config, ledger)))
}

/// In memory, add what the request log recorded of the current periods before now. The log
/// store is opened for this query alone (the writer opens its own on its first record).
pub fn restore_budgets(
    governance: &Arc<Governance>,
    observability: &Arc<Observability>,
    logs: &heimdall_config::LogsStoreConfig,
    app_dir: &std::path::Path,
) {
    if governance.ledger().backend() != "memory" || observability.writer.is_none() {
        return;
    }
    let until = heimdall_governance::plugin::now_ms();
    let governance = Arc::clone(governance);
    let (logs, app_dir) = (logs.clone(), app_dir.to_owned());
    heimdall_core::task::spawn("governance-restore", async move {
        let store = match LogStore::open(&logs, &app_dir).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "budgets not restored: the request log is not readable");
                return;
            }
        };
        let restored = governance.restore_budgets(&LogHistory(&store), until).await;
        if restored > 0 {
            tracing::info!(restored, "budget counters restored from the request log");
        }
    });
}

/// The request log as spend history.
struct LogHistory<'a>(&'a LogStore);

#[async_trait]
impl SpendHistory for LogHistory<'_> {
    async fn spend(&self, f: &SpendFilter, from_ms: i64, until_ms: i64) -> Result<f64, String> {
        let q = LogQuery {
            virtual_key_ids: f.virtual_key_id.iter().cloned().collect(),
            team_ids: f.team_id.iter().cloned().collect(),
            customer_ids: f.customer_id.iter().cloned().collect(),
            providers: f.provider.iter().cloned().collect(),
            models: f.model.iter().cloned().collect(),
            start_time: Some(from_ms),
            end_time: Some(until_ms.saturating_sub(1)),
            ..LogQuery::default()
        };
        self.0
            .stats(&q)
            .await
            .map(|s| s.total_cost)
            .map_err(|e| e.to_string())
    }
}
