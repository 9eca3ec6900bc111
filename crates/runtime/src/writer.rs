//! Writes scap captures as current libscap writers do (section 1.2): a section header, then
//! process list (`PL_V9`), fd list (`FDL_V2`) and user list (`UL_V2`) blocks, and events as
//! `EV_V2` blocks (`EV_V2_LARGE` for large-payload event types, the `EVF` variants when the flags
//! word is not zero). What [`crate::scap::Reader`] reads, this writes back: a capture read and
//! written again reads the same, and sysdig and Falco read it.
//!
//! Plain bytes: callers pick the destination (a file, a gzip encoder) and sync it.

use std::io::{self, Write};

use crate::event::{self, ef};
use crate::scap::{Block, FdDetail, FdEntry, Group, RawEvent, ThreadInfo, User, fdt};

/// The section header block type.
const SHB: u32 = 0x0A0D_0D0A;
const SHB_MAGIC: u32 = 0x1A2B_3C4D;
const PL_V9: u32 = 0x215;
const FDL_V2: u32 = 0x218;
const UL_V2: u32 = 0x220;
const EV_V2: u32 = 0x216;
const EV_V2_LARGE: u32 = 0x221;
const EVF_V2: u32 = 0x217;
const EVF_V2_LARGE: u32 = 0x222;
const MI: u32 = 0x201;

/// A process list block holds at most this many bytes of records; longer lists go in several
/// blocks (readers merge them), so no block nears a reader's limit.
const MAX_LIST_BLOCK: usize = 8 << 20;

/// A scap writer.
#[derive(Debug)]
pub struct Writer<W: Write> {
    w: W,
    events: u64,
}

/// Appends a `u16`-length-prefixed string (longer strings are cut at 65,535 bytes, as libscap
/// cuts paths at its maximum).
fn str16(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len().min(usize::from(u16::MAX));
    out.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_le_bytes());
    out.extend_from_slice(s.get(..n).unwrap_or(&[]));
}

/// The length of a record as its `u32` prefix says it (the prefix included).
fn record_len(body_len: usize) -> io::Result<[u8; 4]> {
    u32::try_from(body_len + 4)
        .map(u32::to_le_bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "record longer than 4 GiB"))
}

impl<W: Write> Writer<W> {
    /// Starts a capture: writes the section header (version 1.2, section length unknown).
    ///
    /// # Errors
    /// Write errors.
    pub fn new(w: W) -> io::Result<Self> {
        let mut me = Self { w, events: 0 };
        let mut body = Vec::with_capacity(16);
        body.extend_from_slice(&SHB_MAGIC.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&2u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes());
        me.block(SHB, &body)?;
        Ok(me)
    }

    /// How many event blocks were written.
    #[must_use]
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The destination (flush or sync it as needed).
    pub fn into_inner(self) -> W {
        self.w
    }

    /// Writes one block: header, body, padding to 4 bytes, trailer.
    fn block(&mut self, ty: u32, body: &[u8]) -> io::Result<()> {
        let padded = body.len().div_ceil(4) * 4;
        let total = u32::try_from(8 + padded + 4)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "block longer than 4 GiB"))?;
        self.w.write_all(&ty.to_le_bytes())?;
        self.w.write_all(&total.to_le_bytes())?;
        self.w.write_all(body)?;
        self.w.write_all([0u8; 3].get(..padded - body.len()).unwrap_or(&[]))?;
        self.w.write_all(&total.to_le_bytes())
    }

    /// Writes a block read from another capture (section headers and unknown blocks are not
    /// repeated; a skipped event of an unknown type cannot be, and is left out).
    ///
    /// # Errors
    /// Write errors.
    pub fn write_block(&mut self, b: &Block) -> io::Result<()> {
        match b {
            Block::MachineInfo(raw) => self.block(MI, raw),
            Block::Threads(ts) => self.write_threads(ts),
            Block::Fds { tid, fds } => self.write_fds(*tid, fds),
            Block::Users(us, gs) => self.write_users(us, gs),
            Block::Event(ev) => self.write_event(ev),
            Block::Interfaces { block_type, raw, .. } => self.block(*block_type, raw),
            Block::Section { .. } | Block::SkippedEvent { .. } | Block::Unknown(_) => Ok(()),
        }
    }

    /// Writes the process list, in `PL_V9` blocks.
    ///
    /// # Errors
    /// Write errors.
    pub fn write_threads(&mut self, threads: &[ThreadInfo]) -> io::Result<()> {
        let mut body = Vec::new();
        for t in threads {
            let mut r = Vec::with_capacity(256);
            for v in [t.tid, t.pid, t.ptid] {
                r.extend_from_slice(&v.to_le_bytes());
            }
            r.extend_from_slice(&t.sid.to_le_bytes());
            r.extend_from_slice(&t.vpgid.to_le_bytes());
            str16(&mut r, &t.comm);
            str16(&mut r, &t.exe);
            str16(&mut r, &t.exepath);
            str16(&mut r, &t.args);
            str16(&mut r, &t.cwd);
            r.extend_from_slice(&t.fdlimit.to_le_bytes());
            for v in [t.flags, t.uid, t.gid, t.vmsize_kb, t.vmrss_kb, t.vmswap_kb] {
                r.extend_from_slice(&v.to_le_bytes());
            }
            r.extend_from_slice(&t.pfmajor.to_le_bytes());
            r.extend_from_slice(&t.pfminor.to_le_bytes());
            str16(&mut r, &t.env);
            r.extend_from_slice(&t.vtid.to_le_bytes());
            r.extend_from_slice(&t.vpid.to_le_bytes());
            str16(&mut r, &t.cgroups);
            str16(&mut r, &t.root);
            r.extend_from_slice(&t.pidns_init_start_ts.to_le_bytes());
            r.extend_from_slice(&t.tty.to_le_bytes());
            r.extend_from_slice(&t.loginuid.to_le_bytes());
            r.push(u8::from(t.exe_writable));
            for v in [t.cap_inheritable, t.cap_permitted, t.cap_effective] {
                r.extend_from_slice(&v.to_le_bytes());
            }
            r.push(u8::from(t.exe_upper_layer));
            for v in [t.exe_ino, t.exe_ino_ctime, t.exe_ino_mtime] {
                r.extend_from_slice(&v.to_le_bytes());
            }
            r.push(u8::from(t.exe_from_memfd));
            r.push(u8::from(t.exe_lower_layer));
            r.extend_from_slice(&t.pgid.to_le_bytes());
            if !body.is_empty() && body.len() + r.len() + 4 > MAX_LIST_BLOCK {
                self.block(PL_V9, &body)?;
                body.clear();
            }
            body.extend_from_slice(&record_len(r.len())?);
            body.extend_from_slice(&r);
        }
        if !body.is_empty() {
            self.block(PL_V9, &body)?;
        }
        Ok(())
    }

    /// Writes the fds of one thread as an `FDL_V2` block.
    ///
    /// # Errors
    /// Write errors.
    pub fn write_fds(&mut self, tid: u64, fds: &[FdEntry]) -> io::Result<()> {
        let mut body = Vec::new();
        body.extend_from_slice(&tid.to_le_bytes());
        for f in fds {
            let mut r = Vec::with_capacity(64);
            r.extend_from_slice(&f.fd.to_le_bytes());
            r.extend_from_slice(&f.ino.to_le_bytes());
            let ty = match (&f.detail, f.fd_type) {
                (FdDetail::Unsupported, _) => fdt::UNSUPPORTED,
                (_, t) => t,
            };
            r.push(ty);
            match &f.detail {
                FdDetail::Ipv4 { sip, dip, sport, dport, l4proto } => {
                    r.extend_from_slice(sip);
                    r.extend_from_slice(dip);
                    r.extend_from_slice(&sport.to_le_bytes());
                    r.extend_from_slice(&dport.to_le_bytes());
                    r.push(*l4proto);
                }
                FdDetail::Ipv4Server { ip, port, l4proto } => {
                    r.extend_from_slice(ip);
                    r.extend_from_slice(&port.to_le_bytes());
                    r.push(*l4proto);
                }
                FdDetail::Ipv6 { sip, dip, sport, dport, l4proto } => {
                    r.extend_from_slice(sip);
                    r.extend_from_slice(dip);
                    r.extend_from_slice(&sport.to_le_bytes());
                    r.extend_from_slice(&dport.to_le_bytes());
                    r.push(*l4proto);
                }
                FdDetail::Ipv6Server { ip, port, l4proto } => {
                    r.extend_from_slice(ip);
                    r.extend_from_slice(&port.to_le_bytes());
                    r.push(*l4proto);
                }
                FdDetail::Unix { source, dest, name } => {
                    r.extend_from_slice(&source.to_le_bytes());
                    r.extend_from_slice(&dest.to_le_bytes());
                    str16(&mut r, name);
                }
                FdDetail::File { open_flags, name, dev } => {
                    r.extend_from_slice(&open_flags.to_le_bytes());
                    str16(&mut r, name);
                    r.extend_from_slice(&dev.to_le_bytes());
                }
                FdDetail::Named(name) => str16(&mut r, name),
                FdDetail::Unsupported => str16(&mut r, b""),
            }
            body.extend_from_slice(&record_len(r.len())?);
            body.extend_from_slice(&r);
        }
        self.block(FDL_V2, &body)
    }

    /// Writes users and groups as a `UL_V2` block.
    ///
    /// # Errors
    /// Write errors.
    pub fn write_users(&mut self, users: &[User], groups: &[Group]) -> io::Result<()> {
        let mut body = Vec::new();
        for u in users {
            let mut r = vec![0u8];
            r.extend_from_slice(&u.uid.to_le_bytes());
            r.extend_from_slice(&u.gid.to_le_bytes());
            str16(&mut r, &u.name);
            str16(&mut r, &u.homedir);
            str16(&mut r, &u.shell);
            body.extend_from_slice(&record_len(r.len())?);
            body.extend_from_slice(&r);
        }
        for g in groups {
            let mut r = vec![1u8];
            r.extend_from_slice(&g.gid.to_le_bytes());
            str16(&mut r, &g.name);
            body.extend_from_slice(&record_len(r.len())?);
            body.extend_from_slice(&r);
        }
        self.block(UL_V2, &body)
    }

    /// Writes one event (its `num` and `offset` are where this writer puts it, not read back).
    ///
    /// # Errors
    /// Write errors; an event type outside the table, or a parameter too long for its length
    /// field (64 KiB, or 4 GiB for large-payload types), is refused.
    pub fn write_event(&mut self, ev: &RawEvent) -> io::Result<()> {
        let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidInput, m);
        let info =
            event::info(ev.etype).ok_or_else(|| invalid(format!("event type {} is not in the table", ev.etype)))?;
        let large = info.flags & ef::LARGE_PAYLOAD != 0;
        let lsz = if large { 4 } else { 2 };
        let header = 8 + 8 + 4 + 2 + 4;
        let data: usize = ev.params.iter().map(Vec::len).sum();
        let len = header + ev.params.len() * lsz + data;
        // what readers accept: non-large event blocks within 64 KiB (libscap's buffer), large ones
        // within this reader's cap
        let cap = if large { crate::scap::MAX_LARGE_EVENT_BLOCK } else { crate::scap::MAX_EVENT_BLOCK + 8 };
        let block_len = 8 + (2 + if ev.flags != 0 { 4 } else { 0 } + len).div_ceil(4) * 4 + 4;
        if block_len > cap as usize {
            return Err(invalid(format!(
                "a {} event of {len} bytes does not fit a block ({cap} bytes at most)",
                info.name
            )));
        }
        let len32 = u32::try_from(len).map_err(|_| invalid(format!("event of {len} bytes")))?;
        let mut body = Vec::with_capacity(2 + 4 + len);
        body.extend_from_slice(&ev.cpu.to_le_bytes());
        if ev.flags != 0 {
            body.extend_from_slice(&ev.flags.to_le_bytes());
        }
        body.extend_from_slice(&ev.ts.to_le_bytes());
        body.extend_from_slice(&ev.tid.to_le_bytes());
        body.extend_from_slice(&len32.to_le_bytes());
        body.extend_from_slice(&ev.etype.to_le_bytes());
        let n = u32::try_from(ev.params.len()).map_err(|_| invalid("too many parameters".to_owned()))?;
        body.extend_from_slice(&n.to_le_bytes());
        for p in &ev.params {
            if large {
                let l = u32::try_from(p.len()).map_err(|_| invalid(format!("parameter of {} bytes", p.len())))?;
                body.extend_from_slice(&l.to_le_bytes());
            } else {
                let l = u16::try_from(p.len()).map_err(|_| {
                    invalid(format!("parameter of {} bytes in a {} event (at most 65,535)", p.len(), info.name))
                })?;
                body.extend_from_slice(&l.to_le_bytes());
            }
        }
        for p in &ev.params {
            body.extend_from_slice(p);
        }
        let ty = match (ev.flags != 0, large) {
            (false, false) => EV_V2,
            (false, true) => EV_V2_LARGE,
            (true, false) => EVF_V2,
            (true, true) => EVF_V2_LARGE,
        };
        self.block(ty, &body)?;
        self.events += 1;
        Ok(())
    }
}
