//! `kguard serve`: one HTTPS server for the webhooks kube-apiserver calls.
//!
//! * `POST /validate`, `/mutate`: admission.k8s.io AdmissionReview ([`kguard_engine::admission`]).
//! * `POST /imagereview`: imagepolicy.k8s.io/v1alpha1 ImageReview (ImagePolicyWebhook).
//! * `POST /authenticate`: authentication.k8s.io TokenReview (token file, service-account JWTs,
//!   bootstrap tokens).
//! * `POST /authorize`: authorization.k8s.io SubjectAccessReview (the configured authorizer chain).
//! * `POST /audit`: audit.k8s.io EventList (the audit webhook backend): fsynced to a JSON-lines log
//!   before the 200, then through the detection rules.
//! * `GET /healthz`, `/readyz`, `/metrics` on a separate plain-HTTP port (local by default).
//!
//! Only this crate knows HTTP. Requests are decoded once ([`wire`]) into the engines' types; the
//! engines are pure. The [`state::Runtime`] (configuration, engines, cluster objects) is rebuilt
//! when its files change, or when the watched cluster objects change ([`cluster`], with
//! `state.cluster`), and swapped atomically; a request keeps the runtime it started with.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod alerts;
pub mod audit;
pub mod cluster;
pub mod config;
pub mod metrics;
pub mod state;
pub mod tls;
pub mod wire;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use kguard_engine::admission;
use kguard_engine::authn::union::{self, Authenticators, Credentials};
use kguard_engine::authz::Verdict;

use crate::cluster::Cluster;
use crate::metrics::{Decision, Metrics};
use crate::state::{Runtime, StateSource};
use crate::wire::BadRequest;

/// What every connection shares.
struct Shared {
    runtime: RwLock<Arc<Runtime>>,
    metrics: Metrics,
    permits: Semaphore,
    connections: Arc<Semaphore>,
    audit: Option<audit::Writer>,
    ready: AtomicBool,
    /// The state is complete: always with a state directory; with `state.cluster`, once every
    /// watched resource has been listed and a runtime built from them.
    synced: AtomicBool,
    /// Held while a runtime is rebuilt and swapped, so that file reloads and cluster updates do
    /// not overtake each other.
    rebuild: tokio::sync::Mutex<()>,
    cluster: Option<Arc<Cluster>>,
    hostname: String,
    /// The HTTP alert output (set up at start).
    alert_http: Option<alerts::HttpQueue>,
}

impl Shared {
    fn runtime(&self) -> Arc<Runtime> {
        match self.runtime.read() {
            Ok(r) => Arc::clone(&r),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}

/// A running server.
pub struct Handle {
    /// The webhook address actually bound (useful with port 0).
    pub addr: SocketAddr,
    /// The health/metrics address actually bound.
    pub health_addr: SocketAddr,
    stop: watch::Sender<bool>,
    done: tokio::task::JoinHandle<()>,
}

impl Handle {
    /// Stops accepting, waits for in-flight requests (up to the grace period), and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.done.await;
    }
}

pub(crate) fn log(level: &str, message: &str) {
    let ts = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let line = serde_json::json!({
        "ts": format!("{}.{:03}Z", kguard_engine::authn::rfc3339(i64::try_from(ts.as_secs()).unwrap_or(0)).trim_end_matches('Z'), ts.subsec_millis()),
        "level": level,
        "msg": message,
    });
    eprintln!("{line}");
}

/// Starts the server from a configuration file; returns once both ports are bound.
///
/// # Errors
/// Invalid configuration, unreadable files, ports that cannot be bound.
pub async fn start(config_path: &Path) -> Result<Handle, String> {
    let config = state::read_config(config_path)?;
    let runtime = Runtime::build(config)?;
    for w in &runtime.warnings {
        log("warning", &format!("state: {w}"));
    }
    let config = runtime.config.clone();
    let client = match &config.state.cluster {
        Some(settings) => Some(cluster::client(settings).await?),
        None => None,
    };
    let audit = config.audit.log.as_ref().map(audit::Writer::start).transpose()?;
    let listener = TcpListener::bind(config.listen).await.map_err(|e| format!("listen {}: {e}", config.listen))?;
    let health = TcpListener::bind(config.health_listen)
        .await
        .map_err(|e| format!("healthListen {}: {e}", config.health_listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let health_addr = health.local_addr().map_err(|e| e.to_string())?;
    let hostname = std::env::var("HOSTNAME").unwrap_or_else(|_| "kguard".to_owned());
    let (cluster, mut tasks) = match (&client, &config.state.cluster) {
        (Some(client), Some(settings)) => {
            let (c, tasks) = Cluster::spawn(client, settings.clone(), &cluster::resources(&config));
            (Some(c), tasks)
        }
        _ => (None, Vec::new()),
    };
    let source = match &cluster {
        Some(c) => format!(
            "state from the cluster (watching {}; not ready until listed)",
            c.resources().iter().map(|r| r.label).collect::<Vec<_>>().join(", ")
        ),
        None => format!("{} state objects", runtime.objects),
    };
    log(
        "info",
        &format!(
            "kguard serve: webhooks on https://{addr}, health on http://{health_addr}, {source}, authorizers {:?}",
            config.authorization.modes
        ),
    );
    let metrics = Metrics::default();
    let alert_http = match &config.audit.alerts.http {
        None => None,
        Some(h) => {
            let output = alerts::HttpOutput::new(&h.url).map_err(|e| format!("audit.alerts.http.url: {e}"))?;
            Some(alerts::HttpQueue::start(output, h.queue_size, Arc::clone(&metrics.alert_http))?)
        }
    };
    let shared = Arc::new(Shared {
        permits: Semaphore::new(config.limits.max_concurrent_requests),
        connections: Arc::new(Semaphore::new(config.limits.max_connections)),
        runtime: RwLock::new(Arc::new(runtime)),
        metrics,
        audit,
        ready: AtomicBool::new(true),
        synced: AtomicBool::new(cluster.is_none()),
        rebuild: tokio::sync::Mutex::new(()),
        cluster: cluster.clone(),
        hostname,
        alert_http,
    });
    let (stop, stop_rx) = watch::channel(false);
    tasks.push(tokio::spawn(reload_loop(Arc::clone(&shared), config_path.to_path_buf(), stop_rx.clone())));
    if let Some(c) = cluster {
        tasks.push(tokio::spawn(cluster_loop(Arc::clone(&shared), c, stop_rx.clone())));
    }
    tasks.push(tokio::spawn(health_loop(Arc::clone(&shared), health)));
    let grace = Duration::from_secs(config.shutdown_grace_seconds);
    let done = tokio::spawn(async move {
        accept_loop(Arc::clone(&shared), listener, stop_rx, grace).await;
        for task in tasks {
            task.abort();
        }
    });
    Ok(Handle { addr, health_addr, stop, done })
}

/// Runs the server until SIGTERM or SIGINT, then drains in-flight requests.
///
/// # Errors
/// As [`start`].
pub fn run(config_path: &Path, threads: usize) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(async {
        let handle = start(config_path).await?;
        wait_for_signal().await;
        log("info", "shutting down: no new connections, draining in-flight requests");
        handle.shutdown().await;
        log("info", "stopped");
        Ok(())
    })
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

async fn reload_loop(shared: Arc<Shared>, config_path: PathBuf, mut stop: watch::Receiver<bool>) {
    let runtime = shared.runtime();
    let interval = runtime.config.reload_interval_seconds;
    if interval == 0 {
        return;
    }
    let mut seen = state::fingerprint(&config_path, &runtime.config);
    drop(runtime);
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(interval)) => {}
            _ = stop.changed() => return,
        }
        let current = shared.runtime();
        let path = config_path.clone();
        let config = current.config.clone();
        let now = tokio::task::spawn_blocking(move || state::fingerprint(&path, &config)).await.unwrap_or_default();
        if now == seen {
            continue;
        }
        let path = config_path.clone();
        let cluster = shared.cluster.clone();
        let guard = shared.rebuild.lock().await;
        let current = shared.runtime();
        let built =
            tokio::task::spawn_blocking(move || state::read_config(&path).and_then(|c| build(c, cluster.as_deref())))
                .await;
        match built {
            Ok(Ok((runtime, complete))) => {
                for w in &runtime.warnings {
                    log("warning", &format!("state: {w}"));
                }
                if runtime.config.listen != current.config.listen
                    || runtime.config.health_listen != current.config.health_listen
                    || runtime.config.audit.log.as_ref().map(|l| &l.path)
                        != current.config.audit.log.as_ref().map(|l| &l.path)
                    || runtime.config.audit.alerts.http != current.config.audit.alerts.http
                {
                    log(
                        "warning",
                        "listen addresses, the audit log path and the HTTP alert output change only at restart",
                    );
                }
                seen = state::fingerprint(&config_path, &runtime.config);
                log("info", &format!("reloaded: {} state objects", runtime.objects));
                if let Ok(mut slot) = shared.runtime.write() {
                    *slot = Arc::new(runtime);
                }
                if complete {
                    shared.synced.store(true, Ordering::SeqCst);
                }
                shared.metrics.reload(true);
            }
            Ok(Err(e)) => {
                seen = now;
                log("error", &format!("reload failed, keeping the previous configuration: {e}"));
                shared.metrics.reload(false);
            }
            Err(e) => {
                log("error", &format!("reload task failed: {e}"));
                shared.metrics.reload(false);
            }
        }
        drop(guard);
    }
}

/// Builds a runtime for a (re)loaded configuration: from its state directory, or from a snapshot
/// of the cluster's stores; with whether that state is complete (every watched resource listed).
/// The cluster connection and the resources watched are set up at start: a configuration that
/// would change them is refused (restart to apply it).
fn build(config: config::Config, cluster: Option<&Cluster>) -> Result<(Runtime, bool), String> {
    match (&config.state.cluster, cluster) {
        (None, None) => Ok((Runtime::build(config)?, true)),
        (Some(settings), Some(c)) if settings == c.settings() => {
            let watched = c.resources();
            if let Some(missing) = cluster::resources(&config).iter().find(|r| !watched.contains(r)) {
                return Err(format!(
                    "the configuration now needs {} from the cluster, which is not watched: restart to apply it",
                    missing.label
                ));
            }
            // Synced before the snapshot: a store that is listed then is in it.
            let complete = c.synced();
            let (objects, warnings) = c.snapshot().into_objects();
            Ok((Runtime::build_from(config, StateSource::Objects(objects, warnings))?, complete))
        }
        _ => {
            Err("state.cluster (the source of the cluster objects and its connection) changes only at restart"
                .to_owned())
        }
    }
}

/// How long store changes are collected before a rebuild: one rebuild per burst of events.
const CLUSTER_DEBOUNCE: Duration = Duration::from_millis(500);

/// Rebuilds the runtime from the cluster's stores after each change (collected for
/// [`CLUSTER_DEBOUNCE`]), once every resource has been listed; the first such build makes the
/// server ready.
async fn cluster_loop(shared: Arc<Shared>, cluster: Arc<Cluster>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = cluster.changed() => {}
            _ = stop.changed() => return,
        }
        tokio::select! {
            () = tokio::time::sleep(CLUSTER_DEBOUNCE) => {}
            _ = stop.changed() => return,
        }
        if !cluster.synced() {
            continue;
        }
        let guard = shared.rebuild.lock().await;
        if !cluster.take_changes() {
            continue; // already in the runtime built after the previous wake-up
        }
        let current = shared.runtime();
        let base = Arc::clone(&current);
        let snapshot = cluster.snapshot();
        // The configuration's files were read at its last (re)load: only the objects are new.
        let built = tokio::task::spawn_blocking(move || {
            let (objects, warnings) = snapshot.into_objects();
            base.with_objects(objects, warnings)
        })
        .await;
        match built {
            Ok(Ok(runtime)) => {
                // The same problems come back at every update: log only the new ones.
                for w in runtime.warnings.iter().filter(|w| !current.warnings.contains(w)) {
                    log("warning", &format!("state: {w}"));
                }
                let objects = runtime.objects;
                if let Ok(mut slot) = shared.runtime.write() {
                    *slot = Arc::new(runtime);
                }
                cluster.record_update(true);
                if !shared.synced.swap(true, Ordering::SeqCst) {
                    log("info", &format!("cluster state synced: {objects} objects; ready"));
                }
            }
            Ok(Err(e)) => {
                log("error", &format!("rebuilding with the cluster state failed, keeping the previous state: {e}"));
                cluster.record_update(false);
            }
            Err(e) => {
                log("error", &format!("cluster state task failed: {e}"));
                cluster.record_update(false);
            }
        }
        drop(guard);
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, mut stop: watch::Receiver<bool>, grace: Duration) {
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => break,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                log("warning", &format!("accept: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&shared.connections).try_acquire_owned() else {
            shared.metrics.rejected_connection();
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let runtime = shared.runtime();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&runtime.tls));
        let header_timeout = Duration::from_secs(runtime.config.limits.header_timeout_seconds);
        drop(runtime);
        let shared = Arc::clone(&shared);
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            let tls = match tokio::time::timeout(header_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    log("debug", &format!("TLS handshake with {peer} failed: {e}"));
                    return;
                }
                Err(_) => return,
            };
            let service = hyper::service::service_fn(move |req| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(handle(&shared, req).await) }
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder.http1().timer(TokioTimer::new()).header_read_timeout(header_timeout).keep_alive(true);
            builder.http2().timer(TokioTimer::new()).keep_alive_interval(Some(Duration::from_secs(30)));
            let conn = builder.serve_connection(TokioIo::new(tls), service);
            let _ = watcher.watch(conn.into_owned()).await;
        });
    }
    drop(listener);
    shared.ready.store(false, Ordering::Relaxed);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => log("warning", "grace period over; closing remaining connections"),
    }
}

/// Serves `/healthz`, `/readyz` and `/metrics` until the webhooks have drained (the task is then
/// aborted); `/readyz` answers 503 while draining, so load balancers stop sending requests.
async fn health_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let shared = Arc::clone(&shared);
                async move {
                    let resp = match (req.method(), req.uri().path()) {
                        (&Method::GET, "/healthz") => text(StatusCode::OK, "ok".to_owned(), "text/plain"),
                        (&Method::GET, "/readyz") => {
                            if !shared.ready.load(Ordering::Relaxed) {
                                text(StatusCode::SERVICE_UNAVAILABLE, "not ready".to_owned(), "text/plain")
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
                    };
                    Ok::<_, Infallible>(resp)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

type Resp = hyper::Response<Full<Bytes>>;

fn text(code: StatusCode, body: String, content_type: &'static str) -> Resp {
    let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn json(code: StatusCode, value: &Value) -> Resp {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn status_response(code: u16, reason: &str, message: &str) -> Resp {
    json(StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST), &wire::status(code, reason, message))
}

/// The endpoint name of a path (for routing and metrics).
fn endpoint(path: &str) -> &'static str {
    match path {
        "/validate" => "validate",
        "/mutate" => "mutate",
        "/imagereview" => "imagereview",
        "/authenticate" => "authenticate",
        "/authorize" => "authorize",
        "/audit" => "audit",
        _ => "other",
    }
}

async fn handle(shared: &Shared, req: hyper::Request<Incoming>) -> Resp {
    let started = Instant::now();
    let name = endpoint(req.uri().path());
    let (resp, decision) = route(shared, name, req).await;
    shared.metrics.record(name, resp.status().as_u16(), decision, started.elapsed());
    resp
}

async fn route(shared: &Shared, name: &'static str, req: hyper::Request<Incoming>) -> (Resp, Decision) {
    if name == "other" {
        let msg = format!("the server could not find the requested resource {:?}", req.uri().path());
        return (status_response(404, "NotFound", &msg), Decision::None);
    }
    if req.method() != Method::POST {
        let msg = format!("{} {}: only POST is allowed", req.method(), req.uri().path());
        let mut r = status_response(405, "MethodNotAllowed", &msg);
        r.headers_mut().insert(hyper::header::ALLOW, HeaderValue::from_static("POST"));
        return (r, Decision::None);
    }
    if let Some(ct) = req.headers().get(CONTENT_TYPE)
        && !ct.to_str().is_ok_and(|v| v.starts_with("application/json"))
    {
        let msg = format!("unsupported Content-Type {ct:?}: expected application/json");
        return (status_response(415, "UnsupportedMediaType", &msg), Decision::None);
    }
    // Until the cluster's objects are listed, answers that depend on them would be made against
    // an empty state (no namespace labels, no RBAC): refuse instead, and let kube-apiserver apply
    // the webhook's own failurePolicy. The image policy and the audit sink do not read the state.
    if !matches!(name, "imagereview" | "audit") && !shared.synced.load(Ordering::SeqCst) {
        let msg = "kguard has not synced the cluster state yet (state.cluster); retry";
        let mut r = status_response(503, "ServiceUnavailable", msg);
        r.headers_mut().insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("1"));
        return (r, Decision::None);
    }
    let runtime = shared.runtime();
    let limits = &runtime.config.limits;
    let Ok(_permit) = tokio::time::timeout(Duration::from_secs(1), shared.permits.acquire()).await else {
        let mut r = status_response(429, "TooManyRequests", "too many requests in flight; retry");
        r.headers_mut().insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("1"));
        return (r, Decision::None);
    };
    shared.metrics.in_flight(1);
    let body = Limited::new(req.into_body(), limits.max_body_bytes);
    let collected = tokio::time::timeout(Duration::from_secs(limits.body_timeout_seconds), body.collect()).await;
    let bytes = match collected {
        Err(_) => {
            shared.metrics.in_flight(-1);
            return (status_response(408, "Timeout", "timed out reading the request body"), Decision::None);
        }
        Ok(Err(e)) => {
            shared.metrics.in_flight(-1);
            if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                let msg = format!("request body exceeds the limit of {} bytes", limits.max_body_bytes);
                return (status_response(413, "RequestEntityTooLarge", &msg), Decision::None);
            }
            return (status_response(400, "BadRequest", &format!("reading the request body: {e}")), Decision::None);
        }
        Ok(Ok(c)) => c.to_bytes(),
    };
    let out = if name == "audit" {
        audit_endpoint(shared, &runtime, &bytes).await
    } else {
        let rt = Arc::clone(&runtime);
        // Evaluation is pure CPU work; a bug in it must not take the server down: a panic is
        // caught here and answered per the failure policy.
        let evaluated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| evaluate(&rt, name, &bytes)));
        match evaluated {
            Ok(r) => r,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(ToString::to_string)
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown error".to_owned());
                log("error", &format!("internal error evaluating /{name}: {what}"));
                failure(&rt, name, &bytes, &what)
            }
        }
    };
    shared.metrics.in_flight(-1);
    out
}

/// The answer to an internal evaluation error: per the failure policy for admission and image
/// review (`Fail` denies, `Ignore` allows with an audit annotation); authentication and
/// authorization always fail closed.
fn failure(rt: &Runtime, name: &str, body: &[u8], what: &str) -> (Resp, Decision) {
    let message = format!("kguard internal error: {what}");
    let open = rt.config.failure_policy == config::FailurePolicy::Ignore;
    match name {
        "validate" | "mutate" => match wire::admission_review(body) {
            Ok(review) => {
                let mut r = if open {
                    admission::Response::allow_annotated("kguard-error", &message)
                } else {
                    admission::Response::deny(admission::Status { code: 500, reason: "InternalError", message })
                };
                r.patch.clear();
                (
                    json(StatusCode::OK, &wire::admission_response(&review.api_version, &review.request.uid, &r)),
                    Decision::Error,
                )
            }
            Err(e) => (status_response(e.code, e.reason, &e.message), Decision::Error),
        },
        "imagereview" => {
            let mut audit = BTreeMap::new();
            if open {
                audit.insert("imagepolicywebhook.image-policy.k8s.io/failed-open".to_owned(), "true".to_owned());
            }
            (json(StatusCode::OK, &wire::image_review_response(open, &message, &audit)), Decision::Error)
        }
        _ => (status_response(500, "InternalError", &message), Decision::Error),
    }
}

fn bad(e: &BadRequest) -> (Resp, Decision) {
    (status_response(e.code, e.reason, &e.message), Decision::None)
}

fn evaluate(rt: &Runtime, name: &str, body: &[u8]) -> (Resp, Decision) {
    match name {
        "validate" | "mutate" => {
            let review = match wire::admission_review(body) {
                Ok(r) => r,
                Err(e) => return bad(&e),
            };
            let r = if name == "validate" {
                admission::validate(&rt.policies, &rt.inventory, &rt.authorizer, &review.request)
            } else {
                admission::mutate(&rt.policies, &rt.inventory, &rt.authorizer, &review.request)
            };
            let decision = if r.allowed { Decision::Allowed } else { Decision::Denied };
            (json(StatusCode::OK, &wire::admission_response(&review.api_version, &review.request.uid, &r)), decision)
        }
        "imagereview" => {
            let review = match wire::image_review(body) {
                Ok(r) => r,
                Err(e) => return bad(&e),
            };
            let exempt = rt.image_policy.exempt_namespaces.contains(&review.namespace);
            let result =
                if exempt { Ok(()) } else { rt.image_policy.check_all(review.images.iter().map(String::as_str)) };
            let (allowed, reason) = match result {
                Ok(()) => (true, String::new()),
                Err(e) => (false, e),
            };
            let mut audit = BTreeMap::new();
            if !allowed {
                audit.insert("denied-images".to_owned(), reason.clone());
            }
            let decision = if allowed { Decision::Allowed } else { Decision::Denied };
            (json(StatusCode::OK, &wire::image_review_response(allowed, &reason, &audit)), decision)
        }
        "authenticate" => {
            let review = match wire::token_review(body) {
                Ok(r) => r,
                Err(e) => return bad(&e),
            };
            authenticate(rt, &review)
        }
        "authorize" => {
            let review = match wire::subject_access_review(body) {
                Ok(r) => r,
                Err(e) => return bad(&e),
            };
            let d = rt.authorizer.decide(&review.attributes);
            let (allowed, denied) = (d.verdict == Verdict::Allow, d.verdict == Verdict::Deny);
            let decision = if allowed { Decision::Allowed } else { Decision::Denied };
            (
                json(
                    StatusCode::OK,
                    &wire::subject_access_review_response(&review.api_version, allowed, denied, &d.reason, ""),
                ),
                decision,
            )
        }
        _ => (status_response(404, "NotFound", "not found"), Decision::None),
    }
}

fn now_unix() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()).unwrap_or(0)
}

fn authenticate(rt: &Runtime, review: &wire::TokenReview) -> (Resp, Decision) {
    if review.token.is_empty() {
        let body = wire::token_review_response(&review.api_version, None, &[], "the token is empty");
        return (json(StatusCode::OK, &body), Decision::Denied);
    }
    // Requested audiences narrow the service-account verifier's; without any, the configured
    // API audiences apply (kube-apiserver's `--api-audiences`).
    let narrowed = match (&rt.service_accounts, review.audiences.is_empty()) {
        (Some(v), false) => Some(v.with_audiences(review.audiences.clone())),
        _ => None,
    };
    let authn = Authenticators {
        token_file: rt.token_file.as_deref(),
        service_accounts: narrowed.as_ref().or(rt.service_accounts.as_ref()),
        bootstrap_secrets: rt.bootstrap_secrets.as_deref(),
        anonymous: false,
        ..Authenticators::default()
    };
    let creds = Credentials { bearer_token: Some(&review.token), ..Credentials::default() };
    match union::authenticate(&authn, &creds, now_unix()) {
        union::Verdict::Authenticated { user, by } => {
            let audiences = if by == "service-account" { review.audiences.clone() } else { Vec::new() };
            let body = wire::token_review_response(&review.api_version, Some(&user), &audiences, "");
            (json(StatusCode::OK, &body), Decision::Allowed)
        }
        union::Verdict::Unauthorized(reasons) => {
            let body = wire::token_review_response(&review.api_version, None, &[], &reasons.join("; "));
            (json(StatusCode::OK, &body), Decision::Denied)
        }
    }
}

async fn audit_endpoint(shared: &Shared, rt: &Runtime, body: &Bytes) -> (Resp, Decision) {
    let Some(writer) = &shared.audit else {
        return (
            status_response(404, "NotFound", "the audit sink is not configured (audit.log in kguard.yaml)"),
            Decision::None,
        );
    };
    let events = match audit::events(body) {
        Ok(v) => v,
        Err(e) => return (status_response(400, "BadRequest", &e), Decision::None),
    };
    let count = events.len();
    if let Err(e) = writer.append(audit::lines(&events)).await {
        log("error", &format!("audit log write failed: {e}"));
        return (status_response(500, "InternalError", &format!("audit log write failed: {e}")), Decision::Error);
    }
    shared.metrics.audit_events(count);
    if let Some(engine) = &rt.detect {
        let now_ns =
            i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos()).unwrap_or(0);
        for event in events {
            let event = kguard_engine::detect::k8saudit::AuditEvent::new(event, now_ns);
            for alert in engine.process(&event) {
                shared.metrics.alert(alert.priority.as_str());
                let line = alert.to_json(&shared.hostname).to_string();
                if rt.config.audit.alerts.stdout {
                    println!("{line}");
                }
                if let Some(path) = &rt.config.audit.alerts.file {
                    append_alert(path, &line);
                }
                if let Some(queue) = &shared.alert_http
                    && !queue.send(line)
                {
                    let dropped = shared.metrics.alert_http.dropped.load(Ordering::Relaxed);
                    if dropped == 1 || dropped.is_multiple_of(1000) {
                        log("warning", &format!("HTTP alert output: queue full, {dropped} alerts dropped so far"));
                    }
                }
            }
        }
    }
    (json(StatusCode::OK, &serde_json::json!({})), Decision::Allowed)
}

fn append_alert(path: &Path, line: &str) {
    use std::io::Write as _;
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
    if let Err(e) = written {
        log("error", &format!("alert output {}: {e}", path.display()));
    }
}
