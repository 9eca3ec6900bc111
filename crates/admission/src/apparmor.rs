//! Localhost AppArmor profiles checked at admission: a pod whose containers would run with a
//! `Localhost` profile that the nodes have not loaded is denied (instead of being scheduled and
//! failing with `CreateContainerError`), and so, unless configured to warn, is one whose profile
//! is loaded in complain or unconfined mode (no confinement behind a spec that claims one).
//!
//! Which profile a container gets is the kubelet's resolution ([`kguard_apparmor::node::effective`]:
//! the container's `appArmorProfile`, then its `container.apparmor.security.beta.kubernetes.io/`
//! annotation, then the pod's `appArmorProfile`). The profile set is read by the caller
//! ([`NodeProfiles`]): nothing is read or parsed per request.
//!
//! Reviewed: Pods at CREATE (every container), and the `pods/ephemeralcontainers` subresource
//! at UPDATE (the ephemeral containers it adds), as for seccomp.

use std::sync::Arc;

use kguard_apparmor::kube::K8sProfile;
use kguard_apparmor::node::{self, NodeProfiles, Verdict};

use crate::localhost::{self, Scope};
use crate::{Request, Response, Status};

/// The policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The nodes' profiles.
    pub profiles: Arc<NodeProfiles>,
    /// Deny (rather than warn about) profiles loaded in complain or unconfined mode.
    pub deny_not_enforced: bool,
    /// Namespaces never reviewed.
    pub exempt_namespaces: Vec<String>,
}

/// The audit annotation carrying what was found.
pub const ANNOTATION: &str = "apparmor-localhost";

/// Reviews one admission request.
#[must_use]
pub fn validate(policy: &Policy, req: &Request) -> Response {
    let Some(scope) = Scope::of(req, &policy.exempt_namespaces) else { return Response::allow() };
    // A pod that does not decode is a bad request, as for every other check (never allowed
    // unreviewed).
    let (_, view) = match req.pod() {
        None => return Response::allow(),
        Some(Ok(v)) => v,
        Some(Err(e)) => return Response::deny(Status { code: 400, reason: "BadRequest", message: e }),
    };
    let mut denied = Vec::new();
    let mut warned = Vec::new();
    for c in view.containers() {
        if !scope.reviews(&c) {
            continue;
        }
        let Some((K8sProfile::Localhost(name), _, _)) = node::effective(view, &c) else { continue };
        let what = format!("container {:?}", c.name());
        match policy.profiles.check(&name) {
            Verdict::Ok => {}
            Verdict::NotLoaded(m) => denied.push(format!("{what}: {m}")),
            Verdict::NotEnforced(m) if policy.deny_not_enforced => denied.push(format!("{what}: {m}")),
            Verdict::NotEnforced(m) => warned.push(format!("{what}: {m}")),
        }
    }
    localhost::answer(
        req,
        ANNOTATION,
        &denied,
        "Localhost AppArmor profile not usable",
        &warned,
        "Localhost AppArmor profile not enforced",
    )
}
