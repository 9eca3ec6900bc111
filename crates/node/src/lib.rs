//! Node hardening: what a Kubernetes node runs and how it is configured.
//!
//! * [`sshd`]: the effective sshd configuration exactly as `sshd -T` computes it, and findings
//!   against dev-sec's ssh-baseline values, each naming the deciding `file:line`.
//! * [`kubebench`]: kube-bench's CIS checks from its own `cfg/` data, evaluated as kube-bench does.
//! * [`ports`]: listening sockets from /proc/net with their processes, role allow-list findings.
//! * [`kubelet`]: the kubelet's config file, drop-ins and flags merged as the kubelet merges them.
//! * [`sysctl`]: kernel parameters from /proc/sys against dev-sec linux-baseline's values.
//! * [`packages`]: installed packages a node should not carry (and the audit daemon it should).
//! * [`source`]: the files a check reads ([`source::Source`]: a root directory or memory);
//!   [`host`]: the crate's only I/O (files under `--root`, audit commands with a timeout).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod host;
pub mod kubebench;
pub mod kubelet;
pub mod packages;
pub mod ports;
pub mod source;
pub mod sshd;
pub mod sysctl;

/// Every rule of the node checks (`kguard explain`): kube-bench results, sshd, ports, kubelet,
/// sysctl, packages.
pub const RULES: &[kguard_report::RuleMeta] = &[
    kubebench::CHECK_FAILED,
    kubebench::CHECK_WARN,
    sshd::findings::ROOT_LOGIN,
    sshd::findings::PASSWORD_AUTH,
    sshd::findings::KBD_INTERACTIVE,
    sshd::findings::EMPTY_PASSWORDS,
    sshd::findings::X11_FORWARDING,
    sshd::findings::AGENT_FORWARDING,
    sshd::findings::TCP_FORWARDING,
    sshd::findings::MAX_AUTH_TRIES,
    sshd::findings::LOGIN_GRACE_TIME,
    sshd::findings::WEAK_CIPHERS,
    sshd::findings::WEAK_MACS,
    sshd::findings::WEAK_KEX,
    sshd::findings::WEAK_HOSTKEY,
    sshd::findings::USER_ENVIRONMENT,
    ports::KUBELET_READONLY,
    ports::ETCD_EXPOSED,
    ports::UNEXPECTED_PORT,
    kubelet::ANONYMOUS_AUTH,
    kubelet::ALWAYS_ALLOW,
    kubelet::NO_CLIENT_CA,
    kubelet::READ_ONLY_PORT,
    kubelet::STREAMING_IDLE,
    kubelet::PROTECT_KERNEL,
    kubelet::IPTABLES_CHAINS,
    kubelet::HOSTNAME_OVERRIDE,
    kubelet::EVENT_QPS,
    kubelet::NO_TLS_CERT,
    kubelet::NO_ROTATION,
    kubelet::NO_SERVER_ROTATION,
    kubelet::WEAK_CIPHERS,
    kubelet::TLS_MIN_VERSION,
    kubelet::NO_PID_LIMIT,
    kubelet::NO_SECCOMP_DEFAULT,
    sysctl::PARAMETER,
    packages::INSECURE_SERVICE,
    packages::NODE_TOOLING,
    packages::NO_AUDITD,
];
