//! The PodSecurity admission plugin (k8s.io/pod-security-admission `admission.go`), as a webhook.
//!
//! * Pods: ignored subresources (exec, attach, binding, eviction, log, portforward, proxy,
//!   status) are allowed; then exempt namespaces and users; a fully privileged namespace is
//!   allowed; an UPDATE is evaluated only when it is significant (container counts, images,
//!   per-container seccomp annotations, ephemeral containers); an exempt runtime class is allowed;
//!   then enforce (deny with `pods "<name>" is forbidden: violates PodSecurity ...`), audit (audit
//!   annotation `audit-violations`) and warn (a warning, only when the request is allowed).
//! * Workload resources (pod templates): audit and warn only, never enforce; subresources allowed.
//! * Namespaces: invalid pod-security labels are rejected (422) on CREATE, and on UPDATE when the
//!   errors changed; an UPDATE that tightens `enforce` is allowed with warnings naming the existing
//!   pods that would now be denied.
//!
//! Audit annotation keys are upstream's without the `pod-security.kubernetes.io/` prefix
//! (`enforce-policy`, `audit-violations`, `exempt`, `error`): kube-apiserver prefixes a webhook's
//! keys with the webhook's name.
//!
//! A namespace missing from kguard's state (when it has one: [`super::Inventory::namespaces_known`])
//! is answered as upstream answers a failed namespace lookup: denied, 500
//! `failed to lookup namespace <name>`, for pods and workloads alike. Without a state, every
//! namespace is judged by the configured defaults.

use std::collections::{BTreeMap, HashMap};

use kguard_model::FieldError;
use kguard_model::yaml::YamlNode;
use serde_json::Value;

use super::{Operation, Request, Response, Status, pod_of};
use kguard_podsec::{CheckResult, Level, LevelVersion, NamespacePolicy, Version};

/// Subresources of pods the plugin never evaluates.
const IGNORED_POD_SUBRESOURCES: [&str; 8] =
    ["exec", "attach", "binding", "eviction", "log", "portforward", "proxy", "status"];

/// Most existing pods checked when a namespace's enforce level tightens.
const NAMESPACE_MAX_PODS_TO_CHECK: usize = 3000;

/// `PodSecurityConfiguration`: defaults and exemptions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The policy of namespaces without labels.
    pub defaults: NamespacePolicy,
    /// Exempt usernames (exact match).
    pub exempt_usernames: Vec<String>,
    /// Exempt namespaces.
    pub exempt_namespaces: Vec<String>,
    /// Exempt runtime class names.
    pub exempt_runtime_classes: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            defaults: NamespacePolicy::PRIVILEGED,
            exempt_usernames: Vec::new(),
            exempt_namespaces: Vec::new(),
            exempt_runtime_classes: Vec::new(),
        }
    }
}

impl Config {
    /// Parses a `PodSecurityConfiguration` (pod-security.admission.config.k8s.io v1, v1beta1 or
    /// v1alpha1), or an `AdmissionConfiguration` (apiserver.config.k8s.io) whose `PodSecurity`
    /// plugin carries one inline (`path:` is resolved by the caller, which reads files).
    ///
    /// # Errors
    /// A message naming the field and what was expected.
    pub fn parse(root: &YamlNode) -> Result<Self, FieldError> {
        let at = |node: &YamlNode, field: String, message: String| FieldError::new(field, message).at(node.pos);
        let kind = root.get("kind").and_then(YamlNode::as_str).unwrap_or("");
        match kind {
            "AdmissionConfiguration" => {
                let plugins = root.get("plugins").and_then(YamlNode::as_seq).unwrap_or(&[]);
                let Some(plugin) =
                    plugins.iter().find(|p| p.get("name").and_then(YamlNode::as_str) == Some("PodSecurity"))
                else {
                    return Err(at(
                        root,
                        "plugins".into(),
                        "AdmissionConfiguration has no plugin named PodSecurity".into(),
                    ));
                };
                match plugin.get("configuration") {
                    Some(c) => Self::parse(c),
                    None => Err(at(
                        plugin,
                        "plugins".into(),
                        "the PodSecurity plugin has no inline `configuration` (a `path` must be read by the caller)"
                            .into(),
                    )),
                }
            }
            "PodSecurityConfiguration" => {
                let api = root.get("apiVersion").and_then(YamlNode::as_str).unwrap_or("");
                if !matches!(
                    api,
                    "pod-security.admission.config.k8s.io/v1"
                        | "pod-security.admission.config.k8s.io/v1beta1"
                        | "pod-security.admission.config.k8s.io/v1alpha1"
                ) {
                    let node = root.get("apiVersion").unwrap_or(root);
                    return Err(at(
                        node,
                        "apiVersion".into(),
                        format!(
                            "expected pod-security.admission.config.k8s.io/v1 (or v1beta1, v1alpha1), found {api:?}"
                        ),
                    ));
                }
                Self::parse_body(root)
            }
            other => {
                let node = root.get("kind").unwrap_or(root);
                Err(at(
                    node,
                    "kind".into(),
                    format!("expected PodSecurityConfiguration or AdmissionConfiguration, found {other:?}"),
                ))
            }
        }
    }

    fn parse_body(root: &YamlNode) -> Result<Self, FieldError> {
        let mut config = Self::default();
        if let Some(d) = root.get("defaults").filter(|d| !d.is_null()) {
            let field = |key: &str| -> Result<Option<(&str, &YamlNode)>, FieldError> {
                match d.get(key) {
                    None => Ok(None),
                    Some(n) => n
                        .as_str()
                        .map(|v| Some((v, n)))
                        .ok_or_else(|| FieldError::new(format!("defaults.{key}"), "expected a string").at(n.pos)),
                }
            };
            let invalid = |key: &str, v: &str, n: &YamlNode, e: &dyn std::fmt::Display| {
                FieldError::new(format!("defaults.{key}"), format!("Invalid value: {v:?}: {e}")).at(n.pos)
            };
            let level = |key: &str| -> Result<Level, FieldError> {
                field(key)?.map_or(Ok(Level::Privileged), |(v, n)| Level::parse(v).map_err(|e| invalid(key, v, n, &e)))
            };
            let version = |key: &str| -> Result<Version, FieldError> {
                field(key)?.map_or(Ok(Version::Latest), |(v, n)| Version::parse(v).map_err(|e| invalid(key, v, n, &e)))
            };
            config.defaults = NamespacePolicy::new(
                LevelVersion { level: level("enforce")?, version: version("enforce-version")? },
                LevelVersion { level: level("audit")?, version: version("audit-version")? },
                LevelVersion { level: level("warn")?, version: version("warn-version")? },
            );
        }
        if let Some(e) = root.get("exemptions").filter(|e| !e.is_null()) {
            let list = |key: &str| -> Result<Vec<String>, FieldError> {
                match e.get(key) {
                    None => Ok(Vec::new()),
                    Some(n) if n.is_null() => Ok(Vec::new()),
                    Some(n) => n
                        .as_seq()
                        .ok_or_else(|| {
                            FieldError::new(format!("exemptions.{key}"), "expected a list of strings").at(n.pos)
                        })?
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            v.as_str().map(str::to_owned).ok_or_else(|| {
                                FieldError::new(format!("exemptions.{key}[{i}]"), "expected a string").at(v.pos)
                            })
                        })
                        .collect(),
                }
            };
            config.exempt_usernames = list("usernames")?;
            config.exempt_namespaces = list("namespaces")?;
            config.exempt_runtime_classes = list("runtimeClasses")?;
        }
        Ok(config)
    }

    fn policy_for(&self, labels: Option<&BTreeMap<String, String>>) -> (NamespacePolicy, Vec<(String, String)>) {
        match labels {
            Some(labels) => NamespacePolicy::from_labels_with_defaults(
                labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                self.defaults,
            ),
            None => (self.defaults, Vec::new()),
        }
    }
}

/// The plugin's answer to one request.
#[must_use]
pub fn validate(config: &Config, inventory: &super::Inventory, req: &Request) -> Response {
    if !matches!(req.operation, Operation::Create | Operation::Update) {
        return Response::allow();
    }
    match (req.resource.group.as_str(), req.resource.name.as_str()) {
        ("", "namespaces") => validate_namespace(config, &inventory.pods, req),
        ("", "pods") => validate_pod(config, inventory, req),
        _ => validate_pod_controller(config, inventory, req),
    }
}

/// The namespace's labels (`Some(None)`: judged by the defaults), or `None` when the lookup
/// fails.
fn namespace_labels<'a>(
    inventory: &'a super::Inventory,
    req: &Request,
) -> Option<Option<&'a BTreeMap<String, String>>> {
    match inventory.namespaces.get(&req.namespace) {
        Some(labels) => Some(Some(labels)),
        None if inventory.namespaces_known => None,
        None => Some(None),
    }
}

/// Upstream's answer when the namespace lookup fails.
fn lookup_failed(req: &Request) -> Response {
    Response::deny(Status {
        code: 500,
        reason: "InternalError",
        message: format!("failed to lookup namespace {}", req.namespace),
    })
}

fn validate_pod(config: &Config, inventory: &super::Inventory, req: &Request) -> Response {
    if IGNORED_POD_SUBRESOURCES.contains(&req.sub_resource.as_str()) {
        return Response::allow();
    }
    if let Some(r) = exemption(config, req) {
        return r;
    }
    let Some(labels) = namespace_labels(inventory, req) else { return lookup_failed(req) };
    let (policy, errors) = config.policy_for(labels);
    if errors.is_empty() && policy.fully_privileged() {
        return Response::allow();
    }
    let Some(object) = &req.object else { return bad_request("the request has no object") };
    if req.operation == Operation::Update {
        let Some(old) = &req.old_object else { return bad_request("an UPDATE request has no oldObject") };
        if !is_significant_pod_update(object, old) {
            return Response::allow();
        }
    }
    evaluate(config, &policy, &errors, req, true)
}

fn validate_pod_controller(config: &Config, inventory: &super::Inventory, req: &Request) -> Response {
    if !req.sub_resource.is_empty() {
        return Response::allow();
    }
    if let Some(r) = exemption(config, req) {
        return r;
    }
    let Some(labels) = namespace_labels(inventory, req) else { return lookup_failed(req) };
    let (policy, errors) = config.policy_for(labels);
    if errors.is_empty() && policy.warn.level == Level::Privileged && policy.audit.level == Level::Privileged {
        return Response::allow();
    }
    if req.object.is_none() {
        return Response::allow();
    }
    evaluate(config, &policy, &errors, req, false)
}

/// Exempt namespace or user: allowed, with the `exempt` audit annotation.
fn exemption(config: &Config, req: &Request) -> Option<Response> {
    if config.exempt_namespaces.contains(&req.namespace) {
        return Some(Response::allow_annotated("exempt", "namespace"));
    }
    if config.exempt_usernames.contains(&req.user.name) {
        return Some(Response::allow_annotated("exempt", "user"));
    }
    None
}

fn bad_request(message: &str) -> Response {
    Response::deny(Status { code: 400, reason: "BadRequest", message: message.to_owned() })
}

/// Upstream `EvaluatePod`: enforce (Pods only), audit, warn.
fn evaluate(
    config: &Config,
    policy: &NamespacePolicy,
    errors: &[(String, String)],
    req: &Request,
    enforce: bool,
) -> Response {
    let (_, view) = match req.pod() {
        None => return Response::allow(),
        Some(Ok(v)) => v,
        Some(Err(e)) => return bad_request(&e),
    };
    if let Some(rc) = &view.spec.runtime_class_name
        && config.exempt_runtime_classes.contains(rc)
    {
        return Response::allow_annotated("exempt", "runtimeClass");
    }
    let mut response = Response::allow();
    let mut annotations = BTreeMap::new();
    if !errors.is_empty() {
        let messages: Vec<&str> = errors.iter().map(|(_, m)| m.as_str()).collect();
        annotations.insert("error".to_owned(), format!("Failed to parse policy: {}", aggregate_errors(&messages)));
    }
    let mut cache: Vec<(LevelVersion, Vec<CheckResult>)> = Vec::new();
    let mut results = |lv: LevelVersion| -> Vec<CheckResult> {
        if let Some((_, r)) = cache.iter().find(|(k, _)| *k == lv) {
            return r.clone();
        }
        let r = kguard_podsec::evaluate(view, lv.level, lv.version);
        cache.push((lv, r.clone()));
        r
    };
    if enforce {
        annotations.insert("enforce-policy".to_owned(), policy.enforce.to_string());
        let r = results(policy.enforce);
        if !r.is_empty() {
            response = Response::deny(Status::forbidden(kguard_podsec::enforce_message(
                &req.name,
                policy.enforce.level,
                policy.enforce.version,
                &r,
            )));
        }
    }
    let audit = results(policy.audit);
    if !audit.is_empty() {
        annotations.insert(
            "audit-violations".to_owned(),
            kguard_podsec::warn_message(policy.audit.level, policy.audit.version, &audit),
        );
    }
    if response.allowed {
        let warn = results(policy.warn);
        if !warn.is_empty() {
            response.warnings.push(kguard_podsec::warn_message(policy.warn.level, policy.warn.version, &warn));
        }
    }
    response.audit_annotations = annotations;
    response
}

/// `field.ErrorList.ToAggregate().Error()`: one message as is, several in brackets.
fn aggregate_errors(messages: &[&str]) -> String {
    let mut unique: Vec<&str> = Vec::new();
    for m in messages {
        if !unique.contains(m) {
            unique.push(m);
        }
    }
    match unique.as_slice() {
        [one] => (*one).to_owned(),
        many => format!("[{}]", many.join(", ")),
    }
}

fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect())
        .unwrap_or_default()
}

fn validate_namespace(config: &Config, pods: &HashMap<String, Vec<Value>>, req: &Request) -> Response {
    if !req.sub_resource.is_empty() {
        return Response::allow();
    }
    let Some(object) = &req.object else { return bad_request("the request has no object") };
    let labels = labels_of(object);
    let (new_policy, new_errors) = config.policy_for(Some(&labels));
    let invalid = |errors: &[(String, String)]| {
        let messages: Vec<&str> = errors.iter().map(|(_, m)| m.as_str()).collect();
        Response::deny(Status {
            code: 422,
            reason: "Invalid",
            message: format!("Namespace {:?} is invalid: {}", req.name, aggregate_errors(&messages)),
        })
    };
    match req.operation {
        Operation::Create => {
            if !new_errors.is_empty() {
                return invalid(&new_errors);
            }
            exempt_namespace_response(config, &req.name, &new_policy, &labels)
        }
        Operation::Update => {
            let old_labels = req.old_object.as_ref().map(labels_of).unwrap_or_default();
            let (old_policy, old_errors) = config.policy_for(Some(&old_labels));
            if !new_errors.is_empty() && (old_errors.is_empty() || new_errors != old_errors) {
                return invalid(&new_errors);
            }
            if new_policy.enforce == old_policy.enforce
                || new_policy.enforce.level == Level::Privileged
                || (new_policy.enforce.version == old_policy.enforce.version
                    && new_policy.enforce.level <= old_policy.enforce.level)
            {
                return Response::allow();
            }
            if config.exempt_namespaces.contains(&req.name) {
                return exempt_namespace_response(config, &req.name, &new_policy, &labels);
            }
            let mut r = Response::allow();
            r.warnings = evaluate_pods_in_namespace(
                &req.name,
                new_policy.enforce,
                pods.get(&req.name).map_or(&[], Vec::as_slice),
            );
            r
        }
        Operation::Delete | Operation::Connect => Response::allow(),
    }
}

/// The warning for an exempt namespace that carries a non-default policy.
fn exempt_namespace_response(
    config: &Config,
    name: &str,
    policy: &NamespacePolicy,
    labels: &BTreeMap<String, String>,
) -> Response {
    let mut r = Response::allow();
    if !config.exempt_namespaces.iter().any(|n| n == name)
        || policy.fully_privileged()
        || policy.equivalent(&config.defaults)
    {
        return r;
    }
    let mut parts = Vec::new();
    for (mode, lv, level_label, version_label) in [
        ("enforce", policy.enforce, kguard_podsec::ENFORCE_LEVEL_LABEL, kguard_podsec::ENFORCE_VERSION_LABEL),
        ("audit", policy.audit, kguard_podsec::AUDIT_LEVEL_LABEL, kguard_podsec::AUDIT_VERSION_LABEL),
        ("warn", policy.warn, kguard_podsec::WARN_LEVEL_LABEL, kguard_podsec::WARN_VERSION_LABEL),
    ] {
        if lv.level != Level::Privileged && (labels.contains_key(level_label) || labels.contains_key(version_label)) {
            parts.push(format!("{mode}={lv}"));
        }
    }
    r.warnings.push(format!(
        "namespace {name:?} is exempt from Pod Security, and the policy ({}) will be ignored",
        parts.join(", ")
    ));
    r
}

/// Upstream `EvaluatePodsInNamespace`: the existing pods the new enforce level would deny,
/// grouped by their reasons (without details), each group named by its first pod in name order.
fn evaluate_pods_in_namespace(namespace: &str, enforce: LevelVersion, pods: &[Value]) -> Vec<String> {
    let mut warnings = Vec::new();
    let total = pods.len();
    let checked = total.min(NAMESPACE_MAX_PODS_TO_CHECK);
    let mut order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, (String, usize)> = HashMap::new();
    for pod in pods.iter().take(checked) {
        let Some(Ok((_, view))) = pod_of(pod) else { continue };
        let results = kguard_podsec::evaluate(&view, enforce.level, enforce.version);
        if results.is_empty() {
            continue;
        }
        let reason = results
            .iter()
            .map(|r| if r.reason.is_empty() { "unknown forbidden reason" } else { r.reason.as_str() })
            .collect::<Vec<_>>()
            .join(", ");
        let name = view.name.clone();
        match groups.get_mut(&reason) {
            Some((first, count)) => {
                if name < *first {
                    *first = name;
                }
                *count += 1;
            }
            None => {
                order.push(reason.clone());
                groups.insert(reason, (name, 1));
            }
        }
    }
    if checked < total {
        warnings.push(format!(
            "new PodSecurity enforce level only checked against the first {checked} of {total} existing pods"
        ));
    }
    if !order.is_empty() {
        warnings.push(format!(
            "existing pods in namespace {namespace:?} violate the new PodSecurity enforce level {:?}",
            enforce.to_string()
        ));
    }
    let mut decorated: Vec<String> = order
        .iter()
        .filter_map(|reason| {
            let (first, count) = groups.get(reason)?;
            Some(match count {
                1 => format!("{first}: {reason}"),
                2 => format!("{first} (and 1 other pod): {reason}"),
                n => format!("{first} (and {} other pods): {reason}", n - 1),
            })
        })
        .collect();
    decorated.sort();
    warnings.extend(decorated);
    warnings
}

/// Upstream `isSignificantPodUpdate`: container counts, images, per-container seccomp
/// annotations, or an added ephemeral container.
fn is_significant_pod_update(pod: &Value, old: &Value) -> bool {
    let list = |v: &'_ Value, key: &str| -> Vec<Value> {
        v.pointer(&format!("/spec/{key}")).and_then(Value::as_array).cloned().unwrap_or_default()
    };
    let annotation = |v: &Value, container: &Value| -> Option<String> {
        let name = container.get("name").and_then(Value::as_str).unwrap_or("");
        v.pointer("/metadata/annotations")
            .and_then(|a| a.get(format!("container.seccomp.security.alpha.kubernetes.io/{name}")))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let significant =
        |c: &Value, o: &Value| c.get("image") != o.get("image") || annotation(pod, c) != annotation(old, c);
    for key in ["containers", "initContainers", "ephemeralContainers"] {
        if list(pod, key).len() != list(old, key).len() {
            return true;
        }
    }
    for key in ["containers", "initContainers"] {
        if list(pod, key).iter().zip(list(old, key).iter()).any(|(c, o)| significant(c, o)) {
            return true;
        }
    }
    let old_ephemeral = list(old, "ephemeralContainers");
    list(pod, "ephemeralContainers").iter().any(|c| {
        match old_ephemeral.iter().find(|o| o.get("name") == c.get("name")) {
            None => true,
            Some(o) => significant(c, o),
        }
    })
}
