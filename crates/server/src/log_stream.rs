//! `GET /api/logs/stream`: every request that finishes, pushed as a server-sent event the
//! moment it finishes — `event: log` with its record (input and output null) — for the live
//! view of the dashboard.
//!
//! Why a broadcast from the request logger and not a poll of the store: the store sees a record
//! only when the batch writer flushes (and never when logging is off); the broadcast carries it
//! within milliseconds and costs the hot path nothing while nobody watches. A viewer that falls
//! more than `LIVE_CAPACITY` records behind is told how many it missed (`event: lagged`) and
//! continues. The stream says `event: ready` first (the viewer is subscribed from then on),
//! sends a `: keep-alive` comment every 15 s so proxies keep the connection, and ends when the
//! process starts draining: an open stream would otherwise hold the graceful shutdown until its
//! grace ran out. No layer buffers it: the HTTP metrics layer and the gate see only the
//! response head, and `/api` routes have no `server.timeout`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use heimdall_store::LogRecord;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

use crate::state::{AppState, Lifecycle};

/// Time between keep-alive comments.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `GET /api/logs/stream`
pub async fn stream(State(state): State<AppState>) -> Response {
    let live = state.observability.subscribe();
    let ready = futures::stream::once(async { Ok(Event::default().event("ready").data("{}")) });
    let events = ready.chain(records(live, Arc::clone(&state.lifecycle)));
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
        .into_response();
    // Reverse proxies (nginx) buffer responses unless told not to.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The events of `live` until the process drains.
fn records(
    live: Receiver<Arc<LogRecord>>,
    lifecycle: Arc<Lifecycle>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold((live, lifecycle), |(mut live, lifecycle)| async move {
        loop {
            let received = tokio::select! {
                biased;
                () = lifecycle.drained() => return None,
                r = live.recv() => r,
            };
            let event = match received {
                Ok(record) => match serde_json::to_string(&*record) {
                    Ok(json) => Event::default().event("log").data(json),
                    Err(e) => {
                        tracing::warn!(error = %e, "a log record could not be serialised for the live stream");
                        continue;
                    }
                },
                Err(RecvError::Lagged(missed)) => Event::default()
                    .event("lagged")
                    .data(format!("{{\"missed\":{missed}}}")),
                Err(RecvError::Closed) => return None,
            };
            return Some((Ok(event), (live, lifecycle)));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> Arc<LogRecord> {
        Arc::new(LogRecord {
            id: id.to_owned(),
            ..LogRecord::default()
        })
    }

    async fn transcript(live: Receiver<Arc<LogRecord>>, lifecycle: Arc<Lifecycle>) -> String {
        let body = Sse::new(records(live, lifecycle))
            .into_response()
            .into_body();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_viewer_that_falls_behind_is_told_how_many_it_missed_and_continues() {
        let (tx, rx) = tokio::sync::broadcast::channel(2);
        for i in 0..5 {
            tx.send(record(&format!("r{i}"))).unwrap();
        }
        drop(tx);
        let text = transcript(rx, Arc::default()).await;
        assert!(
            text.starts_with("event: lagged\ndata: {\"missed\":3}\n\n"),
            "{text}"
        );
        assert!(!text.contains("\"id\":\"r2\""), "{text}");
        let logs: Vec<&str> = text
            .split("\n\n")
            .filter(|e| e.starts_with("event: log\ndata: {"))
            .collect();
        assert_eq!(logs.len(), 2, "{text}");
        assert!(logs[0].contains("\"id\":\"r3\"") && logs[1].contains("\"id\":\"r4\""));
    }

    #[tokio::test]
    async fn the_stream_ends_when_draining_starts_even_with_records_waiting() {
        let (tx, rx) = tokio::sync::broadcast::channel(8);
        tx.send(record("r0")).unwrap();
        let lifecycle = Arc::new(Lifecycle::default());
        lifecycle.start_draining();
        // The sender stays: only draining can end this stream.
        let text = transcript(rx, lifecycle).await;
        assert_eq!(text, "");
        drop(tx);
    }
}
