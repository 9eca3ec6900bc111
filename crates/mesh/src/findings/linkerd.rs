//! The Linkerd rules (MESH008–MESH013) over [`crate::linkerd::Linkerd`].

use std::collections::{BTreeMap, BTreeSet};

use kguard_model::Object;
use kguard_report::{Finding, RuleMeta};

use super::{
    LINKERD_AUTHZ_NEVER_MATCHES, LINKERD_CONFLICTING_SERVERS, LINKERD_INVALID_VALUE, LINKERD_PLAINTEXT,
    LINKERD_POLICY_UNMESHED, LINKERD_SERVER_NEVER_MATCHES,
};
use crate::linkerd::{
    self, Access, Clients, DEFAULT_INBOUND_POLICY, Decider, DefaultPolicy, EXEMPT_NAMESPACES, INJECT, Linkerd,
    OPAQUE_PORTS, Pod, PortRef, REQUIRE_IDENTITY_PORTS, Target, describe,
};

/// Findings at most once per rule, object and field.
struct Out<'a, 'o> {
    out: &'a mut Vec<Finding>,
    seen: BTreeSet<(&'static str, String, String)>,
    by_name: BTreeMap<String, &'o Object>,
}

impl<'o> Out<'_, 'o> {
    fn push(&mut self, rule: &RuleMeta, obj: &Object, pointer: &str, message: String) {
        if self.seen.insert((rule.id, describe(obj), pointer.to_owned())) {
            self.out.push(Finding::about(rule, obj, pointer.to_owned(), message));
        }
    }
}

/// Runs every Linkerd rule.
pub(super) fn check<'o>(l: &Linkerd<'o>, objects: &'o [Object], out: &mut Vec<Finding>) {
    let mut o = Out { out, seen: BTreeSet::new(), by_name: objects.iter().map(|obj| (describe(obj), obj)).collect() };
    invalid_values(l, &mut o);
    plaintext(l, &mut o);
    servers(l, &mut o);
    authorizations(l, &mut o);
}

fn port_label(port: Option<u16>) -> String {
    port.map_or_else(|| "other ports".to_owned(), |p| p.to_string())
}

/// MESH013.
fn invalid_values(l: &Linkerd<'_>, o: &mut Out<'_, '_>) {
    let policies = DefaultPolicy::ALL.map(DefaultPolicy::as_str).join(", ");
    for ns in l.namespaces.values() {
        let ptr = |k: &str| format!("/metadata/annotations/{}", kguard_model::yaml::escape_pointer_token(k));
        if let Some(v) = ns.annotation(DEFAULT_INBOUND_POLICY).filter(|v| DefaultPolicy::parse(v).is_none()) {
            let m = format!(
                "{}: {DEFAULT_INBOUND_POLICY}: {v:?} is no policy ({policies}): its pods get the cluster's default",
                describe(ns)
            );
            o.push(&LINKERD_INVALID_VALUE, ns, &ptr(DEFAULT_INBOUND_POLICY), m);
        }
        if let Some(v) = ns.annotation(INJECT).filter(|v| !matches!(*v, "enabled" | "ingress" | "disabled")) {
            let m = format!(
                "{}: {INJECT}: {v:?} is none of enabled, ingress, disabled: no pod of the namespace gets a proxy",
                describe(ns)
            );
            o.push(&LINKERD_INVALID_VALUE, ns, &ptr(INJECT), m);
        }
    }
    for pod in &l.pods {
        if let Some(v) =
            pod.annotations.get(INJECT).filter(|v| !matches!(v.as_str(), "enabled" | "ingress" | "disabled"))
        {
            let m = format!("{}: {INJECT}: {v:?} is none of enabled, ingress, disabled: no proxy", pod.describe());
            o.push(&LINKERD_INVALID_VALUE, pod.obj, &pod.annotation_pointer(INJECT), m);
        }
        if let Some(v) = pod.annotations.get(DEFAULT_INBOUND_POLICY).filter(|v| DefaultPolicy::parse(v).is_none()) {
            let m = format!(
                "{}: {DEFAULT_INBOUND_POLICY}: {v:?} is no policy ({policies}): the pod gets the cluster's default",
                pod.describe()
            );
            o.push(&LINKERD_INVALID_VALUE, pod.obj, &pod.annotation_pointer(DEFAULT_INBOUND_POLICY), m);
        }
        for key in [OPAQUE_PORTS, REQUIRE_IDENTITY_PORTS] {
            let Some(v) = pod.annotations.get(key) else { continue };
            if let Err(e) = linkerd::parse_ports(v, &pod.port_names) {
                let m = format!("{}: {key}: {e}: the list is ignored", pod.describe());
                o.push(&LINKERD_INVALID_VALUE, pod.obj, &pod.annotation_pointer(key), m);
            }
        }
        // A namespace's port list is checked against each of its pods' port names.
        for key in [OPAQUE_PORTS, REQUIRE_IDENTITY_PORTS] {
            if pod.annotations.contains_key(key) {
                continue;
            }
            let Some(ns) = l.namespaces.get(&pod.namespace) else { continue };
            let Some(v) = ns.annotation(key) else { continue };
            if let Err(e) = linkerd::parse_ports(v, &pod.port_names) {
                let ptr = format!("/metadata/annotations/{}", kguard_model::yaml::escape_pointer_token(key));
                let m = format!("{}: {key}: {e} for {}: the list is ignored", describe(ns), pod.describe());
                o.push(&LINKERD_INVALID_VALUE, ns, &ptr, m);
            }
        }
    }
    for s in &l.servers {
        if let Some(v) = &s.bad_access_policy {
            let m =
                format!("{}: accessPolicy {v:?} is no policy ({policies}): the controller refuses it", s.describe());
            o.push(&LINKERD_INVALID_VALUE, s.obj, "/spec/accessPolicy", m);
        }
    }
}

/// What admits plaintext, and the ports of each workload it admits it on.
type Admitted = (String, BTreeMap<String, Vec<String>>);

/// MESH008: one finding per deciding object and field, listing the workloads and ports.
fn plaintext(l: &Linkerd<'_>, o: &mut Out<'_, '_>) {
    // (object, pointer) -> what and where
    let mut by_decider: BTreeMap<(String, String), Admitted> = BTreeMap::new();
    for pod in l.pods.iter().filter(|p| !EXEMPT_NAMESPACES.contains(&p.namespace.as_str())) {
        let answer = l.evaluate(pod, None);
        for row in answer.ports.iter().filter(|r| r.access == Access::Plaintext) {
            for a in row.authorizations.iter().filter(|a| a.clients == Clients::Unauthenticated) {
                let (object, pointer, what) = match (&a.by.object, &a.by.pointer) {
                    (Some(obj), Some(ptr)) => {
                        let what = match a.by.level {
                            "pod" | "namespace" => format!(
                                "{DEFAULT_INBOUND_POLICY}: {}",
                                row.default_policy.map_or("", DefaultPolicy::as_str)
                            ),
                            "server" => "the accessPolicy".to_owned(),
                            _ => match &a.route {
                                Some(r) => format!("the authorization (through {r}, from {})", a.networks.describe()),
                                None => format!("the authorization (from {})", a.networks.describe()),
                            },
                        };
                        (obj.clone(), ptr.clone(), what)
                    }
                    _ => match l.pod_default(pod).invalid {
                        // An annotation that names no policy: the cluster's default applies, and the
                        // annotation is where to fix it.
                        Some((Decider { object: Some(obj), pointer: Some(ptr), .. }, value)) => (
                            obj,
                            ptr,
                            format!(
                                "{DEFAULT_INBOUND_POLICY} {value:?} (no policy, so the cluster's default {})",
                                l.cluster_default.as_str()
                            ),
                        ),
                        _ => (
                            pod.describe(),
                            format!("{}/metadata", pod.prefix),
                            format!(
                                "the cluster's default inbound policy {} (no {DEFAULT_INBOUND_POLICY} on the pod \
                                 template or its namespace)",
                                l.cluster_default.as_str()
                            ),
                        ),
                    },
                };
                let entry = by_decider.entry((object, pointer)).or_insert_with(|| (what, BTreeMap::new()));
                let ports = entry.1.entry(pod.describe()).or_default();
                let label = port_label(row.port);
                if !ports.contains(&label) {
                    ports.push(label);
                }
            }
        }
    }
    for ((object, pointer), (what, workloads)) in by_decider {
        let Some(obj) = o.by_name.get(&object).copied() else { continue };
        let list: Vec<String> = workloads.iter().map(|(w, ports)| format!("{w} port {}", ports.join(", "))).collect();
        let m = format!("{object}: {what} admits plaintext (unauthenticated) clients on meshed {}", list.join("; "));
        o.push(&LINKERD_PLAINTEXT, obj, &pointer, m);
    }
}

/// MESH009, MESH011 (Servers), MESH012.
fn servers(l: &Linkerd<'_>, o: &mut Out<'_, '_>) {
    for s in &l.servers {
        let Some(sel) = &s.pod_selector else {
            if s.obj.root.pointer("/spec/externalWorkloadSelector").is_none() {
                let m = format!("{}: no podSelector: the Server selects nothing", s.describe());
                o.push(&LINKERD_SERVER_NEVER_MATCHES, s.obj, "/spec", m);
            }
            continue;
        };
        let Some(port) = &s.port else {
            let m =
                format!("{}: spec.port is no port 1-65535 and no port name: the Server selects nothing", s.describe());
            o.push(&LINKERD_SERVER_NEVER_MATCHES, s.obj, "/spec/port", m);
            continue;
        };
        let pods: Vec<&Pod<'_>> =
            l.pods.iter().filter(|p| p.namespace == s.namespace && sel.matches(&p.labels)).collect();
        if pods.is_empty() {
            let m = format!(
                "{}: the podSelector selects no pod or workload of namespace {} in the input",
                s.describe(),
                s.namespace
            );
            o.push(&LINKERD_SERVER_NEVER_MATCHES, s.obj, "/spec/podSelector", m);
            continue;
        }
        if let PortRef::Name(name) = port
            && pods.iter().all(|p| !p.port_names.contains_key(name))
        {
            let names: Vec<String> = pods.iter().map(|p| p.describe()).collect();
            let m = format!(
                "{}: port {name:?} is no container port name of the selected {}: the Server selects nothing",
                s.describe(),
                names.join(", ")
            );
            o.push(&LINKERD_SERVER_NEVER_MATCHES, s.obj, "/spec/port", m);
        }
        for pod in pods {
            let ports = l.server_ports(s, pod);
            if ports.is_empty() {
                continue;
            }
            let (meshed, _, reason) = l.injection(pod);
            if !meshed {
                let m = format!(
                    "{}: selects {} port {}, which has no Linkerd proxy ({}): the port takes plaintext from anyone \
                     and this Server's authorizations are not enforced",
                    s.describe(),
                    pod.describe(),
                    join(&ports),
                    reason.unwrap_or_default()
                );
                o.push(&LINKERD_POLICY_UNMESHED, s.obj, "/spec/podSelector", m);
            }
        }
    }
    // Conflicts: the oldest Server (then the smaller name) keeps a pod port.
    let mut conflicts: BTreeMap<(String, String), (usize, BTreeSet<String>)> = BTreeMap::new();
    for pod in &l.pods {
        let mut owner: BTreeMap<u16, String> = BTreeMap::new();
        for (i, s) in l.servers.iter().enumerate() {
            if s.namespace != pod.namespace || !s.pod_selector.as_ref().is_some_and(|sel| sel.matches(&pod.labels)) {
                continue;
            }
            for p in l.server_ports(s, pod) {
                match owner.get(&p) {
                    Some(winner) => {
                        conflicts
                            .entry((s.describe(), winner.clone()))
                            .or_insert_with(|| (i, BTreeSet::new()))
                            .1
                            .insert(format!("{} port {p}", pod.describe()));
                    }
                    None => {
                        owner.insert(p, s.describe());
                    }
                }
            }
        }
    }
    for ((loser, winner), (i, at)) in conflicts {
        let Some(s) = l.servers.get(i) else { continue };
        let m = format!(
            "{loser}: {winner} also selects {}; the controller keeps the older {winner} and ignores this Server",
            at.into_iter().collect::<Vec<_>>().join(", ")
        );
        o.push(&LINKERD_CONFLICTING_SERVERS, s.obj, "/spec/port", m);
    }
}

fn join(ports: &[u16]) -> String {
    ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
}

/// MESH010, MESH011 (authorizations).
fn authorizations(l: &Linkerd<'_>, o: &mut Out<'_, '_>) {
    for a in &l.authzs {
        let name = a.describe();
        if let Some(e) = l.target_error(a) {
            o.push(&LINKERD_AUTHZ_NEVER_MATCHES, a.obj, &a.target_pointer, format!("{name}: {e}: it never applies"));
            continue;
        }
        if let Err((pointer, e)) = l.policy_clients(a) {
            let m = format!("{name}: {e}: the policy controller ignores it");
            o.push(&LINKERD_AUTHZ_NEVER_MATCHES, a.obj, &pointer, m);
        }
        let servers: Vec<_> =
            l.servers.iter().filter(|s| l.authorizes_server(a, s) || l.route_of(a, s).is_some()).collect();
        match &a.target {
            Some(Target::Server(n)) if servers.is_empty() => {
                let m =
                    format!("{name}: targets Server {}/{n}, which is not in the input: it never applies", a.namespace);
                o.push(&LINKERD_AUTHZ_NEVER_MATCHES, a.obj, &a.target_pointer, m);
            }
            Some(Target::HttpRoute(n) | Target::GrpcRoute(n)) if servers.is_empty() => {
                let kind = if matches!(a.target, Some(Target::HttpRoute(_))) { "HTTPRoute" } else { "GRPCRoute" };
                let why = if l.routes.contains_key(&(a.namespace.clone(), kind.to_owned(), n.clone())) {
                    format!("{kind} {}/{n} has no Server of the input among its parentRefs", a.namespace)
                } else {
                    format!("targets {kind} {}/{n}, which is not in the input", a.namespace)
                };
                o.push(
                    &LINKERD_AUTHZ_NEVER_MATCHES,
                    a.obj,
                    &a.target_pointer,
                    format!("{name}: {why}: it never applies"),
                );
            }
            None if servers.is_empty() => {
                let m = format!(
                    "{name}: server.selector selects no Server of namespace {} in the input: it never applies",
                    a.namespace
                );
                o.push(&LINKERD_AUTHZ_NEVER_MATCHES, a.obj, &a.target_pointer, m);
            }
            _ => {}
        }
        for s in servers {
            for pod in l.pods_of(s) {
                let ports = l.server_ports(s, pod);
                let (meshed, _, reason) = l.injection(pod);
                if meshed || ports.is_empty() {
                    continue;
                }
                let m = format!(
                    "{name}: authorizes clients of {} but {} (port {}) has no Linkerd proxy ({}): not enforced, the \
                     port takes plaintext from anyone",
                    s.describe(),
                    pod.describe(),
                    join(&ports),
                    reason.unwrap_or_default()
                );
                o.push(&LINKERD_POLICY_UNMESHED, a.obj, &a.target_pointer, m);
                break;
            }
        }
    }
    for auth in l.meshtls.values().chain(l.networks.values()) {
        if let Err(e) = &auth.matches {
            let m = format!("{}: {e}: the policy controller refuses it", describe(auth.obj));
            o.push(&LINKERD_AUTHZ_NEVER_MATCHES, auth.obj, "/spec", m);
        }
    }
}
