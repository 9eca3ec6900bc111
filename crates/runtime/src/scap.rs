//! A streaming reader of scap captures (the block format of libscap's savefile engine, as
//! falcosecurity/libs@48dfd53 `userspace/libscap/engine/savefile/scap_savefile.c` reads it).
//!
//! A capture is a sequence of blocks, little-endian: `u32 type`, `u32 total length`, body,
//! padding to 4 bytes, and the total length again. The whole file may be gzip-compressed. The
//! reader yields one [`Block`] at a time; memory is bounded by the block caps below, and every
//! error names the block (offset in the uncompressed stream, type) and what was expected.
//! Nothing here panics on any input.

use std::fmt;
use std::io::{self, Read};

use crate::event::{self, ef};

/// The section header block's type (`\r\n\n\r`).
pub const SHB: u32 = 0x0A0D_0D0A;
/// The byte-order magic of the section header.
pub const SHB_MAGIC: u32 = 0x1A2B_3C4D;
/// Machine info.
pub const MI: u32 = 0x201;
/// Process list versions 1..9 (and the legacy ids of V1..V3).
pub const PL: [u32; 12] =
    [0x202, 0x207, 0x209, 0x210, 0x211, 0x212, 0x213, 0x214, 0x215, 0x8000_ABCD, 0x8013_ABCD, 0x8014_ABCD];
/// Fd list (V1, legacy, V2).
pub const FDL: [u32; 3] = [0x203, 0x8001_ABCD, 0x218];
/// Event blocks: EV, legacy EV, EV_V2, EV_V2_LARGE, EVF, EVF_V2, EVF_V2_LARGE.
pub const EV: [u32; 7] = [0x204, 0x8010_ABCD, 0x216, 0x221, 0x208, 0x217, 0x222];
/// Interface lists (V1, legacy, V2).
pub const IL: [u32; 3] = [0x205, 0x8011_ABCD, 0x219];
/// User lists (V1, legacy, V2).
pub const UL: [u32; 3] = [0x206, 0x8012_ABCD, 0x220];
/// Machine info, legacy id.
pub const MI_INT: u32 = 0x8002_ABCD;

/// The largest body (block length less the 8-byte header) of a non-large event block:
/// libscap's `READER_BUF_SIZE` (64 KiB).
pub const MAX_EVENT_BLOCK: u32 = 65_536;
/// The largest large-payload event block we accept (libscap grows its buffer without bound; we
/// cap it at 16 MiB).
pub const MAX_LARGE_EVENT_BLOCK: u32 = 16 << 20;
/// The largest metadata block (process, fd, user, interface lists) we accept: 64 MiB.
pub const MAX_META_BLOCK: u32 = 64 << 20;

/// A reading error: where and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// Offset of the block in the (uncompressed) stream.
    pub offset: u64,
    /// The block's type, when its header was read.
    pub block_type: Option<u32>,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.block_type {
            Some(t) => {
                write!(f, "scap block at offset {} (type {:#x}, {}): {}", self.offset, t, block_name(t), self.message)
            }
            None => write!(f, "scap stream at offset {}: {}", self.offset, self.message),
        }
    }
}

impl std::error::Error for Error {}

/// A result of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// A block's name, for messages.
#[must_use]
pub fn block_name(t: u32) -> &'static str {
    match t {
        SHB => "section header",
        MI | MI_INT => "machine info",
        t if PL.contains(&t) => "process list",
        t if FDL.contains(&t) => "fd list",
        t if EV.contains(&t) => "event",
        t if IL.contains(&t) => "interface list",
        t if UL.contains(&t) => "user list",
        _ => "unknown",
    }
}

/// One thread of the process list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreadInfo {
    /// Thread id.
    pub tid: u64,
    /// Process id.
    pub pid: u64,
    /// Parent thread id.
    pub ptid: u64,
    /// Session id (V6+; -1 before).
    pub sid: i64,
    /// Process group id in its namespace (V8+).
    pub vpgid: i64,
    /// `comm`.
    pub comm: Vec<u8>,
    /// `argv[0]`.
    pub exe: Vec<u8>,
    /// The executable's path (V7+).
    pub exepath: Vec<u8>,
    /// The arguments after `argv[0]`, NUL-separated.
    pub args: Vec<u8>,
    /// Working directory.
    pub cwd: Vec<u8>,
    /// Fd limit.
    pub fdlimit: u64,
    /// `PPM_CL_*` flags.
    pub flags: u32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Memory figures (V2+).
    pub vmsize_kb: u32,
    /// See `vmsize_kb`.
    pub vmrss_kb: u32,
    /// See `vmsize_kb`.
    pub vmswap_kb: u32,
    /// Page faults (V2+).
    pub pfmajor: u64,
    /// See `pfmajor`.
    pub pfminor: u64,
    /// Environment, NUL-separated (V3+).
    pub env: Vec<u8>,
    /// Thread id in its pid namespace (V4+; -1 before).
    pub vtid: i64,
    /// Process id in its pid namespace (V4+).
    pub vpid: i64,
    /// cgroups, `subsys=path` NUL-separated (V4+).
    pub cgroups: Vec<u8>,
    /// Root directory (V5+).
    pub root: Vec<u8>,
    /// Start of the pid namespace's init (V9, libs ≥ 0.10).
    pub pidns_init_start_ts: u64,
    /// Controlling terminal (V9, libs ≥ 0.10).
    pub tty: u32,
    /// Login uid (V9; `u32::MAX` when absent).
    pub loginuid: u32,
    /// Whether the executable is writable by the user (V9).
    pub exe_writable: bool,
    /// Capabilities (V9).
    pub cap_inheritable: u64,
    /// See `cap_inheritable`.
    pub cap_permitted: u64,
    /// See `cap_inheritable`.
    pub cap_effective: u64,
    /// The executable lives in an overlay upper layer (V9).
    pub exe_upper_layer: bool,
    /// The executable's inode and its times (V9).
    pub exe_ino: u64,
    /// See `exe_ino`.
    pub exe_ino_ctime: u64,
    /// See `exe_ino`.
    pub exe_ino_mtime: u64,
    /// The executable is a memfd (V9).
    pub exe_from_memfd: bool,
    /// The executable lives in an overlay lower layer (V9).
    pub exe_lower_layer: bool,
    /// Process group id (V9; -1 when absent).
    pub pgid: i64,
}

/// `SCAP_FD_*` fd types.
#[allow(missing_docs)]
pub mod fdt {
    pub const UNKNOWN: u8 = 0;
    pub const FILE: u8 = 1;
    pub const DIRECTORY: u8 = 2;
    pub const IPV4_SOCK: u8 = 3;
    pub const IPV6_SOCK: u8 = 4;
    pub const IPV4_SERVSOCK: u8 = 5;
    pub const IPV6_SERVSOCK: u8 = 6;
    pub const FIFO: u8 = 7;
    pub const UNIX_SOCK: u8 = 8;
    pub const EVENT: u8 = 9;
    pub const UNSUPPORTED: u8 = 10;
    pub const SIGNALFD: u8 = 11;
    pub const EVENTPOLL: u8 = 12;
    pub const INOTIFY: u8 = 13;
    pub const TIMERFD: u8 = 14;
    pub const NETLINK: u8 = 15;
    pub const FILE_V2: u8 = 16;
    pub const BPF: u8 = 17;
    pub const USERFAULTFD: u8 = 18;
    pub const IOURING: u8 = 19;
    pub const MEMFD: u8 = 20;
    pub const PIDFD: u8 = 21;
}

/// What an fd of the fd list refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FdDetail {
    /// An IPv4 connection: source, destination, ports, `SCAP_L4_*` protocol.
    Ipv4 { sip: [u8; 4], dip: [u8; 4], sport: u16, dport: u16, l4proto: u8 },
    /// An IPv4 listening socket.
    Ipv4Server { ip: [u8; 4], port: u16, l4proto: u8 },
    /// An IPv6 connection.
    Ipv6 { sip: [u8; 16], dip: [u8; 16], sport: u16, dport: u16, l4proto: u8 },
    /// An IPv6 listening socket.
    Ipv6Server { ip: [u8; 16], port: u16, l4proto: u8 },
    /// A unix socket: kernel addresses and path.
    Unix { source: u64, dest: u64, name: Vec<u8> },
    /// A regular file (`SCAP_FD_FILE_V2`): open flags, name, device.
    File { open_flags: u32, name: Vec<u8>, dev: u32 },
    /// Anything else with a name (files of old captures, directories, fifos, …).
    Named(Vec<u8>),
    /// A type this reader does not know (read as unsupported, as libscap does).
    Unsupported,
}

/// One fd of an fd list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdEntry {
    /// The fd number.
    pub fd: i64,
    /// Inode.
    pub ino: u64,
    /// `SCAP_FD_*` type.
    pub fd_type: u8,
    /// The per-type data.
    pub detail: FdDetail,
}

/// A user of the user list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct User {
    /// uid.
    pub uid: u32,
    /// Primary gid.
    pub gid: u32,
    /// Name.
    pub name: Vec<u8>,
    /// Home directory.
    pub homedir: Vec<u8>,
    /// Shell.
    pub shell: Vec<u8>,
}

/// A group of the user list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Group {
    /// gid.
    pub gid: u32,
    /// Name.
    pub name: Vec<u8>,
}

/// One event, as read from an event block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEvent {
    /// 1-based position among all event blocks of the capture (`evt.num`).
    pub num: u64,
    /// Offset of its block.
    pub offset: u64,
    /// CPU.
    pub cpu: u16,
    /// The EVF flags word (0 for EV blocks).
    pub flags: u32,
    /// Timestamp, ns since the epoch.
    pub ts: u64,
    /// Thread id.
    pub tid: u64,
    /// `PPME_*` code (below [`event::EVENT_MAX`]).
    pub etype: u16,
    /// Parameter payloads, in order.
    pub params: Vec<Vec<u8>>,
}

/// A block of a capture.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// A section header: version.
    Section {
        /// Major version (1).
        major: u16,
        /// Minor version.
        minor: u16,
    },
    /// Machine info (kept raw).
    MachineInfo(Vec<u8>),
    /// The process list.
    Threads(Vec<ThreadInfo>),
    /// The fds of one thread.
    Fds {
        /// The thread.
        tid: u64,
        /// Its fds.
        fds: Vec<FdEntry>,
    },
    /// Users and groups.
    Users(Vec<User>, Vec<Group>),
    /// An interface list: the machine's IPv4 and IPv6 addresses (readers use them to fill the
    /// local address of unbound sockets), with its block type and body as read, so a writer can
    /// repeat it.
    Interfaces {
        /// The block type (`IL` V1 or V2).
        block_type: u32,
        /// The body.
        raw: Vec<u8>,
        /// The addresses.
        list: IfList,
    },
    /// An event.
    Event(RawEvent),
    /// An event block with a type this table does not know (counted in `evt.num`, skipped).
    SkippedEvent {
        /// Its number.
        num: u64,
        /// Its type.
        etype: u16,
    },
    /// A block of unknown type, skipped by length.
    Unknown(u32),
}

enum Source<R: Read> {
    Plain(io::Chain<io::Cursor<Vec<u8>>, R>),
    Gz(Box<flate2::read::MultiGzDecoder<io::Chain<io::Cursor<Vec<u8>>, R>>>),
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(r) => r.read(buf),
            Self::Gz(r) => r.read(buf),
        }
    }
}

/// The streaming reader.
pub struct Reader<R: Read> {
    src: Source<R>,
    offset: u64,
    events: u64,
    version: (u16, u16),
    done: bool,
}

impl<R: Read> fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader").field("offset", &self.offset).field("events", &self.events).finish_non_exhaustive()
    }
}

fn err(offset: u64, block_type: Option<u32>, message: impl Into<String>) -> Error {
    Error { offset, block_type, message: message.into() }
}

/// Reads until `buf` is full or the stream ends; returns how many bytes were read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let Some(rest) = buf.get_mut(n..) else { break };
        match r.read(rest) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl<R: Read> Reader<R> {
    /// Opens a capture: detects gzip, reads and checks the section header block.
    ///
    /// # Errors
    /// A stream that is not a scap capture (wrong first block, byte-swapped or wrong magic,
    /// unsupported major version), or one that ends inside the header.
    pub fn new(mut inner: R) -> Result<Self> {
        let mut head = [0u8; 2];
        let n = read_full(&mut inner, &mut head).map_err(|e| err(0, None, format!("read error: {e}")))?;
        let prefix = head.get(..n).unwrap_or(&[]).to_vec();
        let gz = prefix == [0x1f, 0x8b];
        let chained = io::Cursor::new(prefix).chain(inner);
        let src =
            if gz { Source::Gz(Box::new(flate2::read::MultiGzDecoder::new(chained))) } else { Source::Plain(chained) };
        let mut r = Reader { src, offset: 0, events: 0, version: (0, 0), done: false };
        match r.read_block()? {
            Some((SHB, body)) => {
                let (major, minor) = r.section(&body, 0)?;
                r.version = (major, minor);
            }
            Some((t, _)) => {
                return Err(err(0, Some(t), format!("expected a section header block ({SHB:#x}) first")));
            }
            None => return Err(err(0, None, "empty stream: expected a section header block")),
        }
        Ok(r)
    }

    /// The capture's version (major, minor) from its section header.
    #[must_use]
    pub fn version(&self) -> (u16, u16) {
        self.version
    }

    /// How many event blocks have been read.
    #[must_use]
    pub fn event_blocks(&self) -> u64 {
        self.events
    }

    fn section(&self, body: &[u8], at: u64) -> Result<(u16, u16)> {
        let e = |m: String| err(at, Some(SHB), m);
        let magic =
            event::le_u32(body).ok_or_else(|| e(format!("body of {} bytes, expected at least 16", body.len())))?;
        if magic == SHB_MAGIC.swap_bytes() {
            return Err(e(
                "byte-swapped magic 0x4d3c2b1a: a capture written on a big-endian host is not supported".into()
            ));
        }
        if magic != SHB_MAGIC {
            return Err(e(format!("magic {magic:#010x}, expected {SHB_MAGIC:#010x}")));
        }
        let (Some(major), Some(minor)) = (body.get(4..).and_then(event::le_u16), body.get(6..).and_then(event::le_u16))
        else {
            return Err(e(format!("body of {} bytes, expected at least 16", body.len())));
        };
        if body.len() < 16 {
            return Err(e(format!("body of {} bytes, expected at least 16", body.len())));
        }
        if major != 1 {
            return Err(e(format!("version {major}.{minor}, expected major version 1")));
        }
        // pcapng-style options may follow up to the block length: skipped.
        Ok((major, minor))
    }

    /// Reads one raw block: `(type, body)`, the body without header, padding kept, trailer
    /// checked and removed. `None` at a clean end of stream.
    fn read_block(&mut self) -> Result<Option<(u32, Vec<u8>)>> {
        if self.done {
            return Ok(None);
        }
        let at = self.offset;
        let mut hdr = [0u8; 8];
        let n = read_full(&mut self.src, &mut hdr).map_err(|e| err(at, None, format!("read error: {e}")))?;
        if n == 0 {
            self.done = true;
            return Ok(None);
        }
        if n < 8 {
            self.done = true;
            return Err(err(at, None, format!("truncated block header: {n} of 8 bytes")));
        }
        let ty = event::le_u32(&hdr).unwrap_or(0);
        let total = hdr.get(4..).and_then(event::le_u32).unwrap_or(0);
        let fail = |s: &mut Self, m: String| {
            s.done = true;
            err(at, Some(ty), m)
        };
        if at == 0 && ty != SHB {
            return Err(fail(self, format!("not a scap capture: expected a section header block ({SHB:#x}) first")));
        }
        if total < 12 {
            return Err(fail(self, format!("block length {total}, expected at least 12")));
        }
        let cap = if EV.contains(&ty) {
            if ty == 0x221 || ty == 0x222 { MAX_LARGE_EVENT_BLOCK } else { MAX_EVENT_BLOCK + 8 }
        } else {
            MAX_META_BLOCK
        };
        if total > cap {
            return Err(fail(
                self,
                format!("block length {total} exceeds the limit of {cap} bytes for this block type"),
            ));
        }
        let body_len = (total - 12) as usize;
        let mut body = Vec::new();
        let got = (&mut self.src)
            .take(body_len as u64)
            .read_to_end(&mut body)
            .map_err(|e| fail(self, format!("read error: {e}")))?;
        if got < body_len {
            return Err(fail(self, format!("truncated block: {got} of {body_len} body bytes")));
        }
        let mut trailer = [0u8; 4];
        let t = read_full(&mut self.src, &mut trailer).map_err(|e| fail(self, format!("read error: {e}")))?;
        if t < 4 {
            return Err(fail(self, format!("truncated block: trailer {t} of 4 bytes")));
        }
        let tr = u32::from_le_bytes(trailer);
        if tr != total {
            return Err(fail(self, format!("trailing length {tr} differs from the block length {total}")));
        }
        self.offset += u64::from(total);
        Ok(Some((ty, body)))
    }

    /// The next block.
    ///
    /// # Errors
    /// A truncated or corrupt block; the reader then stops (later calls return `Ok(None)`).
    pub fn next_block(&mut self) -> Result<Option<Block>> {
        let at = self.offset;
        let Some((ty, body)) = self.read_block()? else { return Ok(None) };
        let r = self.decode(ty, &body, at);
        if r.is_err() {
            self.done = true;
        }
        r.map(Some)
    }

    /// The next event, skipping (but counting) every other block.
    ///
    /// # Errors
    /// As [`Reader::next_block`].
    pub fn next_event(&mut self) -> Result<Option<RawEvent>> {
        loop {
            match self.next_block()? {
                None => return Ok(None),
                Some(Block::Event(e)) => return Ok(Some(e)),
                Some(_) => {}
            }
        }
    }

    fn decode(&mut self, ty: u32, body: &[u8], at: u64) -> Result<Block> {
        let mut c = Cur { b: body, pos: 0, at, ty };
        Ok(match ty {
            SHB => {
                let (major, minor) = self.section(body, at)?;
                self.version = (major, minor);
                Block::Section { major, minor }
            }
            MI | MI_INT => Block::MachineInfo(body.to_vec()),
            t if PL.contains(&t) => Block::Threads(read_proclist(&mut c, pl_version(t))?),
            t if FDL.contains(&t) => {
                let tid = c.u64("tid")?;
                let mut fds = Vec::new();
                while c.left() >= 4 {
                    fds.push(read_fd(&mut c, t == 0x218)?);
                }
                Block::Fds { tid, fds }
            }
            t if UL.contains(&t) => read_userlist(&mut c, t == 0x220)?,
            t if IL.contains(&t) => {
                Block::Interfaces { block_type: t, raw: body.to_vec(), list: read_iflist(body, t == 0x219) }
            }
            t if EV.contains(&t) => {
                self.events += 1;
                self.read_event(&mut c, t)?
            }
            t => Block::Unknown(t),
        })
    }

    fn read_event(&self, c: &mut Cur<'_>, t: u32) -> Result<Block> {
        let v2 = matches!(t, 0x216 | 0x221 | 0x217 | 0x222);
        let evf = matches!(t, 0x208 | 0x217 | 0x222);
        let cpu = c.u16("cpu id")?;
        let flags = if evf { c.u32("flags")? } else { 0 };
        let start = c.pos;
        let ts = c.u64("timestamp")?;
        let tid = c.u64("thread id")?;
        let len = c.u32("event length")?;
        let etype = c.u16("event type")?;
        let num = self.events;
        let Some(info) = event::info(etype) else { return Ok(Block::SkippedEvent { num, etype }) };
        let hdr = if v2 { 26usize } else { 22 };
        let avail = c.b.len() - start;
        let mut len = len as usize;
        if !v2 && (info.name == "notification" || info.name == "infrastructure_event") && event::is_enter(etype) {
            len = len.saturating_sub(3);
        }
        if len < hdr || len > avail {
            return Err(c.err(format!("event length {len} outside [{hdr}, {avail}] (the header and the block body)")));
        }
        let ev = c.b.get(start..start + len).unwrap_or(&[]);
        let params = if v2 {
            let n = c.u32("parameter count")? as usize;
            let lsz = if info.flags & ef::LARGE_PAYLOAD != 0 { 4 } else { 2 };
            if hdr + n.saturating_mul(lsz) > len {
                return Err(c.err(format!("{n} parameters do not fit in event length {len}")));
            }
            let mut lens = Vec::with_capacity(n);
            for i in 0..n {
                let at = hdr + i * lsz;
                let l = if lsz == 4 {
                    ev.get(at..).and_then(event::le_u32)
                } else {
                    ev.get(at..).and_then(event::le_u16).map(u32::from)
                };
                lens.push(l.unwrap_or(0) as usize);
            }
            split_params(ev, hdr + n * lsz, &lens)
                .ok_or_else(|| c.err(format!("parameter lengths {lens:?} exceed event length {len}")))?
        } else {
            // V1: no parameter count; start from the table's and lower it until the lengths fit.
            let mut found = None;
            for n in (0..=info.params.len()).rev() {
                let vstart = hdr + 2 * n;
                if vstart > len {
                    continue;
                }
                let lens: Vec<usize> =
                    (0..n).map(|i| ev.get(hdr + 2 * i..).and_then(event::le_u16).map_or(0, usize::from)).collect();
                let end = vstart + lens.iter().sum::<usize>();
                if end < len {
                    return Err(c.err(format!(
                        "cannot compute the parameter count: {n} parameters end at {end}, before the event length {len}"
                    )));
                }
                if end == len {
                    found = split_params(ev, vstart, &lens);
                    break;
                }
            }
            found.ok_or_else(|| {
                c.err(format!("cannot compute the parameter count of event type {etype} (length {len})"))
            })?
        };
        Ok(Block::Event(RawEvent { num, offset: c.at, cpu, flags, ts, tid, etype, params }))
    }
}

fn split_params(ev: &[u8], mut pos: usize, lens: &[usize]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::with_capacity(lens.len());
    for &l in lens {
        out.push(ev.get(pos..pos.checked_add(l)?)?.to_vec());
        pos += l;
    }
    Some(out)
}

/// Process-list version (1..=9) of a block type.
fn pl_version(t: u32) -> u8 {
    match t {
        0x202 | 0x8000_ABCD => 1,
        0x207 | 0x8013_ABCD => 2,
        0x209 | 0x8014_ABCD => 3,
        0x210 => 4,
        0x211 => 5,
        0x212 => 6,
        0x213 => 7,
        0x214 => 8,
        _ => 9,
    }
}

struct Cur<'a> {
    b: &'a [u8],
    pos: usize,
    at: u64,
    ty: u32,
}

impl Cur<'_> {
    fn err(&self, m: String) -> Error {
        err(self.at, Some(self.ty), m)
    }
    fn left(&self) -> usize {
        self.b.len().saturating_sub(self.pos)
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8]> {
        let s = self.pos.checked_add(n).and_then(|e| self.b.get(self.pos..e));
        match s {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(err(
                self.at,
                Some(self.ty),
                format!("{what}: {n} bytes needed at body offset {}, {} left", self.pos, self.left()),
            )),
        }
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?.first().copied().unwrap_or(0))
    }
    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(event::le_u16(self.take(2, what)?).unwrap_or(0))
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(event::le_u32(self.take(4, what)?).unwrap_or(0))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(event::le_u64(self.take(8, what)?).unwrap_or(0))
    }
    fn i64(&mut self, what: &str) -> Result<i64> {
        Ok(i64::from_le_bytes(self.u64(what)?.to_le_bytes()))
    }
    fn arr4(&mut self, what: &str) -> Result<[u8; 4]> {
        <[u8; 4]>::try_from(self.take(4, what)?).map_err(|_| self.err(what.into()))
    }
    fn arr16(&mut self, what: &str) -> Result<[u8; 16]> {
        <[u8; 16]>::try_from(self.take(16, what)?).map_err(|_| self.err(what.into()))
    }
    /// A `u16` length and that many bytes (not NUL-terminated on file; a trailing NUL is cut).
    fn str16(&mut self, what: &str) -> Result<Vec<u8>> {
        let n = self.u16(what)?;
        Ok(self.take(usize::from(n), what)?.to_vec())
    }
}

/// The addresses of an interface list block (`scap_read_iflist`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IfList {
    /// IPv4 addresses and netmasks (network order bytes).
    pub v4: Vec<([u8; 4], [u8; 4])>,
    /// IPv6 addresses.
    pub v6: Vec<[u8; 16]>,
}

/// Reads the entries of an interface list; a malformed entry ends the list (libscap refuses the
/// file; we keep what came before).
fn read_iflist(b: &[u8], v2: bool) -> IfList {
    let mut out = IfList::default();
    let mut pos = 0usize;
    let u16_at = |at: usize| b.get(at..at + 2).and_then(event::le_u16);
    while b.len().saturating_sub(pos) >= 4 {
        // v2: a u32 entry length (not counting itself) before each entry
        let (start, ty) = if v2 {
            let Some(len) = b.get(pos..pos + 4).and_then(event::le_u32) else { break };
            let Some(ty) = u16_at(pos + 4) else { break };
            let Some(next) = usize::try_from(len).ok().and_then(|l| l.checked_add(pos + 4)) else { break };
            let start = pos + 4;
            pos = next;
            (start, ty)
        } else {
            let (Some(ty), Some(nl)) = (u16_at(pos), u16_at(pos + 2)) else { break };
            // SCAP_II_IPV4 24, IPV6 60, and the NOLINKSPEED forms 16 and 52 bytes, then the name
            let fixed = match ty {
                1 => 24,
                2 => 60,
                3 => 16,
                4 => 52,
                _ => break,
            };
            let start = pos;
            pos = pos.saturating_add(fixed + usize::from(nl));
            (start, ty)
        };
        if pos > b.len() {
            break;
        }
        match ty {
            1 | 3 => {
                let a4 = |at: usize| b.get(at..at + 4).and_then(|s| <[u8; 4]>::try_from(s).ok());
                if let (Some(a), Some(m)) = (a4(start + 4), a4(start + 8)) {
                    out.v4.push((a, m));
                }
            }
            2 | 4 => {
                if let Some(a) = b.get(start + 4..start + 20).and_then(|s| <[u8; 16]>::try_from(s).ok()) {
                    out.v6.push(a);
                }
            }
            _ => {}
        }
    }
    out
}

fn trim_nul(mut v: Vec<u8>) -> Vec<u8> {
    if let Some(i) = v.iter().position(|&c| c == 0) {
        v.truncate(i);
    }
    v
}

fn read_proclist(c: &mut Cur<'_>, ver: u8) -> Result<Vec<ThreadInfo>> {
    let mut out = Vec::new();
    while c.left() >= 4 {
        let start = c.pos;
        let sub_len = if ver == 9 { c.u32("thread record length")? as usize } else { 0 };
        let mut t = ThreadInfo {
            sid: -1,
            vpgid: -1,
            vtid: -1,
            vpid: -1,
            loginuid: u32::MAX,
            pgid: -1,
            ..ThreadInfo::default()
        };
        t.tid = c.u64("tid")?;
        t.pid = c.u64("pid")?;
        t.ptid = c.u64("ptid")?;
        if ver >= 6 {
            t.sid = c.i64("sid")?;
        }
        if ver >= 8 {
            t.vpgid = c.i64("vpgid")?;
        }
        t.comm = trim_nul(c.str16("comm")?);
        t.exe = trim_nul(c.str16("exe")?);
        if ver >= 7 {
            t.exepath = trim_nul(c.str16("exepath")?);
        }
        t.args = c.str16("args")?;
        t.cwd = trim_nul(c.str16("cwd")?);
        t.fdlimit = c.u64("fdlimit")?;
        t.flags = c.u32("flags")?;
        t.uid = c.u32("uid")?;
        t.gid = c.u32("gid")?;
        if ver >= 2 {
            t.vmsize_kb = c.u32("vmsize_kb")?;
            t.vmrss_kb = c.u32("vmrss_kb")?;
            t.vmswap_kb = c.u32("vmswap_kb")?;
            t.pfmajor = c.u64("pfmajor")?;
            t.pfminor = c.u64("pfminor")?;
            if ver >= 3 {
                t.env = c.str16("env")?;
            }
            if ver >= 4 {
                t.vtid = c.i64("vtid")?;
                t.vpid = c.i64("vpid")?;
                t.cgroups = c.str16("cgroups")?;
                if ver >= 5 {
                    t.root = trim_nul(c.str16("root")?);
                }
            }
        }
        if sub_len > 0 {
            let read = |c: &Cur<'_>| c.pos - start;
            let fits = |c: &Cur<'_>, n: usize| read(c) + n <= sub_len;
            // libs 0.10 wrote two fields in the middle; older writers have at most 29 bytes left.
            if sub_len.saturating_sub(read(c)) > 29 {
                if fits(c, 8) {
                    t.pidns_init_start_ts = c.u64("pidns_init_start_ts")?;
                }
                if fits(c, 4) {
                    t.tty = c.u32("tty")?;
                }
            }
            if fits(c, 4) {
                t.loginuid = c.u32("loginuid")?;
            }
            if fits(c, 1) {
                t.exe_writable = c.u8("exe_writable")? != 0;
            }
            if fits(c, 8) {
                t.cap_inheritable = c.u64("cap_inheritable")?;
            }
            if fits(c, 8) {
                t.cap_permitted = c.u64("cap_permitted")?;
            }
            if fits(c, 8) {
                t.cap_effective = c.u64("cap_effective")?;
            }
            if fits(c, 1) {
                t.exe_upper_layer = c.u8("exe_upper_layer")? != 0;
            }
            if fits(c, 8) {
                t.exe_ino = c.u64("exe_ino")?;
            }
            if fits(c, 8) {
                t.exe_ino_ctime = c.u64("exe_ino_ctime")?;
            }
            if fits(c, 8) {
                t.exe_ino_mtime = c.u64("exe_ino_mtime")?;
            }
            if fits(c, 1) {
                t.exe_from_memfd = c.u8("exe_from_memfd")? != 0;
            }
            if fits(c, 1) {
                t.exe_lower_layer = c.u8("exe_lower_layer")? != 0;
            }
            if fits(c, 8) {
                t.pgid = c.i64("pgid")?;
            }
            let r = read(c);
            if r > sub_len {
                return Err(c.err(format!("thread record of {r} bytes exceeds its length {sub_len}")));
            }
            c.take(sub_len - r, "thread record remainder")?;
        }
        out.push(t);
    }
    Ok(out)
}

fn read_fd(c: &mut Cur<'_>, v2: bool) -> Result<FdEntry> {
    let start = c.pos;
    let sub_len = if v2 { c.u32("fd record length")? as usize } else { 0 };
    let fd = c.i64("fd")?;
    let ino = c.u64("ino")?;
    let mut fd_type = c.u8("fd type")?;
    let detail = match fd_type {
        fdt::IPV4_SOCK => FdDetail::Ipv4 {
            sip: c.arr4("sip")?,
            dip: c.arr4("dip")?,
            sport: c.u16("sport")?,
            dport: c.u16("dport")?,
            l4proto: c.u8("l4proto")?,
        },
        fdt::IPV4_SERVSOCK => {
            FdDetail::Ipv4Server { ip: c.arr4("ip")?, port: c.u16("port")?, l4proto: c.u8("l4proto")? }
        }
        fdt::IPV6_SOCK => FdDetail::Ipv6 {
            sip: c.arr16("sip")?,
            dip: c.arr16("dip")?,
            sport: c.u16("sport")?,
            dport: c.u16("dport")?,
            l4proto: c.u8("l4proto")?,
        },
        fdt::IPV6_SERVSOCK => {
            FdDetail::Ipv6Server { ip: c.arr16("ip")?, port: c.u16("port")?, l4proto: c.u8("l4proto")? }
        }
        fdt::UNIX_SOCK => {
            FdDetail::Unix { source: c.u64("source")?, dest: c.u64("destination")?, name: trim_nul(c.str16("name")?) }
        }
        fdt::FILE_V2 => {
            let open_flags = c.u32("open flags")?;
            let name = trim_nul(c.str16("name")?);
            let dev = if sub_len != 0 && sub_len >= c.pos - start + 4 { c.u32("dev")? } else { 0 };
            FdDetail::File { open_flags, name, dev }
        }
        fdt::FIFO
        | fdt::FILE
        | fdt::DIRECTORY
        | fdt::UNSUPPORTED
        | fdt::EVENT
        | fdt::SIGNALFD
        | fdt::EVENTPOLL
        | fdt::INOTIFY
        | fdt::TIMERFD
        | fdt::NETLINK
        | fdt::BPF
        | fdt::USERFAULTFD
        | fdt::IOURING
        | fdt::MEMFD
        | fdt::PIDFD => FdDetail::Named(trim_nul(c.str16("name")?)),
        fdt::UNKNOWN => return Err(c.err(format!("fd {fd}: type 0 (unknown)"))),
        _ => {
            fd_type = fdt::UNSUPPORTED;
            FdDetail::Unsupported
        }
    };
    if sub_len > 0 {
        let r = c.pos - start;
        if r > sub_len {
            return Err(c.err(format!("fd record of {r} bytes exceeds its length {sub_len}")));
        }
        c.take(sub_len - r, "fd record remainder")?;
    }
    Ok(FdEntry { fd, ino, fd_type, detail })
}

fn read_userlist(c: &mut Cur<'_>, v2: bool) -> Result<Block> {
    let (mut users, mut groups) = (Vec::new(), Vec::new());
    while c.left() >= 4 {
        let start = c.pos;
        let sub_len = if v2 { c.u32("user record length")? as usize } else { 0 };
        let ty = c.u8("user record type")?;
        if ty == 0 {
            users.push(User {
                uid: c.u32("uid")?,
                gid: c.u32("gid")?,
                name: trim_nul(c.str16("user name")?),
                homedir: trim_nul(c.str16("home directory")?),
                shell: trim_nul(c.str16("shell")?),
            });
        } else {
            groups.push(Group { gid: c.u32("gid")?, name: trim_nul(c.str16("group name")?) });
        }
        if sub_len > 0 {
            let r = c.pos - start;
            if r > sub_len {
                return Err(c.err(format!("user record of {r} bytes exceeds its length {sub_len}")));
            }
            c.take(sub_len - r, "user record remainder")?;
        }
    }
    Ok(Block::Users(users, groups))
}
