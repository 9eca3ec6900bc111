//! NetworkPolicy hygiene findings (`NP001`…), each rule defined once in [`RULES`].

use kguard_model::Object;
use kguard_report::{Finding, RuleMeta, Severity};

use super::model::{Cluster, NetworkPolicy, Peer, PortSpec, Rule, Workload};

const REF_NP: &str = "https://kubernetes.io/docs/concepts/services-networking/network-policies/";
const REF_DEFAULT: &str = "https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-policies";
const REF_NSA: &str =
    "https://media.defense.gov/2022/Aug/29/2003066362/-1/-1/0/CTR_KUBERNETES_HARDENING_GUIDANCE_1.2_20220829.PDF";

/// Every NetworkPolicy rule.
pub const RULES: &[RuleMeta] = &[
    RuleMeta {
        id: "NP001",
        name: "namespace-without-default-deny-ingress",
        family: "netpol",
        severity: Severity::Medium,
        title: "Namespace has workloads but no default-deny ingress NetworkPolicy",
        what: "A namespace that runs workloads has no NetworkPolicy with an empty podSelector (`{}`) that \
               isolates every pod for Ingress without allowing anything.",
        why: "Pods are non-isolated until a policy selects them: any pod in the cluster, and anything that can \
              route to the pod network, can connect to every port. A default-deny policy makes allowed traffic \
              explicit and keeps new workloads closed by default.",
        fix: "Add `kind: NetworkPolicy` with `spec: {podSelector: {}, policyTypes: [Ingress]}` to the namespace, \
              then allow the traffic each workload needs with narrower policies.",
        references: &[REF_DEFAULT, REF_NSA],
        aliases: &["default-deny-ingress"],
        opt_in: false,
    },
    RuleMeta {
        id: "NP002",
        name: "namespace-without-default-deny-egress",
        family: "netpol",
        severity: Severity::Low,
        title: "Namespace has workloads but no default-deny egress NetworkPolicy",
        what: "A namespace that runs workloads has no NetworkPolicy with an empty podSelector that isolates \
               every pod for Egress without allowing anything.",
        why: "Without egress isolation a compromised pod can reach the API server, cloud metadata endpoints, \
              other namespaces and the internet, which helps lateral movement and data exfiltration.",
        fix: "Add `spec: {podSelector: {}, policyTypes: [Egress]}` to the namespace and allow DNS and the \
              destinations each workload needs explicitly.",
        references: &[REF_DEFAULT, REF_NSA],
        aliases: &["default-deny-egress"],
        opt_in: false,
    },
    RuleMeta {
        id: "NP003",
        name: "workload-not-selected",
        family: "netpol",
        severity: Severity::Low,
        title: "Workload is selected by no NetworkPolicy",
        what: "No NetworkPolicy (for Ingress or Egress) and no AdminNetworkPolicy selects the pods of this workload.",
        why: "An unselected pod accepts every connection and may open any connection: the weakest link of the \
              namespace's network segmentation.",
        fix: "Add a policy whose podSelector matches the workload's pod labels (or a namespace-wide default-deny \
              policy) and allow only the traffic it needs.",
        references: &[REF_NP],
        aliases: &[],
        opt_in: false,
    },
    RuleMeta {
        id: "NP004",
        name: "policy-selects-nothing",
        family: "netpol",
        severity: Severity::Low,
        title: "NetworkPolicy selects no workload",
        what: "The policy's podSelector matches no workload of its namespace in the analysed manifests.",
        why: "A policy that selects nothing protects nothing. It is often a typo in a label or the wrong \
              namespace, leaving the intended pods open while the policy looks like it protects them.",
        fix: "Make `spec.podSelector` match the labels of the intended pod template, or set `metadata.namespace` \
              to the workload's namespace; remove the policy if it is obsolete.",
        references: &[REF_NP],
        aliases: &[],
        opt_in: false,
    },
    RuleMeta {
        id: "NP005",
        name: "ingress-from-anywhere",
        family: "netpol",
        severity: Severity::Medium,
        title: "Ingress rule allows all sources",
        what: "An ingress rule has no `from` (all sources, including external addresses), a peer with an empty \
               namespaceSelector and no pod restriction (all pods of all namespaces), or an ipBlock of 0.0.0.0/0.",
        why: "Allowing every source undoes the isolation the policy creates; any compromised pod in any \
              namespace (or any external client) reaches the selected pods.",
        fix: "List the client pods (podSelector, with namespaceSelector on `kubernetes.io/metadata.name` for other \
              namespaces) or the external CIDRs that need access, and restrict `ports`.",
        references: &[REF_NP],
        aliases: &[],
        opt_in: false,
    },
    RuleMeta {
        id: "NP006",
        name: "egress-to-internet",
        family: "netpol",
        severity: Severity::Medium,
        title: "Egress rule allows 0.0.0.0/0",
        what: "An egress rule allows an ipBlock covering every IPv4 address (0.0.0.0/0, possibly minus excepts), \
               or has no `to` at all.",
        why: "Unrestricted egress lets a compromised pod download tooling, reach cloud metadata services and \
              exfiltrate data to any host on the internet.",
        fix: "Allow only the destination CIDRs (and ports) the workload needs; keep cluster DNS as a separate, \
              narrow rule.",
        references: &[REF_NP, REF_NSA],
        aliases: &[],
        opt_in: false,
    },
    RuleMeta {
        id: "NP007",
        name: "named-port-unmatched",
        family: "netpol",
        severity: Severity::Low,
        title: "Named port matches no container port",
        what: "A rule names a port (`port: http`) that no destination pod declares with that name and protocol \
               in `containers[].ports`.",
        why: "Named ports resolve on the destination pod; when nothing matches, the rule allows nothing, so the \
              intended traffic is silently blocked (or allowed by another, broader rule).",
        fix: "Use the container port's exact `name` and `protocol`, or a port number.",
        references: &[REF_NP],
        aliases: &["WarnUnmatchedNamedPort"],
        opt_in: false,
    },
];

fn meta(id: &str) -> Option<&'static RuleMeta> {
    RULES.iter().find(|r| r.id == id)
}

fn finding(id: &str, obj: &Object, pointer: &str, message: String) -> Option<Finding> {
    Some(Finding::about(meta(id)?, obj, pointer.to_owned(), message))
}

fn is_default_deny(p: &NetworkPolicy, ingress: bool) -> bool {
    let (affects, rules) = if ingress { (p.affects_ingress, &p.ingress) } else { (p.affects_egress, &p.egress) };
    affects && rules.is_empty() && p.pod_selector.is_empty()
}

fn allows_all_sources(r: &Rule) -> Option<String> {
    let Some(peers) = &r.peers else { return Some("it has no `from`: every source is allowed".to_owned()) };
    peers.iter().find_map(|p| match p {
        Peer::Selectors { pod, ns: Some(ns) }
            if ns.is_empty() && pod.as_ref().is_none_or(super::model::LabelSelector::is_empty) =>
        {
            Some("a peer with an empty namespaceSelector allows every pod of every namespace".to_owned())
        }
        Peer::IpBlock { set, text } if set.0.size() == 1u64 << 32 => {
            Some(format!("ipBlock {text} allows every address"))
        }
        _ => None,
    })
}

fn workload_object<'a>(objects: &'a [Object], w: &Workload) -> Option<&'a Object> {
    objects.get(w.object)
}

/// The NetworkPolicy findings for the analysed objects (`cluster` read from `objects`).
#[must_use]
pub fn findings(objects: &[Object], cluster: &Cluster) -> Vec<Finding> {
    let mut out = Vec::new();
    // NP001/NP002: namespaces with workloads but no default deny.
    for ns in cluster.namespaces.values() {
        let Some(first) = cluster.workloads.iter().find(|w| w.namespace == ns.name) else { continue };
        let (obj, pointer) = match ns.object.and_then(|i| objects.get(i)) {
            Some(o) => (Some(o), String::new()),
            None => (workload_object(objects, first), "/metadata".to_owned()),
        };
        let Some(obj) = obj else { continue };
        let in_ns: Vec<&NetworkPolicy> = cluster.policies.iter().filter(|p| p.namespace == ns.name).collect();
        for (id, ingress) in [("NP001", true), ("NP002", false)] {
            if !in_ns.iter().any(|p| is_default_deny(p, ingress)) {
                let dir = if ingress { "ingress" } else { "egress" };
                out.extend(finding(
                    id,
                    obj,
                    &pointer,
                    format!("namespace {:?} runs workloads but has no default-deny {dir} NetworkPolicy", ns.name),
                ));
            }
        }
    }
    // NP003: workloads selected by nothing.
    for w in &cluster.workloads {
        let selected = cluster
            .policies
            .iter()
            .any(|p| super::eval::np_selects(p, w, true) || super::eval::np_selects(p, w, false))
            || cluster.admin.iter().any(|p| super::eval::admin_selects(cluster, p, w));
        if !selected && let Some(obj) = workload_object(objects, w) {
            let pointer = if w.template.is_empty() {
                "/metadata/labels".to_owned()
            } else {
                format!("{}/metadata/labels", w.template)
            };
            out.extend(finding(
                "NP003",
                obj,
                &pointer,
                format!("{} is selected by no NetworkPolicy: all traffic to and from it is allowed", w.id()),
            ));
        }
    }
    for p in &cluster.policies {
        let Some(obj) = objects.get(p.object) else { continue };
        // NP004
        let selected: Vec<&Workload> = cluster
            .workloads
            .iter()
            .filter(|w| w.namespace == p.namespace && p.pod_selector.matches(&w.labels))
            .collect();
        if selected.is_empty() && !cluster.workloads.is_empty() {
            out.extend(finding(
                "NP004",
                obj,
                "/spec/podSelector",
                format!("NetworkPolicy {} selects no workload (podSelector {})", p.id(), p.pod_selector),
            ));
        }
        // NP005
        if p.affects_ingress {
            for r in &p.ingress {
                if let Some(why) = allows_all_sources(r) {
                    out.extend(finding(
                        "NP005",
                        obj,
                        &r.pointer,
                        format!("NetworkPolicy {} ingress rule: {why}", p.id()),
                    ));
                }
            }
        }
        // NP006
        if p.affects_egress {
            for r in &p.egress {
                let why = match &r.peers {
                    None => Some("it has no `to`: every destination, including the internet, is allowed".to_owned()),
                    Some(peers) => peers.iter().find_map(|peer| match peer {
                        Peer::IpBlock { set, text }
                            if set.0.ranges().first().is_some_and(|f| f.0 == 0)
                                && set.0.ranges().last().is_some_and(|l| l.1 == u32::MAX) =>
                        {
                            Some(format!("ipBlock {text} allows the whole internet"))
                        }
                        _ => None,
                    }),
                };
                if let Some(why) = why {
                    out.extend(finding(
                        "NP006",
                        obj,
                        &r.pointer,
                        format!("NetworkPolicy {} egress rule: {why}", p.id()),
                    ));
                }
            }
        }
        // NP007: named ports resolved on destinations: ingress → selected pods; egress → pods the rule reaches.
        for (rules, ingress) in [(&p.ingress, true), (&p.egress, false)] {
            for r in rules.iter() {
                for (k, port) in r.ports.iter().enumerate() {
                    let PortSpec::Named(name) = &port.port else { continue };
                    let dsts: Vec<&Workload> = if ingress {
                        selected.clone()
                    } else {
                        cluster
                            .workloads
                            .iter()
                            .filter(|w| {
                                super::eval::rule_matches(cluster, &p.namespace, r, &super::eval::Endpoint::Pod(w))
                            })
                            .collect()
                    };
                    let hit = dsts.iter().any(|w| w.named_port(name).is_some_and(|np| np.protocol == port.protocol));
                    if !hit {
                        out.extend(finding(
                            "NP007",
                            obj,
                            &format!("{}/ports/{k}/port", r.pointer),
                            format!(
                                "NetworkPolicy {}: named port {name:?} ({}) matches no container port of the destination pods",
                                p.id(),
                                port.protocol
                            ),
                        ));
                    }
                }
            }
        }
    }
    out
}
