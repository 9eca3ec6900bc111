//! X.509-SVIDs: the SPIFFE X.509-SVID specification's rules for leaf and signing certificates
//! (`../shared/oracles/mtls/spiffe/X509-SVID.md` §2, §4, §5). Chain verification (RFC 5280) is
//! the TLS stack's; this is what the specification adds on top of it.

use x509_parser::prelude::*;

use crate::spiffe::{IdError, SpiffeId};

/// Why a certificate is not a valid X.509-SVID.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SvidError {
    /// Not DER X.509.
    #[error("not an X.509 certificate: {0}")]
    Parse(String),
    /// Zero or several URI SANs (§2: exactly one).
    #[error("an X.509-SVID must contain exactly one URI SAN, found {0}")]
    UriSanCount(usize),
    /// The URI SAN is not a SPIFFE ID.
    #[error("the URI SAN {uri:?} is not a SPIFFE ID: {error}")]
    BadId {
        /// The SAN.
        uri: String,
        /// Why.
        error: IdError,
    },
    /// A leaf's SPIFFE ID must have a non-root path (§2).
    #[error("a leaf SVID's SPIFFE ID must have a non-root path: {0}")]
    RootPath(String),
    /// A signing certificate's SPIFFE ID must not have a path (§3).
    #[error("a signing certificate's SPIFFE ID must not have a path: {0}")]
    SigningPath(String),
    /// Basic constraints: leaf with `cA=true` or signing certificate without it (§4.1).
    #[error("{0}")]
    BasicConstraints(&'static str),
    /// Key usage missing, not critical, or with the wrong bits (§4.3).
    #[error("{0}")]
    KeyUsage(&'static str),
    /// Extended key usage present without serverAuth and clientAuth (§4.4).
    #[error("a leaf SVID's extended key usage must include id-kp-serverAuth and id-kp-clientAuth")]
    ExtendedKeyUsage,
    /// No subject and a non-critical SAN extension (RFC 5280 §4.1.2.6).
    #[error("the URI SAN extension must be critical when the subject is empty")]
    SanNotCritical,
    /// A malformed extension.
    #[error("malformed extension: {0}")]
    Extension(String),
}

/// Which kind of SVID to check for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A leaf (authenticates a workload).
    Leaf,
    /// A signing certificate (a CA of the trust domain).
    Signing,
}

/// Checks one DER certificate as an X.509-SVID of `role`; returns its SPIFFE ID (a signing
/// certificate need not have one).
///
/// # Errors
/// The first rule of the specification the certificate breaks.
pub fn validate(der: &[u8], role: Role) -> Result<Option<SpiffeId>, SvidError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| SvidError::Parse(e.to_string()))?;
    validate_cert(&cert, role)
}

/// [`validate`] on a parsed certificate.
///
/// # Errors
/// As [`validate`].
pub fn validate_cert(cert: &X509Certificate<'_>, role: Role) -> Result<Option<SpiffeId>, SvidError> {
    let ext = |e: X509Error| SvidError::Extension(e.to_string());
    let san = cert.subject_alternative_name().map_err(ext)?;
    let uris: Vec<&str> = san
        .as_ref()
        .map(|s| {
            s.value
                .general_names
                .iter()
                .filter_map(|n| if let GeneralName::URI(u) = n { Some(*u) } else { None })
                .collect()
        })
        .unwrap_or_default();
    let id = match (role, uris.as_slice()) {
        (_, [uri]) => Some(SpiffeId::parse(uri).map_err(|error| SvidError::BadId { uri: (*uri).to_owned(), error })?),
        (Role::Signing, []) => None,
        (_, more) => return Err(SvidError::UriSanCount(more.len())),
    };
    if cert.subject().iter_attributes().next().is_none() && san.as_ref().is_some_and(|s| !s.critical) {
        return Err(SvidError::SanNotCritical);
    }
    let ca = cert.basic_constraints().map_err(ext)?.is_some_and(|b| b.value.ca);
    let ku = cert.key_usage().map_err(ext)?;
    let Some(ku) = ku else { return Err(SvidError::KeyUsage("the key usage extension must be set on every SVID")) };
    if !ku.critical {
        return Err(SvidError::KeyUsage("the key usage extension must be critical"));
    }
    let ku = ku.value;
    match role {
        Role::Leaf => {
            if let Some(id) = &id
                && id.path().is_empty()
            {
                return Err(SvidError::RootPath(id.to_string()));
            }
            if ca {
                return Err(SvidError::BasicConstraints("a leaf SVID must set cA to false"));
            }
            if !ku.digital_signature() {
                return Err(SvidError::KeyUsage("a leaf SVID must set digitalSignature"));
            }
            if ku.key_cert_sign() || ku.crl_sign() {
                return Err(SvidError::KeyUsage("a leaf SVID must not set keyCertSign or cRLSign"));
            }
            if let Some(eku) = cert.extended_key_usage().map_err(ext)?
                && !(eku.value.server_auth && eku.value.client_auth)
            {
                return Err(SvidError::ExtendedKeyUsage);
            }
        }
        Role::Signing => {
            if let Some(id) = &id
                && !id.path().is_empty()
            {
                return Err(SvidError::SigningPath(id.to_string()));
            }
            if !ca {
                return Err(SvidError::BasicConstraints("a signing certificate must set cA to true"));
            }
            if !ku.key_cert_sign() {
                return Err(SvidError::KeyUsage("a signing certificate must set keyCertSign"));
            }
        }
    }
    Ok(id)
}

/// [`validate`] on each certificate of a PEM file; the first one is checked as `role`.
///
/// # Errors
/// No certificate in the text, or the first certificate's problem.
pub fn validate_pem(text: &[u8], role: Role) -> Result<Option<SpiffeId>, SvidError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(text).map_err(|e| SvidError::Parse(e.to_string()))?;
    validate(&pem.contents, role)
}
