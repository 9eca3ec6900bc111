//! kubesec-compatible scoring (controlplaneio/kubesec v2.14, `pkg/ruler`, `pkg/rules`).
//!
//! [`score`] reproduces kubesec's 30 rules, their points and kinds, the critical/passed/advise split,
//! the ordering, the object naming and the messages; [`to_json`] renders kubesec's JSON report and
//! [`exit_code`] its exit semantics. kubesec's quirks are kept on purpose (kguard's own rules, in
//! [`crate`], do it right):
//!
//! * points are added once per rule, however many containers match;
//! * `DockerSock` and `ProcMount` match host paths by substring (`/proc/sys` counts);
//! * `CapSysAdmin` and `CapDropAll` match the printed list by substring (`drop: [all]` counts);
//! * resource rules read the main `containers` only; security-context rules read init, main and
//!   ephemeral containers, container values over pod values;
//! * a Job, CronJob or ReplicaSet is scored by `SecretsAsEnvironmentVariables` alone (so it scores
//!   0 or -5 and always fails the exit-code test);
//! * the StatefulSet volume-claim rules pass when there are no claim templates;
//! * `AllowPrivilegeEscalation` penalises only an explicit `true`.
//!
//! Differences (documented, not hidden): kubesec validates every object against the Kubernetes JSON
//! schemas (kubeconform, strict) first; here only the kind is checked against the built-in API
//! (an unknown group/kind gives `valid: false`, score 0, "This resource is invalid, unknown
//! schema"), so misspelt or mistyped fields are not rejected. Objects come from kguard's loader,
//! so `List` items are scored one by one and YAML is read the way Kubernetes reads it.

use std::cmp::Ordering;

use kguard_model::Object;
use serde_json::{Map, Value, json};

/// Where the rule applies: workloads kubesec scores fully.
const W: &[&str] = &["Pod", "Deployment", "StatefulSet", "DaemonSet"];
const W_SECRETS: &[&str] = &["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"];
const STS: &[&str] = &["StatefulSet"];
const BINDINGS: &[&str] = &["RoleBinding", "ClusterRoleBinding"];

/// One kubesec rule.
#[derive(Clone, Copy, Debug)]
pub struct KubesecRule {
    /// kubesec's rule id (`CapSysAdmin`).
    pub id: &'static str,
    /// The selector text kubesec reports.
    pub selector: &'static str,
    /// The reason text kubesec reports.
    pub reason: &'static str,
    /// Points added when the rule matches.
    pub points: i64,
    /// Kinds the rule applies to.
    pub kinds: &'static [&'static str],
    predicate: fn(&Value) -> usize,
}

const fn r(
    id: &'static str,
    selector: &'static str,
    reason: &'static str,
    points: i64,
    kinds: &'static [&'static str],
    predicate: fn(&Value) -> usize,
) -> KubesecRule {
    KubesecRule { id, selector, reason, points, kinds, predicate }
}

/// kubesec's 30 rules, in `pkg/ruler/ruleset.go` order.
pub const RULES: &[KubesecRule] = &[
    r(
        "HostNetwork",
        ".spec .hostNetwork == true",
        "Sharing the host's network namespace permits processes in the pod to communicate with processes bound to the host's loopback adapter",
        -9,
        W,
        |o| spec_flag(o, "hostNetwork", true),
    ),
    r(
        "HostPID",
        ".spec .hostPID == true",
        "Sharing the host's PID namespace allows visibility of processes on the host, potentially leaking information such as environment variables and configuration",
        -9,
        W,
        |o| spec_flag(o, "hostPID", true),
    ),
    r(
        "HostIPC",
        ".spec .hostIPC == true",
        "Sharing the host's IPC namespace allows container processes to communicate with processes on the host",
        -9,
        W,
        |o| spec_flag(o, "hostIPC", true),
    ),
    r(
        "ReadOnlyRootFilesystem",
        "containers[] .securityContext .readOnlyRootFilesystem == true",
        "An immutable root filesystem can prevent malicious binaries being added to PATH and increase attack cost",
        1,
        W,
        |o| count_containers(o, ALL_LISTS, |c| sc_field(c, "readOnlyRootFilesystem") == Some(&Value::Bool(true))),
    ),
    r(
        "RunAsNonRoot",
        ".spec, .spec.containers[] | .securityContext .runAsNonRoot == true",
        "Force the running image to run as a non-root user to ensure least privilege",
        1,
        W,
        |o| effective(o, |sc| tri(sc.and_then(|s| s.get("runAsNonRoot")).and_then(Value::as_bool))),
    ),
    r(
        "RunAsUser",
        ".spec, .spec.containers[] | .securityContext .runAsUser -gt 10000",
        "Run as a high-UID user to avoid conflicts with the host's user table",
        1,
        W,
        |o| effective(o, |sc| tri(sc.and_then(|s| s.get("runAsUser")).and_then(Value::as_f64).map(|u| u > 10000.0))),
    ),
    r(
        "RunAsGroup",
        ".spec, .spec.containers[] | .securityContext .runAsGroup -gt 10000",
        "Run as a high-GID group to avoid conflicts with the host's group table",
        1,
        W,
        |o| effective(o, |sc| tri(sc.and_then(|s| s.get("runAsGroup")).and_then(Value::as_f64).map(|g| g > 10000.0))),
    ),
    r(
        "Privileged",
        "containers[] .securityContext .privileged == true",
        "Privileged containers can allow almost completely unrestricted host access",
        -30,
        W,
        |o| count_containers(o, ALL_LISTS, |c| sc_field(c, "privileged") == Some(&Value::Bool(true))),
    ),
    r(
        "CapSysAdmin",
        "containers[] .securityContext .capabilities .add == SYS_ADMIN",
        "CAP_SYS_ADMIN is the most privileged capability and should always be avoided",
        -30,
        W,
        |o| count_containers(o, ALL_LISTS, |c| caps_text(c, "add").is_some_and(|t| t.contains("SYS_ADMIN"))),
    ),
    r(
        "CapDropAny",
        "containers[] .securityContext .capabilities .drop",
        "Reducing kernel capabilities available to a container limits its attack surface",
        1,
        W,
        |o| {
            count_containers(o, ALL_LISTS, |c| {
                sc_field(c, "capabilities")
                    .and_then(|x| x.get("drop"))
                    .and_then(Value::as_array)
                    .is_some_and(|d| !d.is_empty())
            })
        },
    ),
    r(
        "CapDropAll",
        "containers[] .securityContext .capabilities .drop | index(\"ALL\")",
        "Drop all capabilities and add only those required to reduce syscall attack surface",
        1,
        W,
        |o| count_containers(o, ALL_LISTS, |c| caps_text(c, "drop").is_some_and(|t| t.to_uppercase().contains("ALL"))),
    ),
    r(
        "DockerSock",
        "volumes[] .hostPath .path == /var/run/docker.sock",
        "Mounting the docker.socket leaks information about other containers and can allow container breakout",
        -9,
        W,
        |o| host_paths_containing(o, "/var/run/docker.sock"),
    ),
    r(
        "ProcMount",
        "volumes[] .hostPath .path == /proc",
        "Mounting the proc directory from the host system into a container gives access to information about other containers running on the same host and can allow container breakout",
        -9,
        W,
        |o| host_paths_containing(o, "/proc"),
    ),
    r(
        "RequestsCPU",
        "containers[] .resources .requests .cpu",
        "Enforcing CPU requests aids a fair balancing of resources across the cluster",
        1,
        W,
        |o| count_containers(o, MAIN_LIST, |c| resource(c, "requests", "cpu")),
    ),
    r(
        "LimitsCPU",
        "containers[] .resources .limits .cpu",
        "Enforcing CPU limits prevents DOS via resource exhaustion",
        1,
        W,
        |o| count_containers(o, MAIN_LIST, |c| resource(c, "limits", "cpu")),
    ),
    r(
        "RequestsMemory",
        "containers[] .resources .requests .memory",
        "Enforcing memory requests aids a fair balancing of resources across the cluster",
        1,
        W,
        |o| count_containers(o, MAIN_LIST, |c| resource(c, "requests", "memory")),
    ),
    r(
        "LimitsMemory",
        "containers[] .resources .limits .memory",
        "Enforcing memory limits prevents DOS via resource exhaustion",
        1,
        W,
        |o| count_containers(o, MAIN_LIST, |c| resource(c, "limits", "memory")),
    ),
    r(
        "ServiceAccountName",
        ".spec .serviceAccountName",
        "Service accounts restrict Kubernetes API access and should be configured with least privilege",
        3,
        W,
        |o| usize::from(pod_spec(o).and_then(|s| s.get("serviceAccountName")).is_some_and(|v| !v.is_null())),
    ),
    r(
        "HostAliases",
        ".spec .hostAliases",
        "Managing /etc/hosts aliases can prevent the container from modifying the file after a pod's containers have already been started. DNS should be managed by the orchestrator",
        -3,
        W,
        |o| usize::from(pod_spec(o).and_then(|s| s.get("hostAliases")).is_some_and(|v| !v.is_null())),
    ),
    r(
        "SeccompAny",
        ".spec .securityContext .seccompProfile .type, .spec .containers[] .securityContext .seccompProfile .type",
        "Seccomp profiles set minimum privilege and secure against unknown threats",
        1,
        W,
        |o| effective(o, |sc| profile(sc, "seccompProfile", false)),
    ),
    r(
        "SeccompUnconfined",
        ".spec .securityContext .seccompProfile .type == Unconfined, .spec .containers[] .securityContext .seccompProfile .type == Unconfined",
        "Unconfined Seccomp profiles have full system call access",
        -1,
        W,
        |o| effective(o, |sc| profile(sc, "seccompProfile", true)),
    ),
    r(
        "ApparmorAny",
        ".spec .securityContext .appArmorProfile .type, .spec .containers[] .securityContext .appArmorProfile .type",
        "Well defined AppArmor policies may provide greater protection from unknown threats. WARNING: NOT PRODUCTION READY",
        3,
        W,
        |o| effective(o, |sc| profile(sc, "appArmorProfile", false)),
    ),
    r(
        "ApparmorUnconfined",
        ".spec .securityContext .appArmorProfile .type == Unconfined, .spec .containers[] .securityContext .appArmorProfile .type == Unconfined",
        "Unconfined AppArmor profiles give the container unrestricted access to the host",
        -1,
        W,
        |o| effective(o, |sc| profile(sc, "appArmorProfile", true)),
    ),
    r(
        "VolumeClaimAccessModeReadWriteOnce",
        ".spec .volumeClaimTemplates[] .spec .accessModes | index(\"ReadWriteOnce\")",
        "",
        1,
        STS,
        |o| {
            claim_templates(o, |t| {
                t.pointer("/spec/accessModes")
                    .and_then(Value::as_array)
                    .is_some_and(|m| m.len() == 1 && m.first().and_then(Value::as_str) == Some("ReadWriteOnce"))
            })
        },
    ),
    r(
        "VolumeClaimRequestsStorage",
        ".spec .volumeClaimTemplates[] .spec .resources .requests .storage",
        "",
        1,
        STS,
        |o| claim_templates(o, |t| t.pointer("/spec/resources/requests/storage").is_some_and(|v| !v.is_null())),
    ),
    r("AllowPrivilegeEscalation", "containers[] .securityContext .allowPrivilegeEscalation == true", "", -7, W, |o| {
        count_containers(o, ALL_LISTS, |c| sc_field(c, "allowPrivilegeEscalation") == Some(&Value::Bool(true)))
    }),
    r(
        "AutomountServiceAccountToken",
        ".spec .automountServiceAccountToken == false",
        "Disabling the automounting of Service Account Token reduces the attack surface of the API server",
        1,
        W,
        |o| spec_flag(o, "automountServiceAccountToken", false),
    ),
    r(
        "HostUsers",
        ".spec .hostUsers == false",
        "Avoid using the host user namespace: a user namespace maps container root to an unprivileged host user",
        1,
        W,
        |o| spec_flag(o, "hostUsers", false),
    ),
    r(
        "SecretsAsEnvironmentVariables",
        ".spec .containers[] .env[] .valueFrom .secretKeyRef, .spec .containers[] .envFrom[] .secretRef",
        "Mounting secrets as volumes allows dynamic updates and keeps them out of environment variables, which are easily leaked",
        -5,
        W_SECRETS,
        |o| {
            count_containers(o, ALL_LISTS, |c| {
                let env = c.get("env").and_then(Value::as_array).is_some_and(|e| {
                    e.iter().any(|v| v.pointer("/valueFrom/secretKeyRef").is_some_and(|x| !x.is_null()))
                });
                let env_from = c
                    .get("envFrom")
                    .and_then(Value::as_array)
                    .is_some_and(|e| e.iter().any(|v| v.get("secretRef").is_some_and(|x| !x.is_null())));
                env || env_from
            })
        },
    ),
    r(
        "BindingsToSystemAnonymous",
        ".subjects[] .name == \"system:anonymous\"",
        "Binding to system:anonymous gives unauthenticated users the bound role's permissions",
        -30,
        BINDINGS,
        |o| {
            let names: Vec<String> = o
                .get("subjects")
                .and_then(Value::as_array)
                .map(|s| s.iter().map(|x| go_text(x.get("name").unwrap_or(&Value::Null))).collect())
                .unwrap_or_default();
            usize::from(names.join(" ").contains("system:anonymous"))
        },
    ),
];

const ALL_LISTS: &[&str] = &["initContainers", "containers", "ephemeralContainers"];
const MAIN_LIST: &[&str] = &["containers"];

/// The pod spec as kubesec finds it: `spec` for a Pod, `spec.jobTemplate.spec.template.spec` for
/// a CronJob, `spec.template.spec` otherwise.
fn pod_spec(obj: &Value) -> Option<&Value> {
    let path = match obj.get("kind").and_then(Value::as_str) {
        Some("Pod") => "/spec",
        Some("CronJob") => "/spec/jobTemplate/spec/template/spec",
        _ => "/spec/template/spec",
    };
    obj.pointer(path)
}

fn spec_flag(obj: &Value, field: &str, want: bool) -> usize {
    usize::from(pod_spec(obj).and_then(|s| s.get(field)).and_then(Value::as_bool) == Some(want))
}

fn containers<'a>(obj: &'a Value, lists: &'a [&'a str]) -> impl Iterator<Item = &'a Value> + 'a {
    let spec = pod_spec(obj);
    lists
        .iter()
        .flat_map(move |l| spec.and_then(|s| s.get(*l)).and_then(Value::as_array).map_or(&[][..], Vec::as_slice))
}

fn count_containers(obj: &Value, lists: &[&str], pred: impl Fn(&Value) -> bool) -> usize {
    containers(obj, lists).filter(|c| pred(c)).count()
}

fn sc_field<'a>(container: &'a Value, field: &str) -> Option<&'a Value> {
    container.get("securityContext").and_then(|s| s.get(field))
}

/// Go's `%v` of a JSON value (strings bare, lists as `[a b]`).
fn go_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".to_owned(),
        Value::Array(items) => format!("[{}]", items.iter().map(go_text).collect::<Vec<_>>().join(" ")),
        other => other.to_string(),
    }
}

fn caps_text(container: &Value, which: &str) -> Option<String> {
    sc_field(container, "capabilities").and_then(|c| c.get(which)).filter(|v| !v.is_null()).map(go_text)
}

fn resource(container: &Value, kind: &str, name: &str) -> bool {
    container.get("resources").and_then(|r| r.get(kind)).and_then(|r| r.get(name)).is_some_and(|v| !v.is_null())
}

fn host_paths_containing(obj: &Value, needle: &str) -> usize {
    pod_spec(obj).and_then(|s| s.get("volumes")).and_then(Value::as_array).map_or(0, |vols| {
        vols.iter()
            .filter(|v| v.pointer("/hostPath/path").and_then(Value::as_str).is_some_and(|p| p.contains(needle)))
            .count()
    })
}

fn claim_templates(obj: &Value, pred: impl Fn(&Value) -> bool) -> usize {
    match obj.pointer("/spec/volumeClaimTemplates").and_then(Value::as_array) {
        None => 1,
        Some(t) if t.is_empty() => 1,
        Some(t) => t.iter().filter(|x| pred(x)).count(),
    }
}

/// The state of one security-context attribute: unset, or set and valid or not.
#[derive(Clone, Copy)]
struct Attr {
    unset: bool,
    valid: bool,
}

fn tri(v: Option<bool>) -> Attr {
    match v {
        None => Attr { unset: true, valid: false },
        Some(b) => Attr { unset: false, valid: b },
    }
}

/// `seccompProfile`/`appArmorProfile` type: for the `Any` rules valid when set and not
/// `Unconfined`, for the `Unconfined` rules valid when `Unconfined`; unset when not a string.
fn profile(sc: Option<&Value>, field: &str, unconfined: bool) -> Attr {
    match sc.and_then(|s| s.get(field)).and_then(|p| p.get("type")).and_then(Value::as_str) {
        None => Attr { unset: true, valid: false },
        Some(t) => Attr { unset: false, valid: (t == "Unconfined") == unconfined },
    }
}

/// kubesec's `checkSecurityContext`: containers (init, main, ephemeral) whose own attribute is
/// valid, or unset while the pod's is valid.
fn effective(obj: &Value, check: impl Fn(Option<&Value>) -> Attr) -> usize {
    let pod_valid = check(pod_spec(obj).and_then(|s| s.get("securityContext"))).valid;
    count_containers(obj, ALL_LISTS, |c| {
        let a = check(c.get("securityContext"));
        a.valid || (a.unset && pod_valid)
    })
}

/// One rule in a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleRef {
    /// Rule id.
    pub id: &'static str,
    /// Selector text.
    pub selector: &'static str,
    /// Reason text.
    pub reason: &'static str,
    /// Points.
    pub points: i64,
    /// How many containers (or items) matched.
    pub containers: usize,
}

/// kubesec's report for one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubesecResult {
    /// `Kind/name.namespace` (`undefined` name, `default` namespace when unset).
    pub object: String,
    /// Whether the object passed validation.
    pub valid: bool,
    /// The file it came from.
    pub file_name: String,
    /// `Passed with a score of N points`, `Failed with ...`, or why it was not scored.
    pub message: String,
    /// The score.
    pub score: i64,
    /// Matched negative rules, most negative first.
    pub critical: Vec<RuleRef>,
    /// Matched positive rules, highest first.
    pub passed: Vec<RuleRef>,
    /// Unmatched positive rules, highest first.
    pub advise: Vec<RuleRef>,
}

/// Built-in `(group, kind)` pairs kubesec has schemas for (the current API).
const KNOWN_KINDS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "Pod",
            "PodTemplate",
            "ReplicationController",
            "Service",
            "ServiceAccount",
            "ConfigMap",
            "Secret",
            "Namespace",
            "Node",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "Endpoints",
            "LimitRange",
            "ResourceQuota",
            "Event",
            "Binding",
            "ComponentStatus",
        ],
    ),
    ("apps", &["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ControllerRevision"]),
    ("batch", &["Job", "CronJob"]),
    ("rbac.authorization.k8s.io", &["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"]),
    ("networking.k8s.io", &["NetworkPolicy", "Ingress", "IngressClass"]),
    ("policy", &["PodDisruptionBudget"]),
    ("autoscaling", &["HorizontalPodAutoscaler"]),
    ("storage.k8s.io", &["StorageClass", "CSIDriver", "CSINode", "VolumeAttachment"]),
    ("scheduling.k8s.io", &["PriorityClass"]),
    ("coordination.k8s.io", &["Lease"]),
    ("discovery.k8s.io", &["EndpointSlice"]),
    ("node.k8s.io", &["RuntimeClass"]),
    ("apiextensions.k8s.io", &["CustomResourceDefinition"]),
    (
        "admissionregistration.k8s.io",
        &[
            "ValidatingWebhookConfiguration",
            "MutatingWebhookConfiguration",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
        ],
    ),
    ("certificates.k8s.io", &["CertificateSigningRequest"]),
];

fn known_kind(obj: &Object) -> bool {
    KNOWN_KINDS.iter().any(|(g, kinds)| *g == obj.group() && kinds.contains(&obj.kind()))
}

/// `Kind/name.namespace` as kubesec's `getObjectName` builds it.
fn object_name(v: &Value) -> String {
    let Some(kind) = v.get("kind").filter(|k| !k.is_null()) else { return "Unknown".to_owned() };
    let name = v.pointer("/metadata/name").filter(|n| !n.is_null()).map_or_else(|| "undefined".to_owned(), go_text);
    let ns = v.pointer("/metadata/namespace").filter(|n| !n.is_null()).map_or_else(|| "default".to_owned(), go_text);
    format!("{}/{name}.{ns}", go_text(kind))
}

/// kubesec's `RuleRefCustomOrder`: by points (negative lists most negative first, positive ones
/// highest first), then by selector text.
fn order(a: &RuleRef, b: &RuleRef) -> Ordering {
    if a.points != b.points {
        if a.points > 0 || b.points > 0 {
            return b.points.cmp(&a.points);
        }
        return a.points.cmp(&b.points);
    }
    a.selector.cmp(b.selector)
}

/// Scores one object.
#[must_use]
pub fn score_one(obj: &Object) -> KubesecResult {
    let value = obj.root.to_json();
    let mut out = KubesecResult {
        object: object_name(&value),
        valid: false,
        file_name: obj.file.to_string(),
        message: String::new(),
        score: 0,
        critical: Vec::new(),
        passed: Vec::new(),
        advise: Vec::new(),
    };
    if !known_kind(obj) {
        "This resource is invalid, unknown schema".clone_into(&mut out.message);
        return out;
    }
    out.valid = true;
    let kind = obj.kind();
    let mut applied = 0;
    for rule in RULES.iter().filter(|r| r.kinds.contains(&kind)) {
        applied += 1;
        let count = (rule.predicate)(&value);
        let rr = RuleRef {
            id: rule.id,
            selector: rule.selector,
            reason: rule.reason,
            points: rule.points,
            containers: count,
        };
        if count > 0 {
            out.score += rule.points;
            if rule.points >= 0 { out.passed.push(rr) } else { out.critical.push(rr) }
        } else if rule.points >= 0 {
            out.advise.push(rr);
        }
    }
    out.message = if applied == 0 {
        "This resource kind is not supported by kubesec".to_owned()
    } else if out.score >= 0 {
        format!("Passed with a score of {} points", out.score)
    } else {
        format!("Failed with a score of {} points", out.score)
    };
    out.critical.sort_by(order);
    out.passed.sort_by(order);
    out.advise.sort_by(order);
    out
}

/// Scores every object, in input order (one report per object, as kubesec gives one per document).
#[must_use]
pub fn score(objects: &[Object]) -> Vec<KubesecResult> {
    objects.iter().map(score_one).collect()
}

fn rule_json(r: &RuleRef) -> Value {
    json!({"id": r.id, "selector": r.selector, "reason": r.reason, "points": r.points})
}

/// kubesec's JSON report: an array with one element per object (`object`, `valid`, `fileName`,
/// `message`, `score`, `scoring` with non-empty `critical`/`passed`/`advise` lists), as Go's
/// `encoding/json` writes kubesec's `Report` (empty lists and an empty message omitted).
#[must_use]
pub fn to_json(results: &[KubesecResult]) -> Value {
    Value::Array(
        results
            .iter()
            .map(|r| {
                let mut m = Map::new();
                m.insert("object".into(), json!(r.object));
                m.insert("valid".into(), json!(r.valid));
                m.insert("fileName".into(), json!(r.file_name));
                if !r.message.is_empty() {
                    m.insert("message".into(), json!(r.message));
                }
                m.insert("score".into(), json!(r.score));
                let mut scoring = Map::new();
                for (key, list) in [("critical", &r.critical), ("passed", &r.passed), ("advise", &r.advise)] {
                    if !list.is_empty() {
                        scoring.insert(key.into(), Value::Array(list.iter().map(rule_json).collect()));
                    }
                }
                m.insert("scoring".into(), Value::Object(scoring));
                Value::Object(m)
            })
            .collect(),
    )
}

/// kubesec's exit status for a scan: 0 when every object scores above 0, else `fail_code`
/// (kubesec's `--exit-code`, default 2). An empty scan is an input error for kubesec (exit 1).
#[must_use]
pub fn exit_code(results: &[KubesecResult], fail_code: i32) -> i32 {
    if results.is_empty() {
        1
    } else if results.iter().all(|r| r.score > 0) {
        0
    } else {
        fail_code
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kguard_model::load::parse_text;
    use std::sync::Arc;

    fn one(yaml: &str) -> KubesecResult {
        let parsed = parse_text(&Arc::from("t.yaml"), yaml);
        score_one(parsed.objects.first().unwrap())
    }

    #[test]
    fn thirty_rules() {
        assert_eq!(RULES.len(), 30);
        assert_eq!(RULES.iter().filter(|r| r.points < 0).count(), 13);
        let mut sel: Vec<_> = RULES.iter().map(|r| (r.points, r.selector)).collect();
        sel.sort_unstable();
        sel.dedup();
        assert_eq!(sel.len(), 30, "(points, selector) must be unique for a total order");
    }

    #[test]
    fn max_score_and_naming() {
        let r = one(r"
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  serviceAccountName: sa
  automountServiceAccountToken: false
  hostUsers: false
  securityContext: {runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: {type: RuntimeDefault}, appArmorProfile: {type: RuntimeDefault}}
  containers:
  - name: a
    image: x
    securityContext: {readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
    resources: {requests: {cpu: 1, memory: 1Gi}, limits: {cpu: 1, memory: 1Gi}}
");
        assert_eq!(r.object, "Pod/p.default");
        assert_eq!(r.score, 19);
        assert_eq!(r.message, "Passed with a score of 19 points");
        assert!(r.advise.is_empty() && r.critical.is_empty());
        assert_eq!(r.passed.first().map(|p| p.points), Some(3));
    }

    #[test]
    fn cronjob_only_secrets_and_unsupported() {
        let r = one(
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c, namespace: ns}\nspec: {jobTemplate: {spec: {template: {spec: {containers: [{name: a, envFrom: [{secretRef: {name: s}}]}]}}}}}",
        );
        assert_eq!((r.object.as_str(), r.score), ("CronJob/c.ns", -5));
        let r = one("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}");
        assert_eq!(r.message, "This resource kind is not supported by kubesec");
        assert_eq!(exit_code(&[r], 2), 2);
        let r = one("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: c}");
        assert!(!r.valid);
        let j = to_json(&[r]);
        assert_eq!(j[0]["scoring"], json!({}));
    }
}
