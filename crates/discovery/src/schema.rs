//! The field schema of built-in objects, and strict field validation: the unknown fields
//! kube-apiserver's strict decoding reports (`kubectl --validate=strict`, field validation
//! `Strict`: `sigs.k8s.io/json` with `DisallowUnknownFields`, case-sensitive), each with the key's
//! position and a suggestion.

use std::fmt;

use kguard_model::text::did_you_mean;
use kguard_model::yaml::{YamlNode, escape_pointer_token};
use kguard_model::{Diagnostic, Location, Object, Pos};

use crate::{KUBERNETES_VERSION, KindLookup, Resource, groups_with_kind, kinds_of, lookup_kind, table};

/// How a field holds its element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// One value.
    One,
    /// A list of values.
    List,
    /// A map from strings to values.
    Map,
    /// A map from strings to lists.
    MapOfList,
}

/// What a field's values are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Elem {
    /// A scalar (string, number, boolean, quantity, int-or-string, time).
    S,
    /// Free JSON (`RawExtension`, `FieldsV1`, JSON schema defaults): not checked.
    A,
    /// An object of `TYPES[i]`.
    O(u16),
    /// An object of `TYPES[i]`, or a list of them, or a scalar (`JSONSchemaPropsOr*`).
    U(u16),
}

/// One field: JSON name, shape, element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Field(pub(crate) &'static str, pub(crate) Shape, pub(crate) Elem);

/// An object type: its definition's name (`DeploymentSpec`) and fields, sorted by name.
#[derive(Debug)]
pub(crate) struct TypeDef {
    pub(crate) name: &'static str,
    pub(crate) fields: &'static [Field],
}

fn type_at(i: u16) -> Option<&'static TypeDef> {
    table::TYPES.get(usize::from(i))
}

impl TypeDef {
    fn field(&self, name: &str) -> Option<&'static Field> {
        let fields: &'static [Field] = self.fields;
        fields.binary_search_by(|f| f.0.cmp(name)).ok().and_then(|i| fields.get(i))
    }
}

impl Elem {
    fn object(self) -> Option<u16> {
        match self {
            Self::O(t) | Self::U(t) => Some(t),
            Self::S | Self::A => None,
        }
    }
}

/// What an unknown field was probably meant to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Suggestion {
    /// A field of the same object with a close name (`securityContext` for `securityContex`).
    Rename(&'static str),
    /// The same name is a field of an object nearby (above or below): its path there, with
    /// `[*]` for list items (`spec.template.spec.containers[*].image`).
    Move(String),
}

/// A field strict decoding does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownField {
    /// Its path as kube-apiserver reports it (`spec.template.spec.containers[0].securityContex`).
    pub path: String,
    /// Its JSON pointer from the object's root.
    pub pointer: String,
    /// Where its key is written.
    pub pos: Pos,
    /// The object type it is not a field of (`DeploymentSpec`).
    pub in_type: &'static str,
    /// What was probably meant.
    pub suggestion: Option<Suggestion>,
}

impl fmt::Display for UnknownField {
    /// `unknown field "spec.x"` (kube-apiserver's words) and the suggestion.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown field {:?}", self.path)?;
        match &self.suggestion {
            Some(Suggestion::Rename(name)) => write!(f, "; did you mean {name:?}?"),
            Some(Suggestion::Move(path)) => write!(f, "; did you mean {path:?}?"),
            None => Ok(()),
        }
    }
}

/// One object on the way from the root to a field: its type and its path.
struct Frame {
    ty: u16,
    path: String,
}

struct Walker {
    out: Vec<UnknownField>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

impl Walker {
    /// Checks `node` (a mapping) against type `ty`; `stack` holds the objects above it.
    fn object(&mut self, node: &YamlNode, ty: u16, path: &str, pointer: &str, stack: &mut Vec<Frame>) {
        let (Some(def), Some(entries)) = (type_at(ty), node.as_map()) else { return };
        stack.push(Frame { ty, path: path.to_owned() });
        for e in entries {
            let field_path = join(path, &e.key);
            let field_pointer = format!("{pointer}/{}", escape_pointer_token(&e.key));
            match def.field(&e.key) {
                // A union (`JSONSchemaPropsOrArray`, `...OrBool`, `...OrStringArray`: a CRD
                // schema's `items`, `additionalProperties`, ...) is decoded by its own
                // UnmarshalJSON, without strictness: kube-apiserver reports nothing inside.
                Some(Field(_, shape, Elem::O(t))) => {
                    self.value(&e.value, *shape, *t, &field_path, &field_pointer, stack)
                }
                Some(_) => {}
                None => {
                    let suggestion = suggest(def, &e.key, stack);
                    self.out.push(UnknownField {
                        path: field_path,
                        pointer: field_pointer,
                        pos: e.key_pos,
                        in_type: def.name,
                        suggestion,
                    });
                }
            }
        }
        stack.pop();
    }

    /// A field's value of `shape` whose elements are objects of type `t`. Map keys are path
    /// steps like fields (`properties.spec.type`), list items are `[i]`, as the strict decoder
    /// writes them.
    fn value(&mut self, node: &YamlNode, shape: Shape, t: u16, path: &str, pointer: &str, stack: &mut Vec<Frame>) {
        match shape {
            Shape::One => self.object(node, t, path, pointer, stack),
            Shape::List => {
                for (i, item) in node.as_seq().unwrap_or(&[]).iter().enumerate() {
                    self.object(item, t, &format!("{path}[{i}]"), &format!("{pointer}/{i}"), stack);
                }
            }
            Shape::Map | Shape::MapOfList => {
                let inner = if shape == Shape::Map { Shape::One } else { Shape::List };
                for e in node.as_map().unwrap_or(&[]) {
                    let p = join(path, &e.key);
                    let ptr = format!("{pointer}/{}", escape_pointer_token(&e.key));
                    self.value(&e.value, inner, t, &p, &ptr, stack);
                }
            }
        }
    }
}

/// The fields of type `ty` that hold objects, with the path step to them (`.name` or
/// `.name[*]`).
fn children(ty: u16) -> impl Iterator<Item = (String, u16)> {
    type_at(ty).map_or(&[][..], |d| d.fields).iter().filter_map(|Field(name, shape, elem)| {
        let t = elem.object()?;
        let step = match shape {
            Shape::One => (*name).to_owned(),
            Shape::List => format!("{name}[*]"),
            Shape::Map => format!("{name}.*"),
            Shape::MapOfList => format!("{name}.*[*]"),
        };
        Some((step, t))
    })
}

/// A close name in the same object; else the same name in an object nearby, up to three steps
/// away in the object tree (up to an enclosing object, then down into its fields): `image`
/// written in a pod spec belongs to `containers[*]` (one down), `replicas` written in a pod
/// template to the Deployment's spec (two up), `capabilities` written in a pod's security
/// context to `containers[*].securityContext` (one up, two down). The nearest first; at the same
/// distance, a place under a field of the same name as the current object's (`securityContext`),
/// then fewer steps up, then field order.
fn suggest(def: &TypeDef, key: &str, stack: &[Frame]) -> Option<Suggestion> {
    const MAX_STEPS: usize = 3;
    if let Some(name) = did_you_mean(key, def.fields.iter().map(|f| f.0)) {
        return Some(Suggestion::Rename(name));
    }
    let here = stack.last()?;
    let own_name = here.path.rsplit(['.', ']']).find(|s| !s.is_empty()).map(|s| s.split('[').next().unwrap_or(s));
    // the objects `down` steps below `frame`, skipping the branch back to where we came from
    let below = |frame: &Frame, down: usize, avoid: Option<&str>| -> Vec<(String, u16, Option<String>)> {
        let mut level: Vec<(String, u16, Option<String>)> = vec![(frame.path.clone(), frame.ty, None)];
        for step in 0..down {
            level = level
                .iter()
                .flat_map(|(p, t, _)| {
                    children(*t).filter_map(move |(s, c)| {
                        let field = s.split(['[', '.']).next().unwrap_or(&s).to_owned();
                        if step == 0 && avoid == Some(field.as_str()) {
                            return None;
                        }
                        Some((join(p, &s), c, Some(field)))
                    })
                })
                .collect();
        }
        level
    };
    for distance in 1..=MAX_STEPS {
        let mut best: Option<(bool, usize, String)> = None;
        for up in 0..=distance {
            let down = distance - up;
            let Some(frame) = stack.len().checked_sub(up + 1).and_then(|i| stack.get(i)) else { break };
            // going up then down again through the field we came up from is not "nearby"
            let avoid = if up == 0 {
                None
            } else {
                stack.get(stack.len() - up).and_then(|child| {
                    child
                        .path
                        .strip_prefix(&frame.path)
                        .map(|rest| rest.trim_start_matches('.').split(['.', '[']).next().unwrap_or("").to_owned())
                })
            };
            for (path, t, last) in below(frame, down, avoid.as_deref()) {
                if type_at(t).and_then(|d| d.field(key)).is_none() {
                    continue;
                }
                let same_parent = down > 0 && last.as_deref() == own_name;
                let candidate = (!same_parent, up, join(&path, key));
                if best.as_ref().is_none_or(|b| (candidate.0, candidate.1) < (b.0, b.1)) {
                    best = Some(candidate);
                }
            }
        }
        if let Some((_, _, path)) = best {
            return Some(Suggestion::Move(path));
        }
    }
    None
}

/// The fields of `root` (an object of `resource`) that strict decoding does not know, in
/// document order. Fields of free-form values (annotations, labels, `RawExtension`, JSON schema
/// defaults) are not checked; nor are values of the wrong type (a list where an object belongs):
/// decoding fails on those before strictness matters.
#[must_use]
pub fn unknown_fields(root: &YamlNode, resource: &Resource) -> Vec<UnknownField> {
    let mut w = Walker { out: Vec::new() };
    w.object(root, resource.schema, "", "", &mut Vec::new());
    w.out
}

/// The unknown fields of an `ObjectMeta` (`metadata` of any object: a configuration file's too),
/// with paths and pointers below `path` and `pointer` (`metadata`, `/metadata`).
#[must_use]
pub fn unknown_metadata_fields(node: &YamlNode, path: &str, pointer: &str) -> Vec<UnknownField> {
    let mut w = Walker { out: Vec::new() };
    w.object(node, table::OBJECT_META, path, pointer, &mut Vec::new());
    w.out
}

/// Kinds of a built-in group that are not served resources and are not objects kubectl would
/// send: kubeconfig files (`v1` `Config`, clientcmd's), which kguard scans for credentials.
const NOT_RESOURCES: &[(&str, &str)] = &[("v1", "Config")];

/// What `kubectl apply --validate=strict` would refuse in an object of a built-in API group, as
/// warnings (codes `unknown-kind`, `unserved-version`, `unknown-field`): a kind the group does not
/// have (`Deploymnet`), a version that does not serve the kind (`apps/v1beta1`), and every unknown
/// or misplaced field. Objects of other groups (custom resources) get nothing.
#[must_use]
pub fn check_object(obj: &Object) -> Vec<Diagnostic> {
    let api_version = obj.id.api_version.as_str();
    let kind = obj.kind();
    if NOT_RESOURCES.contains(&(api_version, kind)) {
        return Vec::new();
    }
    match lookup_kind(api_version, kind) {
        KindLookup::UnknownGroup => Vec::new(),
        KindLookup::Known(r) => unknown_fields(&obj.root, r)
            .into_iter()
            .map(|u| {
                Diagnostic::warning("unknown-field", Location::at(obj.file.clone(), u.pos), format!("{}: {u}", obj.id))
            })
            .collect(),
        KindLookup::OtherVersions(served) => {
            let versions: Vec<String> = served.iter().map(|r| r.api_version()).collect();
            let message = format!(
                "{}: no matches for kind {kind:?} in version {api_version:?} (Kubernetes {KUBERNETES_VERSION} serves it as {}); did you mean {:?}?",
                obj.id,
                versions.join(", "),
                versions.first().map_or("", String::as_str),
            );
            vec![Diagnostic::warning("unserved-version", obj.location("/apiVersion"), message)]
        }
        KindLookup::UnknownKind => {
            let group = obj.group();
            let known: Vec<&str> = kinds_of(group).collect();
            let hint = match did_you_mean(kind, known.iter().copied()) {
                Some(k) => format!("; did you mean {k:?}?"),
                None => match groups_with_kind(kind).next() {
                    Some(r) => format!("; {kind} is served as apiVersion {:?}", r.api_version()),
                    None if known.len() <= 12 => format!(" (its kinds: {})", known.join(", ")),
                    None => String::new(),
                },
            };
            let message = format!(
                "{}: no matches for kind {kind:?} in version {api_version:?} (Kubernetes {KUBERNETES_VERSION}){hint}",
                obj.id
            );
            vec![Diagnostic::warning("unknown-kind", obj.location("/kind"), message)]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kguard_model::yaml::parse_documents;

    fn object(text: &str) -> Object {
        let doc = parse_documents(text).into_iter().next().unwrap();
        Object::from_node(doc.root.unwrap().unwrap(), "t.yaml".into(), 0, String::new()).unwrap()
    }

    fn unknown(text: &str) -> Vec<String> {
        check_object(&object(text)).into_iter().map(|d| format!("{}: {}", d.location, d.message)).collect()
    }

    #[test]
    fn a_clean_deployment_has_nothing() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: {app: web}\n  annotations: {x: y}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n        - name: web\n          image: nginx\n          resources: {limits: {cpu: 100m}}\n          securityContext: {runAsNonRoot: true}\n          ports: [{containerPort: 80}]\nstatus: {replicas: 2}\n";
        assert_eq!(unknown(text), Vec::<String>::new());
    }

    #[test]
    fn typos_and_misplaced_fields() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  lables: {app: web}\nspec:\n  replicas: 2\n  template:\n    spec:\n      replicas: 3\n      image: nginx\n      containers:\n        - name: web\n          image: nginx\n          securityContex: {}\n          Image: x\n";
        assert_eq!(
            unknown(text),
            [
                r#"t.yaml:5:3: Deployment/web: unknown field "metadata.lables"; did you mean "labels"?"#,
                r#"t.yaml:10:7: Deployment/web: unknown field "spec.template.spec.replicas"; did you mean "spec.replicas"?"#,
                r#"t.yaml:11:7: Deployment/web: unknown field "spec.template.spec.image"; did you mean "spec.template.spec.containers[*].image"?"#,
                r#"t.yaml:15:11: Deployment/web: unknown field "spec.template.spec.containers[0].securityContex"; did you mean "securityContext"?"#,
                r#"t.yaml:16:11: Deployment/web: unknown field "spec.template.spec.containers[0].Image"; did you mean "image"?"#,
            ]
        );
    }

    #[test]
    fn free_form_values_are_not_checked() {
        // labels, annotations, configmap data, RawExtension (ControllerRevision.data), JSON schema defaults
        let text = "apiVersion: apps/v1\nkind: ControllerRevision\nmetadata: {name: r}\nrevision: 1\ndata: {anything: [1, {goes: here}]}\n";
        assert!(unknown(text).is_empty());
        let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: ws.example.com}\nspec:\n  group: example.com\n  names: {kind: W, plural: ws}\n  scope: Namespaced\n  versions:\n    - name: v1\n      served: true\n      storage: true\n      schema:\n        openAPIV3Schema:\n          type: object\n          x-kubernetes-preserve-unknown-fields: true\n          properties:\n            spec:\n              type: object\n              default: {free: form}\n              tpye: string\n";
        assert_eq!(
            unknown(crd),
            [
                r#"t.yaml:20:15: CustomResourceDefinition/ws.example.com: unknown field "spec.versions[0].schema.openAPIV3Schema.properties.spec.tpye"; did you mean "type"?"#
            ]
        );
    }

    #[test]
    fn kinds_and_versions() {
        assert_eq!(
            unknown("apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: web}\n"),
            [
                r#"t.yaml:2:1: Deploymnet/web: no matches for kind "Deploymnet" in version "apps/v1" (Kubernetes v1.37); did you mean "Deployment"?"#
            ]
        );
        assert_eq!(
            unknown("apiVersion: v1\nkind: Deployment\nmetadata: {name: web}\n"),
            [
                r#"t.yaml:2:1: Deployment/web: no matches for kind "Deployment" in version "v1" (Kubernetes v1.37); Deployment is served as apiVersion "apps/v1""#
            ]
        );
        assert_eq!(
            unknown("apiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: web}\n"),
            [
                r#"t.yaml:1:1: Deployment/web: no matches for kind "Deployment" in version "apps/v1beta1" (Kubernetes v1.37 serves it as apps/v1); did you mean "apps/v1"?"#
            ]
        );
        assert!(
            unknown("apiVersion: example.com/v1\nkind: Deploymnet\nmetadata: {name: w}\nspec: {anything: 1}\n")
                .is_empty()
        );
        assert!(unknown("apiVersion: v1\nkind: Config\nclusters: []\n").is_empty(), "kubeconfigs are scanned");
    }
}
