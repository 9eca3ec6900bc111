//! Certificate inspection: what a certificate is, whom kube-apiserver would take its holder for,
//! and the `PKI…` findings about it.

use kguard_report::{Finding, RuleMeta, Severity};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

use crate::PemError;
use kguard_model::time::format_rfc3339 as rfc3339;
use kguard_request::SYSTEM_MASTERS;

/// Certificates expiring within this many days are reported (PKI002).
pub const EXPIRY_WARNING_DAYS: i64 = 30;

const REFS_PKI: &[&str] = &["https://kubernetes.io/docs/setup/best-practices/certificates/"];
const REFS_AUTHN: &[&str] =
    &["https://kubernetes.io/docs/reference/access-authn-authz/authentication/#x509-client-certificates"];

/// The `pki` rules.
pub const RULES: &[RuleMeta] = &[
    RuleMeta {
        id: "PKI001",
        name: "certificate-expired",
        family: "pki",
        severity: Severity::High,
        title: "Certificate has expired (or is not yet valid)",
        what: "The current time is outside the certificate's validity period (notBefore..notAfter).",
        why: "kube-apiserver, kubelets and etcd refuse expired certificates: the components or users relying on it \
              can no longer authenticate, which usually means an outage of the control plane or of the nodes.",
        fix: "Renew the certificate (`kubeadm certs renew`, or `kguard pki issue` with the same subject and SANs) \
              and restart the components that load it.",
        references: REFS_PKI,
        aliases: &[],
        opt_in: false,
    },
    RuleMeta {
        id: "PKI002",
        name: "certificate-expiring",
        family: "pki",
        severity: Severity::Medium,
        title: "Certificate expires within 30 days",
        what: "The certificate's notAfter is less than 30 days away.",
        why: "When it lapses, whoever authenticates with it is locked out; kubeadm's leaf certificates last one year \
              and are a classic cause of cluster outages.",
        fix: "Renew the certificate before it expires and automate renewal (kubelet rotation, cert-manager, \
              `kubeadm certs renew`).",
        references: REFS_PKI,
        aliases: &[],
        opt_in: false,
    },
    RuleMeta {
        id: "PKI003",
        name: "weak-rsa-key",
        family: "pki",
        severity: Severity::High,
        title: "RSA key shorter than 2048 bits",
        what: "The certificate's public key is RSA with a modulus below 2048 bits.",
        why: "RSA keys below 2048 bits are considered breakable (NIST SP 800-131A disallows them); whoever factors \
              the key can impersonate the subject or, for a CA, mint any identity.",
        fix: "Issue a new key pair of at least RSA 2048 (or ECDSA P-256) and a new certificate for it.",
        references: &["https://csrc.nist.gov/pubs/sp/800/131/a/r2/final"],
        aliases: &[],
        opt_in: false,
    },
    RuleMeta {
        id: "PKI004",
        name: "weak-signature",
        family: "pki",
        severity: Severity::High,
        title: "Certificate signed with SHA-1 or MD5",
        what: "The certificate's signature algorithm uses SHA-1 or MD5.",
        why: "Chosen-prefix collisions against SHA-1 and MD5 are practical, so a forged certificate can carry a valid \
              signature; Go (and so Kubernetes) rejects SHA-1 signatures since Go 1.18.",
        fix: "Re-issue the certificate with a SHA-256 (or stronger) signature.",
        references: &["https://go.dev/doc/go1.18#sha1"],
        aliases: &[],
        opt_in: false,
    },
    RuleMeta {
        id: "PKI005",
        name: "client-cert-without-client-auth",
        family: "pki",
        severity: Severity::Low,
        title: "Client certificate without the clientAuth extended key usage",
        what: "A non-CA certificate without DNS or IP SANs (so meant for a client) lists extended key usages, \
               but not clientAuth.",
        why: "kube-apiserver verifies client certificates for the clientAuth usage: this certificate will be refused, \
              and whoever relies on it falls back to other credentials or to anonymous access.",
        fix: "Re-issue the certificate with extended key usage clientAuth (`kguard pki issue --client`).",
        references: REFS_AUTHN,
        aliases: &[],
        opt_in: false,
    },
    RuleMeta {
        id: "PKI006",
        name: "system-masters-certificate",
        family: "pki",
        severity: Severity::High,
        title: "Client certificate in group system:masters",
        what: "The certificate's subject has O=system:masters.",
        why: "Members of system:masters bypass every authorizer (RBAC included) and a client certificate cannot be \
              revoked: whoever holds the key is cluster-admin until the certificate expires or the CA is replaced.",
        fix: "Keep a single break-glass certificate offline; give people and tools identities bound to RBAC roles \
              (kubeadm 1.29+ puts admin.conf in kubeadm:cluster-admins instead).",
        references: &["https://kubernetes.io/docs/concepts/security/rbac-good-practices/#least-privilege"],
        aliases: &[],
        opt_in: false,
    },
];

fn rule(id: &str) -> &'static RuleMeta {
    RULES.iter().find(|r| r.id == id).unwrap_or(&FALLBACK)
}

const FALLBACK: RuleMeta = RuleMeta {
    id: "PKI000",
    name: "unknown",
    family: "pki",
    severity: Severity::Info,
    title: "",
    what: "",
    why: "",
    fix: "",
    references: &[],
    aliases: &[],
    opt_in: false,
};

/// Everything `kguard pki inspect` shows about one certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject DN (RFC 4514 order as x509-parser prints it).
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// Serial, hex.
    pub serial: String,
    /// The user kube-apiserver would take the holder for (subject CN), if any.
    pub user: Option<String>,
    /// The groups (subject O values).
    pub groups: Vec<String>,
    /// notBefore, Unix seconds.
    pub not_before: i64,
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// Whole days from `now` to notAfter (negative once expired).
    pub days_left: i64,
    /// `RSA`, `ECDSA P-256`, `Ed25519`, ...
    pub key_type: String,
    /// Key size in bits (0 when unknown).
    pub key_bits: usize,
    /// Signature algorithm name (or OID).
    pub signature_algorithm: String,
    /// Whether basic constraints say CA.
    pub is_ca: bool,
    /// Key usages (`digitalSignature`, `keyCertSign`, ...).
    pub key_usages: Vec<String>,
    /// Extended key usages (`clientAuth`, `serverAuth`, ...).
    pub extended_key_usages: Vec<String>,
    /// Subject alternative names (`DNS:x`, `IP:1.2.3.4`, `email:..`, `URI:..`).
    pub sans: Vec<String>,
}

fn signature_name(oid: &str) -> (String, bool) {
    let (name, weak) = match oid {
        "1.2.840.113549.1.1.4" => ("md5WithRSAEncryption", true),
        "1.2.840.113549.1.1.5" => ("sha1WithRSAEncryption", true),
        "1.2.840.10045.4.1" => ("ecdsa-with-SHA1", true),
        "1.2.840.10040.4.3" => ("dsa-with-sha1", true),
        "1.2.840.113549.1.1.11" => ("sha256WithRSAEncryption", false),
        "1.2.840.113549.1.1.12" => ("sha384WithRSAEncryption", false),
        "1.2.840.113549.1.1.13" => ("sha512WithRSAEncryption", false),
        "1.2.840.113549.1.1.10" => ("rsassaPss", false),
        "1.2.840.10045.4.3.2" => ("ecdsa-with-SHA256", false),
        "1.2.840.10045.4.3.3" => ("ecdsa-with-SHA384", false),
        "1.2.840.10045.4.3.4" => ("ecdsa-with-SHA512", false),
        "1.3.101.112" => ("Ed25519", false),
        other => (other, false),
    };
    (name.to_owned(), weak)
}

fn format_ip(bytes: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return std::net::Ipv4Addr::from(v4).to_string();
    }
    if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        return std::net::Ipv6Addr::from(v6).to_string();
    }
    format!("{bytes:02x?}")
}

/// Parses one DER certificate and describes it as of `now` (Unix seconds).
///
/// # Errors
/// When `der` is not a certificate.
pub fn describe(der: &[u8], now: i64) -> Result<CertInfo, PemError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| PemError::Der(e.to_string()))?;
    Ok(describe_parsed(&cert, now))
}

fn describe_parsed(cert: &X509Certificate<'_>, now: i64) -> CertInfo {
    let spki = cert.public_key();
    let (key_type, key_bits) = match spki.parsed() {
        Ok(PublicKey::RSA(k)) => ("RSA".to_owned(), k.key_size()),
        Ok(PublicKey::EC(p)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| match o.to_id_string().as_str() {
                    "1.2.840.10045.3.1.7" => "P-256".to_owned(),
                    "1.3.132.0.34" => "P-384".to_owned(),
                    "1.3.132.0.35" => "P-521".to_owned(),
                    other => other.to_owned(),
                })
                .unwrap_or_default();
            (format!("ECDSA {curve}").trim_end().to_owned(), p.key_size())
        }
        Ok(PublicKey::DSA(y)) => ("DSA".to_owned(), y.len() * 8),
        _ if spki.algorithm.algorithm.to_id_string() == "1.3.101.112" => ("Ed25519".to_owned(), 256),
        _ => (spki.algorithm.algorithm.to_id_string(), 0),
    };
    let mut key_usages = Vec::new();
    if let Ok(Some(ku)) = cert.key_usage() {
        let k = ku.value;
        for (on, name) in [
            (k.digital_signature(), "digitalSignature"),
            (k.non_repudiation(), "contentCommitment"),
            (k.key_encipherment(), "keyEncipherment"),
            (k.data_encipherment(), "dataEncipherment"),
            (k.key_agreement(), "keyAgreement"),
            (k.key_cert_sign(), "keyCertSign"),
            (k.crl_sign(), "cRLSign"),
            (k.encipher_only(), "encipherOnly"),
            (k.decipher_only(), "decipherOnly"),
        ] {
            if on {
                key_usages.push(name.to_owned());
            }
        }
    }
    let mut extended_key_usages = Vec::new();
    if let Ok(Some(eku)) = cert.extended_key_usage() {
        let e = eku.value;
        for (on, name) in [
            (e.any, "any"),
            (e.server_auth, "serverAuth"),
            (e.client_auth, "clientAuth"),
            (e.code_signing, "codeSigning"),
            (e.email_protection, "emailProtection"),
            (e.time_stamping, "timeStamping"),
            (e.ocsp_signing, "OCSPSigning"),
        ] {
            if on {
                extended_key_usages.push(name.to_owned());
            }
        }
        extended_key_usages.extend(e.other.iter().map(|o| o.to_id_string()));
    }
    let mut sans = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            sans.push(match name {
                GeneralName::DNSName(d) => format!("DNS:{d}"),
                GeneralName::IPAddress(ip) => format!("IP:{}", format_ip(ip)),
                GeneralName::RFC822Name(m) => format!("email:{m}"),
                GeneralName::URI(u) => format!("URI:{u}"),
                other => other.to_string(),
            });
        }
    }
    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: cert.raw_serial_as_string(),
        user: cert.subject().iter_common_name().next().and_then(|a| a.as_str().ok()).map(str::to_owned),
        groups: cert.subject().iter_organization().filter_map(|a| a.as_str().ok()).map(str::to_owned).collect(),
        not_before,
        not_after,
        days_left: (not_after - now).div_euclid(86_400),
        key_type,
        key_bits,
        signature_algorithm: signature_name(&cert.signature_algorithm.algorithm.to_id_string()).0,
        is_ca: cert.is_ca(),
        key_usages,
        extended_key_usages,
        sans,
    }
}

/// The `PKI…` findings about the certificate `info` (from [`describe`]) at `now`; `name` (a file
/// name, say) prefixes every message.
#[must_use]
pub fn findings(info: &CertInfo, name: &str, now: i64) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut add = |id: &str, msg: String| out.push(Finding::new(rule(id), format!("{name}: {msg}"), None, None, None));
    if now > info.not_after {
        add("PKI001", format!("certificate \"{}\" expired at {}", info.subject, rfc3339(info.not_after)));
    } else if now < info.not_before {
        add("PKI001", format!("certificate \"{}\" is not valid before {}", info.subject, rfc3339(info.not_before)));
    } else if info.not_after - now < EXPIRY_WARNING_DAYS * 86_400 {
        add(
            "PKI002",
            format!(
                "certificate \"{}\" expires at {} ({} days left)",
                info.subject,
                rfc3339(info.not_after),
                info.days_left
            ),
        );
    }
    if info.key_type == "RSA" && info.key_bits < 2048 {
        add("PKI003", format!("RSA key of {} bits", info.key_bits));
    }
    if signature_name_is_weak(&info.signature_algorithm) {
        add("PKI004", format!("signature algorithm {}", info.signature_algorithm));
    }
    let server_sans = info.sans.iter().any(|s| s.starts_with("DNS:") || s.starts_with("IP:"));
    if !info.is_ca
        && !server_sans
        && !info.extended_key_usages.is_empty()
        && !info.extended_key_usages.iter().any(|e| e == "clientAuth" || e == "any")
    {
        add(
            "PKI005",
            format!(
                "certificate \"{}\" has extended key usages [{}] but not clientAuth",
                info.subject,
                info.extended_key_usages.join(", ")
            ),
        );
    }
    if !info.is_ca && info.groups.iter().any(|g| g == SYSTEM_MASTERS) {
        add(
            "PKI006",
            format!(
                "user {:?} is in group system:masters until {}",
                info.user.as_deref().unwrap_or_default(),
                rfc3339(info.not_after)
            ),
        );
    }
    out
}

fn signature_name_is_weak(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.contains("sha1") || lower.contains("md5")
}

/// Checks a PKCS#10 certificate signing request: parses it and verifies its self-signature.
/// Returns the subject CN, the O values and the requested SANs.
///
/// # Errors
/// When the bytes are not a CSR or its signature does not verify.
pub fn parse_csr_der(der: &[u8]) -> Result<CsrInfo, PemError> {
    use x509_parser::certification_request::X509CertificationRequest;
    use x509_parser::extensions::ParsedExtension;
    let (_, csr) = X509CertificationRequest::from_der(der).map_err(|e| PemError::Request(e.to_string()))?;
    csr.verify_signature().map_err(|e| PemError::RequestSignature(e.to_string()))?;
    let subject = &csr.certification_request_info.subject;
    let mut sans = Vec::new();
    if let Some(exts) = csr.requested_extensions() {
        for ext in exts {
            if let ParsedExtension::SubjectAlternativeName(san) = ext {
                for name in &san.general_names {
                    sans.push(match name {
                        GeneralName::DNSName(d) => format!("DNS:{d}"),
                        GeneralName::IPAddress(ip) => format!("IP:{}", format_ip(ip)),
                        GeneralName::RFC822Name(m) => format!("email:{m}"),
                        GeneralName::URI(u) => format!("URI:{u}"),
                        other => other.to_string(),
                    });
                }
            }
        }
    }
    Ok(CsrInfo {
        subject_der: subject.as_raw().to_vec(),
        subject: subject.to_string(),
        common_name: subject.iter_common_name().next().and_then(|a| a.as_str().ok()).map(str::to_owned),
        organizations: subject.iter_organization().filter_map(|a| a.as_str().ok()).map(str::to_owned).collect(),
        sans,
    })
}

/// What a CSR asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsrInfo {
    /// Subject DN.
    pub subject: String,
    /// Subject DN, DER (to copy into the certificate unchanged).
    pub subject_der: Vec<u8>,
    /// Subject CN.
    pub common_name: Option<String>,
    /// Subject O values.
    pub organizations: Vec<String>,
    /// Requested SANs.
    pub sans: Vec<String>,
}

/// [`parse_csr_der`] over the first `CERTIFICATE REQUEST` (or `NEW CERTIFICATE REQUEST`) PEM block.
///
/// # Errors
/// No such block, or [`parse_csr_der`]'s errors.
pub fn parse_csr_pem(pem: &[u8]) -> Result<CsrInfo, PemError> {
    for block in x509_parser::pem::Pem::iter_from_buffer(pem) {
        let block = block.map_err(|e| PemError::Pem(e.to_string()))?;
        if block.label == "CERTIFICATE REQUEST" || block.label == "NEW CERTIFICATE REQUEST" {
            return parse_csr_der(&block.contents);
        }
    }
    Err(PemError::Missing("CERTIFICATE REQUEST"))
}
