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

/// Every Pod Security Standards rule, in upstream check order.
pub const RULES: &[RuleMeta] = &[
    RuleMeta {
        id: "PSS001",
        name: "appArmorProfile",
        family: "pss",
        severity: Severity::High,
        title: "AppArmor profile overridden or disabled",
        what: "Baseline: the pod or a container sets `securityContext.appArmorProfile.type` to something other than \
         `RuntimeDefault` or `Localhost`, or an annotation `container.apparmor.security.beta.kubernetes.io/<name>` \
         is set to something other than `runtime/default`, `localhost/<profile>` or empty (all versions).",
        why: "AppArmor confines what a container's processes may do on the node; `Unconfined` removes that layer \
         and makes kernel and filesystem attacks from a compromised container easier.",
        fix: "Remove the `appArmorProfile` settings and annotations, or set `type: RuntimeDefault` (or `Localhost` \
         with a vetted profile).",
        references: &[PSS, PSA, SECCTX],
        aliases: &["apparmorprofile", "KSV002"],
        opt_in: false,
    },
    RuleMeta {
        id: "PSS002",
        name: "capabilities_baseline",
        family: "pss",
        severity: Severity::High,
        title: "Non-default Linux capabilities added",
        what: "Baseline: a container adds a capability outside the default set (AUDIT_WRITE, CHOWN, DAC_OVERRIDE, \
         FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT) in \
         `securityContext.capabilities.add`. Replaced by `capabilities_restricted` at the restricted level \
         from v1.22.",
        why: "Capabilities such as SYS_ADMIN, NET_ADMIN, SYS_PTRACE or SYS_MODULE give root-like powers over the \
         node's kernel and are the usual stepping stones of container escapes.",
        fix: "Remove the extra capabilities from `securityContext.capabilities.add`; grant only what the program \
         needs from the default set.",
        references: &[PSS, PSA, SECCTX],
        aliases: &["KSV022"],
        opt_in: false,
    },
    RuleMeta {
        id: "PSS003",
        name: "hostNamespaces",
        family: "pss",
        severity: Severity::Critical,
        title: "Host namespaces shared",
        what: "Baseline: the pod sets `hostNetwork`, `hostPID` or `hostIPC` to true.",
        why: "Sharing the node's network, process or IPC namespace lets the pod sniff and bind node traffic, see and \
         signal every process on the node, or read shared memory of other workloads.",
        fix: "Remove `hostNetwork`, `hostPID` and `hostIPC` (or set them to false); expose ports through a Service.",
        references: &[PSS, PSA, SECCTX],
        aliases: &["hostnamespaces", "KSV008", "KSV009", "KSV010", "CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19"],
        opt_in: false,
    },
    RuleMeta {
        id: "PSS004",
        name: "hostPathVolumes",
        family: "pss",
        severity: Severity::Critical,
        title: "hostPath volume mounted",
        what: "Baseline: a volume uses `hostPath`. Replaced by `restrictedVolumes` at the restricted level.",
        why: "A hostPath volume exposes the node's filesystem to the container: writing to it, or reading \
         credentials and sockets from it (kubelet, container runtime), compromises the node.",
        fix: "Use an emptyDir, configMap, secret, projected or persistentVolumeClaim volume instead of `hostPath`.",
        references: &[PSS, PSA, SECCTX],
        aliases: &["hostpathvolumes", "KSV023"],
        opt_in: false,
    },
    RuleMeta {
        id: "PSS005",
        name: "hostPorts",
        family: "pss",
        severity: Severity::High,
        title: "Host port used",
        what: "Baseline: a container port sets a non-zero `hostPort`.",
        why: "Host ports bind directly on the node, bypass network policies applied to Service traffic and limit \
         scheduling; they are a common way to expose something unintentionally.",
        fix: "Remove `hostPort` from the container ports; expose the application through a Service.",
        references: &[PSS, PSA, SECCTX],
        aliases: &["hostports", "KSV024"],
        opt_in: false,
    },
    RuleMeta {
        id: "PSS006",
        name: "hostProbesAndHostLifecycle",
        family: "pss",
        severity: Severity::High,
        title: "Probe or lifecycle hook targets another host",
        what: "Baseline (v1.34 and later): a liveness, readiness or startup probe, or a postStart/preStop hook, sets \
         `httpGet.host` or `tcpSocket.host`.",
        why: "The kubelet sends probe and hook requests from the node; a custom host turns it into a proxy that can \
         reach node-local or internal services the pod itself could not.",
        fix: "Remove the `host` field from probes and lifecycle handlers so that they target the pod's own IP.",
        references: &[PSS, PSA, SECCTX],
        aliases: &["hostprobesandhostlifecycle"],
        opt_in: false,
    },
    RuleMeta {
        id: "PSS007",
        name: "privileged",
        family: "pss",
        severity: Severity::Critical,
        title: "Privileged container",
        what: "Baseline: a container sets `securityContext.privileged: true`.",
        why: "A privileged container has every capability and access to all host devices; escaping to the node is \
         trivial.",
        fix: "Remove `privileged: true`; grant specific capabilities only if strictly needed.",
        references: &[PSS, PSA, SECCTX],
        aliases: &["KSV017", "CKV_K8S_16"],
        opt_in: false,
    },
    RuleMeta {
        id: "PSS008",
        name: "procMount",
        family: "pss",
        severity: Severity::High,
        title: "Unmasked /proc mount",
        what: "Baseline: a container sets `securityContext.procMount` to something other than `Default`. From v1.35 \
         a pod with `hostUsers: false` (a user namespace) may. Replaced by `procMount_restricted` at the \
         restricted level from v1.35.",
        why: "The default /proc mount masks paths that leak host information or allow kernel tuning; `Unmasked` \
         exposes them.",
        fix: "Remove `procMount` or set it to `Default`.",
        references: &[PSS, PSA, SECCTX],
        aliases: &["procmount", "KSV027"],
        opt_in: false,
    },
    RuleMeta {
        id: "PSS009",
        name: "seLinuxOptions",
        family: "pss",
        severity: Severity::High,
        title: "Custom SELinux options",
        what: "Baseline: the pod or a container sets `seLinuxOptions.user` or `.role`, or a `type` other than \
         container_t, container_init_t, container_kvm_t (and container_engine_t from v1.31).",
        why: "Custom SELinux users, roles or types can lift the confinement the runtime applies to containers.",
        fix: "Remove `seLinuxOptions`, or keep only an allowed `type` (and `level`).",
        references: &[PSS, PSA, SECCTX],
        aliases: &["selinuxoptions", "KSV025"],
        opt_in: false,
    },
    RuleMeta {
        id: "PSS010",
        name: "seccompProfile_baseline",
        family: "pss",
        severity: Severity::High,
        title: "Seccomp explicitly disabled",
        what: "Baseline: before v1.19 the seccomp annotations (`seccomp.security.alpha.kubernetes.io/pod`, \
         `container.seccomp.security.alpha.kubernetes.io/<name>`) are set to something other than \
         `runtime/default`, `docker/default` or `localhost/<profile>`; from v1.19 the pod or a container sets \
         `seccompProfile.type` to something other than `RuntimeDefault` or `Localhost`. Replaced by \
         `seccompProfile_restricted` at the restricted level from v1.19.",
        why: "Seccomp filters the system calls a container may make; `Unconfined` exposes the whole kernel attack \
         surface.",
        fix: "Set `securityContext.seccompProfile.type: RuntimeDefault` (or `Localhost`), or remove the setting.",
        references: &[PSS, PSA, SECCTX],
        aliases: &["seccompprofile_baseline", "KSV104"],
        opt_in: false,
    },
    RuleMeta {
        id: "PSS011",
        name: "sysctls",
        family: "pss",
        severity: Severity::High,
        title: "Unsafe sysctls",
        what: "Baseline: the pod sets a sysctl outside the safe set (kernel.shm_rmid_forced, \
         net.ipv4.ip_local_port_range, net.ipv4.tcp_syncookies, net.ipv4.ping_group_range, \
         net.ipv4.ip_unprivileged_port_start; net.ipv4.ip_local_reserved_ports from v1.27; \
         net.ipv4.tcp_keepalive_time, tcp_fin_timeout, tcp_keepalive_intvl, tcp_keepalive_probes from v1.29; \
         net.ipv4.tcp_rmem, tcp_wmem from v1.32; net.ipv4.tcp_slow_start_after_idle, tcp_notsent_lowat from \
         v1.37).",
        why: "Sysctls outside the namespaced safe set can change kernel behaviour for the whole node or weaken \
         its defences.",
        fix: "Remove the unsafe entries from `securityContext.sysctls`.",
        references: &[PSS, PSA, SECCTX],
        aliases: &["KSV026"],
        opt_in: false,
    },
    RuleMeta {
        id: "PSS012",
        name: "windowsHostProcess",
        family: "pss",
        severity: Severity::Critical,
        title: "Windows HostProcess container",
        what: "Baseline: the pod or a container sets `securityContext.windowsOptions.hostProcess: true`.",
        why: "A Windows HostProcess container runs directly on the host with host privileges; it is the Windows \
         equivalent of a privileged container.",
        fix: "Remove `windowsOptions.hostProcess` (or set it to false).",
        references: &[PSS, PSA, SECCTX],
        aliases: &["windowshostprocess", "KSV103"],
        opt_in: false,
    },
    RuleMeta {
        id: "PSS013",
        name: "allowPrivilegeEscalation",
        family: "pss",
        severity: Severity::Medium,
        title: "Privilege escalation not disabled",
        what: "Restricted (v1.8 and later): a container does not set `securityContext.allowPrivilegeEscalation: \
         false`. From v1.25, pods with `spec.os.name: windows` are exempt.",
        why: "Without `no_new_privs`, setuid binaries and file capabilities can give a process more privileges than \
         its parent.",
        fix: "Set `securityContext.allowPrivilegeEscalation: false` on every container, init container and \
         ephemeral container.",
        references: &[PSS, PSA, SECCTX],
        aliases: &["allowprivilegeescalation", "KSV001", "CKV_K8S_20"],
        opt_in: false,
    },
    RuleMeta {
        id: "PSS014",
        name: "capabilities_restricted",
        family: "pss",
        severity: Severity::Medium,
        title: "Capabilities not dropped",
        what: "Restricted (v1.22 and later): a container does not drop `ALL` capabilities, or adds one other than \
         NET_BIND_SERVICE. From v1.25, pods with `spec.os.name: windows` are exempt.",
        why: "Dropping every capability removes the default root powers a compromised process could use.",
        fix: "Set `securityContext.capabilities.drop: [\"ALL\"]` and add back only `NET_BIND_SERVICE` if needed.",
        references: &[PSS, PSA, SECCTX],
        aliases: &[],
        opt_in: false,
    },
    RuleMeta {
        id: "PSS015",
        name: "procMount_restricted",
        family: "pss",
        severity: Severity::Medium,
        title: "Unmasked /proc mount (restricted)",
        what: "Restricted (v1.35 and later): a container sets `securityContext.procMount` to something other than \
         `Default`, even in a user namespace.",
        why: "The default /proc mount masks paths that leak host information or allow kernel tuning.",
        fix: "Remove `procMount` or set it to `Default`.",
        references: &[PSS, PSA, SECCTX],
        aliases: &["procmount_restricted"],
        opt_in: false,
    },
    RuleMeta {
        id: "PSS016",
        name: "restrictedVolumes",
        family: "pss",
        severity: Severity::Medium,
        title: "Restricted volume type",
        what: "Restricted: a volume uses a type other than configMap, csi, downwardAPI, emptyDir, ephemeral, image, \
         persistentVolumeClaim, projected or secret.",
        why: "In-tree volume types such as hostPath, nfs or iscsi give the pod direct access to node or network \
         storage outside the control of PersistentVolumes.",
        fix: "Use one of the allowed volume types; reach other storage through a PersistentVolumeClaim.",
        references: &[PSS, PSA, SECCTX],
        aliases: &["restrictedvolumes"],
        opt_in: false,
    },
    RuleMeta {
        id: "PSS017",
        name: "runAsNonRoot",
        family: "pss",
        severity: Severity::Medium,
        title: "Containers may run as root",
        what: "Restricted: the pod or a container sets `runAsNonRoot: false`, or a container leaves it unset while \
         the pod does not set it to true. From v1.35, pods with `hostUsers: false` are exempt.",
        why: "Root in a container is root on the node's kernel; many escapes need it.",
        fix: "Set `securityContext.runAsNonRoot: true` at the pod level (and run the image as a non-zero UID).",
        references: &[PSS, PSA, SECCTX],
        aliases: &["runasnonroot"],
        opt_in: false,
    },
    RuleMeta {
        id: "PSS018",
        name: "runAsUser",
        family: "pss",
        severity: Severity::Medium,
        title: "Runs as UID 0",
        what: "Restricted (v1.23 and later): the pod or a container sets `runAsUser: 0`. From v1.35, pods with \
         `hostUsers: false` are exempt.",
        why: "UID 0 is root; running as root defeats most container hardening.",
        fix: "Set `runAsUser` to a non-zero UID, or remove it and run an image whose user is not root.",
        references: &[PSS, PSA, SECCTX],
        aliases: &["runasuser"],
        opt_in: false,
    },
    RuleMeta {
        id: "PSS019",
        name: "seccompProfile_restricted",
        family: "pss",
        severity: Severity::Medium,
        title: "Seccomp profile not set",
        what: "Restricted (v1.19 and later): the pod or a container sets `seccompProfile.type` to something other \
         than `RuntimeDefault` or `Localhost`, or a container leaves it unset while the pod does not set a \
         valid one. From v1.25, pods with `spec.os.name: windows` are exempt.",
        why: "Seccomp filters the system calls a container may make; without a profile the whole kernel attack \
         surface is exposed.",
        fix: "Set `securityContext.seccompProfile.type: RuntimeDefault` at the pod level.",
        references: &[PSS, PSA, SECCTX],
        aliases: &["seccompprofile_restricted"],
        opt_in: false,
    },
];
