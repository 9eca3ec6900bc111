//! Every Pod Security Standards check, as `k8s.io/pod-security-admission/policy/check_*.go`
//! defines it: the same decisions, the same `ForbiddenReason`/`ForbiddenDetail` texts, and the
//! same version switches. Each check also records the JSON pointers of the offending fields and
//! the containers involved, which upstream does not.

use std::collections::BTreeSet;

use kguard_model::pod::{Container, Profile, SeLinuxOptions};

use super::{CheckResult, Level};
use kguard_model::workload::{ContainerRef, PodView};

/// One check of the registry.
pub(crate) struct CheckDef {
    /// Upstream check id.
    pub id: &'static str,
    /// Level the check belongs to.
    pub level: Level,
    /// First policy minor version (of v1) the check applies to.
    pub since: u64,
    /// Baseline check ids this (restricted) check replaces from `since` on.
    pub overrides: &'static [&'static str],
    /// The check: `None` when allowed.
    pub run: fn(&PodView, u64) -> Option<CheckResult>,
}

/// The registry, baseline checks first then restricted ones, each group sorted bytewise by id
/// (the order upstream reports results in).
pub(crate) const CHECKS: &[CheckDef] = &[
    def("appArmorProfile", Level::Baseline, 0, &[], app_armor_profile),
    def("capabilities_baseline", Level::Baseline, 0, &[], capabilities_baseline),
    def("hostNamespaces", Level::Baseline, 0, &[], host_namespaces),
    def("hostPathVolumes", Level::Baseline, 0, &[], host_path_volumes),
    def("hostPorts", Level::Baseline, 0, &[], host_ports),
    def("hostProbesAndHostLifecycle", Level::Baseline, 34, &[], host_probes_and_host_lifecycle),
    def("privileged", Level::Baseline, 0, &[], privileged),
    def("procMount", Level::Baseline, 0, &[], proc_mount_baseline),
    def("seLinuxOptions", Level::Baseline, 0, &[], se_linux_options),
    def("seccompProfile_baseline", Level::Baseline, 0, &[], seccomp_profile_baseline),
    def("sysctls", Level::Baseline, 0, &[], sysctls),
    def("windowsHostProcess", Level::Baseline, 0, &[], windows_host_process),
    def("allowPrivilegeEscalation", Level::Restricted, 8, &[], allow_privilege_escalation),
    def("capabilities_restricted", Level::Restricted, 22, &["capabilities_baseline"], capabilities_restricted),
    def("procMount_restricted", Level::Restricted, 35, &["procMount"], proc_mount_restricted),
    def("restrictedVolumes", Level::Restricted, 0, &["hostPathVolumes"], restricted_volumes),
    def("runAsNonRoot", Level::Restricted, 0, &[], run_as_non_root),
    def("runAsUser", Level::Restricted, 23, &[], run_as_user),
    def("seccompProfile_restricted", Level::Restricted, 19, &["seccompProfile_baseline"], seccomp_profile_restricted),
];

const fn def(
    id: &'static str,
    level: Level,
    since: u64,
    overrides: &'static [&'static str],
    run: fn(&PodView, u64) -> Option<CheckResult>,
) -> CheckDef {
    CheckDef { id, level, since, overrides, run }
}

// ---- helpers (upstream helpers.go) -------------------------------------------------------------

/// `"a", "b"`: values wrapped in double quotes without escaping, comma-joined.
#[must_use]
pub fn join_quote<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let inner: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    format!("\"{}\"", inner.join("\", \""))
}

/// The singular form when `n == 1`, else the plural.
#[must_use]
pub const fn pluralize<'a>(singular: &'a str, plural: &'a str, n: usize) -> &'a str {
    if n == 1 { singular } else { plural }
}

pub use kguard_model::text::go_quote;

/// `container "a"` / `containers "a", "b"`.
fn containers_phrase(names: &[String]) -> String {
    format!("{} {}", pluralize("container", "containers", names.len()), join_quote(names))
}

/// Accumulates a check's failing result.
#[derive(Default)]
struct Acc {
    pointers: Vec<String>,
    containers: Vec<String>,
}

impl Acc {
    fn point(&mut self, pointer: String) {
        if !self.pointers.contains(&pointer) {
            self.pointers.push(pointer);
        }
    }

    fn container(&mut self, c: &ContainerRef<'_>) {
        let name = c.name().to_owned();
        if !self.containers.contains(&name) {
            self.containers.push(name);
        }
    }

    fn fail(self, id: &'static str, reason: impl Into<String>, detail: impl Into<String>) -> Option<CheckResult> {
        Some(CheckResult {
            id,
            reason: reason.into(),
            detail: detail.into(),
            pointers: self.pointers,
            containers: self.containers,
        })
    }
}

fn security_context(c: &Container) -> Option<&kguard_model::pod::SecurityContext> {
    c.security_context.as_ref()
}

fn pod_sc(view: &PodView) -> Option<&kguard_model::pod::PodSecurityContext> {
    view.spec.security_context.as_ref()
}

// ---- baseline ----------------------------------------------------------------------------------

const APPARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

fn app_armor_type_allowed(p: &Profile) -> bool {
    matches!(p.type_str(), "RuntimeDefault" | "Localhost")
}

fn app_armor_annotation_allowed(v: &str) -> bool {
    v.is_empty() || v == "runtime/default" || v.starts_with("localhost/")
}

/// Whether kube-apiserver copies this pod's per-container AppArmor annotations into the
/// containers' fields before admission (`applyAppArmorVersionSkew` in the Pod registry's
/// `PrepareForCreate`; v1.36 no longer copies fields into annotations): Pods only (a workload's
/// template is stored as written), and not Windows pods. kube-apiserver v1.36 is the oracle.
fn app_armor_synced(view: &PodView) -> bool {
    view.is_pod() && view.spec.os.as_ref().and_then(|o| o.name.as_deref()) != Some("windows")
}

fn app_armor_profile(view: &PodView, _minor: u64) -> Option<CheckResult> {
    let mut acc = Acc::default();
    let mut setters: Vec<String> = Vec::new();
    let mut bad_values: BTreeSet<String> = BTreeSet::new();
    let pod_profile = pod_sc(view).and_then(|s| s.app_armor_profile.as_ref());
    if let Some(p) = pod_profile
        && !app_armor_type_allowed(p)
    {
        setters.push("pod".to_owned());
        bad_values.insert(p.type_str().to_owned());
        acc.point(view.spec_at("/securityContext/appArmorProfile/type"));
    }
    let synced = app_armor_synced(view);
    let annotation_pointer =
        |k: &str| format!("{}/annotations/{}", view.metadata_pointer(), kguard_model::yaml::escape_pointer_token(k));
    let mut bad_containers = Vec::new();
    for c in view.containers() {
        let key = format!("{APPARMOR_ANNOTATION_PREFIX}{}", c.name());
        let annotation = view.metadata.annotations().find(|(k, _)| *k == key).map(|(_, v)| v);
        let field = security_context(c.container).and_then(|s| s.app_armor_profile.as_ref());
        if let Some(p) = field
            && !app_armor_type_allowed(p)
        {
            bad_containers.push(c.name().to_owned());
            bad_values.insert(p.type_str().to_owned());
            acc.point(c.at("/securityContext/appArmorProfile/type"));
            acc.container(&c);
        } else if field.is_none()
            && synced
            && annotation == Some("unconfined")
            && !pod_profile.is_some_and(|p| p.type_str() == "Unconfined" && p.localhost_profile.is_none())
        {
            // The annotation is copied into the container's field (unless the pod's field
            // already says the same).
            bad_containers.push(c.name().to_owned());
            bad_values.insert("Unconfined".to_owned());
            acc.point(annotation_pointer(&key));
            acc.container(&c);
        }
    }
    if !bad_containers.is_empty() {
        setters.push(containers_phrase(&bad_containers));
    }
    let mut annotations = Vec::new();
    for (k, v) in view.metadata.annotations() {
        if k.starts_with(APPARMOR_ANNOTATION_PREFIX) && !app_armor_annotation_allowed(v) {
            annotations.push(format!("{k}={}", go_quote(v)));
            acc.point(annotation_pointer(k));
            if let Some(name) = k.strip_prefix(APPARMOR_ANNOTATION_PREFIX)
                && let Some(c) = view.containers().find(|c| c.name() == name)
            {
                acc.container(&c);
            }
        }
    }
    let mut values: Vec<String> = bad_values.into_iter().collect();
    if !annotations.is_empty() {
        annotations.sort();
        setters.push(pluralize("annotation", "annotations", annotations.len()).to_owned());
        values.extend(annotations);
    }
    if setters.is_empty() {
        return None;
    }
    let reason = pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", values.len());
    let detail = format!("{} must not set AppArmor profile type to {}", setters.join(" and "), join_quote(&values));
    acc.fail("appArmorProfile", reason, detail)
}

const CAPABILITIES_ALLOWED_1_0: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn capabilities_baseline(view: &PodView, _minor: u64) -> Option<CheckResult> {
    let mut acc = Acc::default();
    let mut bad_containers = Vec::new();
    let mut bad_caps = BTreeSet::new();
    for c in view.containers() {
        let adds =
            security_context(c.container).and_then(|s| s.capabilities.as_ref()).and_then(|caps| caps.add.as_deref());
        let mut valid = true;
        for (i, cap) in adds.unwrap_or(&[]).iter().enumerate() {
            if !CAPABILITIES_ALLOWED_1_0.contains(&cap.as_str()) {
                valid = false;
                bad_caps.insert(cap.clone());
                acc.point(c.at(&format!("/securityContext/capabilities/add/{i}")));
            }
        }
        if !valid {
            bad_containers.push(c.name().to_owned());
            acc.container(&c);
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    let caps: Vec<String> = bad_caps.into_iter().collect();
    let detail = format!(
        "{} must not include {} in securityContext.capabilities.add",
        containers_phrase(&bad_containers),
        join_quote(&caps)
    );
    acc.fail("capabilities_baseline", "non-default capabilities", detail)
}

fn host_namespaces(view: &PodView, _minor: u64) -> Option<CheckResult> {
    let mut acc = Acc::default();
    let mut set = Vec::new();
    for (value, field) in
        [(view.spec.host_network, "hostNetwork"), (view.spec.host_pid, "hostPID"), (view.spec.host_ipc, "hostIPC")]
    {
        if value == Some(true) {
            set.push(format!("{field}=true"));
            acc.point(view.spec_at(&format!("/{field}")));
        }
    }
    if set.is_empty() {
        return None;
    }
    acc.fail("hostNamespaces", "host namespaces", set.join(", "))
}

fn host_path_volumes(view: &PodView, _minor: u64) -> Option<CheckResult> {
    let mut acc = Acc::default();
    let mut names = Vec::new();
    for (i, v) in view.spec.volumes.iter().flatten().enumerate() {
        if v.has("hostPath") {
            names.push(v.name_str().to_owned());
            acc.point(view.spec_at(&format!("/volumes/{i}/hostPath")));
        }
    }
    if names.is_empty() {
        return None;
    }
    let detail = format!("{} {}", pluralize("volume", "volumes", names.len()), join_quote(&names));
    acc.fail("hostPathVolumes", "hostPath volumes", detail)
}

fn host_ports(view: &PodView, _minor: u64) -> Option<CheckResult> {
    let mut acc = Acc::default();
    let mut bad_containers = Vec::new();
    let mut ports = BTreeSet::new();
    for c in view.containers() {
        let mut valid = true;
        for (i, p) in c.container.ports.iter().flatten().enumerate() {
            if let Some(hp) = p.host_port
                && hp != 0
            {
                valid = false;
                ports.insert(hp.to_string());
                acc.point(c.at(&format!("/ports/{i}/hostPort")));
            }
        }
        if !valid {
            bad_containers.push(c.name().to_owned());
            acc.container(&c);
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    let ports: Vec<String> = ports.into_iter().collect();
    let detail = format!(
        "{} {} {} {}",
        containers_phrase(&bad_containers),
        pluralize("uses", "use", bad_containers.len()),
        pluralize("hostPort", "hostPorts", ports.len()),
        ports.join(", ")
    );
    acc.fail("hostPorts", "hostPort", detail)
}

fn host_probes_and_host_lifecycle(view: &PodView, _minor: u64) -> Option<CheckResult> {
    let mut acc = Acc::default();
    let mut bad_containers = BTreeSet::new();
    let mut hosts = BTreeSet::new();
    for c in view.containers() {
        let ctr = c.container;
        let mut handlers = Vec::new();
        for (name, probe) in [
            ("livenessProbe", &ctr.liveness_probe),
            ("readinessProbe", &ctr.readiness_probe),
            ("startupProbe", &ctr.startup_probe),
        ] {
            if let Some(p) = probe {
                handlers.push((name, p.http_get.as_ref(), p.tcp_socket.as_ref()));
            }
        }
        if let Some(l) = &ctr.lifecycle {
            for (name, handler) in [("lifecycle/postStart", &l.post_start), ("lifecycle/preStop", &l.pre_stop)] {
                if let Some(h) = handler {
                    handlers.push((name, h.http_get.as_ref(), h.tcp_socket.as_ref()));
                }
            }
        }
        let mut bad = false;
        for (name, http, tcp) in handlers {
            for (action, host) in
                [("httpGet", http.and_then(|h| h.host.as_deref())), ("tcpSocket", tcp.and_then(|t| t.host.as_deref()))]
            {
                if let Some(h) = host
                    && !h.is_empty()
                {
                    bad = true;
                    hosts.insert(h.to_owned());
                    acc.point(c.at(&format!("/{name}/{action}/host")));
                }
            }
        }
        if bad {
            bad_containers.insert(c.name().to_owned());
            acc.container(&c);
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    let names: Vec<String> = bad_containers.into_iter().collect();
    let hosts: Vec<String> = hosts.into_iter().collect();
    let detail = format!(
        "{} {} {} {}",
        containers_phrase(&names),
        pluralize("uses", "use", names.len()),
        pluralize("probe or lifecycle host", "probe or lifecycle hosts", hosts.len()),
        join_quote(&hosts)
    );
    acc.fail("hostProbesAndHostLifecycle", "probe or lifecycle host", detail)
}

fn privileged(view: &PodView, _minor: u64) -> Option<CheckResult> {
    let mut acc = Acc::default();
    let mut bad = Vec::new();
    for c in view.containers() {
        if security_context(c.container).and_then(|s| s.privileged) == Some(true) {
            bad.push(c.name().to_owned());
            acc.point(c.at("/securityContext/privileged"));
            acc.container(&c);
        }
    }
    if bad.is_empty() {
        return None;
    }
    let detail = format!("{} must not set securityContext.privileged=true", containers_phrase(&bad));
    acc.fail("privileged", "privileged", detail)
}

/// procMount without any user-namespace relaxation (`procMount_1_0`).
fn proc_mount_strict(view: &PodView, id: &'static str) -> Option<CheckResult> {
    let mut acc = Acc::default();
    let mut bad = Vec::new();
    let mut types = BTreeSet::new();
    for c in view.containers() {
        if let Some(pm) = security_context(c.container).and_then(|s| s.proc_mount.as_deref())
            && pm != "Default"
        {
            bad.push(c.name().to_owned());
            types.insert(pm.to_owned());
            acc.point(c.at("/securityContext/procMount"));
            acc.container(&c);
        }
    }
    if bad.is_empty() {
        return None;
    }
    let types: Vec<String> = types.into_iter().collect();
    let detail =
        format!("{} must not set securityContext.procMount to {}", containers_phrase(&bad), join_quote(&types));
    acc.fail(id, "procMount", detail)
}

fn proc_mount_baseline(view: &PodView, minor: u64) -> Option<CheckResult> {
    // From 1.35 a pod in a user namespace (hostUsers: false) may use any procMount.
    if minor >= 35 && view.spec.in_user_namespace() {
        return None;
    }
    proc_mount_strict(view, "procMount")
}

const SELINUX_TYPES_1_0: &[&str] = &["", "container_t", "container_init_t", "container_kvm_t"];
const SELINUX_TYPES_1_31: &[&str] = &["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];

fn se_linux_options(view: &PodView, minor: u64) -> Option<CheckResult> {
    let allowed = if minor >= 31 { SELINUX_TYPES_1_31 } else { SELINUX_TYPES_1_0 };
    let mut acc = Acc::default();
    let mut bad_types = BTreeSet::new();
    let mut set_user = false;
    let mut set_role = false;
    // Returns the pointer suffix of the first offending sub-field, when any.
    let mut check = |o: &SeLinuxOptions| -> Option<&'static str> {
        let mut first = None;
        let t = o.type_.as_deref().unwrap_or("");
        if !allowed.contains(&t) {
            bad_types.insert(t.to_owned());
            first = first.or(Some("/type"));
        }
        if o.user.as_deref().is_some_and(|u| !u.is_empty()) {
            set_user = true;
            first = first.or(Some("/user"));
        }
        if o.role.as_deref().is_some_and(|r| !r.is_empty()) {
            set_role = true;
            first = first.or(Some("/role"));
        }
        first
    };
    let mut setters = Vec::new();
    if let Some(o) = pod_sc(view).and_then(|s| s.se_linux_options.as_ref())
        && let Some(sub) = check(o)
    {
        setters.push("pod".to_owned());
        acc.point(view.spec_at(&format!("/securityContext/seLinuxOptions{sub}")));
    }
    let mut bad_containers = Vec::new();
    for c in view.containers() {
        if let Some(o) = security_context(c.container).and_then(|s| s.se_linux_options.as_ref())
            && let Some(sub) = check(o)
        {
            bad_containers.push(c.name().to_owned());
            acc.point(c.at(&format!("/securityContext/seLinuxOptions{sub}")));
            acc.container(&c);
        }
    }
    if !bad_containers.is_empty() {
        setters.push(containers_phrase(&bad_containers));
    }
    if setters.is_empty() {
        return None;
    }
    let mut data = Vec::new();
    if !bad_types.is_empty() {
        let types: Vec<String> = bad_types.into_iter().collect();
        data.push(format!("{} {}", pluralize("type", "types", types.len()), join_quote(&types)));
    }
    if set_user {
        data.push("user may not be set".to_owned());
    }
    if set_role {
        data.push("role may not be set".to_owned());
    }
    let detail = format!("{} set forbidden securityContext.seLinuxOptions: {}", setters.join(" and "), data.join("; "));
    acc.fail("seLinuxOptions", "seLinuxOptions", detail)
}

const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_ANNOTATION_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";

fn seccomp_annotation_allowed(v: &str) -> bool {
    v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/")
}

fn seccomp_type_allowed(p: &Profile) -> bool {
    matches!(p.type_str(), "RuntimeDefault" | "Localhost")
}

fn seccomp_profile_baseline(view: &PodView, minor: u64) -> Option<CheckResult> {
    if minor < 19 { seccomp_baseline_annotations(view) } else { seccomp_fields(view, false, "seccompProfile_baseline") }
}

fn seccomp_baseline_annotations(view: &PodView) -> Option<CheckResult> {
    let mut acc = Acc::default();
    let mut forbidden = BTreeSet::new();
    let annotation_pointer =
        |k: &str| format!("{}/annotations/{}", view.metadata_pointer(), kguard_model::yaml::escape_pointer_token(k));
    if let Some(v) = view.metadata.annotation(SECCOMP_POD_ANNOTATION)
        && !seccomp_annotation_allowed(v)
    {
        forbidden.insert(format!("{SECCOMP_POD_ANNOTATION}={}", go_quote(v)));
        acc.point(annotation_pointer(SECCOMP_POD_ANNOTATION));
    }
    for c in view.containers() {
        let key = format!("{SECCOMP_CONTAINER_ANNOTATION_PREFIX}{}", c.name());
        if let Some(v) = view.metadata.annotation(&key)
            && !seccomp_annotation_allowed(v)
        {
            forbidden.insert(format!("{key}={}", go_quote(v)));
            acc.point(annotation_pointer(&key));
            acc.container(&c);
        }
    }
    if forbidden.is_empty() {
        return None;
    }
    let list: Vec<String> = forbidden.into_iter().collect();
    let detail = format!("forbidden {} {}", pluralize("annotation", "annotations", list.len()), list.join(", "));
    acc.fail("seccompProfile_baseline", "seccompProfile", detail)
}

/// The 1.19 field-based seccomp check; `require` adds the restricted "must be set" rule.
fn seccomp_fields(view: &PodView, require: bool, id: &'static str) -> Option<CheckResult> {
    let mut acc = Acc::default();
    let mut setters = Vec::new();
    let mut bad_values = BTreeSet::new();
    let mut pod_set = false;
    if let Some(p) = pod_sc(view).and_then(|s| s.seccomp_profile.as_ref()) {
        if seccomp_type_allowed(p) {
            pod_set = true;
        } else {
            setters.push("pod".to_owned());
            bad_values.insert(p.type_str().to_owned());
            acc.point(view.spec_at("/securityContext/seccompProfile/type"));
        }
    }
    let mut explicit_bad = Vec::new();
    let mut implicit_bad = Vec::new();
    let mut implicit_pointers = Vec::new();
    let mut implicit_refs = Vec::new();
    for c in view.containers() {
        match security_context(c.container).and_then(|s| s.seccomp_profile.as_ref()) {
            Some(p) => {
                if !seccomp_type_allowed(p) {
                    explicit_bad.push(c.name().to_owned());
                    bad_values.insert(p.type_str().to_owned());
                    acc.point(c.at("/securityContext/seccompProfile/type"));
                    acc.container(&c);
                }
            }
            None => {
                if !pod_set {
                    implicit_bad.push(c.name().to_owned());
                    implicit_pointers.push(c.at("/securityContext/seccompProfile"));
                    implicit_refs.push(c);
                }
            }
        }
    }
    if !explicit_bad.is_empty() {
        setters.push(containers_phrase(&explicit_bad));
    }
    if !setters.is_empty() {
        let values: Vec<String> = bad_values.into_iter().collect();
        let detail = format!(
            "{} must not set securityContext.seccompProfile.type to {}",
            setters.join(" and "),
            join_quote(&values)
        );
        return acc.fail(id, "seccompProfile", detail);
    }
    if require && !implicit_bad.is_empty() {
        for p in implicit_pointers {
            acc.point(p);
        }
        for c in &implicit_refs {
            acc.container(c);
        }
        let detail = format!(
            "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
            containers_phrase(&implicit_bad)
        );
        return acc.fail(id, "seccompProfile", detail);
    }
    None
}

const SYSCTLS_1_0: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
];
const SYSCTLS_1_27: &[&str] = &["net.ipv4.ip_local_reserved_ports"];
const SYSCTLS_1_29: &[&str] = &[
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
const SYSCTLS_1_32: &[&str] = &["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"];
const SYSCTLS_1_37: &[&str] = &["net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"];

/// The sysctls the baseline level allows at a policy minor version.
#[must_use]
pub fn allowed_sysctls(minor: u64) -> Vec<&'static str> {
    let mut out = SYSCTLS_1_0.to_vec();
    for (since, set) in [(27, SYSCTLS_1_27), (29, SYSCTLS_1_29), (32, SYSCTLS_1_32), (37, SYSCTLS_1_37)] {
        if minor >= since {
            out.extend_from_slice(set);
        }
    }
    out
}

fn sysctls(view: &PodView, minor: u64) -> Option<CheckResult> {
    let allowed = allowed_sysctls(minor);
    let mut acc = Acc::default();
    let mut bad = Vec::new();
    for (i, s) in pod_sc(view).and_then(|s| s.sysctls.as_deref()).unwrap_or(&[]).iter().enumerate() {
        let name = s.name.as_deref().unwrap_or("");
        if !allowed.contains(&name) {
            bad.push(name.to_owned());
            acc.point(view.spec_at(&format!("/securityContext/sysctls/{i}/name")));
        }
    }
    if bad.is_empty() {
        return None;
    }
    acc.fail("sysctls", "forbidden sysctls", bad.join(", "))
}

fn windows_host_process(view: &PodView, _minor: u64) -> Option<CheckResult> {
    let mut acc = Acc::default();
    let mut setters = Vec::new();
    if pod_sc(view).and_then(|s| s.windows_options.as_ref()).and_then(|w| w.host_process) == Some(true) {
        setters.push("pod".to_owned());
        acc.point(view.spec_at("/securityContext/windowsOptions/hostProcess"));
    }
    let mut bad = Vec::new();
    for c in view.containers() {
        if security_context(c.container).and_then(|s| s.windows_options.as_ref()).and_then(|w| w.host_process)
            == Some(true)
        {
            bad.push(c.name().to_owned());
            acc.point(c.at("/securityContext/windowsOptions/hostProcess"));
            acc.container(&c);
        }
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    let detail = format!("{} must not set securityContext.windowsOptions.hostProcess=true", setters.join(" and "));
    acc.fail("windowsHostProcess", "hostProcess", detail)
}

// ---- restricted --------------------------------------------------------------------------------

fn allow_privilege_escalation(view: &PodView, minor: u64) -> Option<CheckResult> {
    if minor >= 25 && view.spec.is_windows() {
        return None;
    }
    let mut acc = Acc::default();
    let mut bad = Vec::new();
    for c in view.containers() {
        if security_context(c.container).and_then(|s| s.allow_privilege_escalation) != Some(false) {
            bad.push(c.name().to_owned());
            acc.point(c.at("/securityContext/allowPrivilegeEscalation"));
            acc.container(&c);
        }
    }
    if bad.is_empty() {
        return None;
    }
    let detail = format!("{} must set securityContext.allowPrivilegeEscalation=false", containers_phrase(&bad));
    acc.fail("allowPrivilegeEscalation", "allowPrivilegeEscalation != false", detail)
}

fn capabilities_restricted(view: &PodView, minor: u64) -> Option<CheckResult> {
    if minor >= 25 && view.spec.is_windows() {
        return None;
    }
    let mut acc = Acc::default();
    let mut missing_drop = Vec::new();
    let mut adding = Vec::new();
    let mut forbidden = BTreeSet::new();
    for c in view.containers() {
        let caps = security_context(c.container).and_then(|s| s.capabilities.as_ref());
        let drops_all = caps.and_then(|k| k.drop.as_deref()).is_some_and(|d| d.iter().any(|x| x == "ALL"));
        if !drops_all {
            missing_drop.push(c.name().to_owned());
            acc.point(c.at("/securityContext/capabilities/drop"));
            acc.container(&c);
        }
        let mut bad_add = false;
        for (i, cap) in caps.and_then(|k| k.add.as_deref()).unwrap_or(&[]).iter().enumerate() {
            if cap != "NET_BIND_SERVICE" {
                bad_add = true;
                forbidden.insert(cap.clone());
                acc.point(c.at(&format!("/securityContext/capabilities/add/{i}")));
            }
        }
        if bad_add {
            adding.push(c.name().to_owned());
            acc.container(&c);
        }
    }
    let mut details = Vec::new();
    if !missing_drop.is_empty() {
        details
            .push(format!("{} must set securityContext.capabilities.drop=[\"ALL\"]", containers_phrase(&missing_drop)));
    }
    if !adding.is_empty() {
        let caps: Vec<String> = forbidden.into_iter().collect();
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&adding),
            join_quote(&caps)
        ));
    }
    if details.is_empty() {
        return None;
    }
    // Containers in visiting order, whichever sub-rule named them.
    let order: Vec<String> = view.containers().map(|c| c.name().to_owned()).collect();
    acc.containers.sort_by_key(|n| order.iter().position(|o| o == n));
    acc.fail("capabilities_restricted", "unrestricted capabilities", details.join("; "))
}

fn proc_mount_restricted(view: &PodView, _minor: u64) -> Option<CheckResult> {
    proc_mount_strict(view, "procMount_restricted")
}

/// Volume sources the restricted level allows.
const ALLOWED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// Restricted volume sources in upstream's reporting precedence.
const RESTRICTED_VOLUMES: &[&str] = &[
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
];

fn restricted_volumes(view: &PodView, _minor: u64) -> Option<CheckResult> {
    let mut acc = Acc::default();
    let mut bad = Vec::new();
    let mut types = BTreeSet::new();
    for (i, v) in view.spec.volumes.iter().flatten().enumerate() {
        if ALLOWED_VOLUMES.iter().any(|t| v.has(t)) {
            continue;
        }
        // A volume with no known source is defaulted to `emptyDir` by the API server before
        // admission (unknown keys are dropped when decoding), so it is allowed. Upstream's
        // "unknown" type therefore cannot be reached from a manifest.
        let Some(t) = RESTRICTED_VOLUMES.iter().find(|t| v.has(t)) else { continue };
        bad.push(v.name_str().to_owned());
        types.insert((*t).to_owned());
        acc.point(view.spec_at(&format!("/volumes/{i}/{t}")));
    }
    if bad.is_empty() {
        return None;
    }
    let types: Vec<String> = types.into_iter().collect();
    let detail = format!(
        "{} {} {} {} {}",
        pluralize("volume", "volumes", bad.len()),
        join_quote(&bad),
        pluralize("uses", "use", bad.len()),
        pluralize("restricted volume type", "restricted volume types", types.len()),
        join_quote(&types)
    );
    acc.fail("restrictedVolumes", "restricted volume types", detail)
}

fn run_as_non_root(view: &PodView, minor: u64) -> Option<CheckResult> {
    if minor >= 35 && view.spec.in_user_namespace() {
        return None;
    }
    let mut acc = Acc::default();
    let mut setters = Vec::new();
    let mut pod_true = false;
    match pod_sc(view).and_then(|s| s.run_as_non_root) {
        Some(false) => {
            setters.push("pod".to_owned());
            acc.point(view.spec_at("/securityContext/runAsNonRoot"));
        }
        Some(true) => pod_true = true,
        None => {}
    }
    let mut explicit_bad = Vec::new();
    let mut implicit = Vec::new();
    for c in view.containers() {
        match security_context(c.container).and_then(|s| s.run_as_non_root) {
            Some(false) => {
                explicit_bad.push(c.name().to_owned());
                acc.point(c.at("/securityContext/runAsNonRoot"));
                acc.container(&c);
            }
            Some(true) => {}
            None => {
                if !pod_true {
                    implicit.push(c);
                }
            }
        }
    }
    if !explicit_bad.is_empty() {
        setters.push(containers_phrase(&explicit_bad));
    }
    if !setters.is_empty() {
        let detail = format!("{} must not set securityContext.runAsNonRoot=false", setters.join(" and "));
        return acc.fail("runAsNonRoot", "runAsNonRoot != true", detail);
    }
    if implicit.is_empty() {
        return None;
    }
    let names: Vec<String> = implicit.iter().map(|c| c.name().to_owned()).collect();
    for c in &implicit {
        acc.point(c.at("/securityContext/runAsNonRoot"));
        acc.container(c);
    }
    let detail = format!("pod or {} must set securityContext.runAsNonRoot=true", containers_phrase(&names));
    acc.fail("runAsNonRoot", "runAsNonRoot != true", detail)
}

fn run_as_user(view: &PodView, minor: u64) -> Option<CheckResult> {
    if minor >= 35 && view.spec.in_user_namespace() {
        return None;
    }
    let mut acc = Acc::default();
    let mut setters = Vec::new();
    if pod_sc(view).and_then(|s| s.run_as_user) == Some(0) {
        setters.push("pod".to_owned());
        acc.point(view.spec_at("/securityContext/runAsUser"));
    }
    let mut bad = Vec::new();
    for c in view.containers() {
        if security_context(c.container).and_then(|s| s.run_as_user) == Some(0) {
            bad.push(c.name().to_owned());
            acc.point(c.at("/securityContext/runAsUser"));
            acc.container(&c);
        }
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    let detail = format!("{} must not set runAsUser=0", setters.join(" and "));
    acc.fail("runAsUser", "runAsUser=0", detail)
}

fn seccomp_profile_restricted(view: &PodView, minor: u64) -> Option<CheckResult> {
    if minor >= 25 && view.spec.is_windows() {
        return None;
    }
    seccomp_fields(view, true, "seccompProfile_restricted")
}
