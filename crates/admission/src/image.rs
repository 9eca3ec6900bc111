//! Image policy: which images may run. Used by the admission webhook and by the
//! ImagePolicyWebhook endpoint (`imagepolicy.k8s.io/v1alpha1` `ImageReview`).
//!
//! References are normalised as the container runtime does (docker's reference grammar): a
//! name without a registry is on `docker.io`, a one-component Docker Hub name is in `library/`;
//! the first component is a registry when it contains `.` or `:` or is `localhost`.

use std::fmt;

/// A parsed image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (and port): `docker.io`, `registry.example.com:5000`.
    pub registry: String,
    /// Repository path: `library/nginx`, `org/app`.
    pub repository: String,
    /// Tag, when written.
    pub tag: Option<String>,
    /// Digest (`sha256:...`), when written.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses an image reference.
    ///
    /// # Errors
    /// Empty references, upper-case repositories, empty components, malformed digests or tags.
    pub fn parse(image: &str) -> Result<Self, ImageRefError> {
        let bad = |problem| ImageRefError::Invalid { image: image.to_owned(), problem };
        if image.is_empty() {
            return Err(ImageRefError::Empty);
        }
        if image.chars().any(char::is_whitespace) {
            return Err(bad(Problem::Whitespace));
        }
        let (name_tag, digest) = match image.split_once('@') {
            Some((n, d)) => {
                let (alg, hex) = d.split_once(':').ok_or_else(|| bad(Problem::Digest(d.to_owned())))?;
                let valid = !alg.is_empty()
                    && alg.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+.-_".contains(c))
                    && hex.len() >= 32
                    && hex.chars().all(|c| c.is_ascii_hexdigit());
                if !valid {
                    return Err(bad(Problem::Digest(d.to_owned())));
                }
                (n, Some(d.to_owned()))
            }
            None => (image, None),
        };
        // A tag is after the last ':' that follows the last '/'.
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag.get(last_slash..).and_then(|tail| tail.rfind(':')) {
            Some(i) => {
                let at = last_slash + i;
                let tag = name_tag.get(at + 1..).unwrap_or("");
                let valid_tag = !tag.is_empty()
                    && tag.len() <= 128
                    && tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
                    && !tag.starts_with(['.', '-']);
                if !valid_tag {
                    return Err(bad(Problem::Tag(tag.to_owned())));
                }
                (name_tag.get(..at).unwrap_or(""), Some(tag.to_owned()))
            }
            None => (name_tag, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_owned(), rest.to_owned())
            }
            _ => ("docker.io".to_owned(), name.to_owned()),
        };
        let repository = if registry == "docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if repository.is_empty() || repository.split('/').any(str::is_empty) {
            return Err(bad(Problem::EmptyComponent));
        }
        if repository.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(bad(Problem::Uppercase));
        }
        Ok(Self { registry, repository, tag, digest })
    }

    /// `registry/repository`.
    #[must_use]
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// What is wrong with an image reference.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// Whitespace anywhere.
    #[error("whitespace in a reference")]
    Whitespace,
    /// A digest that is not `algorithm:hex` (32 hex digits at least).
    #[error("malformed digest {0:?}")]
    Digest(String),
    /// A tag outside `[A-Za-z0-9_.-]{1,128}` or starting with `.` or `-`.
    #[error("invalid tag {0:?}")]
    Tag(String),
    /// `a//b`, a trailing `/`.
    #[error("empty path component")]
    EmptyComponent,
    /// Upper case in the repository.
    #[error("repository name must be lowercase")]
    Uppercase,
}

/// An image reference that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImageRefError {
    /// The empty string.
    #[error("empty image reference")]
    Empty,
    /// A reference with a problem.
    #[error("image {image:?}: {problem}")]
    Invalid {
        /// The reference.
        image: String,
        /// What is wrong.
        problem: Problem,
    },
}

/// Why the image policy denies an image.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImageDenied {
    /// Not a valid reference.
    #[error(transparent)]
    Invalid(#[from] ImageRefError),
    /// From a registry not in the allowed list.
    #[error("image {image:?} is not from an allowed registry ({})", allowed.join(", "))]
    Registry {
        /// The reference.
        image: String,
        /// The allowed registries.
        allowed: Vec<String>,
    },
    /// Not pinned by digest where digests are required.
    #[error("image {image:?} must be pinned by digest (@sha256:...)")]
    DigestRequired {
        /// The reference.
        image: String,
    },
    /// No tag (so `:latest`).
    #[error("image {image:?} has no tag (means :latest); use a version tag or a digest")]
    NoTag {
        /// The reference.
        image: String,
    },
    /// `:latest`.
    #[error("image {image:?} uses the mutable :latest tag")]
    Latest {
        /// The reference.
        image: String,
    },
}

/// Every denied image of an `ImageReview`; shown joined with `; `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denials(pub Vec<ImageDenied>);

impl fmt::Display for Denials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Denials {}

/// What images may run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Allowed registries or repository prefixes (`registry.example.com`, `ghcr.io/acme`), matched
    /// at path-component boundaries on the normalised name; empty: any.
    pub allowed_registries: Vec<String>,
    /// Deny `:latest` and references without tag or digest (which mean `:latest`).
    pub forbid_latest: bool,
    /// Deny references without a digest.
    pub require_digest: bool,
    /// Namespaces the policy does not apply to.
    pub exempt_namespaces: Vec<String>,
}

impl Policy {
    /// Checks one image: `Err` says why it is denied.
    ///
    /// # Errors
    /// The reason the image is not allowed.
    pub fn check(&self, image: &str) -> Result<(), ImageDenied> {
        let r = ImageRef::parse(image)?;
        let image = image.to_owned();
        if !self.allowed_registries.is_empty() {
            let name = r.name();
            let allowed = self.allowed_registries.iter().any(|prefix| {
                let prefix = prefix.trim_end_matches('/');
                let normal = ImageRef::parse(prefix).map_or_else(|_| prefix.to_owned(), |p| p.name());
                // A bare registry (`quay.io`) parses as a Docker Hub repository; match it as a host too.
                [prefix, normal.as_str()]
                    .iter()
                    .any(|p| name == *p || name.strip_prefix(p).is_some_and(|rest| rest.starts_with('/')))
            });
            if !allowed {
                return Err(ImageDenied::Registry { image, allowed: self.allowed_registries.clone() });
            }
        }
        if self.require_digest && r.digest.is_none() {
            return Err(ImageDenied::DigestRequired { image });
        }
        if self.forbid_latest && r.digest.is_none() {
            match r.tag.as_deref() {
                None => return Err(ImageDenied::NoTag { image }),
                Some("latest") => return Err(ImageDenied::Latest { image }),
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Checks several images (an `ImageReview`): `Err` joins every reason.
    ///
    /// # Errors
    /// The reasons of the denied images, joined with `; `.
    pub fn check_all<'a>(&self, images: impl IntoIterator<Item = &'a str>) -> Result<(), Denials> {
        let reasons: Vec<ImageDenied> = images.into_iter().filter_map(|i| self.check(i).err()).collect();
        if reasons.is_empty() { Ok(()) } else { Err(Denials(reasons)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_normalise_like_docker() {
        let r = ImageRef::parse("nginx").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("docker.io", "library/nginx", None)
        );
        let r = ImageRef::parse("org/app:1.2").unwrap();
        assert_eq!((r.name(), r.tag.as_deref()), ("docker.io/org/app".to_owned(), Some("1.2")));
        let r = ImageRef::parse(
            "localhost:5000/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        )
        .unwrap();
        assert_eq!(r.registry, "localhost:5000");
        assert!(r.tag.is_none() && r.digest.is_some());
        let r = ImageRef::parse("registry.example.com/team/app:v1@sha256:0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!((r.tag.as_deref(), r.registry.as_str()), (Some("v1"), "registry.example.com"));
        for bad in ["", "UPPER/app", "a//b", "app:", "app@sha256:xyz", "app:-bad", "a b"] {
            assert!(ImageRef::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn policy_checks_registry_tag_and_digest() {
        let p = Policy {
            allowed_registries: vec!["registry.example.com".into(), "ghcr.io/acme".into(), "nginx".into()],
            forbid_latest: true,
            require_digest: false,
            exempt_namespaces: vec![],
        };
        assert!(p.check("registry.example.com/app:1.0").is_ok());
        assert!(p.check("ghcr.io/acme/tool:2").is_ok());
        assert!(p.check("ghcr.io/acmeevil/tool:2").is_err(), "prefix must end at a component boundary");
        assert!(p.check("nginx:1.27").is_ok(), "docker.io/library/nginx allowed through its short name");
        assert!(p.check("docker.io/library/nginx:1.27").is_ok());
        let e = p.check("registry.example.com/app").unwrap_err();
        assert_eq!(e, ImageDenied::NoTag { image: "registry.example.com/app".into() });
        assert!(e.to_string().contains("no tag"), "{e}");
        let e = p.check("registry.example.com/app:latest").unwrap_err();
        assert!(matches!(e, ImageDenied::Latest { .. }) && e.to_string().contains(":latest"), "{e}");
        let e = p.check("quay.io/x/y:1").unwrap_err();
        assert!(matches!(e, ImageDenied::Registry { .. }), "{e}");
        assert!(e.to_string().contains("not from an allowed registry"), "{e}");
        let e = p.check("Quay.io/X").unwrap_err();
        assert_eq!(
            e,
            ImageDenied::Invalid(ImageRefError::Invalid { image: "Quay.io/X".into(), problem: Problem::Uppercase })
        );
        let digest = Policy { require_digest: true, ..Policy::default() };
        assert!(digest.check("app:1").is_err());
        assert!(digest.check("app@sha256:0123456789abcdef0123456789abcdef").is_ok());
        let all = p.check_all(["registry.example.com/a:1", "quay.io/b:1", "c"]).unwrap_err();
        assert_eq!(all.0.len(), 2);
        assert!(all.to_string().contains("; "));
    }
}
