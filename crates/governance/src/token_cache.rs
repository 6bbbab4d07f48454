//! Token counts of texts already seen, by a 64-bit hash of the text.
//!
//! Why: a chat client resends the whole conversation every turn, so almost all of a prompt's
//! text was counted on an earlier request; tokenizing runs at ~40 MB/s here (25 µs for 1 KB),
//! hashing at several GB/s. Only texts of [`MIN_CACHED_BYTES`] or more are cached (shorter ones
//! count faster than a lookup pays off). Bounded: each of [`SHARDS`] maps holds at most
//! [`PER_SHARD`] entries and is emptied when full (a cold count is only slower, never wrong). A
//! hash collision can only change an estimate, which settlement corrects anyway.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Mutex, OnceLock, PoisonError};

/// Texts shorter than this are counted directly.
pub const MIN_CACHED_BYTES: usize = 256;
const SHARDS: usize = 16;
const PER_SHARD: usize = 8_192;

struct Cache {
    hasher: foldhash::fast::RandomState,
    shards: [Mutex<HashMap<u64, u32>>; SHARDS],
}

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Cache {
        hasher: foldhash::fast::RandomState::default(),
        shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
    })
}

/// The count of `text`, from the cache or from `count` (then remembered).
pub fn cached(text: &str, count: impl FnOnce(&str) -> u64) -> u64 {
    if text.len() < MIN_CACHED_BYTES {
        return count(text);
    }
    let c = cache();
    let key = c.hasher.hash_one(text);
    let shard = &c.shards[(key as usize) % SHARDS];
    if let Some(n) = shard
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
    {
        return u64::from(*n);
    }
    let n = count(text);
    let mut map = shard.lock().unwrap_or_else(PoisonError::into_inner);
    if map.len() >= PER_SHARD {
        map.clear();
    }
    map.insert(key, u32::try_from(n).unwrap_or(u32::MAX));
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_counted_once_short_ones_every_time() {
        let long = "a cached sentence of moderate length ".repeat(20);
        let mut calls = 0;
        let mut count = |t: &str| {
            calls += 1;
            t.len() as u64
        };
        assert_eq!(cached(&long, &mut count), long.len() as u64);
        assert_eq!(cached(&long, &mut count), long.len() as u64);
        assert_eq!(cached("short", &mut count), 5);
        assert_eq!(cached("short", &mut count), 5);
        assert_eq!(calls, 3);
    }
}
