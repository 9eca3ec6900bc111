//! `kguard serve`: one HTTPS server for the webhooks kube-apiserver calls.
//!
//! * `POST /validate`, `/mutate`: admission.k8s.io AdmissionReview ([`kguard_admission`]).
//! * `POST /imagereview`: imagepolicy.k8s.io/v1alpha1 ImageReview (ImagePolicyWebhook).
//! * `POST /authenticate`: authentication.k8s.io TokenReview (token file, service-account JWTs,
//!   bootstrap tokens).
//! * `POST /authorize`: authorization.k8s.io SubjectAccessReview (the configured authorizer chain).
//! * `POST /audit`: audit.k8s.io EventList (the audit webhook backend): fsynced to a JSON-lines log
//!   before the 200, then through the detection rules.
//! * `GET /healthz`, `/readyz`, `/metrics` on a separate plain-HTTP port (local by default).
//!
//! Only this crate knows HTTP. By concern:
//! * `listen.rs`: the accept loop, TLS, connection limits and timeouts;
//! * `routes.rs`: what a request gets, from its path to its answer;
//! * `evaluate.rs`: the decisions, on a bounded pool of evaluation threads with a
//!   per-request budget;
//! * `sink.rs`: the audit endpoint (log, detection, alerts);
//! * `reload.rs`: configuration reloads and cluster-state updates;
//! * `health.rs`: the health port.
//!
//! [`mesh_proxy`] is `kguard mesh proxy`, the sidecar mTLS proxy (no HTTP but its admin port).
//!
//! Requests are decoded once ([`wire`]) into the domain types; the domains are pure. The
//! [`state::Runtime`] (configuration, engines, cluster objects) is rebuilt when its files change,
//! or when the watched cluster objects change (`cluster.rs`, with `state.cluster`), and swapped
//! atomically; a request keeps the runtime it started with.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod alerts;
pub mod apparmor;
pub mod audit;
mod cluster;
pub mod config;
mod error;
mod evaluate;
pub mod fetch;
mod health;
mod listen;
mod log;
pub mod mesh_proxy;
mod metrics;
pub mod registry;
mod reload;
mod routes;
pub mod seccomp;
mod sink;
pub mod state;
pub mod tls;
pub mod wire;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

pub use error::ServeError;
pub(crate) use log::log;
pub use log::{Level as LogLevel, configure as configure_log};

use crate::cluster::Cluster;
use crate::metrics::Metrics;
use crate::state::Runtime;

/// What every connection shares.
struct Shared {
    runtime: RwLock<Arc<Runtime>>,
    metrics: Metrics,
    /// Requests whose body has been read, waiting for or in evaluation.
    permits: Semaphore,
    /// Request bodies held in memory, in bytes.
    body_bytes: Semaphore,
    /// The evaluation threads.
    pool: evaluate::Pool,
    audit: Option<audit::Writer>,
    /// Cleared on SIGTERM/SIGINT: `/readyz` answers 503 from then on.
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
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    done: tokio::task::JoinHandle<()>,
}

impl Handle {
    /// Shuts down as on SIGTERM: readiness off at once while the webhooks keep serving for
    /// `shutdownDelaySeconds`, then no new connections and in-flight requests drained (up to
    /// `shutdownGraceSeconds`).
    pub async fn shutdown(self) {
        self.shared.ready.store(false, Ordering::SeqCst);
        let delay = Duration::from_secs(self.shared.runtime().config.shutdown_delay_seconds);
        if !delay.is_zero() {
            log(crate::log::Level::Info, &format!("shutting down: not ready; serving for {}s more", delay.as_secs()));
            tokio::time::sleep(delay).await;
        }
        log(crate::log::Level::Info, "shutting down: no new connections, draining in-flight requests");
        let _ = self.stop.send(true);
        let _ = self.done.await;
    }
}

/// Starts the server from a configuration file; returns once both ports are bound.
///
/// # Errors
/// Invalid configuration, unreadable files, ports that cannot be bound.
pub async fn start(config_path: &Path) -> Result<Handle, ServeError> {
    let config = state::read_config(config_path)?;
    let runtime = Runtime::build(config)?;
    for w in &runtime.warnings {
        log(crate::log::Level::Warning, &format!("state: {w}"));
    }
    let config = runtime.config.clone();
    let client = match &config.state.cluster {
        Some(settings) => Some(cluster::client(settings).await.map_err(ServeError::Cluster)?),
        None => None,
    };
    let metrics = Metrics::default();
    let audit = match &config.audit.log {
        None => None,
        Some(log_config) => {
            let (writer, repaired) = audit::Writer::start(log_config)?;
            if repaired.bytes > 0 || repaired.removed > 0 {
                log(
                    crate::log::Level::Warning,
                    &format!(
                        "audit log {}: repaired at start ({} bytes of an unfinished line dropped, {} leftover files removed)",
                        log_config.path.display(),
                        repaired.bytes,
                        repaired.removed
                    ),
                );
            }
            metrics.audit_repair(&repaired);
            Some(writer)
        }
    };
    let bind = |what: &'static str, addr: SocketAddr| async move {
        TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { what, addr, source })
    };
    let listener = bind("listen", config.listen).await?;
    let health = bind("healthListen", config.health_listen).await?;
    let local =
        |l: &TcpListener, what| l.local_addr().map_err(|source| ServeError::Bind { what, addr: config.listen, source });
    let addr = local(&listener, "listen")?;
    let health_addr = local(&health, "healthListen")?;
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
        crate::log::Level::Info,
        &format!(
            "kguard serve: webhooks on https://{addr}, health on http://{health_addr}, {source}, authorizers {:?}",
            config.authorization.modes
        ),
    );
    if let (Some(sc), Some(p)) = (&config.admission.seccomp, &runtime.policies.seccomp) {
        log(
            crate::log::Level::Info,
            &format!(
                "admission.seccomp: {} profile file(s) in {} ({} not usable), resolved as {}",
                p.profiles.len(),
                sc.profile_dir.display(),
                p.profiles.invalid().count(),
                p.profiles.root()
            ),
        );
    }
    if let (Some(a), Some(p)) = (&config.admission.apparmor, &runtime.policies.apparmor) {
        log(
            crate::log::Level::Info,
            &format!(
                "admission.apparmor: {} profile(s) from {} ({} source file(s) not parsed)",
                p.profiles.profiles.len(),
                a.profiles.display(),
                p.profiles.errors.len()
            ),
        );
    }
    let alert_http = match &config.audit.alerts.http {
        None => None,
        Some(h) => {
            let output = alerts::HttpOutput::with_roots(&h.url, h.ca_file.as_deref()).map_err(ServeError::Alerts)?;
            Some(
                alerts::HttpQueue::start(output, h.queue_size, Arc::clone(&metrics.alert_http))
                    .map_err(ServeError::Alerts)?,
            )
        }
    };
    let limits = &config.limits;
    let shared = Arc::new(Shared {
        permits: Semaphore::new(limits.max_concurrent_requests),
        body_bytes: Semaphore::new(limits.max_buffered_body_bytes.min(Semaphore::MAX_PERMITS)),
        pool: evaluate::Pool::start(limits.evaluation_threads(), limits.max_concurrent_requests)?,
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
    tasks.push(tokio::spawn(reload::reload_loop(Arc::clone(&shared), config_path.to_path_buf(), stop_rx.clone())));
    if let Some(c) = cluster {
        tasks.push(tokio::spawn(reload::cluster_loop(Arc::clone(&shared), c, stop_rx.clone())));
    }
    tasks.push(tokio::spawn(health::health_loop(Arc::clone(&shared), health)));
    let grace = Duration::from_secs(config.shutdown_grace_seconds);
    let accept_shared = Arc::clone(&shared);
    let done = tokio::spawn(async move {
        listen::accept_loop(accept_shared, listener, stop_rx, grace).await;
        for task in tasks {
            task.abort();
        }
    });
    Ok(Handle { addr, health_addr, shared, stop, done })
}

/// Runs the server until SIGTERM or SIGINT, then shuts down as [`Handle::shutdown`] does.
///
/// # Errors
/// As [`start`].
pub fn run(config_path: &Path, threads: usize) -> Result<(), ServeError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| ServeError::Runtime(format!("tokio runtime: {e}")))?;
    rt.block_on(async {
        // Listen for the signals before anything is bound: a SIGTERM that arrives while the
        // server starts (a pod deleted at once) is then a graceful stop, not the default death.
        let signals = Signals::install();
        let handle = start(config_path).await?;
        signals.wait().await;
        handle.shutdown().await;
        log(crate::log::Level::Info, "stopped");
        Ok(())
    })
}

/// SIGTERM and SIGINT, caught from the moment they are installed.
struct Signals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    #[cfg(unix)]
    fn install() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        let streams = match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(term), Ok(int)) => Some((term, int)),
            _ => None,
        };
        Self { streams }
    }

    #[cfg(not(unix))]
    fn install() -> Self {
        Self {}
    }

    async fn wait(self) {
        #[cfg(unix)]
        if let Some((mut term, mut int)) = self.streams {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
