//! The event table and typed parameter values.
//!
//! [`EVENTS`] is generated from falcosecurity/libs@48dfd53 `driver/event_table.c`,
//! `driver/flags_table.c`, `driver/dynamic_params_table.c` and the `PPM_SC_X` list of
//! `driver/ppm_events_public.h` by `tools/gen_event_table.py`; those files are dual licensed
//! MIT or GPL-2.0, and the transcription is used under MIT (see the header of `table.rs`).

#[rustfmt::skip]
#[allow(clippy::all)]
mod table;

pub use table::{DYN_TABLES, EVENT_MAX, EVENTS, FLAG_TABLES, SYSCALL_NAMES};

/// What the table says about one parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    /// Name (`fd`, `name`, `flags`, …).
    pub name: &'static str,
    /// `PT_*` type.
    pub ptype: u8,
    /// `PF_*` print format.
    pub fmt: u8,
    /// Flag table, dirfd parameter or dynamic types.
    pub info: ParamInfoRef,
}

/// The `info` pointer of a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamInfoRef {
    /// None.
    None,
    /// Index into [`FLAG_TABLES`].
    Flags(usize),
    /// For `PT_FSRELPATH`: the index of the dirfd parameter.
    DirFd(usize),
    /// Index into [`DYN_TABLES`].
    Dyn(usize),
}

/// What the table says about one event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventInfo {
    /// Name (`open`, `execve`, `syscall` for the generic events).
    pub name: &'static str,
    /// `EC_*` category bits.
    pub category: u32,
    /// `EF_*` flags.
    pub flags: u32,
    /// Parameters.
    pub params: &'static [ParamInfo],
}

/// `PT_*` parameter types.
#[allow(missing_docs)]
pub mod pt {
    pub const NONE: u8 = 0;
    pub const INT8: u8 = 1;
    pub const INT16: u8 = 2;
    pub const INT32: u8 = 3;
    pub const INT64: u8 = 4;
    pub const UINT8: u8 = 5;
    pub const UINT16: u8 = 6;
    pub const UINT32: u8 = 7;
    pub const UINT64: u8 = 8;
    pub const CHARBUF: u8 = 9;
    pub const BYTEBUF: u8 = 10;
    pub const ERRNO: u8 = 11;
    pub const SOCKADDR: u8 = 12;
    pub const SOCKTUPLE: u8 = 13;
    pub const FD: u8 = 14;
    pub const PID: u8 = 15;
    pub const FDLIST: u8 = 16;
    pub const FSPATH: u8 = 17;
    pub const SYSCALLID: u8 = 18;
    pub const SIGTYPE: u8 = 19;
    pub const RELTIME: u8 = 20;
    pub const ABSTIME: u8 = 21;
    pub const PORT: u8 = 22;
    pub const L4PROTO: u8 = 23;
    pub const SOCKFAMILY: u8 = 24;
    pub const BOOL: u8 = 25;
    pub const IPV4ADDR: u8 = 26;
    pub const DYN: u8 = 27;
    pub const FLAGS8: u8 = 28;
    pub const FLAGS16: u8 = 29;
    pub const FLAGS32: u8 = 30;
    pub const UID: u8 = 31;
    pub const GID: u8 = 32;
    pub const DOUBLE: u8 = 33;
    pub const SIGSET: u8 = 34;
    pub const CHARBUFARRAY: u8 = 35;
    pub const CHARBUF_PAIR_ARRAY: u8 = 36;
    pub const IPV4NET: u8 = 37;
    pub const IPV6ADDR: u8 = 38;
    pub const IPV6NET: u8 = 39;
    pub const IPADDR: u8 = 40;
    pub const IPNET: u8 = 41;
    pub const MODE: u8 = 42;
    pub const FSRELPATH: u8 = 43;
    pub const ENUMFLAGS8: u8 = 44;
    pub const ENUMFLAGS16: u8 = 45;
    pub const ENUMFLAGS32: u8 = 46;
    pub const FD32: u8 = 47;
    pub const PID32: u8 = 48;
}

/// `EF_*` event flags.
#[allow(missing_docs)]
pub mod ef {
    pub const CREATES_FD: u32 = 1 << 0;
    pub const DESTROYS_FD: u32 = 1 << 1;
    pub const USES_FD: u32 = 1 << 2;
    pub const READS_FROM_FD: u32 = 1 << 3;
    pub const WRITES_TO_FD: u32 = 1 << 4;
    pub const MODIFIES_STATE: u32 = 1 << 5;
    pub const UNUSED: u32 = 1 << 6;
    pub const WAITS: u32 = 1 << 7;
    pub const SKIPPARSERESET: u32 = 1 << 8;
    pub const OLD_VERSION: u32 = 1 << 9;
    pub const LARGE_PAYLOAD: u32 = 1 << 11;
    pub const CONVERTER_MANAGED: u32 = 1 << 12;
}

/// `EC_*` category bits.
#[allow(missing_docs)]
pub mod ec {
    pub const UNKNOWN: u32 = 0;
    pub const OTHER: u32 = 1;
    pub const FILE: u32 = 2;
    pub const NET: u32 = 3;
    pub const IPC: u32 = 4;
    pub const MEMORY: u32 = 5;
    pub const PROCESS: u32 = 6;
    pub const SLEEP: u32 = 7;
    pub const SYSTEM: u32 = 8;
    pub const SIGNAL: u32 = 9;
    pub const USER: u32 = 10;
    pub const TIME: u32 = 11;
    pub const PROCESSING: u32 = 12;
    pub const IO_BASE: u32 = 32;
    pub const IO_READ: u32 = 32;
    pub const IO_WRITE: u32 = 33;
    pub const IO_OTHER: u32 = 34;
    pub const WAIT: u32 = 1 << 6;
    pub const SCHEDULER: u32 = 1 << 7;
    pub const INTERNAL: u32 = 1 << 8;
    pub const SYSCALL: u32 = 1 << 9;
    pub const TRACEPOINT: u32 = 1 << 10;
    pub const PLUGIN: u32 = 1 << 11;
    pub const METAEVENT: u32 = 1 << 12;
}

/// `PPME_CONTAINER_JSON_2_E`: a container's metadata as libsinsp's JSON (one large `json`
/// parameter), what captures carry for each container.
pub const CONTAINER_JSON_2_E: u16 = 324;

/// The table entry of an event type, if the type is known.
#[must_use]
pub fn info(etype: u16) -> Option<&'static EventInfo> {
    EVENTS.get(usize::from(etype))
}

/// Whether an event type is an enter event (even codes are enter events, odd ones exit).
#[must_use]
pub fn is_enter(etype: u16) -> bool {
    etype.is_multiple_of(2)
}

/// The name of a `PPM_SC_*` syscall code (`madvise`), as generic events show it.
#[must_use]
pub fn syscall_name(code: u16) -> Option<&'static str> {
    SYSCALL_NAMES.binary_search_by_key(&code, |(c, _)| *c).ok().and_then(|i| SYSCALL_NAMES.get(i)).map(|(_, n)| *n)
}

/// The event code of the enter event of this name (`open` → `PPME_SYSCALL_OPEN_E`), newest
/// version first.
#[must_use]
pub fn codes_named(name: &str) -> Vec<u16> {
    EVENTS.iter().enumerate().filter(|(_, e)| e.name == name).filter_map(|(i, _)| u16::try_from(i).ok()).collect()
}

/// A flag table: `(name, value)` pairs in table order.
#[must_use]
pub fn flag_table(i: usize) -> &'static [(&'static str, u32)] {
    FLAG_TABLES.get(i).map_or(&[], |(_, t)| t)
}

/// The flag table of this name (`file_flags`).
#[must_use]
pub fn flag_table_named(name: &str) -> &'static [(&'static str, u32)] {
    FLAG_TABLES.iter().find(|(n, _)| *n == name).map_or(&[], |(_, t)| t)
}

/// An IP socket address as a parameter carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SockAddr {
    /// `AF_INET`: address (network order bytes) and port.
    V4([u8; 4], u16),
    /// `AF_INET6`.
    V6([u8; 16], u16),
    /// `AF_UNIX`: the path.
    Unix(Vec<u8>),
    /// Another family.
    Other(u8),
}

/// A connection tuple (`PT_SOCKTUPLE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SockTuple {
    /// IPv4: source, source port, destination, destination port.
    V4([u8; 4], u16, [u8; 4], u16),
    /// IPv6.
    V6([u8; 16], u16, [u8; 16], u16),
    /// Unix: source and destination kernel addresses, path.
    Unix(u64, u64, Vec<u8>),
    /// Another family.
    Other(u8),
}

/// `PPM_AF_*` families as the driver writes them.
pub mod af {
    /// `AF_UNIX`.
    pub const UNIX: u8 = 1;
    /// `AF_INET`.
    pub const INET: u8 = 2;
    /// `AF_INET6`.
    pub const INET6: u8 = 10;
    /// `AF_NETLINK`.
    pub const NETLINK: u8 = 16;
}

/// Little-endian readers over parameter bytes.
#[must_use]
pub fn le_u64(b: &[u8]) -> Option<u64> {
    b.get(..8).and_then(|s| <[u8; 8]>::try_from(s).ok()).map(u64::from_le_bytes)
}
/// See [`le_u64`].
#[must_use]
pub fn le_u32(b: &[u8]) -> Option<u32> {
    b.get(..4).and_then(|s| <[u8; 4]>::try_from(s).ok()).map(u32::from_le_bytes)
}
/// See [`le_u64`].
#[must_use]
pub fn le_u16(b: &[u8]) -> Option<u16> {
    b.get(..2).and_then(|s| <[u8; 2]>::try_from(s).ok()).map(u16::from_le_bytes)
}

fn arr4(b: &[u8]) -> Option<[u8; 4]> {
    b.get(..4).and_then(|s| <[u8; 4]>::try_from(s).ok())
}
fn arr16(b: &[u8]) -> Option<[u8; 16]> {
    b.get(..16).and_then(|s| <[u8; 16]>::try_from(s).ok())
}

/// Decodes a `PT_SOCKADDR` payload.
#[must_use]
pub fn sockaddr(b: &[u8]) -> Option<SockAddr> {
    let fam = *b.first()?;
    let rest = b.get(1..)?;
    Some(match fam {
        af::INET if rest.len() >= 6 => SockAddr::V4(arr4(rest)?, le_u16(rest.get(4..)?)?),
        af::INET6 if rest.len() >= 18 => SockAddr::V6(arr16(rest)?, le_u16(rest.get(16..)?)?),
        af::UNIX => SockAddr::Unix(cstr(rest).to_vec()),
        f => SockAddr::Other(f),
    })
}

/// Decodes a `PT_SOCKTUPLE` payload.
#[must_use]
pub fn socktuple(b: &[u8]) -> Option<SockTuple> {
    let fam = *b.first()?;
    let r = b.get(1..)?;
    Some(match fam {
        af::INET if r.len() >= 12 => {
            SockTuple::V4(arr4(r)?, le_u16(r.get(4..)?)?, arr4(r.get(6..)?)?, le_u16(r.get(10..)?)?)
        }
        af::INET6 if r.len() >= 36 => {
            SockTuple::V6(arr16(r)?, le_u16(r.get(16..)?)?, arr16(r.get(18..)?)?, le_u16(r.get(34..)?)?)
        }
        af::UNIX if r.len() >= 16 => SockTuple::Unix(le_u64(r)?, le_u64(r.get(8..)?)?, cstr(r.get(16..)?).to_vec()),
        f => SockTuple::Other(f),
    })
}

/// The bytes before the first NUL.
#[must_use]
pub fn cstr(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |i| b.get(..i).unwrap_or(b))
}

/// A decoded parameter value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A signed integer of any width (`PT_INT*`).
    Int(i64),
    /// An unsigned integer of any width (`PT_UINT*`, ports, protocols, families).
    UInt(u64),
    /// A file descriptor.
    Fd(i64),
    /// A process or thread id.
    Pid(i64),
    /// A return value that may be an errno.
    Errno(i64),
    /// A user id (`u32::MAX` = none).
    Uid(u32),
    /// A group id.
    Gid(u32),
    /// A string (`PT_CHARBUF`, `PT_FSPATH`, `PT_FSRELPATH`).
    Str(Vec<u8>),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A socket address (`None` for an empty payload).
    SockAddr(Option<SockAddr>),
    /// A connection tuple.
    SockTuple(Option<SockTuple>),
    /// fd numbers and their poll flags.
    FdList(Vec<(i64, u16)>),
    /// Flags with their table.
    Flags(u32),
    /// A relative time (ns).
    RelTime(u64),
    /// An absolute time (ns since the epoch).
    AbsTime(u64),
    /// A `PPM_SC_*` code.
    SyscallId(u16),
    /// A signal number.
    Signal(u8),
    /// A boolean.
    Bool(bool),
    /// An IPv4 address.
    Ipv4([u8; 4]),
    /// An IPv6 address.
    Ipv6([u8; 16]),
    /// A double.
    Double(f64),
    /// A signal set.
    SigSet(u32),
    /// Strings separated by NULs.
    StrArray(Vec<Vec<u8>>),
    /// A dynamic parameter: the index and the value of the chosen type.
    Dyn(u8, Box<Value>),
    /// A payload that does not fit the type (wrong length).
    Invalid(Vec<u8>),
}

fn int_of(ptype: u8, b: &[u8]) -> Option<i64> {
    Some(match (ptype, b.len()) {
        (_, 1) => i64::from(i8::from_le_bytes([*b.first()?])),
        (_, 2) => i64::from(i16::from_le_bytes(<[u8; 2]>::try_from(b).ok()?)),
        (_, 4) => i64::from(i32::from_le_bytes(<[u8; 4]>::try_from(b).ok()?)),
        (_, 8) => i64::from_le_bytes(<[u8; 8]>::try_from(b).ok()?),
        _ => return None,
    })
}

fn uint_of(b: &[u8]) -> Option<u64> {
    Some(match b.len() {
        1 => u64::from(*b.first()?),
        2 => u64::from(le_u16(b)?),
        4 => u64::from(le_u32(b)?),
        8 => le_u64(b)?,
        _ => return None,
    })
}

/// Decodes a payload of a given type. Integer widths follow the payload's length (old captures
/// wrote some fds on 4 bytes), so any width of the right kind is accepted.
#[must_use]
pub fn decode(p: &ParamInfo, b: &[u8]) -> Value {
    decode_typed(p.ptype, p.info, b)
}

fn decode_typed(ptype: u8, info: ParamInfoRef, b: &[u8]) -> Value {
    let inv = || Value::Invalid(b.to_vec());
    match ptype {
        pt::INT8 | pt::INT16 | pt::INT32 | pt::INT64 => int_of(ptype, b).map_or_else(inv, Value::Int),
        pt::UINT8 | pt::UINT16 | pt::UINT32 | pt::UINT64 | pt::PORT | pt::L4PROTO | pt::SOCKFAMILY | pt::MODE => {
            uint_of(b).map_or_else(inv, Value::UInt)
        }
        pt::FD | pt::FD32 => int_of(ptype, b).map_or_else(inv, Value::Fd),
        pt::PID | pt::PID32 => int_of(ptype, b).map_or_else(inv, Value::Pid),
        pt::ERRNO => int_of(ptype, b).map_or_else(inv, Value::Errno),
        pt::UID => le_u32(b).map_or_else(inv, Value::Uid),
        pt::GID => le_u32(b).map_or_else(inv, Value::Gid),
        pt::CHARBUF | pt::FSPATH | pt::FSRELPATH => Value::Str(cstr(b).to_vec()),
        pt::BYTEBUF => Value::Bytes(b.to_vec()),
        pt::SOCKADDR => Value::SockAddr(sockaddr(b)),
        pt::SOCKTUPLE => Value::SockTuple(socktuple(b)),
        pt::FDLIST => {
            let Some(n) = le_u16(b) else { return inv() };
            let mut out = Vec::new();
            for i in 0..usize::from(n) {
                let at = 2 + i * 10;
                match (b.get(at..).and_then(le_u64), b.get(at + 8..).and_then(le_u16)) {
                    (Some(fd), Some(fl)) => out.push((i64::from_le_bytes(fd.to_le_bytes()), fl)),
                    _ => return inv(),
                }
            }
            Value::FdList(out)
        }
        pt::FLAGS8 | pt::FLAGS16 | pt::FLAGS32 | pt::ENUMFLAGS8 | pt::ENUMFLAGS16 | pt::ENUMFLAGS32 => {
            uint_of(b).and_then(|v| u32::try_from(v).ok()).map_or_else(inv, Value::Flags)
        }
        pt::RELTIME => le_u64(b).filter(|_| b.len() == 8).map_or_else(inv, Value::RelTime),
        pt::ABSTIME => le_u64(b).filter(|_| b.len() == 8).map_or_else(inv, Value::AbsTime),
        pt::SYSCALLID => le_u16(b).map_or_else(inv, Value::SyscallId),
        pt::SIGTYPE => b.first().map_or_else(inv, |s| Value::Signal(*s)),
        pt::BOOL => uint_of(b).map_or_else(inv, |v| Value::Bool(v != 0)),
        pt::IPV4ADDR | pt::IPV4NET => arr4(b).map_or_else(inv, Value::Ipv4),
        pt::IPV6ADDR | pt::IPV6NET => arr16(b).map_or_else(inv, Value::Ipv6),
        pt::IPADDR | pt::IPNET => match b.len() {
            4 => arr4(b).map_or_else(inv, Value::Ipv4),
            16 => arr16(b).map_or_else(inv, Value::Ipv6),
            _ => inv(),
        },
        pt::DOUBLE => le_u64(b).filter(|_| b.len() == 8).map_or_else(inv, |v| Value::Double(f64::from_bits(v))),
        pt::SIGSET => le_u32(b).map_or_else(inv, Value::SigSet),
        pt::CHARBUFARRAY | pt::CHARBUF_PAIR_ARRAY => {
            let mut v: Vec<Vec<u8>> = b.split(|&c| c == 0).map(<[u8]>::to_vec).collect();
            if b.last() == Some(&0) {
                v.pop();
            }
            Value::StrArray(v)
        }
        pt::DYN => {
            let (Some(&idx), ParamInfoRef::Dyn(t)) = (b.first(), info) else { return inv() };
            match DYN_TABLES.get(t).and_then(|(_, d)| d.get(usize::from(idx))) {
                Some(&(ty, _)) => {
                    Value::Dyn(idx, Box::new(decode_typed(ty, ParamInfoRef::None, b.get(1..).unwrap_or(&[]))))
                }
                None => inv(),
            }
        }
        _ => inv(),
    }
}

impl Value {
    /// The value as a signed integer, where it is one.
    #[must_use]
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Int(v) | Self::Fd(v) | Self::Pid(v) | Self::Errno(v) => Some(*v),
            Self::UInt(v) | Self::RelTime(v) | Self::AbsTime(v) => Some(i64::from_le_bytes(v.to_le_bytes())),
            Self::Uid(v) | Self::Gid(v) | Self::Flags(v) | Self::SigSet(v) => Some(i64::from(*v)),
            Self::SyscallId(v) => Some(i64::from(*v)),
            Self::Signal(v) => Some(i64::from(*v)),
            Self::Bool(b) => Some(i64::from(*b)),
            Self::Dyn(_, v) => v.as_i64(),
            _ => None,
        }
    }

    /// The value as bytes, where it is a string or buffer.
    #[must_use]
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Str(b) | Self::Bytes(b) => Some(b),
            _ => None,
        }
    }
}
