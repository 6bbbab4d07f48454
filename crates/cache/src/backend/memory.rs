//! The default backend: entries in this process, bounded in bytes with least-recently-used
//! eviction, expired by TTL.
//!
//! Why one mutex over an ordered map: a hit is a hash lookup, a move to the back of the
//! recency order and a clone of the entry (the body is a `Bytes`, a reference count) — well
//! under a microsecond, far below what a sharded design would need to pay off at a gateway's
//! request rate. Request ids and cache keys are indexed so removals by them are not scans.
//!
//! Expiry is lazy: an expired entry is never returned (a `get` drops it), eviction prefers
//! expired entries near the old end, and a `put` sweeps all expired entries at most once a
//! minute (a scan under the lock: a few milliseconds for hundreds of thousands of entries).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use hashlink::LinkedHashMap;

use super::{BackendError, BackendStats, CacheBackend, Entry, VectorRecord};

/// What an entry costs beyond its strings, body and vector: the map node, the index entries
/// and the struct itself, roughly.
const ENTRY_OVERHEAD: usize = 160;
/// Sweep every expired entry at most this often (from `put`).
const SWEEP_EVERY_MS: i64 = 60_000;
/// How many of the least recently used entries eviction looks at for an expired one.
const EXPIRED_LOOKAHEAD: usize = 64;

/// Unix milliseconds now (the clock every backend and the plugin compare `expires_at_ms` to).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Bytes an entry holds, roughly (what the bound counts).
pub fn entry_cost(e: &Entry) -> u64 {
    let n = e.key.len()
        + e.namespace.len()
        + e.bucket.len()
        + e.request_id.len()
        + e.body.len()
        + e.vector.as_ref().map_or(0, |v| v.len() * 4)
        + ENTRY_OVERHEAD;
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[derive(Default)]
struct State {
    /// Entries by key, least recently used first.
    entries: LinkedHashMap<String, Entry>,
    /// Request id → the key it stored last.
    by_request: HashMap<String, String>,
    /// Cache key → the keys stored under it.
    by_namespace: HashMap<String, HashSet<String>>,
    bytes: u64,
    evictions: u64,
    next_sweep_ms: i64,
}

impl State {
    fn remove(&mut self, key: &str) -> Option<Entry> {
        let e = self.entries.remove(key)?;
        self.bytes = self.bytes.saturating_sub(entry_cost(&e));
        if self.by_request.get(&e.request_id).is_some_and(|k| k == key) {
            self.by_request.remove(&e.request_id);
        }
        if let Some(set) = self.by_namespace.get_mut(&e.namespace) {
            set.remove(key);
            if set.is_empty() {
                self.by_namespace.remove(&e.namespace);
            }
        }
        Some(e)
    }

    fn insert(&mut self, entry: Entry) {
        self.bytes = self.bytes.saturating_add(entry_cost(&entry));
        self.by_request
            .insert(entry.request_id.clone(), entry.key.clone());
        match self.by_namespace.get_mut(&entry.namespace) {
            Some(set) => {
                set.insert(entry.key.clone());
            }
            None => {
                let set = HashSet::from([entry.key.clone()]);
                self.by_namespace.insert(entry.namespace.clone(), set);
            }
        }
        self.entries.insert(entry.key.clone(), entry);
    }

    /// Drop every expired entry.
    fn sweep(&mut self, now: i64) {
        let expired: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| e.expires_at_ms <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            self.remove(&k);
        }
    }

    /// Evict until within `max_bytes`: an expired entry among the least recently used first,
    /// else the least recently used.
    fn make_room(&mut self, max_bytes: u64, now: i64) {
        while self.bytes > max_bytes {
            let victim = self
                .entries
                .iter()
                .take(EXPIRED_LOOKAHEAD)
                .find(|(_, e)| e.expires_at_ms <= now)
                .or_else(|| self.entries.front())
                .map(|(k, e)| (k.clone(), e.expires_at_ms > now));
            let Some((key, live)) = victim else { break };
            self.remove(&key);
            if live {
                self.evictions += 1;
            }
        }
    }
}

/// Entries in this process.
pub struct MemoryBackend {
    max_bytes: u64,
    state: Mutex<State>,
}

impl MemoryBackend {
    /// A backend holding at most about `max_bytes` (as [`entry_cost`] counts them).
    pub fn new(max_bytes: u64) -> Self {
        Self {
            max_bytes,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters for a cache (at worst an index names a missing key): carry on.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl CacheBackend for MemoryBackend {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, BackendError> {
        let now = now_ms();
        let mut st = self.lock();
        match st.entries.to_back(key) {
            None => Ok(None),
            Some(e) if e.expires_at_ms > now => Ok(Some(e.clone())),
            Some(_) => {
                st.remove(key);
                Ok(None)
            }
        }
    }

    async fn put(&self, entry: Entry) -> Result<(), BackendError> {
        let now = now_ms();
        let mut st = self.lock();
        // The entry replaces whatever was under its key, even when it is not kept itself.
        st.remove(&entry.key);
        if now >= st.next_sweep_ms {
            st.sweep(now);
            st.next_sweep_ms = now.saturating_add(SWEEP_EVERY_MS);
        }
        if entry.expires_at_ms <= now || entry_cost(&entry) > self.max_bytes {
            return Ok(());
        }
        st.insert(entry);
        st.make_room(self.max_bytes, now);
        Ok(())
    }

    async fn remove_by_request(&self, request_id: &str) -> Result<u64, BackendError> {
        let mut st = self.lock();
        let Some(key) = st.by_request.get(request_id).cloned() else {
            return Ok(0);
        };
        Ok(u64::from(st.remove(&key).is_some()))
    }

    async fn remove_by_namespace(&self, namespace: &str) -> Result<u64, BackendError> {
        let mut st = self.lock();
        let Some(keys) = st.by_namespace.remove(namespace) else {
            return Ok(0);
        };
        let mut n = 0;
        for k in keys {
            n += u64::from(st.remove(&k).is_some());
        }
        Ok(n)
    }

    async fn clear(&self) -> Result<u64, BackendError> {
        let mut st = self.lock();
        let n = st.entries.len() as u64;
        *st = State {
            evictions: st.evictions,
            ..State::default()
        };
        Ok(n)
    }

    async fn vectors_since(
        &self,
        cursor: &str,
        _limit: usize,
    ) -> Result<(Vec<VectorRecord>, String), BackendError> {
        // Private to this process: the local index is fed by the plugin directly.
        Ok((Vec::new(), cursor.to_owned()))
    }

    async fn stats(&self) -> Result<BackendStats, BackendError> {
        let st = self.lock();
        Ok(BackendStats {
            entries: st.entries.len() as u64,
            bytes: st.bytes,
            evictions: st.evictions,
        })
    }
}
