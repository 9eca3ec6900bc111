//! The x509 client-certificate authenticator (`--client-ca-file`).
//!
//! As kube-apiserver's `x509.Authenticator` with `CommonNameUserConversion`: the presented chain
//! (leaf first, then any intermediates) must verify to one of the bundle's CAs — signatures,
//! validity at the given time, CA basic constraints on issuers, and the client-auth extended key
//! usage on every certificate of the chain that lists extended key usages. The user is the leaf's
//! subject CN, the groups its subject O values (in order). A leaf with an empty CN is not
//! authenticated (no error), as upstream. The user carries the extra
//! `authentication.kubernetes.io/credential-id: X509SHA256=<hex SHA-256 of the leaf's DER>`.

use x509_parser::certificate::X509Certificate;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::time::ASN1Time;

use super::{Outcome, PemError, UserInfo};
use kguard_model::time::format_rfc3339 as rfc3339;

/// The extra key naming the credential a request was authenticated with (`user.CredentialIDKey`).
pub const CREDENTIAL_ID: &str = "authentication.kubernetes.io/credential-id";

/// The credential id of a client certificate, as kube-apiserver's x509 authenticator sets it:
/// `X509SHA256=` and the lowercase hex SHA-256 of the leaf certificate's DER.
#[must_use]
pub fn credential_id(leaf_der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, leaf_der);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("X509SHA256={hex}")
}

/// The longest chain considered (leaf, intermediates and root).
const MAX_DEPTH: usize = 8;

/// PEM blocks labelled `CERTIFICATE`, as DER. Other blocks (keys) are skipped.
///
/// # Errors
/// A malformed PEM block, or no certificate at all.
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<Vec<u8>>, PemError> {
    let mut out = Vec::new();
    for block in Pem::iter_from_buffer(pem) {
        let block = block.map_err(|e| PemError::Pem(e.to_string()))?;
        if block.label == "CERTIFICATE" {
            X509Certificate::from_der(&block.contents)
                .map_err(|e| PemError::Certificate { index: out.len() + 1, reason: e.to_string() })?;
            out.push(block.contents);
        }
    }
    if out.is_empty() {
        return Err(PemError::Missing("CERTIFICATE"));
    }
    Ok(out)
}

/// A client-CA bundle: the roots client certificates must chain to.
#[derive(Clone, Debug, Default)]
pub struct ClientCa {
    roots: Vec<Vec<u8>>,
}

impl ClientCa {
    /// The bundle in `pem` (one or more `CERTIFICATE` blocks).
    ///
    /// # Errors
    /// When the PEM holds no parseable certificate.
    pub fn from_pem(pem: &[u8]) -> Result<Self, PemError> {
        Ok(Self { roots: certificates_from_pem(pem)? })
    }

    /// How many CA certificates the bundle holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    /// Whether the bundle is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// Authenticates the PEM chain `chain_pem` (leaf first) at `now` (Unix seconds).
    #[must_use]
    pub fn authenticate_pem(&self, chain_pem: &[u8], now: i64) -> Outcome {
        match certificates_from_pem(chain_pem) {
            Ok(chain) => self.authenticate(&chain, now),
            Err(e) => Outcome::Rejected(format!("client certificate: {e}")),
        }
    }

    /// Authenticates the DER chain `chain` (leaf first) at `now` (Unix seconds).
    #[must_use]
    pub fn authenticate(&self, chain: &[Vec<u8>], now: i64) -> Outcome {
        match self.verify(chain, now) {
            Ok(user) => user,
            Err(reason) => Outcome::Rejected(reason),
        }
    }

    fn verify(&self, chain: &[Vec<u8>], now: i64) -> Result<Outcome, String> {
        let Some((leaf_der, rest)) = chain.split_first() else {
            return Ok(Outcome::NotRecognized("no client certificate".to_owned()));
        };
        let leaf = parse(leaf_der).map_err(|e| format!("client certificate: {e}"))?;
        let intermediates = rest
            .iter()
            .map(|d| parse(d))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("intermediate certificate: {e}"))?;
        let roots = self
            .roots
            .iter()
            .map(|d| parse(d))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("client CA: {e}"))?;
        let time = ASN1Time::from_timestamp(now).map_err(|e| format!("invalid time {now}: {e}"))?;
        let mut path = vec![&leaf];
        build_chain(&mut path, &intermediates, &roots, time, now)
            .map_err(|e| format!("verifying certificate {} failed: x509: {e}", describe(&leaf)))?;
        let cn = leaf.subject().iter_common_name().next().and_then(|a| a.as_str().ok()).unwrap_or_default();
        if cn.is_empty() {
            return Ok(Outcome::NotRecognized("the client certificate's subject has no common name".to_owned()));
        }
        let groups: Vec<String> =
            leaf.subject().iter_organization().filter_map(|a| a.as_str().ok()).map(str::to_owned).collect();
        let mut user = UserInfo::new(cn, groups);
        user.extra.insert(CREDENTIAL_ID.to_owned(), vec![credential_id(leaf_der)]);
        Ok(Outcome::Authenticated(user))
    }
}

/// `SN=<serial>, SKID=…, AKID=…` as kube-apiserver names a certificate in its errors (serial only).
fn parse(der: &[u8]) -> Result<X509Certificate<'_>, x509_parser::nom::Err<x509_parser::error::X509Error>> {
    X509Certificate::from_der(der).map(|(_, c)| c)
}

fn describe(cert: &X509Certificate<'_>) -> String {
    format!("SN={}, subject \"{}\"", cert.tbs_certificate.serial, cert.subject())
}

fn check_validity(cert: &X509Certificate<'_>, time: ASN1Time, now: i64) -> Result<(), String> {
    let v = cert.validity();
    if time < v.not_before {
        return Err(format!(
            "certificate has expired or is not yet valid: current time {} is before {}",
            rfc3339(now),
            rfc3339(v.not_before.timestamp())
        ));
    }
    if time > v.not_after {
        return Err(format!(
            "certificate has expired or is not yet valid: current time {} is after {}",
            rfc3339(now),
            rfc3339(v.not_after.timestamp())
        ));
    }
    Ok(())
}

fn allows_client_auth(cert: &X509Certificate<'_>) -> Result<bool, String> {
    match cert.extended_key_usage() {
        Ok(None) => Ok(true),
        Ok(Some(eku)) => Ok(eku.value.any || eku.value.client_auth),
        Err(e) => Err(format!("invalid extended key usage extension: {e}")),
    }
}

/// Extends `path` (leaf first) to a root of `roots`, depth first; on failure the most specific
/// reason (the deepest one reached).
fn build_chain<'a>(
    path: &mut Vec<&'a X509Certificate<'a>>,
    intermediates: &'a [X509Certificate<'a>],
    roots: &'a [X509Certificate<'a>],
    time: ASN1Time,
    now: i64,
) -> Result<(), String> {
    let Some(&current) = path.last() else {
        return Err("empty chain".to_owned());
    };
    check_validity(current, time, now)?;
    if !allows_client_auth(current)? {
        return Err("certificate specifies an incompatible key usage (no client auth)".to_owned());
    }
    if path.len() > MAX_DEPTH {
        return Err("certificate chain too long".to_owned());
    }
    // The certificate is itself a trusted root.
    if roots.iter().any(|r| r.as_raw() == current.as_raw()) {
        return Ok(());
    }
    let mut last_error = "certificate signed by unknown authority".to_owned();
    let issued_by = |issuer: &X509Certificate<'_>| issuer.subject().as_raw() == current.issuer().as_raw();
    for root in roots.iter().filter(|r| issued_by(r)) {
        if let Err(e) = current.verify_signature(Some(root.public_key())) {
            last_error = format!(
                "certificate signed by unknown authority (possibly because of \"{e}\" while trying to verify \
                 candidate authority certificate \"{}\")",
                root.subject()
            );
            continue;
        }
        match check_validity(root, time, now).and_then(|()| {
            if allows_client_auth(root)? {
                Ok(())
            } else {
                Err("certificate specifies an incompatible key usage (CA without client auth)".to_owned())
            }
        }) {
            Ok(()) => return Ok(()),
            Err(e) => last_error = e,
        }
    }
    for inter in intermediates.iter().filter(|c| issued_by(c)) {
        if path.iter().any(|p| p.as_raw() == inter.as_raw()) {
            continue;
        }
        if !inter.is_ca() {
            last_error = format!("certificate \"{}\" is not a CA but was used as an issuer", inter.subject());
            continue;
        }
        if let Err(e) = current.verify_signature(Some(inter.public_key())) {
            last_error = format!("signature by intermediate \"{}\" does not verify: {e}", inter.subject());
            continue;
        }
        path.push(inter);
        match build_chain(path, intermediates, roots, time, now) {
            Ok(()) => return Ok(()),
            Err(e) => {
                last_error = e;
                path.pop();
            }
        }
    }
    Err(last_error)
}
