//! Localhost seccomp profiles checked at admission: a pod whose containers would run with a
//! `Localhost` profile that the node's profile set lacks (or that does not parse or build, or,
//! when configured, is weaker than RuntimeDefault) is denied, instead of being scheduled and
//! failing with `CreateContainerError` on the node.
//!
//! Which profile a container gets is the kubelet's own resolution
//! ([`kguard_seccomp::kubelet::resolve`]: the container's `seccompProfile` over the pod's,
//! `localhostProfile` joined to the profile directory as Go's `filepath.Join` does), with the
//! kubelet's messages for a Localhost type without `localhostProfile` and for an unknown type.
//! The profile set is loaded and judged by the caller ([`JudgedProfiles`]): nothing is parsed
//! per request.
//!
//! Reviewed: Pods at CREATE (every container), and the `pods/ephemeralcontainers` subresource
//! at UPDATE (the ephemeral containers it adds). A pod's `seccompProfile` fields cannot change
//! after creation, so other updates are allowed without a look. Workload templates are not
//! reviewed: their pods are, when the controller creates them.

use std::sync::Arc;

use kguard_seccomp::kubelet::{self, CriProfile, JudgedProfiles, Verdict};

use crate::localhost::{self, Scope};
use crate::{Request, Response, Status};

/// The policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The node's profiles, judged once.
    pub profiles: Arc<JudgedProfiles>,
    /// Deny (rather than warn about) Localhost profiles weaker than RuntimeDefault.
    pub deny_weaker: bool,
    /// Namespaces never reviewed (the operator's; the pod cannot exempt itself).
    pub exempt_namespaces: Vec<String>,
}

/// The audit annotation carrying what was found (kube-apiserver prefixes it with the webhook's
/// name).
pub const ANNOTATION: &str = "seccomp-localhost";

/// Reviews one admission request.
#[must_use]
pub fn validate(policy: &Policy, req: &Request) -> Response {
    let Some(scope) = Scope::of(req, &policy.exempt_namespaces) else { return Response::allow() };
    let (_, view) = match req.pod() {
        None => return Response::allow(),
        Some(Ok(v)) => v,
        Some(Err(e)) => return Response::deny(Status { code: 400, reason: "BadRequest", message: e }),
    };
    let pod_field = view.spec.security_context.as_ref().and_then(|s| s.seccomp_profile.as_ref());
    let mut denied = Vec::new();
    let mut warned = Vec::new();
    for c in view.containers() {
        if !scope.reviews(&c) {
            continue;
        }
        let own = c.container.security_context.as_ref().and_then(|s| s.seccomp_profile.as_ref());
        let what = format!("container {:?}", c.name());
        match kubelet::resolve(pod_field, own, false, policy.profiles.root()) {
            Err(e) => denied.push(format!("{what}: {e}")),
            Ok(CriProfile::Localhost(path)) => match policy.profiles.check(&path) {
                Verdict::Ok => {}
                Verdict::Missing(m) | Verdict::Invalid(m) => denied.push(format!("{what}: {m}")),
                Verdict::Weaker(m) if policy.deny_weaker => denied.push(format!("{what}: {m}")),
                Verdict::Weaker(m) => warned.push(format!("{what}: {m}")),
            },
            Ok(CriProfile::RuntimeDefault | CriProfile::Unconfined) => {}
        }
    }
    localhost::answer(
        req,
        ANNOTATION,
        &denied,
        "Localhost seccomp profile not usable",
        &warned,
        "Localhost seccomp profile weaker than RuntimeDefault",
    )
}
