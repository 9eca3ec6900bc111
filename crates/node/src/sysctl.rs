//! Kernel parameters from `<root>/proc/sys` against dev-sec linux-baseline's expected values
//! (`controls/sysctl_spec.rb` @537b84c, 35 controls / 52 parameters, as transcribed in the
//! oracle's `dev-sec/controls_transcribed.json`).
//!
//! InSpec's `kernel_parameter(NAME).value` is `sysctl -q -n NAME`, an integer when it is one, nil
//! when the parameter does not exist; `eq N` is then false, so a missing parameter fails unless
//! the control accepts nil (sysctl-34's `fs.protected_fifos` and `fs.protected_regular`).
//! Conditions kept: sysctl-01/19 only when forwarding is not wanted (the profile's input
//! `sysctl_forwarding`; a Kubernetes node forwards pod traffic, so kguard's default is `true`),
//! sysctl-31b only when `fs.suid_dumpable` is 2, sysctl-33's `kernel.exec-shield` only when
//! `/proc/cpuinfo` has no `nx` flag, sysctl-35 not on SUSE. `container_execution` (InSpec's
//! guess that it runs inside a container) is not modelled: the root is taken to be a node.

use std::sync::Arc;

use kguard_model::{Location, Pos};
use kguard_report::{Finding, RuleMeta, Severity};

use crate::source::Source;

/// What a parameter must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// `should eq N`.
    Eq(i64),
    /// `should cmp /regex/` (unanchored).
    Regex(&'static str),
    /// `should eq A).or eq(B)…` with nil accepted when the flag is set.
    OneOf(&'static [i64], bool),
    /// `should >= N`.
    Ge(i64),
}

/// When a control applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Only {
    /// Always (on a node).
    Always,
    /// When forwarding is not wanted (`sysctl_forwarding == false`).
    NoForwarding,
    /// When `fs.suid_dumpable` is 2.
    SuidDumpable2,
    /// When the CPU has no `nx` flag.
    NoNx,
    /// Not on SUSE.
    NotSuse,
}

/// One expectation: the control, the parameter and its expected value.
#[derive(Clone, Copy, Debug)]
pub struct Expectation {
    /// dev-sec's control id.
    pub control: &'static str,
    /// The control's title.
    pub title: &'static str,
    /// The parameter (`net.ipv4.ip_forward`).
    pub name: &'static str,
    /// The expected value.
    pub expect: Expect,
    /// When it applies.
    pub only: Only,
}

const fn e(control: &'static str, title: &'static str, name: &'static str, expect: Expect) -> Expectation {
    Expectation { control, title, name, expect, only: Only::Always }
}

use Expect::{Eq as Equal, Ge, OneOf, Regex};

/// dev-sec's 52 kernel parameter expectations (the `kernel.core_pattern` one is matched with
/// `^\|?/.*`; `kernel.modules_disabled` with the profile's input default 0).
pub const EXPECTATIONS: &[Expectation] = &[
    Expectation { only: Only::NoForwarding, ..e("sysctl-01", "IPv4 Forwarding", "net.ipv4.ip_forward", Equal(0)) },
    Expectation {
        only: Only::NoForwarding,
        ..e("sysctl-01", "IPv4 Forwarding", "net.ipv4.conf.all.forwarding", Equal(0))
    },
    e("sysctl-02", "Reverse path filtering", "net.ipv4.conf.all.rp_filter", Equal(1)),
    e("sysctl-02", "Reverse path filtering", "net.ipv4.conf.default.rp_filter", Equal(1)),
    e("sysctl-03", "ICMP ignore bogus error responses", "net.ipv4.icmp_ignore_bogus_error_responses", Equal(1)),
    e("sysctl-04", "ICMP echo ignore broadcasts", "net.ipv4.icmp_echo_ignore_broadcasts", Equal(1)),
    e("sysctl-05", "ICMP ratelimit", "net.ipv4.icmp_ratelimit", Equal(100)),
    e("sysctl-06", "ICMP ratemask", "net.ipv4.icmp_ratemask", Equal(88089)),
    e("sysctl-07", "TCP timestamps", "net.ipv4.tcp_timestamps", Equal(0)),
    e("sysctl-08", "ARP ignore", "net.ipv4.conf.all.arp_ignore", Regex("(1|2)")),
    e("sysctl-09", "ARP announce", "net.ipv4.conf.all.arp_announce", Equal(2)),
    e("sysctl-10", "TCP RFC1337 Protect Against TCP Time-Wait", "net.ipv4.tcp_rfc1337", Equal(1)),
    e("sysctl-11", "Protection against SYN flood attacks", "net.ipv4.tcp_syncookies", Equal(1)),
    e("sysctl-12", "Shared Media IP Architecture", "net.ipv4.conf.all.shared_media", Equal(1)),
    e("sysctl-12", "Shared Media IP Architecture", "net.ipv4.conf.default.shared_media", Equal(1)),
    e("sysctl-13", "Disable Source Routing", "net.ipv4.conf.all.accept_source_route", Equal(0)),
    e("sysctl-13", "Disable Source Routing", "net.ipv4.conf.default.accept_source_route", Equal(0)),
    e("sysctl-13", "Disable Source Routing", "net.ipv6.conf.all.accept_source_route", Equal(0)),
    e("sysctl-13", "Disable Source Routing", "net.ipv6.conf.default.accept_source_route", Equal(0)),
    e(
        "sysctl-14",
        "Disable acceptance of all IPv4 redirected packets",
        "net.ipv4.conf.default.accept_redirects",
        Equal(0),
    ),
    e("sysctl-14", "Disable acceptance of all IPv4 redirected packets", "net.ipv4.conf.all.accept_redirects", Equal(0)),
    e(
        "sysctl-15",
        "Disable acceptance of all secure redirected packets",
        "net.ipv4.conf.all.secure_redirects",
        Equal(0),
    ),
    e(
        "sysctl-15",
        "Disable acceptance of all secure redirected packets",
        "net.ipv4.conf.default.secure_redirects",
        Equal(0),
    ),
    e("sysctl-16", "Disable sending of redirects packets", "net.ipv4.conf.default.send_redirects", Equal(0)),
    e("sysctl-16", "Disable sending of redirects packets", "net.ipv4.conf.all.send_redirects", Equal(0)),
    e("sysctl-17", "Disable log martians", "net.ipv4.conf.all.log_martians", Equal(1)),
    e("sysctl-17", "Disable log martians", "net.ipv4.conf.default.log_martians", Equal(1)),
    Expectation {
        only: Only::NoForwarding,
        ..e("sysctl-19", "IPv6 Forwarding", "net.ipv6.conf.all.forwarding", Equal(0))
    },
    e("sysctl-20", "IPv6 Redirect Acceptance", "net.ipv6.conf.default.accept_redirects", Equal(0)),
    e("sysctl-20", "IPv6 Redirect Acceptance", "net.ipv6.conf.all.accept_redirects", Equal(0)),
    e("sysctl-21", "IPv6 router solicitations", "net.ipv6.conf.default.router_solicitations", Equal(0)),
    e("sysctl-21", "IPv6 router solicitations", "net.ipv6.conf.all.router_solicitations", Equal(0)),
    e("sysctl-22", "Accept Router Preference from RA", "net.ipv6.conf.default.accept_ra_rtr_pref", Equal(0)),
    e("sysctl-23", "Learn Prefix Information from RA", "net.ipv6.conf.default.accept_ra_pinfo", Equal(0)),
    e("sysctl-24", "Learn Hop limit from RA", "net.ipv6.conf.default.accept_ra_defrtr", Equal(0)),
    e("sysctl-25", "Router advertisement acceptance", "net.ipv6.conf.all.accept_ra", Equal(0)),
    e("sysctl-25", "Router advertisement acceptance", "net.ipv6.conf.default.accept_ra", Equal(0)),
    e("sysctl-26", "IPv6 autoconfiguration", "net.ipv6.conf.default.autoconf", Equal(0)),
    e("sysctl-26", "IPv6 autoconfiguration", "net.ipv6.conf.all.autoconf", Equal(0)),
    e("sysctl-27", "Neighbor solicitations per address", "net.ipv6.conf.default.dad_transmits", Equal(0)),
    e("sysctl-28", "One global unicast IPv6 address per interface", "net.ipv6.conf.default.max_addresses", Equal(1)),
    e("sysctl-29", "Disable loading kernel modules", "kernel.modules_disabled", Equal(0)),
    e("sysctl-30", "Magic SysRq", "kernel.sysrq", Equal(0)),
    e("sysctl-31a", "Secure Core Dumps - dump settings", "fs.suid_dumpable", Regex("(0|2)")),
    Expectation {
        only: Only::SuidDumpable2,
        ..e("sysctl-31b", "Secure Core Dumps - dump path", "kernel.core_pattern", Regex(r"^\|?/.*"))
    },
    e("sysctl-32", "kernel.randomize_va_space", "kernel.randomize_va_space", Equal(2)),
    Expectation {
        only: Only::NoNx,
        ..e("sysctl-33", "CPU No execution Flag or Kernel ExecShield", "kernel.exec-shield", Equal(1))
    },
    e("sysctl-34", "Ensure links are protected", "fs.protected_fifos", OneOf(&[1, 2], true)),
    e("sysctl-34", "Ensure links are protected", "fs.protected_hardlinks", Equal(1)),
    e("sysctl-34", "Ensure links are protected", "fs.protected_regular", OneOf(&[2], true)),
    e("sysctl-34", "Ensure links are protected", "fs.protected_symlinks", Equal(1)),
    Expectation {
        only: Only::NotSuse,
        ..e("sysctl-35", "Restrict ptrace attach to privileged users", "kernel.yama.ptrace_scope", Ge(2))
    },
];

/// SYSCTL001.
pub const PARAMETER: RuleMeta = RuleMeta {
    id: "SYSCTL001",
    name: "kernel-parameter-not-hardened",
    family: "node-sysctl",
    severity: Severity::Medium,
    title: "A kernel parameter differs from dev-sec's hardened value",
    what: "A kernel parameter under /proc/sys (net.ipv4.*, net.ipv6.*, kernel.*, fs.*) is not the value dev-sec linux-baseline's sysctl controls expect, or does not exist where they expect one. IP forwarding is only judged with --sysctl-forwarding=false (a Kubernetes node forwards pod traffic).",
    why: "Source routing, redirects, martian packets, SysRq, unrestricted ptrace, setuid core dumps and unprotected links in sticky directories are the kernel's side of a node's attack surface.",
    fix: "Set the value in /etc/sysctl.d/ (e.g. `net.ipv4.conf.all.accept_redirects = 0`) and apply it with `sysctl --system`; with the kubelet's protectKernelDefaults, set them before the kubelet starts.",
    references: &[
        "https://github.com/dev-sec/linux-baseline/blob/master/controls/sysctl_spec.rb",
        "https://docs.kernel.org/admin-guide/sysctl/",
    ],
    aliases: &["dev-sec-sysctl"],
    opt_in: false,
};

/// The sysctl rules.
pub const RULES: &[RuleMeta] = &[PARAMETER];

/// Options (the profile's inputs).
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// dev-sec's `sysctl_forwarding`: forwarding wanted (no sysctl-01/19 checks).
    pub forwarding: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { forwarding: true }
    }
}

/// The file of a parameter under /proc/sys (`net.ipv4.ip_forward` → `/proc/sys/net/ipv4/ip_forward`).
#[must_use]
pub fn path_of(name: &str) -> String {
    format!("/proc/sys/{}", name.replace('.', "/"))
}

/// A parameter's value as `sysctl -n` prints it (tabs between the numbers of a vector value
/// kept as blanks), `None` when it does not exist or cannot be read.
#[must_use]
pub fn read(src: &dyn Source, name: &str) -> Option<String> {
    src.read(&path_of(name)).ok().map(|v| v.trim_end_matches('\n').split_whitespace().collect::<Vec<_>>().join(" "))
}

/// One parameter's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The expectation.
    pub control: &'static str,
    /// The parameter.
    pub name: &'static str,
    /// Its value (`None`: missing).
    pub value: Option<String>,
    /// `Some(true)` pass, `Some(false)` fail, `None` not applicable.
    pub pass: Option<bool>,
    /// dev-sec's expectation in words.
    pub expected: String,
}

fn expected_text(x: Expect) -> String {
    match x {
        Expect::Eq(n) => n.to_string(),
        Expect::Regex(r) => format!("matching /{r}/"),
        Expect::OneOf(v, nil) => {
            let mut s: Vec<String> = v.iter().map(ToString::to_string).collect();
            if nil {
                s.push("absent".to_owned());
            }
            s.join(" or ")
        }
        Expect::Ge(n) => format!(">= {n}"),
    }
}

/// Judges every expectation against the source's /proc/sys.
#[must_use]
pub fn evaluate(src: &dyn Source, opts: Options) -> Vec<Verdict> {
    let suse = src.read("/etc/os-release").is_ok_and(|t| {
        t.lines()
            .any(|l| (l.starts_with("ID=") || l.starts_with("ID_LIKE=")) && l.to_ascii_lowercase().contains("suse"))
    });
    let nx = src.read("/proc/cpuinfo").is_ok_and(|t| {
        t.lines()
            .filter(|l| l.split(':').next().is_some_and(|k| k.trim() == "flags"))
            .any(|l| l.split_once(':').is_some_and(|(_, v)| v.split_whitespace().any(|f| f == "nx")))
    });
    let int = |v: &Option<String>| v.as_deref().and_then(|s| s.trim().parse::<i64>().ok());
    let dumpable = int(&read(src, "fs.suid_dumpable"));
    EXPECTATIONS
        .iter()
        .map(|x| {
            let applies = match x.only {
                Only::Always => true,
                Only::NoForwarding => !opts.forwarding,
                Only::SuidDumpable2 => dumpable == Some(2),
                Only::NoNx => !nx,
                Only::NotSuse => !suse,
            };
            let value = read(src, x.name);
            let pass = applies.then(|| match x.expect {
                Expect::Eq(n) => int(&value) == Some(n),
                Expect::Regex(r) => {
                    value.as_deref().is_some_and(|v| regex::Regex::new(r).is_ok_and(|re| re.is_match(v)))
                }
                Expect::OneOf(ns, nil) => match int(&value) {
                    Some(n) => ns.contains(&n),
                    None => value.is_none() && nil,
                },
                Expect::Ge(n) => int(&value).is_some_and(|v| v >= n),
            });
            Verdict { control: x.control, name: x.name, value, pass, expected: expected_text(x.expect) }
        })
        .collect()
}

/// SYSCTL001 findings for the failing verdicts.
#[must_use]
pub fn check(src: &dyn Source, opts: Options) -> Vec<Finding> {
    evaluate(src, opts)
        .into_iter()
        .filter(|v| v.pass == Some(false))
        .map(|v| {
            let path = path_of(v.name);
            let msg = match &v.value {
                Some(val) => format!("{} = {val}, dev-sec {} expects {}", v.name, v.control, v.expected),
                None => format!("{} does not exist ({path}), dev-sec {} expects {}", v.name, v.control, v.expected),
            };
            let loc =
                Location { file: Arc::from(path.as_str()), pos: v.value.as_ref().map(|_| Pos { line: 1, column: 1 }) };
            let mut f = Finding::new(&PARAMETER, msg, None, Some(v.name.to_owned()), Some(loc));
            f.pointer = Some(Arc::from(v.name));
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;

    fn hardened() -> MemSource {
        let mut src = MemSource::new();
        for x in EXPECTATIONS {
            let v = match x.expect {
                Expect::Eq(n) | Expect::Ge(n) => n.to_string(),
                Expect::Regex(_) if x.name == "kernel.core_pattern" => {
                    "|/usr/lib/systemd/systemd-coredump %P".to_owned()
                }
                Expect::Regex(_) => "2".to_owned(),
                Expect::OneOf(ns, _) => ns.first().map(ToString::to_string).unwrap_or_default(),
            };
            src.insert(path_of(x.name), format!("{v}\n"));
        }
        src.insert("/proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu vme nx sse\n");
        src
    }

    #[test]
    fn hardened_passes_and_changes_fail() {
        let mut src = hardened();
        assert!(check(&src, Options { forwarding: false }).is_empty());
        src.insert(path_of("net.ipv4.ip_forward"), "1\n");
        src.insert(path_of("kernel.sysrq"), "176\n");
        src.insert(path_of("fs.suid_dumpable"), "1\n");
        let f = check(&src, Options::default());
        let names: Vec<&str> = f.iter().filter_map(|f| f.pointer.as_deref()).collect();
        assert_eq!(names, ["kernel.sysrq", "fs.suid_dumpable"], "forwarding is allowed by default");
        assert_eq!(check(&src, Options { forwarding: false }).len(), 3);
        assert_eq!(f[0].message, "kernel.sysrq = 176, dev-sec sysctl-30 expects 0");
    }

    #[test]
    fn missing_parameters_and_conditions() {
        let mut src = hardened();
        src.insert("/proc/cpuinfo", "flags : fpu\n");
        let v = evaluate(&src, Options::default());
        let exec = v.iter().find(|v| v.name == "kernel.exec-shield").unwrap();
        assert_eq!(exec.pass, Some(true), "set to 1 in the hardened tree");
        let mut src = MemSource::new();
        src.insert("/proc/cpuinfo", "flags : fpu nx\n");
        let v = evaluate(&src, Options::default());
        let get = |n: &str| v.iter().find(|v| v.name == n).unwrap().pass;
        assert_eq!(get("kernel.exec-shield"), None, "nx present");
        assert_eq!(get("fs.protected_fifos"), Some(true), "nil accepted");
        assert_eq!(get("fs.protected_hardlinks"), Some(false), "nil is not 1");
        assert_eq!(get("kernel.core_pattern"), None, "only when suid_dumpable is 2");
        src.insert("/etc/os-release", "NAME=openSUSE\nID=opensuse-leap\n");
        let v = evaluate(&src, Options::default());
        assert_eq!(v.iter().find(|v| v.name == "kernel.yama.ptrace_scope").unwrap().pass, None);
    }
}
