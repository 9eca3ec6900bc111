//! The health port: `/healthz`, `/readyz` (503 while the cluster state is not synced and once
//! shutdown has begun) and `/metrics`, plain HTTP/1.1, with its own connection limit and
//! timeouts so that it stays answerable when the webhook port is under load, and cannot be used
//! to exhaust the process.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Method, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::Shared;
use crate::routes::text;

/// A health connection lives at most this long.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);

/// Serves the health port until the task is aborted (after the webhooks have drained).
pub(crate) async fn health_loop(shared: Arc<Shared>, listener: TcpListener) {
    let open = Arc::new(Semaphore::new(shared.runtime().config.limits.max_health_connections));
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            shared.metrics.rejected_connection();
            drop(tcp);
            continue;
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(answer(&shared, &req)) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(5))
                .max_buf_size(16 * 1024)
                .serve_connection(TokioIo::new(tcp), service);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, conn).await;
        });
    }
}

fn answer(shared: &Shared, req: &hyper::Request<Incoming>) -> crate::routes::Resp {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/healthz") => text(StatusCode::OK, "ok".to_owned(), "text/plain"),
        (&Method::GET, "/readyz") => {
            if !shared.ready.load(Ordering::SeqCst) {
                text(StatusCode::SERVICE_UNAVAILABLE, "not ready: shutting down".to_owned(), "text/plain")
            } else if !shared.synced.load(Ordering::SeqCst) {
                let msg = "not ready: the cluster state is not synced yet".to_owned();
                text(StatusCode::SERVICE_UNAVAILABLE, msg, "text/plain")
            } else {
                text(StatusCode::OK, "ok".to_owned(), "text/plain")
            }
        }
        (&Method::GET, "/metrics") => {
            let mut body = shared.metrics.render();
            if let Some(c) = &shared.cluster {
                c.render_metrics(&mut body);
            }
            text(StatusCode::OK, body, "text/plain; version=0.0.4")
        }
        _ => text(StatusCode::NOT_FOUND, "not found".to_owned(), "text/plain"),
    }
}
