//! Connections: the accept loop, TLS, and the limits that keep the fail-closed webhook available.
//!
//! Every phase is time-bound: the TLS handshake (`handshakeTimeoutSeconds`), the first request
//! after it and each request's headers (`headerTimeoutSeconds`), request bodies
//! (`bodyTimeoutSeconds`, in [`crate::routes`]), and idleness between requests
//! (`idleTimeoutSeconds`). What a client can hold is bounded: connections in total and per
//! client address, HTTP/2 streams per connection. The protocol is the one ALPN negotiated (no
//! sniffing of the first bytes, which a silent client could stall). Whether the client presented
//! a verified certificate is recorded for the routes that need one.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};

use crate::{Shared, log, routes};

/// What a request knows of its connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer {
    /// The client's address.
    pub(crate) addr: SocketAddr,
    /// The client presented a certificate the configured client CA verified.
    pub(crate) authenticated: bool,
}

/// Open connections: per client address, and in total for the drain at shutdown.
#[derive(Default)]
struct Open {
    per_client: Mutex<HashMap<IpAddr, usize>>,
    active: AtomicUsize,
    drained: Notify,
}

/// One open connection, counted until dropped.
struct OpenGuard {
    open: Arc<Open>,
    ip: IpAddr,
}

impl Open {
    /// Counts a new connection from `ip`, unless that client already has `max` open.
    fn admit(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<OpenGuard> {
        let mut map = self.per_client.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        self.active.fetch_add(1, Ordering::SeqCst);
        Some(OpenGuard { open: Arc::clone(self), ip })
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        let mut map = self.open.per_client.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
        drop(map);
        if self.open.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.open.drained.notify_waiters();
        }
    }
}

/// Requests of one connection: how many are in flight, how many started, and when the last one
/// began or ended (milliseconds since the connection opened).
#[derive(Debug)]
pub(crate) struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    started: AtomicU64,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            started: AtomicU64::new(0),
            last_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A request begins; it ends when the guard drops.
    pub(crate) fn begin(self: &Arc<Self>) -> ActivityGuard {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.started.fetch_add(1, Ordering::SeqCst);
        self.last_ms.store(self.now_ms(), Ordering::SeqCst);
        ActivityGuard(Arc::clone(self))
    }

    /// How long the connection has had no request in flight (`None` while one is).
    fn idle(&self) -> Option<Duration> {
        (self.in_flight.load(Ordering::SeqCst) == 0)
            .then(|| Duration::from_millis(self.now_ms().saturating_sub(self.last_ms.load(Ordering::SeqCst))))
    }
}

/// Ends a request of an [`Activity`].
pub(crate) struct ActivityGuard(Arc<Activity>);

impl Drop for ActivityGuard {
    fn drop(&mut self) {
        self.0.last_ms.store(self.0.now_ms(), Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Accepts connections until `stop`, then waits up to `grace` for the open ones to finish their
/// requests (each is told to shut down gracefully).
pub(crate) async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let open = Arc::new(Open::default());
    let total = Arc::new(Semaphore::new(shared.runtime().config.limits.max_connections));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => break,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                log(crate::log::Level::Warning, &format!("accept: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let max_per_client = shared.runtime().config.limits.max_connections_per_client;
        let (Ok(permit), Some(guard)) = (Arc::clone(&total).try_acquire_owned(), open.admit(peer.ip(), max_per_client))
        else {
            shared.metrics.rejected_connection();
            drop(tcp);
            continue;
        };
        let shared = Arc::clone(&shared);
        let stop = stop.clone();
        tokio::spawn(async move {
            serve(shared, tcp, peer, stop).await;
            drop(guard);
            drop(permit);
        });
    }
    drop(listener);
    let deadline = tokio::time::sleep(grace);
    tokio::pin!(deadline);
    while open.active.load(Ordering::SeqCst) > 0 {
        let drained = open.drained.notified();
        tokio::select! {
            () = drained => {}
            () = &mut deadline => {
                log(crate::log::Level::Warning, "grace period over; closing remaining connections");
                return;
            }
            // Re-check now and then: a notification may fire between the load and the wait.
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

/// Drives one hyper connection: closes it when idle too long or when the server stops, then
/// gives in-flight requests `grace` to finish.
macro_rules! drive {
    ($conn:expr, $activity:expr, $stop:expr, $first:expr, $idle:expr, $grace:expr, $metrics:expr) => {{
        let conn = $conn;
        tokio::pin!(conn);
        // Once told to shut down: since when, and how long it may take (the grace period when
        // the server stops; a second for an idle connection, which has nothing in flight).
        let mut closing: Option<(Instant, Duration)> = None;
        if *$stop.borrow() {
            conn.as_mut().graceful_shutdown();
            closing = Some((Instant::now(), $grace));
        }
        loop {
            tokio::select! {
                _ = conn.as_mut() => break,
                _ = $stop.changed(), if closing.is_none() => {
                    conn.as_mut().graceful_shutdown();
                    closing = Some((Instant::now(), $grace));
                }
                () = tokio::time::sleep(Duration::from_millis(250)) => {
                    match closing {
                        Some((since, allowed)) if since.elapsed() > allowed => break,
                        Some(_) => {}
                        None => {
                            let limit = if $activity.started.load(Ordering::SeqCst) == 0 { $first } else { $idle };
                            if $activity.idle().is_some_and(|idle| idle > limit) {
                                $metrics.idle_connection_closed();
                                conn.as_mut().graceful_shutdown();
                                closing = Some((Instant::now(), Duration::from_secs(1)));
                            }
                        }
                    }
                }
            }
        }
    }};
}

async fn serve(shared: Arc<Shared>, tcp: TcpStream, addr: SocketAddr, mut stop: watch::Receiver<bool>) {
    let _ = tcp.set_nodelay(true);
    let runtime = shared.runtime();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&runtime.tls));
    let limits = runtime.config.limits.clone();
    let grace = std::time::Duration::from_secs(runtime.config.shutdown_grace_seconds);
    drop(runtime);
    let tls =
        match tokio::time::timeout(Duration::from_secs(limits.handshake_timeout_seconds), acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                shared.metrics.handshake_failed();
                log(crate::log::Level::Debug, &format!("TLS handshake with {addr} failed: {e}"));
                return;
            }
            Err(_) => {
                shared.metrics.handshake_failed();
                return;
            }
        };
    let (_, session) = tls.get_ref();
    let peer = Peer { addr, authenticated: session.peer_certificates().is_some_and(|c| !c.is_empty()) };
    let h2 = session.alpn_protocol() == Some(b"h2");
    let activity = Arc::new(Activity::new());
    let service = {
        let (shared, activity) = (Arc::clone(&shared), Arc::clone(&activity));
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let (shared, guard) = (Arc::clone(&shared), activity.begin());
            async move {
                let resp = routes::handle(&shared, peer, req).await;
                drop(guard);
                Ok::<_, Infallible>(resp)
            }
        })
    };
    let header_timeout = Duration::from_secs(limits.header_timeout_seconds);
    let idle_timeout = Duration::from_secs(limits.idle_timeout_seconds);
    let io = TokioIo::new(tls);
    if h2 {
        let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .max_concurrent_streams(limits.max_streams_per_connection)
            .max_header_list_size(64 * 1024)
            .keep_alive_interval(Some(Duration::from_secs(30)))
            .keep_alive_timeout(Duration::from_secs(20));
        drive!(
            builder.serve_connection(io, service),
            activity,
            stop,
            header_timeout,
            idle_timeout,
            grace,
            shared.metrics
        );
    } else {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(header_timeout).keep_alive(true).max_buf_size(64 * 1024);
        drive!(
            builder.serve_connection(io, service),
            activity,
            stop,
            header_timeout,
            idle_timeout,
            grace,
            shared.metrics
        );
    }
}
