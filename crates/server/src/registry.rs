//! Pulling an image from an OCI registry (the distribution API v2) into an OCI image layout
//! on disk, for `kguard image REFERENCE`. Anonymous, HTTP basic and bearer-token
//! authentication (the `WWW-Authenticate` challenge, as Docker clients follow it); the
//! manifest, config and every layer verified against their digests (and sizes) while they
//! stream to disk; one image chosen from an index by the caller.
//!
//! Plain HTTP is used for registries on the loopback interface (`localhost`, `127.0.0.1`,
//! `[::1]`, as Docker and go-containerregistry do) or with `insecure`; everything else is HTTPS
//! with rustls. No proxy; blob downloads may follow redirects (to a CDN), without the
//! credentials.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use aws_lc_rs::digest;
use serde_json::{Value, json};

/// Manifest media types asked for, in preference order.
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";
/// Most bytes of a manifest or index.
const MAX_MANIFEST: u64 = 4 << 20;
/// Most bytes of a token response.
const MAX_TOKEN: u64 = 1 << 20;

/// An image reference: `[REGISTRY/]REPOSITORY[:TAG][@DIGEST]`, normalised as Docker does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Host and port (`registry-1.docker.io` for Docker Hub).
    pub registry: String,
    /// Repository path (`library/alpine`).
    pub repository: String,
    /// Tag, when no digest is given (`latest` by default).
    pub tag: Option<String>,
    /// `sha256:…`, if pinned.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses a reference (`alpine`, `alpine:3.19`, `ghcr.io/org/app@sha256:…`,
    /// `localhost:5000/team/app:1`).
    ///
    /// # Errors
    /// An empty or malformed reference.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("{s:?}: not an image reference ({why})");
        let s = s.trim();
        if s.is_empty() || s.len() > 512 || s.contains(char::is_whitespace) || s.contains("://") {
            return Err(bad("expected [REGISTRY/]REPOSITORY[:TAG][@sha256:DIGEST]"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                let hex = d.strip_prefix("sha256:").ok_or_else(|| bad("only sha256 digests"))?;
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
                    return Err(bad("a digest is sha256: and 64 lowercase hex digits"));
                }
                (r, Some(d.to_owned()))
            }
            None => (s, None),
        };
        // A tag is after the last `:` that follows the last `/` (a `:` before it is a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest.get(last_slash..).and_then(|t| t.rfind(':')) {
            Some(i) => {
                let at = last_slash + i;
                (rest.get(..at).unwrap_or_default(), rest.get(at + 1..).map(str::to_owned))
            }
            None => (rest, None),
        };
        if let Some(t) = &tag
            && (t.is_empty()
                || t.len() > 128
                || !t.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')))
        {
            return Err(bad("a tag is letters, digits, `_`, `.` and `-`"));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_owned(), path.to_owned())
            }
            _ => ("docker.io".to_owned(), name.to_owned()),
        };
        let repository = if registry == "docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if repository.is_empty()
            || !repository.split('/').all(|c| {
                !c.is_empty()
                    && c.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-'))
            })
        {
            return Err(bad("a repository is lowercase path components"));
        }
        let registry = if registry == "docker.io" || registry == "index.docker.io" {
            "registry-1.docker.io".to_owned()
        } else {
            registry
        };
        let tag = if digest.is_none() { Some(tag.unwrap_or_else(|| "latest".to_owned())) } else { tag };
        Ok(Self { registry, repository, tag, digest })
    }

    /// What the manifest is fetched by: the digest when pinned, else the tag.
    #[must_use]
    pub fn selector(&self) -> &str {
        self.digest.as_deref().or(self.tag.as_deref()).unwrap_or("latest")
    }

    /// The reference as written back (`registry/repository:tag`).
    #[must_use]
    pub fn name(&self) -> String {
        let mut s = format!("{}/{}", self.registry, self.repository);
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// `registry/repository` as Docker prints it: Docker Hub's registry and `library/` left out.
    #[must_use]
    pub fn short_name(&self) -> String {
        if self.registry == "registry-1.docker.io" {
            self.repository.strip_prefix("library/").unwrap_or(&self.repository).to_owned()
        } else {
            format!("{}/{}", self.registry, self.repository)
        }
    }

    fn is_loopback(&self) -> bool {
        let host = self.registry.rsplit_once(':').map_or(self.registry.as_str(), |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) { h } else { self.registry.as_str() }
        });
        matches!(host, "localhost" | "127.0.0.1" | "[::1]")
    }
}

/// Credentials for a registry.
#[derive(Clone, Default)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

/// Credentials for `registry` from a Docker client configuration (`~/.docker/config.json`:
/// `auths.<registry>.auth`, base64 of `user:password`); Docker Hub is also found under
/// `https://index.docker.io/v1/`. Credential helpers are not run.
#[must_use]
pub fn docker_config_credentials(config: &Value, registry: &str) -> Option<Credentials> {
    use base64::Engine as _;
    let auths = config.get("auths")?.as_object()?;
    let mut keys = vec![registry.to_owned(), format!("https://{registry}"), format!("http://{registry}")];
    if registry == "registry-1.docker.io" {
        keys.extend(["https://index.docker.io/v1/".to_owned(), "docker.io".to_owned(), "index.docker.io".to_owned()]);
    }
    let entry = keys.iter().find_map(|k| auths.get(k))?;
    let raw = entry.get("auth")?.as_str()?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(raw.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, p) = text.split_once(':')?;
    Some(Credentials { username: u.to_owned(), password: p.to_owned() })
}

/// How to pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Credentials, if any.
    pub credentials: Option<Credentials>,
    /// Plain HTTP for any registry.
    pub insecure: bool,
    /// A PEM bundle to trust instead of Mozilla's roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Most bytes of all blobs together.
    pub max_bytes: u64,
}

/// Why a pull failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The request failed (connection, TLS, timeout).
    #[error("{0}: {1}")]
    Http(String, String),
    /// The registry answered with an error status.
    #[error("{url}: {status} {detail}")]
    Status {
        /// What was requested.
        url: String,
        /// HTTP status.
        status: u16,
        /// The registry's error text, or a hint.
        detail: String,
    },
    /// What was received does not have its digest or size.
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    Digest {
        /// The blob.
        what: String,
        /// Its digest.
        expected: String,
        /// What was received.
        actual: String,
    },
    /// A manifest, index or token that does not say what it must.
    #[error("{0}: {1}")]
    Format(String, String),
    /// Writing the layout.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// Past the size cap.
    #[error("{0}: more than {1} bytes (raise it with --max-image-size)")]
    TooLarge(String, u64),
}

/// The image pulled.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The manifest's digest.
    pub digest: String,
    /// `repository@digest`, as Trivy's `RepoDigests`.
    pub repo_digest: String,
    /// Layers and config fetched.
    pub blobs: usize,
    /// Bytes fetched.
    pub bytes: u64,
}

/// A registry client bound to one reference.
pub struct Client {
    agent: ureq::Agent,
    blob_agent: ureq::Agent,
    base: String,
    reference: Reference,
    credentials: Option<Credentials>,
    auth: Option<String>,
    max_bytes: u64,
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    b.iter().fold(String::with_capacity(b.len() * 2), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex(digest::digest(&digest::SHA256, b).as_ref()))
}

/// The parameters of a `WWW-Authenticate` challenge: scheme and `key="value"` pairs.
#[must_use]
pub fn parse_challenge(h: &str) -> (String, Vec<(String, String)>) {
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((k, after)) = rest.split_once('=') else { break };
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (v, tail) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (q.get(..end).unwrap_or_default(), q.get(end + 1..).unwrap_or_default()),
                None => (q, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (after.get(..end).unwrap_or_default(), after.get(end..).unwrap_or_default()),
                None => (after, ""),
            }
        };
        params.push((k, v.to_owned()));
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    (scheme.to_ascii_lowercase(), params)
}

impl Client {
    /// A client for `reference`.
    ///
    /// # Errors
    /// An unreadable CA file.
    pub fn new(reference: Reference, opts: &PullOptions) -> Result<Self, RegistryError> {
        let scheme = if opts.insecure || reference.is_loopback() { "http" } else { "https" };
        let roots = match &opts.ca_file {
            None => ureq::tls::RootCerts::WebPki,
            Some(path) => ureq::tls::RootCerts::from(
                crate::tls::certificates(path)
                    .map_err(|e| RegistryError::Http(path.display().to_string(), e.to_string()))?
                    .into_iter()
                    .map(|der| ureq::tls::Certificate::from_der(&der).to_owned()),
            ),
        };
        let build = |redirects: u32| {
            let tls = ureq::tls::TlsConfig::builder()
                .root_certs(roots.clone())
                .unversioned_rustls_crypto_provider(crate::tls::provider())
                .build();
            ureq::Agent::config_builder()
                .tls_config(tls)
                .proxy(None)
                .max_redirects(redirects)
                .http_status_as_error(false)
                .timeout_connect(Some(Duration::from_secs(15)))
                .timeout_recv_response(Some(Duration::from_secs(60)))
                .timeout_recv_body(Some(Duration::from_secs(1800)))
                .user_agent(format!("kguard/{}", env!("CARGO_PKG_VERSION")))
                .build()
                .new_agent()
        };
        Ok(Self {
            agent: build(0),
            blob_agent: build(5),
            base: format!("{scheme}://{}/v2/{}", reference.registry, reference.repository),
            reference,
            credentials: opts.credentials.clone(),
            auth: None,
            max_bytes: if opts.max_bytes == 0 { u64::MAX } else { opts.max_bytes },
        })
    }

    fn get(
        &self,
        url: &str,
        accept: Option<&str>,
        blob: bool,
    ) -> Result<ureq::http::Response<ureq::Body>, RegistryError> {
        let agent = if blob { &self.blob_agent } else { &self.agent };
        let mut req = agent.get(url);
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        if let Some(auth) = &self.auth {
            req = req.header("Authorization", auth);
        }
        req.call().map_err(|e| RegistryError::Http(url.to_owned(), e.to_string()))
    }

    /// GET with one round of authentication on a 401.
    fn get_authed(
        &mut self,
        url: &str,
        accept: Option<&str>,
        blob: bool,
    ) -> Result<ureq::http::Response<ureq::Body>, RegistryError> {
        let resp = self.get(url, accept, blob)?;
        if resp.status().as_u16() != 401 {
            return Ok(resp);
        }
        let challenge =
            resp.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        self.authenticate(url, &challenge)?;
        self.get(url, accept, blob)
    }

    fn authenticate(&mut self, url: &str, challenge: &str) -> Result<(), RegistryError> {
        use base64::Engine as _;
        let (scheme, params) = parse_challenge(challenge);
        let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let basic = self.credentials.as_ref().map(|c| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password))
            )
        });
        match scheme.as_str() {
            "basic" => {
                let Some(b) = basic else {
                    return Err(RegistryError::Status {
                        url: url.to_owned(),
                        status: 401,
                        detail: "authentication required: give credentials (--username with --password-stdin, \
                                 KGUARD_REGISTRY_USERNAME/KGUARD_REGISTRY_PASSWORD, or ~/.docker/config.json)"
                            .into(),
                    });
                };
                self.auth = Some(b);
                Ok(())
            }
            "bearer" => {
                let realm = param("realm")
                    .ok_or_else(|| RegistryError::Format(url.to_owned(), "bearer challenge without realm".into()))?;
                if !realm.starts_with("https://") && !realm.starts_with("http://") {
                    return Err(RegistryError::Format(
                        url.to_owned(),
                        format!("token realm {realm:?} is not an http(s) URL"),
                    ));
                }
                let scope = param("scope").unwrap_or_else(|| format!("repository:{}:pull", self.reference.repository));
                let mut q = vec![("scope", scope)];
                if let Some(s) = param("service") {
                    q.push(("service", s));
                }
                let mut req = self.agent.get(&realm);
                for (k, v) in &q {
                    req = req.query(*k, v);
                }
                if let Some(b) = &basic {
                    req = req.header("Authorization", b);
                }
                let mut resp = req.call().map_err(|e| RegistryError::Http(realm.clone(), e.to_string()))?;
                let status = resp.status().as_u16();
                let body = resp
                    .body_mut()
                    .with_config()
                    .limit(MAX_TOKEN)
                    .read_to_string()
                    .map_err(|e| RegistryError::Http(realm.clone(), e.to_string()))?;
                if status != 200 {
                    return Err(RegistryError::Status { url: realm, status, detail: error_detail(&body, status) });
                }
                let v: Value = serde_json::from_str(&body)
                    .map_err(|e| RegistryError::Format(realm.clone(), format!("token response: {e}")))?;
                let token = v
                    .get("token")
                    .or_else(|| v.get("access_token"))
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| RegistryError::Format(realm.clone(), "token response without \"token\"".into()))?;
                self.auth = Some(format!("Bearer {token}"));
                Ok(())
            }
            _ => Err(RegistryError::Status {
                url: url.to_owned(),
                status: 401,
                detail: format!("unsupported authentication challenge {challenge:?}"),
            }),
        }
    }

    /// Fetches a manifest or index by tag or digest: its bytes, media type and digest (checked
    /// when the reference pins it).
    fn manifest(&mut self, selector: &str) -> Result<(Vec<u8>, String, String), RegistryError> {
        let url = format!("{}/manifests/{selector}", self.base);
        let mut resp = self.get_authed(&url, Some(ACCEPT), false)?;
        let status = resp.status().as_u16();
        let media = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let mut body = Vec::new();
        resp.body_mut()
            .as_reader()
            .take(MAX_MANIFEST + 1)
            .read_to_end(&mut body)
            .map_err(|e| RegistryError::Http(url.clone(), e.to_string()))?;
        if status != 200 {
            let detail = error_detail(&String::from_utf8_lossy(&body), status);
            return Err(RegistryError::Status { url, status, detail });
        }
        if body.len() as u64 > MAX_MANIFEST {
            return Err(RegistryError::TooLarge(url, MAX_MANIFEST));
        }
        let actual = sha256(&body);
        if selector.starts_with("sha256:") && actual != selector {
            return Err(RegistryError::Digest { what: url, expected: selector.to_owned(), actual });
        }
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| RegistryError::Format(url.clone(), format!("invalid JSON: {e}")))?;
        let media = v.get("mediaType").and_then(Value::as_str).map_or(media, str::to_owned);
        Ok((body, media, actual))
    }

    /// Streams a blob into `dir/blobs/sha256/HEX`, verifying digest and size; the bytes written.
    fn blob(&mut self, dir: &Path, digest_s: &str, size: Option<u64>, budget: &mut u64) -> Result<u64, RegistryError> {
        let hex_part = digest_s
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| RegistryError::Format(digest_s.to_owned(), "only sha256 digests are supported".into()))?;
        let path = dir.join("blobs/sha256").join(hex_part);
        if path.exists() {
            return Ok(0);
        }
        let url = format!("{}/blobs/{digest_s}", self.base);
        let mut resp = self.get_authed(&url, None, true)?;
        let status = resp.status().as_u16();
        if status != 200 {
            let mut body = String::new();
            let _ = resp.body_mut().as_reader().take(64 << 10).read_to_string(&mut body);
            return Err(RegistryError::Status { url, status, detail: error_detail(&body, status) });
        }
        let tmp = dir.join(format!("blobs/sha256/.partial-{hex_part}"));
        let io = |e| RegistryError::Io(tmp.display().to_string(), e);
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        let mut ctx = digest::Context::new(&digest::SHA256);
        let mut reader = resp.body_mut().as_reader();
        let mut buf = vec![0u8; 256 << 10];
        let mut n: u64 = 0;
        loop {
            let got = reader.read(&mut buf).map_err(|e| RegistryError::Http(url.clone(), e.to_string()))?;
            if got == 0 {
                break;
            }
            let chunk = buf.get(..got).unwrap_or_default();
            n += got as u64;
            if n > *budget {
                drop(file);
                let _ = std::fs::remove_file(&tmp);
                return Err(RegistryError::TooLarge(self.reference.name(), self.max_bytes));
            }
            if size.is_some_and(|s| n > s) {
                break;
            }
            ctx.update(chunk);
            file.write_all(chunk).map_err(io)?;
        }
        let actual = format!("sha256:{}", hex(ctx.finish().as_ref()));
        if actual != digest_s || size.is_some_and(|s| s != n) {
            drop(file);
            let _ = std::fs::remove_file(&tmp);
            let actual = if size.is_some_and(|s| s != n) {
                format!("{actual} ({n} bytes, descriptor says {})", size.unwrap_or(0))
            } else {
                actual
            };
            return Err(RegistryError::Digest { what: url, expected: digest_s.to_owned(), actual });
        }
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&tmp, &path).map_err(io)?;
        *budget -= n;
        Ok(n)
    }

    /// Pulls the image into an OCI image layout at `dir` (created; must be empty or absent).
    /// From an index, `choose` picks one image: it gets the index's `manifests` and returns the
    /// position of the one to pull, or an error message.
    ///
    /// # Errors
    /// Network, authentication, digest and format errors; writing the layout.
    pub fn pull(
        &mut self,
        dir: &Path,
        choose: &dyn Fn(&[Value]) -> Result<usize, String>,
    ) -> Result<Pulled, RegistryError> {
        let io = |p: &Path, e| RegistryError::Io(p.display().to_string(), e);
        std::fs::create_dir_all(dir.join("blobs/sha256")).map_err(|e| io(dir, e))?;
        let write = |name: &str, bytes: &[u8]| -> Result<(), RegistryError> {
            let p = dir.join(name);
            std::fs::write(&p, bytes).map_err(|e| io(&p, e))
        };
        let selector = self.reference.selector().to_owned();
        let (mut body, mut media, mut digest_s) = self.manifest(&selector)?;
        let mut platform = None;
        for _ in 0..2 {
            let v: Value =
                serde_json::from_slice(&body).map_err(|e| RegistryError::Format(selector.clone(), e.to_string()))?;
            let Some(list) = v.get("manifests").and_then(Value::as_array) else { break };
            let i = choose(list).map_err(|e| RegistryError::Format(self.reference.name(), e))?;
            let d =
                list.get(i).ok_or_else(|| RegistryError::Format(self.reference.name(), "no image chosen".into()))?;
            platform = d.get("platform").cloned();
            let child = d
                .get("digest")
                .and_then(Value::as_str)
                .ok_or_else(|| RegistryError::Format(self.reference.name(), "index entry without digest".into()))?
                .to_owned();
            (body, media, digest_s) = self.manifest(&child)?;
            if digest_s != child {
                return Err(RegistryError::Digest { what: self.reference.name(), expected: child, actual: digest_s });
            }
        }
        let manifest: Value =
            serde_json::from_slice(&body).map_err(|e| RegistryError::Format(selector.clone(), e.to_string()))?;
        if manifest.get("manifests").is_some() {
            return Err(RegistryError::Format(self.reference.name(), "image indexes nested too deep".into()));
        }
        if manifest.get("schemaVersion").and_then(Value::as_u64) == Some(1) {
            return Err(RegistryError::Format(
                self.reference.name(),
                "Docker image manifest schema 1 is not supported (deprecated; re-push the image)".into(),
            ));
        }
        let mut budget = self.max_bytes;
        let mut blobs = 0;
        let mut bytes = 0;
        let mut descs: Vec<&Value> = manifest.get("config").into_iter().collect();
        descs.extend(manifest.get("layers").and_then(Value::as_array).into_iter().flatten());
        if descs.is_empty() {
            return Err(RegistryError::Format(self.reference.name(), "a manifest without config or layers".into()));
        }
        for d in descs {
            let dg = d
                .get("digest")
                .and_then(Value::as_str)
                .ok_or_else(|| RegistryError::Format(self.reference.name(), "descriptor without digest".into()))?;
            bytes += self.blob(dir, dg, d.get("size").and_then(Value::as_u64), &mut budget)?;
            blobs += 1;
        }
        let mhex = digest_s.strip_prefix("sha256:").unwrap_or_default();
        write(&format!("blobs/sha256/{mhex}"), &body)?;
        write("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        let mut desc = json!({
            "mediaType": media,
            "digest": digest_s,
            "size": body.len(),
            "annotations": {"org.opencontainers.image.ref.name": self.reference.name()},
        });
        if let (Some(p), Some(o)) = (platform, desc.as_object_mut()) {
            o.insert("platform".into(), p);
        }
        let index =
            json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [desc]});
        write("index.json", &serde_json::to_vec_pretty(&index).unwrap_or_default())?;
        Ok(Pulled {
            repo_digest: format!("{}@{digest_s}", self.reference.short_name()),
            digest: digest_s,
            blobs,
            bytes,
        })
    }
}

/// The registry's error message (`{"errors":[{"code","message"}]}`), or a hint by status.
fn error_detail(body: &str, status: u16) -> String {
    let from_json = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        let errs = v.get("errors")?.as_array()?;
        let parts: Vec<String> = errs
            .iter()
            .map(|e| {
                let code = e.get("code").and_then(Value::as_str).unwrap_or_default();
                let msg = e.get("message").and_then(Value::as_str).unwrap_or_default();
                format!("{code}: {msg}")
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    });
    from_json.unwrap_or_else(|| {
        match status {
            401 => "unauthorized: wrong or missing credentials",
            403 => "forbidden: these credentials may not pull this repository",
            404 => "not found: no such repository, tag or digest",
            429 => "too many requests: the registry rate-limits pulls",
            _ => "unexpected answer",
        }
        .to_owned()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn references_normalise_as_docker_does() {
        let r = Reference::parse("alpine").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("registry-1.docker.io", "library/alpine", Some("latest"))
        );
        let r = Reference::parse("localhost:5000/team/app:1.2").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("localhost:5000", "team/app", Some("1.2"))
        );
        assert!(r.is_loopback());
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("ghcr.io/org/app@{d}")).unwrap();
        assert_eq!((r.tag.as_deref(), r.digest.as_deref(), r.selector()), (None, Some(d.as_str()), d.as_str()));
        assert!(!r.is_loopback());
        let r = Reference::parse("127.0.0.1:5000/x").unwrap();
        assert_eq!(r.selector(), "latest");
        assert!(r.is_loopback());
        for bad in ["", "UPPER/case", "a b", "x@sha256:12", "https://ghcr.io/x", "x:", "x:t@g"] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn challenges_and_docker_config() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
        );
        assert_eq!(s, "bearer");
        assert_eq!(p[0], ("realm".to_owned(), "https://auth.docker.io/token".to_owned()));
        assert_eq!(p[2].1, "repository:library/alpine:pull");
        let (s, p) = parse_challenge(r#"Basic realm="kguard""#);
        assert_eq!((s.as_str(), p.len()), ("basic", 1));
        let cfg = json!({"auths": {"https://index.docker.io/v1/": {"auth": "dXNlcjpwYTpzcw=="}}});
        let c = docker_config_credentials(&cfg, "registry-1.docker.io").unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("user", "pa:ss"));
        assert!(docker_config_credentials(&cfg, "ghcr.io").is_none());
        assert!(!format!("{c:?}").contains("pa:ss"), "the password is never printed");
        assert!(
            error_detail(r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#, 404)
                .contains("MANIFEST_UNKNOWN")
        );
    }
}
