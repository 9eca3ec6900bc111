//! The kubelet's seccomp: how a pod's `seccompProfile` fields become the CRI profile
//! (`pkg/kubelet/kuberuntime/helpers_linux.go` `getSeccompProfile`; the legacy
//! `seccomp.security.alpha.kubernetes.io/*` annotations are ignored since v1.27), and the node
//! check of `kguard scan --seccomp-root`: every Localhost profile a pod names exists in the
//! node's profile directory, parses, and is not weaker than RuntimeDefault.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kguard_model::Object;
use kguard_model::pod::Profile as FieldProfile;
use kguard_model::workload;
use kguard_report::{Finding, RuleMeta, Severity};

use crate::arch::Arch;
use crate::build::Target;
use crate::lint;
use crate::profile;

/// The profile the kubelet passes to the container runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CriProfile {
    /// No filter.
    Unconfined,
    /// The runtime's default profile.
    RuntimeDefault,
    /// A profile file on the node (`localhostRef`, an absolute path).
    Localhost(String),
}

/// `getSeccompProfile`: the container field wins over the pod field; neither set gives
/// RuntimeDefault when the kubelet runs with `seccompDefault`, else Unconfined.
///
/// # Errors
/// The kubelet's messages for a Localhost type without `localhostProfile` and for an unknown
/// type.
pub fn resolve(
    pod: Option<&FieldProfile>,
    container: Option<&FieldProfile>,
    seccomp_default: bool,
    root: &str,
) -> Result<CriProfile, String> {
    match container.or(pod) {
        None if seccomp_default => Ok(CriProfile::RuntimeDefault),
        None => Ok(CriProfile::Unconfined),
        Some(p) => match p.type_str() {
            "RuntimeDefault" => Ok(CriProfile::RuntimeDefault),
            "Unconfined" => Ok(CriProfile::Unconfined),
            "Localhost" => match p.localhost_profile.as_deref() {
                Some(l) if !l.is_empty() => Ok(CriProfile::Localhost(go_join(root, l))),
                _ => Err("localhostProfile must be set if seccompProfile type is Localhost".to_owned()),
            },
            other => Err(format!(
                "unsupported seccompProfile type {other:?} (supported: Unconfined, RuntimeDefault, Localhost)"
            )),
        },
    }
}

/// Go's `filepath.Join` (joined with `/`, then `Clean`ed).
#[must_use]
pub fn go_join(a: &str, b: &str) -> String {
    let joined = if a.is_empty() {
        b.to_owned()
    } else if b.is_empty() {
        a.to_owned()
    } else {
        format!("{a}/{b}")
    };
    go_clean(&joined)
}

/// Go's `path.Clean`.
#[must_use]
pub fn go_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".to_owned();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            x => out.push(x),
        }
    }
    let body = out.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_owned(),
        (false, false) => body,
    }
}

/// SCMP010.
pub const LOCALHOST_MISSING: RuleMeta = RuleMeta {
    id: "SCMP010",
    name: "seccomp-localhost-profile-missing",
    family: "seccomp",
    severity: Severity::High,
    title: "Localhost seccomp profile not found on the node",
    what: "With `kguard scan --seccomp-root DIR`: a pod or container uses a Localhost seccomp profile that is not a file under the node's seccomp profile directory (DIR stands for the kubelet's `<root-dir>/seccomp`, /var/lib/kubelet/seccomp by default), or whose path leaves that directory.",
    why: "The container runtime cannot load the profile: the container does not start (CreateContainerError) on every node that lacks the file.",
    fix: "Install the profile on every node (for example with the security-profiles-operator), or fix localhostProfile (a path relative to the profile directory).",
    references: &[
        "https://kubernetes.io/docs/tutorials/security/seccomp/",
        "https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/",
    ],
    aliases: &[],
    opt_in: false,
};

/// SCMP011.
pub const LOCALHOST_INVALID: RuleMeta = RuleMeta {
    id: "SCMP011",
    name: "seccomp-localhost-profile-invalid",
    family: "seccomp",
    severity: Severity::High,
    title: "Localhost seccomp profile does not parse or build",
    what: "With `kguard scan --seccomp-root DIR`: the Localhost profile a pod names exists but is not a valid OCI seccomp profile (syntax, unknown action, architecture or syscall, argument index above 5, rules libseccomp refuses).",
    why: "runc or crun refuses it and the container does not start, or (for unknown syscalls) silently drops rules.",
    fix: "Fix the profile; `kguard seccomp lint FILE` shows each problem with its line and column.",
    references: &["https://github.com/opencontainers/runtime-spec/blob/main/config-linux.md#seccomp"],
    aliases: &[],
    opt_in: false,
};

/// SCMP012.
pub const LOCALHOST_WEAKER: RuleMeta = RuleMeta {
    id: "SCMP012",
    name: "seccomp-localhost-weaker-than-runtime-default",
    family: "seccomp",
    severity: Severity::Medium,
    title: "Localhost seccomp profile is weaker than RuntimeDefault",
    what: "With `kguard scan --seccomp-root DIR`: the Localhost profile a pod names lets syscalls run that RuntimeDefault (moby's or containers/common's default profile) blocks, for the node architecture and Docker's default capabilities.",
    why: "Pod Security `restricted` accepts any Localhost profile; a weak one removes the protection RuntimeDefault would give.",
    fix: "Block the listed syscalls in the profile, or use RuntimeDefault.",
    references: &["https://kubernetes.io/docs/tutorials/security/seccomp/"],
    aliases: &[],
    opt_in: false,
};

/// The node rules (reported by `kguard scan --seccomp-root`).
pub const RULES: &[RuleMeta] = &[LOCALHOST_MISSING, LOCALHOST_INVALID, LOCALHOST_WEAKER];

/// The profile files of a node: paths relative to the profile directory, with their text (or
/// why they could not be read). Read by the caller; this crate does no I/O.
#[derive(Clone, Debug, Default)]
pub struct NodeProfiles {
    /// The directory the kubelet resolves `localhostProfile` against (for messages and
    /// `localhostRef`), e.g. `/var/lib/kubelet/seccomp`.
    pub root: String,
    /// The directory as given on the command line (for finding messages).
    pub display: String,
    /// Relative path → text, or the read error.
    pub files: BTreeMap<String, Result<String, String>>,
    /// The node architecture.
    pub arch: Option<Arch>,
}

/// What a node makes of one Localhost profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not a file under the profile directory (SCMP010): the runtime cannot load it.
    Missing(String),
    /// Does not parse or build (SCMP011): the runtime refuses it.
    Invalid(String),
    /// Lets syscalls run that RuntimeDefault blocks (SCMP012).
    Weaker(String),
    /// Usable, and at least as strict as RuntimeDefault.
    Ok,
}

/// Every profile of a node judged once ([`NodeProfiles::judge_all`]): what `kguard serve`
/// checks each admitted pod's Localhost profiles against without parsing anything per request.
#[derive(Clone, Debug, Default)]
pub struct JudgedProfiles {
    root: String,
    display: String,
    verdicts: BTreeMap<String, Verdict>,
}

impl NodeProfiles {
    /// Judges every file (parse, build for the node architecture, compare with RuntimeDefault).
    #[must_use]
    pub fn judge_all(&self) -> JudgedProfiles {
        let arch = self.arch.or_else(Arch::native).unwrap_or(Arch::X86_64);
        let target = Target::docker_default(arch);
        let defaults = lint::runtime_defaults();
        let root = go_clean(&self.root);
        let verdicts =
            self.files.keys().map(|rel| (rel.clone(), judge(&go_join(&root, rel), self, &target, &defaults))).collect();
        JudgedProfiles { root, display: self.display.clone(), verdicts }
    }
}

impl JudgedProfiles {
    /// The verdict on a `localhostRef` ([`CriProfile::Localhost`], an absolute path under the
    /// profile directory).
    #[must_use]
    pub fn check(&self, path: &str) -> Verdict {
        let rel = path.strip_prefix(&self.root).and_then(|r| r.strip_prefix('/'));
        let Some(rel) = rel else {
            return Verdict::Missing(format!("localhostRef {path} is outside the profile directory {}", self.root));
        };
        match self.verdicts.get(rel) {
            Some(v) => v.clone(),
            None => Verdict::Missing(format!("{path} does not exist ({rel} not found in {})", self.display)),
        }
    }

    /// The profile directory `localhostProfile` is resolved against.
    #[must_use]
    pub fn root(&self) -> &str {
        &self.root
    }

    /// How many files the directory held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.verdicts.len()
    }

    /// Whether the directory held no file.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.verdicts.is_empty()
    }

    /// The files that cannot be used (missing aside), with why: for logs.
    pub fn invalid(&self) -> impl Iterator<Item = (&str, &str)> {
        self.verdicts.iter().filter_map(|(rel, v)| match v {
            Verdict::Invalid(m) => Some((rel.as_str(), m.as_str())),
            _ => None,
        })
    }
}

/// Checks every Localhost profile the pods in `objects` name.
#[must_use]
pub fn check_pods(objects: &[Object], node: &NodeProfiles) -> Vec<Finding> {
    let arch = node.arch.or_else(Arch::native).unwrap_or(Arch::X86_64);
    let target = Target::docker_default(arch);
    let defaults = lint::runtime_defaults();
    let mut cache: HashMap<String, Verdict> = HashMap::new();
    let mut out = Vec::new();
    for obj in objects {
        let Some(Ok(view)) = workload::pod_view(obj) else { continue };
        let pod_field = view.spec.security_context.as_ref().and_then(|s| s.seccomp_profile.as_ref());
        for c in view.containers() {
            let own = c.container.security_context.as_ref().and_then(|s| s.seccomp_profile.as_ref());
            let pointer = if own.is_some() {
                c.at("/securityContext/seccompProfile/localhostProfile")
            } else {
                view.spec_at("/securityContext/seccompProfile/localhostProfile")
            };
            let Ok(CriProfile::Localhost(path)) = resolve(pod_field, own, false, &node.root) else { continue };
            let verdict = cache.entry(path.clone()).or_insert_with(|| judge(&path, node, &target, &defaults));
            let (rule, msg) = match verdict {
                Verdict::Ok => continue,
                Verdict::Missing(m) => (&LOCALHOST_MISSING, m.clone()),
                Verdict::Invalid(m) => (&LOCALHOST_INVALID, m.clone()),
                Verdict::Weaker(m) => (&LOCALHOST_WEAKER, m.clone()),
            };
            let mut f = Finding::new(
                rule,
                format!("{} container {:?}: {msg}", obj.id, c.name()),
                Some(obj.id.clone()),
                Some(pointer.clone()),
                Some(obj.location(&pointer)),
            );
            f.container = Some(c.name().into());
            out.push(f);
        }
    }
    out
}

fn judge(path: &str, node: &NodeProfiles, target: &Target, defaults: &[(&str, profile::Profile)]) -> Verdict {
    let root = go_clean(&node.root);
    let rel = path.strip_prefix(&root).and_then(|r| r.strip_prefix('/'));
    let Some(rel) = rel else {
        return Verdict::Missing(format!("localhostRef {path} is outside the profile directory {root}"));
    };
    let text = match node.files.get(rel) {
        None => return Verdict::Missing(format!("{path} does not exist ({rel} not found in {})", node.display)),
        Some(Err(e)) => return Verdict::Invalid(format!("{path}: {e}")),
        Some(Ok(t)) => t,
    };
    let file: Arc<str> = Arc::from(format!("{}/{rel}", node.display.trim_end_matches('/')));
    let profiles = match profile::parse_file(text) {
        Ok(p) => p,
        Err(errs) => {
            let first = errs.first().map_or_else(String::new, |e| format!("{file}:{e}"));
            return Verdict::Invalid(format!("{path} is not a valid seccomp profile: {first}"));
        }
    };
    for p in &profiles {
        if let Err(errs) = crate::build::build(p, target) {
            let first = errs.first().map_or_else(String::new, |e| format!("{file}:{e}"));
            return Verdict::Invalid(format!("{path}: {first}"));
        }
        let weaker: Vec<String> = lint::lint(p, &file, target, defaults)
            .into_iter()
            .filter(|f| f.rule_id == lint::WEAKER_THAN_DEFAULT.id)
            .map(|f| f.message)
            .collect();
        if let Some(first) = weaker.first() {
            return Verdict::Weaker(format!("{path} {first}"));
        }
    }
    Verdict::Ok
}
