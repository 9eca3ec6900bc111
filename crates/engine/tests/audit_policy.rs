//! Audit policy matching (YAML case files) and the policy linter.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_engine::audit::{self, Level, RequestAttributes, Stage};
use kguard_model::yaml::{self, Node};

fn strs(n: Option<&Node>) -> Vec<String> {
    n.and_then(Node::as_seq).unwrap_or(&[]).iter().map(|s| s.as_str().unwrap().to_owned()).collect()
}

fn policy_of(text: &str) -> audit::Policy {
    let doc = yaml::parse_documents(text).into_iter().next().unwrap().root.unwrap().unwrap();
    audit::parse_policy(&doc).unwrap()
}

#[test]
fn policy_cases() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/audit/policy_cases.yaml")).unwrap();
    let mut n = 0;
    for doc in yaml::parse_documents(&text) {
        let root = doc.root.unwrap().unwrap();
        let policy = audit::parse_policy(root.get("policy").unwrap()).unwrap();
        for c in root.get("cases").unwrap().as_seq().unwrap() {
            let s = |k: &str| c.get(k).and_then(Node::as_str).unwrap_or("").to_owned();
            let a = RequestAttributes {
                user: c.get("user").and_then(Node::as_str).map(str::to_owned),
                groups: strs(c.get("groups")),
                verb: s("verb"),
                resource_request: !c.get("nonresource").and_then(Node::as_bool).unwrap_or(false),
                api_group: s("group"),
                resource: s("resource"),
                subresource: s("subresource"),
                namespace: s("namespace"),
                name: s("name"),
                path: s("path"),
            };
            let d = policy.evaluate(&a);
            let want = Level::parse(&s("level")).unwrap();
            assert_eq!(d.level, want, "case at {}: {a:?}", c.pos);
            if c.get("omitStages").is_some() {
                let st: Vec<Stage> = strs(c.get("omitStages")).iter().map(|x| Stage::parse(x).unwrap()).collect();
                let mut st = st;
                st.sort();
                assert_eq!(d.omit_stages, st, "case at {}", c.pos);
            }
            if let Some(m) = c.get("omitManagedFields").and_then(Node::as_bool) {
                assert_eq!(d.omit_managed_fields, m, "case at {}", c.pos);
            }
            n += 1;
        }
    }
    println!("audit policy cases: {n} passed");
    assert!(n >= 25);
}

#[test]
fn invalid_policies_are_rejected_with_positions() {
    let bad = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Loud\n- level: None\n  nonResourceURLs: [healthz]\n- level: None\n  resources: [{group: \"\"}]\n  nonResourceURLs: [\"/x\"]\n";
    let doc = yaml::parse_documents(bad).into_iter().next().unwrap().root.unwrap().unwrap();
    let errs = audit::parse_policy(&doc).unwrap_err();
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert_eq!(errs[0].pos.line, 4);
    assert!(errs[0].message.contains("rules[0].level"));
    assert!(errs[2].message.contains("both regular resources and non-resource URLs"));
}

fn ids(findings: &[kguard_report::Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.rule_id.as_str()).collect()
}

#[test]
fn lint_weak_policy() {
    let p = policy_of(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: RequestResponse\n  resources:\n  - group: \"\"\n- level: Metadata\n  resources:\n  - group: \"\"\n    resources: [secrets]\n- level: None\n  resources:\n  - group: \"\"\n    resources: [\"pods/exec\", \"pods/attach\", \"pods/portforward\"]\n",
    );
    let f = audit::lint(&p, "policy.yaml");
    let got = ids(&f);
    assert!(got.contains(&"AUD001"), "{got:?}");
    assert!(got.contains(&"AUD002"), "{got:?}");
    assert!(got.contains(&"AUD003"), "{got:?}");
    assert!(got.contains(&"AUD004"), "{got:?}");
    let shadow = f.iter().find(|x| x.rule_id == "AUD003").unwrap();
    assert_eq!(shadow.pointer.as_deref(), Some("/rules/1"));
    assert_eq!(shadow.location.as_ref().unwrap().pos.unwrap().line, 7);
    // exec is logged at RequestResponse by rule 0 (the pods/exec None rule is shadowed)
    assert!(!got.contains(&"AUD005"), "{got:?}");
}

#[test]
fn lint_exec_unlogged() {
    let p = policy_of(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: None\n  resources:\n  - group: \"\"\n    resources: [\"pods/exec\"]\n- level: Metadata\n  resources:\n  - group: \"\"\n    resources: [\"pods\"]\n",
    );
    let f = audit::lint(&p, "p.yaml");
    let got = ids(&f);
    assert_eq!(got.iter().filter(|x| **x == "AUD005").count(), 3, "{got:?}");
    assert!(got.contains(&"AUD002"));
    assert!(!got.contains(&"AUD004"));
}

#[test]
fn lint_good_policy_is_clean() {
    let p = policy_of(
        r#"apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  users: ["system:kube-proxy"]
  verbs: ["watch"]
  resources:
  - group: ""
    resources: ["endpoints", "services"]
- level: None
  nonResourceURLs: ["/healthz*", "/version", "/readyz", "/livez"]
- level: Metadata
  resources:
  - group: ""
    resources: ["secrets", "configmaps"]
  - group: "authentication.k8s.io"
    resources: ["tokenreviews"]
- level: Request
  resources:
  - group: ""
    resources: ["pods/exec", "pods/attach", "pods/portforward"]
- level: RequestResponse
  resources:
  - group: "rbac.authorization.k8s.io"
- level: Metadata
"#,
    );
    let f = audit::lint(&p, "good.yaml");
    assert!(f.is_empty(), "{:?}", ids(&f));
}

#[test]
fn rules_metadata() {
    for (i, r) in audit::RULES.iter().enumerate() {
        assert_eq!(r.id, format!("AUD{:03}", i + 1));
        assert_eq!(r.family, "audit");
        assert!(!r.what.is_empty() && !r.why.is_empty() && !r.fix.is_empty() && !r.references.is_empty());
    }
}
