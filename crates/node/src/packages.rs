//! Installed packages a node should not carry, and the one it should (`kguard node check
//! --section packages`).
//!
//! The packages come from the caller (the CLI reads dpkg, apk and rpm databases with the
//! vulnerability crate's readers, the same ones `kguard fs` uses); this module only judges names:
//!
//! * [`INSECURE_SERVICE`] (PKG001): dev-sec linux-baseline's `package_spec.rb` controls
//!   package-01 (inetd, xinetd), package-02 (telnetd), package-03 (rsh-server), package-05
//!   (ypserv) and package-06 (tftp-server), by their names, plus the names the same servers have
//!   in Debian, Ubuntu, Alpine and RHEL (`openbsd-inetd`, `tftpd-hpa`, `telnet-server` ...).
//! * [`NODE_TOOLING`] (PKG002): what an attacker who reaches a node uses next and a node does not
//!   need: compilers, debuggers and tracers, raw network tools, clear-text remote clients, and
//!   dev-sec's package-09 (prelink). Extended with `--deny-package`.
//! * [`NO_AUDITD`] (PKG003): dev-sec's package-08, the audit daemon installed (`auditd` on
//!   Debian and Ubuntu, `audit` on RHEL, Fedora, Amazon Linux and SUSE, as the control's
//!   `audit_pkg` picks). Its `auditd.conf` expectations are not judged here.
//!
//! Names are matched as glob(3) patterns (`gcc-[0-9][0-9]`: the versioned compiler, not `gcc-12-base`) against the binary package name;
//! `--allow-package` patterns win over every deny pattern.

use std::sync::Arc;

use kguard_model::Location;
use kguard_report::{Finding, RuleMeta, Severity};

use crate::source::fnmatch;

/// PKG001.
pub const INSECURE_SERVICE: RuleMeta = RuleMeta {
    id: "PKG001",
    name: "insecure-service-package",
    family: "node-packages",
    severity: Severity::High,
    title: "A clear-text or legacy network service is installed",
    what: "A package of a legacy network service is installed: inetd or xinetd, a telnet, rsh, NIS (ypserv) or TFTP server. These are dev-sec linux-baseline's controls package-01, -02, -03, -05 and -06, matched by their names and the names the same servers have in Debian, Ubuntu, Alpine and RHEL.",
    why: "These services authenticate in clear text or not at all, and each one installed is a listener or an inetd entry away from exposing the node. A Kubernetes node is reached through the API server and, at most, SSH.",
    fix: "Remove the package (`apt-get purge telnetd`, `dnf remove xinetd`, `apk del busybox-extras`), or allow it explicitly with `--allow-package NAME` if it is needed and reviewed.",
    references: &[
        "https://github.com/dev-sec/linux-baseline/blob/master/controls/package_spec.rb",
        "https://www.cisecurity.org/benchmark/distribution_independent_linux",
    ],
    aliases: &[
        "dev-sec-package-01",
        "dev-sec-package-02",
        "dev-sec-package-03",
        "dev-sec-package-05",
        "dev-sec-package-06",
    ],
    opt_in: false,
};

/// PKG002.
pub const NODE_TOOLING: RuleMeta = RuleMeta {
    id: "PKG002",
    name: "node-tooling-package",
    family: "node-packages",
    severity: Severity::Medium,
    title: "A package a node should not carry is installed",
    what: "A compiler, debugger or tracer (gcc, clang, gdb, strace, ltrace), a raw network tool (netcat, ncat, socat, nmap, tcpdump), a clear-text remote client (telnet, rsh, ftp, tftp, talk), or prelink (dev-sec package-09) is installed on the node, or a package named with --deny-package.",
    why: "A node runs the kubelet, a container runtime and their agents. Tools for building binaries, attaching to processes, opening raw sockets or moving data in clear text are what an attacker who reaches the node uses next; without them, a foothold is much harder to widen. prelink rewrites binaries, which defeats integrity checking (CIS 1.5.4).",
    fix: "Remove the package from the node image (`apt-get purge gcc gdb`), and debug with an ephemeral container or `kubectl debug node/NAME` instead. Allow a reviewed exception with `--allow-package NAME`.",
    references: &[
        "https://github.com/dev-sec/linux-baseline/blob/master/controls/package_spec.rb",
        "https://kubernetes.io/docs/tasks/debug/debug-cluster/kubectl-node-debug/",
    ],
    aliases: &["dev-sec-package-09"],
    opt_in: false,
};

/// PKG003.
pub const NO_AUDITD: RuleMeta = RuleMeta {
    id: "PKG003",
    name: "audit-daemon-missing",
    family: "node-packages",
    severity: Severity::Low,
    title: "The Linux audit daemon is not installed",
    what: "Neither `auditd` (Debian, Ubuntu) nor `audit` (RHEL, Fedora, Amazon Linux, SUSE) is installed: dev-sec linux-baseline's package-08. Judged only when the root has a dpkg or rpm database (Alpine images and distroless roots are not nodes this control is written for).",
    why: "The kernel's audit trail (execve of setuid binaries, changes to /etc/kubernetes, module loads) is how an intrusion on a node is reconstructed; without the daemon, the kernel's audit records are lost.",
    fix: "Install the audit daemon (`apt-get install auditd`, `dnf install audit`) and configure its rules (CIS section 4.1).",
    references: &["https://github.com/dev-sec/linux-baseline/blob/master/controls/package_spec.rb"],
    aliases: &["dev-sec-package-08"],
    opt_in: false,
};

/// The package rules.
pub const RULES: &[RuleMeta] = &[INSECURE_SERVICE, NODE_TOOLING, NO_AUDITD];

/// One deny pattern of the built-in lists: the name glob and why (the dev-sec control, or the
/// kind of tool).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deny {
    /// glob(3) pattern over the binary package name.
    pub pattern: &'static str,
    /// Why, in the finding's message.
    pub why: &'static str,
}

const fn d(pattern: &'static str, why: &'static str) -> Deny {
    Deny { pattern, why }
}

/// PKG001's names: dev-sec's (first of each group) and the distributions' names for the same server.
pub const INSECURE_SERVICES: &[Deny] = &[
    d("inetd", "dev-sec package-01: deprecated inetd"),
    d("xinetd", "dev-sec package-01: deprecated xinetd"),
    d("openbsd-inetd", "dev-sec package-01: deprecated inetd"),
    d("inetutils-inetd", "dev-sec package-01: deprecated inetd"),
    d("rlinetd", "dev-sec package-01: deprecated inetd"),
    d("telnetd", "dev-sec package-02: telnet server"),
    d("telnetd-ssl", "dev-sec package-02: telnet server"),
    d("inetutils-telnetd", "dev-sec package-02: telnet server"),
    d("telnet-server", "dev-sec package-02: telnet server"),
    d("busybox-extras", "dev-sec package-02: telnet server (Alpine's busybox telnetd)"),
    d("rsh-server", "dev-sec package-03: rsh server"),
    d("rsh-redone-server", "dev-sec package-03: rsh server"),
    d("ypserv", "dev-sec package-05: NIS server"),
    d("tftp-server", "dev-sec package-06: TFTP server"),
    d("tftpd", "dev-sec package-06: TFTP server"),
    d("tftpd-hpa", "dev-sec package-06: TFTP server"),
    d("atftpd", "dev-sec package-06: TFTP server"),
    d("inetutils-tftpd", "dev-sec package-06: TFTP server"),
];

/// PKG002's built-in names.
pub const NODE_TOOLS: &[Deny] = &[
    d("gcc", "compiler"),
    d("gcc-[0-9]", "compiler"),
    d("gcc-[0-9][0-9]", "compiler"),
    d("g++", "compiler"),
    d("g++-[0-9]", "compiler"),
    d("g++-[0-9][0-9]", "compiler"),
    d("clang", "compiler"),
    d("clang-[0-9]", "compiler"),
    d("clang-[0-9][0-9]", "compiler"),
    d("build-essential", "compiler toolchain"),
    d("gdb", "debugger"),
    d("gdb-minimal", "debugger"),
    d("lldb", "debugger"),
    d("lldb-[0-9]", "debugger"),
    d("lldb-[0-9][0-9]", "debugger"),
    d("strace", "system call tracer"),
    d("ltrace", "library call tracer"),
    d("netcat", "raw network tool"),
    d("netcat-openbsd", "raw network tool"),
    d("netcat-traditional", "raw network tool"),
    d("nmap-ncat", "raw network tool"),
    d("ncat", "raw network tool"),
    d("nmap", "network scanner"),
    d("socat", "raw network tool"),
    d("tcpdump", "packet capture"),
    d("telnet", "clear-text remote client"),
    d("inetutils-telnet", "clear-text remote client"),
    d("rsh-client", "clear-text remote client"),
    d("rsh-redone-client", "clear-text remote client"),
    d("rsh", "clear-text remote client"),
    d("ftp", "clear-text remote client"),
    d("inetutils-ftp", "clear-text remote client"),
    d("tftp", "clear-text remote client"),
    d("tftp-hpa", "clear-text remote client"),
    d("talk", "clear-text remote client"),
    d("prelink", "dev-sec package-09: prelink rewrites binaries"),
];

/// An installed package, as the caller's database reader found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installed {
    /// Binary package name.
    pub name: String,
    /// Installed version.
    pub version: String,
    /// The package manager: `dpkg`, `apk` or `rpm`.
    pub manager: &'static str,
    /// The database it was read from (`/var/lib/dpkg/status`), for the finding's location.
    pub database: String,
}

/// What the command line adds: more deny patterns (PKG002) and exceptions.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--deny-package`: more PKG002 patterns.
    pub deny: Vec<String>,
    /// `--allow-package`: patterns never reported.
    pub allow: Vec<String>,
}

/// The findings for the installed packages (in their order; PKG003 last).
#[must_use]
pub fn check(packages: &[Installed], opts: &Options) -> Vec<Finding> {
    let allowed = |name: &str| opts.allow.iter().any(|p| fnmatch(p, name));
    let mut out = Vec::new();
    for p in packages.iter().filter(|p| !allowed(&p.name)) {
        let location = Some(Location::file(Arc::from(p.database.as_str())));
        let hit = |list: &[Deny]| list.iter().find(|x| fnmatch(x.pattern, &p.name)).map(|x| x.why.to_owned());
        let (rule, why) = if let Some(why) = hit(INSECURE_SERVICES) {
            (&INSECURE_SERVICE, why)
        } else if let Some(why) = hit(NODE_TOOLS) {
            (&NODE_TOOLING, why)
        } else if let Some(pattern) = opts.deny.iter().find(|x| fnmatch(x, &p.name)) {
            (&NODE_TOOLING, format!("--deny-package {pattern}"))
        } else {
            continue;
        };
        let message = format!("{} {} is installed ({}; {why})", p.name, p.version, p.manager);
        let mut f = Finding::new(rule, message, None, None, location);
        f.pointer = Some(Arc::from(p.name.as_str()));
        out.push(f);
    }
    // dev-sec package-08 on the distributions it is written for (dpkg and rpm databases).
    let managed = packages.iter().find(|p| p.manager == "dpkg" || p.manager == "rpm");
    let auditd = ["auditd", "audit"];
    if let Some(first) = managed
        && !packages.iter().any(|p| auditd.contains(&p.name.as_str()))
        && !auditd.iter().any(|n| allowed(n))
    {
        let message = format!(
            "neither auditd nor audit is installed ({} database; dev-sec package-08 expects the audit daemon)",
            first.manager
        );
        let location = Some(Location::file(Arc::from(first.database.as_str())));
        out.push(Finding::new(&NO_AUDITD, message, None, None, location));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, manager: &'static str) -> Installed {
        let database = if manager == "rpm" { "/var/lib/rpm/rpmdb.sqlite" } else { "/var/lib/dpkg/status" };
        Installed { name: name.to_owned(), version: "1.0-1".to_owned(), manager, database: database.to_owned() }
    }

    fn ids(f: &[Finding]) -> Vec<(String, String)> {
        f.iter().map(|f| (f.rule_id.clone(), f.pointer.as_deref().unwrap_or("-").to_owned())).collect()
    }

    #[test]
    fn dev_sec_names_tools_and_auditd() {
        let pkgs: Vec<Installed> = [
            "bash",
            "telnetd",
            "gcc-12",
            "gcc-12-base",
            "gcc",
            "libgcc-s1",
            "cpp-12",
            "netcat-openbsd",
            "xinetd",
            "prelink",
        ]
        .iter()
        .map(|n| pkg(n, "dpkg"))
        .collect();
        let f = check(&pkgs, &Options::default());
        let want: Vec<(String, String)> = [
            ("PKG001", "telnetd"),
            ("PKG002", "gcc-12"),
            ("PKG002", "gcc"),
            ("PKG002", "netcat-openbsd"),
            ("PKG001", "xinetd"),
            ("PKG002", "prelink"),
            ("PKG003", "-"),
        ]
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
        assert_eq!(ids(&f), want);
        assert_eq!(f[0].message, "telnetd 1.0-1 is installed (dpkg; dev-sec package-02: telnet server)");
        assert_eq!(f[0].location.as_ref().map(|l| &*l.file), Some("/var/lib/dpkg/status"));
        assert_eq!(f[0].severity, Severity::High);
    }

    #[test]
    fn allow_wins_deny_adds_and_auditd_counts_by_distribution() {
        let pkgs = vec![pkg("gdb", "rpm"), pkg("audit", "rpm"), pkg("python3-pip", "rpm"), pkg("telnet", "rpm")];
        let opts = Options { deny: vec!["python3-*".to_owned()], allow: vec!["gd?".to_owned()] };
        let f = check(&pkgs, &opts);
        assert_eq!(
            ids(&f),
            [("PKG002".to_owned(), "python3-pip".to_owned()), ("PKG002".to_owned(), "telnet".to_owned())]
        );
        assert!(f[0].message.ends_with("(rpm; --deny-package python3-*)"), "{}", f[0].message);
        // Alpine: no auditd expectation; busybox-extras is its telnetd.
        let apk = vec![Installed { manager: "apk", ..pkg("busybox-extras", "dpkg") }];
        assert_eq!(ids(&check(&apk, &Options::default())), [("PKG001".to_owned(), "busybox-extras".to_owned())]);
        assert!(check(&[], &Options::default()).is_empty(), "no database, nothing judged");
    }
}
