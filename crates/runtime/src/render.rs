//! Rendering of parameters and addresses as libsinsp (sysdig 0.29 / Falco 0.35) prints them.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::event::{self, ParamInfoRef, SockAddr, SockTuple, Value, pt};
use crate::state::{Current, EventView, l4};

/// `a.b.c.d:p->e.f.g.h:q`.
#[must_use]
pub fn tuple_v4(s: Ipv4Addr, sp: u16, d: Ipv4Addr, dp: u16) -> String {
    format!("{s}:{sp}->{d}:{dp}")
}

/// `s:p->d:q` with IPv6 text forms.
#[must_use]
pub fn tuple_v6(s: Ipv6Addr, sp: u16, d: Ipv6Addr, dp: u16) -> String {
    format!("{s}:{sp}->{d}:{dp}")
}

/// libsinsp's `concatenate_paths`: an absolute `path` alone, a relative one after `base`, both
/// with `.`, `..` and repeated slashes resolved.
#[must_use]
pub fn concat_path(base: &str, path: &str) -> String {
    let full = if path.starts_with('/') || base.is_empty() && !path.is_empty() && path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{base}{path}")
    };
    if !full.starts_with('/') {
        return full;
    }
    let mut parts: Vec<&str> = Vec::new();
    for seg in full.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let mut out = String::from("/");
    out.push_str(&parts.join("/"));
    out
}

/// libsinsp's `errno_to_str` for a negative return value.
#[must_use]
pub fn errno_name(v: i64) -> Option<&'static str> {
    const NAMES: &[&str] = &[
        "",
        "EPERM",
        "ENOENT",
        "ESRCH",
        "EINTR",
        "EIO",
        "ENXIO",
        "E2BIG",
        "ENOEXEC",
        "EBADF",
        "ECHILD",
        "EAGAIN",
        "ENOMEM",
        "EACCES",
        "EFAULT",
        "ENOTBLK",
        "EBUSY",
        "EEXIST",
        "EXDEV",
        "ENODEV",
        "ENOTDIR",
        "EISDIR",
        "EINVAL",
        "ENFILE",
        "EMFILE",
        "ENOTTY",
        "ETXTBSY",
        "EFBIG",
        "ENOSPC",
        "ESPIPE",
        "EROFS",
        "EMLINK",
        "EPIPE",
        "EDOM",
        "ERANGE",
        "EDEADLK",
        "ENAMETOOLONG",
        "ENOLCK",
        "ENOSYS",
        "ENOTEMPTY",
        "ELOOP",
        "",
        "ENOMSG",
        "EIDRM",
        "ECHRNG",
        "EL2NSYNC",
        "EL3HLT",
        "EL3RST",
        "ELNRNG",
        "EUNATCH",
        "ENOCSI",
        "EL2HLT",
        "EBADE",
        "EBADR",
        "EXFULL",
        "ENOANO",
        "EBADRQC",
        "EBADSLT",
        "",
        "EBFONT",
        "ENOSTR",
        "ENODATA",
        "ETIME",
        "ENOSR",
        "ENONET",
        "ENOPKG",
        "EREMOTE",
        "ENOLINK",
        "EADV",
        "ESRMNT",
        "ECOMM",
        "EPROTO",
        "EMULTIHOP",
        "EDOTDOT",
        "EBADMSG",
        "EOVERFLOW",
        "ENOTUNIQ",
        "EBADFD",
        "EREMCHG",
        "ELIBACC",
        "ELIBBAD",
        "ELIBSCN",
        "ELIBMAX",
        "ELIBEXEC",
        "EILSEQ",
        "ERESTART",
        "ESTRPIPE",
        "EUSERS",
        "ENOTSOCK",
        "EDESTADDRREQ",
        "EMSGSIZE",
        "EPROTOTYPE",
        "ENOPROTOOPT",
        "EPROTONOSUPPORT",
        "ESOCKTNOSUPPORT",
        "EOPNOTSUPP",
        "EPFNOSUPPORT",
        "EAFNOSUPPORT",
        "EADDRINUSE",
        "EADDRNOTAVAIL",
        "ENETDOWN",
        "ENETUNREACH",
        "ENETRESET",
        "ECONNABORTED",
        "ECONNRESET",
        "ENOBUFS",
        "EISCONN",
        "ENOTCONN",
        "ESHUTDOWN",
        "ETOOMANYREFS",
        "ETIMEDOUT",
        "ECONNREFUSED",
        "EHOSTDOWN",
        "EHOSTUNREACH",
        "EALREADY",
        "EINPROGRESS",
        "ESTALE",
        "EUCLEAN",
        "ENOTNAM",
        "ENAVAIL",
        "EISNAM",
        "EREMOTEIO",
        "EDQUOT",
        "ENOMEDIUM",
        "EMEDIUMTYPE",
        "ECANCELED",
        "ENOKEY",
        "EKEYEXPIRED",
        "EKEYREVOKED",
        "EKEYREJECTED",
        "EOWNERDEAD",
        "ENOTRECOVERABLE",
        "ERFKILL",
        "EHWPOISON",
    ];
    if v >= 0 {
        return None;
    }
    let n = usize::try_from(v.checked_neg()?).ok()?;
    match n {
        512 => Some("ERESTARTSYS"),
        513 => Some("ERESTARTNOINTR"),
        514 => Some("ERESTARTNOHAND"),
        515 => Some("ENOIOCTLCMD"),
        516 => Some("ERESTART_RESTARTBLOCK"),
        _ => NAMES.get(n).copied().filter(|s| !s.is_empty()),
    }
}

/// libsinsp's `signal_to_str`.
#[must_use]
pub fn signal_name(s: u8) -> Option<&'static str> {
    const N: &[&str] = &[
        "",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    N.get(usize::from(s)).copied().filter(|s| !s.is_empty())
}

/// C's `%g`.
#[must_use]
pub fn fmt_g(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor();
    if !(-4.0..6.0).contains(&exp) {
        let s = format!("{v:.5e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') { m.trim_end_matches('0').trim_end_matches('.') } else { m };
        let e: i32 = e.parse().unwrap_or(0);
        return format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let decimals = (5.0 - exp).max(0.0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s }
}

fn printable(b: &[u8]) -> String {
    b.iter().map(|&c| if (0x20..0x7f).contains(&c) { char::from(c) } else { '.' }).collect()
}

/// Drops the characters libsinsp's `sanitize_string` drops (control characters).
#[must_use]
pub fn sanitize(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

fn num(fmt: u8, signed: i64, unsigned: u64, width: usize) -> String {
    let mask = if width >= 8 { u64::MAX } else { (1u64 << (width * 8)) - 1 };
    match fmt {
        6 => {
            let u = unsigned & mask;
            if u == 0 { "0".into() } else { format!("0{u:o}") }
        }
        2 => format!("{:X}", unsigned & mask),
        3 => format!("{signed:09}"),
        _ => signed.to_string(),
    }
}

fn flags_names(table: &[(&str, u32)], val: u32) -> String {
    let mut out = String::new();
    let mut sep = "";
    let mut v = val;
    let mut it = table.iter();
    let mut rest = None;
    for e in it.by_ref() {
        let &(name, fv) = e;
        if fv == val {
            rest = Some(name);
            break;
        }
        if (fv == 0 && val == 0) || (fv != 0 && v & fv == fv && v != 0) {
            let _ = write!(out, "{sep}{name}");
            sep = "|";
            v &= !fv;
        }
    }
    if let Some(n) = rest {
        let _ = write!(out, "{sep}{n}");
    }
    out
}

/// The (value, resolved) texts of parameter `i` of the event, as `get_param_as_str` gives them.
#[must_use]
pub fn param_str(view: &EventView<'_>, i: usize) -> Option<(String, String)> {
    let cur: &Current = view.current;
    let pinfo = cur.info.params.get(i)?;
    let payload = cur.raw.params.get(i)?;
    let mut ptype = pinfo.ptype;
    let fmt = pinfo.fmt;
    let mut b: &[u8] = payload;
    if ptype == pt::DYN
        && let ParamInfoRef::Dyn(t) = pinfo.info
        && let Some(idx) = b.first()
        && let Some(&(ty, _)) = event::DYN_TABLES.get(t).and_then(|(_, d)| d.get(usize::from(*idx)))
    {
        ptype = ty;
        b = b.get(1..).unwrap_or(&[]);
    }
    let ins = view.inspector;
    let tid = i64::from_le_bytes(cur.raw.tid.to_le_bytes());
    let tinfo = ins.thread(tid);
    let width = b.len();
    let sv = |b: &[u8]| -> (i64, u64) {
        let u = match b.len() {
            1 => u64::from(b.first().copied().unwrap_or(0)),
            2 => u64::from(event::le_u16(b).unwrap_or(0)),
            4 => u64::from(event::le_u32(b).unwrap_or(0)),
            _ => event::le_u64(b).unwrap_or(0),
        };
        let s = match b.len() {
            1 => i64::from(b.first().map_or(0, |&x| i8::from_le_bytes([x]))),
            2 => i64::from(i16::from_le_bytes(u16::try_from(u).unwrap_or(0).to_le_bytes())),
            4 => i64::from(i32::from_le_bytes(u32::try_from(u).unwrap_or(0).to_le_bytes())),
            _ => i64::from_le_bytes(u.to_le_bytes()),
        };
        (s, u)
    };
    let (s, u) = sv(b);
    let mut res = String::new();
    let val = match ptype {
        pt::INT8 | pt::INT16 | pt::INT32 | pt::INT64 => num(fmt, s, u, width),
        pt::UINT8 | pt::UINT16 => num(fmt, i64::try_from(u).unwrap_or(0), u, width),
        pt::UINT32 | pt::UINT64 => num(fmt, s, u, width),
        pt::FD | pt::FD32 => {
            if tinfo.is_some()
                && s >= 0
                && let Some(f) = ins.fd(tid, s)
            {
                let l4c = if f.is_ip() {
                    match f.l4proto_eff() {
                        l4::TCP => "t",
                        l4::UDP => "u",
                        l4::ICMP => "i",
                        l4::RAW => "r",
                        _ => "",
                    }
                } else {
                    ""
                };
                res = format!("<{}{l4c}>{}", f.typechar(), sanitize(&f.name));
            }
            s.to_string()
        }
        pt::PID | pt::PID32 => {
            if let Some(t) = ins.thread(s) {
                res.clone_from(&t.comm);
            }
            s.to_string()
        }
        pt::ERRNO => {
            if let Some(n) = errno_name(s) {
                res = n.into();
            }
            s.to_string()
        }
        pt::CHARBUF => String::from_utf8_lossy(event::cstr(b)).into_owned(),
        pt::FSPATH | pt::FSRELPATH => {
            let p = sanitize(&String::from_utf8_lossy(event::cstr(b)));
            if tinfo.is_some() && !b.is_empty() && !p.starts_with("<NA>") && !p.starts_with('/') && !p.is_empty() {
                let base = base_dir(view, i, tid);
                res = concat_path(&base, &p);
            }
            p
        }
        pt::BYTEBUF => {
            let mut s = printable(b);
            let max = ins.max_buf_len;
            if max != 0 && s.len() > max {
                s.truncate(max);
                if max > 3 {
                    s.replace_range(max - 3.., "...");
                }
            }
            s
        }
        pt::SOCKADDR => match event::sockaddr(b) {
            None => "NULL".into(),
            Some(SockAddr::Unix(p)) => sanitize(&String::from_utf8_lossy(&p)),
            Some(SockAddr::V4(a, p)) => {
                if b.len() == 7 {
                    format!("{}:{p}", Ipv4Addr::from(a))
                } else {
                    "INVALID IPv4".into()
                }
            }
            Some(SockAddr::V6(a, p)) => {
                if b.len() == 19 {
                    format!("{}:{p}", Ipv6Addr::from(a))
                } else {
                    "INVALID IPv6".into()
                }
            }
            Some(SockAddr::Other(f)) => format!("family {f}"),
        },
        pt::SOCKTUPLE => match event::socktuple(b) {
            None => "NULL".into(),
            Some(SockTuple::V4(s, sp, d, dp)) => {
                if b.len() == 13 {
                    tuple_v4(Ipv4Addr::from(s), sp, Ipv4Addr::from(d), dp)
                } else {
                    "INVALID IPv4".into()
                }
            }
            Some(SockTuple::V6(s, sp, d, dp)) => {
                let (s6, d6) = (Ipv6Addr::from(s), Ipv6Addr::from(d));
                if b.len() != 37 {
                    "INVALID IPv6".into()
                } else if let (Some(s4), Some(d4)) = (s6.to_ipv4_mapped(), d6.to_ipv4_mapped()) {
                    tuple_v4(s4, sp, d4, dp)
                } else {
                    tuple_v6(s6, sp, d6, dp)
                }
            }
            Some(SockTuple::Unix(a, bb, p)) => format!("{a:x}->{bb:x} {}", sanitize(&String::from_utf8_lossy(&p))),
            Some(SockTuple::Other(f)) => format!("family {f}"),
        },
        pt::FDLIST => {
            let Value::FdList(l) = event::decode(pinfo, b) else { return Some((String::new(), String::new())) };
            if tinfo.is_none() {
                String::new()
            } else {
                l.iter()
                    .map(|(fd, fl)| {
                        let tc = ins.fd(tid, *fd).map_or('?', crate::state::FdInfo::typechar);
                        format!(
                            "{}:{tc}{:x}",
                            u64::from_le_bytes(fd.to_le_bytes()),
                            u32::from_le_bytes(i32::from(i16::from_le_bytes(fl.to_le_bytes())).to_le_bytes())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        }
        pt::SYSCALLID => {
            let id = u16::try_from(u).unwrap_or(u16::MAX);
            match event::syscall_name(id) {
                Some(n) => {
                    res = n.into();
                    id.to_string()
                }
                None => "<unknown syscall>".into(),
            }
        }
        pt::SIGTYPE => {
            let v = u8::try_from(u & 0xff).unwrap_or(0);
            if let Some(n) = signal_name(v) {
                res = n.into();
            }
            v.to_string()
        }
        pt::RELTIME => {
            if u == u64::MAX {
                "none".into()
            } else {
                #[allow(clippy::cast_precision_loss)]
                let secs = u as f64 / 1e9;
                res = format!("{}s", fmt_g(secs));
                u.to_string()
            }
        }
        pt::FLAGS8 | pt::FLAGS16 | pt::FLAGS32 | pt::MODE | pt::ENUMFLAGS8 | pt::ENUMFLAGS16 | pt::ENUMFLAGS32 => {
            let v = u32::try_from(u & 0xffff_ffff).unwrap_or(0);
            if let ParamInfoRef::Flags(t) = pinfo.info {
                let table = event::flag_table(t);
                res = if matches!(ptype, pt::ENUMFLAGS8 | pt::ENUMFLAGS16 | pt::ENUMFLAGS32) {
                    table.iter().find(|(_, fv)| *fv == v).map(|(n, _)| (*n).to_owned()).unwrap_or_default()
                } else {
                    flags_names(table, v)
                };
            }
            if ptype == pt::MODE { num(fmt, i64::from(v), u64::from(v), 4) } else { v.to_string() }
        }
        pt::UID | pt::GID => {
            let v = u32::try_from(u & 0xffff_ffff).unwrap_or(u32::MAX);
            if v == u32::MAX {
                res = "<NONE>".into();
                "-1".into()
            } else {
                let name = if ptype == pt::UID {
                    ins.user(v).map(|u| String::from_utf8_lossy(&u.name).into_owned())
                } else {
                    ins.group(v).map(str::to_owned)
                };
                res = name.unwrap_or_else(|| "<NA>".into());
                i32::from_le_bytes(v.to_le_bytes()).to_string()
            }
        }
        pt::CHARBUFARRAY => b
            .split(|&c| c == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect::<Vec<_>>()
            .join("."),
        pt::SIGSET => {
            let v = u32::try_from(u & 0xffff_ffff).unwrap_or(0);
            (0..32u8)
                .filter(|sig| v & (1u32 << sig) != 0)
                .filter_map(|sig| signal_name(sig + 1))
                .collect::<Vec<_>>()
                .join(" ")
        }
        pt::DYN => "INVALID DYNAMIC PARAMETER".into(),
        _ => "(n.a.)".into(),
    };
    Some((val, res))
}

fn base_dir(view: &EventView<'_>, i: usize, tid: i64) -> String {
    let cwd = view.inspector.cwd(tid).unwrap_or("").to_owned();
    let Some(p) = view.current.info.params.get(i) else { return cwd };
    if p.ptype != pt::FSRELPATH {
        return cwd;
    }
    let ParamInfoRef::DirFd(d) = p.info else { return cwd };
    let Some(dp) = view.current.info.params.get(d) else { return cwd };
    if dp.ptype != pt::FD {
        return cwd;
    }
    let Some(dirfd) = view.current.raw.params.get(d).and_then(|b| event::decode(dp, b).as_i64()) else { return cwd };
    if dirfd == -100 {
        return cwd;
    }
    match view.inspector.fd(tid, dirfd) {
        Some(f) => {
            let mut n = f.name.clone();
            if !n.ends_with('/') {
                n.push('/');
            }
            n
        }
        None => cwd,
    }
}

/// `evt.args`: `name=value ` or `name=value(resolved) ` per parameter; empty for generic events.
#[must_use]
pub fn args(view: &EventView<'_>) -> String {
    if view.current.info.name == "syscall" {
        return String::new();
    }
    let mut out = String::new();
    for i in 0..view.current.raw.params.len() {
        let Some(p) = view.current.info.params.get(i) else { break };
        let Some((v, r)) = param_str(view, i) else { break };
        if r.is_empty() {
            let _ = write!(out, "{}={v} ", p.name);
        } else {
            let _ = write!(out, "{}={v}({r}) ", p.name);
        }
    }
    out
}
