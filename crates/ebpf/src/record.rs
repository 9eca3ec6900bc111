//! The probe's records, decoded, and turned into the PPME_* events of the libs@48dfd53 event
//! table (`kguard_runtime::event::EVENTS`): one enter event (its parameters, for the state) and
//! one exit event per system call, one `procexit` event per thread exit. Pure: bytes in, events
//! out (the cgroups of a new process are passed in by the caller).
//!
//! The record layout is `struct rec_hdr` and its blobs in `src/bpf/kguard.bpf.c`.

use kguard_runtime::event::{self, pt};
use kguard_runtime::scap::RawEvent;

/// Size of `struct rec_hdr`.
pub const HDR: usize = 96;
/// Blobs per record.
pub const NBLOB: usize = 8;
/// `nr` of a thread-exit record.
pub const NR_PROCEXIT: u32 = 10_000;

/// A decoded record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Boot-clock timestamp (ns).
    pub ts_boot: u64,
    /// Thread id.
    pub tid: u32,
    /// Process id (tgid).
    pub pid: u32,
    /// x86_64 system call number, or [`NR_PROCEXIT`].
    pub nr: u32,
    /// CPU.
    pub cpu: u16,
    /// Return value (exit code for procexit).
    pub ret: i64,
    /// The system call's arguments.
    pub args: [u64; 6],
    /// The blobs.
    pub blobs: Vec<&'a [u8]>,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    b.get(o..o + 2).and_then(|s| <[u8; 2]>::try_from(s).ok()).map_or(0, u16::from_le_bytes)
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    b.get(o..o + 4).and_then(|s| <[u8; 4]>::try_from(s).ok()).map_or(0, u32::from_le_bytes)
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    b.get(o..o + 8).and_then(|s| <[u8; 8]>::try_from(s).ok()).map_or(0, u64::from_le_bytes)
}
fn i64_of(v: u64) -> i64 {
    i64::from_le_bytes(v.to_le_bytes())
}

impl<'a> Record<'a> {
    /// Decodes a record; `None` when it is shorter than its header says.
    #[must_use]
    pub fn parse(b: &'a [u8]) -> Option<Self> {
        if b.len() < HDR {
            return None;
        }
        let nblobs = usize::from(u16_at(b, 22)).min(NBLOB);
        let mut blobs = Vec::with_capacity(nblobs);
        let mut off = HDR;
        for i in 0..nblobs {
            let len = usize::from(u16_at(b, 80 + 2 * i));
            blobs.push(b.get(off..off + len)?);
            off += len;
        }
        let mut args = [0u64; 6];
        for (i, a) in args.iter_mut().enumerate() {
            *a = u64_at(b, 32 + 8 * i);
        }
        Some(Record {
            ts_boot: u64_at(b, 0),
            tid: u32_at(b, 8),
            pid: u32_at(b, 12),
            nr: u32_at(b, 16),
            cpu: u16_at(b, 20),
            ret: i64_of(u64_at(b, 24)),
            args,
            blobs,
        })
    }

    fn blob(&self, i: usize) -> &'a [u8] {
        self.blobs.get(i).copied().unwrap_or(&[])
    }
    fn arg(&self, i: usize) -> u64 {
        self.args.get(i).copied().unwrap_or(0)
    }
}

/// The system calls the probe records: x86_64 number, name, exit event code (the enter event is
/// the code before it).
pub const SYSCALLS: &[(u32, &str, u16)] = &[
    (2, "open", 3),
    (3, "close", 5),
    (22, "pipe", 61),
    (32, "dup", 367),
    (33, "dup2", 363),
    (41, "socket", 19),
    (42, "connect", 23),
    (43, "accept", 247),
    (44, "sendto", 31),
    (46, "sendmsg", 49),
    (49, "bind", 21),
    (50, "listen", 25),
    (53, "socketpair", 43),
    (56, "clone", 223),
    (57, "fork", 225),
    (58, "vfork", 227),
    (59, "execve", 293),
    (72, "fcntl", 151),
    (80, "chdir", 95),
    (81, "fchdir", 97),
    (82, "rename", 175),
    (83, "mkdir", 277),
    (85, "creat", 59),
    (86, "link", 309),
    (87, "unlink", 301),
    (88, "symlink", 179),
    (101, "ptrace", 169),
    (105, "setuid", 199),
    (106, "setgid", 201),
    (113, "setreuid", 427),
    (114, "setregid", 429),
    (117, "setresuid", 193),
    (119, "setresgid", 195),
    (165, "mount", 257),
    (175, "init_module", 411),
    (257, "openat", 307),
    (258, "mkdirat", 305),
    (263, "unlinkat", 303),
    (264, "renameat", 177),
    (265, "linkat", 311),
    (266, "symlinkat", 181),
    (272, "unshare", 285),
    (288, "accept4", 389),
    (292, "dup3", 365),
    (293, "pipe2", 393),
    (308, "setns", 241),
    (313, "finit_module", 413),
    (316, "renameat2", 319),
    (319, "memfd_create", 405),
    (322, "execveat", 331),
    (435, "clone3", 335),
    (437, "openat2", 327),
];

/// `PPME_PROCEXIT_1_E`.
pub const PROCEXIT_E: u16 = 186;

/// The exit event code of a system call number.
#[must_use]
pub fn exit_code(nr: u32) -> Option<u16> {
    SYSCALLS.iter().find(|s| s.0 == nr).map(|s| s.2)
}

/// A parameter value before encoding (its width comes from the table's type).
#[derive(Clone, Debug)]
enum P {
    I(i64),
    /// A string; a NUL is appended.
    S(Vec<u8>),
    /// Raw bytes.
    B(Vec<u8>),
}

fn encode(ptype: u8, v: Option<P>) -> Vec<u8> {
    let Some(v) = v else { return Vec::new() };
    match v {
        P::S(mut s) => {
            if let Some(i) = s.iter().position(|&c| c == 0) {
                s.truncate(i);
            }
            s.push(0);
            s
        }
        P::B(b) => b,
        P::I(i) => {
            let b = i.to_le_bytes();
            let n = match ptype {
                pt::INT8 | pt::UINT8 | pt::FLAGS8 | pt::ENUMFLAGS8 | pt::SIGTYPE | pt::L4PROTO | pt::SOCKFAMILY => 1,
                pt::INT16 | pt::UINT16 | pt::FLAGS16 | pt::ENUMFLAGS16 | pt::PORT | pt::SYSCALLID => 2,
                pt::INT32
                | pt::UINT32
                | pt::FLAGS32
                | pt::ENUMFLAGS32
                | pt::UID
                | pt::GID
                | pt::MODE
                | pt::FD32
                | pt::PID32
                | pt::SIGSET
                | pt::BOOL
                | pt::IPV4ADDR => 4,
                _ => 8,
            };
            b.get(..n).map(<[u8]>::to_vec).unwrap_or_default()
        }
    }
}

/// Kernel `O_*` open flags as `PPM_O_*`.
#[must_use]
pub fn ppm_open_flags(f: u64) -> i64 {
    let mut r = match f & 3 {
        0 => 1,
        1 => 2,
        _ => 3,
    };
    for (k, p) in [
        (0o100, 1 << 2),       // O_CREAT
        (0o2000, 1 << 3),      // O_APPEND
        (0o10000, 1 << 4),     // O_DSYNC
        (0o200, 1 << 5),       // O_EXCL
        (0o4000, 1 << 6),      // O_NONBLOCK
        (0o4000000, 1 << 7),   // __O_SYNC
        (0o1000, 1 << 8),      // O_TRUNC
        (0o40000, 1 << 9),     // O_DIRECT
        (0o200000, 1 << 10),   // O_DIRECTORY
        (0o100000, 1 << 11),   // O_LARGEFILE
        (0o2000000, 1 << 12),  // O_CLOEXEC
        (0o20000000, 1 << 13), // __O_TMPFILE
    ] {
        if f & k != 0 {
            r |= p;
        }
    }
    r
}

/// Kernel `CLONE_*` flags as `PPM_CL_*`.
#[must_use]
pub fn ppm_clone_flags(f: u64) -> i64 {
    let mut r = 0;
    for (k, p) in [
        (0x400u64, 1i64 << 0),  // FILES
        (0x200, 1 << 1),        // FS
        (0x8000_0000, 1 << 2),  // IO
        (0x0800_0000, 1 << 3),  // NEWIPC
        (0x4000_0000, 1 << 4),  // NEWNET
        (0x20000, 1 << 5),      // NEWNS
        (0x2000_0000, 1 << 6),  // NEWPID
        (0x0400_0000, 1 << 7),  // NEWUTS
        (0x8000, 1 << 8),       // PARENT
        (0x10_0000, 1 << 9),    // PARENT_SETTID
        (0x2000, 1 << 10),      // PTRACE
        (0x800, 1 << 11),       // SIGHAND
        (0x40000, 1 << 12),     // SYSVSEM
        (0x10000, 1 << 13),     // THREAD
        (0x80_0000, 1 << 14),   // UNTRACED
        (0x100, 1 << 15),       // VM
        (0x1000_0000, 1 << 20), // NEWUSER
        (0x20_0000, 1 << 23),   // CHILD_CLEARTID
        (0x0100_0000, 1 << 24), // CHILD_SETTID
        (0x8_0000, 1 << 25),    // SETTLS
        (0x4000, 1 << 27),      // VFORK
        (0x0200_0000, 1 << 28), // NEWCGROUP
    ] {
        if f & k != 0 {
            r |= p;
        }
    }
    r
}

/// Kernel `PTRACE_*` requests as `PPM_PTRACE_*`.
#[must_use]
pub fn ppm_ptrace_request(r: u64) -> i64 {
    match r {
        0 => 1,
        1 => 2,
        2 => 3,
        3 => 4,
        4 => 5,
        5 => 6,
        6 => 7,
        7 => 8,
        8 => 9,
        9 => 10,
        16 => 11,
        17 => 12,
        24 => 13,
        0x4200 => 14,
        0x4201 => 15,
        0x4202 => 16,
        0x4203 => 17,
        0x4204 => 18,
        0x4205 => 19,
        0x4206 => 20,
        0x4207 => 21,
        0x4208 => 22,
        0x4209 => 23,
        12 => 26,
        13 => 27,
        14 => 28,
        15 => 29,
        18 => 30,
        19 => 31,
        _ => 0,
    }
}

/// A kernel `dev_t` (major << 20 | minor) in the user-space encoding Falco writes.
#[must_use]
pub fn encode_dev(kdev: u32) -> i64 {
    let (major, minor) = (kdev >> 20, kdev & 0xfffff);
    i64::from((minor & 0xff) | (major << 8) | ((minor & !0xff) << 12))
}

/// A kernel socket address as read from user memory, in the scap `PT_SOCKADDR` layout.
fn sockaddr(raw: &[u8]) -> Option<Vec<u8>> {
    let fam = u16_at(raw, 0);
    match fam {
        2 if raw.len() >= 8 => {
            let mut v = vec![2u8];
            v.extend_from_slice(raw.get(4..8)?);
            v.extend_from_slice(&u16::from_be_bytes([*raw.get(2)?, *raw.get(3)?]).to_le_bytes());
            Some(v)
        }
        10 if raw.len() >= 24 => {
            let mut v = vec![10u8];
            v.extend_from_slice(raw.get(8..24)?);
            v.extend_from_slice(&u16::from_be_bytes([*raw.get(2)?, *raw.get(3)?]).to_le_bytes());
            Some(v)
        }
        1 => {
            let mut v = vec![1u8];
            let p = raw.get(2..).unwrap_or(&[]);
            // an abstract address starts with NUL: Falco prints it with '@'
            if p.first() == Some(&0) && p.len() > 1 {
                v.push(b'@');
                v.extend_from_slice(event::cstr(p.get(1..).unwrap_or(&[])));
            } else {
                v.extend_from_slice(event::cstr(p));
            }
            v.push(0);
            Some(v)
        }
        0 => None,
        f => Some(vec![u8::try_from(f).unwrap_or(0)]),
    }
}

/// The probe's `struct sockinfo`.
#[derive(Clone, Copy, Debug, Default)]
struct SockInfo {
    family: u16,
    sport: u16,
    dport: u16,
    saddr: [u8; 16],
    daddr: [u8; 16],
    sk: u64,
    peer: u64,
}

fn sockinfo(b: &[u8]) -> Option<SockInfo> {
    if b.len() < 64 {
        return None;
    }
    let a16 = |o: usize| b.get(o..o + 16).and_then(|s| <[u8; 16]>::try_from(s).ok()).unwrap_or([0; 16]);
    Some(SockInfo {
        family: u16_at(b, 0),
        sport: u16_at(b, 6),
        dport: u16_at(b, 8),
        saddr: a16(16),
        daddr: a16(32),
        sk: u64_at(b, 48),
        peer: u64_at(b, 56),
    })
}

/// A socket tuple (`PT_SOCKTUPLE`): `local → remote` (`swap`: `remote → local`, as for accept).
fn tuple(si: &SockInfo, swap: bool, unix_path: &[u8]) -> Option<Vec<u8>> {
    let (mut a, mut ap, mut b, mut bp) = (si.saddr, si.sport, si.daddr, si.dport);
    if swap {
        std::mem::swap(&mut a, &mut b);
        std::mem::swap(&mut ap, &mut bp);
    }
    match si.family {
        2 => {
            let mut v = vec![2u8];
            v.extend_from_slice(a.get(..4)?);
            v.extend_from_slice(&ap.to_le_bytes());
            v.extend_from_slice(b.get(..4)?);
            v.extend_from_slice(&bp.to_le_bytes());
            Some(v)
        }
        10 => {
            let mut v = vec![10u8];
            v.extend_from_slice(&a);
            v.extend_from_slice(&ap.to_le_bytes());
            v.extend_from_slice(&b);
            v.extend_from_slice(&bp.to_le_bytes());
            Some(v)
        }
        1 => {
            let mut v = vec![1u8];
            v.extend_from_slice(&si.sk.to_le_bytes());
            v.extend_from_slice(&si.peer.to_le_bytes());
            v.extend_from_slice(unix_path);
            v.push(0);
            Some(v)
        }
        _ => None,
    }
}

/// The probe's `struct pinfo`.
#[derive(Clone, Debug, Default)]
struct PInfo {
    ptid: u32,
    loginuid: u32,
    uid: u32,
    gid: u32,
    tty: u32,
    pgid: u32,
    exe_nlink: u32,
    cap_inheritable: u64,
    cap_permitted: u64,
    cap_effective: u64,
    fdlimit: u64,
    exe_ino: u64,
    comm: Vec<u8>,
}

fn pinfo(b: &[u8]) -> PInfo {
    let (major, minor_start, index) = (u32_at(b, 16), u32_at(b, 20), u32_at(b, 24));
    let tty = if major == 0 && minor_start == 0 && index == 0 {
        0
    } else {
        let minor = minor_start + index;
        (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
    };
    PInfo {
        ptid: u32_at(b, 0),
        loginuid: u32_at(b, 4),
        uid: u32_at(b, 8),
        gid: u32_at(b, 12),
        tty,
        pgid: u32_at(b, 28),
        exe_nlink: u32_at(b, 44),
        cap_inheritable: u64_at(b, 48),
        cap_permitted: u64_at(b, 56),
        cap_effective: u64_at(b, 64),
        fdlimit: u64_at(b, 72),
        exe_ino: u64_at(b, 80),
        comm: event::cstr(b.get(112..128).unwrap_or(&[])).to_vec(),
    }
}

/// Turns records into events: numbering, clock conversion.
#[derive(Debug)]
pub struct Converter {
    /// The next `evt.num`.
    pub next_num: u64,
    /// Realtime minus boot time, ns.
    pub boot_to_epoch: i128,
}

impl Converter {
    /// A converter with the given clock offset (realtime − boottime, ns).
    #[must_use]
    pub fn new(boot_to_epoch: i128) -> Self {
        Converter { next_num: 1, boot_to_epoch }
    }

    fn raw(&mut self, r: &Record<'_>, etype: u16, params: Vec<Vec<u8>>) -> RawEvent {
        let num = self.next_num;
        self.next_num += 1;
        let ts = u64::try_from((i128::from(r.ts_boot) + self.boot_to_epoch).max(0)).unwrap_or(0);
        RawEvent { num, offset: 0, cpu: r.cpu, flags: 0, ts, tid: u64::from(r.tid), etype, params }
    }

    /// The events of one record: `[enter, exit]` for a system call, `[procexit]` for a thread
    /// exit; empty for a system call this table does not know. `cgroups` gives the
    /// `subsys=path` list of a thread (read from /proc by the caller) for exec and clone events.
    pub fn convert(&mut self, r: &Record<'_>, cgroups: &mut dyn FnMut(u32) -> Vec<u8>) -> Vec<RawEvent> {
        if r.nr == NR_PROCEXIT {
            let status = r.ret;
            let params = [
                P::I(status),
                P::I((status >> 8) & 0xff),
                P::I(status & 0x7f),
                P::I(i64::from(status & 0x80 != 0)),
                P::I(0),
            ];
            let info = event::info(PROCEXIT_E);
            let ps = info.map_or(&[][..], |i| i.params);
            let params = ps.iter().zip(params).map(|(p, v)| encode(p.ptype, Some(v))).collect();
            return vec![self.raw(r, PROCEXIT_E, params)];
        }
        let Some(exit) = exit_code(r.nr) else { return Vec::new() };
        let name = event::info(exit).map_or("", |i| i.name);
        let needs_cg = matches!(name, "execve" | "execveat" | "clone" | "fork" | "vfork" | "clone3");
        let cg = if needs_cg && !(name.starts_with("exec") && r.ret != 0) {
            // /proc has every hierarchy; a process already gone has only what the probe read
            let from_proc = cgroups(r.tid);
            if from_proc.is_empty() { probe_cgroups(r) } else { from_proc }
        } else {
            Vec::new()
        };
        let mut out = Vec::with_capacity(2);
        for (code, is_exit) in [(exit - 1, false), (exit, true)] {
            let Some(info) = event::info(code) else { continue };
            let params = info.params.iter().map(|p| encode(p.ptype, value(r, name, p.name, is_exit, &cg))).collect();
            out.push(self.raw(r, code, params));
        }
        out
    }
}

/// The cgroups the probe read for an exec or clone record (blobs 5 and 6), as `/proc`'s list
/// gives them: the default hierarchy as `unified`, the cpu controller's hierarchy as `cpu`.
fn probe_cgroups(r: &Record<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    for (subsys, i) in [("unified", 5), ("cpu", 6)] {
        let path = event::cstr(r.blob(i));
        if !path.is_empty() {
            out.extend_from_slice(subsys.as_bytes());
            out.push(b'=');
            out.extend_from_slice(path);
            out.push(0);
        }
    }
    out
}

/// The value of one parameter of a system call's enter (`exit` false) or exit event.
#[allow(clippy::too_many_lines)]
fn value(r: &Record<'_>, sc: &str, pname: &str, exit: bool, cgroups: &[u8]) -> Option<P> {
    let a = |i: usize| r.arg(i);
    let ai = |i: usize| P::I(i64_of(r.arg(i)));
    let ai32 = |i: usize| {
        P::I(i64::from(i32::from_le_bytes(u32::try_from(r.arg(i) & 0xffff_ffff).unwrap_or(0).to_le_bytes())))
    };
    let s = |i: usize| P::S(r.blob(i).to_vec());
    let ret = P::I(r.ret);
    let how = r.blob(2);
    let fileinfo = |i: usize| {
        let b = r.blob(i);
        (b.len() >= 16).then(|| (u64_at(b, 0), u32_at(b, 8)))
    };
    let is_exec = matches!(sc, "execve" | "execveat");
    let is_clone = matches!(sc, "clone" | "fork" | "vfork" | "clone3");
    if is_exec || is_clone {
        // blobs: 0 file name (exec) / empty (clone), 1 pinfo, 2 args, 3 exe path, 4 cwd,
        // 5 default-hierarchy cgroup, 6 cpu cgroup, 7 clone3 flags
        let pi = pinfo(r.blob(1));
        let argv = r.blob(2);
        let mut parts = argv.splitn(2, |&c| c == 0);
        let argv0 = parts.next().unwrap_or(&[]).to_vec();
        let mut rest = parts.next().unwrap_or(&[]).to_vec();
        if rest.last() == Some(&0) {
            rest.pop();
        }
        let exe_path = event::cstr(r.blob(3)).to_vec();
        let clone_flags = match sc {
            "clone" => ppm_clone_flags(a(0)),
            "clone3" => ppm_clone_flags(u64_at(r.blob(7), 0)),
            "vfork" => ppm_clone_flags(0x4000 | 0x100),
            _ => 0,
        };
        let exe_flags = {
            let mut f = 0;
            if pi.exe_nlink == 0 && exe_path.starts_with(b"/memfd:") {
                f |= 4; // PPM_EXE_FROM_MEMFD
            }
            f
        };
        return match pname {
            "res" if exit => Some(ret),
            "exe" => Some(P::S(argv0)),
            "args" => Some(P::B(if rest.is_empty() { Vec::new() } else { [rest, vec![0]].concat() })),
            "tid" => Some(P::I(i64::from(r.tid))),
            "pid" => Some(P::I(i64::from(r.pid))),
            "ptid" => Some(P::I(i64::from(pi.ptid))),
            "cwd" => Some(P::S(event::cstr(r.blob(4)).to_vec())),
            "fdlimit" => Some(P::I(i64_of(pi.fdlimit))),
            "pgft_maj" | "pgft_min" | "vm_size" | "vm_rss" | "vm_swap" => Some(P::I(0)),
            "comm" => Some(P::S(pi.comm)),
            "cgroups" => Some(P::B(cgroups.to_vec())),
            "env" => Some(P::B(Vec::new())),
            "tty" => Some(P::I(i64::from(pi.tty))),
            "vpgid" | "pgid" => Some(P::I(i64::from(pi.pgid))),
            "loginuid" => Some(P::I(i64::from(pi.loginuid))),
            "flags" if is_clone => Some(P::I(clone_flags)),
            "flags" if sc == "execveat" && !exit => Some(P::I(i64_of(a(4)))),
            "flags" => Some(P::I(exe_flags)),
            "cap_inheritable" => Some(P::I(i64_of(pi.cap_inheritable))),
            "cap_permitted" => Some(P::I(i64_of(pi.cap_permitted))),
            "cap_effective" => Some(P::I(i64_of(pi.cap_effective))),
            "exe_ino" => Some(P::I(i64_of(pi.exe_ino))),
            "exe_ino_ctime" | "exe_ino_mtime" => Some(P::I(0)),
            "uid" => Some(P::I(i64::from(pi.uid))),
            "gid" => Some(P::I(i64::from(pi.gid))),
            "trusted_exepath" => (!exe_path.is_empty()).then_some(P::S(exe_path)),
            "filename" | "pathname" => Some(s(0)),
            "dirfd" => Some(ai32(0)),
            "vtid" | "vpid" => None,
            "pidns_init_start_ts" => Some(P::I(0)),
            _ => None,
        };
    }
    let fd_result = exit && matches!(sc, "open" | "openat" | "openat2" | "creat" | "socket" | "memfd_create");
    Some(match (sc, pname) {
        (_, "res") => ret,
        ("accept" | "accept4", "fd") => ret,
        (_, "fd") if fd_result => ret,
        (_, "fd") => ai32(0),
        ("open" | "creat", "name") | ("openat" | "openat2", "name") | ("memfd_create", "name") => s(0),
        ("open", "flags") => P::I(ppm_open_flags(a(1))),
        ("openat", "flags") => P::I(ppm_open_flags(a(2))),
        ("openat2", "flags") => P::I(ppm_open_flags(u64_at(how, 0))),
        ("openat2", "mode") => P::I(i64_of(u64_at(how, 8))),
        ("openat2", "resolve") => P::I(i64_of(u64_at(how, 16))),
        ("open", "mode") => ai(2),
        ("openat", "mode") => ai(3),
        ("creat", "mode") => ai(1),
        ("open" | "openat" | "openat2" | "creat", "dev") => P::I(fileinfo(1).map_or(0, |f| encode_dev(f.1))),
        ("open" | "openat" | "openat2" | "creat", "ino") => P::I(fileinfo(1).map_or(0, |f| i64_of(f.0))),
        ("creat", "creat_flags") => P::I(0),
        ("openat" | "openat2" | "unlinkat" | "mkdirat", "dirfd") => ai32(0),
        ("socket" | "socketpair", "domain") => ai(0),
        ("socket" | "socketpair", "type") => ai(1),
        ("socket" | "socketpair", "proto") => ai(2),
        ("socket", "flags") => P::I(0),
        ("connect" | "bind", "addr") => P::B(sockaddr(r.blob(0))?),
        ("connect", "tuple") => {
            let si = sockinfo(r.blob(1))?;
            let path = match sockaddr(r.blob(0)) {
                Some(v) if v.first() == Some(&1) => event::cstr(v.get(1..).unwrap_or(&[])).to_vec(),
                _ => Vec::new(),
            };
            P::B(tuple(&si, false, &path)?)
        }
        ("accept" | "accept4", "tuple") => P::B(tuple(&sockinfo(r.blob(1))?, true, &[])?),
        ("accept" | "accept4", "queuepct" | "queuelen" | "queuemax") => P::I(0),
        ("accept4", "flags") => ai(3),
        ("sendto" | "sendmsg", "tuple") => {
            let si = sockinfo(r.blob(1))?;
            let mut si2 = si;
            if let Some(sa) = sockaddr(r.blob(0))
                && si.dport == 0
            {
                // an unconnected datagram socket: the destination is the call's address
                match (si.family, sa.first()) {
                    (2, Some(2)) => {
                        si2.daddr[..4].copy_from_slice(sa.get(1..5)?);
                        si2.dport = u16_at(&sa, 5);
                    }
                    (10, Some(10)) => {
                        si2.daddr.copy_from_slice(sa.get(1..17)?);
                        si2.dport = u16_at(&sa, 17);
                    }
                    _ => {}
                }
            }
            P::B(tuple(&si2, false, &[])?)
        }
        ("sendto", "size") => ai(2),
        ("sendto" | "sendmsg", "data") => P::B(Vec::new()),
        ("sendmsg", "size") => P::I(0),
        ("dup" | "dup2" | "dup3", "oldfd") => ai32(0),
        ("dup2" | "dup3", "newfd") => ai32(1),
        ("dup3", "flags") => P::I(if a(2) & 0o2000000 != 0 { 1 << 12 } else { 0 }),
        ("pipe" | "pipe2", _) => return None,
        ("listen", "backlog") => ai32(1),
        ("fcntl", "cmd") => P::I(fcntl_cmd(a(1))),
        ("fcntl", "arg") => ai(2),
        ("chdir" | "unlink" | "mkdir", "path") | ("unlinkat", "name") | ("mkdirat", "path") => s(0),
        ("mkdir", "mode") => ai(1),
        ("mkdirat", "mode") => ai(2),
        ("unlinkat", "flags") => P::I(if a(2) & 0x200 != 0 { 1 } else { 0 }),
        ("link" | "rename" | "linkat" | "renameat" | "renameat2", "oldpath") => s(0),
        ("link" | "rename" | "linkat" | "renameat" | "renameat2", "newpath") => s(1),
        ("linkat", "olddir") | ("renameat" | "renameat2", "olddirfd") => ai32(0),
        ("linkat", "newdir") | ("renameat" | "renameat2", "newdirfd") => ai32(2),
        ("linkat", "flags") => {
            let f = a(4);
            P::I(i64::from(f & 0x400 != 0) | (i64::from(f & 0x1000 != 0) << 1))
        }
        ("renameat2", "flags") => ai(4),
        ("symlink" | "symlinkat", "target") => s(0),
        ("symlink" | "symlinkat", "linkpath") => s(1),
        ("symlinkat", "linkdirfd") => ai32(1),
        ("ptrace", "request") => P::I(ppm_ptrace_request(a(0))),
        ("ptrace", "pid") => ai32(1),
        ("ptrace", "addr" | "data") => return None,
        ("setuid", "uid") | ("setgid", "gid") => ai32(0),
        ("setresuid", "ruid") | ("setresgid", "rgid") | ("setreuid", "ruid") | ("setregid", "rgid") => ai32(0),
        ("setresuid", "euid") | ("setresgid", "egid") | ("setreuid", "euid") | ("setregid", "egid") => ai32(1),
        ("setresuid", "suid") | ("setresgid", "sgid") => ai32(2),
        ("setns", "nstype") => P::I(ppm_clone_flags(a(1))),
        ("unshare", "flags") => P::I(ppm_clone_flags(a(0))),
        ("mount", "dev") => s(0),
        ("mount", "dir") => s(1),
        ("mount", "type") => s(2),
        ("mount", "flags") => ai32(3),
        ("init_module", "img") => P::B(Vec::new()),
        ("init_module", "length") => ai(1),
        ("init_module" | "finit_module", "uargs") => s(0),
        ("finit_module", "flags") => ai32(2),
        ("memfd_create", "flags") => ai32(1),
        _ => return None,
    })
}

fn fcntl_cmd(c: u64) -> i64 {
    // kernel F_* → PPM_FCNTL_F_*
    match c {
        0 => 1,     // F_DUPFD
        1 => 2,     // F_GETFD
        2 => 3,     // F_SETFD
        3 => 4,     // F_GETFL
        4 => 5,     // F_SETFL
        1030 => 26, // F_DUPFD_CLOEXEC (the table's PPM value; state.rs reads 23)
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(nr: u32, ret: i64, args: [u64; 6], blobs: &[&[u8]]) -> Vec<u8> {
        let mut b = vec![0u8; HDR];
        b[0..8].copy_from_slice(&1_000u64.to_le_bytes());
        b[8..12].copy_from_slice(&42u32.to_le_bytes());
        b[12..16].copy_from_slice(&42u32.to_le_bytes());
        b[16..20].copy_from_slice(&nr.to_le_bytes());
        b[22..24].copy_from_slice(&u16::try_from(blobs.len()).unwrap().to_le_bytes());
        b[24..32].copy_from_slice(&ret.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            b[32 + 8 * i..40 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        for (i, bl) in blobs.iter().enumerate() {
            b[80 + 2 * i..82 + 2 * i].copy_from_slice(&u16::try_from(bl.len()).unwrap().to_le_bytes());
        }
        for bl in blobs {
            b.extend_from_slice(bl);
        }
        b
    }

    #[test]
    fn openat_becomes_the_table_layout() {
        let mut fi = vec![0u8; 16];
        fi[0..8].copy_from_slice(&77u64.to_le_bytes());
        let bytes = rec(257, 3, [u64::MAX - 99, 0, 0, 0, 0, 0], &[b"/etc/shadow\0", &fi]);
        let r = Record::parse(&bytes).unwrap();
        let evs = Converter::new(5).convert(&r, &mut |_| Vec::new());
        assert_eq!(evs.len(), 2);
        assert_eq!((evs[0].etype, evs[1].etype), (306, 307));
        assert_eq!(evs[1].ts, 1_005);
        let info = event::info(307).unwrap();
        let v: Vec<_> = info.params.iter().zip(&evs[1].params).map(|(p, b)| event::decode(p, b)).collect();
        assert_eq!(v[0].as_i64(), Some(3));
        assert_eq!(v[1].as_i64(), Some(-100));
        assert_eq!(v[2].as_bytes(), Some(&b"/etc/shadow"[..]));
        assert_eq!(v[3].as_i64(), Some(1)); // O_RDONLY
        assert_eq!(v[6].as_i64(), Some(77));
    }

    #[test]
    fn flags_map_to_ppm() {
        assert_eq!(ppm_open_flags(0o101), 2 | 4);
        assert_eq!(ppm_clone_flags(0x10000 | 0x100), (1 << 13) | (1 << 15));
        assert_eq!(ppm_ptrace_request(16), 11);
        assert_eq!(encode_dev((8 << 20) | 1), 0x801);
    }
}
