//! PodSecurityPolicy admission (policy/v1beta1; removed from Kubernetes in v1.25), as the
//! release-1.24 plugin `plugin/pkg/admission/security/podsecuritypolicy` and the provider in
//! `pkg/security/podsecuritypolicy` evaluate it.
//!
//! * [`Policy::from_object`]: a PodSecurityPolicy object as a validated value.
//! * [`admit`]: the mutating phase (CREATE only). Policies are tried in name order on a copy of
//!   the pod (defaults applied, then validated). The first authorized policy that admits the pod
//!   *without changing it* wins at once; otherwise the first authorized one that admits it with
//!   changes. The winner is written to the `kubernetes.io/psp` annotation.
//! * [`validate`]: the validating phase (CREATE and UPDATE): no change is allowed; the policy named
//!   in `kubernetes.io/psp` is tried first. UPDATEs that only change `ownerReferences` or
//!   `finalizers` (or nothing) are not checked.
//! * Authorization (`isAuthorizedForPolicy`): verb `use` on `podsecuritypolicies/<name>` in the
//!   pod's namespace, group `policy` then `extensions`, for the pod's service account first, then
//!   the requesting user.
//!
//! Rejections print the field errors of the authorized policies only. Upstream collects them in a
//! Go map, so their order varies between runs; kguard prints them in policy-name order (each
//! policy's errors in upstream's validation order).
//!
//! The pod is the object admission sees: kguard does not apply API defaulting (for example
//! `hostPort` defaulted from `containerPort` under `hostNetwork`).

mod field;
mod provider;
mod spec;

use serde_json::Value;

use kguard_request::Authorize;
use kguard_request::{Attributes, UserInfo};

pub use field::{BadValue, ErrorType, FieldError, render_list};
pub use provider::{
    APPARMOR_CONTAINER_PREFIX, SAFE_SYSCTLS, SECCOMP_CONTAINER_PREFIX, SECCOMP_POD_ANNOTATION, VOLUME_TYPES,
};
pub use spec::{GroupRule, HostPath, Range, RuntimeClass, SeLinuxRule, Spec, Strategy, UserRule};

/// The pod annotation naming the policy that admitted it.
pub const VALIDATED_PSP_ANNOTATION: &str = "kubernetes.io/psp";
/// Audit annotation written by the mutating phase.
pub const AUDIT_ADMIT_POLICY: &str = "podsecuritypolicy.policy.k8s.io/admit-policy";
/// Audit annotation written by the validating phase.
pub const AUDIT_VALIDATE_POLICY: &str = "podsecuritypolicy.policy.k8s.io/validate-policy";
/// `seccomp.security.alpha.kubernetes.io/allowedProfileNames` (PSP annotation).
pub const SECCOMP_ALLOWED_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/allowedProfileNames";
/// `seccomp.security.alpha.kubernetes.io/defaultProfileName` (PSP annotation).
pub const SECCOMP_DEFAULT_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/defaultProfileName";
/// `apparmor.security.beta.kubernetes.io/allowedProfileNames` (PSP annotation).
pub const APPARMOR_ALLOWED_ANNOTATION: &str = "apparmor.security.beta.kubernetes.io/allowedProfileNames";
/// `apparmor.security.beta.kubernetes.io/defaultProfileName` (PSP annotation).
pub const APPARMOR_DEFAULT_ANNOTATION: &str = "apparmor.security.beta.kubernetes.io/defaultProfileName";

/// The seccomp annotations of a policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seccomp {
    /// `defaultProfileName` (empty: none).
    pub default_profile: String,
    /// `allowedProfileNames` split at commas, without `*`; `None` when the annotation is absent.
    pub allowed: Option<std::collections::BTreeSet<String>>,
    /// Whether `*` is among the allowed names.
    pub allow_any: bool,
    /// The annotation as written (printed in errors).
    pub allowed_string: String,
}

/// The AppArmor annotations of a policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppArmor {
    /// `defaultProfileName` (empty: none).
    pub default_profile: String,
    /// `allowedProfileNames` split at commas; `None` when absent (anything allowed).
    pub allowed: Option<std::collections::BTreeSet<String>>,
    /// The annotation as written (printed in errors).
    pub allowed_string: String,
}

/// A validated PodSecurityPolicy.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// `metadata.name`.
    pub name: String,
    /// `spec`, defaulted.
    pub spec: Spec,
    /// The seccomp annotations.
    pub seccomp: Seccomp,
    /// The AppArmor annotations.
    pub apparmor: AppArmor,
    /// Why upstream could not build a provider from this policy (for example `MustRunAs` without
    /// ranges); such a policy is skipped, like upstream skips it.
    pub provider_error: Option<String>,
}

impl Policy {
    /// Reads a `policy/v1beta1` (or `extensions/v1beta1`) PodSecurityPolicy.
    ///
    /// # Errors
    /// When the object is not a PodSecurityPolicy, or a field has the wrong type or a value the
    /// API would refuse; the message names the field.
    pub fn from_object(obj: &kguard_model::Object) -> Result<Self, kguard_model::FieldError> {
        let at = |e: kguard_model::FieldError| {
            let pointer = format!("/{}", e.field.replace(['.', '['], "/").replace(']', ""));
            let pos = obj.root.locate(if e.field.is_empty() { "" } else { &pointer });
            e.at(pos)
        };
        if obj.kind() != "PodSecurityPolicy" {
            return Err(at(kguard_model::FieldError::new(
                "",
                format!("expected kind PodSecurityPolicy, found {}", obj.kind()),
            )));
        }
        if !matches!(obj.id.api_version.as_str(), "policy/v1beta1" | "extensions/v1beta1") {
            return Err(at(kguard_model::FieldError::new(
                "apiVersion",
                format!("expected policy/v1beta1 (or extensions/v1beta1), found {}", obj.id.api_version),
            )));
        }
        let name = obj
            .root
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(kguard_model::yaml::YamlNode::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| at(kguard_model::FieldError::new("metadata.name", "Required value")))?
            .to_owned();
        let json = obj.root.to_json();
        let spec_json = match json.get("spec") {
            Some(Value::Object(m)) => m.clone(),
            _ => {
                return Err(at(kguard_model::FieldError::new(
                    "spec",
                    "Required value: a PodSecurityPolicy needs a spec mapping",
                )));
            }
        };
        let spec = spec::parse_spec(&spec_json).map_err(at)?;
        let ann = |key: &str| obj.annotation(key);
        let seccomp = {
            let allowed_string = ann(SECCOMP_ALLOWED_ANNOTATION);
            let mut allow_any = false;
            let allowed = allowed_string.map(|s| {
                s.split(',')
                    .filter(|p| {
                        if *p == "*" {
                            allow_any = true;
                            false
                        } else {
                            true
                        }
                    })
                    .map(str::to_owned)
                    .collect()
            });
            Seccomp {
                default_profile: ann(SECCOMP_DEFAULT_ANNOTATION).unwrap_or("").to_owned(),
                allowed,
                allow_any,
                allowed_string: allowed_string.unwrap_or("").to_owned(),
            }
        };
        let apparmor = {
            let allowed_string = ann(APPARMOR_ALLOWED_ANNOTATION);
            AppArmor {
                default_profile: ann(APPARMOR_DEFAULT_ANNOTATION).unwrap_or("").to_owned(),
                allowed: allowed_string.map(|s| s.split(',').map(str::to_owned).collect()),
                allowed_string: allowed_string.unwrap_or("").to_owned(),
            }
        };
        let provider_error = provider_error(&spec);
        Ok(Self { name, spec, seccomp, apparmor, provider_error })
    }

    /// Applies this policy's defaults to a copy of `pod` and validates it: the copy and the field
    /// errors (`MutatePod` then `ValidatePod`).
    #[must_use]
    pub fn evaluate(&self, pod: &Value) -> (Value, Vec<FieldError>) {
        let mut copy = pod.clone();
        provider::mutate_pod(self, &mut copy);
        let errs = provider::validate_pod(self, &copy);
        (copy, errs)
    }

    /// Validates `pod` as it is (`ValidatePod` without `MutatePod`).
    #[must_use]
    pub fn validate_only(&self, pod: &Value) -> Vec<FieldError> {
        provider::validate_pod(self, pod)
    }
}

/// The strategy constructors' errors (`NewSimpleProvider` fails on them).
fn provider_error(spec: &Spec) -> Option<String> {
    let mut errs = Vec::new();
    if spec.run_as_user.rule == UserRule::MustRunAs && spec.run_as_user.ranges.is_empty() {
        errs.push("MustRunAs requires at least one range".to_owned());
    }
    let groups = [Some(&spec.fs_group), Some(&spec.supplemental_groups), spec.run_as_group.as_ref()];
    for g in groups.into_iter().flatten() {
        if g.ranges.is_empty() {
            match g.rule {
                GroupRule::MustRunAs => errs.push("ranges must be supplied for MustRunAs".to_owned()),
                GroupRule::MayRunAs => errs.push("ranges must be supplied for MayRunAs".to_owned()),
                GroupRule::RunAsAny => {}
            }
        }
    }
    if spec.selinux_rule == SeLinuxRule::MustRunAs && spec.selinux_options.is_none() {
        errs.push("MustRunAs requires SELinuxOptions".to_owned());
    }
    match errs.len() {
        0 => None,
        1 => errs.pop(),
        _ => Some(format!("[{}]", errs.join(", "))),
    }
}

/// The admission operation (one type for all of admission). PodSecurityPolicy admission handles
/// CREATE and UPDATE of pods; callers pass nothing else (a DELETE or CONNECT would be judged as an
/// UPDATE).
pub use crate::Operation;

/// One pod admission request.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The pod (JSON, as decoded from the request).
    pub pod: &'a Value,
    /// The stored pod, for UPDATE.
    pub old_pod: Option<&'a Value>,
    /// The request's namespace.
    pub namespace: &'a str,
    /// The requesting user.
    pub user: &'a UserInfo,
    /// CREATE or UPDATE.
    pub operation: Operation,
}

/// Plugin settings.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Reject pods when no PodSecurityPolicy exists (kube-apiserver registers the plugin with
    /// `true`: `no providers available to validate pod request`). With `false`, pods are admitted
    /// when there are no policies.
    pub fail_on_no_policies: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { fail_on_no_policies: true }
    }
}

/// What the plugin decided.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The policy that admitted or validated the pod.
    pub policy: Option<String>,
    /// The pod after the mutating phase (defaults and `kubernetes.io/psp`), when it changed.
    pub pod: Option<Value>,
    /// Upstream's rejection text (`PodSecurityPolicy: unable to admit pod: [...]`); empty when allowed.
    pub message: String,
    /// Audit annotations (`podsecuritypolicy.policy.k8s.io/admit-policy` or `.../validate-policy`).
    pub audit_annotations: Vec<(String, String)>,
    /// The field errors behind a rejection, in the order printed.
    pub errors: Vec<FieldError>,
}

impl Outcome {
    fn allow() -> Self {
        Self { allowed: true, ..Self::default() }
    }
    fn deny(message: String, errors: Vec<FieldError>) -> Self {
        Self { allowed: false, message, errors, ..Self::default() }
    }
}

/// The mutating phase with kube-apiserver's settings.
#[must_use]
pub fn admit(policies: &[Policy], req: &Request<'_>, authz: &dyn Authorize) -> Outcome {
    admit_with(policies, req, authz, Options::default())
}

/// The validating phase with kube-apiserver's settings.
#[must_use]
pub fn validate(policies: &[Policy], req: &Request<'_>, authz: &dyn Authorize) -> Outcome {
    validate_with(policies, req, authz, Options::default())
}

/// The mutating phase (`Admit`): only CREATE is handled; UPDATE passes through unchanged.
#[must_use]
pub fn admit_with(policies: &[Policy], req: &Request<'_>, authz: &dyn Authorize, opts: Options) -> Outcome {
    if req.operation != Operation::Create {
        return Outcome::allow();
    }
    match compute(policies, req, authz, opts, true, "") {
        Err(message) => Outcome::deny(format!("PodSecurityPolicy: {message}"), Vec::new()),
        Ok(Computed::Allowed { pod, policy }) => {
            let mut pod = pod;
            set_annotation(&mut pod, VALIDATED_PSP_ANNOTATION, &policy);
            let changed = pod != *req.pod;
            Outcome {
                allowed: true,
                policy: Some(policy.clone()),
                pod: changed.then_some(pod),
                message: String::new(),
                audit_annotations: vec![(AUDIT_ADMIT_POLICY.to_owned(), policy)],
                errors: Vec::new(),
            }
        }
        Ok(Computed::Rejected(errors)) => {
            Outcome::deny(format!("PodSecurityPolicy: unable to admit pod: {}", render_list(&errors)), errors)
        }
    }
}

/// The validating phase (`Validate`): the pod must be admitted by some authorized policy without
/// any change.
#[must_use]
pub fn validate_with(policies: &[Policy], req: &Request<'_>, authz: &dyn Authorize, opts: Options) -> Outcome {
    if req.operation == Operation::Update
        && let Some(old) = req.old_pod
        && only_gc_fields_changed(req.pod, old)
    {
        return Outcome::allow();
    }
    let hint = req
        .pod
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(VALIDATED_PSP_ANNOTATION))
        .and_then(Value::as_str)
        .unwrap_or("");
    match compute(policies, req, authz, opts, false, hint) {
        Err(message) => Outcome::deny(format!("PodSecurityPolicy: {message}"), Vec::new()),
        Ok(Computed::Allowed { pod, policy }) if semantic_eq(&pod, req.pod) => Outcome {
            allowed: true,
            policy: Some(policy.clone()),
            audit_annotations: vec![(AUDIT_VALIDATE_POLICY.to_owned(), policy)],
            ..Outcome::default()
        },
        Ok(Computed::Allowed { .. }) => {
            Outcome::deny("PodSecurityPolicy: unable to validate pod: []".to_owned(), Vec::new())
        }
        Ok(Computed::Rejected(errors)) => {
            Outcome::deny(format!("PodSecurityPolicy: unable to validate pod: {}", render_list(&errors)), errors)
        }
    }
}

enum Computed {
    Allowed { pod: Value, policy: String },
    Rejected(Vec<FieldError>),
}

/// `computeSecurityContext`.
fn compute(
    policies: &[Policy],
    req: &Request<'_>,
    authz: &dyn Authorize,
    opts: Options,
    mutation_allowed: bool,
    hint: &str,
) -> Result<Computed, String> {
    if policies.is_empty() && !opts.fail_on_no_policies {
        return Ok(Computed::Allowed { pod: req.pod.clone(), policy: String::new() });
    }
    let mut order: Vec<&Policy> = policies.iter().collect();
    order.sort_by(|a, b| {
        if !mutation_allowed {
            match (a.name == hint, b.name == hint) {
                (true, false) => return std::cmp::Ordering::Less,
                (false, true) => return std::cmp::Ordering::Greater,
                _ => {}
            }
        }
        a.name.cmp(&b.name)
    });
    let providers: Vec<&Policy> = order.into_iter().filter(|p| p.provider_error.is_none()).collect();
    if providers.is_empty() {
        return Err("no providers available to validate pod request".to_owned());
    }
    let mut mutated_winner: Option<(Value, String)> = None;
    let mut rejected: Vec<(&str, Vec<FieldError>)> = Vec::new();
    for p in providers {
        let (copy, errs) = p.evaluate(req.pod);
        if !errs.is_empty() {
            rejected.push((&p.name, errs));
            continue;
        }
        let mutated = !semantic_eq(req.pod, &copy);
        if mutated && !mutation_allowed {
            continue;
        }
        if !is_authorized_for_policy(req, &p.name, authz) {
            continue;
        }
        if !mutated {
            return Ok(Computed::Allowed { pod: copy, policy: p.name.clone() });
        }
        if mutated_winner.is_none() {
            mutated_winner = Some((copy, p.name.clone()));
        }
    }
    if let Some((pod, policy)) = mutated_winner {
        return Ok(Computed::Allowed { pod, policy });
    }
    // deterministic where upstream iterates a map: policy-name order
    rejected.sort_by(|a, b| a.0.cmp(b.0));
    let mut errors = Vec::new();
    for (name, errs) in rejected {
        if is_authorized_for_policy(req, name, authz) {
            errors.extend(errs);
        }
    }
    Ok(Computed::Rejected(errors))
}

/// Whether the pod's service account, or else the requesting user, may `use` the policy.
#[must_use]
pub fn is_authorized_for_policy(req: &Request<'_>, policy: &str, authz: &dyn Authorize) -> bool {
    let sa = req
        .pod
        .pointer("/spec/serviceAccountName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|sa| UserInfo::service_account(req.namespace, sa));
    sa.iter().chain(std::iter::once(req.user)).any(|user| {
        ["policy", "extensions"].iter().any(|group| {
            let attrs = Attributes::resource(user.clone(), "use", group, "podsecuritypolicies", req.namespace, policy);
            authz.allows(&attrs)
        })
    })
}

fn set_annotation(pod: &mut Value, key: &str, value: &str) {
    let Some(root) = pod.as_object_mut() else {
        return;
    };
    let meta = root.entry("metadata").or_insert(Value::Null);
    if meta.is_null() {
        *meta = Value::Object(serde_json::Map::new());
    }
    let Some(meta) = meta.as_object_mut() else {
        return;
    };
    let ann = meta.entry("annotations").or_insert(Value::Null);
    if ann.is_null() {
        *ann = Value::Object(serde_json::Map::new());
    }
    if let Some(ann) = ann.as_object_mut() {
        ann.insert(key.to_owned(), Value::String(value.to_owned()));
    }
}

/// `apiequality.Semantic.DeepEqual` over JSON: nulls, empty lists and empty maps equal absence.
#[must_use]
pub fn semantic_eq(a: &Value, b: &Value) -> bool {
    normalize(a) == normalize(b)
}

fn normalize(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) => Some(Value::Array(items.iter().map(|i| normalize(i).unwrap_or(Value::Null)).collect())),
        Value::Object(m) => {
            let out: serde_json::Map<String, Value> =
                m.iter().filter_map(|(k, v)| normalize(v).map(|v| (k.clone(), v))).collect();
            if out.is_empty() { None } else { Some(Value::Object(out)) }
        }
        other => Some(other.clone()),
    }
}

/// `IsOnlyMutatingGCFields`: the pods differ at most in `ownerReferences` and `finalizers`.
fn only_gc_fields_changed(new: &Value, old: &Value) -> bool {
    let mut copy = new.clone();
    for key in ["ownerReferences", "finalizers"] {
        let old_value = old.pointer(&format!("/metadata/{key}")).cloned();
        if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
            match old_value {
                Some(v) => {
                    meta.insert(key.to_owned(), v);
                }
                None => {
                    meta.remove(key);
                }
            }
        }
    }
    semantic_eq(&copy, old)
}
