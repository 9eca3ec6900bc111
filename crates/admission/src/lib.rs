//! Admission: what `kguard serve` answers to kube-apiserver's MutatingAdmissionWebhook and
//! ValidatingAdmissionWebhook calls, as pure functions from a request to a response.
//!
//! The wire format (admission.k8s.io/v1 `AdmissionReview`) is the server's business; here a
//! request is a validated [`Request`] and the answer a [`Response`] (allowed or a `Status`,
//! warnings, audit annotations, a JSON Patch).
//!
//! Policies, each switchable ([`Policies`]):
//! * [`podsecurity`]: the PodSecurity admission plugin (namespace labels enforce/audit/warn,
//!   exemptions, significant pod updates, namespace label changes checked against existing pods);
//! * hardening: the `kguard scan` workload rules at or above a severity (deny or warn);
//! * [`image`]: an image policy (allowed registries, no `:latest`/untagged, digests required),
//!   also behind the ImagePolicyWebhook endpoint;
//! * [`mutate`]: optional secure defaults, returned as an RFC 6902 JSON Patch ([`jsonpatch`]);
//! * [`seccomp`]: pods whose Localhost seccomp profile the node's profile set lacks (or that does
//!   not parse, or is weaker than RuntimeDefault) are denied;
//! * [`apparmor`]: pods whose Localhost AppArmor profile the nodes have not loaded (or have loaded
//!   in complain mode) are denied.
//!
//! Upstream order: mutating plugins first, then validating ones; within `validate`, the first
//! policy that denies answers, and warnings and audit annotations of the others are kept.
//! DELETE and CONNECT requests are allowed without evaluation (the PodSecurity plugin and the image
//! policy handle only CREATE and UPDATE); dry-run requests are evaluated exactly like the others
//! (kguard's webhooks have no side effects: `sideEffects: None`).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod apparmor;
pub mod image;
pub mod inject;
pub mod jsonpatch;
mod localhost;
pub mod mutate;
pub mod node_restriction;
pub mod podsecurity;
pub mod psp;
pub mod seccomp;

use std::collections::{BTreeMap, HashMap};

use kguard_model::{Object, ObjectRef};
use kguard_report::Severity;
use serde_json::Value;

use kguard_model::workload::{self, PodView};
use kguard_request::Authorize;
use kguard_request::UserInfo;

pub use jsonpatch::PatchOp;

pub use kguard_request::Operation;

/// Group, version and kind (or resource) of a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gvk {
    /// API group (`""` for the core group).
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind (`Pod`) or resource (`pods`).
    pub name: String,
}

/// One admission request, validated.
#[derive(Clone, Debug)]
pub struct Request {
    /// The request's uid (echoed in the response).
    pub uid: String,
    /// The object's kind.
    pub kind: Gvk,
    /// The resource.
    pub resource: Gvk,
    /// The subresource (`""`, `status`, `exec`, `ephemeralcontainers`...).
    pub sub_resource: String,
    /// The object's name (empty on a CREATE with `generateName`).
    pub name: String,
    /// The namespace (empty for cluster-scoped objects).
    pub namespace: String,
    /// The operation.
    pub operation: Operation,
    /// Who asks.
    pub user: UserInfo,
    /// The new object (CREATE, UPDATE, CONNECT options).
    pub object: Option<Value>,
    /// The old object (UPDATE, DELETE).
    pub old_object: Option<Value>,
    /// A dry run.
    pub dry_run: bool,
    /// The object's pod view, computed once and shared by the policies.
    pub pod_cache: PodCache,
}

/// The pod view of a request's object, computed on first use.
#[derive(Clone, Debug, Default)]
pub struct PodCache(std::sync::OnceLock<Option<Result<(Object, PodView), String>>>);

impl Request {
    /// The object's pod view (a Pod, or a workload's pod template), once per request; `None`
    /// when there is no object or its kind carries no pod.
    fn pod(&self) -> Option<Result<(&Object, &PodView), String>> {
        let cached = self.pod_cache.0.get_or_init(|| self.object.as_ref().and_then(pod_of));
        cached.as_ref().map(|r| r.as_ref().map(|(o, v)| (o, v)).map_err(Clone::clone))
    }

    /// `pods`, `deployments.apps`: the group-qualified resource, as messages print it.
    #[must_use]
    pub fn group_resource(&self) -> String {
        if self.resource.group.is_empty() {
            self.resource.name.clone()
        } else {
            format!("{}.{}", self.resource.name, self.resource.group)
        }
    }

    /// `<resource> "<name>" is forbidden: <why>`, as `apierrors.NewForbidden` words it.
    #[must_use]
    pub fn forbidden(&self, why: &str) -> Status {
        Status::forbidden(format!("{} \"{}\" is forbidden: {why}", self.group_resource(), self.name))
    }
}

/// A `metav1.Status` answer for a denied request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// HTTP code (403, 422, ...).
    pub code: u16,
    /// `Forbidden`, `Invalid`, ...
    pub reason: &'static str,
    /// The message.
    pub message: String,
}

impl Status {
    /// 403 Forbidden.
    #[must_use]
    pub fn forbidden(message: String) -> Self {
        Self { code: 403, reason: "Forbidden", message }
    }
}

/// An admission answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// Allowed or not.
    pub allowed: bool,
    /// Why not (when denied).
    pub status: Option<Status>,
    /// Warnings shown to the client.
    pub warnings: Vec<String>,
    /// Audit annotations (keys without prefix: kube-apiserver prefixes them with the webhook name).
    pub audit_annotations: BTreeMap<String, String>,
    /// JSON Patch (mutations only).
    pub patch: Vec<PatchOp>,
}

impl Response {
    /// Allowed, nothing to say.
    #[must_use]
    pub fn allow() -> Self {
        Self { allowed: true, ..Self::default() }
    }

    /// Denied with a status.
    #[must_use]
    pub fn deny(status: Status) -> Self {
        Self { allowed: false, status: Some(status), ..Self::default() }
    }

    /// Allowed with one audit annotation.
    #[must_use]
    pub fn allow_annotated(key: &str, value: &str) -> Self {
        let mut r = Self::allow();
        r.audit_annotations.insert(key.to_owned(), value.to_owned());
        r
    }

    /// Folds a later policy's answer into this one: the first denial wins; warnings are kept
    /// only while the request is allowed (upstream adds none to a request it rejects); audit
    /// annotations accumulate (the first value of a key wins).
    fn merge(&mut self, other: Response) {
        for (k, v) in other.audit_annotations {
            self.audit_annotations.entry(k).or_insert(v);
        }
        if !self.allowed {
            return;
        }
        if other.allowed {
            self.warnings.extend(other.warnings);
            self.patch.extend(other.patch);
        } else {
            self.allowed = false;
            self.status = other.status;
            self.warnings.clear();
            self.patch.clear();
        }
    }
}

/// Hardening policy: the workload rules of `kguard scan` at or above a severity.
#[derive(Clone, Debug)]
pub struct Hardening {
    /// Findings at or above this severity count.
    pub min_severity: Severity,
    /// Deny (true) or only warn (false).
    pub deny: bool,
    /// Rule ids, names or aliases never applied (the operator's choice; the object's annotations
    /// are not consulted).
    pub ignore: Vec<String>,
}

/// Which policies run.
#[derive(Clone, Debug, Default)]
pub struct Policies {
    /// The PodSecurity admission plugin.
    pub pod_security: Option<podsecurity::Config>,
    /// Hardening rules.
    pub hardening: Option<Hardening>,
    /// Image policy.
    pub images: Option<image::Policy>,
    /// Secure defaults applied by `/mutate`.
    pub mutations: mutate::Mutations,
    /// The mesh proxy sidecar `/mutate` adds to pods of the namespaces that opt in.
    pub mesh_inject: Option<inject::Sidecar>,
    /// The PodSecurityPolicy plugin over [`Inventory::psps`] (`use` checked with the authorizer).
    pub psp: bool,
    /// Localhost seccomp profiles checked against a profile set.
    pub seccomp: Option<seccomp::Policy>,
    /// Localhost AppArmor profiles checked against the nodes' loaded profiles.
    pub apparmor: Option<apparmor::Policy>,
}

/// What the admission policies know of the cluster.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    /// Namespace name → its labels.
    pub namespaces: HashMap<String, BTreeMap<String, String>>,
    /// Whether `namespaces` is the cluster's whole list (the server has a state source): a
    /// namespace missing from it then fails the PodSecurity lookup, as upstream's does, instead
    /// of being judged by the configured defaults.
    pub namespaces_known: bool,
    /// Namespace name → the pods in it (as JSON objects).
    pub pods: HashMap<String, Vec<Value>>,
    /// PodSecurityPolicies, by name.
    pub psps: Vec<psp::Policy>,
    /// Objects that could not be used (malformed PodSecurityPolicies), with the reason.
    pub errors: Vec<String>,
}

impl Inventory {
    /// Builds the inventory from objects (Namespaces and Pods; the rest is ignored).
    #[must_use]
    pub fn from_objects(objects: &[Object]) -> Self {
        let mut inv = Self::default();
        for obj in objects {
            match (obj.group(), obj.kind()) {
                ("", "Namespace") => {
                    let labels = obj.labels().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
                    inv.namespaces.insert(obj.id.name.clone(), labels);
                }
                ("policy" | "extensions", "PodSecurityPolicy") => match psp::Policy::from_object(obj) {
                    Ok(p) => inv.psps.push(p),
                    Err(e) => inv.errors.push(format!("{}: {e}", obj.id)),
                },
                ("", "Pod") => {
                    let ns = obj.id.namespace.clone().unwrap_or_else(|| "default".to_owned());
                    inv.pods.entry(ns).or_default().push(obj.root.to_json());
                }
                _ => {}
            }
        }
        inv
    }
}

/// Builds an [`Object`] from a request's JSON object (positions are not meaningful).
///
/// # Errors
/// When the JSON is not an object with `apiVersion` and `kind`.
pub fn object_from_json(value: &Value, source: &str) -> Result<Object, kguard_model::ObjectError> {
    Object::from_json(value, source.into())
}

/// The pod view of a request's object, when it is a Pod or a workload with a pod template.
fn pod_of(value: &Value) -> Option<Result<(Object, PodView), String>> {
    let obj = match object_from_json(value, "<admission request>") {
        Ok(o) => o,
        Err(e) => return Some(Err(e.to_string())),
    };
    match workload::pod_view_json(&obj, value)? {
        Ok(view) => Some(Ok((obj, view))),
        Err(e) => Some(Err(e.to_string())),
    }
}

/// The validating phase: PodSecurity, PodSecurityPolicy, hardening rules, image policy,
/// Localhost seccomp and AppArmor profiles, in that order. `authz` answers PodSecurityPolicy `use` checks.
#[must_use]
pub fn validate(policies: &Policies, inventory: &Inventory, authz: &dyn Authorize, req: &Request) -> Response {
    if !matches!(req.operation, Operation::Create | Operation::Update) {
        return Response::allow();
    }
    let mut out = Response::allow();
    if let Some(config) = &policies.pod_security {
        out.merge(podsecurity::validate(config, inventory, req));
    }
    if policies.psp
        && let Some(request) = psp_request(req)
    {
        let outcome = psp::validate(&inventory.psps, &request, authz);
        out.merge(psp_response(req, outcome));
    }
    if let Some(h) = &policies.hardening {
        out.merge(hardening(h, req));
    }
    if let Some(images) = &policies.images
        && (req.sub_resource.is_empty() || req.sub_resource == "ephemeralcontainers")
    {
        out.merge(image_admission(images, req));
    }
    if let Some(s) = &policies.seccomp {
        out.merge(seccomp::validate(s, req));
    }
    if let Some(a) = &policies.apparmor {
        out.merge(apparmor::validate(a, req));
    }
    out
}

/// The mutating phase on Pods (CREATE only): PodSecurityPolicy admission (its defaults and the
/// `kubernetes.io/psp` annotation), the mesh sidecar ([`inject`]), then the secure defaults (which
/// see the sidecar too); one JSON Patch for all.
#[must_use]
pub fn mutate(policies: &Policies, inventory: &Inventory, authz: &dyn Authorize, req: &Request) -> Response {
    let mut out = Response::allow();
    if req.operation != Operation::Create || !req.sub_resource.is_empty() {
        return out;
    }
    if req.resource.group.is_empty()
        && req.resource.name == "pods"
        && let Some(pod) = &req.object
    {
        let mut mutated = pod.clone();
        if policies.psp
            && let Some(request) = psp_request(req)
        {
            let outcome = psp::admit(&inventory.psps, &request, authz);
            let new_pod = outcome.pod.clone();
            let r = psp_response(req, outcome);
            if !r.allowed {
                return r;
            }
            out.audit_annotations.extend(r.audit_annotations);
            if let Some(p) = new_pod {
                mutated = p;
            }
        }
        // The sidecar goes in as explicit operations (an insertion at the head of
        // `initContainers`, which a diff would turn into a replacement of the whole list).
        let mut injected = None;
        if let Some(sidecar) = &policies.mesh_inject {
            match inject::inject(sidecar, inventory, req, &mutated) {
                inject::Outcome::NotSelected => {}
                inject::Outcome::AlreadyInjected => {
                    out.audit_annotations.insert("mesh-inject".to_owned(), "already-injected".to_owned());
                }
                inject::Outcome::Inject(ops) => {
                    let mut with = mutated.clone();
                    if let Err(e) = jsonpatch::apply(&mut with, &ops) {
                        return Response::deny(req.forbidden(&format!("kguard mesh sidecar injection: {e}")));
                    }
                    let mut patch = jsonpatch::diff(pod, &mutated);
                    patch.extend(ops);
                    injected = Some(patch);
                    mutated = with;
                    out.audit_annotations.insert("mesh-inject".to_owned(), sidecar.container_name.clone());
                }
                inject::Outcome::Refused(r) => return r,
            }
        }
        let before = injected.is_some().then(|| mutated.clone());
        let applied = policies.mutations.apply(&mut mutated);
        if !applied.is_empty() {
            out.audit_annotations.insert("mutated".to_owned(), applied.join(","));
        }
        // Without the sidecar, one diff; with it, the earlier changes, the insertion, then the
        // defaults' changes against the pod with the sidecar.
        out.patch = match (injected, before) {
            (Some(mut patch), Some(before)) => {
                patch.extend(jsonpatch::diff(&before, &mutated));
                patch
            }
            _ => jsonpatch::diff(pod, &mutated),
        };
    }
    out
}

/// The PodSecurityPolicy view of a pod request (pods only, no subresource).
fn psp_request(req: &Request) -> Option<psp::Request<'_>> {
    if !req.resource.group.is_empty() || req.resource.name != "pods" || !req.sub_resource.is_empty() {
        return None;
    }
    let operation = match req.operation {
        Operation::Create | Operation::Update => req.operation,
        Operation::Delete | Operation::Connect => return None,
    };
    Some(psp::Request {
        pod: req.object.as_ref()?,
        old_pod: req.old_object.as_ref(),
        namespace: &req.namespace,
        user: &req.user,
        operation,
    })
}

/// A PodSecurityPolicy outcome as an admission response; audit annotation keys lose their
/// `podsecuritypolicy.policy.k8s.io/` prefix (kube-apiserver prefixes a webhook's own) and gain `psp-`.
fn psp_response(req: &Request, outcome: psp::Outcome) -> Response {
    let mut r = if outcome.allowed { Response::allow() } else { Response::deny(req.forbidden(&outcome.message)) };
    for (k, v) in outcome.audit_annotations {
        let key = k.rsplit('/').next().unwrap_or(&k);
        r.audit_annotations.insert(format!("psp-{key}"), v);
    }
    r
}

/// The hardening rules of `kguard scan` on a Pod or workload.
fn hardening(h: &Hardening, req: &Request) -> Response {
    if !req.sub_resource.is_empty() {
        return Response::allow();
    }
    let (obj, view) = match req.pod() {
        None => return Response::allow(),
        Some(Ok(v)) => v,
        Some(Err(e)) => return Response::deny(Status { code: 400, reason: "BadRequest", message: e }),
    };
    let ignored: Vec<&'static kguard_report::RuleMeta> =
        h.ignore.iter().filter_map(|i| kguard_hardening::rule(i)).collect();
    // Rules below the severity or ignored by the operator are left out before any finding is
    // built. The object's own annotations (`kguard.io/ignore`, other tools' exemptions) are never
    // read here: the object under review cannot exempt itself.
    let keep =
        |rule: &kguard_report::RuleMeta| rule.severity >= h.min_severity && !ignored.iter().any(|r| r.id == rule.id);
    let mut violations: Vec<String> =
        kguard_hardening::findings_where(obj, Some(view), &kguard_hardening::Inventory::default(), &keep)
            .into_iter()
            .map(|f| format!("{} {}: {}", f.rule_id, f.severity.as_str(), f.message))
            .collect();
    if violations.is_empty() {
        return Response::allow();
    }
    violations.sort();
    violations.dedup();
    let text = format!(
        "kguard hardening ({} at or above {}): {}",
        violations.len(),
        h.min_severity.as_str(),
        violations.join("; ")
    );
    if h.deny {
        let mut r = Response::deny(req.forbidden(&text));
        r.audit_annotations.insert("hardening-violations".to_owned(), text);
        r
    } else {
        let mut r = Response::allow();
        r.warnings.push(text.clone());
        r.audit_annotations.insert("hardening-violations".to_owned(), text);
        r
    }
}

/// The image policy on a Pod (its containers; only the ephemeral ones for the
/// `ephemeralcontainers` subresource) or a workload's pod template.
fn image_admission(policy: &image::Policy, req: &Request) -> Response {
    if policy.exempt_namespaces.contains(&req.namespace) {
        return Response::allow();
    }
    let (_, view) = match req.pod() {
        None => return Response::allow(),
        Some(Ok(v)) => v,
        Some(Err(e)) => return Response::deny(Status { code: 400, reason: "BadRequest", message: e }),
    };
    let spec = &view.spec;
    // The `ephemeralcontainers` subresource reviews only the ephemeral containers (as the
    // ImagePolicyWebhook plugin does); otherwise containers, then init containers.
    let lists: Vec<&Option<Vec<kguard_model::pod::Container>>> = if req.sub_resource == "ephemeralcontainers" {
        vec![&spec.ephemeral_containers]
    } else {
        vec![&spec.containers, &spec.init_containers, &spec.ephemeral_containers]
    };
    let images: Vec<&str> = lists.into_iter().flatten().flatten().filter_map(|c| c.image.as_deref()).collect();
    let Err(denied) = policy.check_all(images.iter().copied()) else { return Response::allow() };
    let reason = denied.to_string();
    let mut r = Response::deny(req.forbidden(&format!("image policy: {reason}")));
    r.audit_annotations.insert("image-policy".to_owned(), reason);
    r
}

/// An object reference for messages, from a request.
#[must_use]
pub fn object_ref(req: &Request) -> ObjectRef {
    ObjectRef {
        api_version: if req.kind.group.is_empty() {
            req.kind.version.clone()
        } else {
            format!("{}/{}", req.kind.group, req.kind.version)
        },
        kind: req.kind.name.clone(),
        namespace: (!req.namespace.is_empty()).then(|| req.namespace.clone()),
        name: req.name.clone(),
    }
}

#[cfg(test)]
mod tests;
