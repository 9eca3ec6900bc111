//! A mesh CA: a self-signed signing certificate for a trust domain and the leaf X.509-SVIDs it
//! issues, both made to satisfy [`crate::svid`]'s rules (ECDSA P-256). The caller gives the time
//! and writes the PEM files.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};

use crate::spiffe::{SpiffeId, TrustDomain};

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// rcgen refused (a bad key, a bad name).
    #[error("{0}")]
    Rcgen(#[from] rcgen::Error),
    /// A time out of range.
    #[error("validity out of range")]
    Time,
    /// The leaf's SPIFFE ID is in another trust domain than the CA's.
    #[error("{id} is not in the CA's trust domain {td}")]
    TrustDomain {
        /// The ID.
        id: String,
        /// The CA's trust domain.
        td: String,
    },
}

/// A certificate and its private key, PEM.
#[derive(Clone, Debug)]
pub struct Pem {
    /// The certificate.
    pub cert: String,
    /// The PKCS#8 private key.
    pub key: String,
}

/// A trust domain's signing authority.
pub struct MeshCa {
    td: TrustDomain,
    issuer: Issuer<'static, KeyPair>,
}

fn validity(p: &mut CertificateParams, now: i64, days: u32) -> Result<(), CaError> {
    let t = |s: i64| time::OffsetDateTime::from_unix_timestamp(s).map_err(|_| CaError::Time);
    p.not_before = t(now - 300)?;
    p.not_after = t(now + i64::from(days) * 86_400)?;
    Ok(())
}

impl MeshCa {
    /// A new CA for `td`: `cA=true`, `keyCertSign` and `cRLSign` (critical), the URI SAN
    /// `spiffe://td` (no path), valid `days` from `now` (Unix seconds).
    ///
    /// # Errors
    /// rcgen's.
    pub fn create(td: &TrustDomain, now: i64, days: u32) -> Result<(Self, Pem), CaError> {
        let key = KeyPair::generate()?;
        let mut p = CertificateParams::new(Vec::<String>::new())?;
        p.distinguished_name.push(DnType::OrganizationName, td.name());
        p.distinguished_name.push(DnType::CommonName, format!("kguard mesh CA {td}"));
        p.subject_alt_names = vec![SanType::URI(td.id_string().try_into()?)];
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(&mut p, now, days)?;
        let cert = p.self_signed(&key)?;
        let pem = Pem { cert: cert.pem(), key: key.serialize_pem() };
        Ok((Self { td: td.clone(), issuer: Issuer::new(p, key) }, pem))
    }

    /// A CA from its PEM files; the trust domain is given (the CA's own URI SAN, when it has one,
    /// should name it).
    ///
    /// # Errors
    /// A malformed certificate or key.
    pub fn from_pem(td: &TrustDomain, cert_pem: &str, key_pem: &str) -> Result<Self, CaError> {
        let key = KeyPair::from_pem(key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(Self { td: td.clone(), issuer })
    }

    /// The trust domain.
    #[must_use]
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.td
    }

    /// A leaf X.509-SVID for `id`: one URI SAN, `cA=false`, `digitalSignature` (critical),
    /// extended key usage serverAuth and clientAuth, a new P-256 key.
    ///
    /// # Errors
    /// `id` outside the CA's trust domain, or rcgen's.
    pub fn issue(&self, id: &SpiffeId, now: i64, days: u32) -> Result<Pem, CaError> {
        if id.trust_domain() != self.td {
            return Err(CaError::TrustDomain { id: id.to_string(), td: self.td.to_string() });
        }
        let key = KeyPair::generate()?;
        let mut p = CertificateParams::new(Vec::<String>::new())?;
        p.distinguished_name.push(DnType::OrganizationName, self.td.name());
        p.subject_alt_names = vec![SanType::URI(id.as_str().try_into()?)];
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        validity(&mut p, now, days)?;
        let cert = p.signed_by(&key, &self.issuer)?;
        Ok(Pem { cert: cert.pem(), key: key.serialize_pem() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::svid::{Role, validate_pem};

    #[test]
    fn issued_svids_pass_the_svid_rules_and_verify() {
        let td = TrustDomain::parse("cluster.local").unwrap();
        let (ca, ca_pem) = MeshCa::create(&td, 1_800_000_000, 365).unwrap();
        let ca_id = validate_pem(ca_pem.cert.as_bytes(), Role::Signing).unwrap().unwrap();
        assert_eq!(ca_id.as_str(), "spiffe://cluster.local");
        let id = SpiffeId::for_service_account(&td, "shop", "api").unwrap();
        let leaf = ca.issue(&id, 1_800_000_000, 1).unwrap();
        assert_eq!(validate_pem(leaf.cert.as_bytes(), Role::Leaf).unwrap(), Some(id));
        // Signed by the CA (reloaded from its PEM files).
        let again = MeshCa::from_pem(&td, &ca_pem.cert, &ca_pem.key).unwrap();
        let leaf2 = again.issue(&SpiffeId::parse("spiffe://cluster.local/ns/shop/sa/web").unwrap(), 0, 1).unwrap();
        let (_, ca_x) = x509_parser::pem::parse_x509_pem(ca_pem.cert.as_bytes()).unwrap();
        let ca_cert = ca_x.parse_x509().unwrap();
        for l in [&leaf, &leaf2] {
            let (_, p) = x509_parser::pem::parse_x509_pem(l.cert.as_bytes()).unwrap();
            let c = p.parse_x509().unwrap();
            c.verify_signature(Some(ca_cert.public_key())).unwrap();
            assert_eq!(c.issuer(), ca_cert.subject());
        }
        let other = SpiffeId::parse("spiffe://example.org/ns/a/sa/b").unwrap();
        assert!(matches!(ca.issue(&other, 0, 1), Err(CaError::TrustDomain { .. })));
    }
}
