//! `PodSecurityPolicy` objects (policy/v1beta1, also accepted as extensions/v1beta1) turned into
//! validated values once, with API defaulting (`allowPrivilegeEscalation` defaults to true) and
//! the API validation that matters for evaluation (rules, ranges, conflicting settings).

use kguard_model::FieldError;
use serde_json::{Map, Value};

/// `IDRange` / `HostPortRange`: inclusive bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// Lower bound.
    pub min: i64,
    /// Upper bound.
    pub max: i64,
}

impl Range {
    /// Whether `id` falls in the range.
    #[must_use]
    pub fn contains(&self, id: i64) -> bool {
        id >= self.min && id <= self.max
    }
}

/// Go's `%v` of a `[]IDRange`: `[{1 1} {2 5}]`.
#[must_use]
pub fn ranges_go(ranges: &[Range]) -> String {
    let parts: Vec<String> = ranges.iter().map(|r| format!("{{{} {}}}", r.min, r.max)).collect();
    format!("[{}]", parts.join(" "))
}

/// `runAsUser.rule`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserRule {
    /// `MustRunAs`: a UID in the ranges, defaulted to the first range's min.
    MustRunAs,
    /// `MustRunAsNonRoot`: a non-zero UID or `runAsNonRoot: true`.
    MustRunAsNonRoot,
    /// `RunAsAny`.
    RunAsAny,
}

/// `runAsGroup`, `supplementalGroups`, `fsGroup` rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupRule {
    /// `MustRunAs`: required, defaulted to the first range's min.
    MustRunAs,
    /// `MayRunAs`: optional, in the ranges when set.
    MayRunAs,
    /// `RunAsAny`.
    RunAsAny,
}

/// `seLinux.rule`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeLinuxRule {
    /// `MustRunAs`: the options must equal the policy's (levels compare categories as sets).
    MustRunAs,
    /// `RunAsAny`.
    RunAsAny,
}

/// A rule with its ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Strategy<R> {
    /// The rule.
    pub rule: R,
    /// The ranges (may be empty).
    pub ranges: Vec<Range>,
}

/// `allowedHostPaths[]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPath {
    /// `pathPrefix`.
    pub path_prefix: String,
    /// `readOnly`.
    pub read_only: bool,
}

/// `runtimeClass`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeClass {
    /// `allowedRuntimeClassNames` (`*` allows all).
    pub allowed: Vec<String>,
    /// `defaultRuntimeClassName`.
    pub default: Option<String>,
}

/// `spec` of a PodSecurityPolicy after defaulting.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// `privileged`.
    pub privileged: bool,
    /// `defaultAddCapabilities`.
    pub default_add_capabilities: Vec<String>,
    /// `requiredDropCapabilities`.
    pub required_drop_capabilities: Vec<String>,
    /// `allowedCapabilities` (`*` allows all).
    pub allowed_capabilities: Vec<String>,
    /// `volumes` (FSType names, `*` allows all).
    pub volumes: Vec<String>,
    /// `hostNetwork`.
    pub host_network: bool,
    /// `hostPorts`.
    pub host_ports: Vec<Range>,
    /// `hostPID`.
    pub host_pid: bool,
    /// `hostIPC`.
    pub host_ipc: bool,
    /// `seLinux.rule`.
    pub selinux_rule: SeLinuxRule,
    /// `seLinux.seLinuxOptions` as written (defaulted into pods as is).
    pub selinux_options: Option<Map<String, Value>>,
    /// `runAsUser`.
    pub run_as_user: Strategy<UserRule>,
    /// `runAsGroup` (absent: RunAsAny).
    pub run_as_group: Option<Strategy<GroupRule>>,
    /// `supplementalGroups`.
    pub supplemental_groups: Strategy<GroupRule>,
    /// `fsGroup`.
    pub fs_group: Strategy<GroupRule>,
    /// `readOnlyRootFilesystem`.
    pub read_only_root_filesystem: bool,
    /// `defaultAllowPrivilegeEscalation`.
    pub default_allow_privilege_escalation: Option<bool>,
    /// `allowPrivilegeEscalation` (defaulted to true when absent).
    pub allow_privilege_escalation: bool,
    /// `allowedHostPaths`.
    pub allowed_host_paths: Vec<HostPath>,
    /// `allowedFlexVolumes[].driver`.
    pub allowed_flex_volumes: Vec<String>,
    /// `allowedCSIDrivers[].name`.
    pub allowed_csi_drivers: Vec<String>,
    /// `allowedUnsafeSysctls`.
    pub allowed_unsafe_sysctls: Vec<String>,
    /// `forbiddenSysctls`.
    pub forbidden_sysctls: Vec<String>,
    /// `allowedProcMountTypes` (empty: only `Default`).
    pub allowed_proc_mount_types: Vec<String>,
    /// `runtimeClass`.
    pub runtime_class: Option<RuntimeClass>,
}

/// Reads a PodSecurityPolicy spec; `Err` names the field and what was expected.
pub(crate) fn parse_spec(spec: &Map<String, Value>) -> Result<Spec, FieldError> {
    let p = "spec";
    let allow_pe = opt_bool(spec, p, "allowPrivilegeEscalation")?;
    let default_pe = opt_bool(spec, p, "defaultAllowPrivilegeEscalation")?;
    let se = req_map(spec, p, "seLinux")?;
    let selinux_rule = match rule(se, "spec.seLinux")? {
        "MustRunAs" => SeLinuxRule::MustRunAs,
        "RunAsAny" => SeLinuxRule::RunAsAny,
        other => return Err(unsupported("spec.seLinux.rule", other, &["MustRunAs", "RunAsAny"])),
    };
    let selinux_options = match se.get("seLinuxOptions") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => {
            for key in ["user", "role", "type", "level"] {
                opt_str(m, "spec.seLinux.seLinuxOptions", key)?;
            }
            Some(m.clone())
        }
        Some(other) => return Err(expected("spec.seLinux.seLinuxOptions", "a mapping", other)),
    };
    let rau = req_map(spec, p, "runAsUser")?;
    let run_as_user = Strategy {
        rule: match rule(rau, "spec.runAsUser")? {
            "MustRunAs" => UserRule::MustRunAs,
            "MustRunAsNonRoot" => UserRule::MustRunAsNonRoot,
            "RunAsAny" => UserRule::RunAsAny,
            other => {
                return Err(unsupported("spec.runAsUser.rule", other, &["MustRunAs", "MustRunAsNonRoot", "RunAsAny"]));
            }
        },
        ranges: ranges(rau, "spec.runAsUser")?,
    };
    let run_as_group = match spec.get("runAsGroup") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(group_strategy(m, "spec.runAsGroup")?),
        Some(other) => return Err(expected("spec.runAsGroup", "a mapping", other)),
    };
    let supplemental_groups = group_strategy(req_map(spec, p, "supplementalGroups")?, "spec.supplementalGroups")?;
    let fs_group = group_strategy(req_map(spec, p, "fsGroup")?, "spec.fsGroup")?;
    let host_ports = match spec.get("hostPorts") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let path = format!("spec.hostPorts[{i}]");
                let m = item.as_object().ok_or_else(|| expected(&path, "a mapping", item))?;
                let r = Range { min: req_int(m, &path, "min")?, max: req_int(m, &path, "max")? };
                if r.min > r.max || r.min < 0 || r.max > 65535 {
                    return Err(FieldError::new(
                        path,
                        format!(
                            "invalid port range {}-{}: min and max must be in 0-65535 and min <= max",
                            r.min, r.max
                        ),
                    ));
                }
                out.push(r);
            }
            out
        }
        Some(other) => return Err(expected("spec.hostPorts", "a list", other)),
    };
    let allowed_host_paths = match spec.get("allowedHostPaths") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let path = format!("spec.allowedHostPaths[{i}]");
                let m = item.as_object().ok_or_else(|| expected(&path, "a mapping", item))?;
                out.push(HostPath {
                    path_prefix: opt_str(m, &path, "pathPrefix")?.unwrap_or_default(),
                    read_only: opt_bool(m, &path, "readOnly")?.unwrap_or(false),
                });
            }
            out
        }
        Some(other) => return Err(expected("spec.allowedHostPaths", "a list", other)),
    };
    let runtime_class = match spec.get("runtimeClass") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(RuntimeClass {
            allowed: strings(m, "spec.runtimeClass", "allowedRuntimeClassNames")?,
            default: opt_str(m, "spec.runtimeClass", "defaultRuntimeClassName")?,
        }),
        Some(other) => return Err(expected("spec.runtimeClass", "a mapping", other)),
    };
    let out = Spec {
        privileged: opt_bool(spec, p, "privileged")?.unwrap_or(false),
        default_add_capabilities: strings(spec, p, "defaultAddCapabilities")?,
        required_drop_capabilities: strings(spec, p, "requiredDropCapabilities")?,
        allowed_capabilities: strings(spec, p, "allowedCapabilities")?,
        volumes: strings(spec, p, "volumes")?,
        host_network: opt_bool(spec, p, "hostNetwork")?.unwrap_or(false),
        host_ports,
        host_pid: opt_bool(spec, p, "hostPID")?.unwrap_or(false),
        host_ipc: opt_bool(spec, p, "hostIPC")?.unwrap_or(false),
        selinux_rule,
        selinux_options,
        run_as_user,
        run_as_group,
        supplemental_groups,
        fs_group,
        read_only_root_filesystem: opt_bool(spec, p, "readOnlyRootFilesystem")?.unwrap_or(false),
        default_allow_privilege_escalation: default_pe,
        allow_privilege_escalation: allow_pe.unwrap_or(true),
        allowed_host_paths,
        allowed_flex_volumes: named_list(spec, "allowedFlexVolumes", "driver")?,
        allowed_csi_drivers: named_list(spec, "allowedCSIDrivers", "name")?,
        allowed_unsafe_sysctls: strings(spec, p, "allowedUnsafeSysctls")?,
        forbidden_sysctls: strings(spec, p, "forbiddenSysctls")?,
        allowed_proc_mount_types: strings(spec, p, "allowedProcMountTypes")?,
        runtime_class,
    };
    // the API validation rules that change what a policy means
    if out.default_allow_privilege_escalation == Some(true) && !out.allow_privilege_escalation {
        return Err(FieldError::new(
            "spec.defaultAllowPrivilegeEscalation",
            "Invalid value: true: Cannot set DefaultAllowPrivilegeEscalation to true without also setting \
             AllowPrivilegeEscalation to true",
        ));
    }
    for (i, cap) in out.default_add_capabilities.iter().enumerate() {
        if out.required_drop_capabilities.contains(cap) {
            return Err(FieldError::new(
                format!("spec.defaultAddCapabilities[{i}]"),
                format!(
                    "Invalid value: {}: capability is listed in defaultAddCapabilities and requiredDropCapabilities",
                    kguard_model::text::go_quote(cap)
                ),
            ));
        }
    }
    Ok(out)
}

fn group_strategy(m: &Map<String, Value>, path: &str) -> Result<Strategy<GroupRule>, FieldError> {
    let rule = match rule(m, path)? {
        "MustRunAs" => GroupRule::MustRunAs,
        "MayRunAs" => GroupRule::MayRunAs,
        "RunAsAny" => GroupRule::RunAsAny,
        other => return Err(unsupported(&format!("{path}.rule"), other, &["MayRunAs", "MustRunAs", "RunAsAny"])),
    };
    Ok(Strategy { rule, ranges: ranges(m, path)? })
}

fn rule<'a>(m: &'a Map<String, Value>, path: &str) -> Result<&'a str, FieldError> {
    match m.get("rule") {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            Err(FieldError::new(format!("{path}.rule"), "Required value"))
        }
        Some(other) => Err(expected(&format!("{path}.rule"), "a string", other)),
    }
}

fn ranges(m: &Map<String, Value>, path: &str) -> Result<Vec<Range>, FieldError> {
    match m.get("ranges") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let p = format!("{path}.ranges[{i}]");
                let r = item.as_object().ok_or_else(|| expected(&p, "a mapping", item))?;
                let range = Range { min: req_int(r, &p, "min")?, max: req_int(r, &p, "max")? };
                if range.min < 0 || range.max < 0 {
                    let msg = format!("min and max must be non-negative, found {}-{}", range.min, range.max);
                    return Err(FieldError::new(p, msg));
                }
                if range.min > range.max {
                    let msg = format!("min ({}) must not be greater than max ({})", range.min, range.max);
                    return Err(FieldError::new(p, msg));
                }
                out.push(range);
            }
            Ok(out)
        }
        Some(other) => Err(expected(&format!("{path}.ranges"), "a list", other)),
    }
}

fn named_list(spec: &Map<String, Value>, field: &str, key: &str) -> Result<Vec<String>, FieldError> {
    match spec.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let p = format!("spec.{field}[{i}]");
                let m = item.as_object().ok_or_else(|| expected(&p, "a mapping", item))?;
                out.push(opt_str(m, &p, key)?.unwrap_or_default());
            }
            Ok(out)
        }
        Some(other) => Err(expected(&format!("spec.{field}"), "a list", other)),
    }
}

fn req_map<'a>(m: &'a Map<String, Value>, path: &str, key: &str) -> Result<&'a Map<String, Value>, FieldError> {
    match m.get(key) {
        Some(Value::Object(o)) => Ok(o),
        None | Some(Value::Null) => Err(FieldError::new(
            format!("{path}.{key}"),
            format!("Required value: every PodSecurityPolicy sets {key}.rule"),
        )),
        Some(other) => Err(expected(&format!("{path}.{key}"), "a mapping", other)),
    }
}

fn req_int(m: &Map<String, Value>, path: &str, key: &str) -> Result<i64, FieldError> {
    match m.get(key) {
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| FieldError::new(format!("{path}.{key}"), format!("expected an integer, found {n}"))),
        None | Some(Value::Null) => Ok(0),
        Some(other) => Err(expected(&format!("{path}.{key}"), "an integer", other)),
    }
}

fn opt_bool(m: &Map<String, Value>, path: &str, key: &str) -> Result<Option<bool>, FieldError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(expected(&format!("{path}.{key}"), "a boolean", other)),
    }
}

fn opt_str(m: &Map<String, Value>, path: &str, key: &str) -> Result<Option<String>, FieldError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(expected(&format!("{path}.{key}"), "a string", other)),
    }
}

fn strings(m: &Map<String, Value>, path: &str, key: &str) -> Result<Vec<String>, FieldError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(expected(&format!("{path}.{key}[{i}]"), "a string", other)),
            })
            .collect(),
        Some(other) => Err(expected(&format!("{path}.{key}"), "a list of strings", other)),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

fn expected(path: &str, what: &str, found: &Value) -> FieldError {
    FieldError::new(path, format!("expected {what}, found a {}", type_name(found)))
}

fn unsupported(path: &str, value: &str, supported: &[&str]) -> FieldError {
    let quoted: Vec<String> = supported.iter().map(|s| kguard_model::text::go_quote(s)).collect();
    let message =
        format!("Unsupported value: {}: supported values: {}", kguard_model::text::go_quote(value), quoted.join(", "));
    FieldError::new(path, message)
}
