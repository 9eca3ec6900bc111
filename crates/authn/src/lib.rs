//! Authentication as kube-apiserver performs it, and the PKI checks around it. Pure: PEM, CSV and
//! token bytes in, identities (or the reason for rejecting them) out; no file I/O, no clock (the
//! caller passes "now" as Unix seconds).
//!
//! * [`x509`]: client certificates verified against a `--client-ca-file` bundle (user = CN,
//!   groups = O).
//! * [`tokenfile`]: `--token-auth-file` and the deprecated `--basic-auth-file` CSV files.
//! * [`serviceaccount`]: service-account JWTs (TokenRequest claims), created and verified, with
//!   the lookups of bound objects in an [`inventory`] when one is given.
//! * [`bootstrap`]: bootstrap tokens (`<id>.<secret>` against `kube-system/bootstrap-token-<id>`).
//! * [`csr`]: CertificateSigningRequest approval conditions and the built-in signers' checks.
//! * [`pki`]: certificate inspection and the `PKI…` rules.
//! * [`issue`]: CA and leaf certificates as kubeadm lays them out, PKCS#10 requests,
//!   certificates for approved CSRs, kubeconfigs (the only randomness: keys and serials).
//! * [`union`]: the authenticator chain with the anonymous fallback and `system:authenticated`.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod bootstrap;
pub mod csr;
mod error;
pub mod inventory;
pub mod issue;
pub mod pki;
pub mod serviceaccount;
pub mod tokenfile;
pub mod union;
pub mod x509;

pub use error::{ClaimError, CsrError, KeyError, PemError};

pub use kguard_request::UserInfo;

/// What one authenticator made of a credential, as the `(user, ok, err)` triple of kube-apiserver's
/// `authenticator.Request`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The credential is valid: this is who presented it.
    Authenticated(UserInfo),
    /// The authenticator does not recognise the credential (`ok = false`, no error): the next
    /// authenticator, and finally anonymous access, get their turn. The string says why.
    NotRecognized(String),
    /// The credential is the authenticator's kind but invalid (an error): the request is refused
    /// with 401 even when anonymous access is on.
    Rejected(String),
}

impl Outcome {
    /// The user, when authenticated.
    #[must_use]
    pub fn user(&self) -> Option<&UserInfo> {
        match self {
            Self::Authenticated(user) => Some(user),
            Self::NotRecognized(_) | Self::Rejected(_) => None,
        }
    }
}

/// Whether a presented secret equals a stored one, comparing in time that does not depend on
/// where they differ (aws-lc's `CRYPTO_memcmp`; lengths are not secret).
pub(crate) fn secret_matches(stored: &[u8], presented: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(stored, presented).is_ok()
}

#[cfg(test)]
mod tests {
    use super::secret_matches;

    #[test]
    fn secrets_compare_whole() {
        assert!(secret_matches(b"abc", b"abc"));
        assert!(!secret_matches(b"abc", b"abd"));
        assert!(!secret_matches(b"abc", b"abcd"));
        assert!(!secret_matches(b"", b"a"));
        assert!(secret_matches(b"", b""));
    }
}
