//! Injection of the `kguard mesh proxy` sidecar into Pods at CREATE, for namespaces that opt in.
//!
//! The proxy runs as a native sidecar (Kubernetes ≥ 1.29): the first init container, with
//! `restartPolicy: Always`, so it starts before the app's containers and every other init
//! container and stops after them. Its configuration comes from a ConfigMap and its SVID from a
//! Secret, both named per service account (the SVID names the service account), mounted read-only.
//!
//! Who decides: only the operator. A namespace opts in by a label that the server's state holds
//! (the Namespace object kguard knows, never the pod under review); the pod cannot opt out, and a
//! pod that already holds a container or volume of the sidecar's names is refused unless it is
//! the sidecar this configuration injects, among the init containers (compared without the
//! fields kube-apiserver defaults or rewrites), in which case nothing is added: a pod injected
//! once and re-created from its own manifest, or sent again by a second webhook.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::jsonpatch::PatchOp;
use crate::{Inventory, Request, Response, Status};

/// The label value that opts a namespace in.
pub const ENABLED: &str = "enabled";
/// The config volume's name and mount path.
pub const CONFIG_VOLUME: &str = "kguard-mesh-config";
/// Where the ConfigMap is mounted; the proxy reads `proxy.yaml` from it.
pub const CONFIG_DIR: &str = "/etc/kguard-mesh";
/// The identity volume's name.
pub const IDENTITY_VOLUME: &str = "kguard-mesh-identity";
/// Where the SVID Secret is mounted (`tls.crt`, `tls.key`, `ca.crt`).
pub const IDENTITY_DIR: &str = "/var/run/secrets/kguard-mesh";
/// The placeholder of the ConfigMap and Secret name templates.
pub const SERVICE_ACCOUNT_PLACEHOLDER: &str = "{serviceAccount}";

/// The sidecar to inject, as the operator configured it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sidecar {
    /// The namespace label that opts in (with the value `enabled`).
    pub namespace_label: String,
    /// The container's name.
    pub container_name: String,
    /// The kguard image.
    pub image: String,
    /// `imagePullPolicy`, when set.
    pub image_pull_policy: Option<String>,
    /// The ConfigMap's name; `{serviceAccount}` is replaced by the pod's service account.
    pub config_map: String,
    /// The Secret's name; `{serviceAccount}` is replaced by the pod's service account.
    pub secret: String,
    /// `resources.requests` (cpu, memory).
    pub requests: BTreeMap<String, String>,
    /// `resources.limits` (cpu, memory).
    pub limits: BTreeMap<String, String>,
    /// The container's `runAsUser` (and `runAsGroup`).
    pub run_as_user: i64,
}

impl Sidecar {
    /// The container (the same for every pod).
    #[must_use]
    pub fn container(&self) -> Value {
        let mut c = Map::new();
        c.insert("name".into(), json!(self.container_name));
        c.insert("image".into(), json!(self.image));
        if let Some(p) = &self.image_pull_policy {
            c.insert("imagePullPolicy".into(), json!(p));
        }
        c.insert(
            "args".into(),
            json!(["mesh", "proxy", "--config", format!("{CONFIG_DIR}/proxy.yaml"), "--log-format", "json"]),
        );
        c.insert("restartPolicy".into(), json!("Always"));
        let mut resources = Map::new();
        if !self.requests.is_empty() {
            resources.insert("requests".into(), json!(self.requests));
        }
        if !self.limits.is_empty() {
            resources.insert("limits".into(), json!(self.limits));
        }
        if !resources.is_empty() {
            c.insert("resources".into(), Value::Object(resources));
        }
        c.insert(
            "securityContext".into(),
            json!({
                "allowPrivilegeEscalation": false,
                "capabilities": {"drop": ["ALL"]},
                "privileged": false,
                "readOnlyRootFilesystem": true,
                "runAsGroup": self.run_as_user,
                "runAsNonRoot": true,
                "runAsUser": self.run_as_user,
                "seccompProfile": {"type": "RuntimeDefault"},
            }),
        );
        c.insert(
            "volumeMounts".into(),
            json!([
                {"name": CONFIG_VOLUME, "mountPath": CONFIG_DIR, "readOnly": true},
                {"name": IDENTITY_VOLUME, "mountPath": IDENTITY_DIR, "readOnly": true},
            ]),
        );
        Value::Object(c)
    }

    /// The two volumes (ConfigMap and Secret), for a pod running as `service_account`.
    #[must_use]
    pub fn volumes(&self, service_account: &str) -> [Value; 2] {
        let name = |template: &str| template.replace(SERVICE_ACCOUNT_PLACEHOLDER, service_account);
        [
            json!({"name": CONFIG_VOLUME, "configMap": {"name": name(&self.config_map)}}),
            json!({"name": IDENTITY_VOLUME, "secret": {"secretName": name(&self.secret)}}),
        ]
    }
}

/// What injection does to one pod.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The namespace has not opted in.
    NotSelected,
    /// The pod already holds exactly this sidecar: nothing to add.
    AlreadyInjected,
    /// The operations that add the sidecar (to apply in order).
    Inject(Vec<PatchOp>),
    /// The pod is refused.
    Refused(Response),
}

/// The pod's service account, as the ServiceAccount admission plugin leaves it at CREATE.
fn service_account(pod: &Value) -> &str {
    let spec = pod.get("spec");
    spec.and_then(|s| s.get("serviceAccountName"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| spec.and_then(|s| s.get("serviceAccount")).and_then(Value::as_str).filter(|s| !s.is_empty()))
        .unwrap_or("default")
}

/// A container without the fields kube-apiserver defaults or canonicalizes (`terminationMessage*`,
/// `imagePullPolicy` from the tag, `resources` whose requests default to the limits and whose
/// quantities are rewritten): what is compared to tell the injected sidecar from an impostor.
/// None of them weakens anything when a pod sets it (it may set them on its own containers).
fn comparable_container(value: &Value) -> Value {
    let mut v = value.clone();
    if let Some(c) = v.as_object_mut() {
        for field in ["terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy", "resources"] {
            c.remove(field);
        }
    }
    v
}

/// A volume without the `defaultMode` (0644) kube-apiserver fills in.
fn undefaulted_volume(value: &Value) -> Value {
    let mut v = value.clone();
    for source in ["configMap", "secret"] {
        if let Some(s) = v.get_mut(source).and_then(Value::as_object_mut)
            && s.get("defaultMode").and_then(Value::as_i64) == Some(0o644)
        {
            s.remove("defaultMode");
        }
    }
    v
}

/// Decides injection for a Pod CREATE (`pod` as it stands after the earlier mutations).
#[must_use]
pub fn inject(sidecar: &Sidecar, inventory: &Inventory, req: &Request, pod: &Value) -> Outcome {
    let labels = match inventory.namespaces.get(&req.namespace) {
        Some(l) => l,
        // With a state source, an unknown namespace is a failed lookup (as PodSecurity answers):
        // injection cannot be decided, so the pod is not admitted without it.
        None if inventory.namespaces_known => {
            return Outcome::Refused(Response::deny(Status {
                code: 500,
                reason: "InternalError",
                message: format!("failed to lookup namespace {}", req.namespace),
            }));
        }
        None => return Outcome::NotSelected,
    };
    if labels.get(&sidecar.namespace_label).map(String::as_str) != Some(ENABLED) {
        return Outcome::NotSelected;
    }
    let sa = service_account(pod);
    let container = sidecar.container();
    let volumes = sidecar.volumes(sa);
    let refuse = |why: String| {
        let mut r = Response::deny(req.forbidden(&format!("kguard mesh sidecar injection: {why}")));
        r.audit_annotations.insert("mesh-inject".to_owned(), "refused".to_owned());
        Outcome::Refused(r)
    };
    // A pod without a spec is invalid anyway: kube-apiserver's validation refuses it.
    let Some(spec) = pod.get("spec").filter(|s| s.is_object()) else { return Outcome::NotSelected };
    let list = |key: &str| spec.get(key).and_then(Value::as_array).map_or(&[][..], Vec::as_slice);

    // A container of the sidecar's name: the sidecar itself (an init container equal to the
    // configured one, see `comparable_container`), or a conflict.
    let mut already = false;
    for key in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, c) in list(key).iter().enumerate() {
            if c.get("name").and_then(Value::as_str) != Some(sidecar.container_name.as_str()) {
                continue;
            }
            if key == "initContainers" && comparable_container(c) == comparable_container(&container) {
                already = true;
            } else {
                return refuse(format!(
                    "{key}[{i}] is named {:?}, the sidecar's name, but is not the sidecar this server injects (image {}, restartPolicy Always, its arguments, mounts and securityContext)",
                    sidecar.container_name, sidecar.image
                ));
            }
        }
    }
    let pod_volumes = list("volumes");
    for want in &volumes {
        let name = want.get("name").and_then(Value::as_str).unwrap_or_default();
        match pod_volumes.iter().position(|v| v.get("name").and_then(Value::as_str) == Some(name)) {
            Some(i) if already && pod_volumes.get(i).map(undefaulted_volume).as_ref() == Some(want) => {}
            Some(i) => {
                return refuse(format!(
                    "volumes[{i}] is named {name:?}, a volume of the sidecar, but is not the one this server mounts ({want})"
                ));
            }
            None if already => {
                return refuse(format!(
                    "the sidecar {:?} is there but its volume {name:?} is not",
                    sidecar.container_name
                ));
            }
            None => {}
        }
    }
    if already {
        return Outcome::AlreadyInjected;
    }

    let mut ops = Vec::new();
    match spec.get("initContainers").and_then(Value::as_array) {
        Some(_) => ops.push(PatchOp::Add { path: "/spec/initContainers/0".to_owned(), value: container }),
        None => ops.push(PatchOp::Add { path: "/spec/initContainers".to_owned(), value: json!([container]) }),
    }
    match spec.get("volumes").and_then(Value::as_array) {
        Some(v) => {
            for (i, vol) in volumes.into_iter().enumerate() {
                ops.push(PatchOp::Add { path: format!("/spec/volumes/{}", v.len() + i), value: vol });
            }
        }
        None => ops.push(PatchOp::Add { path: "/spec/volumes".to_owned(), value: Value::Array(volumes.to_vec()) }),
    }
    Outcome::Inject(ops)
}
