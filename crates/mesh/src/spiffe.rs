//! SPIFFE IDs and trust domains, parsed as the SPIFFE-ID specification (§2) says and exactly as
//! go-spiffe's `spiffeid.FromString` / `spiffeid.TrustDomainFromString` accept and refuse them
//! (same checks in the same order, same error texts).

use std::fmt;

/// The scheme prefix of every SPIFFE ID (case-sensitive: `Spiffe://` is refused).
pub const SCHEME_PREFIX: &str = "spiffe://";

/// Why a string is not a SPIFFE ID or trust domain (go-spiffe's error texts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty input.
    #[error("cannot be empty")]
    Empty,
    /// No `spiffe://` prefix.
    #[error("scheme is missing or invalid")]
    WrongScheme,
    /// `spiffe:///…`, or an empty trust domain name.
    #[error("trust domain is missing")]
    MissingTrustDomain,
    /// A trust-domain byte outside `[a-z0-9._-]`.
    #[error("trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores")]
    BadTrustDomainChar,
    /// A path byte outside `[a-zA-Z0-9._-]` (and not `/`).
    #[error("path segment characters are limited to letters, numbers, dots, dashes, and underscores")]
    BadPathSegmentChar,
    /// A `.` or `..` segment.
    #[error("path cannot contain dot segments")]
    DotSegment,
    /// A path not starting with `/`.
    #[error("path must have a leading slash")]
    NoLeadingSlash,
    /// `//` in the path.
    #[error("path cannot contain empty segments")]
    EmptySegment,
    /// A path ending with `/`.
    #[error("path cannot have a trailing slash")]
    TrailingSlash,
}

/// A trust domain name (`cluster.local`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TrustDomain(String);

impl TrustDomain {
    /// A bare trust-domain name, or a whole SPIFFE ID whose trust domain is taken (an input
    /// containing `:/` is parsed as an ID, as go-spiffe does for better diagnostics).
    ///
    /// # Errors
    /// The first rule the input breaks.
    pub fn parse(id_or_name: &str) -> Result<Self, IdError> {
        if id_or_name.is_empty() {
            return Err(IdError::MissingTrustDomain);
        }
        if id_or_name.contains(":/") {
            return SpiffeId::parse(id_or_name).map(|id| id.trust_domain());
        }
        if !id_or_name.bytes().all(is_trust_domain_char) {
            return Err(IdError::BadTrustDomainChar);
        }
        Ok(Self(id_or_name.to_owned()))
    }

    /// The name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.0
    }

    /// The trust domain's own ID (`spiffe://td`).
    #[must_use]
    pub fn id_string(&self) -> String {
        format!("{SCHEME_PREFIX}{}", self.0)
    }
}

impl fmt::Display for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A SPIFFE ID: `spiffe://<trust-domain><path>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpiffeId {
    id: String,
    path_index: usize,
}

impl SpiffeId {
    /// Parses a SPIFFE ID.
    ///
    /// # Errors
    /// The first rule the input breaks, in go-spiffe's order: empty, scheme, trust-domain
    /// characters (up to the first `/`), missing trust domain, then the path.
    pub fn parse(id: &str) -> Result<Self, IdError> {
        if id.is_empty() {
            return Err(IdError::Empty);
        }
        let Some(rest) = id.strip_prefix(SCHEME_PREFIX) else { return Err(IdError::WrongScheme) };
        let mut td_len = 0;
        for b in rest.bytes() {
            if b == b'/' {
                break;
            }
            if !is_trust_domain_char(b) {
                return Err(IdError::BadTrustDomainChar);
            }
            td_len += 1;
        }
        if td_len == 0 {
            return Err(IdError::MissingTrustDomain);
        }
        let path = rest.get(td_len..).unwrap_or("");
        validate_path(path)?;
        Ok(Self { id: id.to_owned(), path_index: SCHEME_PREFIX.len() + td_len })
    }

    /// Istio's form for a service account: `spiffe://<td>/ns/<ns>/sa/<sa>`.
    ///
    /// # Errors
    /// When the namespace or service account name is not a valid path segment.
    pub fn for_service_account(td: &TrustDomain, namespace: &str, service_account: &str) -> Result<Self, IdError> {
        Self::parse(&format!("{SCHEME_PREFIX}{td}/ns/{namespace}/sa/{service_account}"))
    }

    /// The trust domain.
    #[must_use]
    pub fn trust_domain(&self) -> TrustDomain {
        TrustDomain(self.id.get(SCHEME_PREFIX.len()..self.path_index).unwrap_or("").to_owned())
    }

    /// The path (`""` or `/seg/…`).
    #[must_use]
    pub fn path(&self) -> &str {
        self.id.get(self.path_index..).unwrap_or("")
    }

    /// The whole ID.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The ID without its scheme: what Istio's AuthorizationPolicy `principals` name.
    #[must_use]
    pub fn principal(&self) -> &str {
        self.id.get(SCHEME_PREFIX.len()..).unwrap_or("")
    }

    /// `(namespace, service account)` when the path is Istio's `/ns/<ns>/sa/<sa>`.
    #[must_use]
    pub fn istio_service_account(&self) -> Option<(&str, &str)> {
        let mut it = self.path().strip_prefix('/')?.split('/');
        match (it.next(), it.next(), it.next(), it.next(), it.next()) {
            (Some("ns"), Some(ns), Some("sa"), Some(sa), None) => Some((ns, sa)),
            _ => None,
        }
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

/// Checks a SPIFFE ID path: empty, or `/`-separated segments of `[a-zA-Z0-9._-]`, none empty,
/// `.` or `..`, no trailing slash.
///
/// # Errors
/// The first rule broken, scanning left to right as go-spiffe's `ValidatePath` does.
pub fn validate_path(path: &str) -> Result<(), IdError> {
    let bytes = path.as_bytes();
    match bytes.first() {
        None => return Ok(()),
        Some(b'/') => {}
        Some(_) => return Err(IdError::NoLeadingSlash),
    }
    let mut start = 0;
    for (end, &c) in bytes.iter().enumerate() {
        if c == b'/' {
            match bytes.get(start..end) {
                Some(b"/") => return Err(IdError::EmptySegment),
                Some(b"/." | b"/..") => return Err(IdError::DotSegment),
                _ => {}
            }
            start = end;
            continue;
        }
        if !is_path_segment_char(c) {
            return Err(IdError::BadPathSegmentChar);
        }
    }
    match bytes.get(start..) {
        Some(b"/") => Err(IdError::TrailingSlash),
        Some(b"/." | b"/..") => Err(IdError::DotSegment),
        _ => Ok(()),
    }
}

fn is_trust_domain_char(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'.' | b'_')
}

fn is_path_segment_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn istio_form() {
        let id = SpiffeId::parse("spiffe://cluster.local/ns/foo/sa/bar").unwrap();
        assert_eq!(id.trust_domain().name(), "cluster.local");
        assert_eq!(id.path(), "/ns/foo/sa/bar");
        assert_eq!(id.principal(), "cluster.local/ns/foo/sa/bar");
        assert_eq!(id.istio_service_account(), Some(("foo", "bar")));
        assert_eq!(SpiffeId::parse("Spiffe://td"), Err(IdError::WrongScheme));
        assert_eq!(SpiffeId::parse("spiffe://td/a%20b"), Err(IdError::BadPathSegmentChar));
    }
}
