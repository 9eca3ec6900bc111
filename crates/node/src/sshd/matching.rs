//! OpenSSH's `match.c` and `addrmatch.c`: wildcard patterns, pattern lists with `!` negation,
//! address lists with CIDR networks.

use std::net::IpAddr;

/// `match_pattern`: `*` and `?` wildcards, case-sensitive.
#[must_use]
pub fn match_pattern(s: &str, pattern: &str) -> bool {
    // Iterative matching with one remembered star: on a mismatch, the last `*` absorbs one more
    // byte. Worst case O(len(s) * len(pattern)), where naive recursion is exponential in the
    // number of stars (a fuzzer found `***…-` against a long name).
    let (s, p) = (s.as_bytes(), pattern.as_bytes());
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match p.get(j) {
            Some(b'*') => {
                star = Some((j, i));
                j += 1;
            }
            Some(&c) if c == b'?' || Some(&c) == s.get(i) => {
                i += 1;
                j += 1;
            }
            _ => match star {
                Some((sj, si)) => {
                    star = Some((sj, si + 1));
                    i = si + 1;
                    j = sj + 1;
                }
                None => return false,
            },
        }
    }
    p.get(j..).unwrap_or_default().iter().all(|&c| c == b'*')
}

/// `match_pattern_list`: 1 when a positive subpattern matches and no negated one does, -1 when a
/// negated one matches, 0 otherwise. `dolower` lower-cases the subpatterns.
#[must_use]
pub fn match_pattern_list(s: &str, list: &str, dolower: bool) -> i32 {
    let mut got_positive = 0;
    for sub in list.split(',') {
        let (neg, pat) = match sub.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, sub),
        };
        let pat = if dolower { pat.to_ascii_lowercase() } else { pat.to_owned() };
        if match_pattern(s, &pat) {
            if neg {
                return -1;
            }
            got_positive = 1;
        }
    }
    got_positive
}

/// `match_hostname`.
#[must_use]
pub fn match_hostname(host: &str, list: &str) -> i32 {
    match_pattern_list(&host.to_ascii_lowercase(), list, true)
}

/// `addr_pton_cidr`: Ok((addr, masklen)), Err(-1) when not an address (a wildcard pattern then),
/// Err(-2) when the mask length is invalid or host bits are set.
fn pton_cidr(p: &str) -> Result<(IpAddr, u32), i32> {
    if p.len() >= 64 {
        return Err(-1);
    }
    let (addr, mask) = match p.split_once('/') {
        Some((a, m)) => {
            if !m.starts_with(|c: char| c.is_ascii_digit()) || !m.bytes().all(|b| b.is_ascii_digit()) {
                return Err(-1);
            }
            let v: u64 = m.parse().unwrap_or(999);
            if v > 128 {
                return Err(-1);
            }
            (a, Some(v as u32))
        }
        None => (p, None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| -1)?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let mask = mask.unwrap_or(max);
    if mask > max {
        return Err(-2);
    }
    if host_bits(ip, mask) != 0 {
        return Err(-2);
    }
    Ok((ip, mask))
}

fn bits(ip: IpAddr) -> (u128, u32) {
    match ip {
        IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
        IpAddr::V6(v) => (u128::from(v), 128),
    }
}

fn host_bits(ip: IpAddr, mask: u32) -> u128 {
    let (v, width) = bits(ip);
    let host = width.saturating_sub(mask);
    if host == 0 {
        0
    } else if host >= 128 {
        v
    } else {
        v & ((1u128 << host) - 1)
    }
}

fn net_match(addr: IpAddr, net: IpAddr, mask: u32) -> bool {
    if addr.is_ipv4() != net.is_ipv4() {
        return false;
    }
    let (a, width) = bits(addr);
    let (n, _) = bits(net);
    let shift = width.saturating_sub(mask);
    if shift >= 128 {
        return true;
    }
    (a >> shift) == (n >> shift)
}

/// `addr_match_list`: 1 match, 0 no match, -1 negated match, -2 invalid list. `addr` `None`
/// only validates.
#[must_use]
pub fn addr_match_list(addr: Option<&str>, list: &str) -> i32 {
    let try_addr = match addr {
        Some(a) => match a.parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => return 0,
        },
        None => None,
    };
    let mut ret = 0;
    for entry in list.split(',') {
        let (neg, cp) = match entry.strip_prefix('!') {
            Some(c) => (true, c),
            None => (false, entry),
        };
        if cp.is_empty() {
            return -2;
        }
        let found = match pton_cidr(cp) {
            Err(-2) => return -2,
            Ok((net, mask)) => try_addr.is_some_and(|a| net_match(a, net, mask)),
            Err(_) => addr.is_some_and(|a| match_pattern(a, cp)),
        };
        if found {
            if neg {
                return -1;
            }
            ret = 1;
        }
    }
    ret
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_lists() {
        let l = "192.168.0.0/16,!192.168.30.0/24,10.0.0.0/8,host.example.com";
        assert_eq!(addr_match_list(Some("192.168.0.1"), l), 1);
        assert_eq!(addr_match_list(Some("192.168.30.1"), l), -1);
        assert_eq!(addr_match_list(Some("19.0.0.1"), l), 0);
        assert_eq!(addr_match_list(None, "10.0.1.0/8"), -2);
        assert_eq!(addr_match_list(None, "2000:aa:bb:01::/56"), -2);
        assert_eq!(addr_match_list(Some("2000::1"), "1.1.1.1,::1,!::3,2000::/16"), 1);
        assert_eq!(match_pattern_list("root", "*,!root", false), -1);
        assert_eq!(match_hostname("Client.Example.com", "*.example.com"), 1);
    }

    /// The recursive definition, as OpenSSH's `match_pattern` reads.
    fn reference(s: &[u8], p: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => (0..=s.len()).any(|i| reference(&s[i..], rest)),
            Some((b'?', rest)) => s.split_first().is_some_and(|(_, t)| reference(t, rest)),
            Some((c, rest)) => s.split_first().is_some_and(|(d, t)| d == c && reference(t, rest)),
        }
    }

    #[test]
    fn wildcards_agree_with_the_recursive_definition() {
        let alphabet = [b'a', b'b', b'*', b'?'];
        let mut checked = 0;
        for plen in 0..=5u32 {
            for pn in 0..4usize.pow(plen) {
                let pat: Vec<u8> = (0..plen).map(|k| alphabet[pn / 4usize.pow(k) % 4]).collect();
                for slen in 0..=5u32 {
                    for sn in 0..2usize.pow(slen) {
                        let s: Vec<u8> = (0..slen).map(|k| alphabet[sn >> k & 1]).collect();
                        let (ss, ps) = (String::from_utf8(s.clone()).unwrap(), String::from_utf8(pat.clone()).unwrap());
                        assert_eq!(match_pattern(&ss, &ps), reference(&s, &pat), "{ss:?} against {ps:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 1365 * 63);
    }

    #[test]
    fn many_stars_take_linear_time() {
        // The fuzzer's input: a long run of stars that ends in a byte the name lacks.
        let pat = format!("{}-", "*".repeat(80));
        assert!(!match_pattern(&"x".repeat(200), &pat));
        assert!(match_pattern("ssh-ed25519", &format!("{}-{}", "*".repeat(80), "*".repeat(80))));
    }
}
