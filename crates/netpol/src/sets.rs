//! Interval sets: ports per protocol ([`PortSet`], [`ConnSet`]) and IPv4 addresses ([`IpSet`]).
//!
//! Both are canonical: sorted, disjoint, non-adjacent inclusive intervals, so equality of sets is
//! equality of values and printing is deterministic.

use std::fmt;

/// Smallest port a policy can name.
pub const MIN_PORT: u32 = 1;
/// Largest port.
pub const MAX_PORT: u32 = 65_535;

/// A canonical set of `u32` values as sorted, disjoint, non-adjacent inclusive intervals.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IntervalSet {
    ranges: Vec<(u32, u32)>,
}

impl IntervalSet {
    /// The empty set.
    #[must_use]
    pub const fn new() -> Self {
        Self { ranges: Vec::new() }
    }

    /// The set `lo..=hi` (empty when `lo > hi`).
    #[must_use]
    pub fn range(lo: u32, hi: u32) -> Self {
        if lo > hi { Self::new() } else { Self { ranges: vec![(lo, hi)] } }
    }

    /// The intervals, ascending.
    #[must_use]
    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether `v` is in the set.
    #[must_use]
    pub fn contains(&self, v: u32) -> bool {
        let idx = self.ranges.partition_point(|&(_, hi)| hi < v);
        self.ranges.get(idx).is_some_and(|&(lo, _)| lo <= v)
    }

    /// Adds `lo..=hi`.
    pub fn add(&mut self, lo: u32, hi: u32) {
        if lo > hi {
            return;
        }
        *self = self.union(&Self::range(lo, hi));
    }

    /// Union.
    #[must_use]
    pub fn union(&self, other: &Self) -> Self {
        let mut all: Vec<(u32, u32)> = self.ranges.iter().chain(other.ranges.iter()).copied().collect();
        all.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(all.len());
        for (lo, hi) in all {
            match out.last_mut() {
                Some(last) if u64::from(lo) <= u64::from(last.1) + 1 => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        Self { ranges: out }
    }

    /// Intersection.
    #[must_use]
    pub fn intersect(&self, other: &Self) -> Self {
        let mut out = Vec::new();
        let (mut i, mut j) = (0usize, 0usize);
        while let (Some(&(alo, ahi)), Some(&(blo, bhi))) = (self.ranges.get(i), other.ranges.get(j)) {
            let lo = alo.max(blo);
            let hi = ahi.min(bhi);
            if lo <= hi {
                out.push((lo, hi));
            }
            if ahi < bhi { i += 1 } else { j += 1 }
        }
        Self { ranges: out }
    }

    /// Difference `self \ other`.
    #[must_use]
    pub fn subtract(&self, other: &Self) -> Self {
        let mut out = Vec::new();
        for &(lo, hi) in &self.ranges {
            let mut cur = u64::from(lo);
            let end = u64::from(hi);
            for &(blo, bhi) in &other.ranges {
                let (blo, bhi) = (u64::from(blo), u64::from(bhi));
                if bhi < cur || blo > end {
                    continue;
                }
                if blo > cur {
                    out.push((cur, blo - 1));
                }
                cur = cur.max(bhi + 1);
                if cur > end {
                    break;
                }
            }
            if cur <= end {
                out.push((cur, end));
            }
        }
        Self {
            ranges: out
                .into_iter()
                .filter_map(|(a, b)| Some((u32::try_from(a).ok()?, u32::try_from(b).ok()?)))
                .collect(),
        }
    }

    /// Whether every value of `self` is in `other`.
    #[must_use]
    pub fn is_subset(&self, other: &Self) -> bool {
        self.subtract(other).is_empty()
    }

    /// Number of values (as `u64`, the full `u32` space has 2^32).
    #[must_use]
    pub fn size(&self) -> u64 {
        self.ranges.iter().map(|&(lo, hi)| u64::from(hi) - u64::from(lo) + 1).sum()
    }
}

/// A set of ports of one protocol, within `1..=65535`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortSet(pub IntervalSet);

impl PortSet {
    /// No port.
    #[must_use]
    pub const fn none() -> Self {
        Self(IntervalSet::new())
    }

    /// Every port `1..=65535`.
    #[must_use]
    pub fn all() -> Self {
        Self(IntervalSet::range(MIN_PORT, MAX_PORT))
    }

    /// The ports `lo..=hi`, clipped to `1..=65535`.
    #[must_use]
    pub fn range(lo: u32, hi: u32) -> Self {
        Self(IntervalSet::range(lo.max(MIN_PORT), hi.min(MAX_PORT)))
    }

    /// Whether it holds every port.
    #[must_use]
    pub fn is_all(&self) -> bool {
        self.0.ranges() == [(MIN_PORT, MAX_PORT)]
    }
}

impl fmt::Display for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(lo, hi)) in self.0.ranges().iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if lo == hi { write!(f, "{lo}")? } else { write!(f, "{lo}-{hi}")? }
        }
        Ok(())
    }
}

/// A transport protocol a NetworkPolicy port can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// SCTP.
    Sctp,
    /// TCP (the default).
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// All protocols, in np-guard's print order.
    pub const ALL: [Self; 3] = [Self::Sctp, Self::Tcp, Self::Udp];

    /// Upper-case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sctp => "SCTP",
            Self::Tcp => "TCP",
            Self::Udp => "UDP",
        }
    }

    /// Parses `TCP`/`UDP`/`SCTP` (case-insensitive).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str().eq_ignore_ascii_case(s))
    }

    const fn idx(self) -> usize {
        match self {
            Self::Sctp => 0,
            Self::Tcp => 1,
            Self::Udp => 2,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of connections: ports per protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnSet {
    ports: [PortSet; 3],
}

impl ConnSet {
    /// No connection.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// Every protocol and port.
    #[must_use]
    pub fn all() -> Self {
        Self { ports: [PortSet::all(), PortSet::all(), PortSet::all()] }
    }

    /// The ports of one protocol.
    #[must_use]
    pub fn ports(&self, p: Protocol) -> &PortSet {
        // idx() is always < 3.
        self.ports.get(p.idx()).unwrap_or(&EMPTY_PORTS)
    }

    /// Only `ports` of protocol `p`.
    #[must_use]
    pub fn single(p: Protocol, ports: PortSet) -> Self {
        let mut c = Self::none();
        c.add(p, &ports);
        c
    }

    /// Adds ports of a protocol.
    pub fn add(&mut self, p: Protocol, ports: &PortSet) {
        if let Some(slot) = self.ports.get_mut(p.idx()) {
            *slot = PortSet(slot.0.union(&ports.0));
        }
    }

    /// Whether `port` of `p` is in the set.
    #[must_use]
    pub fn contains(&self, p: Protocol, port: u32) -> bool {
        self.ports(p).0.contains(port)
    }

    fn zip(&self, other: &Self, f: impl Fn(&IntervalSet, &IntervalSet) -> IntervalSet) -> Self {
        let [a0, a1, a2] = &self.ports;
        let [b0, b1, b2] = &other.ports;
        Self { ports: [PortSet(f(&a0.0, &b0.0)), PortSet(f(&a1.0, &b1.0)), PortSet(f(&a2.0, &b2.0))] }
    }

    /// Union.
    #[must_use]
    pub fn union(&self, other: &Self) -> Self {
        self.zip(other, IntervalSet::union)
    }

    /// Intersection.
    #[must_use]
    pub fn intersect(&self, other: &Self) -> Self {
        self.zip(other, IntervalSet::intersect)
    }

    /// Difference.
    #[must_use]
    pub fn subtract(&self, other: &Self) -> Self {
        self.zip(other, IntervalSet::subtract)
    }

    /// Whether no connection is in the set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ports.iter().all(|p| p.0.is_empty())
    }

    /// Whether every connection is in the set.
    #[must_use]
    pub fn is_all(&self) -> bool {
        self.ports.iter().all(PortSet::is_all)
    }
}

static EMPTY_PORTS: PortSet = PortSet::none();

impl fmt::Display for ConnSet {
    /// np-guard's form: `All Connections`, `No Connections`, or `SCTP 1-65535,TCP 80,UDP 53-54`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("All Connections");
        }
        if self.is_empty() {
            return f.write_str("No Connections");
        }
        let mut first = true;
        for p in Protocol::ALL {
            let ports = self.ports(p);
            if ports.0.is_empty() {
                continue;
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{p} {ports}")?;
        }
        Ok(())
    }
}

/// A set of IPv4 addresses (as `u32`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpSet(pub IntervalSet);

impl IpSet {
    /// Every IPv4 address (`0.0.0.0/0`).
    #[must_use]
    pub fn all() -> Self {
        Self(IntervalSet::range(0, u32::MAX))
    }

    /// Parses an IPv4 CIDR such as `10.0.0.0/8` (host bits are ignored, as Go's `net.ParseCIDR`
    /// does). `Err` says why it is not one; IPv6 is reported as such.
    ///
    /// # Errors
    /// When `cidr` is not an IPv4 CIDR.
    pub fn from_cidr(cidr: &str) -> Result<Self, CidrError> {
        let (lo, hi) = parse_cidr(cidr)?;
        Ok(Self(IntervalSet::range(lo, hi)))
    }

    /// `cidr` minus every `except` CIDR.
    ///
    /// # Errors
    /// When one of them is not an IPv4 CIDR.
    pub fn from_block(cidr: &str, except: &[String]) -> Result<Self, CidrError> {
        let mut set = Self::from_cidr(cidr)?;
        for e in except {
            set = Self(set.0.subtract(&Self::from_cidr(e)?.0));
        }
        Ok(set)
    }
}

impl fmt::Display for IpSet {
    /// `a.b.c.d-e.f.g.h` ranges joined by `, ` (np-guard's `ToIPRanges`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(lo, hi)) in self.0.ranges().iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}-{}", std::net::Ipv4Addr::from(lo), std::net::Ipv4Addr::from(hi))?;
        }
        Ok(())
    }
}

/// Why a text is not an IPv4 CIDR.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// No `/n`.
    #[error("{0:?} is not a CIDR (expected a.b.c.d/n)")]
    NotCidr(String),
    /// An IPv6 CIDR.
    #[error("{0:?} is an IPv6 CIDR, which is not supported (only IPv4 is analysed)")]
    Ipv6(String),
    /// The address part is not IPv4.
    #[error("{0:?} has an invalid IPv4 address")]
    Address(String),
    /// The prefix length is not 0..=32.
    #[error("{0:?} has an invalid prefix length")]
    PrefixLength(String),
}

/// Parses an IPv4 CIDR into its first and last address.
///
/// # Errors
/// When it is not `a.b.c.d/n` with `n <= 32` (IPv6 says so explicitly).
pub fn parse_cidr(cidr: &str) -> Result<(u32, u32), CidrError> {
    let cidr = cidr.trim();
    let Some((addr, len)) = cidr.split_once('/') else {
        return Err(CidrError::NotCidr(cidr.to_owned()));
    };
    if addr.contains(':') {
        return Err(CidrError::Ipv6(cidr.to_owned()));
    }
    let ip: std::net::Ipv4Addr = addr.parse().map_err(|_| CidrError::Address(cidr.to_owned()))?;
    let len: u32 = len.parse().ok().filter(|l| *l <= 32).ok_or_else(|| CidrError::PrefixLength(cidr.to_owned()))?;
    let mask: u32 = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    let lo = u32::from(ip) & mask;
    Ok((lo, lo | !mask))
}

/// Splits the whole IPv4 space into contiguous ranges at every boundary of the given sets (each
/// set's interval starts and ends), np-guard's "disjoint IP blocks". Always covers `0.0.0.0/0`.
#[must_use]
pub fn disjoint_ranges<'a>(sets: impl IntoIterator<Item = &'a IpSet>) -> Vec<(u32, u32)> {
    let mut cuts: Vec<u64> = vec![0, 1u64 << 32];
    for s in sets {
        for &(lo, hi) in s.0.ranges() {
            cuts.push(u64::from(lo));
            cuts.push(u64::from(hi) + 1);
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2)
        .filter_map(|w| match w {
            [a, b] => Some((u32::try_from(*a).ok()?, u32::try_from(b.checked_sub(1)?).ok()?)),
            _ => None,
        })
        .collect()
}
