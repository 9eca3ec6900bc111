//! Pod templates of workload kinds, their containers in upstream order, and effective security
//! contexts.
//!
//! A [`PodView`] is the typed pod metadata and spec found in an object: the object itself for a
//! `Pod`, `/template` for a `PodTemplate`, `/spec/template` for the controllers, and
//! `/spec/jobTemplate/spec/template` for a `CronJob` (the kinds the PodSecurity admission plugin
//! evaluates). Every JSON pointer it hands out is relative to the object, so
//! `Object::location(pointer)` finds the field in the source.

use crate::Object;
use crate::pod::{self, Container, ObjectMeta, PodSpec, Profile, SeLinuxOptions};

/// Whether a view is a Pod (enforce applies) or a workload's pod template (audit and warn only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateKind {
    /// A `Pod`.
    Pod,
    /// A workload resource's pod template.
    Workload,
}

/// The pod metadata and spec of a Pod or of a workload's pod template.
#[derive(Clone, Debug, PartialEq)]
pub struct PodView {
    /// Pod or workload.
    pub kind: TemplateKind,
    /// The object's name (`metadata.name`), as used in admission messages.
    pub name: String,
    /// JSON pointer of the pod (template) inside the object: `""` for a Pod, `/spec/template`, ...
    pub prefix: String,
    /// The pod (template) metadata.
    pub metadata: ObjectMeta,
    /// The pod (template) spec.
    pub spec: PodSpec,
}

/// Why an object's pod template could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewError {
    /// JSON pointer (relative to the object) of the offending field.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ViewError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at {})", self.message, if self.pointer.is_empty() { "/" } else { &self.pointer })
    }
}

impl std::error::Error for ViewError {}

/// Where the pod template of an object of this API group and kind lives, `None` for kinds that
/// carry no pod: `""` for a Pod, `/template`, `/spec/template` or `/spec/jobTemplate/spec/template`.
#[must_use]
pub fn template_pointer(group: &str, kind: &str) -> Option<&'static str> {
    match (group, kind) {
        ("", "Pod") => Some(""),
        ("", "PodTemplate") => Some("/template"),
        ("", "ReplicationController")
        | ("apps" | "extensions", "Deployment" | "ReplicaSet" | "DaemonSet")
        | ("apps", "StatefulSet")
        | ("batch", "Job") => Some("/spec/template"),
        ("batch", "CronJob") => Some("/spec/jobTemplate/spec/template"),
        _ => None,
    }
}

/// The pod view of an object: `None` when its kind carries no pod template, `Some(Err)` when the
/// template is missing or a field rules read has the wrong type.
#[must_use]
pub fn pod_view(obj: &Object) -> Option<Result<PodView, ViewError>> {
    let prefix = template_pointer(obj.group(), obj.kind())?;
    Some(build_view(obj, prefix))
}

fn build_view(obj: &Object, prefix: &str) -> Result<PodView, ViewError> {
    let kind = if prefix.is_empty() { TemplateKind::Pod } else { TemplateKind::Workload };
    let Some(template) = obj.root.pointer(prefix) else {
        return Err(ViewError {
            pointer: prefix.to_owned(),
            message: format!("{} has no pod template at {prefix}", obj.kind()),
        });
    };
    if template.as_map().is_none() {
        return Err(ViewError {
            pointer: prefix.to_owned(),
            message: format!("the pod template must be a mapping, found a {}", template.type_name()),
        });
    }
    let metadata: ObjectMeta = match template.get("metadata").filter(|m| !m.is_null()) {
        None => ObjectMeta::default(),
        Some(m) => pod::from_json(m.to_json()).map_err(|e| type_error(&format!("{prefix}/metadata"), &e))?,
    };
    let spec: PodSpec = match template.get("spec").filter(|s| !s.is_null()) {
        None => PodSpec::default(),
        Some(s) => pod::from_json(s.to_json()).map_err(|e| type_error(&format!("{prefix}/spec"), &e))?,
    };
    Ok(PodView { kind, name: obj.id.name.clone(), prefix: prefix.to_owned(), metadata, spec })
}

/// [`pod_view`] for an object that arrived as JSON (a webhook request): the typed view is
/// deserialised straight from `json` (the same object as `obj`), skipping the node → JSON copy.
#[must_use]
pub fn pod_view_json(obj: &Object, json: &serde_json::Value) -> Option<Result<PodView, ViewError>> {
    let prefix = template_pointer(obj.group(), obj.kind())?;
    let kind = if prefix.is_empty() { TemplateKind::Pod } else { TemplateKind::Workload };
    let Some(template) = json.pointer(prefix) else {
        return Some(Err(ViewError {
            pointer: prefix.to_owned(),
            message: format!("{} has no pod template at {prefix}", obj.kind()),
        }));
    };
    if !template.is_object() {
        return Some(Err(ViewError {
            pointer: prefix.to_owned(),
            message: "the pod template must be a mapping".to_owned(),
        }));
    }
    let part = |key: &str| template.get(key).filter(|v| !v.is_null());
    let metadata: ObjectMeta = match part("metadata") {
        None => ObjectMeta::default(),
        Some(m) => match pod::from_json_ref(m) {
            Ok(m) => m,
            Err(e) => return Some(Err(type_error(&format!("{prefix}/metadata"), &e))),
        },
    };
    let spec: PodSpec = match part("spec") {
        None => PodSpec::default(),
        Some(s) => match pod::from_json_ref(s) {
            Ok(s) => s,
            Err(e) => return Some(Err(type_error(&format!("{prefix}/spec"), &e))),
        },
    };
    Some(Ok(PodView { kind, name: obj.id.name.clone(), prefix: prefix.to_owned(), metadata, spec }))
}

fn type_error(base: &str, e: &pod::TypeError) -> ViewError {
    ViewError { pointer: format!("{base}{}", e.pointer), message: format!("{}{}: {}", base, e.pointer, e.message) }
}

/// Which list a container comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerKind {
    /// `initContainers`.
    Init,
    /// `containers`.
    Regular,
    /// `ephemeralContainers`.
    Ephemeral,
}

impl ContainerKind {
    /// The pod spec field holding this kind of container.
    #[must_use]
    pub const fn field(self) -> &'static str {
        match self {
            Self::Init => "initContainers",
            Self::Regular => "containers",
            Self::Ephemeral => "ephemeralContainers",
        }
    }
}

/// One container of a pod view, with where it is.
#[derive(Clone, Debug)]
pub struct ContainerRef<'a> {
    /// The container.
    pub container: &'a Container,
    /// Which list it is in.
    pub kind: ContainerKind,
    /// Its index in that list.
    pub index: usize,
    /// The pod template's pointer inside the object (`""` for a Pod, `/spec/template`, ...).
    prefix: &'a str,
}

impl ContainerRef<'_> {
    /// The container's name (`""` when unset).
    #[must_use]
    pub fn name(&self) -> &str {
        self.container.name_str()
    }

    /// JSON pointer relative to the object, e.g. `/spec/template/spec/containers/0` (built on
    /// demand: most checks pass and never need it).
    #[must_use]
    pub fn pointer(&self) -> String {
        self.at("")
    }

    /// The pointer of a field below this container (`rel` starts with `/`).
    #[must_use]
    pub fn at(&self, rel: &str) -> String {
        format!("{}/spec/{}/{}{rel}", self.prefix, self.kind.field(), self.index)
    }
}

impl PodView {
    /// Whether this is a Pod (rather than a workload's template).
    #[must_use]
    pub fn is_pod(&self) -> bool {
        self.kind == TemplateKind::Pod
    }

    /// JSON pointer of the pod spec inside the object (`/spec`, `/spec/template/spec`, ...).
    #[must_use]
    pub fn spec_pointer(&self) -> String {
        format!("{}/spec", self.prefix)
    }

    /// JSON pointer of the pod metadata inside the object.
    #[must_use]
    pub fn metadata_pointer(&self) -> String {
        format!("{}/metadata", self.prefix)
    }

    /// The pointer of a field below the pod spec (`rel` starts with `/`).
    #[must_use]
    pub fn spec_at(&self, rel: &str) -> String {
        format!("{}/spec{rel}", self.prefix)
    }

    /// An annotation of the pod (template) metadata.
    #[must_use]
    pub fn template_annotation(&self, key: &str) -> Option<&str> {
        self.metadata.annotation(key)
    }

    /// Every container in upstream visiting order: initContainers, containers, ephemeralContainers.
    pub fn containers(&self) -> impl Iterator<Item = ContainerRef<'_>> {
        let lists = [
            (ContainerKind::Init, self.spec.init_containers.as_deref()),
            (ContainerKind::Regular, self.spec.containers.as_deref()),
            (ContainerKind::Ephemeral, self.spec.ephemeral_containers.as_deref()),
        ];
        lists.into_iter().flat_map(move |(kind, list)| {
            list.unwrap_or(&[]).iter().enumerate().map(move |(index, container)| ContainerRef {
                container,
                kind,
                index,
                prefix: &self.prefix,
            })
        })
    }

    /// The security context a container effectively runs with: the container's value over the
    /// pod's, field by field; `None` where neither sets it.
    #[must_use]
    pub fn effective_security_context(&self, container: &Container) -> EffectiveSecurityContext {
        let pod = self.spec.security_context.as_ref();
        let ctr = container.security_context.as_ref();
        EffectiveSecurityContext {
            run_as_user: ctr.and_then(|c| c.run_as_user).or_else(|| pod.and_then(|p| p.run_as_user)),
            run_as_group: ctr.and_then(|c| c.run_as_group).or_else(|| pod.and_then(|p| p.run_as_group)),
            run_as_non_root: ctr.and_then(|c| c.run_as_non_root).or_else(|| pod.and_then(|p| p.run_as_non_root)),
            se_linux_options: ctr
                .and_then(|c| c.se_linux_options.clone())
                .or_else(|| pod.and_then(|p| p.se_linux_options.clone())),
            seccomp_profile: ctr
                .and_then(|c| c.seccomp_profile.clone())
                .or_else(|| pod.and_then(|p| p.seccomp_profile.clone())),
            app_armor_profile: ctr
                .and_then(|c| c.app_armor_profile.clone())
                .or_else(|| pod.and_then(|p| p.app_armor_profile.clone())),
            host_process: ctr
                .and_then(|c| c.windows_options.as_ref())
                .and_then(|w| w.host_process)
                .or_else(|| pod.and_then(|p| p.windows_options.as_ref()).and_then(|w| w.host_process)),
        }
    }
}

/// The effective security context of a container (container over pod); `None` = set by neither.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EffectiveSecurityContext {
    /// `runAsUser`.
    pub run_as_user: Option<i64>,
    /// `runAsGroup`.
    pub run_as_group: Option<i64>,
    /// `runAsNonRoot`.
    pub run_as_non_root: Option<bool>,
    /// `seLinuxOptions` (the container's whole struct when it sets one).
    pub se_linux_options: Option<SeLinuxOptions>,
    /// `seccompProfile`.
    pub seccomp_profile: Option<Profile>,
    /// `appArmorProfile`.
    pub app_armor_profile: Option<Profile>,
    /// `windowsOptions.hostProcess`.
    pub host_process: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::parse_text;
    use std::sync::Arc;

    fn obj(yaml: &str) -> Object {
        let parsed = parse_text(&Arc::from("t.yaml"), yaml);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        parsed.objects.into_iter().next().unwrap()
    }

    #[test]
    fn finds_templates() {
        let cases = [
            ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a}]}", ""),
            (
                "apiVersion: v1\nkind: PodTemplate\nmetadata: {name: p}\ntemplate: {spec: {containers: [{name: a}]}}",
                "/template",
            ),
            (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: {spec: {containers: [{name: a}]}}}",
                "/spec/template",
            ),
            (
                "apiVersion: batch/v1\nkind: Job\nmetadata: {name: d}\nspec: {template: {spec: {containers: [{name: a}]}}}",
                "/spec/template",
            ),
            (
                "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {jobTemplate: {spec: {template: {spec: {containers: [{name: a}]}}}}}",
                "/spec/jobTemplate/spec/template",
            ),
        ];
        for (yaml, prefix) in cases {
            let view = pod_view(&obj(yaml)).unwrap().unwrap();
            assert_eq!(view.prefix, prefix);
            assert_eq!(view.is_pod(), prefix.is_empty());
            let c: Vec<_> = view.containers().map(|c| (c.name().to_owned(), c.pointer())).collect();
            assert_eq!(c, [("a".to_owned(), format!("{prefix}/spec/containers/0"))]);
        }
        assert!(pod_view(&obj("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}")).is_none());
        assert!(pod_view(&obj("apiVersion: example.com/v1\nkind: Deployment\nmetadata: {name: c}")).is_none());
    }

    #[test]
    fn missing_template_and_type_errors() {
        let e = pod_view(&obj("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {}"))
            .unwrap()
            .unwrap_err();
        assert_eq!(e.pointer, "/spec/template");
        let e = pod_view(&obj(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: {spec: {hostNetwork: [1]}}}",
        ))
        .unwrap()
        .unwrap_err();
        assert_eq!(e.pointer, "/spec/template/spec/hostNetwork");
    }

    #[test]
    fn container_order_and_effective_context() {
        let o = obj(r"
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  securityContext: {runAsUser: 1000, runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}, windowsOptions: {hostProcess: false}}
  ephemeralContainers: [{name: e}]
  containers:
  - {name: a, securityContext: {runAsUser: 0, runAsNonRoot: false}}
  - {name: b}
  initContainers: [{name: i, securityContext: {windowsOptions: {hostProcess: true}}}]
");
        let view = pod_view(&o).unwrap().unwrap();
        let names: Vec<_> = view.containers().map(|c| format!("{}@{}", c.name(), c.pointer())).collect();
        assert_eq!(
            names,
            [
                "i@/spec/initContainers/0",
                "a@/spec/containers/0",
                "b@/spec/containers/1",
                "e@/spec/ephemeralContainers/0"
            ]
        );
        let cs: Vec<_> = view.containers().map(|c| view.effective_security_context(c.container)).collect();
        assert_eq!(cs[0].host_process, Some(true));
        assert_eq!(cs[1].run_as_user, Some(0));
        assert_eq!(cs[1].run_as_non_root, Some(false));
        assert_eq!(cs[2].run_as_user, Some(1000));
        assert_eq!(cs[2].run_as_non_root, Some(true));
        assert_eq!(cs[2].host_process, Some(false));
        assert_eq!(cs[2].seccomp_profile.as_ref().unwrap().type_str(), "RuntimeDefault");
        assert_eq!(cs[3].run_as_group, None);
        let bare = pod_view(&obj("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a}]}"))
            .unwrap()
            .unwrap();
        let c = bare.containers().next().unwrap();
        assert_eq!(bare.effective_security_context(c.container), EffectiveSecurityContext::default());
    }
}
