//! `kguard scan` orchestration: which engines run on which object, with which Pod Security
//! policy, and what is suppressed. Pure: objects in, findings and diagnostics out.
//!
//! Engines:
//! * per workload: the Pod Security Standards ([`crate::podsec`]), by the namespace's
//!   `pod-security.kubernetes.io/*` labels when the input has that Namespace, else the default;
//! * per workload, RBAC object and Service: the hardening catalogue ([`crate::checks`]), with the
//!   input's ServiceAccounts as its [`checks::Inventory`] (token automount);
//! * per Secret, ConfigMap and kubeconfig (`kind: Config`): credentials written into them
//!   ([`crate::credentials`]);
//! * across objects: NetworkPolicy isolation ([`crate::netpol`]) and, when the input holds RBAC
//!   objects, RBAC risks and escalation paths ([`crate::authz::risks`]).
//!
//! Every finding passes one filter: its rule must be selected (`--select`/`--ignore`) and not
//! suppressed by a `kguard.io/ignore` annotation on its object or pod template, nor by another
//! tool's suppression annotation naming one of the rule's aliases ([`checks::suppressed`]).

use std::collections::{HashMap, HashSet};

use kguard_model::{Diagnostic, Object, ObjectRef};
use kguard_report::Finding;
use rayon::prelude::*;

use crate::podsec::{self, Level, NamespacePolicy, Version};
use crate::rules::{self, IGNORE_ANNOTATION, Selection};
use crate::{authz, checks, credentials, netpol, workload};

/// The Pod Security policy used where the input says nothing (no Namespace object with
/// `pod-security.kubernetes.io/*` labels for the object's namespace).
#[derive(Clone, Copy, Debug)]
pub struct PssDefault {
    /// Level.
    pub level: Level,
    /// Version.
    pub version: Version,
}

/// What a scan runs.
#[derive(Clone, Debug)]
pub struct ScanConfig {
    /// Rule selection.
    pub selection: Selection,
    /// Pod Security default.
    pub pss: PssDefault,
}

/// What a scan found.
#[derive(Debug, Default)]
pub struct ScanOutcome {
    /// Findings (unsorted).
    pub findings: Vec<Finding>,
    /// Problems with objects (malformed fields, bad labels) and notes (skipped kinds).
    pub diagnostics: Vec<Diagnostic>,
    /// Objects at least one engine evaluated.
    pub scanned: usize,
    /// Objects no engine applies to.
    pub skipped: usize,
}

/// What decides whether a finding is shown: the objects (for their suppression annotations,
/// kguard's and other tools') and their pod templates' `kguard.io/ignore` annotations.
struct Suppressions<'a> {
    objects: HashMap<&'a ObjectRef, &'a Object>,
    template_ignores: HashMap<&'a ObjectRef, String>,
}

impl Suppressions<'_> {
    /// Whether the finding survives selection and suppression.
    fn keep(&self, selection: &Selection, finding: &Finding) -> bool {
        let Some(rule) = rules::find(&finding.rule_id) else { return true };
        if !selection.enabled(rule) {
            return false;
        }
        let Some(id) = finding.object.as_ref() else { return true };
        let own = self.objects.get(id).and_then(|o| o.annotation(IGNORE_ANNOTATION));
        let template = self.template_ignores.get(id).map(String::as_str);
        if [own, template].into_iter().flatten().any(|v| rules::suppressed_by(v, rule)) {
            return false;
        }
        !self.objects.get(id).is_some_and(|o| checks::suppressed(o, rule))
    }
}

/// Whether `kguard scan` can report findings of this rule (audit-policy and certificate rules come
/// from `kguard audit lint` and `kguard pki inspect`, not from manifests).
#[must_use]
pub fn produces(rule: &kguard_report::RuleMeta) -> bool {
    !matches!(rule.family, "audit" | "pki")
}

/// Scans objects.
#[must_use]
pub fn scan(objects: &[Object], config: &ScanConfig) -> ScanOutcome {
    let mut out = ScanOutcome::default();
    let mut suppressions =
        Suppressions { objects: objects.iter().map(|o| (&o.id, o)).collect(), template_ignores: HashMap::new() };
    let namespaces = namespace_policies(objects, &mut out);
    let family_enabled = |family: &str| rules::all().any(|r| r.family == family && config.selection.enabled(r));
    let netpol_on = family_enabled("netpol");

    // Per-object engines, in parallel (they are pure); results merged in input order.
    let inventory = checks::Inventory::from_objects(objects);
    let per_object: Vec<ObjectOutcome> =
        objects.par_iter().map(|obj| scan_object(obj, config, &namespaces, &inventory, netpol_on)).collect();
    let mut candidates = Vec::new();
    for (obj, o) in objects.iter().zip(per_object) {
        if let Some(v) = o.template_ignore {
            suppressions.template_ignores.insert(&obj.id, v);
        }
        candidates.extend(o.findings);
        out.diagnostics.extend(o.diagnostics);
        match o.evaluated {
            Some(true) => out.scanned += 1,
            Some(false) => out.skipped += 1,
            None => {}
        }
    }
    if netpol_on {
        let cluster = netpol::Cluster::from_objects(objects);
        candidates.extend(netpol::findings(objects, &cluster));
    }
    if family_enabled("rbac") && objects.iter().any(is_rbac_object) {
        // The default ClusterRoles (cluster-admin, edit, view, ...) resolve references in the
        // input; they are not reported themselves.
        let mut rbac_objects: Vec<Object> = objects.iter().filter(|o| is_rbac_object(o)).cloned().collect();
        rbac_objects.extend(authz::defaults::objects());
        let rbac = authz::Rbac::from_objects(&rbac_objects);
        out.diagnostics.extend(rbac.diagnostics().iter().cloned());
        candidates.extend(authz::risks(&rbac));
    }
    out.findings = candidates.into_iter().filter(|f| suppressions.keep(&config.selection, f)).collect();
    out
}

/// What the per-object engines made of one object.
struct ObjectOutcome {
    findings: Vec<Finding>,
    /// A malformed object, a note that no rule applies, unreadable embedded credentials.
    diagnostics: Vec<Diagnostic>,
    /// `Some(true)` evaluated, `Some(false)` skipped, `None` malformed.
    evaluated: Option<bool>,
    /// The pod template's `kguard.io/ignore` annotation.
    template_ignore: Option<String>,
}

fn scan_object(
    obj: &Object,
    config: &ScanConfig,
    namespaces: &HashMap<&str, NamespacePolicy>,
    inventory: &checks::Inventory,
    netpol_on: bool,
) -> ObjectOutcome {
    let mut o =
        ObjectOutcome { findings: Vec::new(), diagnostics: Vec::new(), evaluated: Some(true), template_ignore: None };
    match workload::pod_view(obj) {
        None => {
            if checks::applies_to(obj) {
                o.findings = checks::findings_in(obj, None, inventory);
            } else if credentials::applies_to(obj) {
                let (findings, diagnostics) = credentials::check(obj);
                o.findings = findings;
                o.diagnostics = diagnostics;
            } else if !(obj.kind() == "Namespace" || (netpol_on && obj.kind() == "NetworkPolicy")) {
                o.evaluated = Some(false);
                o.diagnostics.push(Diagnostic::note(
                    "skipped-kind",
                    obj.location(""),
                    format!("{}: no rule applies to kind {} ({})", obj.id, obj.id.kind, obj.id.api_version),
                ));
            }
        }
        Some(Err(e)) => {
            let message = format!("{}: {}", obj.id, e.message);
            o.diagnostics.push(Diagnostic::error("invalid-object", obj.location(&e.pointer), message));
            o.evaluated = None;
        }
        Some(Ok(view)) => {
            o.template_ignore = view.template_annotation(IGNORE_ANNOTATION).map(str::to_owned);
            let namespace = obj.id.namespace.as_deref().unwrap_or("default");
            let modes = match namespaces.get(namespace) {
                Some(policy) => policy.modes(view.is_pod()),
                None => podsec::default_modes(config.pss.level, config.pss.version, view.is_pod()),
            };
            // Modes come strictest-consequence first (enforce, audit, warn); a check already
            // reported for the same field by an earlier mode is not repeated.
            let mut seen: HashSet<(String, Option<String>)> = HashSet::new();
            for (mode, level, version) in modes {
                for finding in podsec::findings(obj, &view, level, version, mode) {
                    if seen.insert((finding.rule_id.clone(), finding.pointer.clone())) {
                        o.findings.push(finding);
                    }
                }
            }
            o.findings.extend(checks::findings_in(obj, Some(&view), inventory));
        }
    }
    o
}

/// The pod-security policy of every Namespace in the input that carries pod-security labels;
/// malformed labels become warnings (upstream falls back as documented in [`podsec`]).
fn namespace_policies<'a>(objects: &'a [Object], out: &mut ScanOutcome) -> HashMap<&'a str, NamespacePolicy> {
    let mut namespaces = HashMap::new();
    for obj in objects.iter().filter(|o| o.kind() == "Namespace" && o.group().is_empty()) {
        let (policy, errors) = NamespacePolicy::from_labels(obj.labels());
        for (key, message) in errors {
            let pointer = format!("/metadata/labels/{}", kguard_model::yaml::escape_pointer_token(&key));
            out.diagnostics.push(Diagnostic::warning("pss-label", obj.location(&pointer), message));
        }
        if policy.has_labels() {
            namespaces.insert(obj.id.name.as_str(), policy);
        }
    }
    namespaces
}

fn is_rbac_object(obj: &Object) -> bool {
    obj.group() == "rbac.authorization.k8s.io"
        && matches!(obj.kind(), "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding")
}
