//! Service-account JWTs: created with the claims of a TokenRequest (bound tokens) and verified as
//! kube-apiserver's service-account token authenticator does.
//!
//! Verification: the token must be a JWS whose `alg` is an RSA or ECDSA algorithm (`none`, HMAC and
//! anything else are refused), signed by one of the public keys, issued by one of the accepted
//! issuers, for one of the accepted audiences (when any are configured), and valid at `now` within
//! [`LEEWAY_SECONDS`] of clock skew (`exp`, `nbf`, `iat`). Legacy secret-based tokens (issuer
//! `kubernetes/serviceaccount`, claims `kubernetes.io/serviceaccount/*`) are accepted too.
//!
//! As in kube-apiserver (go-jose), the claims are read once the signature verifies, each as what it
//! must be ([`Claims::from_json`]): a token whose signature is good but whose `exp` is `1e30` or a
//! string is refused for that claim ([`ClaimError`]), not for its signature.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::inventory::{Entry, Inventory, Kind};
use super::{ClaimError, KeyError, Outcome, PemError, UserInfo, secret_matches};
use kguard_model::text::go_quote;
use kguard_model::time::format_rfc3339 as rfc3339;
use kguard_request::ALL_SERVICE_ACCOUNTS;

/// Clock skew tolerated on `exp`, `nbf` and `iat` (go-jose's `DefaultLeeway`).
pub const LEEWAY_SECONDS: i64 = 60;

/// The issuer of legacy (secret-based) tokens.
pub const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";

/// A `{name, uid}` reference in the `kubernetes.io` claim.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    /// Name.
    pub name: String,
    /// UID.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
}

/// The private `kubernetes.io` claim of bound tokens.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaim {
    /// The service account's namespace.
    pub namespace: String,
    /// The service account.
    pub serviceaccount: ObjectRef,
    /// The pod the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef>,
    /// The secret the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectRef>,
    /// The node the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<ObjectRef>,
    /// When clients should warn that a (time-extended) token is stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnafter: Option<i64>,
}

/// `aud`: a string or a list of strings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// The claims of a service-account token, as TokenRequest issues them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer (`--service-account-issuer`).
    pub iss: String,
    /// `system:serviceaccount:<ns>:<name>`.
    pub sub: String,
    /// Audiences.
    #[serde(default, deserialize_with = "de_aud")]
    pub aud: Vec<String>,
    /// Expiry, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Token id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Bound-token claims.
    #[serde(rename = "kubernetes.io", default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesClaim>,
    /// Legacy: namespace.
    #[serde(rename = "kubernetes.io/serviceaccount/namespace", default, skip_serializing_if = "Option::is_none")]
    pub legacy_namespace: Option<String>,
    /// Legacy: service-account name.
    #[serde(
        rename = "kubernetes.io/serviceaccount/service-account.name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_name: Option<String>,
    /// Legacy: service-account UID.
    #[serde(
        rename = "kubernetes.io/serviceaccount/service-account.uid",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_uid: Option<String>,
    /// Legacy: secret name.
    #[serde(rename = "kubernetes.io/serviceaccount/secret.name", default, skip_serializing_if = "Option::is_none")]
    pub legacy_secret: Option<String>,
}

type JsonMap = serde_json::Map<String, serde_json::Value>;

/// "a string", "an array", …: a JSON value's type for messages.
const fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The non-null value of `key`.
fn field<'m>(m: &'m JsonMap, key: &str) -> Option<&'m serde_json::Value> {
    m.get(key).filter(|v| !v.is_null())
}

/// A string claim (absent or null: `None`, as Go leaves the field empty).
fn str_claim(m: &JsonMap, key: &str, claim: &str) -> Result<Option<String>, ClaimError> {
    match field(m, key) {
        None => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(ClaimError::Type { claim: claim.to_owned(), expected: "a string", found: json_type(v) }),
    }
}

/// A NumericDate claim as go-jose reads it: any JSON number, a fraction truncated toward zero; a
/// number outside 64-bit seconds is refused (Go's float-to-int conversion of it is undefined).
fn numeric_date(m: &JsonMap, key: &str, claim: &str) -> Result<Option<i64>, ClaimError> {
    // 2^63 as f64: the first float that does not fit an i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    let v = match field(m, key) {
        None => return Ok(None),
        Some(serde_json::Value::Number(n)) => n,
        Some(v) => {
            return Err(ClaimError::Type {
                claim: claim.to_owned(),
                expected: "a number (a NumericDate)",
                found: json_type(v),
            });
        }
    };
    if let Some(i) = v.as_i64() {
        return Ok(Some(i));
    }
    match v.as_f64() {
        #[allow(clippy::cast_possible_truncation)] // in range, and truncation is what Go does
        Some(f) if v.as_u64().is_none() && f.is_finite() && (-LIMIT..LIMIT).contains(&f) => Ok(Some(f.trunc() as i64)),
        _ => Err(ClaimError::OutOfRange { claim: claim.to_owned(), value: v.to_string() }),
    }
}

fn object_ref(m: &JsonMap, key: &str, claim: &str) -> Result<Option<ObjectRef>, ClaimError> {
    let r = match field(m, key) {
        None => return Ok(None),
        Some(serde_json::Value::Object(r)) => r,
        Some(v) => {
            return Err(ClaimError::Type { claim: claim.to_owned(), expected: "an object", found: json_type(v) });
        }
    };
    Ok(Some(ObjectRef {
        name: str_claim(r, "name", &format!("{claim}.name"))?.unwrap_or_default(),
        uid: str_claim(r, "uid", &format!("{claim}.uid"))?.unwrap_or_default(),
    }))
}

impl Claims {
    /// Reads the claims of a token payload (JSON), each of the type kube-apiserver reads it as;
    /// unknown claims are ignored.
    ///
    /// # Errors
    /// The first claim of the wrong type or out of range, or a payload that is not a JSON object.
    pub fn from_json(payload: &[u8]) -> Result<Self, ClaimError> {
        let m: JsonMap = serde_json::from_slice(payload).map_err(|e| ClaimError::Payload(e.to_string()))?;
        let aud = match field(&m, "aud") {
            None => Vec::new(),
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            Some(serde_json::Value::Array(items)) if items.iter().all(serde_json::Value::is_string) => {
                items.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect()
            }
            Some(v) => {
                return Err(ClaimError::Type {
                    claim: "aud".to_owned(),
                    expected: "a string or an array of strings",
                    found: if v.is_array() { "an array with a non-string item" } else { json_type(v) },
                });
            }
        };
        let kubernetes = match field(&m, "kubernetes.io") {
            None => None,
            Some(serde_json::Value::Object(k)) => Some(KubernetesClaim {
                namespace: str_claim(k, "namespace", "kubernetes.io.namespace")?.unwrap_or_default(),
                serviceaccount: object_ref(k, "serviceaccount", "kubernetes.io.serviceaccount")?.unwrap_or_default(),
                pod: object_ref(k, "pod", "kubernetes.io.pod")?,
                secret: object_ref(k, "secret", "kubernetes.io.secret")?,
                node: object_ref(k, "node", "kubernetes.io.node")?,
                warnafter: numeric_date(k, "warnafter", "kubernetes.io.warnafter")?,
            }),
            Some(v) => {
                return Err(ClaimError::Type {
                    claim: "kubernetes.io".to_owned(),
                    expected: "an object",
                    found: json_type(v),
                });
            }
        };
        let legacy = |k: &str| {
            str_claim(&m, &format!("kubernetes.io/serviceaccount/{k}"), &format!("kubernetes.io/serviceaccount/{k}"))
        };
        Ok(Self {
            iss: str_claim(&m, "iss", "iss")?.unwrap_or_default(),
            sub: str_claim(&m, "sub", "sub")?.unwrap_or_default(),
            aud,
            exp: numeric_date(&m, "exp", "exp")?,
            iat: numeric_date(&m, "iat", "iat")?,
            nbf: numeric_date(&m, "nbf", "nbf")?,
            jti: str_claim(&m, "jti", "jti")?,
            kubernetes,
            legacy_namespace: legacy("namespace")?,
            legacy_name: legacy("service-account.name")?,
            legacy_uid: legacy("service-account.uid")?,
            legacy_secret: legacy("secret.name")?,
        })
    }
}

fn de_aud<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Audience::deserialize(d)? {
        Audience::One(s) => vec![s],
        Audience::Many(v) => v,
    })
}

/// What `kguard authn token create` asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenRequest {
    /// Namespace of the service account.
    pub namespace: String,
    /// Name of the service account.
    pub name: String,
    /// UID of the service account (omitted when empty).
    pub uid: String,
    /// Audiences (`aud`).
    pub audiences: Vec<String>,
    /// Issuer (`iss`).
    pub issuer: String,
    /// Issue time, Unix seconds (`iat` and `nbf`).
    pub now: i64,
    /// Lifetime in seconds (`exp = now + duration`).
    pub duration_seconds: i64,
    /// Bound pod, if any.
    pub pod: Option<ObjectRef>,
    /// Token id (`jti`), e.g. a random UUID; omitted when empty.
    pub jti: String,
}

impl TokenRequest {
    /// The claims TokenRequest would put in the token.
    #[must_use]
    pub fn claims(&self) -> Claims {
        Claims {
            iss: self.issuer.clone(),
            sub: format!("system:serviceaccount:{}:{}", self.namespace, self.name),
            aud: self.audiences.clone(),
            exp: Some(self.now.saturating_add(self.duration_seconds)),
            iat: Some(self.now),
            nbf: Some(self.now),
            jti: (!self.jti.is_empty()).then(|| self.jti.clone()),
            kubernetes: Some(KubernetesClaim {
                namespace: self.namespace.clone(),
                serviceaccount: ObjectRef { name: self.name.clone(), uid: self.uid.clone() },
                pod: self.pod.clone(),
                ..KubernetesClaim::default()
            }),
            ..Claims::default()
        }
    }
}

/// Signs `claims` with the PKCS#8 (or PKCS#1 RSA) private key `key_pem`: ES256 for P-256 keys,
/// RS256 for RSA keys.
///
/// # Errors
/// When the key is neither.
pub fn sign(claims: &Claims, key_pem: &[u8]) -> Result<String, KeyError> {
    let mut last = String::new();
    for alg in [Algorithm::ES256, Algorithm::RS256] {
        let key = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_pem(key_pem),
            _ => EncodingKey::from_rsa_pem(key_pem),
        };
        match key.and_then(|k| jsonwebtoken::encode(&Header::new(alg), claims, &k)) {
            Ok(token) => return Ok(token),
            Err(e) => last = e.to_string(),
        }
    }
    Err(KeyError::Signing(last))
}

/// Verifies service-account tokens.
#[derive(Clone, Default)]
pub struct Verifier {
    keys: Vec<(DecodingKey, bool)>,
    /// Accepted issuers; a token from another issuer is not recognised.
    pub issuers: Vec<String>,
    /// Accepted audiences (`--api-audiences`); empty accepts any.
    pub audiences: Vec<String>,
    /// The objects bound tokens are looked up in; `None` skips the lookups (kube-apiserver always
    /// makes them: without an inventory kguard cannot tell a revoked token from a valid one).
    pub inventory: Option<Inventory>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("keys", &self.keys.len())
            .field("issuers", &self.issuers)
            .field("audiences", &self.audiences)
            .field("inventory", &self.inventory.as_ref().map(Inventory::len))
            .finish()
    }
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";

impl Verifier {
    /// A verifier for `issuers` and `audiences` with no keys yet.
    #[must_use]
    pub fn new(issuers: Vec<String>, audiences: Vec<String>) -> Self {
        Self { keys: Vec::new(), issuers, audiences, inventory: None }
    }

    /// Adds every public key in `pem`: `PUBLIC KEY` (RSA or EC), `RSA PUBLIC KEY`, or a
    /// `CERTIFICATE`'s key. Returns how many were added.
    ///
    /// # Errors
    /// Malformed blocks, private keys (derive the public key first), or no key at all.
    pub fn add_public_keys_pem(&mut self, pem: &[u8]) -> Result<usize, KeyError> {
        let mut added = 0;
        for block in x509_parser::pem::Pem::iter_from_buffer(pem) {
            let block = block.map_err(|e| PemError::Pem(e.to_string()))?;
            let spki_der: Vec<u8> = match block.label.as_str() {
                "PUBLIC KEY" => block.contents.clone(),
                "RSA PUBLIC KEY" => {
                    self.keys.push((DecodingKey::from_rsa_der(&block.contents), false));
                    added += 1;
                    continue;
                }
                "CERTIFICATE" => {
                    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&block.contents)
                        .map_err(|e| PemError::Der(e.to_string()))?;
                    cert.public_key().raw.to_vec()
                }
                l if l.contains("PRIVATE KEY") => {
                    return Err(KeyError::PrivateKey(l.to_owned()));
                }
                _ => continue,
            };
            let (_, spki) =
                SubjectPublicKeyInfo::from_der(&spki_der).map_err(|e| KeyError::PublicKey(e.to_string()))?;
            let key_bits: &[u8] = &spki.subject_public_key.data;
            match spki.algorithm.algorithm.to_id_string().as_str() {
                OID_RSA => self.keys.push((DecodingKey::from_rsa_der(key_bits), false)),
                OID_EC => self.keys.push((DecodingKey::from_ec_der(key_bits), true)),
                other => return Err(KeyError::Algorithm(other.to_owned())),
            }
            added += 1;
        }
        if added == 0 {
            return Err(KeyError::NoPublicKey);
        }
        Ok(added)
    }

    /// The same keys and issuers, accepting `audiences` instead (a TokenReview's requested
    /// audiences).
    #[must_use]
    pub fn with_audiences(&self, audiences: Vec<String>) -> Self {
        Self { keys: self.keys.clone(), issuers: self.issuers.clone(), audiences, inventory: self.inventory.clone() }
    }

    /// How many keys the verifier holds.
    #[must_use]
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Verifies `token` at `now` (Unix seconds).
    ///
    /// Not a JWT, or from another issuer: [`Outcome::NotRecognized`]. Any other failure:
    /// [`Outcome::Rejected`] with the reason.
    #[must_use]
    pub fn verify(&self, token: &str, now: i64) -> Outcome {
        let parts: Vec<&str> = token.split('.').collect();
        let [header_b64, payload_b64, sig] = parts.as_slice() else {
            return Outcome::NotRecognized("not a JWT (expected three dot-separated parts)".to_owned());
        };
        let Some(header) = decode_json(header_b64) else {
            return Outcome::NotRecognized("not a JWT (the header is not base64url JSON)".to_owned());
        };
        let Some(payload_json) = decode_b64(payload_b64) else {
            return Outcome::NotRecognized("not a JWT (the payload is not base64url JSON)".to_owned());
        };
        let Some(iss) = unverified_issuer(&payload_json) else {
            return Outcome::NotRecognized("not a JWT (the payload is not base64url JSON)".to_owned());
        };
        let iss = iss.as_str();
        if !self.issuers.iter().any(|i| i == iss) {
            return Outcome::NotRecognized(format!(
                "token issuer {iss:?} is not one of the accepted issuers {:?}",
                self.issuers
            ));
        }
        let alg_name = header.get("alg").and_then(serde_json::Value::as_str).unwrap_or_default();
        let alg = match alg_name {
            "RS256" => Algorithm::RS256,
            "RS384" => Algorithm::RS384,
            "RS512" => Algorithm::RS512,
            "PS256" => Algorithm::PS256,
            "PS384" => Algorithm::PS384,
            "PS512" => Algorithm::PS512,
            "ES256" => Algorithm::ES256,
            "ES384" => Algorithm::ES384,
            "none" | "None" | "NONE" | "" => {
                return Outcome::Rejected(format!("token is unsigned (alg {alg_name:?}): refused"));
            }
            other => {
                return Outcome::Rejected(format!(
                    "token signing algorithm {other:?} is not allowed (only RSA and ECDSA signatures are)"
                ));
            }
        };
        let ec = matches!(alg, Algorithm::ES256 | Algorithm::ES384);
        let mut validation = Validation::new(alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let candidates: Vec<&DecodingKey> =
            self.keys.iter().filter(|(_, is_ec)| *is_ec == ec).map(|(k, _)| k).collect();
        if candidates.is_empty() {
            return Outcome::Rejected(format!(
                "no {} public key to verify a {alg_name} token",
                if ec { "ECDSA" } else { "RSA" }
            ));
        }
        let message = format!("{header_b64}.{payload_b64}");
        if !candidates.into_iter().any(|key| signature_verifies(token, &message, sig, key, alg, &validation)) {
            return Outcome::Rejected(format!(
                "token signature ({alg_name}) does not verify with any of the {} service-account key(s)",
                self.keys.len()
            ));
        }
        // Signed by one of our keys: now the claims are read, each as what it must be.
        let claims = match Claims::from_json(&payload_json) {
            Ok(c) => c,
            Err(e) => return Outcome::Rejected(e.to_string()),
        };
        match self.check_claims(&claims, token, now) {
            Ok(user) => Outcome::Authenticated(user),
            Err(reason) => Outcome::Rejected(reason),
        }
    }

    fn check_claims(&self, c: &Claims, token: &str, now: i64) -> Result<UserInfo, String> {
        if let Some(exp) = c.exp
            && now > exp.saturating_add(LEEWAY_SECONDS)
        {
            return Err(format!("token has expired (exp {}, now {})", rfc3339(exp), rfc3339(now)));
        }
        if let Some(nbf) = c.nbf
            && now < nbf.saturating_sub(LEEWAY_SECONDS)
        {
            return Err(format!("token is not valid yet (nbf {}, now {})", rfc3339(nbf), rfc3339(now)));
        }
        if let Some(iat) = c.iat
            && now < iat.saturating_sub(LEEWAY_SECONDS)
        {
            return Err(format!("token was issued in the future (iat {}, now {})", rfc3339(iat), rfc3339(now)));
        }
        if !self.audiences.is_empty() && !c.aud.iter().any(|a| self.audiences.contains(a)) {
            return Err(format!(
                "token audiences {:?} is invalid for the target audiences {:?}",
                c.aud, self.audiences
            ));
        }
        let (namespace, name, uid) = if let Some(k) = &c.kubernetes {
            (k.namespace.clone(), k.serviceaccount.name.clone(), k.serviceaccount.uid.clone())
        } else if c.iss == LEGACY_ISSUER {
            (
                c.legacy_namespace.clone().unwrap_or_default(),
                c.legacy_name.clone().unwrap_or_default(),
                c.legacy_uid.clone().unwrap_or_default(),
            )
        } else {
            return Err("token has no kubernetes.io claim (namespace and service account)".to_owned());
        };
        if namespace.is_empty() || name.is_empty() {
            return Err("token names no namespace or service account".to_owned());
        }
        let username = format!("system:serviceaccount:{namespace}:{name}");
        if c.sub != username {
            return Err(format!("token subject {:?} does not match its service account {username:?}", c.sub));
        }
        if c.kubernetes.is_none() && c.exp.is_none() && c.iss != LEGACY_ISSUER {
            return Err("token has no expiry".to_owned());
        }
        if let Some(inventory) = &self.inventory {
            match &c.kubernetes {
                Some(k) => lookup_bound(inventory, k, now)?,
                None => lookup_legacy(inventory, c, token, &namespace, &name, &uid)?,
            }
        }
        let mut user =
            UserInfo::new(username, [ALL_SERVICE_ACCOUNTS.to_owned(), format!("{ALL_SERVICE_ACCOUNTS}:{namespace}")]);
        user.uid = uid;
        if let Some(k) = &c.kubernetes {
            let mut extra = |key: &str, v: &str| {
                if !v.is_empty() {
                    user.extra.insert(format!("authentication.kubernetes.io/{key}"), vec![v.to_owned()]);
                }
            };
            if let Some(pod) = &k.pod {
                extra("pod-name", &pod.name);
                extra("pod-uid", &pod.uid);
            }
            if let Some(node) = &k.node {
                extra("node-name", &node.name);
                extra("node-uid", &node.uid);
            }
            if let Some(jti) = &c.jti {
                extra("credential-id", &format!("JTI={jti}"));
            }
        }
        Ok(user)
    }
}

/// What a failed lookup of a bound object says (upstream's `errors.New`).
const INVALIDATED: &str = "service account token has been invalidated";

/// The error of a Get that finds nothing (`serviceaccounts "x" not found`).
fn not_found(resource: &str, name: &str) -> String {
    format!("{resource} {} not found", go_quote(name))
}

/// The lookups of a bound token (pkg/serviceaccount/claims.go `validator.Validate`): the service
/// account (error, UID, deletion), then the secret and the pod it is bound to, or the node when it
/// is bound to no pod. Objects deleted more than [`LEEWAY_SECONDS`] ago count as gone.
fn lookup_bound(inv: &Inventory, k: &KubernetesClaim, now: i64) -> Result<(), String> {
    let deleted = |e: &Entry| e.deletion_timestamp.is_some_and(|t| t < now - LEEWAY_SECONDS);
    let ns = k.namespace.as_str();
    let sa_ref = &k.serviceaccount;
    let sa =
        inv.get(Kind::ServiceAccount, ns, &sa_ref.name).ok_or_else(|| not_found("serviceaccounts", &sa_ref.name))?;
    if sa.uid != sa_ref.uid {
        return Err(format!("service account UID ({}) does not match claim ({})", sa.uid, sa_ref.uid));
    }
    if deleted(sa) {
        return Err(format!("service account {ns}/{} has been deleted", sa_ref.name));
    }
    let bound = |kind: Kind, r: &ObjectRef, what: &str| -> Result<(), String> {
        let e = inv.get(kind, ns, &r.name).ok_or(INVALIDATED)?;
        if e.uid != r.uid {
            return Err(format!("{what} UID ({}) does not match service account {what} ref claim ({})", e.uid, r.uid));
        }
        if deleted(e) {
            return Err(INVALIDATED.to_owned());
        }
        Ok(())
    };
    if let Some(secret) = &k.secret {
        bound(Kind::Secret, secret, "secret")?;
    }
    if let Some(pod) = &k.pod {
        bound(Kind::Pod, pod, "pod")?;
    } else if let Some(node) = &k.node {
        bound(Kind::Node, node, "node")?;
    }
    Ok(())
}

/// The lookups of a legacy secret-based token (pkg/serviceaccount/legacy.go): the Secret must
/// exist, not be deleting, and hold this very token; the service account must exist with the UID
/// of the claim; the Secret must not carry the legacy-token cleaner's invalid-since label.
fn lookup_legacy(inv: &Inventory, c: &Claims, token: &str, ns: &str, name: &str, uid: &str) -> Result<(), String> {
    let secret_name = c.legacy_secret.as_deref().unwrap_or_default();
    let secret = inv
        .get(Kind::Secret, ns, secret_name)
        .filter(|s| s.deletion_timestamp.is_none())
        .ok_or("Token has been invalidated")?;
    if !secret_matches(secret.token.as_deref().unwrap_or_default(), token.as_bytes()) {
        return Err("Token does not match server's copy".to_owned());
    }
    let sa = inv.get(Kind::ServiceAccount, ns, name).ok_or_else(|| not_found("serviceaccounts", name))?;
    if sa.deletion_timestamp.is_some() {
        return Err(format!("ServiceAccount {ns}/{name} has been deleted"));
    }
    if sa.uid != uid {
        return Err(format!("ServiceAccount UID ({}) does not match claim ({uid})", sa.uid));
    }
    if secret.invalid_since {
        return Err(format!(
            "the token in secret {ns}/{secret_name} for service account {ns}/{name} has been marked invalid. Use \
             tokens from the TokenRequest API or manually created secret-based tokens, or remove the '{}' label \
             from the secret to temporarily allow use of this token",
            super::inventory::INVALID_SINCE_LABEL
        ));
    }
    Ok(())
}

fn decode_b64(part: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()
}

fn decode_json(part: &str) -> Option<JsonMap> {
    serde_json::from_slice(&decode_b64(part)?).ok()
}

/// The `iss` of a payload before its signature is checked (kube-apiserver's `hasCorrectIssuer`):
/// `""` when absent or not a string. `None` when the payload is not a JSON object.
fn unverified_issuer(payload: &[u8]) -> Option<String> {
    /// Only `iss` is read; other claims are only checked for JSON syntax (so that a number JSON
    /// cannot represent, e.g. `exp: 1e400`, is judged after the signature, as upstream does).
    #[derive(Deserialize)]
    struct Unverified {
        #[serde(default)]
        iss: Option<String>,
    }
    match serde_json::from_slice::<JsonMap>(payload) {
        Ok(m) => Some(m.get("iss").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned()),
        Err(_) => serde_json::from_slice::<Unverified>(payload).ok().map(|u| u.iss.unwrap_or_default()),
    }
}

/// Whether `key` verifies the token's signature. jsonwebtoken checks the header, the signature,
/// then reads `exp`/`nbf`/`aud` its own way: when only that last reading fails (a JSON error
/// on the claims, the header being fine), the signature is checked alone, and the claims are
/// judged by [`Claims::from_json`].
fn signature_verifies(
    token: &str,
    message: &str,
    sig: &str,
    key: &DecodingKey,
    alg: Algorithm,
    validation: &Validation,
) -> bool {
    match jsonwebtoken::decode::<serde::de::IgnoredAny>(token, key, validation) {
        Ok(_) => true,
        Err(e)
            if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::Json(_))
                && jsonwebtoken::decode_header(token).is_ok() =>
        {
            jsonwebtoken::crypto::verify(sig, message.as_bytes(), key, alg).unwrap_or(false)
        }
        Err(_) => false,
    }
}
