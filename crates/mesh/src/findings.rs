//! The `MESH` rules: Istio and Linkerd mTLS policy problems found in manifests, each defined
//! once in [`RULES`] and reported with the position of the field that causes it.

use std::collections::BTreeMap;

use kguard_model::Object;
use kguard_model::yaml::YamlNode;
use kguard_report::{Finding, RuleMeta, Severity};

use crate::istio::{Level, Mesh, Mode, Workload};

mod linkerd;

const REF_PA: &str = "https://istio.io/latest/docs/reference/config/security/peer_authentication/";
const REF_MIGRATION: &str = "https://istio.io/latest/docs/tasks/security/authentication/mtls-migration/";
const REF_DR: &str = "https://istio.io/latest/docs/reference/config/networking/destination-rule/#ClientTLSSettings";
const REF_AP: &str = "https://istio.io/latest/docs/reference/config/security/authorization-policy/";
const REF_AUTHN: &str = "https://istio.io/latest/docs/concepts/security/#authentication-policies";
const REF_L5D_POLICY: &str = "https://linkerd.io/2/features/server-policy/";
const REF_L5D_AUTHZ: &str = "https://linkerd.io/2/reference/authorization-policy/";
const REF_L5D_INJECT: &str = "https://linkerd.io/2/features/proxy-injection/";
const REF_L5D_OPAQUE: &str = "https://linkerd.io/2/features/protocol-detection/";

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

/// A meshed Linkerd port that admits plaintext.
pub const LINKERD_PLAINTEXT: RuleMeta = RuleMeta {
    id: "MESH008",
    name: "linkerd-port-admits-plaintext",
    family: "mesh",
    severity: Severity::Medium,
    title: "Linkerd admits unauthenticated (plaintext) clients on a meshed port",
    what: "A port of a pod with a Linkerd proxy admits clients without a mesh identity: its default inbound \
           policy is `all-unauthenticated`, `cluster-unauthenticated` or `audit` (from the pod template's or \
           the namespace's `config.linkerd.io/default-inbound-policy`, or the cluster's default, which is \
           `all-unauthenticated` unless the install changed it), or a Server's authorization admits \
           unauthenticated clients (a ServerAuthorization with `client.unauthenticated: true`, an \
           AuthorizationPolicy without a MeshTLSAuthentication or ServiceAccount, an `accessPolicy` of \
           that kind). Namespaces of Linkerd's control plane and `kube-system` are not reported.",
    why: "The proxy forwards plaintext from any pod (or any address the networks allow) to the application: \
          clients outside the mesh reach it without an identity, and the traffic can be read or altered on \
          the wire. Linkerd's default is to allow everything; identities only restrict traffic once a policy \
          requires them.",
    fix: "Set `config.linkerd.io/default-inbound-policy: all-authenticated` (or `deny` with Servers and \
          AuthorizationPolicies for the clients that need access) on the namespace, install Linkerd with \
          `proxy.defaultInboundPolicy: all-authenticated`, and require a MeshTLSAuthentication in the \
          authorizations of each Server; keep plaintext to the ports that must take it (probes are \
          authorized separately).",
    references: &[REF_L5D_POLICY, REF_L5D_AUTHZ],
    aliases: &[],
    opt_in: false,
};

/// A Server that selects nothing.
pub const LINKERD_SERVER_NEVER_MATCHES: RuleMeta = RuleMeta {
    id: "MESH009",
    name: "linkerd-server-never-matches",
    family: "mesh",
    severity: Severity::Low,
    title: "Linkerd Server that selects no pod port",
    what: "A Server whose `podSelector` selects no pod or workload of its namespace in the input, whose \
           `port` names a container port none of the selected pods has, or that has no `podSelector` or \
           `port`.",
    why: "The Server and every authorization that targets it never apply: the port it was written for keeps \
          the default inbound policy (often `all-unauthenticated`), while the manifests read as if it were \
          restricted.",
    fix: "Make the `podSelector` match the pod template's labels and the `port` a container port number or \
          a `ports[].name` of the selected containers.",
    references: &[REF_L5D_POLICY, REF_L5D_AUTHZ],
    aliases: &[],
    opt_in: false,
};

/// An authorization that never matches.
pub const LINKERD_AUTHZ_NEVER_MATCHES: RuleMeta = RuleMeta {
    id: "MESH010",
    name: "linkerd-authorization-never-matches",
    family: "mesh",
    severity: Severity::Low,
    title: "Linkerd authorization that never applies",
    what: "A ServerAuthorization or AuthorizationPolicy the policy controller ignores or that targets \
           nothing: a Server, HTTPRoute or GRPCRoute that is not in the input (or a route with no Server \
           among its `parentRefs`), a server selector that selects no Server, another namespace, a \
           MeshTLSAuthentication or NetworkAuthentication that is missing or refused (no identities, no \
           networks), two identity or network references, or a ServerAuthorization without valid clients; \
           also a MeshTLSAuthentication or NetworkAuthentication the controller refuses.",
    why: "An ignored authorization admits nobody: the clients it was meant for are denied (once a Server \
          selects the port), and a reviewer trusts a rule that is not in force.",
    fix: "Point `targetRef` (or `server.name`) at an existing Server of the same namespace, reference \
          existing authentications (one MeshTLSAuthentication or ServiceAccount, at most one \
          NetworkAuthentication), and give each authentication at least one identity or network.",
    references: &[REF_L5D_AUTHZ],
    aliases: &[],
    opt_in: false,
};

/// Linkerd policy for pods without a proxy.
pub const LINKERD_POLICY_UNMESHED: RuleMeta = RuleMeta {
    id: "MESH011",
    name: "linkerd-policy-on-unmeshed-pods",
    family: "mesh",
    severity: Severity::High,
    title: "Linkerd Server or authorization for pods without a proxy",
    what: "A Server selects a port of pods that get no Linkerd proxy (no `linkerd.io/inject: enabled` on the \
           pod template or its namespace, `disabled` on the pod template, an invalid value, or \
           `hostNetwork`), or a ServerAuthorization/AuthorizationPolicy authorizes clients of such a Server.",
    why: "Only the proxy enforces Linkerd policy: without it the port takes plaintext from anyone, and the \
          Server and its authorizations restrict nothing although they read as if they did.",
    fix: "Inject the proxy (`linkerd.io/inject: enabled` on the namespace or the pod template) or, where the \
          workload must stay outside the mesh, restrict it with a NetworkPolicy and remove the Linkerd policy.",
    references: &[REF_L5D_INJECT, REF_L5D_POLICY],
    aliases: &[],
    opt_in: false,
};

/// Two Servers for one pod port.
pub const LINKERD_CONFLICTING_SERVERS: RuleMeta = RuleMeta {
    id: "MESH012",
    name: "linkerd-conflicting-servers",
    family: "mesh",
    severity: Severity::Medium,
    title: "Several Linkerd Servers select the same pod port",
    what: "Two Servers of a namespace select the same port of the same pod (their pod selectors overlap and \
           their ports resolve to the same number).",
    why: "The policy controller gives the port to the oldest Server (then the smaller name) and ignores the \
          other, with its authorizations: which policy is in force depends on creation order, and it can \
          change when a Server is recreated.",
    fix: "Keep one Server per pod port: narrow the pod selectors or merge the Servers, and move the \
          authorizations to the one that remains.",
    references: &[REF_L5D_POLICY],
    aliases: &[],
    opt_in: false,
};

/// A Linkerd annotation or field with a value Linkerd does not take.
pub const LINKERD_INVALID_VALUE: RuleMeta = RuleMeta {
    id: "MESH013",
    name: "linkerd-invalid-policy-value",
    family: "mesh",
    severity: Severity::Medium,
    title: "Linkerd policy annotation or field with an invalid value",
    what: "`config.linkerd.io/default-inbound-policy` (namespace or pod template) or a Server's \
           `accessPolicy` that is none of `all-unauthenticated`, `all-authenticated`, \
           `cluster-unauthenticated`, `cluster-authenticated`, `deny`, `audit`; `linkerd.io/inject` that is \
           none of `enabled`, `ingress`, `disabled`; `config.linkerd.io/opaque-ports` or \
           `config.linkerd.io/proxy-require-identity-inbound-ports` that is no list of ports, ranges and \
           container port names.",
    why: "Linkerd ignores the value and falls back: an invalid default policy becomes the cluster's default \
          (usually `all-unauthenticated`), an invalid inject value leaves the pod without a proxy, an invalid \
          port list makes no port opaque. The intended restriction silently does not happen.",
    fix: "Use one of the values listed (they are case-sensitive); write port lists as `3306,5432,8000-8010`.",
    references: &[REF_L5D_POLICY, REF_L5D_INJECT, REF_L5D_OPAQUE],
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
    LINKERD_PLAINTEXT,
    LINKERD_SERVER_NEVER_MATCHES,
    LINKERD_AUTHZ_NEVER_MATCHES,
    LINKERD_POLICY_UNMESHED,
    LINKERD_CONFLICTING_SERVERS,
    LINKERD_INVALID_VALUE,
];

/// Whether `kguard scan` evaluates this object in the mesh engine.
#[must_use]
pub fn applies_to(obj: &Object) -> bool {
    matches!(
        (obj.group(), obj.kind()),
        ("security.istio.io", "PeerAuthentication" | "AuthorizationPolicy")
            | ("networking.istio.io", "DestinationRule")
    ) || crate::linkerd::is_policy_object(obj)
}

/// Every finding of the mesh rules in a set of objects: the Istio rules (root namespace
/// `istio-system`) when the input has Istio objects, the Linkerd rules (cluster default policy
/// `all-unauthenticated`, Linkerd's install default) when it has Linkerd objects or annotations.
#[must_use]
pub fn findings(objects: &[Object]) -> Vec<Finding> {
    findings_with(objects, crate::linkerd::DefaultPolicy::AllUnauthenticated)
}

/// [`findings`] for a cluster whose Linkerd install sets `linkerd_default` as its default inbound
/// policy (`proxy.defaultInboundPolicy`; Linkerd's own default is `all-unauthenticated`).
#[must_use]
pub fn findings_with(objects: &[Object], linkerd_default: crate::linkerd::DefaultPolicy) -> Vec<Finding> {
    let mut out = Vec::new();
    // The models hold every workload: built only when the input has something for them (a scan
    // of many pods and no mesh objects pays one look at each object, not a model of each).
    if objects.iter().any(|o| o.group().ends_with(".istio.io")) {
        let mesh = Mesh::from_objects(objects, crate::istio::DEFAULT_ROOT_NAMESPACE);
        if mesh.has_istio() {
            peer_authentications(&mesh, &mut out);
            destination_rules(&mesh, &mut out);
            authorization_policies(&mesh, &mut out);
        }
    }
    if crate::linkerd::may_apply(objects) {
        let l5d = crate::linkerd::Linkerd::from_objects(objects, linkerd_default);
        if l5d.applies() {
            linkerd::check(&l5d, objects, &mut out);
        }
    }
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
