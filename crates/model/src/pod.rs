//! Typed views of the pod fields security rules read.
//!
//! These are kguard's own structs, not a full Kubernetes API model: only the fields a security
//! rule looks at are kept, every scalar is an `Option` so that *unset* stays distinct from an
//! explicit value (the Pod Security Standards treat `runAsNonRoot` unset and `false`
//! differently), and unknown fields are ignored.
//!
//! Deserialise with [`from_json`], which reports a type error with the JSON pointer of the
//! offending field (relative to the value deserialised).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// A type error met while reading a typed view: where, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeError {
    /// JSON pointer of the offending field, relative to the value deserialised.
    pub pointer: String,
    /// What was wrong (serde's message).
    pub message: String,
}

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.pointer, self.message)
        }
    }
}

impl std::error::Error for TypeError {}

/// Turns a `serde_path_to_error` path into an RFC 6901 JSON pointer (`/spec/containers/0/name`).
#[must_use]
pub fn path_to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => {
                out.push('/');
                out.push_str(&index.to_string());
            }
            Segment::Map { key } => {
                out.push('/');
                out.push_str(&crate::yaml::escape_pointer_token(key));
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out
}

/// Deserialises a typed view from a JSON value; a type error names the field's JSON pointer.
///
/// # Errors
/// When a field the view reads has the wrong type (e.g. `hostNetwork: "maybe"`).
pub fn from_json<T: de::DeserializeOwned>(value: serde_json::Value) -> Result<T, TypeError> {
    from_json_ref(&value)
}

/// [`from_json`] without taking ownership (deserialises straight from the borrowed value).
///
/// # Errors
/// As [`from_json`].
pub fn from_json_ref<T: de::DeserializeOwned>(value: &serde_json::Value) -> Result<T, TypeError> {
    // The path-tracking deserializer costs about three times as much; it runs only to say where
    // a value that does not fit is.
    T::deserialize(value).or_else(|_| {
        serde_path_to_error::deserialize(value)
            .map_err(|e| TypeError { pointer: path_to_pointer(e.path()), message: e.inner().to_string() })
    })
}

/// The subset of `metadata` rules read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// `name`.
    pub name: Option<String>,
    /// `generateName`.
    pub generate_name: Option<String>,
    /// `namespace`.
    pub namespace: Option<String>,
    /// `labels`.
    pub labels: Option<BTreeMap<String, String>>,
    /// `annotations`.
    pub annotations: Option<BTreeMap<String, String>>,
}

impl ObjectMeta {
    /// One annotation's value.
    #[must_use]
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref().and_then(|a| a.get(key)).map(String::as_str)
    }

    /// Annotations in key order (empty when unset).
    pub fn annotations(&self) -> impl Iterator<Item = (&str, &str)> {
        self.annotations.iter().flatten().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// A pod spec: the fields security rules read.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    /// `containers`.
    pub containers: Option<Vec<Container>>,
    /// `initContainers`.
    pub init_containers: Option<Vec<Container>>,
    /// `ephemeralContainers` (read with the container fields; `targetContainerName` is ignored).
    pub ephemeral_containers: Option<Vec<Container>>,
    /// `volumes`.
    pub volumes: Option<Vec<Volume>>,
    /// `hostNetwork`.
    pub host_network: Option<bool>,
    /// `hostPID`.
    #[serde(rename = "hostPID")]
    pub host_pid: Option<bool>,
    /// `hostIPC`.
    #[serde(rename = "hostIPC")]
    pub host_ipc: Option<bool>,
    /// `hostUsers` (`false` runs the pod in a user namespace).
    pub host_users: Option<bool>,
    /// `securityContext`.
    pub security_context: Option<PodSecurityContext>,
    /// `os`.
    pub os: Option<PodOs>,
    /// `serviceAccountName`.
    pub service_account_name: Option<String>,
    /// `automountServiceAccountToken`.
    pub automount_service_account_token: Option<bool>,
    /// `runtimeClassName`.
    pub runtime_class_name: Option<String>,
}

impl PodSpec {
    /// Whether `spec.os.name` is `windows`.
    #[must_use]
    pub fn is_windows(&self) -> bool {
        self.os.as_ref().and_then(|o| o.name.as_deref()) == Some("windows")
    }

    /// Whether `spec.hostUsers` is explicitly `false` (the pod runs in a user namespace).
    #[must_use]
    pub fn in_user_namespace(&self) -> bool {
        self.host_users == Some(false)
    }
}

/// `spec.os`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodOs {
    /// `name`: `linux` or `windows`.
    pub name: Option<String>,
}

/// The pod-level `securityContext`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityContext {
    /// `runAsUser`.
    pub run_as_user: Option<i64>,
    /// `runAsGroup`.
    pub run_as_group: Option<i64>,
    /// `runAsNonRoot`.
    pub run_as_non_root: Option<bool>,
    /// `seLinuxOptions`.
    #[serde(rename = "seLinuxOptions")]
    pub se_linux_options: Option<SeLinuxOptions>,
    /// `seccompProfile`.
    pub seccomp_profile: Option<Profile>,
    /// `appArmorProfile`.
    pub app_armor_profile: Option<Profile>,
    /// `sysctls`.
    pub sysctls: Option<Vec<Sysctl>>,
    /// `windowsOptions`.
    pub windows_options: Option<WindowsOptions>,
    /// `supplementalGroups`.
    pub supplemental_groups: Option<Vec<i64>>,
    /// `fsGroup`.
    pub fs_group: Option<i64>,
}

/// `seLinuxOptions`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeLinuxOptions {
    /// `user`.
    pub user: Option<String>,
    /// `role`.
    pub role: Option<String>,
    /// `type`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// `level`.
    pub level: Option<String>,
}

/// A `seccompProfile` or `appArmorProfile`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// `type`: `RuntimeDefault`, `Localhost`, `Unconfined`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// `localhostProfile`.
    pub localhost_profile: Option<String>,
}

impl Profile {
    /// The type, `""` when unset (as Go reads it).
    #[must_use]
    pub fn type_str(&self) -> &str {
        self.type_.as_deref().unwrap_or("")
    }
}

/// One pod `sysctls` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sysctl {
    /// `name`.
    pub name: Option<String>,
    /// `value`.
    pub value: Option<String>,
}

/// `windowsOptions`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowsOptions {
    /// `hostProcess`.
    pub host_process: Option<bool>,
    /// `runAsUserName`.
    pub run_as_user_name: Option<String>,
}

/// One volume: its name and every source key, so the volume *type* is known.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// `name`.
    pub name: Option<String>,
    /// Every other key (`hostPath`, `emptyDir`, ...) with its value, in document order.
    #[serde(flatten)]
    pub sources: serde_json::Map<String, serde_json::Value>,
}

impl Volume {
    /// The volume source keys set to a non-null value (`hostPath`, `configMap`, ...).
    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.sources.iter().filter(|(_, v)| !v.is_null()).map(|(k, _)| k.as_str())
    }

    /// Whether the source `key` (e.g. `hostPath`) is set to a non-null value.
    #[must_use]
    pub fn has(&self, key: &str) -> bool {
        self.sources.get(key).is_some_and(|v| !v.is_null())
    }

    /// The name, `""` when unset.
    #[must_use]
    pub fn name_str(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }
}

/// A container (also used for init and ephemeral containers).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// `name`.
    pub name: Option<String>,
    /// `image`.
    pub image: Option<String>,
    /// `imagePullPolicy`.
    pub image_pull_policy: Option<String>,
    /// `ports`.
    pub ports: Option<Vec<ContainerPort>>,
    /// `env`.
    pub env: Option<Vec<EnvVar>>,
    /// `envFrom`.
    pub env_from: Option<Vec<EnvFromSource>>,
    /// `resources`.
    pub resources: Option<Resources>,
    /// `securityContext`.
    pub security_context: Option<SecurityContext>,
    /// `livenessProbe`.
    pub liveness_probe: Option<Probe>,
    /// `readinessProbe`.
    pub readiness_probe: Option<Probe>,
    /// `startupProbe`.
    pub startup_probe: Option<Probe>,
    /// `lifecycle`.
    pub lifecycle: Option<Lifecycle>,
}

impl Container {
    /// The name, `""` when unset.
    #[must_use]
    pub fn name_str(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }
}

/// One `ports` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    /// `name`.
    pub name: Option<String>,
    /// `containerPort` (a number, or a string holding one).
    #[serde(default, deserialize_with = "lenient_int")]
    pub container_port: Option<i64>,
    /// `hostPort` (a number, or a string holding one).
    #[serde(default, deserialize_with = "lenient_int")]
    pub host_port: Option<i64>,
    /// `hostIP`.
    #[serde(rename = "hostIP")]
    pub host_ip: Option<String>,
    /// `protocol`.
    pub protocol: Option<String>,
}

/// One `env` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    /// `name`.
    pub name: Option<String>,
    /// `value`.
    pub value: Option<String>,
    /// `valueFrom`.
    pub value_from: Option<EnvVarSource>,
}

/// `env[].valueFrom`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVarSource {
    /// `secretKeyRef`.
    pub secret_key_ref: Option<KeyRef>,
    /// `configMapKeyRef`.
    pub config_map_key_ref: Option<KeyRef>,
}

/// A `secretKeyRef` / `configMapKeyRef`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRef {
    /// `name`.
    pub name: Option<String>,
    /// `key`.
    pub key: Option<String>,
    /// `optional`.
    pub optional: Option<bool>,
}

/// One `envFrom` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvFromSource {
    /// `prefix`.
    pub prefix: Option<String>,
    /// `secretRef`.
    pub secret_ref: Option<NameRef>,
    /// `configMapRef`.
    pub config_map_ref: Option<NameRef>,
}

/// A reference by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NameRef {
    /// `name`.
    pub name: Option<String>,
    /// `optional`.
    pub optional: Option<bool>,
}

/// `resources`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    /// `requests`, quantities as written (`"500m"`, `1` → `"1"`).
    pub requests: Option<BTreeMap<String, Quantity>>,
    /// `limits`.
    pub limits: Option<BTreeMap<String, Quantity>>,
}

/// A resource quantity as written; numbers are kept as their decimal text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Quantity(pub String);

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quantity (string or number)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                Ok(Quantity(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// The container-level `securityContext`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityContext {
    /// `privileged`.
    pub privileged: Option<bool>,
    /// `allowPrivilegeEscalation`.
    pub allow_privilege_escalation: Option<bool>,
    /// `capabilities`.
    pub capabilities: Option<Capabilities>,
    /// `readOnlyRootFilesystem`.
    pub read_only_root_filesystem: Option<bool>,
    /// `runAsNonRoot`.
    pub run_as_non_root: Option<bool>,
    /// `runAsUser`.
    pub run_as_user: Option<i64>,
    /// `runAsGroup`.
    pub run_as_group: Option<i64>,
    /// `procMount`.
    pub proc_mount: Option<String>,
    /// `seLinuxOptions`.
    #[serde(rename = "seLinuxOptions")]
    pub se_linux_options: Option<SeLinuxOptions>,
    /// `seccompProfile`.
    pub seccomp_profile: Option<Profile>,
    /// `appArmorProfile`.
    pub app_armor_profile: Option<Profile>,
    /// `windowsOptions`.
    pub windows_options: Option<WindowsOptions>,
}

/// `capabilities`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// `add`.
    pub add: Option<Vec<String>>,
    /// `drop`.
    pub drop: Option<Vec<String>>,
}

/// A liveness, readiness or startup probe.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    /// `httpGet`.
    pub http_get: Option<HttpGetAction>,
    /// `tcpSocket`.
    pub tcp_socket: Option<TcpSocketAction>,
}

/// `lifecycle`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Lifecycle {
    /// `postStart`.
    pub post_start: Option<LifecycleHandler>,
    /// `preStop`.
    pub pre_stop: Option<LifecycleHandler>,
}

/// A lifecycle hook handler.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleHandler {
    /// `httpGet`.
    pub http_get: Option<HttpGetAction>,
    /// `tcpSocket`.
    pub tcp_socket: Option<TcpSocketAction>,
}

/// `httpGet`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpGetAction {
    /// `host`.
    pub host: Option<String>,
    /// `port` (number or name).
    pub port: Option<IntOrString>,
    /// `path`.
    pub path: Option<String>,
    /// `scheme`.
    pub scheme: Option<String>,
}

/// `tcpSocket`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TcpSocketAction {
    /// `host`.
    pub host: Option<String>,
    /// `port` (number or name).
    pub port: Option<IntOrString>,
}

/// A Kubernetes int-or-string value (ports, `maxUnavailable`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum IntOrString {
    /// A number.
    Int(i64),
    /// A string (a port name, a percentage).
    Str(String),
}

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IntOrString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IntOrString, E> {
                Ok(IntOrString::Str(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntOrString, E> {
                Ok(IntOrString::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntOrString, E> {
                i64::try_from(v).map(IntOrString::Int).map_err(|_| E::custom("integer out of range"))
            }
        }
        d.deserialize_any(V)
    }
}

/// Accepts an integer, or a string holding one (`"8080"`); `null` is unset.
fn lenient_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer (or a string holding one)")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Option<i64>, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Option<i64>, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Option<i64>, D2::Error> {
            d.deserialize_any(self)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<i64>, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<i64>, E> {
            i64::try_from(v).map(Some).map_err(|_| E::custom("integer out of range"))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<i64>, E> {
            v.trim().parse::<i64>().map(Some).map_err(|_| E::custom(format!("expected an integer, found {v:?}")))
        }
    }
    d.deserialize_option(V)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unset_and_explicit_stay_distinct() {
        let spec: PodSpec = from_json(json!({
            "hostNetwork": true,
            "hostUsers": false,
            "securityContext": {"runAsNonRoot": false, "seccompProfile": {}},
            "containers": [{"name": "a", "securityContext": {"runAsUser": 0}}],
            "unknownField": {"x": 1}
        }))
        .unwrap();
        assert_eq!(spec.host_network, Some(true));
        assert_eq!(spec.host_pid, None);
        assert!(spec.in_user_namespace());
        let psc = spec.security_context.as_ref().unwrap();
        assert_eq!(psc.run_as_non_root, Some(false));
        assert_eq!(psc.seccomp_profile.as_ref().unwrap().type_str(), "");
        let c = &spec.containers.as_ref().unwrap()[0];
        assert_eq!(c.security_context.as_ref().unwrap().run_as_user, Some(0));
        assert_eq!(c.security_context.as_ref().unwrap().run_as_non_root, None);
    }

    #[test]
    fn volume_types_and_ports() {
        let spec: PodSpec = from_json(json!({
            "volumes": [{"name": "v", "hostPath": {"path": "/"}}, {"name": "n", "nfs": null}],
            "containers": [{"name": "a", "ports": [{"containerPort": "80", "hostPort": 8080}],
                "livenessProbe": {"httpGet": {"port": "http", "host": "h"}},
                "readinessProbe": {"tcpSocket": {"port": 8080}},
                "resources": {"limits": {"cpu": 1, "memory": "1Gi"}}}]
        }))
        .unwrap();
        let vols = spec.volumes.unwrap();
        assert_eq!(vols[0].types().collect::<Vec<_>>(), ["hostPath"]);
        assert!(vols[0].has("hostPath"));
        assert_eq!(vols[1].types().count(), 0);
        let c = &spec.containers.unwrap()[0];
        let p = &c.ports.as_ref().unwrap()[0];
        assert_eq!((p.container_port, p.host_port), (Some(80), Some(8080)));
        let probe = c.liveness_probe.as_ref().unwrap().http_get.as_ref().unwrap();
        assert_eq!(probe.port, Some(IntOrString::Str("http".into())));
        assert_eq!(c.readiness_probe.as_ref().unwrap().tcp_socket.as_ref().unwrap().port, Some(IntOrString::Int(8080)));
        assert_eq!(c.resources.as_ref().unwrap().limits.as_ref().unwrap()["cpu"], Quantity("1".into()));
    }

    #[test]
    fn type_errors_name_the_pointer() {
        let err = from_json::<PodSpec>(
            json!({"containers": [{"name": "a"}, {"securityContext": {"privileged": "yes please"}}]}),
        )
        .unwrap_err();
        assert_eq!(err.pointer, "/containers/1/securityContext/privileged");
        let err = from_json::<PodSpec>(json!({"containers": [{"ports": [{"hostPort": "eighty"}]}]})).unwrap_err();
        assert_eq!(err.pointer, "/containers/0/ports/0/hostPort");
        let err = from_json::<ObjectMeta>(json!({"annotations": {"a/b": 1}})).unwrap_err();
        assert_eq!(err.pointer, "/annotations/a~1b");
    }
}
