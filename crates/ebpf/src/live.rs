//! The loader: opens the compiled probe, sizes its maps, loads and attaches it (tp_btf only),
//! and reads its ring buffer and drop counters. Errors name the missing capability or kernel
//! feature.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use libbpf_rs::{ErrorKind, Link, MapCore, MapFlags, Object, ObjectBuilder, RingBuffer, RingBufferBuilder};

use crate::{Error, Options};

static OBJ: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/kguard.bpf.o"));

/// The loaded probe.
pub(crate) struct Probe {
    obj: Object,
    _links: Vec<Link>,
    ring: RingBuffer<'static>,
    queue: Rc<RefCell<VecDeque<Vec<u8>>>>,
}

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

fn cap_eff() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let v = s.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(v.trim(), 16).ok()
}

fn permission_hint() -> String {
    let caps = cap_eff().unwrap_or(0);
    let has = |c: u32| caps & (1u64 << c) != 0;
    let mut missing = Vec::new();
    if !has(CAP_SYS_ADMIN) {
        if !has(CAP_BPF) {
            missing.push("CAP_BPF");
        }
        if !has(CAP_PERFMON) {
            missing.push("CAP_PERFMON");
        }
    }
    let unpriv = std::fs::read_to_string("/proc/sys/kernel/unprivileged_bpf_disabled").unwrap_or_default();
    let lockdown = std::fs::read_to_string("/sys/kernel/security/lockdown").unwrap_or_default();
    let mut m = format!(
        "BPF is not permitted for this process: the live source needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) \
         (effective capabilities {caps:#x}{})",
        if missing.is_empty() { String::new() } else { format!(", missing {}", missing.join(" and ")) }
    );
    if unpriv.trim() != "0" && !unpriv.is_empty() {
        m.push_str(&format!("; kernel.unprivileged_bpf_disabled={}", unpriv.trim()));
    }
    if lockdown.contains("[confidentiality]") {
        m.push_str("; kernel lockdown is in confidentiality mode, which forbids reading kernel memory from BPF");
    }
    m
}

fn map_err(what: &str, e: &libbpf_rs::Error) -> Error {
    match e.kind() {
        ErrorKind::PermissionDenied => Error::Permission(format!("{what}: {e}: {}", permission_hint())),
        _ => Error::Kernel(format!(
            "{what}: {e} (the probe needs a kernel ≥ 5.8 with BPF ring buffers, BTF-enabled tracepoints (tp_btf) and \
             BTF at /sys/kernel/btf/vmlinux)"
        )),
    }
}

impl Probe {
    pub(crate) fn start(opts: &Options) -> Result<Probe, Error> {
        if !Path::new("/sys/kernel/btf/vmlinux").exists() {
            return Err(Error::Kernel(
                "the kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing): the live source needs \
                 CONFIG_DEBUG_INFO_BTF=y (and /sys mounted; a DaemonSet mounts the host's /sys/kernel/btf)"
                    .into(),
            ));
        }
        let ncpu = libbpf_rs::num_possible_cpus().map_err(|e| Error::Other(format!("possible CPUs: {e}")))?;
        let mut open = ObjectBuilder::default().open_memory(OBJ).map_err(|e| map_err("opening the probe", &e))?;
        let me = std::process::id();
        for mut m in open.maps_mut() {
            let name = m.name().to_string_lossy().into_owned();
            let r = if name == "scratch" {
                m.set_max_entries(u32::try_from(ncpu).unwrap_or(u32::MAX))
            } else if name == "events" && opts.ring_bytes > 0 {
                m.set_max_entries(opts.ring_bytes)
            } else if name.ends_with(".rodata") {
                match m.initial_value_mut() {
                    Some(v) if v.len() >= 4 => {
                        if let Some(s) = v.get_mut(..4) {
                            s.copy_from_slice(&me.to_le_bytes());
                        }
                        Ok(())
                    }
                    _ => Err(libbpf_rs::Error::from(std::io::Error::other("unexpected .rodata layout"))),
                }
            } else {
                Ok(())
            };
            r.map_err(|e| map_err(&format!("sizing map {name}"), &e))?;
        }
        let obj = open.load().map_err(|e| map_err("loading the probe (BPF verifier)", &e))?;
        let mut links = Vec::new();
        for p in obj.progs_mut() {
            let name = p.name().to_string_lossy().into_owned();
            links.push(p.attach().map_err(|e| map_err(&format!("attaching {name} (tp_btf)"), &e))?);
        }
        let queue: Rc<RefCell<VecDeque<Vec<u8>>>> = Rc::default();
        let q = Rc::clone(&queue);
        let ring = {
            let events = obj
                .maps()
                .find(|m| m.name() == "events")
                .ok_or_else(|| Error::Other("the probe has no `events` map".into()))?;
            let mut b = RingBufferBuilder::new();
            b.add(&events, move |data: &[u8]| {
                q.borrow_mut().push_back(data.to_vec());
                0
            })
            .map_err(|e| map_err("ring buffer", &e))?;
            b.build().map_err(|e| map_err("ring buffer", &e))?
        };
        Ok(Probe { obj, _links: links, ring, queue })
    }

    /// Waits up to `timeout` for records and returns them (all that are there).
    pub(crate) fn poll(&mut self, timeout: Duration) -> Result<Vec<Vec<u8>>, Error> {
        if self.queue.borrow().is_empty() {
            match self.ring.poll(timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Other(format!("polling the ring buffer: {e}"))),
            }
        }
        Ok(self.queue.borrow_mut().drain(..).collect())
    }

    /// (ring buffer full, record too large), summed over CPUs.
    pub(crate) fn drops(&self) -> (u64, u64) {
        let Some(m) = self.obj.maps().find(|m| m.name() == "drops") else { return (0, 0) };
        let sum = |k: u32| {
            m.lookup_percpu(&k.to_le_bytes(), MapFlags::ANY).ok().flatten().map_or(0, |vs| {
                vs.iter()
                    .map(|v| v.get(..8).and_then(|s| <[u8; 8]>::try_from(s).ok()).map_or(0, u64::from_le_bytes))
                    .sum()
            })
        };
        (sum(0), sum(1))
    }
}
