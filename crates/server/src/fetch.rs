//! One-off reads of a live cluster's objects, for the CLI's `--cluster`, `--kubeconfig` and
//! `--context` (`kguard scan`, `can-i`, `who-can`, `rbac risks`, `netpol`).
//!
//! The credentials come from a kubeconfig (`$KUBECONFIG` or `~/.kube/config`, or the file and
//! context named) or, inside a pod, from its service account, as kubectl finds them. Each
//! resource is listed in pages (`limit`/`continue`, kubectl's `--chunk-size`); resources are read
//! several at a time. A resource the credentials may not list (403) is reported and the rest is
//! read; an unreachable server, refused credentials (401) or a failed discovery stop the read.
//!
//! Each object comes back as JSON text named `cluster:<apiVersion>/<Kind>/[<namespace>/]<name>`
//! (the names `kguard serve`'s cluster state uses), with `apiVersion` and `kind` filled in (list
//! items lack them) and `metadata.managedFields` left out (as `kubectl get` shows objects).

use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::discovery::{Discovery, Scope as KubeScope, verbs};
use kube::{Client, ResourceExt as _};
use serde_json::Value;

use crate::cluster;

/// Where the credentials come from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Connection {
    /// A kubeconfig file (else `$KUBECONFIG`, then `~/.kube/config`, then in-cluster).
    pub kubeconfig: Option<std::path::PathBuf>,
    /// The kubeconfig context (default: its `current-context`).
    pub context: Option<String>,
    /// Use the pod's service account (`KUBERNETES_SERVICE_HOST`, the mounted token and CA).
    pub in_cluster: bool,
}

/// A resource to list, by group, version and plural (`""` group: core).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// API group (`""`: core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Resource name in URLs.
    pub plural: String,
    /// Whether its objects live in namespaces.
    pub namespaced: bool,
}

impl Resource {
    fn new(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        Resource {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
            plural: plural.to_owned(),
            namespaced,
        }
    }

    /// `plural[.group]`, as kubectl names a resource.
    #[must_use]
    pub fn name(&self) -> String {
        if self.group.is_empty() { self.plural.clone() } else { format!("{}.{}", self.plural, self.group) }
    }

    fn api_resource(&self) -> ApiResource {
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(&self.group, &self.version, &self.kind), &self.plural)
    }
}

fn from_watched(r: cluster::Resource, namespaced: bool) -> Resource {
    Resource::new(r.group, r.version, r.kind, r.plural, namespaced)
}

/// What the authorization commands read: RBAC, and what the Node authorizer's graph holds
/// (Pods, PersistentVolumes, VolumeAttachments, ResourceSlices).
#[must_use]
pub fn authorization_resources() -> Vec<Resource> {
    let mut out: Vec<Resource> =
        cluster::RBAC.iter().map(|r| from_watched(*r, r.kind == "Role" || r.kind == "RoleBinding")).collect();
    out.push(from_watched(cluster::PODS, true));
    out.extend(cluster::NODE_GRAPH.iter().map(|r| from_watched(*r, false)));
    out
}

/// What NetworkPolicy analysis reads (as np-guard): Namespaces, Pods, the workload kinds,
/// NetworkPolicies, and the AdminNetworkPolicy API (`policy.networking.k8s.io/v1alpha1`) where
/// the cluster serves it.
#[must_use]
pub fn netpol_resources() -> Vec<Resource> {
    vec![
        from_watched(cluster::NAMESPACES, false),
        from_watched(cluster::PODS, true),
        Resource::new("apps", "v1", "Deployment", "deployments", true),
        Resource::new("apps", "v1", "ReplicaSet", "replicasets", true),
        Resource::new("apps", "v1", "StatefulSet", "statefulsets", true),
        Resource::new("apps", "v1", "DaemonSet", "daemonsets", true),
        Resource::new("batch", "v1", "Job", "jobs", true),
        Resource::new("batch", "v1", "CronJob", "cronjobs", true),
        Resource::new("", "v1", "ReplicationController", "replicationcontrollers", true),
        Resource::new("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true),
        Resource::new("policy.networking.k8s.io", "v1alpha1", "AdminNetworkPolicy", "adminnetworkpolicies", false),
        Resource::new(
            "policy.networking.k8s.io",
            "v1alpha1",
            "BaselineAdminNetworkPolicy",
            "baselineadminnetworkpolicies",
            false,
        ),
    ]
}

/// Which objects to read.
#[derive(Clone, Debug)]
pub enum What {
    /// Every resource the API server serves that can be listed (its preferred version), except
    /// Events (`events`, `events.events.k8s.io`) and `componentstatuses`: records, not
    /// configuration.
    Everything,
    /// These resources (one the server does not serve is skipped).
    Resources(Vec<Resource>),
}

/// A read's scope and paging.
#[derive(Clone, Debug)]
pub struct Request {
    /// Which resources.
    pub what: What,
    /// Only this namespace's namespaced objects, and of the cluster-scoped ones only this
    /// Namespace itself (kubectl's `-n`); `None`: every namespace.
    pub namespace: Option<String>,
    /// Objects per list request (kubectl's `--chunk-size`, default 500; 0: no paging).
    pub chunk_size: u32,
    /// Resources listed at once.
    pub concurrency: usize,
}

impl Default for Request {
    fn default() -> Self {
        Request { what: What::Everything, namespace: None, chunk_size: 500, concurrency: 8 }
    }
}

/// One object read.
#[derive(Clone, Debug)]
pub struct Document {
    /// `cluster:<apiVersion>/<Kind>/[<namespace>/]<name>`.
    pub source: String,
    /// The object as JSON (pretty-printed: positions in findings point into it).
    pub json: String,
}

/// How a resource could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// 403: the credentials may not list it (the rest is read).
    Forbidden,
    /// Any other failure of its list requests.
    Failed,
}

/// A resource that could not be read.
#[derive(Clone, Debug)]
pub struct Problem {
    /// `plural[.group]`.
    pub resource: String,
    /// Why.
    pub kind: ProblemKind,
    /// What the API server or the connection said.
    pub message: String,
}

/// What a read found.
#[derive(Debug, Default)]
pub struct Fetched {
    /// The API server's URL.
    pub server: String,
    /// The objects, sorted by source.
    pub documents: Vec<Document>,
    /// Resources that could not be read.
    pub problems: Vec<Problem>,
    /// Resources listed (those found empty included).
    pub resources: usize,
    /// List requests made (pages).
    pub requests: usize,
    /// Time spent connecting, discovering and listing.
    pub elapsed: Duration,
}

/// Why nothing could be read.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The kubeconfig or in-cluster configuration could not be used.
    #[error("{0}")]
    Config(String),
    /// The API server could not be reached or refused the credentials.
    #[error("{0}")]
    Connect(String),
}

/// Reads the objects `request` names from the cluster (a tokio runtime of its own, on this thread).
///
/// # Errors
/// A kubeconfig or context that cannot be used, a server that cannot be reached, credentials it
/// refuses (401), or a discovery that fails. A resource that cannot be listed is a [`Problem`].
pub fn fetch(connection: &Connection, request: &Request) -> Result<Fetched, FetchError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| FetchError::Config(format!("cannot start the API client: {e}")))?;
    rt.block_on(fetch_async(connection, request))
}

/// The client and the server's URL (for messages).
async fn connect(c: &Connection) -> Result<(Client, String), FetchError> {
    use cluster::ConfigSource;
    let config = cluster::kube_config(c.kubeconfig.as_deref(), c.context.as_deref(), c.in_cluster).await.map_err(
        |(source, e)| {
            FetchError::Config(match source {
                ConfigSource::InCluster => format!("--in-cluster: {e}"),
                ConfigSource::Kubeconfig(path) => format!("--kubeconfig {}: {e}", path.display()),
                ConfigSource::Context => format!("kubeconfig: {e}"),
                ConfigSource::Inferred => {
                    format!("no cluster to read: {e} (name one with --kubeconfig or --context, or set KUBECONFIG)")
                }
            })
        },
    )?;
    let url = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(|e| FetchError::Config(format!("API client: {e}")))?;
    Ok((client, url))
}

/// Says what a failed request means for the user.
fn describe(server: &str, e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if s.code == 401 => {
            format!("the API server at {server} refused the credentials (401 Unauthorized): {}", s.message)
        }
        kube::Error::Api(s) => format!("{} ({} {})", s.message, s.code, s.reason),
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            format!("cannot reach the API server at {server}: {}", chain(e))
        }
        other => chain(other),
    }
}

/// An error with its sources (`a: b: c`), without repeats.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

async fn discover(client: &Client, server: &str) -> Result<Vec<Resource>, FetchError> {
    let discovery = match Discovery::new(client.clone()).run_aggregated().await {
        Ok(d) => d,
        Err(kube::Error::Api(s)) if s.code != 401 && s.code != 403 => {
            Discovery::new(client.clone()).run().await.map_err(|e| FetchError::Connect(describe(server, &e)))?
        }
        Err(e) => return Err(FetchError::Connect(describe(server, &e))),
    };
    let mut out = Vec::new();
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            if !caps.supports_operation(verbs::LIST) || ar.plural.contains('/') {
                continue;
            }
            let skip = matches!(
                (ar.group.as_str(), ar.plural.as_str()),
                ("" | "events.k8s.io", "events") | ("", "componentstatuses")
            );
            if skip {
                continue;
            }
            out.push(Resource {
                group: ar.group.clone(),
                version: ar.version.clone(),
                kind: ar.kind.clone(),
                plural: ar.plural.clone(),
                namespaced: caps.scope == KubeScope::Namespaced,
            });
        }
    }
    out.sort_by(|a, b| (&a.group, &a.plural).cmp(&(&b.group, &b.plural)));
    Ok(out)
}

async fn fetch_async(connection: &Connection, request: &Request) -> Result<Fetched, FetchError> {
    let started = Instant::now();
    let (client, server) = connect(connection).await?;
    // One request that every reader may make: it tells an unreachable server or refused
    // credentials apart from a resource the credentials may not list.
    client.apiserver_version().await.map_err(|e| FetchError::Connect(describe(&server, &e)))?;
    let resources = match &request.what {
        What::Everything => discover(&client, &server).await?,
        What::Resources(list) => list.clone(),
    };
    let ns = request.namespace.as_deref();
    let results: Vec<(Resource, Listed)> = futures_util::stream::iter(resources)
        .map(|r| {
            let client = client.clone();
            async move {
                let out = list_resource(client, &r, ns, request.chunk_size).await;
                (r, out)
            }
        })
        .buffer_unordered(request.concurrency.max(1))
        .collect()
        .await;
    let mut fetched = Fetched { server: server.clone(), ..Fetched::default() };
    for (r, out) in results {
        match out {
            Ok((docs, pages)) => {
                // a cluster-scoped resource left out by -n makes no request
                fetched.resources += usize::from(pages > 0);
                fetched.requests += pages;
                fetched.documents.extend(docs);
            }
            // not served (an API the request names that this cluster lacks): nothing to read
            Err(kube::Error::Api(s)) if s.code == 404 => fetched.requests += 1,
            Err(kube::Error::Api(s)) if s.code == 401 => {
                return Err(FetchError::Connect(describe(&server, &kube::Error::Api(s))));
            }
            Err(e) => {
                let kind = if matches!(&e, kube::Error::Api(s) if s.code == 403) {
                    ProblemKind::Forbidden
                } else {
                    ProblemKind::Failed
                };
                fetched.problems.push(Problem { resource: r.name(), kind, message: describe(&server, &e) });
            }
        }
    }
    fetched.documents.sort_by(|a, b| a.source.cmp(&b.source));
    fetched.problems.sort_by(|a, b| a.resource.cmp(&b.resource));
    fetched.elapsed = started.elapsed();
    Ok(fetched)
}

/// One resource's documents and the number of list requests made.
type Listed = Result<(Vec<Document>, usize), kube::Error>;

/// Lists one resource in pages; returns its documents and the number of requests.
async fn list_resource(client: Client, r: &Resource, namespace: Option<&str>, chunk: u32) -> Listed {
    let ar = r.api_resource();
    let mut params = ListParams::default();
    let api: Api<DynamicObject> = match namespace {
        Some(ns) if r.namespaced => Api::namespaced_with(client, ns, &ar),
        // -n NS: of the cluster-scoped objects, only the Namespace itself
        Some(ns) if r.group.is_empty() && r.plural == "namespaces" => {
            params = params.fields(&format!("metadata.name={ns}"));
            Api::all_with(client, &ar)
        }
        Some(_) => return Ok((Vec::new(), 0)),
        None => Api::all_with(client, &ar),
    };
    if chunk > 0 {
        params = params.limit(chunk);
    }
    let mut docs = Vec::new();
    let mut pages = 0;
    loop {
        let list = api.list(&params).await?;
        pages += 1;
        for item in &list.items {
            docs.push(document(&ar, item));
        }
        match list.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    Ok((docs, pages))
}

fn document(ar: &ApiResource, obj: &DynamicObject) -> Document {
    let source = match obj.metadata.namespace.as_deref() {
        Some(ns) => format!("cluster:{}/{}/{ns}/{}", ar.api_version, ar.kind, obj.name_any()),
        None => format!("cluster:{}/{}/{}", ar.api_version, ar.kind, obj.name_any()),
    };
    let mut value = serde_json::to_value(obj).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        // apiVersion and kind first, as kubectl prints them
        let mut out = serde_json::Map::new();
        out.insert("apiVersion".into(), Value::String(ar.api_version.clone()));
        out.insert("kind".into(), Value::String(ar.kind.clone()));
        for (k, v) in std::mem::take(map) {
            if k != "apiVersion" && k != "kind" {
                out.insert(k, v);
            }
        }
        if let Some(Value::Object(meta)) = out.get_mut("metadata") {
            meta.remove("managedFields");
        }
        value = Value::Object(out);
    }
    let json = serde_json::to_string_pretty(&value).unwrap_or_default();
    Document { source, json }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_carry_kind_and_leave_out_managed_fields() {
        let ar = Resource::new("apps", "v1", "Deployment", "deployments", true).api_resource();
        let item: DynamicObject = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "prod", "managedFields": [{"manager": "kubectl"}]},
            "spec": {"replicas": 2}}))
        .unwrap();
        let d = document(&ar, &item);
        assert_eq!(d.source, "cluster:apps/v1/Deployment/prod/web");
        assert!(d.json.starts_with("{\n  \"apiVersion\": \"apps/v1\",\n  \"kind\": \"Deployment\","), "{}", d.json);
        assert!(!d.json.contains("managedFields"));
        assert!(d.json.contains("\"replicas\": 2"));
    }

    #[test]
    fn resources_are_named_as_kubectl_names_them() {
        let rs = authorization_resources();
        let names: Vec<String> = rs.iter().map(Resource::name).collect();
        assert_eq!(
            names,
            [
                "roles.rbac.authorization.k8s.io",
                "rolebindings.rbac.authorization.k8s.io",
                "clusterroles.rbac.authorization.k8s.io",
                "clusterrolebindings.rbac.authorization.k8s.io",
                "pods",
                "persistentvolumes",
                "volumeattachments.storage.k8s.io",
                "resourceslices.resource.k8s.io",
            ]
        );
        assert!(rs.iter().find(|r| r.kind == "Role").is_some_and(|r| r.namespaced));
        assert!(rs.iter().find(|r| r.kind == "ClusterRole").is_some_and(|r| !r.namespaced));
        assert_eq!(netpol_resources()[9].name(), "networkpolicies.networking.k8s.io");
    }
}
