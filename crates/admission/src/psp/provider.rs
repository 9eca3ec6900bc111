//! One policy applied to one pod: `MutatePod` (defaults the policy requires, on a copy) and
//! `ValidatePod` (field errors), as `pkg/security/podsecuritypolicy/provider.go` and its strategies
//! (user, group, selinux, capabilities, sysctl, seccomp, apparmor, util) do in release-1.24.
//!
//! The pod is JSON (`serde_json::Value`) so that mutation keeps every field it does not touch. Values
//! of the wrong type are read as unset (the API server would have refused to decode them).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::Policy;
use super::field::{BadValue, FieldError, go_capabilities, go_int64s};
use super::spec::{GroupRule, Range, SeLinuxRule, Strategy, UserRule, ranges_go};

/// `seccomp.security.alpha.kubernetes.io/pod`.
pub const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
/// `container.seccomp.security.alpha.kubernetes.io/<container>`.
pub const SECCOMP_CONTAINER_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";
/// `container.apparmor.security.beta.kubernetes.io/<container>`.
pub const APPARMOR_CONTAINER_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

/// The sysctls kubelet considers safe in 1.24 (`SafeSysctlAllowlist`).
pub const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
];

/// Volume source fields in `GetVolumeFSType` order, with their FSType names (`cephfs` is `cephFS`).
pub const VOLUME_TYPES: &[(&str, &str)] = &[
    ("hostPath", "hostPath"),
    ("emptyDir", "emptyDir"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("gitRepo", "gitRepo"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("flexVolume", "flexVolume"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("flocker", "flocker"),
    ("downwardAPI", "downwardAPI"),
    ("fc", "fc"),
    ("azureFile", "azureFile"),
    ("configMap", "configMap"),
    ("vsphereVolume", "vsphereVolume"),
    ("quobyte", "quobyte"),
    ("azureDisk", "azureDisk"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("portworxVolume", "portworxVolume"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
];

/// A container of the pod: where it is (JSON pointer) and its field path, in
/// `VisitContainersWithPath` order (init, regular, ephemeral).
#[derive(Clone, Debug)]
struct ContainerAt {
    pointer: String,
    path: String,
}

fn containers(pod: &Value) -> Vec<ContainerAt> {
    let mut out = Vec::new();
    for key in ["initContainers", "containers", "ephemeralContainers"] {
        if let Some(items) = pod.pointer(&format!("/spec/{key}")).and_then(Value::as_array) {
            for i in 0..items.len() {
                out.push(ContainerAt { pointer: format!("/spec/{key}/{i}"), path: format!("spec.{key}[{i}]") });
            }
        }
    }
    out
}

// ---- reading -------------------------------------------------------------------------------

fn field<'a>(m: Option<&'a Map<String, Value>>, key: &str) -> Option<&'a Value> {
    m.and_then(|m| m.get(key)).filter(|v| !v.is_null())
}

fn obj(v: Option<&Value>) -> Option<&Map<String, Value>> {
    v.and_then(Value::as_object)
}

fn pod_sc(pod: &Value) -> Option<&Map<String, Value>> {
    obj(pod.pointer("/spec/securityContext"))
}

fn annotations(pod: &Value) -> Option<&Map<String, Value>> {
    obj(pod.pointer("/metadata/annotations"))
}

fn annotation<'a>(pod: &'a Value, key: &str) -> Option<&'a str> {
    annotations(pod).and_then(|a| a.get(key)).and_then(Value::as_str)
}

fn str_of(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}

fn strings_of(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
}

fn int64s_of(v: Option<&Value>) -> Option<Vec<i64>> {
    v.and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_i64).collect())
}

/// A container's own security context and the pod's, for the effective values
/// (`NewEffectiveContainerSecurityContextAccessor`): runAsUser, runAsGroup, runAsNonRoot and
/// seLinuxOptions fall back to the pod level.
struct Effective<'a> {
    pod: Option<&'a Map<String, Value>>,
    own: Option<&'a Map<String, Value>>,
}

impl<'a> Effective<'a> {
    fn of(pod: &'a Value, container: &'a Value) -> Self {
        Self { pod: pod_sc(pod), own: obj(container.get("securityContext")) }
    }
    fn inherited(&self, key: &str) -> Option<&'a Value> {
        field(self.own, key).or_else(|| field(self.pod, key))
    }
    fn own(&self, key: &str) -> Option<&'a Value> {
        field(self.own, key)
    }
}

// ---- writing -------------------------------------------------------------------------------

/// The mapping at `key` of `m`, created when absent or null; `None` when it holds something else.
fn child<'a>(m: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    let slot = m.entry(key.to_owned()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

fn set_path(root: &mut Value, pointer: &str, keys: &[&str], value: Value) {
    let Some(mut cur) = root.pointer_mut(pointer).and_then(Value::as_object_mut) else {
        return;
    };
    let Some((last, parents)) = keys.split_last() else {
        return;
    };
    for key in parents {
        match child(cur, key) {
            Some(next) => cur = next,
            None => return,
        }
    }
    cur.insert((*last).to_owned(), value);
}

fn set_annotation(pod: &mut Value, key: &str, value: &str) {
    set_path(pod, "", &["metadata", "annotations", key], Value::String(value.to_owned()));
}

// ---- MutatePod -----------------------------------------------------------------------------

fn first_min(ranges: &[Range]) -> Option<i64> {
    ranges.first().map(|r| r.min)
}

/// `GenerateSingle` of a group strategy.
fn group_single(strategy: Option<&Strategy<GroupRule>>) -> Option<i64> {
    match strategy {
        Some(s) if s.rule == GroupRule::MustRunAs => first_min(&s.ranges),
        _ => None,
    }
}

/// Applies the policy's defaults to `pod` (a copy the caller owns).
pub(crate) fn mutate_pod(policy: &Policy, pod: &mut Value) {
    let spec = &policy.spec;
    let snapshot = pod.clone();
    let sc = pod_sc(&snapshot);

    if field(sc, "supplementalGroups").is_none()
        && let Some(g) = group_single(Some(&spec.supplemental_groups))
    {
        set_path(pod, "", &["spec", "securityContext", "supplementalGroups"], Value::from(vec![g]));
    }
    if field(sc, "fsGroup").is_none()
        && let Some(g) = group_single(Some(&spec.fs_group))
    {
        set_path(pod, "", &["spec", "securityContext", "fsGroup"], Value::from(g));
    }
    if field(sc, "seLinuxOptions").is_none()
        && spec.selinux_rule == SeLinuxRule::MustRunAs
        && let Some(opts) = &spec.selinux_options
    {
        set_path(pod, "", &["spec", "securityContext", "seLinuxOptions"], Value::Object(opts.clone()));
    }
    // seccomp is generated on the pod level only; containers inherit it
    let profile = match annotation(&snapshot, SECCOMP_POD_ANNOTATION).filter(|s| !s.is_empty()) {
        Some(p) => p.to_owned(),
        None => match field(sc, "seccompProfile") {
            Some(f) => seccomp_annotation_for_field(f),
            None => policy.seccomp.default_profile.clone(),
        },
    };
    if !profile.is_empty() {
        set_annotation(pod, SECCOMP_POD_ANNOTATION, &profile);
    }
    if let Some(rc) = &spec.runtime_class
        && field(obj(snapshot.get("spec")), "runtimeClassName").is_none()
        && let Some(default) = &rc.default
    {
        set_path(pod, "", &["spec", "runtimeClassName"], Value::String(default.clone()));
    }
    for c in containers(&snapshot) {
        mutate_container(policy, pod, &c);
    }
}

fn mutate_container(policy: &Policy, pod: &mut Value, at: &ContainerAt) {
    let spec = &policy.spec;
    let snapshot = pod.clone();
    let Some(container) = snapshot.pointer(&at.pointer) else {
        return;
    };
    let name = str_of(container.get("name")).unwrap_or("");
    let eff = Effective::of(&snapshot, container);
    let mut sets: Vec<(&str, Value)> = Vec::new();

    let mut run_as_user = eff.inherited("runAsUser").cloned();
    if run_as_user.is_none()
        && spec.run_as_user.rule == UserRule::MustRunAs
        && let Some(uid) = first_min(&spec.run_as_user.ranges)
    {
        run_as_user = Some(Value::from(uid));
        sets.push(("runAsUser", Value::from(uid)));
    }
    if eff.inherited("runAsGroup").is_none()
        && let Some(gid) = group_single(spec.run_as_group.as_ref())
    {
        sets.push(("runAsGroup", Value::from(gid)));
    }
    if eff.inherited("seLinuxOptions").is_none()
        && spec.selinux_rule == SeLinuxRule::MustRunAs
        && let Some(opts) = &spec.selinux_options
    {
        sets.push(("seLinuxOptions", Value::Object(opts.clone())));
    }
    let apparmor_key = format!("{APPARMOR_CONTAINER_PREFIX}{name}");
    let apparmor_default = if annotation(&snapshot, &apparmor_key).is_none_or(str::is_empty)
        && !policy.apparmor.default_profile.is_empty()
    {
        Some(policy.apparmor.default_profile.clone())
    } else {
        None
    };
    if eff.inherited("runAsNonRoot").is_none()
        && run_as_user.is_none()
        && spec.run_as_user.rule == UserRule::MustRunAsNonRoot
    {
        sets.push(("runAsNonRoot", Value::Bool(true)));
    }
    if let Some(caps) = generate_capabilities(policy, eff.own("capabilities")) {
        sets.push(("capabilities", caps));
    }
    if spec.read_only_root_filesystem && eff.own("readOnlyRootFilesystem").is_none() {
        sets.push(("readOnlyRootFilesystem", Value::Bool(true)));
    }
    let mut ape = eff.own("allowPrivilegeEscalation").cloned();
    if let Some(d) = spec.default_allow_privilege_escalation
        && ape.is_none()
    {
        ape = Some(Value::Bool(d));
        sets.push(("allowPrivilegeEscalation", Value::Bool(d)));
    }
    if !spec.allow_privilege_escalation && ape.is_none() {
        sets.push(("allowPrivilegeEscalation", Value::Bool(false)));
    }

    if let Some(profile) = apparmor_default {
        set_annotation(pod, &apparmor_key, &profile);
    }
    for (key, value) in sets {
        set_path(pod, &at.pointer, &["securityContext", key], value);
    }
}

/// `Generate` of the capabilities strategy: the container's capabilities plus the required adds
/// (unless dropped) and drops, sorted; `None` when nothing changes.
fn generate_capabilities(policy: &Policy, caps: Option<&Value>) -> Option<Value> {
    let spec = &policy.spec;
    let caps = obj(caps);
    let container_add: BTreeSet<String> = strings_of(field(caps, "add")).unwrap_or_default().into_iter().collect();
    let container_drop: BTreeSet<String> = strings_of(field(caps, "drop")).unwrap_or_default().into_iter().collect();
    let default_add: BTreeSet<String> =
        spec.default_add_capabilities.iter().filter(|c| !container_drop.contains(*c)).cloned().collect();
    let combined_add: BTreeSet<String> = default_add.union(&container_add).cloned().collect();
    let combined_drop: BTreeSet<String> =
        spec.required_drop_capabilities.iter().cloned().chain(container_drop.iter().cloned()).collect();
    if combined_add.len() == container_add.len() && combined_drop.len() == container_drop.len() {
        return None;
    }
    let mut out = Map::new();
    if !combined_add.is_empty() {
        out.insert("add".to_owned(), Value::from(combined_add.into_iter().collect::<Vec<_>>()));
    }
    if !combined_drop.is_empty() {
        out.insert("drop".to_owned(), Value::from(combined_drop.into_iter().collect::<Vec<_>>()));
    }
    Some(Value::Object(out))
}

/// `SeccompAnnotationForField`: the annotation value a `seccompProfile` field stands for.
fn seccomp_annotation_for_field(profile: &Value) -> String {
    let m = obj(Some(profile));
    match str_of(field(m, "type")) {
        Some("Unconfined") => "unconfined".to_owned(),
        Some("RuntimeDefault") => "runtime/default".to_owned(),
        Some("Localhost") => match str_of(field(m, "localhostProfile")) {
            Some(p) => format!("localhost/{p}"),
            None => String::new(),
        },
        _ => String::new(),
    }
}

// ---- ValidatePod ---------------------------------------------------------------------------

/// Validates `pod` (already mutated) against the policy, in upstream's order.
pub(crate) fn validate_pod(policy: &Policy, pod: &Value) -> Vec<FieldError> {
    let spec = &policy.spec;
    let mut errs = Vec::new();
    let sc = pod_sc(pod);
    let sc_path = "spec.securityContext";

    let fs_groups = field(sc, "fsGroup").and_then(Value::as_i64).map(|g| vec![g]);
    errs.extend(validate_groups(Some(&spec.fs_group), &format!("{sc_path}.fsGroup"), fs_groups.as_deref()));
    let sup = int64s_of(field(sc, "supplementalGroups"));
    errs.extend(validate_groups(
        Some(&spec.supplemental_groups),
        &format!("{sc_path}.supplementalGroups"),
        sup.as_deref(),
    ));
    errs.extend(validate_seccomp_pod(policy, pod));
    errs.extend(validate_selinux(policy, &format!("{sc_path}.seLinuxOptions"), field(sc, "seLinuxOptions")));

    for (flag, allowed, key, what) in [
        (field(sc, "hostNetwork"), spec.host_network, "hostNetwork", "Host network"),
        (field(sc, "hostPID"), spec.host_pid, "hostPID", "Host PID"),
        (field(sc, "hostIPC"), spec.host_ipc, "hostIPC", "Host IPC"),
    ] {
        if !allowed && flag.and_then(Value::as_bool) == Some(true) {
            errs.push(FieldError::invalid(
                format!("{sc_path}.{key}"),
                BadValue::Bool(true),
                format!("{what} is not allowed to be used"),
            ));
        }
    }
    errs.extend(validate_sysctls(policy, sc));
    errs.extend(validate_volumes(policy, pod));
    if let Some(rc) = &spec.runtime_class
        && let Some(name) = str_of(field(obj(pod.get("spec")), "runtimeClassName"))
        && !rc.allowed.iter().any(|a| a == "*" || a == name)
    {
        errs.push(FieldError::invalid("spec.runtimeClassName", BadValue::Str(name.to_owned()), ""));
    }
    for c in containers(pod) {
        if let Some(container) = pod.pointer(&c.pointer) {
            errs.extend(validate_container(policy, pod, container, &c.path));
        }
    }
    errs
}

/// A group strategy's `Validate` (`fsGroup`, `supplementalGroups`, `runAsGroup`).
fn validate_groups(strategy: Option<&Strategy<GroupRule>>, path: &str, groups: Option<&[i64]>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(s) = strategy else {
        return errs;
    };
    if s.rule == GroupRule::RunAsAny {
        return errs;
    }
    let list = groups.unwrap_or(&[]);
    if s.rule == GroupRule::MustRunAs && list.is_empty() && !s.ranges.is_empty() {
        errs.push(FieldError::invalid(
            path,
            BadValue::Go(go_int64s(groups)),
            "unable to validate empty groups against required ranges",
        ));
    }
    for g in list {
        if !s.ranges.iter().any(|r| r.contains(*g)) {
            errs.push(FieldError::invalid(
                path,
                BadValue::Go(go_int64s(groups)),
                format!("group {g} must be in the ranges: {}", ranges_go(&s.ranges)),
            ));
        }
    }
    errs
}

fn validate_selinux(policy: &Policy, path: &str, options: Option<&Value>) -> Vec<FieldError> {
    let spec = &policy.spec;
    let mut errs = Vec::new();
    if spec.selinux_rule == SeLinuxRule::RunAsAny {
        return errs;
    }
    let Some(actual) = obj(options) else {
        errs.push(FieldError::required(path, ""));
        return errs;
    };
    let want = spec.selinux_options.as_ref();
    let get = |m: Option<&Map<String, Value>>, k: &str| str_of(field(m, k)).unwrap_or("").to_owned();
    let (want_level, got_level) = (get(want, "level"), get(Some(actual), "level"));
    if !equal_levels(&want_level, &got_level) {
        errs.push(FieldError::invalid(
            format!("{path}.level"),
            BadValue::Str(got_level),
            format!("must be {want_level}"),
        ));
    }
    for key in ["role", "type", "user"] {
        let (w, g) = (get(want, key), get(Some(actual), key));
        if w != g {
            errs.push(FieldError::invalid(format!("{path}.{key}"), BadValue::Str(g), format!("must be {w}")));
        }
    }
    errs
}

/// SELinux levels are equal when identical, or when `sensitivity:categories` match with the
/// categories compared as sorted lists.
fn equal_levels(expected: &str, actual: &str) -> bool {
    if expected == actual {
        return true;
    }
    let (Some((es, ec)), Some((as_, ac))) = (expected.split_once(':'), actual.split_once(':')) else {
        return false;
    };
    if es != as_ {
        return false;
    }
    let mut e: Vec<&str> = ec.split(',').collect();
    let mut a: Vec<&str> = ac.split(',').collect();
    e.sort_unstable();
    a.sort_unstable();
    e == a
}

fn validate_sysctls(policy: &Policy, sc: Option<&Map<String, Value>>) -> Vec<FieldError> {
    let spec = &policy.spec;
    let mut errs = Vec::new();
    let Some(items) = field(sc, "sysctls").and_then(Value::as_array) else {
        return errs;
    };
    let matches = |patterns: &[String], name: &str| {
        patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => p == name,
        })
    };
    for (i, item) in items.iter().enumerate() {
        let name = str_of(obj(Some(item)).and_then(|m| m.get("name"))).unwrap_or("");
        let path = format!("pod.spec.securityContext.sysctls[{i}]");
        let quoted = kguard_model::text::go_quote(name);
        if matches(&spec.forbidden_sysctls, name) {
            errs.push(FieldError::forbidden(path, format!("sysctl {quoted} is not allowed")));
        } else if SAFE_SYSCTLS.contains(&name) || matches(&spec.allowed_unsafe_sysctls, name) {
            continue;
        } else {
            errs.push(FieldError::forbidden(path, format!("unsafe sysctl {quoted} is not allowed")));
        }
    }
    errs
}

fn volume_fs_type(volume: &Map<String, Value>) -> Option<(&'static str, &'static str)> {
    VOLUME_TYPES.iter().find(|(key, _)| field(Some(volume), key).is_some()).copied()
}

/// `IsOnlyServiceAccountTokenSources`: a projected volume as the bound service-account token
/// volume builds it (token, `kube-root-ca.crt`, the namespace through the downward API).
fn only_service_account_token_sources(projected: Option<&Map<String, Value>>) -> bool {
    let sources = field(projected, "sources").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    sources.iter().all(|s| {
        let s = obj(Some(s));
        let token = obj(field(s, "serviceAccountToken"));
        let cm = obj(field(s, "configMap"));
        let dapi = obj(field(s, "downwardAPI"));
        if token.is_none() && cm.is_none() && dapi.is_none() {
            return false;
        }
        if token.is_some()
            && (str_of(field(token, "path")) != Some("token")
                || !str_of(field(token, "audience")).unwrap_or("").is_empty())
        {
            return false;
        }
        if cm.is_some() && str_of(field(cm, "name")) != Some("kube-root-ca.crt") {
            return false;
        }
        if dapi.is_some() {
            let items = field(dapi, "items").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
            return items.iter().all(|d| {
                let d = obj(Some(d));
                let fr = obj(field(d, "fieldRef"));
                str_of(field(d, "path")) == Some("namespace")
                    && fr.is_some()
                    && str_of(field(fr, "apiVersion")) == Some("v1")
                    && str_of(field(fr, "fieldPath")) == Some("metadata.namespace")
            });
        }
        true
    })
}

fn validate_volumes(policy: &Policy, pod: &Value) -> Vec<FieldError> {
    let spec = &policy.spec;
    let mut errs = Vec::new();
    let Some(volumes) = pod.pointer("/spec/volumes").and_then(Value::as_array) else {
        return errs;
    };
    let allows_all = spec.volumes.iter().any(|v| v == "*");
    let allowed = |t: &str| spec.volumes.iter().any(|v| v == t);
    for (i, v) in volumes.iter().enumerate() {
        let path = format!("spec.volumes[{i}]");
        let vol = obj(Some(v));
        let Some((key, fs_type)) = vol.and_then(volume_fs_type) else {
            errs.push(FieldError::invalid(path, BadValue::Str(String::new()), "unknown volume type for volume"));
            continue;
        };
        let allowed_type = allows_all
            || allowed(fs_type)
            || (fs_type == "projected"
                && allowed("secret")
                && only_service_account_token_sources(obj(field(vol, key))));
        if !allowed_type {
            errs.push(FieldError::invalid(
                path,
                BadValue::Str(fs_type.to_owned()),
                format!("{fs_type} volumes are not allowed to be used"),
            ));
            continue;
        }
        let source = obj(field(vol, key));
        match fs_type {
            "hostPath" => {
                let host_path = str_of(field(source, "path")).unwrap_or("");
                let (allows, read_only) = allows_host_path(policy, host_path);
                if !allows {
                    errs.push(FieldError::invalid(
                        format!("{path}.hostPath.pathPrefix"),
                        BadValue::Str(host_path.to_owned()),
                        "is not allowed to be used",
                    ));
                } else if read_only {
                    let vol_name = str_of(field(vol, "name")).unwrap_or("");
                    for c in containers(pod) {
                        let mounts = pod
                            .pointer(&format!("{}/volumeMounts", c.pointer))
                            .and_then(Value::as_array)
                            .map_or(&[][..], Vec::as_slice);
                        for (j, m) in mounts.iter().enumerate() {
                            let m = obj(Some(m));
                            let ro = field(m, "readOnly").and_then(Value::as_bool).unwrap_or(false);
                            if str_of(field(m, "name")).unwrap_or("") == vol_name && !ro {
                                errs.push(FieldError::invalid(
                                    format!("{}.volumeMounts[{j}].readOnly", c.path),
                                    BadValue::Bool(false),
                                    "must be read-only",
                                ));
                            }
                        }
                    }
                }
            }
            "flexVolume" if !spec.allowed_flex_volumes.is_empty() => {
                let driver = str_of(field(source, "driver")).unwrap_or("");
                if !spec.allowed_flex_volumes.iter().any(|d| d == driver) {
                    errs.push(FieldError::invalid(
                        format!("{path}.driver"),
                        BadValue::Str(driver.to_owned()),
                        "Flexvolume driver is not allowed to be used",
                    ));
                }
            }
            "csi" if !spec.allowed_csi_drivers.is_empty() => {
                let driver = str_of(field(source, "driver")).unwrap_or("");
                if !spec.allowed_csi_drivers.iter().any(|d| d == driver) {
                    errs.push(FieldError::invalid(
                        format!("{path}.csi.driver"),
                        BadValue::Str(driver.to_owned()),
                        "Inline CSI driver is not allowed to be used",
                    ));
                }
            }
            _ => {}
        }
    }
    errs
}

/// `AllowsHostVolumePath`: (allowed, must be read-only). No `allowedHostPaths` allows any path; a
/// matching writable prefix wins over read-only ones.
pub(crate) fn allows_host_path(policy: &Policy, host_path: &str) -> (bool, bool) {
    let paths = &policy.spec.allowed_host_paths;
    if paths.is_empty() {
        return (true, false);
    }
    let mut allowed = false;
    let mut read_only = false;
    for p in paths {
        if has_path_prefix(host_path, &p.path_prefix) {
            if !p.read_only {
                return (true, false);
            }
            allowed = true;
            read_only = true;
        }
    }
    (allowed, read_only)
}

/// `s` equals `prefix` or continues it at a `/` boundary, both without trailing slashes.
pub(crate) fn has_path_prefix(s: &str, prefix: &str) -> bool {
    let s = s.strip_suffix('/').unwrap_or(s);
    let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
    match s.strip_prefix(prefix) {
        None => false,
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
    }
}

fn validate_container(policy: &Policy, pod: &Value, container: &Value, path: &str) -> Vec<FieldError> {
    let spec = &policy.spec;
    let mut errs = Vec::new();
    let eff = Effective::of(pod, container);
    let sc_path = format!("{path}.securityContext");
    let name = str_of(container.get("name")).unwrap_or("");

    // runAsUser
    let run_as_user = eff.inherited("runAsUser").and_then(Value::as_i64);
    match spec.run_as_user.rule {
        UserRule::MustRunAs => match run_as_user {
            None => errs.push(FieldError::required(format!("{sc_path}.runAsUser"), "")),
            Some(uid) if !spec.run_as_user.ranges.iter().any(|r| r.contains(uid)) => errs.push(FieldError::invalid(
                format!("{sc_path}.runAsUser"),
                BadValue::Int(uid),
                format!("must be in the ranges: {}", ranges_go(&spec.run_as_user.ranges)),
            )),
            Some(_) => {}
        },
        UserRule::MustRunAsNonRoot => {
            let non_root = eff.inherited("runAsNonRoot").and_then(Value::as_bool);
            if non_root.is_none() && run_as_user.is_none() {
                errs.push(FieldError::required(format!("{sc_path}.runAsNonRoot"), "must be true"));
            } else if non_root == Some(false) {
                errs.push(FieldError::invalid(
                    format!("{sc_path}.runAsNonRoot"),
                    BadValue::Bool(false),
                    "must be true",
                ));
            } else if run_as_user == Some(0) {
                errs.push(FieldError::invalid(
                    format!("{sc_path}.runAsUser"),
                    BadValue::Int(0),
                    "running with the root UID is forbidden",
                ));
            }
        }
        UserRule::RunAsAny => {}
    }
    let groups = eff.inherited("runAsGroup").and_then(Value::as_i64).map(|g| vec![g]);
    errs.extend(validate_groups(spec.run_as_group.as_ref(), &sc_path, groups.as_deref()));
    errs.extend(validate_selinux(policy, &format!("{sc_path}.seLinuxOptions"), eff.inherited("seLinuxOptions")));
    errs.extend(validate_apparmor(policy, pod, name));
    errs.extend(validate_seccomp_container(policy, pod, container, name));

    if !spec.privileged && eff.own("privileged").and_then(Value::as_bool) == Some(true) {
        errs.push(FieldError::invalid(
            format!("{sc_path}.privileged"),
            BadValue::Bool(true),
            "Privileged containers are not allowed",
        ));
    }
    let proc_mount = str_of(eff.own("procMount")).unwrap_or("Default");
    let allowed_pm: &[String] = &spec.allowed_proc_mount_types;
    let pm_ok =
        if allowed_pm.is_empty() { proc_mount == "Default" } else { allowed_pm.iter().any(|p| p == proc_mount) };
    if !pm_ok {
        errs.push(FieldError::invalid(
            format!("{sc_path}.procMount"),
            BadValue::Str(proc_mount.to_owned()),
            "ProcMountType is not allowed",
        ));
    }
    errs.extend(validate_capabilities(policy, &format!("{sc_path}.capabilities"), eff.own("capabilities")));

    let ports = container.get("ports").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    for port in ports {
        let host_port = field(obj(Some(port)), "hostPort").and_then(Value::as_i64).unwrap_or(0);
        if host_port > 0 && !spec.host_ports.iter().any(|r| r.contains(host_port)) {
            let allowed: Vec<String> = spec
                .host_ports
                .iter()
                .map(|r| if r.min == r.max { r.min.to_string() } else { format!("{}-{}", r.min, r.max) })
                .collect();
            errs.push(FieldError::invalid(
                format!("{path}.hostPort"),
                BadValue::Int(host_port),
                format!("Host port {host_port} is not allowed to be used. Allowed ports: [{}]", allowed.join(",")),
            ));
        }
    }
    if spec.read_only_root_filesystem {
        match eff.own("readOnlyRootFilesystem").and_then(Value::as_bool) {
            None => errs.push(FieldError::invalid(
                format!("{sc_path}.readOnlyRootFilesystem"),
                BadValue::Null,
                "ReadOnlyRootFilesystem may not be nil and must be set to true",
            )),
            Some(false) => errs.push(FieldError::invalid(
                format!("{sc_path}.readOnlyRootFilesystem"),
                BadValue::Bool(false),
                "ReadOnlyRootFilesystem must be set to true",
            )),
            Some(true) => {}
        }
    }
    if !spec.allow_privilege_escalation {
        let ape = eff.own("allowPrivilegeEscalation").and_then(Value::as_bool);
        if ape != Some(false) {
            errs.push(FieldError::invalid(
                format!("{sc_path}.allowPrivilegeEscalation"),
                ape.map_or(BadValue::Null, BadValue::Bool),
                "Allowing privilege escalation for containers is not allowed",
            ));
        }
    }
    errs
}

fn validate_capabilities(policy: &Policy, path: &str, caps: Option<&Value>) -> Vec<FieldError> {
    let spec = &policy.spec;
    let mut errs = Vec::new();
    let Some(caps) = obj(caps) else {
        if !spec.default_add_capabilities.is_empty() || !spec.required_drop_capabilities.is_empty() {
            errs.push(FieldError::invalid(
                path,
                BadValue::Null,
                "required capabilities are not set on the securityContext",
            ));
        }
        return errs;
    };
    if spec.allowed_capabilities.iter().any(|c| c == "*") {
        return errs;
    }
    for cap in strings_of(field(Some(caps), "add")).unwrap_or_default() {
        if !spec.default_add_capabilities.contains(&cap) && !spec.allowed_capabilities.contains(&cap) {
            errs.push(FieldError::invalid(format!("{path}.add"), BadValue::Str(cap), "capability may not be added"));
        }
    }
    let drops = strings_of(field(Some(caps), "drop"));
    for required in &spec.required_drop_capabilities {
        if !drops.as_ref().is_some_and(|d| d.contains(required)) {
            errs.push(FieldError::invalid(
                format!("{path}.drop"),
                BadValue::Go(go_capabilities(drops.as_deref())),
                format!("{required} is required to be dropped but was not found"),
            ));
        }
    }
    errs
}

fn seccomp_check(policy: &Policy, path: &str, profile: &str) -> Option<FieldError> {
    let s = &policy.seccomp;
    let allowed_count = s.allowed.as_ref().map_or(0, BTreeSet::len);
    if !s.allow_any && allowed_count == 0 && !profile.is_empty() {
        return Some(FieldError::forbidden(path, "seccomp may not be set"));
    }
    let ok = (allowed_count == 0 && profile.is_empty())
        || s.allow_any
        || s.allowed.as_ref().is_some_and(|a| a.contains(profile));
    if ok {
        None
    } else {
        Some(FieldError::forbidden(
            path,
            format!("{profile} is not an allowed seccomp profile. Valid values are {}", s.allowed_string),
        ))
    }
}

fn validate_seccomp_pod(policy: &Policy, pod: &Value) -> Option<FieldError> {
    let path = format!("pod.metadata.annotations[{SECCOMP_POD_ANNOTATION}]");
    let mut profile = annotation(pod, SECCOMP_POD_ANNOTATION).unwrap_or("").to_owned();
    if profile.is_empty()
        && let Some(f) = field(pod_sc(pod), "seccompProfile")
    {
        profile = seccomp_annotation_for_field(f);
    }
    seccomp_check(policy, &path, &profile)
}

/// The container's profile: its annotation, else its `seccompProfile` field, else the pod's
/// annotation, else the pod's field.
fn validate_seccomp_container(policy: &Policy, pod: &Value, container: &Value, name: &str) -> Option<FieldError> {
    let key = format!("{SECCOMP_CONTAINER_PREFIX}{name}");
    let path = format!("pod.metadata.annotations[{key}]");
    let own = field(obj(container.get("securityContext")), "seccompProfile");
    let profile = if let Some(p) = annotation(pod, &key) {
        p.to_owned()
    } else if let Some(f) = own {
        seccomp_annotation_for_field(f)
    } else if let Some(p) = annotation(pod, SECCOMP_POD_ANNOTATION) {
        p.to_owned()
    } else {
        field(pod_sc(pod), "seccompProfile").map(seccomp_annotation_for_field).unwrap_or_default()
    };
    seccomp_check(policy, &path, &profile)
}

fn validate_apparmor(policy: &Policy, pod: &Value, name: &str) -> Option<FieldError> {
    let a = &policy.apparmor;
    let allowed = a.allowed.as_ref()?;
    let key = format!("{APPARMOR_CONTAINER_PREFIX}{name}");
    let path = format!("pod.metadata.annotations[{key}]");
    let profile = annotation(pod, &key).unwrap_or("");
    if profile.is_empty() {
        return (!allowed.is_empty()).then(|| FieldError::forbidden(path, "AppArmor profile must be set"));
    }
    if allowed.contains(profile) {
        return None;
    }
    Some(FieldError::forbidden(
        path,
        format!(
            "{profile} is not an allowed profile. Allowed values: {}",
            kguard_model::text::go_quote(&a.allowed_string)
        ),
    ))
}
