//! End-to-end tests of the `kguard` binary: exit codes, bad input, formats, selection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn repo() -> PathBuf {
    kguard_testkit::repo_root()
}

fn kguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kguard")).args(args).current_dir(repo()).output().expect("runs kguard")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally, not by a signal")
}

#[test]
fn examples_have_findings_with_positions() {
    let o = kguard(&["scan", "examples/", "--color", "never"]);
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "findings → exit 1\n{out}");
    // The privileged DaemonSet in a baseline namespace: privileged, host namespaces, hostPath, hostPort.
    assert!(out.contains("examples/node-exporter.yaml"), "{out}");
    assert!(out.contains("sets `privileged: true`  [container: node-exporter]  [also: PSS007]"), "{out}");
    assert!(out.contains("mounts sensitive host path `/`"), "{out}");
    // `hostIPC: yes` is true to Kubernetes, so it is reported (once: the hardening rule of the
    // field, carrying the Pod Security check).
    assert!(out.contains("pod sets `hostIPC: true`  [also: PSS003]"), "{out}");
    // The hardened deployment has no findings.
    assert!(!out.contains("payments-api.yaml"), "payments-api is restricted-clean:\n{out}");
    // The suppressed findings are not shown: with only those rules selected, the scan is clean.
    let o = kguard(&["scan", "examples/suppressed.yaml", "--select", "hostNamespaces,host-network"]);
    assert_eq!(code(&o), 0, "netdebug's host-network findings are suppressed:\n{}", stdout(&o));
    let o = kguard(&["scan", "examples/legacy-app.yaml", "--select", "hostNamespaces,host-ipc"]);
    assert_eq!(code(&o), 1, "without the annotation they are reported");
}

#[test]
fn json_report_is_valid_json_with_locations() {
    let o = kguard(&["scan", "examples/node-exporter.yaml", "examples/namespaces.yaml", "--format", "json"]);
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    let findings = v["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    let privileged = findings.iter().find(|f| f["ruleName"] == "privileged-container").expect("a privileged finding");
    assert_eq!(privileged["mergedRules"], serde_json::json!(["PSS007"]), "{privileged}");
    assert_eq!(privileged["location"]["file"], "examples/node-exporter.yaml");
    assert_eq!(privileged["location"]["line"], 24, "{privileged}");
    assert_eq!(privileged["pointer"], "/spec/template/spec/containers/0/securityContext/privileged");
}

#[test]
fn bad_inputs_are_reported_and_the_rest_is_scanned() {
    let o = kguard(&["scan", "tests/fixtures/bad", "--color", "never"]);
    let out = stdout(&o);
    assert_eq!(code(&o), 2, "input errors → exit 2\n{out}");
    for needle in [
        "syntax-error.yaml:7:5",
        "not-utf8.yaml:6:10",
        "binary.yaml",
        "alias-bomb.yaml",
        "deep-nesting.yaml",
        "truncated.json:1:",
        "duplicate-key.yaml:7:3",
        "no-apiversion.yaml:1:1",
        "wrong-types.yaml",
    ] {
        assert!(out.contains(needle), "expected a diagnostic at {needle}:\n{out}");
    }
    // The document after the broken one is still scanned.
    assert!(out.contains("after-the-broken-one"), "{out}");
    // A List item is scanned; the duplicate key's last value (true) is used.
    assert!(out.contains("in-list"), "{out}");
    assert!(out.contains("Pod/dup"), "{out}");
    assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));
}

#[test]
fn missing_file_is_an_error() {
    let o = kguard(&["scan", "does/not/exist.yaml"]);
    assert_eq!(code(&o), 2);
    assert!(stdout(&o).contains("does/not/exist.yaml") && stdout(&o).contains("no such file"), "{}", stdout(&o));
}

/// Runs kguard with a deadline and a memory ceiling (`ulimit -v`), so a reproduction of a hang
/// or of unbounded reading fails the test instead of taking the machine down.
#[cfg(unix)]
fn kguard_bounded(args: &[&str], deadline: std::time::Duration) -> Output {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 4000000 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_kguard"))
        .args(args)
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs kguard");
    let start = std::time::Instant::now();
    while child.try_wait().expect("waits").is_none() {
        if start.elapsed() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("killed");
            panic!("kguard {args:?} still running after {deadline:?}\n{}", stdout(&out));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// Reproduction (issue "Trustworthy under attack and failure", item 10): `kguard scan /dev/zero`
/// (or a symlink to it inside a scanned directory) read until the OOM killer came; a FIFO made
/// the scan hang. Now only regular files are read, and the rest is scanned.
#[cfg(unix)]
#[test]
fn devices_and_fifos_are_skipped_with_a_diagnostic() {
    let dir = kguard_testkit::TempDir::new("special-files");
    let d = dir.path();
    std::os::unix::fs::symlink("/dev/zero", d.join("zero.yaml")).unwrap();
    assert!(Command::new("mkfifo").arg(d.join("pipe.yaml")).status().unwrap().success());
    std::fs::write(d.join("pod.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {name: after}\nspec:\n  hostPID: true\n  containers: [{name: c, image: x}]\n").unwrap();
    let path = d.display().to_string();
    let o = kguard_bounded(&["scan", &path, "/dev/zero", "--color", "never"], std::time::Duration::from_secs(60));
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(2), "input errors → exit 2\n{out}\n{}", String::from_utf8_lossy(&o.stderr));
    for needle in [
        format!("{path}/zero.yaml: error: is a character device, not a regular file"),
        format!("{path}/pipe.yaml: error: is a FIFO (named pipe), not a regular file"),
        "/dev/zero: error: is a character device, not a regular file".to_owned(),
        "[not-a-file]".to_owned(),
    ] {
        assert!(out.contains(&needle), "expected {needle:?}:\n{out}");
    }
    assert!(out.contains("Pod/after"), "the regular file is still scanned:\n{out}");
}

/// stdin is capped while it is read: an endless stream ends in a `too-large` error, not in the
/// OOM killer.
#[cfg(unix)]
#[test]
fn endless_stdin_is_cut_at_the_size_limit() {
    let o = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 4000000 && exec \"$0\" scan - --color never < /dev/zero")
        .arg(env!("CARGO_BIN_EXE_kguard"))
        .current_dir(repo())
        .output()
        .expect("runs kguard");
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("-: error: input is larger than 268435456 bytes; skipped [too-large]"), "{out}");
}

#[test]
fn stdin_input() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kguard"))
        .args(["scan", "-", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostPID: on\n  containers: [{name: c, image: x}]\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["ruleName"] == "host-pid" && f["mergedRules"][0] == "PSS003" && f["location"]["file"] == "-")
    );
}

#[test]
fn fail_on_threshold_and_selection() {
    // Only the restricted-level runAsUser check of the CronJob: medium severity.
    let o = kguard(&["scan", "examples/legacy-app.yaml", "--select", "runAsUser", "--fail-on", "critical", "-q"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    let o = kguard(&["scan", "examples/legacy-app.yaml", "--select", "runAsUser"]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("runAsUser"));
    let o = kguard(&["scan", "examples/legacy-app.yaml", "--select", "pss", "--ignore", "PSS"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    let o = kguard(&["scan", "examples/", "--select", "no-such-rule"]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no-such-rule"));
}

#[test]
fn pss_level_and_version_flags() {
    // At baseline, the CronJob's runAsUser=0 is allowed, the pod's hostIPC is not.
    let o = kguard(&["scan", "examples/legacy-app.yaml", "--pss-level", "baseline", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // Each Pod Security check is reported itself or merged into the hardening finding of its field.
    let ids: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| std::iter::once(&f["ruleId"]).chain(f["mergedRules"].as_array().unwrap()))
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    assert!(ids.iter().any(|id| id == "PSS003"), "{ids:?}");
    assert!(!ids.iter().any(|id| id == "PSS018"), "{ids:?}");
    assert!(ids.iter().any(|id| id == "KG008"), "the UID 0 is still a hardening finding: {ids:?}");
    let o = kguard(&["scan", "examples/", "--pss-version", "v2.0"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn explain_and_rules() {
    let o = kguard(&["explain", "privileged"]);
    assert_eq!(code(&o), 0);
    let out = stdout(&o);
    assert!(out.contains("What it checks") && out.contains("How to fix it") && out.contains("kubernetes.io"), "{out}");
    let o = kguard(&["explain", "NOPE"]);
    assert_eq!(code(&o), 2);
    // A retired id explains its survivor, saying so.
    let o = kguard(&["explain", "rbac011"]);
    assert_eq!(code(&o), 0);
    let out = stdout(&o);
    assert!(out.starts_with("RBAC011 (wildcard-rule) is retired: "), "{out}");
    assert!(out.contains("It now means KG041.\n\nKG041 (rbac-wildcard): "), "{out}");
    let o = kguard(&["explain", "anonymous-binding"]);
    assert!(stdout(&o).contains("It now means KG039.") && stdout(&o).contains("KG039 (binding-to-anonymous)"));
    let o = kguard(&["rules", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.as_array().unwrap().len() >= 19);
}

#[test]
fn sarif_and_junit_outputs() {
    let dir = std::env::temp_dir().join(format!("kguard-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sarif = dir.join("out.sarif");
    let o = kguard(&["scan", "examples/", "--format", "sarif", "--output-file", sarif.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert!(!v["runs"][0]["results"].as_array().unwrap().is_empty());
    let o = kguard(&["scan", "examples/", "--format", "junit"]);
    assert!(stdout(&o).starts_with("<?xml"));
    std::fs::remove_dir_all(&dir).ok();
}

/// The real-world corpus: no panic, every unparsable document reported.
#[test]
fn corpus_scan_does_not_panic() {
    let Some(corpus) = kguard_testkit::shared_path("corpus") else { return };
    let o = kguard(&["scan", corpus.to_str().unwrap(), "--format", "json", "--fail-on", "never"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(matches!(code(&o), 0 | 2), "exit {}: {stderr}", code(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let summary = &v["summary"];
    println!("corpus: {summary}");
    assert!(summary["objects"].as_u64().unwrap() > 2000, "{summary}");
    assert!(summary["files"].as_u64().unwrap() > 1000, "{summary}");
}

#[test]
fn kubesec_format_and_exit_codes() {
    let o = kguard(&["scan", "--format", "kubesec", "examples/legacy-app.yaml"]);
    assert_eq!(code(&o), 2, "kubesec exits 2 when an object scores <= 0");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["object"], "Pod/legacy-app.default");
    assert!(v[0]["score"].as_i64().unwrap() <= 0);
    assert!(v[0]["scoring"]["critical"].as_array().unwrap().iter().any(|c| c["id"] == "HostIPC"));
    // kubesec scores unsupported kinds (Service, NetworkPolicy) 0, which fails the run: exit 2.
    let o = kguard(&["scan", "--format", "kubesec", "examples/payments-api.yaml"]);
    assert_eq!(code(&o), 2, "{}", stdout(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["object"], "Deployment/payments-api.payments");
    assert!(v[0]["score"].as_i64().unwrap() > 0, "the hardened deployment passes: {}", v[0]);
    assert_eq!(v[1]["message"], "This resource kind is not supported by kubesec");
    let o = kguard(&["scan", "--format", "kubesec", "tests/fixtures/bad/syntax-error.yaml"]);
    assert_eq!(code(&o), 1, "input errors are kubesec's exit 1");
}

/// Reproduction: `kguard audit eval` took `rules: 5` for "no rules" and answered level None.
#[test]
fn audit_eval_refuses_a_policy_field_of_the_wrong_type() {
    let d = std::env::temp_dir().join(format!("kguard-cli-{}-auditpolicy", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join("policy.yaml");
    std::fs::write(&p, "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: 5\n").unwrap();
    let o = kguard(&["audit", "eval", p.to_str().unwrap(), "--verb", "get", "--resource", "secrets"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(code(&o), 2, "{}{err}", stdout(&o));
    assert!(
        err.contains(&format!("{}:3:8: error: rules: expected a list of rules, found an integer", p.display())),
        "{err}"
    );
}

/// `kguard rbac risks` reports what one Role or binding shows alone (the hardening catalogue's
/// rbac-object rules) with the risks across objects, one finding per problem as `scan` does.
#[test]
fn rbac_risks_include_object_rules_merged() {
    let d = std::env::temp_dir().join(format!("kguard-cli-{}-rbac-risks", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let file = d.join("rbac.yaml");
    std::fs::write(
        &file,
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: everything}\nrules:\n- apiGroups: ['*']\n  resources: ['*']\n  verbs: ['*']\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: anon}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\nsubjects:\n- {apiGroup: rbac.authorization.k8s.io, kind: User, name: 'system:anonymous'}\n",
    )
    .unwrap();
    let o = kguard(&["rbac", "risks", "-f", file.to_str().unwrap(), "-o", "json"]);
    assert_eq!(code(&o), 1, "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let findings = v["findings"].as_array().unwrap();
    let ids: Vec<&str> = findings.iter().map(|f| f["ruleId"].as_str().unwrap()).collect();
    assert!(ids.contains(&"KG039"), "{ids:?}");
    // `*` on everything: one finding (KG048) carrying the wildcard and permission rules.
    let full: Vec<_> = findings.iter().filter(|f| f["object"]["name"] == "everything").collect();
    assert_eq!(full.len(), 1, "{full:#?}");
    assert_eq!(full[0]["ruleId"], "KG048");
    let merged: Vec<&str> = full[0]["mergedRules"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    for id in ["KG041", "KG044", "KG045", "KG046", "KG047"] {
        assert!(merged.contains(&id), "{merged:?}");
    }
    std::fs::remove_dir_all(&d).ok();
}

/// Reproduction: `audit eval --as alice` evaluated the policy for a user without groups, where
/// kube-apiserver's user is in `system:authenticated`: the documentation's example policy, whose
/// rule `userGroups: [system:authenticated]` keeps `/api*` out of the log, answered Metadata for
/// what the server does not log (checked live in kguard-audit's `kube_apiserver_audit_oracle`).
/// The answer also says which stages the server records.
#[test]
fn audit_eval_adds_system_authenticated_and_says_the_recorded_stages() {
    let policy = "crates/audit/tests/audit/kube/sessions/docs-example.yaml";
    let json = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["audit", "eval", policy, "-o", "json"];
        all.extend_from_slice(args);
        let o = kguard(&all);
        assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let v = json(&["--as", "alice", "--verb", "get", "--path", "/api/v1"]);
    assert_eq!(v["level"], "None", "{v}");
    assert_eq!(v["stages"], serde_json::json!([]));
    let v = json(&["--as", "system:anonymous", "--verb", "get", "--path", "/api/v1"]);
    assert_eq!(v["level"], "Metadata", "anonymous is not in system:authenticated: {v}");
    let v = json(&["--as", "alice", "--verb", "watch", "--resource", "pods", "-n", "team-a"]);
    assert_eq!(v["level"], "RequestResponse");
    assert_eq!(v["stages"], serde_json::json!(["ResponseStarted", "ResponseComplete"]));
    // without --as: a request whose authentication failed, one ResponseStarted event
    let v = json(&["--verb", "list", "--resource", "pods", "-n", "team-a"]);
    assert_eq!(v["stages"], serde_json::json!(["ResponseStarted"]));
    let o = kguard(&["audit", "eval", policy, "--as", "alice", "--verb", "get", "--resource", "pods/log", "-n", "a"]);
    assert!(stdout(&o).contains("\nstages: [ResponseStarted, ResponseComplete]\n"), "{}", stdout(&o));
}
