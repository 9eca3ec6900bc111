//! The kguard rules of the Pod Security Standards checks: one per upstream check id, `PSS001`..
//! `PSS019` in upstream result order (baseline checks, then restricted ones, each sorted by id).
//!
//! Severity: `critical` for the baseline checks whose failure hands a container the node
//! (`privileged`, `hostPathVolumes`, `hostNamespaces`, `windowsHostProcess`); `high` for the other
//! baseline checks (known privilege escalations); `medium` for the restricted checks (hardening).

use kguard_report::{RuleMeta, Severity};

const PSS: &str = "https://kubernetes.io/docs/concepts/security/pod-security-standards/";
const PSA: &str = "https://kubernetes.io/docs/concepts/security/pod-security-admission/";
const SECCTX: &str = "https://kubernetes.io/docs/tasks/configure-pod-container/security-context/";

#[allow(clippy::too_many_arguments)]
const fn rule(
    id: &'static str,
    name: &'static str,
    severity: Severity,
    title: &'static str,
    what: &'static str,
    why: &'static str,
    fix: &'static str,
    aliases: &'static [&'static str],
) -> RuleMeta {
    RuleMeta { id, name, family: "pss", severity, title, what, why, fix, references: &[PSS, PSA, SECCTX], aliases }
}

/// Every Pod Security Standards rule, in upstream check order.
pub const RULES: &[RuleMeta] = &[
    rule(
        "PSS001",
        "appArmorProfile",
        Severity::High,
        "AppArmor profile overridden or disabled",
        "Baseline: the pod or a container sets `securityContext.appArmorProfile.type` to something other than \
         `RuntimeDefault` or `Localhost`, or an annotation `container.apparmor.security.beta.kubernetes.io/<name>` \
         is set to something other than `runtime/default`, `localhost/<profile>` or empty (all versions).",
        "AppArmor confines what a container's processes may do on the node; `Unconfined` removes that layer \
         and makes kernel and filesystem attacks from a compromised container easier.",
        "Remove the `appArmorProfile` settings and annotations, or set `type: RuntimeDefault` (or `Localhost` \
         with a vetted profile).",
        &["apparmorprofile", "KSV002"],
    ),
    rule(
        "PSS002",
        "capabilities_baseline",
        Severity::High,
        "Non-default Linux capabilities added",
        "Baseline: a container adds a capability outside the default set (AUDIT_WRITE, CHOWN, DAC_OVERRIDE, \
         FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT) in \
         `securityContext.capabilities.add`. Replaced by `capabilities_restricted` at the restricted level \
         from v1.22.",
        "Capabilities such as SYS_ADMIN, NET_ADMIN, SYS_PTRACE or SYS_MODULE give root-like powers over the \
         node's kernel and are the usual stepping stones of container escapes.",
        "Remove the extra capabilities from `securityContext.capabilities.add`; grant only what the program \
         needs from the default set.",
        &["KSV022"],
    ),
    rule(
        "PSS003",
        "hostNamespaces",
        Severity::Critical,
        "Host namespaces shared",
        "Baseline: the pod sets `hostNetwork`, `hostPID` or `hostIPC` to true.",
        "Sharing the node's network, process or IPC namespace lets the pod sniff and bind node traffic, see and \
         signal every process on the node, or read shared memory of other workloads.",
        "Remove `hostNetwork`, `hostPID` and `hostIPC` (or set them to false); expose ports through a Service.",
        &["hostnamespaces", "KSV008", "KSV009", "KSV010", "CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19"],
    ),
    rule(
        "PSS004",
        "hostPathVolumes",
        Severity::Critical,
        "hostPath volume mounted",
        "Baseline: a volume uses `hostPath`. Replaced by `restrictedVolumes` at the restricted level.",
        "A hostPath volume exposes the node's filesystem to the container: writing to it, or reading \
         credentials and sockets from it (kubelet, container runtime), compromises the node.",
        "Use an emptyDir, configMap, secret, projected or persistentVolumeClaim volume instead of `hostPath`.",
        &["hostpathvolumes", "KSV023"],
    ),
    rule(
        "PSS005",
        "hostPorts",
        Severity::High,
        "Host port used",
        "Baseline: a container port sets a non-zero `hostPort`.",
        "Host ports bind directly on the node, bypass network policies applied to Service traffic and limit \
         scheduling; they are a common way to expose something unintentionally.",
        "Remove `hostPort` from the container ports; expose the application through a Service.",
        &["hostports", "KSV024"],
    ),
    rule(
        "PSS006",
        "hostProbesAndHostLifecycle",
        Severity::High,
        "Probe or lifecycle hook targets another host",
        "Baseline (v1.34 and later): a liveness, readiness or startup probe, or a postStart/preStop hook, sets \
         `httpGet.host` or `tcpSocket.host`.",
        "The kubelet sends probe and hook requests from the node; a custom host turns it into a proxy that can \
         reach node-local or internal services the pod itself could not.",
        "Remove the `host` field from probes and lifecycle handlers so that they target the pod's own IP.",
        &["hostprobesandhostlifecycle"],
    ),
    rule(
        "PSS007",
        "privileged",
        Severity::Critical,
        "Privileged container",
        "Baseline: a container sets `securityContext.privileged: true`.",
        "A privileged container has every capability and access to all host devices; escaping to the node is \
         trivial.",
        "Remove `privileged: true`; grant specific capabilities only if strictly needed.",
        &["KSV017", "CKV_K8S_16"],
    ),
    rule(
        "PSS008",
        "procMount",
        Severity::High,
        "Unmasked /proc mount",
        "Baseline: a container sets `securityContext.procMount` to something other than `Default`. From v1.35 \
         a pod with `hostUsers: false` (a user namespace) may. Replaced by `procMount_restricted` at the \
         restricted level from v1.35.",
        "The default /proc mount masks paths that leak host information or allow kernel tuning; `Unmasked` \
         exposes them.",
        "Remove `procMount` or set it to `Default`.",
        &["procmount", "KSV027"],
    ),
    rule(
        "PSS009",
        "seLinuxOptions",
        Severity::High,
        "Custom SELinux options",
        "Baseline: the pod or a container sets `seLinuxOptions.user` or `.role`, or a `type` other than \
         container_t, container_init_t, container_kvm_t (and container_engine_t from v1.31).",
        "Custom SELinux users, roles or types can lift the confinement the runtime applies to containers.",
        "Remove `seLinuxOptions`, or keep only an allowed `type` (and `level`).",
        &["selinuxoptions", "KSV025"],
    ),
    rule(
        "PSS010",
        "seccompProfile_baseline",
        Severity::High,
        "Seccomp explicitly disabled",
        "Baseline: before v1.19 the seccomp annotations (`seccomp.security.alpha.kubernetes.io/pod`, \
         `container.seccomp.security.alpha.kubernetes.io/<name>`) are set to something other than \
         `runtime/default`, `docker/default` or `localhost/<profile>`; from v1.19 the pod or a container sets \
         `seccompProfile.type` to something other than `RuntimeDefault` or `Localhost`. Replaced by \
         `seccompProfile_restricted` at the restricted level from v1.19.",
        "Seccomp filters the system calls a container may make; `Unconfined` exposes the whole kernel attack \
         surface.",
        "Set `securityContext.seccompProfile.type: RuntimeDefault` (or `Localhost`), or remove the setting.",
        &["seccompprofile_baseline", "KSV104"],
    ),
    rule(
        "PSS011",
        "sysctls",
        Severity::High,
        "Unsafe sysctls",
        "Baseline: the pod sets a sysctl outside the safe set (kernel.shm_rmid_forced, \
         net.ipv4.ip_local_port_range, net.ipv4.tcp_syncookies, net.ipv4.ping_group_range, \
         net.ipv4.ip_unprivileged_port_start; net.ipv4.ip_local_reserved_ports from v1.27; \
         net.ipv4.tcp_keepalive_time, tcp_fin_timeout, tcp_keepalive_intvl, tcp_keepalive_probes from v1.29; \
         net.ipv4.tcp_rmem, tcp_wmem from v1.32; net.ipv4.tcp_slow_start_after_idle, tcp_notsent_lowat from \
         v1.37).",
        "Sysctls outside the namespaced safe set can change kernel behaviour for the whole node or weaken \
         its defences.",
        "Remove the unsafe entries from `securityContext.sysctls`.",
        &["KSV026"],
    ),
    rule(
        "PSS012",
        "windowsHostProcess",
        Severity::Critical,
        "Windows HostProcess container",
        "Baseline: the pod or a container sets `securityContext.windowsOptions.hostProcess: true`.",
        "A Windows HostProcess container runs directly on the host with host privileges; it is the Windows \
         equivalent of a privileged container.",
        "Remove `windowsOptions.hostProcess` (or set it to false).",
        &["windowshostprocess", "KSV103"],
    ),
    rule(
        "PSS013",
        "allowPrivilegeEscalation",
        Severity::Medium,
        "Privilege escalation not disabled",
        "Restricted (v1.8 and later): a container does not set `securityContext.allowPrivilegeEscalation: \
         false`. From v1.25, pods with `spec.os.name: windows` are exempt.",
        "Without `no_new_privs`, setuid binaries and file capabilities can give a process more privileges than \
         its parent.",
        "Set `securityContext.allowPrivilegeEscalation: false` on every container, init container and \
         ephemeral container.",
        &["allowprivilegeescalation", "KSV001", "CKV_K8S_20"],
    ),
    rule(
        "PSS014",
        "capabilities_restricted",
        Severity::Medium,
        "Capabilities not dropped",
        "Restricted (v1.22 and later): a container does not drop `ALL` capabilities, or adds one other than \
         NET_BIND_SERVICE. From v1.25, pods with `spec.os.name: windows` are exempt.",
        "Dropping every capability removes the default root powers a compromised process could use.",
        "Set `securityContext.capabilities.drop: [\"ALL\"]` and add back only `NET_BIND_SERVICE` if needed.",
        &["KSV003"],
    ),
    rule(
        "PSS015",
        "procMount_restricted",
        Severity::Medium,
        "Unmasked /proc mount (restricted)",
        "Restricted (v1.35 and later): a container sets `securityContext.procMount` to something other than \
         `Default`, even in a user namespace.",
        "The default /proc mount masks paths that leak host information or allow kernel tuning.",
        "Remove `procMount` or set it to `Default`.",
        &["procmount_restricted"],
    ),
    rule(
        "PSS016",
        "restrictedVolumes",
        Severity::Medium,
        "Restricted volume type",
        "Restricted: a volume uses a type other than configMap, csi, downwardAPI, emptyDir, ephemeral, image, \
         persistentVolumeClaim, projected or secret.",
        "In-tree volume types such as hostPath, nfs or iscsi give the pod direct access to node or network \
         storage outside the control of PersistentVolumes.",
        "Use one of the allowed volume types; reach other storage through a PersistentVolumeClaim.",
        &["restrictedvolumes", "KSV028"],
    ),
    rule(
        "PSS017",
        "runAsNonRoot",
        Severity::Medium,
        "Containers may run as root",
        "Restricted: the pod or a container sets `runAsNonRoot: false`, or a container leaves it unset while \
         the pod does not set it to true. From v1.35, pods with `hostUsers: false` are exempt.",
        "Root in a container is root on the node's kernel; many escapes need it.",
        "Set `securityContext.runAsNonRoot: true` at the pod level (and run the image as a non-zero UID).",
        &["runasnonroot", "KSV012"],
    ),
    rule(
        "PSS018",
        "runAsUser",
        Severity::Medium,
        "Runs as UID 0",
        "Restricted (v1.23 and later): the pod or a container sets `runAsUser: 0`. From v1.35, pods with \
         `hostUsers: false` are exempt.",
        "UID 0 is root; running as root defeats most container hardening.",
        "Set `runAsUser` to a non-zero UID, or remove it and run an image whose user is not root.",
        &["runasuser"],
    ),
    rule(
        "PSS019",
        "seccompProfile_restricted",
        Severity::Medium,
        "Seccomp profile not set",
        "Restricted (v1.19 and later): the pod or a container sets `seccompProfile.type` to something other \
         than `RuntimeDefault` or `Localhost`, or a container leaves it unset while the pod does not set a \
         valid one. From v1.25, pods with `spec.os.name: windows` are exempt.",
        "Seccomp filters the system calls a container may make; without a profile the whole kernel attack \
         surface is exposed.",
        "Set `securityContext.seccompProfile.type: RuntimeDefault` at the pod level.",
        &["seccompprofile_restricted"],
    ),
];
