//! The cluster state source (`state.cluster` in kguard.yaml): kube-rs reflectors list and watch,
//! through the cluster's API, the objects the configured engines read, and keep them in memory.
//! When any store changes, the server rebuilds its [`crate::state::Runtime`] from a [`Snapshot`] of
//! every store (see `cluster_loop` in `lib.rs`, [`crate::state::Runtime::with_objects`]: the
//! configuration's files are not read again).
//!
//! Objects are read as [`DynamicObject`]s, so a kind that recent API versions dropped
//! (PodSecurityPolicy, `policy/v1beta1`, gone in Kubernetes 1.25) is watched the same way; a
//! resource the API server does not serve (404 on the first list) is logged and treated as empty.
//! Secrets are watched only when an authenticator needs them, and only of the types it reads
//! (field selectors).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use futures_util::StreamExt as _;
use kguard_model::Object;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Client, ResourceExt as _};
use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::config::{self, Config};

/// One kind of object watched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resource {
    /// How logs and metrics name it.
    pub label: &'static str,
    /// API group (`""`: core).
    pub group: &'static str,
    /// API version.
    pub version: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Resource name in URLs.
    pub plural: &'static str,
    /// Watched in this namespace only (else in all namespaces, or cluster-scoped).
    pub namespace: Option<&'static str>,
    /// Field selector of the list and watch requests.
    pub field_selector: Option<&'static str>,
}

const fn resource(
    label: &'static str,
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
) -> Resource {
    Resource { label, group, version, kind, plural, namespace: None, field_selector: None }
}

/// Namespaces (Pod Security labels).
pub const NAMESPACES: Resource = resource("namespaces", "", "v1", "Namespace", "namespaces");
/// Pods (PodSecurity namespace checks, the Node authorizer, pod-bound tokens).
pub const PODS: Resource = resource("pods", "", "v1", "Pod", "pods");
/// RBAC.
pub const RBAC: [Resource; 4] = [
    resource("roles", "rbac.authorization.k8s.io", "v1", "Role", "roles"),
    resource("rolebindings", "rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    resource("clusterroles", "rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles"),
    resource("clusterrolebindings", "rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings"),
];
/// PodSecurityPolicies (`policy/v1beta1`, served up to Kubernetes 1.24).
pub const PSPS: Resource =
    resource("podsecuritypolicies", "policy", "v1beta1", "PodSecurityPolicy", "podsecuritypolicies");
/// What service-account token lookups read besides pods.
pub const TOKEN_OBJECTS: [Resource; 3] = [
    resource("serviceaccounts", "", "v1", "ServiceAccount", "serviceaccounts"),
    resource("nodes", "", "v1", "Node", "nodes"),
    Resource {
        field_selector: Some("type=kubernetes.io/service-account-token"),
        ..resource("secrets:service-account-token", "", "v1", "Secret", "secrets")
    },
];
/// Bootstrap-token Secrets (in `kube-system` only, as kube-apiserver reads them).
pub const BOOTSTRAP_SECRETS: Resource = Resource {
    namespace: Some("kube-system"),
    field_selector: Some("type=bootstrap.kubernetes.io/token"),
    ..resource("secrets:bootstrap-token", "", "v1", "Secret", "secrets")
};
/// The Node authorizer's other graph inputs.
pub const NODE_GRAPH: [Resource; 3] = [
    resource("persistentvolumes", "", "v1", "PersistentVolume", "persistentvolumes"),
    resource("volumeattachments", "storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments"),
    resource("resourceslices", "resource.k8s.io", "v1", "ResourceSlice", "resourceslices"),
];

impl Resource {
    /// `apiVersion`.
    #[must_use]
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.to_owned() } else { format!("{}/{}", self.group, self.version) }
    }

    fn api_resource(&self) -> ApiResource {
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(self.group, self.version, self.kind), self.plural)
    }
}

/// The resources watched for a configuration: only what its engines read.
///
/// * always: Namespaces;
/// * Pods: with Pod Security, the `Node` authorizer or service-account tokens;
/// * Roles, RoleBindings, ClusterRoles, ClusterRoleBindings: with the `RBAC` authorizer;
/// * PodSecurityPolicies: with `admission.podSecurityPolicy`;
/// * ServiceAccounts, Nodes, `kubernetes.io/service-account-token` Secrets: with
///   `authentication.serviceAccounts`;
/// * `bootstrap.kubernetes.io/token` Secrets of `kube-system`: with
///   `authentication.bootstrapTokens`;
/// * PersistentVolumes, VolumeAttachments, ResourceSlices: with the `Node` authorizer.
#[must_use]
pub fn resources(config: &Config) -> Vec<Resource> {
    let mode = |m: &str| config.authorization.modes.iter().any(|x| x == m);
    let service_accounts = config.authentication.service_accounts.is_some();
    let mut out = vec![NAMESPACES];
    if config.admission.pod_security.enabled || mode("Node") || service_accounts {
        out.push(PODS);
    }
    if mode("RBAC") {
        out.extend(RBAC);
    }
    if config.admission.pod_security_policy.enabled {
        out.push(PSPS);
    }
    if service_accounts {
        out.extend(TOKEN_OBJECTS);
    }
    if config.authentication.bootstrap_tokens {
        out.push(BOOTSTRAP_SECRETS);
    }
    if mode("Node") {
        out.extend(NODE_GRAPH);
    }
    out
}

/// Where an API configuration was looked for, to say which failed.
pub(crate) enum ConfigSource<'a> {
    /// The pod's service account.
    InCluster,
    /// A kubeconfig file named.
    Kubeconfig(&'a std::path::Path),
    /// A context of the default kubeconfig.
    Context,
    /// As kubectl finds it: `$KUBECONFIG`, `~/.kube/config`, then in-cluster.
    Inferred,
}

/// The API configuration: in-cluster, from the named kubeconfig (and context), from a context of
/// the default kubeconfig, or as kubectl finds it. The serve configuration's `state.cluster` and
/// the CLI's `--kubeconfig`/`--context`/`--in-cluster` both come here.
///
/// # Errors
/// Missing or invalid kubeconfig, unknown context, not in a pod: the source that failed and why.
pub(crate) async fn kube_config<'a>(
    kubeconfig: Option<&'a std::path::Path>,
    context: Option<&str>,
    in_cluster: bool,
) -> Result<kube::Config, (ConfigSource<'a>, String)> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let options = KubeConfigOptions { context: context.map(str::to_owned), ..KubeConfigOptions::default() };
    if in_cluster {
        kube::Config::incluster().map_err(|e| (ConfigSource::InCluster, e.to_string()))
    } else if let Some(path) = kubeconfig {
        let kubeconfig = Kubeconfig::read_from(path).map_err(|e| (ConfigSource::Kubeconfig(path), e.to_string()))?;
        kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| (ConfigSource::Kubeconfig(path), e.to_string()))
    } else if context.is_some() {
        kube::Config::from_kubeconfig(&options).await.map_err(|e| (ConfigSource::Context, e.to_string()))
    } else {
        kube::Config::infer().await.map_err(|e| (ConfigSource::Inferred, e.to_string()))
    }
}

/// Builds the API client: in-cluster, from the named kubeconfig, or as kubectl would.
///
/// # Errors
/// Missing or invalid kubeconfig, unknown context, not in a pod (in-cluster). The API itself is
/// not contacted here.
pub async fn client(settings: &config::Cluster) -> Result<Client, String> {
    let config = kube_config(settings.kubeconfig.as_deref(), settings.context.as_deref(), settings.in_cluster)
        .await
        .map_err(|(source, e)| match source {
            ConfigSource::InCluster => format!("state.cluster: in-cluster configuration: {e}"),
            ConfigSource::Kubeconfig(path) => format!("state.cluster.kubeconfig {}: {e}", path.display()),
            ConfigSource::Context => format!("state.cluster: kubeconfig: {e}"),
            ConfigSource::Inferred => format!("state.cluster: {e}"),
        })?;
    Client::try_from(config).map_err(|e| format!("state.cluster: API client: {e}"))
}

const SYNCING: u8 = 0;
const SYNCED: u8 = 1;
const NOT_SERVED: u8 = 2;

struct Watched {
    resource: Resource,
    api_resource: ApiResource,
    store: Store<DynamicObject>,
    phase: AtomicU8,
    errors: AtomicU64,
}

/// The watched resources and their stores.
pub struct Cluster {
    settings: config::Cluster,
    watched: Vec<Watched>,
    changed: Notify,
    dirty: AtomicBool,
    updates_ok: AtomicU64,
    updates_failed: AtomicU64,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("settings", &self.settings)
            .field("resources", &self.watched.iter().map(|w| w.resource.label).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Starts one reflector per resource on the current tokio runtime; they list, then watch,
    /// and retry failures with kube's default backoff (0.8 s doubling to 30 s, with jitter).
    #[must_use]
    pub fn spawn(
        client: &Client,
        settings: config::Cluster,
        resources: &[Resource],
    ) -> (Arc<Self>, Vec<JoinHandle<()>>) {
        let mut watched = Vec::new();
        let mut writers = Vec::new();
        for r in resources {
            let api_resource = r.api_resource();
            let writer = reflector::store::Writer::<DynamicObject>::new(api_resource.clone());
            watched.push(Watched {
                resource: *r,
                api_resource: api_resource.clone(),
                store: writer.as_reader(),
                phase: AtomicU8::new(SYNCING),
                errors: AtomicU64::new(0),
            });
            writers.push(writer);
        }
        let cluster = Arc::new(Self {
            settings,
            watched,
            changed: Notify::new(),
            dirty: AtomicBool::new(false),
            updates_ok: AtomicU64::new(0),
            updates_failed: AtomicU64::new(0),
        });
        let tasks = writers
            .into_iter()
            .enumerate()
            .map(|(i, writer)| tokio::spawn(Arc::clone(&cluster).watch(i, client.clone(), writer)))
            .collect();
        (cluster, tasks)
    }

    async fn watch(self: Arc<Self>, index: usize, client: Client, writer: reflector::store::Writer<DynamicObject>) {
        let Some(w) = self.watched.get(index) else { return };
        let r = &w.resource;
        let api: Api<DynamicObject> = match r.namespace {
            Some(ns) => Api::namespaced_with(client, ns, &w.api_resource),
            None => Api::all_with(client, &w.api_resource),
        };
        let mut wc = watcher::Config::default();
        if let Some(fields) = r.field_selector {
            wc = wc.fields(fields);
        }
        let stream = watcher(api, wc).modify(|o| o.managed_fields_mut().clear()).default_backoff().reflect(writer);
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            match item {
                Ok(watcher::Event::InitDone) => {
                    if w.phase.swap(SYNCED, Ordering::SeqCst) != SYNCED {
                        crate::log(
                            crate::log::Level::Info,
                            &format!("cluster: {} listed ({} objects), watching", r.label, w.store.len()),
                        );
                    }
                    self.touch();
                }
                Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_)) => self.touch(),
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
                Err(watcher::Error::InitialListFailed(kube::Error::Api(status)))
                    if status.code == 404 && w.phase.load(Ordering::SeqCst) == SYNCING =>
                {
                    crate::log(
                        crate::log::Level::Warning,
                        &format!(
                            "cluster: {} ({}) is not served by this API server (404): taken as empty until restart",
                            r.label,
                            r.api_version()
                        ),
                    );
                    w.phase.store(NOT_SERVED, Ordering::SeqCst);
                    self.touch();
                    return;
                }
                Err(e) => {
                    w.errors.fetch_add(1, Ordering::Relaxed);
                    crate::log(
                        crate::log::Level::Error,
                        &format!("cluster: watching {}: {e} (retrying with backoff)", r.label),
                    );
                }
            }
        }
    }

    fn touch(&self) {
        self.dirty.store(true, Ordering::SeqCst);
        self.changed.notify_one();
    }

    /// Whether a store changed since the last call (then resets it): call before a
    /// [`Cluster::snapshot`], so that changes made after it are seen by the next call.
    pub fn take_changes(&self) -> bool {
        self.dirty.swap(false, Ordering::SeqCst)
    }

    /// The connection settings it was started with.
    #[must_use]
    pub fn settings(&self) -> &config::Cluster {
        &self.settings
    }

    /// The resources watched.
    #[must_use]
    pub fn resources(&self) -> Vec<Resource> {
        self.watched.iter().map(|w| w.resource).collect()
    }

    /// Whether every resource has been listed (or found not served).
    #[must_use]
    pub fn synced(&self) -> bool {
        self.watched.iter().all(|w| w.phase.load(Ordering::SeqCst) != SYNCING)
    }

    /// Resolves at the next change of any store (a change since the last call counts; a burst of
    /// changes may wake it more than once: see [`Cluster::take_changes`]).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// The objects of every store now (cheap: shared references).
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        Snapshot(self.watched.iter().map(|w| (w.api_resource.clone(), w.store.state())).collect())
    }

    /// Counts a rebuild of the runtime from the stores.
    pub fn record_update(&self, ok: bool) {
        if ok { &self.updates_ok } else { &self.updates_failed }.fetch_add(1, Ordering::Relaxed);
    }

    /// Appends the cluster metrics (Prometheus text).
    pub fn render_metrics(&self, out: &mut String) {
        out.push_str("# HELP kguard_cluster_synced Whether every watched resource has been listed (1) or not yet (0).\n# TYPE kguard_cluster_synced gauge\n");
        let _ = writeln!(out, "kguard_cluster_synced {}", u8::from(self.synced()));
        out.push_str(
            "# HELP kguard_cluster_objects Objects held per watched resource.\n# TYPE kguard_cluster_objects gauge\n",
        );
        for w in &self.watched {
            let _ = writeln!(out, "kguard_cluster_objects{{resource=\"{}\"}} {}", w.resource.label, w.store.len());
        }
        out.push_str("# HELP kguard_cluster_watch_errors_total List and watch errors per resource (each retried with backoff).\n# TYPE kguard_cluster_watch_errors_total counter\n");
        for w in &self.watched {
            let n = w.errors.load(Ordering::Relaxed);
            let _ = writeln!(out, "kguard_cluster_watch_errors_total{{resource=\"{}\"}} {n}", w.resource.label);
        }
        out.push_str("# HELP kguard_cluster_updates_total Runtime rebuilds from the watched objects.\n# TYPE kguard_cluster_updates_total counter\n");
        let _ = writeln!(
            out,
            "kguard_cluster_updates_total{{result=\"success\"}} {}",
            self.updates_ok.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "kguard_cluster_updates_total{{result=\"failure\"}} {}",
            self.updates_failed.load(Ordering::Relaxed)
        );
    }
}

/// The stores' objects at one moment.
#[derive(Debug)]
pub struct Snapshot(Vec<(ApiResource, Vec<Arc<DynamicObject>>)>);

impl Snapshot {
    /// Converts every object to the model's [`Object`] (named `cluster:<apiVersion>/<Kind>/
    /// [<namespace>/]<name>`), sorted for a stable order, with the problems met.
    #[must_use]
    pub fn into_objects(self) -> (Vec<Object>, Vec<String>) {
        let mut objects = Vec::new();
        let mut warnings = Vec::new();
        for (ar, items) in self.0 {
            for item in items {
                match to_object(&ar, &item) {
                    Ok(o) => objects.push(o),
                    Err(e) => warnings.push(e),
                }
            }
        }
        objects.sort_by(|a, b| a.file.cmp(&b.file));
        (objects, warnings)
    }
}

/// One object from the API as a model object. List items carry no `apiVersion`/`kind`: they are
/// the resource's.
fn to_object(ar: &ApiResource, obj: &DynamicObject) -> Result<Object, String> {
    let source = match obj.metadata.namespace.as_deref() {
        Some(ns) => format!("cluster:{}/{}/{ns}/{}", ar.api_version, ar.kind, obj.name_any()),
        None => format!("cluster:{}/{}/{}", ar.api_version, ar.kind, obj.name_any()),
    };
    let mut value = serde_json::to_value(obj).map_err(|e| format!("{source}: {e}"))?;
    if let Value::Object(map) = &mut value {
        map.entry("apiVersion").or_insert_with(|| Value::String(ar.api_version.clone()));
        map.entry("kind").or_insert_with(|| Value::String(ar.kind.clone()));
    }
    Object::from_json(&value, source.as_str().into()).map_err(|e| format!("{source}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const MINIMAL: &str =
        "apiVersion: kguard.io/v1alpha1\nkind: ServerConfig\ntls: {certFile: c, keyFile: k}\nstate: {cluster: {}}\n";

    fn labels(extra: &str) -> Vec<&'static str> {
        let config = Config::parse("k.yaml", &format!("{MINIMAL}{extra}"), Path::new("/")).unwrap();
        resources(&config).iter().map(|r| r.label).collect()
    }

    #[test]
    fn watches_only_what_the_engines_read() {
        assert_eq!(labels(""), ["namespaces", "pods", "roles", "rolebindings", "clusterroles", "clusterrolebindings"]);
        assert_eq!(
            labels("admission: {podSecurity: {enabled: false}}\nauthorization: {modes: [AlwaysAllow]}\n"),
            ["namespaces"]
        );
        let all = labels(
            "admission: {podSecurityPolicy: {enabled: true}}\nauthorization: {modes: [Node, RBAC]}\n\
             authentication: {bootstrapTokens: true, serviceAccounts: {keyFiles: [k], issuers: [i]}}\n",
        );
        assert_eq!(
            all,
            [
                "namespaces",
                "pods",
                "roles",
                "rolebindings",
                "clusterroles",
                "clusterrolebindings",
                "podsecuritypolicies",
                "serviceaccounts",
                "nodes",
                "secrets:service-account-token",
                "secrets:bootstrap-token",
                "persistentvolumes",
                "volumeattachments",
                "resourceslices",
            ]
        );
        assert_eq!(BOOTSTRAP_SECRETS.namespace, Some("kube-system"));
        assert_eq!(PSPS.api_version(), "policy/v1beta1");
    }

    #[test]
    fn list_items_get_their_resource_kind_and_a_synthetic_source() {
        let ar = NAMESPACES.api_resource();
        let item: DynamicObject = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "dev", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}))
        .unwrap();
        let o = to_object(&ar, &item).unwrap();
        assert_eq!((o.id.api_version.as_str(), o.kind(), o.id.name.as_str()), ("v1", "Namespace", "dev"));
        assert_eq!(&*o.file, "cluster:v1/Namespace/dev");
        assert_eq!(o.label("pod-security.kubernetes.io/enforce"), Some("restricted"));
        let ar = RBAC[0].api_resource();
        let item: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "r", "namespace": "dev"}, "rules": [{"verbs": ["get"]}]}))
        .unwrap();
        let o = to_object(&ar, &item).unwrap();
        assert_eq!(&*o.file, "cluster:rbac.authorization.k8s.io/v1/Role/dev/r");
        assert_eq!(o.root.to_json()["rules"][0]["verbs"][0], "get");
        let snapshot = Snapshot(vec![(ar, vec![Arc::new(item)])]);
        let (objects, warnings) = snapshot.into_objects();
        assert_eq!((objects.len(), warnings.len()), (1, 0));
    }
}
