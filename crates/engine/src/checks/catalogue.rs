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

#[allow(clippy::too_many_arguments)]
const fn rule(
    id: &'static str,
    name: &'static str,
    family: &'static str,
    severity: Severity,
    title: &'static str,
    what: &'static str,
    why: &'static str,
    fix: &'static str,
    references: &'static [&'static str],
    aliases: &'static [&'static str],
) -> RuleMeta {
    RuleMeta { id, name, family, severity, title, what, why, fix, references, aliases }
}

/// `KG001`: privileged container.
pub const PRIVILEGED: RuleMeta = rule(
    "KG001",
    "privileged-container",
    "hardening",
    Severity::Critical,
    "Container runs privileged",
    "A container (init and ephemeral containers included) sets `securityContext.privileged: true`.",
    "A privileged container has every capability, sees every host device and is not confined by seccomp, \
     AppArmor or SELinux: it is root on the node in all but name, and escaping it is trivial.",
    "Remove `privileged: true` (or set it to false) and grant only the specific capabilities the program needs.",
    &[SECCTX, PSS],
    &[
        "Privileged",
        "KSV017",
        "KSV-0017",
        "AVD-KSV-0017",
        "CKV_K8S_16",
        "runAsPrivileged",
        "privileged-container",
        "container-security-context-privileged",
    ],
);

/// `KG002`: allowPrivilegeEscalation not set to false.
pub const PRIV_ESC_UNSET: RuleMeta = rule(
    "KG002",
    "privilege-escalation-unset",
    "hardening",
    Severity::Medium,
    "allowPrivilegeEscalation not set to false",
    "A Linux container does not set `securityContext.allowPrivilegeEscalation`; the runtime then allows it \
     (the `no_new_privs` flag is not set). An explicit `true` is reported by KG003 instead.",
    "Without `no_new_privs`, a process can gain privileges through setuid/setgid binaries or file \
     capabilities, turning a foothold in the container into root inside it.",
    "Set `securityContext.allowPrivilegeEscalation: false` on every container.",
    &[SECCTX, PSS],
    &["KSV001", "KSV-0001", "AVD-KSV-0001", "CKV_K8S_20", "privilegeEscalationAllowed"],
);

/// `KG003`: allowPrivilegeEscalation set to true.
pub const PRIV_ESC_TRUE: RuleMeta = rule(
    "KG003",
    "privilege-escalation-allowed",
    "hardening",
    Severity::High,
    "allowPrivilegeEscalation set to true",
    "A container explicitly sets `securityContext.allowPrivilegeEscalation: true`.",
    "Explicitly allowing privilege escalation lets setuid binaries and file capabilities raise a process's \
     privileges; it is almost never needed by application containers.",
    "Set `securityContext.allowPrivilegeEscalation: false`.",
    &[SECCTX, PSS],
    &[
        "AllowPrivilegeEscalation",
        "KSV001",
        "KSV-0001",
        "AVD-KSV-0001",
        "CKV_K8S_20",
        "privilegeEscalationAllowed",
        "privilege-escalation-container",
    ],
);

/// `KG004`: dangerous capabilities added.
pub const DANGEROUS_CAPS: RuleMeta = rule(
    "KG004",
    "dangerous-capabilities",
    "hardening",
    Severity::High,
    "Dangerous Linux capability added",
    "A container adds, in `securityContext.capabilities.add`, one of ALL, SYS_ADMIN, NET_ADMIN, NET_RAW, \
     SYS_PTRACE, SYS_MODULE, SYS_RAWIO, SYS_BOOT, SYS_TIME, BPF, PERFMON, DAC_READ_SEARCH, MAC_ADMIN, \
     MAC_OVERRIDE, SYSLOG or LINUX_IMMUTABLE (case-insensitive, with or without the `CAP_` prefix).",
    "These capabilities grant root-like control over the node's kernel (mounting, loading modules, tracing \
     other processes, reading any file, raw packets for spoofing) and are the usual stepping stones of \
     container escapes.",
    "Remove the capability from `capabilities.add`; drop ALL and add back only harmless ones such as \
     NET_BIND_SERVICE.",
    &[CAPS, SECCTX, PSS],
    &[
        "CapSysAdmin",
        "KSV005",
        "KSV-0005",
        "AVD-KSV-0005",
        "KSV119",
        "KSV-0119",
        "AVD-KSV-0119",
        "KSV120",
        "KSV-0120",
        "AVD-KSV-0120",
        // Trivy's KSV022 and Checkov's CKV_K8S_25 fail any added capability; KSV106 any but
        // NET_BIND_SERVICE.
        "KSV022",
        "KSV-0022",
        "AVD-KSV-0022",
        "KSV106",
        "KSV-0106",
        "AVD-KSV-0106",
        "CKV_K8S_25",
        "CKV_K8S_39",
        "dangerousCapabilities",
    ],
);

/// `KG005`: other capabilities added.
pub const CAPS_ADDED: RuleMeta = rule(
    "KG005",
    "capabilities-added",
    "hardening",
    Severity::Medium,
    "Linux capability added",
    "A container adds a capability other than NET_BIND_SERVICE that KG004 does not already report \
     (for example CHOWN, SETUID, KILL).",
    "Every added capability widens what a compromised process may do; the restricted Pod Security level \
     allows only NET_BIND_SERVICE.",
    "Remove the capability from `capabilities.add`, or document why the program needs it and suppress the \
     finding for this object.",
    &[CAPS, PSS],
    // Trivy's KSV106 also fails a container that drops ALL but adds a capability other than
    // NET_BIND_SERVICE.
    &["KSV022", "KSV-0022", "AVD-KSV-0022", "KSV106", "KSV-0106", "AVD-KSV-0106", "CKV_K8S_25"],
);

/// `KG006`: capabilities not dropping ALL.
pub const DROP_ALL: RuleMeta = rule(
    "KG006",
    "capabilities-drop-all",
    "hardening",
    Severity::Low,
    "Capabilities not dropped",
    "A Linux container's `securityContext.capabilities.drop` does not contain `ALL` (case-insensitive).",
    "Container runtimes grant a default set of capabilities (CHOWN, DAC_OVERRIDE, SETUID, NET_RAW, ...) \
     most programs never use; NET_RAW alone allows ARP and DNS spoofing inside the node network.",
    "Add `drop: [ALL]` under `securityContext.capabilities` and add back only what is needed.",
    &[CAPS, PSS],
    &[
        "CapDropAll",
        "KSV003",
        "KSV-0003",
        "AVD-KSV-0003",
        "KSV106",
        "KSV-0106",
        "AVD-KSV-0106",
        "CKV_K8S_37",
        // Checkov's NET_RAW check fails when `drop` lists neither ALL nor NET_RAW (`add` is not read).
        "CKV_K8S_28",
        "insecureCapabilities",
    ],
);

/// `KG007`: may run as root.
pub const RUN_AS_NON_ROOT: RuleMeta = rule(
    "KG007",
    "run-as-non-root",
    "hardening",
    Severity::Medium,
    "Container may run as root",
    "A Linux container's effective security context (container over pod) sets neither `runAsNonRoot: true` \
     nor a `runAsUser` greater than 0, so the image's user (often root) is used. Also reported when \
     `runAsNonRoot` is explicitly false and no non-zero `runAsUser` is set.",
    "Root in a container is root on the node's kernel: any escape or writable host mount then has full \
     privileges.",
    "Set `securityContext.runAsNonRoot: true` (pod or container) and a non-zero `runAsUser`, and build the \
     image with a non-root `USER`.",
    &[SECCTX, PSS],
    &["RunAsNonRoot", "KSV012", "KSV-0012", "AVD-KSV-0012", "CKV_K8S_23", "runAsRootAllowed", "run-as-non-root"],
);

/// `KG008`: runAsUser 0.
pub const RUN_AS_ROOT_UID: RuleMeta = rule(
    "KG008",
    "run-as-root-user",
    "hardening",
    Severity::High,
    "Container runs as UID 0",
    "The effective `runAsUser` (container over pod) of a container is 0.",
    "UID 0 is root; it defeats `runAsNonRoot` and gives the process root on the node's kernel.",
    "Set `runAsUser` to a non-zero UID (10000 or higher is best) and `runAsNonRoot: true`.",
    &[SECCTX, PSS],
    // Trivy's KSV020 (UID <= 10000, or none in the container) and Checkov's CKV_K8S_40 also fail UID 0.
    &["KSV105", "KSV-0105", "AVD-KSV-0105", "KSV020", "KSV-0020", "AVD-KSV-0020", "CKV_K8S_40"],
);

/// `KG009`: root group.
pub const RUN_AS_ROOT_GID: RuleMeta = rule(
    "KG009",
    "run-as-root-group",
    "hardening",
    Severity::Medium,
    "Container runs with GID 0",
    "The effective `runAsGroup` of a container is 0, or the pod's `fsGroup` or `supplementalGroups` \
     contain 0.",
    "Group 0 owns many sensitive files on the node and in images; a process in it can read or write them \
     through any host mount.",
    "Set `runAsGroup`, `fsGroup` and `supplementalGroups` to non-zero GIDs (10000 or higher is best).",
    &[SECCTX],
    &["KSV116", "KSV-0116", "AVD-KSV-0116"],
);

/// `KG010`: low UID.
pub const LOW_UID: RuleMeta = rule(
    "KG010",
    "low-user-id",
    "hardening",
    Severity::Low,
    "Container runs with a low or unset UID",
    "The effective `runAsUser` of a Linux container is unset or between 1 and 9999 (UID 0 is KG008). \
     10000 passes here (as for kube-score and Checkov; kubesec and Trivy want more than 10000).",
    "Low UIDs collide with real users on the node; a process that escapes the container then acts as that \
     user (and gets its files).",
    "Set `runAsUser` to 10000 or higher.",
    &[SECCTX],
    &["RunAsUser", "KSV020", "KSV-0020", "AVD-KSV-0020", "CKV_K8S_40", "container-security-context-user-group-id"],
);

/// `KG011`: low GID.
pub const LOW_GID: RuleMeta = rule(
    "KG011",
    "low-group-id",
    "hardening",
    Severity::Low,
    "Container runs with a low or unset GID",
    "The effective `runAsGroup` of a Linux container is unset or between 1 and 9999 (GID 0 is KG009).",
    "Low GIDs collide with groups on the node, which may own files reachable through host mounts.",
    "Set `runAsGroup` to 10000 or higher.",
    &[SECCTX],
    &["RunAsGroup", "KSV021", "KSV-0021", "AVD-KSV-0021", "container-security-context-user-group-id"],
);

/// `KG012`: writable root filesystem.
pub const READ_ONLY_ROOT_FS: RuleMeta = rule(
    "KG012",
    "read-only-root-filesystem",
    "hardening",
    Severity::Low,
    "Root filesystem is writable",
    "A container does not set `securityContext.readOnlyRootFilesystem: true` (container level only; it is \
     not a pod field).",
    "A writable root filesystem lets an attacker drop tools and binaries into PATH and persist changes for \
     the life of the container.",
    "Set `readOnlyRootFilesystem: true` and mount `emptyDir` volumes where the program must write.",
    &[SECCTX],
    &[
        "ReadOnlyRootFilesystem",
        "KSV014",
        "KSV-0014",
        "AVD-KSV-0014",
        "CKV_K8S_22",
        "notReadOnlyRootFilesystem",
        "no-read-only-root-fs",
        "container-security-context-readonlyrootfilesystem",
    ],
);

/// `KG013`: no seccomp profile.
pub const SECCOMP_MISSING: RuleMeta = rule(
    "KG013",
    "seccomp-profile-missing",
    "hardening",
    Severity::Low,
    "No seccomp profile",
    "A Linux container has no effective `seccompProfile.type` (container over pod) and no legacy \
     `seccomp.security.alpha.kubernetes.io/pod` or `container.seccomp.security.alpha.kubernetes.io/<name>` \
     annotation, so it runs Unconfined unless the kubelet defaults to RuntimeDefault.",
    "Seccomp blocks the rarely used system calls most kernel exploits rely on; without it every system call \
     is available to an attacker.",
    "Set `securityContext.seccompProfile.type: RuntimeDefault` at pod level (or `Localhost` with a vetted \
     profile).",
    &[SECCOMP, PSS],
    &[
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
);

/// `KG014`: seccomp Unconfined.
pub const SECCOMP_UNCONFINED: RuleMeta = rule(
    "KG014",
    "seccomp-unconfined",
    "hardening",
    Severity::Medium,
    "Seccomp explicitly disabled",
    "A container's effective `seccompProfile.type` is `Unconfined`, or (with no field set) a legacy seccomp \
     annotation says `unconfined`.",
    "Unconfined seccomp exposes every system call, including those behind most container-escape kernel \
     exploits.",
    "Use `seccompProfile.type: RuntimeDefault` (or `Localhost`).",
    &[SECCOMP, PSS],
    &["SeccompUnconfined", "KSV104", "KSV-0104", "AVD-KSV-0104"],
);

/// `KG015`: no AppArmor profile.
pub const APPARMOR_MISSING: RuleMeta = rule(
    "KG015",
    "apparmor-profile-missing",
    "hardening",
    Severity::Low,
    "No AppArmor profile",
    "A Linux container has no effective `appArmorProfile` (container over pod) and no \
     `container.apparmor.security.beta.kubernetes.io/<name>` annotation.",
    "An explicit AppArmor profile documents and guarantees mandatory access control on AppArmor nodes, \
     limiting file, mount and network access of a compromised process.",
    "Set `securityContext.appArmorProfile.type: RuntimeDefault` (or `Localhost` with a vetted profile).",
    &[APPARMOR, PSS],
    &["ApparmorAny", "KSV002", "KSV-0002", "AVD-KSV-0002"],
);

/// `KG016`: AppArmor unconfined.
pub const APPARMOR_UNCONFINED: RuleMeta = rule(
    "KG016",
    "apparmor-unconfined",
    "hardening",
    Severity::Medium,
    "AppArmor explicitly disabled",
    "A container's effective `appArmorProfile.type` is `Unconfined`, or its \
     `container.apparmor.security.beta.kubernetes.io/<name>` annotation is `unconfined`.",
    "Unconfined AppArmor removes the mandatory access control layer between the container and the node.",
    "Use `appArmorProfile.type: RuntimeDefault` (or `Localhost`), and remove `unconfined` annotations.",
    &[APPARMOR, PSS],
    &["ApparmorUnconfined"],
);

/// `KG017`: custom SELinux options.
pub const SELINUX: RuleMeta = rule(
    "KG017",
    "selinux-options",
    "hardening",
    Severity::Medium,
    "Custom SELinux options",
    "The pod or a container sets `seLinuxOptions.user` or `.role`, or a `type` other than container_t, \
     container_init_t, container_kvm_t or container_engine_t.",
    "Custom SELinux users, roles and types can lift the confinement that keeps a container from the node's \
     files and processes (e.g. `spc_t` is unconfined).",
    "Remove `seLinuxOptions.user`/`role` and use one of the standard container types (or none).",
    &[SECCTX, PSS],
    &["KSV025", "KSV-0025", "AVD-KSV-0025"],
);

/// `KG018`: unmasked /proc.
pub const PROC_MOUNT: RuleMeta = rule(
    "KG018",
    "proc-mount-unmasked",
    "hardening",
    Severity::High,
    "Unmasked /proc",
    "A container sets `securityContext.procMount` to something other than `Default` (e.g. `Unmasked`).",
    "The default proc mount masks and makes read-only the parts of /proc that leak host information or \
     allow kernel tuning; unmasking them helps escapes.",
    "Remove `procMount` or set it to `Default`.",
    &[SECCTX, PSS],
    &["KSV027", "KSV-0027", "AVD-KSV-0027", "procMount", "unsafe-proc-mount"],
);

/// `KG019`: unsafe sysctls.
pub const UNSAFE_SYSCTLS: RuleMeta = rule(
    "KG019",
    "unsafe-sysctls",
    "hardening",
    Severity::High,
    "Unsafe sysctl set",
    "The pod's `securityContext.sysctls` names a sysctl outside the safe set of the Pod Security Standards \
     (newest version).",
    "Unsafe sysctls are not namespaced or not isolated: they change kernel behaviour for every pod on the \
     node.",
    "Remove the sysctl, or set it on dedicated nodes through the kubelet's allowed-unsafe-sysctls.",
    &[SYSCTL, PSS],
    &["KSV026", "KSV-0026", "AVD-KSV-0026", "unsafe-sysctls"],
);

/// `KG020`: hostNetwork.
pub const HOST_NETWORK: RuleMeta = rule(
    "KG020",
    "host-network",
    "host",
    Severity::High,
    "Pod shares the host network namespace",
    "The pod sets `hostNetwork: true`.",
    "The pod sees and binds the node's interfaces, reaches services bound to the node's loopback (kubelet, \
     etcd on control planes) and bypasses NetworkPolicies.",
    "Remove `hostNetwork` and expose the workload through a Service.",
    &[PSS],
    &["HostNetwork", "KSV009", "KSV-0009", "AVD-KSV-0009", "CKV_K8S_19", "hostNetworkSet", "host-network"],
);

/// `KG021`: hostPID.
pub const HOST_PID: RuleMeta = rule(
    "KG021",
    "host-pid",
    "host",
    Severity::High,
    "Pod shares the host PID namespace",
    "The pod sets `hostPID: true`.",
    "Every process on the node becomes visible (with its environment and command line) and, with enough \
     privileges, traceable or killable.",
    "Remove `hostPID`.",
    &[PSS],
    &["HostPID", "KSV010", "KSV-0010", "AVD-KSV-0010", "CKV_K8S_17", "hostPIDSet", "host-pid"],
);

/// `KG022`: hostIPC.
pub const HOST_IPC: RuleMeta = rule(
    "KG022",
    "host-ipc",
    "host",
    Severity::High,
    "Pod shares the host IPC namespace",
    "The pod sets `hostIPC: true`.",
    "Processes can read and write the shared memory and message queues of every process on the node.",
    "Remove `hostIPC`.",
    &[PSS],
    &["HostIPC", "KSV008", "KSV-0008", "AVD-KSV-0008", "CKV_K8S_18", "hostIPCSet", "host-ipc"],
);

/// `KG023`: hostPort.
pub const HOST_PORT: RuleMeta = rule(
    "KG023",
    "host-port",
    "host",
    Severity::Medium,
    "Container binds a host port",
    "A container port sets a non-zero `hostPort`.",
    "A host port exposes the container on every address of the node, bypassing Services and (often) \
     NetworkPolicies, and ties the pod to nodes where the port is free.",
    "Remove `hostPort` and expose the container through a Service.",
    &[PSS],
    &["KSV024", "KSV-0024", "AVD-KSV-0024", "CKV_K8S_26", "hostPortSet"],
);

/// `KG024`: hostPath volume.
pub const HOST_PATH: RuleMeta = rule(
    "KG024",
    "host-path",
    "host",
    Severity::Medium,
    "hostPath volume",
    "The pod declares a `hostPath` volume (any path; sensitive paths are also reported by KG025).",
    "hostPath volumes give the pod the node's files: they break isolation, survive the pod and are a \
     classic escape route when writable.",
    "Use a PersistentVolumeClaim, ConfigMap, Secret, emptyDir or CSI volume instead; if a hostPath is \
     unavoidable, mount it `readOnly` and restrict its path.",
    &[VOLUMES, PSS],
    &["KSV023", "KSV-0023", "AVD-KSV-0023", "hostPathSet"],
);

/// `KG025`: sensitive hostPath.
pub const SENSITIVE_HOST_PATH: RuleMeta = rule(
    "KG025",
    "sensitive-host-path",
    "host",
    Severity::Critical,
    "Sensitive host path mounted",
    "A `hostPath` volume's path is, or is under, a sensitive node location: `/` itself, `/etc`, `/proc`, \
     `/sys`, `/boot`, `/dev`, `/root`, `/var/lib/kubelet`, `/var/lib/docker`, `/var/lib/containerd`, \
     `/var/run` or `/run` themselves, or a container runtime socket (docker.sock, containerd.sock, \
     crio.sock, cri-dockerd.sock) anywhere.",
    "Runtime sockets let the pod start privileged containers on the node; /etc, /root and the kubelet's \
     directory hold credentials; /proc and /sys expose kernel controls. Each is a direct path to the node.",
    "Remove the volume. Talk to the Kubernetes API instead of the runtime socket, and keep node \
     configuration out of workloads.",
    &[VOLUMES],
    &[
        "DockerSock",
        "ProcMount",
        "KSV006",
        "KSV-0006",
        "AVD-KSV-0006",
        "CKV_K8S_27",
        "docker-sock",
        "sensitive-host-mounts",
    ],
);

/// `KG026`: service-account token automount.
pub const AUTOMOUNT_TOKEN: RuleMeta = rule(
    "KG026",
    "automount-service-account-token",
    "secrets",
    Severity::Low,
    "Service-account token mounted",
    "The pod spec does not set `automountServiceAccountToken: false`, and the token is therefore mounted: the \
     pod sets `true`, or leaves it unset while its ServiceAccount (`serviceAccountName`, else `default`, in the \
     pod's namespace) does not set `false`. As the API server's serviceaccount admission plugin decides, an unset \
     pod field defers to the ServiceAccount: when that ServiceAccount is among the scanned objects and sets \
     `automountServiceAccountToken: false`, the rule does not fire (Polaris does the same); when it is not in the \
     input, kguard cannot know and fires. Trivy (KSV036) and Checkov (CKV_K8S_38) read the pod spec only.",
    "A mounted token is the first thing an attacker uses after a compromise to talk to the API server with \
     the pod's permissions.",
    "Set `automountServiceAccountToken: false` in the pod spec unless the program calls the Kubernetes API.",
    &[SA],
    &[
        "AutomountServiceAccountToken",
        "KSV036",
        "KSV-0036",
        "AVD-KSV-0036",
        "CKV_K8S_38",
        "automountServiceAccountToken",
    ],
);

/// `KG027`: default service account.
pub const DEFAULT_SA: RuleMeta = rule(
    "KG027",
    "default-service-account",
    "secrets",
    Severity::Low,
    "Pod uses the default service account",
    "The pod spec sets no `serviceAccountName` (or sets `default`).",
    "Every pod of the namespace shares the default ServiceAccount; permissions granted to it for one workload \
     leak to all of them.",
    "Create a dedicated ServiceAccount for the workload and set `serviceAccountName`.",
    &[SA],
    &["ServiceAccountName", "default-service-account"],
);

/// `KG028`: secrets read into environment variables.
pub const SECRET_ENV_REF: RuleMeta = rule(
    "KG028",
    "secret-in-env",
    "secrets",
    Severity::Medium,
    "Secret exposed as environment variable",
    "A container reads a Secret into its environment through `env[].valueFrom.secretKeyRef` or \
     `envFrom[].secretRef`.",
    "Environment variables leak: into logs and crash reports, to child processes, and through /proc to \
     anything sharing the PID namespace. Mounted files can be rotated and permission-restricted.",
    "Mount the Secret as a volume (read-only, restrictive `defaultMode`) and read it from the file.",
    &[SECRETS],
    &["SecretsAsEnvironmentVariables", "CKV_K8S_35", "read-secret-from-env-var"],
);

/// `KG029`: literal secrets in environment variables.
pub const SECRET_ENV_LITERAL: RuleMeta = rule(
    "KG029",
    "secret-literal-in-env",
    "secrets",
    Severity::High,
    "Secret written into the manifest",
    "A container's `env[].value` is a non-empty literal and either the variable's name looks like a secret \
     (password, passwd, secret, token, credential, api key, access key, private key, or ending in `_key`) \
     or the value holds a PEM `PRIVATE KEY` block.",
    "A secret written into a manifest is in version control, in every rendered chart and readable by anyone \
     who can read the workload object.",
    "Store the value in a Secret (or an external secret manager) and mount it as a file.",
    &[SECRETS],
    &["sensitiveContainerEnvVar", "env-var-secret"],
);

/// `KG030`: image tag missing or latest.
pub const IMAGE_TAG: RuleMeta = rule(
    "KG030",
    "image-tag-latest",
    "images",
    Severity::Medium,
    "Image has no tag or uses latest",
    "A container's `image` has neither a tag nor a digest, or its tag is `latest` (without a digest).",
    "The image that runs then changes without any change to the manifest: deployments are not \
     reproducible, rollbacks do not roll back, and a compromised registry tag is picked up silently.",
    "Pin a specific version tag, or better an immutable digest (`image@sha256:...`).",
    &[IMAGES],
    &["KSV013", "KSV-0013", "AVD-KSV-0013", "CKV_K8S_14", "tagNotSpecified", "latest-tag", "container-image-tag"],
);

/// `KG031`: image not pinned by digest.
pub const IMAGE_DIGEST: RuleMeta = rule(
    "KG031",
    "image-digest-missing",
    "images",
    Severity::Info,
    "Image not pinned by digest",
    "A container's `image` has no `@sha256:` digest.",
    "Tags are mutable: whoever controls the registry can change what a tag points to; only a digest pins \
     the exact content.",
    "Reference images by digest (`registry/name:tag@sha256:...`), e.g. resolved by your CI.",
    &[IMAGES],
    &["CKV_K8S_43"],
);

/// `KG032`: pull policy not Always for mutable images.
pub const PULL_POLICY: RuleMeta = rule(
    "KG032",
    "image-pull-policy",
    "images",
    Severity::Low,
    "Mutable image not pulled Always",
    "A container's image is not pinned by digest and its effective `imagePullPolicy` is not `Always`. The \
     effective policy is the one the API server defaults: `Always` for an untagged or `:latest` image, \
     `IfNotPresent` otherwise.",
    "With `IfNotPresent`, a node keeps running whatever it cached under the tag: nodes can run different \
     content, and a private image cached on a node can be used by pods without pull credentials.",
    "Set `imagePullPolicy: Always`, or pin the image by digest.",
    &[IMAGES],
    &["CKV_K8S_15", "pullPolicyNotAlways", "container-image-pull-policy"],
);

/// `KG033`: CPU request missing.
pub const CPU_REQUEST: RuleMeta = rule(
    "KG033",
    "cpu-request-missing",
    "resources",
    Severity::Low,
    "CPU request missing",
    "An init or regular container has neither `resources.requests.cpu` nor `resources.limits.cpu` (a limit \
     alone defaults the request to it).",
    "Without requests the scheduler cannot place the pod fairly and it is the first to be starved.",
    "Set `resources.requests.cpu`.",
    &[RESOURCES],
    &[
        "RequestsCPU",
        "KSV015",
        "KSV-0015",
        "AVD-KSV-0015",
        "CKV_K8S_10",
        "cpuRequestsMissing",
        "unset-cpu-requirements",
        "container-resources",
    ],
);

/// `KG034`: CPU limit missing.
pub const CPU_LIMIT: RuleMeta = rule(
    "KG034",
    "cpu-limit-missing",
    "resources",
    Severity::Low,
    "CPU limit missing",
    "An init or regular container has no `resources.limits.cpu`.",
    "An unlimited container can use every CPU of its node and starve its neighbours (denial of service).",
    "Set `resources.limits.cpu` (or enforce one with a LimitRange).",
    &[RESOURCES],
    &[
        "LimitsCPU",
        "KSV011",
        "KSV-0011",
        "AVD-KSV-0011",
        "CKV_K8S_11",
        "cpuLimitsMissing",
        "unset-cpu-requirements",
        "container-resources",
    ],
);

/// `KG035`: memory request missing.
pub const MEMORY_REQUEST: RuleMeta = rule(
    "KG035",
    "memory-request-missing",
    "resources",
    Severity::Low,
    "Memory request missing",
    "An init or regular container has neither `resources.requests.memory` nor `resources.limits.memory`.",
    "Without a memory request the pod is scheduled blindly and is among the first evicted under pressure.",
    "Set `resources.requests.memory`.",
    &[RESOURCES],
    &[
        "RequestsMemory",
        "KSV016",
        "KSV-0016",
        "AVD-KSV-0016",
        "CKV_K8S_12",
        "memoryRequestsMissing",
        "unset-memory-requirements",
        "container-resources",
    ],
);

/// `KG036`: memory limit missing.
pub const MEMORY_LIMIT: RuleMeta = rule(
    "KG036",
    "memory-limit-missing",
    "resources",
    Severity::Low,
    "Memory limit missing",
    "An init or regular container has no `resources.limits.memory`.",
    "An unlimited container can exhaust its node's memory and trigger out-of-memory kills of other pods.",
    "Set `resources.limits.memory`.",
    &[RESOURCES],
    &[
        "LimitsMemory",
        "KSV018",
        "KSV-0018",
        "AVD-KSV-0018",
        "CKV_K8S_13",
        "memoryLimitsMissing",
        "unset-memory-requirements",
        "container-resources",
    ],
);

/// `KG037`: Windows hostProcess.
pub const HOST_PROCESS: RuleMeta = rule(
    "KG037",
    "windows-host-process",
    "host",
    Severity::Critical,
    "Windows HostProcess container",
    "The pod or a container sets `securityContext.windowsOptions.hostProcess: true`.",
    "A HostProcess container runs directly on the Windows node, with the node's network and file system: \
     it is equivalent to a privileged Linux container.",
    "Remove `hostProcess: true`; use it only for node-management DaemonSets in dedicated namespaces.",
    &[WINDOWS, PSS],
    &["KSV103", "KSV-0103", "AVD-KSV-0103", "hostProcess"],
);

/// `KG038`: hostUsers not false.
pub const HOST_USERS: RuleMeta = rule(
    "KG038",
    "host-users",
    "hardening",
    Severity::Info,
    "Pod not in a user namespace",
    "A Linux pod does not set `hostUsers: false`, so container UIDs are the node's UIDs.",
    "In a user namespace, root in the container maps to an unprivileged user on the node, which defuses \
     most escapes.",
    "Set `spec.hostUsers: false` (Kubernetes 1.30+ with user-namespace support on the nodes).",
    &[USERNS],
    &["HostUsers"],
);

/// `KG039`: binding to anonymous or unauthenticated.
pub const BINDING_ANONYMOUS: RuleMeta = rule(
    "KG039",
    "binding-to-anonymous",
    "rbac-object",
    Severity::Critical,
    "Role bound to anonymous users",
    "A RoleBinding or ClusterRoleBinding has a subject named `system:anonymous` or `system:unauthenticated`.",
    "Anyone who can reach the API server, without credentials, gets the bound role's permissions.",
    "Remove the subject; grant the permissions to authenticated identities only.",
    &[RBAC, RBAC_REF],
    &["BindingsToSystemAnonymous", "KSV122", "KSV-0122", "AVD-KSV-0122"],
);

/// `KG040`: binding to cluster-admin.
pub const BINDING_CLUSTER_ADMIN: RuleMeta = rule(
    "KG040",
    "binding-to-cluster-admin",
    "rbac-object",
    Severity::High,
    "Binding to cluster-admin",
    "A RoleBinding or ClusterRoleBinding references the ClusterRole `cluster-admin`.",
    "cluster-admin allows every verb on every resource; a binding to it makes its subjects all-powerful \
     (within the namespace for a RoleBinding), and any compromise of them a cluster compromise.",
    "Bind a role with only the permissions needed.",
    &[RBAC, RBAC_REF],
    &["clusterrolebindingClusterAdmin", "rolebindingClusterAdminClusterRole", "cluster-admin-role-binding"],
);

/// `KG041`: wildcard in RBAC rules.
pub const RBAC_WILDCARD: RuleMeta = rule(
    "KG041",
    "rbac-wildcard",
    "rbac-object",
    Severity::High,
    "Wildcard in Role rules",
    "A Role or ClusterRole rule lists `*` in `verbs` or `resources`.",
    "Wildcards grant every present and future verb or resource (including secrets, escalate and \
     impersonate), far beyond what a workload needs.",
    "List the verbs and resources explicitly.",
    &[RBAC, RBAC_REF],
    &[
        "KSV044",
        "KSV-0044",
        "AVD-KSV-0044",
        "KSV045",
        "KSV-0045",
        "AVD-KSV-0045",
        "KSV046",
        "KSV-0046",
        "AVD-KSV-0046",
        "CKV_K8S_49",
        "wildcard-in-rules",
    ],
);

/// `KG042`: NodePort service.
pub const SERVICE_NODEPORT: RuleMeta = rule(
    "KG042",
    "service-node-port",
    "service",
    Severity::Low,
    "Service of type NodePort",
    "A Service sets `type: NodePort`.",
    "A NodePort opens the port on every node's addresses, usually outside the reach of ingress controls and \
     load-balancer firewalls.",
    "Use a ClusterIP Service behind an Ingress or Gateway, or a LoadBalancer with source ranges.",
    &[SERVICE],
    &["exposed-services"],
);

/// `KG043`: LoadBalancer service.
pub const SERVICE_LOADBALANCER: RuleMeta = rule(
    "KG043",
    "service-load-balancer",
    "service",
    Severity::Info,
    "Service of type LoadBalancer",
    "A Service sets `type: LoadBalancer` without `loadBalancerSourceRanges`.",
    "A LoadBalancer usually gets a public address: the workload is reachable from the internet unless source \
     ranges or the provider's firewall restrict it.",
    "Set `loadBalancerSourceRanges`, use an internal load balancer annotation, or expose through an Ingress.",
    &[SERVICE],
    &["exposed-services"],
);

/// `KG044`: a ClusterRole that may write admission webhook configurations.
pub const ROLE_WEBHOOKS: RuleMeta = rule(
    "KG044",
    "role-webhook-configuration",
    "rbac-object",
    Severity::High,
    "ClusterRole controls admission webhook configurations",
    "A ClusterRole grants create, update, patch or delete on `mutatingwebhookconfigurations` or \
     `validatingwebhookconfigurations` (`admissionregistration.k8s.io`), wildcards included, in one rule. The role \
     is judged on its own, bound or not (RBAC009 reports the subjects a binding gives it to). Roles are not \
     checked: the configurations are cluster-scoped, so a Role's grant on them is void. Checkov's CKV_K8S_155 \
     reads create, update and patch; kguard adds delete (deleting a validating webhook switches its policy off).",
    "A mutating webhook sees and rewrites every object sent to the API server, secrets included; whoever \
     controls the configurations controls admission.",
    "Remove the grant, or narrow it with `resourceNames` to the webhook configurations of the one controller that \
     manages its own.",
    &[RBAC, RBAC_REF],
    &["CKV_K8S_155"],
);

/// `KG045`: a ClusterRole that may approve certificate signing requests.
pub const ROLE_CSR_APPROVE: RuleMeta = rule(
    "KG045",
    "role-csr-approval",
    "rbac-object",
    Severity::High,
    "ClusterRole can approve certificate signing requests",
    "A ClusterRole grants both update or patch on `certificatesigningrequests/approval` and `approve` on \
     `signers` (`certificates.k8s.io`), wildcards and `*/approval` included: the two permissions the API server \
     requires to approve a CSR. Judged on the role alone, bound or not (RBAC007 reports the subjects); Roles are \
     not checked (cluster-scoped resources), as in Checkov's CKV_K8S_156.",
    "Approving a CSR for the `kubernetes.io/kube-apiserver-client` signer issues a client certificate for any \
     user and groups, `system:masters` included.",
    "Leave CSR approval to the controller manager; restrict `approve` with `resourceNames` to the signers needed.",
    &[RBAC_REF, "https://kubernetes.io/docs/reference/access-authn-authz/certificate-signing-requests/"],
    &["CKV_K8S_156"],
);

/// `KG046`: a Role or ClusterRole that may bind roles.
pub const ROLE_BIND: RuleMeta = rule(
    "KG046",
    "role-bind",
    "rbac-object",
    Severity::High,
    "Role grants the bind verb",
    "A Role or ClusterRole grants `bind` on `roles` or `clusterroles` (`rbac.authorization.k8s.io`), wildcards \
     included: the permission the API server checks before it accepts a binding to a role the user does not \
     hold. Judged on the role alone, bound or not (RBAC005 reports the subjects). Checkov's CKV_K8S_157 looks for \
     `bind` on `rolebindings`/`clusterrolebindings`, where the verb has no effect; both fire on wildcards.",
    "With `bind`, a subject can create bindings to roles with permissions it does not have, up to cluster-admin: \
     RBAC's escalation prevention no longer applies.",
    "Remove `bind`; if a controller hands out roles, list them in `resourceNames`.",
    &[
        RBAC,
        "https://kubernetes.io/docs/reference/access-authn-authz/rbac/#restrictions-on-role-binding-creation-or-update",
    ],
    &["CKV_K8S_157"],
);

/// `KG047`: a Role or ClusterRole that may escalate roles.
pub const ROLE_ESCALATE: RuleMeta = rule(
    "KG047",
    "role-escalate",
    "rbac-object",
    Severity::High,
    "Role grants the escalate verb",
    "A Role or ClusterRole grants `escalate` on `roles` or `clusterroles` (`rbac.authorization.k8s.io`), \
     wildcards included, as Checkov's CKV_K8S_158. Judged on the role alone, bound or not (RBAC005 reports the \
     subjects).",
    "With `escalate`, a subject can write roles holding permissions it does not have, then use them: RBAC's \
     escalation prevention no longer applies.",
    "Remove `escalate`; role authors need only the permissions they put in the roles they write.",
    &[RBAC, "https://kubernetes.io/docs/reference/access-authn-authz/rbac/#restrictions-on-role-creation-or-update"],
    &["CKV_K8S_158"],
);

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
];
