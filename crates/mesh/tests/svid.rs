//! The X.509-SVID rules (SPIFFE X509-SVID.md §2, §4) on certificates made with rcgen: a good
//! leaf and signing certificate pass; each rule broken is refused with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_mesh::svid::{Role, SvidError, validate};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};

fn params(uris: &[&str], ca: bool) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::OrganizationName, "kguard");
    p.subject_alt_names = uris.iter().map(|u| SanType::URI((*u).try_into().unwrap())).collect();
    if ca {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    } else {
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    }
    p
}

fn der(p: &CertificateParams) -> Vec<u8> {
    p.self_signed(&KeyPair::generate().unwrap()).unwrap().der().to_vec()
}

const LEAF: &str = "spiffe://cluster.local/ns/shop/sa/api";

#[test]
fn good_leaf_and_signing_certificates() {
    let id = validate(&der(&params(&[LEAF], false)), Role::Leaf).unwrap().unwrap();
    assert_eq!(id.as_str(), LEAF);
    let ca = validate(&der(&params(&["spiffe://cluster.local"], true)), Role::Signing).unwrap();
    assert_eq!(ca.unwrap().as_str(), "spiffe://cluster.local");
    assert_eq!(validate(&der(&params(&[], true)), Role::Signing).unwrap(), None);
}

#[test]
fn each_rule_refuses() {
    let leaf = |p: &CertificateParams| validate(&der(p), Role::Leaf).unwrap_err();
    assert_eq!(leaf(&params(&[], false)), SvidError::UriSanCount(0));
    assert_eq!(leaf(&params(&[LEAF, "spiffe://cluster.local/ns/shop/sa/web"], false)), SvidError::UriSanCount(2));
    assert!(matches!(leaf(&params(&["https://cluster.local/x"], false)), SvidError::BadId { .. }));
    assert!(matches!(leaf(&params(&["spiffe://cluster.local"], false)), SvidError::RootPath(_)));
    let mut p = params(&[LEAF], false);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    assert!(matches!(leaf(&p), SvidError::BasicConstraints(_)));
    let mut p = params(&[LEAF], false);
    p.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
    assert_eq!(leaf(&p), SvidError::KeyUsage("a leaf SVID must set digitalSignature"));
    let mut p = params(&[LEAF], false);
    p.key_usages.push(KeyUsagePurpose::KeyCertSign);
    assert_eq!(leaf(&p), SvidError::KeyUsage("a leaf SVID must not set keyCertSign or cRLSign"));
    let mut p = params(&[LEAF], false);
    p.key_usages.clear();
    assert!(matches!(leaf(&p), SvidError::KeyUsage(_)));
    let mut p = params(&[LEAF], false);
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    assert_eq!(leaf(&p), SvidError::ExtendedKeyUsage);
    // A signing certificate: cA, keyCertSign, no path.
    let signing = |p: &CertificateParams| validate(&der(p), Role::Signing).unwrap_err();
    assert!(matches!(signing(&params(&[LEAF], true)), SvidError::SigningPath(_)));
    assert!(matches!(signing(&params(&["spiffe://cluster.local"], false)), SvidError::BasicConstraints(_)));
    assert!(matches!(validate(b"junk", Role::Leaf), Err(SvidError::Parse(_))));
}
