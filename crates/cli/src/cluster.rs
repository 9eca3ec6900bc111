//! `--cluster`, `--kubeconfig`, `--context`, `--in-cluster`: commands that read their objects
//! from a live cluster's API instead of files (through `kguard_server::fetch`, the only crate
//! that speaks HTTP). Each object becomes an in-memory input named
//! `cluster:<apiVersion>/<Kind>/[<namespace>/]<name>`, so every command reads it as it reads a file.

use std::path::PathBuf;
use std::sync::Arc;

use kguard_model::load::Input;
use kguard_model::{Diagnostic, Location};
use kguard_server::fetch::{self, Connection, ProblemKind, Request, What};

/// Where to read a cluster's objects from.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ClusterArgs {
    /// Read the objects from a cluster's API instead of files, with kubectl's credentials
    /// (`$KUBECONFIG`, else `~/.kube/config`; in a pod, its service account).
    #[arg(long)]
    pub cluster: bool,
    /// The kubeconfig file to use (implies --cluster).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (implies --cluster; default: its current-context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Use the pod's service account (token and CA mounted by the kubelet; implies --cluster).
    #[arg(long, conflicts_with_all = ["kubeconfig", "context"])]
    pub in_cluster: bool,
    /// With a cluster: objects per list request, as kubectl's `--chunk-size` (0: one request per resource).
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub chunk_size: u32,
}

impl ClusterArgs {
    /// Whether the objects come from a cluster.
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.cluster || self.kubeconfig.is_some() || self.context.is_some() || self.in_cluster
    }
}

/// What a read gave: inputs to load, the resources that could not be read, and a summary line.
pub struct Read {
    /// One input per object.
    pub inputs: Vec<Input>,
    /// A warning per resource the credentials may not list; an error per resource that failed.
    pub diagnostics: Vec<Diagnostic>,
    /// `read N objects (R resources, P requests) from URL in S s`.
    pub summary: String,
    /// The API server's URL.
    pub server: String,
}

/// Reads the objects from the cluster.
///
/// # Errors
/// The kubeconfig, context or in-cluster configuration cannot be used, the API server cannot be
/// reached or refuses the credentials (the message says which).
pub fn read(args: &ClusterArgs, what: What, namespace: Option<&str>) -> Result<Read, String> {
    let connection =
        Connection { kubeconfig: args.kubeconfig.clone(), context: args.context.clone(), in_cluster: args.in_cluster };
    let request =
        Request { what, namespace: namespace.map(str::to_owned), chunk_size: args.chunk_size, ..Request::default() };
    let mut fetched = fetch::fetch(&connection, &request).map_err(|e| e.to_string())?;
    let mut diagnostics = Vec::new();
    // Resources the credentials may not list are warnings, unless nothing at all could be read.
    let nothing = fetched.documents.is_empty();
    for p in &fetched.problems {
        let location = Location::file(Arc::from(format!("cluster:{}", p.resource)));
        diagnostics.push(match p.kind {
            ProblemKind::Forbidden if nothing => {
                Diagnostic::error("forbidden", location, format!("not read (nothing could be): {}", p.message))
            }
            ProblemKind::Forbidden => Diagnostic::warning("forbidden", location, format!("not read: {}", p.message)),
            ProblemKind::Failed => {
                Diagnostic::error("unreadable", location, format!("cannot list {}: {}", p.resource, p.message))
            }
        });
    }
    let summary = format!(
        "read {} objects ({} resources, {} requests) from {} in {:.2} s",
        fetched.documents.len(),
        fetched.resources,
        fetched.requests,
        fetched.server,
        fetched.elapsed.as_secs_f64()
    );
    let inputs = std::mem::take(&mut fetched.documents)
        .into_iter()
        .map(|d| Input::Text { name: Arc::from(d.source), text: Arc::from(d.json) })
        .collect();
    Ok(Read { inputs, diagnostics, summary, server: fetched.server })
}

/// The authorization commands' objects: RBAC and the Node authorizer's graph, every namespace.
///
/// # Errors
/// As [`read`].
pub fn authorization(args: &ClusterArgs) -> Result<Read, String> {
    read(args, What::Resources(fetch::authorization_resources()), None)
}

/// NetworkPolicy analysis's objects: Namespaces, Pods, workloads, NetworkPolicies, AdminNetworkPolicies.
///
/// # Errors
/// As [`read`].
pub fn netpol(args: &ClusterArgs) -> Result<Read, String> {
    read(args, What::Resources(fetch::netpol_resources()), None)
}
