//! Issuing what kube-apiserver authenticates: CA and leaf certificates laid out as kubeadm lays
//! them out, PKCS#10 requests, certificates for approved CertificateSigningRequests (as the
//! built-in signers issue them), and kubeconfigs embedding a client certificate.
//!
//! Pure apart from randomness: keys and serial numbers come from aws-lc-rs; the caller passes
//! "now" and writes the PEM text it gets back (keys 0600).
//!
//! Subjects carry every organization as its own RDN, as Go's `pkix.Name` marshals them:
//! kube-apiserver maps each `O` to a group, and rcgen keeps one value per attribute type, so the
//! subject is written here and the certificate (or request) re-signed around it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_RSA_SHA256, RsaKeySize, SerialNumber,
    SigningKey as _,
};

/// Why a certificate, key or request could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    /// A subject alternative name rcgen cannot encode.
    #[error("invalid SAN: {0}")]
    San(String),
    /// A validity bound outside the representable range.
    #[error("time out of range: {0}")]
    Time(String),
    /// The system's random generator failed.
    #[error("no randomness available")]
    Random,
    /// Key generation failed.
    #[error("generating a key: {0}")]
    Key(String),
    /// Signing failed.
    #[error("signing {what}: {reason}")]
    Sign {
        /// What was being signed (a CN, `the request`).
        what: String,
        /// The signer's error.
        reason: String,
    },
    /// The CA certificate cannot be used.
    #[error("CA certificate: {0}")]
    CaCertificate(String),
    /// The CA key cannot be used.
    #[error("CA key: {0}")]
    CaKey(String),
    /// The PKCS#10 request cannot be read.
    #[error("spec.request: {0}")]
    Request(String),
    /// A certificate rcgen produced did not have the expected DER layout.
    #[error("internal error: unexpected certificate encoding")]
    Encoding,
}

/// Key algorithms for new keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeyType {
    /// ECDSA on P-256, signatures ECDSA-SHA256.
    #[default]
    Ecdsa,
    /// RSA 2048, signatures RSA-SHA256 (kubeadm's default).
    Rsa,
}

/// What to put in a certificate.
#[derive(Clone, Debug, Default)]
pub struct CertSpec<'a> {
    /// Subject common name (a client certificate's user name).
    pub cn: &'a str,
    /// Subject organizations (a client certificate's groups), one RDN each.
    pub orgs: &'a [String],
    /// Validity in days from now.
    pub days: u32,
    /// Extended key usage clientAuth.
    pub client: bool,
    /// Extended key usage serverAuth.
    pub server: bool,
    /// Subject alternative names (DNS names or IP addresses).
    pub sans: &'a [String],
    /// A CA certificate (keyCertSign, basic constraints CA).
    pub ca: bool,
}

/// A certificate and its new private key, PEM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key (keep it 0600).
    pub key_pem: String,
}

/// The certificate validity starts five minutes before now, as kubeadm and the signers allow for
/// clock skew.
const BACKDATE_SECS: i64 = 300;

fn offset(unix: i64) -> Result<time::OffsetDateTime, IssueError> {
    time::OffsetDateTime::from_unix_timestamp(unix).map_err(|e| IssueError::Time(e.to_string()))
}

/// A random positive 128-bit serial number.
fn serial() -> Result<SerialNumber, IssueError> {
    let mut buf = [0u8; 16];
    aws_lc_rs::rand::fill(&mut buf).map_err(|_| IssueError::Random)?;
    if let Some(b) = buf.first_mut() {
        *b &= 0x7f;
    }
    Ok(SerialNumber::from_slice(&buf))
}

/// A new key pair.
///
/// # Errors
/// When the key cannot be generated.
pub fn new_key(kind: KeyType) -> Result<KeyPair, IssueError> {
    match kind {
        KeyType::Ecdsa => KeyPair::generate(),
        KeyType::Rsa => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048),
    }
    .map_err(|e| IssueError::Key(e.to_string()))
}

/// Validity, serial, key usages and basic constraints of a leaf (client or server) certificate.
fn leaf_usages(p: &mut CertificateParams, client: bool, server: bool) {
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    p.extended_key_usages.clear();
    if server {
        p.extended_key_usages.push(ExtendedKeyUsagePurpose::ServerAuth);
    }
    if client {
        p.extended_key_usages.push(ExtendedKeyUsagePurpose::ClientAuth);
    }
}

fn validity(p: &mut CertificateParams, now: i64, seconds: i64) -> Result<(), IssueError> {
    p.not_before = offset(now.saturating_sub(BACKDATE_SECS))?;
    p.not_after = offset(now.saturating_add(seconds))?;
    p.serial_number = Some(serial()?);
    p.use_authority_key_identifier_extension = true;
    Ok(())
}

fn params(spec: &CertSpec<'_>, now: i64) -> Result<CertificateParams, IssueError> {
    let mut p = CertificateParams::new(spec.sans.to_vec()).map_err(|e| IssueError::San(e.to_string()))?;
    let mut dn = DistinguishedName::new();
    if let Some(first) = spec.orgs.first() {
        dn.push(DnType::OrganizationName, first.as_str());
    }
    dn.push(DnType::CommonName, spec.cn);
    p.distinguished_name = dn;
    validity(&mut p, now, i64::from(spec.days) * 86_400)?;
    if spec.ca {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages =
            vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment, KeyUsagePurpose::KeyCertSign];
    } else {
        leaf_usages(&mut p, spec.client, spec.server);
    }
    Ok(p)
}

/// A certificate authority: its certificate and signing key.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub cert_pem: String,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").field("cert_pem", &self.cert_pem).finish_non_exhaustive()
    }
}

impl Ca {
    /// A CA from its certificate and key (PEM).
    ///
    /// # Errors
    /// A key or certificate that cannot be parsed or used to sign.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, IssueError> {
        let kp = KeyPair::from_pem(key_pem).map_err(|e| IssueError::CaKey(e.to_string()))?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, kp).map_err(|e| IssueError::CaCertificate(e.to_string()))?;
        Ok(Self { issuer, cert_pem: cert_pem.to_owned() })
    }

    /// A new self-signed CA valid for ten years; the key PEM is returned beside it.
    ///
    /// # Errors
    /// Key generation or signing failures.
    pub fn create(cn: &str, key_type: KeyType, now: i64) -> Result<(Self, String), IssueError> {
        let spec = CertSpec { cn, days: 3650, ca: true, ..CertSpec::default() };
        let p = params(&spec, now)?;
        let key = new_key(key_type)?;
        let cert = p.self_signed(&key).map_err(|e| IssueError::Sign { what: cn.to_owned(), reason: e.to_string() })?;
        let key_pem = key.serialize_pem();
        Ok((Self { issuer: Issuer::new(p, key), cert_pem: cert.pem() }, key_pem))
    }

    /// Issues a certificate with a new key.
    ///
    /// # Errors
    /// An invalid SAN, key generation or signing failures.
    pub fn issue(&self, spec: &CertSpec<'_>, key_type: KeyType, now: i64) -> Result<Issued, IssueError> {
        let p = params(spec, now)?;
        let key = new_key(key_type)?;
        let cert = p
            .signed_by(&key, &self.issuer)
            .map_err(|e| IssueError::Sign { what: spec.cn.to_owned(), reason: e.to_string() })?;
        let der = if spec.orgs.len() > 1 {
            replace_field(cert.der(), TBS_SUBJECT, &subject_der(spec.cn, spec.orgs), self.issuer.key())?
        } else {
            cert.der().to_vec()
        };
        Ok(Issued { cert_pem: pem("CERTIFICATE", &der), key_pem: key.serialize_pem() })
    }

    /// Signs the PKCS#10 request of an approved CertificateSigningRequest as the built-in signers
    /// do: the request's subject and SANs kept as requested, validity `seconds` from now (less
    /// the backdate), key usages digital signature and key encipherment, the extended key usages
    /// asked for.
    ///
    /// # Errors
    /// A request that cannot be parsed, or signing failures.
    pub fn sign_request(
        &self,
        request_pem: &str,
        subject_der: &[u8],
        (client_auth, server_auth): (bool, bool),
        now: i64,
        seconds: i64,
    ) -> Result<String, IssueError> {
        let mut req =
            CertificateSigningRequestParams::from_pem(request_pem).map_err(|e| IssueError::Request(e.to_string()))?;
        validity(&mut req.params, now, seconds)?;
        leaf_usages(&mut req.params, client_auth, server_auth);
        let cert = req
            .signed_by(&self.issuer)
            .map_err(|e| IssueError::Sign { what: "the request".to_owned(), reason: e.to_string() })?;
        let der = replace_field(cert.der(), TBS_SUBJECT, subject_der, self.issuer.key())?;
        Ok(pem("CERTIFICATE", &der))
    }
}

/// A new key and a PKCS#10 request for `cn` in `orgs` with `sans`: (key PEM, request PEM).
///
/// # Errors
/// An invalid SAN, key generation or signing failures.
pub fn request(cn: &str, orgs: &[String], sans: &[String], key_type: KeyType) -> Result<(String, String), IssueError> {
    let mut p = CertificateParams::new(sans.to_vec()).map_err(|e| IssueError::San(e.to_string()))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    let key = new_key(key_type)?;
    let csr = p
        .serialize_request(&key)
        .map_err(|e| IssueError::Sign { what: "the request".to_owned(), reason: e.to_string() })?;
    let der = replace_field(csr.der(), CRI_SUBJECT, &subject_der(cn, orgs), &key)?;
    Ok((key.serialize_pem(), pem("CERTIFICATE REQUEST", &der)))
}

/// A random version-4 UUID (a service-account token's `jti`).
///
/// # Errors
/// When the system's random generator fails.
pub fn random_uuid() -> Result<String, IssueError> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| IssueError::Random)?;
    if let Some(x) = b.get_mut(6) {
        *x = (*x & 0x0f) | 0x40;
    }
    if let Some(x) = b.get_mut(8) {
        *x = (*x & 0x3f) | 0x80;
    }
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        h.get(0..8).unwrap_or_default(),
        h.get(8..12).unwrap_or_default(),
        h.get(12..16).unwrap_or_default(),
        h.get(16..20).unwrap_or_default(),
        h.get(20..32).unwrap_or_default()
    ))
}

/// `n` characters drawn uniformly from `[0-9a-z]`.
fn random_lower(n: usize) -> Result<String, IssueError> {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let mut b = [0u8; 32];
        aws_lc_rs::rand::fill(&mut b).map_err(|_| IssueError::Random)?;
        // 252 = 7 * 36: reject the top values so every character is equally likely.
        for x in b.iter().filter(|x| **x < 252) {
            if out.len() < n
                && let Some(c) = ALPHABET.get(usize::from(*x % 36))
            {
                out.push(char::from(*c));
            }
        }
    }
    Ok(out)
}

/// A new bootstrap token: its id (`[a-z0-9]{6}`) and secret (`[a-z0-9]{16}`), as kubeadm makes them.
///
/// # Errors
/// When the system's random generator fails.
pub fn bootstrap_token() -> Result<(String, String), IssueError> {
    Ok((random_lower(6)?, random_lower(16)?))
}

/// The public key (PEM) of a private key (PEM).
///
/// # Errors
/// A private key that cannot be parsed.
pub fn public_key_pem(private_pem: &str) -> Result<String, IssueError> {
    KeyPair::from_pem(private_pem).map(|k| k.public_key_pem()).map_err(|e| IssueError::Key(e.to_string()))
}

/// A kubeconfig (`kind: Config`) for `user` of `cluster` at `server`, embedding the CA and the
/// client certificate and key.
#[must_use]
pub fn kubeconfig(cluster: &str, server: &str, ca_pem: &str, user: &str, cert_pem: &str, key_pem: &str) -> String {
    let b = |s: &str| STANDARD.encode(s.as_bytes());
    let q = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
    let context = format!("{user}@{cluster}");
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {c}\n  cluster:\n    certificate-authority-data: {ca}\n    server: {s}\n\
         contexts:\n- name: {ctx}\n  context:\n    cluster: {c}\n    user: {u}\ncurrent-context: {ctx}\npreferences: {{}}\n\
         users:\n- name: {u}\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\n",
        c = q(cluster),
        ca = b(ca_pem),
        s = q(server),
        ctx = q(&context),
        u = q(user),
        cert = b(cert_pem),
        key = b(key_pem),
    )
}

/// PEM armour, 64 columns.
#[must_use]
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A DER length.
fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        return vec![u8::try_from(n).unwrap_or(0)];
    }
    let bytes: Vec<u8> = n.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
    let mut out = vec![0x80 | u8::try_from(bytes.len()).unwrap_or(0)];
    out.extend(bytes);
    out
}

fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(body.len()));
    out.extend_from_slice(body);
    out
}

/// A subject DN with several O values (one RDN each, as Go's pkix.Name marshals them), then CN.
#[must_use]
pub fn subject_der(cn: &str, orgs: &[String]) -> Vec<u8> {
    let atv = |oid: &[u8], value: &str| der(0x31, &der(0x30, &[der(0x06, oid), der(0x0c, value.as_bytes())].concat()));
    let mut body = Vec::new();
    for o in orgs {
        body.extend(atv(&[0x55, 0x04, 0x0a], o));
    }
    body.extend(atv(&[0x55, 0x04, 0x03], cn));
    der(0x30, &body)
}

/// Splits a DER TLV at the start of `bytes`: (header length, total length).
fn tlv(bytes: &[u8]) -> Option<(usize, usize)> {
    let first = *bytes.get(1)?;
    if first < 0x80 {
        return Some((2, 2 + usize::from(first)));
    }
    let n = usize::from(first & 0x7f);
    let len = bytes.get(2..2 + n)?.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    Some((2 + n, 2 + n + len))
}

/// The subject's index among TBSCertificate's fields ([0] version, serial, signature algorithm,
/// issuer, validity, subject, ...).
const TBS_SUBJECT: usize = 5;
/// The subject's index among CertificationRequestInfo's fields (version, subject, ...).
const CRI_SUBJECT: usize = 1;

/// Replaces field `index` of the signed structure's first element and re-signs with `key`.
fn replace_field(signed_der: &[u8], index: usize, field: &[u8], key: &KeyPair) -> Result<Vec<u8>, IssueError> {
    let broken = || IssueError::Encoding;
    let (outer_hdr, _) = tlv(signed_der).ok_or_else(broken)?;
    let inner = signed_der.get(outer_hdr..).ok_or_else(broken)?;
    let (tbs_hdr, tbs_len) = tlv(inner).ok_or_else(broken)?;
    let tbs_body = inner.get(tbs_hdr..tbs_len).ok_or_else(broken)?;
    let after_tbs = inner.get(tbs_len..).ok_or_else(broken)?;
    let (_, alg_len) = tlv(after_tbs).ok_or_else(broken)?;
    let alg = after_tbs.get(..alg_len).ok_or_else(broken)?;
    let mut pos = 0;
    let mut fields = Vec::new();
    while pos < tbs_body.len() {
        let (_, len) = tlv(tbs_body.get(pos..).ok_or_else(broken)?).ok_or_else(broken)?;
        fields.push((pos, pos + len));
        pos += len;
    }
    let &(start, end) = fields.get(index).ok_or_else(broken)?;
    let new_tbs_body =
        [tbs_body.get(..start).ok_or_else(broken)?, field, tbs_body.get(end..).ok_or_else(broken)?].concat();
    let new_tbs = der(0x30, &new_tbs_body);
    let sig = key
        .sign(&new_tbs)
        .map_err(|e| IssueError::Sign { what: "the certificate".to_owned(), reason: e.to_string() })?;
    let mut bits = vec![0u8];
    bits.extend(sig);
    Ok(der(0x30, &[new_tbs, alg.to_vec(), der(0x03, &bits)].concat()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x509::ClientCa;

    const NOW: i64 = 1_780_272_000;

    #[test]
    fn a_client_certificate_with_several_groups_authenticates_as_them() {
        let (ca, _key) = Ca::create("kubernetes", KeyType::Ecdsa, NOW).unwrap();
        let orgs = ["dev".to_owned(), "qa".to_owned()];
        let spec = CertSpec { cn: "jane", orgs: &orgs, days: 30, client: true, ..CertSpec::default() };
        let issued = ca.issue(&spec, KeyType::Ecdsa, NOW).unwrap();
        let bundle = ClientCa::from_pem(ca.cert_pem.as_bytes()).unwrap();
        let user = bundle.authenticate_pem(issued.cert_pem.as_bytes(), NOW).user().cloned().unwrap();
        assert_eq!(user.name, "jane");
        assert_eq!(user.groups, ["dev", "qa"]);
        // Not valid for 31 days.
        assert!(bundle.authenticate_pem(issued.cert_pem.as_bytes(), NOW + 31 * 86_400).user().is_none());
    }

    #[test]
    fn a_request_keeps_every_organization_and_is_signed_as_asked() {
        let orgs = ["dev".to_owned(), "qa".to_owned()];
        let (_key, req) = request("jane", &orgs, &[], KeyType::Rsa).unwrap();
        let parsed = crate::pki::parse_csr_pem(req.as_bytes()).unwrap();
        assert_eq!(parsed.subject_der, subject_der("jane", &orgs));
        let (ca, _) = Ca::create("kubernetes", KeyType::Ecdsa, NOW).unwrap();
        let cert = ca.sign_request(&req, &parsed.subject_der, (true, false), NOW, 3600).unwrap();
        let bundle = ClientCa::from_pem(ca.cert_pem.as_bytes()).unwrap();
        let user = bundle.authenticate_pem(cert.as_bytes(), NOW).user().cloned().unwrap();
        assert_eq!(user.groups, ["dev", "qa"]);
        assert!(bundle.authenticate_pem(cert.as_bytes(), NOW + 3601).user().is_none(), "lasts `seconds`");
    }

    #[test]
    fn tokens_and_ids_have_their_shapes() {
        let (id, secret) = bootstrap_token().unwrap();
        assert!(id.len() == 6 && secret.len() == 16);
        assert!(id.bytes().chain(secret.bytes()).all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
        let uuid = random_uuid().unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(uuid.as_bytes()[14], b'4', "version 4: {uuid}");
        assert_ne!(random_uuid().unwrap(), uuid);
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        assert!(matches!(public_key_pem("nope"), Err(IssueError::Key(_))));
        assert!(matches!(Ca::from_pem("x", "y"), Err(IssueError::CaKey(_))));
        let (ca, _) = Ca::create("kubernetes", KeyType::Ecdsa, NOW).unwrap();
        assert!(matches!(ca.sign_request("nope", &[], (true, false), NOW, 1), Err(IssueError::Request(_))));
        assert_eq!(replace_field(&[0x30], 0, &[], &new_key(KeyType::Ecdsa).unwrap()), Err(IssueError::Encoding));
        assert_eq!(der_len(0x80), [0x81, 0x80]);
        assert_eq!(der_len(0x1234), [0x82, 0x12, 0x34]);
    }
}
