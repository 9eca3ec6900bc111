//! The inspector: a thread table and an fd table, seeded from the capture's process and fd
//! lists and updated by each event, as libsinsp's parsers do for the fields rules read.
//!
//! Semantics follow libsinsp as Falco 0.35 / sysdig 0.29 used it (the 2023 regression suite):
//! enter and exit events are both delivered and read as they are; an exit event finds the fd of
//! its enter event; removals (a closed fd, an exited thread) take effect at the next event, so
//! the closing event still shows what it closed.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::event::{self, EventInfo, SockAddr, SockTuple, Value, ef};
use crate::scap::{self, Block, FdDetail, FdEntry, RawEvent, ThreadInfo, fdt};

/// `SCAP_L4_*` protocols.
#[allow(missing_docs)]
pub mod l4 {
    pub const UNKNOWN: u8 = 0;
    pub const NA: u8 = 1;
    pub const TCP: u8 = 2;
    pub const UDP: u8 = 3;
    pub const ICMP: u8 = 4;
    pub const RAW: u8 = 5;
}

/// An IP endpoint pair of a socket (addresses as `std::net` values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SockInfo {
    /// Not an IP socket, or nothing known yet.
    None,
    /// An IPv4 connection (source = client side as libsinsp stores it).
    V4 { sip: Ipv4Addr, sport: u16, dip: Ipv4Addr, dport: u16 },
    /// An IPv6 connection.
    V6 { sip: Ipv6Addr, sport: u16, dip: Ipv6Addr, dport: u16 },
    /// An IPv4 listening socket.
    V4Server { ip: Ipv4Addr, port: u16 },
    /// An IPv6 listening socket.
    V6Server { ip: Ipv6Addr, port: u16 },
    /// A unix socket.
    Unix { source: u64, dest: u64 },
}

/// What libsinsp knows about one fd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdInfo {
    /// `SCAP_FD_*` type.
    pub fd_type: u8,
    /// Name (path, tuple text, …).
    pub name: String,
    /// The name as the syscall gave it (before resolution).
    pub nameraw: String,
    /// Open flags (`PPM_O_*`).
    pub open_flags: u32,
    /// `SCAP_L4_*`.
    pub l4proto: u8,
    /// Endpoints.
    pub sock: SockInfo,
    /// Role: server side of the connection.
    pub role_server: bool,
    /// Role: client side.
    pub role_client: bool,
    /// A connect() completed.
    pub connected: bool,
    /// The name changed with this event.
    pub name_changed: bool,
    /// The name when the current event looked the fd up (libsinsp's `m_oldname`; empty for an
    /// fd the event created).
    pub(crate) oldname: String,
    /// Device and inode.
    pub dev: u32,
    /// See `dev`.
    pub ino: u64,
}

impl FdInfo {
    fn new(fd_type: u8, name: String) -> Self {
        FdInfo {
            fd_type,
            nameraw: name.clone(),
            name,
            open_flags: 0,
            l4proto: l4::NA,
            sock: SockInfo::None,
            role_server: false,
            role_client: false,
            connected: false,
            name_changed: false,
            oldname: String::new(),
            dev: 0,
            ino: 0,
        }
    }

    /// libsinsp's type character (`f`, `d`, `4`, `6`, `u`, `p`, …).
    #[must_use]
    pub fn typechar(&self) -> char {
        match self.fd_type {
            fdt::FILE | fdt::FILE_V2 => 'f',
            fdt::IPV4_SOCK | fdt::IPV4_SERVSOCK => '4',
            fdt::IPV6_SOCK | fdt::IPV6_SERVSOCK => '6',
            fdt::DIRECTORY => 'd',
            fdt::FIFO => 'p',
            fdt::UNIX_SOCK => 'u',
            fdt::EVENT => 'e',
            fdt::UNKNOWN => 'o',
            fdt::UNSUPPORTED => 'X',
            fdt::SIGNALFD => 's',
            fdt::EVENTPOLL => 'l',
            fdt::INOTIFY => 'i',
            fdt::TIMERFD => 't',
            fdt::NETLINK => 'n',
            _ => '?',
        }
    }

    /// libsinsp's type string (`file`, `ipv4`, …), `None` for `<NA>`.
    #[must_use]
    pub fn typestring(&self) -> Option<&'static str> {
        Some(match self.fd_type {
            fdt::FILE | fdt::FILE_V2 => "file",
            fdt::DIRECTORY => "directory",
            fdt::IPV4_SOCK | fdt::IPV4_SERVSOCK => "ipv4",
            fdt::IPV6_SOCK | fdt::IPV6_SERVSOCK => "ipv6",
            fdt::UNIX_SOCK => "unix",
            fdt::FIFO => "pipe",
            fdt::EVENT => "event",
            fdt::SIGNALFD => "signalfd",
            fdt::EVENTPOLL => "eventpoll",
            fdt::INOTIFY => "inotify",
            fdt::TIMERFD => "timerfd",
            fdt::NETLINK => "netlink",
            _ => return None,
        })
    }

    /// Whether this is a regular file.
    #[must_use]
    pub fn is_file(&self) -> bool {
        matches!(self.fd_type, fdt::FILE | fdt::FILE_V2)
    }

    /// libsinsp's `get_l4proto`: a connection socket with no role yet has none (`<NA>`) unless
    /// it is raw; a listening socket has its own; other fds have none.
    #[must_use]
    pub fn l4proto_eff(&self) -> u8 {
        match self.fd_type {
            fdt::IPV4_SOCK | fdt::IPV6_SOCK => {
                if self.l4proto == l4::RAW {
                    l4::RAW
                } else if !self.role_client && !self.role_server {
                    l4::NA
                } else {
                    self.l4proto
                }
            }
            fdt::IPV4_SERVSOCK | fdt::IPV6_SERVSOCK => self.l4proto,
            _ => l4::NA,
        }
    }

    /// Whether this is an IP socket.
    #[must_use]
    pub fn is_ip(&self) -> bool {
        matches!(self.fd_type, fdt::IPV4_SOCK | fdt::IPV6_SOCK | fdt::IPV4_SERVSOCK | fdt::IPV6_SERVSOCK)
    }

    fn from_entry(e: &FdEntry) -> Self {
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let mut f = FdInfo::new(e.fd_type, String::new());
        f.ino = e.ino;
        match &e.detail {
            FdDetail::Ipv4 { sip, dip, sport, dport, l4proto } => {
                f.sock =
                    SockInfo::V4 { sip: Ipv4Addr::from(*sip), sport: *sport, dip: Ipv4Addr::from(*dip), dport: *dport };
                f.l4proto = *l4proto;
                f.name = render::tuple_v4(Ipv4Addr::from(*sip), *sport, Ipv4Addr::from(*dip), *dport);
            }
            FdDetail::Ipv6 { sip, dip, sport, dport, l4proto } => {
                f.sock =
                    SockInfo::V6 { sip: Ipv6Addr::from(*sip), sport: *sport, dip: Ipv6Addr::from(*dip), dport: *dport };
                f.l4proto = *l4proto;
                f.name = render::tuple_v6(Ipv6Addr::from(*sip), *sport, Ipv6Addr::from(*dip), *dport);
            }
            FdDetail::Ipv4Server { ip, port, l4proto } => {
                f.sock = SockInfo::V4Server { ip: Ipv4Addr::from(*ip), port: *port };
                f.l4proto = *l4proto;
                f.name = format!("{}:{}", Ipv4Addr::from(*ip), port);
                f.role_server = true;
            }
            FdDetail::Ipv6Server { ip, port, l4proto } => {
                f.sock = SockInfo::V6Server { ip: Ipv6Addr::from(*ip), port: *port };
                f.l4proto = *l4proto;
                f.name = format!("{}:{}", Ipv6Addr::from(*ip), port);
                f.role_server = true;
            }
            FdDetail::Unix { source, dest, name } => {
                f.sock = SockInfo::Unix { source: *source, dest: *dest };
                f.name = s(name);
            }
            FdDetail::File { open_flags, name, dev } => {
                f.open_flags = *open_flags;
                f.dev = *dev;
                f.name = s(name);
            }
            FdDetail::Named(n) => f.name = s(n),
            FdDetail::Unsupported => {}
        }
        f.nameraw = f.name.clone();
        f
    }
}

use crate::render;

/// A thread as libsinsp keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Thread {
    /// Thread id.
    pub tid: i64,
    /// Process id.
    pub pid: i64,
    /// Parent thread id.
    pub ptid: i64,
    /// Session id.
    pub sid: i64,
    /// Process group id in its namespace.
    pub vpgid: i64,
    /// Thread id in its pid namespace (-1 = unknown).
    pub vtid: i64,
    /// Process id in its pid namespace.
    pub vpid: i64,
    /// `comm`.
    pub comm: String,
    /// `argv[0]`.
    pub exe: String,
    /// The executable's path.
    pub exepath: String,
    /// Arguments after `argv[0]`.
    pub args: Vec<String>,
    /// Environment.
    pub env: Vec<String>,
    /// Working directory, with a trailing `/` (empty when unknown).
    pub cwd: String,
    /// uid.
    pub uid: u32,
    /// gid.
    pub gid: u32,
    /// Login uid (`u32::MAX` = none).
    pub loginuid: u32,
    /// Controlling terminal.
    pub tty: u32,
    /// Capabilities.
    pub cap_permitted: u64,
    /// See `cap_permitted`.
    pub cap_effective: u64,
    /// See `cap_permitted`.
    pub cap_inheritable: u64,
    /// `PPM_CL_*` flags.
    pub flags: u32,
    /// Fd limit.
    pub fdlimit: i64,
    /// cgroups (`subsys`, `path`).
    pub cgroups: Vec<(String, String)>,
    /// Root directory.
    pub root: String,
    /// Executable flags.
    pub exe_writable: bool,
    /// See `exe_writable`.
    pub exe_upper_layer: bool,
    /// See `exe_writable`.
    pub exe_from_memfd: bool,
    /// Creation time (0 = before the capture).
    pub clone_ts: u64,
    /// Open fds (only the main thread's table is used for threads that share it).
    pub fds: BTreeMap<i64, FdInfo>,
    /// The fd of the last enter event (-1 = none).
    pub lastevent_fd: i64,
    /// The type of the last event.
    pub lastevent_type: Option<u16>,
    /// The parameters of the last enter event.
    pub enter_params: Vec<Vec<u8>>,
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn split_nul(b: &[u8]) -> Vec<String> {
    if b.is_empty() {
        return Vec::new();
    }
    let b = b.strip_suffix(&[0]).unwrap_or(b);
    b.split(|&c| c == 0).map(lossy).collect()
}

fn cgroups_of(b: &[u8]) -> Vec<(String, String)> {
    split_nul(b).into_iter().filter_map(|s| s.split_once('=').map(|(a, b)| (a.to_owned(), b.to_owned()))).collect()
}

fn with_slash(mut s: String) -> String {
    if !s.is_empty() && !s.ends_with('/') {
        s.push('/');
    }
    s
}

impl Thread {
    fn from_info(t: &ThreadInfo) -> Self {
        let i = |v: u64| i64::from_le_bytes(v.to_le_bytes());
        Thread {
            tid: i(t.tid),
            pid: i(t.pid),
            ptid: i(t.ptid),
            sid: t.sid,
            vpgid: t.vpgid,
            vtid: t.vtid,
            vpid: t.vpid,
            comm: lossy(&t.comm),
            exe: lossy(&t.exe),
            exepath: lossy(&t.exepath),
            args: split_nul(&t.args),
            env: split_nul(&t.env),
            cwd: with_slash(lossy(&t.cwd)),
            uid: t.uid,
            gid: t.gid,
            loginuid: t.loginuid,
            tty: t.tty,
            cap_permitted: t.cap_permitted,
            cap_effective: t.cap_effective,
            cap_inheritable: t.cap_inheritable,
            flags: t.flags,
            fdlimit: i(t.fdlimit),
            cgroups: cgroups_of(&t.cgroups),
            root: lossy(&t.root),
            exe_writable: t.exe_writable,
            exe_upper_layer: t.exe_upper_layer,
            exe_from_memfd: t.exe_from_memfd,
            clone_ts: 0,
            fds: BTreeMap::new(),
            lastevent_fd: -1,
            lastevent_type: None,
            enter_params: Vec::new(),
        }
    }

    /// A thread first seen in an event, not in the process list (libsinsp fills `<NA>`).
    fn unknown(tid: i64) -> Self {
        Thread {
            tid,
            pid: tid,
            ptid: -1,
            sid: -1,
            vpgid: -1,
            vtid: -1,
            vpid: -1,
            comm: "<NA>".into(),
            exe: "<NA>".into(),
            uid: u32::MAX,
            gid: u32::MAX,
            loginuid: u32::MAX,
            lastevent_fd: -1,
            ..Thread::default()
        }
    }

    /// Whether this is its process's main thread.
    #[must_use]
    pub fn is_main(&self) -> bool {
        self.tid == self.pid
    }
}

/// The event being looked at, after the inspector applied it.
#[derive(Clone, Debug)]
pub struct Current {
    /// The event as read.
    pub raw: RawEvent,
    /// Its table entry.
    pub info: &'static EventInfo,
    /// The fd the event refers to (libsinsp's `evt->m_fdinfo`), as it was after the event.
    pub fd: Option<FdInfo>,
    /// The thread's last-event fd (`fd.num`).
    pub lastevent_fd: i64,
    /// The enter event's parameters, for an exit event that matched its enter event.
    pub enter_params: Option<Vec<Vec<u8>>>,
}

/// The most threads the table holds (libsinsp's default thread table size); a capture or a live
/// source creating more has the extra threads left out (counted in [`Inspector::dropped`]).
pub const MAX_THREADS: usize = 262_144;
/// The most fds one table holds, and the most users and groups; beyond, left out and counted.
pub const MAX_FDS: usize = 65_536;
/// Containers kept.
pub const MAX_CONTAINERS: usize = 16_384;

/// The inspector: state and the current event.
#[derive(Debug, Default)]
pub struct Inspector {
    /// Threads, fds, users or groups left out because a table was full.
    pub dropped: u64,
    threads: HashMap<i64, Thread>,
    users: HashMap<u32, scap::User>,
    groups: HashMap<u32, String>,
    current: Option<Current>,
    pending_fd: Option<(i64, i64)>,
    pending_thread: Option<i64>,
    ifaces: scap::IfList,
    /// Containers by short id (from capture `container` events, or set by the live source).
    containers: HashMap<String, crate::container::ContainerInfo>,
    /// The longest rendering of a byte buffer in `evt.args`/`evt.arg` (0 = unlimited, as Falco;
    /// sysdig prints 80).
    pub max_buf_len: usize,
}

/// Hands a capture's events out one at a time: a [`scap::Reader`] feeding an [`Inspector`].
#[derive(Debug)]
pub struct Capture<R: Read> {
    /// The reader.
    pub reader: scap::Reader<R>,
    /// The state.
    pub inspector: Inspector,
}

impl<R: Read> Capture<R> {
    /// Opens a capture.
    ///
    /// # Errors
    /// As [`scap::Reader::new`].
    pub fn new(r: R) -> scap::Result<Self> {
        Ok(Capture { reader: scap::Reader::new(r)?, inspector: Inspector::new() })
    }

    /// The next event, applied to the state.
    ///
    /// # Errors
    /// As [`scap::Reader::next_block`].
    pub fn next_event(&mut self) -> scap::Result<Option<EventView<'_>>> {
        loop {
            let Some(b) = self.reader.next_block()? else { return Ok(None) };
            if self.inspector.feed(b) {
                return Ok(self.inspector.view());
            }
        }
    }
}

/// The current event of an inspector, as the engine sees it.
#[derive(Clone, Copy, Debug)]
pub struct EventView<'a> {
    /// The state after the event.
    pub inspector: &'a Inspector,
    /// The event.
    pub current: &'a Current,
}

impl EventView<'_> {
    /// The event's thread.
    #[must_use]
    pub fn thread(&self) -> Option<&Thread> {
        self.inspector.thread(i64::from_le_bytes(self.current.raw.tid.to_le_bytes()))
    }
}

fn ival(v: &Value) -> Option<i64> {
    v.as_i64()
}

impl Inspector {
    /// An empty inspector.
    #[must_use]
    pub fn new() -> Self {
        Inspector::default()
    }

    /// A thread by id.
    #[must_use]
    pub fn thread(&self, tid: i64) -> Option<&Thread> {
        self.threads.get(&tid)
    }

    /// The thread whose fd table `tid` uses (its main thread when that is known).
    fn fd_owner(&self, tid: i64) -> i64 {
        match self.threads.get(&tid) {
            Some(t) if t.pid != t.tid && self.threads.contains_key(&t.pid) => t.pid,
            _ => tid,
        }
    }

    /// Every thread of the table.
    pub fn threads(&self) -> impl Iterator<Item = &Thread> {
        self.threads.values()
    }

    /// What is known of a container (by the id `container.id` shows).
    #[must_use]
    pub fn container(&self, id: &str) -> Option<&crate::container::ContainerInfo> {
        self.containers.get(id)
    }

    /// Records a container's metadata (the live source, from the runtime's state); at most
    /// [`MAX_CONTAINERS`] are kept.
    pub fn set_container(&mut self, info: crate::container::ContainerInfo) {
        if self.containers.len() < MAX_CONTAINERS || self.containers.contains_key(&info.id) {
            self.containers.insert(info.id.clone(), info);
        } else {
            self.dropped += 1;
        }
    }

    /// The sizes of the state tables: threads, and fds summed over the threads that own fd
    /// tables (Falco's `falco.n_threads` and `falco.n_fds`).
    #[must_use]
    pub fn table_sizes(&self) -> (u64, u64) {
        let fds: usize = self.threads.values().map(|t| t.fds.len()).sum();
        (self.threads.len() as u64, fds as u64)
    }

    /// The fds `tid` sees.
    #[must_use]
    pub fn fds(&self, tid: i64) -> Option<&BTreeMap<i64, FdInfo>> {
        self.threads.get(&self.fd_owner(tid)).map(|t| &t.fds)
    }

    /// An fd of a thread.
    #[must_use]
    pub fn fd(&self, tid: i64, fd: i64) -> Option<&FdInfo> {
        self.fds(tid).and_then(|m| m.get(&fd))
    }

    fn fds_mut(&mut self, tid: i64) -> Option<&mut BTreeMap<i64, FdInfo>> {
        let o = self.fd_owner(tid);
        self.threads.get_mut(&o).map(|t| &mut t.fds)
    }

    /// The working directory `tid` sees (its main thread's).
    #[must_use]
    pub fn cwd(&self, tid: i64) -> Option<&str> {
        let t = self.threads.get(&tid)?;
        if t.pid != t.tid
            && let Some(m) = self.threads.get(&t.pid)
        {
            return Some(&m.cwd);
        }
        Some(&t.cwd)
    }

    /// A user's name by uid.
    #[must_use]
    pub fn user(&self, uid: u32) -> Option<&scap::User> {
        self.users.get(&uid)
    }

    /// A group's name by gid.
    #[must_use]
    pub fn group(&self, gid: u32) -> Option<&str> {
        self.groups.get(&gid).map(String::as_str)
    }

    /// The parent of a thread (by its `ptid`).
    #[must_use]
    pub fn parent(&self, t: &Thread) -> Option<&Thread> {
        self.threads.get(&t.ptid)
    }

    /// libsinsp's `is_ipv4addr_in_local_machine` (no container addresses): an interface has it.
    #[must_use]
    pub fn is_local_v4(&self, a: Ipv4Addr) -> bool {
        self.ifaces.v4.iter().any(|(i, _)| Ipv4Addr::from(*i) == a)
    }

    /// libsinsp's `is_ipv6addr_in_local_machine`: an interface address shares its first 64 bits.
    #[must_use]
    pub fn is_local_v6(&self, a: Ipv6Addr) -> bool {
        self.ifaces.v6.iter().any(|i| i.get(..8) == a.octets().get(..8))
    }

    /// libsinsp's `infer_ipv4_address`: the interface with that address, else one on its subnet,
    /// else the first that is not loopback (0.0.0.0 when none).
    fn infer_v4(&self, d: Ipv4Addr) -> Ipv4Addr {
        let l = &self.ifaces.v4;
        let d32 = u32::from(d);
        l.iter()
            .find(|(a, _)| Ipv4Addr::from(*a) == d)
            .or_else(|| {
                l.iter().find(|(a, m)| u32::from_be_bytes(*a) & u32::from_be_bytes(*m) == d32 & u32::from_be_bytes(*m))
            })
            .or_else(|| l.iter().find(|(a, _)| Ipv4Addr::from(*a) != Ipv4Addr::LOCALHOST))
            .map_or(Ipv4Addr::UNSPECIFIED, |(a, _)| Ipv4Addr::from(*a))
    }

    /// libsinsp's `infer_ipv6_address`, as [`Inspector::infer_v4`] with 64-bit subnets.
    fn infer_v6(&self, d: Ipv6Addr) -> Ipv6Addr {
        let l = &self.ifaces.v6;
        l.iter()
            .find(|a| Ipv6Addr::from(**a) == d)
            .or_else(|| l.iter().find(|a| a.get(..8) == d.octets().get(..8)))
            .or_else(|| l.iter().find(|a| Ipv6Addr::from(**a) != Ipv6Addr::LOCALHOST))
            .map_or(Ipv6Addr::UNSPECIFIED, |a| Ipv6Addr::from(*a))
    }

    /// libsinsp's `sinsp_network_interfaces::update_fd`: a tuple with an unspecified side gets
    /// the local interface address that would serve it.
    fn patch_tuple(&self, f: &mut FdInfo) {
        match (f.fd_type, &mut f.sock) {
            (fdt::IPV4_SOCK, SockInfo::V4 { sip, sport, dip, dport }) => {
                if !sip.is_unspecified() && !dip.is_unspecified() {
                    return;
                }
                if sip.is_unspecified() {
                    let n = self.infer_v4(*dip);
                    if !(n == *dip && sport == dport) {
                        *sip = n;
                    }
                } else {
                    let n = self.infer_v4(*sip);
                    if !(n == *sip && sport == dport) {
                        *dip = n;
                    }
                }
            }
            (fdt::IPV6_SOCK, SockInfo::V6 { sip, sport, dip, dport }) => {
                if !sip.is_unspecified() && !dip.is_unspecified() {
                    return;
                }
                if sip.is_unspecified() {
                    let n = self.infer_v6(*dip);
                    if !(n == *dip && sport == dport) {
                        *sip = n;
                    }
                } else {
                    let n = self.infer_v6(*sip);
                    if !(n == *sip && sport == dport) {
                        *dip = n;
                    }
                }
            }
            _ => {}
        }
    }

    /// libsinsp's `set_net_role_by_guessing`: a socket whose destination port this process holds
    /// and whose source port it does not use is a server's; else a client's, or for an unclear
    /// case the reader of the first data is the server. As libsinsp, the ports are read through
    /// the IPv4 view of the tuple (for an IPv6 socket, bytes 8-11 of its source address) and only
    /// IPv4 fds of the table are looked at.
    fn guess_role(&self, tid: i64, f: &mut FdInfo, incoming: bool) {
        let (sport, dport) = match &f.sock {
            SockInfo::V4 { sport, dport, .. } => (*sport, *dport),
            SockInfo::V6 { sip, .. } => {
                let o = sip.octets();
                (u16::from_le_bytes([o[8], o[9]]), u16::from_le_bytes([o[10], o[11]]))
            }
            _ => (0, 0),
        };
        let fds = self.fds(tid);
        let bound = fds.is_some_and(|m| {
            m.values().any(|x| match (x.fd_type, &x.sock) {
                (fdt::IPV4_SOCK, SockInfo::V4 { dport: p, .. }) => *p == dport,
                (fdt::IPV4_SOCK, _) => dport == 0,
                (fdt::IPV4_SERVSOCK, SockInfo::V4Server { port, .. }) => *port == dport,
                _ => false,
            })
        });
        if !bound {
            f.role_client = true;
            return;
        }
        let client_port = fds.is_some_and(|m| {
            m.values().any(|x| match (x.fd_type, &x.sock) {
                (fdt::IPV4_SOCK, SockInfo::V4 { sport: p, .. }) => *p == sport,
                (fdt::IPV4_SOCK, _) => sport == 0,
                _ => false,
            })
        });
        if !client_port {
            f.role_server = true;
            return;
        }
        if !f.role_client && !f.role_server {
            if incoming {
                f.role_server = true;
            } else {
                f.role_client = true;
            }
        }
    }

    /// The main thread of a thread's process (itself when it is one or the main is unknown).
    #[must_use]
    pub fn main_thread<'a>(&'a self, t: &'a Thread) -> &'a Thread {
        if t.is_main() { t } else { self.threads.get(&t.pid).unwrap_or(t) }
    }

    /// The current event, if the last block fed was an event.
    #[must_use]
    pub fn view(&self) -> Option<EventView<'_>> {
        self.current.as_ref().map(|current| EventView { inspector: self, current })
    }

    /// Applies one block. Returns whether it was an event (then [`Inspector::view`] shows it).
    pub fn feed(&mut self, block: Block) -> bool {
        match block {
            Block::Threads(ts) => {
                for t in &ts {
                    let th = Thread::from_info(t);
                    if self.room_for_thread(th.tid) {
                        self.threads.insert(th.tid, th);
                    }
                }
                false
            }
            Block::Fds { tid, fds } => {
                let tid = i64::from_le_bytes(tid.to_le_bytes());
                if !self.room_for_thread(tid) {
                    return false;
                }
                let t = self.threads.entry(tid).or_insert_with(|| Thread::unknown(tid));
                for e in &fds {
                    if t.fds.len() < MAX_FDS || t.fds.contains_key(&e.fd) {
                        t.fds.insert(e.fd, FdInfo::from_entry(e));
                    } else {
                        self.dropped += 1;
                    }
                }
                false
            }
            Block::Users(us, gs) => {
                for u in us {
                    if self.users.len() < MAX_FDS || self.users.contains_key(&u.uid) {
                        self.users.insert(u.uid, u);
                    } else {
                        self.dropped += 1;
                    }
                }
                for g in gs {
                    if self.groups.len() < MAX_FDS || self.groups.contains_key(&g.gid) {
                        self.groups.insert(g.gid, lossy(&g.name));
                    } else {
                        self.dropped += 1;
                    }
                }
                false
            }
            Block::Interfaces { list: l, .. } => {
                self.ifaces = l;
                false
            }
            Block::Event(ev) => {
                self.process(ev);
                true
            }
            _ => false,
        }
    }

    fn flush(&mut self) {
        if let Some((tid, fd)) = self.pending_fd.take()
            && let Some(m) = self.fds_mut(tid)
        {
            m.remove(&fd);
        }
        if let Some(tid) = self.pending_thread.take() {
            self.threads.remove(&tid);
        }
    }

    fn process(&mut self, raw: RawEvent) {
        self.flush();
        let Some(info) = event::info(raw.etype) else { return };
        let tid = i64::from_le_bytes(raw.tid.to_le_bytes());
        let is_internal = info.category & event::ec::INTERNAL != 0 || info.flags & ef::SKIPPARSERESET != 0;
        if !is_internal && self.room_for_thread(tid) {
            self.threads.entry(tid).or_insert_with(|| Thread::unknown(tid));
        }
        let enter = event::is_enter(raw.etype);
        let uses_fd = info.flags & (ef::USES_FD | ef::CREATES_FD | ef::DESTROYS_FD) != 0;
        let mut cur = Current { raw, info, fd: None, lastevent_fd: -1, enter_params: None };
        // libsinsp's reset() leaves the thread's last event alone on a scheduler switch, which
        // comes between the enter and exit events of a system call
        let sched_switch = enter && info.name == "switch";
        if !is_internal
            && !sched_switch
            && let Some(t) = self.threads.get_mut(&tid)
        {
            if enter {
                t.lastevent_fd = -1;
                if info.flags & ef::USES_FD != 0 {
                    let loc = if info.name == "mmap" || info.name == "mmap2" { 4 } else { 0 };
                    if let Some(v) = param(&cur, loc).and_then(|v| ival(&v)) {
                        t.lastevent_fd = v;
                    }
                }
                t.enter_params.clone_from(&cur.raw.params);
            } else if t.lastevent_type == Some(cur.raw.etype.wrapping_sub(1))
                // a successful execveat returns as an execve exit event
                || (info.name == "execve"
                    && t.lastevent_type.and_then(event::info).is_some_and(|i| i.name == "execveat"))
            {
                cur.enter_params = Some(std::mem::take(&mut t.enter_params));
            } else {
                t.lastevent_fd = -1;
            }
            // an exit event with no fd from its enter takes the one it carries (libscap's
            // get_exit_event_fd_location; old layouts without it keep -1)
            if !enter
                && t.lastevent_fd == -1
                && info.flags & ef::USES_FD != 0
                && let Some(v) = exit_fd_location(cur.raw.etype)
                    .filter(|l| cur.raw.params.get(*l).is_some_and(|p| !p.is_empty()))
                    .and_then(|l| param(&cur, l))
                    .and_then(|v| ival(&v))
            {
                t.lastevent_fd = v;
            }
            t.lastevent_type = Some(cur.raw.etype);
            cur.lastevent_fd = t.lastevent_fd;
        }
        if uses_fd && cur.lastevent_fd >= 0 {
            let owner = self.fd_owner(tid);
            if let Some(f) = self.threads.get_mut(&owner).and_then(|t| t.fds.get_mut(&cur.lastevent_fd)) {
                f.oldname.clone_from(&f.name);
                cur.fd = Some(f.clone());
            }
        }
        if !enter {
            self.parse_exit(tid, &mut cur);
        } else if info.name == "container" {
            self.parse_container(&cur);
        }
        if let Some(f) = &mut cur.fd {
            f.name_changed = f.name != f.oldname;
        }
        if let Some(t) = self.threads.get(&tid) {
            cur.lastevent_fd = t.lastevent_fd;
        }
        self.current = Some(cur);
    }

    #[allow(clippy::collapsible_match)] // one arm per syscall reads better than guards
    fn parse_exit(&mut self, tid: i64, cur: &mut Current) {
        let name = cur.info.name;
        let res = pnamed(cur, "res").or_else(|| pnamed(cur, "fd")).and_then(|v| ival(&v));
        match name {
            "open" | "openat" | "openat2" | "creat" | "open_by_handle_at" => self.parse_open(tid, cur),
            "socket" => {
                let Some(fd) = res.filter(|r| *r >= 0) else { return };
                let domain = enter_named(cur, "domain").and_then(|v| ival(&v)).unwrap_or(-1);
                let ty = enter_named(cur, "type").and_then(|v| ival(&v)).unwrap_or(0);
                let proto = enter_named(cur, "proto").and_then(|v| ival(&v)).unwrap_or(0);
                let (fd_type, l4p) = match u8::try_from(domain).unwrap_or(0) {
                    event::af::INET => (fdt::IPV4_SOCK, l4_of(ty, proto)),
                    event::af::INET6 => (fdt::IPV6_SOCK, l4_of(ty, proto)),
                    event::af::UNIX => (fdt::UNIX_SOCK, l4::UNKNOWN),
                    event::af::NETLINK => (fdt::NETLINK, l4::UNKNOWN),
                    _ => (fdt::UNKNOWN, l4::UNKNOWN),
                };
                let mut f = FdInfo::new(fd_type, String::new());
                f.l4proto = l4p;
                self.add_fd(tid, fd, f, cur);
            }
            "bind" => self.parse_bind(tid, cur, res),
            "connect" => self.parse_connect(tid, cur, res),
            "accept" | "accept4" => {
                let Some(fd) = res.filter(|r| *r >= 0) else { return };
                if let Some(t) = self.threads.get_mut(&tid) {
                    t.lastevent_fd = fd;
                }
                let Some(Value::SockTuple(Some(tuple))) = pnamed(cur, "tuple") else { return };
                let fd_type = match tuple {
                    SockTuple::V4(..) => fdt::IPV4_SOCK,
                    SockTuple::V6(..) => fdt::IPV6_SOCK,
                    SockTuple::Unix(..) => fdt::UNIX_SOCK,
                    SockTuple::Other(_) => return,
                };
                let mut f = FdInfo::new(fd_type, String::new());
                f.l4proto = if fd_type == fdt::UNIX_SOCK { l4::UNKNOWN } else { l4::TCP };
                set_ip_tuple(&mut f, &tuple);
                if let SockTuple::Unix(a, b, _) = tuple {
                    f.sock = SockInfo::Unix { source: a, dest: b };
                }
                f.name = tuple_str(&tuple);
                f.role_server = true;
                f.connected = true;
                self.add_fd(tid, fd, f, cur);
            }
            "close" => {
                if res.is_some_and(|r| r >= 0) && cur.lastevent_fd >= 0 {
                    self.pending_fd = Some((tid, cur.lastevent_fd));
                }
            }
            "dup" | "dup2" | "dup3" => {
                let Some(newfd) = res.filter(|r| *r >= 0) else { return };
                let old = pnamed(cur, "oldfd").and_then(|v| ival(&v)).unwrap_or(cur.lastevent_fd);
                if let Some(f) = self.fd(tid, old).cloned() {
                    self.add_fd(tid, newfd, f, cur);
                }
            }
            "fcntl" => {
                let cmd = enter_named(cur, "cmd").and_then(|v| ival(&v)).unwrap_or(-1);
                // PPM_FCNTL_F_DUPFD = 1, F_DUPFD_CLOEXEC = 26 (the fcntl_commands table)
                if let Some(newfd) = res.filter(|r| *r >= 0 && (cmd == 1 || cmd == 26))
                    && let Some(f) = self.fd(tid, cur.lastevent_fd).cloned()
                {
                    self.add_fd(tid, newfd, f, cur);
                }
            }
            "pipe" | "pipe2" => {
                if res.is_some_and(|r| r < 0) {
                    return;
                }
                for n in ["fd1", "fd2"] {
                    if let Some(fd) = pnamed(cur, n).and_then(|v| ival(&v)) {
                        let mut f = FdInfo::new(fdt::FIFO, String::new());
                        f.ino = pnamed(cur, "ino")
                            .and_then(|v| ival(&v))
                            .map_or(0, |i| u64::from_le_bytes(i.to_le_bytes()));
                        self.add_fd(tid, fd, f, cur);
                    }
                }
            }
            "eventfd" | "eventfd2" => self.add_res_fd(tid, res, fdt::EVENT, cur),
            "signalfd" | "signalfd4" => self.add_res_fd(tid, res, fdt::SIGNALFD, cur),
            "timerfd_create" => self.add_res_fd(tid, res, fdt::TIMERFD, cur),
            "inotify_init" | "inotify_init1" => self.add_res_fd(tid, res, fdt::INOTIFY, cur),
            "epoll_create" | "epoll_create1" => self.add_res_fd(tid, res, fdt::EVENTPOLL, cur),
            "chdir" => {
                if res == Some(0)
                    && let Some(Value::Str(p)) = pnamed(cur, "path").or_else(|| enter_named(cur, "path"))
                {
                    let base = self.cwd(tid).unwrap_or("").to_owned();
                    let new = with_slash(render::concat_path(&base, &lossy(&p)));
                    self.set_cwd(tid, new);
                }
            }
            "fchdir" => {
                if res == Some(0)
                    && let Some(f) = self.fd(tid, cur.lastevent_fd)
                {
                    let new = with_slash(f.name.clone());
                    self.set_cwd(tid, new);
                }
            }
            "setuid" | "setresuid" | "setreuid" => {
                if res == Some(0) {
                    let u = enter_named(cur, if name == "setuid" { "uid" } else { "euid" }).and_then(|v| ival(&v));
                    if let (Some(u), Some(t)) = (u, self.threads.get_mut(&tid))
                        && let Ok(u) = u32::try_from(u)
                        && u != u32::MAX
                    {
                        t.uid = u;
                    }
                }
            }
            "setgid" | "setresgid" | "setregid" => {
                if res == Some(0) {
                    let g = enter_named(cur, if name == "setgid" { "gid" } else { "egid" }).and_then(|v| ival(&v));
                    if let (Some(g), Some(t)) = (g, self.threads.get_mut(&tid))
                        && let Ok(g) = u32::try_from(g)
                        && g != u32::MAX
                    {
                        t.gid = g;
                    }
                }
            }
            "clone" | "fork" | "vfork" | "clone3" => self.parse_clone(tid, cur, res),
            _ if cur.info.flags & (ef::READS_FROM_FD | ef::WRITES_TO_FD) != 0 => self.parse_rw(tid, cur, res),
            "execve" | "execveat" => self.parse_execve(tid, cur, res),
            "procexit" => self.pending_thread = Some(tid),
            _ => {}
        }
        // Every other exit event leaves `cur.fd` as the enter event's fd.
    }

    fn add_res_fd(&mut self, tid: i64, res: Option<i64>, ty: u8, cur: &mut Current) {
        if let Some(fd) = res.filter(|r| *r >= 0) {
            self.add_fd(tid, fd, FdInfo::new(ty, String::new()), cur);
        }
    }

    fn add_fd(&mut self, tid: i64, fd: i64, mut f: FdInfo, cur: &mut Current) {
        f.name_changed = false;
        cur.fd = Some(f.clone());
        if let Some(t) = self.threads.get_mut(&tid) {
            t.lastevent_fd = fd;
        }
        let mut full = false;
        if let Some(m) = self.fds_mut(tid) {
            if m.len() < MAX_FDS || m.contains_key(&fd) {
                m.insert(fd, f);
            } else {
                full = true;
            }
        }
        if full {
            self.dropped += 1;
        }
        if self.pending_fd == Some((tid, fd)) {
            self.pending_fd = None;
        }
    }

    fn set_cwd(&mut self, tid: i64, cwd: String) {
        let owner = match self.threads.get(&tid) {
            Some(t) if t.pid != t.tid && self.threads.contains_key(&t.pid) => t.pid,
            _ => tid,
        };
        if let Some(t) = self.threads.get_mut(&owner) {
            t.cwd = cwd;
        }
    }

    /// The fd the event uses, from the table (mutable).
    fn cur_fd_mut(&mut self, tid: i64, fd: i64) -> Option<&mut FdInfo> {
        if fd < 0 {
            return None;
        }
        self.fds_mut(tid).and_then(|m| m.get_mut(&fd))
    }

    /// libsinsp's `parse_bind_exit`: a bound port makes a listening socket.
    fn parse_bind(&mut self, tid: i64, cur: &mut Current, res: Option<i64>) {
        if res.is_some_and(|r| r < 0) {
            return;
        }
        let fdn = cur.lastevent_fd;
        let Some(Value::SockAddr(Some(addr))) = pnamed(cur, "addr") else { return };
        let Some(f) = self.cur_fd_mut(tid, fdn) else { return };
        match &addr {
            SockAddr::V4(ip, port) if *port > 0 => {
                f.fd_type = fdt::IPV4_SERVSOCK;
                f.sock = SockInfo::V4Server { ip: Ipv4Addr::from(*ip), port: *port };
                f.role_server = true;
            }
            SockAddr::V6(ip, port) if *port > 0 => {
                let ip6 = Ipv6Addr::from(*ip);
                if let Some(ip4) = ip6.to_ipv4_mapped() {
                    f.fd_type = fdt::IPV4_SERVSOCK;
                    f.sock = SockInfo::V4Server { ip: ip4, port: *port };
                } else {
                    f.fd_type = fdt::IPV6_SERVSOCK;
                    f.sock = SockInfo::V6Server { ip: ip6, port: *port };
                }
                f.role_server = true;
            }
            _ => {}
        }
        f.name = match addr {
            SockAddr::V4(ip, p) => format!("{}:{p}", Ipv4Addr::from(ip)),
            SockAddr::V6(ip, p) => format!("{}:{p}", Ipv6Addr::from(ip)),
            SockAddr::Unix(p) => lossy(&p),
            SockAddr::Other(fam) => format!("family {fam}"),
        };
        cur.fd = Some(f.clone());
    }

    /// libsinsp's `parse_connect_exit` (connection status not tracked): the exit tuple gives
    /// both ends; a socket with no role becomes a client's.
    fn parse_connect(&mut self, tid: i64, cur: &mut Current, res: Option<i64>) {
        // -EINPROGRESS counts as connected
        if res.is_some_and(|r| r < 0 && r != -115) {
            return;
        }
        let fdn = cur.lastevent_fd;
        let tuple = match pnamed(cur, "tuple") {
            Some(Value::SockTuple(t)) => t,
            _ => None,
        };
        let Some(f) = self.cur_fd_mut(tid, fdn) else { return };
        f.connected = true;
        if let Some(tuple) = tuple {
            match &tuple {
                SockTuple::V4(..) | SockTuple::V6(..) => {
                    let changed = set_ip_tuple(f, &tuple);
                    if changed && f.role_server && f.fd_type == fdt::IPV4_SOCK && f.l4proto == l4::UDP {
                        swap_tuple(f);
                    }
                    f.name = tuple_name(f);
                }
                SockTuple::Unix(a, b, p) => {
                    if f.fd_type == fdt::UNIX_SOCK {
                        f.sock = SockInfo::Unix { source: *a, dest: *b };
                        f.name = format!("{a:x}->{b:x} {}", lossy(p));
                    }
                }
                SockTuple::Other(_) => {}
            }
            if !f.role_client && !f.role_server {
                f.role_client = true;
            }
        }
        cur.fd = Some(f.clone());
    }

    /// libsinsp's `parse_read_exit`/`parse_write_exit` for the socket state: data moved on an IP
    /// socket marks it connected; a datagram's tuple (recvfrom/recvmsg exit, sendto/sendmsg
    /// enter in this event layout) names a socket that is not a TCP one yet, guessing its role.
    fn parse_rw(&mut self, tid: i64, cur: &mut Current, res: Option<i64>) {
        let name = cur.info.name;
        let incoming = cur.info.flags & ef::READS_FROM_FD != 0;
        let tuple = match pnamed(cur, "tuple").or_else(|| enter_named(cur, "tuple")) {
            Some(Value::SockTuple(t)) => t,
            _ => None,
        };
        // libs@48dfd53 also takes a send*() on an fd it does not know for a UDP socket's
        // (`infer_send_sendto_sendmsg_fdinfo`); sysdig 0.29 does not, and neither do we yet.
        let fdn = cur.lastevent_fd;
        if res.is_some_and(|r| r < 0) {
            return;
        }
        let Some(f) = self.cur_fd_mut(tid, fdn) else { return };
        let is_ip = matches!(f.fd_type, fdt::IPV4_SOCK | fdt::IPV6_SOCK);
        if is_ip {
            f.connected = true;
        }
        let has_tuple =
            matches!(name, "recvfrom" | "recvmsg" | "recvmmsg" | "recv" | "send" | "sendto" | "sendmsg" | "sendmmsg");
        let tcp = f.fd_type == fdt::IPV4_SOCK && f.l4proto == l4::TCP;
        let mut snap = f.clone();
        if has_tuple
            && (f.name.is_empty() || !tcp)
            && let Some(t) = &tuple
        {
            let mut g = f.clone();
            if update_fd(&mut g, t) {
                self.patch_tuple(&mut g);
                if matches!(g.fd_type, fdt::IPV4_SOCK | fdt::IPV6_SOCK) {
                    // the role guess sees the table with this fd's new tuple
                    if let Some(slot) = self.cur_fd_mut(tid, fdn) {
                        *slot = g.clone();
                    }
                    if !g.role_client && !g.role_server {
                        self.guess_role(tid, &mut g, incoming);
                    }
                    if (incoming && g.role_client) || (!incoming && g.role_server) {
                        swap_tuple(&mut g);
                    }
                    g.name = tuple_name(&g);
                } else {
                    g.name = tuple_str(t);
                }
                if let Some(slot) = self.cur_fd_mut(tid, fdn) {
                    *slot = g.clone();
                }
                snap = g;
            }
        }
        cur.fd = Some(snap);
    }

    fn parse_open(&mut self, tid: i64, cur: &mut Current) {
        let Some(fd) = pnamed(cur, "fd").or_else(|| pnamed(cur, "res")).and_then(|v| ival(&v)).filter(|f| *f >= 0)
        else {
            return;
        };
        let path = match pnamed(cur, "name").or_else(|| enter_named(cur, "name")).or_else(|| pnamed(cur, "pathname")) {
            Some(Value::Str(p)) => lossy(&p),
            _ => return,
        };
        let flags = pnamed(cur, "flags").or_else(|| enter_named(cur, "flags")).and_then(|v| ival(&v)).unwrap_or(0);
        let dirfd = pnamed(cur, "dirfd").or_else(|| enter_named(cur, "dirfd")).and_then(|v| ival(&v));
        let base = match dirfd {
            Some(d) if d != -100 && !path.starts_with('/') => {
                self.fd(tid, d).map(|f| with_slash(f.name.clone())).unwrap_or_default()
            }
            _ => self.cwd(tid).unwrap_or("").to_owned(),
        };
        let full = render::concat_path(&base, &path);
        // PPM_O_DIRECTORY
        // PPM_O_DIRECTORY = 1 << 10 (the file_flags table; 1 << 15 is FD_UPPER_LAYER)
        let fd_type = if flags & (1 << 10) != 0 { fdt::DIRECTORY } else { fdt::FILE };
        let mut f = FdInfo::new(fd_type, full);
        f.nameraw = path;
        f.open_flags = u32::try_from(flags).unwrap_or(0);
        f.dev = pnamed(cur, "dev").and_then(|v| ival(&v)).and_then(|d| u32::try_from(d).ok()).unwrap_or(0);
        self.add_fd(tid, fd, f, cur);
    }

    fn parse_clone(&mut self, tid: i64, cur: &mut Current, res: Option<i64>) {
        let Some(res) = res else { return };
        if res < 0 {
            return;
        }
        let child = if res == 0 { tid } else { res };
        if res == 0 && self.threads.get(&tid).is_some_and(|t| t.comm != "<NA>") {
            return;
        }
        let get = |n: &str| pnamed(cur, n);
        let geti = |n: &str| get(n).and_then(|v| ival(&v));
        if res > 0 && !self.clone_caller_creates_child(tid, cur) {
            return;
        }
        let parent_tid = if res == 0 { geti("ptid").unwrap_or(-1) } else { tid };
        let parent = self.threads.get(&parent_tid).cloned().or_else(|| self.threads.get(&tid).cloned());
        let mut t = Thread::unknown(child);
        if let Some(Value::Str(e)) | Some(Value::Bytes(e)) = get("exe") {
            t.exe = lossy(event::cstr(&e));
        }
        if let Some(Value::Bytes(a)) = get("args") {
            t.args = split_nul(&a);
        }
        t.pid = geti("pid").unwrap_or(child);
        if res > 0 {
            // the caller's view: a new process is its child; a new thread is in its process,
            // with the process's parent as its parent
            let flags = geti("flags").unwrap_or(0);
            // PPM_CL_CLONE_THREAD = 1 << 13 (the clone_flags table)
            if flags & (1 << 13) != 0 {
                t.pid = geti("pid").unwrap_or(tid);
                t.ptid = geti("ptid").unwrap_or(-1);
            } else {
                t.pid = child;
                t.ptid = tid;
            }
        } else {
            t.ptid = geti("ptid").unwrap_or(-1);
        }
        if let Some(Value::Str(c)) | Some(Value::Bytes(c)) = get("cwd") {
            t.cwd = with_slash(lossy(event::cstr(&c)));
        }
        t.fdlimit = geti("fdlimit").unwrap_or(0);
        if let Some(Value::Str(c)) | Some(Value::Bytes(c)) = get("comm") {
            t.comm = lossy(event::cstr(&c));
        } else if let Some(p) = &parent {
            t.comm.clone_from(&p.comm);
        }
        if let Some(Value::Bytes(c)) = get("cgroups") {
            t.cgroups = cgroups_of(&c);
        }
        t.flags = geti("flags").and_then(|f| u32::try_from(f).ok()).unwrap_or(0);
        t.uid = geti("uid").and_then(|u| u32::try_from(u).ok()).unwrap_or(u32::MAX);
        t.gid = geti("gid").and_then(|u| u32::try_from(u).ok()).unwrap_or(u32::MAX);
        if res > 0 {
            // the caller's view, outside a pid namespace (else the child makes its own entry)
            t.vtid = t.tid;
            t.vpid = t.pid;
        } else {
            t.vtid = geti("vtid").unwrap_or(child);
            t.vpid = geti("vpid").unwrap_or(-1);
        }
        t.clone_ts = cur.raw.ts;
        if let Some(p) = &parent {
            t.sid = p.sid;
            t.vpgid = p.vpgid;
            t.loginuid = p.loginuid;
            t.tty = p.tty;
            t.exepath.clone_from(&p.exepath);
            t.env.clone_from(&p.env);
            t.cap_effective = p.cap_effective;
            t.cap_permitted = p.cap_permitted;
            t.cap_inheritable = p.cap_inheritable;
            if t.cwd.is_empty() {
                t.cwd.clone_from(&p.cwd);
            }
            // a new process gets a copy of the fds (unless CLONE_FILES shares them; we copy too)
            if t.pid == t.tid {
                t.fds = self.fds(p.tid).cloned().unwrap_or_default();
            }
        }
        if self.room_for_thread(child) {
            self.threads.insert(child, t);
        }
    }

    /// The caller's side of a successful clone (libsinsp's `parse_clone_exit_caller`): a caller
    /// not known before gets its ids from the event; then whether the caller makes the child's
    /// entry. It does not when the child is in a pid namespace (`CLONE_CHILD_IN_PIDNS`,
    /// `CLONE_NEWPID`, `CLONE_PARENT`, or a caller whose virtual tid is not its tid: the caller
    /// cannot know the child's ids) or for a vfork (the child may have exited already): the
    /// child's own clone exit event makes it.
    fn clone_caller_creates_child(&mut self, tid: i64, cur: &Current) -> bool {
        let geti = |n: &str| pnamed(cur, n).and_then(|v| ival(&v));
        let Some(caller) = self.threads.get_mut(&tid) else { return false };
        if caller.tid < 0 || caller.pid < 0 || caller.ptid < 0 {
            caller.pid = geti("pid").unwrap_or(caller.pid);
            caller.ptid = geti("ptid").unwrap_or(caller.ptid);
            match (geti("vtid"), geti("vpid")) {
                (Some(vt), Some(vp)) => (caller.vtid, caller.vpid) = (vt, vp),
                _ => (caller.vtid, caller.vpid) = (tid, -1),
            }
        }
        let flags = geti("flags").unwrap_or(0);
        let flag = |name: &str| {
            event::flag_table_named("clone_flags").iter().find(|(n, _)| *n == name).map_or(0, |(_, v)| i64::from(*v))
        };
        let in_pidns = flag("CLONE_CHILD_IN_PIDNS") | flag("CLONE_NEWPID") | flag("CLONE_PARENT");
        if flags & in_pidns != 0 || caller.vtid != tid {
            return false;
        }
        flags & flag("CLONE_VFORK") == 0 && cur.info.name != "vfork"
    }

    /// Whether `tid` is in the thread table or there is room for it (else it is counted as
    /// dropped).
    /// A capture's `container` event: libsinsp's JSON (`CONTAINER_JSON_E`, `CONTAINER_JSON_2_E`)
    /// or the oldest layout's id, type, name and image (`CONTAINER_E`).
    fn parse_container(&mut self, cur: &Current) {
        let text = |i: usize| match param(cur, i) {
            Some(Value::Str(s) | Value::Bytes(s)) => Some(lossy(&s)),
            _ => None,
        };
        let info = if cur.info.params.len() == 1 {
            text(0).and_then(|j| crate::container::ContainerInfo::from_event_json(&j))
        } else {
            let ty = param(cur, 1).and_then(|v| ival(&v)).unwrap_or(0);
            let json = serde_json::json!({"container": {
                "id": text(0).unwrap_or_default(), "type": ty,
                "name": text(2).unwrap_or_default(), "image": text(3).unwrap_or_default(),
            }});
            crate::container::ContainerInfo::from_event_json(&json.to_string())
        };
        if let Some(i) = info {
            self.set_container(i);
        }
    }

    fn room_for_thread(&mut self, tid: i64) -> bool {
        if self.threads.len() < MAX_THREADS || self.threads.contains_key(&tid) {
            return true;
        }
        self.dropped += 1;
        false
    }

    fn parse_execve(&mut self, tid: i64, cur: &mut Current, res: Option<i64>) {
        if res != Some(0) {
            return;
        }
        let get = |n: &str| pnamed(cur, n);
        let exe = get("exe");
        let args = get("args");
        let comm = get("comm");
        let cwd = get("cwd");
        let cg = get("cgroups");
        let env = get("env");
        let tty = get("tty").and_then(|v| ival(&v));
        let login = get("loginuid").and_then(|v| ival(&v));
        let exepath = get("trusted_exepath");
        // PPM_EXE_WRITABLE 1, PPM_EXE_UPPER_LAYER 2, PPM_EXE_FROM_MEMFD 4, PPM_EXE_LOWER_LAYER 8
        let exe_flags = get("flags").and_then(|v| ival(&v));
        let filename = enter_named(cur, "filename");
        let uid = get("uid").and_then(|v| ival(&v));
        let gid = get("gid").and_then(|v| ival(&v));
        let pid = get("pid").and_then(|v| ival(&v));
        let ptid = get("ptid").and_then(|v| ival(&v));
        let base_cwd = self.cwd(tid).unwrap_or("").to_owned();
        let Some(t) = self.threads.get_mut(&tid) else { return };
        if let Some(Value::Str(e)) | Some(Value::Bytes(e)) = exe {
            t.exe = lossy(event::cstr(&e));
        }
        if let Some(Value::Bytes(a)) = args {
            t.args = split_nul(&a);
        }
        if let Some(Value::Str(c)) | Some(Value::Bytes(c)) = comm {
            t.comm = lossy(event::cstr(&c));
        } else if !t.exe.is_empty() {
            t.comm = t.exe.rsplit('/').next().unwrap_or("").to_owned();
        }
        // libsinsp (0.29) keeps the thread's cwd on execve; the parameter is not read.
        let _ = cwd;
        if let Some(v) = pid {
            t.pid = v;
        }
        if let Some(v) = ptid {
            t.ptid = v;
        }
        if let Some(Value::Bytes(c)) = cg {
            t.cgroups = cgroups_of(&c);
        }
        if let Some(Value::Bytes(e)) = env {
            t.env = split_nul(&e);
        }
        if let Some(v) = tty.and_then(|v| u32::try_from(v).ok()) {
            t.tty = v;
        }
        if let Some(v) = login {
            t.loginuid = u32::try_from(v & 0xffff_ffff).unwrap_or(u32::MAX);
        }
        if let Some(v) = uid.and_then(|v| u32::try_from(v).ok()) {
            t.uid = v;
        }
        if let Some(v) = gid.and_then(|v| u32::try_from(v).ok()) {
            t.gid = v;
        }
        match (exepath, filename) {
            (Some(Value::Str(p)), _) => t.exepath = lossy(&p),
            (_, Some(Value::Str(f))) => t.exepath = render::concat_path(&base_cwd, &lossy(&f)),
            _ => {}
        }
        if let Some(f) = exe_flags {
            t.exe_writable = f & 1 != 0;
            t.exe_upper_layer = f & 2 != 0;
            t.exe_from_memfd = f & 4 != 0;
        }
        t.pid = if t.pid < 0 { tid } else { t.pid };
    }
}

/// libsinsp's `add_socket` protocol guess from socket()'s type and protocol.
fn l4_of(ty: i64, proto: i64) -> u8 {
    // SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_RAW 3; IPPROTO_IP 0, ICMP 1, TCP 6, UDP 17, RAW 255
    let raw = ty == 3;
    match proto {
        6 => {
            if raw {
                l4::RAW
            } else {
                l4::TCP
            }
        }
        17 => {
            if raw {
                l4::RAW
            } else {
                l4::UDP
            }
        }
        0 => match ty & 0xff {
            1 => l4::TCP,
            2 => l4::UDP,
            _ => l4::UNKNOWN,
        },
        1 => {
            if raw {
                l4::RAW
            } else {
                l4::ICMP
            }
        }
        255 => l4::RAW,
        _ => l4::UNKNOWN,
    }
}

/// libsinsp's `set_ipv4_addresses_and_ports`/`set_ipv6_…` (destination overwritten, as
/// libs@48dfd53): sets the fd's type and tuple from an IP tuple (an IPv4-mapped pair becomes an
/// IPv4 socket). Returns whether the tuple changed (the same or the reversed tuple is no change).
fn set_ip_tuple(f: &mut FdInfo, t: &SockTuple) -> bool {
    let new = match t {
        SockTuple::V4(s, sp, d, dp) => {
            SockInfo::V4 { sip: Ipv4Addr::from(*s), sport: *sp, dip: Ipv4Addr::from(*d), dport: *dp }
        }
        SockTuple::V6(s, sp, d, dp) => {
            let (s6, d6) = (Ipv6Addr::from(*s), Ipv6Addr::from(*d));
            match (s6.to_ipv4_mapped(), d6.to_ipv4_mapped()) {
                (Some(s4), Some(d4)) => SockInfo::V4 { sip: s4, sport: *sp, dip: d4, dport: *dp },
                _ => SockInfo::V6 { sip: s6, sport: *sp, dip: d6, dport: *dp },
            }
        }
        _ => return false,
    };
    let ty = if matches!(new, SockInfo::V4 { .. }) { fdt::IPV4_SOCK } else { fdt::IPV6_SOCK };
    let same = f.fd_type == ty && (f.sock == new || f.sock == swapped(&new));
    f.fd_type = ty;
    if same {
        return false;
    }
    let changed = match (&f.sock, &new) {
        (SockInfo::None, SockInfo::V4 { sip, sport, dip, dport }) => {
            !(sip.is_unspecified() && *sport == 0 && dip.is_unspecified() && *dport == 0)
        }
        (SockInfo::None, SockInfo::V6 { sip, sport, dip, dport }) => {
            !(sip.is_unspecified() && *sport == 0 && dip.is_unspecified() && *dport == 0)
        }
        (old, new) => old != new,
    };
    f.sock = new;
    changed
}

fn swapped(s: &SockInfo) -> SockInfo {
    match s {
        SockInfo::V4 { sip, sport, dip, dport } => SockInfo::V4 { sip: *dip, sport: *dport, dip: *sip, dport: *sport },
        SockInfo::V6 { sip, sport, dip, dport } => SockInfo::V6 { sip: *dip, sport: *dport, dip: *sip, dport: *sport },
        o => o.clone(),
    }
}

/// libsinsp's `swap_addresses`.
fn swap_tuple(f: &mut FdInfo) {
    f.sock = swapped(&f.sock);
}

/// libsinsp's `update_fd` (without the interface patch, done by the caller): the tuple of a
/// datagram names the socket. Returns whether anything was updated.
fn update_fd(f: &mut FdInfo, t: &SockTuple) -> bool {
    match t {
        SockTuple::V4(..) | SockTuple::V6(..) => {
            if !set_ip_tuple(f, t) {
                return false;
            }
            // a protocol still unknown once addresses change mid-way is UDP's
            if f.l4proto == l4::UNKNOWN || f.l4proto == l4::NA {
                f.l4proto = l4::UDP;
            }
            true
        }
        SockTuple::Unix(a, b, p) => {
            f.fd_type = fdt::UNIX_SOCK;
            f.sock = SockInfo::Unix { source: *a, dest: *b };
            f.name = lossy(p);
            true
        }
        SockTuple::Other(_) => false,
    }
}

/// libsinsp's `sockinfo_to_str` for a connection socket (numeric hosts and ports).
fn tuple_name(f: &FdInfo) -> String {
    match &f.sock {
        SockInfo::V4 { sip, sport, dip, dport } => render::tuple_v4(*sip, *sport, *dip, *dport),
        SockInfo::V6 { sip, sport, dip, dport } => render::tuple_v6(*sip, *sport, *dip, *dport),
        _ => f.name.clone(),
    }
}

/// A socket tuple parameter as libsinsp prints it (`PF_SIMPLE`).
fn tuple_str(t: &SockTuple) -> String {
    match t {
        SockTuple::V4(s, sp, d, dp) => render::tuple_v4(Ipv4Addr::from(*s), *sp, Ipv4Addr::from(*d), *dp),
        SockTuple::V6(s, sp, d, dp) => {
            let (s6, d6) = (Ipv6Addr::from(*s), Ipv6Addr::from(*d));
            match (s6.to_ipv4_mapped(), d6.to_ipv4_mapped()) {
                (Some(s4), Some(d4)) => render::tuple_v4(s4, *sp, d4, *dp),
                _ => render::tuple_v6(s6, *sp, d6, *dp),
            }
        }
        SockTuple::Unix(a, b, p) => format!("{a:x}->{b:x} {}", lossy(p)),
        SockTuple::Other(f) => format!("family {f}"),
    }
}

/// A parameter of the current event, decoded.
#[must_use]
pub fn param(cur: &Current, i: usize) -> Option<Value> {
    let p = cur.info.params.get(i)?;
    Some(event::decode(p, cur.raw.params.get(i)?))
}

/// Where the fd is among an exit event's parameters (libscap's `get_exit_event_fd_location` at
/// libs@48dfd53, by PPME code), for the exit events of the current layouts that carry it.
fn exit_fd_location(etype: u16) -> Option<usize> {
    Some(match etype {
        5 | 25 | 37 | 45 | 47 | 51 | 55 | 71 | 87 | 89 | 97 | 151 | 171 | 237 | 239 | 241 | 243 | 303 | 305 | 313
        | 317 | 333 | 341 | 343 | 363 | 365 | 367 | 373 | 383 | 385 | 413 | 417 | 419 => 1,
        7 | 9 | 21 | 23 | 29 | 31 | 33 | 49 | 113 | 115 | 119 | 123 | 167 | 181 | 189 => 2,
        35 | 117 | 121 => 3,
        53 => 5,
        161 | 163 => 8,
        _ => return None,
    })
}

/// A parameter of the current event by name.
#[must_use]
pub fn pnamed(cur: &Current, name: &str) -> Option<Value> {
    let i = cur.info.params.iter().take(cur.raw.params.len()).position(|p| p.name == name)?;
    param(cur, i)
}

/// A parameter of the matching enter event by name.
#[must_use]
pub fn enter_named(cur: &Current, name: &str) -> Option<Value> {
    let ps = cur.enter_params.as_ref()?;
    let info = event::info(cur.raw.etype.wrapping_sub(1))?;
    let i = info.params.iter().take(ps.len()).position(|p| p.name == name)?;
    Some(event::decode(info.params.get(i)?, ps.get(i)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scap::ThreadInfo;

    /// The last (current) code of an event name, enter or exit.
    fn code(name: &str, enter: bool) -> u16 {
        *event::codes_named(name).iter().rev().find(|c| event::is_enter(**c) == enter).unwrap()
    }

    /// An event with the named parameters given (the others empty).
    fn ev(tid: u64, etype: u16, given: &[(&str, Vec<u8>)]) -> Block {
        let info = event::info(etype).unwrap();
        let params = info
            .params
            .iter()
            .map(|p| given.iter().find(|(n, _)| *n == p.name).map(|(_, b)| b.clone()).unwrap_or_default())
            .collect();
        Block::Event(RawEvent { num: 0, offset: 0, cpu: 0, flags: 0, ts: 1_000, tid, etype, params })
    }

    fn i64b(v: i64) -> Vec<u8> {
        v.to_le_bytes().to_vec()
    }

    fn u32b(v: u32) -> Vec<u8> {
        v.to_le_bytes().to_vec()
    }

    fn text(v: &str) -> Vec<u8> {
        let mut b = v.as_bytes().to_vec();
        b.push(0);
        b
    }

    fn field(ins: &Inspector, name: &str) -> Option<String> {
        ins.view().unwrap().field(name, None).map(|v| v.join(","))
    }

    #[test]
    fn a_scheduler_switch_between_enter_and_exit_keeps_the_fd() {
        let mut ins = Inspector::new();
        ins.feed(ev(7, code("write", true), &[("fd", i64b(1)), ("size", u32b(5))]));
        ins.feed(ev(7, code("switch", true), &[("next", i64b(8))]));
        ins.feed(ev(7, code("write", false), &[("res", i64b(5)), ("data", b"hello".to_vec())]));
        assert_eq!(field(&ins, "fd.num").as_deref(), Some("1"));
        // an exit without its enter: the fd is not trusted
        ins.feed(ev(7, code("read", false), &[("res", i64b(5)), ("data", b"hello".to_vec())]));
        assert_eq!(field(&ins, "fd.num").as_deref(), Some("-1"));
    }

    fn process_list() -> Block {
        let t = |tid: u64, pid: u64, ptid: u64, comm: &str, vtid: i64| ThreadInfo {
            tid,
            pid,
            ptid,
            comm: comm.as_bytes().to_vec(),
            exe: comm.as_bytes().to_vec(),
            vtid,
            vpid: vtid,
            ..ThreadInfo::default()
        };
        // bash (100) started curl (200); curl's vtid is known, wget's (300) is not
        Block::Threads(vec![t(100, 100, 1, "bash", 100), t(200, 200, 100, "curl", 200), t(300, 300, 100, "wget", -1)])
    }

    fn clone_exit(tid: u64, res: i64, pid: i64, ptid: i64, flags: u32, vtid: i64) -> Block {
        ev(
            tid,
            code("clone", false),
            &[
                ("res", i64b(res)),
                ("exe", text("curl")),
                ("tid", i64b(i64::try_from(tid).unwrap())),
                ("pid", i64b(pid)),
                ("ptid", i64b(ptid)),
                ("comm", text("curl")),
                ("flags", u32b(flags)),
                ("vtid", i64b(vtid)),
                ("vpid", i64b(pid)),
            ],
        )
    }

    const CLONE_THREAD: u32 = 1 << 13;

    #[test]
    fn a_thread_made_by_its_caller_has_its_own_vtid_and_its_process_parent() {
        let mut ins = Inspector::new();
        ins.feed(process_list());
        // curl (200) makes thread 201: the caller's exit event carries the caller's ids
        ins.feed(clone_exit(200, 201, 200, 100, CLONE_THREAD, 200));
        let t = ins.thread(201).unwrap();
        assert_eq!((t.pid, t.ptid, t.vtid, t.vpid), (200, 100, 201, 200));
        ins.feed(ev(201, code("close", true), &[("fd", i64b(3))]));
        assert_eq!(field(&ins, "thread.vtid").as_deref(), Some("201"));
        // proc.p* are about the process: curl's parent
        assert_eq!(field(&ins, "proc.pname").as_deref(), Some("bash"));
    }

    #[test]
    fn a_caller_without_a_known_vtid_leaves_the_entry_to_the_child() {
        let mut ins = Inspector::new();
        ins.feed(process_list());
        // wget (300), whose vtid the process list does not have, makes thread 301
        ins.feed(clone_exit(300, 301, 300, 100, CLONE_THREAD, 300));
        assert!(ins.thread(301).is_none());
        // the thread's own exit event makes it, with its ids from the event
        ins.feed(clone_exit(301, 0, 300, 100, CLONE_THREAD, 301));
        let t = ins.thread(301).unwrap();
        assert_eq!((t.pid, t.ptid, t.vtid, t.vpid), (300, 100, 301, 300));
        assert_eq!(field(&ins, "proc.pname").as_deref(), Some("bash"));
    }
}
