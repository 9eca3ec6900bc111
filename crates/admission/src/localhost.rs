//! What the Localhost-profile checks (`seccomp`, `apparmor`) share: which requests and which
//! containers they review, and how their verdicts become one answer.

use kguard_model::workload::{ContainerKind, ContainerRef};
use serde_json::Value;

use crate::{Operation, Request, Response};

/// The containers a request brings that a Localhost-profile check reviews: all of a created pod,
/// or only the ephemeral containers an `ephemeralcontainers` update adds.
pub(crate) struct Scope {
    adds_ephemeral: bool,
    old_ephemeral: Vec<String>,
}

impl Scope {
    /// The scope of `req`, or `None` when the request is not one to review (not a pod, another
    /// operation or subresource, or a namespace the operator exempted; never the pod's own say).
    pub(crate) fn of(req: &Request, exempt_namespaces: &[String]) -> Option<Self> {
        let adds_ephemeral = match (req.operation, req.sub_resource.as_str()) {
            (Operation::Create, "") => false,
            (Operation::Update, "ephemeralcontainers") => true,
            _ => return None,
        };
        if !req.resource.group.is_empty() || req.resource.name != "pods" || req.kind.name != "Pod" {
            return None;
        }
        if exempt_namespaces.contains(&req.namespace) {
            return None;
        }
        let old_ephemeral = req
            .old_object
            .as_ref()
            .and_then(|p| p.pointer("/spec/ephemeralContainers"))
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(|c| c.get("name")?.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        Some(Self { adds_ephemeral, old_ephemeral })
    }

    /// Whether `c` is reviewed.
    pub(crate) fn reviews(&self, c: &ContainerRef<'_>) -> bool {
        !self.adds_ephemeral
            || (c.kind == ContainerKind::Ephemeral && !self.old_ephemeral.iter().any(|n| n == c.name()))
    }
}

/// One answer from the containers' problems: denied ones deny (403, the text also as an audit
/// annotation), warned ones become a warning and an annotation.
pub(crate) fn answer(
    req: &Request,
    annotation: &str,
    denied: &[String],
    deny_heading: &str,
    warned: &[String],
    warn_heading: &str,
) -> Response {
    if !denied.is_empty() {
        let text = format!("{deny_heading}: {}", denied.join("; "));
        let mut r = Response::deny(req.forbidden(&text));
        r.audit_annotations.insert(annotation.to_owned(), text);
        return r;
    }
    let mut r = Response::allow();
    if !warned.is_empty() {
        let text = format!("{warn_heading}: {}", warned.join("; "));
        r.warnings.push(text.clone());
        r.audit_annotations.insert(annotation.to_owned(), text);
    }
    r
}
