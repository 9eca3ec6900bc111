//! Wire formats: the review objects kube-apiserver sends, decoded once into the engines' types,
//! and the answers encoded back. Every decoding error names the field and what was expected.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use kguard_admission::{Gvk, Operation, Request, Response};
use kguard_request::UserInfo;

/// A request that cannot be evaluated: HTTP code, `Status` reason and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRequest {
    /// HTTP status code.
    pub code: u16,
    /// `BadRequest`, `NotFound`, `MethodNotAllowed`, `UnsupportedMediaType`, ...
    pub reason: &'static str,
    /// What is wrong.
    pub message: String,
}

impl BadRequest {
    /// 400 BadRequest.
    #[must_use]
    pub fn new(message: impl Into<String>) -> Self {
        Self { code: 400, reason: "BadRequest", message: message.into() }
    }
}

/// A `metav1.Status` body (failures).
#[must_use]
pub fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

/// Decodes a JSON body into a typed value; errors name the JSON path.
fn decode<T: serde::de::DeserializeOwned>(what: &str, value: Value) -> Result<T, BadRequest> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." { String::new() } else { format!(" at {path}") };
        BadRequest::new(format!("invalid {what}{at}: {}", e.inner()))
    })
}

/// Parses the body and checks `apiVersion`/`kind` against the accepted ones; returns the
/// apiVersion found (the answer uses the same).
fn envelope(body: &[u8], kind: &str, versions: &[&str]) -> Result<(Value, String), BadRequest> {
    let value: Value = serde_json::from_slice(body).map_err(|e| BadRequest::new(format!("malformed JSON: {e}")))?;
    let Some(obj) = value.as_object() else {
        return Err(BadRequest::new(format!("expected a {kind} object, found {}", type_name(&value))));
    };
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let found_kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    if found_kind != kind || !versions.contains(&api_version) {
        return Err(BadRequest::new(format!(
            "expected kind {kind} in apiVersion {}, found kind {found_kind:?} in apiVersion {api_version:?}",
            versions.join(" or ")
        )));
    }
    let api_version = api_version.to_owned();
    Ok((value, api_version))
}

/// A wire type that carries its own `kind` and `apiVersion`.
trait Enveloped {
    fn envelope(&self) -> (Option<&str>, Option<&str>);
}

/// Decodes a review in one pass from the bytes straight into its wire type (the common case);
/// anything unexpected (malformed JSON, wrong kind or version, a mistyped field) takes the
/// slower path through a [`Value`], whose errors name the problem and where it is.
fn review<T: serde::de::DeserializeOwned + Enveloped>(
    body: &[u8],
    kind: &str,
    versions: &[&str],
) -> Result<(T, String), BadRequest> {
    if let Ok(t) = serde_json::from_slice::<T>(body)
        && let (Some(k), Some(v)) = t.envelope()
        && k == kind
        && let Some(v) = versions.iter().find(|a| **a == v)
    {
        return Ok((t, (*v).to_owned()));
    }
    let (value, api_version) = envelope(body, kind, versions)?;
    Ok((decode(kind, value)?, api_version))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireUser {
    #[serde(default)]
    username: String,
    #[serde(default)]
    uid: String,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    extra: BTreeMap<String, Vec<String>>,
}

impl From<WireUser> for UserInfo {
    fn from(u: WireUser) -> Self {
        Self { name: u.username, uid: u.uid, groups: u.groups, extra: u.extra }
    }
}

#[derive(Deserialize)]
struct WireGvk {
    #[serde(default)]
    group: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    kind: String,
}

#[derive(Deserialize)]
struct WireGvr {
    #[serde(default)]
    group: String,
    #[serde(default)]
    version: String,
    resource: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAdmissionRequest {
    uid: String,
    kind: WireGvk,
    resource: WireGvr,
    #[serde(default)]
    sub_resource: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
    operation: String,
    #[serde(default)]
    user_info: Option<WireUser>,
    #[serde(default)]
    object: Option<Value>,
    #[serde(default)]
    old_object: Option<Value>,
    #[serde(default)]
    dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAdmissionReview {
    request: Option<WireAdmissionRequest>,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

impl Enveloped for WireAdmissionReview {
    fn envelope(&self) -> (Option<&str>, Option<&str>) {
        (self.kind.as_deref(), self.api_version.as_deref())
    }
}

/// A decoded `AdmissionReview`: the request and the apiVersion to answer in.
#[derive(Debug)]
pub struct AdmissionReview {
    /// The request.
    pub request: Request,
    /// `admission.k8s.io/v1` or `v1beta1`.
    pub api_version: String,
}

/// Decodes an `AdmissionReview` (admission.k8s.io/v1 or v1beta1).
///
/// # Errors
/// Malformed JSON, wrong kind, missing `request`/`uid`, an unknown operation, mistyped fields.
pub fn admission_review(body: &[u8]) -> Result<AdmissionReview, BadRequest> {
    let (review, api_version): (WireAdmissionReview, _) =
        review(body, "AdmissionReview", &["admission.k8s.io/v1", "admission.k8s.io/v1beta1"])?;
    let Some(r) = review.request else { return Err(BadRequest::new("AdmissionReview has no request")) };
    if r.uid.is_empty() {
        return Err(BadRequest::new("AdmissionReview request.uid is empty"));
    }
    let operation = Operation::parse(&r.operation).map_err(|e| BadRequest::new(format!("request.operation: {e}")))?;
    let nonnull = |v: Option<Value>| v.filter(|v| !v.is_null());
    let request = Request {
        uid: r.uid,
        kind: Gvk { group: r.kind.group, version: r.kind.version, name: r.kind.kind },
        resource: Gvk { group: r.resource.group, version: r.resource.version, name: r.resource.resource },
        sub_resource: r.sub_resource,
        name: r.name,
        namespace: r.namespace,
        operation,
        user: r.user_info.map(UserInfo::from).unwrap_or_default(),
        object: nonnull(r.object),
        old_object: nonnull(r.old_object),
        dry_run: r.dry_run.unwrap_or(false),
        pod_cache: kguard_admission::PodCache::default(),
    };
    Ok(AdmissionReview { request, api_version })
}

/// Encodes the answer to an `AdmissionReview`.
#[must_use]
pub fn admission_response(api_version: &str, uid: &str, r: &Response) -> Value {
    let mut response = json!({"uid": uid, "allowed": r.allowed});
    if let (Some(s), Some(obj)) = (&r.status, response.as_object_mut()) {
        obj.insert(
            "status".into(),
            json!({"metadata": {}, "status": "Failure", "message": s.message, "reason": s.reason, "code": s.code}),
        );
    }
    if let Some(obj) = response.as_object_mut() {
        if !r.patch.is_empty() {
            let patch = serde_json::to_vec(&r.patch).unwrap_or_default();
            obj.insert("patchType".into(), json!("JSONPatch"));
            obj.insert("patch".into(), json!(base64::engine::general_purpose::STANDARD.encode(patch)));
        }
        if !r.audit_annotations.is_empty() {
            obj.insert("auditAnnotations".into(), json!(r.audit_annotations));
        }
        if !r.warnings.is_empty() {
            obj.insert("warnings".into(), json!(r.warnings));
        }
    }
    json!({"apiVersion": api_version, "kind": "AdmissionReview", "response": response})
}

#[derive(Deserialize)]
struct WireImageReviewContainer {
    #[serde(default)]
    image: String,
}

#[derive(Deserialize)]
struct WireImageReviewSpec {
    #[serde(default)]
    containers: Vec<WireImageReviewContainer>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    namespace: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireImageReview {
    spec: WireImageReviewSpec,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

impl Enveloped for WireImageReview {
    fn envelope(&self) -> (Option<&str>, Option<&str>) {
        (self.kind.as_deref(), self.api_version.as_deref())
    }
}

/// A decoded `ImageReview`.
#[derive(Debug)]
pub struct ImageReview {
    /// Images, in order.
    pub images: Vec<String>,
    /// `*.image-policy.k8s.io/*` annotations.
    pub annotations: BTreeMap<String, String>,
    /// Namespace.
    pub namespace: String,
}

/// Decodes an `ImageReview` (imagepolicy.k8s.io/v1alpha1).
///
/// # Errors
/// Malformed JSON, wrong kind, mistyped fields.
pub fn image_review(body: &[u8]) -> Result<ImageReview, BadRequest> {
    let (r, _): (WireImageReview, _) = review(body, "ImageReview", &["imagepolicy.k8s.io/v1alpha1"])?;
    Ok(ImageReview {
        images: r.spec.containers.into_iter().map(|c| c.image).collect(),
        annotations: r.spec.annotations,
        namespace: r.spec.namespace,
    })
}

/// Encodes an `ImageReview` answer.
#[must_use]
pub fn image_review_response(allowed: bool, reason: &str, audit: &BTreeMap<String, String>) -> Value {
    let mut status = json!({"allowed": allowed});
    if let Some(obj) = status.as_object_mut() {
        if !reason.is_empty() {
            obj.insert("reason".into(), json!(reason));
        }
        if !audit.is_empty() {
            obj.insert("auditAnnotations".into(), json!(audit));
        }
    }
    json!({"apiVersion": "imagepolicy.k8s.io/v1alpha1", "kind": "ImageReview", "status": status})
}

#[derive(Deserialize)]
struct WireTokenReviewSpec {
    #[serde(default)]
    token: String,
    #[serde(default)]
    audiences: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTokenReview {
    spec: WireTokenReviewSpec,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

impl Enveloped for WireTokenReview {
    fn envelope(&self) -> (Option<&str>, Option<&str>) {
        (self.kind.as_deref(), self.api_version.as_deref())
    }
}

/// A decoded `TokenReview`.
#[derive(Debug)]
pub struct TokenReview {
    /// The bearer token.
    pub token: String,
    /// Requested audiences.
    pub audiences: Vec<String>,
    /// `authentication.k8s.io/v1` or `v1beta1`.
    pub api_version: String,
}

/// Decodes a `TokenReview`.
///
/// # Errors
/// Malformed JSON, wrong kind, mistyped fields.
pub fn token_review(body: &[u8]) -> Result<TokenReview, BadRequest> {
    let (r, api_version): (WireTokenReview, _) =
        review(body, "TokenReview", &["authentication.k8s.io/v1", "authentication.k8s.io/v1beta1"])?;
    Ok(TokenReview { token: r.spec.token, audiences: r.spec.audiences, api_version })
}

/// Encodes a `TokenReview` answer: the user when authenticated, else the error.
#[must_use]
pub fn token_review_response(api_version: &str, user: Option<&UserInfo>, audiences: &[String], error: &str) -> Value {
    let mut status = json!({"authenticated": user.is_some()});
    if let Some(obj) = status.as_object_mut() {
        if let Some(u) = user {
            let mut user = json!({"username": u.name, "groups": u.groups});
            if let Some(m) = user.as_object_mut() {
                if !u.uid.is_empty() {
                    m.insert("uid".into(), json!(u.uid));
                }
                if !u.extra.is_empty() {
                    m.insert("extra".into(), json!(u.extra));
                }
            }
            obj.insert("user".into(), user);
            if !audiences.is_empty() {
                obj.insert("audiences".into(), json!(audiences));
            }
        }
        if !error.is_empty() {
            obj.insert("error".into(), json!(error));
        }
    }
    json!({"apiVersion": api_version, "kind": "TokenReview", "status": status})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireResourceAttributes {
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    verb: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    resource: String,
    #[serde(default)]
    subresource: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    field_selector: Option<WireFieldSelector>,
}

#[derive(Deserialize)]
struct WireFieldSelector {
    #[serde(default)]
    requirements: Vec<WireRequirement>,
}

#[derive(Deserialize)]
struct WireRequirement {
    key: String,
    operator: String,
    #[serde(default)]
    values: Vec<String>,
}

#[derive(Deserialize)]
struct WireNonResourceAttributes {
    #[serde(default)]
    path: String,
    #[serde(default)]
    verb: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireSarSpec {
    resource_attributes: Option<WireResourceAttributes>,
    non_resource_attributes: Option<WireNonResourceAttributes>,
    #[serde(default)]
    user: String,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    uid: String,
    #[serde(default)]
    extra: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct WireSar {
    spec: WireSarSpec,
}

/// A decoded `SubjectAccessReview`: the attributes and the apiVersion to answer in.
#[derive(Debug)]
pub struct SubjectAccessReview {
    /// The request attributes.
    pub attributes: kguard_request::Attributes,
    /// `authorization.k8s.io/v1` or `v1beta1`.
    pub api_version: String,
}

/// Decodes a `SubjectAccessReview` (authorization.k8s.io/v1 or v1beta1).
///
/// # Errors
/// Malformed JSON, wrong kind, neither or both of resource and non-resource attributes.
pub fn subject_access_review(body: &[u8]) -> Result<SubjectAccessReview, BadRequest> {
    let (value, api_version) =
        envelope(body, "SubjectAccessReview", &["authorization.k8s.io/v1", "authorization.k8s.io/v1beta1"])?;
    // v1beta1 names the groups `group`.
    let value = if api_version.ends_with("v1beta1") {
        let mut v = value;
        if let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut)
            && let Some(g) = spec.remove("group")
        {
            spec.insert("groups".into(), g);
        }
        v
    } else {
        value
    };
    let r: WireSar = decode("SubjectAccessReview", value)?;
    let s = r.spec;
    let user = UserInfo { name: s.user, uid: s.uid, groups: s.groups, extra: s.extra };
    let attributes = match (s.resource_attributes, s.non_resource_attributes) {
        (Some(ra), None) => {
            let mut a =
                kguard_request::Attributes::resource(user, &ra.verb, &ra.group, &ra.resource, &ra.namespace, &ra.name);
            a.subresource = ra.subresource;
            if !ra.version.is_empty() {
                a.api_version = ra.version;
            }
            for req in ra.field_selector.map(|f| f.requirements).unwrap_or_default() {
                if matches!(req.operator.as_str(), "In" | "=" | "==") && req.values.len() == 1 {
                    a = a.with_field(&req.key, req.values.first().map_or("", String::as_str));
                }
            }
            a
        }
        (None, Some(na)) => kguard_request::Attributes::non_resource(user, &na.verb, &na.path),
        (Some(_), Some(_)) => {
            return Err(BadRequest::new("spec: resourceAttributes and nonResourceAttributes are mutually exclusive"));
        }
        (None, None) => {
            return Err(BadRequest::new(
                "spec: exactly one of resourceAttributes or nonResourceAttributes is required",
            ));
        }
    };
    Ok(SubjectAccessReview { attributes, api_version })
}

/// Encodes a `SubjectAccessReview` answer.
#[must_use]
pub fn subject_access_review_response(
    api_version: &str,
    allowed: bool,
    denied: bool,
    reason: &str,
    error: &str,
) -> Value {
    let mut status = json!({"allowed": allowed});
    if let Some(obj) = status.as_object_mut() {
        if denied {
            obj.insert("denied".into(), json!(true));
        }
        if !reason.is_empty() {
            obj.insert("reason".into(), json!(reason));
        }
        if !error.is_empty() {
            obj.insert("evaluationError".into(), json!(error));
        }
    }
    json!({"apiVersion": api_version, "kind": "SubjectAccessReview", "status": status})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_review_round_trip() {
        let body = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"42",
            "kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},
            "name":"p","namespace":"ns","operation":"CREATE","userInfo":{"username":"alice","groups":["g"]},
            "object":{"apiVersion":"v1","kind":"Pod"},"oldObject":null,"dryRun":true}}"#;
        let r = admission_review(body).unwrap();
        assert_eq!((r.request.uid.as_str(), r.request.user.name.as_str()), ("42", "alice"));
        assert!(r.request.dry_run && r.request.old_object.is_none());
        let out = admission_response(&r.api_version, &r.request.uid, &Response::allow());
        assert_eq!(
            out,
            json!({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"42","allowed":true}})
        );
    }

    #[test]
    fn bad_reviews_name_the_problem() {
        let e = admission_review(b"{").unwrap_err();
        assert!(e.message.starts_with("malformed JSON"), "{e:?}");
        let e = admission_review(br#"{"apiVersion":"v1","kind":"Pod"}"#).unwrap_err();
        assert!(e.message.contains("expected kind AdmissionReview"), "{e:?}");
        let e = admission_review(br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","kind":{},"resource":{"resource":"pods"},"operation":"PATCH"}}"#).unwrap_err();
        assert!(e.message.contains("unknown operation"), "{e:?}");
        let e = admission_review(br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","kind":{},"resource":{"resource":5},"operation":"CREATE"}}"#).unwrap_err();
        assert!(e.message.contains("request.resource.resource"), "{e:?}");
        let e = subject_access_review(
            br#"{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"a"}}"#,
        )
        .unwrap_err();
        assert!(e.message.contains("exactly one of"), "{e:?}");
        let e = token_review(br#"[1]"#).unwrap_err();
        assert!(e.message.contains("found an array"), "{e:?}");
    }

    #[test]
    fn sar_v1beta1_group_field() {
        let r = subject_access_review(br#"{"apiVersion":"authorization.k8s.io/v1beta1","kind":"SubjectAccessReview","spec":{"user":"a","group":["g"],"resourceAttributes":{"verb":"get","resource":"pods","namespace":"n"}}}"#).unwrap();
        assert_eq!(r.attributes.user.groups, vec!["g"]);
        assert_eq!(r.attributes.resource, "pods");
    }
}

#[cfg(test)]
mod robustness {
    use super::*;
    use kguard_admission::{self, Hardening, Inventory, Policies, image, mutate, podsecurity};

    /// Every prefix and many byte flips of valid reviews go through the decoders and, when they
    /// still decode, through admission: errors, never panics (the fuzz target does the same with
    /// libFuzzer's inputs).
    #[test]
    fn truncated_and_corrupted_reviews_never_panic() {
        let policies = Policies {
            pod_security: Some(podsecurity::Config::default()),
            hardening: Some(Hardening { min_severity: kguard_report::Severity::Low, deny: true, ignore: vec![] }),
            images: Some(image::Policy { forbid_latest: true, ..image::Policy::default() }),
            mutations: mutate::Mutations {
                seccomp_runtime_default: true,
                drop_all_capabilities: true,
                ..Default::default()
            },
            mesh_inject: None,
            psp: true,
            seccomp: None,
            apparmor: None,
        };
        let inputs: [&[u8]; 4] = [
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"name":"p","namespace":"n","operation":"CREATE","userInfo":{"username":"u"},"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"securityContext":{"runAsUser":0},"containers":[{"name":"c","image":"x","securityContext":{"privileged":true,"capabilities":{"add":["SYS_ADMIN"]}}}],"volumes":[{"name":"h","hostPath":{"path":"/"}}]}}}}"#,
            br#"{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"a","groups":["g"],"resourceAttributes":{"verb":"get","resource":"pods","namespace":"n","fieldSelector":{"requirements":[{"key":"spec.nodeName","operator":"In","values":["n1"]}]}}}}"#,
            br#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"a.b.c","audiences":["x"]}}"#,
            br#"{"apiVersion":"imagepolicy.k8s.io/v1alpha1","kind":"ImageReview","spec":{"containers":[{"image":"nginx"}],"namespace":"n"}}"#,
        ];
        let run = |data: &[u8]| {
            if let Ok(review) = admission_review(data) {
                let inv = Inventory::default();
                let v = kguard_admission::validate(&policies, &inv, &kguard_authz::AlwaysAllow, &review.request);
                let _ = kguard_admission::mutate(&policies, &inv, &kguard_authz::AlwaysAllow, &review.request);
                let _ = admission_response(&review.api_version, &review.request.uid, &v);
            }
            if let Ok(r) = image_review(data) {
                let _ = policies.images.as_ref().map(|p| p.check_all(r.images.iter().map(String::as_str)));
            }
            let _ = token_review(data);
            let _ = subject_access_review(data);
            let _ = crate::audit::event_lines(data);
        };
        for input in inputs {
            for end in 0..=input.len() {
                run(&input[..end]);
            }
            for i in 0..input.len() {
                for b in [b'"', b'{', b'0', b']', b'\\', 0xff] {
                    let mut v = input.to_vec();
                    v[i] = b;
                    run(&v);
                }
            }
        }
    }
}
