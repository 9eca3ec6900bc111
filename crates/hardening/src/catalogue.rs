//! The hardening rule definitions (`KG001`..): one `RuleMeta` each, with its documentation and the
//! equivalent ids of other tools (kubesec rule id, Trivy `KSVnnn` / `KSV-nnnn` / `AVD-KSV-nnnn`,
//! Checkov `CKV_K8S_n`, Polaris check, kube-linter check, kube-score test).
//!
//! Families (for `--select`): `hardening` (container security context), `host` (host namespaces,
//! ports and paths), `secrets` (service-account tokens, secrets in the environment), `images`,
//! `resources`, `rbac-object` (one Role or binding on its own), `service`.

use kguard_report::{RuleMeta, Severity};

const SECCTX: &str = "https://kubernetes.io/docs/tasks/configure-pod-container/security-context/";
const PSS: &str = "https://kubernetes.io/docs/concepts/security/pod-security-standards/";
const CAPS: &str = "https://man7.org/linux/man-pages/man7/capabilities.7.html";
const SECCOMP: &str = "https://kubernetes.io/docs/tutorials/security/seccomp/";
const APPARMOR: &str = "https://kubernetes.io/docs/tutorials/security/apparmor/";
const VOLUMES: &str = "https://kubernetes.io/docs/concepts/storage/volumes/#hostpath";
const SA: &str = "https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/";
const SECRETS: &str = "https://kubernetes.io/docs/concepts/security/secrets-good-practices/";
const IMAGES: &str = "https://kubernetes.io/docs/concepts/containers/images/";
const RESOURCES: &str = "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/";
const RBAC: &str = "https://kubernetes.io/docs/concepts/security/rbac-good-practices/";
const RBAC_REF: &str = "https://kubernetes.io/docs/reference/access-authn-authz/rbac/";
const SERVICE: &str =
    "https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types";
const USERNS: &str = "https://kubernetes.io/docs/concepts/workloads/pods/user-namespaces/";
const SYSCTL: &str = "https://kubernetes.io/docs/tasks/administer-cluster/sysctl-cluster/";
const WINDOWS: &str = "https://kubernetes.io/docs/tasks/configure-pod-container/create-hostprocess-pod/";

/// `KG001`: privileged container.
pub const PRIVILEGED: RuleMeta = RuleMeta {
    id: "KG001",
    name: "privileged-container",
    family: "hardening",
    severity: Severity::Critical,
    title: "Container runs privileged",
    what: "A container (init and ephemeral containers included) sets `securityContext.privileged: true`.",
    why: "A privileged container has every capability, sees every host device and is not confined by seccomp, \
     AppArmor or SELinux: it is root on the node in all but name, and escaping it is trivial.",
    fix: "Remove `privileged: true` (or set it to false) and grant only the specific capabilities the program needs.",
    references: &[SECCTX, PSS],
    aliases: &[
        "Privileged",
        "KSV017",
        "KSV-0017",
        "AVD-KSV-0017",
        "CKV_K8S_16",
        "runAsPrivileged",
        "privileged-container",
        "container-security-context-privileged",
    ],
    opt_in: false,
};

/// `KG002`: allowPrivilegeEscalation not set to false.
pub const PRIV_ESC_UNSET: RuleMeta = RuleMeta {
    id: "KG002",
    name: "privilege-escalation-unset",
    family: "hardening",
    severity: Severity::Medium,
    title: "allowPrivilegeEscalation not set to false",
    what: "A Linux container does not set `securityContext.allowPrivilegeEscalation`; the runtime then allows it \
     (the `no_new_privs` flag is not set). An explicit `true` is reported by KG003 instead.",
    why: "Without `no_new_privs`, a process can gain privileges through setuid/setgid binaries or file \
     capabilities, turning a foothold in the container into root inside it.",
    fix: "Set `securityContext.allowPrivilegeEscalation: false` on every container.",
    references: &[SECCTX, PSS],
    aliases: &["KSV001", "KSV-0001", "AVD-KSV-0001", "CKV_K8S_20", "privilegeEscalationAllowed"],
    opt_in: false,
};

/// `KG003`: allowPrivilegeEscalation set to true.
pub const PRIV_ESC_TRUE: RuleMeta = RuleMeta {
    id: "KG003",
    name: "privilege-escalation-allowed",
    family: "hardening",
    severity: Severity::High,
    title: "allowPrivilegeEscalation set to true",
    what: "A container explicitly sets `securityContext.allowPrivilegeEscalation: true`.",
    why: "Explicitly allowing privilege escalation lets setuid binaries and file capabilities raise a process's \
     privileges; it is almost never needed by application containers.",
    fix: "Set `securityContext.allowPrivilegeEscalation: false`.",
    references: &[SECCTX, PSS],
    aliases: &[
        "AllowPrivilegeEscalation",
        "KSV001",
        "KSV-0001",
        "AVD-KSV-0001",
        "CKV_K8S_20",
        "privilegeEscalationAllowed",
        "privilege-escalation-container",
    ],
    opt_in: false,
};

/// `KG004`: dangerous capabilities added.
pub const DANGEROUS_CAPS: RuleMeta = RuleMeta {
    id: "KG004",
    name: "dangerous-capabilities",
    family: "hardening",
    severity: Severity::High,
    title: "Dangerous Linux capability added",
    what: "A container adds, in `securityContext.capabilities.add`, one of ALL, SYS_ADMIN, NET_ADMIN, NET_RAW, \
     SYS_PTRACE, SYS_MODULE, SYS_RAWIO, SYS_BOOT, SYS_TIME, BPF, PERFMON, DAC_READ_SEARCH, MAC_ADMIN, \
     MAC_OVERRIDE, SYSLOG or LINUX_IMMUTABLE (case-insensitive, with or without the `CAP_` prefix).",
    why: "These capabilities grant root-like control over the node's kernel (mounting, loading modules, tracing \
     other processes, reading any file, raw packets for spoofing) and are the usual stepping stones of \
     container escapes.",
    fix: "Remove the capability from `capabilities.add`; drop ALL and add back only harmless ones such as \
     NET_BIND_SERVICE.",
    references: &[CAPS, SECCTX, PSS],
    // Trivy's KSV005/KSV119/KSV120 and Checkov's CKV_K8S_39 name one capability each, exact case:
    // KG053-KG055. Trivy's KSV022 and Checkov's CKV_K8S_25 fail any added capability (with KG005
    // and KG056, NET_BIND_SERVICE, the union is exact); KSV106 any but NET_BIND_SERVICE.
    aliases: &[
        "CapSysAdmin",
        "KSV022",
        "KSV-0022",
        "AVD-KSV-0022",
        "KSV106",
        "KSV-0106",
        "AVD-KSV-0106",
        "CKV_K8S_25",
        "dangerousCapabilities",
    ],
    opt_in: false,
};

/// `KG005`: other capabilities added.
pub const CAPS_ADDED: RuleMeta = RuleMeta {
    id: "KG005",
    name: "capabilities-added",
    family: "hardening",
    severity: Severity::Medium,
    title: "Linux capability added",
    what: "A container adds a capability other than NET_BIND_SERVICE that KG004 does not already report \
     (for example CHOWN, SETUID, KILL).",
    why: "Every added capability widens what a compromised process may do; the restricted Pod Security level \
     allows only NET_BIND_SERVICE.",
    fix: "Remove the capability from `capabilities.add`, or document why the program needs it and suppress the \
     finding for this object.",
    references: &[CAPS, PSS],
    aliases: // Trivy's KSV106 also fails a container that drops ALL but adds a capability other than
    // NET_BIND_SERVICE.
    &["KSV022", "KSV-0022", "AVD-KSV-0022", "KSV106", "KSV-0106", "AVD-KSV-0106", "CKV_K8S_25"],
    opt_in: false,
};

/// `KG006`: capabilities not dropping ALL.
pub const DROP_ALL: RuleMeta = RuleMeta {
    id: "KG006",
    name: "capabilities-drop-all",
    family: "hardening",
    severity: Severity::Low,
    title: "Capabilities not dropped",
    what: "A Linux container's `securityContext.capabilities.drop` does not contain `ALL` (case-insensitive).",
    why: "Container runtimes grant a default set of capabilities (CHOWN, DAC_OVERRIDE, SETUID, NET_RAW, ...) \
     most programs never use; NET_RAW alone allows ARP and DNS spoofing inside the node network.",
    fix: "Add `drop: [ALL]` under `securityContext.capabilities` and add back only what is needed.",
    references: &[CAPS, PSS],
    aliases: &[
        "CapDropAll",
        "KSV003",
        "KSV-0003",
        "AVD-KSV-0003",
        "KSV106",
        "KSV-0106",
        "AVD-KSV-0106",
        "CKV_K8S_37",
        "insecureCapabilities",
    ],
    opt_in: false,
};

/// `KG007`: may run as root.
pub const RUN_AS_NON_ROOT: RuleMeta = RuleMeta {
    id: "KG007",
    name: "run-as-non-root",
    family: "hardening",
    severity: Severity::Medium,
    title: "Container may run as root",
    what: "A Linux container's effective security context (container over pod) sets neither `runAsNonRoot: true` \
     nor a `runAsUser` greater than 0, so the image's user (often root) is used. Also reported when \
     `runAsNonRoot` is explicitly false and no non-zero `runAsUser` is set.",
    why: "Root in a container is root on the node's kernel: any escape or writable host mount then has full \
     privileges.",
    fix: "Set `securityContext.runAsNonRoot: true` (pod or container) and a non-zero `runAsUser`, and build the \
     image with a non-root `USER`.",
    references: &[SECCTX, PSS],
    aliases: &["RunAsNonRoot", "CKV_K8S_23", "runAsRootAllowed", "run-as-non-root"],
    opt_in: false,
};

/// `KG008`: runAsUser 0.
pub const RUN_AS_ROOT_UID: RuleMeta = RuleMeta {
    id: "KG008",
    name: "run-as-root-user",
    family: "hardening",
    severity: Severity::High,
    title: "Container runs as UID 0",
    what: "The effective `runAsUser` (container over pod) of a container is 0.",
    why: "UID 0 is root; it defeats `runAsNonRoot` and gives the process root on the node's kernel.",
    fix: "Set `runAsUser` to a non-zero UID (10000 or higher is best) and `runAsNonRoot: true`.",
    references: &[SECCTX, PSS],
    aliases: // Trivy's KSV020 (UID <= 10000, or none in the container) also fails UID 0.
    &["KSV105", "KSV-0105", "AVD-KSV-0105", "KSV020", "KSV-0020", "AVD-KSV-0020"],
    opt_in: false,
};

/// `KG009`: root group.
pub const RUN_AS_ROOT_GID: RuleMeta = RuleMeta {
    id: "KG009",
    name: "run-as-root-group",
    family: "hardening",
    severity: Severity::Medium,
    title: "Container runs with GID 0",
    what: "The effective `runAsGroup` of a container is 0, or the pod's `fsGroup` or `supplementalGroups` \
     contain 0.",
    why: "Group 0 owns many sensitive files on the node and in images; a process in it can read or write them \
     through any host mount.",
    fix: "Set `runAsGroup`, `fsGroup` and `supplementalGroups` to non-zero GIDs (10000 or higher is best).",
    references: &[SECCTX],
    aliases: &["KSV116", "KSV-0116", "AVD-KSV-0116"],
    opt_in: false,
};

/// `KG010`: low UID.
pub const LOW_UID: RuleMeta = RuleMeta {
    id: "KG010",
    name: "low-user-id",
    family: "hardening",
    severity: Severity::Low,
    title: "Container runs with a low or unset UID",
    what: "The effective `runAsUser` of a Linux container is unset or between 1 and 9999 (UID 0 is KG008). \
     10000 passes here (as for kube-score and Checkov; kubesec and Trivy want more than 10000).",
    why: "Low UIDs collide with real users on the node; a process that escapes the container then acts as that \
     user (and gets its files).",
    fix: "Set `runAsUser` to 10000 or higher.",
    references: &[SECCTX],
    aliases: &["RunAsUser", "KSV020", "KSV-0020", "AVD-KSV-0020", "container-security-context-user-group-id"],
    opt_in: false,
};

/// `KG011`: low GID.
pub const LOW_GID: RuleMeta = RuleMeta {
    id: "KG011",
    name: "low-group-id",
    family: "hardening",
    severity: Severity::Low,
    title: "Container runs with a low or unset GID",
    what: "The effective `runAsGroup` of a Linux container is unset or between 1 and 9999 (GID 0 is KG009).",
    why: "Low GIDs collide with groups on the node, which may own files reachable through host mounts.",
    fix: "Set `runAsGroup` to 10000 or higher.",
    references: &[SECCTX],
    aliases: &["RunAsGroup", "KSV021", "KSV-0021", "AVD-KSV-0021", "container-security-context-user-group-id"],
    opt_in: false,
};

/// `KG012`: writable root filesystem.
pub const READ_ONLY_ROOT_FS: RuleMeta = RuleMeta {
    id: "KG012",
    name: "read-only-root-filesystem",
    family: "hardening",
    severity: Severity::Low,
    title: "Root filesystem is writable",
    what: "A container does not set `securityContext.readOnlyRootFilesystem: true` (container level only; it is \
     not a pod field).",
    why: "A writable root filesystem lets an attacker drop tools and binaries into PATH and persist changes for \
     the life of the container.",
    fix: "Set `readOnlyRootFilesystem: true` and mount `emptyDir` volumes where the program must write.",
    references: &[SECCTX],
    aliases: &[
        "ReadOnlyRootFilesystem",
        "KSV014",
        "KSV-0014",
        "AVD-KSV-0014",
        "CKV_K8S_22",
        "notReadOnlyRootFilesystem",
        "no-read-only-root-fs",
        "container-security-context-readonlyrootfilesystem",
    ],
    opt_in: false,
};

/// `KG013`: no seccomp profile.
pub const SECCOMP_MISSING: RuleMeta = RuleMeta {
    id: "KG013",
    name: "seccomp-profile-missing",
    family: "hardening",
    severity: Severity::Low,
    title: "No seccomp profile",
    what: "A Linux container has no effective `seccompProfile.type` (container over pod) and no legacy \
     `seccomp.security.alpha.kubernetes.io/pod` or `container.seccomp.security.alpha.kubernetes.io/<name>` \
     annotation, so it runs Unconfined unless the kubelet defaults to RuntimeDefault.",
    why: "Seccomp blocks the rarely used system calls most kernel exploits rely on; without it every system call \
     is available to an attacker.",
    fix: "Set `securityContext.seccompProfile.type: RuntimeDefault` at pod level (or `Localhost` with a vetted \
     profile).",
    references: &[SECCOMP, PSS],
    aliases: &[
        "SeccompAny",
        "KSV030",
        "KSV-0030",
        "AVD-KSV-0030",
        "CKV_K8S_31",
        "container-seccomp-profile",
        // Trivy's KSV104 ("Seccomp policies disabled") also fails a container with no profile.
        "KSV104",
        "KSV-0104",
        "AVD-KSV-0104",
    ],
    opt_in: false,
};

/// `KG014`: seccomp Unconfined.
pub const SECCOMP_UNCONFINED: RuleMeta = RuleMeta {
    id: "KG014",
    name: "seccomp-unconfined",
    family: "hardening",
    severity: Severity::Medium,
    title: "Seccomp explicitly disabled",
    what: "A container's effective `seccompProfile.type` is `Unconfined`, or (with no field set) a legacy seccomp \
     annotation says `unconfined`.",
    why: "Unconfined seccomp exposes every system call, including those behind most container-escape kernel \
     exploits.",
    fix: "Use `seccompProfile.type: RuntimeDefault` (or `Localhost`).",
    references: &[SECCOMP, PSS],
    aliases: &["SeccompUnconfined", "KSV104", "KSV-0104", "AVD-KSV-0104"],
    opt_in: false,
};

/// `KG015`: no AppArmor profile.
pub const APPARMOR_MISSING: RuleMeta = RuleMeta {
    id: "KG015",
    name: "apparmor-profile-missing",
    family: "hardening",
    severity: Severity::Low,
    title: "No AppArmor profile",
    what: "A Linux container has no effective `appArmorProfile` (container over pod) and no \
     `container.apparmor.security.beta.kubernetes.io/<name>` annotation.",
    why: "An explicit AppArmor profile documents and guarantees mandatory access control on AppArmor nodes, \
     limiting file, mount and network access of a compromised process.",
    fix: "Set `securityContext.appArmorProfile.type: RuntimeDefault` (or `Localhost` with a vetted profile).",
    references: &[APPARMOR, PSS],
    aliases: &["ApparmorAny", "KSV002", "KSV-0002", "AVD-KSV-0002"],
    opt_in: true,
};

/// `KG016`: AppArmor unconfined.
pub const APPARMOR_UNCONFINED: RuleMeta = RuleMeta {
    id: "KG016",
    name: "apparmor-unconfined",
    family: "hardening",
    severity: Severity::Medium,
    title: "AppArmor explicitly disabled",
    what: "A container's effective `appArmorProfile.type` is `Unconfined`, or its \
     `container.apparmor.security.beta.kubernetes.io/<name>` annotation is `unconfined`.",
    why: "Unconfined AppArmor removes the mandatory access control layer between the container and the node.",
    fix: "Use `appArmorProfile.type: RuntimeDefault` (or `Localhost`), and remove `unconfined` annotations.",
    references: &[APPARMOR, PSS],
    aliases: &["ApparmorUnconfined"],
    opt_in: false,
};

/// `KG017`: custom SELinux options.
pub const SELINUX: RuleMeta = RuleMeta {
    id: "KG017",
    name: "selinux-options",
    family: "hardening",
    severity: Severity::Medium,
    title: "Custom SELinux options",
    what: "The pod or a container sets `seLinuxOptions.user` or `.role`, or a `type` other than container_t, \
     container_init_t, container_kvm_t or container_engine_t.",
    why: "Custom SELinux users, roles and types can lift the confinement that keeps a container from the node's \
     files and processes (e.g. `spc_t` is unconfined).",
    fix: "Remove `seLinuxOptions.user`/`role` and use one of the standard container types (or none).",
    references: &[SECCTX, PSS],
    aliases: &["KSV025", "KSV-0025", "AVD-KSV-0025"],
    opt_in: false,
};

/// `KG018`: unmasked /proc.
pub const PROC_MOUNT: RuleMeta = RuleMeta {
    id: "KG018",
    name: "proc-mount-unmasked",
    family: "hardening",
    severity: Severity::High,
    title: "Unmasked /proc",
    what: "A container sets `securityContext.procMount` to something other than `Default` (e.g. `Unmasked`).",
    why: "The default proc mount masks and makes read-only the parts of /proc that leak host information or \
     allow kernel tuning; unmasking them helps escapes.",
    fix: "Remove `procMount` or set it to `Default`.",
    references: &[SECCTX, PSS],
    aliases: &["KSV027", "KSV-0027", "AVD-KSV-0027", "procMount", "unsafe-proc-mount"],
    opt_in: false,
};

/// `KG019`: unsafe sysctls.
pub const UNSAFE_SYSCTLS: RuleMeta = RuleMeta {
    id: "KG019",
    name: "unsafe-sysctls",
    family: "hardening",
    severity: Severity::High,
    title: "Unsafe sysctl set",
    what: "The pod's `securityContext.sysctls` names a sysctl outside the safe set of the Pod Security Standards \
     (newest version).",
    why: "Unsafe sysctls are not namespaced or not isolated: they change kernel behaviour for every pod on the \
     node.",
    fix: "Remove the sysctl, or set it on dedicated nodes through the kubelet's allowed-unsafe-sysctls.",
    references: &[SYSCTL, PSS],
    aliases: &["KSV026", "KSV-0026", "AVD-KSV-0026", "unsafe-sysctls"],
    opt_in: false,
};

/// `KG020`: hostNetwork.
pub const HOST_NETWORK: RuleMeta = RuleMeta {
    id: "KG020",
    name: "host-network",
    family: "host",
    severity: Severity::High,
    title: "Pod shares the host network namespace",
    what: "The pod sets `hostNetwork: true`.",
    why: "The pod sees and binds the node's interfaces, reaches services bound to the node's loopback (kubelet, \
     etcd on control planes) and bypasses NetworkPolicies.",
    fix: "Remove `hostNetwork` and expose the workload through a Service.",
    references: &[PSS],
    aliases: &["HostNetwork", "KSV009", "KSV-0009", "AVD-KSV-0009", "CKV_K8S_19", "hostNetworkSet", "host-network"],
    opt_in: false,
};

/// `KG021`: hostPID.
pub const HOST_PID: RuleMeta = RuleMeta {
    id: "KG021",
    name: "host-pid",
    family: "host",
    severity: Severity::High,
    title: "Pod shares the host PID namespace",
    what: "The pod sets `hostPID: true`.",
    why: "Every process on the node becomes visible (with its environment and command line) and, with enough \
     privileges, traceable or killable.",
    fix: "Remove `hostPID`.",
    references: &[PSS],
    aliases: &["HostPID", "KSV010", "KSV-0010", "AVD-KSV-0010", "CKV_K8S_17", "hostPIDSet", "host-pid"],
    opt_in: false,
};

/// `KG022`: hostIPC.
pub const HOST_IPC: RuleMeta = RuleMeta {
    id: "KG022",
    name: "host-ipc",
    family: "host",
    severity: Severity::High,
    title: "Pod shares the host IPC namespace",
    what: "The pod sets `hostIPC: true`.",
    why: "Processes can read and write the shared memory and message queues of every process on the node.",
    fix: "Remove `hostIPC`.",
    references: &[PSS],
    aliases: &["HostIPC", "KSV008", "KSV-0008", "AVD-KSV-0008", "CKV_K8S_18", "hostIPCSet", "host-ipc"],
    opt_in: false,
};

/// `KG023`: hostPort.
pub const HOST_PORT: RuleMeta = RuleMeta {
    id: "KG023",
    name: "host-port",
    family: "host",
    severity: Severity::Medium,
    title: "Container binds a host port",
    what: "A container port sets a non-zero `hostPort`.",
    why: "A host port exposes the container on every address of the node, bypassing Services and (often) \
     NetworkPolicies, and ties the pod to nodes where the port is free.",
    fix: "Remove `hostPort` and expose the container through a Service.",
    references: &[PSS],
    aliases: &["KSV024", "KSV-0024", "AVD-KSV-0024", "CKV_K8S_26", "hostPortSet"],
    opt_in: false,
};

/// `KG024`: hostPath volume.
pub const HOST_PATH: RuleMeta = RuleMeta {
    id: "KG024",
    name: "host-path",
    family: "host",
    severity: Severity::Medium,
    title: "hostPath volume",
    what: "The pod declares a `hostPath` volume (any path; sensitive paths are also reported by KG025).",
    why: "hostPath volumes give the pod the node's files: they break isolation, survive the pod and are a \
     classic escape route when writable.",
    fix: "Use a PersistentVolumeClaim, ConfigMap, Secret, emptyDir or CSI volume instead; if a hostPath is \
     unavoidable, mount it `readOnly` and restrict its path.",
    references: &[VOLUMES, PSS],
    aliases: &["KSV023", "KSV-0023", "AVD-KSV-0023", "hostPathSet"],
    opt_in: false,
};

/// `KG025`: sensitive hostPath.
pub const SENSITIVE_HOST_PATH: RuleMeta = RuleMeta {
    id: "KG025",
    name: "sensitive-host-path",
    family: "host",
    severity: Severity::Critical,
    title: "Sensitive host path mounted",
    what: "A `hostPath` volume's path is, or is under, a sensitive node location: `/` itself, `/etc`, `/proc`, \
     `/sys`, `/boot`, `/dev`, `/root`, `/var/lib/kubelet`, `/var/lib/docker`, `/var/lib/containerd`, \
     `/var/run` or `/run` themselves, or a container runtime socket (docker.sock, containerd.sock, \
     crio.sock, cri-dockerd.sock) anywhere.",
    why: "Runtime sockets let the pod start privileged containers on the node; /etc, /root and the kubelet's \
     directory hold credentials; /proc and /sys expose kernel controls. Each is a direct path to the node.",
    fix: "Remove the volume. Talk to the Kubernetes API instead of the runtime socket, and keep node \
     configuration out of workloads.",
    references: &[VOLUMES],
    aliases: &["DockerSock", "ProcMount", "docker-sock", "sensitive-host-mounts"],
    opt_in: false,
};

/// `KG026`: service-account token automount.
pub const AUTOMOUNT_TOKEN: RuleMeta = RuleMeta {
    id: "KG026",
    name: "automount-service-account-token",
    family: "secrets",
    severity: Severity::Low,
    title: "Service-account token mounted",
    what: "The pod spec does not set `automountServiceAccountToken: false`, and the token is therefore mounted: the \
     pod sets `true`, or leaves it unset while its ServiceAccount (`serviceAccountName`, else `default`, in the \
     pod's namespace) does not set `false`. As the API server's serviceaccount admission plugin decides, an unset \
     pod field defers to the ServiceAccount: when that ServiceAccount is among the scanned objects and sets \
     `automountServiceAccountToken: false`, the rule does not fire (Polaris does the same); when it is not in the \
     input, kguard cannot know and fires. Trivy (KSV036) and Checkov (CKV_K8S_38) read the pod spec only.",
    why: "A mounted token is the first thing an attacker uses after a compromise to talk to the API server with \
     the pod's permissions.",
    fix: "Set `automountServiceAccountToken: false` in the pod spec unless the program calls the Kubernetes API.",
    references: &[SA],
    aliases: &[
        "AutomountServiceAccountToken",
        "KSV036",
        "KSV-0036",
        "AVD-KSV-0036",
        // Checkov's CKV_K8S_38 reads the pod spec only: with KG057 the union is exact.
        "CKV_K8S_38",
        "automountServiceAccountToken",
    ],
    opt_in: false,
};

/// `KG027`: default service account.
pub const DEFAULT_SA: RuleMeta = RuleMeta {
    id: "KG027",
    name: "default-service-account",
    family: "secrets",
    severity: Severity::Low,
    title: "Pod uses the default service account",
    what: "The pod spec sets no `serviceAccountName` (or sets `default`).",
    why: "Every pod of the namespace shares the default ServiceAccount; permissions granted to it for one workload \
     leak to all of them.",
    fix: "Create a dedicated ServiceAccount for the workload and set `serviceAccountName`.",
    references: &[SA],
    aliases: &["ServiceAccountName", "default-service-account"],
    opt_in: false,
};

/// `KG028`: secrets read into environment variables.
pub const SECRET_ENV_REF: RuleMeta = RuleMeta {
    id: "KG028",
    name: "secret-in-env",
    family: "secrets",
    severity: Severity::Medium,
    title: "Secret exposed as environment variable",
    what: "A container reads a Secret into its environment through `env[].valueFrom.secretKeyRef` or \
     `envFrom[].secretRef`.",
    why: "Environment variables leak: into logs and crash reports, to child processes, and through /proc to \
     anything sharing the PID namespace. Mounted files can be rotated and permission-restricted.",
    fix: "Mount the Secret as a volume (read-only, restrictive `defaultMode`) and read it from the file.",
    references: &[SECRETS],
    aliases: &["SecretsAsEnvironmentVariables", "CKV_K8S_35", "read-secret-from-env-var"],
    opt_in: false,
};

/// `KG029`: literal secrets in environment variables.
pub const SECRET_ENV_LITERAL: RuleMeta = RuleMeta {
    id: "KG029",
    name: "secret-literal-in-env",
    family: "secrets",
    severity: Severity::High,
    title: "Secret written into the manifest",
    what: "A container's `env[].value` is a literal secret. The value is judged, the name only guides: (1) a known \
     credential format, whatever the name (a `BEGIN … PRIVATE KEY` block, a JSON Web Token whose header and claims \
     decode to JSON, AWS access key ids, GitHub, GitLab, Slack, Hugging Face, Google API, Stripe, OpenAI, Anthropic \
     and NVIDIA keys in gitleaks' formats, a URL with a password in it); (2) otherwise not a secret when the value \
     is a reference or a placeholder (`${VAR}`, `$(VAR)`, `{{ … }}`, `<…>`, an `UPPER_SNAKE` identifier, \
     `changeme`, `your…`, a known token prefix too short to be one), a file path, a URL without a password, or a \
     boolean; (3) a literal under a secret-like name: words `password`, `passwd`, `pwd`, `pass`, `passphrase`, \
     `secret`, `token`, `credential(s)`, `apikey`, or `key` after `api`, `access`, `secret`, `private`, `client` and \
     the like, but not a name ending in a word about the secret (`_FILE`, `_PATH`, `_NAME`, `_ID`, `_VERSION`, \
     `_URL`, …) or naming a setting (`ALLOW`, `ENABLE`, `MAX`, `LENGTH`, `TTL`, …), nor a count (`TOKENS`); (4) a \
     high-entropy string whatever the name: 20 or more base64-alphabet characters with upper case, lower case and \
     digits, above 4.5 bits per character (detect-secrets' default limit for base64 strings). The message names \
     the variable and the reason, never the value. Polaris' `sensitiveContainerEnvVar` and kube-linter's \
     `env-var-secret` judge names only (Polaris: password, token, bearer, secret, AWS_SECRET_ACCESS_KEY, \
     GOOGLE_APPLICATION_CREDENTIALS, AZURE_…KEY, OCI_CLI_KEY_CONTENT, and private key values; kube-linter: \
     `secret` in the name): kguard does not report the file paths, references and placeholders they report, and \
     reports the tokens in innocently named variables they miss.",
    why: "A secret written into a manifest is in version control, in every rendered chart and readable by anyone \
     who can read the workload object.",
    fix: "Store the value in a Secret (or an external secret manager) and mount it as a file.",
    references: &[
        SECRETS,
        "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml",
        "https://github.com/Yelp/detect-secrets/blob/master/detect_secrets/plugins/high_entropy_strings.py",
        "https://github.com/FairwindsOps/polaris/blob/master/pkg/config/checks/sensitiveContainerEnvVar.yaml",
        "https://github.com/stackrox/kube-linter/blob/main/pkg/builtinchecks/yamls/env-var-secret.yaml",
    ],
    aliases: &["sensitiveContainerEnvVar", "env-var-secret"],
    opt_in: false,
};

/// `KG030`: image tag missing or latest.
pub const IMAGE_TAG: RuleMeta = RuleMeta {
    id: "KG030",
    name: "image-tag-latest",
    family: "images",
    severity: Severity::Medium,
    title: "Image has no tag or uses latest",
    what: "A container's `image` has neither a tag nor a digest, or its tag is `latest` (without a digest).",
    why: "The image that runs then changes without any change to the manifest: deployments are not \
     reproducible, rollbacks do not roll back, and a compromised registry tag is picked up silently.",
    fix: "Pin a specific version tag, or better an immutable digest (`image@sha256:...`).",
    references: &[IMAGES],
    aliases: &[
        "KSV013",
        "KSV-0013",
        "AVD-KSV-0013",
        "CKV_K8S_14",
        "tagNotSpecified",
        "latest-tag",
        "container-image-tag",
    ],
    opt_in: false,
};

/// `KG031`: image not pinned by digest.
pub const IMAGE_DIGEST: RuleMeta = RuleMeta {
    id: "KG031",
    name: "image-digest-missing",
    family: "images",
    severity: Severity::Info,
    title: "Image not pinned by digest",
    what: "A container's `image` has no `@sha256:` digest.",
    why: "Tags are mutable: whoever controls the registry can change what a tag points to; only a digest pins \
     the exact content.",
    fix: "Reference images by digest (`registry/name:tag@sha256:...`), e.g. resolved by your CI.",
    references: &[IMAGES],
    aliases: &["CKV_K8S_43"],
    opt_in: false,
};

/// `KG032`: pull policy not Always for mutable images.
pub const PULL_POLICY: RuleMeta = RuleMeta {
    id: "KG032",
    name: "image-pull-policy",
    family: "images",
    severity: Severity::Low,
    title: "Mutable image not pulled Always",
    what: "A container's image is not pinned by digest and its effective `imagePullPolicy` is not `Always`. The \
     effective policy is the one the API server defaults: `Always` for an untagged or `:latest` image, \
     `IfNotPresent` otherwise.",
    why: "With `IfNotPresent`, a node keeps running whatever it cached under the tag: nodes can run different \
     content, and a private image cached on a node can be used by pods without pull credentials.",
    fix: "Set `imagePullPolicy: Always`, or pin the image by digest.",
    references: &[IMAGES],
    aliases: &["CKV_K8S_15", "pullPolicyNotAlways", "container-image-pull-policy"],
    opt_in: false,
};

/// `KG033`: CPU request missing.
pub const CPU_REQUEST: RuleMeta = RuleMeta {
    id: "KG033",
    name: "cpu-request-missing",
    family: "resources",
    severity: Severity::Low,
    title: "CPU request missing",
    what: "An init or regular container has neither `resources.requests.cpu` nor `resources.limits.cpu` (a limit \
     alone defaults the request to it).",
    why: "Without requests the scheduler cannot place the pod fairly and it is the first to be starved.",
    fix: "Set `resources.requests.cpu`.",
    references: &[RESOURCES],
    aliases: &[
        "RequestsCPU",
        "KSV015",
        "KSV-0015",
        "AVD-KSV-0015",
        "CKV_K8S_10",
        "cpuRequestsMissing",
        "unset-cpu-requirements",
        "container-resources",
    ],
    opt_in: false,
};

/// `KG034`: CPU limit missing.
pub const CPU_LIMIT: RuleMeta = RuleMeta {
    id: "KG034",
    name: "cpu-limit-missing",
    family: "resources",
    severity: Severity::Low,
    title: "CPU limit missing",
    what: "An init or regular container has no `resources.limits.cpu`.",
    why: "An unlimited container can use every CPU of its node and starve its neighbours (denial of service).",
    fix: "Set `resources.limits.cpu` (or enforce one with a LimitRange).",
    references: &[RESOURCES],
    aliases: &[
        "LimitsCPU",
        "KSV011",
        "KSV-0011",
        "AVD-KSV-0011",
        "CKV_K8S_11",
        "cpuLimitsMissing",
        "unset-cpu-requirements",
        "container-resources",
    ],
    opt_in: false,
};

/// `KG035`: memory request missing.
pub const MEMORY_REQUEST: RuleMeta = RuleMeta {
    id: "KG035",
    name: "memory-request-missing",
    family: "resources",
    severity: Severity::Low,
    title: "Memory request missing",
    what: "An init or regular container has neither `resources.requests.memory` nor `resources.limits.memory`.",
    why: "Without a memory request the pod is scheduled blindly and is among the first evicted under pressure.",
    fix: "Set `resources.requests.memory`.",
    references: &[RESOURCES],
    aliases: &[
        "RequestsMemory",
        "KSV016",
        "KSV-0016",
        "AVD-KSV-0016",
        "CKV_K8S_12",
        "memoryRequestsMissing",
        "unset-memory-requirements",
        "container-resources",
    ],
    opt_in: false,
};

/// `KG036`: memory limit missing.
pub const MEMORY_LIMIT: RuleMeta = RuleMeta {
    id: "KG036",
    name: "memory-limit-missing",
    family: "resources",
    severity: Severity::Low,
    title: "Memory limit missing",
    what: "An init or regular container has no `resources.limits.memory`.",
    why: "An unlimited container can exhaust its node's memory and trigger out-of-memory kills of other pods.",
    fix: "Set `resources.limits.memory`.",
    references: &[RESOURCES],
    aliases: &[
        "LimitsMemory",
        "KSV018",
        "KSV-0018",
        "AVD-KSV-0018",
        "CKV_K8S_13",
        "memoryLimitsMissing",
        "unset-memory-requirements",
        "container-resources",
    ],
    opt_in: false,
};

/// `KG037`: Windows hostProcess.
pub const HOST_PROCESS: RuleMeta = RuleMeta {
    id: "KG037",
    name: "windows-host-process",
    family: "host",
    severity: Severity::Critical,
    title: "Windows HostProcess container",
    what: "The pod or a container sets `securityContext.windowsOptions.hostProcess: true`.",
    why: "A HostProcess container runs directly on the Windows node, with the node's network and file system: \
     it is equivalent to a privileged Linux container.",
    fix: "Remove `hostProcess: true`; use it only for node-management DaemonSets in dedicated namespaces.",
    references: &[WINDOWS, PSS],
    aliases: &["KSV103", "KSV-0103", "AVD-KSV-0103", "hostProcess"],
    opt_in: false,
};

/// `KG038`: hostUsers not false.
pub const HOST_USERS: RuleMeta = RuleMeta {
    id: "KG038",
    name: "host-users",
    family: "hardening",
    severity: Severity::Info,
    title: "Pod not in a user namespace",
    what: "A Linux pod does not set `hostUsers: false`, so container UIDs are the node's UIDs.",
    why: "In a user namespace, root in the container maps to an unprivileged user on the node, which defuses \
     most escapes.",
    fix: "Set `spec.hostUsers: false` (Kubernetes 1.30+ with user-namespace support on the nodes).",
    references: &[USERNS],
    aliases: &["HostUsers"],
    opt_in: true,
};

/// `KG039`: binding to anonymous or unauthenticated.
pub const BINDING_ANONYMOUS: RuleMeta = RuleMeta {
    id: "KG039",
    name: "binding-to-anonymous",
    family: "rbac-object",
    severity: Severity::Critical,
    title: "Role bound to anonymous users",
    what: "A RoleBinding or ClusterRoleBinding has a subject named `system:anonymous` (the user of requests \
     without credentials) or `system:unauthenticated` (their group), whatever the subject's kind. Upstream \
     default bindings (`kubernetes.io/bootstrapping: rbac-defaults`) are not reported. This rule replaces \
     RBAC012 (`anonymous-binding`), which reported the same subjects from the RBAC engine; the old id and name \
     are accepted as aliases.",
    why: "Anyone who can reach the API server, without credentials, gets the bound role's permissions.",
    fix: "Remove the subject; grant the permissions to authenticated identities only.",
    references: &[RBAC, RBAC_REF],
    aliases: &[
        "BindingsToSystemAnonymous",
        "KSV122",
        "KSV-0122",
        "AVD-KSV-0122",
        // Retired: RBAC012 reported the same subjects from the RBAC engine.
        "RBAC012",
        "anonymous-binding",
    ],
    opt_in: false,
};

/// `KG040`: binding to cluster-admin.
pub const BINDING_CLUSTER_ADMIN: RuleMeta = RuleMeta {
    id: "KG040",
    name: "binding-to-cluster-admin",
    family: "rbac-object",
    severity: Severity::High,
    title: "Binding to cluster-admin",
    what: "A RoleBinding or ClusterRoleBinding references the ClusterRole `cluster-admin`.",
    why: "cluster-admin allows every verb on every resource; a binding to it makes its subjects all-powerful \
     (within the namespace for a RoleBinding), and any compromise of them a cluster compromise.",
    fix: "Bind a role with only the permissions needed.",
    references: &[RBAC, RBAC_REF],
    aliases: &["clusterrolebindingClusterAdmin", "rolebindingClusterAdminClusterRole", "cluster-admin-role-binding"],
    opt_in: false,
};

/// `KG041`: wildcard in RBAC rules.
pub const RBAC_WILDCARD: RuleMeta = RuleMeta {
    id: "KG041",
    name: "rbac-wildcard",
    family: "rbac-object",
    severity: Severity::High,
    title: "Wildcard in Role rules",
    what: "A Role or ClusterRole rule lists `*` in `verbs` or `resources`: one finding per rule, at its first \
     wildcard (`kguard scan` merges it into KG048 when the rule grants everything). Not reported: the rules of \
     an aggregated ClusterRole (`aggregationRule`: the controller \
     overwrites them with the aggregated roles' rules, which are judged where they are written), and upstream \
     default roles (`kubernetes.io/bootstrapping: rbac-defaults`). This rule replaces RBAC011 (`wildcard-rule`), \
     which reported the same rules from the RBAC engine; the old id and name are accepted as aliases.",
    why: "Wildcards grant every present and future verb or resource (including secrets, escalate and \
     impersonate, and custom resources installed later), far beyond what a workload needs.",
    fix: "List the verbs and resources explicitly.",
    references: &[RBAC, RBAC_REF],
    aliases: &[
        "CKV_K8S_49",
        "wildcard-in-rules",
        // Retired: RBAC011 reported the same rules from the RBAC engine.
        "RBAC011",
        "wildcard-rule",
    ],
    opt_in: false,
};

/// `KG042`: NodePort service.
pub const SERVICE_NODEPORT: RuleMeta = RuleMeta {
    id: "KG042",
    name: "service-node-port",
    family: "service",
    severity: Severity::Low,
    title: "Service of type NodePort",
    what: "A Service sets `type: NodePort`.",
    why: "A NodePort opens the port on every node's addresses, usually outside the reach of ingress controls and \
     load-balancer firewalls.",
    fix: "Use a ClusterIP Service behind an Ingress or Gateway, or a LoadBalancer with source ranges.",
    references: &[SERVICE],
    aliases: &["exposed-services"],
    opt_in: false,
};

/// `KG043`: LoadBalancer service.
pub const SERVICE_LOADBALANCER: RuleMeta = RuleMeta {
    id: "KG043",
    name: "service-load-balancer",
    family: "service",
    severity: Severity::Info,
    title: "Service of type LoadBalancer",
    what: "A Service sets `type: LoadBalancer` without `loadBalancerSourceRanges`.",
    why: "A LoadBalancer usually gets a public address: the workload is reachable from the internet unless source \
     ranges or the provider's firewall restrict it.",
    fix: "Set `loadBalancerSourceRanges`, use an internal load balancer annotation, or expose through an Ingress.",
    references: &[SERVICE],
    aliases: &["exposed-services"],
    opt_in: false,
};

/// `KG044`: a ClusterRole that may write admission webhook configurations.
pub const ROLE_WEBHOOKS: RuleMeta = RuleMeta {
    id: "KG044",
    name: "role-webhook-configuration",
    family: "rbac-object",
    severity: Severity::High,
    title: "ClusterRole controls admission webhook configurations",
    what: "A ClusterRole grants create, update, patch or delete on `mutatingwebhookconfigurations` or \
     `validatingwebhookconfigurations` (`admissionregistration.k8s.io`), wildcards included, in one rule. The role \
     is judged on its own, bound or not (RBAC009 reports the subjects a binding gives it to). Roles are not \
     checked: the configurations are cluster-scoped, so a Role's grant on them is void. Checkov's CKV_K8S_155 \
     reads create, update and patch; kguard adds delete (deleting a validating webhook switches its policy off).",
    why: "A mutating webhook sees and rewrites every object sent to the API server, secrets included; whoever \
     controls the configurations controls admission.",
    fix: "Remove the grant, or narrow it with `resourceNames` to the webhook configurations of the one controller that \
     manages its own.",
    references: &[RBAC, RBAC_REF],
    aliases: &["CKV_K8S_155"],
    opt_in: false,
};

/// `KG045`: a ClusterRole that may approve certificate signing requests.
pub const ROLE_CSR_APPROVE: RuleMeta = RuleMeta {
    id: "KG045",
    name: "role-csr-approval",
    family: "rbac-object",
    severity: Severity::High,
    title: "ClusterRole can approve certificate signing requests",
    what: "A ClusterRole grants both update or patch on `certificatesigningrequests/approval` and `approve` on \
     `signers` (`certificates.k8s.io`), wildcards and `*/approval` included: the two permissions the API server \
     requires to approve a CSR. Judged on the role alone, bound or not (RBAC007 reports the subjects); Roles are \
     not checked (cluster-scoped resources), as in Checkov's CKV_K8S_156.",
    why: "Approving a CSR for the `kubernetes.io/kube-apiserver-client` signer issues a client certificate for any \
     user and groups, `system:masters` included.",
    fix: "Leave CSR approval to the controller manager; restrict `approve` with `resourceNames` to the signers needed.",
    references: &[RBAC_REF, "https://kubernetes.io/docs/reference/access-authn-authz/certificate-signing-requests/"],
    aliases: &["CKV_K8S_156"],
    opt_in: false,
};

/// `KG046`: a Role or ClusterRole that may bind roles.
pub const ROLE_BIND: RuleMeta = RuleMeta {
    id: "KG046",
    name: "role-bind",
    family: "rbac-object",
    severity: Severity::High,
    title: "Role grants the bind verb",
    what: "A Role or ClusterRole grants `bind` on `roles` or `clusterroles` (`rbac.authorization.k8s.io`), wildcards \
     included: the permission the API server checks before it accepts a binding to a role the user does not \
     hold. Judged on the role alone, bound or not (RBAC005 reports the subjects). Checkov's CKV_K8S_157 looks for \
     `bind` on `rolebindings`/`clusterrolebindings`, where the verb has no effect; both fire on wildcards.",
    why: "With `bind`, a subject can create bindings to roles with permissions it does not have, up to cluster-admin: \
     RBAC's escalation prevention no longer applies.",
    fix: "Remove `bind`; if a controller hands out roles, list them in `resourceNames`.",
    references: &[
        RBAC,
        "https://kubernetes.io/docs/reference/access-authn-authz/rbac/#restrictions-on-role-binding-creation-or-update",
    ],
    aliases: &["CKV_K8S_157"],
    opt_in: false,
};

/// `KG047`: a Role or ClusterRole that may escalate roles.
pub const ROLE_ESCALATE: RuleMeta = RuleMeta {
    id: "KG047",
    name: "role-escalate",
    family: "rbac-object",
    severity: Severity::High,
    title: "Role grants the escalate verb",
    what: "A Role or ClusterRole grants `escalate` on `roles` or `clusterroles` (`rbac.authorization.k8s.io`), \
     wildcards included, as Checkov's CKV_K8S_158. Judged on the role alone, bound or not (RBAC005 reports the \
     subjects).",
    why: "With `escalate`, a subject can write roles holding permissions it does not have, then use them: RBAC's \
     escalation prevention no longer applies.",
    fix: "Remove `escalate`; role authors need only the permissions they put in the roles they write.",
    references: &[
        RBAC,
        "https://kubernetes.io/docs/reference/access-authn-authz/rbac/#restrictions-on-role-creation-or-update",
    ],
    aliases: &["CKV_K8S_158"],
    opt_in: false,
};

/// `KG048`: a Role or ClusterRole rule that grants everything.
pub const ROLE_FULL_WILDCARD: RuleMeta = RuleMeta {
    id: "KG048",
    name: "role-full-wildcard",
    family: "rbac-object",
    severity: Severity::High,
    title: "Role grants every verb on every resource",
    what: "A Role or ClusterRole rule lists `*` in `apiGroups`, `resources` and `verbs`: the role is cluster-admin \
     (for a ClusterRole bound cluster-wide) or the namespace's admin and more (for a Role). Judged on the role \
     alone, bound or not (RBAC013 reports the subjects it is bound to). One finding per role, at the first such \
     rule; the narrower findings of the same rule (KG041 wildcard, KG044–KG047 dangerous permissions) are \
     merged into it. Aggregated ClusterRoles and upstream default roles are not reported (see KG041).",
    why: "Every permission of the API, secrets, impersonation, escalation and admission control included, is one \
     binding away; the role should not exist outside the upstream `cluster-admin`.",
    fix: "Bind the upstream `cluster-admin` where full access is really needed, and write narrower roles for \
     everything else.",
    references: &[RBAC, RBAC_REF],
    aliases: &["KSV044", "KSV-0044", "AVD-KSV-0044"],
    opt_in: false,
};

/// `KG049`: NET_RAW not dropped.
pub const NET_RAW_NOT_DROPPED: RuleMeta = RuleMeta {
    id: "KG049",
    name: "net-raw-not-dropped",
    family: "hardening",
    severity: Severity::Low,
    title: "NET_RAW capability not dropped",
    what: "A container's (init containers included) `securityContext.capabilities.drop` has no entry containing \
     `ALL`, `all` or `NET_RAW` (a substring match, as Checkov's CKV_K8S_28 reads it); `capabilities.add` is not \
     read. Where KG006 (drop ALL) reports the same field, `kguard scan` reports the finding once, as KG006.",
    why: "NET_RAW is in the runtimes' default set; it lets a process craft raw packets, spoof ARP and DNS answers \
     and sniff the node network's traffic.",
    fix: "Add `drop: [ALL]` (or at least `NET_RAW`) under `securityContext.capabilities`.",
    references: &[CAPS, SECCTX],
    aliases: &["CKV_K8S_28"],
    opt_in: false,
};

/// `KG050`: the Docker socket mounted.
pub const DOCKER_SOCKET: RuleMeta = RuleMeta {
    id: "KG050",
    name: "docker-socket",
    family: "host",
    severity: Severity::Critical,
    title: "Docker socket mounted",
    what: "A `hostPath` volume's path is exactly `/var/run/docker.sock` (as Trivy's KSV006 and Checkov's CKV_K8S_27 \
     compare it). Other runtime sockets and other spellings of the path are KG025's; `kguard scan` reports a \
     volume once, as KG050, carrying KG024 and KG025.",
    why: "Whoever talks to the Docker daemon starts privileged containers with the node's root filesystem mounted: \
     the socket is root on the node.",
    fix: "Remove the volume; talk to the Kubernetes API instead of the container runtime.",
    references: &[VOLUMES],
    aliases: &["KSV006", "KSV-0006", "AVD-KSV-0006", "CKV_K8S_27"],
    opt_in: false,
};

/// `KG051`: low UID in the node's user namespace.
pub const LOW_UID_HOST_USERNS: RuleMeta = RuleMeta {
    id: "KG051",
    name: "low-user-id-host-userns",
    family: "hardening",
    severity: Severity::Low,
    title: "Container runs with a low or unset UID in the node's user namespace",
    what: "A pod that does not set `hostUsers: false` has a container (regular containers, not init or ephemeral \
     ones, as Checkov's CKV_K8S_40 reads them) whose effective `runAsUser` (container over pod) is unset or below \
     10000, 0 included. KG008 and KG010 report the same UIDs whatever the user namespace; where they report the \
     same field, `kguard scan` reports it once, as KG008 or KG010.",
    why: "Without a user namespace a container's UIDs are the node's: a low UID is a real user of the node, and a \
     process that escapes acts as that user. With `hostUsers: false` they are remapped to unprivileged host UIDs.",
    fix: "Set `runAsUser` to 10000 or higher, or run the pod in its own user namespace (`hostUsers: false`).",
    references: &[SECCTX, USERNS],
    aliases: &["CKV_K8S_40"],
    opt_in: false,
};

/// `KG052`: runAsNonRoot not set to true.
pub const RUN_AS_NON_ROOT_UNSET: RuleMeta = RuleMeta {
    id: "KG052",
    name: "run-as-non-root-unset",
    family: "hardening",
    severity: Severity::Low,
    title: "runAsNonRoot not set to true",
    what: "Neither the pod's nor a container's (init containers included) `securityContext` sets `runAsNonRoot: \
     true`, whatever `runAsUser` says, as Trivy's KSV012 reads it. KG007 accepts a non-zero `runAsUser` instead; \
     where both report the same field, `kguard scan` reports it once, as KG007.",
    why: "`runAsNonRoot: true` makes the kubelet refuse to start a container whose user is root, whatever the image \
     or a later edit of `runAsUser` says; without it nothing stops a root container.",
    fix: "Set `securityContext.runAsNonRoot: true` at the pod level.",
    references: &[SECCTX, PSS],
    aliases: &["KSV012", "KSV-0012", "AVD-KSV-0012"],
    opt_in: false,
};

/// `KG053`: SYS_ADMIN added.
pub const CAP_SYS_ADMIN: RuleMeta = RuleMeta {
    id: "KG053",
    name: "capability-sys-admin",
    family: "hardening",
    severity: Severity::High,
    title: "SYS_ADMIN capability added",
    what: "A container's (init containers included) `securityContext.capabilities.add` lists `SYS_ADMIN`, spelt \
     exactly so, as Trivy's KSV005 and Checkov's CKV_K8S_39 compare it (KG004 also reports other spellings and \
     other capabilities; `kguard scan` reports the entry once, as KG004).",
    why: "SYS_ADMIN is the catch-all capability: mounting filesystems, namespaces, BPF, and most container escapes.",
    fix: "Remove `SYS_ADMIN` from `capabilities.add`.",
    references: &[CAPS, SECCTX],
    aliases: &["KSV005", "KSV-0005", "AVD-KSV-0005", "CKV_K8S_39"],
    opt_in: false,
};

/// `KG054`: NET_RAW added.
pub const CAP_NET_RAW: RuleMeta = RuleMeta {
    id: "KG054",
    name: "capability-net-raw",
    family: "hardening",
    severity: Severity::High,
    title: "NET_RAW capability added",
    what: "A container's (init containers included) `securityContext.capabilities.add` lists `NET_RAW`, spelt \
     exactly so, as Trivy's KSV119 compares it (KG004 also reports other spellings and other capabilities; `kguard \
     scan` reports the entry once, as KG004).",
    why: "NET_RAW lets a process craft raw packets: ARP and DNS spoofing, sniffing on the node network.",
    fix: "Remove `NET_RAW` from `capabilities.add`.",
    references: &[CAPS, SECCTX],
    aliases: &["KSV119", "KSV-0119", "AVD-KSV-0119"],
    opt_in: false,
};

/// `KG055`: SYS_MODULE added.
pub const CAP_SYS_MODULE: RuleMeta = RuleMeta {
    id: "KG055",
    name: "capability-sys-module",
    family: "hardening",
    severity: Severity::High,
    title: "SYS_MODULE capability added",
    what: "A container's (init containers included) `securityContext.capabilities.add` lists `SYS_MODULE`, spelt \
     exactly so, as Trivy's KSV120 compares it (KG004 also reports other spellings and other capabilities; \
     `kguard scan` reports the entry once, as KG004).",
    why: "SYS_MODULE loads kernel modules: code running in the node's kernel.",
    fix: "Remove `SYS_MODULE` from `capabilities.add`.",
    references: &[CAPS, SECCTX],
    aliases: &["KSV120", "KSV-0120", "AVD-KSV-0120"],
    opt_in: false,
};

/// `KG056`: NET_BIND_SERVICE added.
pub const CAP_NET_BIND_SERVICE: RuleMeta = RuleMeta {
    id: "KG056",
    name: "capability-net-bind-service",
    family: "hardening",
    severity: Severity::Info,
    title: "NET_BIND_SERVICE capability added",
    what: "A container adds `NET_BIND_SERVICE` (any case, with or without `CAP_`), the one capability the restricted \
     Pod Security level allows and KG005 therefore does not report. Opt-in: with KG004 and KG005 it reports every \
     added capability, as Trivy's KSV022 and Checkov's CKV_K8S_25 do.",
    why: "It lets the process bind ports below 1024; harmless for most, but a policy of no added capabilities at \
     all wants to see it.",
    fix: "Listen on a port of 1024 or above (the Service can still expose port 80), or keep the capability and \
     leave this rule off.",
    references: &[CAPS, PSS],
    aliases: &["KSV022", "KSV-0022", "AVD-KSV-0022", "CKV_K8S_25"],
    opt_in: true,
};

/// `KG057`: token automount left to the ServiceAccount.
pub const AUTOMOUNT_TOKEN_SA_ONLY: RuleMeta = RuleMeta {
    id: "KG057",
    name: "automount-token-left-to-service-account",
    family: "secrets",
    severity: Severity::Info,
    title: "Token automount disabled only on the ServiceAccount",
    what: "The pod spec does not set `automountServiceAccountToken: false`, and its ServiceAccount, in the input, \
     does: the case KG026 does not report. Opt-in: with KG026 it reports every pod spec without \
     `automountServiceAccountToken: false`, as Checkov's CKV_K8S_38 does.",
    why: "The pod's token stays unmounted only as long as the ServiceAccount keeps its setting; a change there, or \
     the pod moved to another ServiceAccount, mounts it again.",
    fix: "Set `automountServiceAccountToken: false` in the pod spec as well.",
    references: &[SA],
    aliases: &["CKV_K8S_38"],
    opt_in: true,
};

/// `KG058`: upstream default binding to anonymous.
pub const DEFAULT_BINDING_ANONYMOUS: RuleMeta = RuleMeta {
    id: "KG058",
    name: "default-binding-to-anonymous",
    family: "rbac-object",
    severity: Severity::Info,
    title: "Upstream default binding to anonymous users",
    what: "An upstream default RoleBinding or ClusterRoleBinding (`kubernetes.io/bootstrapping: rbac-defaults`, e.g. \
     `system:public-info-viewer`) has a subject named `system:anonymous` or `system:unauthenticated`: the \
     bindings KG039 skips. Opt-in: with KG039 it reports every such subject, as Trivy's KSV122 does.",
    why: "Every cluster has these bindings; they let anyone read the API server's version and health. Clusters \
     that switch off anonymous access remove them.",
    fix: "Remove the subject (or the binding) where anonymous access is not wanted, or disable anonymous \
     authentication.",
    references: &[RBAC, RBAC_REF],
    aliases: &["KSV122", "KSV-0122", "AVD-KSV-0122"],
    opt_in: true,
};

/// `KG059`: container port below 1024.
pub const PRIVILEGED_PORT: RuleMeta = RuleMeta {
    id: "KG059",
    name: "privileged-container-port",
    family: "hardening",
    severity: Severity::Low,
    title: "Container port below 1024",
    what: "A container (init containers included) declares a `ports[].containerPort` below 1024, as Trivy's KSV117 \
     reads it.",
    why: "Binding a port below 1024 needs root or NET_BIND_SERVICE (unless the node lowers \
     `net.ipv4.ip_unprivileged_port_start`): the container is likely to run with more privilege than it needs.",
    fix: "Listen on a port of 1024 or above; the Service can still expose the low port (`port: 80`, `targetPort: \
     8080`).",
    references: &[CAPS, SERVICE],
    aliases: &["KSV117", "KSV-0117", "AVD-KSV-0117"],
    opt_in: false,
};

/// `KG060`: non-core volume types.
pub const NON_CORE_VOLUME: RuleMeta = RuleMeta {
    id: "KG060",
    name: "non-core-volume-type",
    family: "host",
    severity: Severity::Low,
    title: "Non-core volume type",
    what: "A volume uses one of the in-tree network or cloud volume types Trivy's KSV028 lists: gcePersistentDisk, \
     awsElasticBlockStore, gitRepo, nfs, iscsi, glusterfs, rbd, flexVolume, cinder, cephFS, flocker, fc, azureFile, \
     vsphereVolume, quobyte, azureDisk, portworxVolume, scaleIO or storageos (hostPath is KG024's). The restricted \
     Pod Security level (PSS016) forbids these and more; `kguard scan` reports a volume once.",
    why: "These types reach node or network storage directly, outside PersistentVolumes and their access control; \
     gitRepo runs git on the node.",
    fix: "Reach the storage through a PersistentVolumeClaim (CSI), or use an allowed volume type.",
    references: &["https://kubernetes.io/docs/concepts/storage/volumes/", PSS],
    aliases: &["KSV028", "KSV-0028", "AVD-KSV-0028"],
    opt_in: false,
};

const NAMESPACES: &str = "https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/";
const INGRESS_NGINX_CVE: &str = "https://github.com/kubernetes/ingress-nginx/issues/7837";
const DASHBOARD: &str = "https://github.com/kubernetes/dashboard";

/// `KG061`: pod security context unset.
pub const POD_SECURITY_CONTEXT_UNSET: RuleMeta = RuleMeta {
    id: "KG061",
    name: "pod-security-context-unset",
    family: "hardening",
    severity: Severity::Low,
    title: "Pod sets no security context",
    what: "The pod spec of a Pod, Deployment, DaemonSet, StatefulSet, ReplicaSet, ReplicationController, Job or \
     CronJob sets no `securityContext`, or an empty one (`{}` or null), as Checkov's CKV_K8S_29 reads it; it is also \
     the pod half of Trivy's KSV118 (with KG063). PodTemplates are not judged (neither peer does). Opt-in: every \
     setting a security context should carry is reported at its own field by a default rule (KG002, KG006, KG007, \
     KG012, KG013), so the finding adds no information there.",
    why: "Without a security context the pod runs with the runtime's defaults: the image's user (often root), no \
     seccomp profile, a writable root filesystem.",
    fix: "Set `spec.securityContext` (at least `runAsNonRoot: true` and `seccompProfile: {type: RuntimeDefault}`).",
    references: &[SECCTX, PSS],
    aliases: &["CKV_K8S_29", "KSV118", "KSV-0118", "AVD-KSV-0118"],
    opt_in: true,
};

/// `KG062`: container security context unset.
pub const CONTAINER_SECURITY_CONTEXT_UNSET: RuleMeta = RuleMeta {
    id: "KG062",
    name: "container-security-context-unset",
    family: "hardening",
    severity: Severity::Low,
    title: "Container sets no security context",
    what: "A container or init container sets no `securityContext` of its own, or an empty one, whatever the pod \
     sets, as Checkov's CKV_K8S_30 reads it. Opt-in, for the reason KG061 gives.",
    why: "Some settings exist only per container (`allowPrivilegeEscalation`, `capabilities`, \
     `readOnlyRootFilesystem`, `privileged`): a container without a security context runs with the defaults of all \
     of them.",
    fix: "Set `securityContext` on every container (`allowPrivilegeEscalation: false`, `capabilities: {drop: [ALL]}`, \
     `readOnlyRootFilesystem: true`).",
    references: &[SECCTX, PSS],
    aliases: &["CKV_K8S_30"],
    opt_in: true,
};

/// `KG063`: container runs with the default security context.
pub const CONTAINER_DEFAULT_SECURITY_CONTEXT: RuleMeta = RuleMeta {
    id: "KG063",
    name: "container-default-security-context",
    family: "hardening",
    severity: Severity::Low,
    title: "Container runs with the default security context",
    what: "A container or init container of a Pod or workload has an empty effective security context: it sets \
     none of its own, and the pod's sets none of the fields a container inherits (`runAsUser`, `runAsGroup`, \
     `runAsNonRoot`, `seLinuxOptions`, `seccompProfile`, `windowsOptions`). With KG061 (the pod's own context) it is \
     Trivy's KSV118. Opt-in, for the reason KG061 gives; where KG062 reports the same container, `kguard scan` \
     reports one finding.",
    why: "Such a container runs with every runtime default: the image's user, no seccomp profile, privilege \
     escalation allowed, the default capabilities, a writable root filesystem.",
    fix: "Set `securityContext` on the container, or the inherited fields on the pod.",
    references: &[SECCTX, PSS],
    aliases: &["KSV118", "KSV-0118", "AVD-KSV-0118"],
    opt_in: true,
};

/// `KG064`: workload in the default namespace.
pub const WORKLOAD_DEFAULT_NAMESPACE: RuleMeta = RuleMeta {
    id: "KG064",
    name: "workload-in-default-namespace",
    family: "placement",
    severity: Severity::Low,
    title: "Workload in the default namespace",
    what: "A Pod, ReplicaSet, ReplicationController, Deployment, StatefulSet, DaemonSet, CronJob or Job sets \
     `metadata.namespace: default` or no namespace at all (Trivy's KSV110; with KG065, Checkov's CKV_K8S_21). \
     Opt-in: most manifests leave the namespace to `kubectl apply -n` or a Kustomization, so by default nearly \
     every workload would be reported.",
    why: "The default namespace is shared by everything nobody placed: policies (Pod Security labels, \
     NetworkPolicies, quotas, RBAC) are rarely tailored to it, and its workloads mix with the `kubernetes` Service.",
    fix: "Set `metadata.namespace` to the application's own namespace.",
    references: &[NAMESPACES],
    aliases: &["KSV110", "KSV-0110", "AVD-KSV-0110", "CKV_K8S_21"],
    opt_in: true,
};

/// `KG065`: other object in the default namespace.
pub const OBJECT_DEFAULT_NAMESPACE: RuleMeta = RuleMeta {
    id: "KG065",
    name: "object-in-default-namespace",
    family: "placement",
    severity: Severity::Low,
    title: "Object in the default namespace",
    what: "A Service (but `kubernetes`), Secret, ServiceAccount (but `default`), Role, RoleBinding, ConfigMap or \
     Ingress sets `metadata.namespace: default` or no namespace: with KG064 (workloads), Checkov's CKV_K8S_21. \
     Opt-in, for the reason KG064 gives.",
    why: "As for KG064: the default namespace is where objects land that nobody placed.",
    fix: "Set `metadata.namespace` to the application's own namespace.",
    references: &[NAMESPACES],
    aliases: &["CKV_K8S_21"],
    opt_in: true,
};

/// `KG066`: object in kube-system.
pub const KUBE_SYSTEM_NAMESPACE: RuleMeta = RuleMeta {
    id: "KG066",
    name: "object-in-kube-system",
    family: "placement",
    severity: Severity::Low,
    title: "Object placed in kube-system",
    what: "An object with a `spec` sets `metadata.namespace: kube-system`, unless it is a control-plane static pod \
     (labels `tier: control-plane` and `component` one of kube-apiserver, etcd, kube-controller-manager, \
     kube-scheduler, and `spec.priorityClassName: system-node-critical`), as Trivy's KSV037 reads it. Opt-in: \
     cluster add-ons (DNS, CNI, metrics, cloud controllers) are installed in kube-system on purpose.",
    why: "kube-system holds the cluster's own components and the service accounts they run as; an application \
     placed there shares their privileges and their namespace's exemptions (Pod Security is often not enforced \
     there).",
    fix: "Deploy applications in a namespace of their own.",
    references: &[NAMESPACES],
    aliases: &["KSV037", "KSV-0037", "AVD-KSV-0037"],
    opt_in: true,
};

/// `KG067`: hostPath of a system directory.
pub const HOST_PATH_SYSTEM_DIR: RuleMeta = RuleMeta {
    id: "KG067",
    name: "host-path-system-directory",
    family: "host",
    severity: Severity::High,
    title: "hostPath mounts a system directory",
    what: "A hostPath volume's path is exactly one of `/`, `/boot`, `/dev`, `/etc`, `/lib`, `/proc`, `/sys`, `/usr` \
     or `/var/lib/docker`, as Trivy's KSV121 compares it (a subdirectory is not reported here; KG025 reports the \
     sensitive ones). `kguard scan` reports the volume once, as KG025 or KG024, with KG067 merged.",
    why: "These directories hold the node's kernel interfaces, devices, configuration and binaries: writing them \
     takes over the node, reading them leaks its credentials.",
    fix: "Mount only the file or directory the program needs, read-only, or use a volume type that is not hostPath.",
    references: &[VOLUMES, PSS],
    aliases: &["KSV121", "KSV-0121", "AVD-KSV-0121"],
    opt_in: false,
};

/// `KG068`: Kubernetes dashboard deployed.
pub const KUBERNETES_DASHBOARD: RuleMeta = RuleMeta {
    id: "KG068",
    name: "kubernetes-dashboard",
    family: "images",
    severity: Severity::Medium,
    title: "Kubernetes dashboard deployed",
    what: "A container or init container runs an image whose reference contains `kubernetes-dashboard` or \
     `kubernetesui`, or the pod template is labelled `app: kubernetes-dashboard` (or, without an `app` label, \
     `k8s-app: kubernetes-dashboard`), as Checkov's CKV_K8S_33 reads it.",
    why: "The dashboard is a web front end to the API server; exposed or given a powerful service account it has \
     been the entry point of cluster compromises (e.g. the 2018 Tesla cryptomining incident).",
    fix: "Remove the dashboard, or run it with a service account of read-only rights, behind authentication, never \
     exposed outside the cluster.",
    references: &[DASHBOARD],
    aliases: &["CKV_K8S_33"],
    opt_in: false,
};

/// `KG069`: binding to the default service account.
pub const BINDING_DEFAULT_SA: RuleMeta = RuleMeta {
    id: "KG069",
    name: "binding-default-service-account",
    family: "rbac-object",
    severity: Severity::Medium,
    title: "Binding grants a role to a default service account",
    what: "A RoleBinding or ClusterRoleBinding has a subject of kind ServiceAccount named `default`, as Checkov's \
     CKV_K8S_42 reads it (CIS 5.1.5).",
    why: "Every pod that names no service account runs as its namespace's `default` one: a role bound to it is \
     granted to all of them, including pods added later for other purposes.",
    fix: "Create a dedicated ServiceAccount for the workload that needs the role, bind the role to it and set \
     `serviceAccountName` on that workload.",
    references: &[SA, RBAC],
    aliases: &["CKV_K8S_42"],
    opt_in: false,
};

/// `KG070`: ingress-nginx snippet annotation.
pub const INGRESS_SNIPPET: RuleMeta = RuleMeta {
    id: "KG070",
    name: "ingress-snippet-annotation",
    family: "service",
    severity: Severity::High,
    title: "Ingress carries a configuration snippet annotation",
    what: "An Ingress has an annotation whose key contains `snippet` (ingress-nginx's \
     `configuration-snippet`, `server-snippet`, `auth-snippet`, ...), as Checkov's CKV_K8S_153 reads it.",
    why: "ingress-nginx copies snippets verbatim into its nginx configuration; whoever may write an Ingress can \
     then read the controller's service-account token and every Secret it can see (CVE-2021-25742).",
    fix: "Remove the snippet annotation (and set `allow-snippet-annotations: false` in the controller's ConfigMap); \
     use the controller's dedicated annotations instead.",
    references: &[INGRESS_NGINX_CVE],
    aliases: &["CKV_K8S_153"],
    opt_in: false,
};

/// `KG071`: ClusterRole grants access to secrets (Trivy's KSV041, read literally).
pub const CLUSTERROLE_SECRETS: RuleMeta = RuleMeta {
    id: "KG071",
    name: "clusterrole-secrets",
    family: "rbac-object",
    severity: Severity::Critical,
    title: "ClusterRole grants access to secrets",
    what: "A ClusterRole has a rule listing the resource `secrets` and one of the verbs get, list, watch, create, \
     update, patch, delete, deletecollection, impersonate or `*`. The lists are read literally, as Trivy's KSV041 \
     does: the rule's own `resources` and `verbs` entries, `apiGroups` and `resourceNames` not read, a `*` resource \
     not counted (KG041 reports wildcards). The role is judged on its own, bound or not; one finding per matching \
     rule.",
    why: "Secrets hold credentials: tokens of service accounts, TLS keys, passwords. Read access to all of them in \
     every namespace is a path to every identity they hold.",
    fix: "Remove the grant, or move it into a Role of the one namespace that needs it.",
    references: &[RBAC, RBAC_REF],
    aliases: &["KSV041", "KSV-0041", "AVD-KSV-0041"],
    opt_in: false,
};

/// `KG072`: Role grants access to secrets (Trivy's KSV113, read literally).
pub const ROLE_SECRETS: RuleMeta = RuleMeta {
    id: "KG072",
    name: "role-secrets",
    family: "rbac-object",
    severity: Severity::Medium,
    title: "Role grants access to secrets",
    what: "A Role (namespaced) has a rule listing the resource `secrets` and one of the verbs get, list, watch, \
     create, update, patch, delete, deletecollection, impersonate or `*`. The lists are read literally, as Trivy's \
     KSV113 does: the rule's own `resources` and `verbs` entries, `apiGroups` and `resourceNames` not read, a `*` \
     resource not counted (KG041 reports wildcards). The role is judged on its own, bound or not; one finding per \
     matching rule.",
    why: "Secrets hold credentials; access to all those of a namespace gives every identity they hold, \
     service-account tokens included.",
    fix: "Remove the grant, or narrow it with `resourceNames` (and suppress this finding on the role, which does not \
     read them).",
    references: &[RBAC, RBAC_REF],
    aliases: &["KSV113", "KSV-0113", "AVD-KSV-0113"],
    opt_in: false,
};

/// `KG073`: Role grants access to nodes/proxy (Trivy's KSV047, read literally).
pub const ROLE_NODE_PROXY: RuleMeta = RuleMeta {
    id: "KG073",
    name: "role-node-proxy",
    family: "rbac-object",
    severity: Severity::High,
    title: "Role grants access to nodes/proxy",
    what: "A Role or ClusterRole has a rule listing the resource `nodes/proxy` and the verb get or create. The lists \
     are read literally, as Trivy's KSV047 does: the rule's own `resources` and `verbs` entries, `apiGroups` and \
     `resourceNames` not read, a `*` resource not counted (KG041 reports wildcards). The role is judged on its own, \
     bound or not; one finding per matching rule.",
    why: "`nodes/proxy` reaches the kubelet API of every node: running commands in any pod on the node (exec over \
     the kubelet), bypassing admission and audit of the API server.",
    fix: "Remove the grant; monitoring that needs node metrics can read `nodes/metrics` or `nodes/stats`.",
    references: &[RBAC, RBAC_REF],
    aliases: &["KSV047", "KSV-0047", "AVD-KSV-0047"],
    opt_in: false,
};

/// `KG074`: Role may create or change workloads (Trivy's KSV048, read literally).
pub const ROLE_MANAGE_WORKLOADS: RuleMeta = RuleMeta {
    id: "KG074",
    name: "role-manage-workloads",
    family: "rbac-object",
    severity: Severity::Medium,
    title: "Role may create or change workloads",
    what: "A Role or ClusterRole has a rule listing one of the resources pods, deployments, jobs, cronjobs, \
     statefulsets, daemonsets, replicasets or replicationcontrollers and one of the verbs create, update, patch, \
     delete, deletecollection, impersonate or `*`. The lists are read literally, as Trivy's KSV048 does: the rule's \
     own `resources` and `verbs` entries, `apiGroups` and `resourceNames` not read, a `*` resource not counted \
     (KG041 reports wildcards). The role is judged on its own, bound or not; one finding per matching rule.",
    why: "Whoever can create or change a workload can run any image as any service account of the namespace and \
     mount its secrets; where Pod Security is not enforced, a privileged pod takes over the node.",
    fix: "Grant workload write access only to the controllers and deployers that need it, in their namespace.",
    references: &[RBAC, RBAC_REF],
    aliases: &["KSV048", "KSV-0048", "AVD-KSV-0048"],
    opt_in: false,
};

/// `KG075`: Role may change configmaps (Trivy's KSV049, read literally).
pub const ROLE_MANAGE_CONFIGMAPS: RuleMeta = RuleMeta {
    id: "KG075",
    name: "role-manage-configmaps",
    family: "rbac-object",
    severity: Severity::Medium,
    title: "Role may change configmaps",
    what: "A Role or ClusterRole has a rule listing the resource `configmaps` and one of the verbs create, update, \
     patch, delete, deletecollection, impersonate or `*`. The lists are read literally, as Trivy's KSV049 does: the \
     rule's own `resources` and `verbs` entries, `apiGroups` and `resourceNames` not read, a `*` resource not \
     counted (KG041 reports wildcards). The role is judged on its own, bound or not; one finding per matching rule.",
    why: "ConfigMaps configure workloads and some cluster components (kube-proxy, CoreDNS, `aws-auth` on EKS): \
     changing them changes what those run and whom they trust.",
    fix: "Grant read verbs only, or narrow the rule with `resourceNames` (and suppress this finding on the role, \
     which does not read them).",
    references: &[RBAC, RBAC_REF],
    aliases: &["KSV049", "KSV-0049", "AVD-KSV-0049"],
    opt_in: false,
};

/// `KG076`: Role may exec into pods (Trivy's KSV053, read literally).
pub const ROLE_EXEC_PODS: RuleMeta = RuleMeta {
    id: "KG076",
    name: "role-exec-pods",
    family: "rbac-object",
    severity: Severity::High,
    title: "Role may exec into pods",
    what: "A Role or ClusterRole has a rule listing the resource `pods/exec` and one of the verbs create, update, \
     patch, delete, deletecollection, impersonate or `*`. The lists are read literally, as Trivy's KSV053 does: the \
     rule's own `resources` and `verbs` entries, `apiGroups` and `resourceNames` not read, a `*` resource not \
     counted (KG041 reports wildcards). The role is judged on its own, bound or not; one finding per matching rule.",
    why: "Exec into a pod runs commands as its user with its service-account token and secrets: the subject gains \
     every right of every pod it may exec into.",
    fix: "Remove the grant; debug with ephemeral containers under a separate, audited role.",
    references: &[RBAC, RBAC_REF],
    aliases: &["KSV053", "KSV-0053", "AVD-KSV-0053"],
    opt_in: false,
};

/// `KG077`: Role may change networking objects (Trivy's KSV056, read literally).
pub const ROLE_MANAGE_NETWORKING: RuleMeta = RuleMeta {
    id: "KG077",
    name: "role-manage-networking",
    family: "rbac-object",
    severity: Severity::High,
    title: "Role may change networking objects",
    what: "A Role or ClusterRole has a rule listing one of the resources services, endpoints, endpointslices, \
     networkpolicies or ingresses and one of the verbs create, update, patch, delete, deletecollection, impersonate \
     or `*`. The lists are read literally, as Trivy's KSV056 does: the rule's own `resources` and `verbs` entries, \
     `apiGroups` and `resourceNames` not read, a `*` resource not counted (KG041 reports wildcards). The role is \
     judged on its own, bound or not; one finding per matching rule.",
    why: "Changing Services, endpoints and Ingresses redirects traffic (man in the middle, CVE-2020-8554 with \
     external IPs); changing NetworkPolicies removes isolation.",
    fix: "Grant networking write access only to the controllers that manage it.",
    references: &[RBAC, RBAC_REF],
    aliases: &["KSV056", "KSV-0056", "AVD-KSV-0056"],
    opt_in: false,
};

/// `KG078`: Role grants verbs on every resource of its namespace (Trivy's KSV112, read literally).
pub const ROLE_ALL_RESOURCES_NAMESPACE: RuleMeta = RuleMeta {
    id: "KG078",
    name: "role-all-resources",
    family: "rbac-object",
    severity: Severity::Critical,
    title: "Role grants verbs on every resource of its namespace",
    what: "A Role (namespaced) has a rule listing the resource `*` and one of the verbs create, update, delete, \
     deletecollection, impersonate, `*`, list or get (`patch` and `watch` are not in Trivy's list). The lists are \
     read literally, as Trivy's KSV112 does: `apiGroups` and `resourceNames` not read, only a literal `*` resource \
     counts. The role is judged on its own, bound or not; one finding per matching rule.",
    why: "`*` resources include the namespace's secrets, pods and roles: the subject may read every credential of \
     the namespace or run any workload there.",
    fix: "List the resources the subject needs.",
    references: &[RBAC, RBAC_REF],
    aliases: &["KSV112", "KSV-0112", "AVD-KSV-0112"],
    opt_in: false,
};

/// `KG079`: Role may change admission webhook configurations (Trivy's KSV114, read literally).
pub const ROLE_MANAGE_WEBHOOKS: RuleMeta = RuleMeta {
    id: "KG079",
    name: "role-manage-webhooks",
    family: "rbac-object",
    severity: Severity::Critical,
    title: "Role may change admission webhook configurations",
    what: "A Role or ClusterRole has a rule listing the resource `mutatingwebhookconfigurations` or \
     `validatingwebhookconfigurations` and one of the verbs create, update, patch, delete, deletecollection, \
     impersonate or `*`. The lists are read literally, as Trivy's KSV114 does: the rule's own `resources` and \
     `verbs` entries, `apiGroups` and `resourceNames` not read, a `*` resource not counted (KG041 reports \
     wildcards); KG044 judges ClusterRoles with RBAC's own matching. The role is judged on its own, bound or not; \
     one finding per matching rule.",
    why: "Admission webhooks see and rewrite every object sent to the API server; changing their configuration \
     controls admission.",
    fix: "Remove the grant, or narrow it with `resourceNames` to the configurations of the one controller that \
     manages its own (and suppress this finding on the role).",
    references: &[RBAC, RBAC_REF],
    aliases: &["KSV114", "KSV-0114", "AVD-KSV-0114"],
    opt_in: false,
};

/// `KG080`: binding to an admin role.
pub const BINDING_ADMIN_ROLE: RuleMeta = RuleMeta {
    id: "KG080",
    name: "binding-to-admin-role",
    family: "rbac-object",
    severity: Severity::Medium,
    title: "Binding to cluster-admin, admin or edit",
    what: "A RoleBinding or ClusterRoleBinding references a role named `cluster-admin`, `admin` or `edit` (of either \
     kind), as Trivy's KSV111 reads it; upstream default bindings included. `kguard scan` reports a binding to the \
     cluster-admin ClusterRole once, as KG040, with KG080 merged.",
    why: "The user-facing default roles grant broad write access: `edit` reads every secret of the namespace and \
     runs any workload, `admin` also manages its RBAC, `cluster-admin` everything.",
    fix: "Bind a role with only the permissions needed.",
    references: &[RBAC, RBAC_REF],
    aliases: &["KSV111", "KSV-0111", "AVD-KSV-0111"],
    opt_in: false,
};

/// Every hardening rule, in id order.
pub const RULES: &[RuleMeta] = &[
    PRIVILEGED,
    PRIV_ESC_UNSET,
    PRIV_ESC_TRUE,
    DANGEROUS_CAPS,
    CAPS_ADDED,
    DROP_ALL,
    RUN_AS_NON_ROOT,
    RUN_AS_ROOT_UID,
    RUN_AS_ROOT_GID,
    LOW_UID,
    LOW_GID,
    READ_ONLY_ROOT_FS,
    SECCOMP_MISSING,
    SECCOMP_UNCONFINED,
    APPARMOR_MISSING,
    APPARMOR_UNCONFINED,
    SELINUX,
    PROC_MOUNT,
    UNSAFE_SYSCTLS,
    HOST_NETWORK,
    HOST_PID,
    HOST_IPC,
    HOST_PORT,
    HOST_PATH,
    SENSITIVE_HOST_PATH,
    AUTOMOUNT_TOKEN,
    DEFAULT_SA,
    SECRET_ENV_REF,
    SECRET_ENV_LITERAL,
    IMAGE_TAG,
    IMAGE_DIGEST,
    PULL_POLICY,
    CPU_REQUEST,
    CPU_LIMIT,
    MEMORY_REQUEST,
    MEMORY_LIMIT,
    HOST_PROCESS,
    HOST_USERS,
    BINDING_ANONYMOUS,
    BINDING_CLUSTER_ADMIN,
    RBAC_WILDCARD,
    SERVICE_NODEPORT,
    SERVICE_LOADBALANCER,
    ROLE_WEBHOOKS,
    ROLE_CSR_APPROVE,
    ROLE_BIND,
    ROLE_ESCALATE,
    ROLE_FULL_WILDCARD,
    NET_RAW_NOT_DROPPED,
    DOCKER_SOCKET,
    LOW_UID_HOST_USERNS,
    RUN_AS_NON_ROOT_UNSET,
    CAP_SYS_ADMIN,
    CAP_NET_RAW,
    CAP_SYS_MODULE,
    CAP_NET_BIND_SERVICE,
    AUTOMOUNT_TOKEN_SA_ONLY,
    DEFAULT_BINDING_ANONYMOUS,
    PRIVILEGED_PORT,
    NON_CORE_VOLUME,
    POD_SECURITY_CONTEXT_UNSET,
    CONTAINER_SECURITY_CONTEXT_UNSET,
    CONTAINER_DEFAULT_SECURITY_CONTEXT,
    WORKLOAD_DEFAULT_NAMESPACE,
    OBJECT_DEFAULT_NAMESPACE,
    KUBE_SYSTEM_NAMESPACE,
    HOST_PATH_SYSTEM_DIR,
    KUBERNETES_DASHBOARD,
    BINDING_DEFAULT_SA,
    INGRESS_SNIPPET,
    CLUSTERROLE_SECRETS,
    ROLE_SECRETS,
    ROLE_NODE_PROXY,
    ROLE_MANAGE_WORKLOADS,
    ROLE_MANAGE_CONFIGMAPS,
    ROLE_EXEC_PODS,
    ROLE_MANAGE_NETWORKING,
    ROLE_ALL_RESOURCES_NAMESPACE,
    ROLE_MANAGE_WEBHOOKS,
    BINDING_ADMIN_ROLE,
];
