//! `kguard scan` orchestration: which engines run on which object, with which Pod Security
//! policy, and what is suppressed. Pure: objects in, findings and diagnostics out.
//!
//! Engines:
//! * per workload: the Pod Security Standards ([`kguard_podsec`]), by the namespace's
//!   `pod-security.kubernetes.io/*` labels when the input has that Namespace, else the default;
//! * per workload, RBAC object and Service: the hardening catalogue ([`kguard_hardening`]), with the
//!   input's ServiceAccounts as its [`kguard_hardening::Inventory`] (token automount);
//! * per Secret, ConfigMap and kubeconfig (`kind: Config`): credentials written into them
//!   ([`kguard_credentials`]);
//! * across objects: NetworkPolicy isolation ([`kguard_netpol`]), Istio mTLS policies
//!   ([`kguard_mesh::findings`]: PeerAuthentication modes, DestinationRule TLS against the server's
//!   mode, AuthorizationPolicy identities on plaintext ports) and, when the input holds RBAC
//!   objects, RBAC risks and escalation paths ([`kguard_authz::risks`]).
//!
//! Dockerfiles found among the inputs are checked apart ([`dockerfile_findings`]): their findings
//! are about a file and a line, not an object, and no annotation suppresses them.
//!
//! Every object of a built-in API group is also checked as `kubectl --validate=strict` would
//! ([`kguard_discovery::check_object`]): an unknown kind or version, unknown or misplaced fields
//! become warnings (diagnostics), not findings.
//!
//! Every finding passes one filter: its rule must be selected (`--select`/`--ignore`) and not
//! suppressed by a `kguard.io/ignore` annotation on its object or pod template, nor by another
//! tool's suppression annotation naming one of the rule's aliases ([`kguard_hardening::suppressed`]).
//! Then findings of different rules about the same problem at the same field are merged into one
//! ([`problems`]).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod baseline;
pub mod config;
pub mod problems;
pub mod rules;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use kguard_model::yaml::{Entry, Value, YamlNode};
use kguard_model::{Diagnostic, Object, ObjectRef};
use kguard_report::{Finding, Shared, Suppressed, SuppressionKind};
use rayon::prelude::*;

use kguard_model::workload;
use kguard_podsec::{Level, NamespacePolicy, Version};
pub use kguard_report::select::Selection;
use kguard_report::select::{IGNORE_ANNOTATION, suppressed_by};

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
    /// Linkerd's cluster-wide default inbound policy (the install's `proxy.defaultInboundPolicy`),
    /// for workloads whose pod template and namespace set none.
    pub linkerd_default: LinkerdDefaultPolicy,
}

pub use kguard_mesh::linkerd::DefaultPolicy as LinkerdDefaultPolicy;

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
    /// Findings of selected rules that an annotation on their object or pod template
    /// suppressed (`kguard.io/ignore`, or another tool's naming one of the rule's aliases), with
    /// the annotation and the reason it gives as the justification (kind `InSource`).
    pub suppressed: Vec<Suppressed>,
}

/// What decides whether a finding is shown: the objects' own suppression annotations (kguard's
/// and other tools'), kept as [`suppression_view`]s (their annotations only) so that the parsed
/// trees can go once they are scanned; an id named twice is the last object of that id, as
/// before. The pod template's `kguard.io/ignore` is the scanned object's own (see
/// [`Scanner::scan_object`]).
struct Suppressions {
    objects: HashMap<ObjectRef, Object>,
}

impl Suppressions {
    fn of<'a>(objects: impl IntoIterator<Item = &'a Object>) -> Self {
        let mut map = HashMap::new();
        for o in objects {
            // The last object of an id decides, also when it has no suppression annotation.
            match suppression_view(o) {
                Some(view) => map.insert(o.id.clone(), view),
                None => map.remove(&o.id),
            };
        }
        Self { objects: map }
    }

    /// Whether the finding survives selection and suppression.
    fn keep(&self, selection: &Selection, finding: &Finding) -> bool {
        matches!(self.verdict(selection, finding, None), Verdict::Keep)
    }

    /// What selection and suppression make of the finding; `template_ignore` is the
    /// `kguard.io/ignore` annotation of its object's pod template.
    fn verdict(&self, selection: &Selection, finding: &Finding, template_ignore: Option<&str>) -> Verdict {
        let Some(rule) = rules::find(&finding.rule_id) else { return Verdict::Keep };
        if !selection.enabled(rule) {
            return Verdict::Unselected;
        }
        let Some(id) = finding.object.as_deref() else { return Verdict::Keep };
        let own = self.objects.get(id).and_then(|o| o.annotation(IGNORE_ANNOTATION));
        if let Some(v) = own.filter(|v| suppressed_by(v, rule)) {
            return Verdict::Suppressed(format!("{IGNORE_ANNOTATION}: {}", v.trim()));
        }
        if let Some(v) = template_ignore.filter(|v| suppressed_by(v, rule)) {
            return Verdict::Suppressed(format!("{IGNORE_ANNOTATION} (pod template): {}", v.trim()));
        }
        match self.objects.get(id).and_then(|o| kguard_hardening::suppression(o, rule)) {
            Some(why) => Verdict::Suppressed(why),
            None => Verdict::Keep,
        }
    }
}

/// What selection and suppression make of a finding.
enum Verdict {
    /// Shown.
    Keep,
    /// Its rule is not selected: neither shown nor counted as suppressed.
    Unselected,
    /// Suppressed by an annotation (the justification: the annotation and its reason).
    Suppressed(String),
}

/// The part of an object suppression reads ([`Object::annotation`], [`kguard_hardening::suppressed`]):
/// its id, and the suppression annotations (`kguard.io/ignore` and other tools', as
/// [`kguard_hardening::parse_annotation`] knows them) among its own and its pod template's
/// `metadata.annotations`, at the same places; `None` when it has none (nothing to hold).
fn suppression_view(obj: &Object) -> Option<Object> {
    let mut root = YamlNode { value: Value::Map(Vec::new()), pos: obj.root.pos };
    let template = workload::template_pointer(obj.group(), obj.kind()).filter(|p| !p.is_empty());
    let paths = std::iter::once("/metadata/annotations".to_owned())
        .chain(template.map(|prefix| format!("{prefix}/metadata/annotations")));
    let mut any = false;
    for path in paths {
        let Some(node) = obj.root.pointer(&path) else { continue };
        let Value::Map(entries) = &node.value else { continue };
        let relevant: Vec<Entry> = entries
            .iter()
            .filter(|e| {
                e.key == IGNORE_ANNOTATION
                    || e.value.as_str().is_some_and(|v| kguard_hardening::parse_annotation(&e.key, v).is_some())
            })
            .cloned()
            .collect();
        if !relevant.is_empty() {
            any = true;
            insert_at(&mut root, &path, YamlNode { value: Value::Map(relevant), pos: node.pos });
        }
    }
    any.then(|| Object {
        id: obj.id.clone(),
        file: obj.file.clone(),
        doc_index: obj.doc_index,
        doc_pointer: String::new(),
        root,
    })
}

/// The fields of a container that the engines across objects read (named ports; the mesh's
/// injection checks read the names).
const CONTEXT_CONTAINER_FIELDS: &[&str] = &["name", "ports"];

/// The container lists of a pod spec.
const CONTAINER_LISTS: &[&str] = &["containers", "initContainers", "ephemeralContainers"];

/// What the engines across objects ([`Scanner::new`]: Pod Security namespace labels, the
/// ServiceAccount inventory, network policies, the mesh, RBAC, suppression annotations) read of an
/// object: all of it, except `metadata.managedFields` (what `kubectl get -o yaml` adds), and except
/// that a workload's pod spec keeps only its scalar fields (`hostNetwork`, `serviceAccountName`, …)
/// and its containers, each with only its name and ports. A workload whose pod spec is malformed
/// ([`workload::pod_view`] fails) is kept whole, so the engines refuse it as they would the whole
/// object. The per-object engines read the whole object ([`Scanner::scan_object`]); holding every
/// object's context view instead of its tree is what lets `kguard scan` hold one document's tree
/// at a time. The `scan_owned` tests check that a scan from context views finds exactly what one
/// from whole objects finds (bundled examples, rule and mesh fixtures, the shared corpus).
#[must_use]
pub fn context_view(obj: &Object) -> Object {
    let mut view = obj.clone();
    if let Value::Map(top) = &mut view.root.value
        && let Some(meta) = top.iter_mut().find(|e| e.key == "metadata")
        && let Value::Map(fields) = &mut meta.value.value
    {
        fields.retain(|f| f.key != "managedFields");
    }
    let Some(template) = workload::template_pointer(obj.group(), obj.kind()) else {
        shrink(&mut view.root);
        return view;
    };
    if !matches!(workload::pod_view(obj), Some(Ok(_))) {
        shrink(&mut view.root);
        return view;
    }
    let mut node = &mut view.root;
    for key in template.split('/').skip(1).chain(std::iter::once("spec")) {
        let Value::Map(entries) = &mut node.value else { return view };
        let Some(entry) = entries.iter_mut().find(|e| e.key == key) else { return view };
        node = &mut entry.value;
    }
    let Value::Map(spec) = &mut node.value else { return view };
    spec.retain(|e| {
        CONTAINER_LISTS.contains(&e.key.as_str()) || !matches!(e.value.value, Value::Map(_) | Value::Seq(_))
    });
    for entry in spec.iter_mut() {
        let Value::Seq(containers) = &mut entry.value.value else { continue };
        for container in containers {
            if let Value::Map(fields) = &mut container.value {
                fields.retain(|f| CONTEXT_CONTAINER_FIELDS.contains(&f.key.as_str()));
            }
        }
    }
    shrink(&mut view.root);
    view
}

/// Gives back the spare capacity of every sequence, mapping and text of a tree (a parsed tree's
/// vectors grew by doubling; a view is held to the end of the scan).
fn shrink(node: &mut YamlNode) {
    match &mut node.value {
        Value::Str(s) => s.shrink_to_fit(),
        Value::Seq(items) => {
            items.shrink_to_fit();
            items.iter_mut().for_each(shrink);
        }
        Value::Map(entries) => {
            entries.shrink_to_fit();
            for e in entries.iter_mut() {
                e.key.shrink_to_fit();
                shrink(&mut e.value);
            }
        }
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {}
    }
}

/// Puts `value` at `path` (plain `/`-separated keys) in `root`, making the mappings on the way.
fn insert_at(root: &mut YamlNode, path: &str, value: YamlNode) {
    let pos = root.pos;
    let mut node = root;
    let mut keys = path.split('/').skip(1).peekable();
    while let Some(key) = keys.next() {
        let Value::Map(entries) = &mut node.value else { return };
        let i = match entries.iter().position(|e| e.key == key) {
            Some(i) => i,
            None => {
                let empty = YamlNode { value: Value::Map(Vec::new()), pos };
                entries.push(Entry { key: key.to_owned(), key_pos: pos, value: empty });
                entries.len() - 1
            }
        };
        let Some(entry) = entries.get_mut(i) else { return };
        if keys.peek().is_none() {
            entry.value = value;
            return;
        }
        node = &mut entry.value;
    }
}

/// Whether `kguard scan` can report findings of this rule from manifests alone (audit-policy,
/// certificate and seccomp rules come from `kguard audit lint`, `kguard pki inspect`,
/// `kguard seccomp lint`, `kguard apparmor lint`, or need the node's profiles: `kguard scan
/// --seccomp-root`, `kguard scan --apparmor-profiles`).
#[must_use]
pub fn produces(rule: &kguard_report::RuleMeta) -> bool {
    !matches!(rule.family, "audit" | "pki" | "seccomp" | "apparmor") && !rule.family.starts_with("node-")
}

/// `kguard scan --seccomp-root`: the Localhost seccomp profiles the pods name, checked against
/// the node's profile files (read by the caller), with the scan's selection and suppressions.
#[must_use]
pub fn seccomp_findings(
    objects: &[Object],
    selection: &Selection,
    node: &kguard_seccomp::kubelet::NodeProfiles,
) -> Vec<Finding> {
    let suppressions = Suppressions::of(objects);
    kguard_seccomp::kubelet::check_pods(objects, node).into_iter().filter(|f| suppressions.keep(selection, f)).collect()
}

/// `kguard scan --apparmor-profiles`: the Localhost AppArmor profiles the pods name, checked
/// against the node's profiles (its loaded-profile list or its parsed sources, read by the
/// caller), with the scan's selection and suppressions.
#[must_use]
pub fn apparmor_findings(
    objects: &[Object],
    selection: &Selection,
    node: &kguard_apparmor::node::NodeProfiles,
) -> Vec<Finding> {
    let suppressions = Suppressions::of(objects);
    kguard_apparmor::node::check_pods(objects, node).into_iter().filter(|f| suppressions.keep(selection, f)).collect()
}

/// The family of the Dockerfile rules.
pub const DOCKERFILE_FAMILY: &str = kguard_dockerfile::FAMILY;

/// `kguard scan` on a Dockerfile (`file` names it, `text` is its content): the Dockerfile rules
/// ([`kguard_dockerfile`], `DF001`–`DF031`) the selection enables, at the instruction's line and
/// column or about the whole file, or the error that makes the file unreadable.
#[must_use]
pub fn dockerfile_findings(
    file: &std::sync::Arc<str>,
    text: &str,
    selection: &Selection,
) -> (Vec<Finding>, Vec<Diagnostic>) {
    if !kguard_dockerfile::RULES.iter().any(|r| selection.enabled(r)) {
        return (Vec::new(), Vec::new());
    }
    let (mut findings, diagnostics) = kguard_dockerfile::check(file, text);
    findings.retain(|f| rules::find(&f.rule_id).is_none_or(|r| selection.enabled(r)));
    (findings, diagnostics)
}

/// Scans objects.
#[must_use]
pub fn scan(objects: &[Object], config: &ScanConfig) -> ScanOutcome {
    scan_with_extents(objects, config).0
}

/// Scans objects, and returns with the outcome the extent of each reported finding that names
/// more than its own pointer and container (Pod Security checks naming several fields or
/// containers), by [`problems::extent_key`]: what [`problems`] merged on, for tests and tools
/// that check it.
#[must_use]
pub fn scan_with_extents(
    objects: &[Object],
    config: &ScanConfig,
) -> (ScanOutcome, HashMap<problems::ExtentKey, problems::Extent>) {
    let scanner = Scanner::new(objects, config).sharing();
    let per_object: Vec<ObjectScan> = objects.par_iter().map(|obj| scanner.scan_object(obj)).collect();
    collect(scanner, per_object)
}

/// Scans objects, dropping each one's parsed tree as soon as it is scanned. The same outcome as
/// [`scan`]. (`kguard scan` goes further: it never holds every tree at once, see [`Scanner`].)
#[must_use]
pub fn scan_owned(objects: Vec<Object>, config: &ScanConfig) -> ScanOutcome {
    let scanner = Scanner::new(&objects, config).sharing();
    let per_object: Vec<ObjectScan> = objects.into_par_iter().map(|obj| scanner.scan_object(&obj)).collect();
    collect(scanner, per_object).0
}

/// Puts the outcomes of a batch scan together, in input order, the findings across objects that
/// no scanned object took last.
fn collect(
    mut scanner: Scanner<'_>,
    per_object: Vec<ObjectScan>,
) -> (ScanOutcome, HashMap<problems::ExtentKey, problems::Extent>) {
    let mut out = ScanOutcome { diagnostics: scanner.take_diagnostics(), ..ScanOutcome::default() };
    let mut extents = HashMap::new();
    for o in per_object {
        out.findings.extend(o.findings);
        out.suppressed.extend(o.suppressed);
        out.diagnostics.extend(o.diagnostics);
        extents.extend(o.extents);
        match o.evaluated {
            Some(true) => out.scanned += 1,
            Some(false) => out.skipped += 1,
            None => {}
        }
    }
    let tail = scanner.finish();
    out.findings.extend(tail.findings);
    out.suppressed.extend(tail.suppressed);
    out.diagnostics.extend(tail.diagnostics);
    (out, extents)
}

/// What the scan of one object gives ([`Scanner::scan_object`]): its findings after selection,
/// suppression and the merging of findings about one problem, with the findings across objects
/// about it among them.
#[derive(Debug, Default)]
pub struct ObjectScan {
    /// Findings shown.
    pub findings: Vec<Finding>,
    /// Findings of selected rules suppressed by an annotation.
    pub suppressed: Vec<Suppressed>,
    /// A malformed object, a note that no rule applies, unreadable embedded credentials.
    pub diagnostics: Vec<Diagnostic>,
    /// `Some(true)` evaluated, `Some(false)` skipped, `None` malformed.
    pub evaluated: Option<bool>,
    /// The extents of the reported findings that have one.
    extents: Vec<(problems::ExtentKey, problems::Extent)>,
}

/// Findings across objects, by their object and file.
type Pending = HashMap<(ObjectRef, Option<Arc<str>>), Vec<Finding>>;

/// A scan in three steps, so that a caller need not hold every object's tree at once:
///
/// 1. [`Scanner::new`] reads what the engines across objects need from every object (its
///    [`context_view`] is enough) and runs them: Pod Security namespace labels, the ServiceAccount
///    inventory, network policies, the mesh and RBAC; each object's suppression annotations;
/// 2. [`Scanner::scan_object`] runs the per-object engines on each object (whole), in any order
///    and in parallel, and hands back its findings together with the findings across objects
///    about it, selected, suppressed and merged per problem;
/// 3. [`Scanner::finish`] gives the findings across objects that no scanned object took.
pub struct Scanner<'c> {
    config: &'c ScanConfig,
    /// Problems with Namespaces' Pod Security labels.
    diagnostics: Vec<Diagnostic>,
    /// Problems with RBAC objects (reported after the per-object ones).
    rbac_diagnostics: Vec<Diagnostic>,
    suppressions: Suppressions,
    namespaces: HashMap<String, NamespacePolicy>,
    inventory: kguard_hardening::Inventory,
    netpol_on: bool,
    /// Findings across objects, by their object and file, until that object is scanned.
    pending: Mutex<Pending>,
    /// Findings across objects about no object.
    unowned: Vec<Finding>,
    /// The pod templates' `kguard.io/ignore` annotations of the objects scanned (for the findings
    /// across objects that [`Scanner::finish`] judges).
    template_ignores: Mutex<HashMap<ObjectRef, String>>,
    /// Whether findings share their object, container and pointer with the others
    /// ([`Finding::share`]): for a batch scan that holds them all.
    shared: Option<Mutex<Shared>>,
}

impl<'c> Scanner<'c> {
    /// Reads the objects (their [`context_view`]s suffice) and runs the engines across objects.
    #[must_use]
    pub fn new(objects: &[Object], config: &'c ScanConfig) -> Self {
        let mut diagnostics = Vec::new();
        let namespaces = namespace_policies(objects, &mut diagnostics);
        let family_enabled = |family: &str| rules::all().any(|r| r.family == family && config.selection.enabled(r));
        let netpol_on = family_enabled("netpol");
        let mut across = Vec::new();
        let mut rbac_diagnostics = Vec::new();
        if netpol_on {
            let cluster = kguard_netpol::Cluster::from_objects(objects);
            across.extend(kguard_netpol::findings(objects, &cluster));
        }
        if family_enabled("mesh") {
            across.extend(kguard_mesh::findings::findings_with(objects, config.linkerd_default));
        }
        if family_enabled("rbac") && objects.iter().any(is_rbac_object) {
            // The default ClusterRoles (cluster-admin, edit, view, ...) resolve references in the
            // input; they are not reported themselves. An object of the input with a default's
            // kind and name (a cluster's own defaults, read with --cluster) stands for it.
            let mut rbac_objects: Vec<Object> = objects.iter().filter(|o| is_rbac_object(o)).cloned().collect();
            let given: std::collections::HashSet<(&str, Option<&str>, &str)> = rbac_objects
                .iter()
                .map(|o| (o.id.kind.as_str(), o.id.namespace.as_deref(), o.id.name.as_str()))
                .collect();
            let defaults: Vec<Object> = kguard_authz::defaults::objects()
                .into_iter()
                .filter(|d| !given.contains(&(d.id.kind.as_str(), d.id.namespace.as_deref(), d.id.name.as_str())))
                .collect();
            drop(given);
            rbac_objects.extend(defaults);
            let rbac = kguard_authz::Rbac::from_objects(&rbac_objects);
            across.extend(kguard_authz::risks(&rbac));
            rbac_diagnostics = rbac.diagnostics().to_vec();
        }
        let mut pending = Pending::new();
        let mut unowned = Vec::new();
        for f in across {
            match f.object.as_deref() {
                Some(id) => {
                    let file = f.location.as_ref().map(|l| l.file.clone());
                    pending.entry((id.clone(), file)).or_default().push(f);
                }
                None => unowned.push(f),
            }
        }
        Self {
            config,
            diagnostics,
            rbac_diagnostics,
            suppressions: Suppressions::of(objects),
            namespaces,
            inventory: kguard_hardening::Inventory::from_objects(objects),
            netpol_on,
            pending: Mutex::new(pending),
            unowned,
            template_ignores: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// Makes the findings of this scan share what they have in common (for a caller that holds
    /// them all).
    #[must_use]
    fn sharing(mut self) -> Self {
        self.shared = Some(Mutex::new(Shared::default()));
        self
    }

    /// The problems with Namespaces' Pod Security labels, once.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diagnostics)
    }

    /// The per-object engines on one object (whole, not its context view), with the findings
    /// across objects about it (same reference, same file), selected, suppressed and merged.
    #[must_use]
    pub fn scan_object(&self, obj: &Object) -> ObjectScan {
        let o = scan_object(obj, self.config, &self.namespaces, &self.inventory, self.netpol_on);
        let mut candidates = o.findings;
        // Findings of rules not selected go at once (suppression below drops them anyway).
        candidates.retain(|f| rules::find(&f.rule_id).is_none_or(|r| self.config.selection.enabled(r)));
        let across = self.lock_pending().remove(&(obj.id.clone(), Some(obj.file.clone())));
        candidates.extend(across.unwrap_or_default());
        if let Some(v) = &o.template_ignore {
            self.template_ignores.lock().unwrap_or_else(PoisonError::into_inner).insert(obj.id.clone(), v.clone());
        }
        let (findings, suppressed, extents) = self.judge(candidates, o.extents, o.template_ignore.as_deref());
        ObjectScan { findings, suppressed, diagnostics: o.diagnostics, evaluated: o.evaluated, extents }
    }

    /// The findings across objects that no scanned object took (about objects not scanned, or
    /// about none), and the diagnostics not yet taken (RBAC problems last).
    #[must_use]
    pub fn finish(mut self) -> ObjectScan {
        let pending = std::mem::take(&mut *self.lock_pending());
        let ignores = std::mem::take(&mut *self.template_ignores.lock().unwrap_or_else(PoisonError::into_inner));
        let mut diagnostics = self.take_diagnostics();
        diagnostics.append(&mut self.rbac_diagnostics);
        let mut out = ObjectScan { diagnostics, ..ObjectScan::default() };
        // In a stable order (the map's is not).
        let mut groups: Vec<_> = pending.into_iter().collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        for ((id, _), findings) in groups {
            let (findings, suppressed, _) = self.judge(findings, Vec::new(), ignores.get(&id).map(String::as_str));
            out.findings.extend(findings);
            out.suppressed.extend(suppressed);
        }
        let unowned = std::mem::take(&mut self.unowned);
        let (findings, suppressed, _) = self.judge(unowned, Vec::new(), None);
        out.findings.extend(findings);
        out.suppressed.extend(suppressed);
        out
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Selection, suppression and one finding per problem ([`problems::merge`]) on the findings
    /// about one object; returns the findings shown, those suppressed, and the extents of the
    /// shown ones that have one.
    #[allow(clippy::type_complexity)]
    fn judge(
        &self,
        mut candidates: Vec<Finding>,
        extents: Vec<(problems::ExtentKey, problems::Extent)>,
        template_ignore: Option<&str>,
    ) -> (Vec<Finding>, Vec<Suppressed>, Vec<(problems::ExtentKey, problems::Extent)>) {
        let selection = &self.config.selection;
        let mut suppressed = Vec::new();
        candidates.retain(|f| match self.suppressions.verdict(selection, f, template_ignore) {
            Verdict::Keep => true,
            Verdict::Unselected => false,
            Verdict::Suppressed(justification) => {
                suppressed.push(Suppressed { finding: f.clone(), kind: SuppressionKind::InSource, justification });
                false
            }
        });
        let extents: HashMap<_, _> = extents.into_iter().collect();
        let mut findings = problems::merge(candidates, &extents);
        let reported: HashSet<problems::ExtentKey> = if extents.is_empty() {
            HashSet::new()
        } else {
            findings.iter().filter_map(problems::extent_key).collect()
        };
        let extents = extents.into_iter().filter(|(k, _)| reported.contains(k)).collect();
        if let Some(shared) = &self.shared {
            let mut shared = shared.lock().unwrap_or_else(PoisonError::into_inner);
            for f in &mut findings {
                f.share(&mut shared);
            }
            findings.shrink_to_fit();
        }
        (findings, suppressed, extents)
    }
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
    /// The fields and containers of the Pod Security findings that name more than one.
    extents: Vec<(problems::ExtentKey, problems::Extent)>,
}

fn scan_object(
    obj: &Object,
    config: &ScanConfig,
    namespaces: &HashMap<String, NamespacePolicy>,
    inventory: &kguard_hardening::Inventory,
    netpol_on: bool,
) -> ObjectOutcome {
    let mut o = ObjectOutcome {
        findings: Vec::new(),
        diagnostics: Vec::new(),
        evaluated: Some(true),
        template_ignore: None,
        extents: Vec::new(),
    };
    o.diagnostics.extend(unknown_suppressions(obj));
    // What `kubectl apply --validate=strict` would refuse (an unknown kind or version of a
    // built-in group, unknown or misplaced fields): warnings, not findings.
    o.diagnostics.extend(kguard_discovery::check_object(obj));
    match workload::pod_view(obj) {
        None => {
            if kguard_hardening::applies_to(obj) {
                o.findings = kguard_hardening::findings_in(obj, None, inventory);
            } else if kguard_credentials::applies_to(obj) {
                let (findings, diagnostics) = kguard_credentials::check(obj);
                o.findings = findings;
                o.diagnostics = diagnostics;
            } else if !(obj.kind() == "Namespace"
                || (netpol_on && obj.kind() == "NetworkPolicy")
                || kguard_mesh::findings::applies_to(obj))
            {
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
                None => kguard_podsec::default_modes(config.pss.level, config.pss.version, view.is_pod()),
            };
            // Modes come strictest-consequence first (enforce, audit, warn); a check already
            // reported for the same field by an earlier mode is not repeated.
            let mut seen: HashSet<(String, Option<Arc<str>>)> = HashSet::new();
            for (mode, level, version) in modes {
                for (finding, result) in kguard_podsec::findings_with_fields(obj, &view, level, version, mode) {
                    if seen.insert((finding.rule_id.clone(), finding.pointer.clone())) {
                        if (result.pointers.len() > 1 || result.containers.len() > 1)
                            && let Some(key) = problems::extent_key(&finding)
                        {
                            let extent = problems::Extent {
                                pointers: result.pointers.into_iter().map(Arc::from).collect(),
                                containers: result.containers.into_iter().map(Arc::from).collect(),
                            };
                            o.extents.push((key, extent));
                        }
                        o.findings.push(finding);
                    }
                }
            }
            o.findings.extend(kguard_hardening::findings_in(obj, Some(&view), inventory));
        }
    }
    // Placement (KG064–KG066, opt-in) reads any object's metadata; an object no other rule judges
    // counts as evaluated when a selected placement rule does.
    let placed: Vec<Finding> = kguard_hardening::placement_findings(obj)
        .into_iter()
        .filter(|f| rules::find(&f.rule_id).is_none_or(|r| config.selection.enabled(r)))
        .collect();
    if !placed.is_empty() && o.evaluated == Some(false) {
        o.evaluated = Some(true);
        o.diagnostics.retain(|d| d.code != "skipped-kind");
    }
    o.findings.extend(placed);
    o
}

/// The pod-security policy of every Namespace in the input that carries pod-security labels;
/// malformed labels become warnings (upstream falls back as documented in [`podsec`]).
fn namespace_policies(objects: &[Object], diagnostics: &mut Vec<Diagnostic>) -> HashMap<String, NamespacePolicy> {
    let mut namespaces = HashMap::new();
    for obj in objects.iter().filter(|o| o.kind() == "Namespace" && o.group().is_empty()) {
        let (policy, errors) = NamespacePolicy::from_labels(obj.labels());
        for (key, message) in errors {
            let pointer = format!("/metadata/labels/{}", kguard_model::yaml::escape_pointer_token(&key));
            diagnostics.push(Diagnostic::warning("pss-label", obj.location(&pointer), message));
        }
        if policy.has_labels() {
            namespaces.insert(obj.id.name.clone(), policy);
        }
    }
    namespaces
}

fn is_rbac_object(obj: &Object) -> bool {
    obj.group() == "rbac.authorization.k8s.io"
        && matches!(obj.kind(), "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding")
}

/// Warnings for suppression annotations that name no rule: a `kguard.io/ignore` entry that is no
/// rule id, name, family or alias, and another tool's annotation (kube-linter, Polaris, Checkov,
/// kube-score) naming a check that no kguard rule lists among its aliases. Such an annotation
/// suppresses nothing in kguard; the warning points at it (file:line).
fn unknown_suppressions(obj: &Object) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let template = workload::template_pointer(obj.group(), obj.kind()).filter(|p| !p.is_empty());
    let places = std::iter::once("/metadata/annotations".to_owned())
        .chain(template.map(|prefix| format!("{prefix}/metadata/annotations")));
    for place in places {
        let node = obj.root.pointer(&place);
        for (key, value) in kguard_model::object::string_map(node) {
            let pointer = format!("{place}/{}", kguard_model::yaml::escape_pointer_token(key));
            if key == IGNORE_ANNOTATION {
                for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    if !rules::is_known_selector(name) {
                        out.push(Diagnostic::warning(
                            "unknown-suppression",
                            obj.location(&pointer),
                            format!(
                                "{}: `{key}` names `{name}`, which is no kguard rule id, name, family or alias: \
                                 it suppresses nothing (`kguard rules` lists them)",
                                obj.id
                            ),
                        ));
                    }
                }
                continue;
            }
            let Some(a) = kguard_hardening::parse_annotation(key, value) else { continue };
            for name in a.names.iter().copied().filter(|n| !n.is_empty()) {
                let known = rules::all().any(|r| r.aliases.iter().any(|x| x.eq_ignore_ascii_case(name)));
                if !known {
                    out.push(Diagnostic::warning(
                        "unknown-suppression",
                        obj.location(&pointer),
                        format!(
                            "{}: `{key}` names the {} check `{name}`, which no kguard rule has as an alias: it \
                             suppresses nothing in kguard",
                            obj.id, a.tool
                        ),
                    ));
                }
            }
        }
    }
    out
}
