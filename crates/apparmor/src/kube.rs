//! Kubernetes: the `appArmorProfile` field (pod and container) and the legacy
//! `container.apparmor.security.beta.kubernetes.io/<container>` annotations, resolved as the
//! kubelet resolves them; annotation validation; a node's loaded-profile list.

use serde_json::Value;

/// The annotation prefix (deprecated since v1.30).
pub const ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

/// An effective AppArmor profile of a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum K8sProfile {
    /// The container runtime's default profile.
    RuntimeDefault,
    /// No AppArmor confinement.
    Unconfined,
    /// A profile loaded on the node, by name.
    Localhost(String),
}

impl K8sProfile {
    /// As the `appArmorProfile.type` field names it.
    #[must_use]
    pub const fn type_name(&self) -> &'static str {
        match self {
            Self::RuntimeDefault => "RuntimeDefault",
            Self::Unconfined => "Unconfined",
            Self::Localhost(_) => "Localhost",
        }
    }
}

fn from_field(v: &Value) -> Option<K8sProfile> {
    match v.get("type")?.as_str()? {
        "RuntimeDefault" => Some(K8sProfile::RuntimeDefault),
        "Unconfined" => Some(K8sProfile::Unconfined),
        "Localhost" => Some(K8sProfile::Localhost(v.get("localhostProfile")?.as_str()?.to_owned())),
        _ => None,
    }
}

/// Parses an annotation value: `runtime/default`, `unconfined`, `localhost/<name>`.
///
/// # Errors
/// The API server's message for an invalid value.
pub fn parse_annotation(value: &str) -> Result<K8sProfile, String> {
    match value {
        "runtime/default" => Ok(K8sProfile::RuntimeDefault),
        "unconfined" => Ok(K8sProfile::Unconfined),
        _ => match value.strip_prefix("localhost/") {
            Some(name) if !name.trim().is_empty() => Ok(K8sProfile::Localhost(name.to_owned())),
            _ => Err(format!("invalid AppArmor profile name: {value:?}")),
        },
    }
}

/// Validates every AppArmor annotation of a pod object.
///
/// # Errors
/// The first invalid value (annotation key and message).
pub fn validate_annotations(pod: &Value) -> Result<(), String> {
    let Some(ann) = pod.pointer("/metadata/annotations").and_then(Value::as_object) else { return Ok(()) };
    for (k, v) in ann {
        if k.starts_with(ANNOTATION_PREFIX) {
            let v = v.as_str().unwrap_or_default();
            parse_annotation(v).map_err(|e| format!("metadata.annotations[{k}]: {e}"))?;
        }
    }
    Ok(())
}

/// The effective profile of container `container` of a pod (the object, or a pod template's
/// `{metadata, spec}`): container field, then container annotation (invalid values ignored),
/// then pod field.
#[must_use]
pub fn effective_profile(pod: &Value, container: &str) -> Option<K8sProfile> {
    let spec = pod.get("spec")?;
    let ctr = ["containers", "initContainers", "ephemeralContainers"]
        .iter()
        .filter_map(|k| spec.get(*k).and_then(Value::as_array))
        .flatten()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(container));
    if let Some(p) = ctr.and_then(|c| c.pointer("/securityContext/appArmorProfile")).and_then(from_field) {
        return Some(p);
    }
    let key = format!("{ANNOTATION_PREFIX}{container}");
    if let Some(p) = pod
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(&key))
        .and_then(Value::as_str)
        .and_then(|v| parse_annotation(v).ok())
    {
        return Some(p);
    }
    spec.pointer("/securityContext/appArmorProfile").and_then(from_field)
}

/// A profile mode as the kernel lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// Profile name.
    pub name: String,
    /// Mode: enforce, complain, kill, unconfined, prompt…
    pub mode: String,
}

/// Parses `/sys/kernel/security/apparmor/profiles`: one `<name> (<mode>)` per line, split at
/// the last ` (` (names may contain spaces and parentheses).
#[must_use]
pub fn parse_loaded(text: &str) -> Vec<Loaded> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match l.rsplit_once(" (") {
            Some((name, mode)) => Loaded { name: name.to_owned(), mode: mode.trim_end_matches(')').to_owned() },
            None => Loaded { name: l.to_owned(), mode: String::new() },
        })
        .collect()
}
