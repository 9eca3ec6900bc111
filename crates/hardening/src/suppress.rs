//! Other tools' in-manifest suppression annotations, mapped to kguard rules through their aliases.
//!
//! Read on the object's `metadata.annotations` and on its pod template's:
//!
//! | tool | annotation | effect |
//! |---|---|---|
//! | kube-linter | `ignore-check.kube-linter.io/<check>` (any value, usually a reason) | rules aliased to `<check>` |
//! | kube-linter | `kube-linter.io/ignore-all` | every rule with a kube-linter alias |
//! | Polaris | `polaris.fairwinds.com/<check>-exempt: "true"` | rules aliased to `<check>` |
//! | Polaris | `polaris.fairwinds.com/exempt: "true"` | every rule with a Polaris alias |
//! | Checkov | `checkov.io/skip<N>: CKV_K8S_20=reason`, `bridgecrew.io/skip<N>`, `cortex.io/skip<N>` (any key containing one of them, as Checkov reads it) | rules aliased to the id; the reason is the suppression's justification |
//! | kube-score | `kube-score/ignore: test-a, test-b` | rules aliased to a listed test |
//!
//! kguard's own `kguard.io/ignore` is handled by the rule registry, not here.

use kguard_model::Object;
use kguard_model::object::string_map;
use kguard_report::RuleMeta;

use kguard_model::workload;

/// kube-linter check names used as aliases.
const KUBE_LINTER: &[&str] = &[
    "privileged-container",
    "privilege-escalation-container",
    "run-as-non-root",
    "no-read-only-root-fs",
    "unsafe-proc-mount",
    "unsafe-sysctls",
    "host-network",
    "host-pid",
    "host-ipc",
    "docker-sock",
    "sensitive-host-mounts",
    "default-service-account",
    "read-secret-from-env-var",
    "env-var-secret",
    "latest-tag",
    "unset-cpu-requirements",
    "unset-memory-requirements",
    "cluster-admin-role-binding",
    "wildcard-in-rules",
    "exposed-services",
];

/// Polaris check names used as aliases.
const POLARIS: &[&str] = &[
    "runAsPrivileged",
    "privilegeEscalationAllowed",
    "dangerousCapabilities",
    "insecureCapabilities",
    "runAsRootAllowed",
    "notReadOnlyRootFilesystem",
    "procMount",
    "hostNetworkSet",
    "hostPIDSet",
    "hostIPCSet",
    "hostPortSet",
    "hostPathSet",
    "automountServiceAccountToken",
    "sensitiveContainerEnvVar",
    "tagNotSpecified",
    "pullPolicyNotAlways",
    "cpuRequestsMissing",
    "cpuLimitsMissing",
    "memoryRequestsMissing",
    "memoryLimitsMissing",
    "hostProcess",
    "clusterrolebindingClusterAdmin",
    "rolebindingClusterAdminClusterRole",
];

fn has_alias(rule: &RuleMeta, name: &str) -> bool {
    let name = name.trim();
    !name.is_empty() && rule.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
}

fn has_alias_in(rule: &RuleMeta, tool: &[&str]) -> bool {
    rule.aliases.iter().any(|a| tool.contains(a))
}

/// The key prefixes Checkov reads as skip annotations. Checkov (`kubernetes_utils.py`,
/// `get_skipped_checks`) tests `prefix in key`: any key *containing* one of them is a skip,
/// whatever follows (`checkov.io/skip1`, `checkov.io/skip42`, `bridgecrew.io/skip-net`).
pub const CHECKOV_SKIP_PREFIXES: &[&str] = &["checkov.io/skip", "bridgecrew.io/skip", "cortex.io/skip"];

/// Checkov's comment for a skip without one.
const CHECKOV_NO_COMMENT: &str = "No comment provided";

/// Another tool's suppression annotation, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolSuppression<'a> {
    /// The tool: `kube-linter`, `Polaris`, `Checkov`, `kube-score`.
    pub tool: &'static str,
    /// The check names or ids it names; empty when it covers every check of the tool
    /// (`kube-linter.io/ignore-all`, `polaris.fairwinds.com/exempt`).
    pub names: Vec<&'a str>,
    /// The reason the annotation gives, if any (Checkov: the text after `=`; kube-linter: the
    /// value).
    pub comment: Option<&'a str>,
}

/// Parses one annotation as another tool's suppression annotation (see the module documentation);
/// `None` when it is none. Checkov's value is `ID` or `ID=comment`, split at the first `=` (Checkov
/// splits at every `=` and fails on a second one).
#[must_use]
pub fn parse_annotation<'a>(key: &'a str, value: &'a str) -> Option<ToolSuppression<'a>> {
    let nonempty = |v: &'a str| Some(v.trim()).filter(|v| !v.is_empty());
    if let Some(check) = key.strip_prefix("ignore-check.kube-linter.io/") {
        return Some(ToolSuppression { tool: "kube-linter", names: vec![check], comment: nonempty(value) });
    }
    if key == "kube-linter.io/ignore-all" {
        return Some(ToolSuppression { tool: "kube-linter", names: Vec::new(), comment: nonempty(value) });
    }
    if let Some(rest) = key.strip_prefix("polaris.fairwinds.com/") {
        if !value.trim().eq_ignore_ascii_case("true") {
            return None;
        }
        return match rest.strip_suffix("-exempt") {
            Some(check) => Some(ToolSuppression { tool: "Polaris", names: vec![check], comment: None }),
            None => (rest == "exempt").then(|| ToolSuppression { tool: "Polaris", names: Vec::new(), comment: None }),
        };
    }
    if CHECKOV_SKIP_PREFIXES.iter().any(|p| key.contains(p)) {
        let (id, comment) = value.split_once('=').map_or((value, None), |(id, c)| (id, Some(c)));
        return Some(ToolSuppression { tool: "Checkov", names: vec![id.trim()], comment: comment.and_then(nonempty) });
    }
    if key == "kube-score/ignore" {
        let names = value.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
        return Some(ToolSuppression { tool: "kube-score", names, comment: None });
    }
    None
}

/// Whether one annotation suppresses `rule`.
fn annotation_suppresses(key: &str, value: &str, rule: &RuleMeta) -> bool {
    let Some(a) = parse_annotation(key, value) else { return false };
    if a.names.is_empty() {
        return match a.tool {
            "kube-linter" => has_alias_in(rule, KUBE_LINTER),
            "Polaris" => has_alias_in(rule, POLARIS),
            _ => false,
        };
    }
    a.names.iter().any(|n| has_alias(rule, n))
}

/// The justification a suppression annotation gives: the annotation, and the reason it gives
/// (Checkov's comment after `=`, or Checkov's own "No comment provided").
fn justification(key: &str, value: &str, template: bool) -> String {
    let place = if template { " (pod template)" } else { "" };
    match parse_annotation(key, value) {
        Some(a) if a.tool == "Checkov" => {
            let id = a.names.first().copied().unwrap_or_default();
            format!("{key}{place}: {id}: {}", a.comment.unwrap_or(CHECKOV_NO_COMMENT))
        }
        Some(ToolSuppression { comment: Some(c), .. }) => format!("{key}{place}: {c}"),
        _ if key == "kube-score/ignore" => format!("{key}{place}: {}", value.trim()),
        _ => format!("{key}{place}"),
    }
}

/// The annotations of the object's pod template, if it has one.
fn template_annotations(obj: &Object) -> impl Iterator<Item = (&str, &str)> {
    let prefix = workload::template_pointer(obj.group(), obj.kind()).filter(|p| !p.is_empty());
    let node = prefix.and_then(|p| obj.root.pointer(&format!("{p}/metadata/annotations")));
    string_map(node)
}

/// Another tool's suppression annotation for `rule` on the object, or on its pod template
/// (kube-linter, Polaris, Checkov, kube-score; see the module documentation), as the
/// justification it gives: the annotation's key and its reason, when it gives one.
#[must_use]
pub fn suppression(obj: &Object, rule: &RuleMeta) -> Option<String> {
    if let Some((k, v)) = obj.annotations().find(|(k, v)| annotation_suppresses(k, v, rule)) {
        return Some(justification(k, v, false));
    }
    template_annotations(obj).find(|(k, v)| annotation_suppresses(k, v, rule)).map(|(k, v)| justification(k, v, true))
}

/// Whether the object, or its pod template, carries another tool's suppression annotation for
/// `rule` (kube-linter, Polaris, Checkov, kube-score; see the module documentation).
#[must_use]
pub fn suppressed(obj: &Object, rule: &RuleMeta) -> bool {
    suppression(obj, rule).is_some()
}

#[cfg(test)]
mod tests {
    use super::super::catalogue::{AUTOMOUNT_TOKEN, PRIV_ESC_UNSET, PRIVILEGED, RULES};
    use super::*;

    #[test]
    fn every_tool_name_is_an_alias() {
        for name in KUBE_LINTER.iter().chain(POLARIS) {
            assert!(RULES.iter().any(|r| r.aliases.contains(name)), "{name} is no alias");
        }
    }

    #[test]
    fn annotations() {
        assert!(annotation_suppresses("ignore-check.kube-linter.io/privileged-container", "reason", &PRIVILEGED));
        assert!(!annotation_suppresses("ignore-check.kube-linter.io/host-pid", "", &PRIVILEGED));
        assert!(annotation_suppresses("kube-linter.io/ignore-all", "", &PRIVILEGED));
        assert!(!annotation_suppresses("kube-linter.io/ignore-all", "", &PRIV_ESC_UNSET));
        assert!(annotation_suppresses("polaris.fairwinds.com/runAsPrivileged-exempt", "true", &PRIVILEGED));
        assert!(!annotation_suppresses("polaris.fairwinds.com/runAsPrivileged-exempt", "false", &PRIVILEGED));
        assert!(annotation_suppresses("polaris.fairwinds.com/exempt", "True", &AUTOMOUNT_TOKEN));
        assert!(annotation_suppresses("checkov.io/skip1", "CKV_K8S_16=needed for CNI", &PRIVILEGED));
        assert!(annotation_suppresses("checkov.io/skip12", "CKV_K8S_20", &PRIV_ESC_UNSET));
        // Checkov reads any key containing `checkov.io/skip`, `bridgecrew.io/skip` or `cortex.io/skip`.
        assert!(annotation_suppresses("checkov.io/skipx", "CKV_K8S_16", &PRIVILEGED));
        assert!(annotation_suppresses("bridgecrew.io/skip7", "CKV_K8S_16=reviewed", &PRIVILEGED));
        assert!(annotation_suppresses("cortex.io/skip1", "CKV_K8S_16", &PRIVILEGED));
        assert!(!annotation_suppresses("checkov.io/skip1", "CKV_K8S_17", &PRIVILEGED));
        assert!(!annotation_suppresses("checkov.io/ski", "CKV_K8S_16", &PRIVILEGED));
        assert!(annotation_suppresses(
            "kube-score/ignore",
            "pod-probes, container-security-context-privileged",
            &PRIVILEGED
        ));
    }

    #[test]
    fn justifications() {
        assert_eq!(
            justification("checkov.io/skip3", "CKV_K8S_16=needed for CNI", false),
            "checkov.io/skip3: CKV_K8S_16: needed for CNI"
        );
        assert_eq!(
            justification("bridgecrew.io/skip1", "CKV_K8S_16", true),
            "bridgecrew.io/skip1 (pod template): CKV_K8S_16: No comment provided"
        );
        assert_eq!(
            justification("ignore-check.kube-linter.io/privileged-container", "the CNI needs it", false),
            "ignore-check.kube-linter.io/privileged-container: the CNI needs it"
        );
        assert_eq!(justification("polaris.fairwinds.com/exempt", "true", false), "polaris.fairwinds.com/exempt");
        let a = parse_annotation("checkov.io/skip2", "CKV_K8S_99=later").unwrap();
        assert_eq!((a.tool, a.names, a.comment), ("Checkov", vec!["CKV_K8S_99"], Some("later")));
        assert_eq!(parse_annotation("app.kubernetes.io/name", "x"), None);
    }
}
