//! The initial state, as Falco's initial process scan reads it: every thread of `/proc` (comm,
//! exe, exepath, args, cwd, pids, uids, tty, loginuid, capabilities, cgroups), each process's
//! open fds (files, directories, pipes, IPv4/IPv6/unix sockets with their addresses), and the
//! users and groups of `/etc/passwd` and `/etc/group`. Entries that cannot be read (a process that
//! exits during the scan, a permission) are skipped.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use kguard_runtime::scap::{Block, FdDetail, FdEntry, Group, ThreadInfo, User, fdt};

/// Where `/proc` is (a DaemonSet mounts the host's elsewhere).
#[derive(Clone, Debug)]
pub struct ProcRoot(pub std::path::PathBuf);

impl Default for ProcRoot {
    fn default() -> Self {
        ProcRoot("/proc".into())
    }
}

fn read(p: &Path) -> Option<Vec<u8>> {
    fs::read(p).ok()
}

fn status_fields(s: &str) -> HashMap<&str, &str> {
    s.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k, v.trim())).collect()
}

fn first_num<T: std::str::FromStr>(v: Option<&&str>, i: usize) -> Option<T> {
    v.and_then(|s| s.split_whitespace().nth(i)).and_then(|s| s.parse().ok())
}

fn hex64(v: Option<&&str>) -> u64 {
    v.and_then(|s| u64::from_str_radix(s, 16).ok()).unwrap_or(0)
}

/// The `subsys=path` list of `/proc/<tid>/cgroup`, NUL-separated, as the events carry it.
#[must_use]
pub fn cgroups(proc_root: &Path, tid: u32) -> Vec<u8> {
    let Ok(s) = fs::read_to_string(proc_root.join(tid.to_string()).join("cgroup")) else { return Vec::new() };
    let mut out = Vec::new();
    for l in s.lines() {
        let mut it = l.splitn(3, ':');
        let (_, subsys, path) = (it.next(), it.next().unwrap_or(""), it.next().unwrap_or(""));
        let subsys = if subsys.is_empty() { "unified" } else { subsys.strip_prefix("name=").unwrap_or(subsys) };
        for sub in subsys.split(',') {
            out.extend_from_slice(sub.as_bytes());
            out.push(b'=');
            out.extend_from_slice(path.as_bytes());
            out.push(0);
        }
    }
    out
}

/// One thread's information from `/proc/<pid>/task/<tid>`.
fn thread(proc_root: &Path, pid: u32, tid: u32) -> Option<ThreadInfo> {
    let pdir = proc_root.join(pid.to_string());
    let tdir = pdir.join("task").join(tid.to_string());
    let status = fs::read_to_string(tdir.join("status")).ok()?;
    let st = status_fields(&status);
    let stat = fs::read_to_string(tdir.join("stat")).unwrap_or_default();
    // fields after the command (which may hold spaces and parentheses)
    let after: Vec<&str> = stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
    let field = |i: usize| after.get(i).and_then(|s| s.parse::<i64>().ok());
    let cmdline = read(&pdir.join("cmdline")).unwrap_or_default();
    let mut parts = cmdline.splitn(2, |&c| c == 0);
    let exe = parts.next().unwrap_or(&[]).to_vec();
    let args = parts.next().unwrap_or(&[]).to_vec();
    let comm = read(&tdir.join("comm")).map(|mut c| {
        if c.last() == Some(&b'\n') {
            c.pop();
        }
        c
    });
    let link = |n: &str| fs::read_link(pdir.join(n)).ok().map(|p| p.into_os_string().into_encoded_bytes());
    let exepath = link("exe").unwrap_or_default();
    let exe = if exe.is_empty() { comm.clone().unwrap_or_default() } else { exe };
    let loginuid =
        fs::read_to_string(pdir.join("loginuid")).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(u32::MAX);
    let fdlimit = fs::read_to_string(pdir.join("limits"))
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0);
    let exe_deleted = exepath.ends_with(b" (deleted)");
    Some(ThreadInfo {
        tid: u64::from(tid),
        pid: u64::from(pid),
        ptid: first_num(st.get("PPid"), 0).unwrap_or(0),
        sid: field(3).unwrap_or(-1),
        vpgid: field(2).unwrap_or(-1),
        pgid: field(2).unwrap_or(-1),
        comm: comm.unwrap_or_default(),
        exe,
        exepath,
        args,
        cwd: link("cwd").unwrap_or_default(),
        fdlimit,
        flags: 0,
        uid: first_num(st.get("Uid"), 1).unwrap_or(u32::MAX),
        gid: first_num(st.get("Gid"), 1).unwrap_or(u32::MAX),
        vtid: first_num(st.get("NSpid"), 0).unwrap_or(-1),
        vpid: first_num(st.get("NSpid"), 0).unwrap_or(-1),
        cgroups: cgroups(proc_root, tid),
        root: link("root").unwrap_or_default(),
        tty: field(4).and_then(|t| u32::try_from(t).ok()).unwrap_or(0),
        loginuid,
        cap_inheritable: hex64(st.get("CapInh")),
        cap_permitted: hex64(st.get("CapPrm")),
        cap_effective: hex64(st.get("CapEff")),
        exe_from_memfd: exe_deleted && cmdline_is_memfd(&pdir),
        vmsize_kb: first_num(st.get("VmSize"), 0).unwrap_or(0),
        vmrss_kb: first_num(st.get("VmRSS"), 0).unwrap_or(0),
        vmswap_kb: first_num(st.get("VmSwap"), 0).unwrap_or(0),
        ..ThreadInfo::default()
    })
}

fn cmdline_is_memfd(pdir: &Path) -> bool {
    fs::read_link(pdir.join("exe")).is_ok_and(|p| p.to_string_lossy().starts_with("/memfd:"))
}

/// The sockets of the machine's network namespace (of `pid`), by inode.
fn sockets(proc_root: &Path, pid: u32) -> HashMap<u64, (u8, FdDetail)> {
    let mut m = HashMap::new();
    let net = proc_root.join(pid.to_string()).join("net");
    for (file, v6, l4) in
        [("tcp", false, 2u8), ("udp", false, 3), ("raw", false, 5), ("tcp6", true, 2), ("udp6", true, 3)]
    {
        let Ok(s) = fs::read_to_string(net.join(file)) else { continue };
        for l in s.lines().skip(1) {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (Some(local), Some(remote), Some(state), Some(ino)) = (f.get(1), f.get(2), f.get(3), f.get(9)) else {
                continue;
            };
            let Ok(ino) = ino.parse::<u64>() else { continue };
            let (Some((la, lp)), Some((ra, rp))) = (addr(local, v6), addr(remote, v6)) else { continue };
            let listening = l4 == 2 && *state == "0A";
            let d = match (v6, listening) {
                (false, true) => (fdt::IPV4_SERVSOCK, FdDetail::Ipv4Server { ip: v4(&la), port: lp, l4proto: l4 }),
                (false, false) => {
                    (fdt::IPV4_SOCK, FdDetail::Ipv4 { sip: v4(&la), dip: v4(&ra), sport: lp, dport: rp, l4proto: l4 })
                }
                (true, true) => (fdt::IPV6_SERVSOCK, FdDetail::Ipv6Server { ip: la, port: lp, l4proto: l4 }),
                (true, false) => {
                    (fdt::IPV6_SOCK, FdDetail::Ipv6 { sip: la, dip: ra, sport: lp, dport: rp, l4proto: l4 })
                }
            };
            m.insert(ino, d);
        }
    }
    if let Ok(s) = fs::read_to_string(net.join("unix")) {
        for l in s.lines().skip(1) {
            let f: Vec<&str> = l.split_whitespace().collect();
            let Some(ino) = f.get(6).and_then(|i| i.parse::<u64>().ok()) else { continue };
            let source = f.first().and_then(|a| u64::from_str_radix(a.trim_end_matches(':'), 16).ok()).unwrap_or(0);
            let name = f.get(7).map(|n| n.as_bytes().to_vec()).unwrap_or_default();
            m.insert(ino, (fdt::UNIX_SOCK, FdDetail::Unix { source, dest: 0, name }));
        }
    }
    m
}

fn v4(a: &[u8; 16]) -> [u8; 4] {
    [a[0], a[1], a[2], a[3]]
}

/// `0100007F:0035` (host-order words) → network-order bytes and port.
fn addr(s: &str, v6: bool) -> Option<([u8; 16], u16)> {
    let (a, p) = s.split_once(':')?;
    let port = u16::from_str_radix(p, 16).ok()?;
    let mut out = [0u8; 16];
    let words = if v6 { 4 } else { 1 };
    for w in 0..words {
        let chunk = a.get(w * 8..w * 8 + 8)?;
        let v = u32::from_str_radix(chunk, 16).ok()?;
        out.get_mut(w * 4..w * 4 + 4)?.copy_from_slice(&v.to_le_bytes());
    }
    Some((out, port))
}

/// The fds of one process.
fn fds(proc_root: &Path, pid: u32, socks: &HashMap<u64, (u8, FdDetail)>) -> Vec<FdEntry> {
    let dir = proc_root.join(pid.to_string()).join("fd");
    let Ok(rd) = fs::read_dir(&dir) else { return Vec::new() };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let Some(fd) = e.file_name().to_str().and_then(|s| s.parse::<i64>().ok()) else { continue };
        let Ok(target) = fs::read_link(e.path()) else { continue };
        let t = target.to_string_lossy().into_owned();
        let flags = fs::read_to_string(proc_root.join(pid.to_string()).join("fdinfo").join(fd.to_string()))
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| l.strip_prefix("flags:")).and_then(|v| u64::from_str_radix(v.trim(), 8).ok())
            })
            .unwrap_or(0);
        let ino_of = |prefix: &str| t.strip_prefix(prefix).and_then(|r| r.trim_end_matches(']').parse::<u64>().ok());
        let entry = if let Some(ino) = ino_of("socket:[") {
            match socks.get(&ino) {
                Some((ty, d)) => FdEntry { fd, ino, fd_type: *ty, detail: d.clone() },
                None => FdEntry { fd, ino, fd_type: fdt::UNKNOWN, detail: FdDetail::Unsupported },
            }
        } else if let Some(ino) = ino_of("pipe:[") {
            FdEntry { fd, ino, fd_type: fdt::FIFO, detail: FdDetail::Named(Vec::new()) }
        } else if t.starts_with("anon_inode:") {
            let ty = match t.as_str() {
                "anon_inode:[eventfd]" => fdt::EVENT,
                "anon_inode:[eventpoll]" => fdt::EVENTPOLL,
                "anon_inode:inotify" => fdt::INOTIFY,
                "anon_inode:[signalfd]" => fdt::SIGNALFD,
                "anon_inode:[timerfd]" => fdt::TIMERFD,
                "anon_inode:bpf-map" | "anon_inode:bpf-prog" => fdt::BPF,
                "anon_inode:[pidfd]" => fdt::PIDFD,
                _ => fdt::UNSUPPORTED,
            };
            FdEntry { fd, ino: 0, fd_type: ty, detail: FdDetail::Named(Vec::new()) }
        } else if t.starts_with('/') {
            let is_dir = fs::metadata(&target).is_ok_and(|m| m.is_dir());
            if is_dir {
                FdEntry { fd, ino: 0, fd_type: fdt::DIRECTORY, detail: FdDetail::Named(t.into_bytes()) }
            } else {
                let open_flags = u32::try_from(crate::record::ppm_open_flags(flags)).unwrap_or(0);
                FdEntry {
                    fd,
                    ino: 0,
                    fd_type: fdt::FILE_V2,
                    detail: FdDetail::File { open_flags, name: t.into_bytes(), dev: 0 },
                }
            }
        } else {
            FdEntry { fd, ino: 0, fd_type: fdt::UNKNOWN, detail: FdDetail::Unsupported }
        };
        out.push(entry);
    }
    out.sort_by_key(|e| e.fd);
    out
}

fn users(etc: &Path) -> (Vec<User>, Vec<Group>) {
    let mut us = Vec::new();
    for l in fs::read_to_string(etc.join("passwd")).unwrap_or_default().lines() {
        let f: Vec<&str> = l.split(':').collect();
        if let (Some(n), Some(uid), Some(gid)) = (f.first(), f.get(2), f.get(3))
            && let (Ok(uid), Ok(gid)) = (uid.parse(), gid.parse())
        {
            us.push(User {
                uid,
                gid,
                name: n.as_bytes().to_vec(),
                homedir: f.get(5).map(|s| s.as_bytes().to_vec()).unwrap_or_default(),
                shell: f.get(6).map(|s| s.as_bytes().to_vec()).unwrap_or_default(),
            });
        }
    }
    let mut gs = Vec::new();
    for l in fs::read_to_string(etc.join("group")).unwrap_or_default().lines() {
        let f: Vec<&str> = l.split(':').collect();
        if let (Some(n), Some(gid)) = (f.first(), f.get(2))
            && let Ok(gid) = gid.parse()
        {
            gs.push(Group { gid, name: n.as_bytes().to_vec() });
        }
    }
    (us, gs)
}

/// The blocks to feed an inspector before the first live event: users and groups, the thread
/// list, then each process's fds.
#[must_use]
pub fn scan(proc_root: &Path, etc: &Path) -> Vec<Block> {
    let (us, gs) = users(etc);
    let mut blocks = vec![Block::Users(us, gs)];
    let mut threads = Vec::new();
    let mut pids = Vec::new();
    if let Ok(rd) = fs::read_dir(proc_root) {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
            pids.push(pid);
            let Ok(tasks) = fs::read_dir(e.path().join("task")) else { continue };
            for t in tasks.flatten() {
                if let Some(tid) = t.file_name().to_str().and_then(|s| s.parse::<u32>().ok())
                    && let Some(ti) = thread(proc_root, pid, tid)
                {
                    threads.push(ti);
                }
            }
        }
    }
    pids.sort_unstable();
    blocks.push(Block::Threads(threads));
    let mut socks_by_ns: HashMap<std::path::PathBuf, HashMap<u64, (u8, FdDetail)>> = HashMap::new();
    for pid in pids {
        let ns = fs::read_link(proc_root.join(pid.to_string()).join("ns/net")).unwrap_or_default();
        let socks = socks_by_ns.entry(ns).or_insert_with(|| sockets(proc_root, pid));
        let fds = fds(proc_root, pid, socks);
        if !fds.is_empty() {
            blocks.push(Block::Fds { tid: u64::from(pid), fds });
        }
    }
    blocks
}

/// kguard's own CPU and memory, for the metrics snapshots: CPU time since the process started
/// as a percentage of one CPU (Falco's `cpu_usage_perc`), RSS and VSZ from `/proc/self/status`,
/// PSS from `/proc/self/smaps_rollup` (0 where it cannot be read).
#[must_use]
pub fn self_usage() -> kguard_runtime::metrics::Usage {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let st = status_fields(&status);
    let kb = |k: &str| first_num::<u64>(st.get(k), 0).unwrap_or(0);
    let rollup = fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    let pss = rollup
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    kguard_runtime::metrics::Usage {
        cpu_usage_perc: cpu_usage_perc().unwrap_or(0.0),
        memory_rss_kb: kb("VmRSS"),
        memory_vsz_kb: kb("VmSize"),
        memory_pss_kb: pss,
    }
}

fn cpu_usage_perc() -> Option<f64> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    // the fields after the command name, which may hold spaces and parentheses
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime, stime and starttime are fields 14, 15 and 22: 11, 12 and 19 after the name
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    let (utime, stime, start) = (num(11)?, num(12)?, num(19)?);
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().filter(|h| *h > 0)?;
    #[allow(clippy::cast_precision_loss)]
    let hz = hz as f64;
    let uptime: f64 = fs::read_to_string("/proc/uptime").ok()?.split_whitespace().next()?.parse().ok()?;
    let wall = uptime - start / hz;
    (wall > 0.0).then(|| (utime + stime) / hz / wall * 100.0)
}

/// The machine, for the metrics snapshots.
#[must_use]
pub fn host() -> kguard_runtime::metrics::Host {
    let text = |p: &str| fs::read_to_string(p).map(|s| s.trim().to_owned()).unwrap_or_default();
    let btime: u64 = fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0);
    kguard_runtime::metrics::Host {
        hostname: text("/proc/sys/kernel/hostname"),
        kernel_release: text("/proc/sys/kernel/osrelease"),
        num_cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
        boot_ts: btime.saturating_mul(1_000_000_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_this_process() {
        let blocks = scan(Path::new("/proc"), Path::new("/etc"));
        let me = std::process::id();
        let Some(Block::Threads(ts)) = blocks.get(1) else { panic!("no thread list") };
        let t = ts.iter().find(|t| t.tid == u64::from(me)).unwrap();
        assert_eq!(t.pid, u64::from(me));
        assert!(!t.comm.is_empty());
        assert!(t.exepath.starts_with(b"/"));
        assert!(blocks.iter().any(|b| matches!(b, Block::Fds { tid, .. } if *tid == u64::from(me))));
    }

    #[test]
    fn parses_proc_net_addresses() {
        let (a, p) = addr("0100007F:0035", false).unwrap();
        assert_eq!((&a[..4], p), (&[127, 0, 0, 1][..], 53));
    }
}
