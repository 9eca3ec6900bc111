//! A node's AppArmor profiles against the pods that name them (`kguard scan
//! --apparmor-profiles`, `kguard serve` `admission.apparmor`): a container whose effective
//! profile ([`crate::kube`]: container field, then container annotation, then pod field) is
//! `Localhost` fails to start when the node has not loaded that profile, and is not confined
//! when the profile is in complain (or unconfined) mode.
//!
//! The node's profiles come from its loaded-profile list (`/sys/kernel/security/apparmor/profiles`,
//! one `name (mode)` a line: [`NodeProfiles::from_loaded`]) or from profile sources parsed as
//! `apparmor_parser` would load them ([`NodeProfiles::from_sources`]; hats and child profiles
//! as `parent//child`, inheriting the parent's mode unless they set their own). The caller reads
//! the files: this crate does no I/O.

use std::collections::BTreeMap;

use kguard_model::Object;
use kguard_model::pod::Profile as FieldProfile;
use kguard_model::workload::{self, ContainerRef, PodView};
use kguard_report::{Finding, RuleMeta, Severity};

use crate::ast::{Mode, Profile};
use crate::kube::{ANNOTATION_PREFIX, K8sProfile, parse_annotation};

const K8S_DOC: &str = "https://kubernetes.io/docs/tutorials/security/apparmor/";

/// AA009.
pub const NOT_LOADED: RuleMeta = RuleMeta {
    id: "AA009",
    name: "apparmor-localhost-profile-not-loaded",
    family: "apparmor",
    severity: Severity::High,
    title: "Localhost AppArmor profile is not loaded on the node",
    what: "With `kguard scan --apparmor-profiles FILE|DIR`: a container's effective AppArmor profile (the container's `appArmorProfile`, else its `container.apparmor.security.beta.kubernetes.io/<name>` annotation, else the pod's `appArmorProfile`) is `Localhost` and names a profile the node has not loaded (FILE: the node's /sys/kernel/security/apparmor/profiles; DIR: the profile sources the node loads, parsed).",
    why: "The container runtime cannot apply the profile: the container does not start (CreateContainerError / 'apparmor profile not found') on every node that lacks it.",
    fix: "Load the profile on every node that may run the pod (`apparmor_parser -r PROFILE`, or the security-profiles-operator), or fix the profile name (the name in the profile's header, not its file name).",
    references: &[
        K8S_DOC,
        "https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#security-context",
    ],
    aliases: &[],
    opt_in: false,
};

/// AA010.
pub const NOT_ENFORCED: RuleMeta = RuleMeta {
    id: "AA010",
    name: "apparmor-localhost-profile-not-enforced",
    family: "apparmor",
    severity: Severity::Medium,
    title: "Localhost AppArmor profile is loaded in complain or unconfined mode",
    what: "With `kguard scan --apparmor-profiles FILE|DIR`: the Localhost profile a container runs under is loaded on the node in complain mode (violations logged, allowed), or in unconfined, prompt or default_allow mode.",
    why: "Pod Security `baseline` and `restricted` accept any Localhost profile; one that does not enforce gives the container no AppArmor confinement while the pod spec says it has one.",
    fix: "Load the profile in enforce mode (remove the complain flag, `aa-enforce PROFILE`) once it is complete.",
    references: &[K8S_DOC, "https://manpages.debian.org/bookworm/apparmor/aa-status.8.en.html"],
    aliases: &[],
    opt_in: false,
};

/// The node rules (reported by `kguard scan --apparmor-profiles`).
pub const RULES: &[RuleMeta] = &[NOT_LOADED, NOT_ENFORCED];

/// One profile known to the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeProfile {
    /// Its mode as the kernel lists it: `enforce`, `complain`, `kill`, `unconfined`, …
    pub mode: String,
    /// Where it comes from: `FILE:LINE` of the list line or of the profile header.
    pub origin: String,
}

/// The profiles of a node, by name.
#[derive(Clone, Debug, Default)]
pub struct NodeProfiles {
    /// The file or directory as given (for messages).
    pub display: String,
    /// Name → profile.
    pub profiles: BTreeMap<String, NodeProfile>,
    /// Sources that did not parse (`file:line:column: message`): their profiles are unknown.
    pub errors: Vec<String>,
}

/// What the node makes of one Localhost profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not loaded (AA009).
    NotLoaded(String),
    /// Loaded, but not in enforce (or kill) mode (AA010).
    NotEnforced(String),
    /// Loaded and enforced.
    Ok,
}

impl NodeProfiles {
    /// From a loaded-profile list (`/sys/kernel/security/apparmor/profiles`).
    #[must_use]
    pub fn from_loaded(display: &str, text: &str) -> Self {
        let mut profiles = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (name, mode) = match line.rsplit_once(" (") {
                Some((n, m)) => (n, m.trim_end().trim_end_matches(')')),
                None => (line.trim_end(), ""),
            };
            profiles
                .entry(name.to_owned())
                .or_insert(NodeProfile { mode: mode.to_owned(), origin: format!("{display}:{}", i + 1) });
        }
        Self { display: display.to_owned(), profiles, errors: Vec::new() }
    }

    /// From parsed profile sources (each a policy), as `apparmor_parser` would load them;
    /// `errors` are the sources that did not parse.
    #[must_use]
    pub fn from_sources(display: &str, policies: &[crate::ast::Policy], errors: Vec<String>) -> Self {
        let mut out = Self { display: display.to_owned(), profiles: BTreeMap::new(), errors };
        for policy in policies {
            for p in &policy.profiles {
                out.add(p, None, Mode::Enforce);
            }
        }
        out
    }

    fn add(&mut self, p: &Profile, parent: Option<&str>, parent_mode: Mode) {
        let own = p.display_name();
        let name = match parent {
            Some(parent) => format!("{parent}//{own}"),
            None => own,
        };
        let mode = if p.mode == Mode::Enforce && parent.is_some() { parent_mode } else { p.mode };
        let origin = format!("{}:{}", p.span.file, p.span.pos.line);
        self.profiles.entry(name.clone()).or_insert(NodeProfile { mode: mode.as_str().to_owned(), origin });
        for c in &p.children {
            self.add(c, Some(&name), mode);
        }
    }

    /// The verdict on the Localhost profile `name`.
    #[must_use]
    pub fn check(&self, name: &str) -> Verdict {
        match self.profiles.get(name) {
            None => {
                let unparsed = match self.errors.first() {
                    None => String::new(),
                    Some(first) => format!("; {} source file(s) did not parse, first: {first}", self.errors.len()),
                };
                Verdict::NotLoaded(format!(
                    "profile {name:?} is not loaded ({} profile(s) in {}{unparsed})",
                    self.profiles.len(),
                    self.display
                ))
            }
            Some(p) if matches!(p.mode.as_str(), "enforce" | "kill" | "") => Verdict::Ok,
            Some(p) => Verdict::NotEnforced(format!("profile {name:?} is in {} mode ({})", p.mode, p.origin)),
        }
    }
}

/// Where a container's effective profile is set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The container's `securityContext.appArmorProfile`.
    Container,
    /// The pod (template) annotation `container.apparmor.security.beta.kubernetes.io/<name>`.
    Annotation,
    /// The pod's `securityContext.appArmorProfile`.
    Pod,
}

fn from_field(p: &FieldProfile) -> Option<K8sProfile> {
    match p.type_str() {
        "RuntimeDefault" => Some(K8sProfile::RuntimeDefault),
        "Unconfined" => Some(K8sProfile::Unconfined),
        "Localhost" => Some(K8sProfile::Localhost(p.localhost_profile.clone()?)),
        _ => None,
    }
}

/// The effective profile of one container of a pod view, where it is set, and the JSON pointer
/// (relative to the object) of the field that names it: the kubelet's precedence (container
/// field, then container annotation with invalid values ignored, then pod field).
#[must_use]
pub fn effective(view: &PodView, c: &ContainerRef<'_>) -> Option<(K8sProfile, Source, String)> {
    let own = c.container.security_context.as_ref().and_then(|s| s.app_armor_profile.as_ref()).and_then(from_field);
    if let Some(p) = own {
        let field = if matches!(p, K8sProfile::Localhost(_)) { "/localhostProfile" } else { "/type" };
        return Some((p, Source::Container, c.at(&format!("/securityContext/appArmorProfile{field}"))));
    }
    let key = format!("{ANNOTATION_PREFIX}{}", c.name());
    if let Some(p) = view.template_annotation(&key).and_then(|v| parse_annotation(v).ok()) {
        let escaped = key.replace('~', "~0").replace('/', "~1");
        return Some((p, Source::Annotation, format!("{}/annotations/{escaped}", view.metadata_pointer())));
    }
    let pod = view.spec.security_context.as_ref().and_then(|s| s.app_armor_profile.as_ref()).and_then(from_field)?;
    let field = if matches!(pod, K8sProfile::Localhost(_)) { "/localhostProfile" } else { "/type" };
    Some((pod, Source::Pod, view.spec_at(&format!("/securityContext/appArmorProfile{field}"))))
}

/// Checks every Localhost profile the pods (and pod templates) in `objects` name.
#[must_use]
pub fn check_pods(objects: &[Object], node: &NodeProfiles) -> Vec<Finding> {
    let mut out = Vec::new();
    for obj in objects {
        let Some(Ok(view)) = workload::pod_view(obj) else { continue };
        for c in view.containers() {
            let Some((K8sProfile::Localhost(name), _, pointer)) = effective(&view, &c) else { continue };
            let (rule, msg) = match node.check(&name) {
                Verdict::Ok => continue,
                Verdict::NotLoaded(m) => (&NOT_LOADED, m),
                Verdict::NotEnforced(m) => (&NOT_ENFORCED, m),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loaded_list_modes() {
        let n = NodeProfiles::from_loaded("p", "a (enforce)\nb (complain)\nname with (parens) (enforce)\n");
        assert_eq!(n.check("a"), Verdict::Ok);
        assert!(matches!(n.check("b"), Verdict::NotEnforced(m) if m.contains("complain") && m.contains("p:2")));
        assert_eq!(n.check("name with (parens)"), Verdict::Ok);
        assert!(matches!(n.check("c"), Verdict::NotLoaded(m) if m.contains("3 profile(s) in p")));
    }

    #[test]
    fn sources_children_inherit_mode() {
        let text = "profile p flags=(complain) { ^hat { } profile c flags=(enforce) { } }\nprofile q { }\n";
        let policy = crate::parse("f", text, crate::Options::default()).unwrap();
        let n = NodeProfiles::from_sources("d", &[policy], vec![]);
        assert!(matches!(n.check("p"), Verdict::NotEnforced(_)));
        assert!(matches!(n.check("p//hat"), Verdict::NotEnforced(_)));
        assert_eq!(n.check("q"), Verdict::Ok);
        assert!(n.profiles.contains_key("p//c"));
    }
}
