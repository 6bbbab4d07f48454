//! Where stored Responses answers live: the request-log database when request logging is on
//! (shared by replicas, expiring with the logs), otherwise a bounded in-process map.
//!
//! Why a fallback: `store` defaults to true and `previous_response_id` is how agent frameworks
//! hold a conversation; a gateway run with logging off must still continue one. The map is
//! bounded in bytes (oldest dropped first), so storing cannot grow memory without limit.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use heimdall_store::StoredResponse;
use sha2::{Digest, Sha256};

use crate::state::AppState;

/// The in-process store used when there is no log database.
#[derive(Debug, Default)]
pub struct MemoryResponses {
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    by_id: HashMap<String, StoredResponse>,
    order: VecDeque<String>,
    bytes: usize,
}

/// At most this many bytes of stored responses in memory.
const MEMORY_BUDGET: usize = 64 * 1024 * 1024;

fn size(r: &StoredResponse) -> usize {
    r.id.len() + r.owner.len() + r.input.len() + r.context.len() + r.response.len()
}

impl MemoryResponses {
    fn put(&self, r: StoredResponse) {
        let Ok(mut e) = self.inner.lock() else {
            return;
        };
        if let Some(old) = e.by_id.remove(&r.id) {
            e.bytes -= size(&old);
            e.order.retain(|id| *id != r.id);
        }
        e.bytes += size(&r);
        e.order.push_back(r.id.clone());
        e.by_id.insert(r.id.clone(), r);
        while e.bytes > MEMORY_BUDGET {
            let Some(oldest) = e.order.pop_front() else {
                break;
            };
            if let Some(old) = e.by_id.remove(&oldest) {
                e.bytes -= size(&old);
            }
        }
    }

    fn get(&self, id: &str, owner: &str) -> Option<StoredResponse> {
        let e = self.inner.lock().ok()?;
        e.by_id.get(id).filter(|r| r.owner == owner).cloned()
    }

    fn delete(&self, id: &str, owner: &str) -> bool {
        let Ok(mut e) = self.inner.lock() else {
            return false;
        };
        if e.by_id.get(id).is_none_or(|r| r.owner != owner) {
            return false;
        }
        if let Some(old) = e.by_id.remove(id) {
            e.bytes -= size(&old);
        }
        e.order.retain(|i| i != id);
        true
    }
}

/// Who owns what a request stores: a hash of its credential (a virtual key, an API token),
/// `anonymous` without one. Never the credential itself.
pub fn owner_of(state_credential: Option<&heimdall_core::Credential>) -> String {
    match state_credential {
        Some(c) => {
            let digest = Sha256::digest(c.expose().as_bytes());
            digest.iter().fold(String::with_capacity(64), |mut s, b| {
                use std::fmt::Write;
                let _ = write!(s, "{b:02x}");
                s
            })
        }
        None => "anonymous".to_owned(),
    }
}

/// Where a record the gateway keeps beside the request logs lives (stored responses, MCP tool
/// calls): the log database, or process memory when logging is off.
pub(crate) enum Keeping<'a> {
    /// The log database.
    Database(&'a heimdall_store::LogStore),
    /// No log database: the bounded in-process copy.
    Memory,
}

/// Where records live now; `Err` when logging is on but its database is not open (waiting a
/// little for it right after start: the writer opens it in the background, and the first
/// request may come before).
pub(crate) async fn keeping(state: &AppState) -> Result<Keeping<'_>, String> {
    let Some(w) = &state.observability.writer else {
        return Ok(Keeping::Memory);
    };
    for _ in 0..50 {
        if let Some(db) = w.reader().await {
            return Ok(Keeping::Database(db));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err("the log database is not open".to_owned())
}

/// Store a response; an error says why it could not be kept.
pub async fn put(state: &AppState, r: StoredResponse) -> Result<(), String> {
    match keeping(state).await? {
        Keeping::Database(db) => db.put_response(&r).await.map_err(|e| e.to_string()),
        Keeping::Memory => {
            state.responses.put(r);
            Ok(())
        }
    }
}

/// A stored response of `owner`; `Err` when the database cannot answer.
pub async fn get(
    state: &AppState,
    id: &str,
    owner: &str,
) -> Result<Option<StoredResponse>, String> {
    match keeping(state).await? {
        Keeping::Database(db) => db.get_response(id, owner).await.map_err(|e| e.to_string()),
        Keeping::Memory => Ok(state.responses.get(id, owner)),
    }
}

/// Delete a stored response of `owner`; whether it existed.
pub async fn delete(state: &AppState, id: &str, owner: &str) -> Result<bool, String> {
    match keeping(state).await? {
        Keeping::Database(db) => db
            .delete_response(id, owner)
            .await
            .map_err(|e| e.to_string()),
        Keeping::Memory => Ok(state.responses.delete(id, owner)),
    }
}
