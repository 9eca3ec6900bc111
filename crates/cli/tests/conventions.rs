//! The CLI's shared conventions (docs/cli.md): `-o FORMAT` everywhere with JSON/YAML answers
//! that parse, `-o FILE` refused with a hint, `--format` still accepted, and a closed pipe ending
//! the program quietly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::io::Read as _;
use std::process::{Command, Output, Stdio};

fn kguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kguard"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("not JSON ({e}): {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    })
}

#[test]
fn every_answer_comes_as_json_and_yaml() {
    let o = kguard(&["can-i", "create", "pods", "-n", "ci", "--as", "jane", "-f", "examples/rbac.yaml", "-o", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let v = json(&o);
    assert_eq!(v["allowed"], true);
    assert_eq!(v["grant"]["binding"], "RoleBinding/ci/jane-pod-runner");
    assert_eq!(v["request"]["resourceAttributes"]["namespace"], "ci");
    let o = kguard(&["can-i", "delete", "nodes", "--as", "jane", "-f", "examples/rbac.yaml", "-o", "json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(json(&o)["message"].as_str().unwrap().contains("is forbidden"));
    let o = kguard(&["can-i", "--list", "-n", "ci", "--as", "jane", "-f", "examples/rbac.yaml", "-o", "json"]);
    assert!(json(&o)["resourceRules"].as_array().is_some_and(|r| !r.is_empty()));
    let o = kguard(&["who-can", "create", "pods", "-n", "ci", "-f", "examples/rbac.yaml", "-o", "json"]);
    assert!(json(&o)["subjects"].as_array().unwrap().iter().any(|s| s["subject"]["name"] == "jane"));
    let o = kguard(&["rbac", "risks", "-f", "examples/", "-o", "json"]);
    assert_eq!(json(&o)["schemaVersion"], "kguard.report/v1");
    let o = kguard(&["netpol", "reach", "-f", "examples/", "default/legacy-app", "10.0.0.1", "-o", "json"]);
    assert!(json(&o).get("allowed").is_some(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = kguard(&["explain", "PSS003", "-o", "json"]);
    assert_eq!(json(&o)["id"], "PSS003");
    let o = kguard(&["rules", "-o", "json"]);
    assert!(json(&o).as_array().unwrap().len() > 90);
    // YAML: the same answer, readable by any YAML parser (ours here).
    let o = kguard(&["can-i", "create", "pods", "-n", "ci", "--as", "jane", "-f", "examples/rbac.yaml", "-o", "yaml"]);
    let text = String::from_utf8(o.stdout).unwrap();
    let doc = kguard_model::yaml::parse_documents(&text).into_iter().next().unwrap();
    assert_eq!(doc.root.unwrap().unwrap().to_json()["allowed"], true, "{text}");
}

#[test]
fn an_output_that_is_not_a_format_says_how_to_write_a_file() {
    let o = kguard(&["rbac", "risks", "-f", "examples/", "-o", "risks.json"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("\"risks.json\" is not an output format") && err.contains("--output-file risks.json"),
        "{err}"
    );
    // The old spelling still works.
    let o = kguard(&["rbac", "risks", "-f", "examples/", "--format", "json"]);
    assert_eq!(json(&o)["schemaVersion"], "kguard.report/v1");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    for args in [&["rules"][..], &["explain", "PSS003"][..], &["rbac", "risks", "-f", "examples/"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kguard"))
            .args(args)
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader goes away at once, as `| head -0` would
        let status = child.wait().unwrap();
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
        assert!(matches!(status.code(), Some(0 | 1 | 141)), "{args:?}: {status:?}");
    }
}

#[test]
fn scan_takes_kubectls_flags_and_every_report_format() {
    // -f, repeatable, as kubectl; positional paths still work beside it.
    let o = kguard(&["scan", "-f", "examples/rbac.yaml", "-f", "examples/legacy-app.yaml", "-o", "json"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json(&o)["summary"]["files"], 2);
    // -o yaml: the JSON report's tree.
    let o = kguard(&["scan", "examples/", "-o", "yaml"]);
    let text = String::from_utf8(o.stdout).unwrap();
    let doc = kguard_model::yaml::parse_documents(&text).into_iter().next().unwrap().root.unwrap().unwrap();
    assert_eq!(doc.to_json()["schemaVersion"], "kguard.report/v1");
    // -o markdown and -o html.
    let o = kguard(&["scan", "examples/", "-o", "markdown"]);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("## kguard scan\n"));
    let o = kguard(&["scan", "examples/", "-o", "html"]);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("<!DOCTYPE html>"));
    // `-f json`, the old meaning of -f, is explained.
    let o = kguard(&["scan", "-f", "json", "examples/"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("For the output format use -o json"));
}

#[test]
fn input_problems_reach_stderr_whatever_stdout_carries() {
    for format in ["json", "sarif", "junit", "yaml", "markdown", "html"] {
        let o = kguard(&["scan", "tests/fixtures/bad/duplicate-key.yaml", "-o", format]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("duplicate-key.yaml:7:3: warning: duplicate key \"hostNetwork\""), "{format}: {err}");
    }
    // The table on stdout shows them itself: not repeated on stderr.
    let o = kguard(&["scan", "tests/fixtures/bad/duplicate-key.yaml"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("duplicate key"));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("duplicate key"));
    // ... unless the table goes to a file.
    let dir = kguard_testkit::TempDir::new("conventions-table-file");
    let file = dir.path().join("report.txt");
    let o = kguard(&["scan", "tests/fixtures/bad/duplicate-key.yaml", "--output-file", file.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("duplicate key"));
    assert!(std::fs::read_to_string(&file).unwrap().contains("duplicate key"));
}

/// The HTML report in a real browser: headless Chromium runs the page's script with a view
/// given in the address (critical and high findings, grouped by severity) and the DOM it leaves
/// shows exactly those findings under two group headers.
#[test]
fn html_report_filters_and_groups_in_chromium() {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"].into_iter().find(|c| {
        Command::new(c).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    }) else {
        let _ = kguard_testkit::tool("chromium", "html_report_filters_and_groups_in_chromium");
        return;
    };
    let dir = kguard_testkit::TempDir::new("conventions-html");
    let page = dir.path().join("report.html");
    let o = kguard(&["scan", "examples/", "-o", "html", "--output-file", page.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let summary = json(&kguard(&["scan", "examples/", "-o", "json"]))["summary"].clone();
    let (critical, high) =
        (summary["bySeverity"]["critical"].as_u64().unwrap(), summary["bySeverity"]["high"].as_u64().unwrap());
    let url = format!("file://{}#q=&group=severity&sev=critical,high", page.display());
    let out = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", &url])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let total = summary["findings"].as_u64().unwrap();
    assert!(dom.contains(&format!("id=\"shown\">{} of {total} findings shown<", critical + high)), "{dom}");
    assert_eq!(dom.matches("<tr class=\"group\">").count(), 2, "{dom}");
    assert!(dom.contains("<td colspan=\"5\">critical</td>") && dom.contains("<td colspan=\"5\">high</td>"));
}

/// A repository as it is: a Helm chart, a Compose file, CI configuration, vendored manifests and
/// an ignore file beside the manifests.
#[test]
fn scan_walks_a_real_repository() {
    let dir = kguard_testkit::TempDir::new("conventions-repo");
    let root = dir.path();
    let write = |p: &str, text: &str| {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: app}\nspec:\n  containers: [{name: c, image: nginx}]\n";
    write("k8s/pod.yaml", pod);
    write("k8s/generated/pod.yaml", pod);
    write("vendor/pod.yaml", pod);
    write(".kguardignore", "k8s/generated/\n");
    write("docker-compose.yml", "services:\n  web:\n    image: nginx\n");
    write(".github/workflows/ci.yaml", "on: push\njobs: {}\n");
    write("package.json", "{\"name\": \"x\"}\n");
    write("chart/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n");
    write("chart/values.yaml", "image: nginx\n");
    write(
        "chart/templates/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n",
    );
    let o = Command::new(env!("CARGO_BIN_EXE_kguard"))
        .args(["scan", ".", "--exclude", "vendor/", "-o", "json"])
        .current_dir(root)
        .output()
        .unwrap();
    let v = json(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    // Scanned: k8s/pod.yaml only, plus the two files that are not Kubernetes (read, then skipped).
    let files: std::collections::BTreeSet<&str> =
        v["findings"].as_array().unwrap().iter().filter_map(|f| f["location"]["file"].as_str()).collect();
    assert_eq!(files.into_iter().collect::<Vec<_>>(), ["./k8s/pod.yaml"], "{err}");
    assert_eq!(v["summary"]["objects"], 1);
    assert_eq!(v["summary"]["notKubernetes"], 2, "docker-compose.yml and package.json; .github is hidden");
    assert_eq!(v["summary"]["excluded"], 2, "vendor/ by --exclude, k8s/generated/ by .kguardignore");
    assert_eq!(v["summary"]["chartFiles"], 3, "Chart.yaml, values.yaml, templates/deployment.yaml");
    // One warning says how to scan the chart; nothing is said about the Compose file.
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("helm template ./chart | kguard scan -"), "{err}");
    // A path that does not exist is an error.
    let o = kguard(&["scan", "no/such/dir"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no/such/dir: error: cannot read: no such file or directory"));
    // A bad pattern is a usage error naming it.
    let o = kguard(&["scan", "examples/", "--exclude", "a{b"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--exclude: \"a{b\""));
}

fn scan_in(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kguard")).arg("scan").args(args).current_dir(dir).output().unwrap()
}

/// `.kguard.yaml` and baselines: a repository's settings, and CI failing only on new findings.
#[test]
fn configuration_and_baselines() {
    let dir = kguard_testkit::TempDir::new("conventions-config");
    let root = dir.path();
    let pod = |name: &str, privileged: bool, extra: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: app\n{extra}spec:\n  containers:\n  \
             - name: c\n    image: nginx:1.27\n    securityContext: {{privileged: {privileged}}}\n"
        )
    };
    std::fs::create_dir_all(root.join("k8s/sub")).unwrap();
    std::fs::create_dir_all(root.join("tests")).unwrap();
    std::fs::write(root.join("k8s/web.yaml"), pod("web", true, "")).unwrap();
    std::fs::write(root.join("tests/fixture.yaml"), pod("fixture", true, "")).unwrap();
    std::fs::write(
        root.join("k8s/ignored.yaml"),
        pod("quiet", false, "  annotations: {kguard.io/ignore: \"KG026,KG027\"}\n"),
    )
    .unwrap();
    std::fs::write(
        root.join(".kguard.yaml"),
        "# settings for this repository\nselect: [PSS007, KG026, KG027]\nseverity: {PSS007: low}\nfailOn: medium\n\
         perPathIgnores: {\"tests/**\": [pss]}\n",
    )
    .unwrap();
    // From a subdirectory: the file is found upward, its paths stay relative to it.
    let o = scan_in(&root.join("k8s/sub"), &["../..", "-o", "json"]);
    let v = json(&o);
    assert_eq!(o.status.code(), Some(0), "PSS003 is low now, below failOn: {}", String::from_utf8_lossy(&o.stderr));
    let findings = v["findings"].as_array().unwrap();
    let pss: Vec<_> = findings.iter().filter(|f| f["ruleId"] == "PSS007").collect();
    assert_eq!(pss.len(), 1, "tests/ is ignored for pss: {findings:?}");
    assert_eq!(pss[0]["severity"], "low");
    let suppressed = v["suppressed"].as_array().unwrap();
    let by = |needle: &str| {
        suppressed.iter().filter(|s| s["suppression"]["justification"].as_str().unwrap().contains(needle)).count()
    };
    assert_eq!(by("perPathIgnores \"tests/**\""), 1);
    // In-source suppressions name the annotation and what it says.
    assert_eq!(by("kguard.io/ignore: KG026,KG027"), 2, "KG026 and KG027 on the annotated pod");
    assert_eq!(v["summary"]["suppressed"], 3);
    // The command line wins over the file.
    let o = scan_in(root, &[".", "--fail-on", "low"]);
    assert_eq!(o.status.code(), Some(1));
    let o = scan_in(root, &[".", "--no-config", "-o", "json"]);
    assert!(json(&o)["findings"].as_array().unwrap().len() > 10, "every rule without the file");

    // A baseline accepts today's findings; a new privileged pod fails the run.
    let o = scan_in(root, &[".", "--fail-on", "low", "--write-baseline", "baseline.json"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("wrote 5 findings to the baseline baseline.json"));
    let o = scan_in(root, &[".", "--fail-on", "low", "--baseline", "baseline.json", "-o", "sarif"]);
    assert_eq!(o.status.code(), Some(0));
    let sarif: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty() && results.iter().all(|r| r["suppressions"].is_array()), "{results:?}");
    // Moved to another file and shifted by comment lines: still the same findings.
    std::fs::remove_file(root.join("k8s/web.yaml")).unwrap();
    std::fs::write(root.join("k8s/moved.yaml"), format!("# moved\n# here\n{}", pod("web", true, ""))).unwrap();
    let o = scan_in(root, &[".", "--fail-on", "low", "--baseline", "baseline.json"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    std::fs::write(root.join("k8s/new.yaml"), pod("new", true, "")).unwrap();
    let o = scan_in(root, &[".", "--fail-on", "low", "--baseline", "baseline.json", "-o", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert!(v["findings"].as_array().unwrap().iter().all(|f| f["object"]["name"] == "new"), "{v}");

    // Mistakes in the file are errors at their position.
    std::fs::write(root.join(".kguard.yaml"), "select: [PSS007]\nfailOn: sometimes\n").unwrap();
    let o = scan_in(root, &["."]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(".kguard.yaml:2:1: error: failOn: expected any"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn version_completion_and_man_pages() {
    let o = kguard(&["version", "-o", "json"]);
    let v = json(&o);
    assert_eq!(v["kguard"], env!("CARGO_PKG_VERSION"));
    assert!(v["reproduces"].as_array().unwrap().iter().any(|r| r["version"] == "v1.0 to v1.37 and latest"));
    assert!(String::from_utf8_lossy(&kguard(&["--version"]).stdout).starts_with("kguard "));
    // Completion scripts that their shells accept.
    let dir = kguard_testkit::TempDir::new("conventions-completion");
    for (shell, check) in [("bash", ["bash", "-n"]), ("zsh", ["zsh", "-n"]), ("fish", ["fish", "--no-execute"])] {
        let o = kguard(&["completion", shell]);
        assert_eq!(o.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&o.stdout).contains("seccomp"), "{shell}");
        let file = dir.path().join(shell);
        std::fs::write(&file, &o.stdout).unwrap();
        match Command::new(check[0]).arg(check[1]).arg(&file).output() {
            Ok(r) => assert!(r.status.success(), "{shell}: {}", String::from_utf8_lossy(&r.stderr)),
            Err(_) => eprintln!("{shell} is not installed: its completion script is not syntax-checked"),
        }
    }
    // One man page per command, readable by man's formatter.
    let pages = dir.path().join("man");
    let o = kguard(&["man", pages.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    for page in ["kguard.1", "kguard-scan.1", "kguard-netpol-reach.1", "kguard-seccomp-compile.1", "kguard-version.1"] {
        let text = std::fs::read_to_string(pages.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.starts_with(".ie \\n(.g .ds Aq") && text.contains(".SH NAME"), "{page}");
    }
    assert!(!pages.join("kguard-help.1").exists());
}
