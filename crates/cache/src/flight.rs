//! Single flight: identical requests (same exact key, so same tenant and cache key) in flight
//! at once make one upstream call. The first is the leader; the others wait for its answer —
//! or, when they asked for a stream and the leader streams, follow its chunks as they arrive.
//!
//! Why the flight outlives the leader's answer by a little: it leaves the table only after
//! the answer is in the backend, so a request arriving in between joins the finished flight
//! (and gets the answer at once) instead of missing and calling upstream again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::stream::{self, StreamExt};
use heimdall_core::BoxChunkStream;
use heimdall_schema::chat::ChatChunk;
use heimdall_schema::completions::CompletionChunk;
use heimdall_schema::error::{ErrorKind, GatewayError};
use tokio::sync::watch;

use crate::answer::StoredAnswer;

/// How a flight ended.
#[derive(Debug, Clone)]
pub enum FlightOutcome {
    /// The leader's complete answer.
    Answer(Arc<StoredAnswer>),
    /// The leader's request failed with this error (followers answer with it too: they sent
    /// the identical request).
    Failed(GatewayError),
    /// The leader's client went away before the answer was complete: followers start over.
    Abandoned,
}

/// Chunks the leader's stream has produced so far.
#[derive(Debug, Default)]
enum ChunkLog {
    #[default]
    None,
    Chat(Vec<ChatChunk>),
    Completion(Vec<CompletionChunk>),
}

#[derive(Debug, Default)]
struct FlightState {
    chunks: ChunkLog,
    /// Bytes of text the chunks carry, roughly (what the buffer cap counts).
    bytes: usize,
    outcome: Option<FlightOutcome>,
}

/// Rough bytes a chunk holds beyond its text.
const CHUNK_OVERHEAD: usize = 200;

/// One in-flight request and what it has produced.
#[derive(Debug)]
pub struct Flight {
    state: Mutex<FlightState>,
    version: watch::Sender<u64>,
    /// Most bytes of stream kept: past it the flight fails (followers get an error, nothing is
    /// stored) rather than hold an unbounded stream in memory.
    cap: usize,
}

impl Flight {
    fn new(cap: usize) -> Self {
        Self {
            state: Mutex::new(FlightState::default()),
            version: watch::Sender::new(0),
            cap,
        }
    }

    /// Count `bytes` more; past the cap, settle the flight as failed.
    fn over_cap(&self, st: &mut FlightState, bytes: usize) -> bool {
        st.bytes = st.bytes.saturating_add(bytes + CHUNK_OVERHEAD);
        if st.bytes <= self.cap {
            return false;
        }
        if st.outcome.is_none() {
            st.outcome = Some(FlightOutcome::Failed(GatewayError::new(
                ErrorKind::UpstreamStreamError,
                "the shared stream outgrew the cache's buffer (max_entry_kb); follow-up requests \
                 must ask again",
            )));
        }
        true
    }

    fn lock(&self) -> MutexGuard<'_, FlightState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn bump(&self) {
        self.version.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Record a chat chunk of the leader's stream (a copy without its native frame).
    pub fn push_chat(&self, chunk: &ChatChunk) {
        let mut c = chunk.clone();
        c.native = None;
        {
            let mut st = self.lock();
            let text = c.choices.iter().map(|ch| {
                let d = &ch.delta;
                let args = d.tool_calls.iter().flatten().map(|t| {
                    t.function
                        .as_ref()
                        .and_then(|f| f.arguments.as_deref())
                        .map_or(0, str::len)
                });
                d.content
                    .as_ref()
                    .and_then(|t| t.as_deref())
                    .map_or(0, str::len)
                    + d.reasoning_content.as_deref().map_or(0, str::len)
                    + args.sum::<usize>()
            });
            if st.outcome.is_some() || self.over_cap(&mut st, text.sum()) {
                drop(st);
                self.bump();
                return;
            }
            match &mut st.chunks {
                ChunkLog::Chat(v) => v.push(c),
                log @ ChunkLog::None => *log = ChunkLog::Chat(vec![c]),
                ChunkLog::Completion(_) => return,
            }
        }
        self.bump();
    }

    /// Record a text-completion chunk of the leader's stream.
    pub fn push_completion(&self, chunk: &CompletionChunk) {
        {
            let mut st = self.lock();
            let text = chunk.choices.iter().map(|c| c.text.len()).sum();
            if st.outcome.is_some() || self.over_cap(&mut st, text) {
                drop(st);
                self.bump();
                return;
            }
            match &mut st.chunks {
                ChunkLog::Completion(v) => v.push(chunk.clone()),
                log @ ChunkLog::None => *log = ChunkLog::Completion(vec![chunk.clone()]),
                ChunkLog::Chat(_) => return,
            }
        }
        self.bump();
    }

    /// The chat chunks so far (to store a finished stream).
    pub fn chat_chunks(&self) -> Vec<ChatChunk> {
        match &self.lock().chunks {
            ChunkLog::Chat(v) => v.clone(),
            _ => Vec::new(),
        }
    }

    /// The text-completion chunks so far.
    pub fn completion_chunks(&self) -> Vec<CompletionChunk> {
        match &self.lock().chunks {
            ChunkLog::Completion(v) => v.clone(),
            _ => Vec::new(),
        }
    }

    /// Settle the flight (the first outcome wins).
    pub fn finish(&self, outcome: FlightOutcome) {
        {
            let mut st = self.lock();
            if st.outcome.is_some() {
                return;
            }
            st.outcome = Some(outcome);
        }
        self.bump();
    }

    /// Whether the flight has an outcome.
    pub fn is_finished(&self) -> bool {
        self.lock().outcome.is_some()
    }

    /// Wait until the flight has an outcome, or (when `want_chunks`) its first stream chunk.
    pub async fn wait(&self, want_chunks: bool) -> Progress {
        let mut rx = self.version.subscribe();
        loop {
            {
                let st = self.lock();
                if let Some(o) = &st.outcome {
                    return Progress::Done(o.clone());
                }
                if want_chunks && !matches!(st.chunks, ChunkLog::None) {
                    return Progress::Streaming;
                }
            }
            if rx.changed().await.is_err() {
                return Progress::Done(FlightOutcome::Abandoned);
            }
        }
    }

    /// The leader's chat stream from its first chunk, live: chunks as the leader receives
    /// them, then its end (or its error). `None` when it is not a chat stream.
    pub fn follow_chat(self: &Arc<Self>) -> Option<(ChatChunk, BoxChunkStream<ChatChunk>)> {
        let first = match &self.lock().chunks {
            ChunkLog::Chat(v) => v.first()?.clone(),
            _ => return None,
        };
        Some((
            first,
            self.follow(1, |log, i| match log {
                ChunkLog::Chat(v) => v.get(i).cloned(),
                _ => None,
            }),
        ))
    }

    /// [`Self::follow_chat`] for text completions.
    pub fn follow_completion(
        self: &Arc<Self>,
    ) -> Option<(CompletionChunk, BoxChunkStream<CompletionChunk>)> {
        let first = match &self.lock().chunks {
            ChunkLog::Completion(v) => v.first()?.clone(),
            _ => return None,
        };
        Some((
            first,
            self.follow(1, |log, i| match log {
                ChunkLog::Completion(v) => v.get(i).cloned(),
                _ => None,
            }),
        ))
    }

    fn follow<C: Send + 'static>(
        self: &Arc<Self>,
        from: usize,
        at: fn(&ChunkLog, usize) -> Option<C>,
    ) -> BoxChunkStream<C> {
        let rx = self.version.subscribe();
        let state = (Arc::clone(self), from, rx, false);
        Box::pin(stream::unfold(
            state,
            move |(flight, i, mut rx, done)| async move {
                if done {
                    return None;
                }
                loop {
                    {
                        let st = flight.lock();
                        if let Some(c) = at(&st.chunks, i) {
                            drop(st);
                            return Some((Ok(c), (flight, i + 1, rx, false)));
                        }
                        match &st.outcome {
                            Some(FlightOutcome::Answer(_)) => return None,
                            Some(FlightOutcome::Failed(e)) => {
                                let e = e.clone();
                                drop(st);
                                return Some((Err(e), (flight, i, rx, true)));
                            }
                            Some(FlightOutcome::Abandoned) => {
                                drop(st);
                                return Some((Err(cancelled()), (flight, i, rx, true)));
                            }
                            None => {}
                        }
                    }
                    if rx.changed().await.is_err() {
                        return Some((Err(cancelled()), (flight, i, rx, true)));
                    }
                }
            },
        ))
        .boxed()
    }
}

fn cancelled() -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamStreamError,
        "the shared upstream stream this request was following ended early (its first client went away)",
    )
}

/// What a follower found.
#[derive(Debug)]
pub enum Progress {
    /// The flight is settled.
    Done(FlightOutcome),
    /// The leader's stream has begun (follow it).
    Streaming,
}

/// The table of flights by exact key.
#[derive(Debug, Default)]
pub struct Flights {
    map: Mutex<HashMap<String, Arc<Flight>>>,
}

/// What joining found.
#[derive(Debug)]
pub enum Joined {
    /// This request leads: it looks up, calls upstream and settles the flight.
    Leader(LeaderSlot),
    /// Another request leads; wait on it.
    Follower(Arc<Flight>),
}

impl Flights {
    /// Join the flight for `key`, leading it when there is none (a new flight keeps at most
    /// `cap` bytes of stream).
    pub fn join(self: &Arc<Self>, key: &str, cap: usize) -> Joined {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(f) = map.get(key) {
            return Joined::Follower(Arc::clone(f));
        }
        let flight = Arc::new(Flight::new(cap));
        map.insert(key.to_owned(), Arc::clone(&flight));
        Joined::Leader(LeaderSlot {
            flights: Arc::clone(self),
            key: key.to_owned(),
            flight,
            released: false,
        })
    }

    /// Flights in the table (for stats).
    pub fn len(&self) -> usize {
        self.map.lock().map_or(0, |m| m.len())
    }

    /// Whether no flight is in the table.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn remove(&self, key: &str, flight: &Arc<Flight>) {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.get(key).is_some_and(|f| Arc::ptr_eq(f, flight)) {
            map.remove(key);
        }
    }
}

/// The leader's hold on its flight. Dropped without [`LeaderSlot::release`] (the request was
/// abandoned, or the hook never ran), it settles the flight as abandoned so followers move on.
#[derive(Debug)]
pub struct LeaderSlot {
    flights: Arc<Flights>,
    key: String,
    flight: Arc<Flight>,
    released: bool,
}

impl LeaderSlot {
    /// The flight, to record chunks and settle it.
    pub fn flight(&self) -> &Arc<Flight> {
        &self.flight
    }

    /// Settle the flight with the leader's failure (followers answer with it) and leave.
    pub fn fail(self, error: &GatewayError) {
        self.flight.finish(FlightOutcome::Failed(error.clone()));
        self.release();
    }

    /// Take the flight out of the table (after its answer is stored, or when nothing will
    /// be stored).
    pub fn release(mut self) {
        self.released = true;
        self.flights.remove(&self.key, &self.flight);
    }
}

impl Drop for LeaderSlot {
    fn drop(&mut self) {
        if !self.released {
            self.flight.finish(FlightOutcome::Abandoned);
            self.flights.remove(&self.key, &self.flight);
        }
    }
}
