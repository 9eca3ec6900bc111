//! The x509 client-certificate authenticator and certificate inspection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_authn::x509::ClientCa;
use kguard_authn::{Outcome, pki};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};

/// 2026-06-01T00:00:00Z
const NOW: i64 = 1_780_272_000;

struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

fn ca(cn: &str, eku: Vec<ExtendedKeyUsagePurpose>) -> Ca {
    let mut params = CertificateParams::new(vec![]).unwrap();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::CrlSign];
    params.extended_key_usages = eku;
    params.not_before = date_time_ymd(2025, 1, 1);
    params.not_after = date_time_ymd(2035, 1, 1);
    let key = KeyPair::generate().unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    Ca { params, key, pem }
}

fn intermediate(parent: &Ca, cn: &str) -> Ca {
    let mut params = CertificateParams::new(vec![]).unwrap();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    params.not_before = date_time_ymd(2025, 1, 1);
    params.not_after = date_time_ymd(2034, 1, 1);
    let key = KeyPair::generate().unwrap();
    let issuer = Issuer::from_params(&parent.params, &parent.key);
    let pem = params.signed_by(&key, &issuer).unwrap().pem();
    Ca { params, key, pem }
}

fn leaf(
    issuer: &Ca,
    cn: &str,
    orgs: &[&str],
    eku: Vec<ExtendedKeyUsagePurpose>,
    not_before: (i32, u8, u8),
    not_after: (i32, u8, u8),
) -> String {
    let mut params = CertificateParams::new(vec![]).unwrap();
    params.distinguished_name = DistinguishedName::new();
    if !cn.is_empty() {
        params.distinguished_name.push(DnType::CommonName, cn);
    }
    for o in orgs {
        params.distinguished_name.push(DnType::OrganizationName, *o);
    }
    params.extended_key_usages = eku;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.not_before = date_time_ymd(not_before.0, not_before.1, not_before.2);
    params.not_after = date_time_ymd(not_after.0, not_after.1, not_after.2);
    let key = KeyPair::generate().unwrap();
    params.signed_by(&key, &Issuer::from_params(&issuer.params, &issuer.key)).unwrap().pem()
}

fn client(issuer: &Ca, cn: &str, orgs: &[&str]) -> String {
    leaf(issuer, cn, orgs, vec![ExtendedKeyUsagePurpose::ClientAuth], (2026, 1, 1), (2027, 1, 1))
}

fn rejected(o: Outcome) -> String {
    match o {
        Outcome::Rejected(r) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn user_is_cn_and_groups_are_o_in_order() {
    let root = ca("kubernetes", vec![]);
    let bundle = ClientCa::from_pem(root.pem.as_bytes()).unwrap();
    // (rcgen keeps one value per attribute type; several O values are tested through `kguard pki issue`.)
    let cert = client(&root, "jane", &["dev"]);
    let Outcome::Authenticated(user) = bundle.authenticate_pem(cert.as_bytes(), NOW) else { panic!() };
    assert_eq!(user.name, "jane");
    assert_eq!(user.groups, ["dev"]);
    assert_eq!(user.uid, "");
    // The credential id is the SHA-256 of the leaf's DER.
    let der = kguard_authn::x509::certificates_from_pem(cert.as_bytes()).unwrap().remove(0);
    let id = kguard_authn::x509::credential_id(&der);
    assert_eq!(user.extra["authentication.kubernetes.io/credential-id"], vec![id.clone()]);
    assert!(id.starts_with("X509SHA256=") && id.len() == 11 + 64, "{id}");
    let other = client(&root, "jane", &["dev"]);
    let Outcome::Authenticated(user2) = bundle.authenticate_pem(other.as_bytes(), NOW) else { panic!() };
    assert_ne!(user2.extra, user.extra, "another certificate, another id");
}

#[test]
fn chain_through_an_intermediate() {
    let root = ca("root", vec![]);
    let inter = intermediate(&root, "intermediate");
    let bundle = ClientCa::from_pem(root.pem.as_bytes()).unwrap();
    let cert = client(&inter, "bob", &["ops"]);
    // Without the intermediate: unknown authority.
    let reason = rejected(bundle.authenticate_pem(cert.as_bytes(), NOW));
    assert!(reason.contains("unknown authority"), "{reason}");
    let chain = format!("{cert}{}", inter.pem);
    let Outcome::Authenticated(user) = bundle.authenticate_pem(chain.as_bytes(), NOW) else { panic!() };
    assert_eq!(user.name, "bob");
}

#[test]
fn unknown_ca_is_rejected() {
    let root = ca("kubernetes", vec![]);
    let other = ca("kubernetes", vec![]); // same name, other key
    let bundle = ClientCa::from_pem(root.pem.as_bytes()).unwrap();
    let reason = rejected(bundle.authenticate_pem(client(&other, "mallory", &["system:masters"]).as_bytes(), NOW));
    assert!(reason.contains("x509: certificate signed by unknown authority"), "{reason}");
}

#[test]
fn expired_and_not_yet_valid_are_rejected() {
    let root = ca("kubernetes", vec![]);
    let bundle = ClientCa::from_pem(root.pem.as_bytes()).unwrap();
    let old = leaf(&root, "jane", &[], vec![ExtendedKeyUsagePurpose::ClientAuth], (2025, 1, 1), (2026, 1, 1));
    let reason = rejected(bundle.authenticate_pem(old.as_bytes(), NOW));
    assert!(
        reason.contains("has expired or is not yet valid: current time 2026-06-01T00:00:00Z is after 2026-01-01"),
        "{reason}"
    );
    let future = leaf(&root, "jane", &[], vec![ExtendedKeyUsagePurpose::ClientAuth], (2027, 1, 1), (2028, 1, 1));
    let reason = rejected(bundle.authenticate_pem(future.as_bytes(), NOW));
    assert!(reason.contains("is before 2027-01-01T00:00:00Z"), "{reason}");
}

#[test]
fn server_only_eku_is_rejected_and_no_eku_is_accepted() {
    let root = ca("kubernetes", vec![]);
    let bundle = ClientCa::from_pem(root.pem.as_bytes()).unwrap();
    let server = leaf(&root, "jane", &[], vec![ExtendedKeyUsagePurpose::ServerAuth], (2026, 1, 1), (2027, 1, 1));
    let reason = rejected(bundle.authenticate_pem(server.as_bytes(), NOW));
    assert!(reason.contains("incompatible key usage"), "{reason}");
    let none = leaf(&root, "jane", &[], vec![], (2026, 1, 1), (2027, 1, 1));
    assert!(matches!(bundle.authenticate_pem(none.as_bytes(), NOW), Outcome::Authenticated(_)));
    let any = leaf(&root, "jane", &[], vec![ExtendedKeyUsagePurpose::Any], (2026, 1, 1), (2027, 1, 1));
    assert!(matches!(bundle.authenticate_pem(any.as_bytes(), NOW), Outcome::Authenticated(_)));
}

#[test]
fn ca_restricting_eku_to_server_auth_rejects_client_certs() {
    let root = ca("kubernetes", vec![ExtendedKeyUsagePurpose::ServerAuth]);
    let bundle = ClientCa::from_pem(root.pem.as_bytes()).unwrap();
    let reason = rejected(bundle.authenticate_pem(client(&root, "jane", &[]).as_bytes(), NOW));
    assert!(reason.contains("incompatible key usage"), "{reason}");
}

#[test]
fn empty_cn_is_not_authenticated_but_not_an_error() {
    let root = ca("kubernetes", vec![]);
    let bundle = ClientCa::from_pem(root.pem.as_bytes()).unwrap();
    let cert = client(&root, "", &["dev"]);
    assert!(matches!(bundle.authenticate_pem(cert.as_bytes(), NOW), Outcome::NotRecognized(_)));
}

#[test]
fn tampered_certificate_is_rejected() {
    let root = ca("kubernetes", vec![]);
    let bundle = ClientCa::from_pem(root.pem.as_bytes()).unwrap();
    let cert = client(&root, "jane", &["dev"]);
    let mut der = kguard_authn::x509::certificates_from_pem(cert.as_bytes()).unwrap().remove(0);
    // Flip a bit in the subject's "jane".
    let pos = der.windows(4).position(|w| w == b"jane").unwrap();
    der[pos] = b'J';
    let reason = rejected(bundle.authenticate(&[der], NOW));
    assert!(reason.contains("unknown authority"), "{reason}");
}

#[test]
fn garbage_is_rejected_cleanly() {
    let root = ca("kubernetes", vec![]);
    let bundle = ClientCa::from_pem(root.pem.as_bytes()).unwrap();
    assert!(matches!(bundle.authenticate_pem(b"not pem", NOW), Outcome::Rejected(_)));
    assert!(ClientCa::from_pem(b"").is_err());
    let bad = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert!(ClientCa::from_pem(bad.as_bytes()).is_err());
}

#[test]
fn inspect_reports_identity_and_findings() {
    let root = ca("kubernetes", vec![]);
    let admin = client(&root, "kubernetes-admin", &["system:masters"]);
    let der = kguard_authn::x509::certificates_from_pem(admin.as_bytes()).unwrap().remove(0);
    let info = pki::describe(&der, NOW).unwrap();
    assert_eq!(info.user.as_deref(), Some("kubernetes-admin"));
    assert_eq!(info.groups, ["system:masters"]);
    assert_eq!(info.key_type, "ECDSA P-256");
    assert_eq!(info.extended_key_usages, ["clientAuth"]);
    assert_eq!(info.signature_algorithm, "ecdsa-with-SHA256");
    let ids: Vec<String> = pki::findings(&info, "admin.crt", NOW).into_iter().map(|f| f.rule_id).collect();
    assert_eq!(ids, ["PKI006"]);
    // Expiring within 30 days, and no clientAuth.
    let soon = leaf(&root, "x", &[], vec![ExtendedKeyUsagePurpose::CodeSigning], (2026, 1, 1), (2026, 6, 15));
    let der = kguard_authn::x509::certificates_from_pem(soon.as_bytes()).unwrap().remove(0);
    let info = pki::describe(&der, NOW).unwrap();
    assert_eq!(info.days_left, 14);
    let ids: Vec<String> = pki::findings(&info, "x", NOW).into_iter().map(|f| f.rule_id).collect();
    assert_eq!(ids, ["PKI002", "PKI005"]);
    let ids: Vec<String> = pki::findings(&info, "x", NOW + 30 * 86_400).into_iter().map(|f| f.rule_id).collect();
    assert_eq!(ids, ["PKI001", "PKI005"]);
}

#[test]
fn rules_are_documented_once() {
    let mut ids: Vec<&str> = pki::RULES.iter().map(|r| r.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), pki::RULES.len());
    for r in pki::RULES {
        assert_eq!(r.family, "pki");
        assert!(r.id.starts_with("PKI") && !r.what.is_empty() && !r.why.is_empty() && !r.fix.is_empty());
        assert!(!r.references.is_empty());
    }
}

/// The body of fuzz/fuzz_targets/pem_csr.rs over every truncation and some bit flips of a real
/// certificate (DER and PEM): no panics.
#[test]
fn truncated_and_corrupted_inputs_do_not_panic() {
    let root = ca("kubernetes", vec![]);
    let cert = client(&root, "jane", &["dev"]);
    let der = kguard_authn::x509::certificates_from_pem(cert.as_bytes()).unwrap().remove(0);
    let body = |data: &[u8]| {
        if let Ok(ca) = ClientCa::from_pem(data) {
            let _ = ca.authenticate_pem(data, NOW);
        }
        let _ = pki::parse_csr_pem(data);
        if let Ok(info) = pki::describe(data, NOW) {
            let _ = pki::findings(&info, "fuzz", NOW);
        }
        let _ = ClientCa::default().authenticate(&[data.to_vec()], NOW);
        let _ = pki::parse_csr_der(data);
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = kguard_authn::tokenfile::TokenFile::parse("fuzz.csv", text);
        }
    };
    for n in 0..der.len() {
        body(&der[..n]);
        let mut flipped = der.clone();
        flipped[n] ^= 0x5a;
        body(&flipped);
    }
    for n in (0..cert.len()).step_by(7) {
        body(&cert.as_bytes()[..n]);
    }
}
