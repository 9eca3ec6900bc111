//! Evaluation: which connections a source may open to a destination.
//!
//! A connection is allowed only if the egress side (policies selecting the source) and the
//! ingress side (policies selecting the destination) both allow it. Each side is decided the way
//! np-guard and the network-policy-api define it:
//!
//! 1. AdminNetworkPolicy rules, by ascending priority then rule order; the first rule matching a
//!    (protocol, port) decides it: Allow, Deny, or Pass (delegate);
//! 2. what the ANPs left undecided or passed goes to NetworkPolicies when any selects the pod for
//!    this direction (then only what their rules allow is allowed);
//! 3. otherwise to the BaselineAdminNetworkPolicy (first matching rule), and finally allowed.
//!
//! External addresses are matched only by `ipBlock`/`networks` peers, never by pod selectors,
//! and pods never by `ipBlock` (np-guard's model).

use super::model::{
    Action, AdminPeer, AdminPolicy, AdminPort, AdminRule, Cluster, NetworkPolicy, Peer, PortSpec, Rule, Workload,
};
use super::sets::{ConnSet, IpSet, PortSet, Protocol};

/// One end of a connection.
#[derive(Clone, Copy, Debug)]
pub enum Endpoint<'a> {
    /// A workload (its pods).
    Pod(&'a Workload),
    /// External addresses.
    Ip(&'a IpSet),
}

impl Endpoint<'_> {
    fn pod(&self) -> Option<&Workload> {
        match self {
            Self::Pod(w) => Some(w),
            Self::Ip(_) => None,
        }
    }
}

/// Whether NetworkPolicy `p` selects workload `w` for a direction.
#[must_use]
pub fn np_selects(p: &NetworkPolicy, w: &Workload, ingress: bool) -> bool {
    let affects = if ingress { p.affects_ingress } else { p.affects_egress };
    affects && p.namespace == w.namespace && p.pod_selector.matches(&w.labels)
}

/// Whether admin policy `p` has `w` as subject.
#[must_use]
pub fn admin_selects(c: &Cluster, p: &AdminPolicy, w: &Workload) -> bool {
    p.subject.matches(c.ns_labels(&w.namespace), &w.labels)
}

/// Whether a NetworkPolicy peer (of a policy in namespace `policy_ns`) matches `other`.
#[must_use]
pub fn peer_matches(c: &Cluster, policy_ns: &str, peer: &Peer, other: &Endpoint<'_>) -> bool {
    match (peer, other) {
        (Peer::Selectors { pod, ns }, Endpoint::Pod(w)) => {
            let ns_ok = match ns {
                None => w.namespace == policy_ns,
                Some(sel) => sel.matches(c.ns_labels(&w.namespace)),
            };
            ns_ok && pod.as_ref().is_none_or(|s| s.matches(&w.labels))
        }
        (Peer::IpBlock { set, .. }, Endpoint::Ip(ip)) => !ip.0.is_empty() && ip.0.is_subset(&set.0),
        _ => false,
    }
}

/// Whether a rule's peers match `other` (no peers: everything).
#[must_use]
pub fn rule_matches(c: &Cluster, policy_ns: &str, rule: &Rule, other: &Endpoint<'_>) -> bool {
    rule.peers.as_ref().is_none_or(|peers| peers.iter().any(|p| peer_matches(c, policy_ns, p, other)))
}

/// The connections a rule's ports allow towards `dst` (named ports resolve on `dst`'s containers).
#[must_use]
pub fn rule_conns(rule: &Rule, dst: Option<&Workload>) -> ConnSet {
    if rule.ports.is_empty() {
        return ConnSet::all();
    }
    let mut out = ConnSet::none();
    for p in &rule.ports {
        let ports = match &p.port {
            PortSpec::All => PortSet::all(),
            PortSpec::Range(lo, hi) => PortSet::range(*lo, *hi),
            PortSpec::Named(name) => match dst.and_then(|d| d.named_port(name)) {
                Some(np) if np.protocol == p.protocol => PortSet::range(np.port, np.port),
                _ => PortSet::none(),
            },
        };
        out.add(p.protocol, &ports);
    }
    out
}

/// The connections an admin rule's ports cover towards `dst`.
#[must_use]
pub fn admin_rule_conns(rule: &AdminRule, dst: Option<&Workload>) -> ConnSet {
    let Some(ports) = &rule.ports else { return ConnSet::all() };
    let mut out = ConnSet::none();
    for p in ports {
        match p {
            AdminPort::Ports(proto, set) => out.add(*proto, set),
            AdminPort::Named(name) => {
                if let Some(np) = dst.and_then(|d| d.named_port(name)) {
                    out.add(np.protocol, &PortSet::range(np.port, np.port));
                }
            }
        }
    }
    out
}

/// Whether an admin rule's peers match `other`.
#[must_use]
pub fn admin_rule_matches(c: &Cluster, rule: &AdminRule, other: &Endpoint<'_>) -> bool {
    rule.peers.iter().any(|p| match (p, other) {
        (AdminPeer::Pods(sel), Endpoint::Pod(w)) => sel.matches(c.ns_labels(&w.namespace), &w.labels),
        (AdminPeer::Networks(set), Endpoint::Ip(ip)) => !ip.0.is_empty() && ip.0.is_subset(&set.0),
        _ => false,
    })
}

/// The policies selecting one workload, per direction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Selecting {
    /// Indices into [`Cluster::admin`] whose subject is the workload.
    pub admin: Vec<usize>,
    /// Indices into [`Cluster::policies`] selecting it for this direction.
    pub policies: Vec<usize>,
    /// Whether the baseline's subject is the workload.
    pub baseline: bool,
}

impl Selecting {
    /// Computes the selecting policies of `w` for a direction.
    #[must_use]
    pub fn of(c: &Cluster, w: &Workload, ingress: bool) -> Self {
        Self {
            admin: c.admin.iter().enumerate().filter(|(_, p)| admin_selects(c, p, w)).map(|(i, _)| i).collect(),
            policies: c
                .policies
                .iter()
                .enumerate()
                .filter(|(_, p)| np_selects(p, w, ingress))
                .map(|(i, _)| i)
                .collect(),
            baseline: c.baseline.as_ref().is_some_and(|b| admin_selects(c, b, w)),
        }
    }
}

/// First-match accumulation over ordered admin rules.
#[derive(Debug)]
struct Layered {
    remaining: ConnSet,
    allowed: ConnSet,
    denied: ConnSet,
    passed: ConnSet,
}

impl Layered {
    fn new() -> Self {
        Self { remaining: ConnSet::all(), allowed: ConnSet::none(), denied: ConnSet::none(), passed: ConnSet::none() }
    }

    fn apply(&mut self, action: Action, conns: &ConnSet) {
        let hit = conns.intersect(&self.remaining);
        if hit.is_empty() {
            return;
        }
        self.remaining = self.remaining.subtract(&hit);
        let bucket = match action {
            Action::Allow => &mut self.allowed,
            Action::Deny => &mut self.denied,
            Action::Pass => &mut self.passed,
        };
        *bucket = bucket.union(&hit);
    }

    fn captured(&self) -> bool {
        !self.remaining.is_all()
    }
}

fn admin_layer(
    c: &Cluster,
    p: &AdminPolicy,
    ingress: bool,
    other: &Endpoint<'_>,
    dst: Option<&Workload>,
    acc: &mut Layered,
) {
    let rules = if ingress { &p.ingress } else { &p.egress };
    for r in rules {
        if acc.remaining.is_empty() {
            return;
        }
        if admin_rule_matches(c, r, other) {
            acc.apply(r.action, &admin_rule_conns(r, dst));
        }
    }
}

/// The connections one direction allows: `sel` are the policies selecting the subject (the
/// source for egress, the destination for ingress), `other` the far end, `dst` the destination
/// workload (for named ports).
#[must_use]
pub fn direction(c: &Cluster, sel: &Selecting, ingress: bool, other: &Endpoint<'_>, dst: Option<&Workload>) -> ConnSet {
    let mut acc = Layered::new();
    for &i in &sel.admin {
        if let Some(p) = c.admin.get(i) {
            admin_layer(c, p, ingress, other, dst, &mut acc);
        }
    }
    if acc.captured() && acc.remaining.is_empty() && acc.passed.is_empty() {
        return acc.allowed;
    }
    let open = acc.remaining.union(&acc.passed);
    if !sel.policies.is_empty() {
        let mut np = ConnSet::none();
        for &i in &sel.policies {
            let Some(p) = c.policies.get(i) else { continue };
            let rules = if ingress { &p.ingress } else { &p.egress };
            for r in rules {
                if rule_matches(c, &p.namespace, r, other) {
                    np = np.union(&rule_conns(r, dst));
                    if np.is_all() {
                        break;
                    }
                }
            }
        }
        return acc.allowed.union(&open.intersect(&np));
    }
    let mut denied = ConnSet::none();
    if sel.baseline
        && let Some(b) = &c.baseline
    {
        let mut base = Layered::new();
        admin_layer(c, b, ingress, other, dst, &mut base);
        denied = base.denied;
    }
    acc.allowed.union(&open.subtract(&denied))
}

/// The connections allowed from `src` to `dst` (naive: selectors evaluated on the spot).
#[must_use]
pub fn allowed(c: &Cluster, src: &Endpoint<'_>, dst: &Endpoint<'_>) -> ConnSet {
    let dst_pod = dst.pod();
    let egress = match src {
        Endpoint::Pod(w) => direction(c, &Selecting::of(c, w, false), false, dst, dst_pod),
        Endpoint::Ip(_) => ConnSet::all(),
    };
    if egress.is_empty() {
        return egress;
    }
    let ingress = match dst {
        Endpoint::Pod(w) => direction(c, &Selecting::of(c, w, true), true, src, dst_pod),
        Endpoint::Ip(_) => ConnSet::all(),
    };
    egress.intersect(&ingress)
}

/// One step of an explanation: a policy (and rule) and what it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    /// `[ANP] name`, `[NP] ns/name`, `[BANP] name`, or `default`.
    pub policy: String,
    /// Index of the policy's object in the inputs, when there is one.
    pub object: Option<usize>,
    /// JSON pointer of the rule (or of the pod selector), when one decided.
    pub pointer: Option<String>,
    /// What it did, in words.
    pub effect: String,
}

/// The verdict of one direction for one (protocol, port).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SideVerdict {
    /// Whether this side allows it.
    pub allowed: bool,
    /// The policies and rules responsible, in evaluation order.
    pub reasons: Vec<Reason>,
}

/// Explains one direction for a single connection (`proto`, `port`).
#[must_use]
pub fn explain_direction(
    c: &Cluster,
    subject: Option<&Workload>,
    ingress: bool,
    other: &Endpoint<'_>,
    dst: Option<&Workload>,
    proto: Protocol,
    port: u32,
) -> SideVerdict {
    let dir = if ingress { "ingress" } else { "egress" };
    let Some(w) = subject else {
        return SideVerdict {
            allowed: true,
            reasons: vec![Reason {
                policy: "default".to_owned(),
                object: None,
                pointer: None,
                effect: format!("external addresses are not subject to policies on {dir}"),
            }],
        };
    };
    let sel = Selecting::of(c, w, ingress);
    let mut reasons = Vec::new();
    for &i in &sel.admin {
        let Some(p) = c.admin.get(i) else { continue };
        let rules = if ingress { &p.ingress } else { &p.egress };
        for r in rules {
            if admin_rule_matches(c, r, other) && admin_rule_conns(r, dst).contains(proto, port) {
                let verb = match r.action {
                    Action::Allow => "allows",
                    Action::Deny => "denies",
                    Action::Pass => "passes (delegates to NetworkPolicies)",
                };
                reasons.push(Reason {
                    policy: p.id(),
                    object: Some(p.object),
                    pointer: Some(r.pointer.clone()),
                    effect: format!("rule {:?} {verb} it", r.name),
                });
                if r.action != Action::Pass {
                    return SideVerdict { allowed: r.action == Action::Allow, reasons };
                }
                break;
            }
        }
        if reasons.last().is_some_and(|r| r.effect.contains("passes")) {
            break;
        }
    }
    if !sel.policies.is_empty() {
        let mut allowed = false;
        for &i in &sel.policies {
            let Some(p) = c.policies.get(i) else { continue };
            let rules = if ingress { &p.ingress } else { &p.egress };
            let hit = rules
                .iter()
                .enumerate()
                .find(|(_, r)| rule_matches(c, &p.namespace, r, other) && rule_conns(r, dst).contains(proto, port));
            match hit {
                Some((idx, r)) => {
                    allowed = true;
                    reasons.push(Reason {
                        policy: format!("[NP] {}", p.id()),
                        object: Some(p.object),
                        pointer: Some(r.pointer.clone()),
                        effect: format!("selects {} for {dir}; its {dir} rule #{} allows it", w.id(), idx + 1),
                    });
                }
                None => reasons.push(Reason {
                    policy: format!("[NP] {}", p.id()),
                    object: Some(p.object),
                    pointer: Some("/spec/podSelector".to_owned()),
                    effect: format!("selects {} for {dir} (isolating it); none of its rules allows it", w.id()),
                }),
            }
        }
        return SideVerdict { allowed, reasons };
    }
    if sel.baseline
        && let Some(b) = &c.baseline
    {
        let rules = if ingress { &b.ingress } else { &b.egress };
        if let Some(r) =
            rules.iter().find(|r| admin_rule_matches(c, r, other) && admin_rule_conns(r, dst).contains(proto, port))
        {
            reasons.push(Reason {
                policy: b.id(),
                object: Some(b.object),
                pointer: Some(r.pointer.clone()),
                effect: format!(
                    "rule {:?} {}",
                    r.name,
                    if r.action == Action::Allow { "allows it" } else { "denies it" }
                ),
            });
            return SideVerdict { allowed: r.action == Action::Allow, reasons };
        }
    }
    reasons.push(Reason {
        policy: "default".to_owned(),
        object: None,
        pointer: None,
        effect: format!("no NetworkPolicy selects {} for {dir}: not isolated, allowed", w.id()),
    });
    SideVerdict { allowed: true, reasons }
}
