//! Recording processes that are already running: `record --pid PID` (the process, every thread,
//! and its descendants) and `record --cgroup DIR` (every process of a cgroup, e.g. a
//! container's), with ptrace attached by `PTRACE_SEIZE`.
//!
//! Why SEIZE and not ATTACH: `PTRACE_ATTACH` sends the tracee a SIGSTOP, which its parent can
//! observe (`waitpid(WUNTRACED)`, a shell's job control) and which races with the program's own
//! stops. `PTRACE_SEIZE` attaches without a signal; `PTRACE_INTERRUPT` then stops each thread
//! once, and a syscall it was blocked in is restarted by the kernel (`restart_syscall` for
//! sleeps), so the program does not notice. New threads and children are traced from their
//! first instruction (`PTRACE_O_TRACECLONE`/`FORK`/`VFORK`, auto-attached with SEIZE
//! semantics); exec is followed. At the end every thread is interrupted once more and detached
//! (a pending signal is delivered on detach), and it runs on untraced. Without
//! `PTRACE_O_EXITKILL`: if kguard itself dies, the kernel detaches and the tracees live on.
//!
//! Job control: a thread entering a group-stop (SIGSTOP, SIGTSTP, …) is left stopped.
//! `PTRACE_LISTEN` (which would let SIGCONT wake it) has no safe wrapper in `nix` and the
//! workspace forbids `unsafe`, so a stopped thread is held in its ptrace-stop and resumed when
//! `/proc/TID/status` shows a SIGCONT pending (checked every [`SCAN`]): a continued process
//! runs again within that time.
//!
//! Limits (each refused with a clear message before anything is attached): a process has one
//! tracer at most (strace, gdb, another recorder), YAMA's `kernel.yama.ptrace_scope` (1: only
//! descendants without CAP_SYS_PTRACE; 2: CAP_SYS_PTRACE only; 3: never), and other users' or
//! non-dumpable (setuid) processes need CAP_SYS_PTRACE. Every syscall stop costs two context
//! switches: a busy process runs several times slower while it is recorded.

use std::collections::{BTreeSet, HashSet};
use std::os::fd::AsFd as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kguard_seccomp::Arch;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::ptrace;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::trace::syscall_of;

/// How often the cgroup's members are re-read and stopped threads checked for SIGCONT.
pub const SCAN: Duration = Duration::from_millis(100);

/// How long detaching may take (threads must reach a ptrace-stop to be detached).
const DETACH_TIMEOUT: Duration = Duration::from_secs(5);

/// What to record.
#[derive(Clone, Debug)]
pub enum Target {
    /// A process (all its threads) and its descendants.
    Pid(i32),
    /// Every process of a cgroup directory, including those that join while recording.
    Cgroup(PathBuf),
}

/// What a recording saw.
#[derive(Debug)]
pub struct Recorded {
    /// (ABI, syscall number) pairs.
    pub syscalls: BTreeSet<(Arch, u32)>,
    /// Threads traced at some point.
    pub tasks: usize,
    /// Processes (thread groups) traced at some point.
    pub processes: usize,
    /// Why the recording ended.
    pub ended: String,
    /// How long it recorded.
    pub elapsed: Duration,
    /// Threads that did not reach a stop to be detached in time (the kernel detaches them when
    /// kguard exits).
    pub not_detached: Vec<i32>,
    /// A name for the profile (the process's command, or the cgroup's directory name).
    pub name: String,
}

/// Records `target` until SIGINT/SIGTERM/SIGHUP, `duration`, or (for a pid) until every traced
/// process has exited.
///
/// # Errors
/// A target that does not exist or cannot be traced, with the reason (see the module comment);
/// nothing stays attached after an error.
pub fn record(target: &Target, duration: Option<Duration>) -> Result<Recorded, String> {
    if cfg!(not(any(target_arch = "x86_64", target_arch = "aarch64"))) {
        return Err("recording is implemented for x86_64 and aarch64".to_owned());
    }
    let me = i32::try_from(std::process::id()).map_err(|e| e.to_string())?;
    let (roots, name, cgroup) = match target {
        Target::Pid(pid) => {
            let tgid = resolve_pid(*pid, me)?;
            (vec![tgid], comm(tgid).unwrap_or_else(|| format!("pid-{tgid}")), None)
        }
        Target::Cgroup(dir) => {
            let members = check_cgroup(dir, me)?;
            let name = dir.file_name().map_or_else(|| "cgroup".to_owned(), |n| n.to_string_lossy().into_owned());
            (members, name, Some(dir.as_path()))
        }
    };
    let mut mask = SigSet::empty();
    for s in [Signal::SIGCHLD, Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        mask.add(s);
    }
    mask.thread_block().map_err(|e| format!("cannot block signals: {e}"))?;
    let result = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| format!("signalfd: {e}"))
        .and_then(|sfd| {
            let mut t = Tracer::new(me);
            let recorded = t.session(&sfd, target, &roots, cgroup, duration);
            let not_detached = t.detach_all(&sfd);
            recorded.map(|(ended, elapsed)| Recorded {
                syscalls: std::mem::take(&mut t.syscalls),
                tasks: t.tasks.len(),
                processes: t.processes.len(),
                ended,
                elapsed,
                not_detached,
                name,
            })
        });
    let _ = mask.thread_unblock();
    result
}

/// The threads being traced and what they did.
struct Tracer {
    me: i32,
    options: ptrace::Options,
    /// Traced threads (a stop of each is expected at detach).
    live: HashSet<Pid>,
    /// Threads in a group-stop, kept in their ptrace-stop (not resumed).
    held: HashSet<Pid>,
    /// Every thread traced at some point.
    tasks: HashSet<i32>,
    /// Every thread group traced at some point.
    processes: HashSet<i32>,
    syscalls: BTreeSet<(Arch, u32)>,
}

impl Tracer {
    fn new(me: i32) -> Self {
        Self {
            me,
            options: ptrace::Options::PTRACE_O_TRACESYSGOOD
                | ptrace::Options::PTRACE_O_TRACECLONE
                | ptrace::Options::PTRACE_O_TRACEFORK
                | ptrace::Options::PTRACE_O_TRACEVFORK
                | ptrace::Options::PTRACE_O_TRACEEXEC,
            live: HashSet::new(),
            held: HashSet::new(),
            tasks: HashSet::new(),
            processes: HashSet::new(),
            syscalls: BTreeSet::new(),
        }
    }

    /// A thread is traced (first seen).
    fn note(&mut self, tid: Pid) {
        self.live.insert(tid);
        if self.tasks.insert(tid.as_raw()) {
            self.processes.insert(tgid_of(tid.as_raw()).unwrap_or_else(|| tid.as_raw()));
        }
    }

    /// Attaches, records, and says why it ended and how long it recorded.
    fn session(
        &mut self,
        sfd: &SignalFd,
        target: &Target,
        roots: &[i32],
        cgroup: Option<&Path>,
        duration: Option<Duration>,
    ) -> Result<(String, Duration), String> {
        for &root in roots {
            self.attach_process(root)?;
        }
        if let Target::Pid(_) = target {
            self.attach_descendants(roots);
        }
        if self.live.is_empty() {
            return Err("the processes exited before they could be attached".to_owned());
        }
        let start = Instant::now();
        let ended = self.run(sfd, duration.map(|d| start + d), cgroup)?;
        Ok((ended, start.elapsed()))
    }

    /// Seizes every thread of a process (re-reading its task list until no new thread appears:
    /// an untraced thread may create one meanwhile) and interrupts each once so that syscall
    /// tracing starts at its next stop. A process that is gone is no error.
    fn attach_process(&mut self, tgid: i32) -> Result<(), String> {
        if tgid == self.me {
            return Ok(());
        }
        for _ in 0..64 {
            let Ok(tids) = tasks(tgid) else { return Ok(()) };
            let mut new = 0;
            for tid in tids.into_iter().map(Pid::from_raw) {
                if self.live.contains(&tid) {
                    continue;
                }
                match ptrace::seize(tid, self.options) {
                    Ok(()) => {
                        // Fails only for a thread that exited meanwhile.
                        let _ = ptrace::interrupt(tid);
                        self.note(tid);
                        new += 1;
                    }
                    Err(Errno::ESRCH) => {}
                    // Already ours: a thread created by one we traced (auto-attached).
                    Err(Errno::EPERM) if tracer_of(tid.as_raw()) == Some(self.me) => self.note(tid),
                    // An exited thread (a leader that called pthread_exit) is refused with EPERM.
                    Err(Errno::EPERM) if exited(tid.as_raw()) => {}
                    Err(e) => return Err(attach_error(tid.as_raw(), tgid, e)),
                }
            }
            if new == 0 {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Attaches the descendants `roots` had before tracing began (those forked later are
    /// followed by the kernel). Failures are warnings: the process itself is recorded.
    fn attach_descendants(&mut self, roots: &[i32]) {
        for _ in 0..8 {
            let before = self.processes.len();
            let table = processes();
            for pid in descendants(roots, &table) {
                if pid == self.me || self.live.contains(&Pid::from_raw(pid)) {
                    continue;
                }
                if let Err(e) = self.attach_process(pid) {
                    eprintln!("warning: descendant {pid} not recorded: {e}");
                }
            }
            if self.processes.len() == before {
                return;
            }
        }
    }

    /// The recording loop: handles every stop, and ends at a signal, the deadline, or (pid
    /// mode) when no traced thread is left, or (cgroup mode) when the cgroup is gone.
    fn run(&mut self, sfd: &SignalFd, deadline: Option<Instant>, cgroup: Option<&Path>) -> Result<String, String> {
        let mut next_scan = Instant::now() + SCAN;
        let mut warned: HashSet<i32> = HashSet::new();
        loop {
            if let Some(sig) = stop_signal(sfd) {
                return Ok(format!("{sig} received"));
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Ok("--duration elapsed".to_owned());
            }
            if now >= next_scan {
                self.resume_continued();
                if let Some(dir) = cgroup {
                    match cgroup_members(dir) {
                        Ok(members) => {
                            for pid in members {
                                if pid == self.me
                                    || self.live.contains(&Pid::from_raw(pid))
                                    || tracer_of(pid) == Some(self.me)
                                {
                                    continue;
                                }
                                if let Err(e) = self.attach_process(pid)
                                    && warned.insert(pid)
                                {
                                    eprintln!("warning: new cgroup member {pid} not recorded: {e}");
                                }
                            }
                        }
                        Err(_) if self.live.is_empty() => {
                            return Ok(format!("the cgroup {} was removed", dir.display()));
                        }
                        Err(_) => {}
                    }
                }
                next_scan = now + SCAN;
            }
            if cgroup.is_none() && self.live.is_empty() {
                return Ok("every traced process exited".to_owned());
            }
            if self.drain(1024)? == 0 {
                let until = deadline.map_or(next_scan, |d| d.min(next_scan));
                let ms = until.saturating_duration_since(Instant::now()).as_millis();
                // Wakes at SIGCHLD (a tracee stopped), SIGINT, SIGTERM or SIGHUP.
                let mut fds = [PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
                let _ = poll(&mut fds, PollTimeout::from(u16::try_from(ms).unwrap_or(u16::MAX)));
            }
        }
    }

    /// Handles the stops already reported, at most `max`; returns how many.
    fn drain(&mut self, max: usize) -> Result<usize, String> {
        let mut n = 0;
        while n < max {
            match waitpid(None, Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(status) => {
                    self.on_stop(status);
                    n += 1;
                }
                Err(Errno::EINTR) => {}
                Err(Errno::ECHILD) => {
                    // Nothing traced is left (their exits were reported to nobody else).
                    self.live.clear();
                    self.held.clear();
                    break;
                }
                Err(e) => return Err(format!("waitpid: {e}")),
            }
        }
        Ok(n)
    }

    fn on_stop(&mut self, status: WaitStatus) {
        match status {
            WaitStatus::PtraceSyscall(pid) => {
                self.note(pid);
                // nr -1: the stop after a skipped or restarted syscall
                if let Some(s) = syscall_of(pid).filter(|s| s.1 != u32::MAX) {
                    self.syscalls.insert(s);
                }
                let _ = ptrace::syscall(pid, None);
            }
            WaitStatus::PtraceEvent(pid, sig, event) => {
                self.note(pid);
                if event == ptrace::Event::PTRACE_EVENT_STOP as i32 {
                    // A group-stop keeps the thread stopped; otherwise it is our interrupt
                    // or a new thread's first stop.
                    if is_stop_signal(sig) {
                        self.held.insert(pid);
                    } else {
                        let _ = ptrace::syscall(pid, None);
                    }
                    return;
                }
                if let Some(new) = new_task(pid, event) {
                    self.note(new);
                }
                if let Some(former) = exec_former_tid(pid, event) {
                    self.live.remove(&former);
                    self.held.remove(&former);
                }
                let _ = ptrace::syscall(pid, None);
            }
            // A signal for the tracee: deliver it.
            WaitStatus::Stopped(pid, sig) => {
                self.note(pid);
                let _ = ptrace::syscall(pid, sig);
            }
            WaitStatus::Exited(pid, _) | WaitStatus::Signaled(pid, _, _) => {
                self.live.remove(&pid);
                self.held.remove(&pid);
            }
            _ => {}
        }
    }

    /// Resumes the held (group-stopped) threads whose process was sent SIGCONT; they stop
    /// again at once, report the pending SIGCONT, and it is delivered.
    fn resume_continued(&mut self) {
        let continued: Vec<Pid> = self.held.iter().copied().filter(|t| sigcont_pending(t.as_raw())).collect();
        for tid in continued {
            self.held.remove(&tid);
            let _ = ptrace::syscall(tid, None);
        }
    }

    /// Detaches from every thread: the held ones at once (they stay stopped), the others at
    /// their next stop after an interrupt (a signal stop delivers its signal on detach).
    /// Returns the threads that did not stop within [`DETACH_TIMEOUT`].
    fn detach_all(&mut self, sfd: &SignalFd) -> Vec<i32> {
        let mut done: HashSet<Pid> = HashSet::new();
        for tid in self.held.drain() {
            let _ = ptrace::detach(tid, None);
            self.live.remove(&tid);
            done.insert(tid);
        }
        let mut waiting: HashSet<Pid> =
            self.live.drain().filter(|tid| ptrace::interrupt(*tid).is_ok()).collect::<HashSet<_>>();
        let deadline = Instant::now() + DETACH_TIMEOUT;
        while !waiting.is_empty() {
            let status = match waitpid(None, Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let _ = stop_signal(sfd);
                    let mut fds = [PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
                    let _ = poll(&mut fds, PollTimeout::from(50u16));
                    continue;
                }
                Ok(s) => s,
                Err(Errno::EINTR) => continue,
                Err(_) => break,
            };
            let (pid, sig) = match status {
                WaitStatus::PtraceSyscall(pid) => (pid, None),
                WaitStatus::PtraceEvent(pid, _, event) => {
                    if let Some(new) = new_task(pid, event)
                        && !done.contains(&new)
                    {
                        waiting.insert(new);
                    }
                    if let Some(former) = exec_former_tid(pid, event) {
                        waiting.remove(&former);
                    }
                    (pid, None)
                }
                WaitStatus::Stopped(pid, sig) => (pid, Some(sig)),
                WaitStatus::Exited(pid, _) | WaitStatus::Signaled(pid, _, _) => {
                    waiting.remove(&pid);
                    continue;
                }
                _ => continue,
            };
            let _ = ptrace::detach(pid, sig);
            waiting.remove(&pid);
            done.insert(pid);
        }
        let mut left: Vec<i32> = waiting.into_iter().map(Pid::as_raw).collect();
        left.sort_unstable();
        left
    }
}

/// The thread or process a fork, vfork or clone event created.
fn new_task(pid: Pid, event: i32) -> Option<Pid> {
    let forks =
        [ptrace::Event::PTRACE_EVENT_FORK, ptrace::Event::PTRACE_EVENT_VFORK, ptrace::Event::PTRACE_EVENT_CLONE];
    if !forks.iter().any(|e| *e as i32 == event) {
        return None;
    }
    let new = ptrace::getevent(pid).ok()?;
    i32::try_from(new).ok().map(Pid::from_raw)
}

/// At an exec event: the thread id the execing thread had, when it was not the leader (that id
/// is gone without an exit report: the thread now has the leader's id).
fn exec_former_tid(pid: Pid, event: i32) -> Option<Pid> {
    if event != ptrace::Event::PTRACE_EVENT_EXEC as i32 {
        return None;
    }
    let former = Pid::from_raw(i32::try_from(ptrace::getevent(pid).ok()?).ok()?);
    (former != pid).then_some(former)
}

fn is_stop_signal(sig: Signal) -> bool {
    matches!(sig, Signal::SIGSTOP | Signal::SIGTSTP | Signal::SIGTTIN | Signal::SIGTTOU)
}

/// Reads the pending signals; the first of SIGINT, SIGTERM, SIGHUP among them, by name.
fn stop_signal(sfd: &SignalFd) -> Option<&'static str> {
    let mut stop = None;
    while let Ok(Some(info)) = sfd.read_signal() {
        let name = i32::try_from(info.ssi_signo).ok().and_then(|n| Signal::try_from(n).ok());
        if let Some(s @ (Signal::SIGINT | Signal::SIGTERM | Signal::SIGHUP)) = name {
            stop.get_or_insert(s.as_str());
        }
    }
    stop
}

// ---- /proc and cgroupfs: the small readers the tracer needs ----

/// `Key:\tvalue` of a `/proc/PID/status` text.
fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':')).map(str::trim)
}

fn read_status(tid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{tid}/status")).ok()
}

fn tracer_of(tid: i32) -> Option<i32> {
    status_field(&read_status(tid)?, "TracerPid")?.parse().ok()
}

fn tgid_of(tid: i32) -> Option<i32> {
    status_field(&read_status(tid)?, "Tgid")?.parse().ok()
}

fn comm(pid: i32) -> Option<String> {
    let c = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(c.trim_end().to_owned())
}

/// Whether a thread has SIGCONT pending (its own or its process's).
fn sigcont_pending(tid: i32) -> bool {
    let Some(status) = read_status(tid) else { return false };
    let bit = Signal::SIGCONT as u32 - 1;
    ["SigPnd", "ShdPnd"].iter().any(|k| status_field(&status, k).is_some_and(|m| mask_bit(m, bit)))
}

/// Whether bit `bit` is set in a hexadecimal mask of `/proc/PID/status` (signal N is bit N-1;
/// capability N is bit N).
fn mask_bit(hex: &str, bit: u32) -> bool {
    u64::from_str_radix(hex, 16).is_ok_and(|m| bit < 64 && m & (1u64 << bit) != 0)
}

/// `CAP_SYS_PTRACE` (capability 19) in this process's effective set.
fn has_cap_sys_ptrace() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| status_field(&s, "CapEff").map(|m| mask_bit(m, 19)))
        .unwrap_or(false)
}

/// Whether a thread has exited (zombie or dead): it cannot be attached, and need not be.
fn exited(tid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{tid}/stat"))
        .map_or(true, |s| stat_fields(&s).is_some_and(|(state, _, _)| matches!(state, 'Z' | 'X' | 'x')))
}

fn yama_scope() -> Option<u8> {
    std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope").ok()?.trim().parse().ok()
}

/// State, parent and flags from a `/proc/PID/stat` text (the fields after the command name,
/// which may itself hold spaces and parentheses).
fn stat_fields(stat: &str) -> Option<(char, i32, u64)> {
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    // pgrp session tty_nr tpgid flags
    let flags = f.nth(4)?.parse().ok()?;
    Some((state, ppid, flags))
}

/// `PF_KTHREAD` in `/proc/PID/stat`'s flags.
const PF_KTHREAD: u64 = 0x0020_0000;

/// The thread ids of a process.
fn tasks(tgid: i32) -> std::io::Result<Vec<i32>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(format!("/proc/{tgid}/task"))? {
        if let Some(tid) = e?.file_name().to_str().and_then(|n| n.parse().ok()) {
            out.push(tid);
        }
    }
    Ok(out)
}

/// Every process with its parent.
fn processes() -> Vec<(i32, i32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            Some((pid, stat_fields(&stat)?.1))
        })
        .collect()
}

/// The descendants of `roots` in a (pid, parent) table.
fn descendants(roots: &[i32], table: &[(i32, i32)]) -> Vec<i32> {
    let mut found: Vec<i32> = Vec::new();
    let mut seen: HashSet<i32> = roots.iter().copied().collect();
    let mut frontier: Vec<i32> = roots.to_vec();
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid) in table {
            if ppid == parent && seen.insert(pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}

/// The process ids in a cgroup's `cgroup.procs`.
fn cgroup_members(dir: &Path) -> std::io::Result<Vec<i32>> {
    let text = std::fs::read_to_string(dir.join("cgroup.procs"))?;
    Ok(parse_pids(&text))
}

fn parse_pids(text: &str) -> Vec<i32> {
    text.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// The process to record for `--pid PID` (its thread group when PID is a thread), or why not.
fn resolve_pid(pid: i32, me: i32) -> Result<i32, String> {
    let Some(status) = read_status(pid) else {
        return Err(format!("no such process: {pid} (/proc/{pid} does not exist)"));
    };
    let tgid = status_field(&status, "Tgid").and_then(|t| t.parse().ok()).unwrap_or(pid);
    if tgid == me {
        return Err(format!("{pid} is kguard itself"));
    }
    let stat = std::fs::read_to_string(format!("/proc/{tgid}/stat")).unwrap_or_default();
    match stat_fields(&stat) {
        Some((_, _, flags)) if flags & PF_KTHREAD != 0 => Err(format!(
            "{pid} is a kernel thread ({}): it makes no system calls of its own to record",
            comm(tgid).unwrap_or_default()
        )),
        Some(('Z', _, _)) => Err(format!("{pid} has exited (a zombie not yet reaped by its parent)")),
        _ => Ok(tgid),
    }
}

/// The members of a cgroup directory, or why it cannot be recorded.
fn check_cgroup(dir: &Path, me: i32) -> Result<Vec<i32>, String> {
    let d = dir.display();
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(format!("{d}: no such directory")),
        Err(e) => return Err(format!("{d}: {e}")),
        Ok(m) if !m.is_dir() => return Err(format!("{d}: not a directory (give a cgroup directory)")),
        Ok(_) => {}
    }
    let fs = nix::sys::statfs::statfs(dir).map_err(|e| format!("{d}: {e}"))?;
    let t = fs.filesystem_type();
    if t != nix::sys::statfs::CGROUP2_SUPER_MAGIC && t != nix::sys::statfs::CGROUP_SUPER_MAGIC {
        return Err(format!(
            "{d} is not a cgroup directory (its filesystem has magic {:#x}, not cgroup2's {:#x}): give a directory \
             under the cgroup v2 mount, e.g. /sys/fs/cgroup/kubepods.slice/…/cri-containerd-<id>.scope",
            t.0,
            nix::sys::statfs::CGROUP2_SUPER_MAGIC.0
        ));
    }
    let members = cgroup_members(dir).map_err(|e| format!("{d}/cgroup.procs: {e}"))?;
    let members: Vec<i32> = members.into_iter().filter(|p| *p != me).collect();
    if members.is_empty() {
        return Err(format!("{d}: the cgroup has no process (cgroup.procs is empty): nothing to record"));
    }
    Ok(members)
}

/// Why seizing `tid` (a thread of `tgid`) failed, in words a user can act on.
fn attach_error(tid: i32, tgid: i32, e: Errno) -> String {
    let which = if tid == tgid { format!("process {tgid}") } else { format!("thread {tid} of process {tgid}") };
    if e != Errno::EPERM {
        return format!("cannot trace {which}: {e}");
    }
    let tracer = tracer_of(tid).filter(|t| *t != 0);
    permission_message(
        &which,
        &Denied {
            tracer: tracer.map(|t| (t, comm(t).unwrap_or_default())),
            yama: yama_scope(),
            cap_sys_ptrace: has_cap_sys_ptrace(),
        },
    )
}

/// What is known about a refused `PTRACE_SEIZE` (EPERM).
#[derive(Debug, Default)]
struct Denied {
    /// The process's current tracer (pid, command), if any.
    tracer: Option<(i32, String)>,
    /// `kernel.yama.ptrace_scope`, when YAMA is built in.
    yama: Option<u8>,
    /// Whether kguard has CAP_SYS_PTRACE.
    cap_sys_ptrace: bool,
}

fn permission_message(which: &str, d: &Denied) -> String {
    if let Some((pid, comm)) = &d.tracer {
        return format!(
            "cannot trace {which}: it is already traced by process {pid} ({comm}); a process has one tracer at \
             most (strace, gdb, a debugger or another recorder): stop that one first"
        );
    }
    match (d.yama, d.cap_sys_ptrace) {
        (Some(3), _) => format!(
            "cannot trace {which}: kernel.yama.ptrace_scope is 3, which forbids attaching to any process until reboot"
        ),
        (Some(2), false) => format!(
            "cannot trace {which}: kernel.yama.ptrace_scope is 2: only a process with CAP_SYS_PTRACE may attach \
             (run kguard as root or grant it CAP_SYS_PTRACE)"
        ),
        (Some(1), false) => format!(
            "cannot trace {which}: permission denied: kernel.yama.ptrace_scope is 1, so without CAP_SYS_PTRACE only \
             a process's ancestors may attach to it (run kguard as root, grant it CAP_SYS_PTRACE, or set \
             /proc/sys/kernel/yama/ptrace_scope to 0)"
        ),
        (_, false) => format!(
            "cannot trace {which}: permission denied: tracing another user's process, or a setuid or non-dumpable \
             one, needs CAP_SYS_PTRACE (run kguard as root or grant it CAP_SYS_PTRACE)"
        ),
        (_, true) => format!(
            "cannot trace {which}: permission denied although kguard has CAP_SYS_PTRACE: a security module \
             (SELinux, AppArmor) or the process's user namespace forbids it"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_texts_are_read_as_the_kernel_writes_them() {
        let status = "Name:\tpython3\nTgid:\t41\nPid:\t42\nTracerPid:\t0\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000020000\nCapEff:\t000001fffeffffff\n";
        assert_eq!(status_field(status, "Tgid"), Some("41"));
        assert_eq!(status_field(status, "TracerPid"), Some("0"));
        assert_eq!(status_field(status, "Tracer"), None, "a key is matched whole");
        let sigcont = Signal::SIGCONT as u32 - 1;
        assert!(mask_bit(status_field(status, "ShdPnd").unwrap(), sigcont));
        assert!(!mask_bit(status_field(status, "SigPnd").unwrap(), sigcont));
        assert!(mask_bit("000001fffeffffff", 19), "CAP_SYS_PTRACE");
        assert!(!mask_bit("00000000a80425fb", 19), "a container's default capabilities lack it");
        assert!(mask_bit("ff", 0) && !mask_bit("zz", 1) && !mask_bit("ff", 64));
        // the command may hold spaces and parentheses
        let stat = "1234 (a b) c)) S 77 1234 1234 0 -1 4194560 100 0 0 0";
        assert_eq!(stat_fields(stat), Some(('S', 77, 4_194_560)));
        let kthread = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0";
        assert!(stat_fields(kthread).unwrap().2 & PF_KTHREAD != 0);
        assert_eq!(stat_fields("garbage"), None);
        assert_eq!(parse_pids("12\n\n345\nx\n"), vec![12, 345]);
    }

    #[test]
    fn descendants_follow_the_parent_links() {
        let table = [(1, 0), (10, 1), (11, 10), (12, 11), (13, 10), (20, 1), (21, 20)];
        let mut d = descendants(&[10], &table);
        d.sort_unstable();
        assert_eq!(d, vec![11, 12, 13]);
        assert!(descendants(&[12], &table).is_empty());
        let mut both = descendants(&[11, 20], &table);
        both.sort_unstable();
        assert_eq!(both, vec![12, 21]);
    }

    #[test]
    fn refusals_name_their_cause() {
        let m = |d: Denied| permission_message("process 42", &d);
        let traced = m(Denied { tracer: Some((7, "strace".into())), yama: Some(1), cap_sys_ptrace: true });
        assert!(traced.contains("already traced by process 7 (strace)"), "{traced}");
        assert!(m(Denied { yama: Some(3), cap_sys_ptrace: true, ..Denied::default() }).contains("ptrace_scope is 3"));
        assert!(m(Denied { yama: Some(2), ..Denied::default() }).contains("ptrace_scope is 2"));
        let yama1 = m(Denied { yama: Some(1), ..Denied::default() });
        assert!(yama1.contains("ptrace_scope is 1") && yama1.contains("CAP_SYS_PTRACE"), "{yama1}");
        let plain = m(Denied::default());
        assert!(plain.contains("needs CAP_SYS_PTRACE") && !plain.contains("yama"), "{plain}");
        let lsm = m(Denied { yama: Some(1), cap_sys_ptrace: true, ..Denied::default() });
        assert!(lsm.contains("security module"), "{lsm}");
    }
}
