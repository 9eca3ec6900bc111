//! The `syscall` source's fields for `kguard_detect`: [`SyscallFields`] resolves field names
//! when rules compile, [`EventView`] extracts them, rendered as libsinsp renders them
//! (sysdig 0.29 / Falco 0.35). A field without a value for an event yields `None` (outputs show
//! `<NA>`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use kguard_detect::source::{ArgKind, Event, FieldDef, FieldKind, FieldSource};

use crate::event::{self, ec, ef};
use crate::render;
use crate::scap::fdt;
use crate::state::{EventView, FdInfo, SockInfo, Thread, enter_named, l4, pnamed};

use FieldKind::{Bool, IpAddr as Ip, IpNet as Net, Number as Num, Text};

/// (name, kind, argument, list)
const FIELDS: &[(&str, FieldKind, ArgKind, bool)] = &[
    ("evt.num", Num, ArgKind::None, false),
    ("evt.time", Text, ArgKind::None, false),
    ("evt.time.s", Text, ArgKind::None, false),
    ("evt.time.iso8601", Text, ArgKind::None, false),
    ("evt.datetime", Text, ArgKind::None, false),
    ("evt.datetime.s", Text, ArgKind::None, false),
    ("evt.rawtime", Num, ArgKind::None, false),
    ("evt.rawtime.s", Num, ArgKind::None, false),
    ("evt.rawtime.ns", Num, ArgKind::None, false),
    ("evt.type", Text, ArgKind::None, false),
    ("syscall.type", Text, ArgKind::None, false),
    ("evt.dir", Text, ArgKind::None, false),
    ("evt.cpu", Num, ArgKind::None, false),
    ("evt.category", Text, ArgKind::None, false),
    ("evt.args", Text, ArgKind::None, false),
    ("evt.arg", Text, ArgKind::Key, false),
    ("evt.rawarg", Text, ArgKind::Key, false),
    ("evt.res", Text, ArgKind::None, false),
    ("evt.rawres", Num, ArgKind::None, false),
    ("evt.failed", Bool, ArgKind::None, false),
    ("evt.is_open_read", Bool, ArgKind::None, false),
    ("evt.is_open_write", Bool, ArgKind::None, false),
    ("evt.is_open_exec", Bool, ArgKind::None, false),
    ("evt.buffer", Text, ArgKind::None, false),
    ("evt.buflen", Num, ArgKind::None, false),
    ("evt.is_io", Bool, ArgKind::None, false),
    ("evt.is_io_read", Bool, ArgKind::None, false),
    ("evt.is_io_write", Bool, ArgKind::None, false),
    ("evt.source", Text, ArgKind::None, false),
    ("evt.hostname", Text, ArgKind::None, false),
    ("proc.pid", Num, ArgKind::None, false),
    ("proc.name", Text, ArgKind::None, false),
    ("proc.exe", Text, ArgKind::None, false),
    ("proc.exepath", Text, ArgKind::None, false),
    ("proc.pexepath", Text, ArgKind::None, false),
    ("proc.aexepath", Text, ArgKind::Index, false),
    ("proc.pexe", Text, ArgKind::None, false),
    ("proc.aexe", Text, ArgKind::Index, false),
    ("proc.cmdline", Text, ArgKind::None, false),
    ("proc.pcmdline", Text, ArgKind::None, false),
    ("proc.acmdline", Text, ArgKind::Index, false),
    ("proc.args", Text, ArgKind::None, false),
    ("proc.env", Text, ArgKind::None, false),
    ("proc.cwd", Text, ArgKind::None, false),
    ("proc.ppid", Num, ArgKind::None, false),
    ("proc.pname", Text, ArgKind::None, false),
    ("proc.aname", Text, ArgKind::Index, false),
    ("proc.apid", Num, ArgKind::Index, false),
    ("proc.sid", Num, ArgKind::None, false),
    ("proc.sname", Text, ArgKind::None, false),
    ("proc.vpid", Num, ArgKind::None, false),
    ("proc.vpgid", Num, ArgKind::None, false),
    ("proc.tty", Num, ArgKind::None, false),
    ("proc.loginshellid", Num, ArgKind::None, false),
    ("proc.duration", Num, ArgKind::None, false),
    ("proc.is_exe_writable", Bool, ArgKind::None, false),
    ("proc.is_exe_upper_layer", Bool, ArgKind::None, false),
    ("proc.is_exe_from_memfd", Bool, ArgKind::None, false),
    ("proc.exe_ino", Num, ArgKind::None, false),
    ("proc.exe_ino.ctime", Num, ArgKind::None, false),
    ("proc.exe_ino.mtime", Num, ArgKind::None, false),
    ("proc.exe_ino.ctime_duration_proc_start", Num, ArgKind::None, false),
    ("proc.exe_ino.ctime_duration_pidns_start", Num, ArgKind::None, false),
    ("thread.tid", Num, ArgKind::None, false),
    ("thread.vtid", Num, ArgKind::None, false),
    ("thread.ismain", Bool, ArgKind::None, false),
    ("thread.cap_effective", Text, ArgKind::None, false),
    ("thread.cap_permitted", Text, ArgKind::None, false),
    ("thread.cap_inheritable", Text, ArgKind::None, false),
    ("user.uid", Num, ArgKind::None, false),
    ("user.name", Text, ArgKind::None, false),
    ("user.homedir", Text, ArgKind::None, false),
    ("user.shell", Text, ArgKind::None, false),
    ("user.loginuid", Num, ArgKind::None, false),
    ("user.loginname", Text, ArgKind::None, false),
    ("group.gid", Num, ArgKind::None, false),
    ("group.name", Text, ArgKind::None, false),
    ("fd.num", Num, ArgKind::None, false),
    ("fd.type", Text, ArgKind::None, false),
    ("fd.typechar", Text, ArgKind::None, false),
    ("fd.name", Text, ArgKind::None, false),
    ("fd.nameraw", Text, ArgKind::None, false),
    ("fd.directory", Text, ArgKind::None, false),
    ("fd.filename", Text, ArgKind::None, false),
    ("fd.ip", Ip, ArgKind::None, false),
    ("fd.cip", Ip, ArgKind::None, false),
    ("fd.sip", Ip, ArgKind::None, false),
    ("fd.lip", Ip, ArgKind::None, false),
    ("fd.rip", Ip, ArgKind::None, false),
    ("fd.port", Num, ArgKind::None, false),
    ("fd.cport", Num, ArgKind::None, false),
    ("fd.sport", Num, ArgKind::None, false),
    ("fd.lport", Num, ArgKind::None, false),
    ("fd.rport", Num, ArgKind::None, false),
    ("fd.l4proto", Text, ArgKind::None, false),
    ("fd.sockfamily", Text, ArgKind::None, false),
    ("fd.is_server", Bool, ArgKind::None, false),
    ("fd.connected", Bool, ArgKind::None, false),
    ("fd.name_changed", Bool, ArgKind::None, false),
    ("fd.net", Net, ArgKind::None, false),
    ("fd.cnet", Net, ArgKind::None, false),
    ("fd.snet", Net, ArgKind::None, false),
    ("fd.lnet", Net, ArgKind::None, false),
    ("fd.rnet", Net, ArgKind::None, false),
    ("fd.sip.name", Text, ArgKind::None, false),
    ("fd.cip.name", Text, ArgKind::None, false),
    ("fd.lip.name", Text, ArgKind::None, false),
    ("fd.rip.name", Text, ArgKind::None, false),
    ("fd.dev", Num, ArgKind::None, false),
    ("fd.ino", Num, ArgKind::None, false),
    ("fd.types", Text, ArgKind::Index, true),
    ("container.id", Text, ArgKind::None, false),
    ("container.name", Text, ArgKind::None, false),
    ("container.image", Text, ArgKind::None, false),
    ("container.image.id", Text, ArgKind::None, false),
    ("container.image.repository", Text, ArgKind::None, false),
    ("container.image.tag", Text, ArgKind::None, false),
    ("container.image.digest", Text, ArgKind::None, false),
    ("container.type", Text, ArgKind::None, false),
    ("container.privileged", Bool, ArgKind::None, false),
    ("container.info", Text, ArgKind::None, false),
    ("container.start_ts", Num, ArgKind::None, false),
    ("container.mounts", Text, ArgKind::None, false),
    ("container.mount.dest", Text, ArgKind::Key, false),
    ("container.mount.source", Text, ArgKind::Key, false),
    ("k8s.ns.name", Text, ArgKind::None, false),
    ("k8s.pod.name", Text, ArgKind::None, false),
    ("k8s.pod.uid", Text, ArgKind::None, false),
    ("k8s.pod.label", Text, ArgKind::Key, false),
    ("k8s.pod.labels", Text, ArgKind::None, false),
    ("fs.path.name", Text, ArgKind::None, false),
    ("fs.path.nameraw", Text, ArgKind::None, false),
    ("fs.path.source", Text, ArgKind::None, false),
    ("fs.path.sourceraw", Text, ArgKind::None, false),
    ("fs.path.target", Text, ArgKind::None, false),
    ("fs.path.targetraw", Text, ArgKind::None, false),
];

/// The `syscall` source: its fields.
#[derive(Clone, Copy, Debug, Default)]
pub struct SyscallFields;

fn def(i: usize) -> Option<FieldDef> {
    let &(name, kind, arg, is_list) = FIELDS.get(i)?;
    Some(FieldDef { name, id: u32::try_from(i).ok()?, arg, is_list, kind })
}

fn find(name: &str) -> Option<usize> {
    FIELDS.iter().position(|(n, ..)| *n == name)
}

impl FieldSource for SyscallFields {
    fn name(&self) -> &'static str {
        "syscall"
    }

    fn resolve(&self, name: &str, arg: Option<&str>) -> Result<(FieldDef, Option<String>), String> {
        let unknown = || format!("filter_check called with nonexistent field {name}");
        // evt.arg.NAME / evt.rawarg.NAME read the rest of the name as the argument
        for p in ["evt.arg.", "evt.rawarg."] {
            if let Some(rest) = name.strip_prefix(p)
                && !rest.is_empty()
                && arg.is_none()
            {
                let i = find(p.trim_end_matches('.')).ok_or_else(unknown)?;
                return Ok((def(i).ok_or_else(unknown)?, Some(rest.to_owned())));
            }
        }
        let i = find(name).ok_or_else(unknown)?;
        let d = def(i).ok_or_else(unknown)?;
        match (d.arg, arg) {
            (ArgKind::Key, None) if name.starts_with("evt.") => {
                Err(format!("filter_check called with nonexistent field {name}"))
            }
            (ArgKind::Key, None) => Err(format!("field {name} requires an argument")),
            (ArgKind::None, Some(a)) => Err(format!("field {name} does not take an argument (given [{a}])")),
            (ArgKind::Index, Some(a)) if a.parse::<i64>().is_err() && name != "fd.types" => {
                Err(format!("field {name}: argument [{a}] is not a number"))
            }
            _ => Ok((d, arg.map(str::to_owned))),
        }
    }

    fn knows(&self, name: &str) -> bool {
        find(name).is_some()
            || ["evt.arg.", "evt.rawarg."].iter().any(|p| name.strip_prefix(p).is_some_and(|r| !r.is_empty()))
    }

    fn event_types(&self) -> Vec<(&'static str, usize)> {
        event_types().to_vec()
    }
}

/// Each name `evt.type` takes and how many event codes it stands for: the event table's names
/// (every version, enter and exit), and the system calls without events of their own, which
/// arrive as the two generic events.
fn event_types() -> &'static [(&'static str, usize)] {
    static TYPES: std::sync::OnceLock<Vec<(&'static str, usize)>> = std::sync::OnceLock::new();
    TYPES.get_or_init(|| {
        let mut counts: Vec<(&'static str, usize)> = Vec::new();
        for e in event::EVENTS {
            match counts.iter_mut().find(|(n, _)| *n == e.name) {
                Some((_, c)) => *c += 1,
                None => counts.push((e.name, 1)),
            }
        }
        for (_, name) in event::SYSCALL_NAMES {
            if !counts.iter().any(|(n, _)| n == name) {
                counts.push((name, 2));
            }
        }
        counts
    })
}

const CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

fn caps(v: u64) -> String {
    CAPS.iter().enumerate().filter(|(i, _)| v & (1u64 << i) != 0).map(|(_, n)| *n).collect::<Vec<_>>().join(" ")
}

fn one(s: impl Into<String>) -> Option<Vec<String>> {
    Some(vec![s.into()])
}

fn b(v: bool) -> Option<Vec<String>> {
    one(if v { "true" } else { "false" })
}

/// Civil date from days since the epoch (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

struct Ts {
    date: String,
    time: String,
    ns: u64,
}

fn ts(ns: u64) -> Ts {
    let secs = i64::try_from(ns / 1_000_000_000).unwrap_or(0);
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    Ts {
        date: format!("{y:04}-{m:02}-{d:02}"),
        time: format!("{:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60),
        ns: ns % 1_000_000_000,
    }
}

fn category_name(view: &EventView<'_>) -> &'static str {
    let c = view.current.info.category;
    let low = c & 0xff & !(ec::WAIT | ec::SCHEDULER) & 0x3f;
    if c & ec::IO_BASE != 0 && low >= ec::IO_BASE {
        return match &view.current.fd {
            Some(f) => match f.fd_type {
                fdt::FILE | fdt::FILE_V2 | fdt::DIRECTORY => "file",
                fdt::IPV4_SOCK | fdt::IPV6_SOCK | fdt::IPV4_SERVSOCK | fdt::IPV6_SERVSOCK => "net",
                fdt::FIFO | fdt::UNIX_SOCK | fdt::EVENT | fdt::SIGNALFD | fdt::INOTIFY => "IPC",
                _ => "other",
            },
            None => "unknown",
        };
    }
    if c & ec::WAIT != 0 {
        return "wait";
    }
    if c & ec::SCHEDULER != 0 {
        return "scheduler";
    }
    if c & ec::INTERNAL != 0 && low == 0 {
        return "internal";
    }
    match low {
        ec::OTHER => "other",
        ec::FILE => "file",
        ec::NET => "net",
        ec::IPC => "IPC",
        ec::MEMORY => "memory",
        ec::PROCESS => "process",
        ec::SLEEP => "sleep",
        ec::SYSTEM => "system",
        ec::SIGNAL => "signal",
        ec::USER => "user",
        ec::TIME => "time",
        ec::PROCESSING => "processing",
        _ => "unknown",
    }
}

/// The container id from a thread's cgroups (`host` when none matches), as the container
/// plugin's matchers read docker, CRI-O and containerd layouts.
#[must_use]
pub fn container_id(t: &Thread) -> String {
    for (_, path) in &t.cgroups {
        for seg in path.split('/') {
            let s = seg.trim_end_matches(".scope");
            let s = s
                .strip_prefix("docker-")
                .or_else(|| s.strip_prefix("crio-"))
                .or_else(|| s.strip_prefix("cri-containerd-"))
                .or_else(|| s.strip_prefix("libpod-"))
                .unwrap_or(s);
            let s = s.rsplit(':').next().unwrap_or(s);
            if s.len() == 64 && s.bytes().all(|c| c.is_ascii_hexdigit()) {
                return s.get(..12).unwrap_or(s).to_owned();
            }
        }
    }
    "host".into()
}

impl EventView<'_> {
    /// Whether the event is internal to the libraries (process info, container metadata), not
    /// shown by sysdig and never matched by Falco's syscall rules.
    #[must_use]
    pub fn is_internal(&self) -> bool {
        self.current.info.category & (ec::INTERNAL | ec::METAEVENT) != 0
            || matches!(self.current.info.name, "procinfo" | "container")
    }

    fn tid(&self) -> i64 {
        i64::from_le_bytes(self.current.raw.tid.to_le_bytes())
    }

    fn is_enter(&self) -> bool {
        event::is_enter(self.current.raw.etype)
    }

    /// The fd info of the event, as libsinsp's fd filterchecks find it.
    fn fdinfo(&self) -> Option<FdInfo> {
        if let Some(f) = &self.current.fd {
            return Some(f.clone());
        }
        if self.current.lastevent_fd != -1 {
            return self.inspector.fd(self.tid(), self.current.lastevent_fd).cloned();
        }
        None
    }

    fn fd_event(&self) -> bool {
        // sysdig 0.29's table did not mark mmap as using an fd
        !matches!(self.current.info.name, "mmap" | "mmap2")
            && self.current.info.flags & (ef::CREATES_FD | ef::USES_FD | ef::DESTROYS_FD) != 0
            && self.thread().is_some()
    }

    fn ancestor(&self, t: &Thread, n: i64) -> Option<Thread> {
        let mut cur = self.inspector.main_thread(t).clone();
        for _ in 0..n {
            let p = self.inspector.parent(&cur)?;
            cur = self.inspector.main_thread(p).clone();
        }
        Some(cur)
    }

    fn cmdline(t: &Thread) -> String {
        let mut s = t.comm.clone();
        for a in &t.args {
            s.push(' ');
            s.push_str(a);
        }
        s
    }

    fn res(&self) -> Option<i64> {
        if self.is_enter() {
            return None;
        }
        pnamed(self.current, "res").or_else(|| pnamed(self.current, "fd")).and_then(|v| v.as_i64())
    }

    fn arg(&self, key: &str, raw: bool) -> Option<String> {
        let idx = if let Some(n) = key.strip_prefix('[').and_then(|k| k.strip_suffix(']')) {
            n.parse::<usize>().ok()
        } else {
            key.parse::<usize>().ok()
        };
        let i = match idx {
            Some(i) => {
                if i >= self.current.info.params.len() {
                    return None;
                }
                i
            }
            None => self.current.info.params.iter().take(self.current.raw.params.len()).position(|p| p.name == key)?,
        };
        if raw {
            let p = self.current.info.params.get(i)?;
            let v = event::decode(p, self.current.raw.params.get(i)?);
            return Some(match v.as_i64() {
                Some(n) => n.to_string(),
                None => v.as_bytes().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default(),
            });
        }
        let (v, r) = render::param_str(self, i)?;
        Some(if r.is_empty() { v } else { r })
    }

    fn fd_name_from_creator(&self) -> Option<String> {
        if self.is_enter() {
            return None;
        }
        let name = self.current.info.name;
        match name {
            "open" | "accept" | "accept4" | "creat" | "connect" => {
                let (v, r) = render::param_str(self, 1)?;
                Some(if r.is_empty() { v } else { r })
            }
            "openat" | "openat2" => {
                let path = pnamed(self.current, "name").or_else(|| enter_named(self.current, "name"))?;
                let path = String::from_utf8_lossy(path.as_bytes()?).into_owned();
                let dirfd = pnamed(self.current, "dirfd")
                    .or_else(|| enter_named(self.current, "dirfd"))
                    .and_then(|v| v.as_i64());
                let base = match dirfd {
                    Some(d) if d != -100 => {
                        self.inspector.fd(self.tid(), d).map(|f| format!("{}/", f.name)).unwrap_or_default()
                    }
                    _ => self.inspector.cwd(self.tid()).unwrap_or("").to_owned(),
                };
                Some(render::concat_path(&base, &path))
            }
            _ => Some(String::new()),
        }
    }

    /// libsinsp's `fs.path.*` (sinsp_filter_check_fspath at libs@48dfd53): for the exit events
    /// of the current layouts of the system calls that act on paths, when they succeeded, the
    /// path argument (`name`), or the source and target of two-path calls; `*raw` as passed, the
    /// others resolved (relative paths after the working directory, or the directory fd for the
    /// `*at` calls that libsinsp resolves so, `<UNKNOWN>` when that fd is not a known directory).
    fn fs_path(&self, field: &str) -> Option<String> {
        /// Where a path comes from: a parameter, or the event's fd (`fd.name`).
        #[derive(Clone, Copy)]
        enum Src {
            Param(&'static str),
            FdName,
        }
        use Src::{FdName, Param};
        let cur = self.current;
        // PPME codes (driver/ppm_events_public.h): (success is fd != -1, path, source, target)
        let (fd_success, path, source, target) = match cur.raw.etype {
            // mkdir_2, rmdir_2, unlink_2, chown, lchown
            277 | 279 | 301 | 379 | 381 => (false, Some(Param("path")), None, None),
            305 => (false, Some(Param("path")), None, None), // mkdirat
            303 => (false, Some(Param("name")), None, None), // unlinkat_2
            3 | 307 | 327 => (true, Some(Param("name")), None, None), // open, openat_2, openat2
            313 | 315 => (false, Some(Param("filename")), None, None), // fchmodat, chmod
            317 | 383 => (false, Some(FdName), None, None),  // fchmod, fchown
            385 => (false, Some(Param("pathname")), None, None), // fchownat
            191 => (false, Some(Param("special")), None, None), // quotactl
            // rename, renameat, renameat2
            175 | 177 | 319 => (false, None, Some(Param("oldpath")), Some(Param("newpath"))),
            // link_2, linkat_2: the new link is the source
            309 | 311 => (false, None, Some(Param("newpath")), Some(Param("oldpath"))),
            // symlink, symlinkat
            179 | 181 => (false, None, Some(Param("linkpath")), Some(Param("target"))),
            257 => (false, None, Some(Param("dev")), Some(Param("dir"))), // mount
            387 | 391 => (false, Some(Param("name")), None, None),        // umount, umount2
            _ => return None,
        };
        let raw_int = |n: &str| pnamed(cur, n).and_then(|v| v.as_i64());
        let ok = if fd_success { raw_int("fd").is_some_and(|fd| fd != -1) } else { raw_int("res") == Some(0) };
        if !ok {
            return None;
        }
        let (which, raw) = match field {
            "fs.path.name" => (path, false),
            "fs.path.nameraw" => (path, true),
            "fs.path.source" => (source, false),
            "fs.path.sourceraw" => (source, true),
            "fs.path.target" => (target, false),
            "fs.path.targetraw" => (target, true),
            _ => return None,
        };
        let mut p = match which? {
            Param(n) => String::from_utf8_lossy(pnamed(cur, n)?.as_bytes()?).into_owned(),
            FdName => self.extract_fd("fd.name")?.into_iter().next()?,
        };
        if raw {
            return Some(p);
        }
        self.thread()?;
        let tid = self.tid();
        if p.starts_with('/') {
            return Some(render::concat_path("", &p));
        }
        // a directory fd as libsinsp's format_dirfd: its name with a slash, if it is a directory
        let dir_of = |fd_param: &str| -> String {
            let f = raw_int(fd_param).and_then(|fd| self.inspector.fd(tid, fd)).filter(|f| f.fd_type == fdt::DIRECTORY);
            match f {
                None => "<UNKNOWN>".to_owned(),
                Some(f) if f.name.is_empty() || f.name.ends_with('/') => f.name.clone(),
                Some(f) => format!("{}/", f.name),
            }
        };
        let dir = match cur.raw.etype {
            // openat_2, openat2: the opened fd's name, already resolved by the parser
            307 | 327 => {
                p = self.current.fd.as_ref().map_or_else(|| "<UNKNOWN>".to_owned(), |f| f.name.clone());
                String::new()
            }
            // newfstatat, fchownat, fchmodat, mkdirat, unlinkat_2, mknodat
            419 | 385 | 313 | 305 | 303 | 417 => dir_of("dirfd"),
            181 if field == "fs.path.source" => dir_of("linkdirfd"),
            181 => "<UNKNOWN>".to_owned(),
            319 if field != "fs.path.name" => {
                // renameat2: libsinsp's parse_dirfd for the old or new directory fd
                let fd = raw_int(if field == "fs.path.target" { "newdirfd" } else { "olddirfd" });
                match fd {
                    Some(-100) => self.inspector.cwd(tid).unwrap_or("").to_owned(),
                    Some(fd) => match self.inspector.fd(tid, fd) {
                        None => "<UNKNOWN>".to_owned(),
                        Some(f) if f.name.is_empty() || f.name.ends_with('/') => f.name.clone(),
                        Some(f) => format!("{}/", f.name),
                    },
                    None => "<UNKNOWN>".to_owned(),
                }
            }
            319 => "<UNKNOWN>".to_owned(),
            _ => self.inspector.cwd(tid).unwrap_or("").to_owned(),
        };
        Some(render::concat_path(&dir, &p))
    }

    fn extract_fd(&self, name: &str) -> Option<Vec<String>> {
        if !self.fd_event() {
            return None;
        }
        if name == "fd.num" {
            return one(self.current.lastevent_fd.to_string());
        }
        let f = self.fdinfo();
        let connect_failed =
            self.current.info.name == "connect" && !self.is_enter() && self.res().is_some_and(|r| r < 0);
        let null_fd = f.is_none() || (connect_failed && matches!(name, "fd.name"));
        if null_fd {
            return match name {
                "fd.name" => self.fd_name_from_creator().map(|s| vec![s]),
                "fd.directory" => {
                    let s = self.fd_name_from_creator()?;
                    match s.rfind('/') {
                        Some(p) if p != 0 => one(if p < s.len() - 1 { s.get(..p).unwrap_or("").to_owned() } else { s }),
                        _ => one("/"),
                    }
                }
                "fd.filename" => {
                    if !self.is_enter() || !matches!(self.current.info.name, "open" | "openat" | "openat2" | "creat") {
                        return None;
                    }
                    None
                }
                "fd.typechar" => one(match self.current.info.name {
                    "open" | "openat" | "openat2" | "creat" => "f",
                    "socket" | "accept" | "accept4" => "4",
                    "pipe" => "p",
                    "eventfd" => "e",
                    "signalfd" => "s",
                    "timerfd_create" => "t",
                    "inotify_init" => "i",
                    _ => "o",
                }),
                _ => None,
            };
        }
        let f = f?;
        let ip_of = |a: &SockInfo, server: bool| -> Option<(IpAddr, u16)> {
            match a {
                SockInfo::V4 { sip, sport, dip, dport } => {
                    Some(if server { (IpAddr::V4(*dip), *dport) } else { (IpAddr::V4(*sip), *sport) })
                }
                SockInfo::V6 { sip, sport, dip, dport } => {
                    Some(if server { (IpAddr::V6(*dip), *dport) } else { (IpAddr::V6(*sip), *sport) })
                }
                SockInfo::V4Server { ip, port } if server => Some((IpAddr::V4(*ip), *port)),
                SockInfo::V6Server { ip, port } if server => Some((IpAddr::V6(*ip), *port)),
                _ => None,
            }
        };
        let role_none = !f.role_client && !f.role_server;
        let servsock = matches!(f.fd_type, fdt::IPV4_SERVSOCK | fdt::IPV6_SERVSOCK);
        match name {
            "fd.name" => one(render::sanitize(&f.name)),
            "fd.nameraw" => one(f.nameraw.clone()),
            "fd.type" => f.typestring().map(|s| vec![s.to_owned()]),
            "fd.typechar" => one(f.typechar().to_string()),
            "fd.directory" => {
                if !(f.is_file() || f.fd_type == fdt::DIRECTORY) {
                    return None;
                }
                let s = render::sanitize(&f.name);
                if f.is_file() {
                    match s.rfind('/') {
                        Some(p) if p != 0 => one(if p < s.len() - 1 { s.get(..p).unwrap_or("").to_owned() } else { s }),
                        _ => one("/"),
                    }
                } else {
                    one(s)
                }
            }
            "fd.filename" => {
                if !f.is_file() {
                    return None;
                }
                let s = render::sanitize(&f.name);
                match s.rfind('/') {
                    Some(p) if p < s.len() - 1 => one(s.get(p + 1..).unwrap_or("").to_owned()),
                    Some(_) => one(s),
                    None => one("/"),
                }
            }
            "fd.cip" | "fd.cnet" | "fd.cport" => {
                if servsock || role_none {
                    return None;
                }
                let (a, p) = ip_of(&f.sock, false)?;
                one(if name == "fd.cport" { p.to_string() } else { a.to_string() })
            }
            "fd.sip" | "fd.snet" | "fd.sport" => {
                if role_none && !servsock {
                    return None;
                }
                let (a, p) = ip_of(&f.sock, true)?;
                one(if name == "fd.sport" { p.to_string() } else { a.to_string() })
            }
            "fd.lip" | "fd.lnet" | "fd.lport" | "fd.rip" | "fd.rnet" | "fd.rport" => {
                if role_none || servsock {
                    return None;
                }
                // local: the client address is one of this machine's
                let client_local = match &f.sock {
                    SockInfo::V4 { sip, .. } => self.inspector.is_local_v4(*sip),
                    SockInfo::V6 { sip, .. } => self.inspector.is_local_v6(*sip),
                    _ => return None,
                };
                let local = name.starts_with("fd.l");
                let (a, p) = ip_of(&f.sock, local != client_local)?;
                one(if name.ends_with("port") { p.to_string() } else { a.to_string() })
            }
            "fd.ip" | "fd.net" | "fd.port" => {
                let mut v = Vec::new();
                for server in [false, true] {
                    if let Some((a, p)) = ip_of(&f.sock, server) {
                        v.push(if name == "fd.port" { p.to_string() } else { a.to_string() });
                    }
                }
                if v.is_empty() { None } else { Some(v) }
            }
            "fd.l4proto" => match (f.is_ip(), f.l4proto_eff()) {
                (true, l4::TCP) => one("tcp"),
                (true, l4::UDP) => one("udp"),
                (true, l4::ICMP) => one("icmp"),
                (true, l4::RAW) => one("raw"),
                _ => None,
            },
            "fd.sockfamily" => match f.fd_type {
                fdt::IPV4_SOCK | fdt::IPV6_SOCK | fdt::IPV4_SERVSOCK | fdt::IPV6_SERVSOCK => one("ip"),
                fdt::UNIX_SOCK => one("unix"),
                _ => None,
            },
            "fd.is_server" => b(match &f.sock {
                _ if servsock => true,
                SockInfo::V4 { dip, .. } if f.fd_type == fdt::IPV4_SOCK => self.inspector.is_local_v4(*dip),
                SockInfo::V6 { dip, .. } if f.fd_type == fdt::IPV6_SOCK => self.inspector.is_local_v6(*dip),
                // a socket with no tuple yet reads as all zeros
                SockInfo::None if f.fd_type == fdt::IPV4_SOCK => self.inspector.is_local_v4(Ipv4Addr::UNSPECIFIED),
                SockInfo::None if f.fd_type == fdt::IPV6_SOCK => self.inspector.is_local_v6(Ipv6Addr::UNSPECIFIED),
                _ => false,
            }),
            "fd.connected" => b(f.connected),
            "fd.name_changed" => b(f.name_changed),
            "fd.dev" => one(f.dev.to_string()),
            "fd.ino" => one(f.ino.to_string()),
            _ => None,
        }
    }

    /// Extracts a field by name (the argument as written in brackets or after `evt.arg.`).
    #[must_use]
    pub fn field(&self, name: &str, arg: Option<&str>) -> Option<Vec<String>> {
        let cur = self.current;
        let raw = &cur.raw;
        // the calendar time only for the fields that print it (it is not cheap)
        let t = || ts(raw.ts);
        match name {
            "evt.num" => return one(raw.num.to_string()),
            "evt.time" => {
                let t = t();
                return one(format!("{}.{:09}", t.time, t.ns));
            }
            "evt.time.s" => return one(t().time),
            "evt.time.iso8601" => {
                let t = t();
                return one(format!("{}T{}.{:09}+0000", t.date, t.time, t.ns));
            }
            "evt.datetime" => {
                let t = t();
                return one(format!("{} {}.{:09}", t.date, t.time, t.ns));
            }
            "evt.datetime.s" => {
                let t = t();
                return one(format!("{} {}", t.date, t.time));
            }
            "evt.rawtime" => return one(raw.ts.to_string()),
            "evt.rawtime.s" => return one((raw.ts / 1_000_000_000).to_string()),
            "evt.rawtime.ns" => return one((raw.ts % 1_000_000_000).to_string()),
            "evt.type" => {
                if cur.info.name == "syscall" {
                    let id = raw.params.first().and_then(|p| event::le_u16(p))?;
                    // sysdig 0.29's syscall table names code 0 `<unknown>`
                    return one(if id == 0 { "<unknown>" } else { event::syscall_name(id).unwrap_or("") });
                }
                return one(cur.info.name);
            }
            "syscall.type" => {
                // system call events only (not procexit, page faults, internal events)
                if cur.info.category & event::ec::SYSCALL == 0 {
                    return None;
                }
                if cur.info.name == "syscall" {
                    let id = raw.params.first().and_then(|p| event::le_u16(p))?;
                    return event::syscall_name(id).map(|n| vec![n.to_owned()]);
                }
                return one(cur.info.name);
            }
            "evt.dir" => return one(if self.is_enter() { ">" } else { "<" }),
            "evt.cpu" => return one(raw.cpu.to_string()),
            "evt.category" => return one(category_name(self)),
            "evt.args" => return one(render::args(self)),
            "evt.arg" => return self.arg(arg?, false).map(|s| vec![s]),
            "evt.rawarg" => return self.arg(arg?, true).map(|s| vec![s]),
            "evt.res" => {
                let r = self.res()?;
                return one(if r >= 0 {
                    "SUCCESS".to_owned()
                } else {
                    render::errno_name(r).map_or_else(|| r.to_string(), str::to_owned)
                });
            }
            "evt.rawres" => return one(self.res()?.to_string()),
            "evt.failed" => return b(self.res().is_some_and(|r| r < 0)),
            "evt.is_open_read" | "evt.is_open_write" | "evt.is_open_exec" => {
                let open = matches!(cur.info.name, "open" | "openat" | "openat2" | "creat");
                let flags = if open { pnamed(cur, "flags").and_then(|v| v.as_i64()).unwrap_or(0) } else { 0 };
                let v = match name {
                    "evt.is_open_read" => flags & 1 != 0,
                    "evt.is_open_write" => flags & 2 != 0,
                    _ => {
                        let creat = event::flag_table_named("file_flags")
                            .iter()
                            .find(|(n, _)| *n == "O_CREAT")
                            .map_or(0, |(_, v)| i64::from(*v));
                        let mode = pnamed(cur, "mode").and_then(|v| v.as_i64()).unwrap_or(0);
                        open && (flags & creat != 0 || cur.info.name == "creat") && mode & 0o111 != 0
                    }
                };
                return b(v);
            }
            "evt.buffer" => {
                let i = cur.info.params.iter().take(raw.params.len()).position(|p| p.name == "data")?;
                return render::param_str(self, i).map(|(v, _)| vec![v]);
            }
            "evt.buflen" => {
                if cur.fd.is_none() || cur.info.category & ec::IO_BASE == 0 || self.is_enter() {
                    return None;
                }
                return self.res().filter(|r| *r >= 0).map(|r| vec![r.to_string()]);
            }
            "evt.is_io" | "evt.is_io_read" | "evt.is_io_write" => {
                let low = cur.info.category & 0x3f;
                return b(match name {
                    "evt.is_io" => low == ec::IO_READ || low == ec::IO_WRITE,
                    "evt.is_io_read" => low == ec::IO_READ,
                    _ => low == ec::IO_WRITE,
                });
            }
            "evt.source" => return one("syscall"),
            "evt.hostname" => return None,
            "thread.tid" => return one(self.tid().to_string()),
            _ => {}
        }
        if name.starts_with("fd.") {
            return self.extract_fd(name);
        }
        if name.starts_with("fs.path.") {
            return self.fs_path(name).map(|p| vec![p]);
        }
        let th = self.thread()?;
        if name.starts_with("k8s.") || (name.starts_with("container.") && name != "container.id") {
            return self.container_field(th, name, arg);
        }
        let ins = self.inspector;
        let nonneg = |v: i64| if v == -1 { None } else { one(v.to_string()) };
        let user = ins.user(th.uid);
        match name {
            "proc.pid" => one(th.pid.to_string()),
            "proc.name" => one(th.comm.clone()),
            "proc.exe" => one(th.exe.clone()),
            "proc.exepath" => one(th.exepath.clone()),
            "proc.pexepath" | "proc.pexe" | "proc.pname" | "proc.pcmdline" => {
                // the parent of the process (libsinsp's get_ancestor_process: the main thread's
                // parent, by its main thread), not of the thread
                let p = &self.ancestor(th, 1)?;
                one(match name {
                    "proc.pexepath" => p.exepath.clone(),
                    "proc.pexe" => p.exe.clone(),
                    "proc.pname" => p.comm.clone(),
                    _ => Self::cmdline(p),
                })
            }
            "proc.aname" | "proc.apid" | "proc.aexepath" | "proc.aexe" | "proc.acmdline" => {
                let n = arg.and_then(|a| a.parse::<i64>().ok()).unwrap_or(1);
                let a = self.ancestor(th, n)?;
                one(match name {
                    "proc.aname" => a.comm.clone(),
                    "proc.apid" => a.pid.to_string(),
                    "proc.aexepath" => a.exepath,
                    "proc.aexe" => a.exe,
                    _ => Self::cmdline(&a),
                })
            }
            "proc.cmdline" => one(Self::cmdline(th)),
            "proc.args" => one(th.args.join(" ")),
            "proc.env" => one(self.inspector.main_thread(th).env.join(" ")),
            "proc.cwd" => one(ins.cwd(th.tid).unwrap_or("").to_owned()),
            "proc.ppid" => one(ins.main_thread(th).ptid.to_string()),
            "proc.sid" => one(th.sid.to_string()),
            "proc.sname" => {
                if let Some(s) = ins.thread(th.sid) {
                    return one(s.comm.clone());
                }
                let mut mt = ins.main_thread(th).clone();
                let sid = mt.sid;
                let mut guard = 0;
                while let Some(p) = ins.parent(&mt) {
                    guard += 1;
                    if p.sid != sid || guard > 4096 || p.tid == mt.tid {
                        break;
                    }
                    mt = p.clone();
                }
                one(mt.comm)
            }
            "proc.vpid" => nonneg(th.vpid),
            "proc.vpgid" => nonneg(th.vpgid),
            "proc.tty" => one(th.tty.to_string()),
            "proc.loginshellid" => {
                let mut mt = ins.main_thread(th).clone();
                let mut res = None;
                let mut guard = 0;
                loop {
                    if mt.comm.ends_with("sh") {
                        res = Some(mt.pid);
                    }
                    let Some(p) = ins.parent(&mt) else { break };
                    guard += 1;
                    if guard > 4096 || p.tid == mt.tid {
                        break;
                    }
                    mt = p.clone();
                }
                res.map(|r| vec![r.to_string()])
            }
            "proc.duration" => {
                if th.clone_ts == 0 {
                    None
                } else {
                    one(i64::try_from(raw.ts.saturating_sub(th.clone_ts)).unwrap_or(0).to_string())
                }
            }
            "proc.is_exe_writable" => b(th.exe_writable),
            "proc.is_exe_upper_layer" => b(th.exe_upper_layer),
            "proc.is_exe_from_memfd" => b(th.exe_from_memfd),
            "thread.vtid" => nonneg(th.vtid),
            "thread.ismain" => b(th.is_main()),
            "thread.cap_effective" => one(caps(th.cap_effective)),
            "thread.cap_permitted" => one(caps(th.cap_permitted)),
            "thread.cap_inheritable" => one(caps(th.cap_inheritable)),
            "user.uid" => one(th.uid.to_string()),
            "user.name" => user.map(|u| vec![String::from_utf8_lossy(&u.name).into_owned()]),
            "user.homedir" => user.map(|u| vec![String::from_utf8_lossy(&u.homedir).into_owned()]),
            "user.shell" => user.map(|u| vec![String::from_utf8_lossy(&u.shell).into_owned()]),
            "user.loginuid" => one(i32::from_le_bytes(th.loginuid.to_le_bytes()).to_string()),
            "user.loginname" => ins.user(th.loginuid).map(|u| vec![String::from_utf8_lossy(&u.name).into_owned()]),
            "group.gid" => one(th.gid.to_string()),
            "group.name" => ins.group(th.gid).map(|g| vec![g.to_owned()]),
            "container.id" => one(container_id(th)),
            _ => None,
        }
    }

    /// `container.*` (but `container.id`) and `k8s.*`: `host` for the name and type of a
    /// process outside containers, the container's metadata where it is known (a capture's
    /// `container` event, or the runtime's state read by the live source), nothing otherwise.
    fn container_field(&self, th: &Thread, name: &str, arg: Option<&str>) -> Option<Vec<String>> {
        let id = container_id(th);
        if id == "host" {
            return match name {
                // as sysdig 0.29 prints them for a process on the host: the rest is <NA>
                "container.name" | "container.type" => one("host"),
                _ => None,
            };
        }
        let c = self.inspector.container(&id)?;
        let text = |v: &str| if v.is_empty() { None } else { one(v) };
        let mount_at = |key: &str, by_dest: bool| -> Option<&crate::container::Mount> {
            match key.parse::<usize>() {
                Ok(i) => c.mounts.get(i),
                Err(_) => c.mounts.iter().find(|m| if by_dest { m.dest == key } else { m.source == key }),
            }
        };
        match name {
            "container.name" => text(&c.name),
            "container.image" => text(&c.image),
            "container.image.id" => text(&c.image_id),
            "container.image.repository" => text(&c.image_repo),
            "container.image.tag" => text(&c.image_tag),
            "container.image.digest" => text(&c.image_digest),
            "container.type" => text(&c.kind),
            "container.privileged" => c.privileged.and_then(b),
            "container.start_ts" => c.start_ts.map(|t| vec![t.to_string()]),
            "container.mounts" => one(c
                .mounts
                .iter()
                .map(|m| format!("{}:{}:{}:{}:{}", m.source, m.dest, m.mode, m.rw, m.propagation))
                .collect::<Vec<_>>()
                .join(",")),
            "container.mount.source" => mount_at(arg?, true).map(|m| vec![m.source.clone()]),
            "container.mount.dest" => mount_at(arg?, false).map(|m| vec![m.dest.clone()]),
            "k8s.ns.name" => c.label("io.kubernetes.pod.namespace").and_then(text),
            "k8s.pod.name" => c.label("io.kubernetes.pod.name").and_then(text),
            "k8s.pod.uid" => c.label("io.kubernetes.pod.uid").and_then(text),
            _ => None,
        }
    }
}

impl Event for EventView<'_> {
    fn time_ns(&self) -> i64 {
        i64::try_from(self.current.raw.ts).unwrap_or(i64::MAX)
    }

    fn extract(&self, field: &FieldDef, arg: Option<&str>) -> Option<Vec<String>> {
        self.field(field.name, arg)
    }
}
