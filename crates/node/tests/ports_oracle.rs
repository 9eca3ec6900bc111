//! Open-ports oracle (`oracles/nodes/ports/`): the /proc/net tables captured in the same instant
//! as `ss -Hantu` / `ss -Hlntu` give the same (netid, state, local, peer) tuples.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_node::ports::read_sockets;
use kguard_node::source::MemSource;

fn ss_tuples(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{} {} {} {}", f[0], f[1], f[4], f[5])
        })
        .collect();
    v.sort();
    v
}

#[test]
fn proc_net_agrees_with_ss() {
    let Some(dir) = kguard_testkit::shared_path("oracles/nodes/ports") else { return };
    let mut src = MemSource::new();
    for t in ["tcp", "tcp6", "udp", "udp6"] {
        src.insert(format!("/proc/net/{t}"), std::fs::read_to_string(dir.join(format!("proc_net_{t}"))).unwrap());
    }
    let (sockets, problems) = read_sockets(&src, false);
    assert!(problems.is_empty(), "{problems:?}");
    // /proc/net cannot tell a dual-stack [::] socket (ss: `*`) from an IPv6-only one: the one
    // dual-stack socket of the capture is compared as `[::]`.
    let norm = |s: String| s.replace(" *:2379 *:*", " [::]:2379 [::]:*");
    let mut all: Vec<String> = sockets.iter().map(|s| s.ss_line()).collect();
    all.sort();
    let want_all: Vec<String> =
        ss_tuples(&std::fs::read_to_string(dir.join("ss_Hantu.txt")).unwrap()).into_iter().map(norm).collect();
    let mut want_all = want_all;
    want_all.sort();
    let mut listening: Vec<String> = sockets.iter().filter(|s| s.is_listening()).map(|s| s.ss_line()).collect();
    listening.sort();
    let mut want_l: Vec<String> =
        ss_tuples(&std::fs::read_to_string(dir.join("ss_Hlntu.txt")).unwrap()).into_iter().map(norm).collect();
    want_l.sort();
    let agree = all.iter().filter(|l| want_all.contains(l)).count();
    eprintln!("ports: {agree}/{} sockets agree with ss -Hantu (dual-stack *:2379 read as [::]:2379)", want_all.len());
    assert_eq!(all, want_all);
    assert_eq!(listening, want_l);
    assert_eq!(all.len(), 10);
}

#[test]
fn owners_and_role_findings() {
    let mut src = MemSource::new();
    src.insert(
        "/proc/net/tcp",
        "  sl  local_address rem_address   st\n   0: 00000000:280F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1\n   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1\n",
    );
    src.insert("/proc/net/tcp6", "header\n   0: 00000000000000000000000000000000:094B 00000000000000000000000000000000:0000 0A 0 0 0 0 0 333 1\n");
    src.insert("/proc/net/udp", "header\n");
    src.insert("/proc/net/udp6", "header\n");
    src.insert("/proc/42/comm", "kubelet\n");
    src.link("/proc/42/fd/7", "socket:[111]");
    src.link("/proc/42/fd/1", "/dev/null");
    src.insert("/proc/43/comm", "etcd\n");
    src.link("/proc/43/fd/3", "socket:[333]");
    let (sockets, problems) = read_sockets(&src, true);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(sockets[0].processes, [("kubelet".to_owned(), 42)]);
    let f = kguard_node::ports::check(&sockets, "worker", &[]);
    let ids: Vec<&str> = f.iter().map(|f| f.rule_id.as_str()).collect();
    assert_eq!(ids, ["PORT001", "PORT003", "PORT002"], "{f:#?}");
    assert!(f[2].message.contains("etcd (pid 43)"), "{}", f[2].message);
    assert!(kguard_node::ports::check(&sockets, "worker", &[("tcp".into(), 8080)]).len() == 2);
}
