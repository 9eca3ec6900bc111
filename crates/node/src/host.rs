//! The node crate's only I/O: files under a root directory ([`RootFs`]) and audit commands run
//! with a timeout ([`run_command`]). Everything else in the crate is pure and is given a
//! [`crate::source::Source`] and command outputs, so tests never depend on the machine.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::source::Source;

/// Largest file a node check reads (config files, /proc tables).
pub const MAX_FILE: u64 = 16 << 20;

/// The files of a machine as seen from `root` (`/` for this machine, a directory for an image or a
/// test tree). Absolute paths are resolved under the root; symbolic links are followed as the
/// operating system follows them.
#[derive(Clone, Debug)]
pub struct RootFs {
    root: PathBuf,
}

impl RootFs {
    /// Files under `root`.
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
    /// The root directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// A path under the root.
    #[must_use]
    pub fn resolve(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }
}

impl Source for RootFs {
    fn read(&self, path: &str) -> Result<String, String> {
        let full = self.resolve(path);
        let meta = std::fs::metadata(&full).map_err(|e| format!("{path}: {e}"))?;
        if !meta.is_file() {
            return Err(format!("{path}: not a regular file"));
        }
        let file = std::fs::File::open(&full).map_err(|e| format!("{path}: {e}"))?;
        let mut bytes = Vec::new();
        file.take(MAX_FILE + 1).read_to_end(&mut bytes).map_err(|e| format!("{path}: {e}"))?;
        if bytes.len() as u64 > MAX_FILE {
            return Err(format!("{path}: larger than {MAX_FILE} bytes"));
        }
        String::from_utf8(bytes).map_err(|_| format!("{path}: not UTF-8 text"))
    }
    fn list_dir(&self, path: &str) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(self.resolve(path)) else { return Vec::new() };
        let mut names: Vec<String> = rd.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
        names.sort();
        names
    }
    fn exists(&self, path: &str) -> bool {
        self.resolve(path).exists()
    }
    fn read_link(&self, path: &str) -> Option<String> {
        std::fs::read_link(self.resolve(path)).ok()?.into_os_string().into_string().ok()
    }
    fn mode(&self, path: &str) -> Option<(u32, u32, u32)> {
        use std::os::unix::fs::MetadataExt as _;
        let m = std::fs::metadata(self.resolve(path)).ok()?;
        Some((m.mode() & 0o7777, m.uid(), m.gid()))
    }
}

/// What an audit command did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// Its standard output (lossy UTF-8).
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
    /// Exit status, `None` when killed or not started.
    pub status: Option<i32>,
    /// Killed after the timeout.
    pub timed_out: bool,
    /// Why it could not start.
    pub error: Option<String>,
    /// Wall time.
    pub elapsed: Duration,
}

/// Runs `/bin/sh -c script` with a timeout (the process group is killed when it passes), capturing
/// stdout and stderr (each bounded to 1 MiB).
#[must_use]
pub fn run_command(script: &str, timeout: Duration, env: &[(String, String)]) -> CommandOutput {
    use std::os::unix::process::CommandExt as _;
    let start = Instant::now();
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(script).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.process_group(0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return CommandOutput { error: Some(e.to_string()), elapsed: start.elapsed(), ..CommandOutput::default() };
        }
    };
    let pipe = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(r) = r {
                let _ = r.take(1 << 20).read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out_t = pipe(child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>));
    let err_t = pipe(child.stderr.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>));
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st.code(),
            Ok(None) if start.elapsed() >= timeout => {
                timed_out = true;
                // The whole process group: the shell's children hold the pipes open.
                if let Ok(pgid) = i32::try_from(child.id()) {
                    // Only the group this function created (process_group(0) above), never 0 or -1.
                    if pgid > 1 {
                        let _ = nix::sys::signal::killpg(
                            nix::unistd::Pid::from_raw(pgid),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    }
                }
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(_) => break None,
        }
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    CommandOutput { stdout, stderr, status, timed_out, error: None, elapsed: start.elapsed() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_output_and_timeout() {
        let o = run_command("echo hi; echo err >&2; exit 3", Duration::from_secs(5), &[]);
        assert_eq!((o.stdout.as_str(), o.stderr.as_str(), o.status, o.timed_out), ("hi\n", "err\n", Some(3), false));
        let o = run_command("sleep 5; echo late", Duration::from_millis(200), &[]);
        assert!(o.timed_out && o.stdout.is_empty() && o.elapsed < Duration::from_secs(3), "{o:?}");
    }

    #[test]
    fn root_fs_reads_under_root() {
        let dir = std::env::temp_dir().join(format!("kguard-node-rootfs-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("etc/ssh")).unwrap();
        std::fs::write(dir.join("etc/ssh/sshd_config"), "Port 2222\n").unwrap();
        let fs = RootFs::new(&dir);
        assert_eq!(fs.read("/etc/ssh/sshd_config").unwrap(), "Port 2222\n");
        assert!(fs.read("/etc/ssh").is_err());
        assert!(fs.read("/nope").is_err());
        assert_eq!(fs.list_dir("/etc/ssh"), ["sshd_config"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
