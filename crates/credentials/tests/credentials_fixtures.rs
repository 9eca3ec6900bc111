//! Data-driven fixtures for the credentials rules: `tests/credentials/CREDnnn-<name>.yaml`, one per
//! rule, each a YAML stream of cases `{case, rule, fires, clean?, manifest}` (as the hardening
//! fixtures). Every case must also be free of diagnostics; broken inputs are tested below.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kguard_model::Object;
use kguard_model::yaml::parse_documents;

fn dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/credentials")
}

#[test]
fn every_rule_has_a_fixture_pair() {
    let mut files: Vec<_> = std::fs::read_dir(dir()).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut seen: BTreeSet<(String, bool)> = BTreeSet::new();
    let mut failures = Vec::new();
    let mut cases = 0;
    for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "yaml")) {
        let file: Arc<str> = Arc::from(path.display().to_string());
        let text = std::fs::read_to_string(path).unwrap();
        for doc in parse_documents(&text) {
            let Some(root) = doc.root.unwrap() else { continue };
            let name = root.get("case").and_then(|n| n.as_str()).unwrap().to_owned();
            let rule = root.get("rule").and_then(|n| n.as_str()).unwrap().to_owned();
            let fires = root.get("fires").and_then(|n| n.as_bool()).unwrap();
            let clean = root.get("clean").and_then(|n| n.as_bool()).unwrap_or(false);
            let manifest = root.get("manifest").unwrap().clone();
            let obj = Object::from_node(manifest, file.clone(), doc.index, "/manifest".to_owned()).unwrap();
            assert!(kguard_credentials::applies_to(&obj), "{file} {name}: rules do not apply");
            assert!(kguard_credentials::RULES.iter().any(|r| r.id == rule), "{file}: unknown rule {rule}");
            assert!(path.file_name().unwrap().to_str().unwrap().starts_with(&rule), "{file}: {rule} in the wrong file");
            let (found, diags) = kguard_credentials::check(&obj);
            if !diags.is_empty() {
                failures.push(format!("{file} {name}: unexpected diagnostics {diags:?}"));
            }
            let ids: BTreeSet<_> = found.iter().map(|f| f.rule_id.as_str()).collect();
            if ids.contains(rule.as_str()) != fires {
                failures.push(format!("{file} {name}: {rule} expected fires={fires}, got {ids:?}"));
            }
            if clean && !found.is_empty() {
                failures.push(format!("{file} {name}: expected no findings, got {found:#?}"));
            }
            for f in &found {
                let pointer = f.pointer.as_deref().unwrap();
                assert!(obj.root.pointer(pointer).is_some(), "{name}: {pointer} does not exist");
                assert!(f.location.is_some() && f.remediation.is_some() && !f.references.is_empty());
                // Messages never repeat the secret material.
                for secret in ["0123456789abcdef", "hunter2", "c2lnbmF0dXJl", "LS0tLS1CRUdJTiBQUklWQVRF"] {
                    assert!(!f.message.contains(secret), "{name}: message leaks a secret: {}", f.message);
                }
            }
            seen.insert((rule, fires));
            cases += 1;
        }
    }
    println!("credentials fixtures: {cases} cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for r in kguard_credentials::RULES {
        for fires in [true, false] {
            assert!(seen.contains(&(r.id.to_owned(), fires)), "{} has no fixture with fires={fires}", r.id);
        }
    }
}

fn objects(yaml: &str) -> Vec<Object> {
    let parsed = kguard_model::load::parse_text(&Arc::from("t.yaml"), yaml);
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    parsed.objects
}

/// The base64 certificate and key of the CRED003 fixture (O=system:masters).
fn masters_cert_and_key() -> (String, String) {
    let text = std::fs::read_to_string(dir().join("CRED003-kubeconfig-system-masters-certificate.yaml")).unwrap();
    let doc = parse_documents(&text).into_iter().next().unwrap().root.unwrap().unwrap();
    let user = doc.pointer("/manifest/users/0/user").unwrap();
    let get = |k: &str| user.get(k).and_then(|n| n.as_str()).unwrap().to_owned();
    (get("client-certificate-data"), get("client-key-data"))
}

#[test]
fn findings_point_at_the_field_and_name_the_identity() {
    let (cert, key) = masters_cert_and_key();
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    client-certificate-data: {cert}\n    \
         client-key-data: {key}\n- name: bot\n  user:\n    token: abc.def\n"
    );
    let obj = &objects(&yaml)[0];
    let (found, diags) = kguard_credentials::check(obj);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(found.len(), 2, "{found:#?}");
    let masters = &found[0];
    assert_eq!(masters.rule_id, "CRED003");
    assert_eq!(masters.pointer.as_deref(), Some("/users/0/user/client-certificate-data"));
    assert_eq!(masters.location.as_ref().unwrap().pos.unwrap().line, 6);
    assert!(masters.message.contains("CN=\"kubernetes-admin\"") && masters.message.contains("system:masters"));
    assert_eq!(found[1].rule_id, "CRED004");
    assert_eq!(found[1].location.as_ref().unwrap().pos.unwrap().line, 10);
    assert_eq!(found[1].message, "kubeconfig: users[1] \"bot\" embeds `token`");

    // Embedded in a Secret: the location is the data key; the message gives the inner line.
    let inner = STANDARD.encode(&yaml);
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: ns\ndata:\n  a: Zm9v\n  kubeconfig: {inner}\n"
    );
    let obj = &objects(&secret)[0];
    let (found, _) = kguard_credentials::check(obj);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].pointer.as_deref(), Some("/data/kubeconfig"));
    assert_eq!(found[0].location.as_ref().unwrap().pos.unwrap().line, 8);
    assert!(found[0].message.contains("data.kubeconfig, line 6 of the embedded kubeconfig"), "{}", found[0].message);
}

#[test]
fn service_account_token_message_names_the_jwt_subject() {
    let text = std::fs::read_to_string(dir().join("CRED002-service-account-token-in-manifest.yaml")).unwrap();
    let doc = parse_documents(&text).into_iter().next().unwrap().root.unwrap().unwrap();
    let obj = Object::from_node(doc.get("manifest").unwrap().clone(), Arc::from("f"), 0, String::new()).unwrap();
    let (found, _) = kguard_credentials::check(&obj);
    let token = found.iter().find(|f| f.rule_id == "CRED002").unwrap();
    assert_eq!(token.pointer.as_deref(), Some("/data/token"));
    assert!(token.message.contains("\"system:serviceaccount:ci:deployer\""), "{}", token.message);
    let legacy = found.iter().find(|f| f.rule_id == "CRED001").unwrap();
    assert!(legacy.message.contains("ServiceAccount \"deployer\""), "{}", legacy.message);
}

#[test]
fn broken_embedded_credentials_are_diagnostics_not_panics() {
    let (_, key) = masters_cert_and_key();
    let bad_kubeconfig = STANDARD.encode("apiVersion: v1\nkind: Config\nusers: [\n  {name: x\n");
    let truncated_cert =
        STANDARD.encode("-----BEGIN CERTIFICATE-----\nMIIBvjCCAWOgAwIBAgIUMYEK\n-----END CERTIFICATE-----\n");
    let yaml = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: s, namespace: ns}}\ndata:\n  not-base64: '%%%'\n  \
         config: {bad_kubeconfig}\n---\napiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n    \
         client-certificate-data: '!!notbase64'\n    client-key-data: {key}\n- name: b\n  user:\n    \
         client-certificate-data: {truncated_cert}\n- name: c\n  user: []\n- name: d\nusers2: 1\n---\n\
         apiVersion: v1\nkind: Config\nusers: {{a: 1}}\n"
    );
    let objs = objects(&yaml);
    let (found, diags) = kguard_credentials::check(&objs[0]);
    assert!(found.is_empty(), "{found:?}");
    let messages: Vec<_> = diags.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(diags.len(), 2, "{messages:#?}");
    assert!(messages[0].contains("data.not-base64 is not valid base64"), "{}", messages[0]);
    assert!(messages[1].contains("data.config in Secret/ns/s looks like a kubeconfig but cannot be parsed"));
    assert_eq!(diags[1].location.pos.unwrap().line, 6);

    let (found, diags) = kguard_credentials::check(&objs[1]);
    // The undecodable certificate is reported; its embedded key is still a finding.
    assert_eq!(found.iter().map(|f| f.rule_id.as_str()).collect::<Vec<_>>(), ["CRED004"]);
    assert_eq!(diags.len(), 2, "{diags:#?}");
    assert!(diags[0].message.contains("users[0] \"a\": client-certificate-data is not valid base64"));
    assert!(diags[1].message.contains("users[1] \"b\": client-certificate-data"));
    assert_eq!(diags[1].location.pos.unwrap().line, 17);

    let (found, diags) = kguard_credentials::check(&objs[2]);
    assert!(found.is_empty());
    assert!(diags[0].message.contains("users: expected a list"), "{diags:?}");
}

/// Arbitrary text in Secret and ConfigMap values never panics the engine.
#[test]
fn arbitrary_values_do_not_panic() {
    let (cert, key) = masters_cert_and_key();
    let kubeconfig = format!(
        "kind: Config\nclusters: []\nusers:\n- name: a\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\n"
    );
    for cut in (0..kubeconfig.len()).step_by(7) {
        let mut bytes = kubeconfig.as_bytes()[..cut].to_vec();
        if let Some(b) = bytes.last_mut() {
            *b ^= 0x20;
        }
        let value = STANDARD.encode(&bytes);
        let yaml = format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\ndata:\n  k: {value}\n");
        let obj = &objects(&yaml)[0];
        let _ = kguard_credentials::check(obj);
    }
}
