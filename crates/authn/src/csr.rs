//! The CertificateSigningRequest API's logic (certificates.k8s.io/v1), on CSR objects as JSON:
//! kubectl's approve/deny conditions and the built-in signers' checks before signing.

use serde_json::{Value, json};

use crate::CsrError;

use super::pki::{CsrInfo, parse_csr_pem};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// `kubernetes.io/kube-apiserver-client`.
pub const KUBE_APISERVER_CLIENT: &str = "kubernetes.io/kube-apiserver-client";
/// `kubernetes.io/kube-apiserver-client-kubelet`.
pub const KUBELET_CLIENT: &str = "kubernetes.io/kube-apiserver-client-kubelet";
/// `kubernetes.io/kubelet-serving`.
pub const KUBELET_SERVING: &str = "kubernetes.io/kubelet-serving";
/// `kubernetes.io/legacy-unknown` (v1beta1 only; never signed).
pub const LEGACY_UNKNOWN: &str = "kubernetes.io/legacy-unknown";

/// An approval decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// `kubectl certificate approve`.
    Approve,
    /// `kubectl certificate deny`.
    Deny,
}

fn conditions(csr: &Value) -> Vec<&Value> {
    csr.pointer("/status/conditions").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default()
}

/// Whether the CSR has a condition of `kind` with status True (the default).
#[must_use]
pub fn has_condition(csr: &Value, kind: &str) -> bool {
    conditions(csr).iter().any(|c| {
        c.get("type").and_then(Value::as_str) == Some(kind)
            && c.get("status").and_then(Value::as_str).is_none_or(|s| s == "True")
    })
}

/// Appends kubectl's Approved/Denied condition (`now` is an RFC 3339 time). Like kubectl, a CSR
/// that already has the condition is left alone unless `force`; Approved and Denied exclude
/// each other (the API server's validation).
///
/// # Errors
/// Not a CSR object, already decided the other way, or already decided this way without `force`.
pub fn decide(csr: &mut Value, decision: Decision, force: bool, now: &str) -> Result<(), CsrError> {
    if csr.get("kind").and_then(Value::as_str) != Some("CertificateSigningRequest") {
        return Err(CsrError::NotCsr);
    }
    let (kind, other, reason, message) = match decision {
        Decision::Approve => {
            ("Approved", "Denied", "KubectlApprove", "This CSR was approved by kubectl certificate approve.")
        }
        Decision::Deny => ("Denied", "Approved", "KubectlDeny", "This CSR was denied by kubectl certificate deny."),
    };
    if has_condition(csr, other) {
        return Err(CsrError::Conflicting(other.to_lowercase()));
    }
    if has_condition(csr, kind) && !force {
        return Err(CsrError::AlreadyDecided(kind.to_lowercase()));
    }
    let cond = json!({"type": kind, "status": "True", "reason": reason, "message": message,
        "lastUpdateTime": now, "lastTransitionTime": now});
    let Some(obj) = csr.as_object_mut() else { return Err(CsrError::NotCsr) };
    let status = obj.entry("status").or_insert_with(|| json!({}));
    if !status.is_object() {
        *status = json!({});
    }
    if let Some(st) = status.as_object_mut() {
        let list = st.entry("conditions").or_insert_with(|| json!([]));
        if !list.is_array() {
            *list = json!([]);
        }
        if let Some(arr) = list.as_array_mut() {
            arr.retain(|c| c.get("type").and_then(Value::as_str) != Some(kind));
            arr.push(cond);
        }
    }
    Ok(())
}

/// The CSR's PEM request (spec.request, base64).
///
/// # Errors
/// Missing or not base64.
pub fn request_pem(csr: &Value) -> Result<Vec<u8>, CsrError> {
    let b64 = csr.pointer("/spec/request").and_then(Value::as_str).ok_or(CsrError::NoRequest)?;
    STANDARD.decode(b64.trim()).map_err(|e| CsrError::RequestEncoding(e.to_string()))
}

fn usages(csr: &Value) -> Vec<String> {
    csr.pointer("/spec/usages")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn same_set(have: &[String], want: &[&str]) -> bool {
    have.len() == want.len() && want.iter().all(|w| have.iter().any(|h| h == w))
}

/// What the signer would put in the certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningPlan {
    /// The parsed, signature-checked request.
    pub request: CsrInfo,
    /// The signer.
    pub signer: String,
    /// `client auth` requested.
    pub client_auth: bool,
    /// `server auth` requested.
    pub server_auth: bool,
    /// `spec.expirationSeconds`, if set.
    pub expiration_seconds: Option<i64>,
}

/// Checks that `csr` may be signed: Approved, not Denied or Failed, a request whose signature
/// verifies, and the built-in signer's constraints. The error is the `Failed` condition's message
/// (reason `SignerValidationFailure`) when it is a signer check.
///
/// # Errors
/// Why the CSR cannot be signed.
pub fn plan(csr: &Value) -> Result<SigningPlan, CsrError> {
    if !has_condition(csr, "Approved") {
        return Err(CsrError::NotApproved);
    }
    if has_condition(csr, "Denied") || has_condition(csr, "Failed") {
        return Err(CsrError::DeniedOrFailed);
    }
    if csr.pointer("/status/certificate").and_then(Value::as_str).is_some_and(|c| !c.is_empty()) {
        return Err(CsrError::AlreadySigned);
    }
    let signer = csr.pointer("/spec/signerName").and_then(Value::as_str).unwrap_or_default().to_owned();
    let request = parse_csr_pem(&request_pem(csr)?)?;
    let u = usages(csr);
    let expiration_seconds = csr.pointer("/spec/expirationSeconds").and_then(Value::as_i64);
    if let Some(e) = expiration_seconds
        && e < 600
    {
        return Err(CsrError::Signer(format!("spec.expirationSeconds {e} is below the minimum of 600")));
    }
    let nodes = || -> Result<(), CsrError> {
        if request.organizations != ["system:nodes"] {
            return Err(CsrError::Signer("subject organization is not system:nodes".to_owned()));
        }
        if !request.common_name.as_deref().unwrap_or_default().starts_with("system:node:") {
            return Err(CsrError::Signer("subject common name does not begin with system:node:".to_owned()));
        }
        Ok(())
    };
    let kind = |p: &str| request.sans.iter().any(|s| s.starts_with(p));
    match signer.as_str() {
        KUBE_APISERVER_CLIENT => {
            let allowed = ["digital signature", "key encipherment", "client auth"];
            if !u.iter().all(|x| allowed.contains(&x.as_str())) || !u.iter().any(|x| x == "client auth") {
                return Err(CsrError::Signer(format!("usages did not match {allowed:?}")));
            }
        }
        KUBELET_CLIENT => {
            nodes()?;
            if kind("DNS:") || kind("IP:") || kind("email:") || kind("URI:") {
                return Err(CsrError::Signer("DNS, email, IP and URI subjectAltNames are not allowed".to_owned()));
            }
            if !same_set(&u, &["digital signature", "key encipherment", "client auth"])
                && !same_set(&u, &["digital signature", "client auth"])
            {
                return Err(CsrError::Signer(format!(
                    "usages did not match {:?}",
                    ["digital signature", "key encipherment", "client auth"]
                )));
            }
        }
        KUBELET_SERVING => {
            nodes()?;
            if !kind("DNS:") && !kind("IP:") {
                return Err(CsrError::Signer("DNS or IP subjectAltName is required".to_owned()));
            }
            if kind("email:") || kind("URI:") {
                return Err(CsrError::Signer("email and URI subjectAltNames are not allowed".to_owned()));
            }
            if !same_set(&u, &["digital signature", "key encipherment", "server auth"])
                && !same_set(&u, &["digital signature", "server auth"])
            {
                return Err(CsrError::Signer(format!(
                    "usages did not match {:?}",
                    ["digital signature", "key encipherment", "server auth"]
                )));
            }
        }
        LEGACY_UNKNOWN => return Err(CsrError::Signer("kubernetes.io/legacy-unknown is never signed".to_owned())),
        other => return Err(CsrError::Signer(format!("signer {other:?} is not a built-in signer kguard signs for"))),
    }
    Ok(SigningPlan {
        client_auth: u.iter().any(|x| x == "client auth"),
        server_auth: u.iter().any(|x| x == "server auth"),
        request,
        signer,
        expiration_seconds,
    })
}

/// kube-apiserver's `CertificateSubjectRestriction` admission plugin (on by default), for the
/// creation of `csr`: a request for the `kubernetes.io/kube-apiserver-client` signer may not put
/// its subject in `system:masters`. The error is the server's whole 403 message
/// (`certificatesigningrequests.certificates.k8s.io "NAME" is forbidden: …`).
///
/// # Errors
/// The message when the server would refuse the object.
pub fn subject_restriction(csr: &Value) -> Result<(), String> {
    let signer = csr.pointer("/spec/signerName").and_then(Value::as_str).unwrap_or_default();
    if signer != KUBE_APISERVER_CLIENT {
        return Ok(());
    }
    let name = csr.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let forbidden = |why: String| {
        format!(
            "certificatesigningrequests.certificates.k8s.io {} is forbidden: {why}",
            kguard_model::text::go_quote(name)
        )
    };
    let request = request_pem(csr).map_err(|e| forbidden(format!("unable to parse csr: {e}")))?;
    let info = parse_csr_pem(&request).map_err(|e| forbidden(format!("unable to parse csr: {e}")))?;
    if info.organizations.iter().any(|o| o == "system:masters") {
        return Err(forbidden(format!("use of {signer} signer with system:masters group is not allowed")));
    }
    Ok(())
}

/// Marks the CSR Failed (reason `SignerValidationFailure`).
pub fn fail(csr: &mut Value, message: &str, now: &str) {
    let cond = json!({"type": "Failed", "status": "True", "reason": "SignerValidationFailure", "message": message,
        "lastUpdateTime": now, "lastTransitionTime": now});
    if let Some(obj) = csr.as_object_mut() {
        let status = obj.entry("status").or_insert_with(|| json!({}));
        if let Some(st) = status.as_object_mut()
            && let Some(arr) = st.entry("conditions").or_insert_with(|| json!([])).as_array_mut()
        {
            arr.push(cond);
        }
    }
}
