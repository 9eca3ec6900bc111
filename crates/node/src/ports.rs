//! Sockets from `/proc/net/{tcp,tcp6,udp,udp6}` (what `ss -antu` reads through netlink), their
//! owning processes (socket inode → `/proc/PID/fd/N` → `socket:[INODE]`), and findings against
//! a node-role allow-list.
//!
//! One thing `/proc/net` does not say: whether a `[::]` socket is IPv6-only (`ss` prints a
//! dual-stack one as `*`, from the netlink `INET_DIAG_SKV6ONLY` attribute). We print `[::]`.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use kguard_model::Location;
use kguard_report::{Finding, RuleMeta, Severity};

use crate::source::Source;

/// One socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Socket {
    /// `tcp` or `udp` (as `ss` names the netid; IPv6 too).
    pub netid: &'static str,
    /// IPv6 table.
    pub v6: bool,
    /// `ss`'s state name: LISTEN, ESTAB, UNCONN, TIME-WAIT, …
    pub state: &'static str,
    /// Local address (`127.0.0.1`, `[::1]`).
    pub local: String,
    /// Local port.
    pub local_port: u16,
    /// Peer address.
    pub peer: String,
    /// Peer port (`None` prints `*`).
    pub peer_port: Option<u16>,
    /// Socket inode.
    pub inode: u64,
    /// Owning processes: (command name, pid).
    pub processes: Vec<(String, u32)>,
}

impl Socket {
    /// Listening (TCP LISTEN) or bound (UDP UNCONN).
    #[must_use]
    pub fn is_listening(&self) -> bool {
        self.state == "LISTEN" || (self.netid == "udp" && self.state == "UNCONN")
    }
    /// Bound to a loopback address only.
    #[must_use]
    pub fn is_loopback(&self) -> bool {
        self.local.starts_with("127.") || self.local == "[::1]"
    }
    /// `ss`'s `netid state local:port peer:port` (without queues).
    #[must_use]
    pub fn ss_line(&self) -> String {
        let peer_port = self.peer_port.map_or_else(|| "*".to_owned(), |p| p.to_string());
        format!("{} {} {}:{} {}:{}", self.netid, self.state, self.local, self.local_port, self.peer, peer_port)
    }
}

fn tcp_state(st: u8) -> &'static str {
    match st {
        0x01 => "ESTAB",
        0x02 => "SYN-SENT",
        0x03 => "SYN-RECV",
        0x04 => "FIN-WAIT-1",
        0x05 => "FIN-WAIT-2",
        0x06 => "TIME-WAIT",
        0x07 => "UNCONN",
        0x08 => "CLOSE-WAIT",
        0x09 => "LAST-ACK",
        0x0A => "LISTEN",
        0x0B => "CLOSING",
        _ => "UNKNOWN",
    }
}

fn addr(hex: &str, v6: bool) -> Option<String> {
    if v6 {
        if hex.len() != 32 {
            return None;
        }
        let mut bytes = [0u8; 16];
        for w in 0..4 {
            let word = u32::from_str_radix(hex.get(w * 8..w * 8 + 8)?, 16).ok()?;
            let le = word.to_le_bytes();
            bytes.get_mut(w * 4..w * 4 + 4)?.copy_from_slice(&le);
        }
        Some(format!("[{}]", Ipv6Addr::from(bytes)))
    } else {
        let word = u32::from_str_radix(hex, 16).ok()?;
        Some(Ipv4Addr::from(word.to_le_bytes()).to_string())
    }
}

/// Parses one `/proc/net/{tcp,udp}[6]` table. Lines that do not parse are skipped (and counted).
#[must_use]
pub fn parse_table(text: &str, tcp: bool, v6: bool) -> (Vec<Socket>, usize) {
    let mut out = Vec::new();
    let mut bad = 0;
    for line in text.lines().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let parsed = (|| {
            let (la, lp) = f.get(1)?.split_once(':')?;
            let (ra, rp) = f.get(2)?.split_once(':')?;
            let st = u8::from_str_radix(f.get(3)?, 16).ok()?;
            let inode: u64 = f.get(9)?.parse().ok()?;
            let local_port = u16::from_str_radix(lp, 16).ok()?;
            let rport = u16::from_str_radix(rp, 16).ok()?;
            let mut state = tcp_state(st);
            if !tcp && st == 0x01 {
                state = "ESTAB";
            }
            let peer = addr(ra, v6)?;
            let peer_port = if rport == 0 { None } else { Some(rport) };
            Some(Socket {
                netid: if tcp { "tcp" } else { "udp" },
                v6,
                state,
                local: addr(la, v6)?,
                local_port,
                peer,
                peer_port,
                inode,
                processes: Vec::new(),
            })
        })();
        match parsed {
            Some(s) => out.push(s),
            None => bad += 1,
        }
    }
    (out, bad)
}

/// Every socket of the four tables under `src` (`/proc/net/...`), with owners from `/proc/*/fd`.
/// Returns the sockets and the problems (unreadable tables, unparsable lines).
#[must_use]
pub fn read_sockets(src: &dyn Source, with_processes: bool) -> (Vec<Socket>, Vec<String>) {
    let mut all = Vec::new();
    let mut problems = Vec::new();
    for (name, tcp, v6) in [("udp", false, false), ("udp6", false, true), ("tcp", true, false), ("tcp6", true, true)] {
        let path = format!("/proc/net/{name}");
        match src.read(&path) {
            Ok(text) => {
                let (s, bad) = parse_table(&text, tcp, v6);
                if bad > 0 {
                    problems.push(format!("{path}: {bad} lines not understood"));
                }
                all.extend(s);
            }
            Err(e) => problems.push(e),
        }
    }
    if with_processes {
        let mut owners: std::collections::HashMap<u64, Vec<(String, u32)>> = std::collections::HashMap::new();
        for pid in src.list_dir("/proc") {
            let Ok(p) = pid.parse::<u32>() else { continue };
            let comm = src.read(&format!("/proc/{p}/comm")).map(|c| c.trim_end().to_owned()).unwrap_or_default();
            for fd in src.list_dir(&format!("/proc/{p}/fd")) {
                if let Some(t) = src.read_link(&format!("/proc/{p}/fd/{fd}"))
                    && let Some(ino) =
                        t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')).and_then(|i| i.parse().ok())
                {
                    let e = owners.entry(ino).or_default();
                    if !e.iter().any(|(_, q)| *q == p) {
                        e.push((comm.clone(), p));
                    }
                }
            }
        }
        for s in &mut all {
            if let Some(o) = owners.get(&s.inode) {
                s.processes.clone_from(o);
            }
        }
    }
    (all, problems)
}

const PORTS_DOC: &str = "https://kubernetes.io/docs/reference/networking/ports-and-protocols/";

/// PORT001.
pub const KUBELET_READONLY: RuleMeta = RuleMeta {
    id: "PORT001",
    name: "kubelet-read-only-port-open",
    family: "node-ports",
    severity: Severity::High,
    title: "The kubelet's unauthenticated read-only port (10255) is listening",
    what: "A socket listens on TCP 10255, the kubelet's read-only port (--read-only-port, readOnlyPort).",
    why: "It serves pod specs, node and container metrics without authentication to anyone who reaches the node.",
    fix: "Set readOnlyPort: 0 in the KubeletConfiguration (or --read-only-port=0) and restart the kubelet.",
    references: &[PORTS_DOC],
    aliases: &["CIS-4.2.4"],
    opt_in: false,
};
/// PORT002.
pub const ETCD_EXPOSED: RuleMeta = RuleMeta {
    id: "PORT002",
    name: "etcd-client-port-exposed",
    family: "node-ports",
    severity: Severity::High,
    title: "etcd's client port listens on a non-loopback address",
    what: "TCP 2379 listens on an address other than loopback on a node whose role does not allow it.",
    why: "etcd holds every Secret of the cluster; its client port should only be reachable by kube-apiserver.",
    fix: "Bind --listen-client-urls to loopback and the control-plane address only, require client certificates, and firewall 2379 off worker networks.",
    references: &[PORTS_DOC],
    aliases: &[],
    opt_in: false,
};
/// PORT003.
pub const UNEXPECTED_PORT: RuleMeta = RuleMeta {
    id: "PORT003",
    name: "unexpected-listening-port",
    family: "node-ports",
    severity: Severity::Medium,
    title: "A port not expected on this node role is listening",
    what: "A TCP or UDP socket listens on a non-loopback address at a port not in the role's allow-list.",
    why: "Every listening service is attack surface; the seed's advice is to close what the node does not need.",
    fix: "Stop the service, bind it to loopback, or add the port to the allow-list (--allow-port) when it is needed.",
    references: &[PORTS_DOC],
    aliases: &[],
    opt_in: false,
};

/// Every port rule.
pub const RULES: &[RuleMeta] = &[KUBELET_READONLY, ETCD_EXPOSED, UNEXPECTED_PORT];

/// A node role's expected listening ports (`netid/port`).
#[must_use]
pub fn role_allow_list(role: &str) -> Vec<(&'static str, u16)> {
    let mut v =
        vec![("tcp", 22), ("tcp", 10250), ("tcp", 10256), ("udp", 8472), ("tcp", 9100), ("tcp", 4789), ("udp", 4789)];
    v.extend((30000..=32767).map(|p| ("tcp", p)));
    if role == "control-plane" || role == "master" {
        v.extend([("tcp", 6443), ("tcp", 2379), ("tcp", 2380), ("tcp", 10257), ("tcp", 10259)]);
    }
    v
}

/// Findings on the listening sockets for a role (`worker` or `control-plane`) plus extra allowed
/// ports.
#[must_use]
pub fn check(sockets: &[Socket], role: &str, extra_allowed: &[(String, u16)]) -> Vec<Finding> {
    let allowed = role_allow_list(role);
    let mut out = Vec::new();
    for s in sockets.iter().filter(|s| s.is_listening()) {
        let who = if s.processes.is_empty() {
            String::new()
        } else {
            format!(" by {}", s.processes.iter().map(|(c, p)| format!("{c} (pid {p})")).collect::<Vec<_>>().join(", "))
        };
        let what = format!("{} {}:{}{}", s.netid, s.local, s.local_port, who);
        let mk = |rule: &RuleMeta, msg: String| {
            let mut f = Finding::new(rule, msg, None, None, Some(Location::file(Arc::from("/proc/net"))));
            f.pointer = Some(Arc::from(format!("{}/{}", s.netid, s.local_port).as_str()));
            f
        };
        if s.netid == "tcp" && s.local_port == 10255 {
            out.push(mk(&KUBELET_READONLY, format!("{what} listens (the kubelet's read-only port)")));
            continue;
        }
        if s.is_loopback() {
            continue;
        }
        if s.netid == "tcp" && s.local_port == 2379 && role != "control-plane" && role != "master" {
            out.push(mk(&ETCD_EXPOSED, format!("{what} listens on a non-loopback address on a {role} node")));
            continue;
        }
        let ok = allowed.iter().any(|(n, p)| *n == s.netid && *p == s.local_port)
            || extra_allowed.iter().any(|(n, p)| n == s.netid && *p == s.local_port);
        if !ok {
            out.push(mk(&UNEXPECTED_PORT, format!("{what} is not expected on a {role} node")));
        }
    }
    out
}
