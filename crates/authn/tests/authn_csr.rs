//! CertificateSigningRequest approval and the built-in signers' checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kguard_authn::CsrError;
use kguard_authn::csr::{Decision, decide, has_condition, plan};
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use serde_json::{Value, json};

fn csr(cn: &str, org: Option<&str>, sans: &[&str], signer: &str, usages: &[&str]) -> Value {
    let mut p = CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap();
    let mut dn = DistinguishedName::new();
    if let Some(o) = org {
        dn.push(DnType::OrganizationName, o);
    }
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    let key = KeyPair::generate().unwrap();
    let pem = p.serialize_request(&key).unwrap().pem().unwrap();
    json!({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": "x"},
        "spec": {"request": STANDARD.encode(pem), "signerName": signer, "usages": usages}})
}

const NOW: &str = "2026-06-01T00:00:00Z";

#[test]
fn approve_and_deny_like_kubectl() {
    let mut c = csr("jane", None, &[], "kubernetes.io/kube-apiserver-client", &["client auth"]);
    decide(&mut c, Decision::Approve, false, NOW).unwrap();
    assert!(has_condition(&c, "Approved"));
    assert_eq!(c["status"]["conditions"][0]["reason"], "KubectlApprove");
    assert_eq!(c["status"]["conditions"][0]["message"], "This CSR was approved by kubectl certificate approve.");
    assert!(decide(&mut c, Decision::Approve, false, NOW).unwrap_err().to_string().contains("already approved"));
    decide(&mut c, Decision::Approve, true, NOW).unwrap();
    assert_eq!(c["status"]["conditions"].as_array().unwrap().len(), 1);
    assert!(decide(&mut c, Decision::Deny, false, NOW).unwrap_err().to_string().contains("mutually exclusive"));
    let mut d = csr("jane", None, &[], "kubernetes.io/kube-apiserver-client", &["client auth"]);
    decide(&mut d, Decision::Deny, false, NOW).unwrap();
    assert_eq!(d["status"]["conditions"][0]["reason"], "KubectlDeny");
    assert!(plan(&d).unwrap_err().to_string().contains("not approved"));
    assert!(decide(&mut json!({"kind": "Pod"}), Decision::Approve, false, NOW).is_err());
}

fn approved(mut c: Value) -> Value {
    decide(&mut c, Decision::Approve, false, NOW).unwrap();
    c
}

#[test]
fn signer_rules() {
    let client = "kubernetes.io/kube-apiserver-client";
    let kubelet = "kubernetes.io/kube-apiserver-client-kubelet";
    let serving = "kubernetes.io/kubelet-serving";
    let ok = plan(&approved(csr("jane", Some("dev"), &[], client, &["digital signature", "client auth"]))).unwrap();
    assert!(ok.client_auth && !ok.server_auth);
    assert_eq!(ok.request.organizations, ["dev"]);
    let e = plan(&approved(csr("jane", None, &[], client, &["server auth"]))).unwrap_err();
    assert!(e.to_string().starts_with("usages did not match"), "{e}");
    let k = &["digital signature", "key encipherment", "client auth"];
    plan(&approved(csr("system:node:n1", Some("system:nodes"), &[], kubelet, k))).unwrap();
    let e = plan(&approved(csr("system:node:n1", Some("dev"), &[], kubelet, k))).unwrap_err();
    assert_eq!(e, CsrError::Signer("subject organization is not system:nodes".to_owned()));
    let e = plan(&approved(csr("n1", Some("system:nodes"), &[], kubelet, k))).unwrap_err();
    assert_eq!(e, CsrError::Signer("subject common name does not begin with system:node:".to_owned()));
    assert!(plan(&approved(csr("system:node:n1", Some("system:nodes"), &["n1"], kubelet, k))).is_err());
    let sv = &["digital signature", "server auth"];
    let e = plan(&approved(csr("system:node:n1", Some("system:nodes"), &[], serving, sv))).unwrap_err();
    assert_eq!(e, CsrError::Signer("DNS or IP subjectAltName is required".to_owned()));
    let ok = plan(&approved(csr("system:node:n1", Some("system:nodes"), &["n1", "10.0.0.1"], serving, sv))).unwrap();
    assert!(ok.server_auth);
    assert!(plan(&approved(csr("x", None, &[], "kubernetes.io/legacy-unknown", &["client auth"]))).is_err());
    assert!(
        plan(&approved(csr("x", None, &[], "example.com/mine", &["client auth"])))
            .unwrap_err()
            .to_string()
            .contains("built-in")
    );
    let mut c = approved(csr("jane", None, &[], client, &["client auth"]));
    c["spec"]["expirationSeconds"] = json!(60);
    assert!(plan(&c).unwrap_err().to_string().contains("600"));
}

#[test]
fn tampered_request_is_refused() {
    let mut c = approved(csr("jane", None, &[], "kubernetes.io/kube-apiserver-client", &["client auth"]));
    let pem = String::from_utf8(STANDARD.decode(c["spec"]["request"].as_str().unwrap()).unwrap()).unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut der = STANDARD.decode(b64).unwrap();
    let pos = der.windows(4).position(|w| w == b"jane").unwrap();
    der[pos] = b'J';
    let bad =
        format!("-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n", STANDARD.encode(der));
    c["spec"]["request"] = json!(STANDARD.encode(bad));
    assert!(plan(&c).unwrap_err().to_string().contains("signature"));
}
