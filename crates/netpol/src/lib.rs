//! The NetworkPolicy engine: who can reach whom, and why.
//!
//! * [`model`]: namespaces, workloads (pods grouped by owner, as np-guard groups them),
//!   `networking.k8s.io/v1` NetworkPolicies and `policy.networking.k8s.io/v1alpha1`
//!   AdminNetworkPolicies / BaselineAdminNetworkPolicy, read from [`kguard_model::Object`]s.
//! * [`sets`]: port interval sets per protocol and IPv4 interval sets.
//! * `eval.rs`: the semantics (ANP → NetworkPolicy → BANP per direction; egress ∩ ingress), and
//!   explanations of single connections.
//! * [`connlist`]: the connectivity list, over equivalence classes of pods (and a naive reference).
//! * `render.rs` ([`Format`]): np-guard's txt/json/csv/md formats byte for byte, DOT and HTML.
//! * [`findings`]: NetworkPolicy hygiene rules (`NP001`…).
//!
//! Pure: no I/O. The semantics follow np-guard/netpol-analyzer, whose outputs are the oracle.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod connlist;
mod eval;
pub mod findings;
pub mod model;
mod render;
pub mod sets;

use kguard_model::Object;

pub use connlist::Connection;
pub use eval::{Reason, SideVerdict};
pub use findings::{RULES, findings};
pub use model::Cluster;
pub use render::Format;
pub use sets::{ConnSet, Protocol};

/// The result of [`analyze`]: the cluster model and its connectivity list.
#[derive(Clone, Debug)]
pub struct Analysis {
    /// What was read.
    pub cluster: Cluster,
    /// Allowed connections, sorted by source then destination.
    pub connections: Vec<Connection>,
}

impl Analysis {
    /// Renders the connectivity list.
    #[must_use]
    pub fn render(&self, format: Format) -> String {
        let ids: Vec<String> = self.cluster.workloads.iter().map(model::Workload::id).collect();
        render::render(&self.connections, &ids, format)
    }
}

/// Reads the objects and computes the connectivity list.
#[must_use]
pub fn analyze(objects: &[Object]) -> Analysis {
    let cluster = Cluster::from_objects(objects);
    let connections = connlist::connlist(&cluster);
    Analysis { cluster, connections }
}

/// The answer of [`reach`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reach {
    /// Source as resolved (`ns/name[Kind]` or an address).
    pub from: String,
    /// Destination as resolved.
    pub to: String,
    /// Protocol asked.
    pub protocol: Protocol,
    /// Port asked.
    pub port: u32,
    /// Whether the connection is allowed (egress and ingress both allow it).
    pub allowed: bool,
    /// The egress side (policies selecting the source).
    pub egress: SideVerdict,
    /// The ingress side (policies selecting the destination).
    pub ingress: SideVerdict,
}

impl std::fmt::Display for Reach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.allowed { "ALLOWED" } else { "DENIED" };
        writeln!(f, "{} => {} : {} {} {verdict}", self.from, self.to, self.protocol, self.port)?;
        for (name, side) in [("egress", &self.egress), ("ingress", &self.ingress)] {
            writeln!(f, "  {name}: {}", if side.allowed { "allowed" } else { "denied" })?;
            for r in &side.reasons {
                match &r.pointer {
                    Some(p) => writeln!(f, "    {} ({p}): {}", r.policy, r.effect)?,
                    None => writeln!(f, "    {}: {}", r.policy, r.effect)?,
                }
            }
        }
        Ok(())
    }
}

/// Why a `reach` question cannot be answered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReachError {
    /// No workload has that name.
    #[error("no workload {0:?} (expected ns/name[Kind], ns/name, name or an IPv4 address)")]
    NoWorkload(String),
    /// Several workloads have that name.
    #[error("{name:?} is ambiguous: {}", candidates.join(", "))]
    Ambiguous {
        /// The name asked for.
        name: String,
        /// The workloads it could mean.
        candidates: Vec<String>,
    },
    /// An address end that is not an IPv4 CIDR.
    #[error(transparent)]
    Cidr(#[from] sets::CidrError),
    /// Both ends are addresses.
    #[error("at least one end must be a workload")]
    NoWorkloadEnd,
}

/// Finds a workload by `ns/name[Kind]`, `ns/name` or `name` (when unambiguous).
fn find_workload<'a>(c: &'a Cluster, name: &str) -> Result<&'a model::Workload, ReachError> {
    if let Some(w) = c.workloads.iter().find(|w| w.id() == name) {
        return Ok(w);
    }
    let hits: Vec<&model::Workload> = c
        .workloads
        .iter()
        .filter(|w| match name.split_once('/') {
            Some((ns, n)) => w.namespace == ns && w.name == n,
            None => w.name == name,
        })
        .collect();
    match hits.as_slice() {
        [w] => Ok(w),
        [] => Err(ReachError::NoWorkload(name.to_owned())),
        _ => Err(ReachError::Ambiguous { name: name.to_owned(), candidates: hits.iter().map(|w| w.id()).collect() }),
    }
}

enum Resolved<'a> {
    Pod(&'a model::Workload),
    Ip(sets::IpSet, String),
}

fn resolve<'a>(c: &'a Cluster, s: &str) -> Result<Resolved<'a>, ReachError> {
    if let Ok(ip) = s.parse::<std::net::Ipv4Addr>() {
        let v = u32::from(ip);
        return Ok(Resolved::Ip(sets::IpSet(sets::IntervalSet::range(v, v)), s.to_owned()));
    }
    if s.contains('/') && s.split_once('/').is_some_and(|(a, _)| a.parse::<std::net::Ipv4Addr>().is_ok()) {
        return sets::IpSet::from_cidr(s).map(|set| Resolved::Ip(set, s.to_owned())).map_err(ReachError::Cidr);
    }
    find_workload(c, s).map(Resolved::Pod)
}

/// Whether `from` may open a `protocol`/`port` connection to `to`, with the policies and rules
/// responsible on each side. `from`/`to` are workloads (`ns/name[Kind]`, `ns/name`, `name`) or
/// IPv4 addresses/CIDRs.
///
/// # Errors
/// When `from` or `to` names no workload (or several), or both are addresses.
pub fn reach(c: &Cluster, from: &str, to: &str, protocol: Protocol, port: u32) -> Result<Reach, ReachError> {
    let src = resolve(c, from)?;
    let dst = resolve(c, to)?;
    let (src_ep, src_name, src_pod) = match &src {
        Resolved::Pod(w) => (eval::Endpoint::Pod(w), w.id(), Some(*w)),
        Resolved::Ip(set, s) => (eval::Endpoint::Ip(set), s.clone(), None),
    };
    let (dst_ep, dst_name, dst_pod) = match &dst {
        Resolved::Pod(w) => (eval::Endpoint::Pod(w), w.id(), Some(*w)),
        Resolved::Ip(set, s) => (eval::Endpoint::Ip(set), s.clone(), None),
    };
    if src_pod.is_none() && dst_pod.is_none() {
        return Err(ReachError::NoWorkloadEnd);
    }
    let egress = eval::explain_direction(c, src_pod, false, &dst_ep, dst_pod, protocol, port);
    let ingress = eval::explain_direction(c, dst_pod, true, &src_ep, dst_pod, protocol, port);
    Ok(Reach {
        from: src_name,
        to: dst_name,
        protocol,
        port,
        allowed: egress.allowed && ingress.allowed,
        egress,
        ingress,
    })
}
