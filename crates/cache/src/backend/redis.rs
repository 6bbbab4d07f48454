//! The Redis backend: entries shared by every instance on one Redis.
//!
//! Layout, all under `{prefix}cache:` — `e:{key}` a hash (namespace, bucket, request id, body,
//! vector, expiry) expiring with the entry; `req:{request id}` → key, expiring with it;
//! `ns:{cache key}` a set of keys (expiring with its last member); `vectors` a stream (capped
//! near 100,000) announcing each stored vector, which every instance reads into its
//! in-process index.
//!
//! Why Lua rather than a MULTI pipeline: a write must also undo the indexes of the entry it
//! replaces (its old cache key or request id), which depends on what Redis holds; a script
//! does that and the write in one atomic round trip. Not for Redis Cluster: the scripts touch
//! keys they compute. Needs Redis 6.2 or later (`SET … PXAT`, exclusive `XRANGE`).
//!
//! Why bounded waits: a cache must never hold a request up — a slow or dead Redis answers as
//! a miss within about a second (the connection is made lazily and retried on later calls).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};

use super::memory::now_ms;
use super::{
    BackendError, BackendStats, CacheBackend, Entry, VectorRecord, vector_bytes, vector_of,
};

/// Bound on one connection attempt, and on waiting for one answer.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
/// Bound on one call, reconnection included.
const CALL_TIMEOUT: Duration = Duration::from_secs(1);
/// Keys per SCAN step in `clear` and `stats`.
const SCAN_COUNT: usize = 1000;

/// KEYS: entry, req, ns, stream. ARGV: namespace, bucket, request id, body, vector bytes (empty
/// for none), expiry (Unix ms), key, now (Unix ms), base (`{prefix}cache:`).
const PUT_LUA: &str = r"
local exp = tonumber(ARGV[6])
local now = tonumber(ARGV[8])
local old = redis.call('HMGET', KEYS[1], 'ns', 'req')
if old[1] and old[1] ~= ARGV[1] then
  redis.call('SREM', ARGV[9] .. 'ns:' .. old[1], ARGV[7])
end
if old[2] and old[2] ~= ARGV[3] then
  local rk = ARGV[9] .. 'req:' .. old[2]
  if redis.call('GET', rk) == ARGV[7] then redis.call('DEL', rk) end
end
redis.call('DEL', KEYS[1])
if exp <= now then
  if redis.call('GET', KEYS[2]) == ARGV[7] then redis.call('DEL', KEYS[2]) end
  redis.call('SREM', KEYS[3], ARGV[7])
  return 0
end
redis.call('HSET', KEYS[1], 'ns', ARGV[1], 'bucket', ARGV[2], 'req', ARGV[3], 'body', ARGV[4], 'vec', ARGV[5], 'exp', ARGV[6])
redis.call('PEXPIREAT', KEYS[1], exp)
redis.call('SET', KEYS[2], ARGV[7], 'PXAT', exp)
redis.call('SADD', KEYS[3], ARGV[7])
local ttl = redis.call('PTTL', KEYS[3])
if ttl < 0 or now + ttl < exp then redis.call('PEXPIREAT', KEYS[3], exp) end
if string.len(ARGV[5]) > 0 then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', 100000, '*', 'key', ARGV[7], 'bucket', ARGV[2], 'vec', ARGV[5], 'exp', ARGV[6])
end
return 1
";

/// KEYS: req. ARGV: base, request id.
const REMOVE_REQUEST_LUA: &str = r"
local key = redis.call('GET', KEYS[1])
if not key then return 0 end
redis.call('DEL', KEYS[1])
local e = ARGV[1] .. 'e:' .. key
local f = redis.call('HMGET', e, 'ns', 'req')
if f[2] ~= ARGV[2] then return 0 end
if f[1] then redis.call('SREM', ARGV[1] .. 'ns:' .. f[1], key) end
return redis.call('DEL', e)
";

/// KEYS: ns. ARGV: base, namespace.
const REMOVE_NAMESPACE_LUA: &str = r"
local n = 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local e = ARGV[1] .. 'e:' .. key
  local f = redis.call('HMGET', e, 'ns', 'req')
  if f[1] == ARGV[2] then
    n = n + redis.call('DEL', e)
    if f[2] then
      local rk = ARGV[1] .. 'req:' .. f[2]
      if redis.call('GET', rk) == key then redis.call('DEL', rk) end
    end
  end
end
redis.call('DEL', KEYS[1])
return n
";

/// Entries in Redis.
pub struct RedisBackend {
    conn: ConnectionManager,
    /// `{prefix}cache:`.
    base: String,
    put: Script,
    remove_request: Script,
    remove_namespace: Script,
}

fn err(e: impl std::fmt::Display) -> BackendError {
    BackendError(format!("redis: {e}"))
}

/// `f`, or an error once [`CALL_TIMEOUT`] has passed.
async fn bounded<T>(
    f: impl Future<Output = Result<T, redis::RedisError>>,
) -> Result<T, BackendError> {
    match tokio::time::timeout(CALL_TIMEOUT, f).await {
        Ok(r) => r.map_err(err),
        Err(_) => Err(err(format!("no answer within {CALL_TIMEOUT:?}"))),
    }
}

fn text(fields: &HashMap<String, Vec<u8>>, name: &str) -> String {
    fields
        .get(name)
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

/// `s` with the glob characters of a SCAN pattern escaped.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl RedisBackend {
    /// A backend on `url` keeping its keys under `{key_prefix}cache:`. The connection is made
    /// lazily: a Redis down at start makes lookups fail (answer as misses) until it is back.
    pub async fn connect(url: &str, key_prefix: &str) -> Result<Self, BackendError> {
        // The URL may hold a password: never echo it.
        let client = Client::open(url).map_err(|_| err("invalid Redis URL"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(err)?;
        Ok(Self {
            conn,
            base: format!("{key_prefix}cache:"),
            put: Script::new(PUT_LUA),
            remove_request: Script::new(REMOVE_REQUEST_LUA),
            remove_namespace: Script::new(REMOVE_NAMESPACE_LUA),
        })
    }

    fn entry_key(&self, key: &str) -> String {
        format!("{}e:{key}", self.base)
    }

    /// One SCAN step over the keys matching `pattern`: the next cursor (0 at the end) and keys.
    async fn scan_step(
        conn: &mut ConnectionManager,
        cursor: u64,
        pattern: &str,
    ) -> Result<(u64, Vec<String>), BackendError> {
        bounded(
            redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .query_async(conn),
        )
        .await
    }
}

#[async_trait]
impl CacheBackend for RedisBackend {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, BackendError> {
        let mut conn = self.conn.clone();
        let mut fields: HashMap<String, Vec<u8>> = bounded(
            redis::cmd("HGETALL")
                .arg(self.entry_key(key))
                .query_async(&mut conn),
        )
        .await?;
        let expires_at_ms = text(&fields, "exp").parse().unwrap_or(0);
        // Redis expires the key itself; the check covers clock skew and the reaper's lag.
        if expires_at_ms <= now_ms() {
            return Ok(None);
        }
        let Some(body) = fields.remove("body") else {
            return Ok(None);
        };
        Ok(Some(Entry {
            key: key.to_owned(),
            namespace: text(&fields, "ns"),
            bucket: text(&fields, "bucket"),
            request_id: text(&fields, "req"),
            vector: fields.get("vec").and_then(|v| vector_of(v)),
            body: body.into(),
            expires_at_ms,
        }))
    }

    async fn put(&self, entry: Entry) -> Result<(), BackendError> {
        let mut conn = self.conn.clone();
        let vec = entry
            .vector
            .as_deref()
            .map(vector_bytes)
            .unwrap_or_default();
        let mut call = self.put.prepare_invoke();
        call.key(self.entry_key(&entry.key))
            .key(format!("{}req:{}", self.base, entry.request_id))
            .key(format!("{}ns:{}", self.base, entry.namespace))
            .key(format!("{}vectors", self.base))
            .arg(&entry.namespace)
            .arg(&entry.bucket)
            .arg(&entry.request_id)
            .arg(entry.body.as_ref())
            .arg(vec)
            .arg(entry.expires_at_ms)
            .arg(&entry.key)
            .arg(now_ms())
            .arg(&self.base);
        let _: i64 = bounded(call.invoke_async(&mut conn)).await?;
        Ok(())
    }

    async fn remove_by_request(&self, request_id: &str) -> Result<u64, BackendError> {
        let mut conn = self.conn.clone();
        let mut call = self.remove_request.prepare_invoke();
        call.key(format!("{}req:{request_id}", self.base))
            .arg(&self.base)
            .arg(request_id);
        bounded(call.invoke_async(&mut conn)).await
    }

    async fn remove_by_namespace(&self, namespace: &str) -> Result<u64, BackendError> {
        let mut conn = self.conn.clone();
        let mut call = self.remove_namespace.prepare_invoke();
        call.key(format!("{}ns:{namespace}", self.base))
            .arg(&self.base)
            .arg(namespace);
        bounded(call.invoke_async(&mut conn)).await
    }

    async fn clear(&self) -> Result<u64, BackendError> {
        // Not atomic: a put racing the sweep may survive it (as it would had it come after).
        let entry_prefix = format!("{}e:", self.base);
        let mut removed = 0u64;
        let mut conn = self.conn.clone();
        let pattern = format!("{}*", glob_escape(&self.base));
        let mut cursor = 0;
        loop {
            let (next, keys) = Self::scan_step(&mut conn, cursor, &pattern).await?;
            if !keys.is_empty() {
                removed += keys.iter().filter(|k| k.starts_with(&entry_prefix)).count() as u64;
                let _: u64 =
                    bounded(redis::cmd("UNLINK").arg(&keys).query_async(&mut conn)).await?;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        Ok(removed)
    }

    async fn vectors_since(
        &self,
        cursor: &str,
        limit: usize,
    ) -> Result<(Vec<VectorRecord>, String), BackendError> {
        let mut conn = self.conn.clone();
        let start = if cursor.is_empty() {
            "-".to_owned()
        } else {
            format!("({cursor}")
        };
        let rows: Vec<(String, Vec<Vec<u8>>)> = bounded(
            redis::cmd("XRANGE")
                .arg(format!("{}vectors", self.base))
                .arg(start)
                .arg("+")
                .arg("COUNT")
                .arg(limit.max(1))
                .query_async(&mut conn),
        )
        .await?;
        let mut next = cursor.to_owned();
        let mut out = Vec::with_capacity(rows.len());
        for (id, flat) in rows {
            next = id;
            let mut fields: HashMap<String, Vec<u8>> = HashMap::with_capacity(4);
            let mut it = flat.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                fields.insert(String::from_utf8_lossy(&k).into_owned(), v);
            }
            let Some(vector) = fields.get("vec").and_then(|v| vector_of(v)) else {
                continue;
            };
            // Expired ones are passed on too (the record says so): skipping them would make a
            // page shorter than `limit` and look like the end of the stream to a reader.
            out.push(VectorRecord {
                key: text(&fields, "key"),
                bucket: text(&fields, "bucket"),
                vector,
                expires_at_ms: text(&fields, "exp").parse().unwrap_or(0),
            });
        }
        Ok((out, next))
    }

    async fn stats(&self) -> Result<BackendStats, BackendError> {
        // A SCAN of the entry keys (an operator's call, not a hot path; O(keyspace)): entries
        // is exact at the time each key was seen; bytes sums each entry's body, vector and key.
        let mut conn = self.conn.clone();
        let mut entries = 0u64;
        let mut bytes = 0u64;
        let pattern = format!("{}*", glob_escape(&format!("{}e:", self.base)));
        let mut cursor = 0;
        loop {
            let (next, keys) = Self::scan_step(&mut conn, cursor, &pattern).await?;
            if !keys.is_empty() {
                let mut pipe = redis::pipe();
                for k in &keys {
                    pipe.cmd("HSTRLEN").arg(k).arg("body");
                    pipe.cmd("HSTRLEN").arg(k).arg("vec");
                }
                let lens: Vec<u64> = bounded(pipe.query_async(&mut conn)).await?;
                entries += keys.len() as u64;
                bytes += lens.iter().sum::<u64>();
                bytes += keys.iter().map(|k| k.len() as u64).sum::<u64>();
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        Ok(BackendStats {
            entries,
            bytes,
            evictions: 0,
        })
    }
}
