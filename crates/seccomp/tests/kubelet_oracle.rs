//! The kubelet's `seccompProfile` resolution against the 30 cases transcribed from
//! kubernetes `pkg/kubelet/kuberuntime/helpers_linux_test.go` (`../shared/oracles/seccomp/
//! kubernetes/kubelet_seccomp_cases.json`): CRI profile or exact error text.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_model::pod::Profile;
use kguard_seccomp::kubelet::{CriProfile, resolve};
use serde_json::Value;

fn field(sc: &Value) -> Option<Profile> {
    let p = sc.get("seccompProfile")?;
    Some(Profile {
        type_: p.get("type").and_then(Value::as_str).map(str::to_owned),
        localhost_profile: p.get("localhostProfile").and_then(Value::as_str).map(str::to_owned),
    })
}

#[test]
fn kubelet_seccomp_oracle() {
    let Some(path) = kguard_testkit::shared_path("oracles/seccomp/kubernetes/kubelet_seccomp_cases.json") else {
        return;
    };
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let root = doc["seccomp_profile_root"].as_str().unwrap();
    let cases = doc["cases"].as_array().unwrap();
    let mut passed = 0;
    for c in cases {
        let pod = field(&c["podSecurityContext"]);
        let ctr = field(&c["containerSecurityContext"]);
        let got = resolve(pod.as_ref(), ctr.as_ref(), c["kubelet_seccompDefault"].as_bool().unwrap(), root);
        let want = match (&c["expected_cri_profile"], &c["expected_error"]) {
            (Value::Null, Value::String(e)) => Err(e.clone()),
            (p, Value::Null) => Ok(match p["profileType"].as_str().unwrap() {
                "Unconfined" => CriProfile::Unconfined,
                "RuntimeDefault" => CriProfile::RuntimeDefault,
                _ => CriProfile::Localhost(p["localhostRef"].as_str().unwrap().to_owned()),
            }),
            other => panic!("bad case {other:?}"),
        };
        if got == want {
            passed += 1;
        } else {
            println!(
                "  FAIL {} (seccompDefault {}): got {got:?}, want {want:?}",
                c["description"], c["kubelet_seccompDefault"]
            );
        }
    }
    println!("seccomp kubelet resolution oracle: {passed} passed of {}", cases.len());
    assert_eq!(cases.len(), 30);
    assert_eq!(passed, 30);
}

#[test]
fn localhost_paths_are_cleaned_like_go() {
    let p = |l: &str| Profile { type_: Some("Localhost".into()), localhost_profile: Some(l.into()) };
    let r = |l: &str| resolve(Some(&p(l)), None, false, "/var/lib/kubelet/seccomp").unwrap();
    assert_eq!(r("profiles/audit.json"), CriProfile::Localhost("/var/lib/kubelet/seccomp/profiles/audit.json".into()));
    assert_eq!(r("./a//b.json"), CriProfile::Localhost("/var/lib/kubelet/seccomp/a/b.json".into()));
    assert_eq!(r("../../x.json"), CriProfile::Localhost("/var/lib/x.json".into()));
}

/// `NodeProfiles::judge_all` (what `kguard serve` loads once) gives, file by file, the verdict
/// `check_pods` (`kguard scan --seccomp-root`) reaches for a pod naming that file.
#[test]
fn judged_profiles_agree_with_the_scan_check() {
    use kguard_seccomp::kubelet::{NodeProfiles, Verdict, check_pods};
    let files = [
        (
            "strict.json",
            Ok(
                r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write","exit_group"],"action":"SCMP_ACT_ALLOW"}]}"#,
            ),
        ),
        ("sub/weak.json", Ok(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#)),
        ("broken.json", Ok("{\"defaultAction\": ")),
        (
            "typo.json",
            Ok(r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["opne"],"action":"SCMP_ACT_ALLOW"}]}"#),
        ),
        ("unreadable.json", Err("Permission denied (os error 13)")),
    ];
    let node = NodeProfiles {
        root: "/var/lib/kubelet/seccomp".into(),
        display: "profiles.d".into(),
        files: files.iter().map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned).map_err(str::to_owned))).collect(),
        arch: Some(kguard_seccomp::Arch::X86_64),
    };
    let judged = node.judge_all();
    assert_eq!(judged.len(), 5);
    let at = |rel: &str| judged.check(&format!("/var/lib/kubelet/seccomp/{rel}"));
    assert_eq!(at("strict.json"), Verdict::Ok);
    assert!(matches!(at("sub/weak.json"), Verdict::Weaker(m) if m.contains("RuntimeDefault")));
    assert!(matches!(at("broken.json"), Verdict::Invalid(m) if m.contains("profiles.d/broken.json:1:")));
    assert!(matches!(at("typo.json"), Verdict::Invalid(m) if m.contains("unknown syscall \"opne\"")));
    assert!(matches!(at("unreadable.json"), Verdict::Invalid(m) if m.contains("Permission denied")));
    assert!(matches!(at("none.json"), Verdict::Missing(m) if m.contains("none.json not found in profiles.d")));
    assert!(
        matches!(judged.check("/var/lib/x.json"), Verdict::Missing(m) if m.contains("outside the profile directory"))
    );
    let mut invalid: Vec<&str> = judged.invalid().map(|(rel, _)| rel).collect();
    invalid.sort_unstable();
    assert_eq!(invalid, ["broken.json", "typo.json", "unreadable.json"]);
    // the same verdicts as the scan's, pod by pod
    for (rel, _) in &files {
        let pod = format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n  - name: c\n    image: i\n    securityContext:\n      seccompProfile: {{type: Localhost, localhostProfile: {rel}}}\n"
        );
        let loaded = kguard_model::load::parse_text(&std::sync::Arc::from("pod.yaml"), &pod);
        let findings = check_pods(&loaded.objects, &node);
        let scan_rule = findings.first().map(|f| f.rule_id.to_string());
        let serve_rule = match at(rel) {
            Verdict::Ok => None,
            Verdict::Missing(_) => Some("SCMP010"),
            Verdict::Invalid(_) => Some("SCMP011"),
            Verdict::Weaker(_) => Some("SCMP012"),
        };
        assert_eq!(scan_rule.as_deref(), serve_rule, "{rel}");
    }
}
