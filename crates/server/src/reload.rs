//! Keeping the runtime current: configuration and file reloads (polled), and rebuilds after the
//! cluster's objects change (`state.cluster`). A rebuild that fails keeps the previous runtime,
//! whole, and counts a failed reload.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;

use crate::cluster::{self, Cluster};
use crate::state::{self, Runtime, StateSource};
use crate::{ServeError, Shared, config, log};

/// Polls the configuration, its files and the state directory; rebuilds and swaps the runtime
/// when they changed and then held still for one more interval (a file caught mid-write is not
/// read: write state files by renaming them into place).
pub(crate) async fn reload_loop(shared: Arc<Shared>, config_path: PathBuf, mut stop: watch::Receiver<bool>) {
    let runtime = shared.runtime();
    let interval = runtime.config.reload_interval_seconds;
    if interval == 0 {
        return;
    }
    let mut seen = state::fingerprint(&config_path, &runtime.config);
    let mut pending: Option<state::Fingerprint> = None;
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
            pending = None;
            continue;
        }
        // Changed since the last build: wait until it stops changing.
        if pending.as_ref() != Some(&now) {
            pending = Some(now);
            continue;
        }
        pending = None;
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
                    log(crate::log::Level::Warning, &format!("state: {w}"));
                }
                if runtime.config.listen != current.config.listen
                    || runtime.config.health_listen != current.config.health_listen
                    || runtime.config.audit.log.as_ref().map(|l| &l.path)
                        != current.config.audit.log.as_ref().map(|l| &l.path)
                    || runtime.config.audit.alerts.http != current.config.audit.alerts.http
                    || runtime.config.limits.evaluation_threads() != current.config.limits.evaluation_threads()
                {
                    log(
                        crate::log::Level::Warning,
                        "listen addresses, the audit log path, the HTTP alert output and the evaluation threads \
                         change only at restart",
                    );
                }
                seen = state::fingerprint(&config_path, &runtime.config);
                log(crate::log::Level::Info, &format!("reloaded: {} state objects", runtime.objects));
                if let Ok(mut slot) = shared.runtime.write() {
                    *slot = Arc::new(runtime);
                }
                if complete {
                    shared.synced.store(true, Ordering::SeqCst);
                }
                shared.metrics.reload(true);
            }
            Ok(Err(e)) => {
                // Retried only when the files change again.
                seen = now;
                log(
                    crate::log::Level::Error,
                    &format!("reload failed, keeping the previous configuration and state: {e}"),
                );
                shared.metrics.reload(false);
            }
            Err(e) => {
                log(crate::log::Level::Error, &format!("reload task failed: {e}"));
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
pub(crate) fn build(config: config::Config, cluster: Option<&Cluster>) -> Result<(Runtime, bool), ServeError> {
    match (&config.state.cluster, cluster) {
        (None, None) => Ok((Runtime::build(config)?, true)),
        (Some(settings), Some(c)) if settings == c.settings() => {
            let watched = c.resources();
            if let Some(missing) = cluster::resources(&config).iter().find(|r| !watched.contains(r)) {
                return Err(ServeError::Cluster(format!(
                    "the configuration now needs {} from the cluster, which is not watched: restart to apply it",
                    missing.label
                )));
            }
            // Synced before the snapshot: a store that is listed then is in it.
            let complete = c.synced();
            let (objects, warnings) = c.snapshot().into_objects();
            Ok((Runtime::build_from(config, StateSource::Objects(objects, warnings))?, complete))
        }
        _ => Err(ServeError::Cluster(
            "the source of the cluster objects and its connection change only at restart".to_owned(),
        )),
    }
}

/// How long store changes are collected before a rebuild: one rebuild per burst of events.
const CLUSTER_DEBOUNCE: Duration = Duration::from_millis(500);

/// Rebuilds the runtime from the cluster's stores after each change (collected for
/// [`CLUSTER_DEBOUNCE`]), once every resource has been listed; the first such build makes the
/// server ready.
pub(crate) async fn cluster_loop(shared: Arc<Shared>, cluster: Arc<Cluster>, mut stop: watch::Receiver<bool>) {
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
                    log(crate::log::Level::Warning, &format!("state: {w}"));
                }
                let objects = runtime.objects;
                if let Ok(mut slot) = shared.runtime.write() {
                    *slot = Arc::new(runtime);
                }
                cluster.record_update(true);
                if !shared.synced.swap(true, Ordering::SeqCst) {
                    log(crate::log::Level::Info, &format!("cluster state synced: {objects} objects; ready"));
                }
            }
            Ok(Err(e)) => {
                log(
                    crate::log::Level::Error,
                    &format!("rebuilding with the cluster state failed, keeping the previous state: {e}"),
                );
                cluster.record_update(false);
            }
            Err(e) => {
                log(crate::log::Level::Error, &format!("cluster state task failed: {e}"));
                cluster.record_update(false);
            }
        }
        drop(guard);
    }
}
