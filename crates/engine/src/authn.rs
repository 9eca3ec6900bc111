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
//! * [`union`]: the authenticator chain with the anonymous fallback and `system:authenticated`.

pub mod bootstrap;
pub mod csr;
pub mod inventory;
pub mod pki;
pub mod serviceaccount;
pub mod tokenfile;
pub mod union;
pub mod x509;

pub use crate::authz::UserInfo;

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

/// Compares two byte strings in time that depends only on their lengths (never on where they
/// differ), for secrets such as tokens and passwords.
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    let n = a.len().max(b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// Formats Unix seconds as RFC 3339 UTC (`2026-11-29T04:28:07Z`), as Go prints times in messages.
#[must_use]
pub fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ct_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_926_487), "2026-11-29T04:28:07Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
