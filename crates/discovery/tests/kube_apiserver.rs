//! Live: kube-apiserver and kubectl v1.36.2 (`../shared/bench/kube-apiserver.sh`) say what the
//! recordings in `tests/kubectl/` say (which `kubectl_recorded.rs` compares with kguard), and the
//! audit policy checker agrees with the apiserver's own reading of a policy. With
//! `KGUARD_RECORD=1` the recordings are rewritten instead.
//!
//! Skips (visibly) without the harness; under `KGUARD_REQUIRE_SHARED` it must run where the
//! harness exists.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use kguard_testkit::kube::KubeApiserver;

fn recording(rel: &str, fresh: &str) {
    let path = tests_dir(rel);
    if std::env::var_os("KGUARD_RECORD").is_some_and(|v| v == "1") {
        std::fs::write(&path, fresh).unwrap();
        println!("recorded {}", path.display());
        return;
    }
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(old == fresh, "{rel}: kubectl now says otherwise (KGUARD_RECORD=1 rewrites it):\n{fresh}");
}

fn text(out: &std::process::Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `kubectl explain NAME` for many names, eight at a time.
fn explain_all(kube: &KubeApiserver, names: &[String]) -> String {
    let lines: Vec<String> = std::thread::scope(|s| {
        let chunks: Vec<_> = names
            .chunks(names.len().div_ceil(8))
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|name| {
                            let (out, err) = text(&kube.kubectl(&["explain", name]));
                            let field =
                                |k: &str| out.lines().find_map(|l| l.strip_prefix(k)).map(|v| v.trim().to_owned());
                            match (field("KIND:"), field("VERSION:")) {
                                (Some(kind), Some(version)) => {
                                    let api_version = match field("GROUP:") {
                                        Some(g) => format!("{g}/{version}"),
                                        None => version,
                                    };
                                    let warnings: Vec<&str> =
                                        err.lines().filter_map(|l| l.strip_prefix("Warning: ")).collect();
                                    let mut line = format!("{name}\t{api_version}\t{kind}");
                                    for w in warnings {
                                        line.push('\t');
                                        line.push_str(w);
                                    }
                                    line
                                }
                                _ => format!("{name}\t-\t{}", err.trim().replace('\n', " ")),
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        chunks.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    lines.join("\n") + "\n"
}

#[test]
fn kubectl_says_what_the_recordings_say() {
    let policy = kguard_testkit::repo_root().join("crates/audit/tests/audit/kube/wildcard-group-unknown-fields.yaml");
    let policy = policy.to_string_lossy().into_owned();
    let Some(kube) = KubeApiserver::start("discovery_live", &[], &[("KGUARD_KUBE_AUDIT_POLICY", &policy)]) else {
        return;
    };

    // discovery
    let (resources, err) = text(&kube.kubectl(&["api-resources", "-o", "wide"]));
    assert!(!resources.is_empty(), "kubectl api-resources: {err}");
    recording("kubectl/api-resources.txt", &resources);
    let names = explain_names(&parse_api_resources(&resources));
    recording("kubectl/explain.txt", &explain_all(&kube, &names));

    // strict field validation
    let mut files: Vec<String> = std::fs::read_dir(tests_dir("strict"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    files.sort();
    let mut strict = String::new();
    for f in &files {
        let path = tests_dir(&format!("strict/{f}"));
        let out = std::process::Command::new(kube.env("KUBECTL"))
            .args(["create", "--dry-run=server", "--validate=strict", "-n", "default", "-f"])
            .arg(&path)
            .current_dir(tests_dir("strict"))
            .env("KUBECONFIG", kube.env("KUBECONFIG"))
            .output()
            .unwrap();
        let (o, e) = text(&out);
        // kubectl names the file as given; the path is made relative so the recording is stable
        let said = format!("{o}{e}").replace(&path.to_string_lossy().into_owned(), f);
        strict.push_str(&format!("== {f}\n{}", said.trim_end()));
        strict.push('\n');
    }
    recording("kubectl/strict.txt", &strict);

    // the audit policy: unknown fields as the apiserver logged them, and `group: "*"` live
    let log = std::fs::read_to_string(kube.env("KUBE_APISERVER_LOG")).unwrap();
    let line =
        log.lines().find(|l| l.contains("falling back to lenient decoding")).expect("the lenient-decoding warning");
    let logged: Vec<String> =
        line.split("unknown field \"").skip(1).map(|s| s.split('"').next().unwrap().to_owned()).collect();
    let text = std::fs::read_to_string(&policy).unwrap();
    let doc = kguard_model::yaml::parse_documents(&text).into_iter().next().unwrap().root.unwrap().unwrap();
    let check = kguard_audit::check_policy(&doc);
    let warned: Vec<String> = check.warnings.iter().map(|w| w.message.split('"').nth(1).unwrap().to_owned()).collect();
    assert_eq!(warned, logged, "kguard's unknown-field warnings are the apiserver's");
    let policy = check.policy.unwrap();
    for args in [["get", "deployments.apps"], ["get", "configmaps"], ["get", "events"]] {
        let out = kube.kubectl(&[args[0], args[1], "-A"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = kube.kubectl(&["get", "deployments.apps", "nope", "-n", "default"]);
    assert!(!out.status.success());
    // the audit log is written before the response: every request above is in it
    let audit = std::fs::read_to_string(kube.env("KUBE_AUDIT_LOG")).unwrap();
    let mut compared = 0;
    for line in audit.lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        if e["user"]["username"] != "kguard-admin" || e["objectRef"]["resource"].is_null() {
            continue;
        }
        let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_owned();
        let o = &e["objectRef"];
        let a = kguard_audit::RequestAttributes {
            user: Some("kguard-admin".into()),
            groups: e["user"]["groups"].as_array().unwrap().iter().map(s).collect(),
            verb: s(&e["verb"]),
            resource_request: true,
            api_group: s(&o["apiGroup"]),
            resource: s(&o["resource"]),
            subresource: s(&o["subresource"]),
            namespace: s(&o["namespace"]),
            name: s(&o["name"]),
            path: String::new(),
        };
        assert_eq!(policy.evaluate(&a).level.as_str(), e["level"], "{line}");
        compared += 1;
    }
    assert!(
        audit.contains("\"resource\":\"deployments\",\"namespace\":\"default\"") || compared >= 3,
        "the requests were audited"
    );
    println!("audit log: {compared} events at the level kguard evaluates");
    assert!(compared >= 3, "{compared} audit events compared");
}

#[test]
fn an_invalid_audit_policy_is_refused_with_kguards_messages() {
    let policy = kguard_testkit::repo_root().join("crates/audit/tests/audit/kube/invalid.yaml");
    let p = policy.to_string_lossy().into_owned();
    // The harness picks free ports at random; a start that fails for another reason (a port
    // another test took between the pick and the bind) is tried again, up to three times.
    let mut attempt = None;
    for _ in 0..3 {
        let Some((out, log)) = KubeApiserver::start_failing("audit_invalid", &[], &[("KGUARD_KUBE_AUDIT_POLICY", &p)])
        else {
            return;
        };
        let refused = log.contains("loading audit policy file");
        attempt = Some((out, log));
        if refused {
            break;
        }
    }
    let Some((out, log)) = attempt else { return };
    assert!(!out.status.success(), "the apiserver started with an invalid policy");
    let line = log.lines().find(|l| l.contains("loading audit policy file")).unwrap_or_else(|| {
        panic!(
            "the apiserver's refusal is not in its log:\n{log}\n--- harness stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let text = std::fs::read_to_string(&policy).unwrap();
    let doc = kguard_model::yaml::parse_documents(&text).into_iter().next().unwrap().root.unwrap().unwrap();
    let check = kguard_audit::check_policy(&doc);
    assert!(!check.errors.is_empty());
    // the log line is Go-quoted (`err="..."`): compare with kguard's messages quoted the same way
    for e in &check.errors {
        let quoted = e.message.replace('\\', "\\\\").replace('"', "\\\"");
        assert!(line.contains(&quoted), "{quoted}\nnot in\n{line}");
    }
    let count = line.matches(": Invalid value: ").count()
        + line.matches(": Unsupported value: ").count()
        + line.matches(": Required value").count();
    assert_eq!(count, check.errors.len(), "as many errors as the apiserver's: {line}");
}
