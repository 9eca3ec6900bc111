//! Typed errors at the authentication crate's boundary: PEM and DER input, keys, the claims of a
//! signed service-account token, and CertificateSigningRequest objects. Verdicts on credentials are not errors: they are
//! [`crate::Outcome`]s with upstream's reason.

/// PEM or DER input that is not what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    /// A malformed PEM block.
    #[error("invalid PEM: {0}")]
    Pem(String),
    /// A `CERTIFICATE` block that does not parse (1-based among the certificates).
    #[error("invalid certificate #{index}: {reason}")]
    Certificate {
        /// Which certificate.
        index: usize,
        /// The parser's message.
        reason: String,
    },
    /// DER that is not a certificate.
    #[error("invalid certificate: {0}")]
    Der(String),
    /// No block with the wanted label.
    #[error("no {0} block found")]
    Missing(&'static str),
    /// A certificate request that does not parse.
    #[error("invalid certificate request: {0}")]
    Request(String),
    /// A certificate request whose self-signature does not verify.
    #[error("the certificate request's signature does not verify: {0}")]
    RequestSignature(String),
}

/// A key that cannot be used to sign or verify service-account tokens.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Malformed PEM or an unparsable certificate around the key.
    #[error(transparent)]
    Pem(#[from] PemError),
    /// A private key where a public key belongs.
    #[error("{0} given where a public key is expected")]
    PrivateKey(String),
    /// A public key that does not parse.
    #[error("invalid public key: {0}")]
    PublicKey(String),
    /// Neither RSA nor EC.
    #[error("unsupported public key algorithm {0}")]
    Algorithm(String),
    /// No public key in the input.
    #[error("no public key found")]
    NoPublicKey,
    /// A private key that is neither ECDSA P-256 nor RSA.
    #[error("cannot sign with this key (expected an ECDSA P-256 or RSA private key in PEM): {0}")]
    Signing(String),
}

/// The claims of a service-account token whose signature verified but which cannot be read, as
/// go-jose fails them in kube-apiserver once the signature is checked (`jwt.NumericDate`: a JSON
/// number, a fraction truncated; `jwt.Audience`: a string or an array of strings).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// The payload is not a JSON object (or holds a number JSON cannot represent, e.g. `1e400`).
    #[error("invalid claims: {0}")]
    Payload(String),
    /// A claim of the wrong JSON type.
    #[error("invalid {claim} claim: expected {expected}, found {found}")]
    Type {
        /// The claim, e.g. `exp` or `kubernetes.io.serviceaccount.name`.
        claim: String,
        /// What it must be.
        expected: &'static str,
        /// What it is: `a string`, `an array`, …
        found: &'static str,
    },
    /// A NumericDate that does not fit 64-bit seconds (go-jose's conversion of such a float is
    /// undefined in Go: the token cannot be judged).
    #[error("invalid {claim} claim: {value} is out of range for a NumericDate (seconds since 1970 in 64 bits)")]
    OutOfRange {
        /// The claim.
        claim: String,
        /// The number as written.
        value: String,
    },
}

/// A CertificateSigningRequest object that cannot be decided or signed. [`CsrError::Signer`]
/// holds the built-in signer's text, which becomes the `Failed` condition's message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CsrError {
    /// Not a `CertificateSigningRequest` (or not an object).
    #[error("not a CertificateSigningRequest")]
    NotCsr,
    /// Approving a denied CSR or denying an approved one.
    #[error("the CSR is already {0}: Approved and Denied are mutually exclusive")]
    Conflicting(String),
    /// The same decision again, without `force`.
    #[error("the CSR is already {0} (use --force to add the condition again)")]
    AlreadyDecided(String),
    /// No `spec.request`.
    #[error("spec.request is missing")]
    NoRequest,
    /// `spec.request` is not base64.
    #[error("spec.request is not base64: {0}")]
    RequestEncoding(String),
    /// The request inside is not a valid PKCS#10 request.
    #[error(transparent)]
    Request(#[from] PemError),
    /// Not approved.
    #[error("the CSR is not approved")]
    NotApproved,
    /// Denied or failed.
    #[error("the CSR is denied or failed")]
    DeniedOrFailed,
    /// Already holds a certificate.
    #[error("the CSR already has a certificate")]
    AlreadySigned,
    /// A built-in signer's check failed (the `Failed` condition's message).
    #[error("{0}")]
    Signer(String),
}
