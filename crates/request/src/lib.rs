//! The vocabulary of a request to kube-apiserver that several domains share: who asks
//! ([`UserInfo`], the well-known users and groups), what is asked ([`Attributes`], as every
//! authorizer sees it), the admission [`Operation`], and the messages kube-apiserver words from
//! them ([`forbidden_message`], [`forbidden_status_message`]).
//!
//! It sits below the domains (authentication, authorization, admission) so that none of them
//! imports a sibling to name a user or a request. Pure data: no I/O.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

use std::collections::BTreeMap;
use std::fmt;

use kguard_model::text::go_quote;

/// The group every authenticated user is in.
pub const ALL_AUTHENTICATED: &str = "system:authenticated";
/// The group of requests without credentials.
pub const ALL_UNAUTHENTICATED: &str = "system:unauthenticated";
/// The user of requests without credentials.
pub const ANONYMOUS: &str = "system:anonymous";
/// The privileged group: kube-apiserver allows its members everything before any authorizer runs.
pub const SYSTEM_MASTERS: &str = "system:masters";
/// The group of every service account.
pub const ALL_SERVICE_ACCOUNTS: &str = "system:serviceaccounts";
/// Prefix of service-account user names (`system:serviceaccount:<ns>:<name>`).
pub const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";
/// Prefix of node user names (`system:node:<name>`).
pub const NODE_PREFIX: &str = "system:node:";
/// The group of nodes.
pub const NODES_GROUP: &str = "system:nodes";
/// The namespace of node leases.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// An authenticated identity (`user.Info`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// User name.
    pub name: String,
    /// UID.
    pub uid: String,
    /// Groups, in order.
    pub groups: Vec<String>,
    /// Extra attributes.
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// A user with exactly these groups (nothing added).
    #[must_use]
    pub fn new(name: impl Into<String>, groups: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self { name: name.into(), groups: groups.into_iter().map(Into::into).collect(), ..Self::default() }
    }

    /// The anonymous user (`system:anonymous` in `system:unauthenticated`).
    #[must_use]
    pub fn anonymous() -> Self {
        Self::new(ANONYMOUS, [ALL_UNAUTHENTICATED])
    }

    /// The identity kube-apiserver builds when impersonating `name` with `groups`
    /// (`kubectl --as NAME --as-group G`): a service-account user impersonated without groups gets
    /// `system:serviceaccounts` and `system:serviceaccounts:<ns>`; every user but
    /// `system:anonymous` gets `system:authenticated`, the anonymous user `system:unauthenticated`.
    #[must_use]
    pub fn impersonated(name: &str, groups: &[String]) -> Self {
        let mut all: Vec<String> = groups.to_vec();
        if groups.is_empty()
            && let Some((ns, _)) = service_account_parts(name)
        {
            all.push(ALL_SERVICE_ACCOUNTS.to_owned());
            all.push(format!("{ALL_SERVICE_ACCOUNTS}:{ns}"));
        }
        let implied = if name == ANONYMOUS { ALL_UNAUTHENTICATED } else { ALL_AUTHENTICATED };
        if !all.iter().any(|g| g == implied) {
            all.push(implied.to_owned());
        }
        Self { name: name.to_owned(), groups: all, ..Self::default() }
    }

    /// A service account's identity as the token authenticator yields it.
    #[must_use]
    pub fn service_account(namespace: &str, name: &str) -> Self {
        Self::new(
            service_account_username(namespace, name),
            [
                ALL_SERVICE_ACCOUNTS.to_owned(),
                format!("{ALL_SERVICE_ACCOUNTS}:{namespace}"),
                ALL_AUTHENTICATED.to_owned(),
            ],
        )
    }

    /// A node's identity (`system:node:<name>` in `system:nodes`).
    #[must_use]
    pub fn node(name: &str) -> Self {
        Self::new(format!("{NODE_PREFIX}{name}"), [NODES_GROUP, ALL_AUTHENTICATED])
    }

    /// Whether the user is in `group`.
    #[must_use]
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

/// `system:serviceaccount:<ns>:<name>`.
#[must_use]
pub fn service_account_username(namespace: &str, name: &str) -> String {
    format!("{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}")
}

/// `(namespace, name)` of a service-account user name, when it is one (both parts non-empty, no
/// further `:`).
#[must_use]
pub fn service_account_parts(username: &str) -> Option<(&str, &str)> {
    let rest = username.strip_prefix(SERVICE_ACCOUNT_PREFIX)?;
    let (ns, name) = rest.split_once(':')?;
    (!ns.is_empty() && !name.is_empty() && !name.contains(':')).then_some((ns, name))
}

/// The node name of a node identity: `Some(name)` when the user is named `system:node:<name>`
/// **and** is in `system:nodes` (the name may be empty), `None` otherwise.
#[must_use]
pub fn node_identity(user: &UserInfo) -> Option<&str> {
    let name = user.name.strip_prefix(NODE_PREFIX)?;
    user.in_group(NODES_GROUP).then_some(name)
}

/// One request, as every authorizer sees it (`authorizer.AttributesRecord`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes {
    /// Who.
    pub user: UserInfo,
    /// `get`, `list`, `create`, ... (for non-resource requests the lower-cased HTTP method).
    pub verb: String,
    /// Namespace (`""` for cluster-scoped requests).
    pub namespace: String,
    /// API group (`""` for the core group).
    pub api_group: String,
    /// API version (`"*"` when any).
    pub api_version: String,
    /// Resource (plural, lower-case).
    pub resource: String,
    /// Subresource (`""` when none).
    pub subresource: String,
    /// Object name (`""` for list/create of collections).
    pub name: String,
    /// Whether this is a resource request (else a non-resource URL request).
    pub resource_request: bool,
    /// URL path of a non-resource request.
    pub path: String,
    /// Field-selector equality requirements (`spec.nodeName=x`) of a list/watch.
    pub field_selector: Vec<(String, String)>,
}

impl Attributes {
    /// A resource request. `resource` may be `resource/subresource`.
    #[must_use]
    pub fn resource(user: UserInfo, verb: &str, group: &str, resource: &str, namespace: &str, name: &str) -> Self {
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        Self {
            user,
            verb: verb.to_owned(),
            namespace: namespace.to_owned(),
            api_group: group.to_owned(),
            api_version: "*".to_owned(),
            resource: resource.to_owned(),
            subresource: subresource.to_owned(),
            name: name.to_owned(),
            resource_request: true,
            ..Self::default()
        }
    }

    /// A non-resource request for `path`.
    #[must_use]
    pub fn non_resource(user: UserInfo, verb: &str, path: &str) -> Self {
        Self { user, verb: verb.to_owned(), path: path.to_owned(), ..Self::default() }
    }

    /// Adds a field-selector requirement; `metadata.name=X` also sets the name, as the request-info
    /// factory does for list and watch.
    #[must_use]
    pub fn with_field(mut self, key: &str, value: &str) -> Self {
        if key == "metadata.name" && self.name.is_empty() && matches!(self.verb.as_str(), "list" | "watch") {
            value.clone_into(&mut self.name);
        }
        self.field_selector.push((key.to_owned(), value.to_owned()));
        self
    }

    /// `get`, `list` and `watch` are read-only.
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        matches!(self.verb.as_str(), "get" | "list" | "watch")
    }

    /// `resource` or `resource/subresource`.
    #[must_use]
    pub fn full_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }

    /// The value of an equality field-selector requirement.
    #[must_use]
    pub fn field(&self, key: &str) -> Option<&str> {
        self.field_selector.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

impl fmt::Display for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.resource_request {
            return write!(f, "{} {} as {}", self.verb, self.path, self.user.name);
        }
        write!(f, "{} {}", self.verb, self.full_resource())?;
        if !self.api_group.is_empty() {
            write!(f, ".{}", self.api_group)?;
        }
        if !self.name.is_empty() {
            write!(f, " {:?}", self.name)?;
        }
        if self.namespace.is_empty() {
            write!(f, " at the cluster scope")?;
        } else {
            write!(f, " in namespace {:?}", self.namespace)?;
        }
        write!(f, " as {}", self.user.name)
    }
}

/// Whether a request is authorized: what an admission plugin asks of the authorization chain
/// (PodSecurityPolicy's `use` check). `kguard_authz` implements it for its authorizers; a closure
/// also does.
pub trait Authorize: Send + Sync {
    /// Whether `attrs` is allowed.
    fn allows(&self, attrs: &Attributes) -> bool;
}

impl<F: Fn(&Attributes) -> bool + Send + Sync> Authorize for F {
    fn allows(&self, attrs: &Attributes) -> bool {
        self(attrs)
    }
}

/// A request kube-apiserver refuses, with the message it returns (a 403 `Status.message`, an
/// admission plugin's denial).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Forbidden(pub String);

/// An admission operation that is not `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown operation {0:?} (expected CREATE, UPDATE, DELETE or CONNECT)")]
pub struct UnknownOperation(pub String);

/// The operation of an admission request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// CREATE.
    Create,
    /// UPDATE.
    Update,
    /// DELETE.
    Delete,
    /// CONNECT (exec, attach, port-forward, proxy).
    Connect,
}

impl Operation {
    /// Parses `CREATE`, `UPDATE`, `DELETE`, `CONNECT`.
    ///
    /// # Errors
    /// Any other text, with the accepted values.
    pub fn parse(s: &str) -> Result<Self, UnknownOperation> {
        match s {
            "CREATE" => Ok(Self::Create),
            "UPDATE" => Ok(Self::Update),
            "DELETE" => Ok(Self::Delete),
            "CONNECT" => Ok(Self::Connect),
            other => Err(UnknownOperation(other.to_owned())),
        }
    }

    /// The upstream spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
            Self::Connect => "CONNECT",
        }
    }
}

/// Go's `%q` of a string slice: `["a" "b"]`.
#[must_use]
pub fn go_quote_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
    format!("[{}]", inner.join(" "))
}

/// The message kube-apiserver's authorization filter builds (`forbiddenMessage`), before the
/// `& < >` escaping and the reason.
#[must_use]
pub fn forbidden_message(attrs: &Attributes) -> String {
    let user = go_quote(&attrs.user.name);
    if !attrs.resource_request {
        return format!("User {user} cannot {} path {}", attrs.verb, go_quote(&attrs.path));
    }
    let resource = go_quote(&attrs.full_resource());
    let group = go_quote(&attrs.api_group);
    if attrs.namespace.is_empty() {
        format!("User {user} cannot {} resource {resource} in API group {group} at the cluster scope", attrs.verb)
    } else {
        format!(
            "User {user} cannot {} resource {resource} in API group {group} in the namespace {}",
            attrs.verb,
            go_quote(&attrs.namespace)
        )
    }
}

/// The full text of the 403 `Status.message` kube-apiserver returns when the chain did not allow
/// a request (what `kubectl` prints after `Error from server (Forbidden): `):
/// `<resource>[.<group>] ["<name>"] is forbidden: <message>[: <reason>]`, or
/// `forbidden: <message>[: <reason>]` for non-resource requests.
#[must_use]
pub fn forbidden_status_message(attrs: &Attributes, reason: &str) -> String {
    let msg = forbidden_message(attrs).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let err = if reason.is_empty() { msg } else { format!("{msg}: {reason}") };
    let (group, resource) =
        if attrs.resource_request { (attrs.api_group.as_str(), attrs.resource.as_str()) } else { ("", "") };
    if group.is_empty() && resource.is_empty() {
        return format!("forbidden: {err}");
    }
    let qualified = if group.is_empty() { resource.to_owned() } else { format!("{resource}.{group}") };
    if attrs.name.is_empty() {
        format!("{qualified} is forbidden: {err}")
    } else {
        format!("{qualified} {} is forbidden: {err}", go_quote(&attrs.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impersonation_groups() {
        let u = UserInfo::impersonated("system:serviceaccount:ci:deployer", &[]);
        assert_eq!(u.groups, ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"]);
        let u = UserInfo::impersonated("system:anonymous", &[]);
        assert_eq!(u.groups, ["system:unauthenticated"]);
        let u = UserInfo::impersonated("jane", &["dev".to_owned()]);
        assert_eq!(u.groups, ["dev", "system:authenticated"]);
    }

    #[test]
    fn sa_parts_and_node_identity() {
        assert_eq!(service_account_parts("system:serviceaccount:a:b"), Some(("a", "b")));
        assert_eq!(service_account_parts("system:serviceaccount:a:b:c"), None);
        assert_eq!(service_account_parts("system:serviceaccount::b"), None);
        assert_eq!(node_identity(&UserInfo::node("n1")), Some("n1"));
        assert_eq!(node_identity(&UserInfo::new("system:node:n1", ["x"])), None);
        assert_eq!(node_identity(&UserInfo::new("system:node:", [NODES_GROUP])), Some(""));
    }

    #[test]
    fn go_quoting() {
        assert_eq!(go_quote("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(go_quote("\u{1}"), r#""\x01""#);
        assert_eq!(go_quote("é"), "\"é\"");
        assert_eq!(go_quote_list(&["a".into(), "b".into()]), r#"["a" "b"]"#);
    }
}
