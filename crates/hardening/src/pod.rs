//! The pod-template rules.

use kguard_model::Object;
use kguard_model::pod::{Container as ModelContainer, Profile, SeLinuxOptions, SecurityContext};
use kguard_model::yaml::YamlNode;
use kguard_report::{Finding, RuleMeta};

use super::catalogue as c;
use super::{Inventory, finding, secret_values};
use kguard_model::workload::{ContainerKind, ContainerRef, EffectiveSecurityContext, PodView};

/// Capabilities reported by KG004 (upper case, without `CAP_`).
pub(crate) const DANGEROUS_CAPABILITIES: &[&str] = &[
    "ALL",
    "SYS_ADMIN",
    "NET_ADMIN",
    "NET_RAW",
    "SYS_PTRACE",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_BOOT",
    "SYS_TIME",
    "BPF",
    "PERFMON",
    "DAC_READ_SEARCH",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "SYSLOG",
    "LINUX_IMMUTABLE",
];

/// Volume types reported by KG060: the list of Trivy's KSV028 (hostPath is KG024's).
const NON_CORE_VOLUME_TYPES: &[&str] = &[
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephFS",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
];

/// Host paths reported by KG067: the list of Trivy's KSV121, compared exactly.
const SYSTEM_DIRECTORIES: &[&str] = &["/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr", "/var/lib/docker"];

/// Pod security context fields a container inherits (its own value wins), as Trivy's KSV118
/// resolves them.
const INHERITED_SECURITY_CONTEXT: &[&str] =
    &["runAsGroup", "runAsNonRoot", "runAsUser", "seLinuxOptions", "seccompProfile", "windowsOptions"];

/// Whether a raw `securityContext` is unset: missing, null or an empty map.
fn unset(node: Option<&YamlNode>) -> bool {
    node.is_none_or(|n| n.is_null() || n.as_map().is_some_and(<[_]>::is_empty))
}

/// KG061: the pod's own security context is unset (not for PodTemplates, which neither Checkov's
/// CKV_K8S_29 nor Trivy's KSV118 reads).
fn security_context_unset(ctx: &mut Ctx<'_>) {
    let view = ctx.view;
    if ctx.obj.kind() == "PodTemplate" {
        return;
    }
    let pointer = view.spec_at("/securityContext");
    if unset(ctx.obj.root.pointer(&pointer)) {
        ctx.push(&c::POD_SECURITY_CONTEXT_UNSET, None, || pointer, || "pod sets no `securityContext`".to_owned());
    }
}

/// KG062 (the container's own security context unset) and KG063 (its effective one empty:
/// nothing of its own, nothing inherited from the pod); regular and init containers.
fn container_security_context(ctx: &mut Ctx<'_>, ct: &Container<'_, '_>) {
    let cref = ct.cref;
    if cref.kind == ContainerKind::Ephemeral {
        return;
    }
    let at = cref.at("/securityContext");
    if !unset(ctx.obj.root.pointer(&at)) {
        return;
    }
    let who = &ct.who;
    ctx.push(&c::CONTAINER_SECURITY_CONTEXT_UNSET, ct.cn, || at.clone(), || format!("{who} sets no `securityContext`"));
    let pod = ctx.obj.root.pointer(&ctx.view.spec_at("/securityContext")).and_then(YamlNode::as_map).unwrap_or(&[]);
    let inherits = pod.iter().any(|e| INHERITED_SECURITY_CONTEXT.contains(&e.key.as_str()));
    if !inherits && ctx.obj.kind() != "PodTemplate" {
        ctx.push(
            &c::CONTAINER_DEFAULT_SECURITY_CONTEXT,
            ct.cn,
            || at,
            || {
                format!(
                    "{who} runs with the default security context (none of its own, nothing inherited from the pod)"
                )
            },
        );
    }
}

/// KG068 (Checkov's CKV_K8S_33), the image half: a dashboard image.
fn dashboard_image(ctx: &mut Ctx<'_>, ct: &Container<'_, '_>) {
    let cref = ct.cref;
    if cref.kind == ContainerKind::Ephemeral {
        return;
    }
    if let Some(image) =
        ct.ctr.image.as_deref().filter(|i| i.contains("kubernetes-dashboard") || i.contains("kubernetesui"))
    {
        let who = &ct.who;
        ctx.push(
            &c::KUBERNETES_DASHBOARD,
            ct.cn,
            || cref.at("/image"),
            || format!("{who} runs the Kubernetes dashboard image `{image}`"),
        );
    }
}

/// KG068, the label half: a pod (template) labelled as the dashboard, as Checkov reads the labels
/// (`app` when set, else `k8s-app`); only when no container already reports the image.
fn dashboard_labels(ctx: &mut Ctx<'_>) {
    let view = ctx.view;
    let images = view.containers().filter(|c| c.kind != ContainerKind::Ephemeral).any(|c| {
        c.container.image.as_deref().is_some_and(|i| i.contains("kubernetes-dashboard") || i.contains("kubernetesui"))
    });
    let has_containers = view.containers().any(|c| c.kind != ContainerKind::Ephemeral);
    let Some(labels) = view.metadata.labels.as_ref() else { return };
    let key = if labels.contains_key("app") { "app" } else { "k8s-app" };
    if !images && has_containers && labels.get(key).is_some_and(|v| v == "kubernetes-dashboard") {
        ctx.push(
            &c::KUBERNETES_DASHBOARD,
            None,
            || format!("{}/labels/{key}", view.metadata_pointer()),
            || format!("pod is labelled `{key}: kubernetes-dashboard`"),
        );
    }
}

/// SELinux types a container may use (Pod Security Standards, baseline).
const SELINUX_TYPES: &[&str] = &["container_t", "container_init_t", "container_kvm_t", "container_engine_t"];

const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_ANNOTATION: &str = "container.seccomp.security.alpha.kubernetes.io/";
const APPARMOR_ANNOTATION: &str = "container.apparmor.security.beta.kubernetes.io/";

struct Ctx<'a> {
    obj: &'a Object,
    view: &'a PodView,
    inventory: &'a Inventory,
    keep: &'a dyn Fn(&RuleMeta) -> bool,
    out: &'a mut Vec<Finding>,
}

impl Ctx<'_> {
    /// Records a violation of `rule`; the pointer and message are only built for a rule kept.
    fn push(
        &mut self,
        rule: &RuleMeta,
        container: Option<&str>,
        pointer: impl FnOnce() -> String,
        message: impl FnOnce() -> String,
    ) {
        if (self.keep)(rule) {
            self.out.push(finding(self.obj, rule, container, pointer(), message()));
        }
    }
}

/// Runs the pod rules `keep` selects on a pod view.
pub(super) fn check(
    obj: &Object,
    view: &PodView,
    inventory: &Inventory,
    keep: &dyn Fn(&RuleMeta) -> bool,
    out: &mut Vec<Finding>,
) {
    let mut ctx = Ctx { obj, view, inventory, keep, out };
    pod_level(&mut ctx);
    for cref in view.containers() {
        container_level(&mut ctx, &cref);
    }
}

fn pod_level(ctx: &mut Ctx<'_>) {
    let view = ctx.view;
    let spec = &view.spec;
    let linux = !spec.is_windows();
    for (flag, rule, field) in [
        (spec.host_network, &c::HOST_NETWORK, "hostNetwork"),
        (spec.host_pid, &c::HOST_PID, "hostPID"),
        (spec.host_ipc, &c::HOST_IPC, "hostIPC"),
    ] {
        if flag == Some(true) {
            ctx.push(rule, None, || view.spec_at(&format!("/{field}")), || format!("pod sets `{field}: true`"));
        }
    }
    for (i, vol) in spec.volumes.iter().flatten().enumerate() {
        let Some(hp) = vol.sources.get("hostPath").filter(|v| !v.is_null()) else { continue };
        let path = hp.get("path").and_then(serde_json::Value::as_str).unwrap_or("");
        let pointer = view.spec_at(&format!("/volumes/{i}/hostPath/path"));
        ctx.push(
            &c::HOST_PATH,
            None,
            || pointer.clone(),
            || format!("volume `{}` mounts host path `{path}`", vol.name_str()),
        );
        if let Some(why) = sensitive_path(path) {
            ctx.push(
                &c::SENSITIVE_HOST_PATH,
                None,
                || pointer.clone(),
                || format!("volume `{}` mounts sensitive host path `{path}` ({why})", vol.name_str()),
            );
        }
        // KG067: the exact paths Trivy's KSV121 compares.
        if SYSTEM_DIRECTORIES.contains(&path) {
            ctx.push(
                &c::HOST_PATH_SYSTEM_DIR,
                None,
                || pointer.clone(),
                || format!("volume `{}` mounts the host's system directory `{path}`", vol.name_str()),
            );
        }
        // KG050: the exact path Trivy's KSV006 and Checkov's CKV_K8S_27 compare.
        if path == "/var/run/docker.sock" {
            ctx.push(
                &c::DOCKER_SOCKET,
                None,
                || pointer,
                || format!("volume `{}` mounts the Docker socket `{path}`", vol.name_str()),
            );
        }
    }
    security_context_unset(ctx);
    dashboard_labels(ctx);
    for (i, vol) in spec.volumes.iter().flatten().enumerate() {
        for kind in NON_CORE_VOLUME_TYPES.iter().filter(|k| vol.sources.contains_key(**k)) {
            ctx.push(
                &c::NON_CORE_VOLUME,
                None,
                || view.spec_at(&format!("/volumes/{i}/{kind}")),
                || format!("volume `{}` is of the non-core type `{kind}`", vol.name_str()),
            );
        }
    }
    let psc = spec.security_context.as_ref();
    if let Some(sysctls) = psc.and_then(|s| s.sysctls.as_deref()) {
        let allowed = kguard_podsec::allowed_sysctls(kguard_podsec::Version::NEWEST_MINOR);
        for (i, s) in sysctls.iter().enumerate() {
            let name = s.name.as_deref().unwrap_or("");
            if !allowed.contains(&name) {
                ctx.push(
                    &c::UNSAFE_SYSCTLS,
                    None,
                    || view.spec_at(&format!("/securityContext/sysctls/{i}/name")),
                    || format!("pod sets unsafe sysctl `{name}`"),
                );
            }
        }
    }
    if let Some(se) = psc.and_then(|s| s.se_linux_options.as_ref())
        && let Some(problem) = selinux_problem(se)
    {
        ctx.push(&c::SELINUX, None, || view.spec_at("/securityContext/seLinuxOptions"), || format!("pod {problem}"));
    }
    if linux {
        if let Some(g) = psc.and_then(|s| s.fs_group).filter(|g| *g == 0) {
            ctx.push(
                &c::RUN_AS_ROOT_GID,
                None,
                || view.spec_at("/securityContext/fsGroup"),
                || format!("pod sets `fsGroup: {g}` (root group)"),
            );
        }
        if let Some(i) = psc.and_then(|s| s.supplemental_groups.as_deref()).and_then(|g| g.iter().position(|g| *g == 0))
        {
            ctx.push(
                &c::RUN_AS_ROOT_GID,
                None,
                || view.spec_at(&format!("/securityContext/supplementalGroups/{i}")),
                || "pod lists group 0 (root) in `supplementalGroups`".to_owned(),
            );
        }
        if spec.host_users != Some(false) {
            let msg = match spec.host_users {
                Some(true) => "pod sets `hostUsers: true`: containers run in the node's user namespace",
                _ => "pod does not set `hostUsers: false`: containers run in the node's user namespace",
            };
            ctx.push(&c::HOST_USERS, None, || view.spec_at("/hostUsers"), || msg.to_owned());
        }
    }
    if let Some(true) = psc.and_then(|s| s.windows_options.as_ref()).and_then(|w| w.host_process) {
        ctx.push(
            &c::HOST_PROCESS,
            None,
            || view.spec_at("/securityContext/windowsOptions/hostProcess"),
            || "pod sets `windowsOptions.hostProcess: true`".to_owned(),
        );
    }
    match spec.automount_service_account_token {
        Some(false) => {}
        Some(true) => ctx.push(
            &c::AUTOMOUNT_TOKEN,
            None,
            || view.spec_at("/automountServiceAccountToken"),
            || "pod sets `automountServiceAccountToken: true`".to_owned(),
        ),
        None => {
            // Unset on the pod: the ServiceAccount's own field decides (the serviceaccount admission
            // plugin mounts the token unless one of them is false).
            let namespace = ctx.obj.id.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or("default");
            let account = spec.service_account_name.as_deref().filter(|n| !n.is_empty()).unwrap_or("default");
            let message = match ctx.inventory.service_account_automount(namespace, account) {
                Some(false) => {
                    ctx.push(
                        &c::AUTOMOUNT_TOKEN_SA_ONLY,
                        None,
                        || view.spec_at("/automountServiceAccountToken"),
                        || {
                            format!(
                                "pod does not set `automountServiceAccountToken: false`; only its ServiceAccount \
                                 {namespace}/{account} does"
                            )
                        },
                    );
                    None
                }
                Some(true) => Some(format!(
                    "pod does not set `automountServiceAccountToken: false` and its ServiceAccount \
                     {namespace}/{account} sets `automountServiceAccountToken: true`"
                )),
                None if ctx.inventory.has_service_account(namespace, account) => Some(format!(
                    "pod does not set `automountServiceAccountToken: false`, nor does its ServiceAccount \
                     {namespace}/{account}"
                )),
                None => Some(
                    "pod does not set `automountServiceAccountToken: false`; the API token is mounted unless its \
                     ServiceAccount disables it"
                        .to_owned(),
                ),
            };
            if let Some(message) = message {
                ctx.push(&c::AUTOMOUNT_TOKEN, None, || view.spec_at("/automountServiceAccountToken"), || message);
            }
        }
    }
    match spec.service_account_name.as_deref() {
        None | Some("") => ctx.push(
            &c::DEFAULT_SA,
            None,
            || view.spec_at("/serviceAccountName"),
            || "pod sets no `serviceAccountName` and runs as the namespace's `default` ServiceAccount".to_owned(),
        ),
        Some("default") => ctx.push(
            &c::DEFAULT_SA,
            None,
            || view.spec_at("/serviceAccountName"),
            || "pod runs as the namespace's `default` ServiceAccount".to_owned(),
        ),
        Some(_) => {}
    }
}

/// Why a host path is sensitive, `None` when it is not.
pub(crate) fn sensitive_path(path: &str) -> Option<&'static str> {
    let mut norm = String::with_capacity(path.len());
    for seg in path.split('/').filter(|s| !s.is_empty() && *s != ".") {
        norm.push('/');
        norm.push_str(seg);
    }
    if norm.is_empty() {
        return path.starts_with('/').then_some("the node's root filesystem");
    }
    let file = norm.rsplit('/').next().unwrap_or("");
    if ["docker.sock", "containerd.sock", "crio.sock", "cri-dockerd.sock", "dockershim.sock"].contains(&file) {
        return Some("container runtime socket");
    }
    const EXACT: &[(&str, &str)] =
        &[("/var/run", "runtime sockets directory"), ("/run", "runtime sockets directory"), ("/var", "node state")];
    if let Some((_, why)) = EXACT.iter().find(|(p, _)| *p == norm) {
        return Some(why);
    }
    const TREES: &[(&str, &str)] = &[
        ("/etc", "node configuration and credentials"),
        ("/proc", "host process and kernel information"),
        ("/sys", "kernel and device controls"),
        ("/boot", "kernel and boot loader"),
        ("/dev", "host devices"),
        ("/root", "root's home directory"),
        ("/home/admin", "administrator's home directory"),
        ("/var/lib/kubelet", "kubelet state and credentials"),
        ("/var/lib/docker", "container runtime state"),
        ("/var/lib/containerd", "container runtime state"),
        ("/var/run/containerd", "container runtime state"),
        ("/run/containerd", "container runtime state"),
        ("/var/run/crio", "container runtime state"),
        ("/run/crio", "container runtime state"),
        ("/var/run/docker", "container runtime state"),
    ];
    TREES
        .iter()
        .find(|(p, _)| norm == *p || norm.strip_prefix(p).is_some_and(|rest| rest.starts_with('/')))
        .map(|(_, why)| *why)
}

fn selinux_problem(se: &SeLinuxOptions) -> Option<String> {
    if let Some(t) = se.type_.as_deref().filter(|t| !t.is_empty() && !SELINUX_TYPES.contains(t)) {
        return Some(format!("sets SELinux type `{t}`"));
    }
    if let Some(u) = se.user.as_deref().filter(|u| !u.is_empty()) {
        return Some(format!("sets SELinux user `{u}`"));
    }
    if let Some(r) = se.role.as_deref().filter(|r| !r.is_empty()) {
        return Some(format!("sets SELinux role `{r}`"));
    }
    None
}

/// Upper case, `CAP_` prefix removed.
pub(crate) fn normalize_capability(cap: &str) -> String {
    let up = cap.trim().to_ascii_uppercase();
    up.strip_prefix("CAP_").map(str::to_owned).unwrap_or(up)
}

#[allow(clippy::too_many_lines)]
/// What every container rule sees of one container.
struct Container<'a, 'c> {
    cref: &'c ContainerRef<'a>,
    ctr: &'a ModelContainer,
    who: Who<'a>,
    cn: Option<&'a str>,
    linux: bool,
    sc: Option<&'a SecurityContext>,
    eff: EffectiveSecurityContext,
}

impl Container<'_, '_> {
    /// Pointer of an inheritable field: the container's when it sets it, else the pod's, else
    /// where the container's would go.
    fn inherited(&self, view: &PodView, rel: &str, set_in_container: bool, set_in_pod: bool) -> String {
        if set_in_container || !set_in_pod {
            self.cref.at(&format!("/securityContext{rel}"))
        } else {
            view.spec_at(&format!("/securityContext{rel}"))
        }
    }
}

/// The container rules, in the order their findings are reported.
const CONTAINER_RULES: &[fn(&mut Ctx<'_>, &Container<'_, '_>)] = &[
    privileged,
    privilege_escalation,
    capabilities,
    run_as,
    read_only_root_fs,
    seccomp_and_apparmor,
    selinux,
    proc_mount,
    host_ports,
    secrets_in_env,
    image,
    resources,
    host_process,
    container_security_context,
    dashboard_image,
];

fn container_level(ctx: &mut Ctx<'_>, cref: &ContainerRef<'_>) {
    let ctr = cref.container;
    let name = cref.name();
    let container = Container {
        cref,
        ctr,
        who: Who(cref.kind, name),
        cn: Some(name),
        linux: !ctx.view.spec.is_windows(),
        sc: ctr.security_context.as_ref(),
        eff: ctx.view.effective_security_context(ctr),
    };
    for rule in CONTAINER_RULES {
        rule(ctx, &container);
    }
}

/// KG001: privileged.
fn privileged(ctx: &mut Ctx<'_>, ct: &Container<'_, '_>) {
    let cref = ct.cref;
    let who = &ct.who;
    let cn = ct.cn;
    let sc = ct.sc;
    if sc.and_then(|s| s.privileged) == Some(true) {
        ctx.push(
            &c::PRIVILEGED,
            cn,
            || cref.at("/securityContext/privileged"),
            || format!("{who} sets `privileged: true`"),
        );
    }
}

/// KG002, KG003: privilege escalation unset or allowed.
fn privilege_escalation(ctx: &mut Ctx<'_>, ct: &Container<'_, '_>) {
    let cref = ct.cref;
    let who = &ct.who;
    let cn = ct.cn;
    let linux = ct.linux;
    let sc = ct.sc;
    match sc.and_then(|s| s.allow_privilege_escalation) {
        Some(true) => ctx.push(
            &c::PRIV_ESC_TRUE,
            cn,
            || cref.at("/securityContext/allowPrivilegeEscalation"),
            || format!("{who} sets `allowPrivilegeEscalation: true`"),
        ),
        None if linux => ctx.push(
            &c::PRIV_ESC_UNSET,
            cn,
            || cref.at("/securityContext/allowPrivilegeEscalation"),
            || format!("{who} does not set `allowPrivilegeEscalation: false`"),
        ),
        _ => {}
    }
}

/// KG004, KG005, KG006: capabilities added, dangerous, not dropped.
fn capabilities(ctx: &mut Ctx<'_>, ct: &Container<'_, '_>) {
    let cref = ct.cref;
    let who = &ct.who;
    let cn = ct.cn;
    let linux = ct.linux;
    let sc = ct.sc;
    let caps = sc.and_then(|s| s.capabilities.as_ref());
    // KG049, KG053-KG055: the peers' narrow checks read init and regular containers, any OS.
    if cref.kind != ContainerKind::Ephemeral {
        for (i, cap) in caps.and_then(|c| c.add.as_deref()).unwrap_or(&[]).iter().enumerate() {
            let exact = match cap.as_str() {
                "SYS_ADMIN" => &c::CAP_SYS_ADMIN,
                "NET_RAW" => &c::CAP_NET_RAW,
                "SYS_MODULE" => &c::CAP_SYS_MODULE,
                _ => continue,
            };
            ctx.push(
                exact,
                cn,
                || cref.at(&format!("/securityContext/capabilities/add/{i}")),
                || format!("{who} adds capability `{cap}`"),
            );
        }
        let drops = caps.and_then(|c| c.drop.as_deref()).unwrap_or(&[]);
        if !drops.iter().any(|d| ["ALL", "all", "NET_RAW"].iter().any(|x| d.contains(x))) {
            ctx.push(
                &c::NET_RAW_NOT_DROPPED,
                cn,
                || cref.at("/securityContext/capabilities/drop"),
                || format!("{who} does not drop NET_RAW (nor ALL)"),
            );
        }
    }
    if linux {
        for (i, cap) in caps.and_then(|c| c.add.as_deref()).unwrap_or(&[]).iter().enumerate() {
            let norm = normalize_capability(cap);
            let pointer = cref.at(&format!("/securityContext/capabilities/add/{i}"));
            if DANGEROUS_CAPABILITIES.contains(&norm.as_str()) {
                ctx.push(&c::DANGEROUS_CAPS, cn, || pointer, || format!("{who} adds capability `{cap}`"));
            } else if norm != "NET_BIND_SERVICE" {
                ctx.push(&c::CAPS_ADDED, cn, || pointer, || format!("{who} adds capability `{cap}`"));
            } else {
                ctx.push(&c::CAP_NET_BIND_SERVICE, cn, || pointer, || format!("{who} adds capability `{cap}`"));
            }
        }
        let drops = caps.and_then(|c| c.drop.as_deref()).unwrap_or(&[]);
        if !drops.iter().any(|d| normalize_capability(d) == "ALL") {
            ctx.push(
                &c::DROP_ALL,
                cn,
                || cref.at("/securityContext/capabilities/drop"),
                || format!("{who} does not drop ALL capabilities"),
            );
        }
    }
}

/// KG007..KG011: root user and group ids.
fn run_as(ctx: &mut Ctx<'_>, ct: &Container<'_, '_>) {
    let view = ctx.view;
    let who = &ct.who;
    let cn = ct.cn;
    let linux = ct.linux;
    let sc = ct.sc;
    let eff = &ct.eff;
    let pod_sc = view.spec.security_context.as_ref();
    let inherited = |rel: &str, in_ctr: bool, in_pod: bool| ct.inherited(view, rel, in_ctr, in_pod);
    if linux {
        let uid_in_ctr = sc.and_then(|s| s.run_as_user).is_some();
        let uid_in_pod = pod_sc.and_then(|s| s.run_as_user).is_some();
        let gid_in_ctr = sc.and_then(|s| s.run_as_group).is_some();
        let gid_in_pod = pod_sc.and_then(|s| s.run_as_group).is_some();
        let nonroot_in_ctr = sc.and_then(|s| s.run_as_non_root).is_some();
        let nonroot_in_pod = pod_sc.and_then(|s| s.run_as_non_root).is_some();
        let uid_positive = eff.run_as_user.is_some_and(|u| u > 0);
        if eff.run_as_non_root != Some(true) && !uid_positive {
            let msg = if eff.run_as_non_root == Some(false) {
                format!("{who} runs with `runAsNonRoot: false` and no non-zero `runAsUser`")
            } else {
                format!("{who} sets neither `runAsNonRoot: true` nor a non-zero `runAsUser` (pod or container)")
            };
            ctx.push(&c::RUN_AS_NON_ROOT, cn, || inherited("/runAsNonRoot", nonroot_in_ctr, nonroot_in_pod), || msg);
        }
        let uid_at = || inherited("/runAsUser", uid_in_ctr, uid_in_pod);
        id_rules(ctx, &UID_RULES, cn, who, eff.run_as_user, &uid_at);
        let gid_at = || inherited("/runAsGroup", gid_in_ctr, gid_in_pod);
        id_rules(ctx, &GID_RULES, cn, who, eff.run_as_group, &gid_at);
    }
    // KG052 (Trivy's KSV012): neither the pod nor the container sets `runAsNonRoot: true`; init and
    // regular containers, any OS.
    let in_ctr = sc.and_then(|s| s.run_as_non_root);
    let in_pod = pod_sc.and_then(|s| s.run_as_non_root);
    if ct.cref.kind != ContainerKind::Ephemeral && in_ctr != Some(true) && in_pod != Some(true) {
        let at = || inherited("/runAsNonRoot", in_ctr.is_some(), in_pod.is_some());
        ctx.push(&c::RUN_AS_NON_ROOT_UNSET, cn, at, || {
            format!("{who}: neither the pod nor the container sets `runAsNonRoot: true`")
        });
    }
    // KG051 (Checkov's CKV_K8S_40): a UID below 10000 or none, outside a user namespace; regular
    // containers only.
    if ct.cref.kind == ContainerKind::Regular && view.spec.host_users != Some(false) {
        let low = match eff.run_as_user {
            None => Some("sets no `runAsUser` (pod or container)".to_owned()),
            Some(n) if n < 10000 => Some(format!("runs as UID {n}, below 10000")),
            Some(_) => None,
        };
        if let Some(what) = low {
            let at = || {
                inherited(
                    "/runAsUser",
                    sc.and_then(|s| s.run_as_user).is_some(),
                    pod_sc.and_then(|s| s.run_as_user).is_some(),
                )
            };
            ctx.push(&c::LOW_UID_HOST_USERNS, cn, at, || {
                format!("{who} {what}, in the node's user namespace (no `hostUsers: false`)")
            });
        }
    }
}

/// KG012: writable root filesystem.
fn read_only_root_fs(ctx: &mut Ctx<'_>, ct: &Container<'_, '_>) {
    let cref = ct.cref;
    let who = &ct.who;
    let cn = ct.cn;
    let sc = ct.sc;
    if sc.and_then(|s| s.read_only_root_filesystem) != Some(true) {
        ctx.push(
            &c::READ_ONLY_ROOT_FS,
            cn,
            || cref.at("/securityContext/readOnlyRootFilesystem"),
            || format!("{who} does not set `readOnlyRootFilesystem: true`"),
        );
    }
}

/// KG013..KG016: seccomp and AppArmor profiles.
fn seccomp_and_apparmor(ctx: &mut Ctx<'_>, ct: &Container<'_, '_>) {
    let view = ctx.view;
    let cref = ct.cref;
    let who = &ct.who;
    let linux = ct.linux;
    let eff = &ct.eff;
    let inherited = |rel: &str, in_ctr: bool, in_pod: bool| ct.inherited(view, rel, in_ctr, in_pod);
    if linux {
        seccomp(ctx, cref, who, eff.seccomp_profile.as_ref(), &inherited);
        apparmor(ctx, cref, who, eff.app_armor_profile.as_ref(), &inherited);
    }
}

/// KG017: SELinux options (container level; the pod level is checked once).
fn selinux(ctx: &mut Ctx<'_>, ct: &Container<'_, '_>) {
    let cref = ct.cref;
    let who = &ct.who;
    let cn = ct.cn;
    let sc = ct.sc;
    if let Some(problem) = sc.and_then(|s| s.se_linux_options.as_ref()).and_then(selinux_problem) {
        ctx.push(&c::SELINUX, cn, || cref.at("/securityContext/seLinuxOptions"), || format!("{who} {problem}"));
    }
}

/// KG018: procMount.
fn proc_mount(ctx: &mut Ctx<'_>, ct: &Container<'_, '_>) {
    let cref = ct.cref;
    let who = &ct.who;
    let cn = ct.cn;
    let sc = ct.sc;
    if let Some(pm) = sc.and_then(|s| s.proc_mount.as_deref()).filter(|p| *p != "Default") {
        ctx.push(
            &c::PROC_MOUNT,
            cn,
            || cref.at("/securityContext/procMount"),
            || format!("{who} sets `procMount: {pm}`"),
        );
    }
}

/// KG023: host ports.
fn host_ports(ctx: &mut Ctx<'_>, ct: &Container<'_, '_>) {
    let cref = ct.cref;
    let ctr = ct.ctr;
    let who = &ct.who;
    let cn = ct.cn;
    for (i, port) in ctr.ports.iter().flatten().enumerate() {
        if let Some(hp) = port.host_port.filter(|p| *p != 0) {
            ctx.push(
                &c::HOST_PORT,
                cn,
                || cref.at(&format!("/ports/{i}/hostPort")),
                || format!("{who} binds host port {hp}"),
            );
        }
        if cref.kind != ContainerKind::Ephemeral
            && let Some(p) = port.container_port.filter(|p| *p < 1024)
        {
            ctx.push(
                &c::PRIVILEGED_PORT,
                cn,
                || cref.at(&format!("/ports/{i}/containerPort")),
                || format!("{who} listens on port {p}, below 1024"),
            );
        }
    }
}

/// KG028, KG029: secrets in the environment.
fn secrets_in_env(ctx: &mut Ctx<'_>, ct: &Container<'_, '_>) {
    let cref = ct.cref;
    let ctr = ct.ctr;
    let who = &ct.who;
    let cn = ct.cn;
    for (i, env) in ctr.env.iter().flatten().enumerate() {
        let var = env.name.as_deref().unwrap_or("");
        if let Some(r) = env.value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref()) {
            ctx.push(
                &c::SECRET_ENV_REF,
                cn,
                || cref.at(&format!("/env/{i}/valueFrom/secretKeyRef")),
                || {
                    format!(
                        "{who} reads key `{}` of Secret `{}` into environment variable `{var}`",
                        r.key.as_deref().unwrap_or(""),
                        r.name.as_deref().unwrap_or("")
                    )
                },
            );
        }
        if let Some(why) = env.value.as_deref().and_then(|value| secret_values::judge(var, value)) {
            ctx.push(
                &c::SECRET_ENV_LITERAL,
                cn,
                || cref.at(&format!("/env/{i}/value")),
                || format!("{who} sets environment variable `{var}`, which {}", why.describe()),
            );
        }
    }
    for (i, from) in ctr.env_from.iter().flatten().enumerate() {
        if let Some(r) = from.secret_ref.as_ref() {
            ctx.push(
                &c::SECRET_ENV_REF,
                cn,
                || cref.at(&format!("/envFrom/{i}/secretRef")),
                || {
                    format!(
                        "{who} imports every key of Secret `{}` as environment variables",
                        r.name.as_deref().unwrap_or("")
                    )
                },
            );
        }
    }
}

/// KG030, KG031, KG032: image tag, digest and pull policy.
fn image(ctx: &mut Ctx<'_>, ct: &Container<'_, '_>) {
    let cref = ct.cref;
    let ctr = ct.ctr;
    let who = &ct.who;
    let cn = ct.cn;
    if let Some(image) = ctr.image.as_deref().filter(|i| !i.trim().is_empty()) {
        let img = ImageRef::parse(image);
        let at = cref.at("/image");
        if !img.digest && img.tag.is_none_or(|t| t == "latest") {
            let msg = match img.tag {
                None => format!("{who} uses image `{image}` without a tag (defaults to latest)"),
                Some(_) => format!("{who} uses image `{image}` with the mutable `latest` tag"),
            };
            ctx.push(&c::IMAGE_TAG, cn, || at.clone(), || msg);
        }
        if !img.digest {
            ctx.push(&c::IMAGE_DIGEST, cn, || at, || format!("{who} uses image `{image}` without a digest"));
            let defaulted = if img.tag.is_none_or(|t| t == "latest") { "Always" } else { "IfNotPresent" };
            let policy = ctr.image_pull_policy.as_deref();
            let effective = policy.unwrap_or(defaulted);
            if effective != "Always" {
                let msg = match policy {
                    Some(p) => format!("{who} pulls mutable image `{image}` with `imagePullPolicy: {p}`"),
                    None => {
                        format!("{who} pulls mutable image `{image}` with the default `imagePullPolicy` ({defaulted})")
                    }
                };
                ctx.push(&c::PULL_POLICY, cn, || cref.at("/imagePullPolicy"), || msg);
            }
        }
    }
}

/// KG033..KG036: resource requests and limits (ephemeral containers have none).
fn resources(ctx: &mut Ctx<'_>, ct: &Container<'_, '_>) {
    let cref = ct.cref;
    let ctr = ct.ctr;
    let who = &ct.who;
    let cn = ct.cn;
    if cref.kind != ContainerKind::Ephemeral {
        let res = ctr.resources.as_ref();
        let has = |limits: bool, key: &str| {
            res.and_then(|r| if limits { r.limits.as_ref() } else { r.requests.as_ref() })
                .is_some_and(|m| m.contains_key(key))
        };
        for (resource, req_rule, lim_rule) in
            [("cpu", &c::CPU_REQUEST, &c::CPU_LIMIT), ("memory", &c::MEMORY_REQUEST, &c::MEMORY_LIMIT)]
        {
            let limit = has(true, resource);
            if !has(false, resource) && !limit {
                ctx.push(
                    req_rule,
                    cn,
                    || cref.at(&format!("/resources/requests/{resource}")),
                    || format!("{who} sets no {resource} request"),
                );
            }
            if !limit {
                ctx.push(
                    lim_rule,
                    cn,
                    || cref.at(&format!("/resources/limits/{resource}")),
                    || format!("{who} sets no {resource} limit"),
                );
            }
        }
    }
}

/// KG037: Windows hostProcess (container level; the pod level is reported once).
fn host_process(ctx: &mut Ctx<'_>, ct: &Container<'_, '_>) {
    let cref = ct.cref;
    let who = &ct.who;
    let cn = ct.cn;
    let sc = ct.sc;
    if sc.and_then(|s| s.windows_options.as_ref()).and_then(|w| w.host_process) == Some(true) {
        ctx.push(
            &c::HOST_PROCESS,
            cn,
            || cref.at("/securityContext/windowsOptions/hostProcess"),
            || format!("{who} sets `windowsOptions.hostProcess: true`"),
        );
    }
}

fn seccomp(
    ctx: &mut Ctx<'_>,
    cref: &ContainerRef<'_>,
    who: &Who<'_>,
    eff: Option<&Profile>,
    inherited: &dyn Fn(&str, bool, bool) -> String,
) {
    let view = ctx.view;
    let cn = Some(cref.name());
    let in_ctr = cref.container.security_context.as_ref().and_then(|s| s.seccomp_profile.as_ref()).is_some();
    let in_pod = view.spec.security_context.as_ref().and_then(|s| s.seccomp_profile.as_ref()).is_some();
    let pointer = || inherited("/seccompProfile/type", in_ctr, in_pod);
    match eff {
        Some(p) if p.type_str() == "Unconfined" => {
            ctx.push(&c::SECCOMP_UNCONFINED, cn, pointer, || format!("{who} runs with seccomp profile `Unconfined`"));
        }
        Some(p) if !p.type_str().is_empty() => {}
        _ => {
            let ctr_key = format!("{SECCOMP_CONTAINER_ANNOTATION}{}", cref.name());
            let (ann, key) = match view.template_annotation(&ctr_key) {
                Some(v) => (Some(v), ctr_key),
                None => (view.template_annotation(SECCOMP_POD_ANNOTATION), SECCOMP_POD_ANNOTATION.to_owned()),
            };
            let ann_pointer = || {
                format!("{}/annotations/{}", view.metadata_pointer(), kguard_model::yaml::escape_pointer_token(&key))
            };
            match ann {
                Some("unconfined") => ctx.push(&c::SECCOMP_UNCONFINED, cn, ann_pointer, || {
                    format!("{who} runs unconfined (annotation `{key}: unconfined`)")
                }),
                Some(v) if !v.is_empty() => {}
                _ => ctx.push(&c::SECCOMP_MISSING, cn, pointer, || {
                    format!("{who} has no seccomp profile (pod or container `seccompProfile.type`)")
                }),
            }
        }
    }
}

fn apparmor(
    ctx: &mut Ctx<'_>,
    cref: &ContainerRef<'_>,
    who: &Who<'_>,
    eff: Option<&Profile>,
    inherited: &dyn Fn(&str, bool, bool) -> String,
) {
    let view = ctx.view;
    let cn = Some(cref.name());
    let key = format!("{APPARMOR_ANNOTATION}{}", cref.name());
    let ann = view.template_annotation(&key);
    let ann_pointer =
        || format!("{}/annotations/{}", view.metadata_pointer(), kguard_model::yaml::escape_pointer_token(&key));
    if ann == Some("unconfined") {
        ctx.push(&c::APPARMOR_UNCONFINED, cn, ann_pointer, || {
            format!("{who} runs unconfined (annotation `{key}: unconfined`)")
        });
        return;
    }
    let in_ctr = cref.container.security_context.as_ref().and_then(|s| s.app_armor_profile.as_ref()).is_some();
    let in_pod = view.spec.security_context.as_ref().and_then(|s| s.app_armor_profile.as_ref()).is_some();
    let pointer = || inherited("/appArmorProfile/type", in_ctr, in_pod);
    match eff {
        Some(p) if p.type_str() == "Unconfined" => {
            ctx.push(&c::APPARMOR_UNCONFINED, cn, pointer, || format!("{who} runs with AppArmor profile `Unconfined`"));
        }
        Some(p) if !p.type_str().is_empty() => {}
        _ if ann.is_some_and(|a| !a.is_empty()) => {}
        _ => ctx.push(&c::APPARMOR_MISSING, cn, pointer, || format!("{who} has no AppArmor profile")),
    }
}

/// `container `web``, `init container `migrate``: how messages name a container (formatted only
/// when a message is).
struct Who<'a>(ContainerKind, &'a str);

impl std::fmt::Display for Who<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} `{}`", kind_word(self.0), self.1)
    }
}

fn kind_word(kind: ContainerKind) -> &'static str {
    match kind {
        ContainerKind::Init => "init container",
        ContainerKind::Regular => "container",
        ContainerKind::Ephemeral => "ephemeral container",
    }
}

/// The parts of an image reference the rules read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ImageRef<'a> {
    /// The tag, when one is given.
    pub tag: Option<&'a str>,
    /// Whether a digest is given.
    pub digest: bool,
}

impl<'a> ImageRef<'a> {
    /// Splits `registry:port/name:tag@digest`.
    pub fn parse(image: &'a str) -> Self {
        let (rest, digest) = match image.split_once('@') {
            Some((r, d)) => (r, !d.is_empty()),
            None => (image, false),
        };
        let last = rest.rsplit('/').next().unwrap_or(rest);
        let tag = last.rsplit_once(':').map(|(_, t)| t).filter(|t| !t.is_empty());
        Self { tag, digest }
    }
}

/// The twin UID and GID rules: the root id (KG008 / KG009), and an id below 10000 or unset
/// (KG010 / KG011).
struct IdRules {
    root: &'static RuleMeta,
    low: &'static RuleMeta,
    field: &'static str,
    /// "runs as UID 0 (root)"
    root_text: &'static str,
    /// "runs as UID" (followed by the id)
    low_text: &'static str,
    /// What the image supplies when unset ("user").
    image_default: &'static str,
}

const UID_RULES: IdRules = IdRules {
    root: &c::RUN_AS_ROOT_UID,
    low: &c::LOW_UID,
    field: "runAsUser",
    root_text: "runs as UID 0 (root)",
    low_text: "runs as UID",
    image_default: "user",
};

const GID_RULES: IdRules = IdRules {
    root: &c::RUN_AS_ROOT_GID,
    low: &c::LOW_GID,
    field: "runAsGroup",
    root_text: "runs with GID 0 (root group)",
    low_text: "runs with GID",
    image_default: "group",
};

fn id_rules(
    ctx: &mut Ctx<'_>,
    r: &IdRules,
    cn: Option<&str>,
    who: &Who<'_>,
    id: Option<i64>,
    pointer: &dyn Fn() -> String,
) {
    match id {
        Some(0) => ctx.push(r.root, cn, pointer, || format!("{who} {}", r.root_text)),
        Some(n) if n < 10000 => ctx.push(r.low, cn, pointer, || format!("{who} {} {n}, below 10000", r.low_text)),
        None => ctx.push(r.low, cn, pointer, || {
            format!("{who} sets no `{}` (pod or container); the image's {} is used", r.field, r.image_default)
        }),
        Some(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images() {
        assert_eq!(ImageRef::parse("nginx"), ImageRef { tag: None, digest: false });
        assert_eq!(ImageRef::parse("reg:5000/nginx"), ImageRef { tag: None, digest: false });
        assert_eq!(ImageRef::parse("reg:5000/a/nginx:1.2"), ImageRef { tag: Some("1.2"), digest: false });
        assert_eq!(ImageRef::parse("nginx:latest@sha256:abc"), ImageRef { tag: Some("latest"), digest: true });
        assert_eq!(ImageRef::parse("nginx@sha256:abc"), ImageRef { tag: None, digest: true });
    }

    #[test]
    fn sensitive_paths() {
        for p in [
            "/",
            "//",
            "/etc",
            "/etc/",
            "/etc/kubernetes",
            "/proc/sys",
            "/var/run/docker.sock",
            "/run/containerd/containerd.sock",
            "/var/lib/kubelet/pki",
            "/root",
            "/var/run",
        ] {
            assert!(sensitive_path(p).is_some(), "{p}");
        }
        for p in ["/data", "/var/log", "/etcd", "/var/run/app", "/opt/proc", "relative"] {
            assert!(sensitive_path(p).is_none(), "{p}");
        }
    }
}
