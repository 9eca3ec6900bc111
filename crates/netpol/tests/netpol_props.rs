//! Property tests: interval-set arithmetic, CIDR-except blocks and np-guard's disjoint ranges,
//! against brute-force models.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use kguard_netpol::sets::{CidrError, ConnSet, IntervalSet, IpSet, PortSet, Protocol, disjoint_ranges, parse_cidr};
use proptest::prelude::*;

const N: u32 = 64;

fn model(s: &IntervalSet) -> Vec<bool> {
    (0..N).map(|v| s.contains(v)).collect()
}

fn arb_set() -> impl Strategy<Value = IntervalSet> {
    proptest::collection::vec((0..N, 0..8u32), 0..6).prop_map(|v| {
        let mut s = IntervalSet::new();
        for (lo, len) in v {
            s.add(lo, (lo + len).min(N - 1));
        }
        s
    })
}

fn canonical(s: &IntervalSet) -> bool {
    s.ranges().windows(2).all(|w| u64::from(w[0].1) + 1 < u64::from(w[1].0)) && s.ranges().iter().all(|r| r.0 <= r.1)
}

proptest! {
    #[test]
    fn interval_ops_match_model(a in arb_set(), b in arb_set()) {
        let (ma, mb) = (model(&a), model(&b));
        let u = a.union(&b);
        let i = a.intersect(&b);
        let d = a.subtract(&b);
        for v in 0..N as usize {
            prop_assert_eq!(model(&u)[v], ma[v] || mb[v]);
            prop_assert_eq!(model(&i)[v], ma[v] && mb[v]);
            prop_assert_eq!(model(&d)[v], ma[v] && !mb[v]);
        }
        prop_assert!(canonical(&u) && canonical(&i) && canonical(&d));
        prop_assert_eq!(a.is_subset(&b), (0..N as usize).all(|v| !ma[v] || mb[v]));
        prop_assert_eq!(u.size(), model(&u).iter().filter(|x| **x).count() as u64);
    }

    #[test]
    fn connset_ops_per_protocol(a in arb_set(), b in arb_set(), p in 0..3usize) {
        let proto = Protocol::ALL[p];
        let ca = ConnSet::single(proto, PortSet(a.clone()));
        let cb = ConnSet::single(proto, PortSet(b.clone()));
        prop_assert_eq!(ca.union(&cb).ports(proto).0.clone(), a.union(&b));
        prop_assert_eq!(ca.intersect(&cb).ports(proto).0.clone(), a.intersect(&b));
        prop_assert_eq!(ca.subtract(&cb).ports(proto).0.clone(), a.subtract(&b));
        prop_assert!(ConnSet::all().subtract(&ca).union(&ca).is_all() || ca.ports(proto).0.ranges().iter().any(|r| r.0 == 0));
    }

    #[test]
    fn cidr_except_membership(base in 0u32.., len in 0u32..=32, ex in proptest::collection::vec((0u32.., 0u32..=32), 0..4), probes in proptest::collection::vec(0u32.., 16)) {
        let cidr = format!("{}/{len}", std::net::Ipv4Addr::from(base));
        let excepts: Vec<String> = ex.iter().map(|(a, l)| format!("{}/{l}", std::net::Ipv4Addr::from(*a))).collect();
        let set = IpSet::from_block(&cidr, &excepts).unwrap();
        let inside = |c: &str, v: u32| { let (lo, hi) = parse_cidr(c).unwrap(); lo <= v && v <= hi };
        let (lo, hi) = parse_cidr(&cidr).unwrap();
        let mut all_probes = probes.clone();
        all_probes.extend([lo, hi]);
        for (a, _) in &ex { all_probes.push(*a); }
        for v in all_probes {
            let expected = inside(&cidr, v) && !excepts.iter().any(|e| inside(e, v));
            prop_assert_eq!(set.0.contains(v), expected, "{} except {:?} at {}", cidr, excepts, std::net::Ipv4Addr::from(v));
        }
    }

    #[test]
    fn disjoint_ranges_partition_and_refine(blocks in proptest::collection::vec((0u32.., 0u32..=32), 0..6)) {
        let sets: Vec<IpSet> = blocks.iter().map(|(a, l)| IpSet::from_cidr(&format!("{}/{l}", std::net::Ipv4Addr::from(*a))).unwrap()).collect();
        let ranges = disjoint_ranges(&sets);
        // A partition of the whole space, in order.
        prop_assert_eq!(ranges.first().unwrap().0, 0);
        prop_assert_eq!(ranges.last().unwrap().1, u32::MAX);
        for w in ranges.windows(2) {
            prop_assert_eq!(u64::from(w[0].1) + 1, u64::from(w[1].0));
        }
        // Each range lies wholly inside or outside every block, and adjacent ranges differ in
        // membership of some block (coarsest such partition).
        let member = |r: (u32, u32)| -> Vec<bool> {
            sets.iter().map(|s| {
                let one = IntervalSet::range(r.0, r.1);
                let inside = one.is_subset(&s.0);
                prop_assume!(inside || one.intersect(&s.0).is_empty());
                Ok(inside)
            }).collect::<Result<Vec<bool>, _>>().unwrap_or_default()
        };
        for r in &ranges {
            for s in &sets {
                let one = IntervalSet::range(r.0, r.1);
                prop_assert!(one.is_subset(&s.0) || one.intersect(&s.0).is_empty());
            }
        }
        for w in ranges.windows(2) {
            prop_assert_ne!(member(w[0]), member(w[1]));
        }
    }
}

#[test]
fn conn_strings_are_np_guard_s() {
    assert_eq!(ConnSet::all().to_string(), "All Connections");
    assert_eq!(ConnSet::none().to_string(), "No Connections");
    let mut c = ConnSet::single(Protocol::Udp, PortSet::range(53, 54));
    c.add(Protocol::Tcp, &PortSet::range(80, 80));
    c.add(Protocol::Tcp, &PortSet::range(8080, 8090));
    assert_eq!(c.to_string(), "TCP 80,8080-8090,UDP 53-54");
    let mut d = ConnSet::all().subtract(&ConnSet::single(Protocol::Udp, PortSet::range(5353, 5353)));
    assert_eq!(d.to_string(), "SCTP 1-65535,TCP 1-65535,UDP 1-5352,5354-65535");
    d.add(Protocol::Udp, &PortSet::range(5353, 5353));
    assert!(d.is_all());
    assert_eq!(IpSet::from_cidr("10.1.2.3/8").unwrap().to_string(), "10.0.0.0-10.255.255.255");
    assert_eq!(IpSet::from_cidr("fd00::/8"), Err(CidrError::Ipv6("fd00::/8".to_owned())));
    assert!(IpSet::from_cidr("fd00::/8").unwrap_err().to_string().contains("IPv6"));
    assert_eq!(IpSet::from_cidr("10.0.0.0"), Err(CidrError::NotCidr("10.0.0.0".to_owned())));
    assert_eq!(IpSet::from_cidr("10.0.0.300/8"), Err(CidrError::Address("10.0.0.300/8".to_owned())));
    assert_eq!(IpSet::from_cidr("10.0.0.0/33"), Err(CidrError::PrefixLength("10.0.0.0/33".to_owned())));
}
