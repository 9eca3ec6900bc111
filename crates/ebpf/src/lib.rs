//! Falco's syscall event source, live: an eBPF probe on the running kernel whose records become
//! the same [`kguard_runtime::scap::RawEvent`]s a capture holds, applied to the same
//! [`kguard_runtime::Inspector`] (seeded from `/proc` first, as Falco's initial process scan), so
//! the engine sees the same [`kguard_runtime::EventView`]s.
//!
//! * [`record`]: the probe's record format and its translation into PPME_* events (pure).
//! * [`procfs`]: the initial process, fd and user scan (reads `/proc` and `/etc`).
//! * [`Live`]: loads and attaches the probe, polls its ring buffer, counts drops. Only with the
//!   `live` cargo feature (it needs clang, libelf and zlib to build); without it
//!   [`Live::start`] returns [`Error::Unsupported`].
//!
//! I/O about the machine itself (the BPF syscalls, `/proc`, `/sys`) stays behind this crate's
//! small boundary: [`Live::start`], [`Live::next_event`], [`Live::metrics`].
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod containers;
pub mod procfs;
pub mod record;

#[cfg(feature = "live")]
mod live;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use kguard_runtime::{EventView, Inspector};

/// Why the live source could not start or stopped.
#[derive(Debug)]
pub enum Error {
    /// This build has no eBPF support (built without the `live` feature).
    Unsupported,
    /// The kernel lacks something the probe needs (BTF, ring buffers, an attach point).
    Kernel(String),
    /// The process may not load BPF programs.
    Permission(String),
    /// Anything else (the message says what).
    Other(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unsupported => write!(
                f,
                "this kguard build has no live (eBPF) support: rebuild with `--features live` \
                 (needs clang, libelf, zlib and bpftool at build time)"
            ),
            Error::Kernel(m) | Error::Permission(m) | Error::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

/// Where the live source reads the machine's state.
#[derive(Clone, Debug)]
pub struct Options {
    /// `/proc` (a container mounts the host's elsewhere, e.g. `/host/proc`).
    pub proc_root: PathBuf,
    /// `/etc` (users and groups).
    pub etc: PathBuf,
    /// Ring buffer size in bytes (a power of two, at least one page); 0 = the probe's 8 MiB.
    pub ring_bytes: u32,
    /// Where the container runtimes keep their state (container metadata for `container.*` and
    /// `k8s.*`).
    pub container_roots: containers::Roots,
    /// Keep every block the state is fed (the initial process, fd and user lists, then each
    /// event, enter events and thread exits included) for [`Live::take_recorded`]: what
    /// `kguard detect --live -w FILE` writes as a capture.
    pub record: bool,
}

impl Default for Options {
    /// `/proc` and `/etc`, or the folders named by `KGUARD_HOST_PROC` and `KGUARD_HOST_ETC` (a
    /// DaemonSet mounts the node's `/etc` at `/host/etc`).
    fn default() -> Self {
        let env =
            |k: &str, d: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map_or_else(|| d.into(), PathBuf::from);
        Options {
            proc_root: env("KGUARD_HOST_PROC", "/proc"),
            etc: env("KGUARD_HOST_ETC", "/etc"),
            ring_bytes: 0,
            container_roots: containers::Roots::default(),
            record: false,
        }
    }
}

/// Counters since the start.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Metrics {
    /// Records read from the ring buffer.
    pub records: u64,
    /// Events produced (enter and exit).
    pub events: u64,
    /// Records the kernel side could not write (ring buffer full), summed over CPUs.
    pub drops: u64,
    /// Records that did not fit the probe's scratch buffer.
    pub drops_oversize: u64,
    /// Records too short to decode.
    pub bad_records: u64,
    /// Threads or fds left out because a state table was full.
    pub state_dropped: u64,
    /// Seconds since the start.
    pub elapsed_s: f64,
}

impl Metrics {
    /// Records per second since the start.
    #[must_use]
    pub fn records_per_s(&self) -> f64 {
        if self.elapsed_s > 0.0 {
            #[allow(clippy::cast_precision_loss)]
            let r = self.records as f64;
            r / self.elapsed_s
        } else {
            0.0
        }
    }
}

impl fmt::Display for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "records={} ({:.0}/s) events={} drops={} oversize={} bad={} state_dropped={} elapsed={:.1}s",
            self.records,
            self.records_per_s(),
            self.events,
            self.drops,
            self.drops_oversize,
            self.bad_records,
            self.state_dropped,
            self.elapsed_s
        )
    }
}

/// The live source.
pub struct Live {
    #[cfg(feature = "live")]
    probe: live::Probe,
    inspector: Inspector,
    conv: record::Converter,
    pending: std::collections::VecDeque<kguard_runtime::scap::RawEvent>,
    proc_root: PathBuf,
    metrics: Metrics,
    started: std::time::Instant,
    /// `Some` when recording ([`Options::record`]): the blocks fed since the last take.
    recorded: Option<Vec<kguard_runtime::scap::Block>>,
    /// Container metadata from the runtimes' state.
    containers: containers::Resolver,
}

impl fmt::Debug for Live {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Live").field("metrics", &self.metrics).finish_non_exhaustive()
    }
}

/// Realtime minus boot time, in ns (to put boot-clock timestamps on the epoch).
fn boot_to_epoch() -> i128 {
    use nix::time::{ClockId, clock_gettime};
    let ns = |c| clock_gettime(c).map_or(0i128, |t| i128::from(t.tv_sec()) * 1_000_000_000 + i128::from(t.tv_nsec()));
    let (r, b) = (ns(ClockId::CLOCK_REALTIME), ns(ClockId::CLOCK_BOOTTIME));
    r - b
}

impl Live {
    /// Loads and attaches the probe, then scans `/proc` for the initial state (the probe first,
    /// so no process started during the scan is missed).
    ///
    /// # Errors
    /// [`Error::Unsupported`] without the `live` feature; otherwise what stopped the probe from
    /// loading, naming the capability or kernel feature that is missing.
    pub fn start(opts: &Options) -> Result<Live, Error> {
        #[cfg(feature = "live")]
        {
            let probe = live::Probe::start(opts)?;
            let mut inspector = Inspector::new();
            let mut recorded = opts.record.then(Vec::new);
            for b in procfs::scan(&opts.proc_root, &opts.etc) {
                if let Some(r) = recorded.as_mut() {
                    r.push(b.clone());
                }
                inspector.feed(b);
            }
            let mut live = Live {
                probe,
                inspector,
                conv: record::Converter::new(boot_to_epoch()),
                pending: std::collections::VecDeque::new(),
                proc_root: opts.proc_root.clone(),
                metrics: Metrics::default(),
                started: std::time::Instant::now(),
                recorded,
                containers: containers::Resolver::new(opts.container_roots.clone()),
            };
            // the containers of the processes already running
            let tids: Vec<i64> = live.inspector.threads().filter(|t| t.is_main()).map(|t| t.tid).collect();
            let mut blocks = Vec::new();
            for tid in tids {
                blocks.extend(live.resolve_container(tid, 0));
            }
            if let Some(r) = live.recorded.as_mut() {
                r.extend(blocks);
            }
            Ok(live)
        }
        #[cfg(not(feature = "live"))]
        {
            let _ = (opts, boot_to_epoch);
            Err(Error::Unsupported)
        }
    }

    /// The next exit event (what Falco ≥ 0.42 shows rules: `evt.dir` is always `<`), applied to
    /// the state; enter events and thread exits are applied but not returned. `None` when no event
    /// arrived within `timeout`.
    ///
    /// # Errors
    /// When polling the ring buffer fails.
    pub fn next_event(&mut self, timeout: Duration) -> Result<Option<EventView<'_>>, Error> {
        let mut polled = false;
        loop {
            if let Some(ev) = self.pending.pop_front() {
                let show = !kguard_runtime::event::is_enter(ev.etype);
                // a new program or thread: its container's metadata, when not known yet
                let new_task = show
                    && kguard_runtime::event::info(ev.etype).is_some_and(|i| {
                        matches!(i.name, "execve" | "execveat" | "clone" | "clone3" | "fork" | "vfork")
                    });
                let (tid, ts) = (i64::from_le_bytes(ev.tid.to_le_bytes()), ev.ts);
                let block = kguard_runtime::scap::Block::Event(ev);
                let copy = self.recorded.is_some().then(|| block.clone());
                self.inspector.feed(block);
                let container = if new_task { self.resolve_container(tid, ts) } else { None };
                if let Some(r) = self.recorded.as_mut() {
                    // the container event first, so that a replay knows it at this event
                    r.extend(container);
                    r.extend(copy);
                }
                if show {
                    return Ok(self.inspector.view());
                }
                continue;
            }
            if polled {
                return Ok(None);
            }
            polled = true;
            self.fill(timeout)?;
        }
    }

    /// Looks up the container of thread `tid` (from its cgroups) when its metadata is not known
    /// yet, and gives it to the state; returns the `container` event a capture carries for it.
    fn resolve_container(&mut self, tid: i64, ts: u64) -> Option<kguard_runtime::scap::Block> {
        let th = self.inspector.thread(tid)?;
        let (full, kind) = kguard_runtime::container::id_from_cgroups(&th.cgroups)?;
        if self.inspector.container(full.get(..12)?).is_some() {
            return None;
        }
        let info = self.containers.lookup(&full, kind)?;
        let mut json = info.to_event_json().into_bytes();
        json.push(0);
        self.inspector.set_container(info);
        Some(kguard_runtime::scap::Block::Event(kguard_runtime::scap::RawEvent {
            num: 0,
            offset: 0,
            cpu: 0,
            flags: 0,
            ts,
            tid: u64::from_le_bytes(tid.to_le_bytes()),
            etype: kguard_runtime::event::CONTAINER_JSON_2_E,
            params: vec![json],
        }))
    }

    #[cfg(feature = "live")]
    fn fill(&mut self, timeout: Duration) -> Result<(), Error> {
        let recs = self.probe.poll(timeout)?;
        let proc_root = self.proc_root.clone();
        let mut cg = |tid: u32| procfs::cgroups(&proc_root, tid);
        for bytes in recs {
            self.metrics.records += 1;
            match record::Record::parse(&bytes) {
                Some(r) => {
                    let evs = self.conv.convert(&r, &mut cg);
                    self.metrics.events += evs.len() as u64;
                    self.pending.extend(evs);
                }
                None => self.metrics.bad_records += 1,
            }
        }
        Ok(())
    }

    #[cfg(not(feature = "live"))]
    #[allow(clippy::unused_self)]
    fn fill(&mut self, _timeout: Duration) -> Result<(), Error> {
        let _ = (&self.conv, &self.proc_root);
        Err(Error::Unsupported)
    }

    /// The counters so far (drops are read from the probe's per-CPU map).
    #[must_use]
    pub fn metrics(&self) -> Metrics {
        let mut m = self.metrics;
        #[cfg(feature = "live")]
        {
            let (d, o) = self.probe.drops();
            m.drops = d;
            m.drops_oversize = o;
        }
        m.state_dropped = self.inspector.dropped;
        m.elapsed_s = self.started.elapsed().as_secs_f64();
        m
    }

    /// The blocks fed to the state since the last call, in order (empty unless
    /// [`Options::record`]): written with `kguard_runtime::writer::Writer`, they make a capture
    /// that replays to the same state and the same events.
    pub fn take_recorded(&mut self) -> Vec<kguard_runtime::scap::Block> {
        self.recorded.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The state.
    #[must_use]
    pub fn inspector(&self) -> &Inspector {
        &self.inspector
    }
}
