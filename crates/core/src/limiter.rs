//! Per-provider concurrency limit and wait queue (`concurrency_and_buffer_size`).
//!
//! Why: an upstream has a capacity (and a bill); beyond `concurrency` requests in flight,
//! callers wait in a bounded queue. When `buffer_size` callers already wait, a gateway with
//! `drop_excess_requests` answers 429 at once (with `Retry-After`) instead of piling up
//! latency; otherwise callers wait up to the provider's request timeout. A stream keeps its
//! slot until it ends, because it occupies the upstream for that long.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use heimdall_schema::error::{ErrorKind, GatewayError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The limiter of one provider.
#[derive(Debug)]
pub struct ProviderLimiter {
    permits: Arc<Semaphore>,
    concurrency: usize,
    waiting: AtomicUsize,
    buffer: usize,
}

/// Decrements the waiting count however the wait ends.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl ProviderLimiter {
    /// A limiter for `concurrency` in flight and `buffer` waiting.
    pub fn new(concurrency: usize, buffer: usize) -> Self {
        let concurrency = concurrency.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            waiting: AtomicUsize::new(0),
            buffer,
        }
    }

    /// Upstream requests holding a slot now.
    pub fn in_flight(&self) -> usize {
        self.concurrency
            .saturating_sub(self.permits.available_permits())
    }

    /// Requests waiting now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Take a slot: at once if one is free, else queue (or refuse, see the module doc).
    /// Returns the permit and the time spent waiting.
    pub async fn acquire(
        &self,
        provider: &str,
        drop_excess: bool,
        max_wait: Duration,
    ) -> Result<(OwnedSemaphorePermit, Duration), GatewayError> {
        if let Ok(p) = Arc::clone(&self.permits).try_acquire_owned() {
            return Ok((p, Duration::ZERO));
        }
        let already = self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.waiting);
        if already >= self.buffer && drop_excess {
            let mut e = GatewayError::new(
                ErrorKind::Overloaded,
                format!(
                    "provider '{provider}' is at its limit ({} in flight, {} waiting); try again shortly",
                    self.concurrency, self.buffer
                ),
            )
            .with_status(429)
            .with_provider(provider);
            e.retry_after_secs = Some(1);
            return Err(e);
        }
        let started = Instant::now();
        match tokio::time::timeout(max_wait, Arc::clone(&self.permits).acquire_owned()).await {
            Ok(Ok(p)) => Ok((p, started.elapsed())),
            Ok(Err(_)) => Err(GatewayError::internal("provider limiter closed")),
            Err(_) => Err(GatewayError::new(
                ErrorKind::Overloaded,
                format!(
                    "provider '{provider}' had no free slot within {max_wait:?} ({} in flight)",
                    self.concurrency
                ),
            )
            .with_provider(provider)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn full_queue_refuses_at_once_when_dropping_excess() {
        let l = ProviderLimiter::new(1, 0);
        let (held, waited) = l.acquire("p", true, Duration::from_secs(1)).await.unwrap();
        assert_eq!(waited, Duration::ZERO);
        let e = l
            .acquire("p", true, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert_eq!(
            (e.kind, e.status, e.retry_after_secs),
            (ErrorKind::Overloaded, 429, Some(1))
        );
        assert_eq!(l.waiting(), 0);
        drop(held);
        assert!(l.acquire("p", true, Duration::from_secs(1)).await.is_ok());
    }

    #[tokio::test]
    async fn waiters_get_the_slot_in_turn_or_time_out() {
        let l = Arc::new(ProviderLimiter::new(1, 10));
        let (held, _) = l.acquire("p", false, Duration::from_secs(1)).await.unwrap();
        let l2 = Arc::clone(&l);
        let waiter =
            tokio::spawn(async move { l2.acquire("p", false, Duration::from_secs(5)).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(l.waiting(), 1);
        drop(held);
        let (_p, waited) = waiter.await.unwrap().unwrap();
        assert!(waited >= Duration::from_millis(40));
        let e = l
            .acquire("p", false, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert_eq!((e.kind, e.status), (ErrorKind::Overloaded, 503));
    }
}
