//! Where the process log's lines go: handed to a writer thread that writes them to standard
//! output in batches, instead of one `write` system call per line on the thread that logged.
//!
//! Why: at the default level every request logs a line. Written in place, that line cost a
//! system call on the request path (a blocked pipe or a slow terminal stalls requests behind
//! it); measured with a saturated core, the `info` level added about a quarter to the CPU per
//! request (docs/benchmarks.md). Here a request only copies its formatted line into a bounded
//! queue; the writer thread drains whatever has queued with one buffered write. When the queue
//! is full (the output cannot keep up), lines are dropped and counted, and the count is written
//! as a line of its own as soon as there is room — never unbounded memory, never a request
//! waiting on the log. Dropping the [`SinkGuard`] writes what is queued and stops the thread.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use tracing_subscriber::fmt::MakeWriter;

/// Lines held at most while the writer thread catches up.
pub const QUEUE_LINES: usize = 8192;

/// The `MakeWriter` the log subscriber writes through (cheap to clone).
#[derive(Clone)]
pub struct LogSink {
    tx: SyncSender<Vec<u8>>,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    /// Lines queued and not yet written out.
    pending: AtomicU64,
    /// Lines dropped since the last notice.
    dropped: AtomicU64,
}

/// Dropping it waits (up to 2 s) until every line queued so far is written: the last lines
/// before the process exits are not lost.
pub struct SinkGuard {
    counts: Arc<Counts>,
    running: bool,
}

impl LogSink {
    /// A sink writing to `out` on a thread of its own, holding at most `capacity` lines. If
    /// the thread cannot start, lines are written in place.
    pub fn start<W: Write + Send + 'static>(out: W, capacity: usize) -> (Self, SinkGuard) {
        let (tx, rx) = sync_channel(capacity.max(1));
        let counts = Arc::new(Counts::default());
        let for_thread = Arc::clone(&counts);
        let running = std::thread::Builder::new()
            .name("heimdall-log-out".to_owned())
            .spawn(move || drain(&rx, out, &for_thread))
            .is_ok();
        let guard = SinkGuard {
            counts: Arc::clone(&counts),
            running,
        };
        (Self { tx, counts }, guard)
    }
}

/// Write every line that arrives; one flush per batch (whatever queued meanwhile).
fn drain<W: Write>(rx: &Receiver<Vec<u8>>, out: W, counts: &Counts) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    while let Ok(line) = rx.recv() {
        let _ = out.write_all(&line);
        let mut written = 1;
        while let Ok(line) = rx.try_recv() {
            let _ = out.write_all(&line);
            written += 1;
        }
        let lost = counts.dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let _ = writeln!(
                out,
                "heimdall: {lost} log lines dropped: the log output did not keep up"
            );
        }
        let _ = out.flush();
        counts.pending.fetch_sub(written, Ordering::Release);
        // Let lines gather: while this thread sleeps nobody waits in `recv`, so a request
        // queues its line without a wake-up (a futex call and a context switch per line
        // cost more than the write they saved). A line waits at most this long.
        std::thread::sleep(BATCH_PAUSE);
    }
}

/// How long the writer lets lines gather after writing a batch.
const BATCH_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

impl Drop for SinkGuard {
    fn drop(&mut self) {
        if !self.running {
            return;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while self.counts.pending.load(Ordering::Acquire) > 0
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
}

/// One event's line, queued when the subscriber is done writing it.
pub struct LineWriter<'a> {
    line: Vec<u8>,
    sink: &'a LogSink,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter<'_> {
    fn drop(&mut self) {
        if self.line.is_empty() {
            return;
        }
        let counts = &self.sink.counts;
        counts.pending.fetch_add(1, Ordering::AcqRel);
        match self.sink.tx.try_send(std::mem::take(&mut self.line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                counts.pending.fetch_sub(1, Ordering::AcqRel);
                counts.dropped.fetch_add(1, Ordering::Relaxed);
            }
            // The writer thread is not running (it could not start): write in place.
            Err(TrySendError::Disconnected(line)) => {
                counts.pending.fetch_sub(1, Ordering::AcqRel);
                let _ = std::io::stdout().lock().write_all(&line);
            }
        }
    }
}

impl<'a> MakeWriter<'a> for LogSink {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            line: Vec::with_capacity(256),
            sink: self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// An output that blocks until told to go on, like a pipe nobody reads; it says when a
    /// write is waiting.
    struct Gate(
        Arc<(Mutex<bool>, std::sync::Condvar)>,
        Shared,
        Arc<std::sync::atomic::AtomicBool>,
    );

    impl Write for Gate {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.2.store(true, Ordering::SeqCst);
            let (open, cv) = &*self.0;
            let mut o = open.lock().unwrap();
            while !*o {
                o = cv.wait(o).unwrap();
            }
            self.1.write(b)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn log_lines(sink: &LogSink, n: usize) {
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..n {
                tracing::info!(i, "line");
            }
        });
    }

    #[test]
    fn every_line_arrives_in_order_by_the_time_the_guard_is_dropped() {
        let out = Shared::default();
        let (sink, guard) = LogSink::start(out.clone(), 1024);
        log_lines(&sink, 500);
        drop(guard);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let numbers: Vec<usize> = text
            .lines()
            .map(|l| l.rsplit("i=").next().unwrap().trim().parse().unwrap())
            .collect();
        assert_eq!(numbers, (0..500).collect::<Vec<_>>());
    }

    #[test]
    fn a_stalled_output_drops_and_counts_lines_instead_of_blocking_the_logger() {
        let gate = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let out = Shared::default();
        let waiting = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (sink, guard) = LogSink::start(
            Gate(Arc::clone(&gate), out.clone(), Arc::clone(&waiting)),
            16,
        );
        // One line first, until the writer thread is stuck writing it out.
        log_lines(&sink, 1);
        while !waiting.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        let started = std::time::Instant::now();
        log_lines(&sink, 199);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        // The guard waits for every queued line; the drop notice is written with that batch.
        drop(guard);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let kept = text.lines().filter(|l| l.contains(" line ")).count();
        let dropped: usize = text
            .lines()
            .find(|l| l.contains("log lines dropped"))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or_else(|| panic!("no drop notice: {text}"))
            .parse()
            .unwrap();
        // The line being written and the 16 queued are kept; the rest are counted.
        assert_eq!(kept, 17, "{text}");
        assert_eq!(kept + dropped, 200, "{text}");
    }
}
