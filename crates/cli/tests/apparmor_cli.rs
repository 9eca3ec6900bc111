//! `kguard apparmor status` against the live `aa-status` (Debian's apparmor 3.0.8): this kernel
//! has no AppArmor, so aa-status runs in a private mount namespace over a fake
//! `/sys/module/apparmor`, a tmpfs mounted as `securityfs` holding `apparmor/profiles`, and a
//! fake `/proc` (`<pid>/attr/current`, `<pid>/exe`); kguard reads the same files through
//! `--file` and `--proc`. Skipped visibly without aa-status, root or `unshare`. Also the
//! message when the kernel has no AppArmor.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::process::Command;

use kguard_testkit::{TempDir, shared_path, skip};

/// pid, executable, `attr/current` (no two processes of one profile: aa-status orders those by
/// `qsort`, unstably).
const PROCS: &[(&str, &str, &str)] = &[
    ("101", "/usr/sbin/nscd", "/usr/sbin/nscd (enforce)"),
    ("202", "/usr/bin/man", "man_filter (complain)"),
    ("303", "/usr/sbin/dnsmasq", "unconfined"),
    ("404", "/usr/bin/irssi", "/usr/bin/irssi (enforce)"),
    ("505", "/usr/bin/sleep", "k8s-web (enforce)"),
    ("606", "/usr/bin/true", "a//&b (mixed)"),
    ("707", "/usr/bin/env", "killer (kill)"),
    // unconfined, no profile named after it: not listed
    ("808", "/usr/bin/nothing", "unconfined"),
];

const EXTRA: &str =
    "/usr/sbin/dnsmasq (enforce)\nman_filter (complain)\nk8s-web (enforce)\nkiller (kill)\nspecial (unconfined)\n";

const SCRIPT: &str = r#"set -e
D=$1; shift
mount -t tmpfs none /sys/module
mkdir /sys/module/apparmor
mount -t tmpfs none "$D/sec"
mkdir "$D/sec/apparmor"
cp "$D/profiles" "$D/sec/apparmor/profiles"
echo "securityfs $D/sec securityfs rw 0 0" > "$D/proc/mounts"
mount --bind "$D/proc" /proc
exec "$@"
"#;

#[test]
fn status_agrees_with_live_aa_status() {
    let Some(k8s) = shared_path("oracles/apparmor/kubernetes/profiles") else { return };
    let test = "apparmor_cli::status_agrees_with_live_aa_status";
    if Command::new("aa-status").arg("--help").output().is_err() {
        skip(test, "`aa-status` is not installed (apt-get install apparmor)");
        return;
    }
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout == b"0\n");
    let unshare = Command::new("unshare").args(["-m", "true"]).status().is_ok_and(|s| s.success());
    if !root || !unshare {
        skip(test, "needs root and `unshare -m` to give aa-status a fake securityfs and /proc");
        return;
    }
    let d = TempDir::new("aa-status");
    let dir = d.path();
    let mut list = std::fs::read_to_string(k8s).unwrap();
    list.push_str(EXTRA);
    std::fs::write(dir.join("profiles"), &list).unwrap();
    std::fs::create_dir(dir.join("sec")).unwrap();
    for (pid, exe, cur) in PROCS {
        std::fs::create_dir_all(dir.join("proc").join(pid).join("attr")).unwrap();
        std::fs::write(dir.join("proc").join(pid).join("attr/current"), format!("{cur}\n")).unwrap();
        std::os::unix::fs::symlink(exe, dir.join("proc").join(pid).join("exe")).unwrap();
    }
    std::fs::write(dir.join("run.sh"), SCRIPT).unwrap();
    let aa = |args: &[&str]| {
        let o = Command::new("unshare")
            .args(["-m", "sh", dir.join("run.sh").to_str().unwrap(), dir.to_str().unwrap(), "aa-status"])
            .args(args)
            .output()
            .unwrap();
        (o.status.code(), String::from_utf8(o.stdout).unwrap())
    };
    let kg = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_kguard"))
            .args(["apparmor", "status", "--file"])
            .arg(dir.join("profiles"))
            .arg("--proc")
            .arg(dir.join("proc"))
            .args(args)
            .output()
            .unwrap();
        (o.status.code(), String::from_utf8(o.stdout).unwrap())
    };
    let (code, text) = aa(&[]);
    assert_eq!(code, Some(0), "aa-status: {text}");
    assert!(text.contains("7 processes have profiles defined."), "the fake /proc is read: {text}");
    assert_eq!(kg(&[]), (Some(0), text), "text report");
    // aa-status 3.0.8 leaves out the comma between two modes' process groups
    let (_, json) = aa(&["--json"]);
    let fixed = json.replace("]\"", "], \"");
    let (code, ours) = kg(&["-o", "json"]);
    assert_eq!(code, Some(0));
    assert_eq!(ours, fixed, "json report");
    serde_json::from_str::<serde_json::Value>(&ours).unwrap();
    println!(
        "aa-status agreement: text and JSON equal for {} profiles, {} processes",
        list.lines().count(),
        PROCS.len()
    );
}

#[test]
fn status_without_apparmor_says_so() {
    if std::path::Path::new("/sys/module/apparmor").exists() {
        skip("apparmor_cli::status_without_apparmor_says_so", "this kernel has AppArmor");
        return;
    }
    let o = Command::new(env!("CARGO_BIN_EXE_kguard")).args(["apparmor", "status"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.starts_with("apparmor not present: this kernel has no AppArmor"), "{err}");
    let d = TempDir::new("aa-status-empty");
    std::fs::write(d.path().join("p"), "").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_kguard"))
        .args(["apparmor", "status", "--file"])
        .arg(d.path().join("p"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "no policy loaded, as aa-status");
}
