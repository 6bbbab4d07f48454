//! The accept loop: every client connection bounded in time and number.
//!
//! Why our own loop instead of `axum::serve`: that one has no header-read, idle or
//! connection-count bound, so a client that sends half a request — or just opens sockets —
//! holds a file descriptor forever; about 1,100 of them stopped the gateway from accepting
//! anyone, and one also held SIGTERM shutdown. Here:
//! - the head of each request must arrive within `header_read_timeout` (hyper's timer);
//! - a connection with no request in flight is closed after `idle_timeout`;
//! - past `max_connections`, a new connection gets a `503` with `Connection: close` at once;
//! - on shutdown, idle and half-sent connections close at once and requests in flight (streams
//!   included) drain until the grace period ends.
//!
//! The body-read bound is a layer of the router (`IngressPolicy::with_body_read_timeout`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use heimdall_config::ListenerLimits;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

/// Serve `app` on `listener` until `shutdown` resolves, then drain for at most `grace`.
/// Returns whether every connection finished within the grace period.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ListenerLimits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> bool {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS_AT_ONCE));
    let (stop_tx, stop_rx) = watch::channel(false);
    let open = Arc::new(AtomicUsize::new(0));
    let drained = Arc::new(tokio::sync::Notify::new());
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        let (tcp, peer) = match accepted {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors or a reset before accept: wait a little, go on.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        // Streams are many small writes: without TCP_NODELAY, Nagle's algorithm meets the
        // client's delayed ACK and holds the last chunk ~40 ms.
        let _ = tcp.set_nodelay(true);
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            // A flood past the cap must not take the descriptors kept for upstreams: a few
            // answers are written at a time; beyond them the socket is just closed.
            if let Ok(answering) = Arc::clone(&refusals).try_acquire_owned() {
                heimdall_core::task::spawn("refuse-overloaded", async move {
                    refuse_overloaded(tcp).await;
                    drop(answering);
                });
            }
            continue;
        };
        open.fetch_add(1, Ordering::SeqCst);
        let (app, limits, stop, open, drained) = (
            app.clone(),
            limits.clone(),
            stop_rx.clone(),
            Arc::clone(&open),
            Arc::clone(&drained),
        );
        heimdall_core::task::spawn("connection", async move {
            connection(tcp, peer, app, &limits, stop).await;
            drop(slot);
            if open.fetch_sub(1, Ordering::SeqCst) == 1 {
                drained.notify_waiters();
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let deadline = tokio::time::Instant::now() + grace;
    loop {
        let notified = drained.notified();
        if open.load(Ordering::SeqCst) == 0 {
            return true;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            tracing::warn!(
                open = open.load(Ordering::SeqCst),
                "grace period over; closing remaining connections"
            );
            return false;
        }
    }
}

/// 503 answers written at once past the connection cap.
const MAX_REFUSALS_AT_ONCE: usize = 64;

/// Requests in flight on one connection and when it was last active.
struct Activity {
    in_flight: AtomicUsize,
    /// A request has started on this connection.
    served: std::sync::atomic::AtomicBool,
    since: std::sync::Mutex<Instant>,
}

impl Activity {
    fn touch(&self) {
        if let Ok(mut t) = self.since.lock() {
            *t = Instant::now();
        }
    }
    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        self.since.lock().ok().map(|t| t.elapsed())
    }
}

/// Counts a request in flight from its start until its response body is done or dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::SeqCst);
        activity.served.store(true, Ordering::SeqCst);
        Self(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.touch();
    }
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: &ListenerLimits,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity {
        in_flight: AtomicUsize::new(0),
        served: std::sync::atomic::AtomicBool::new(false),
        since: std::sync::Mutex::new(Instant::now()),
    });
    let tracked = Arc::clone(&activity);
    let service = tower::ServiceBuilder::new()
        .map_request(move |req: axum::http::Request<hyper::body::Incoming>| {
            // The client's address, as `axum::serve` gives it: the IP allow-list and the
            // rate limits key on it (`heimdall_server::client_policy::client_ip`).
            let mut req = req.map(axum::body::Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        })
        .map_future(
            move |answer: axum::routing::future::RouteFuture<std::convert::Infallible>| {
                // The request is in flight from here until its response body (a stream too)
                // is finished or dropped: the marker rides on that body.
                let held = InFlight::start(Arc::clone(&tracked));
                async move {
                    answer.await.map(|res| {
                        res.map(|body| axum::body::Body::new(HoldUntilDone { body, _held: held }))
                    })
                }
            },
        )
        .service(app);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let conn = builder
        .serve_connection_with_upgrades(TokioIo::new(tcp), TowerToHyperService::new(service));
    tokio::pin!(conn);
    let check =
        (limits.idle_timeout.min(limits.header_read_timeout) / 4).max(Duration::from_millis(50));
    let mut closing = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            changed = stop.changed(), if !closing => {
                if changed.is_err() || *stop.borrow() {
                    // A request in flight finishes; idle connections close now.
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
            () = tokio::time::sleep(check), if !closing => {
                // Before its first request a connection gets the header deadline (hyper's
                // clock starts only at the first byte: a silent socket would wait forever).
                let limit = if activity.served.load(Ordering::SeqCst) {
                    limits.idle_timeout
                } else {
                    limits.header_read_timeout.min(limits.idle_timeout)
                };
                if activity.idle_for().is_some_and(|d| d >= limit) {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
            // Closing, and still open a moment later with no request in flight: a head that
            // is only half sent (hyper waits for it). Drop the connection.
            () = tokio::time::sleep(CLOSE_LINGER), if closing => {
                if activity.in_flight.load(Ordering::SeqCst) == 0 {
                    return;
                }
            }
        }
    }
}

/// How long a closing connection may take to flush its last answer before a half-sent head
/// on it is given up.
const CLOSE_LINGER: Duration = Duration::from_millis(500);

/// A response body that keeps the in-flight marker until it is done.
struct HoldUntilDone {
    body: axum::body::Body,
    _held: InFlight,
}

impl http_body::Body for HoldUntilDone {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The answer when every connection slot is taken: a clear 503, then close.
async fn refuse_overloaded(mut tcp: TcpStream) {
    let body = r#"{"error":{"message":"the gateway has reached its connection limit (server.max_connections); retry shortly","type":"server_overloaded","param":null,"code":"too_many_connections"}}"#;
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        // Take what the client sent first: closing a socket with unread data resets it, and a
        // reset can reach the client before the answer.
        let mut sink = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_millis(100), tcp.read(&mut sink)).await;
        let _ = tcp.write_all(response.as_bytes()).await;
        let _ = tcp.shutdown().await;
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_request_carries_the_peer_address() {
        let app = Router::new().route(
            "/",
            axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                peer.ip().to_string()
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = heimdall_core::task::spawn("test-listener", async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            serve(
                listener,
                app,
                ListenerLimits::default(),
                shutdown,
                Duration::from_secs(1),
            )
            .await;
        });
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        tcp.read_to_string(&mut out).await.unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(out.ends_with("\r\n\r\n127.0.0.1"), "{out}");
        let _ = stop.send(());
        served.await.unwrap();
    }
}
