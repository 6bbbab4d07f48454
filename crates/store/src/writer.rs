//! The bounded batch writer between the request path and the database.
//!
//! Why: a request must never wait on the log database. `log()` is a non-blocking push into a
//! bounded queue; one background task takes batches (by size, or after the flush interval) and
//! writes them. When the database fails, the task keeps its batch and retries with backoff
//! while new records wait in the queue; once the queue is full, new records are dropped and
//! counted (`dropped`), never blocking a request. Shutdown drains what is queued.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use heimdall_config::{LogsStoreConfig, WriterPriority};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use crate::record::LogRecord;
use crate::store::{LogStore, MAX_BATCH};

/// Counters of the writer, shared with the metrics and `GET /api/logs/dropped`.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Records accepted into the queue.
    pub accepted: AtomicU64,
    /// Records written to the database.
    pub written: AtomicU64,
    /// Records dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Batches that failed to write (and were retried).
    pub failed_writes: AtomicU64,
    /// Records the database refused for their content (written row by row, these rows could
    /// not be stored): dropped and counted so one poison record cannot stop the writer.
    pub rejected: AtomicU64,
    /// Bytes of the records queued and in hand (see `LogRecord::approx_bytes`).
    pub pending_bytes: AtomicU64,
    /// The last write attempt failed and the store has not accepted a write since.
    pub failing: std::sync::atomic::AtomicBool,
    /// Records taken from the queue but not yet written (the batch in hand).
    pub in_hand: AtomicU64,
    /// The last write failure, for operators (`GET /api/logs/dropped`).
    pub last_error: std::sync::Mutex<Option<String>>,
}

impl WriterStats {
    /// The last write failure, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }
}

/// The handle the request path logs through (cheap to clone).
#[derive(Debug, Clone)]
pub struct LogWriter {
    tx: mpsc::Sender<LogRecord>,
    /// Bytes held at most (queued and in hand).
    max_pending_bytes: u64,
    stats: Arc<WriterStats>,
    shutdown: Arc<Notify>,
    store: Arc<OnceLock<LogStore>>,
    /// How to open the store (absent when the writer was given an open one).
    open: Option<Arc<(LogsStoreConfig, PathBuf)>>,
    /// The query API's own pool (see [`LogWriter::reader`]).
    reader: Arc<tokio::sync::OnceCell<LogStore>>,
}

impl LogWriter {
    /// Start the writer task for an open `store`.
    pub fn start(store: LogStore, cfg: &LogsStoreConfig) -> (Self, JoinHandle<()>) {
        let cell = OnceLock::new();
        let _ = cell.set(store);
        Self::spawn(Arc::new(cell), None, cfg)
    }

    /// Start the writer task; it opens the store as configured (retrying while the database
    /// is unreachable — records queue meanwhile, up to the bound).
    pub fn connect(cfg: &LogsStoreConfig, app_dir: PathBuf) -> (Self, JoinHandle<()>) {
        Self::spawn(Arc::new(OnceLock::new()), Some((cfg.clone(), app_dir)), cfg)
    }

    fn spawn(
        store: Arc<OnceLock<LogStore>>,
        open: Option<(LogsStoreConfig, PathBuf)>,
        cfg: &LogsStoreConfig,
    ) -> (Self, JoinHandle<()>) {
        let open_cfg = open.clone();
        let (tx, rx) = mpsc::channel(cfg.max_pending.max(1));
        let stats = Arc::new(WriterStats::default());
        let shutdown = Arc::new(Notify::new());
        let task = Task {
            store: Arc::clone(&store),
            open,
            retention_days: cfg.retention_days,
            rx,
            stats: Arc::clone(&stats),
            shutdown: Arc::clone(&shutdown),
            batch_size: cfg.batch_size.clamp(1, MAX_BATCH),
            flush_interval: Duration::from_millis(cfg.flush_interval_ms.max(1)),
        };
        let handle = start_task(task, cfg.writer_priority);
        (
            Self {
                tx,
                max_pending_bytes: cfg.max_pending_bytes as u64,
                stats,
                shutdown,
                store,
                open: open_cfg.map(Arc::new),
                reader: Arc::new(tokio::sync::OnceCell::new()),
            },
            handle,
        )
    }

    /// The writer's store, once it is open.
    pub fn store(&self) -> Option<&LogStore> {
        self.store.get()
    }

    /// The store the query API reads through, once the writer's is open (so migrations are
    /// done): its own pool, opened on the caller's runtime. Why not the writer's pool: that
    /// pool's connections are driven by the writer's thread, which runs at a lower priority —
    /// under load, queries would wait on it. A writer given an open store shares that one.
    pub async fn reader(&self) -> Option<&LogStore> {
        let writer_store = self.store.get()?;
        let Some(open) = &self.open else {
            return Some(writer_store);
        };
        let (cfg, dir) = &**open;
        match self
            .reader
            .get_or_try_init(|| LogStore::open(cfg, dir))
            .await
        {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "log store not readable yet");
                None
            }
        }
    }

    /// Queue a record; never waits. Returns false (and counts a drop) when the queue is full.
    pub fn log(&self, record: LogRecord) -> bool {
        let bytes = record.approx_bytes() as u64;
        let held = self.stats.pending_bytes.fetch_add(bytes, Ordering::Relaxed);
        if held.saturating_add(bytes) > self.max_pending_bytes {
            self.stats.pending_bytes.fetch_sub(bytes, Ordering::Relaxed);
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        match self.tx.try_send(record) {
            Ok(()) => {
                self.stats.accepted.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(_) => {
                self.stats.pending_bytes.fetch_sub(bytes, Ordering::Relaxed);
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<WriterStats> {
        &self.stats
    }

    /// Records waiting (queued plus the batch in hand).
    pub fn pending(&self) -> u64 {
        let queued = self.tx.max_capacity().saturating_sub(self.tx.capacity()) as u64;
        queued + self.stats.in_hand.load(Ordering::Relaxed)
    }

    /// Ask the task to write what is queued and stop.
    pub fn shutdown(&self) {
        self.shutdown.notify_one();
    }
}

/// Run the writer on its own thread, with its own single-threaded runtime, at a lower CPU
/// priority than the request path; the returned task ends when the writer has drained.
///
/// Why: on the request runtime, binding a batch held the event loop for milliseconds; on a
/// thread of equal priority the kernel still let a batch write delay requests. At 3,000 RPS on
/// one core the p99 latency was 2.3–4.6 ms with the log on against 0.6–0.8 ms with it off; with
/// the writer at `SCHED_IDLE` it is 0.8 ms (bench/run.sh, docs/benchmarks.md). The priority is
/// inherited by the SQLite worker threads this thread starts. Falls back to a task on the
/// current runtime if the thread cannot start.
// The store sits below heimdall-core (its task helper): these tasks are awaited at shutdown.
#[allow(clippy::disallowed_methods)]
fn start_task(task: Task, priority: WriterPriority) -> JoinHandle<()> {
    let slot = Arc::new(std::sync::Mutex::new(Some(task)));
    let for_thread = Arc::clone(&slot);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("heimdall-log-writer".to_owned())
        .spawn(move || {
            crate::priority::lower_current_thread(priority);
            let task = for_thread.lock().ok().and_then(|mut t| t.take());
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match (task, runtime) {
                (Some(task), Ok(rt)) => rt.block_on(task.run()),
                (_, Err(e)) => tracing::error!(error = %e, "log writer cannot start its runtime"),
                (None, _) => {}
            }
            let _ = done_tx.send(());
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "log writer thread did not start; writing from the request runtime");
        if let Some(task) = slot.lock().ok().and_then(|mut t| t.take()) {
            return tokio::spawn(task.run());
        }
    }
    tokio::spawn(async move {
        let _ = done_rx.await;
    })
}

struct Task {
    store: Arc<OnceLock<LogStore>>,
    open: Option<(LogsStoreConfig, PathBuf)>,
    retention_days: u32,
    rx: mpsc::Receiver<LogRecord>,
    stats: Arc<WriterStats>,
    shutdown: Arc<Notify>,
    batch_size: usize,
    flush_interval: Duration,
}

impl Task {
    /// Take a record off the queue into the batch in hand (counted as pending at once, so
    /// `pending()` never misses a record between the queue and the database).
    fn hold(&self, batch: &mut Vec<LogRecord>, r: LogRecord) {
        self.stats.in_hand.fetch_add(1, Ordering::Relaxed);
        batch.push(r);
    }

    async fn run(mut self) {
        let mut batch: Vec<LogRecord> = Vec::with_capacity(self.batch_size);
        let mut stopping = false;
        loop {
            if !stopping {
                // Wait for the first record of a batch (or the shutdown signal).
                if batch.is_empty() {
                    tokio::select! {
                        r = self.rx.recv() => match r {
                            Some(r) => self.hold(&mut batch, r),
                            None => stopping = true,
                        },
                        () = self.shutdown.notified() => stopping = true,
                    }
                }
                // Let a batch gather for the flush interval unless a full one is already
                // waiting. Sleeping instead of waking on every record matters: the request
                // path runs on another thread, and each wake-up is a futex call on it.
                if !stopping && self.rx.len() + batch.len() < self.batch_size {
                    tokio::select! {
                        () = tokio::time::sleep(self.flush_interval) => {}
                        () = self.shutdown.notified() => stopping = true,
                    }
                }
                while batch.len() < self.batch_size {
                    match self.rx.try_recv() {
                        Ok(r) => self.hold(&mut batch, r),
                        Err(_) => break,
                    }
                }
            }
            if stopping {
                while batch.len() < self.batch_size {
                    match self.rx.try_recv() {
                        Ok(r) => self.hold(&mut batch, r),
                        Err(_) => break,
                    }
                }
                if batch.is_empty() {
                    return;
                }
            }
            self.write(&batch, stopping).await;
            let bytes: u64 = batch.iter().map(|r| r.approx_bytes() as u64).sum();
            self.stats.pending_bytes.fetch_sub(bytes, Ordering::Relaxed);
            self.stats.in_hand.store(0, Ordering::Relaxed);
            batch.clear();
        }
    }

    /// Write one batch, retrying with backoff while the database fails (a few tries only when
    /// stopping, so shutdown is not held forever).
    async fn write(&self, batch: &[LogRecord], stopping: bool) {
        let mut delay = Duration::from_millis(100);
        let mut tries = 0u32;
        loop {
            let written = match self.ready_store().await {
                Ok(store) => store.insert(batch).await,
                Err(e) => Err(e),
            };
            match written {
                Err(e) if e.is_refused_content() => {
                    if let [record] = batch {
                        // One record the database will never take: dropped and counted, so
                        // it cannot stop the writer.
                        self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut last) = self.stats.last_error.lock() {
                            *last = Some(e.to_string());
                        }
                        tracing::warn!(error = %e, request_id = %record.id.escape_debug(), "log store refused a record; dropped");
                        return;
                    }
                    // Something in these records cannot be stored: write them one by one and
                    // leave out only the ones refused.
                    tracing::warn!(error = %e, records = batch.len(), "log store refused a batch; writing its records one by one");
                    for record in batch {
                        Box::pin(self.write(std::slice::from_ref(record), stopping)).await;
                    }
                    return;
                }
                Ok(()) => {
                    self.stats.failing.store(false, Ordering::Relaxed);
                    self.stats
                        .written
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    if tries > 0 {
                        tracing::info!(
                            records = batch.len(),
                            "log store reachable again; batch written"
                        );
                    }
                    return;
                }
                Err(e) => {
                    self.stats.failing.store(true, Ordering::Relaxed);
                    self.stats.failed_writes.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut last) = self.stats.last_error.lock() {
                        *last = Some(e.to_string());
                    }
                    tries += 1;
                    if tries == 1 || tries.is_power_of_two() {
                        tracing::warn!(error = %e, records = batch.len(), tries, "log store write failed; retrying");
                    }
                    if stopping && tries >= 3 {
                        self.stats
                            .dropped
                            .fetch_add(batch.len() as u64, Ordering::Relaxed);
                        tracing::error!(
                            records = batch.len(),
                            "log store unreachable at shutdown; records dropped"
                        );
                        return;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

impl Task {
    /// The open store, opening it first when needed (and starting retention then).
    async fn ready_store(&self) -> Result<&LogStore, crate::store::StoreError> {
        if let Some(s) = self.store.get() {
            return Ok(s);
        }
        let Some((cfg, dir)) = &self.open else {
            return Err(crate::store::StoreError::Config("no store".to_owned()));
        };
        let opened = LogStore::open(cfg, dir).await?;
        tracing::info!(kind = ?opened.kind(), "log store open");
        let _ = self.store.set(opened.clone());
        spawn_retention(opened, self.retention_days);
        self.store
            .get()
            .ok_or_else(|| crate::store::StoreError::Config("log store not set".to_owned()))
    }
}

/// Delete records older than `days` now and then every hour (0 days = keep forever).
#[allow(clippy::disallowed_methods)] // below heimdall-core; awaited at shutdown
pub fn spawn_retention(store: LogStore, days: u32) -> Option<JoinHandle<()>> {
    if days == 0 {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            let cutoff = now_ms - i64::from(days) * 86_400_000;
            match store.delete_older_than(cutoff).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, days, "log retention: old records deleted"),
                Err(e) => tracing::warn!(error = %e, "log retention failed"),
            }
        }
    }))
}
