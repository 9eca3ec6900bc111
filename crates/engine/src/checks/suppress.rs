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
//! | Checkov | `checkov.io/skip<N>: CKV_K8S_20=reason` | rules aliased to the id |
//! | kube-score | `kube-score/ignore: test-a, test-b` | rules aliased to a listed test |
//!
//! kguard's own `kguard.io/ignore` is handled by the rule registry, not here.

use kguard_model::Object;
use kguard_model::object::string_map;
use kguard_report::RuleMeta;

use crate::workload;

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

/// Whether one annotation suppresses `rule`.
fn annotation_suppresses(key: &str, value: &str, rule: &RuleMeta) -> bool {
    if let Some(check) = key.strip_prefix("ignore-check.kube-linter.io/") {
        return has_alias(rule, check);
    }
    if key == "kube-linter.io/ignore-all" {
        return has_alias_in(rule, KUBE_LINTER);
    }
    if let Some(rest) = key.strip_prefix("polaris.fairwinds.com/") {
        if !value.trim().eq_ignore_ascii_case("true") {
            return false;
        }
        return match rest.strip_suffix("-exempt") {
            Some(check) => has_alias(rule, check),
            None => rest == "exempt" && has_alias_in(rule, POLARIS),
        };
    }
    if key.strip_prefix("checkov.io/skip").is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())) {
        let id = value.split_once('=').map_or(value, |(id, _)| id);
        return has_alias(rule, id);
    }
    if key == "kube-score/ignore" {
        return value.split(',').any(|t| has_alias(rule, t));
    }
    false
}

/// Whether the object, or its pod template, carries another tool's suppression annotation for
/// `rule` (kube-linter, Polaris, Checkov, kube-score; see the module documentation).
#[must_use]
pub fn suppressed(obj: &Object, rule: &RuleMeta) -> bool {
    if obj.annotations().any(|(k, v)| annotation_suppresses(k, v, rule)) {
        return true;
    }
    let Some(prefix) = workload::template_pointer(obj.group(), obj.kind()).filter(|p| !p.is_empty()) else {
        return false;
    };
    let template_annotations = obj.root.pointer(&format!("{prefix}/metadata/annotations"));
    string_map(template_annotations).any(|(k, v)| annotation_suppresses(k, v, rule))
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
        assert!(!annotation_suppresses("checkov.io/skipx", "CKV_K8S_16", &PRIVILEGED));
        assert!(annotation_suppresses(
            "kube-score/ignore",
            "pod-probes, container-security-context-privileged",
            &PRIVILEGED
        ));
    }
}
