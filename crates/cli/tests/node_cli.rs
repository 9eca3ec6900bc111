//! `kguard node` end to end with the real binary on the fixture root `tests/fixtures/node/root`:
//! the kubelet and sysctl sections (findings with file:line or the flag), kubelet flags given on
//! the command line (legacy defaults, refusals), kube-bench's refusal when the kubelet does not
//! run, kube-bench's JUnit, and `explain` for the new rules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::process::{Command, Output};

use kguard_testkit::{TempDir, repo_root};

fn kguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kguard")).current_dir(repo_root()).args(args).output().expect("runs kguard")
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const ROOT: &str = "tests/fixtures/node/root";

fn findings(o: &Output) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", err(o)));
    v["findings"].as_array().cloned().unwrap_or_default()
}

#[test]
fn kubelet_and_sysctl_sections_on_the_fixture_root() {
    let o = kguard(&["node", "check", "--root", ROOT, "--section", "kubelet,sysctl", "-o", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let f = findings(&o);
    let ids: Vec<&str> = f.iter().map(|f| f["ruleId"].as_str().or(f["rule_id"].as_str()).unwrap_or("")).collect();
    let text = String::from_utf8_lossy(&o.stdout);
    for id in ["KUBELET005", "KUBELET008", "KUBELET013", "SYSCTL001"] {
        assert!(text.contains(id), "{id} missing: {ids:?}");
    }
    // The flag --read-only-port=0 wins over the file's readOnlyPort: 10255.
    assert!(!text.contains("KUBELET004"), "{text}");
    assert!(text.contains("/var/lib/kubelet/config.yaml"), "file:line of the config field");
    assert!(text.contains("/proc/812/cmdline"), "the flag's source");
    assert!(text.contains("kernel.sysrq = 176, dev-sec sysctl-30 expects 0"), "{text}");
    assert!(!text.contains("net.ipv4.ip_forward"), "forwarding is wanted by default");
    let o =
        kguard(&["node", "check", "--root", ROOT, "--section", "sysctl", "--sysctl-forwarding=false", "-o", "json"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("net.ipv4.ip_forward = 1"), "{}", err(&o));
}

#[test]
fn kubelet_flags_from_the_command_line() {
    let d = TempDir::new("node-kubelet-flags");
    let root = d.path().display().to_string();
    let o =
        kguard(&["node", "check", "--root", &root, "--section", "kubelet", "--kubelet-flags", "--v=2", "-o", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for id in ["KUBELET001", "KUBELET002", "KUBELET003", "KUBELET004"] {
        assert!(text.contains(id), "{id}: legacy defaults without a config file: {text}");
    }
    let o = kguard(&["node", "kubelet-config", "--root", &root, "--kubelet-flags", "--anonymous-auth false"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("unknown command \"false\""), "{}", err(&o));
    // Nothing to judge: no kubelet process, no flags, no config.
    let o = kguard(&["node", "check", "--root", &root, "--section", "kubelet", "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let o = kguard(&["node", "kubelet-config", "--root", &root, "-o", "json"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
}

#[test]
fn kube_bench_refuses_without_a_running_kubelet_and_writes_junit() {
    let Some(cfg) = kguard_testkit::shared_path("oracles/nodes/kube-bench/cfg") else { return };
    let cfg = cfg.display().to_string();
    let d = TempDir::new("node-cis-empty");
    let empty = d.path().display().to_string();
    let o = kguard(&["node", "cis", "--root", &empty, "--cfg", &cfg, "--targets", "node"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(o.stdout.is_empty(), "no report, as kube-bench");
    assert!(err(&o).contains("unable to detect running programs for component \"kubelet\""), "{}", err(&o));
    let o = kguard(&[
        "node",
        "cis",
        "--root",
        ROOT,
        "--cfg",
        &cfg,
        "--targets",
        "node",
        "-o",
        "junit",
        "--audit-timeout",
        "5",
    ]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", err(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("<testsuite name=\"Worker Node Security Configuration\" tests=\""), "{out}");
    assert!(out.ends_with("    </testcase>\n</testsuite>\n"), "{out}");
    assert_eq!(out.matches("<testcase ").count(), out.matches("<system-out>{&#34;test_number&#34;:").count());
}

#[test]
fn explain_the_new_rules() {
    for id in ["KUBELET004", "KUBELET013", "SYSCTL001"] {
        let o = kguard(&["explain", id]);
        assert_eq!(o.status.code(), Some(0), "{id}: {}", err(&o));
    }
}

#[test]
fn packages_section_on_a_dpkg_database() {
    let o = kguard(&["node", "check", "--root", "tests/fixtures/node/packages", "--section", "packages", "-o", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let got: Vec<(String, String)> = findings(&o)
        .iter()
        .map(|f| (f["ruleId"].as_str().unwrap_or("").to_owned(), f["message"].as_str().unwrap_or("").to_owned()))
        .collect();
    let want = [
        ("PKG001", "telnetd 0.17+2.4-2+deb12u1 is installed (dpkg; dev-sec package-02: telnet server)"),
        ("PKG002", "gcc-12 12.2.0-14+deb12u1 is installed (dpkg; compiler)"),
        ("PKG002", "netcat-openbsd 1.219-1 is installed (dpkg; raw network tool)"),
        (
            "PKG003",
            "neither auditd nor audit is installed (dpkg database; dev-sec package-08 expects the audit daemon)",
        ),
    ];
    let want: Vec<(String, String)> = want.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect();
    assert_eq!(got, want, "gdb is `deinstall ok config-files`: not installed");
    // Exceptions and additions.
    let o = kguard(&[
        "node",
        "check",
        "--root",
        "tests/fixtures/node/packages",
        "--section",
        "packages",
        "--allow-package",
        "gcc-*",
        "--allow-package",
        "auditd",
        "--deny-package",
        "ba?h",
        "-o",
        "json",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(!text.contains("gcc-12") && !text.contains("PKG003"), "{text}");
    assert!(text.contains("bash 5.2.15-2+b7 is installed (dpkg; --deny-package ba?h)"), "{text}");
}

/// The section against `dpkg-query` on this machine (a Debian machine in CI): the denied packages
/// dpkg says are installed are exactly the PKG001/PKG002 findings for `--root /`.
#[test]
fn packages_section_agrees_with_dpkg_query() {
    let Ok(q) = Command::new("dpkg-query").args(["-W", "-f", "${db:Status-Abbrev}|${Package}\n"]).output() else {
        kguard_testkit::skip("packages_section_agrees_with_dpkg_query", "no dpkg-query on this machine");
        return;
    };
    assert!(q.status.success(), "dpkg-query failed");
    let installed: Vec<String> = String::from_utf8_lossy(&q.stdout)
        .lines()
        .filter_map(|l| l.split_once('|'))
        .filter(|(status, _)| status.trim_end() == "ii")
        .map(|(_, name)| name.split(':').next().unwrap_or(name).to_owned())
        .collect();
    let listed = |name: &str| {
        kguard_node::packages::INSECURE_SERVICES
            .iter()
            .chain(kguard_node::packages::NODE_TOOLS)
            .any(|d| kguard_node::source::fnmatch(d.pattern, name))
    };
    let mut want: Vec<String> = installed.iter().filter(|n| listed(n)).cloned().collect();
    want.sort();
    want.dedup();
    let o = kguard(&["node", "check", "--root", "/", "--section", "packages", "-o", "json"]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", err(&o));
    let mut got: Vec<String> = findings(&o)
        .iter()
        .filter(|f| f["ruleId"] != "PKG003")
        .filter_map(|f| f["pointer"].as_str().map(str::to_owned))
        .collect();
    got.sort();
    got.dedup();
    eprintln!("packages dpkg-query oracle: {} denied packages of {} installed agree", want.len(), installed.len());
    assert_eq!(got, want);
    let auditd = installed.iter().any(|n| n == "auditd");
    assert_eq!(findings(&o).iter().any(|f| f["ruleId"] == "PKG003"), !auditd);
}

/// A package database kguard cannot read (rpm's Berkeley DB backend) is an input problem with a
/// way out, not a silent pass.
#[test]
fn an_unreadable_package_database_is_an_error_that_says_how_to_skip_it() {
    let d = TempDir::new("node-rpm-bdb");
    std::fs::create_dir_all(d.path().join("var/lib/rpm")).unwrap();
    std::fs::write(d.path().join("var/lib/rpm/Packages"), b"\0\0\0\0").unwrap();
    let root = d.path().display().to_string();
    let o = kguard(&["node", "check", "--root", &root, "--section", "packages"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("unsupported rpmdb format (BerkeleyDB)"), "{out}");
    assert!(out.contains("--section without packages skips this section"), "{out}");
}
