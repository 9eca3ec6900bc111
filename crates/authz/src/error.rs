//! Typed errors at the authorization crate's boundary. Their messages are kube-apiserver's where
//! kguard reproduces one (role references, escalation), so they can be shown as upstream shows
//! them.

/// A bad `--authorization-mode` value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModeError {
    /// A mode kguard does not know.
    #[error("unknown authorization mode {0:?}; expected AlwaysAllow, AlwaysDeny, ABAC, RBAC or Node")]
    Unknown(String),
    /// `Webhook`, which needs a live webhook.
    #[error("authorization mode \"Webhook\" needs a live webhook; not supported offline")]
    Webhook,
    /// A mode listed twice.
    #[error("authorization-mode {0:?} has mode specified more than once")]
    Repeated(String),
    /// An empty list.
    #[error("at least one authorization-mode must be passed")]
    Empty,
    /// `ABAC` without a policy file.
    #[error("authorization-mode ABAC needs --authorization-policy-file")]
    AbacWithoutPolicy,
}

/// A line of an ABAC policy file that cannot be read, as kube-apiserver reports it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("error reading policy file {file}, line {line}: {text}: {reason}")]
pub struct AbacError {
    /// The policy file.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// The line.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Why RBAC cannot resolve a role or grant rules; the text is kube-apiserver's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RbacError {
    /// `role.rbac.authorization.k8s.io "x" not found` and its ClusterRole twin.
    #[error("{kind}.rbac.authorization.k8s.io {} not found", kguard_model::text::go_quote(name))]
    RoleNotFound {
        /// `role` or `clusterrole`.
        kind: &'static str,
        /// The role's name.
        name: String,
    },
    /// A roleRef kind other than Role and ClusterRole.
    #[error("unsupported role reference kind: {}", kguard_model::text::go_quote(.0))]
    UnsupportedKind(String),
    /// Granting rules the user does not hold (`ConfirmNoEscalation`).
    #[error("{0}")]
    Escalation(String),
    /// A binding index that does not exist (a caller's mistake).
    #[error("internal: no binding {0}")]
    NoBinding(usize),
}
