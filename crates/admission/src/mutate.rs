//! Secure defaults a mutating webhook can apply to Pods at CREATE, each optional. A field the
//! pod sets is never overridden; a default that would make the pod invalid is skipped
//! (`allowPrivilegeEscalation: false` with `privileged: true` or `CAP_SYS_ADMIN`; seccomp and
//! capabilities on Windows pods).

use serde_json::{Map, Value};

/// Which defaults to apply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mutations {
    /// `spec.securityContext.seccompProfile: {type: RuntimeDefault}` when no profile is set.
    pub seccomp_runtime_default: bool,
    /// Add `ALL` to every container's `securityContext.capabilities.drop`.
    pub drop_all_capabilities: bool,
    /// `allowPrivilegeEscalation: false` on containers that leave it unset.
    pub disallow_privilege_escalation: bool,
    /// `spec.securityContext.runAsNonRoot: true` when neither the pod nor a container decides.
    pub run_as_non_root: bool,
    /// `spec.automountServiceAccountToken: false` when unset.
    pub disable_service_account_automount: bool,
}

const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";

impl Mutations {
    /// Whether any default is on.
    #[must_use]
    pub const fn any(&self) -> bool {
        self.seccomp_runtime_default
            || self.drop_all_capabilities
            || self.disallow_privilege_escalation
            || self.run_as_non_root
            || self.disable_service_account_automount
    }

    /// Applies the defaults to a Pod (JSON); returns the names of those that changed it.
    pub fn apply(&self, pod: &mut Value) -> Vec<&'static str> {
        let mut applied = Vec::new();
        let windows = pod.pointer("/spec/os/name").and_then(Value::as_str) == Some("windows");
        let has_seccomp_annotation =
            pod.pointer("/metadata/annotations").and_then(|a| a.get(SECCOMP_POD_ANNOTATION)).is_some();
        let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else { return applied };
        let before = Shape::of(spec);
        if self.disable_service_account_automount && !spec.contains_key("automountServiceAccountToken") {
            spec.insert("automountServiceAccountToken".into(), Value::Bool(false));
            applied.push("automountServiceAccountToken");
        }
        let containers_decide_non_root = containers(spec).any(|c| {
            c.get("securityContext").and_then(|s| s.get("runAsNonRoot")).is_some()
                || c.get("securityContext").and_then(|s| s.get("runAsUser")).and_then(Value::as_i64) == Some(0)
        });
        if let Some(psc) = object_field(spec, "securityContext") {
            if self.seccomp_runtime_default
                && !windows
                && !has_seccomp_annotation
                && !psc.contains_key("seccompProfile")
            {
                psc.insert("seccompProfile".into(), serde_json::json!({"type": "RuntimeDefault"}));
                applied.push("seccompProfile");
            }
            let pod_root = psc.get("runAsUser").and_then(Value::as_i64) == Some(0);
            if self.run_as_non_root && !psc.contains_key("runAsNonRoot") && !pod_root && !containers_decide_non_root {
                psc.insert("runAsNonRoot".into(), Value::Bool(true));
                applied.push("runAsNonRoot");
            }
        }
        if windows {
            return tidy(spec, &before, applied);
        }
        let (mut dropped, mut escalation) = (false, false);
        for key in ["initContainers", "containers"] {
            let Some(list) = spec.get_mut(key).and_then(Value::as_array_mut) else { continue };
            for c in list.iter_mut().filter_map(Value::as_object_mut) {
                let Some(sc) = object_field(c, "securityContext") else { continue };
                if self.disallow_privilege_escalation && !sc.contains_key("allowPrivilegeEscalation") {
                    let privileged = sc.get("privileged").and_then(Value::as_bool) == Some(true);
                    let sys_admin =
                        sc.get("capabilities").and_then(|c| c.get("add")).and_then(Value::as_array).is_some_and(|a| {
                            a.iter().any(|v| matches!(v.as_str(), Some("SYS_ADMIN" | "CAP_SYS_ADMIN")))
                        });
                    if !privileged && !sys_admin {
                        sc.insert("allowPrivilegeEscalation".into(), Value::Bool(false));
                        escalation = true;
                    }
                }
                if self.drop_all_capabilities
                    && let Some(caps) = object_field(sc, "capabilities")
                {
                    match caps.entry("drop").or_insert_with(|| Value::Array(Vec::new())) {
                        Value::Array(drop) if !drop.iter().any(|v| v.as_str() == Some("ALL")) => {
                            drop.push(Value::String("ALL".into()));
                            dropped = true;
                        }
                        _ => {}
                    }
                }
            }
        }
        if escalation {
            applied.push("allowPrivilegeEscalation");
        }
        if dropped {
            applied.push("capabilities.drop");
        }
        tidy(spec, &before, applied)
    }
}

/// Which of the objects `apply` may create existed before it ran: the pod's `securityContext`,
/// and per container its `securityContext` and `securityContext.capabilities`. An API server
/// sends `securityContext: {}` for a pod that set none; that must not become a `remove`.
struct Shape {
    pod_context: bool,
    containers: [Vec<(bool, bool)>; 2],
}

impl Shape {
    fn of(spec: &Map<String, Value>) -> Self {
        let list = |key: &str| -> Vec<(bool, bool)> {
            spec.get(key).and_then(Value::as_array).map_or_else(Vec::new, |l| {
                l.iter()
                    .map(|c| {
                        let sc = c.get("securityContext").filter(|v| v.is_object());
                        (sc.is_some(), sc.and_then(|s| s.get("capabilities")).is_some_and(Value::is_object))
                    })
                    .collect()
            })
        };
        Self {
            pod_context: spec.get("securityContext").is_some_and(Value::is_object),
            containers: [list("initContainers"), list("containers")],
        }
    }
}

/// Removes the empty objects created on the way (a container whose `securityContext` was
/// created but left empty), so the patch only carries real changes; an empty object the pod
/// already had stays.
fn tidy(spec: &mut Map<String, Value>, before: &Shape, applied: Vec<&'static str>) -> Vec<&'static str> {
    let empty = |v: &Value| v.as_object().is_some_and(Map::is_empty);
    if !before.pod_context && spec.get("securityContext").is_some_and(empty) {
        spec.remove("securityContext");
    }
    for (key, had) in ["initContainers", "containers"].into_iter().zip(&before.containers) {
        let Some(list) = spec.get_mut(key).and_then(Value::as_array_mut) else { continue };
        for (i, c) in list.iter_mut().enumerate() {
            let Some(c) = c.as_object_mut() else { continue };
            let (had_context, had_caps) = had.get(i).copied().unwrap_or_default();
            if !had_caps
                && let Some(sc) = c.get_mut("securityContext").and_then(Value::as_object_mut)
                && sc.get("capabilities").is_some_and(empty)
            {
                sc.remove("capabilities");
            }
            if !had_context && c.get("securityContext").is_some_and(empty) {
                c.remove("securityContext");
            }
        }
    }
    applied
}

fn containers(spec: &Map<String, Value>) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers"].into_iter().filter_map(|k| spec.get(k).and_then(Value::as_array)).flatten()
}

/// The object at `key`, created when absent or null; `None` when it holds something else (a
/// malformed pod: left alone, the API server will reject it).
fn object_field<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    let slot = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn all() -> Mutations {
        Mutations {
            seccomp_runtime_default: true,
            drop_all_capabilities: true,
            disallow_privilege_escalation: true,
            run_as_non_root: true,
            disable_service_account_automount: true,
        }
    }

    #[test]
    fn applies_every_default_to_a_bare_pod() {
        let mut pod = json!({"spec": {"containers": [{"name": "a", "image": "x"}]}});
        let applied = all().apply(&mut pod);
        assert_eq!(applied.len(), 5, "{applied:?}");
        assert_eq!(
            pod,
            json!({"spec": {
                "automountServiceAccountToken": false,
                "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}, "runAsNonRoot": true},
                "containers": [{"name": "a", "image": "x", "securityContext": {
                    "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}})
        );
    }

    #[test]
    fn never_overrides_and_skips_invalid_combinations() {
        let mut pod = json!({"metadata": {"annotations": {SECCOMP_POD_ANNOTATION: "unconfined"}},
            "spec": {"automountServiceAccountToken": true, "securityContext": {"runAsUser": 0},
            "containers": [{"name": "a", "securityContext": {"privileged": true, "capabilities": {"drop": ["ALL"]}}}]}});
        let before = pod.clone();
        let applied = all().apply(&mut pod);
        assert!(applied.is_empty(), "{applied:?}");
        assert_eq!(pod, before);
    }

    #[test]
    fn empty_objects_the_pod_sent_are_kept() {
        // What an API server sends for a pod that set no security context: nothing to change.
        let sent = json!({"spec": {"securityContext": {}, "automountServiceAccountToken": true,
            "containers": [{"name": "a", "securityContext": {"privileged": true, "capabilities": {}}}]}});
        let mut pod = sent.clone();
        let applied = Mutations { drop_all_capabilities: false, ..all() }.apply(&mut pod);
        assert_eq!(applied, vec!["seccompProfile", "runAsNonRoot"]);
        assert_eq!(pod.pointer("/spec/containers/0/securityContext/capabilities"), Some(&json!({})));
        let mut pod = sent.clone();
        assert!(Mutations::default().apply(&mut pod).is_empty());
        assert_eq!(pod, sent);
    }

    #[test]
    fn windows_pods_get_no_linux_only_fields() {
        let mut pod = json!({"spec": {"os": {"name": "windows"}, "containers": [{"name": "a"}]}});
        let applied = all().apply(&mut pod);
        assert_eq!(applied, vec!["automountServiceAccountToken", "runAsNonRoot"]);
        assert!(pod.pointer("/spec/containers/0/securityContext").is_none());
    }

    #[test]
    fn malformed_pods_are_left_alone() {
        for mut pod in
            [json!({"spec": "x"}), json!({"spec": {"securityContext": 3, "containers": [1, "a"]}}), json!(null)]
        {
            let before = pod.clone();
            let _ = all().apply(&mut pod);
            assert_eq!(pod.get("spec").map(Value::is_string), before.get("spec").map(Value::is_string));
        }
    }
}
