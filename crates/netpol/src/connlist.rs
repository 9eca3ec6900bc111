//! The connectivity list: every allowed (source, destination, connections) triple between
//! workloads and external address ranges, computed over equivalence classes of pods.

use std::collections::HashMap;

use super::eval::{Endpoint, Selecting, allowed, direction, rule_conns, rule_matches};
use super::model::{AdminPeer, Cluster, Labels, NamedPort, Peer, Workload};
use super::sets::{ConnSet, IntervalSet, IpSet, disjoint_ranges};

/// One line of the connectivity list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// Source: `ns/name[Kind]` or `a.b.c.d-e.f.g.h[External]`.
    pub src: String,
    /// Destination, same forms.
    pub dst: String,
    /// Allowed connections (never empty).
    pub conns: ConnSet,
}

/// The external address ranges np-guard lists: sources split at every ingress `ipBlock`
/// boundary, destinations at every egress `ipBlock` (and admin `networks`) boundary.
#[must_use]
pub fn external_ranges(c: &Cluster) -> (Vec<IpSet>, Vec<IpSet>) {
    let mut src_sets = Vec::new();
    let mut dst_sets = Vec::new();
    for p in &c.policies {
        for (rules, out) in [(&p.ingress, &mut src_sets), (&p.egress, &mut dst_sets)] {
            for r in rules {
                for peer in r.peers.iter().flatten() {
                    if let Peer::IpBlock { set, .. } = peer {
                        out.push(set.clone());
                    }
                }
            }
        }
    }
    for p in c.admin.iter().chain(c.baseline.iter()) {
        for r in &p.egress {
            for peer in &r.peers {
                if let AdminPeer::Networks(set) = peer {
                    dst_sets.push(set.clone());
                }
            }
        }
    }
    let to_sets =
        |v: Vec<(u32, u32)>| v.into_iter().map(|(lo, hi)| IpSet(IntervalSet::range(lo, hi))).collect::<Vec<_>>();
    (to_sets(disjoint_ranges(&src_sets)), to_sets(disjoint_ranges(&dst_sets)))
}

/// The name np-guard prints for an external range.
#[must_use]
pub fn external_name(set: &IpSet) -> String {
    format!("{set}[External]")
}

fn sort(mut v: Vec<Connection>) -> Vec<Connection> {
    v.sort_by(|a, b| a.src.cmp(&b.src).then_with(|| a.dst.cmp(&b.dst)));
    v
}

/// The connectivity list, computed naively: every pair of workloads (and external ranges)
/// evaluated from scratch. Reference for [`connlist`].
#[must_use]
pub fn connlist_naive(c: &Cluster) -> Vec<Connection> {
    let mut out = Vec::new();
    if c.workloads.is_empty() {
        return out;
    }
    let (srcs, dsts) = external_ranges(c);
    let ids: Vec<String> = c.workloads.iter().map(super::model::Workload::id).collect();
    for (i, ws) in c.workloads.iter().enumerate() {
        for (j, wd) in c.workloads.iter().enumerate() {
            if ids.get(i) == ids.get(j) {
                continue;
            }
            let conns = allowed(c, &Endpoint::Pod(ws), &Endpoint::Pod(wd));
            if !conns.is_empty() {
                out.push(Connection {
                    src: ids.get(i).cloned().unwrap_or_default(),
                    dst: ids.get(j).cloned().unwrap_or_default(),
                    conns,
                });
            }
        }
    }
    for ip in &srcs {
        for (j, wd) in c.workloads.iter().enumerate() {
            let conns = allowed(c, &Endpoint::Ip(ip), &Endpoint::Pod(wd));
            if !conns.is_empty() {
                out.push(Connection { src: external_name(ip), dst: ids.get(j).cloned().unwrap_or_default(), conns });
            }
        }
    }
    for ip in &dsts {
        for (i, ws) in c.workloads.iter().enumerate() {
            let conns = allowed(c, &Endpoint::Pod(ws), &Endpoint::Ip(ip));
            if !conns.is_empty() {
                out.push(Connection { src: ids.get(i).cloned().unwrap_or_default(), dst: external_name(ip), conns });
            }
        }
    }
    sort(out)
}

/// The far end of a memoised direction: a class of pods or an external range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Other {
    Class(usize),
    SrcIp(usize),
    DstIp(usize),
}

/// The connectivity list. Pods with equal namespace, labels and named ports form one
/// equivalence class (policies cannot tell them apart), and classes selected by the same
/// policies share each direction's result, so large clusters cost classes × groups evaluations
/// rather than workloads².
#[must_use]
pub fn connlist(c: &Cluster) -> Vec<Connection> {
    let mut out = Vec::new();
    if c.workloads.is_empty() {
        return out;
    }
    let (srcs, dsts) = external_ranges(c);
    // Equivalence classes.
    let mut class_of_key: HashMap<(&str, &Labels, &[NamedPort]), usize> = HashMap::new();
    let mut reps: Vec<usize> = Vec::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for (i, w) in c.workloads.iter().enumerate() {
        let key = (w.namespace.as_str(), &w.labels, w.ports.as_slice());
        let next = reps.len();
        let id = *class_of_key.entry(key).or_insert(next);
        if id == next {
            reps.push(i);
            members.push(Vec::new());
        }
        if let Some(m) = members.get_mut(id) {
            m.push(i);
        }
    }
    let rep = |k: usize| reps.get(k).and_then(|&i| c.workloads.get(i));
    // Direction groups: classes selected by the same policies (ingress also keyed by named ports,
    // which resolve on the destination).
    let mut eg_ids: HashMap<Selecting, usize> = HashMap::new();
    let mut ig_ids: HashMap<(Selecting, &[NamedPort]), usize> = HashMap::new();
    let mut eg_sel: Vec<Selecting> = Vec::new();
    let mut ig_sel: Vec<(Selecting, usize)> = Vec::new();
    let mut eg_of = Vec::with_capacity(reps.len());
    let mut ig_of = Vec::with_capacity(reps.len());
    for k in 0..reps.len() {
        let Some(w) = rep(k) else { continue };
        let se = Selecting::of(c, w, false);
        let n = eg_sel.len();
        let g = *eg_ids.entry(se.clone()).or_insert(n);
        if g == n {
            eg_sel.push(se);
        }
        eg_of.push(g);
        let si = Selecting::of(c, w, true);
        let n = ig_sel.len();
        let g = *ig_ids.entry((si.clone(), w.ports.as_slice())).or_insert(n);
        if g == n {
            ig_sel.push((si, k));
        }
        ig_of.push(g);
    }
    let endpoint = |o: Other| -> Option<Endpoint<'_>> {
        match o {
            Other::Class(k) => rep(k).map(Endpoint::Pod),
            Other::SrcIp(a) => srcs.get(a).map(Endpoint::Ip),
            Other::DstIp(a) => dsts.get(a).map(Endpoint::Ip),
        }
    };
    // Without admin policies a direction is either open (no NetworkPolicy selects the subject)
    // or the union of its policies' rules: computed sparsely from each rule's matched peers.
    let sparse = c.admin.is_empty() && c.baseline.is_none();
    let matched = if sparse { rule_matches_all(c, &reps, &srcs, &dsts) } else { HashMap::new() };
    let sparse_table =
        |sel: &Selecting, ingress: bool, subject: Option<&Workload>| -> Option<HashMap<Other, ConnSet>> {
            if sel.policies.is_empty() {
                return None;
            }
            let mut t: HashMap<Other, ConnSet> = HashMap::new();
            for &pi in &sel.policies {
                let Some(p) = c.policies.get(pi) else { continue };
                let rules = if ingress { &p.ingress } else { &p.egress };
                for (ri, r) in rules.iter().enumerate() {
                    for &o in matched.get(&(pi, ingress, ri)).map_or(&[][..], Vec::as_slice) {
                        let dst = if ingress {
                            subject
                        } else {
                            endpoint(o).and_then(|e| match e {
                                Endpoint::Pod(w) => Some(w),
                                Endpoint::Ip(_) => None,
                            })
                        };
                        let conns = rule_conns(r, dst);
                        if conns.is_empty() {
                            continue;
                        }
                        let slot = t.entry(o).or_default();
                        *slot = slot.union(&conns);
                    }
                }
            }
            Some(t)
        };
    let eg_tables: Vec<Option<HashMap<Other, ConnSet>>> =
        if sparse { eg_sel.iter().map(|s| sparse_table(s, false, None)).collect() } else { Vec::new() };
    let ig_tables: Vec<Option<HashMap<Other, ConnSet>>> =
        if sparse { ig_sel.iter().map(|(s, k)| sparse_table(s, true, rep(*k))).collect() } else { Vec::new() };
    let mut egress_memo: HashMap<(usize, Other), ConnSet> = HashMap::new();
    let mut ingress_memo: HashMap<(usize, Other), ConnSet> = HashMap::new();
    let mut egress = |g: usize, o: Other| -> ConnSet {
        if sparse {
            return match eg_tables.get(g) {
                Some(None) => ConnSet::all(),
                Some(Some(t)) => t.get(&o).cloned().unwrap_or_default(),
                None => ConnSet::none(),
            };
        }
        egress_memo
            .entry((g, o))
            .or_insert_with(|| {
                let (Some(sel), Some(other)) = (eg_sel.get(g), endpoint(o)) else { return ConnSet::none() };
                let dst = match other {
                    Endpoint::Pod(w) => Some(w),
                    Endpoint::Ip(_) => None,
                };
                direction(c, sel, false, &other, dst)
            })
            .clone()
    };
    let mut ingress = |g: usize, o: Other| -> ConnSet {
        if sparse {
            return match ig_tables.get(g) {
                Some(None) => ConnSet::all(),
                Some(Some(t)) => t.get(&o).cloned().unwrap_or_default(),
                None => ConnSet::none(),
            };
        }
        ingress_memo
            .entry((g, o))
            .or_insert_with(|| {
                let (Some((sel, k)), Some(other)) = (ig_sel.get(g), endpoint(o)) else { return ConnSet::none() };
                direction(c, sel, true, &other, rep(*k))
            })
            .clone()
    };
    let ids: Vec<String> = c.workloads.iter().map(super::model::Workload::id).collect();
    let id = |i: usize| ids.get(i).cloned().unwrap_or_default();
    let all_classes: Vec<usize> = (0..reps.len()).collect();
    for cs in 0..reps.len() {
        // Sparse egress: only the classes some rule reaches.
        let targets: Vec<usize> = match eg_of.get(cs).and_then(|&g| eg_tables.get(g)) {
            Some(Some(t)) => {
                let mut v: Vec<usize> =
                    t.keys().filter_map(|o| if let Other::Class(k) = *o { Some(k) } else { None }).collect();
                v.sort_unstable();
                v
            }
            _ => all_classes.clone(),
        };
        for cd in targets {
            let (Some(&eg), Some(&ig)) = (eg_of.get(cs), ig_of.get(cd)) else { continue };
            let e = egress(eg, Other::Class(cd));
            if e.is_empty() {
                continue;
            }
            let conns = e.intersect(&ingress(ig, Other::Class(cs)));
            if conns.is_empty() {
                continue;
            }
            for &ws in members.get(cs).map_or(&[][..], Vec::as_slice) {
                for &wd in members.get(cd).map_or(&[][..], Vec::as_slice) {
                    if ids.get(ws) != ids.get(wd) {
                        out.push(Connection { src: id(ws), dst: id(wd), conns: conns.clone() });
                    }
                }
            }
        }
    }
    for (a, ip) in srcs.iter().enumerate() {
        for cd in 0..reps.len() {
            let Some(&ig) = ig_of.get(cd) else { continue };
            let conns = ingress(ig, Other::SrcIp(a));
            if conns.is_empty() {
                continue;
            }
            for &wd in members.get(cd).map_or(&[][..], Vec::as_slice) {
                out.push(Connection { src: external_name(ip), dst: id(wd), conns: conns.clone() });
            }
        }
    }
    for (a, ip) in dsts.iter().enumerate() {
        for cs in 0..reps.len() {
            let Some(&eg) = eg_of.get(cs) else { continue };
            let conns = egress(eg, Other::DstIp(a));
            if conns.is_empty() {
                continue;
            }
            for &ws in members.get(cs).map_or(&[][..], Vec::as_slice) {
                out.push(Connection { src: id(ws), dst: external_name(ip), conns: conns.clone() });
            }
        }
    }
    sort(out)
}

/// For every NetworkPolicy rule (policy index, ingress?, rule index), the classes and external
/// ranges its peers match. Namespace selectors are evaluated once per namespace.
fn rule_matches_all(
    c: &Cluster,
    reps: &[usize],
    srcs: &[IpSet],
    dsts: &[IpSet],
) -> HashMap<(usize, bool, usize), Vec<Other>> {
    let mut by_ns: HashMap<&str, Vec<usize>> = HashMap::new();
    for (k, &i) in reps.iter().enumerate() {
        if let Some(w) = c.workloads.get(i) {
            by_ns.entry(w.namespace.as_str()).or_default().push(k);
        }
    }
    let mut out = HashMap::new();
    for (pi, p) in c.policies.iter().enumerate() {
        for (ingress, rules) in [(true, &p.ingress), (false, &p.egress)] {
            let affects = if ingress { p.affects_ingress } else { p.affects_egress };
            if !affects {
                continue;
            }
            for (ri, r) in rules.iter().enumerate() {
                let mut v = Vec::new();
                let ips = if ingress { srcs } else { dsts };
                let ip_other = |a: usize| if ingress { Other::SrcIp(a) } else { Other::DstIp(a) };
                for (a, ip) in ips.iter().enumerate() {
                    if rule_matches(c, &p.namespace, r, &Endpoint::Ip(ip)) {
                        v.push(ip_other(a));
                    }
                }
                for (ns, classes) in &by_ns {
                    let ns_possible = match &r.peers {
                        None => true,
                        Some(peers) => peers.iter().any(|peer| match peer {
                            Peer::Selectors { ns: None, .. } => *ns == p.namespace,
                            Peer::Selectors { ns: Some(sel), .. } => sel.matches(c.ns_labels(ns)),
                            _ => false,
                        }),
                    };
                    if !ns_possible {
                        continue;
                    }
                    for &k in classes {
                        let Some(w) = reps.get(k).and_then(|&i| c.workloads.get(i)) else { continue };
                        if rule_matches(c, &p.namespace, r, &Endpoint::Pod(w)) {
                            v.push(Other::Class(k));
                        }
                    }
                }
                out.insert((pi, ingress, ri), v);
            }
        }
    }
    out
}
