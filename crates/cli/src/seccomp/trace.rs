//! Recording with ptrace: the command is started by this binary in `__traced-exec` mode
//! (PTRACE_TRACEME, SIGSTOP, exec); we follow forks, vforks, clones and execs and read the
//! syscall number at every syscall stop. Syscalls before the command's `execve` (ours)
//! are not recorded.

use std::collections::{BTreeSet, HashSet};

use kguard_seccomp::Arch;
use kguard_seccomp::arch::X32_SYSCALL_BIT;
use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

pub struct Recorded {
    pub syscalls: BTreeSet<(Arch, u32)>,
    pub processes: usize,
    pub status: String,
    pub exit_code: u8,
}

pub fn stop_for_tracer() -> nix::Result<()> {
    ptrace::traceme()?;
    nix::sys::signal::raise(Signal::SIGSTOP)
}

#[cfg(target_arch = "x86_64")]
pub(super) fn syscall_of(pid: Pid) -> Option<(Arch, u32)> {
    let regs = ptrace::getregs(pid).ok()?;
    #[allow(clippy::cast_possible_truncation)]
    let nr = regs.orig_rax as u32;
    if regs.cs == 0x23 {
        Some((Arch::X86, nr))
    } else if nr & X32_SYSCALL_BIT != 0 && nr != u32::MAX {
        Some((Arch::X32, nr))
    } else {
        Some((Arch::X86_64, nr))
    }
}

#[cfg(target_arch = "aarch64")]
pub(super) fn syscall_of(pid: Pid) -> Option<(Arch, u32)> {
    let regs = ptrace::getregs(pid).ok()?;
    #[allow(clippy::cast_possible_truncation)]
    let nr = *regs.regs.get(8)? as u32;
    let _ = X32_SYSCALL_BIT;
    Some((Arch::Aarch64, nr))
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(super) fn syscall_of(_pid: Pid) -> Option<(Arch, u32)> {
    let _ = X32_SYSCALL_BIT;
    None
}

pub fn record(command: &[String]) -> Result<Recorded, String> {
    if cfg!(not(any(target_arch = "x86_64", target_arch = "aarch64"))) {
        return Err("recording is implemented for x86_64 and aarch64".to_owned());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let child = std::process::Command::new(exe)
        .args(["seccomp", "__traced-exec", "--"])
        .args(command)
        .spawn()
        .map_err(|e| e.to_string())?;
    let main = Pid::from_raw(i32::try_from(child.id()).map_err(|e| e.to_string())?);
    match waitpid(main, None).map_err(|e| e.to_string())? {
        WaitStatus::Stopped(_, Signal::SIGSTOP) => {}
        other => return Err(format!("the child did not stop for tracing: {other:?}")),
    }
    let opts = ptrace::Options::PTRACE_O_TRACESYSGOOD
        | ptrace::Options::PTRACE_O_TRACECLONE
        | ptrace::Options::PTRACE_O_TRACEFORK
        | ptrace::Options::PTRACE_O_TRACEVFORK
        | ptrace::Options::PTRACE_O_TRACEEXEC
        | ptrace::Options::PTRACE_O_EXITKILL;
    ptrace::setoptions(main, opts).map_err(|e| e.to_string())?;
    ptrace::syscall(main, None).map_err(|e| e.to_string())?;
    let mut live: HashSet<Pid> = HashSet::from([main]);
    let mut known: HashSet<Pid> = HashSet::from([main]);
    // new tracees stop once with SIGSTOP before running: not a signal to deliver
    let mut expect_stop: HashSet<Pid> = HashSet::new();
    let mut recording = false;
    let mut out = Recorded { syscalls: BTreeSet::new(), processes: 0, status: "?".to_owned(), exit_code: 0 };
    while !live.is_empty() {
        let status = match waitpid(None, Some(WaitPidFlag::__WALL)) {
            Ok(s) => s,
            Err(nix::errno::Errno::ECHILD) => break,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.to_string()),
        };
        match status {
            WaitStatus::PtraceSyscall(pid) => {
                // nr -1: the stop after a skipped or restarted syscall
                if recording && let Some(s) = syscall_of(pid).filter(|s| s.1 != u32::MAX) {
                    out.syscalls.insert(s);
                }
                let _ = ptrace::syscall(pid, None);
            }
            WaitStatus::PtraceEvent(pid, _, ev) => {
                if ev == ptrace::Event::PTRACE_EVENT_EXEC as i32 && pid == main {
                    recording = true;
                }
                let forks = [
                    ptrace::Event::PTRACE_EVENT_FORK,
                    ptrace::Event::PTRACE_EVENT_VFORK,
                    ptrace::Event::PTRACE_EVENT_CLONE,
                ];
                if forks.iter().any(|e| *e as i32 == ev)
                    && let Ok(new) = ptrace::getevent(pid)
                {
                    let new = Pid::from_raw(i32::try_from(new).unwrap_or(0));
                    if known.insert(new) {
                        live.insert(new);
                        expect_stop.insert(new);
                    }
                }
                let _ = ptrace::syscall(pid, None);
            }
            WaitStatus::Stopped(pid, sig) => {
                if sig == Signal::SIGSTOP && expect_stop.remove(&pid) {
                    let _ = ptrace::syscall(pid, None);
                } else if known.insert(pid) {
                    // a new tracee's first stop, before its parent's event
                    live.insert(pid);
                    let _ = ptrace::syscall(pid, None);
                } else {
                    let _ = ptrace::syscall(pid, sig);
                }
            }
            WaitStatus::Exited(pid, code) => {
                live.remove(&pid);
                if pid == main {
                    out.status = format!("status {code}");
                    out.exit_code = u8::try_from(code).unwrap_or(1);
                }
            }
            WaitStatus::Signaled(pid, sig, _) => {
                live.remove(&pid);
                if pid == main {
                    out.status = format!("signal {sig}");
                    out.exit_code = 128u8.saturating_add(u8::try_from(sig as i32).unwrap_or(0));
                }
            }
            _ => {}
        }
    }
    out.processes = known.len();
    Ok(out)
}
