//! What kube-apiserver v1.37 serves, without a cluster: its built-in resources (group, version,
//! kind, plural, singular, short names, scope, verbs, subresources, categories) and the field
//! schema of their objects, generated from the API definitions (`tools/gen_discovery.py`: the
//! Kubernetes v1.37 definitions in k8s-openapi 0.29, and what only discovery says, from a real
//! kube-apiserver's discovery documents).
//!
//! * [`resolve`]: a resource named on a command line (`deploy`, `deployments.apps`, `po`,
//!   `Deployment`, `hpa.v2.autoscaling`) resolved to its group and plural the way kubectl's REST
//!   mapper does (short names, singular names, group prefixes, group priority), with kubectl's
//!   warnings and a "did you mean" for what it does not know ([`check_request`] adds the verb,
//!   subresource and namespace checks of `kubectl auth can-i`).
//! * [`lookup_kind`]: the resource of an object's `apiVersion` and `kind`; [`check_object`]
//!   warns, as `kubectl --validate=strict` would refuse, about an unknown kind or version of a
//!   built-in API group and about unknown or misplaced fields (with file:line and a "did you
//!   mean"). Objects of other groups (custom resources) are left alone.
//!
//! Lookups are binary searches over the generated sorted tables. Pure: no I/O.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

mod resolve;
mod schema;
mod table;

pub use resolve::{
    NON_RESOURCE_VERBS, RESOURCE_VERBS, Resolved, check_non_resource_verb, check_request, names_builtin_group, resolve,
    resolve_in_group,
};
pub use schema::{Suggestion, UnknownField, check_object, unknown_fields, unknown_metadata_fields};

/// The Kubernetes release the table describes.
pub const KUBERNETES_VERSION: &str = "v1.37";

/// The verbs of discovery, in the order of their bits in [`Resource::verbs`].
const VERB_BITS: [&str; 8] = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];

fn verb_bit(verb: &str) -> Option<u8> {
    VERB_BITS.iter().position(|v| *v == verb).and_then(|i| u8::try_from(i).ok()).map(|i| 1 << i)
}

fn verbs_of(mask: u8) -> impl Iterator<Item = &'static str> {
    VERB_BITS.iter().enumerate().filter(move |(i, _)| mask & (1 << i) != 0).map(|(_, v)| *v)
}

/// One built-in resource in one API version (a row of `kubectl api-resources -o wide`, every
/// version included).
#[derive(Debug, PartialEq, Eq)]
pub struct Resource {
    /// API group (`""` for the core group).
    pub group: &'static str,
    /// API version (`v1`, `v1beta1`, ...).
    pub version: &'static str,
    /// Kind (`Deployment`).
    pub kind: &'static str,
    /// Plural resource name, as in URLs and RBAC rules (`deployments`).
    pub plural: &'static str,
    /// Singular name (`deployment`).
    pub singular: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Short names (`deploy`).
    pub short_names: &'static [&'static str],
    /// Categories (`all`, `api-extensions`).
    pub categories: &'static [&'static str],
    /// Verbs, one bit each in `VERB_BITS` order.
    pub(crate) verbs: u8,
    /// Subresources (`status`, `scale`, `exec`, ...).
    pub subresources: &'static [Subresource],
    /// Index of its object's type in the schema.
    pub(crate) schema: u16,
}

/// A subresource of a [`Resource`] and the verbs it serves.
#[derive(Debug, PartialEq, Eq)]
pub struct Subresource {
    /// Name (`status`, `exec`).
    pub name: &'static str,
    /// Verbs, one bit each in `VERB_BITS` order.
    pub(crate) verbs: u8,
}

impl Subresource {
    /// The verbs it serves, in discovery's order of bits (`get`, `list`, `watch`, `create`, ...).
    pub fn verbs(&self) -> impl Iterator<Item = &'static str> {
        verbs_of(self.verbs)
    }

    /// Whether it serves `verb`.
    #[must_use]
    pub fn serves(&self, verb: &str) -> bool {
        verb_bit(verb).is_some_and(|b| self.verbs & b != 0)
    }
}

impl Resource {
    /// The verbs it serves (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`: those it has).
    pub fn verbs(&self) -> impl Iterator<Item = &'static str> {
        verbs_of(self.verbs)
    }

    /// Whether it serves `verb`.
    #[must_use]
    pub fn serves(&self, verb: &str) -> bool {
        verb_bit(verb).is_some_and(|b| self.verbs & b != 0)
    }

    /// Its subresource `name`.
    #[must_use]
    pub fn subresource(&self, name: &str) -> Option<&'static Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }

    /// `apps/v1`, `v1`.
    #[must_use]
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.to_owned() } else { format!("{}/{}", self.group, self.version) }
    }

    /// `deployments.apps`, `pods` (kubectl's `GroupResource` string).
    #[must_use]
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() { self.plural.to_owned() } else { format!("{}.{}", self.plural, self.group) }
    }
}

/// Every resource, groups in kube-apiserver's priority order, each group's versions preferred
/// first (the order kubectl's REST mapper picks in).
#[must_use]
pub fn resources() -> &'static [Resource] {
    &table::RESOURCES
}

/// The built-in API groups, in priority order (`""` is the core group).
#[must_use]
pub fn groups() -> &'static [&'static str] {
    &table::GROUPS
}

/// Whether `group` is a built-in API group.
#[must_use]
pub fn is_builtin_group(group: &str) -> bool {
    table::GROUPS.contains(&group)
}

fn resource_at(i: u16) -> Option<&'static Resource> {
    table::RESOURCES.get(usize::from(i))
}

/// The rows of a sorted `(name, resource)` index equal to `name`, in priority order.
fn by_name(index: &'static [(&'static str, u16)], name: &str) -> impl Iterator<Item = &'static Resource> {
    let start = index.partition_point(|(n, _)| *n < name);
    index.get(start..).unwrap_or(&[]).iter().take_while(move |(n, _)| *n == name).filter_map(|(_, i)| resource_at(*i))
}

/// The versions of `kind` in `group`, preferred first.
fn kind_versions(group: &str, kind: &str) -> impl Iterator<Item = &'static Resource> {
    let key = (group, kind);
    let start = table::KINDS.partition_point(|(g, k, _)| (*g, *k) < key);
    table::KINDS
        .get(start..)
        .unwrap_or(&[])
        .iter()
        .take_while(move |(g, k, _)| (*g, *k) == key)
        .filter_map(|(_, _, i)| resource_at(*i))
}

/// What the table says of an object's `apiVersion` and `kind`.
#[derive(Debug, PartialEq, Eq)]
pub enum KindLookup {
    /// A built-in resource.
    Known(&'static Resource),
    /// A built-in kind, but not served in this version: the versions that serve it, preferred
    /// first.
    OtherVersions(Vec<&'static Resource>),
    /// A built-in group without this kind.
    UnknownKind,
    /// Not a built-in group (a custom resource, or a group Kubernetes v1.37 does not serve).
    UnknownGroup,
}

/// The resource of `apiVersion` (`apps/v1`, `v1`) and `kind`.
#[must_use]
pub fn lookup_kind(api_version: &str, kind: &str) -> KindLookup {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    if !is_builtin_group(group) {
        return KindLookup::UnknownGroup;
    }
    let versions: Vec<&'static Resource> = kind_versions(group, kind).collect();
    if versions.is_empty() {
        return KindLookup::UnknownKind;
    }
    match versions.iter().find(|r| r.version == version) {
        Some(r) => KindLookup::Known(r),
        None => KindLookup::OtherVersions(versions),
    }
}

/// The kinds of `group`, each once, in table order.
pub fn kinds_of(group: &str) -> impl Iterator<Item = &'static str> {
    let mut seen: Vec<&str> = Vec::new();
    table::RESOURCES.iter().filter(move |r| r.group == group).map(|r| r.kind).filter(move |k| {
        let new = !seen.contains(k);
        if new {
            seen.push(k);
        }
        new
    })
}

/// The groups serving `kind`, in priority order, with their preferred version of it.
pub fn groups_with_kind(kind: &str) -> impl Iterator<Item = &'static Resource> {
    table::GROUPS.iter().filter_map(move |g| kind_versions(g, kind).next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_consistent() {
        assert!(table::NAMES.windows(2).all(|w| w[0] <= w[1]), "NAMES sorted");
        assert!(table::SHORT_NAMES.windows(2).all(|w| w[0] <= w[1]), "SHORT_NAMES sorted");
        assert!(table::KINDS.windows(2).all(|w| w[0] <= w[1]), "KINDS sorted");
        for t in &table::TYPES {
            assert!(t.fields.windows(2).all(|w| w[0].0 < w[1].0), "{}: fields sorted and unique", t.name);
        }
        for r in resources() {
            assert!(is_builtin_group(r.group), "{}", r.group);
            assert!(table::TYPES.get(usize::from(r.schema)).is_some(), "{}: schema", r.kind);
            assert_eq!(lookup_kind(&r.api_version(), r.kind), KindLookup::Known(r));
        }
        assert_eq!(resources().len(), table::KINDS.len());
    }

    #[test]
    fn well_known_rows() {
        let KindLookup::Known(d) = lookup_kind("apps/v1", "Deployment") else { panic!() };
        assert_eq!((d.plural, d.singular, d.namespaced), ("deployments", "deployment", true));
        assert_eq!(d.short_names, ["deploy"]);
        assert_eq!(d.categories, ["all"]);
        assert_eq!(d.verbs().collect::<Vec<_>>(), VERB_BITS);
        assert_eq!(d.subresources.iter().map(|s| s.name).collect::<Vec<_>>(), ["scale", "status"]);
        assert_eq!(d.subresource("scale").unwrap().verbs().collect::<Vec<_>>(), ["get", "update", "patch"]);
        let KindLookup::Known(ns) = lookup_kind("v1", "Namespace") else { panic!() };
        assert!(!ns.namespaced && !ns.serves("deletecollection") && ns.serves("delete"));
        let KindLookup::Known(pod) = lookup_kind("v1", "Pod") else { panic!() };
        let exec = pod.subresource("exec").unwrap();
        assert!(exec.serves("create") && exec.serves("get") && !exec.serves("list"));
        let KindLookup::Known(tr) = lookup_kind("authentication.k8s.io/v1", "TokenReview") else { panic!() };
        assert_eq!(tr.verbs().collect::<Vec<_>>(), ["create"]);
        assert_eq!(lookup_kind("apps/v1", "Deploymnet"), KindLookup::UnknownKind);
        assert_eq!(lookup_kind("example.com/v1", "Deployment"), KindLookup::UnknownGroup);
        let KindLookup::OtherVersions(v) = lookup_kind("apps/v1beta1", "Deployment") else { panic!() };
        assert_eq!(v.iter().map(|r| r.api_version()).collect::<Vec<_>>(), ["apps/v1"]);
        let KindLookup::OtherVersions(v) = lookup_kind("autoscaling/v2beta2", "HorizontalPodAutoscaler") else {
            panic!()
        };
        assert_eq!(v.iter().map(|r| r.api_version()).collect::<Vec<_>>(), ["autoscaling/v2", "autoscaling/v1"]);
    }

    #[test]
    fn v1_37_resources_are_in() {
        // new in v1.37 (not served by v1.36.2): from the additions, and promoted ones
        let KindLookup::Known(er) = lookup_kind("lifecycle.k8s.io/v1alpha1", "EvictionRequest") else { panic!() };
        assert!(er.namespaced && er.subresource("status").is_some());
        assert!(matches!(lookup_kind("certificates.k8s.io/v1", "ClusterTrustBundle"), KindLookup::Known(_)));
        assert!(matches!(lookup_kind("storagemigration.k8s.io/v1", "StorageVersionMigration"), KindLookup::Known(_)));
        // removed by v1.37
        assert!(matches!(lookup_kind("networking.k8s.io/v1beta1", "ServiceCIDR"), KindLookup::OtherVersions(_)));
    }

    #[test]
    fn kinds_and_groups() {
        assert_eq!(
            kinds_of("apps").collect::<Vec<_>>(),
            ["ControllerRevision", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"]
        );
        assert_eq!(groups_with_kind("Event").map(|r| r.api_version()).collect::<Vec<_>>(), ["v1", "events.k8s.io/v1"]);
        assert_eq!(groups()[0], "");
    }
}
