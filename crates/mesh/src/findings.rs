//! The `MESH` rules: Istio mTLS policy problems found in manifests, each defined once in
//! [`RULES`] and reported with the position of the field that causes it.

use std::collections::BTreeMap;

use kguard_model::Object;
use kguard_model::yaml::YamlNode;
use kguard_report::{Finding, RuleMeta, Severity};

use crate::istio::{Level, Mesh, Mode, Workload};

const REF_PA: &str = "https://istio.io/latest/docs/reference/config/security/peer_authentication/";
const REF_MIGRATION: &str = "https://istio.io/latest/docs/tasks/security/authentication/mtls-migration/";
const REF_DR: &str = "https://istio.io/latest/docs/reference/config/networking/destination-rule/#ClientTLSSettings";
const REF_AP: &str = "https://istio.io/latest/docs/reference/config/security/authorization-policy/";
const REF_AUTHN: &str = "https://istio.io/latest/docs/concepts/security/#authentication-policies";

/// Explicit PERMISSIVE.
pub const PERMISSIVE: RuleMeta = RuleMeta {
    id: "MESH001",
    name: "peer-authentication-permissive",
    family: "mesh",
    severity: Severity::Medium,
    title: "PeerAuthentication accepts plaintext (PERMISSIVE)",
    what: "A PeerAuthentication sets `mtls.mode: PERMISSIVE` for a mesh, namespace, workload or port.",
    why: "A PERMISSIVE port takes mTLS and plaintext alike: any pod, including ones outside the mesh, can reach \
          the workload without an identity, and traffic can be read or altered on the wire. It is meant for \
          migrations, not as the resting state.",
    fix: "Once every client has a sidecar, set `mtls.mode: STRICT` (mesh-wide in the root namespace, then \
          remove the narrower PERMISSIVE policies).",
    references: &[REF_PA, REF_MIGRATION],
    aliases: &[],
    opt_in: false,
};

/// Explicit DISABLE.
pub const DISABLE: RuleMeta = RuleMeta {
    id: "MESH002",
    name: "peer-authentication-disable",
    family: "mesh",
    severity: Severity::High,
    title: "PeerAuthentication turns mTLS off (DISABLE)",
    what: "A PeerAuthentication sets `mtls.mode: DISABLE` for a mesh, namespace, workload or port.",
    why: "A DISABLE port takes plaintext only: traffic to it carries no peer identity, identity-based \
          AuthorizationPolicies cannot match it, and it crosses the network unencrypted.",
    fix: "Use STRICT (or PERMISSIVE during a migration); where a port must take plaintext (a health check \
          from outside the mesh), limit the exception to that port with `portLevelMtls` on a workload policy.",
    references: &[REF_PA, REF_AUTHN],
    aliases: &[],
    opt_in: false,
};

/// portLevelMtls without a selector, or with a bad port.
pub const PORT_LEVEL_WITHOUT_SELECTOR: RuleMeta = RuleMeta {
    id: "MESH003",
    name: "port-level-mtls-without-selector",
    family: "mesh",
    severity: Severity::Medium,
    title: "portLevelMtls on a PeerAuthentication without a workload selector",
    what: "A PeerAuthentication has `portLevelMtls` but no non-empty `selector.matchLabels`, or a \
           `portLevelMtls` key that is not a port number 1–65535.",
    why: "Istio applies port-level modes only from workload-level policies (keys are container ports): on a \
          namespace or mesh policy they are ignored, so the port gets the namespace's mode, not the one written.",
    fix: "Move the port-level modes to a PeerAuthentication with a `selector.matchLabels` for the workload, \
          keyed by its container port numbers.",
    references: &[REF_PA],
    aliases: &[],
    opt_in: false,
};

/// A PeerAuthentication that never decides anything.
pub const NEVER_APPLIES: RuleMeta = RuleMeta {
    id: "MESH004",
    name: "peer-authentication-never-applies",
    family: "mesh",
    severity: Severity::Low,
    title: "PeerAuthentication that never takes effect",
    what: "A PeerAuthentication istiod ignores: a selector in the root namespace, a second mesh or namespace \
           policy that loses to an older one, or an unknown `mtls.mode`.",
    why: "The policy reads as if it set a mode but the workloads get another one: a reviewer trusts the \
          written mode while the mesh runs the inherited one.",
    fix: "Keep one namespace-wide policy per namespace (and one mesh policy in the root namespace, without a \
          selector); put workload policies in the workload's namespace; use STRICT, PERMISSIVE, DISABLE or UNSET.",
    references: &[REF_PA],
    aliases: &[],
    opt_in: false,
};

/// DestinationRule TLS against the server's mode.
pub const TLS_MISMATCH: RuleMeta = RuleMeta {
    id: "MESH005",
    name: "destination-rule-tls-mismatch",
    family: "mesh",
    severity: Severity::High,
    title: "DestinationRule TLS mode the destination refuses",
    what: "A DestinationRule's `tls.mode` (DISABLE or SIMPLE) sends plaintext or one-way TLS to a port whose \
           PeerAuthentication mode is STRICT, or sends mTLS (ISTIO_MUTUAL, MUTUAL) to a port in DISABLE.",
    why: "A STRICT port refuses a client without an mTLS certificate and a DISABLE port cannot terminate mTLS: \
          every request over this rule fails (503, connection reset) or, where it is changed to make it work, \
          mTLS gets turned off.",
    fix: "Use `tls.mode: ISTIO_MUTUAL` (or remove the `tls` block: Istio's auto mTLS picks it) towards mesh \
          workloads, and align the server's PeerAuthentication with what the clients send.",
    references: &[REF_DR, REF_PA],
    aliases: &[],
    opt_in: false,
};

/// Several DestinationRules for one host.
pub const CONFLICTING_DR: RuleMeta = RuleMeta {
    id: "MESH006",
    name: "conflicting-destination-rules",
    family: "mesh",
    severity: Severity::Medium,
    title: "Several DestinationRules for the same host",
    what: "Two DestinationRules in the same namespace name the same host (after expanding short names) and \
           both set a traffic policy.",
    why: "Istio merges DestinationRules for a host only where they do not overlap; otherwise the oldest wins \
          and the other's TLS settings are silently dropped, so the TLS mode used depends on creation order.",
    fix: "Merge the rules into one DestinationRule per host (subsets for the variants).",
    references: &[
        "https://istio.io/latest/docs/ops/best-practices/traffic-management/#multiple-destination-rules-for-the-same-host",
    ],
    aliases: &[],
    opt_in: false,
};

/// Identity conditions on a port that takes plaintext.
pub const IDENTITY_ON_PERMISSIVE: RuleMeta = RuleMeta {
    id: "MESH007",
    name: "authorization-identity-on-plaintext-port",
    family: "mesh",
    severity: Severity::Medium,
    title: "AuthorizationPolicy matches peer identities on a port that takes plaintext",
    what: "An AuthorizationPolicy uses `source.principals`, `notPrincipals`, `namespaces` or `notNamespaces` \
           for a workload whose PeerAuthentication mode is PERMISSIVE or DISABLE on some port.",
    why: "Peer identities exist only for mTLS traffic. On such a port a plaintext request has none: an ALLOW \
          rule never matches it, and a DENY rule on principals or namespaces does not stop it, so the policy \
          can be bypassed by dropping mTLS.",
    fix: "Set the workload's PeerAuthentication to STRICT, or express the DENY as an ALLOW of the mTLS \
          identities (which refuses plaintext).",
    references: &[REF_AP, REF_AUTHN],
    aliases: &[],
    opt_in: false,
};

/// Every mesh rule.
pub const RULES: &[RuleMeta] = &[
    PERMISSIVE,
    DISABLE,
    PORT_LEVEL_WITHOUT_SELECTOR,
    NEVER_APPLIES,
    TLS_MISMATCH,
    CONFLICTING_DR,
    IDENTITY_ON_PERMISSIVE,
];

/// Whether `kguard scan` evaluates this object in the mesh engine.
#[must_use]
pub fn applies_to(obj: &Object) -> bool {
    matches!(
        (obj.group(), obj.kind()),
        ("security.istio.io", "PeerAuthentication" | "AuthorizationPolicy")
            | ("networking.istio.io", "DestinationRule")
    )
}

/// Every finding of the mesh rules in a set of objects (root namespace `istio-system`).
#[must_use]
pub fn findings(objects: &[Object]) -> Vec<Finding> {
    let mesh = Mesh::from_objects(objects, crate::istio::DEFAULT_ROOT_NAMESPACE);
    if !mesh.has_istio() {
        return Vec::new();
    }
    let mut out = Vec::new();
    peer_authentications(&mesh, &mut out);
    destination_rules(&mesh, &mut out);
    authorization_policies(&mesh, &mut out);
    out
}

fn peer_authentications(mesh: &Mesh<'_>, out: &mut Vec<Finding>) {
    let root = mesh.root_namespace.as_str();
    for pa in &mesh.peer_authentications {
        let what = match pa.level(root) {
            Level::Mesh => "mesh-wide".to_owned(),
            Level::Namespace => format!("namespace {}", pa.namespace),
            Level::Workload | Level::Ignored => "the selected workloads".to_owned(),
        };
        if let Some(bad) = &pa.bad_mode {
            let m = format!("{}: unknown mtls.mode {bad:?}: istiod rejects the policy", pa.describe());
            out.push(Finding::about(&NEVER_APPLIES, pa.obj, "/spec/mtls/mode".into(), m));
        }
        for (mode, rule) in [(Mode::Permissive, &PERMISSIVE), (Mode::Disable, &DISABLE)] {
            if pa.mode == mode && pa.level(root) != Level::Ignored {
                let m = format!("{}: mtls.mode {} for {what}", pa.describe(), mode.as_str());
                out.push(Finding::about(rule, pa.obj, "/spec/mtls/mode".into(), m));
            }
        }
        let ports = pa.port_level.as_deref().unwrap_or_default();
        if pa.level(root) == Level::Workload {
            for p in ports {
                for (mode, rule) in [(Mode::Permissive, &PERMISSIVE), (Mode::Disable, &DISABLE)] {
                    if p.mode == mode && p.port.is_some() {
                        let m = format!("{}: port {} in mtls mode {}", pa.describe(), p.key, mode.as_str());
                        out.push(Finding::about(rule, pa.obj, format!("{}/mode", p.pointer), m));
                    }
                }
                if p.port.is_none() {
                    let m = format!("{}: portLevelMtls key {:?} is not a port number 1-65535", pa.describe(), p.key);
                    out.push(Finding::about(&PORT_LEVEL_WITHOUT_SELECTOR, pa.obj, p.pointer.clone(), m));
                }
            }
        } else if pa.port_level.is_some() && matches!(pa.level(root), Level::Mesh | Level::Namespace) {
            let m = format!(
                "{}: portLevelMtls on a policy without a workload selector is ignored ({what} gets {})",
                pa.describe(),
                pa.mode.as_str()
            );
            out.push(Finding::about(&PORT_LEVEL_WITHOUT_SELECTOR, pa.obj, "/spec/portLevelMtls".into(), m));
        }
        match pa.level(root) {
            Level::Ignored => {
                let m = format!(
                    "{}: a policy with a selector in the root namespace {root} is ignored by istiod",
                    pa.describe()
                );
                out.push(Finding::about(&NEVER_APPLIES, pa.obj, "/spec/selector".into(), m));
            }
            level @ (Level::Mesh | Level::Namespace) => {
                let winner = mesh
                    .peer_authentications
                    .iter()
                    .filter(|o| o.level(root) == level && o.namespace == pa.namespace)
                    .min_by(|a, b| {
                        (a.created.unwrap_or(i64::MIN), &a.name).cmp(&(b.created.unwrap_or(i64::MIN), &b.name))
                    });
                if let Some(w) = winner.filter(|w| w.name != pa.name) {
                    let m = format!(
                        "{}: {} already has the older policy {}, which wins; this one is ignored",
                        pa.describe(),
                        what,
                        w.describe()
                    );
                    out.push(Finding::about(&NEVER_APPLIES, pa.obj, "/metadata/name".into(), m));
                }
            }
            Level::Workload => {}
        }
    }
}

/// A DestinationRule's TLS modes: `(JSON pointer of the mode, mode, port number if port-level)`.
fn dr_tls_modes(dr: &Object) -> Vec<(String, String, Option<i64>)> {
    let mut out = Vec::new();
    let mut policy = |base: String, node: Option<&YamlNode>| {
        let Some(tp) = node else { return };
        if let Some(m) = tp.pointer("/tls/mode").and_then(YamlNode::as_str) {
            out.push((format!("{base}/tls/mode"), m.to_owned(), None));
        }
        for (i, s) in tp.get("portLevelSettings").and_then(YamlNode::as_seq).unwrap_or_default().iter().enumerate() {
            if let Some(m) = s.pointer("/tls/mode").and_then(YamlNode::as_str) {
                let port = s.pointer("/port/number").and_then(YamlNode::as_i64);
                out.push((format!("{base}/portLevelSettings/{i}/tls/mode"), m.to_owned(), port));
            }
        }
    };
    policy("/spec/trafficPolicy".into(), dr.root.pointer("/spec/trafficPolicy"));
    for (i, s) in dr.root.pointer("/spec/subsets").and_then(YamlNode::as_seq).unwrap_or_default().iter().enumerate() {
        policy(format!("/spec/subsets/{i}/trafficPolicy"), s.get("trafficPolicy"));
    }
    out
}

/// The container ports a Service port reaches on a workload.
fn target_ports(svc: &Object, w: &Workload<'_>, only: Option<i64>) -> Vec<u32> {
    let mut out = Vec::new();
    for p in svc.root.pointer("/spec/ports").and_then(YamlNode::as_seq).unwrap_or_default() {
        let port = p.get("port").and_then(YamlNode::as_i64);
        if only.is_some() && port != only {
            continue;
        }
        let target = p.get("targetPort");
        let n = match target.and_then(YamlNode::as_str) {
            Some(name) if name.parse::<i64>().is_err() => {
                w.ports.iter().find(|(_, n)| n.as_deref() == Some(name)).map(|(p, _)| i64::from(*p))
            }
            _ => target.and_then(YamlNode::as_i64).or(port),
        };
        if let Some(n) = n.and_then(|n| u32::try_from(n).ok()) {
            out.push(n);
        }
    }
    out
}

/// `name.namespace` for a DestinationRule host.
fn normalise_host(host: &str, ns: &str) -> String {
    let mut parts = host.split('.');
    match (parts.next(), parts.next()) {
        (Some(name), Some(hns)) if host.ends_with(".svc.cluster.local") || host.matches('.').count() == 1 => {
            format!("{name}.{hns}")
        }
        (Some(name), None) => format!("{name}.{ns}"),
        _ => host.to_owned(),
    }
}

fn destination_rules(mesh: &Mesh<'_>, out: &mut Vec<Finding>) {
    let mut by_host: BTreeMap<(String, String), Vec<&Object>> = BTreeMap::new();
    for &dr in &mesh.destination_rules {
        let ns = dr.id.namespace.as_deref().unwrap_or("default");
        let Some(host) = dr.root.pointer("/spec/host").and_then(YamlNode::as_str) else { continue };
        if dr.root.pointer("/spec/trafficPolicy").is_some() {
            by_host.entry((ns.to_owned(), normalise_host(host, ns))).or_default().push(dr);
        }
        for (pointer, mode, port) in dr_tls_modes(dr) {
            let client_plain = matches!(mode.as_str(), "DISABLE" | "SIMPLE");
            let client_mtls = matches!(mode.as_str(), "ISTIO_MUTUAL" | "MUTUAL");
            for (w, svc) in mesh.workloads_for_host(host, ns) {
                let merged = mesh.effective(w);
                for tp in target_ports(svc, w, port) {
                    let (server, _) = merged.port(tp);
                    let clash = (client_plain && server == Mode::Strict) || (client_mtls && server == Mode::Disable);
                    if clash {
                        let m = format!(
                            "DestinationRule/{ns}/{}: tls.mode {mode} to {host} but {} port {tp} is {}",
                            dr.id.name,
                            w.describe(),
                            server.as_str()
                        );
                        out.push(Finding::about(&TLS_MISMATCH, dr, pointer.clone(), m));
                    }
                }
            }
        }
    }
    for ((ns, host), drs) in by_host {
        if let [first, rest @ ..] = drs.as_slice() {
            for dr in rest {
                let m = format!(
                    "DestinationRule/{ns}/{}: host {host} also has DestinationRule/{ns}/{}; their traffic policies \
                     do not merge",
                    dr.id.name, first.id.name
                );
                out.push(Finding::about(&CONFLICTING_DR, dr, "/spec/host".into(), m));
            }
        }
    }
}

fn authorization_policies(mesh: &Mesh<'_>, out: &mut Vec<Finding>) {
    const FIELDS: [&str; 4] = ["principals", "notPrincipals", "namespaces", "notNamespaces"];
    for &ap in &mesh.authorization_policies {
        let ns = ap.id.namespace.as_deref().unwrap_or("default");
        let mut identity = None;
        for (i, rule) in
            ap.root.pointer("/spec/rules").and_then(YamlNode::as_seq).unwrap_or_default().iter().enumerate()
        {
            for (j, from) in rule.get("from").and_then(YamlNode::as_seq).unwrap_or_default().iter().enumerate() {
                if let Some(f) = FIELDS.iter().find(|f| from.pointer(&format!("/source/{f}")).is_some()) {
                    identity.get_or_insert(format!("/spec/rules/{i}/from/{j}/source/{f}"));
                }
            }
        }
        let Some(pointer) = identity else { continue };
        let selector: BTreeMap<String, String> =
            kguard_model::object::string_map(ap.root.pointer("/spec/selector/matchLabels"))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        let root_wide = ns == mesh.root_namespace;
        let action = ap.root.pointer("/spec/action").and_then(YamlNode::as_str).unwrap_or("ALLOW");
        for w in mesh.workloads.iter().filter(|w| root_wide || w.namespace == ns) {
            if !selector.iter().all(|(k, v)| w.labels.get(k) == Some(v)) {
                continue;
            }
            let merged = mesh.effective(w);
            let mut weak: Vec<String> = Vec::new();
            let mut ports: Vec<u32> = w.ports.iter().map(|(p, _)| *p).collect();
            ports.extend(merged.per_port.iter().flat_map(BTreeMap::keys));
            ports.sort_unstable();
            ports.dedup();
            for p in &ports {
                let (m, _) = merged.port(*p);
                if m != Mode::Strict {
                    weak.push(format!("{p} ({})", m.as_str()));
                }
            }
            if ports.is_empty() && merged.mode != Mode::Strict {
                weak.push(format!("every port ({})", merged.mode.as_str()));
            }
            if weak.is_empty() {
                continue;
            }
            let consequence =
                if action == "DENY" { "plaintext requests bypass this DENY" } else { "plaintext requests never match" };
            let m = format!(
                "AuthorizationPolicy/{ns}/{} ({action}) matches peer identities but {} takes plaintext on port {}: {consequence}",
                ap.id.name,
                w.describe(),
                weak.join(", ")
            );
            out.push(Finding::about(&IDENTITY_ON_PERMISSIVE, ap, pointer.clone(), m));
        }
    }
}
