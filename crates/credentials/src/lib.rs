//! Credentials written into manifests: the `CRED…` rules of `kguard scan`.
//!
//! * Secrets of type `kubernetes.io/service-account-token` (legacy, non-expiring service-account
//!   tokens), and the token itself when the manifest carries it (CRED001, CRED002).
//! * kubeconfigs carrying credentials: a kubeconfig scanned directly (`apiVersion: v1`,
//!   `kind: Config`) and kubeconfig text inside a Secret (`data`, base64, or `stringData`) or a
//!   ConfigMap (`data`, `binaryData`). A user whose embedded client certificate is in group
//!   `system:masters` and whose key is embedded too is CRED003; other embedded keys, bearer tokens
//!   and passwords are CRED004.
//! * Bootstrap-token Secrets (`bootstrap.kubernetes.io/token`) usable for authentication without
//!   `expiration` (CRED005), and their `token-secret` in the manifest (CRED006).
//!
//! Messages never repeat a secret: they name the field, the user and, for tokens that are JWTs, the
//! `sub` claim. Undecodable values and kubeconfigs or certificates that cannot be parsed become
//! warnings (diagnostics), never panics.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use kguard_model::yaml::{self, YamlNode, escape_pointer_token};
use kguard_model::{Diagnostic, Object};
use kguard_report::{Finding, RuleMeta, Severity};

use kguard_authn::{bootstrap, pki, x509};
use kguard_request::SYSTEM_MASTERS;

/// The Secret type of legacy service-account tokens.
pub const SA_TOKEN_TYPE: &str = "kubernetes.io/service-account-token";

const SA_DOCS: &str = "https://kubernetes.io/docs/concepts/security/service-accounts/#get-a-token";
const SA_LEGACY: &str = "https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/#legacy-serviceaccount-token-cleaner";
const SECRETS: &str = "https://kubernetes.io/docs/concepts/security/secrets-good-practices/";
const KUBECONFIG: &str = "https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/";
const MASTERS: &str = "https://kubernetes.io/docs/concepts/security/rbac-good-practices/#least-privilege";
const BOOTSTRAP: &str = "https://kubernetes.io/docs/reference/access-authn-authz/bootstrap-tokens/";

/// `CRED001`: legacy service-account token Secret.
pub const LEGACY_SA_TOKEN: RuleMeta = RuleMeta {
    id: "CRED001",
    name: "legacy-service-account-token-secret",
    family: "credentials",
    severity: Severity::Medium,
    title: "Long-lived service-account token Secret",
    what: "A Secret has `type: kubernetes.io/service-account-token`: the token controller fills it with a token for the \
     ServiceAccount named in its `kubernetes.io/service-account.name` annotation.",
    why: "Such tokens never expire and are bound to no pod: whoever reads the Secret (or a copy of it, a backup, a log) \
     can act as the ServiceAccount until the Secret is deleted. Kubernetes stopped creating them in 1.24, and \
     since 1.30 deletes auto-generated ones left unused for a year.",
    fix: "Request short-lived tokens instead (`kubectl create token`, the TokenRequest API, or a projected \
     `serviceAccountToken` volume); delete the Secret once nothing uses it.",
    references: &[SA_DOCS, SA_LEGACY],
    aliases: &["deny-secret-service-account-token-type"],
    opt_in: false,
};

/// `CRED002`: the service-account token itself in the manifest.
pub const SA_TOKEN_IN_MANIFEST: RuleMeta = RuleMeta {
    id: "CRED002",
    name: "service-account-token-in-manifest",
    family: "credentials",
    severity: Severity::High,
    title: "Service-account token written into the manifest",
    what: "A `kubernetes.io/service-account-token` Secret carries a non-empty `token` in `data` or `stringData`.",
    why: "The bearer token is then in the repository, in every rendered chart and in every copy of it: anyone reading \
     them can call the API server as the ServiceAccount, and the token does not expire.",
    fix: "Remove the token from the manifest and invalidate it (delete the Secret in the cluster, which revokes the \
     token); use short-lived tokens from the TokenRequest API.",
    references: &[SA_DOCS, SECRETS],
    aliases: &[],
    opt_in: false,
};

/// `CRED003`: a kubeconfig with an embedded `system:masters` client certificate and its key.
pub const KUBECONFIG_MASTERS: RuleMeta = RuleMeta {
    id: "CRED003",
    name: "kubeconfig-system-masters-certificate",
    family: "credentials",
    severity: Severity::Critical,
    title: "kubeconfig embeds a system:masters client certificate and its key",
    what: "A kubeconfig (scanned directly or found inside a Secret or ConfigMap) has a user whose \
     `client-certificate-data` is a certificate with `O=system:masters` in its subject, and whose \
     `client-key-data` is embedded as well.",
    why: "Members of `system:masters` bypass every authorizer, and a client certificate cannot be revoked: whoever \
     reads this manifest is cluster-admin until the certificate expires (a year for kubeadm's admin.conf) or the \
     cluster CA is replaced. RBAC cannot take it back.",
    fix: "Remove the kubeconfig from the manifest, and treat the cluster CA as compromised for this identity (rotate \
     the CA, or wait out the certificate). Give tools identities bound to RBAC roles and keep a single \
     break-glass credential offline.",
    references: &[MASTERS, KUBECONFIG],
    aliases: &[],
    opt_in: false,
};

/// `CRED004`: a kubeconfig with embedded credentials.
pub const KUBECONFIG_CREDENTIALS: RuleMeta = RuleMeta {
    id: "CRED004",
    name: "kubeconfig-embedded-credentials",
    family: "credentials",
    severity: Severity::High,
    title: "kubeconfig embeds a private key, token or password",
    what: "A kubeconfig (scanned directly or found inside a Secret or ConfigMap) has a user with `client-key-data`, \
     `token` or `password` (a `system:masters` certificate with its key is CRED003 instead).",
    why: "The credential is then in the repository and in every copy of the manifest; a ConfigMap is moreover readable \
     by anyone allowed to read ConfigMaps. Client certificates cannot be revoked, and static tokens last as long \
     as the token file or Secret behind them.",
    fix: "Keep kubeconfigs out of manifests: reference files (`client-key`, `tokenFile`) or an `exec` credential \
     plugin, mount credentials from an external secret store, and rotate the exposed credential.",
    references: &[KUBECONFIG, SECRETS],
    aliases: &[],
    opt_in: false,
};

/// `CRED005`: bootstrap token without expiration.
pub const BOOTSTRAP_NO_EXPIRATION: RuleMeta = RuleMeta {
    id: "CRED005",
    name: "bootstrap-token-without-expiration",
    family: "credentials",
    severity: Severity::High,
    title: "Bootstrap token never expires",
    what: "A Secret of type `bootstrap.kubernetes.io/token` has `usage-bootstrap-authentication: \"true\"` and no \
     `expiration`.",
    why: "The token authenticates as `system:bootstrap:<id>` in group `system:bootstrappers` for as long as the Secret \
     exists: enough to request node client certificates (auto-approved on kubeadm clusters) and join machines to \
     the cluster. kubeadm tokens expire after 24 hours by default.",
    fix: "Set `expiration` (RFC 3339) to the shortest window that covers the node joins, or create tokens on demand \
     (`kubeadm token create --ttl`) and delete them afterwards.",
    references: &[BOOTSTRAP],
    aliases: &[],
    opt_in: false,
};

/// `CRED006`: bootstrap token secret in the manifest.
pub const BOOTSTRAP_SECRET_IN_MANIFEST: RuleMeta = RuleMeta {
    id: "CRED006",
    name: "bootstrap-token-secret-in-manifest",
    family: "credentials",
    severity: Severity::High,
    title: "Bootstrap token secret written into the manifest",
    what: "A Secret of type `bootstrap.kubernetes.io/token` carries a non-empty `token-secret` in `data` or `stringData`.",
    why: "With the token id (the Secret's name), the secret forms the full bearer token `<id>.<secret>`: anyone reading \
     the manifest can authenticate as a bootstrapper (and sign the `cluster-info` ConfigMap when \
     `usage-bootstrap-signing` is on).",
    fix: "Generate bootstrap tokens in the cluster (`kubeadm token create`) instead of committing them, and delete the \
     exposed token's Secret.",
    references: &[BOOTSTRAP, SECRETS],
    aliases: &[],
    opt_in: false,
};

/// The `credentials` rules.
pub const RULES: &[RuleMeta] = &[
    LEGACY_SA_TOKEN,
    SA_TOKEN_IN_MANIFEST,
    KUBECONFIG_MASTERS,
    KUBECONFIG_CREDENTIALS,
    BOOTSTRAP_NO_EXPIRATION,
    BOOTSTRAP_SECRET_IN_MANIFEST,
];

fn is_core(obj: &Object, kind: &str) -> bool {
    obj.group().is_empty() && obj.kind() == kind
}

/// Whether an object is one these rules read: a core Secret or ConfigMap, or a kubeconfig
/// (`apiVersion: v1`, `kind: Config`).
#[must_use]
pub fn applies_to(obj: &Object) -> bool {
    is_core(obj, "Secret") || is_core(obj, "ConfigMap") || is_core(obj, "Config")
}

/// One value of a Secret or ConfigMap, decoded.
struct DataValue {
    /// `/data/<key>`, `/stringData/<key>`, `/binaryData/<key>`.
    pointer: String,
    /// `data.<key>`, as messages show it.
    field: String,
    key: String,
    bytes: Vec<u8>,
}

/// The values of a Secret (`data` decoded from base64, `stringData` over it for the same key, as
/// the API server merges them) or a ConfigMap (`data`, `binaryData` decoded). Values that are not
/// valid base64 become warnings.
fn data_values(obj: &Object, out: &mut Vec<Diagnostic>) -> Vec<DataValue> {
    let secret = obj.kind() == "Secret";
    let fields: &[(&str, bool)] =
        if secret { &[("data", true), ("stringData", false)] } else { &[("data", false), ("binaryData", true)] };
    let mut values: Vec<DataValue> = Vec::new();
    for &(field, base64) in fields {
        for entry in obj.root.get(field).and_then(YamlNode::as_map).unwrap_or(&[]) {
            let pointer = format!("/{field}/{}", escape_pointer_token(&entry.key));
            let Some(text) = entry.value.as_str() else { continue };
            let bytes = if base64 {
                // Go's base64.StdEncoding, as the API server decodes `data`; kubectl and YAML
                // folding may leave whitespace, which the JSON decoder would reject too.
                match STANDARD.decode(text.trim()) {
                    Ok(b) => b,
                    Err(e) => {
                        out.push(Diagnostic::warning(
                            "invalid-base64",
                            obj.location(&pointer),
                            format!("{}: {field}.{} is not valid base64 ({e}); not scanned", obj.id, entry.key),
                        ));
                        continue;
                    }
                }
            } else {
                text.as_bytes().to_vec()
            };
            let value = DataValue { field: format!("{field}.{}", entry.key), key: entry.key.clone(), pointer, bytes };
            if secret && !base64 {
                values.retain(|v| v.key != value.key);
            }
            values.push(value);
        }
    }
    values
}

/// The `sub` claim of a JWT, read without verifying it (for messages only).
fn jwt_subject(token: &str) -> Option<String> {
    let payload = token.trim().split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

fn subject_note(token: &[u8]) -> String {
    std::str::from_utf8(token).ok().and_then(jwt_subject).map(|s| format!(" (a JWT for {s:?})")).unwrap_or_default()
}

/// Every credential finding and problem for one object (see [`applies_to`]).
#[must_use]
pub fn check(obj: &Object) -> (Vec<Finding>, Vec<Diagnostic>) {
    let mut findings = Vec::new();
    let mut diags = Vec::new();
    if is_core(obj, "Config") {
        let report = kubeconfig(&obj.root);
        for cred in report.credentials {
            let (rule, message) = cred.describe("kubeconfig");
            findings.push(Finding::about(rule, obj, cred.pointer.clone(), message));
        }
        for (pointer, message) in report.problems {
            diags.push(Diagnostic::warning("kubeconfig", obj.location(&pointer), format!("{}: {message}", obj.id)));
        }
        return (findings, diags);
    }
    if !applies_to(obj) {
        return (findings, diags);
    }
    let values = data_values(obj, &mut diags);
    if obj.kind() == "Secret" {
        let secret_type = obj.root.get("type").and_then(YamlNode::as_str).unwrap_or("");
        if secret_type == SA_TOKEN_TYPE {
            let sa = obj.annotation("kubernetes.io/service-account.name").unwrap_or("<unset>");
            findings.push(Finding::about(
                &LEGACY_SA_TOKEN,
                obj,
                "/type".to_owned(),
                format!("Secret of type {SA_TOKEN_TYPE} holds a non-expiring token for ServiceAccount {sa:?}"),
            ));
            for v in values.iter().filter(|v| v.key == "token" && !v.bytes.is_empty()) {
                findings.push(Finding::about(
                    &SA_TOKEN_IN_MANIFEST,
                    obj,
                    v.pointer.clone(),
                    format!("{} holds the bearer token of ServiceAccount {sa:?}{}", v.field, subject_note(&v.bytes)),
                ));
            }
        } else if secret_type == bootstrap::SECRET_TYPE {
            check_bootstrap(obj, &values, &mut findings);
        }
    }
    for v in &values {
        let Ok(text) = std::str::from_utf8(&v.bytes) else { continue };
        if !may_be_kubeconfig(text) {
            continue;
        }
        let where_ = format!("{} in {}", v.field, obj.id);
        match parse_kubeconfig(text) {
            Ok(None) => {}
            Ok(Some(root)) => {
                let report = kubeconfig(&root);
                let config_map = if obj.kind() == "ConfigMap" {
                    " (in a ConfigMap: readable by anyone who may read ConfigMaps)"
                } else {
                    ""
                };
                for cred in report.credentials {
                    let line = cred.line.map(|l| format!(", line {l} of the embedded kubeconfig")).unwrap_or_default();
                    let (rule, message) = cred.describe(&format!("kubeconfig in {}{line}{config_map}", v.field));
                    findings.push(Finding::about(rule, obj, v.pointer.clone(), message));
                }
                for (_, message) in report.problems {
                    diags.push(Diagnostic::warning(
                        "kubeconfig",
                        obj.location(&v.pointer),
                        format!("{where_}: {message}"),
                    ));
                }
            }
            Err(_) if !looks_like_kubeconfig(text) => {}
            Err(message) => diags.push(Diagnostic::warning(
                "kubeconfig",
                obj.location(&v.pointer),
                format!("{where_} looks like a kubeconfig but cannot be parsed: {message}; not scanned"),
            )),
        }
    }
    (findings, diags)
}

fn check_bootstrap(obj: &Object, values: &[DataValue], findings: &mut Vec<Finding>) {
    let get = |key: &str| values.iter().find(|v| v.key == key);
    let token_id = get("token-id").and_then(|v| std::str::from_utf8(&v.bytes).ok()).unwrap_or("<unset>");
    if let Some(usage) = get("usage-bootstrap-authentication")
        && usage.bytes == b"true"
        && get("expiration").is_none_or(|v| v.bytes.is_empty())
    {
        findings.push(Finding::about(
            &BOOTSTRAP_NO_EXPIRATION,
            obj,
            usage.pointer.clone(),
            format!(
                "bootstrap token {token_id:?} authenticates (usage-bootstrap-authentication) and has no expiration"
            ),
        ));
    }
    if let Some(secret) = get("token-secret").filter(|v| !v.bytes.is_empty()) {
        findings.push(Finding::about(
            &BOOTSTRAP_SECRET_IN_MANIFEST,
            obj,
            secret.pointer.clone(),
            format!("{} holds the secret half of bootstrap token {token_id:?}", secret.field),
        ));
    }
}

/// Whether a value is worth parsing as a kubeconfig: it mentions `users` and `clusters` or
/// `Config` (a cheap filter; [`parse_kubeconfig`] decides).
fn may_be_kubeconfig(text: &str) -> bool {
    text.contains("users") && (text.contains("clusters") || text.contains("Config"))
}

/// Whether text that failed to parse was meant as a kubeconfig (worth a warning): a line
/// `kind: Config`, or top-level `users:` and `clusters:` lines.
fn looks_like_kubeconfig(text: &str) -> bool {
    let top_key =
        |name: &str| text.lines().any(|l| l.strip_prefix(name).is_some_and(|r| r.trim_start().starts_with(':')));
    let kind_config = text.lines().any(|l| {
        let compact: String =
            l.chars().filter(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | ',' | '{' | '}')).collect();
        compact == "kind:Config"
    });
    kind_config || (top_key("users") && top_key("clusters"))
}

/// Parses embedded kubeconfig text: one YAML (or JSON) document, a mapping with `kind: Config` or
/// with `users` next to `clusters` or `contexts`. `Ok(None)`: valid YAML, but no kubeconfig.
fn parse_kubeconfig(text: &str) -> Result<Option<YamlNode>, String> {
    let mut docs = yaml::parse_documents(text).into_iter();
    let Some(doc) = docs.find(|d| !matches!(d.root, Ok(None))) else { return Ok(None) };
    let Some(root) = doc.root.map_err(|e| e.to_string())? else { return Ok(None) };
    let is_config = root.get("kind").and_then(YamlNode::as_str) == Some("Config")
        || (root.get("users").is_some() && (root.get("clusters").is_some() || root.get("contexts").is_some()));
    Ok((root.as_map().is_some() && is_config).then_some(root))
}

/// A credential found in a kubeconfig.
struct Credential {
    /// Pointer inside the kubeconfig (`/users/0/user/token`).
    pointer: String,
    /// Line of the field inside the kubeconfig.
    line: Option<u32>,
    /// `users[0] "admin"`.
    user: String,
    what: CredentialKind,
}

enum CredentialKind {
    /// A `system:masters` certificate (CN, groups) with its key embedded.
    Masters { cn: String, groups: Vec<String> },
    /// `client-key-data`, `token` or `password`, with a note.
    Embedded { field: &'static str, note: String },
}

impl Credential {
    fn describe(&self, context: &str) -> (&'static RuleMeta, String) {
        match &self.what {
            CredentialKind::Masters { cn, groups } => (
                &KUBECONFIG_MASTERS,
                format!(
                    "{context}: {} has client-certificate-data for CN={cn:?} O={groups:?} ({SYSTEM_MASTERS}: \
                     cluster-admin that RBAC cannot revoke) and its client-key-data",
                    self.user
                ),
            ),
            CredentialKind::Embedded { field, note } => {
                (&KUBECONFIG_CREDENTIALS, format!("{context}: {} embeds `{field}`{note}", self.user))
            }
        }
    }
}

/// What a kubeconfig holds.
#[derive(Default)]
struct KubeconfigReport {
    credentials: Vec<Credential>,
    /// (pointer, message): certificates that cannot be read, malformed users.
    problems: Vec<(String, String)>,
}

fn non_empty<'a>(user: &'a YamlNode, key: &str) -> Option<&'a YamlNode> {
    user.get(key).filter(|n| n.as_str().is_some_and(|s| !s.trim().is_empty()))
}

/// The credentials in a kubeconfig's `users` (as client-go reads `AuthInfo`: `client-certificate-data`
/// and `client-key-data` base64 PEM, `token`, `username`/`password`).
fn kubeconfig(root: &YamlNode) -> KubeconfigReport {
    let mut report = KubeconfigReport::default();
    let Some(users) = root.get("users") else { return report };
    let Some(users) = users.as_seq() else {
        report.problems.push(("/users".to_owned(), format!("users: expected a list, found a {}", users.type_name())));
        return report;
    };
    for (i, entry) in users.iter().enumerate() {
        let name = entry.get("name").and_then(YamlNode::as_str).unwrap_or("");
        let label = format!("users[{i}] {name:?}");
        let Some(user) = entry.get("user").filter(|u| u.as_map().is_some()) else { continue };
        let base = format!("/users/{i}/user");
        let at = |key: &str| (format!("{base}/{key}"), user.entry(key).map(|e| e.key_pos.line));
        let key_data = non_empty(user, "client-key-data");
        let mut masters = None;
        if let Some(cert) = non_empty(user, "client-certificate-data") {
            match certificate_identity(cert.as_str().unwrap_or("")) {
                Ok((cn, groups)) => {
                    if groups.iter().any(|g| g == SYSTEM_MASTERS) {
                        masters = Some((cn, groups));
                    }
                }
                Err(e) => report.problems.push((at("client-certificate-data").0, format!("{label}: {e}"))),
            }
        }
        if let (Some((cn, groups)), Some(_)) = (masters, key_data) {
            let (pointer, line) = at("client-certificate-data");
            report.credentials.push(Credential {
                pointer,
                line,
                user: label.clone(),
                what: CredentialKind::Masters { cn, groups },
            });
        } else if key_data.is_some() {
            let (pointer, line) = at("client-key-data");
            report.credentials.push(Credential {
                pointer,
                line,
                user: label.clone(),
                what: CredentialKind::Embedded { field: "client-key-data", note: String::new() },
            });
        }
        if let Some(token) = non_empty(user, "token") {
            let (pointer, line) = at("token");
            let note = subject_note(token.as_str().unwrap_or("").as_bytes());
            report.credentials.push(Credential {
                pointer,
                line,
                user: label.clone(),
                what: CredentialKind::Embedded { field: "token", note },
            });
        }
        if non_empty(user, "password").is_some() {
            let (pointer, line) = at("password");
            let username = user.get("username").and_then(YamlNode::as_str).unwrap_or("");
            report.credentials.push(Credential {
                pointer,
                line,
                user: label.clone(),
                what: CredentialKind::Embedded { field: "password", note: format!(" (basic auth for {username:?})") },
            });
        }
    }
    report
}

/// The CN and O values of the first certificate in base64 PEM `client-certificate-data`.
fn certificate_identity(data: &str) -> Result<(String, Vec<String>), String> {
    let pem = STANDARD
        .decode(data.trim())
        .map_err(|e| format!("client-certificate-data is not valid base64 ({e}); not checked"))?;
    let ders = x509::certificates_from_pem(&pem).map_err(|e| format!("client-certificate-data: {e}; not checked"))?;
    let der = ders.first().ok_or("client-certificate-data: no certificate; not checked")?;
    let info = pki::describe(der, 0).map_err(|e| format!("client-certificate-data: {e}; not checked"))?;
    Ok((info.user.unwrap_or_default(), info.groups))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn rules_are_well_formed() {
        let mut names = HashSet::new();
        for (i, r) in RULES.iter().enumerate() {
            assert_eq!(r.id, format!("CRED{:03}", i + 1));
            assert!(names.insert(r.name));
            assert!(!r.what.is_empty() && !r.why.is_empty() && !r.fix.is_empty() && !r.references.is_empty());
        }
    }

    #[test]
    fn jwt_subjects() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"system:serviceaccount:ns:sa"}"#);
        assert_eq!(
            jwt_subject(&format!("eyJhbGciOiJSUzI1NiJ9.{payload}.sig")).as_deref(),
            Some("system:serviceaccount:ns:sa")
        );
        assert_eq!(jwt_subject("abcdef.0123456789abcdef"), None);
        assert_eq!(jwt_subject("not a jwt"), None);
        assert_eq!(jwt_subject("a.%%%.c"), None);
    }

    #[test]
    fn kubeconfig_sniffing() {
        assert!(looks_like_kubeconfig("apiVersion: v1\nkind: Config\n"));
        assert!(looks_like_kubeconfig("{\n \"kind\": \"Config\",\n \"users\": []\n}"));
        assert!(looks_like_kubeconfig("clusters: []\nusers: []\n"));
        assert!(!looks_like_kubeconfig("password: hunter2\n"));
        assert!(!looks_like_kubeconfig("users and clusters are documented elsewhere"));
        assert!(may_be_kubeconfig("{\"clusters\": [], \"users\": []}"));
        assert!(!may_be_kubeconfig("users: []"));
        assert!(parse_kubeconfig("users: [\n").is_err());
        assert!(parse_kubeconfig("- users\n- clusters\n").unwrap().is_none());
        assert!(parse_kubeconfig("kind: Config\nusers: []\n").unwrap().is_some());
    }
}
